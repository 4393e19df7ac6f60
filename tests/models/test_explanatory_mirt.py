"""Explanatory multidimensional 2PL (``mirt-explanatory``): construction and errors, the dense
likelihood against the pairwise one, and fits of simulated leaderboards with a known truth
(:func:`bayesirt.data.simulate_routing`): the regression recovered, new questions predicted,
routed and a left-out benchmark's accuracy predicted (ADVI here; NUTS and interval coverage
in the slow tier)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest

import bayesirt
from bayesirt.analysis import predict_benchmark, predict_items, route
from bayesirt.analysis.predict import item_probabilities
from bayesirt.data import simulate_routing
from bayesirt.models import ExplanatoryMIRT, Prior, explanatory_mirt, model_from_config

SEED = 0


@pytest.fixture(scope="module")
def simulated():
    responses, features, truth = simulate_routing(100, 210, benchmark_ability_sd=0.5, seed=SEED)
    items = responses.items.astype(str)
    rng = np.random.default_rng(SEED)
    test = pd.Index(rng.choice(items, 42, replace=False))
    return responses, features, truth, test, items.difference(test)


@pytest.fixture(scope="module")
def fit(simulated):
    """ADVI fit on the training questions, pooled by benchmark."""
    responses, features, _, _, train = simulated
    return bayesirt.fit(
        responses.subset(items=train),
        model="mirt-explanatory",
        item_features=features.loc[train],
        pool_by="benchmark",
        method="advi",
        progressbar=False,
    )


def test_construction_checks_and_round_trip(simulated):
    responses, features, *_ = simulated
    model = ExplanatoryMIRT(responses, item_features=features, n_traits=3, pool_by="benchmark")
    rebuilt = model_from_config(model.config(), responses)
    assert rebuilt.config() == model.config() and rebuilt.n_traits == 3
    assert model.coords()["contrast"].tolist() == ["trait_2", "trait_3"]
    # the group means of the standardised features, by hand
    z = (features - features.mean()) / features.std(ddof=0)
    by_hand = z.groupby(responses.item_meta["benchmark"].to_numpy()).mean().to_numpy()
    np.testing.assert_allclose(model.group_feature_means(), by_hand, atol=1e-10)
    with pytest.raises(ValueError, match="no item features for item"):
        ExplanatoryMIRT(responses, item_features=features.iloc[1:])
    with pytest.raises(ValueError, match="prior beta_a_contrast must be Normal"):
        ExplanatoryMIRT(
            responses,
            item_features=features,
            priors={"beta_a_contrast": Prior("HalfNormal", sigma=1.0)},
        )


def test_dense_likelihood_equals_the_pairwise_one(simulated, monkeypatch):
    responses, features, *_ = simulated
    small = responses.subset(subjects=responses.subjects[:30])
    model = ExplanatoryMIRT(small, item_features=features, pool_by="benchmark")
    dense = model.build_model()
    monkeypatch.setattr(explanatory_mirt, "DENSE_FROM", 2.0)  # never dense
    pairs = model.build_model()
    point = dense.initial_point()
    rng = np.random.default_rng(1)
    moved = {k: v + 0.3 * rng.normal(size=np.shape(v)) for k, v in point.items()}
    for at in (point, moved):
        np.testing.assert_allclose(dense.compile_logp()(at), pairs.compile_logp()(at), rtol=1e-9)
    names = {v.name for v in dense.potentials}
    assert names == {v.name for v in pairs.potentials} == {"loglik"}
    assert isinstance(dense, pm.Model)


def test_the_regression_is_recovered(fit, simulated):
    _, _, truth, _, _ = simulated
    post = fit.posterior
    assert fit.attrs and "mu_a_contrast_group" in post and "a_contrast_offset" in post
    # the contrast's sign is the reference frame's: turn it onto the truth's by the abilities
    theta = post["theta"].sel(trait="trait_2").mean(("chain", "draw")).values
    sign = np.sign(np.corrcoef(theta, truth["theta"].sel(trait="trait_2").values)[0, 1])
    for name in ("beta_intercept", "beta_log_a", "beta_a_contrast"):
        estimate = post[name].mean(("chain", "draw")).values.ravel()
        estimate = sign * estimate if name == "beta_a_contrast" else estimate
        assert np.corrcoef(estimate, truth[name].values.ravel())[0, 1] > 0.95, name
    # the subjects' abilities on each benchmark beyond their traits
    gamma = post["benchmark_ability"].mean(("chain", "draw")).values
    assert np.corrcoef(gamma.ravel(), truth["benchmark_ability"].values.ravel())[0, 1] > 0.6


def test_new_questions_follow_the_predictive_formula(fit, simulated):
    """The predicted intercept of a question of a fitted benchmark, by hand from the stored
    variables: the benchmark's mean plus the regression on the features' deviation from the
    benchmark's mean features."""
    responses, features, truth, test, train = simulated
    model = ExplanatoryMIRT(
        responses.subset(items=train), item_features=features.loc[train], pool_by="benchmark"
    )
    post = fit.posterior
    benchmark = pd.Series(truth["benchmark"].values, index=truth["item"].values)
    bank = predict_items(fit, features.loc[test], benchmark=benchmark.loc[test], random_seed=2)
    z = model.design.standardise(features.loc[test])
    groups = list(post["benchmark"].values)
    code = np.array([groups.index(b) for b in benchmark.loc[test]])
    z_bar = model.group_feature_means()[code]
    by_hand = post["mu_intercept_group"].values[..., code] + np.einsum(
        "cdf,nf->cdn", post["beta_intercept"].values, z - z_bar
    )
    drawn = bank.posterior["intercept"].values
    residual = post["sigma_intercept"].values.mean()
    n = drawn.shape[0] * drawn.shape[1]
    gap = np.abs(drawn.mean(axis=(0, 1)) - by_hand.mean(axis=(0, 1)))
    assert np.all(gap < 4.5 * residual / np.sqrt(n))
    np.testing.assert_allclose((drawn - by_hand).std(axis=(0, 1)), residual, rtol=0.1)
    assert bank.posterior["a"].dims == ("chain", "draw", "item", "trait")
    # the questions of a benchmark nobody fitted deviate from their own mean features, around
    # the population mean, with a new benchmark effect shared by them
    one = (benchmark.loc[test] == "bench_1").to_numpy()
    fresh = predict_items(fit, features.loc[test[one]], benchmark="brand new", random_seed=2)
    centred = z[one] - z[one].mean(axis=0)
    by_hand = post["mu_intercept"].values[..., None] + np.einsum(
        "cdf,nf->cdn", post["beta_intercept"].values, centred
    )
    drawn = fresh.posterior["intercept"].values
    spread = np.sqrt(post["tau_intercept"].values ** 2 + post["sigma_intercept"].values ** 2)
    gap = np.abs(drawn.mean(axis=(0, 1)) - by_hand.mean(axis=(0, 1)))
    assert np.all(gap < 4.5 * spread.mean() / np.sqrt(n))
    shared = (drawn - by_hand).mean(axis=-1)  # the benchmark effect, common to its items
    within = (drawn - by_hand - shared[..., None]).std()
    np.testing.assert_allclose(within, residual * np.sqrt(1 - 1 / one.sum()), rtol=0.1)
    # its scale is drawn from its conditional given the fitted benchmarks' effects (checked
    # against the exact predictive in tests/analysis/test_predict_items.py): with a handful of
    # benchmarks, wider than mean-field ADVI's scale alone says
    tau2, sigma2 = (post[f"{k}_intercept"].values ** 2 for k in ("tau", "sigma"))
    assert shared.std() > 1.2 * np.sqrt(tau2.mean() + sigma2.mean() / one.sum())
    # a question of unknown origin also carries a new benchmark effect: wider
    unknown = predict_items(fit, features.loc[test], random_seed=2).posterior["intercept"]
    assert (
        unknown.std(("chain", "draw")) > bank.posterior["intercept"].std(("chain", "draw"))
    ).all()


