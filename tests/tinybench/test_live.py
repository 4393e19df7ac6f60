"""Live adaptive tests: the session object against the simulated loop, what its posterior
reports against Monte Carlo draws, the decision rule, exposure control, content balancing and
the ``adaptive`` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from tinybench_fakes import simulate_benchmark, truth_fit

from bayesirt.cli import main
from bayesirt.inference import save_fit
from bayesirt.irt import icc
from bayesirt.tinybench import (
    AdaptiveTest,
    ContentBalance,
    DecisionStopper,
    ExposureControl,
    ItemBank,
    RankWidthStopper,
    SdOrBudgetStopper,
    VarianceSelector,
    posterior_summary,
    simulate_adaptive_test,
)
from bayesirt.tinybench.adaptive import PriorInitializer, QuadratureEstimator


@pytest.fixture(scope="module")
def bench():
    """A 60 × 150 leaderboard (items in categories c0-c3) and a fit scattered around its
    truth."""
    responses, truth = simulate_benchmark(60, 150, seed=3)
    idata = truth_fit(truth, theta_noise=0.15)(responses)
    return responses, truth, idata, ItemBank.from_idata(idata, n_draws=60)


def _answer_key(bank: ItemBank, theta: float, seed: int) -> dict[str, int]:
    """Fixed answers of a model of ability ``theta`` to every bank item."""
    p = icc(theta, *bank.mean_params)
    right = np.random.default_rng(seed).random(bank.n_items) < p
    return dict(zip(bank.items, right.astype(int), strict=True))


def test_a_live_test_asks_and_concludes_as_the_simulated_one(bench):
    *_, bank = bench
    key = _answer_key(bank, 0.7, seed=1)
    stopper = SdOrBudgetStopper(target_sd=0.35, max_items=40)
    live = AdaptiveTest(bank, stop=stopper, select="fisher")
    estimate = live.run(key.__getitem__)
    simulated = simulate_adaptive_test(bank, key.__getitem__, selector="fisher", stopper=stopper)
    assert list(live.history["item"]) == list(simulated.history["item"])
    row = simulated.summary.iloc[0]
    assert estimate["n_items"] == row["n_items"] and estimate["stopped"] == row["stopped"] == "sd"
    for column in ("theta_mean", "theta_lo", "score_hi", "rank_lo"):
        assert estimate[column] == pytest.approx(row[column])
    assert estimate["theta_sd"] <= 0.35 < live.history["theta_sd"].iloc[-2]
    assert live.done and live.next_items(3) == []


def test_batches_are_distinct_unasked_items_and_recording_is_checked(bench):
    *_, bank = bench
    allowed = list(bank.items[:40])
    test = AdaptiveTest(bank, items=allowed, stop=SdOrBudgetStopper(None, 12))
    first = test.next_items(5)
    assert len(set(first)) == 5 and set(first) <= set(allowed)
    for item in first:
        test.record(item, 1)
    second = test.next_items(5)
    assert not set(second) & set(first) and set(second) <= set(allowed)
    with pytest.raises(ValueError, match="already recorded"):
        test.record(first[0], 0)
    with pytest.raises(ValueError, match="'nope'"):
        test.record("nope", 1)
    with pytest.raises(ValueError, match=r"must be 0 or 1, got 0\.5"):
        test.record(second[0], 0.5)
    with pytest.raises(ValueError, match="not among the items"):
        test.record(str(bank.items[100]), 1)
    with pytest.raises(ValueError, match="k must be a positive"):
        test.next_items(0)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, prob: float) -> float:
    """The smallest value whose cumulative weight reaches ``prob``."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return values[order][np.searchsorted(cumulative, prob - 1e-12)]


def test_reported_posterior_matches_a_direct_computation(bench):
    """θ, score and rank intervals and P(beats) from the summary against the same
    quantities computed draw by draw and node by node."""
    *_, bank = bench
    key = _answer_key(bank, -0.4, seed=2)
    log_post = PriorInitializer()(bank, 1)
    for code in range(0, 150, 10):
        log_post = QuadratureEstimator()(
            bank, log_post, np.array([code]), np.array([key[bank.items[code]]])
        )
    rival = str(bank.subjects[np.argsort(bank.theta.mean(axis=0))[25]])
    summary = posterior_summary(bank, log_post, interval=0.8, beats=[rival]).iloc[0]
    n_draws, n_nodes = log_post[0].shape
    weights = np.exp(log_post[0] - log_post[0].max(axis=1, keepdims=True))
    weights = (weights / weights.sum(axis=1, keepdims=True) / n_draws).ravel()
    draw, node = np.divmod(np.arange(n_draws * n_nodes), n_nodes)
    theta = bank.nodes[node]
    params = [p[draw] for p in (bank.a, bank.b, bank.c, bank.d)]
    score = np.array([icc(t, *(p[k] for p in params)).mean() for k, t in enumerate(theta)])
    rank = np.array([1 + np.sum(bank.theta[s] > t) for s, t in zip(draw, theta, strict=True)])
    beats = theta > bank.theta[draw, bank.subject_code(rival)]
    assert summary[f"p_beats[{rival}]"] == pytest.approx(weights @ beats)
    assert summary["score_mean"] == pytest.approx(weights @ score)
    for column, values in [("theta", theta), ("score", score), ("rank", rank)]:
        assert summary[f"{column}_lo"] == _weighted_quantile(values, weights, 0.1)
        assert summary[f"{column}_hi"] == _weighted_quantile(values, weights, 0.9)
    assert summary["rank_lo"] < summary["rank_hi"] and 0 < summary["score_lo"]


