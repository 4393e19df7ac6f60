"""Yen's Q3 over posterior draws: definition, missing cells, cluster sums and the scaling path."""

import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from analysis_fakes import complete_responses, make_idata, simulated_fit
from scipy.special import expit
from test_robustness_fakes import planted, truth_fit

import bayesirt
from bayesirt.analysis import _q3
from bayesirt.analysis._posterior import posterior_draws
from bayesirt.analysis.robustness import cluster_table, dependent_pairs, local_dependence


def _residual_frame(idata, s):
    """Residuals of draw ``s`` as subjects × items with NaN for missing cells (by hand)."""
    draws = posterior_draws(idata)
    responses = idata.constant_data
    y = np.full((len(draws.subjects), len(draws.items)), np.nan)
    y[responses["subject_index"].values, responses["item_index"].values] = responses[
        "response"
    ].values
    p = expit(draws.a[s] * (draws.theta[s][:, None] - draws.b[s]))
    return pd.DataFrame(y - p, columns=draws.items)


@pytest.fixture(scope="module")
def gappy():
    """A 2PL fake fit on 25 × 12 responses with 30 % of the cells missing."""
    rng = np.random.default_rng(5)
    theta = rng.normal(size=25)
    a, b = np.exp(rng.normal(0, 0.3, 12)), rng.normal(size=12)
    y = (rng.random((25, 12)) < expit(a * (theta[:, None] - b))).astype(float)
    y[rng.random(y.shape) < 0.3] = np.nan
    shape = (2, 5)
    return make_idata(
        theta + 0.3 * rng.normal(size=(*shape, 25)),
        a * np.exp(0.1 * rng.normal(size=(*shape, 12))),
        b + 0.1 * rng.normal(size=(*shape, 12)),
        complete_responses(y),
    )


# ------------------------------------------------------------ definition
def test_q3_is_the_correlation_of_residuals_draw_by_draw():
    idata, _ = simulated_fit(n_subjects=10, n_items=6, n_chain=1, n_draw=4)
    result = local_dependence(idata, n_draws=None, top=3)
    by_hand = np.stack([np.array(_residual_frame(idata, s).corr()) for s in range(4)])
    for q in by_hand:
        np.fill_diagonal(q, np.nan)
    np.testing.assert_allclose(result["q3_mean"].values, by_hand.mean(axis=0))
    np.testing.assert_allclose(result["q3_sd"].values, by_hand.std(axis=0), atol=1e-12)
    upper = by_hand[:, *np.triu_indices(6, k=1)]
    np.testing.assert_allclose(result["mean_q3"].values, upper.mean(axis=1))
    np.testing.assert_allclose(result["mean_abs_q3"].values, np.abs(upper).mean(axis=1))
    assert result.attrs["method"] == "dense"
    assert result.attrs["n_pairs"] == 15


def test_missing_cells_are_pairwise_complete(gappy):
    draws = posterior_draws(gappy)
    table = _q3.observed_table(gappy, draws)
    assert not table.complete
    for s in (0, 7):
        resid = _q3.residuals(table, _q3.expected_responses(draws, s))
        dense = _q3.dense_q3(table, resid)
        by_hand = np.array(_residual_frame(gappy, s).corr(min_periods=_q3.MIN_COMMON))
        np.fill_diagonal(by_hand, np.nan)
        np.testing.assert_allclose(dense, by_hand, atol=1e-12)
        left, right = np.triu_indices(12, k=1)
        np.testing.assert_allclose(
            _q3.pair_q3(table, resid, left, right, max_elements=50), dense[left, right]
        )


def test_pairs_with_too_few_common_subjects_have_no_q3():
    y = np.array([[1, 0, np.nan], [0, 1, np.nan], [1, 1, 1], [0, 0, 0], [np.nan, 1, 1]])
    idata = make_idata(
        np.linspace(-1, 1, 5)[None, None, :].repeat(2, axis=1),
        np.ones((1, 2, 3)),
        np.zeros((1, 2, 3)),
        complete_responses(y),
    )
    q = local_dependence(idata, top=1)["q3_mean"].values
    assert np.isfinite(q[0, 1])  # items 0, 1 share subjects 0-3
    assert np.isnan(q[0, 2]) and np.isnan(q[2, 0])  # items 0, 2 share 2 subjects only
    assert np.isnan(np.diag(q)).all()


