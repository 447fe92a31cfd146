"""delta_loo: each finished cell's expected log predictive density against the spec's
reference model on the same seed-cell, from the cells' pointwise LOO in their artifacts."""

from __future__ import annotations

import numpy as np

from mmmlab.bench.results.store import Store


def compare_to_reference(store: Store, reference: str) -> int:
    """delta_loo (elpd of the model minus the reference's), its paired SE and whether
    |delta| > 2 SE, for every finished cell of the store whose seed-cell has a finished
    reference run."""
    from mmmlab.metrics.loo import loo_difference

    cells = list(store.cells_frame().itertuples(index=False))
    status = {c.name: c.status for c in cells}
    refs = {(c.dataset, c.variant, c.seed): c.name for c in cells if c.model == reference}
    added = 0
    for c in cells:
        ref = refs.get((c.dataset, c.variant, c.seed))
        if c.model == reference or ref is None:
            continue
        if c.status != "done" or status.get(ref) != "done":
            continue
        mine, theirs = (store.artifact_dir(n) / "loo_pointwise.npy" for n in (c.name, ref))
        if not (mine.exists() and theirs.exists()):
            continue
        a, b = np.load(mine), np.load(theirs)
        if a.shape != b.shape:
            continue
        delta, se = loo_difference(a, b)
        store.add_metrics(
            c.name,
            [
                ("delta_loo", "", delta),
                ("delta_loo_se", "", se),
                ("delta_loo_significant", "", float(abs(delta) > 2 * se)),
            ],
        )
        added += 1
    return added
