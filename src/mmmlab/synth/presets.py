"""Business presets shaped like the published mmm-data-generator's: same sizes, channels and
spend patterns, with reproducible parameters (docs/synth.md lists every true value).

Departures from the published presets, on purpose:
- `large_business` draws its 30 channels' parameters from a generator with a fixed seed (the
  published one drew the Hill parameters from the unseeded global generator);
- a delayed-start channel stops at its `end_period` (the published generator ignored it);
- baseline levels are chosen so media drives roughly 15-35% of sales, and the noise is 5% of
  the baseline level;
- half-saturation points are relative to each channel's average spend in a geo, which is the
  scale the fitted model uses;
- channels bought by exposure carry a typical CPM (`CPM`), used when a world reports exposure.
"""

from __future__ import annotations

import numpy as np

from mmmlab.synth.world import ChannelSpec, ControlSpec, WorldSpec

# Price per thousand exposures by kind of channel: impressions, or clicks for search (so a
# cost per click of 2.70 is a CPM of 2,700). Typical public figures, docs/synth.md cites them.
CPM = {
    "search": 2700.0,  # average search cost per click ~2.69
    "search_brand": 1000.0,  # own-brand keywords: little competition, ~1 per click
    "social": 8.0,  # Meta feed and stories, ~5-16
    "social_2": 12.0,  # Instagram feed, ~9-12
    "display": 3.0,  # display CPC ~0.63 at CTR ~0.46%
    "video": 10.0,  # online video pre-roll, ~7-12
    "ctv": 25.0,  # connected TV, ~20-40
    "local": 10.0,  # local TV/radio spots, ~7-15
    "influencer": 15.0,  # creator posts, reels, ~10-20
}


def geometric_hill(
    name: str,
    pattern: str,
    base: float,
    roas: float,
    alpha: float,
    slope: float,
    half: float,
    **pattern_args: float,
) -> ChannelSpec:
    """A channel with geometric adstock (decay `alpha`) and Hill saturation (`slope`, and
    `half` the half-saturation point relative to the channel's average spend)."""
    return ChannelSpec(
        name=name,
        pattern=pattern,
        base=base,
        roas=roas,
        adstock="geometric",
        adstock_params={"alpha": alpha},
        saturation="hill",
        saturation_params={"half_saturation": half, "slope": slope},
        **pattern_args,
    )


def _event(name: str, base: float, lift: float, p: float, lo: int, hi: int) -> ControlSpec:
    return ControlSpec(
        name=name,
        pattern="on_off",
        base=base,
        lift=lift,
        volatility=0.0,
        activation_probability=p,
        min_active_periods=lo,
        max_active_periods=hi,
    )


def small_business() -> WorldSpec:
    """104 weeks, 1 geo, 4 channels (search, social, local ads, email), events and sales."""
    return WorldSpec(
        name="small_business",
        description="Small business: 2 years weekly, national, 4 channels, events and sales.",
        n_periods=104,
        base_sales=5000.0,
        growth=0.08,
        seasonal_amplitude=0.1,
        channels=[
            geometric_hill(
                "search_ads",
                "linear_trend",
                100,
                1.5,
                0.0,
                1.0,
                1.0,
                volatility=0.8,
                trend=0.004,
                cpm=CPM["search"],
            ),
            geometric_hill(
                "social_media",
                "seasonal",
                500,
                1.2,
                0.2,
                1.5,
                0.8,
                volatility=0.3,
                seasonal_amplitude=0.4,
                seasonal_phase=0.5,
                cpm=CPM["social"],
            ),
            geometric_hill(
                "local_ads",
                "on_off",
                500,
                0.9,
                0.4,
                1.0,
                1.5,
                volatility=0.6,
                activation_probability=0.3,
                min_active_periods=2,
                max_active_periods=4,
                cpm=CPM["local"],
            ),
            geometric_hill(
                "email",
                "on_off",
                100,
                1.2,
                0.3,
                2.0,
                0.5,
                volatility=0.5,
                activation_probability=0.2,
                min_active_periods=1,
                max_active_periods=1,
            ),
        ],
        controls=[
            _event("event", 1.0, 0.10, 0.04, 3, 5),
            _event("sale", 1.0, 0.15, 0.10, 1, 4),
        ],
    )