def test_a_constant_residual_has_no_q3_on_either_path():
    """An item with a = 0 that everyone answered right: e = 1 - (c + d) / 2 for every subject,
    which the sums over 10 subjects only reproduce up to rounding."""
    rng = np.random.default_rng(2)
    y = (rng.random((10, 5)) < 0.5).astype(float)
    y[:, 2] = 1.0
    a = np.ones((1, 3, 5))
    a[..., 2] = 0.0
    idata = make_idata(
        rng.normal(size=(1, 3, 10)),
        a,
        np.zeros((1, 3, 5)),
        complete_responses(y),
        c=np.full((1, 3, 5), 0.1),
        d=np.full((1, 3, 5), 0.7),
    )
    draws = posterior_draws(idata)
    table = _q3.observed_table(idata, draws)
    resid = _q3.residuals(table, _q3.expected_responses(draws, 0))
    gappy_table = _q3.ObservedTable(y=table.y, observed=table.observed, complete=False)
    left, right = np.triu_indices(5, k=1)
    for t in (table, gappy_table):
        q = _q3.dense_q3(t, resid)
        assert np.isnan(q[2]).all() and np.isnan(q[:, 2]).all()
        assert np.isfinite(q[0, 1])
        np.testing.assert_allclose(_q3.pair_q3(t, resid, left, right), q[left, right])


# ---------------------------------------------------------- cluster sums
def test_cluster_means_are_exact_without_missing_cells():
    responses, truth = bayesirt.simulate_responses(
        30, 40, seed=2, clusters=3, cluster_size=6, n_categories=1
    )
    idata = truth_fit(responses, truth, n_draw=6, jitter=0.2)
    result = local_dependence(idata, clusters="cluster", n_draws=None)
    labels = responses.item_meta["cluster"].to_numpy()
    q = result["q3_mean"].values  # posterior mean; the means are linear, so compare means
    for name in result["cluster"].values:
        inside = np.flatnonzero(labels == name)
        block = q[np.ix_(inside, inside)]
        np.testing.assert_allclose(
            result["within_q3"].sel(cluster=name).mean().item(), np.nanmean(block), rtol=1e-10
        )
    same = (labels[:, None] == labels[None, :]) & pd.notna(labels)[:, None]
    np.testing.assert_allclose(
        result["between_q3"].mean().item(), np.nanmean(np.where(same, np.nan, q)), rtol=1e-10
    )
    np.testing.assert_allclose(
        np.diag(result["cluster_q3"].values), result["within_q3"].mean("sample").values
    )
    assert list(result["cluster_size"].values) == [6, 6, 6]


def test_cluster_means_approximate_pairwise_means_with_missing_cells():
    responses, truth = bayesirt.simulate_responses(
        60, 60, seed=4, clusters=3, cluster_size=10, missing_fraction=0.2
    )
    result = local_dependence(truth_fit(responses, truth), clusters="cluster", n_draws=10)
    labels = responses.item_meta["cluster"].to_numpy()
    q = result["q3_mean"].values
    for name in result["cluster"].values:
        inside = np.flatnonzero(labels == name)
        pairwise = np.nanmean(q[np.ix_(inside, inside)])
        assert abs(result["within_q3"].sel(cluster=name).mean().item() - pairwise) < 0.02
    assert "cluster means standardise per item" in result.attrs["missing"]


