"""The ranking on a real leaderboard (ChemBench, 22 LLMs × 2,854 questions): invariants.

The fit is ADVI to keep the default run short; the invariants checked here hold for any
posterior, and the NUTS ranking of ChemBench is reported in ``benchmarks/``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesirt
from bayesirt.analysis import rank, rank_table, reordered_pairs


@pytest.fixture(scope="module")
def chembench_rank(shared_data, monkeypatch_module):
    monkeypatch_module.setenv("BAYESIRT_DATA_CACHE", str(shared_data / "raw"))
    responses = bayesirt.datasets.load("chembench")
    idata = bayesirt.fit(
        responses,
        model="2pl",
        method="advi",
        advi_iterations=3000,
        draws=500,
        chains=2,
        random_seed=4,
        progressbar=False,
    )
    return responses, rank(idata, n_boot=200)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_chembench_rank_probabilities_are_coherent(chembench_rank):
    responses, result = chembench_rank
    n = responses.n_subjects
    p_rank = result["p_rank"].values
    np.testing.assert_allclose(p_rank.sum(axis=1), 1.0)  # each subject has some rank
    np.testing.assert_allclose(p_rank.sum(axis=0), 1.0)  # each rank has some subject
    p = result["p_beats"].values
    off = ~np.eye(n, dtype=bool)
    np.testing.assert_allclose((p + p.T)[off], 1.0)
    assert np.all(
        (result["rank_lo"] <= result["median_rank"]) & (result["median_rank"] <= result["rank_hi"])
    )


def test_chembench_tiers_partition_the_posterior_order(chembench_rank):
    responses, result = chembench_rank
    tiers = result.attrs["tiers"]
    assert sorted(s for tier in tiers for s in tier) == sorted(map(str, responses.subjects))
    order = [s for tier in tiers for s in tier]
    assert order == list(map(str, result["subject"].values))  # tiers follow posterior order
    assert np.all(np.diff(result["tier"].values) >= 0)
    assert 1 <= len(tiers) <= responses.n_subjects


def test_chembench_leaderboard_matches_published_scores(chembench_rank, shared_data):
    _, result = chembench_rank
    published = pd.read_csv(shared_data / "chembench" / "published_model_scores.csv", index_col=0)[
        "published_all_correct_score"
    ]
    table = rank_table(result)
    np.testing.assert_allclose(table["accuracy"], published.loc[table.index].to_numpy())
    tau = result.attrs["kendall_tau"]
    assert tau > 0.8  # ability ranking and accuracy ranking broadly agree on ChemBench
    pairs = reordered_pairs(result)
    assert len(pairs) == result.attrs["n_reordered_pairs"]
    # The posterior order is that of the mean ranks; a pair's probability of that order can
    # fall a little under one half when the two are close (the mean rank and the pairwise
    # probability summarise the same draws differently), never far under it.
    assert (pairs["p_posterior_order"].between(0.45, 1.0)).all()
