"""Robyn's decomposition metric as a pure array function."""

from __future__ import annotations

import numpy as np


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
