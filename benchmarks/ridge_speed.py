"""Speed of the Robyn-style ridge backend: 2000 iterations × 5 trials on 208 weeks × 5 channels.

Target: the whole fit (search, Pareto sort, choice and 200 bootstrap refits) in ≤ 60 s on 2
cores. Data: Robyn's simulated weekly demo data as mmmlab ships it (`mmmlab.datasets`,
robyn_simulated: revenue; spend of tv, ooh, print, facebook, search; facebook impressions and
search clicks as exposure; competitor sales and events as controls), or another file in the
same columns with --data.

The reference run, in the same process, is the loop Robyn runs: one candidate asked, scored
and told at a time (200 candidates); the ratio is its seconds per candidate over the batched
search's.

    .venv/bin/python benchmarks/ridge_speed.py [--iterations 2000] [--trials 5] [--data CSV]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import mmmlab  # noqa: F401  (JAX settings first)
from mmmlab import datasets
from mmmlab.backends.ridge import RidgeBackend, score_candidates
from mmmlab.backends.ridge.design import HyperparameterSpace, RidgeDesign
from mmmlab.backends.ridge.search import SearchSettings, run_search
from mmmlab.data import ColumnMap, Dataset, read_dataset

ROBYN_COLUMNS = ColumnMap(
    date="DATE",
    target="revenue",
    spend=["tv_S", "ooh_S", "print_S", "facebook_S", "search_S"],
    exposure={"facebook_S": "facebook_I", "search_S": "search_clicks_P"},
    controls=["competitor_sales_B"],
    categorical_controls=["events"],
)


def load(path: Path) -> Dataset:
    """Robyn's demo data (or a file in its columns) as the ridge backend reads it."""
    return read_dataset(path, ROBYN_COLUMNS, name="robyn_dt_simulated_weekly")


def reference_seconds_per_candidate(dataset: Dataset, candidates: int, seed: int) -> float:
    """Robyn's loop: ask one, score one, tell one."""
    design = RidgeDesign.build(dataset, "geometric", 2)
    space = HyperparameterSpace.build("geometric", dataset.channels, {})
    settings = SearchSettings(iterations=candidates, trials=1, num_workers=1)
    result = run_search(
        lambda unit: score_candidates(design, space, unit, []),
        space.dim,
        ("nrmse", "decomp_rssd"),
        settings,
        seed,
    )
    return result.seconds / candidates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--reference", type=int, default=200, help="candidates, one at a time")
    parser.add_argument("--data", type=Path, default=datasets.path("robyn_simulated"))
    args = parser.parse_args()
    dataset = load(args.data)
    print(dataset)
    params = {"iterations": args.iterations, "trials": args.trials}
    t0 = time.perf_counter()
    fit = RidgeBackend().fit(dataset, params, seed=0, inference={})
    seconds = time.perf_counter() - t0
    metrics = {(m, k): v for m, k, v in fit.extra_metrics()}
    evaluations = args.iterations * args.trials
    search_s = metrics[("search_seconds", "")]
    print(
        f"\n{args.iterations} iterations x {args.trials} trials, {dataset.n_time} periods x "
        f"{dataset.n_channels} channels"
    )
    print(f"  fit seconds          {seconds:8.2f}  (target <= 60)")
    print(f"  search seconds       {search_s:8.2f}")
    print(f"  evaluations / second {evaluations / search_s:8.0f}")
    print(f"  Pareto front size    {metrics[('pareto_front_size', '')]:8.0f}")
    print(f"  chosen NRMSE         {metrics[('search_nrmse_train', '')]:8.4f}")
    print(f"  chosen DECOMP.RSSD   {metrics[('search_decomp_rssd_train', '')]:8.4f}")
    print(f"  chosen adjusted R2   {metrics[('search_rsq_train_adjusted', '')]:8.4f}")
    print("  chosen ROAS (90% bootstrap interval):")
    for row in fit.roas_interval().itertuples():
        print(f"    {row.channel:12s} {row.roas:7.3f}  [{row.lower:7.3f}, {row.upper:7.3f}]")
    per_candidate = reference_seconds_per_candidate(dataset, args.reference, seed=0)
    batched = search_s / evaluations
    print(
        f"\nreference: {args.reference} candidates one at a time, "
        f"{1e3 * per_candidate:.2f} ms each (batched search: {1e3 * batched:.2f} ms)"
    )
    print(f"  ratio reference / batched per candidate: {per_candidate / batched:.1f}x")
    print(
        f"  the reference loop would take {per_candidate * evaluations:.0f} s for "
        f"{evaluations} candidates"
    )


if __name__ == "__main__":
    main()