def _routed_truth(fit, simulated, pool):
    """Per question of the held-out set: the routed model's true P(correct), the truly best
    model; and every pool member's true P."""
    _, features, truth, test, _ = simulated
    benchmark = pd.Series(truth["benchmark"].values, index=truth["item"].values)
    routed = route(fit, features.loc[test], subjects=pool, benchmark=benchmark.loc[test])
    p_true = truth["p"].sel(subject=pool, item=test).values  # pool × question
    chosen = [pool.index(s) for s in routed.choices["subject"]]
    return p_true[chosen, np.arange(len(test))], np.asarray(pool)[p_true.argmax(axis=0)], p_true


def test_routing_beats_every_single_model(fit, simulated):
    """Among models of similar overall ability (|general ability| < 0.5), the router picks
    the truly best model of a new question more often than any one model is the best, and
    its answers are right more often."""
    _, features, truth, test, _ = simulated
    general = truth["theta"].sel(trait="trait_1").to_series()
    pool = list(general.index[(general.abs() < 0.5).to_numpy()][:10])
    routed_p, truly_best, p_true = _routed_truth(fit, simulated, pool)
    hits = np.mean(routed_p == p_true.max(axis=0))
    single = max((truly_best == s).mean() for s in pool)
    assert hits > single + 0.1
    assert routed_p.mean() > p_true.mean(axis=1).max() + 0.02
    # predicted probabilities follow the true ones
    benchmark = truth["benchmark"].to_series().loc[test]
    bank = predict_items(fit, features.loc[test], benchmark=benchmark)
    predicted = item_probabilities(bank).mean(axis=(0, 1))
    assert np.corrcoef(predicted.ravel(), truth["p"].sel(item=test).values.ravel())[0, 1] > 0.85