def test_the_decision_rule_decides_rightly_and_spends_items_where_it_is_close(bench):
    *_, bank = bench
    means = bank.theta.mean(axis=0)
    rival = str(bank.subjects[np.argsort(means)[30]])
    theta = np.random.default_rng(4).normal(size=200)
    run = simulate_adaptive_test(
        bank,
        theta,
        selector=VarianceSelector(beats=rival, max_draws=16),
        stopper=DecisionStopper(rival, level=0.95, max_items=60),
        beats=[rival],
        seed=4,
    ).summary
    decided = run["stopped"] == "decided"
    p = run[f"p_beats[{rival}]"]
    assert decided.mean() > 0.6
    assert ((p >= 0.95) | (p <= 0.05))[decided].all()
    wrong = (p >= 0.5) != (theta > means[bank.subject_code(rival)])
    assert wrong[decided.to_numpy()].mean() <= 0.08  # nominal 0.05 under the model
    gap = np.abs(theta - means[bank.subject_code(rival)])
    assert run["n_items"][gap > 1.0].median() <= 6 < run["n_items"][gap < 0.3].median()


def test_the_decision_selector_asks_between_the_estimate_and_the_rival(bench):
    *_, bank = bench
    means = bank.theta.mean(axis=0)
    rival = str(bank.subjects[np.argmax(means)])
    log_post = np.broadcast_to(-0.5 * ((bank.nodes + 1.0) / 0.3) ** 2, (1, *bank.a.shape[:1], 81))
    available = np.ones((1, bank.n_items), dtype=bool)
    rng = np.random.default_rng(0)
    b = bank.mean_params[1]
    for_theta = b[VarianceSelector()(bank, log_post.copy(), available, rng)[0]]
    for_decision = b[VarianceSelector(beats=rival)(bank, log_post.copy(), available, rng)[0]]
    assert abs(for_theta + 1.0) < 0.5
    assert for_decision > for_theta + 0.5


def test_exposure_control_caps_every_item_over_a_sequence_of_tests(bench):
    *_, bank = bench
    stopper = SdOrBudgetStopper(target_sd=None, max_items=10)
    free = ExposureControl()
    capped = ExposureControl(max_rate=0.2, randomesque=2)
    for k, theta in enumerate(np.random.default_rng(5).normal(size=40)):
        key = _answer_key(bank, theta, seed=k)
        for control in (free, capped):
            AdaptiveTest(bank, stop=stopper, select="fisher", exposure=control, seed=k).run(
                key.__getitem__
            )
            counts = np.array(list(control.counts.values()))
            if control is capped:
                assert counts.max() <= math.ceil(0.2 * control.n_tests)
    assert free.rates().max() > 0.5  # without control the best items go to most tests
    assert capped.rates().max() <= 0.2 and capped.n_tests == 40
    assert sum(capped.counts.values()) == 400


def test_content_balancing_holds_the_shares_at_every_length(bench):
    responses, _, _, bank = bench
    categories = responses.item_meta["category"]
    shares = {"c0": 0.5, "c1": 0.25, "c2": 0.25}
    run = simulate_adaptive_test(
        bank,
        np.random.default_rng(6).normal(size=30),
        selector="fisher",
        stopper=SdOrBudgetStopper(target_sd=None, max_items=16),
        content=ContentBalance(categories, shares),
    )
    given = run.history.assign(category=categories.reindex(run.history["item"]).to_numpy())
    assert "c3" not in set(given["category"])
    for _, test in given.groupby("subject"):
        counts = pd.get_dummies(test["category"]).reindex(columns=list(shares), fill_value=0)
        running = counts.cumsum().to_numpy()
        target = np.arange(1, len(test) + 1)[:, None] * np.array(list(shares.values()))
        assert np.abs(running - target).max() <= 1
    with pytest.raises(ValueError, match="'c9'"):
        simulate_adaptive_test(bank, 0.0, content=ContentBalance(categories, {"c9": 1.0}))


