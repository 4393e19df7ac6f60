"""Adaptive testing: each piece against a direct computation, the loop, and the payoff."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import expit
from tinybench_fakes import simulate_benchmark, truth_fit

from bayesirt.irt import item_information
from bayesirt.testing import complete_responses, fake_fit
from bayesirt.tinybench import select_items, simulate_adaptive_test
from bayesirt.tinybench.adaptive import (
    FisherSelector,
    FixedSelector,
    ItemBank,
    PriorInitializer,
    QuadratureEstimator,
    SdOrBudgetStopper,
    VarianceSelector,
    mixture,
)

A = np.array([1.2, 0.8, 2.0, 1.0, 0.5, 1.6])
B = np.array([-1.0, 0.0, 0.5, 1.5, -0.3, 0.2])


def _fit(a, b, *, n_fitted=4):
    """A fit whose item draws are ``a``, ``b`` of shape (chain, draw, item)."""
    shape = a.shape[:2]
    theta = np.random.default_rng(0).normal(size=(*shape, n_fitted))
    responses = complete_responses(np.ones((n_fitted, a.shape[-1])))
    return fake_fit(responses, theta=theta, a=a, b=b)


def _bank(a, b, **kwargs):
    return ItemBank.from_idata(_fit(a, b), n_draws=a.shape[1], **kwargs)


def _answer(bank, log_post, items, responses):
    for item, y in zip(items, responses, strict=True):
        log_post = QuadratureEstimator()(bank, log_post, np.array([item]), np.array([y]))
    return log_post


def _direct_moments(a, b, items, responses):
    def density(t):
        p = expit(a[items] * (t - b[items]))
        return np.exp(-0.5 * t * t) * np.prod(np.where(np.array(responses) == 1, p, 1 - p))

    norm = integrate.quad(density, -10, 10)[0]
    mean = integrate.quad(lambda t: t * density(t), -10, 10)[0] / norm
    var = integrate.quad(lambda t: (t - mean) ** 2 * density(t), -10, 10)[0] / norm
    return mean, np.sqrt(var)


def test_quadrature_update_matches_direct_integration():
    bank = _bank(A[None, None], B[None, None], n_nodes=401, bounds=(-8.0, 8.0))
    log_post = _answer(bank, PriorInitializer()(bank, 1), [0, 2, 3], [1, 0, 1])
    mean, sd = bank.moments(log_post)
    expected = _direct_moments(A, B, [0, 2, 3], [1, 0, 1])
    assert mean[0] == pytest.approx(expected[0], abs=1e-5)
    assert sd[0] == pytest.approx(expected[1], abs=1e-5)


def test_posterior_is_the_mixture_of_the_per_draw_posteriors():
    a = np.stack([A, 1.5 * A])[None]
    b = np.stack([B - 0.7, B + 0.7])[None]
    bank = _bank(a, b, n_nodes=401, bounds=(-8.0, 8.0))
    log_post = _answer(bank, PriorInitializer()(bank, 1), [1, 5], [1, 1])
    per_draw = [_direct_moments(a[0, s], b[0, s], [1, 5], [1, 1]) for s in range(2)]
    mean, sd = bank.moments(log_post)
    assert mean[0] == pytest.approx(np.mean([m for m, _ in per_draw]), abs=1e-5)
    second = np.mean([s**2 + m**2 for m, s in per_draw])
    assert sd[0] == pytest.approx(np.sqrt(second - mean[0] ** 2), abs=1e-5)
    np.testing.assert_allclose(mixture(log_post).sum(), 1.0)


def test_fisher_selector_takes_the_most_informative_available_item():
    bank = _bank(A[None, None], B[None, None])
    log_post = _answer(bank, PriorInitializer()(bank, 2), [2], [1])
    log_post[1] = _answer(bank, log_post[1:], [0], [0])[0]
    available = np.ones((2, len(A)), dtype=bool)
    available[:, 2] = False
    mean, _ = bank.moments(log_post)
    pick = FisherSelector()(bank, log_post, available, np.random.default_rng(0))
    for row in range(2):
        info = np.where(available[row], item_information(mean[row], A, B), -np.inf)
        assert pick[row] == info.argmax()


def _expected_variance(bank, log_post, item):
    """Brute force: update with each answer, weight by the predictive probability."""
    total = 0.0
    for y in (0, 1):
        after = QuadratureEstimator()(bank, log_post, np.array([item]), np.array([y]))
        # predictive: mixture over draws of the per-draw normalised evidence ratio
        per_draw = np.exp(
            np.logaddexp.reduce(after[0], axis=-1) - np.logaddexp.reduce(log_post[0], axis=-1)
        )
        _, sd = bank.moments(after)
        total += per_draw.mean() * sd[0] ** 2
    return total


def test_variance_selector_minimises_the_brute_force_expected_variance():
    rng = np.random.default_rng(1)
    a = A * np.exp(0.3 * rng.normal(size=(1, 3, len(A))))
    b = B + 0.5 * rng.normal(size=(1, 3, len(A)))
    bank = _bank(a, b)
    log_post = _answer(bank, PriorInitializer()(bank, 1), [1], [1])
    available = np.ones((1, len(A)), dtype=bool)
    available[0, 1] = False
    selector = VarianceSelector(n_candidates=len(A), max_draws=3)
    pick = selector(bank, log_post, available, rng)[0]
    expected = {i: _expected_variance(bank, log_post, i) for i in range(len(A)) if i != 1}
    assert pick == min(expected, key=expected.get)
    available[0, pick] = False
    second = selector(bank, log_post, available, rng)[0]
    del expected[pick]
    assert second == min(expected, key=expected.get)


def test_variance_selector_is_exact_for_extreme_items_and_sharp_posteriors():
    # steep, uncertain items and sharp posteriors: an answer can be all but impossible
    # under one draw, which a linear-space computation gets wrong (or overflows on)
    rng = np.random.default_rng(0)
    for _ in range(40):
        a = np.exp(rng.normal(1.0, 1.2, size=(1, 3, 6)))
        b = rng.normal(0.0, 2.0, size=(1, 3, 6))
        bank = _bank(a, b)
        centre, sd = rng.normal(0.0, 1.5), np.exp(rng.uniform(np.log(0.02), np.log(0.5)))
        log_post = np.broadcast_to(-0.5 * ((bank.nodes - centre) / sd) ** 2, (1, 3, 81)).copy()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            selector = VarianceSelector(n_candidates=6, max_draws=3)
            pick = selector(bank, log_post, np.ones((1, 6), dtype=bool), rng)[0]
        expected = [_expected_variance(bank, log_post, i) for i in range(6)]
        assert expected[pick] == pytest.approx(min(expected), rel=1e-9)


def test_variance_selector_discounts_items_with_uncertain_parameters():
    # item 1 is a bit more discriminating at its mean parameters, but its difficulty is
    # uncertain (b = ±1.5 in the two draws); item 0 is known exactly
    a = np.array([[[1.5, 1.6], [1.5, 1.6]]])
    b = np.array([[[0.0, -1.5], [0.0, 1.5]]])
    bank = _bank(a, b)
    log_post = PriorInitializer()(bank, 1)
    available = np.ones((1, 2), dtype=bool)
    rng = np.random.default_rng(0)
    assert FisherSelector()(bank, log_post, available, rng)[0] == 1
    assert VarianceSelector()(bank, log_post, available, rng)[0] == 0


def test_stopper_reasons():
    stopper = SdOrBudgetStopper(target_sd=0.3, max_items=5)
    bank = _bank(A[None, None], B[None, None])
    sds = np.array([0.2, 0.5, 0.5, 0.25])
    log_post = -0.5 * (bank.nodes[None, None, :] / sds[:, None, None]) ** 2
    reason = stopper(bank, log_post, np.array([2, 5, 3, 5]))
    assert list(reason) == ["sd", "budget", "", "sd"]
    with pytest.raises(ValueError, match="target_sd, max_items"):
        SdOrBudgetStopper(target_sd=None)


@pytest.fixture(scope="module")
def bench():
    responses, truth = simulate_benchmark(200, 150, seed=11)
    return responses, truth_fit(truth)(responses)


def test_simulated_tests_reach_the_target_and_are_seeded(bench):
    _, idata = bench
    theta = np.random.default_rng(2).normal(size=30)
    run = simulate_adaptive_test(idata, theta, selector="fisher", seed=4, n_draws=40)
    again = simulate_adaptive_test(idata, theta, selector="fisher", seed=4, n_draws=40)
    pd.testing.assert_frame_equal(run.history, again.history)
    summary = run.summary
    assert (summary["stopped"] == "sd").all() and (summary["theta_sd"] <= 0.3).all()
    np.testing.assert_allclose(summary["true_theta"], theta)
    counts = run.history.groupby("subject").size()
    np.testing.assert_array_equal(counts.loc[summary.index], summary["n_items"])
    last = run.history.groupby("subject").last()
    np.testing.assert_allclose(last.loc[summary.index, "theta_sd"], summary["theta_sd"])
    assert not run.history.duplicated(["subject", "item"]).any()
    inside = (summary["theta_lo"] <= theta) & (theta <= summary["theta_hi"])
    assert inside.mean() >= 0.7
    given = run.responses(max_items=3)
    assert given.n_observed == 3 * len(theta)


def test_budget_stop_and_unknown_selector(bench):
    _, idata = bench
    run = simulate_adaptive_test(
        idata, [0.0, 1.0], selector="random", stopper=SdOrBudgetStopper(None, 4), n_draws=20
    )
    assert (run.summary["n_items"] == 4).all() and (run.summary["stopped"] == "budget").all()
    with pytest.raises(ValueError, match="variance, fisher, random"):
        simulate_adaptive_test(idata, 0.0, selector="best")
    with pytest.raises(ValueError, match="finite"):
        simulate_adaptive_test(idata, np.nan)


def test_recorded_responses_only_offer_answered_items(bench):
    responses, idata = bench
    y = np.full((2, responses.n_items), np.nan)
    y[0, :3] = [1, 0, 1]
    y[1, 10:40] = responses.dense()[0, 10:40]
    recorded = complete_responses(y, subjects=["few", "many"], items=list(responses.items))
    run = simulate_adaptive_test(idata, recorded, selector="fisher", n_draws=20)
    few = run.history[run.history["subject"] == "few"]
    assert sorted(few["item"]) == list(responses.items[:3])
    np.testing.assert_array_equal(
        few.set_index("item").loc[responses.items[:3], "response"], [1, 0, 1]
    )
    assert run.summary.loc["few", "stopped"] == "exhausted"
    many = run.history[run.history["subject"] == "many"]
    assert set(many["item"]) <= set(responses.items[10:40])


def test_response_function_and_fixed_order(bench):
    responses, idata = bench
    order = list(responses.items[[5, 0, 9]])
    asked = []

    def answer(item):
        asked.append(item)
        return 1

    run = simulate_adaptive_test(
        idata, answer, selector=FixedSelector(order), stopper=SdOrBudgetStopper(None, 3)
    )
    assert asked == order and list(run.history["item"]) == order
    with pytest.raises(ValueError, match="ran out of items"):
        simulate_adaptive_test(idata, 0.0, selector=FixedSelector(order))


def _fixed_length_needed(idata, method, theta, target, *, n_draws):
    """Smallest fixed length k whose selection gives a mean posterior sd <= target."""

    def mean_sd(k):
        chosen = select_items(idata, method=method, budget=k, seed=0)
        run = simulate_adaptive_test(
            idata,
            theta,
            selector=FixedSelector(list(chosen.items)),
            stopper=SdOrBudgetStopper(None, k),
            seed=0,
            n_draws=n_draws,
        )
        return run.summary["theta_sd"].mean()

    lo, hi = 1, 40
    assert mean_sd(hi) <= target
    while lo < hi:
        mid = (lo + hi) // 2
        if mean_sd(mid) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def test_adaptive_test_needs_fewer_items_than_the_best_fixed_subset(bench):
    """Posterior sd 0.3: items an adaptive test needs vs the shortest fixed subset."""
    _, idata = bench
    theta = np.random.default_rng(5).normal(size=40)
    run = simulate_adaptive_test(idata, theta, selector="variance", seed=0, n_draws=50)
    assert (run.summary["theta_sd"] <= 0.3).all()
    adaptive_mean = run.summary["n_items"].mean()
    fixed = {
        method: _fixed_length_needed(idata, method, theta, 0.3, n_draws=50)
        for method in ("random", "anchor", "fisher", "bayesian")
    }
    best = min(fixed.values())
    print(
        f"\nposterior sd 0.3: adaptive test {adaptive_mean:.1f} items on average "
        f"(max {run.summary['n_items'].max()}), every test reaching it; shortest fixed subsets "
        f"reaching it on average: {fixed}"
    )
    assert adaptive_mean < best
