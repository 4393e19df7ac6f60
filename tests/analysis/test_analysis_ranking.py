"""Posterior ranking: hand-computed cases, invariants, leaderboard, presentation, errors."""

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import expit

import bayesirt
from bayesirt.analysis import rank, rank_table, rank_to_json, reordered_pairs
from bayesirt.testing import complete_responses, fake_fit, simulated_fit

# 3 subjects, 1 chain of 4 draws; in the last draw A and B tie for first place.
HAND_THETA = np.array([[[2.0, 1.0, 0.0], [2.0, 0.0, 1.0], [0.0, 2.0, 1.0], [1.0, 1.0, 0.0]]])
# observed accuracies: A 1/3, B 2/3, C 1/3 (so the leaderboard puts B first)
HAND_Y = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=float)


@pytest.fixture
def hand_idata():
    responses = complete_responses(HAND_Y, subjects=["A", "B", "C"])
    return fake_fit(responses, theta=HAND_THETA, a=np.ones((1, 4, 3)), b=np.zeros((1, 4, 3)))


@pytest.fixture(scope="module")
def sim():
    idata, true_theta = simulated_fit(n_subjects=12, n_items=40, n_draws=100, noise=0.4)
    return idata, true_theta, rank(idata, n_boot=200)


# ------------------------------------------------------------ by hand
def test_hand_case_rank_probabilities(hand_idata):
    result = rank(hand_idata, top_k=(1, 2), level=0.7, n_boot=50)
    assert list(result["subject"].values) == ["A", "B", "C"]
    np.testing.assert_allclose(
        result["p_rank"].values,
        [[0.625, 0.125, 0.25], [0.375, 0.375, 0.25], [0.0, 0.5, 0.5]],
    )
    np.testing.assert_allclose(result["mean_rank"].values, [1.625, 1.875, 2.5])
    np.testing.assert_array_equal(result["median_rank"].values, [1, 2, 2])
    np.testing.assert_array_equal(result["rank_lo"].values, [1, 1, 2])
    np.testing.assert_array_equal(result["rank_hi"].values, [3, 3, 3])
    np.testing.assert_allclose(result["p_top"].sel(top_k=1).values, [0.625, 0.375, 0.0])
    np.testing.assert_allclose(result["p_top"].sel(top_k=2).values, [0.75, 0.75, 0.5])
    np.testing.assert_allclose(result["estimate"].values, [1.25, 1.0, 0.5])


def test_hand_case_pairwise_tiers_and_separability(hand_idata):
    result = rank(hand_idata, level=0.7, n_boot=50)
    p = result["p_beats"].values
    np.testing.assert_allclose(
        p, [[np.nan, 0.625, 0.75], [0.375, np.nan, 0.75], [0.25, 0.25, np.nan]]
    )
    np.testing.assert_allclose(result["p_beats_next"].values, [0.625, 0.75, np.nan])
    assert result.attrs["tiers"] == [["A", "B"], ["C"]]
    np.testing.assert_array_equal(result["tier"].values, [1, 1, 2])
    assert (result.attrs["n_adjacent"], result.attrs["n_separated"]) == (2, 1)
    assert (result.attrs["n_adjacent_top10"], result.attrs["n_separated_top10"]) == (2, 1)
    looser = rank(hand_idata, level=0.8, n_boot=50)
    assert looser.attrs["tiers"] == [["A", "B", "C"]]
    assert looser.attrs["n_separated"] == 0


def test_hand_case_leaderboard(hand_idata):
    result = rank(hand_idata, n_boot=50)
    np.testing.assert_allclose(result["accuracy"].values, [1 / 3, 2 / 3, 1 / 3])
    np.testing.assert_allclose(result["accuracy_rank"].values, [2.5, 1.0, 2.5])
    pairs = reordered_pairs(result)
    assert list(zip(pairs["higher"], pairs["lower"], strict=True)) == [("A", "B")]
    assert pairs["p_posterior_order"].iloc[0] == pytest.approx(0.625)
    assert result.attrs["n_reordered_pairs"] == 1
    # accuracy ranks (2.5, 1, 2.5) against mean ranks (1, 2, 3): τ-b by hand
    # pairs: (A,B) discordant, (A,C) tied in accuracy, (B,C) concordant → S = 0
    assert result.attrs["kendall_tau"] == pytest.approx(0.0)