def growing_business() -> WorldSpec:
    """131 weeks, 2 geos, 6 channels; video starts in week 25 and ramps up over 10 weeks."""
    return WorldSpec(
        name="growing_business",
        description="Growing business: 2.5 years weekly, 2 geos, 6 channels, a new video "
        "channel ramping up, events and sales.",
        n_periods=131,
        geos=["geo_a", "geo_b"],
        base_sales=5000.0,
        growth=0.15,
        channels=[
            geometric_hill(
                "search_ads",
                "linear_trend",
                300,
                0.3,
                0.0,
                1.0,
                0.3,
                volatility=0.7,
                trend=0.002,
                cpm=CPM["search"],
            ),
            geometric_hill(
                "search_ads_brand",
                "linear_trend",
                100,
                1.1,
                0.2,
                1.5,
                1.5,
                volatility=0.8,
                trend=0.002,
                cpm=CPM["search_brand"],
            ),
            geometric_hill(
                "video",
                "delayed_start",
                500,
                1.4,
                0.4,
                0.8,
                0.4,
                volatility=0.5,
                start_period=25,
                ramp_up_periods=10,
                cpm=CPM["video"],
            ),
            geometric_hill(
                "social_media",
                "seasonal",
                500,
                0.7,
                0.3,
                2.0,
                0.5,
                volatility=0.6,
                seasonal_amplitude=0.4,
                seasonal_phase=0.5,
                cpm=CPM["social"],
            ),
            geometric_hill(
                "display_ads",
                "on_off",
                500,
                0.3,
                0.2,
                0.4,
                2.0,
                volatility=0.5,
                activation_probability=0.3,
                min_active_periods=2,
                max_active_periods=4,
                cpm=CPM["display"],
            ),
            geometric_hill(
                "email",
                "on_off",
                100,
                0.4,
                0.1,
                1.5,
                1.25,
                volatility=0.4,
                activation_probability=0.2,
                min_active_periods=1,
                max_active_periods=1,
            ),
        ],
        controls=[
            _event("event", 1.0, 0.10, 0.04, 3, 5),
            _event("sale", 1.0, 0.20, 0.10, 1, 4),
        ],
    )


def medium_business() -> WorldSpec:
    """156 weeks, 8 geos, 8 channels; a second video burst from week 75 that ends in week 125."""
    linear = {"pattern": "linear_trend", "trend": 0.002}
    return WorldSpec(
        name="medium_business",
        description="Medium business: 3 years weekly, 8 geos, 8 channels, two event types, "
        "sales and a trending control.",
        n_periods=156,
        geos=[f"geo_{c}" for c in "abcdefgh"],
        base_sales=15000.0,
        growth=0.1,
        seasonal_amplitude=0.15,
        channels=[
            geometric_hill(
                "search_ads",
                base=300,
                roas=1.1,
                alpha=0.0,
                slope=1.0,
                half=1.0,
                volatility=0.8,
                cpm=CPM["search"],
                **linear,
            ),
            geometric_hill(
                "search_ads_brand",
                base=100,
                roas=1.2,
                alpha=0.2,
                slope=1.5,
                half=0.4,
                volatility=1.1,
                cpm=CPM["search_brand"],
                **linear,
            ),
            geometric_hill(
                "video",
                "delayed_start",
                500,
                1.1,
                0.4,
                0.8,
                0.55,
                volatility=0.9,
                start_period=25,
                ramp_up_periods=10,
                cpm=CPM["video"],
            ),
            geometric_hill(
                "video_2",
                "delayed_start",
                1000,
                0.9,
                0.3,
                2.0,
                0.7,
                volatility=1.2,
                start_period=75,
                end_period=125,
                cpm=CPM["ctv"],
            ),
            geometric_hill(
                "social_media",
                "seasonal",
                1000,
                0.5,
                0.2,
                1.0,
                0.4,
                volatility=1.2,
                seasonal_amplitude=0.4,
                seasonal_phase=0.5,
                cpm=CPM["social"],
            ),
            geometric_hill(
                "social_media_2",
                "seasonal",
                1000,
                1.1,
                0.1,
                0.8,
                1.2,
                volatility=0.9,
                seasonal_amplitude=0.2,
                seasonal_phase=0.25 * np.pi,
                cpm=CPM["social_2"],
            ),
            geometric_hill(
                "display_ads",
                "on_off",
                500,
                0.8,
                0.05,
                0.5,
                0.5,
                volatility=0.7,
                activation_probability=0.3,
                min_active_periods=2,
                max_active_periods=4,
                cpm=CPM["display"],
            ),
            geometric_hill(
                "influencer",
                "on_off",
                500,
                1.3,
                0.1,
                1.2,
                0.9,
                volatility=1.1,
                activation_probability=0.1,
                min_active_periods=2,
                max_active_periods=6,
                cpm=CPM["influencer"],
            ),
        ],
        controls=[
            _event("event_a", 1.0, 0.08, 0.04, 3, 5),
            _event("event_b", 1.0, 0.03, 0.20, 1, 8),
            ControlSpec(
                name="linear",
                pattern="linear_trend",
                base=1.0,
                trend=0.005,
                volatility=0.3,
                lift=0.05,
            ),
            _event("sale", 1.0, 0.15, 0.10, 1, 4),
        ],
    )


