"""A Robyn-style ridge MMM behind the backend interface (`backends.base`).

`RidgeBackend.fit` searches adstock, Hill and λ hyperparameters with Nevergrad against
Robyn's objectives (NRMSE, DECOMP.RSSD and, with lift tests, MAPE.LIFT), keeps every
candidate in `RidgeFit.pareto`, and chooses the front-1 model nearest the origin of the
min-max scaled objectives (Robyn's `errors_scores`). The draws behind `predict`,
`contributions` and ROAS are `bootstrap` refits of that model's coefficients (same
hyperparameters) on its fitted values plus moving-block resampled residuals, each
coefficient's median draw moved onto the chosen coefficient. The model is national: one
target series, no geos.

Params (unknown keys are errors): ``adstock`` ('geometric' | 'weibull_cdf' | 'weibull_pdf'),
``iterations`` and ``trials`` (2000 × 5), ``num_workers`` (candidates per batch, 30),
``hyperparameters`` (ranges, see `design.parse_ranges`), ``fourier_order`` (2),
``bootstrap`` (200 refits), ``lift_tests`` (dicts of `metrics.robyn.LiftTest` fields).
The spec's ``inference`` settings (NUTS) do not apply and are ignored.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmmlab.backends.base import Capabilities
from mmmlab.backends.ridge.design import (
    HyperparameterSpace,
    RidgeDesign,
    media_features,
    parse_ranges,
    ridge_fit,
    scaled_lambda,
)
from mmmlab.backends.ridge.fit import RidgeFit, check_national
from mmmlab.backends.ridge.search import (
    SearchResult,
    SearchSettings,
    choose_model,
    moving_block_bootstrap,
    pareto_fronts,
    run_search,
)
from mmmlab.data import Dataset
from mmmlab.inference.diagnostics import Diagnostics
from mmmlab.metrics.predictive import nrmse
from mmmlab.metrics.recovery import central_interval
from mmmlab.metrics.robyn import (
    LiftTest,
    adjusted_r2,
    check_lift_test,
    decomp_rssd,
    mape_lift,
    predicted_lift,
)


class RidgeParams(BaseModel):
    """The ridge backend's params (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    adstock: Literal["geometric", "weibull_cdf", "weibull_pdf"] = "geometric"
    iterations: int = Field(2000, ge=1)
    trials: int = Field(5, ge=1)
    num_workers: int = Field(30, ge=1)
    hyperparameters: dict[str, Any] = {}
    fourier_order: int = Field(2, ge=0, le=10)
    bootstrap: int = Field(200, ge=2)
    lift_tests: list[dict[str, Any]] = []


def validate_params(params: dict[str, Any]) -> tuple[RidgeParams, list[LiftTest]]:
    """Check `params` without data; raise ValueError naming each bad key."""
    unknown = sorted(set(params) - set(RidgeParams.model_fields))
    if unknown:
        raise ValueError(
            f"ridge: unknown parameter(s) {unknown}; ridge takes {sorted(RidgeParams.model_fields)}"
        )
    try:
        checked = RidgeParams.model_validate(params)
    except ValidationError as err:
        raise ValueError(
            "ridge: "
            + "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors())
        ) from None
    parse_ranges(checked.adstock, checked.hyperparameters)
    tests = [
        LiftTest.from_dict(raw, f"lift_tests[{i}]") for i, raw in enumerate(checked.lift_tests)
    ]
    return checked, tests


def score_candidates(
    design: RidgeDesign, space: HyperparameterSpace, unit: np.ndarray, tests: list[LiftTest]
) -> dict[str, np.ndarray]:
    """Robyn's objectives of B candidates (unit : (B, D)): each (B,) array of ``nrmse``,
    ``decomp_rssd`` (zero-effect penalty; inf when every media effect is zero),
    ``rsq_train`` (adjusted), ``lambda`` (λ in y's units) and ``mape_lift`` with tests."""
    hyper = space.split(space.values(unit))
    n_media = len(design.channels)
    media = media_features(
        design.lagged, design.adstock, hyper, design.l_max, with_carryover=bool(tests)
    )
    fit = ridge_fit(
        design.features(media.saturated), design.y, hyper["lambda"], design.lam_max, n_media
    )
    beta = fit.coef[:, :n_media]
    effect = beta * media.saturated.sum(axis=1)
    n_features = fit.coef.shape[1]
    rssd = np.array([decomp_rssd(e, design.spend) for e in effect])
    out = {
        "nrmse": np.array([nrmse(design.y, f) for f in fit.fitted]),
        "decomp_rssd": np.where(np.isnan(rssd), np.inf, rssd),
        "rsq_train": np.array([adjusted_r2(design.y, f, n_features) for f in fit.fitted]),
        "lambda": scaled_lambda(hyper["lambda"], design.lam_max),
    }
    if tests:
        total = beta[:, None, :] * media.saturated
        immediate = total - beta[:, None, :] * media.carryover
        args = (design.dates, immediate, total, design.channels, design.period_days)
        predicted = np.stack([predicted_lift(t, *args) for t in tests], axis=-1)
        out["mape_lift"] = mape_lift(predicted, tests)
    return out