def test_complete_linkage_splits_what_the_leader_rule_would_merge():
    # A is either far ahead or far behind; B always beats C. Order: A, B, C.
    a_draws = np.where(np.arange(10) < 7, 10.0, -10.0)
    theta = np.stack([a_draws, np.ones(10), np.zeros(10)], axis=-1)[None]
    responses = complete_responses(np.eye(3), subjects=["A", "B", "C"])
    idata = fake_fit(responses, theta=theta, a=np.ones((1, 10, 3)), b=np.zeros((1, 10, 3)))
    result = rank(idata, level=0.95, n_boot=20)
    assert list(result["subject"].values) == ["A", "B", "C"]
    assert result["p_beats"].sel(subject="A", opponent="C") == pytest.approx(0.7)
    assert result["p_beats"].sel(subject="B", opponent="C") == pytest.approx(1.0)
    assert result.attrs["tiers"] == [["A", "B"], ["C"]]


def test_dominant_subject_is_first_for_sure():
    idata, _ = simulated_fit(n_subjects=6, n_items=20, n_draws=40)
    idata.posterior["theta"].loc[{"subject": "s3"}] = 50.0
    result = rank(idata, n_boot=20)
    top = result.sel(subject="s3")
    assert result["subject"].values[0] == "s3"
    assert float(top["p_rank"].sel(rank=1)) == 1.0
    assert float(top["mean_rank"]) == 1.0
    assert int(top["rank_lo"]) == int(top["rank_hi"]) == 1
    np.testing.assert_allclose(top["p_top"].values, 1.0)
    assert result.attrs["tiers"][0] == ["s3"]
    np.testing.assert_allclose(top["p_beats"].drop_sel(opponent="s3").values, 1.0)


def test_all_tied_subjects_share_positions_evenly():
    theta = np.zeros((1, 5, 4))
    idata = fake_fit(
        complete_responses(np.ones((4, 2))),
        theta=theta,
        a=np.ones((1, 5, 2)),
        b=np.zeros((1, 5, 2)),
    )
    result = rank(idata, n_boot=10)
    np.testing.assert_allclose(result["p_rank"].values, 0.25)
    np.testing.assert_allclose(result["mean_rank"].values, 2.5)
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose(result["p_beats"].values[off], 0.5)
    assert result.attrs["tiers"] == [["s0", "s1", "s2", "s3"]]


# ------------------------------------------------------------ invariants
def test_rank_probabilities_are_doubly_stochastic(sim):
    _, _, result = sim
    p = result["p_rank"].values
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p.sum(axis=0), 1.0)
    assert (p >= 0).all()


def test_pairwise_probabilities_are_complementary(sim):
    _, _, result = sim
    p = result["p_beats"].values
    off = ~np.eye(len(p), dtype=bool)
    np.testing.assert_allclose((p + p.T)[off], 1.0)
    assert np.isnan(np.diag(p)).all()
    assert list(result["opponent"].values) == list(result["subject"].values)


def test_rank_summaries_are_consistent(sim):
    _, _, result = sim
    n = result.sizes["subject"]
    mean = result["mean_rank"].values
    assert ((mean >= 1) & (mean <= n)).all()
    assert mean.sum() == pytest.approx(n * (n + 1) / 2)
    assert (np.diff(mean) >= 0).all()  # posterior order
    lo, med, hi = (result[v].values for v in ("rank_lo", "median_rank", "rank_hi"))
    assert ((lo <= med) & (med <= hi)).all()
    est, est_lo, est_hi = (result[v].values for v in ("estimate", "estimate_lo", "estimate_hi"))
    assert ((est_lo <= est) & (est <= est_hi)).all()
    p_top = result["p_top"].values
    assert (np.diff(p_top, axis=1) >= -1e-12).all()
    np.testing.assert_allclose(result["p_top"].sel(top_k=10).sum(), 10.0)
    np.testing.assert_allclose(p_top[:, 0], result["p_rank"].sel(rank=1).values)
    # each rank interval holds at least 90% of its subject's rank distribution
    cdf = np.cumsum(result["p_rank"].values, axis=1)
    inside = cdf[np.arange(n), hi - 1] - np.where(lo > 1, cdf[np.arange(n), lo - 2], 0.0)
    assert (inside >= 0.9 - 1e-9).all()


