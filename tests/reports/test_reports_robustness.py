"""Robustness plots: a bump chart across scenarios, the Q3 heat map by cluster, the PPC."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.image import AxesImage

import bayesirt
from bayesirt.analysis import dependence_test, local_dependence, scenario_rankings
from bayesirt.reports import plot_cluster_q3, plot_dependence_test, plot_rank_bump
from bayesirt.testing import fake_fit


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fit():
    responses, truth = bayesirt.simulate_responses(
        8, 40, seed=2, clusters=3, cluster_size=8, n_categories=2
    )
    rng = np.random.default_rng(0)
    return fake_fit(
        responses,
        theta=truth["theta"].values + 0.3 * rng.normal(size=(1, 30, 8)),
        a=truth["a"].values,
        b=truth["b"].values,
    )


def test_bump_chart(fit):
    scenarios = scenario_rankings(fit, groups="cluster", n_use_cases=10, n_boot=10)
    ax = plot_rank_bump(scenarios)
    assert isinstance(ax, Axes)
    names = [str(s) for s in scenarios["scenario"].values]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert len(ax.lines) == 8
    for line, subject in zip(ax.lines, scenarios["subject"].values, strict=True):
        assert line.get_label() == subject
        np.testing.assert_allclose(line.get_ydata(), scenarios["mean_rank"].sel(subject=subject))
    assert len(ax.texts) == 16  # each subject named at both ends
    assert ax.yaxis_inverted()
    accuracy = plot_rank_bump(scenarios, basis="accuracy", top=3)
    assert len(accuracy.lines) == 3
    np.testing.assert_allclose(
        accuracy.lines[0].get_ydata(), scenarios["accuracy_rank"].isel(subject=0)
    )
    assert "accuracy" in accuracy.get_ylabel()
    with pytest.raises(ValueError, match="basis"):
        plot_rank_bump(scenarios, basis="votes")
    with pytest.raises(ValueError, match="top"):
        plot_rank_bump(scenarios, top=0)


def test_cluster_heat_map(fit):
    dependence = local_dependence(fit, clusters="cluster", n_draws=10)
    ax = plot_cluster_q3(dependence, annotate=True)
    (image,) = [im for im in ax.get_images() if isinstance(im, AxesImage)]
    np.testing.assert_allclose(image.get_array(), dependence["cluster_q3"].values)
    labels = [str(c) for c in dependence["cluster"].values]
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    assert len(ax.texts) == 9
    assert "cluster" in ax.get_title()
    with pytest.raises(ValueError, match="no cluster_q3"):
        plot_cluster_q3(local_dependence(fit, n_draws=5))


def test_dependence_test_plot(fit):
    test = dependence_test(fit, clusters="cluster", n_draws=20, n_permutations=50)
    ax = plot_dependence_test(test)
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(
        points.get_offsets(), np.column_stack([test["t_rep"].values, test["t_obs"].values])
    )
    assert ax.get_title().startswith(f"PPC p = {test.attrs['ppc_p']:.3f}; permutation p")
    bare = xr.Dataset(
        {"t_obs": ("sample", [0.1, 0.2]), "t_rep": ("sample", [0.1, 0.1])},
        attrs={"statistic": "mean_abs", "ppc_p": 0.5, "permutation_p": float("nan")},
    )
    assert plot_dependence_test(bare).get_title() == "PPC p = 0.500"
