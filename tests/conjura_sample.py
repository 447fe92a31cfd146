"""Write a small synthetic file in the Conjura schema, for the reader's tests.

Generated on the fly into a test's tmp_path; no data file is committed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SPEND_COLUMNS = ("google_paid_search_spend", "meta_facebook_spend", "tiktok_spend")
OTHER_TERRITORY = "United Kingdom"
UK_SPEND_SHARE = 0.6  # the country rows hold a part of the totals, so a leak shows


def geometric_adstock(x: np.ndarray, alpha: float) -> np.ndarray:
    """``s_t = x_t + alpha s_{t-1}`` over days, shape (T,)."""
    out = np.empty_like(x)
    carry = 0.0
    for t, value in enumerate(x):
        carry = value + alpha * carry
        out[t] = carry
    return out


def write_conjura_sample(
    path: str | Path, n_orgs: int = 4, n_days: int = 120, seed: int = 0
) -> Path:
    """Write a Conjura-schema CSV (or Parquet, by suffix) and return its path.

    Organisation ``i`` has ``n_days - i * step`` days (step = n_days // (2 n_orgs)), each day
    on two rows: "All Territories" (the totals) and "United Kingdom" (60% of the spend and a
    thinned count of purchases). Spend columns: google_paid_search_spend and
    meta_facebook_spend with about 5% blank cells, tiktok_spend used by even organisations only
    (blank elsewhere). Purchases are Poisson around a baseline plus a Hill curve of the
    geometric adstock (alpha 0.5) of total spend, blanks counted as 0.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    step = max(1, n_days // (2 * n_orgs))
    ids: list[str] = []
    while len(ids) < n_orgs:
        org = f"{int(rng.integers(16**8)):08x}"
        if org not in ids:
            ids.append(org)
    parts = []
    for i, org in enumerate(ids):
        days = n_days - i * step
        dates = pd.date_range(pd.Timestamp("2023-01-02") + pd.Timedelta(days=3 * i), periods=days)
        weekly = 1.0 + 0.3 * np.sin(2 * np.pi * np.arange(days) / 7)
        level = np.array([200.0, 120.0, 60.0]) * rng.uniform(0.5, 2.0, 3)
        spend = np.round(level * weekly[:, None] * rng.lognormal(0.0, 0.4, (days, 3)), 2)
        blank = rng.random((days, 3)) < 0.05
        blank[:, 2] = False
        spend[blank] = np.nan
        if i % 2:
            spend[:, 2] = np.nan  # this organisation does not use TikTok
        s = geometric_adstock(np.nansum(spend, axis=1), 0.5)
        k = float(np.median(s))
        mean = 30.0 + 40.0 * s**1.5 / (k**1.5 + s**1.5)
        purchases = rng.poisson(mean)
        totals = pd.DataFrame(
            {
                "organisation_id": org,
                "organisation_vertical": "Apparel & Accessories",
                "territory_name": "All Territories",
                "date_day": dates.strftime("%Y-%m-%d"),
                "currency_code": "GBP",
                "all_purchases": purchases,
                "first_purchases": rng.binomial(purchases, 0.3),
                **{col: spend[:, c] for c, col in enumerate(SPEND_COLUMNS)},
                "google_paid_search_clicks": rng.poisson(50, days),
            }
        )
        country = totals.assign(
            territory_name=OTHER_TERRITORY,
            all_purchases=rng.binomial(purchases, 0.55),
            **{
                col: np.round(spend[:, c] * UK_SPEND_SHARE, 2)
                for c, col in enumerate(SPEND_COLUMNS)
            },
        )
        both = pd.concat([totals, country]).sort_index(kind="stable")  # day by day, two rows
        parts.append(both)
    frame = pd.concat(parts, ignore_index=True)
    if path.suffix in (".parquet", ".pq"):
        frame.assign(date_day=pd.to_datetime(frame["date_day"])).to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path