def test_planted_clusters_stand_out_in_the_tables():
    _, _, idata = planted()
    result = local_dependence(idata, clusters="cluster", n_draws=10)
    table = cluster_table(result)
    assert (table["within_q3"] > 0.08).all()
    assert (table["p_excess"] == 1.0).all()
    assert table["n_items"].tolist() == [30] * 6
    assert abs(result["between_q3"].mean().item()) < 0.01
    pairs = dependent_pairs(result)
    assert len(pairs) == 20
    assert (pairs["cluster"] == pairs["cluster2"]).mean() >= 0.9  # top pairs within clusters
    assert pairs["q3"].abs().is_monotonic_decreasing
    assert ((pairs["q3_lo"] <= pairs["q3"]) & (pairs["q3"] <= pairs["q3_hi"])).all()


# ------------------------------------------------------------- sampling
def test_sample_pairs_are_distinct_upper_triangle_pairs():
    rng = np.random.default_rng(0)
    left, right = _q3.sample_pairs(1000, 5000, rng)
    assert (left < right).all() and (right < 1000).all()
    assert len(set(zip(left, right, strict=True))) == 5000
    every = _q3.sample_pairs(5, 100, rng)
    np.testing.assert_array_equal(np.stack(every), np.stack(np.triu_indices(5, k=1)))


def test_sampled_path_agrees_with_the_dense_one():
    _, _, idata = planted(n_subjects=80, cluster_size=20)
    dense = local_dependence(idata, n_draws=8, top=10)
    sampled = local_dependence(idata, n_draws=8, top=10, dense_max=100, n_pairs=20_000)
    assert (dense.attrs["method"], sampled.attrs["method"]) == ("dense", "sampled")
    assert "item" not in sampled.dims and sampled.attrs["n_pairs"] == 20_000
    np.testing.assert_allclose(
        sampled["mean_abs_q3"].values, dense["mean_abs_q3"].values, rtol=0.03
    )
    top_dense = set(zip(dense["pair_item"].values, dense["pair_item2"].values, strict=True))
    top_sampled = set(zip(sampled["pair_item"].values, sampled["pair_item2"].values, strict=True))
    assert len(top_dense & top_sampled) >= 8


def test_draw_subset_is_seeded():
    idata, _ = simulated_fit(n_subjects=8, n_items=10, n_draw=50)
    first = local_dependence(idata, n_draws=7, random_seed=3)
    again = local_dependence(idata, n_draws=7, random_seed=3)
    other = local_dependence(idata, n_draws=7, random_seed=4)
    np.testing.assert_array_equal(first["sample"].values, again["sample"].values)
    assert len(first["sample"]) == 7
    assert not np.array_equal(first["sample"].values, other["sample"].values)
    assert len(local_dependence(idata, n_draws=None)["sample"]) == 100


def test_scaling_path_is_fast_and_memory_bounded():
    responses, truth = bayesirt.simulate_responses(
        60, 20_000, seed=0, clusters=10, cluster_size=20, n_categories=1
    )
    idata = truth_fit(responses, truth, n_draw=4)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = local_dependence(idata, clusters="cluster", n_draws=4, n_pairs=20_000)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.attrs["method"] == "sampled"
    assert not {"item", "item2"} & set(result.dims)
    assert elapsed < 40
    # a dense 20,000 × 20,000 float matrix alone would take 3.2 GB
    assert peak < 600e6
    assert (cluster_table(result)["within_q3"] > 0.08).all()


# ---------------------------------------------------------------- errors
def test_bad_arguments():
    idata, _ = simulated_fit(n_subjects=6, n_items=8, n_draw=5)
    with pytest.raises(ValueError, match="no item metadata column 'topic'"):
        local_dependence(idata, clusters="topic")
    with pytest.raises(ValueError, match="got 3 cluster labels for 8 items"):
        local_dependence(idata, clusters=["a", "b", "c"])
    with pytest.raises(ValueError, match="not in the fit"):
        local_dependence(idata, clusters=pd.Series({"nope": "a"}))
    with pytest.raises(ValueError, match="top must be"):
        local_dependence(idata, top=0)
    with pytest.raises(ValueError, match="n_draws must be"):
        local_dependence(idata, n_draws=0)
    with pytest.raises(ValueError, match="interval"):
        local_dependence(idata, interval=1.5)