def test_rank_width_stopper_stops_at_the_width(bench):
    *_, bank = bench
    run = simulate_adaptive_test(
        bank, [2.5, 0.0], stopper=RankWidthStopper(6, max_items=80), seed=1
    ).summary
    done = run[run["stopped"] == "rank"]
    assert len(done) >= 1 and ((done["rank_hi"] - done["rank_lo"]) <= 6).all()


def test_settings_and_names_are_checked(bench):
    *_, bank = bench
    with pytest.raises(ValueError, match="'no such model'"):
        AdaptiveTest(bank, stop=DecisionStopper("no such model"))
    with pytest.raises(ValueError, match="level must be in"):
        DecisionStopper("m0001", level=1.2)
    with pytest.raises(ValueError, match="max_items"):
        DecisionStopper("m0001", max_items=0)
    with pytest.raises(ValueError, match="width"):
        RankWidthStopper(-1)
    with pytest.raises(ValueError, match="max_rate"):
        ExposureControl(max_rate=0.0)
    with pytest.raises(ValueError, match="unknown selector 'best'"):
        AdaptiveTest(bank, select="best")


@pytest.fixture(scope="module")
def saved(bench, tmp_path_factory):
    *_, idata, _ = bench
    folder = tmp_path_factory.mktemp("adaptive")
    save_fit(idata, folder / "fit.nc")
    new, _ = simulate_benchmark(3, 150, seed=8)
    long = pd.DataFrame(
        {
            "subject": np.asarray(new.subjects)[new.subject_index],
            "item": np.asarray(new.items)[new.item_index],
            "response": new.response,
        }
    )
    long["subject"] = "new_" + long["subject"]
    long.to_csv(folder / "answers.csv", index=False)
    return folder


def test_the_command_replays_recorded_answers(saved, capsys):
    fit, answers = str(saved / "fit.nc"), str(saved / "answers.csv")
    args = ["adaptive", fit, "--answers", answers, "--max-items", "20", "--json"]
    assert main([*args, "--balance", "category", "--max-exposure", "0.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["subject"] for s in out["subjects"]] == ["new_m0000", "new_m0001", "new_m0002"]
    for subject in out["subjects"]:
        assert subject["n_items"] <= 20 and subject["answered"] == 150
        assert subject["theta_lo"] <= subject["theta_mean"] <= subject["theta_hi"]
        assert subject["score_lo"] <= subject["score_mean"] <= subject["score_hi"]
    assert out["max_exposure"] <= 2 / 3  # ceil(0.5 × 3) of 3 tests
    assert (
        main(["adaptive", fit, "--answers", answers, "--beats", "m0010", "--max-items", "30"]) == 0
    )
    printed = capsys.readouterr().out
    assert "P(beats m0010)" in printed and "p_beats[m0010]" in printed


def test_the_command_refuses_conflicting_rules_before_reading(saved, capsys):
    fit = str(saved / "fit.nc")
    code = main(["adaptive", fit, "--answers", "missing.csv", "--beats", "m1", "--rank-width", "3"])
    assert code == 2 and "--beats and --rank-width" in capsys.readouterr().err
    answers = str(saved / "answers.csv")
    assert main(["adaptive", fit, "--answers", answers, "--beats", "nobody"]) == 1
    assert "'nobody'" in capsys.readouterr().err


def test_a_decision_waits_for_min_items_answers(bench):
    """Against the best fitted subject the prior alone says "does not beat" with
    P > 0.95: the rule still asks ``min_items`` items before it decides."""
    *_, bank = bench
    best = str(bank.subjects[np.argmax(bank.theta.mean(axis=0))])
    prior = PriorInitializer()(bank, 1)
    assert bank.p_beats(prior, best)[0] < 0.05
    for min_items in (0, 5):
        test = AdaptiveTest(bank, stop=DecisionStopper(best, min_items=min_items))
        test.run(_answer_key(bank, -1.0, seed=7).__getitem__)
        assert test.n_items == min_items and test.estimate()["stopped"] == "decided"


def test_the_command_uses_the_selector_asked_for(saved, capsys):
    fit, answers = str(saved / "fit.nc"), str(saved / "answers.csv")
    first = {}
    for select in ("fisher", "random"):
        args = ["adaptive", fit, "--answers", answers, "--max-items", "3", "--select", select]
        assert main([*args, "--json"]) == 0
        first[select] = {s["items"][0] for s in json.loads(capsys.readouterr().out)["subjects"]}
    assert len(first["fisher"]) == 1  # the most informative item at the prior, for all
    assert len(first["random"]) == 3
