"""The experiment designer's safeguards on the scenario worlds with an answer key
(docs/design.md, "Safeguards"): the figures the tests in tests/test_design_worlds.py check.

    .venv/bin/python benchmarks/design_safeguards.py

Each world at seed 0, fitted by NUTS (2 chains × (500 + 500)), designed with the defaults:
- zero_effect (display's true ROAS is 0): the null-confirmation channels and, per channel,
  the posterior P(ROAS < 0.5) and the best probability of ruling out ROAS >= 0.5;
- collinear (search and social spend move together): each channel's warnings;
- confounded (a demand shock drives search spend and sales): per design of search and tv,
  the posterior's assurance, the sceptical one (lifts halved), the prior's, and the power
  the test has in the true world (its true lift through the same response).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import mmmlab
from mmmlab.decisions.response import Response
from mmmlab.design import design
from mmmlab.design.assurance import assurance
from mmmlab.design.lift import changed_plan, lift_paths
from mmmlab.synth.scenarios import scenario_base


def _fit(name: str):
    dataset, truth = mmmlab.simulate(name, seed=0)
    return dataset, truth, mmmlab.fit(dataset, seed=0, num_warmup=500, num_samples=500)


def main() -> None:
    pd.set_option("display.width", 120)
    _, truth, fit = _fit("zero_effect")
    rec = design(fit)
    roas = fit.roas_draws()["roas"]
    print("zero_effect: true ROAS", dict(zip(truth.channels, np.round(truth.roas, 2), strict=True)))
    print("  null-confirmation channels:", rec.summary()["null_confirmation"])
    for c, ch in enumerate(fit.channels):
        best = rec.table[rec.table.channel == ch].rule_out.max()
        print(f"  {ch:8s} P(ROAS < 0.5) {np.mean(roas[:, c] < 0.5):.2f}  best rule-out {best:.2f}")

    _, truth, fit = _fit("collinear")
    rec = design(fit)
    print(f"\ncollinear: search-social spend corr {truth.facts['spend_corr_search_social']:.3f}")
    for ch, warnings in rec.identification.warnings.items():
        print(f"  {ch:8s} {warnings}")

    dataset, truth, fit = _fit("confounded")
    rec = design(fit, channels=["search", "tv"])
    true = Response.from_truth(truth, dataset, scenario_base().model_config_of(), 8)
    lifts = lift_paths(true, rec.candidates, [changed_plan(true, c)[0] for c in rec.candidates])
    t = rec.table.assign(
        true_power=[
            assurance(lifts[k, 0, : r.measured_periods].sum(keepdims=True), r.noise_sd, 0.05)
            for k, r in enumerate(rec.table.itertuples())
        ]
    )
    print(
        "\nconfounded: true ROAS", dict(zip(truth.channels, np.round(truth.roas, 2), strict=True))
    )
    print(fit.roas()[["roas_mean", "roas_lo", "roas_hi"]].round(2).to_string())
    cols = ["assurance", "assurance_sceptical", "assurance_prior", "true_power"]
    print(t.groupby("channel")[cols].mean().round(3).to_string())
    print(t.set_index("candidate")[cols].round(2).sort_index().to_string())


if __name__ == "__main__":
    main()