LARGE_SEED = 2025_07_15  # fixes large_business's drawn parameters: one world, documented


def large_business() -> WorldSpec:
    """208 weeks, 50 geos, 30 channels (10 trending, 5 delayed-start, 5 seasonal, 10 on/off).

    Channel parameters are drawn once from a generator seeded with `LARGE_SEED`, so the
    preset is one fixed world; the data seed only changes the spend, noise and geo draws.
    CPMs, log-uniform between 3 and 30, come from a second generator (``[LARGE_SEED, 1]``)
    drawn after everything else.
    """
    rng = np.random.default_rng(LARGE_SEED)

    def response(on_off: bool = False) -> dict[str, float]:
        return {
            "base": float(rng.uniform(500, 5000)),
            "volatility": float(rng.uniform(0.3, 0.8)),
            "roas": float(rng.uniform(0.1 if on_off else 0.5, 2.0)),
            "alpha": float(rng.uniform(0.0, 0.5)),
            "slope": float(rng.uniform(0.5, 2.0)),
            "half": float(rng.uniform(0.3, 2.0)),
        }

    channels = []
    for n in range(10):
        channels.append(
            geometric_hill(
                f"linear_{n}", "linear_trend", trend=float(rng.uniform(0.0, 0.004)), **response()
            )
        )
    for n in range(5):
        start = int(rng.integers(10, 104))
        end = start + int(rng.integers(52, 104)) if n % 2 else None
        channels.append(
            geometric_hill(
                f"delayed_start_{n}",
                "delayed_start",
                start_period=start,
                end_period=end,
                ramp_up_periods=int(rng.integers(10, 52)),
                **response(),
            )
        )
    for n in range(5):
        channels.append(
            geometric_hill(
                f"seasonal_{n}",
                "seasonal",
                seasonal_amplitude=float(rng.uniform(0.2, 1.0)),
                seasonal_phase=float(rng.uniform(0, np.pi)),
                **response(),
            )
        )
    for n in range(10):
        lo = int(rng.integers(1, 4))
        channels.append(
            geometric_hill(
                f"on_off_{n}",
                "on_off",
                activation_probability=float(rng.uniform(0.05, 0.3)),
                min_active_periods=lo,
                max_active_periods=lo + int(rng.integers(0, 6)),
                **response(on_off=True),
            )
        )
    controls = [
        _event(
            f"event_{n}", 1.0, float(rng.uniform(0.02, 0.1)), float(rng.uniform(0.02, 0.1)), 1, 4
        )
        for n in range(3)
    ]
    prices = np.random.default_rng([LARGE_SEED, 1])
    channels = [
        ChannelSpec.model_validate(
            c.model_dump() | {"cpm": float(np.exp(prices.uniform(np.log(3.0), np.log(30.0))))}
        )
        for c in channels
    ]
    controls.append(
        ControlSpec(
            name="price_index",
            pattern="linear_trend",
            base=1.0,
            trend=0.001,
            volatility=0.05,
            lift=-0.2,
        )
    )
    return WorldSpec(
        name="large_business",
        description="Large business: 4 years weekly, 50 geos, 30 channels, events and price.",
        n_periods=208,
        geos=[f"geo_{n + 1:02d}" for n in range(50)],
        base_sales=150000.0,
        growth=0.12,
        seasonal_amplitude=0.2,
        channels=channels,
        controls=controls,
    )


PRESETS = {
    "small_business": small_business,
    "growing_business": growing_business,
    "medium_business": medium_business,
    "large_business": large_business,
}
