"""Rankings under other distributions of interest and their stability."""

import numpy as np
import pandas as pd
import pytest
from dependence_fakes import planted
from scipy.special import expit

from bayesirt.analysis import rank, rank_stability, scenario_rankings
from bayesirt.analysis.scenarios import order_flips
from bayesirt.testing import complete_responses, fake_fit

# 3 subjects, 4 items in groups g1 = {i0, i1, i2} and g2 = {i3}; one chain of 3 draws
HAND_THETA = np.array([[[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 1.0, 2.0]]])
HAND_B = np.array([-1.0, 0.0, 1.0, 0.5])
HAND_Y = np.array([[1, 0, 0, 1], [1, 1, 0, 0], [0, 0, 1, 0]], dtype=float)
GROUPS = ["g1", "g1", "g1", "g2"]


@pytest.fixture(scope="module")
def hand():
    responses = complete_responses(HAND_Y, subjects=["A", "B", "C"])
    responses = responses.with_item_meta(pd.DataFrame({"group": GROUPS}, index=responses.items))
    b = np.broadcast_to(HAND_B, (1, 3, 4))
    idata = fake_fit(responses, theta=HAND_THETA, a=np.ones((1, 3, 4)), b=b)
    reversed_fit = fake_fit(responses, theta=-HAND_THETA, a=np.ones((1, 3, 4)), b=b)
    scenarios = scenario_rankings(
        idata,
        groups="group",
        group_weights={"g2-heavy": {"g2": 0.8}},
        n_use_cases=7,
        other_fits={"rev": reversed_fit},
        n_boot=20,
    )
    return idata, scenarios


def _hand_scores(weights_g1: float, weights_g2: float) -> np.ndarray:
    """Posterior mean of w1 * mean(P over g1) + w2 * P(i3), per subject, by hand."""
    p = expit(HAND_THETA[0][:, :, None] - HAND_B)  # (draw, subject, item)
    return (weights_g1 * p[:, :, :3].mean(axis=2) + weights_g2 * p[:, :, 3]).mean(axis=0)


def test_scenario_scores_match_a_direct_computation(hand):
    _, scenarios = hand
    assert list(scenarios["scenario"].values) == [
        "theta",
        "uniform",
        "balanced",
        "g2-heavy",
        "fit:rev",
        "dirichlet",
    ]
    estimate = scenarios["estimate"].sel(subject=["A", "B", "C"])
    np.testing.assert_allclose(estimate.sel(scenario="uniform"), _hand_scores(0.75, 0.25))
    np.testing.assert_allclose(estimate.sel(scenario="balanced"), _hand_scores(0.5, 0.5))
    np.testing.assert_allclose(estimate.sel(scenario="g2-heavy"), _hand_scores(0.2, 0.8))
    np.testing.assert_allclose(estimate.sel(scenario="theta"), HAND_THETA[0].mean(axis=0))
    weights = scenarios["scenario_weights"]
    np.testing.assert_allclose(weights.sel(scenario="uniform"), [0.75, 0.25])
    np.testing.assert_allclose(weights.sel(scenario="g2-heavy"), [0.2, 0.8])
    assert np.isnan(weights.sel(scenario="theta")).all()


def test_scenario_accuracies_match_a_direct_computation(hand):
    _, scenarios = hand
    accuracy = scenarios["accuracy"].sel(subject=["A", "B", "C"])
    np.testing.assert_allclose(accuracy.sel(scenario="uniform"), [0.5, 0.5, 0.25])
    np.testing.assert_allclose(accuracy.sel(scenario="balanced"), [2 / 3, 1 / 3, 1 / 6])
    np.testing.assert_allclose(accuracy.sel(scenario="g2-heavy"), [0.2 / 3 + 0.8, 0.4 / 3, 0.2 / 3])
    np.testing.assert_allclose(
        scenarios["accuracy_rank"].sel(scenario="balanced", subject=["A", "B", "C"]), [1, 2, 3]
    )
    # each Dirichlet use case weighs g1's three items pi_1 / 3 each and i3 pi_2
    pi = scenarios["use_case_weights"].values
    by_hand = pi[:, :1] / 3 * HAND_Y[:, :3].sum(axis=1) + pi[:, 1:] * HAND_Y[:, 3]
    ranks = pd.DataFrame(-by_hand).rank(axis=1).to_numpy()
    np.testing.assert_allclose(
        scenarios["use_case_accuracy_rank"].sel(subject=["A", "B", "C"]).values, ranks
    )


def test_scenarios_are_the_rank_function(hand):
    idata, scenarios = hand
    direct = rank(idata, by="score", weights=[1, 1, 1, 3], n_boot=20)  # balanced by hand
    mine = scenarios.sel(scenario="balanced", subject=direct["subject"].values)
    for var in ("estimate", "accuracy", "mean_rank", "p_rank"):
        np.testing.assert_allclose(mine[var], direct[var])


