"""Two transparent dimensions and their Pareto front: assurance (or, with score
'information', the expected fall of the channel's ROAS sd; higher is better) and cost (lower
is better), with no weights between them.

cost = spend at risk (extra spend a test puts in, ``max(Δspend, 0)``) + expected revenue
lost (``max(−E[lift], 0)``: what a cut is expected to forgo), both in currency. Candidates
over `max_cost` are dropped. The rows are ranked by Pareto layer (1 = the front: no other
candidate has at least its score at no more cost, and is better in one), then by the
score, then by cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def pareto_layers(gain: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Layer (K,) of each point: 1 for the non-dominated ones, 2 for those next, ..."""
    layer = np.zeros(len(gain), int)
    left = np.arange(len(gain))
    n = 0
    while len(left):
        n += 1
        g, c = gain[left][:, None], cost[left][:, None]
        gain_over, saving = g.T - g, c - c.T  # (i, j): how much j beats i on each
        dominated = ((gain_over >= 0) & (saving >= 0) & ((gain_over > 0) | (saving > 0))).any(1)
        layer[left[~dominated]] = n
        left = left[dominated]
    return layer


SCORES = {"assurance": "assurance", "information": "sd_reduction"}


def rank(
    table: pd.DataFrame, max_cost: float | None, score: str = "assurance"
) -> tuple[np.ndarray, pd.DataFrame]:
    """The rows within `max_cost`, ranked by `score` ('assurance', or 'information': the
    expected fall of the ROAS sd) against cost; returns their original positions and the
    table with `cost`, `layer`, `pareto` and `rank` columns."""
    gain = SCORES[score]
    table = table.assign(cost=table.spend_at_risk + table.revenue_lost)
    if max_cost is not None:
        table = table[table.cost <= max_cost]
    table = table.assign(layer=pareto_layers(table[gain].to_numpy(), table.cost.to_numpy()))
    table = table.assign(pareto=table.layer == 1)
    table = table.sort_values(["layer", gain, "cost"], ascending=[True, False, True])
    order = table.index.to_numpy()
    table = table.reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return order, table
