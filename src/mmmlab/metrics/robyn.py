"""Robyn's model-selection metrics as pure array functions.

Definitions follow Robyn's R sources (facebookexperimental/Robyn): `get_rsq` (auxiliary.R) for
the adjusted R², `model_refit` (model.R) for NRMSE, the DECOMP.RSSD loss of `robyn_mmm`
(model.R) and the lift calibration of `calibrate_mmm` / `lift_calibration` (model.R,
calibration.R) for MAPE.LIFT.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from mmmlab.metrics.predictive import nrmse

__all__ = [
    "LiftTest",
    "adjusted_r2",
    "check_lift_test",
    "decomp_rssd",
    "lift_window",
    "mape_lift",
    "nrmse",
    "predicted_lift",
]


def decomp_rssd(effect: np.ndarray, spend: np.ndarray, zero_penalty: bool = True) -> float:
    """DECOMP.RSSD: sqrt(sum over paid channels of (effect share - spend share)^2).

    effect, spend : (C,) total effect and total spend per paid channel. With `zero_penalty`
    (Robyn's default) the distance grows by the share of channels whose effect is zero:
    ``rssd * (1 + n_zero / C)``.
    """
    effect, spend = np.asarray(effect, float), np.asarray(spend, float)
    total_e, total_s = effect.sum(), spend.sum()
    if total_e <= 0 or total_s <= 0:
        return float("nan")
    rssd = float(np.sqrt(np.sum(np.square(effect / total_e - spend / total_s))))
    if zero_penalty:
        rssd *= 1.0 + np.sum(effect == 0) / len(effect)
    return rssd


def adjusted_r2(
    y: np.ndarray,
    y_hat: np.ndarray,
    n_features: int,
    df_int: int = 1,
    n_train: int | None = None,
) -> float:
    """Robyn's adjusted R² (`get_rsq`): ``1 - (1 - R²) (n - df_int) / (n - p - 1)``.

    y, y_hat : (T,) actual and fitted values; R² = 1 - SSE / SST over them.
    n_features : p, the regressors excluding the intercept (Robyn passes ``ncol(x_train)``).
    df_int : 1 when the model has an intercept, 0 when Robyn refitted without one
        (its ``intercept_sign = "non_negative"`` rule drops a negative intercept).
    n_train : n of the training window when scoring a held-out window (Robyn then uses
        the training n); None uses ``len(y)``.

    Robyn reports the adjusted value for every window whenever p and df_int are known,
    which is always the case inside `model_refit`.
    """
    y, y_hat = np.asarray(y, float), np.asarray(y_hat, float)
    sst = float(np.sum(np.square(y - y.mean())))
    if sst <= 0:
        return float("nan")
    r2 = 1.0 - float(np.sum(np.square(y - y_hat))) / sst
    n = len(y) if n_train is None else int(n_train)
    residual_df = n - n_features - 1
    if residual_df <= 0:
        raise ValueError(
            f"adjusted_r2: n={n} rows leave no residual degrees of freedom for "
            f"n_features={n_features}; use more rows or fewer regressors"
        )
    return 1.0 - (1.0 - r2) * (n - df_int) / residual_df


@dataclass(frozen=True)
class LiftTest:
    """One lift experiment, in Robyn's `calibration_input` terms.

    channel : a channel name, or several joined by "+" (their effects are summed)
    start, end : first and last day of the experiment (inclusive)
    lift : absolute incremental outcome measured (Robyn's ``liftAbs``), non-zero
    spend : money spent on the channel(s) during the experiment
    scope : 'immediate' (effect within the window, carry-over excluded; Robyn's default)
        or 'total' (immediate + carry-over)
    """

    channel: str
    start: date
    end: date
    lift: float
    spend: float
    scope: Literal["immediate", "total"] = "immediate"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "start", pd.Timestamp(self.start).date())
        set_(self, "end", pd.Timestamp(self.end).date())
        set_(self, "lift", float(self.lift))
        set_(self, "spend", float(self.spend))
        where = f"lift test on {self.channel!r} ({self.start}..{self.end})"
        if self.start > self.end:
            raise ValueError(f"{where}: start must not be after end")
        if self.lift == 0 or not np.isfinite(self.lift):
            raise ValueError(f"{where}: lift must be a non-zero number, got {self.lift}")
        if self.spend < 0 or not np.isfinite(self.spend):
            raise ValueError(f"{where}: spend must be a non-negative number, got {self.spend}")
        if self.scope not in ("immediate", "total"):
            raise ValueError(f"{where}: scope must be 'immediate' or 'total', got {self.scope!r}")

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.channel.split("+"))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "lift test") -> LiftTest:
        """Build from a plain dict (a spec's ``lift_tests`` entry); bad keys are named."""
        required = {"channel", "start", "end", "lift", "spend"}
        known = required | {"scope"}
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: give a mapping with keys {sorted(known)}, got {raw!r}")
        unknown, missing = set(raw) - known, required - set(raw)
        if unknown or missing:
            raise ValueError(
                f"{where}: "
                + "; ".join(
                    part
                    for part in (
                        f"unknown key(s) {sorted(unknown)}" if unknown else "",
                        f"missing key(s) {sorted(missing)}" if missing else "",
                    )
                    if part
                )
                + f"; a lift test takes {sorted(known)}"
            )
        try:
            return cls(**raw)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None


def lift_window(
    test: LiftTest, dates: pd.DatetimeIndex, period_days: int
) -> tuple[np.ndarray, float]:
    """Model periods a lift test covers and the factor that scales their sum to the test.

    Each date labels the start of a period of `period_days` days (Robyn's ``ds``); the
    periods taken are those overlapping ``[start, end]`` - Robyn's rule of the periods dated
    inside the window plus the one before when `start` falls inside it. Their summed
    effect is rescaled by ``lift days / model days`` with ``lift days = end - start + 1``
    and ``model days = periods × period_days`` (Robyn's `calibrate_mmm` day count; its
    later `lift_calibration` counts first-to-last period date, which is zero for a
    one-period test).

    Returns (rows (T,) bool, scale). Raises ValueError when no period overlaps the test.
    """
    starts = pd.DatetimeIndex(dates).normalize()
    ends = starts + pd.Timedelta(days=period_days - 1)
    rows = np.asarray((starts <= pd.Timestamp(test.end)) & (ends >= pd.Timestamp(test.start)))
    if not rows.any():
        raise ValueError(
            f"lift test on {test.channel!r} ({test.start}..{test.end}) lies outside the model "
            f"window {starts[0].date()}..{ends[-1].date()}; remove it or widen the window"
        )
    lift_days = (test.end - test.start).days + 1
    return rows, lift_days / (int(rows.sum()) * period_days)


def _channel_index(test: LiftTest, channels: Sequence[str]) -> list[int]:
    channels = list(channels)
    missing = [ch for ch in test.channels if ch not in channels]
    if missing:
        raise ValueError(
            f"lift test on {test.channel!r}: unknown channel(s) {missing}; the model's "
            f"channels are {channels}"
        )
    return [channels.index(ch) for ch in test.channels]


def check_lift_test(
    test: LiftTest,
    dates: pd.DatetimeIndex,
    spend: np.ndarray,
    channels: Sequence[str],
    period_days: int,
) -> None:
    """Robyn's `check_calibration` for one test against the data it calibrates.

    dates : (T,) period start dates; spend : (T, C). Raises ValueError for unknown channels
    or a window outside the data; warns when the data's spend over the test's periods is
    more than 10% away from the test's spend.
    """
    idx = _channel_index(test, channels)
    rows, _ = lift_window(test, dates, period_days)
    data_spend = float(np.asarray(spend, float)[rows][:, idx].sum())
    if not 0.9 * test.spend <= data_spend <= 1.1 * test.spend:
        warnings.warn(
            f"lift test on {test.channel!r} ({test.start}..{test.end}): its spend "
            f"{test.spend:,.0f} differs by more than 10% from the data's {data_spend:,.0f} "
            "over the same periods; check the dates or the channel",
            stacklevel=2,
        )


def predicted_lift(
    test: LiftTest,
    dates: pd.DatetimeIndex,
    immediate: np.ndarray,
    total: np.ndarray,
    channels: Sequence[str],
    period_days: int,
) -> np.ndarray | float:
    """A model's lift for `test`, Robyn's way.

    dates : (T,) period start dates; immediate, total : (..., T, C) per-channel contribution
    over those dates. Robyn's immediate part: the response is ``Hill(adstocked x)``; the
    carry-over part is the Hill curve (same inflexion) at ``adstocked - immediate x`` and
    immediate = total - carry-over. The test's channel(s) are summed over the periods of
    `lift_window` and scaled to the test's days; `scope` picks immediate or total.

    Returns (...) (a float for 2-D input).
    """
    idx = _channel_index(test, channels)
    rows, scale = lift_window(test, dates, period_days)
    source = np.asarray(immediate if test.scope == "immediate" else total, float)
    out = source[..., rows, :][..., idx].sum(axis=(-2, -1)) * scale
    return float(out) if np.ndim(out) == 0 else out


def mape_lift(predicted: np.ndarray, tests: Sequence[LiftTest]) -> np.ndarray | float:
    """MAPE.LIFT: mean over tests of ``|predicted - lift| / |lift|``.

    predicted : (..., N) the model's lift for each of the N tests (see `predicted_lift`).
    Returns (...) (a float for 1-D input).
    """
    predicted = np.asarray(predicted, float)
    lift = np.array([t.lift for t in tests], float)
    if predicted.shape[-1:] != lift.shape:
        raise ValueError(
            f"mape_lift: predicted has {predicted.shape[-1:]} values on its last axis for "
            f"{len(lift)} tests"
        )
    out = np.mean(np.abs(predicted - lift) / np.abs(lift), axis=-1)
    return float(out) if np.ndim(out) == 0 else out
