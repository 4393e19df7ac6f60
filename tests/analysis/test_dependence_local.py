"""Local dependence: Yen's Q3 over posterior draws (definition, cluster sums, the scaling path),
whether it is non-random (posterior predictive check, permutation test), and which partition
explains it."""

import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from dependence_fakes import planted, residual_frame, truth_fit

import bayesirt
from bayesirt.analysis import dependence_test, explain_dependence, residual_clusters
from bayesirt.analysis.dependence.local import cluster_table, dependent_pairs, local_dependence
from bayesirt.testing import complete_responses, fake_fit, simulated_fit


@pytest.fixture(scope="module")
def planted_data():
    return planted()


@pytest.fixture(scope="module")
def planted_fit():
    responses, truth, _ = planted()
    return truth_fit(responses, truth, n_draw=200)


# ------------------------------------------------------------ definition
def test_q3_is_the_correlation_of_residuals_draw_by_draw():
    idata, _ = simulated_fit(n_subjects=10, n_items=6, n_chains=1, n_draws=4)
    result = local_dependence(idata, n_draws=None, top=3)
    by_hand = np.stack([np.array(residual_frame(idata, s).corr()) for s in range(4)])
    for q in by_hand:
        np.fill_diagonal(q, np.nan)
    np.testing.assert_allclose(result["q3_mean"].values, by_hand.mean(axis=0))
    np.testing.assert_allclose(result["q3_sd"].values, by_hand.std(axis=0), atol=1e-12)
    upper = by_hand[:, *np.triu_indices(6, k=1)]
    np.testing.assert_allclose(result["mean_q3"].values, upper.mean(axis=1))
    np.testing.assert_allclose(result["mean_abs_q3"].values, np.abs(upper).mean(axis=1))
    assert result.attrs["method"] == "dense"
    assert result.attrs["n_pairs"] == 15


def test_pairs_with_too_few_common_subjects_have_no_q3():
    y = np.array([[1, 0, np.nan], [0, 1, np.nan], [1, 1, 1], [0, 0, 0], [np.nan, 1, 1]])
    idata = fake_fit(
        complete_responses(y),
        theta=np.linspace(-1, 1, 5)[None, None, :].repeat(2, axis=1),
        a=np.ones((1, 2, 3)),
        b=np.zeros((1, 2, 3)),
    )
    q = local_dependence(idata, top=1)["q3_mean"].values
    assert np.isfinite(q[0, 1])  # items 0, 1 share subjects 0-3
    assert np.isnan(q[0, 2]) and np.isnan(q[2, 0])  # items 0, 2 share 2 subjects only
    assert np.isnan(np.diag(q)).all()


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
    idata, _ = simulated_fit(n_subjects=8, n_items=10, n_draws=50)
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


def test_local_dependence_bad_arguments():
    idata, _ = simulated_fit(n_subjects=6, n_items=8, n_draws=5)
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


# ------------------------------------------------------------------ tests
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


def test_dependence_test_bad_arguments():
    idata, _ = simulated_fit(n_subjects=6, n_items=8, n_draws=5)
    with pytest.raises(ValueError, match="statistic must be one of"):
        dependence_test(idata, statistic="max")
    with pytest.raises(ValueError, match="needs clusters"):
        dependence_test(idata, statistic="cluster_excess")
    with pytest.raises(ValueError, match="alpha"):
        dependence_test(idata, alpha=0)
    with pytest.raises(ValueError, match="n_permutations"):
        dependence_test(idata, n_permutations=-1)


# ------------------------------------------------------------- partitions
def test_explain_dependence_ranks_partitions(planted_data):
    responses, _, idata = planted_data
    rng = np.random.default_rng(0)
    found = residual_clusters(idata, k=6, n_draws=10)["cluster"]
    table = explain_dependence(
        idata,
        {
            "planted": "cluster",
            "residual": found,
            "random": rng.integers(0, 6, responses.n_items).astype(str),
            "category": "category",
        },
        reference="planted",
        n_draws=10,
    )
    assert table.index[0] == "planted"
    assert table.loc["planted", "excess"] > 0.1 and table.loc["planted", "p_excess"] == 1.0
    assert table.loc["residual", "excess"] > 0.05
    assert abs(table.loc["random", "excess"]) < 0.01
    assert abs(table.loc["category", "excess"]) < 0.01
    assert table.loc["planted", "ari"] == 1.0
    assert table.loc["residual", "ari"] >= 0.8  # over the planted items only
    assert abs(table.loc["random", "ari"]) < 0.1
    assert table.loc["planted", "n_clusters"] == 6
    for name in table.index:
        row = table.loc[name]
        assert row["excess_lo"] <= row["excess"] <= row["excess_hi"]


def test_explain_dependence_bad_arguments(planted_data):
    _, _, idata = planted_data
    with pytest.raises(ValueError, match="no partitions"):
        explain_dependence(idata, {})
