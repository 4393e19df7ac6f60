"""Posterior predictive checks (bayesirt.ppc) on fake fits with a known truth.

The fits are fake fits (:func:`bayesirt.testing.fake_fit`) at (or near) the generating
parameters, stamped as fits of a model, so every check runs in milliseconds and its answer is
known: observed statistics are compared with hand computations, p-values with exact binomial
tails, and the residual-correlation check with planted local dependence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit

import bayesirt
from bayesirt import models
from bayesirt.analysis.ppc import DEFAULT_STATISTICS, ppc, ppc_table, ppc_unit_table
from bayesirt.testing import complete_responses, fake_fit

SHAPE = (2, 100)


def truth_fit(responses, truth, *, noise: float = 0.0, seed: int = 0, model: str = "2pl"):
    """A posterior of ``SHAPE`` draws at the true parameters (plus optional noise)."""
    rng = np.random.default_rng(seed)
    params = {}
    for name in ("theta", "a", "b", "c", "d"):
        if name in truth:
            values = truth[name].values
            params[name] = values + noise * rng.normal(size=(*SHAPE, len(values)))
    if "a" in params:
        params["a"] = np.abs(params["a"])
    theta, a, b = params.pop("theta"), params.pop("a"), params.pop("b")
    return fake_fit(responses, theta=theta, a=a, b=b, model=model, **params)


@pytest.fixture(scope="module")
def small():
    """20 subjects × 30 items, 10% missing, posterior at the truth."""
    responses, truth = bayesirt.simulate_responses(20, 30, seed=3, missing_fraction=0.1)
    return responses, truth_fit(responses, truth)


def test_observed_statistics_match_hand_computation(small):
    responses, idata = small
    result = ppc(idata, statistics=(*DEFAULT_STATISTICS, "item_fit"), n_draws=20)
    y = responses.dense()  # NaN where missing
    np.testing.assert_allclose(result["total_score_obs"].values, np.nansum(y, axis=1))
    np.testing.assert_allclose(result["item_accuracy_obs"].values, np.nanmean(y, axis=0))
    # item-rest correlation of item 0: its answers against the rest of each subject's answers
    observed = ~np.isnan(y[:, 0]) & (np.sum(~np.isnan(y), axis=1) > 1)
    rest = (np.nansum(y, axis=1) - np.nan_to_num(y[:, 0])) / (np.sum(~np.isnan(y), axis=1) - 1)
    expected = np.corrcoef(y[observed, 0], rest[observed])[0, 1]
    assert result["item_fit_obs"].values[0] == pytest.approx(expected)
    assert result.attrs["n_draws"] == 20


def test_replications_keep_the_missing_cells(small):
    responses, idata = small
    result = ppc(idata, statistics=("total_score",), n_draws=50)
    answered = responses.subject_counts().to_numpy()
    assert np.all(result["total_score_rep_hi"].values <= answered)
    assert answered.min() < responses.n_items  # some cells are missing
    # histograms count every subject in every replication
    assert np.all(result["total_score_hist_rep"].sum("bin").values == responses.n_subjects)


def test_p_value_equals_the_exact_binomial_mid_p():
    """P(correct) = 0.5 everywhere: an item's replicated count is Binomial(J, 0.5)."""
    n_subjects, n_items = 30, 4
    y = np.zeros((n_subjects, n_items))
    correct = [10, 15, 20, 25]
    for i, k in enumerate(correct):
        y[:k, i] = 1
    responses = complete_responses(y)
    shape = (4, 500)
    idata = fake_fit(
        responses,
        theta=np.zeros((*shape, n_subjects)),
        a=np.ones((*shape, n_items)),
        b=np.zeros((*shape, n_items)),
    )
    result = ppc(idata, statistics=("item_accuracy",), n_draws=None, random_seed=1)
    p = result["item_accuracy_p"].values
    exact = np.array(
        [stats.binom.sf(k, n_subjects, 0.5) + 0.5 * stats.binom.pmf(k, n_subjects, 0.5)
         for k in correct]
    )  # fmt: skip
    se = np.sqrt(exact * (1 - exact) / 2000)
    assert np.all(np.abs(p - exact) < 4 * se + 1e-3)


def test_misfitting_item_gets_an_extreme_p_value(small):
    responses, idata = small
    # make item 0 far too hard in the posterior: the model then replicates almost no correct
    # answers while the data have some
    shifted = idata.copy()
    shifted.posterior["b"][:, :, 0] = 8.0
    shifted.posterior["a"][:, :, 0] = 3.0
    result = ppc(shifted, statistics=("item_accuracy",), n_draws=100)
    assert responses.item_accuracy().iloc[0] > 0.1
    assert result["item_accuracy_p"].values[0] == 0.0
    others = result["item_accuracy_p"].values[1:]
    assert np.mean((others > 0.025) & (others < 0.975)) > 0.8