def test_tiers_are_an_ordered_partition_of_inseparable_subjects(sim):
    _, _, result = sim
    tiers = result.attrs["tiers"]
    assert [s for tier in tiers for s in tier] == list(result["subject"].values)
    tier = result["tier"].values
    assert tier[0] == 1 and set(np.diff(tier)) <= {0, 1}
    assert len(tiers) == tier.max()
    level = result.attrs["level"]
    for members in tiers:
        p = result["p_beats"].sel(subject=members, opponent=members).values
        assert not (np.nan_to_num(p) >= level).any()
    for upper, lower in itertools.pairwise(tiers):
        p = result["p_beats"].sel(subject=upper, opponent=lower[0]).values
        assert (p >= level).any()


def test_separability_counts_match_adjacent_probabilities(sim):
    _, _, result = sim
    p_next = result["p_beats_next"].values[:-1]
    assert result.attrs["n_adjacent"] == len(p_next) == 11
    assert result.attrs["n_separated"] == int((p_next >= 0.95).sum())
    assert result.attrs["n_adjacent_top10"] == 9
    assert result.attrs["n_separated_top10"] == int((p_next[:9] >= 0.95).sum())


def test_posterior_tracks_the_truth(sim):
    _, true_theta, result = sim
    # fake draws centre on the truth, so the posterior order nearly matches it
    true_rank = pd.Series(-true_theta, index=[f"s{j}" for j in range(12)]).rank()
    posterior = result["mean_rank"].to_series()
    assert posterior.corr(true_rank.loc[posterior.index], method="kendall") > 0.7


def test_draws_are_stacked_over_chains(sim):
    idata, _, result = sim
    assert result.attrs["n_samples"] == 200
    one_chain = rank(idata.sel(chain=[0]), n_boot=10)
    assert one_chain.attrs["n_samples"] == 100
    assert not np.allclose(
        one_chain["mean_rank"].sel(subject=result["subject"]).values, result["mean_rank"].values
    )


def test_to_dataframe_works(hand_idata):
    result = rank(hand_idata, n_boot=10)
    frame = result.to_dataframe()
    assert len(frame) == 3 * 3 * 3 * 3  # subject × opponent × rank × top_k
    per_subject = result[["mean_rank", "tier"]].to_dataframe()
    assert list(per_subject.index) == ["A", "B", "C"]


# ------------------------------------------------------------ by score
def test_score_ranking_matches_weighted_scores_by_hand():
    idata, _ = simulated_fit(n_subjects=5, n_items=8, n_draws=20)
    post = idata.posterior
    weights = {"i1": 3.0, "i4": 1.0, "i6": 0.0, "i7": 1.0}
    result = rank(idata, by="score", weights=weights, n_boot=20)
    items = list(weights)
    w = xr.DataArray(np.array(list(weights.values())) / 5.0, coords={"item": items})
    prob = expit(post["a"].sel(item=items) * (post["theta"] - post["b"].sel(item=items)))
    by_hand = (prob * w).sum("item")
    expected = by_hand.mean(("chain", "draw")).sel(subject=result["subject"].values)
    np.testing.assert_allclose(result["estimate"].values, expected.values)
    stacked = by_hand.stack(sample=("chain", "draw")).transpose("sample", "subject")
    lo = np.quantile(stacked.values, 0.05, axis=0)
    np.testing.assert_allclose(
        result["estimate_lo"].values,
        pd.Series(lo, index=stacked["subject"].values).loc[result["subject"].values].values,
    )
    assert result.attrs["by"] == "score"
    # the same weights given as a sequence aligned with items
    again = rank(idata, by="score", items=items, weights=[3, 1, 0, 1], n_boot=20)
    np.testing.assert_allclose(again["estimate"].values, result["estimate"].values)


