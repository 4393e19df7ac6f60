"""plot_subset_errors: one line per method and estimator, means over seeds against budgets."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from bayesirt.analysis import SubsetEvaluation
from bayesirt.reports import plot_subset_errors


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def evaluation():
    rows = []
    for seed in (0, 1, 2):
        for budget in (10, 25, 50):
            for method, scale in (("random", 1.0), ("anchor", 0.7)):
                for estimator, shift in (("mean", 0.0), ("bayes", -0.01)):
                    mae = scale / np.sqrt(budget) + shift + 0.001 * seed
                    rows.append(
                        {
                            "budget": budget,
                            "seed": seed,
                            "method": method,
                            "estimator": estimator,
                            "mae": mae,
                            "kendall_tau": 1 - mae,
                            "coverage": 0.9 if estimator == "bayes" else np.nan,
                        }
                    )
    return SubsetEvaluation(
        table=pd.DataFrame(rows), estimates=pd.DataFrame(), settings={"n_test": 40}
    )


def test_one_line_per_method_and_estimator(evaluation):
    ax = plot_subset_errors(evaluation)
    assert isinstance(ax, Axes) and ax.get_xscale() == "log"
    lines = {bars.get_label(): bars for bars in ax.containers}
    assert set(lines) == {"random / mean", "random / bayes", "anchor / mean", "anchor / bayes"}
    x, y = lines["anchor / bayes"].lines[0].get_data()
    np.testing.assert_array_equal(x, [10, 25, 50])
    np.testing.assert_allclose(y, 0.7 / np.sqrt([10, 25, 50]) - 0.01 + 0.001)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "25", "50"]
    assert "mean absolute error" in ax.get_ylabel() and "40 held-out" in ax.get_title()


def test_metric_without_values_draws_only_what_exists(evaluation):
    _, given = plt.subplots()
    ax = plot_subset_errors(evaluation, metric="coverage", methods=["anchor"], ax=given)
    assert ax is given
    assert [bars.get_label() for bars in ax.containers] == ["anchor / bayes"]


def test_unknown_metric_or_method(evaluation):
    with pytest.raises(ValueError, match="mae, kendall_tau"):
        plot_subset_errors(evaluation, metric="rmse")
    with pytest.raises(ValueError, match=r"method\(s\) \['search'\]"):
        plot_subset_errors(evaluation, methods=["search"])