def test_planted_local_dependence_tops_the_pair_table():
    """Clusters of items share a subject effect the fitted 2PL does not have: their pairs lead
    the table. The global mean-|Q3| discrepancy is the one of ``dependence_test``
    (``MeanAbsQ3``); its detection and its rejection rate without dependence are tested in
    test_dependence_local.py."""
    responses, truth = bayesirt.simulate_responses(
        60, 40, seed=5, clusters=2, cluster_size=8, cluster_sd=2.0
    )
    idata = truth_fit(responses, truth)
    result = ppc(idata, statistics=("residual_correlation",), n_draws=100)
    cluster = responses.item_meta["cluster"]
    cluster.index = cluster.index.astype(str)
    pairs = ppc_unit_table(result, "residual_correlation").head(10).index
    same = [pd.notna(cluster[i]) and cluster[i] == cluster[k] for i, k in pairs]
    assert np.mean(same) >= 0.8


def test_many_items_use_sampled_pairs_without_an_item_by_item_matrix():
    responses, truth = bayesirt.simulate_responses(
        100, 120, seed=8, clusters=1, cluster_size=6, cluster_sd=3.0
    )
    idata = truth_fit(responses, truth)
    n_items = responses.n_items
    all_pairs = n_items * (n_items - 1) // 2
    dense = ppc(idata, statistics=("residual_correlation",), n_draws=10, dense_max=n_items)
    every_pair = ppc(
        idata, statistics=("residual_correlation",), n_draws=10, dense_max=50, n_pairs=all_pairs
    )
    assert every_pair.attrs["residual_correlation_method"].startswith("sampled")
    assert dense.attrs["residual_correlation_method"].startswith("dense")
    # the observed discrepancy does not depend on the replications: same pairs, same value
    np.testing.assert_allclose(
        every_pair["residual_correlation_t_obs"].values,
        dense["residual_correlation_t_obs"].values,
        rtol=1e-10,
    )
    # with only 100 random pairs, the screen of the mean residuals still finds the cluster
    few = ppc(idata, statistics=("residual_correlation",), n_draws=10, dense_max=50, n_pairs=100)
    assert "100 random pairs" in few.attrs["residual_correlation_method"]
    planted = set(responses.item_meta.index[responses.item_meta["cluster"].notna()].astype(str))
    top = ppc_unit_table(few, "residual_correlation").head(5).index
    assert all(i in planted and k in planted for i, k in top)


def test_uses_the_model_of_the_fit(small, monkeypatch):
    """P(correct) comes from the registered model's observation_probability."""

    class Constant(models.TwoPL):
        name = "constant-0.9"

        @classmethod
        def observation_probability(cls, posterior, subject_index, item_index):
            shape = (posterior.sizes["chain"], posterior.sizes["draw"], len(subject_index))
            return np.full(shape, 0.9)

    monkeypatch.setitem(models.MODELS, Constant.name, Constant)
    responses, idata = small
    post = idata.posterior
    fit = fake_fit(
        responses,
        theta=post["theta"].values,
        a=post["a"].values,
        b=post["b"].values,
        model=Constant(responses),
    )
    result = ppc(fit, statistics=("item_accuracy",), n_draws=200)
    assert result.attrs["model"] == Constant.name
    assert result["item_accuracy_rep_mean"].mean() == pytest.approx(0.9, abs=0.01)


def test_four_parameter_asymptotes_enter_the_replications():
    responses, truth = bayesirt.simulate_responses(30, 20, model="4pl", seed=2)
    idata = truth_fit(responses, truth, model="4pl")
    idata.posterior["c"][:, :, 0] = 0.95
    idata.posterior["d"][:, :, 0] = 0.99
    result = ppc(idata, statistics=("item_accuracy",), n_draws=100)
    assert result["item_accuracy_rep_mean"].values[0] > 0.93


def test_summary_table(small):
    _, idata = small
    result = ppc(idata, n_draws=30)
    table = ppc_table(result)
    assert list(table.index) == list(DEFAULT_STATISTICS)
    assert table.loc["item_accuracy", "n_units"] == 30
    assert table["ppp"].between(0, 1).all()
    assert (table["t_rep_lo"] <= table["t_rep_hi"]).all()


def test_bad_input_is_named(small):
    _, idata = small
    with pytest.raises(ValueError, match="'wrong'"):
        ppc(idata, statistics=("wrong",))
    with pytest.raises(ValueError, match="n_draws"):
        ppc(idata, n_draws=0)
    unstamped = idata.copy()
    unstamped.attrs = {}
    with pytest.raises(ValueError, match="bayesirt_config"):
        ppc(unstamped)
    with pytest.raises(ValueError, match="'item_fit' is not in this result"):
        ppc_unit_table(ppc(idata, statistics=("total_score",), n_draws=5), "item_fit")


def test_probability_is_the_curve_of_the_fit(small):
    """Replicated accuracy averages the 2PL curve at the posterior (a check by hand)."""
    responses, idata = small
    result = ppc(idata, statistics=("item_accuracy",), n_draws=None, random_seed=2)
    post = idata.posterior
    p = expit(
        post["a"].values[:, :, responses.item_index]
        * (
            post["theta"].values[:, :, responses.subject_index]
            - post["b"].values[:, :, responses.item_index]
        )
    ).mean(axis=(0, 1))
    expected = np.bincount(responses.item_index, weights=p) / responses.item_counts().to_numpy()
    se = 0.5 / np.sqrt(responses.item_counts().to_numpy() * post.sizes["draw"] * 2)
    assert np.all(np.abs(result["item_accuracy_rep_mean"].values - expected) < 5 * se)
