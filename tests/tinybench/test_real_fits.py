"""Tiny benchmarks and adaptive tests on real fits of simulated leaderboards (slow).

Run with ``python -m pytest tests/tinybench/test_real_fits.py -m slow -s`` to see the
tables.
"""

import numpy as np
import pytest
from tinybench_fakes import simulate_benchmark

import bayesirt
from bayesirt.tinybench import evaluate_subsets, simulate_adaptive_test

pytestmark = pytest.mark.slow


def _fit(method, **settings):
    def fit(responses):
        return bayesirt.fit(
            responses, model="2pl", method=method, random_seed=0, progressbar=False, **settings
        )

    return fit


@pytest.mark.parametrize(
    ("method", "settings", "coverage_range"),
    [
        ("nuts", {"draws": 500, "tune": 500, "chains": 2}, (0.80, 0.97)),
        # mean-field ADVI is overconfident (see the README): a wider band for its intervals
        ("advi", {"draws": 200, "chains": 1, "advi_iterations": 10_000}, (0.70, 0.97)),
    ],
)
def test_tiny_benchmarks_on_a_real_fit(method, settings, coverage_range):
    responses, _ = simulate_benchmark(300, 120, seed=31)
    result = evaluate_subsets(
        responses,
        fit=_fit(method, **settings),
        methods=("random", "anchor", "fisher", "bayesian", "adaptive"),
        estimators=("mean", "weighted", "pirt", "gpirt", "bayes"),
        budgets=(12,),
        seeds=(0, 1),
        split=0.25,
    )
    summary = result.summary().set_index(["method", "estimator"])
    print(f"\n{method}:\n{summary[['mae', 'kendall_tau', 'coverage']].round(3).to_string()}")
    random_mae = summary.loc[("random", "mean"), "mae"]
    assert summary["mae"].min() <= 0.6 * random_mae
    estimates = result.estimates[result.estimates["estimator"] == "bayes"]
    inside = (estimates["lo"] <= estimates["truth"]) & (estimates["truth"] <= estimates["hi"])
    print(f"Bayesian 90% intervals cover {inside.mean():.1%} of {len(inside)}")
    assert coverage_range[0] <= inside.mean() <= coverage_range[1]


def test_adaptive_test_recovers_abilities_on_a_real_fit():
    responses, _ = simulate_benchmark(300, 120, seed=32)
    idata = _fit("nuts", draws=500, tune=500, chains=2)(responses)
    theta = np.random.default_rng(3).normal(size=60)
    run = simulate_adaptive_test(idata, theta, selector="variance", seed=1)
    summary = run.summary
    inside = (summary["theta_lo"] <= theta) & (theta <= summary["theta_hi"])
    error = np.abs(summary["theta_mean"] - theta).mean()
    n_items = summary["n_items"].mean()
    print(f"\nadaptive: {n_items:.1f} items, |error| {error:.3f}, cover {inside.mean():.0%}")
    assert (summary["stopped"] == "sd").all()
    assert 0.75 <= inside.mean() <= 1.0
    assert error < 0.35
