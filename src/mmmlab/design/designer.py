"""`design(fit, ...) -> Recommendations`: which lift test to run next, from a fit's
uncertainty.

For every candidate (`design.candidates`) the lift per posterior draw comes through the
model's own response (`design.lift`), its noise from the fit's residuals (`design.noise`),
its assurance and what it teaches from those (`design.assurance`), the same under the prior
and under a sceptical belief (the posterior's lifts shrunk toward zero), and the channel's
identification warnings (`design.identification`). Two transparent dimensions rank them,
assurance and cost (`design.scoring`); nothing is weighted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from mmmlab.decisions.response import Response
from mmmlab.decisions.window import plan_horizon
from mmmlab.design import assurance as stats
from mmmlab.design.candidates import Candidate, GeoSplit, balanced_split, grid
from mmmlab.design.identification import Identification, identification, prior_fit
from mmmlab.design.inputs import (
    DEFAULT_CHANGES,
    DEFAULT_DURATIONS,
    MIN_PLACEBO_WINDOWS,
    DesignError,
    check_channels,
    check_numbers,
    parse_changes,
    parse_durations,
)
from mmmlab.design.lift import changed_plan, lift_paths
from mmmlab.design.noise import NOISE_RULES, Noise, holdout_sums, lift_noise
from mmmlab.design.scoring import SCORES, rank
from mmmlab.inference.fit import Fit
from mmmlab.inference.progress import ProgressBar
from mmmlab.metrics.roas import roas_draws

BELIEF_GAP = 0.2  # assurance above the sceptical one by this much: the rationale says so


@dataclass(frozen=True, eq=False)
class Recommendations:
    """The designer's answer.

    table : one row per candidate, ranked (see docs/design.md for every column)
    candidates : the `Candidate` of each row, in table order
    lift : (K, S, T') posterior lift per draw and period of each row, target units
    noise : (kind, measured periods) -> `Noise`
    identification : per-channel diagnostics; settings : what was asked
    """

    table: pd.DataFrame
    candidates: list[Candidate]
    lift: np.ndarray
    noise: dict[tuple[str, int], Noise]
    identification: Identification
    settings: dict[str, Any]
    dates: pd.DatetimeIndex
    split: GeoSplit | None

    def summary(self, top: int = 10) -> dict[str, Any]:
        """JSON-ready: settings, noise, identification, null channels, the Pareto front and
        the top rows."""
        t = self.table
        nulls = t[t.null_channel]
        return {
            "settings": self.settings,
            "test_starts": str(self.dates[0].date()),
            "geo_split": None
            if self.split is None
            else {"treated": list(self.split.treated), "control_weight": self.split.weight},
            "noise": [
                {"kind": k, "measured_periods": w} | n._asdict()
                for (k, w), n in sorted(self.noise.items())
            ],
            "identification": self.identification.to_json(),
            "null_confirmation": {
                ch: rows.sort_values("rule_out", ascending=False)
                .iloc[0][["candidate", "rule_out"]]
                .to_dict()
                for ch, rows in nulls.groupby("channel")
            },
            "pareto_front": t[t.pareto]["candidate"].tolist(),
            "top": [
                {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}
                for row in t.head(top).to_dict(orient="records")
            ],
        }


def design(
    fit: Fit,
    channels: Sequence[str] | None = None,
    spend_changes: str | Sequence[str] = DEFAULT_CHANGES,
    durations: str | Sequence[int] = DEFAULT_DURATIONS,
    alpha: float = 0.05,
    max_cost: float | None = None,
    measure_after: int | None = None,
    noise: str = "max",
    sceptical: float = 0.5,
    null_roas: float = 0.5,
    score: str = "assurance",
    draws: int | None = 1000,
    geo_designs: bool = True,
    residuals: np.ndarray | None = None,
    seed: int = 0,
    progress: bool | Callable[[int, int], None] = False,
) -> Recommendations:
    """Rank candidate lift tests of `fit` by assurance and cost.

    spend_changes : e.g. '-100%,-50%,+50%' (relative) or '+20000' (total, currency)
    durations : periods the spend changes; measure_after : periods measured after it
        (default the adstock's l_max - 1, its carry-over)
    noise : 'max' (default: the larger of ar1 and placebo), 'ar1', 'placebo' or 'iid'
    sceptical : shrink of the posterior's lifts toward zero for the sceptical assurance
    null_roas : the ROAS a null-confirmation test rules out; a channel with posterior
        P(ROAS < null_roas) >= 0.5 gets null-confirmation figures
    score : what the front and the ranking weigh against cost: 'assurance' or
        'information' (the expected fall of the channel's ROAS sd)
    draws : evenly spaced posterior draws to use (None: all)
    residuals : (T', G) residual series to take the noise from (default: the fit's, target
        minus the posterior-mean fit; e.g. out-of-sample residuals of a backtest)

    Raises DesignError naming the option before any work.
    """
    l_max = fit.config.l_max
    after = l_max - 1 if measure_after is None else measure_after
    if not isinstance(after, int) or after < 0:
        raise DesignError(f"--measure-after {after}: give 0 or more periods")
    if noise not in NOISE_RULES:
        raise DesignError(f"--noise {noise!r}: give one of {list(NOISE_RULES)}")
    if score not in SCORES:
        raise DesignError(f"--score {score!r}: give one of {list(SCORES)}")
    check_numbers(alpha, max_cost, sceptical, null_roas)
    names = check_channels(channels, fit.channels)
    changes = parse_changes(spend_changes)
    spans = parse_durations(durations, fit.train.n_time, after)
    if draws is not None and draws < 1:
        raise DesignError(f"--draws {draws}: give 1 or more")
    longest = MIN_PLACEBO_WINDOWS * (max(spans) + after)
    if residuals is not None and (
        np.ndim(residuals) != 2
        or np.shape(residuals)[1] != fit.train.n_geos
        or len(residuals) < longest
    ):
        raise DesignError(
            f"residuals: shape {np.shape(residuals)}; give (periods, {fit.train.n_geos} geos) "
            f"with at least {longest} periods ({MIN_PLACEBO_WINDOWS} windows of the longest test)"
        )

    fit = _thin(fit, draws)
    post = fit.components()
    own = residuals is None
    if own:
        residuals = fit.train.target - post.mean.mean(axis=0)
        loglik = fit.log_likelihood(components=post)  # (S, T, G)
    spend = fit.train.spend
    roas = roas_draws(post.media, post.media, spend)["roas"]  # (S, C)
    prior = prior_fit(fit, fit.num_draws, seed)
    prior_media = prior.components().media
    ident = identification(
        spend, fit.channels, roas, roas_draws(prior_media, prior_media, spend)["roas"]
    )
    split = None
    if geo_designs and fit.train.n_geos > 1:
        split = balanced_split(residuals, fit.train.target, seed)
    series = {"national": residuals.sum(axis=1)} | ({"geo": split.series} if split else {})
    combos = {"national": np.ones(fit.train.n_geos)} | ({"geo": split.combo} if split else {})

    horizon = plan_horizon(fit.train, l_max, max(spans))
    response = Response.from_fit(fit, horizon)
    prior_response = Response.from_fit(prior, horizon)
    cands, plans, deltas, skipped = [], [], [], []
    for cand in grid(names, changes, spans, fit.train.n_geos, split):
        made = changed_plan(response, cand)
        if made is None:
            skipped.append(cand.name)
            continue
        cands.append(cand)
        plans.append(made[0])
        deltas.append(made[1])
    if not cands:
        raise DesignError(
            f"no candidate can be run: {names} had no spend in the last {max(spans)} periods "
            "to scale; give absolute --spend-changes (e.g. +20000)"
        )
    with ProgressBar(progress, "predicting test lifts") as tick:
        done = (lambda k, n: tick(k, 2 * n)) if tick else None
        lift = lift_paths(response, cands, plans, done)
        later = (lambda k, n: tick(n + k, 2 * n)) if tick else None
        prior_lift = lift_paths(prior_response, cands, plans, later)

    noises: dict[tuple[str, int], Noise] = {}
    rows = []
    null = (roas < null_roas).mean(axis=0) >= 0.5  # (C,)
    for k, (cand, delta) in enumerate(zip(cands, deltas, strict=True)):
        w = cand.duration + after
        key = (cand.kind, w)
        if key not in noises:
            placebo = None
            if own:
                placebo = holdout_sums(post.mean, loglik, fit.train.target, combos[cand.kind], w)
            noises[key] = lift_noise(series[cand.kind], w, noise, placebo)
        sd = noises[key].used
        total = lift[k, :, :w].sum(axis=1)  # (S,)
        c = fit.channels.index(cand.channel)
        rows.append(
            _row(cand, delta, w, total, prior_lift[k, :, :w].sum(axis=1), noises[key], alpha)
            | {
                "assurance_sceptical": stats.assurance((1 - sceptical) * total, sd, alpha),
                "sd_reduction": stats.sd_reduction(total, roas[:, c], sd, seed=seed + k),
                "null_channel": bool(null[c]),
                "rule_out": stats.rule_out(total, sd, alpha, delta, null_roas)
                if null[c]
                else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    table["rationale"] = [
        _rationale(r, ident.warnings[r.channel], sceptical, null_roas) for r in table.itertuples()
    ]
    order, table = rank(table, max_cost, score)
    if table.empty:
        raise DesignError(
            f"--max-cost {max_cost:,.6g}: no candidate costs that little (the cheapest costs "
            f"{(pd.DataFrame(rows).eval('spend_at_risk + revenue_lost')).min():,.6g}); raise "
            "it or give smaller --spend-changes or --durations"
        )
    settings = {
        "channels": list(names),
        "spend_changes": [c.label for c in changes],
        "durations": list(spans),
        "alpha": alpha,
        "max_cost": max_cost,
        "measure_after": after,
        "noise": noise,
        "sceptical": sceptical,
        "null_roas": null_roas,
        "score": score,
        "draws": fit.num_draws,
        "skipped": skipped,
    }
    return Recommendations(
        table=table,
        candidates=[cands[i] for i in order],
        lift=lift[order],
        noise=noises,
        identification=ident,
        settings=settings,
        dates=horizon.dates,
        split=split,
    )


def _thin(fit: Fit, draws: int | None) -> Fit:
    """`fit` with `draws` evenly spaced draws as one chain (all when None or more)."""
    if draws is None or draws >= fit.num_draws:
        return fit
    keep = np.linspace(0, fit.num_draws - 1, draws).round().astype(int)
    post = {k: v[keep][None] for k, v in fit.flat_posterior().items()}
    return replace(fit, posterior=post, sample_stats={})


def _row(
    cand: Candidate,
    delta: float,
    periods: int,
    total: np.ndarray,
    prior_total: np.ndarray,
    noise: Noise,
    alpha: float,
) -> dict[str, Any]:
    lo, hi = np.quantile(total, [0.05, 0.95])
    mean = float(total.mean())
    return {
        "candidate": cand.name,
        "channel": cand.channel,
        "spend_change": cand.change.label,
        "duration": cand.duration,
        "kind": cand.kind,
        "measured_periods": periods,
        "spend_delta": delta,
        "lift_mean": mean,
        "lift_lo": float(lo),
        "lift_hi": float(hi),
        "noise_sd": noise.used,
        "noise_iid": noise.iid,
        "noise_ar1": noise.ar1,
        "noise_placebo": noise.placebo,
        "assurance": stats.assurance(total, noise.used, alpha),
        "right_sign": stats.right_sign(total, noise.used, alpha),
        "assurance_iid": stats.assurance(total, noise.iid, alpha),
        "assurance_prior": stats.assurance(prior_total, noise.used, alpha),
        "spend_at_risk": max(delta, 0.0),
        "revenue_lost": max(-mean, 0.0),
        "net_cost": delta - mean,
    }


def _rationale(row: Any, warnings: list[str], sceptical: float, null_roas: float) -> str:
    parts = [
        f"assurance {row.assurance:.0%} (sign right {row.right_sign:.0%}; {row.assurance_iid:.0%} "
        f"if residuals were independent), ROAS sd −{row.sd_reduction:.0%}"
    ]
    if row.assurance - row.assurance_sceptical > BELIEF_GAP:
        parts.append(
            f"rests on the posterior's effect size: {row.assurance_sceptical:.0%} if the lift "
            f"is {sceptical:.0%} smaller, {row.assurance_prior:.0%} under the prior"
        )
    if row.null_channel:
        parts.append(
            f"null-confirmation: the posterior puts most mass below ROAS {null_roas:g}; P(rule "
            f"out ROAS ≥ {null_roas:g}) {row.rule_out:.0%}"
        )
    return "; ".join(parts + warnings)