def test_score_accuracy_uses_the_item_set_and_weights():
    y = np.array([[1, 0, 1, np.nan], [0, 0, 1, 1], [1, 1, 0, 0]])
    responses = complete_responses(y)
    idata = fake_fit(
        responses,
        theta=np.random.default_rng(0).normal(size=(1, 30, 3)),
        a=np.ones((1, 30, 4)),
        b=np.zeros((1, 30, 4)),
    )
    result = rank(idata, by="score", weights={"i0": 1, "i2": 3, "i3": 1}, n_boot=50)
    acc = result["accuracy"].to_series()
    assert acc["s0"] == pytest.approx((1 + 3) / 4)  # i3 missing: weights renormalised
    assert acc["s1"] == pytest.approx((3 + 1) / 5)
    assert acc["s2"] == pytest.approx(1 / 5)


def test_score_on_all_items_counts_unanswered_items():
    idata, _ = simulated_fit(n_subjects=4, n_items=6, n_draws=10)
    default = rank(idata, by="score", n_boot=10)
    explicit = rank(idata, by="score", items=[f"i{i}" for i in range(6)], n_boot=10)
    np.testing.assert_allclose(default["estimate"].values, explicit["estimate"].values)


# ------------------------------------------------------------ leaderboard
def test_accuracy_and_bootstrap_interval(sim):
    idata, _, result = sim
    observed = bayesirt.Responses.from_xarray(idata.constant_data).subject_accuracy()
    acc = result["accuracy"].to_series()
    np.testing.assert_allclose(acc.values, observed.loc[acc.index].values)
    lo, hi = result["accuracy_lo"].values, result["accuracy_hi"].values
    assert ((lo <= acc.values) & (acc.values <= hi)).all()
    assert (hi - lo > 0).all()
    expected_rank = acc.rank(ascending=False)
    np.testing.assert_allclose(result["accuracy_rank"].values, expected_rank.values)


def test_bootstrap_is_seeded(sim):
    idata, _, result = sim
    again = rank(idata, n_boot=200)
    other = rank(idata, n_boot=200, random_seed=1)
    np.testing.assert_array_equal(again["accuracy_lo"].values, result["accuracy_lo"].values)
    assert not np.array_equal(other["accuracy_lo"].values, result["accuracy_lo"].values)
    np.testing.assert_array_equal(other["mean_rank"].values, result["mean_rank"].values)


def test_subject_without_answers_has_no_accuracy():
    y = np.array([[1, 0, 1], [np.nan, np.nan, np.nan], [0, 1, 1]])
    responses = complete_responses(y)
    idata = fake_fit(
        responses,
        theta=np.random.default_rng(1).normal(size=(1, 20, 3)),
        a=np.ones((1, 20, 3)),
        b=np.zeros((1, 20, 3)),
    )
    result = rank(idata, n_boot=30)
    assert np.isnan(result["accuracy"].sel(subject="s1"))
    assert np.isnan(result["accuracy_rank"].sel(subject="s1"))
    summary = rank_to_json(result)
    row = next(r for r in summary["subjects"] if r["subject"] == "s1")
    assert row["accuracy"] is None and row["accuracy_rank"] is None
    json.dumps(summary, allow_nan=False)


def test_reordered_pairs_table(sim):
    _, _, result = sim
    pairs = reordered_pairs(result)
    assert list(pairs.columns) == [
        "higher", "lower", "p_posterior_order", "mean_rank_higher", "mean_rank_lower",
        "accuracy_higher", "accuracy_lower",
    ]  # fmt: skip
    assert len(pairs) == result.attrs["n_reordered_pairs"] > 0
    assert (pairs["mean_rank_higher"] <= pairs["mean_rank_lower"]).all()
    assert (pairs["accuracy_higher"] < pairs["accuracy_lower"]).all()
    assert pairs["p_posterior_order"].is_monotonic_decreasing
    beats = result["p_beats"]
    for row in pairs.itertuples():
        assert row.p_posterior_order == float(beats.sel(subject=row.higher, opponent=row.lower))
    # every pair that differs is listed, none else
    acc = result["accuracy"].to_series()
    order = list(result["subject"].values)
    flipped = {(a, b) for i, a in enumerate(order) for b in order[i + 1 :] if acc[a] < acc[b]}
    assert set(zip(pairs["higher"], pairs["lower"], strict=True)) == flipped


