"""Is the residual correlation non-random? Posterior predictive check and permutation test."""

import numpy as np
import pytest
from analysis_fakes import simulated_fit
from test_robustness_fakes import planted, truth_fit

import bayesirt
from bayesirt.analysis import dependence_test


@pytest.fixture(scope="module")
def planted_fit():
    responses, truth, _ = planted()
    return truth_fit(responses, truth, n_draw=200)


def test_planted_dependence_is_detected(planted_fit):
    result = dependence_test(planted_fit, clusters="cluster", n_permutations=300)
    assert result.attrs["ppc_p"] < 0.01
    assert result.attrs["permutation_p"] < 0.01
    assert result.attrs["n_draws"] == 200 and len(result["t_obs"]) == 200
    assert (result["t_obs"] > result["t_rep"]).mean() > 0.99
    assert result.attrs["verdict"].startswith("The residual correlation is not random")
    assert "'cluster' label correlate more" in result.attrs["verdict"]
    assert result.attrs["t_obs_mean_residual"] > 0.1


def test_cluster_excess_statistic_detects_it_too(planted_fit):
    result = dependence_test(
        planted_fit,
        statistic="cluster_excess",
        clusters="cluster",
        n_draws=100,
        n_permutations=0,
    )
    assert result.attrs["ppc_p"] < 0.01
    assert np.isnan(result.attrs["permutation_p"]) and "t_perm" not in result
    assert result.attrs["method"] == "cluster sums"


def test_sampled_statistic_detects_it(planted_fit):
    result = dependence_test(planted_fit, n_draws=100, dense_max=100, n_pairs=5000)
    assert result.attrs["method"] == "sampled (5000 pairs)"
    assert result.attrs["ppc_p"] < 0.01
    assert np.isnan(result.attrs["permutation_p"])


def test_rejection_rate_without_dependence_is_nominal():
    """20 data sets from a locally independent 2PL: both tests reject at about 5 %."""
    ppc, perm = [], []
    for seed in range(20):
        responses, truth = bayesirt.simulate_responses(40, 50, seed=1000 + seed, n_categories=4)
        result = dependence_test(
            truth_fit(responses, truth, n_draw=100, seed=seed),
            clusters="category",
            n_permutations=199,
            random_seed=seed,
        )
        ppc.append(result.attrs["ppc_p"])
        perm.append(result.attrs["permutation_p"])
    ppc, perm = np.array(ppc), np.array(perm)
    assert (ppc < 0.05).sum() <= 3
    assert (perm < 0.05).sum() <= 3
    # and the p-values spread over (0, 1) instead of piling up at one end
    assert 0.25 < ppc.mean() < 0.75 and 0.25 < perm.mean() < 0.75


def test_verdict_without_evidence():
    responses, truth = bayesirt.simulate_responses(40, 30, seed=7)
    result = dependence_test(truth_fit(responses, truth, n_draw=100), n_draws=100)
    assert result.attrs["ppc_p"] >= 0.05
    assert result.attrs["verdict"].startswith(
        "The overall residual correlation (mean |Q3|) is typical"
    )
    assert "no evidence of local dependence" in result.attrs["verdict"]


def test_replications_are_seeded(planted_fit):
    first = dependence_test(planted_fit, n_draws=20, random_seed=1)
    again = dependence_test(planted_fit, n_draws=20, random_seed=1)
    other = dependence_test(planted_fit, n_draws=20, random_seed=2)
    np.testing.assert_array_equal(first["t_rep"].values, again["t_rep"].values)
    assert not np.array_equal(first["t_rep"].values, other["t_rep"].values)


def test_bad_arguments():
    idata, _ = simulated_fit(n_subjects=6, n_items=8, n_draw=5)
    with pytest.raises(ValueError, match="statistic must be one of"):
        dependence_test(idata, statistic="max")
    with pytest.raises(ValueError, match="needs clusters"):
        dependence_test(idata, statistic="cluster_excess")
    with pytest.raises(ValueError, match="alpha"):
        dependence_test(idata, alpha=0)
    with pytest.raises(ValueError, match="n_permutations"):
        dependence_test(idata, n_permutations=-1)
