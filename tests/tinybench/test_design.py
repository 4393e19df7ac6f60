"""select_items: the registry, each method against a direct construction, errors."""

import json

import numpy as np
import pandas as pd
import pytest
from tinybench_fakes import simulate_benchmark, truth_fit

from bayesirt.data import Responses
from bayesirt.irt import item_information
from bayesirt.testing import complete_responses, fake_fit
from bayesirt.tinybench import SELECTION_METHODS, select_items


@pytest.fixture(scope="module")
def bench():
    responses, truth = simulate_benchmark(120, 60, seed=3)
    return responses, truth_fit(truth)(responses)


def test_unknown_method_lists_the_registry(bench):
    with pytest.raises(ValueError, match="random, stratified, anchor, fisher, bayesian, search"):
        select_items(bench[1], method="greedy", budget=5)


@pytest.mark.parametrize("budget", [0, 61, 2.5, True])
def test_budget_must_be_an_integer_within_the_items(bench, budget):
    with pytest.raises(ValueError, match="budget"):
        select_items(bench[1], method="random", budget=budget)


@pytest.mark.parametrize("method", ["fisher", "bayesian"])
def test_item_parameter_methods_need_a_fit(bench, method):
    with pytest.raises(ValueError, match="needs item parameters"):
        select_items(bench[0], method=method, budget=5)


def test_anchor_irt_needs_a_fit_but_correctness_does_not(bench):
    with pytest.raises(ValueError, match="needs item parameters"):
        select_items(bench[0], method="anchor", budget=5, representation="irt")
    chosen = select_items(bench[0], method="anchor", budget=5)
    assert chosen.details["representation"] == "correctness"
    with pytest.raises(ValueError, match="unknown representation"):
        select_items(bench[1], method="anchor", budget=5, representation="text")


def test_wrong_source_type():
    with pytest.raises(TypeError, match="InferenceData or Responses"):
        select_items(np.zeros((3, 3)), method="random", budget=2)


@pytest.mark.parametrize("method", list(SELECTION_METHODS))
def test_every_method_gives_distinct_items_normalised_weights_and_is_seeded(bench, method):
    options = {"max_evaluations": 300} if method == "search" else {}
    first = select_items(bench[1], method=method, budget=8, seed=4, **options)
    again = select_items(bench[1], method=method, budget=8, seed=4, **options)
    assert len(first.items) == 8 and first.items.is_unique
    assert set(first.items) <= set(bench[0].items)
    assert (first.weights > 0).all() and first.weights.sum() == pytest.approx(1.0)
    assert list(first.items) == list(again.items)
    np.testing.assert_array_equal(first.weights, again.weights)
    record = json.loads(json.dumps(first.to_dict()))
    assert record["method"] == method and record["items"] == list(first.items)
    assert list(first.to_frame().columns) == ["item", "weight"]


def test_random_depends_on_the_seed(bench):
    picks = {
        tuple(select_items(bench[1], method="random", budget=8, seed=s).items) for s in range(5)
    }
    assert len(picks) == 5


def test_stratified_allocation_and_weights():
    # groups of 10, 20, 30 items; budget 5: quotas 0.83, 1.67, 2.5 -> largest remainders 1, 2, 2
    n_items = 60
    y = (np.random.default_rng(0).random((20, n_items)) < 0.5).astype(float)
    responses = complete_responses(y)
    groups = ["g0"] * 10 + ["g1"] * 20 + ["g2"] * 30
    responses = responses.with_item_meta(pd.DataFrame({"part": groups}, index=responses.items))
    chosen = select_items(responses, method="stratified", budget=5, by="part", seed=1)
    assert chosen.details["allocation"] == {"g0": 1, "g1": 2, "g2": 2}
    part = dict(zip(responses.items, groups, strict=True))
    weight_of = {"g0": (10 / 60) / 1, "g1": (20 / 60) / 2, "g2": (30 / 60) / 2}
    expected = [weight_of[part[i]] for i in chosen.items]
    np.testing.assert_allclose(chosen.weights, expected)
    with pytest.raises(Exception, match="no item metadata column 'topic'"):
        select_items(responses, method="stratified", budget=5, by="topic")


def test_anchor_points_recover_planted_clusters_with_their_shares():
    # three groups of items with identical correctness columns: sizes 2, 3, 5
    rng = np.random.default_rng(1)
    patterns = (rng.random((40, 3)) < 0.5).astype(float)
    membership = np.array([0, 1, 2, 2, 0, 1, 2, 1, 2, 2])
    responses = complete_responses(patterns[:, membership])
    chosen = select_items(responses, method="anchor", budget=3, seed=0)
    groups = membership[responses.items.get_indexer(chosen.items)]
    assert sorted(groups) == [0, 1, 2]
    share = {0: 0.2, 1: 0.3, 2: 0.5}
    np.testing.assert_allclose(chosen.weights, [share[g] for g in groups])


