"""Clusters of questions: from residuals, text and embeddings, and the adjusted Rand index."""

import numpy as np
import pandas as pd
import pytest
from dependence_fakes import planted, truth_fit

import bayesirt
from bayesirt.analysis import residual_clusters
from bayesirt.analysis.dependence.clusters import (
    adjusted_rand_index,
    embedding_clusters,
    text_clusters,
)


@pytest.fixture(scope="module")
def planted_data():
    return planted()


def _ari_on_clustered(found: pd.Series, responses) -> float:
    truth = responses.item_meta["cluster"]
    clustered = truth.notna().to_numpy()
    return adjusted_rand_index(found.to_numpy()[clustered], truth.to_numpy()[clustered])


def test_residual_clusters_recover_planted_clusters(planted_data):
    responses, _, idata = planted_data
    found = residual_clusters(idata, k=6, n_draws=10)
    assert list(found.index) == list(responses.items)
    assert _ari_on_clustered(found["cluster"], responses) >= 0.8
    assert sorted(found["cluster"].unique()) == [f"R{g}" for g in range(1, 7)]
    sizes = found["cluster"].value_counts().reindex([f"R{g}" for g in range(1, 7)])
    assert sizes.is_monotonic_decreasing  # named by decreasing size
    # planted items are strongly attached to their cluster, most unclustered ones are not
    clustered = responses.item_meta["cluster"].notna().to_numpy()
    assert found["core"].to_numpy()[clustered].mean() > 0.8
    assert found["core"].to_numpy()[~clustered].mean() < 0.2


def test_number_of_clusters_is_chosen_against_the_model(planted_data):
    responses, _, idata = planted_data
    found = residual_clusters(idata, n_draws=10)
    assert found.attrs["k"] == 6
    assert found.attrs["null_coherence"] > 0
    assert _ari_on_clustered(found["cluster"], responses) >= 0.8


def test_no_cluster_is_found_without_dependence():
    responses, truth = bayesirt.simulate_responses(80, 150, seed=11)
    found = residual_clusters(truth_fit(responses, truth), n_draws=10)
    assert (found["cluster"] == "R0").all()
    assert found["strength"].isna().all() and not found["core"].any()


def test_text_clusters_follow_the_words():
    pytest.importorskip("sklearn")
    topics = {
        "code": ["python code for a function", "fix the python code", "review function code"],
        "maths": ["solve the equation for x", "solve a quadratic equation", "equation in x"],
        "poems": ["write a poem about rain", "a short poem about the sea", "poem about rain"],
    }
    texts = pd.Series(
        [text for words in topics.values() for text in words],
        index=[f"q{i}" for i in range(9)],
    )
    truth = np.repeat(list(topics), 3)
    found = text_clusters(texts, k=3)
    assert found.name == "text_cluster" and list(found.index) == list(texts.index)
    assert adjusted_rand_index(found.to_numpy(), truth) == 1.0
    plain = text_clusters(list(texts), k=3, items=texts.index)
    np.testing.assert_array_equal(plain.to_numpy(), found.to_numpy())


def test_embedding_clusters_use_directions():
    rng = np.random.default_rng(1)
    directions = np.eye(4)[:3] * 5
    truth = np.repeat([0, 1, 2], 10)
    # the scale of each row is irrelevant: only its direction counts
    rows = (directions[truth] + 0.3 * rng.normal(size=(30, 4))) * rng.uniform(0.1, 10, (30, 1))
    found = embedding_clusters(pd.DataFrame(rows, index=[f"q{i}" for i in range(30)]), k=3)
    assert found.name == "embedding_cluster" and found.index[0] == "q0"
    assert adjusted_rand_index(found.to_numpy(), truth) == 1.0
    assert sorted(found.unique()) == ["E1", "E2", "E3"]
    with pytest.raises(ValueError, match="one row per item"):
        embedding_clusters(rows, k=3, items=range(5))
    with pytest.raises(ValueError, match="k must be between"):
        embedding_clusters(rows, k=31)


def test_adjusted_rand_index():
    a = np.array([0, 0, 1, 1, 2, 2])
    assert adjusted_rand_index(a, a) == 1.0
    assert adjusted_rand_index(a, ["x", "x", "z", "z", "y", "y"]) == 1.0
    b = np.array([0, 0, 0, 1, 1, 1])
    # contingency [[2,0],[1,1],[0,2]]: sum C(n,2) = 2; rows 3 · C(2,2) = 3; cols 2 · C(3,2) = 6
    expected_index = 3 * 6 / 15
    assert adjusted_rand_index(a, b) == pytest.approx((2 - expected_index) / (4.5 - 1.2))
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 4, 50), rng.integers(0, 5, 50)
    assert adjusted_rand_index(x, y) == pytest.approx(sklearn_metrics.adjusted_rand_score(x, y))
    with pytest.raises(ValueError, match="different lengths"):
        adjusted_rand_index([0, 1], [0, 1, 2])


def test_bad_arguments(planted_data):
    _, _, idata = planted_data
    with pytest.raises(ValueError, match="k must be"):
        residual_clusters(idata, k=0)
    with pytest.raises(ValueError, match="core_size"):
        residual_clusters(idata, core_size=2)
