"""simulate_responses: the data carry the structure they were drawn with."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from bayesirt import simulate_responses
from bayesirt.data import SIMULATION_MODELS, ResponsesError, simulate_routing


@pytest.mark.parametrize("model", ["1pl", "2pl", "3pl", "4pl"])
def test_each_model_has_its_parameters_and_labels(model):
    resp, truth = simulate_responses(
        60, 80, model=model, seed=1, n_families=4, n_categories=3, guessing=(0.1, 0.3)
    )
    assert (resp.n_subjects, resp.n_items, resp.n_observed) == (60, 80, 60 * 80)
    assert list(truth["subject"].values) == list(resp.subjects)
    assert list(truth["item"].values) == list(resp.items)
    assert list(resp.subject_meta["family"]) == list(truth["subject_family"].values)
    assert list(resp.item_meta["category"]) == list(truth["item_category"].values)
    assert truth.attrs["model"] == model
    assert (truth["a"] > 0).all()
    assert ("c" in truth) == (model in ("3pl", "4pl"))
    assert ("d" in truth) == (model == "4pl")
    if model == "1pl":
        np.testing.assert_array_equal(truth["a"], 1.0)
        assert "category_log_discrimination" not in truth
    if "c" in truth:
        assert ((truth["c"] >= 0.1) & (truth["c"] <= 0.3)).all()
    if "d" in truth:
        assert ((truth["d"] >= 0.9) & (truth["d"] <= 1.0)).all()
        assert (truth["c"] < truth["d"]).all()


def test_same_seed_same_data_other_seed_other_data():
    first, truth = simulate_responses(30, 40, seed=7)
    again, truth_again = simulate_responses(30, 40, seed=np.random.default_rng(7))
    other, _ = simulate_responses(30, 40, seed=8)
    assert first.equals(again)
    np.testing.assert_array_equal(truth["theta"], truth_again["theta"])
    assert not first.equals(other)


def test_asymptotes_bound_the_observed_accuracy():
    # very able subjects still slip, very weak ones still guess
    resp, truth = simulate_responses(
        400, 200, model="4pl", seed=2, guessing=(0.2, 0.2), slipping=(0.15, 0.15)
    )
    dense = resp.dense()
    order = np.argsort(truth["theta"].values)
    assert dense[order[:20]].mean() > 0.2
    assert dense[order[-20:]].mean() < 0.85


def test_family_correlation_of_abilities():
    def within_family_correlation(rho):
        _, truth = simulate_responses(3000, 2, seed=3, n_families=100, family_correlation=rho)
        theta = truth["theta"].values
        family = truth["subject_family"].values
        groups = [theta[family == f] for f in np.unique(family)]
        k = len(groups[0])
        between = k * np.var([g.mean() for g in groups], ddof=1)
        within = np.mean([np.var(g, ddof=1) for g in groups])
        return (between - within) / (between + (k - 1) * within), theta

    icc, theta = within_family_correlation(0.7)
    assert icc == pytest.approx(0.7, abs=0.08)
    assert theta.std() == pytest.approx(1.0, abs=0.1)  # marginal N(0, 1) kept
    assert within_family_correlation(0.0)[0] == pytest.approx(0.0, abs=0.05)


def test_category_effects_on_difficulty():
    resp, truth = simulate_responses(50, 4000, seed=4, n_categories=8, category_difficulty_sd=1.0)
    effect = truth["category_difficulty"].to_series()
    assert effect.sum() == pytest.approx(0.0, abs=1e-12)  # centred
    assert effect.std() > 0.5
    mean_b = truth["b"].to_series().groupby(truth["item_category"].values).mean()
    np.testing.assert_allclose(mean_b.loc[effect.index], effect, atol=0.2)
    accuracy = resp.item_accuracy().groupby(resp.item_meta["category"]).mean()
    assert np.corrcoef(accuracy.loc[effect.index], effect)[0, 1] < -0.9


def test_missing_fraction_is_exact_and_at_random():
    resp, _ = simulate_responses(200, 300, seed=5, missing_fraction=0.1)
    assert resp.n_observed == 200 * 300 - 6000
    missing_per_subject = 300 - resp.subject_counts()
    assert missing_per_subject.mean() == 30
    assert missing_per_subject.max() < 60  # spread, not concentrated on a few subjects
    assert simulate_responses(20, 30, seed=5)[0].fraction_missing == 0


def test_planted_clusters_raise_within_cluster_residual_correlation():
    resp, truth = simulate_responses(2000, 60, seed=6, clusters=3, cluster_size=10, cluster_sd=1.5)
    assert set(truth["cluster"].values) == {"cluster_0", "cluster_1", "cluster_2"}
    assert truth["cluster_effect"].shape == (2000, 3)
    cluster = resp.item_meta["cluster"]
    assert cluster.notna().sum() == 30
    assert list(cluster.fillna("")) == [
        c if isinstance(c, str) else "" for c in truth["item_cluster"].values
    ]

    theta = truth["theta"].values[:, None]
    prob = expit(truth["a"].values * (theta - truth["b"].values))
    residual = np.corrcoef((resp.dense() - prob).T)
    labels = cluster.to_numpy()
    same = np.equal.outer(labels, labels) & cluster.notna().to_numpy()[:, None]
    off_diagonal = ~np.eye(60, dtype=bool)
    unclustered = cluster.isna().to_numpy()
    within = residual[same & off_diagonal].mean()
    outside = residual[np.outer(unclustered, unclustered) & off_diagonal].mean()
    assert within > 0.15
    assert abs(outside) < 0.03


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ResponsesError, match="unknown model 'grm'") as err:
        simulate_responses(10, 10, model="grm", seed=0)
    for name in SIMULATION_MODELS:
        assert name in str(err.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"family_correlation": 1.0}, "family_correlation=1.0"),
        ({"missing_fraction": 1.0}, "missing_fraction=1.0"),
        ({"n_families": 11}, "n_families=11"),
        ({"guessing": (0.3, 0.6), "slipping": (0.0, 0.5)}, "allow c >= d"),
        ({"clusters": 3, "cluster_size": 5}, "clusters=3 of cluster_size=5"),
    ],
)
def test_impossible_settings_are_named(settings, message):
    with pytest.raises(ResponsesError, match=message):
        simulate_responses(10, 10, seed=0, **settings)


def test_simulate_routing_truth_is_in_the_models_frame():
    """The multi-benchmark simulation: abilities orthonormal over the subjects, contrasts
    summing to zero over the items, probabilities from the stored truth, answers following
    them, benchmarks in the item metadata."""
    responses, features, truth = simulate_routing(200, 90, n_traits=3, n_benchmarks=3, seed=2)
    theta = truth["theta"].values
    np.testing.assert_allclose(theta.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(theta.T @ theta / 200, np.eye(3), atol=1e-12)
    a = truth["a"].values
    assert (a[:, 0] > 0).all()
    np.testing.assert_allclose(a[:, 1:].sum(axis=0), 0.0, atol=1e-10)
    p = expit(theta @ a.T + truth["intercept"].values)
    np.testing.assert_allclose(truth["p"].values, p)
    dense = responses.dense()
    assert abs(dense.mean() - p.mean()) < 0.02
    assert list(responses.item_meta["benchmark"].unique()) == ["bench_1", "bench_2", "bench_3"]
    assert list(features.index) == list(responses.items.astype(str))
    assert truth["beta_a_contrast"].shape == (4, 2)
    with pytest.raises(ValueError, match="n_traits"):
        simulate_routing(10, 20, n_traits=0)
