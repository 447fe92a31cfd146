"""The fit's figures draw what they say: the predictive band and mean beside the actual
target, contributions stacked to the fitted mean, one response curve per channel with
today's spend marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

import mmmlab
from mmmlab.analysis import contributions_frame, response_curves
from mmmlab.analysis.plots import contributions_figure, fit_figure, response_curves_figure

pytestmark = pytest.mark.xdist_group("fit")


@pytest.fixture(scope="module")
def point_fit():
    dataset, _ = mmmlab.example_dataset()
    return mmmlab.fit(dataset, seed=0, method="map")


def test_fit_figure_draws_the_predictive_mean_band_and_the_actual_target():
    rng = np.random.default_rng(0)
    dates = pd.date_range("2024-01-07", periods=20, freq="W-SUN")
    actual = rng.uniform(50, 100, (20, 2))
    predictive = actual[None] + rng.normal(0, 5, (400, 20, 2))
    fig = fit_figure(dates, actual, predictive, "a title")
    (ax,) = fig.axes
    mean, observed = ax.get_lines()
    np.testing.assert_allclose(mean.get_ydata(), predictive.sum(axis=2).mean(axis=0))
    np.testing.assert_allclose(observed.get_ydata(), actual.sum(axis=1))
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    top = band.get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(np.quantile(predictive.sum(axis=2), 0.95, axis=0).max())
    assert ax.get_title() == "a title"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "90% predictive",
        "posterior mean",
        "actual",
    ]
    plt.close(fig)


def test_contributions_stack_to_the_fitted_mean(point_fit):
    frame = contributions_frame(point_fit)
    fig = contributions_figure(frame)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == ["baseline", "trend", "seasonality", "controls"]
    assert labels[4:] == list(point_fit.channels)
    # the top of the positive stack is the sum of the positive parts in every period
    wide = frame.groupby(["date", "component"], sort=False)["mean"].sum().unstack()
    positive_top = wide.clip(lower=0).sum(axis=1).to_numpy()
    x, y = ax.collections[len(labels) - 1].get_paths()[0].vertices.T  # the last layer
    drawn = pd.Series(y).groupby(x).max()  # its upper edge, by date
    np.testing.assert_allclose(drawn.to_numpy(), positive_top, rtol=1e-9)
    plt.close(fig)


def test_response_curves_have_one_panel_per_channel_and_mark_todays_spend(point_fit):
    curves = response_curves(point_fit, multipliers=np.array([0.0, 0.5, 1.0, 1.5, 2.0]))
    fig = response_curves_figure(curves)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == list(point_fit.channels)
    spend = point_fit.train.spend.sum(axis=(0, 1))
    for c, ax in enumerate(panels):
        curve, dot = ax.get_lines()
        part = curves[curves["channel"] == point_fit.channels[c]]
        np.testing.assert_allclose(curve.get_ydata(), part["mean"])
        assert curve.get_ydata()[0] == 0.0  # no spend, no contribution
        assert dot.get_xdata()[0] == pytest.approx(spend[c])
        now = part.loc[part["multiplier"] == 1.0, "mean"].item()
        assert dot.get_ydata()[0] == pytest.approx(now)
    plt.close(fig)