def test_anchor_irt_representation_groups_items_with_equal_curves():
    # 12 items in 3 groups of equal (a, b); every draw identical
    a = np.repeat([0.8, 2.0, 1.5], 4)
    b = np.repeat([-1.5, 0.0, 1.8], 4)
    perm = np.random.default_rng(2).permutation(12)
    responses = complete_responses(np.ones((6, 12)))
    theta = np.linspace(-2, 2, 6)
    idata = fake_fit(
        responses,
        theta=np.tile(theta, (1, 3, 1)),
        a=np.tile(a[perm], (1, 3, 1)),
        b=np.tile(b[perm], (1, 3, 1)),
    )
    chosen = select_items(idata, method="anchor", budget=3, seed=5)
    groups = (np.repeat([0, 1, 2], 4)[perm])[responses.items.get_indexer(chosen.items)]
    assert sorted(groups) == [0, 1, 2]
    np.testing.assert_allclose(chosen.weights, 1 / 3)


def test_fisher_takes_the_most_informative_item_at_each_ability_quantile(bench):
    responses, idata = bench
    budget = 6
    chosen = select_items(idata, method="fisher", budget=budget)
    post = idata.posterior
    a, b = post["a"].mean(("chain", "draw")).values, post["b"].mean(("chain", "draw")).values
    ability = post["theta"].mean(("chain", "draw")).values
    expected = []
    for k in range(budget):
        level = np.quantile(ability, (k + 0.5) / budget)
        info = {i: item_information(level, a[i], b[i]) for i in range(len(a)) if i not in expected}
        expected.append(max(info, key=info.get))
    assert sorted(chosen.items) == sorted(responses.items[expected])


def _fixed_items_fit(a, b, theta):
    """One fitted subject per ability, all draws equal (no posterior uncertainty)."""
    n = len(a)
    responses = complete_responses(np.ones((len(theta), n)))
    shape = (1, 4)
    return fake_fit(
        responses,
        theta=np.broadcast_to(theta, (*shape, len(theta))),
        a=np.broadcast_to(a, (*shape, n)),
        b=np.broadcast_to(b, (*shape, n)),
    ), responses


def test_bayesian_design_with_one_target_ability_takes_the_most_informative_items():
    a = np.array([1.0, 2.5, 0.7, 1.8, 2.2, 1.2])
    b = np.array([0.3, 0.6, 0.5, -2.0, 0.4, 1.0])
    idata, responses = _fixed_items_fit(a, b, np.array([0.5, -1.0]))
    chosen = select_items(idata, method="bayesian", budget=3, target_subjects=["s0"], n_samples=50)
    info = item_information(0.5, a, b)
    assert set(chosen.items) == set(responses.items[np.argsort(-info)[:3]])
    expected = 1.0 / (1.0 + np.sort(info)[-3:].sum())
    assert chosen.details["expected_posterior_variance"] == pytest.approx(expected)


def test_bayesian_design_spreads_items_over_the_target_abilities():
    # two targets at -1.5 and +1.5; items informative at one or the other, the low ones
    # slightly more so: plain ranking would take two low items, the design one of each
    a = np.full(6, 2.0)
    b = np.array([-1.5, -1.5, -1.5, 1.5, 1.5, 1.5])
    a[:3] = 2.05
    idata, responses = _fixed_items_fit(a, b, np.array([-1.5, 1.5]))
    chosen = select_items(idata, method="bayesian", budget=2, n_samples=4000, seed=0)
    assert sorted(b[responses.items.get_indexer(chosen.items)]) == [-1.5, 1.5]


def test_bayesian_target_subjects_must_be_fitted(bench):
    with pytest.raises(ValueError, match="target_subjects"):
        select_items(bench[1], method="bayesian", budget=3, target_subjects=["nobody"])


def test_search_beats_random_subsets_on_the_training_error(bench):
    responses, idata = bench
    y = responses.dense()
    full = y.mean(axis=1)

    def training_mae(items):
        cols = responses.items.get_indexer(items)
        return np.abs(y[:, cols].mean(axis=1) - full).mean()

    chosen = select_items(idata, method="search", budget=6, seed=0, max_evaluations=1500)
    assert chosen.details["evaluations"] <= 1500
    assert chosen.details["training_mae"] == pytest.approx(training_mae(chosen.items))
    history = chosen.details["history"]
    assert np.all(np.diff(history) <= 0)
    random_errors = [
        training_mae(select_items(idata, method="random", budget=6, seed=s).items)
        for s in range(50)
    ]
    # with 6 items the subset mean moves in steps of 1/6: a floor for any subset's error
    assert chosen.details["training_mae"] < min(0.7 * np.median(random_errors), *random_errors)


def test_search_handles_missing_answers():
    rng = np.random.default_rng(0)
    y = (rng.random((50, 30)) < 0.6).astype(float)
    y[rng.random(y.shape) < 0.3] = np.nan
    chosen = select_items(complete_responses(y), method="search", budget=5, max_evaluations=200)
    assert np.isfinite(chosen.details["training_mae"])


def test_responses_source_uses_their_items():
    responses = Responses.from_wide(
        pd.DataFrame({"x": [1, 0, 1], "y": [0, 0, 1], "z": [1, 1, 0]}, index=["m1", "m2", "m3"])
    )
    chosen = select_items(responses, method="random", budget=2, seed=0)
    assert set(chosen.items) <= {"x", "y", "z"} and chosen.n_candidates == 3