# ------------------------------------------------------------ presentation
def test_rank_table(sim):
    _, _, result = sim
    table = rank_table(result)
    assert list(table.index) == list(result["subject"].values)
    assert table.index.name == "subject"
    assert list(table.columns) == [
        "tier", "mean_rank", "median_rank", "rank_lo", "rank_hi", "p_top1", "p_top3",
        "p_top10", "theta", "theta_lo", "theta_hi", "accuracy", "accuracy_lo", "accuracy_hi",
        "accuracy_rank", "p_beats_next",
    ]  # fmt: skip
    assert table["mean_rank"].is_monotonic_increasing
    shuffled = result.isel(subject=np.random.default_rng(0).permutation(12))
    pd.testing.assert_frame_equal(rank_table(shuffled), table)


def test_rank_table_names_the_score(hand_idata):
    table = rank_table(rank(hand_idata, by="score", n_boot=10))
    assert {"score", "score_lo", "score_hi"} <= set(table.columns)


def test_rank_to_json_shape(sim):
    _, _, result = sim
    summary = rank_to_json(result)
    assert set(summary) == {"subjects", "p_beats", "tiers"}
    rows = summary["subjects"]
    assert [r["subject"] for r in rows] == list(result["subject"].values)
    assert all(
        set(r) == {
            "subject", "mean_rank", "rank_lo", "rank_hi", "p_top1", "tier", "accuracy",
            "accuracy_rank",
        }
        for r in rows
    )  # fmt: skip
    assert [r["mean_rank"] for r in rows] == sorted(r["mean_rank"] for r in rows)
    assert isinstance(rows[0]["rank_lo"], int) and isinstance(rows[0]["tier"], int)
    beats = summary["p_beats"]
    assert set(beats) == set(result["subject"].values)
    assert all(a not in beats[a] and len(beats[a]) == 11 for a in beats)
    assert beats["s0"]["s1"] + beats["s1"]["s0"] == pytest.approx(1.0)
    assert summary["tiers"] == result.attrs["tiers"]
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_top_level_export():
    assert bayesirt.rank is rank
    assert "rank" in bayesirt.__all__ and "score_new" in bayesirt.__all__


# ------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "accuracy"}, "by must be one of"),
        ({"level": 0.5}, "level must lie strictly between 0.5 and 1"),
        ({"level": 1.0}, "level must lie"),
        ({"interval": 0.0}, "interval must lie strictly between 0.0 and 1"),
        ({"top_k": (0, 3)}, "top_k must be positive"),
        ({"top_k": ()}, "top_k must be positive"),
        ({"n_boot": 0}, "n_boot must be a positive"),
        ({"items": ["i0"]}, "use by='score'"),
        ({"weights": [1.0]}, "use by='score'"),
        ({"by": "score", "items": ["i0", "bogus"]}, "not in the fitted model: 'bogus'"),
        ({"by": "score", "weights": {"i0": 1, "i1": -2}}, "bad weight for item\\(s\\) 'i1'"),
    ],
)
def test_bad_arguments(hand_idata, kwargs, message):
    with pytest.raises(ValueError, match=message):
        rank(hand_idata, **kwargs)


def test_mismatched_data_and_posterior(hand_idata):
    other = complete_responses(HAND_Y, subjects=["A", "B", "Z"])
    hand_idata.constant_data = other.to_xarray()
    with pytest.raises(ValueError, match="only in the posterior 'C'; only in the data 'Z'"):
        rank(hand_idata)


def test_non_finite_draws(hand_idata):
    hand_idata.posterior["theta"][0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        rank(hand_idata)