# text alone runs in the slow tier (a 26 s fit); the predictive-formula test above guards
# the new benchmark's centring in the default run
@pytest.mark.parametrize("answered", [pytest.param(0, marks=pytest.mark.slow), 12])
def test_a_left_out_benchmark_is_predicted_from_its_text(answered):
    """Six benchmarks, one left out but for ``answered`` of its 40 questions (fitted as a
    benchmark of their own). From its text alone the benchmark's level is unknown (in the
    simulated truth, as in the model, the features do not carry it): the predicted
    accuracies are as good as the subjects' accuracy elsewhere, in the right order, and
    their intervals cover the expected accuracies. A few answered questions pin the level
    down: then the predictions are far better than the accuracy elsewhere and than the
    accuracy on the answered questions (ADVI, one fixed seed)."""
    responses, features, truth = simulate_routing(100, 240, n_benchmarks=6, seed=SEED)
    benchmark = truth["benchmark"].to_series()
    shown = benchmark.index[benchmark == "bench_3"][:answered]
    kept = benchmark.index[(benchmark != "bench_3") | benchmark.index.isin(shown)]
    held = benchmark.index.difference(kept)
    fit = bayesirt.fit(
        responses.subset(items=kept),
        model="mirt-explanatory",
        item_features=features.loc[kept],
        pool_by="benchmark",
        method="advi",
        progressbar=False,
    )
    pred = predict_benchmark(fit, features.loc[held], benchmark="bench_3")
    p = truth["p"].to_pandas()
    expected = p[held].mean(axis=1).loc[pred.index]
    error = (pred["accuracy"] - expected).abs().mean()
    elsewhere = (p[benchmark.index[benchmark != "bench_3"]].mean(axis=1) - expected).abs().mean()
    covered = (pred["accuracy_lo"] <= expected) & (expected <= pred["accuracy_hi"])
    assert covered.mean() >= 0.85
    assert np.corrcoef(pred["accuracy"], expected)[0, 1] > 0.9
    if answered:
        own = np.abs(responses.subset(items=shown).dense().mean(axis=1) - expected.to_numpy())
        assert error < 0.6 * min(elsewhere, own.mean())
    else:
        assert error < 1.05 * elsewhere
    with pytest.raises(ValueError, match="unknown subject"):
        predict_benchmark(fit, features.loc[held], subjects=["nobody"])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_nuts_intervals_cover_the_truth(seed):
    """NUTS on one benchmark (no pooling): the regression coefficients' and held-out
    questions' 90% intervals cover the truth near the nominal rate."""
    responses, features, truth = simulate_routing(80, 180, n_benchmarks=1, seed=seed)
    items = responses.items.astype(str)
    test = pd.Index(np.random.default_rng(seed).choice(items, 36, replace=False))
    train = items.difference(test)
    fit = bayesirt.fit(
        responses.subset(items=train),
        model="mirt-explanatory",
        item_features=features.loc[train],
        progressbar=False,
    )
    assert fit.attrs and bayesirt.inference.fit_info(fit)["diagnostics"]["converged"]
    post = fit.posterior
    theta = post["theta"].sel(trait="trait_2").mean(("chain", "draw")).values
    sign = np.sign(np.corrcoef(theta, truth["theta"].sel(trait="trait_2").values)[0, 1])
    inside = []
    for name in ("beta_intercept", "beta_log_a", "beta_a_contrast"):
        draws = post[name] * (sign if name == "beta_a_contrast" else 1.0)
        lo = draws.quantile(0.05, ("chain", "draw")).values
        hi = draws.quantile(0.95, ("chain", "draw")).values
        inside.extend(((lo <= truth[name].values) & (truth[name].values <= hi)).ravel())
    assert np.mean(inside) >= 0.75
    prob = item_probabilities(predict_items(fit, features.loc[test]))
    lo, hi = np.quantile(prob, [0.05, 0.95], axis=(0, 1))
    p_true = truth["p"].sel(item=test).values
    assert 0.82 <= ((lo <= p_true) & (p_true <= hi)).mean() <= 0.97
