"""`scenario(fit, plans)`: the target each named plan predicts, per period and in total, and
its difference to a baseline plan, over every posterior draw.

Each plan is evaluated by `Fit.components` on the horizon as a window of future data
(`window.future_window`): the model's own path, with the adstock carried in from before the
start, trend and seasonality continuing, and controls at their training mean. The predicted
target is the model's expected target (its credible interval; observation noise is left out,
as it is the same whichever plan is chosen). The difference to the baseline is summed over
the horizon and the ``l_max - 1`` periods after it with no new spend, so a plan's carry-over
past the horizon counts; P(better) is the share of draws in which it is positive.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mmmlab.decisions.plans import PlansFile, check_plans, plan_periods, plan_spend, read_plans
from mmmlab.decisions.window import future_window, plan_horizon
from mmmlab.metrics.roas import draw_interval

if TYPE_CHECKING:
    from mmmlab.inference.fit import Fit


@dataclass(frozen=True, eq=False)
class ScenarioResult:
    """Predictions of named plans over one horizon.

    names : the plans, in order (the baseline among them); baseline : its name
    dates : (N,) the planned periods
    spend : name -> (N, G, C) spend of the plan
    target : name -> (S, N, G) expected target per draw in the planned periods
    whole : name -> (S,) expected target summed over the planned and carry-over periods
    seconds : time to evaluate the plans
    """

    names: tuple[str, ...]
    baseline: str
    dates: pd.DatetimeIndex
    channels: tuple[str, ...]
    spend: dict[str, np.ndarray]
    target: dict[str, np.ndarray]
    whole: dict[str, np.ndarray]
    seconds: float

    def difference(self, name: str) -> np.ndarray:
        """(S,) the plan's target minus the baseline's, horizon and carry-over."""
        return self.whole[name] - self.whole[self.baseline]

    def prob_better(self, name: str) -> float:
        """Share of draws in which the plan's target beats the baseline's."""
        return float((self.difference(name) > 0).mean())

    def periods_table(self) -> pd.DataFrame:
        """One row per plan and period: spend and predicted target (all geos; mean, 90%)."""
        frames = []
        for name in self.names:
            total = self.target[name].sum(axis=2)  # (S, N)
            lo, hi = draw_interval(total)
            frames.append(
                pd.DataFrame(
                    {
                        "plan": name,
                        "date": self.dates,
                        "spend": self.spend[name].sum(axis=(1, 2)),
                        "target_mean": total.mean(axis=0),
                        "target_lo": lo,
                        "target_hi": hi,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    def totals_table(self) -> pd.DataFrame:
        """One row per plan: spend per channel and in total, predicted target over the
        horizon (mean, 90%), and the difference to the baseline with P(better)."""
        rows = []
        for name in self.names:
            total = self.target[name].sum(axis=(1, 2))[:, None]
            diff = self.difference(name)[:, None]
            (t_lo,), (t_hi,) = draw_interval(total)
            (d_lo,), (d_hi,) = draw_interval(diff)
            per_channel = self.spend[name].sum(axis=(0, 1))
            rows.append(
                {"plan": name, "spend": per_channel.sum()}
                | {f"spend_{ch}": v for ch, v in zip(self.channels, per_channel, strict=True)}
                | {"target_mean": total.mean(), "target_lo": t_lo, "target_hi": t_hi}
                | {"difference_mean": diff.mean(), "difference_lo": d_lo, "difference_hi": d_hi}
                | {"prob_better": None if name == self.baseline else self.prob_better(name)}
            )
        return pd.DataFrame(rows).set_index("plan")


def scenario(
    fit: Fit, plans: PlansFile | dict | str | Path, where: str | None = None
) -> ScenarioResult:
    """Predict every plan of `plans` (a plans file, or its content as a mapping) for `fit`;
    `where` names the plans in errors (default: the file, or 'plans').

    Raises PlanError, before any work, for an unknown channel or baseline, a plan with the
    wrong number of periods, or a start outside the data.
    """
    clock = time.perf_counter()
    where = where or (str(plans) if isinstance(plans, str | Path) else "plans")
    spec = read_plans(plans) if isinstance(plans, str | Path) else check_plans(plans, where)
    periods = plan_periods(spec, where)
    start = None if spec.start is None else str(spec.start)
    hz = plan_horizon(fit.train, fit.config.l_max, periods, start)
    spends = plan_spend(spec, hz, fit.channels, where)
    names = tuple(spends)
    target, whole = {}, {}
    for name in names:
        mean = fit.components(future_window(fit.train, hz, spends[name])).mean  # (S, T', G)
        target[name], whole[name] = mean[:, :periods], mean.sum(axis=(1, 2))
    return ScenarioResult(
        names=names,
        baseline=spec.baseline,
        dates=hz.dates[:periods],
        channels=fit.channels,
        spend=spends,
        target=target,
        whole=whole,
        seconds=time.perf_counter() - clock,
    )
