"""route on fake fits (no sampler): the choices and the routing's accuracy against a direct
computation, the cheapest policy, the accuracy-cost curve, JSON, and errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from bayesirt.analysis import route
from bayesirt.analysis.predict import item_probabilities
from bayesirt.testing import complete_responses, fake_fit

SUBJECTS = ["low", "mid", "high"]
THETA = np.array([-1.0, 0.0, 1.0])
#: Items 0-2 reward ability; items 3-4 are answered better by lower ability (negative slope).
A = np.array([1.0, 1.5, 0.5, -1.0, -2.0])
INTERCEPT = np.array([0.0, -1.0, 1.0, 0.5, -0.5])
COSTS = {"low": 1.0, "mid": 2.0, "high": 5.0}


@pytest.fixture(scope="module")
def fit():
    rng = np.random.default_rng(0)
    responses = complete_responses(rng.integers(0, 2, (3, 5)), subjects=SUBJECTS)
    shape = (2, 400)
    return fake_fit(
        responses,
        theta=THETA + 0.2 * rng.normal(size=(*shape, 3)),
        a=A + 0.05 * rng.normal(size=(*shape, 5)),
        intercept=INTERCEPT + 0.2 * rng.normal(size=(*shape, 5)),
    )


def _mean_p(fit):
    return item_probabilities(fit).mean(axis=(0, 1))  # subject × item


def test_best_policy_picks_the_most_likely_model_per_question(fit):
    items = list(fit.posterior["item"].values)
    routed = route(fit, items)
    mean = _mean_p(fit)
    assert list(routed.choices["subject"]) == [SUBJECTS[j] for j in mean.argmax(axis=0)]
    assert list(routed.choices["subject"]) == ["high"] * 3 + ["low"] * 2
    np.testing.assert_allclose(routed.choices["p"], mean.max(axis=0))
    # the runner-up is the second most likely model
    second = np.sort(mean, axis=0)[-2]
    np.testing.assert_allclose(routed.choices["p_runner_up"], second)
    # expected accuracy: per draw, mean over questions of the chosen model's probability
    draws = item_probabilities(fit).reshape(-1, 3, 5)
    chosen = mean.argmax(axis=0)
    accuracy = draws[:, chosen, np.arange(5)].mean(axis=1)
    assert routed.accuracy["mean"] == pytest.approx(accuracy.mean())
    assert routed.accuracy["lo"] == pytest.approx(np.quantile(accuracy, 0.05))
    assert routed.cost is None and routed.curve is None
    # close to the probabilities of the mean parameters
    truth = expit(THETA[:, None] * A + INTERCEPT).max(axis=0).mean()
    assert abs(routed.accuracy["mean"] - truth) < 0.03


def test_cheapest_policy_takes_the_cheapest_model_likely_enough(fit):
    items = list(fit.posterior["item"].values)
    mean = _mean_p(fit)
    cost = np.array([COSTS[s] for s in SUBJECTS])
    for level in (0.5, 0.6, 0.7):
        routed = route(fit, items, costs=COSTS, policy="cheapest", min_p=level)
        for q, row in enumerate(routed.choices.itertuples()):
            eligible = np.flatnonzero(mean[:, q] >= level)
            if len(eligible):
                assert row.subject == SUBJECTS[eligible[cost[eligible].argmin()]]
                assert not row.fallback
            else:
                assert row.subject == SUBJECTS[mean[:, q].argmax()] and row.fallback
        assert routed.cost["per_question"] == pytest.approx(routed.choices["cost"].mean())
    loose = route(fit, items, costs=COSTS, policy="cheapest", min_p=0.05)
    assert set(loose.choices["subject"]) == {"low"}  # everyone qualifies: the cheapest
    strict = route(fit, items, costs=COSTS, policy="cheapest", min_p=0.99)
    assert strict.choices["fallback"].all()  # nobody qualifies: the most likely
    assert list(strict.choices["subject"]) == list(route(fit, items).choices["subject"])


def test_the_curve_trades_accuracy_for_cost(fit):
    items = list(fit.posterior["item"].values)
    routed = route(fit, items, costs=COSTS)
    curve = routed.curve
    best = curve[curve["policy"] == "best"].iloc[0]
    assert best["accuracy"] == pytest.approx(routed.accuracy["mean"])
    # no setting beats the best policy's expected accuracy, and the loosest costs least
    assert (curve["accuracy"] <= best["accuracy"] + 1e-12).all()
    assert curve["cost_per_question"].min() == pytest.approx(1.0)
    assert (curve["accuracy_lo"] <= curve["accuracy"]).all()
    assert (curve["accuracy"] <= curve["accuracy_hi"]).all()
    ax = routed.plot_curve()
    assert ax.get_xlabel() == "mean cost per question"
    text = json.dumps(routed.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["questions"][0]["subject"] == "high"
    assert back["curve"][-1]["min_p"] is None and back["curve"][-1]["policy"] == "best"


def test_a_pool_of_candidates_limits_the_choice(fit):
    items = list(fit.posterior["item"].values)
    routed = route(fit, items, subjects=["mid", "low"])
    assert set(routed.choices["subject"]) <= {"mid", "low"}
    assert list(routed.choices["subject"][:2]) == ["mid", "mid"]


def test_errors_name_the_bad_input(fit):
    items = list(fit.posterior["item"].values)
    with pytest.raises(ValueError, match="policy must be one of"):
        route(fit, items, policy="fastest")
    with pytest.raises(ValueError, match="needs the models' costs"):
        route(fit, items, policy="cheapest")
    with pytest.raises(ValueError, match=r"min_p=0.7 applies to policy='cheapest'"):
        route(fit, items, min_p=0.7)
    with pytest.raises(ValueError, match="min_p"):
        route(fit, items, costs=COSTS, policy="cheapest", min_p=1.5)
    with pytest.raises(ValueError, match="'mid'"):
        route(fit, items, costs={**COSTS, "mid": -1.0})
    with pytest.raises(ValueError, match="'gpt'"):
        route(fit, items, costs={**COSTS, "gpt": 1.0})
    with pytest.raises(ValueError, match=r"no cost for model.*'high'"):
        route(fit, items, costs={"low": 1.0, "mid": 1.0}, subjects=SUBJECTS)
    with pytest.raises(ValueError, match=r"unknown model.*'nobody'"):
        route(fit, items, subjects=["nobody"])
    with pytest.raises(ValueError, match=r"unknown item.*'q_missing'"):
        route(fit, ["q_missing"])
    with pytest.raises(ValueError, match="repeated question"):
        route(fit, [items[0], items[0]])
    with pytest.raises(ValueError, match="explanatory model"):
        route(fit, pd.DataFrame({"x": [1.0]}, index=["new"]))