def test_unidimensional_posterior_ranks_do_not_depend_on_weights(hand):
    _, scenarios = hand
    expected = {"A": 2.0, "B": 5 / 3, "C": 7 / 3}  # ranks by theta, draw by draw
    same = ["theta", "uniform", "balanced", "g2-heavy", "dirichlet"]
    for name in same:
        ranks = scenarios["mean_rank"].sel(scenario=name)
        np.testing.assert_allclose(ranks.sel(subject=list(expected)), list(expected.values()))
        np.testing.assert_allclose(
            scenarios["p_rank"].sel(scenario=name), scenarios["p_rank"].sel(scenario="theta")
        )
    np.testing.assert_allclose(
        scenarios["mean_rank"].sel(scenario="fit:rev", subject=["A", "B", "C"]),
        [2.0, 7 / 3, 5 / 3],
    )
    assert list(scenarios["subject"].values) == ["B", "A", "C"]  # by the reference's ranks


def test_stability_against_a_reversed_fit(hand):
    _, scenarios = hand
    stability = rank_stability(scenarios)
    assert stability.attrs == {"reference": "uniform", "basis": "posterior"}
    tau = stability["kendall_tau"]
    assert tau.sel(scenario="uniform", scenario2="fit:rev") == pytest.approx(-1.0)
    assert tau.sel(scenario="uniform", scenario2="balanced") == pytest.approx(1.0)
    np.testing.assert_allclose(
        stability["rank_shift"].sel(scenario="fit:rev", subject=["A", "B", "C"]),
        [0.0, 2 / 3, -2 / 3],
    )
    assert stability["max_shift"].sel(subject="B") == pytest.approx(2 / 3)
    assert stability["max_shift_scenario"].sel(subject="B") == "fit:rev"
    assert stability["n_flips"].sel(scenario="fit:rev") == 3
    assert stability["n_flips"].sel(scenario="balanced") == 0
    flips = order_flips(scenarios)
    assert len(flips) == 3 and set(flips["scenario"]) == {"fit:rev"}
    row = flips[(flips["higher"] == "B") & (flips["lower"] == "C")].iloc[0]
    p_beats = scenarios["p_beats"].sel(scenario="fit:rev", subject="C", opponent="B")
    assert row["p_reversed"] == pytest.approx(p_beats.item())
    assert (row["ref_rank_higher"], row["rank_higher"]) == pytest.approx((5 / 3, 7 / 3))


def test_accuracy_basis_sees_what_the_weights_change():
    _, _, idata = planted(seed=3, n_subjects=30, cluster_size=10)
    scenarios = scenario_rankings(idata, groups="cluster", n_use_cases=40, n_boot=20)
    posterior = rank_stability(scenarios)
    accuracy = rank_stability(scenarios, basis="accuracy")
    score_scenarios = ["uniform", "balanced", "dirichlet"]
    np.testing.assert_allclose(posterior["kendall_tau"].sel(scenario=score_scenarios), 1.0)
    assert posterior["n_flips"].sum() == 0
    assert accuracy["n_flips"].sel(scenario="balanced") > 0
    assert accuracy["kendall_tau"].sel(scenario="uniform", scenario2="balanced") < 1
    changes = accuracy["p_rank_change"].values
    assert ((changes >= 0) & (changes <= 1)).all() and changes.max() > 0.3
    flips = order_flips(scenarios, basis="accuracy")
    assert len(flips) == accuracy["n_flips"].sum()
    assert flips["p_reversed"].between(0, 1).all()
    # the "(none)" group gathers the 180 unclustered items
    assert "(none)" in scenarios["group"].values
    assert scenarios["scenario_weights"].sel(scenario="uniform", group="(none)") == 180 / 240


def test_bad_arguments(hand):
    idata, scenarios = hand
    with pytest.raises(ValueError, match="unknown group"):
        scenario_rankings(idata, groups="group", group_weights={"x": {"g9": 0.5}})
    with pytest.raises(ValueError, match="reserved"):
        scenario_rankings(idata, groups="group", group_weights={"balanced": {"g1": 0.5}})
    with pytest.raises(ValueError, match=r"sum to 1\.5 > 1"):
        scenario_rankings(idata, groups="group", group_weights={"x": {"g1": 1.5}})
    with pytest.raises(ValueError, match="not a scenario"):
        scenario_rankings(idata, reference="balanced")
    other = fake_fit(
        complete_responses(HAND_Y, subjects=["A", "B", "D"]),
        theta=HAND_THETA,
        a=np.ones((1, 3, 4)),
        b=np.zeros((1, 3, 4)),
    )
    with pytest.raises(ValueError, match="same subjects"):
        scenario_rankings(idata, other_fits={"other": other})
    with pytest.raises(ValueError, match="basis"):
        rank_stability(scenarios, basis="votes")