class RidgeBackend:
    """Robyn-style ridge regression with a Nevergrad multi-objective search."""

    name = "ridge"
    capabilities = Capabilities(
        immediate_contributions=True, n_features=True, extra_metrics=True, pareto=True
    )

    def check_params(self, params: dict[str, Any]) -> None:
        """Raise ValueError naming each bad key of `params` (see the module docstring)."""
        validate_params(params)

    def fit(
        self, train: Dataset, params: dict[str, Any], seed: int, inference: dict[str, Any]
    ) -> RidgeFit:
        checked, tests = validate_params(params)
        check_national(train)
        design = RidgeDesign.build(train, checked.adstock, checked.fourier_order)
        space = HyperparameterSpace.build(checked.adstock, train.channels, checked.hyperparameters)
        for test in tests:
            check_lift_test(
                test, design.dates, train.spend[:, 0, :], design.channels, design.period_days
            )
        settings = SearchSettings(checked.iterations, checked.trials, checked.num_workers)
        objectives = ("nrmse", "decomp_rssd") + (("mape_lift",) if tests else ())
        result = run_search(
            lambda unit: score_candidates(design, space, unit, tests),
            space.dim,
            objectives,
            settings,
            seed,
        )
        losses = np.column_stack([result.scores[k] for k in objectives])
        fronts = pareto_fronts(losses)
        chosen = choose_model(losses, fronts)
        return _chosen_fit(design, space, train, result, fronts, chosen, checked, tests, seed)


def _chosen_fit(
    design: RidgeDesign,
    space: HyperparameterSpace,
    train: Dataset,
    result: SearchResult,
    fronts: np.ndarray,
    chosen: int,
    params: RidgeParams,
    tests: list[LiftTest],
    seed: int,
) -> RidgeFit:
    """Refit the chosen candidate, bootstrap it, and collect the table and metrics."""
    n_media = len(design.channels)
    hyper = space.split(space.values(result.unit[chosen : chosen + 1]))
    media = media_features(design.lagged, design.adstock, hyper, design.l_max)
    features = design.features(media.saturated)[0]
    point = ridge_fit(features, design.y, hyper["lambda"], design.lam_max, n_media)
    rng = np.random.default_rng(seed)
    resampled = moving_block_bootstrap(rng, design.y - point.fitted[0], params.bootstrap)
    y_star = point.fitted[0] + resampled
    lambda_hp = np.full(params.bootstrap, hyper["lambda"][0])
    draws = ridge_fit(features, y_star, lambda_hp, design.lam_max, n_media)
    dof = max(len(design.y) - features.shape[1] - 1, 1)
    sigma = np.sqrt(np.square(y_star - draws.fitted).sum(axis=1) / dof)
    # Refitting a ridge on its own fitted values shrinks twice; moving each coefficient's
    # median draw onto the chosen fit keeps the bootstrap's spread without that extra bias
    # (the median, not the mean: a channel held at zero in most refits stays a point mass).
    coef = draws.coef - np.median(draws.coef, axis=0) + point.coef[0]
    coef[:, :n_media] = np.maximum(coef[:, :n_media], 0.0)
    intercept = draws.intercept - np.median(draws.intercept) + point.intercept[0]
    spend = np.where(design.spend > 0, design.spend, np.nan)
    media_total = media.saturated[0].sum(axis=0)
    roas_draws = coef[:, :n_media] * media_total / spend
    roas_point = point.coef[0, :n_media] * media_total / spend
    chosen_hyper = {k: v[0] for k, v in hyper.items() if k != "lambda"}

    table = pd.DataFrame({"trial": result.trial, "iteration": result.iteration})
    for key, values in result.scores.items():
        table[key] = values
    table["front"] = fronts
    table["chosen"] = np.arange(len(fronts)) == chosen
    names = [n if n != "lambda" else "lambda_hp" for n in space.names]
    table[names] = space.values(result.unit)

    scores = {k: float(v[chosen]) for k, v in result.scores.items()}
    low, high = central_interval(roas_draws, 0.9)
    extra = [
        ("search_nrmse_train", "", scores["nrmse"]),
        ("search_decomp_rssd_train", "", scores["decomp_rssd"]),
        ("search_rsq_train_adjusted", "", scores["rsq_train"]),
        ("pareto_front_size", "", float(np.sum(fronts == 1))),
        ("search_seconds", "", result.seconds),
        ("search_evaluations", "", float(len(fronts))),
        ("hp_lambda", "", float(hyper["lambda"][0])),
    ]
    if tests:
        extra.append(("search_mape_lift", "", scores["mape_lift"]))
    for c, ch in enumerate(design.channels):
        extra += [(f"hp_{k}", ch, float(v[c])) for k, v in chosen_hyper.items()]
        extra += [
            ("roas_point", ch, float(roas_point[c])),
            ("roas_lower_90", ch, float(low[c])),
            ("roas_upper_90", ch, float(high[c])),
        ]
    nan = float("nan")
    diagnostics = Diagnostics(  # no chains to compare: convergence does not apply
        max_rhat=nan,
        min_ess_bulk=nan,
        min_ess_tail=nan,
        divergences=0,
        min_bfmi=nan,
        compile_s=0.0,
        sample_s=result.seconds,
        ess_per_s=nan,
        num_chains=1,
        num_draws=params.bootstrap,
        method="ridge",
    )
    return RidgeFit(
        channels=design.channels,
        control_names=train.control_names,
        adstock=design.adstock,
        l_max=design.l_max,
        fourier_order=design.fourier_order,
        period=design.period,
        hyper=chosen_hyper,
        lambda_hp=float(hyper["lambda"][0]),
        inflexion=media.inflexion[0],
        baseline_names=design.baseline_names,
        coef=coef,
        intercept=intercept,
        sigma=sigma,
        roas_draws=roas_draws,
        roas_point=roas_point,
        pareto=table,
        diagnostics=diagnostics,
        extra=tuple(extra),
    )
