"""predict_items on fake explanatory fits (no sampler): the predictive distribution against
its formula, interval coverage, errors, and the bank in the analyses."""

from __future__ import annotations

from types import SimpleNamespace

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import expit

import bayesirt
from bayesirt.analysis import predict_items, select_items, simulate_adaptive_test
from bayesirt.analysis.predict import _new_benchmark_effects
from bayesirt.data import Responses
from bayesirt.models import ExplanatoryTwoPL, Prior
from bayesirt.testing import fake_fit
from bayesirt.tinybench import SdOrBudgetStopper

MU, BETA, SIGMA = 0.5, np.array([1.0, -0.5]), 0.6
MU_LOG_A, SIGMA_LOG_A = 0.1, 0.2
CHAINS, DRAWS = 2, 1000


def _fit_features(n_items: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(loc=[3.0, -1.0], scale=[2.0, 0.5], size=(n_items, 2))
    return pd.DataFrame(values, index=[f"q{i}" for i in range(n_items)], columns=["len", "steps"])


def _new_features(n_items: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(loc=[5.0, -0.5], scale=[2.0, 0.5], size=(n_items, 2))  # shifted
    return pd.DataFrame(values, index=[f"new{i}" for i in range(n_items)], columns=["len", "steps"])


@pytest.fixture(scope="module")
def fit() -> az.InferenceData:
    """An explanatory fit whose regression is known exactly (point-mass posterior)."""
    features = _fit_features()
    n_items, n_subjects = len(features), 6
    rng = np.random.default_rng(1)
    s, i = np.indices((n_subjects, n_items))
    responses = Responses(
        subject_index=s.ravel(),
        item_index=i.ravel(),
        response=rng.integers(0, 2, s.size),
        subjects=[f"m{j}" for j in range(n_subjects)],
        items=features.index,
    )
    model = ExplanatoryTwoPL(responses, item_features=features)
    shape = (CHAINS, DRAWS)

    def const(value, *extra):
        return np.broadcast_to(np.asarray(value, dtype=float), (*shape, *extra)).copy()

    theta = rng.normal(size=(*shape, n_subjects))
    intercept = rng.normal(size=(*shape, n_items))
    a = np.exp(rng.normal(0.1, 0.2, size=(*shape, n_items)))
    idata = fake_fit(
        responses,
        theta=theta,
        a=a,
        intercept=intercept,
        model=model,
        extra={
            "mu_intercept": (("chain", "draw"), const(MU)),
            "sigma_intercept": (("chain", "draw"), const(SIGMA)),
            "beta_intercept": (("chain", "draw", "feature"), const(BETA, 2)),
            "mu_log_a": (("chain", "draw"), const(MU_LOG_A)),
            "sigma_log_a": (("chain", "draw"), const(SIGMA_LOG_A)),
        },
        coords={"feature": ["len", "steps"]},
    )
    return idata


def test_predictive_draws_follow_the_regression_with_fitted_standardisation(fit):
    fitted = _fit_features()
    new = _new_features(3, seed=2)
    z = (new.to_numpy() - fitted.to_numpy().mean(axis=0)) / fitted.to_numpy().std(axis=0)
    expected = MU + z @ BETA  # by hand: standardised with the fitted items' mean and sd
    bank = predict_items(fit, new, random_seed=3)
    draws = bank.posterior["intercept"].values.reshape(-1, 3)
    n = draws.shape[0]
    assert np.all(np.abs(draws.mean(axis=0) - expected) < 4 * SIGMA / np.sqrt(n))
    np.testing.assert_allclose(draws.std(axis=0), SIGMA, rtol=0.06)
    log_a = np.log(bank.posterior["a"].values.reshape(-1, 3))
    np.testing.assert_allclose(log_a.mean(axis=0), MU_LOG_A, atol=4 * SIGMA_LOG_A / np.sqrt(n))
    np.testing.assert_allclose(log_a.std(axis=0), SIGMA_LOG_A, rtol=0.06)
    np.testing.assert_allclose(
        bank.posterior["b"].values, -bank.posterior["intercept"].values / bank.posterior["a"]
    )
    summary = bank.predictions
    np.testing.assert_allclose(summary["intercept_mean"], draws.mean(axis=0))
    np.testing.assert_allclose(summary["intercept_lo"], np.quantile(draws, 0.05, axis=0))


def test_intervals_cover_items_drawn_from_the_model(fit):
    new = _new_features(300, seed=4)
    fitted = _fit_features().to_numpy()
    z = (new.to_numpy() - fitted.mean(axis=0)) / fitted.std(axis=0)
    rng = np.random.default_rng(5)
    intercept = MU + z @ BETA + SIGMA * rng.normal(size=300)
    a = np.exp(MU_LOG_A + SIGMA_LOG_A * rng.normal(size=300))
    truth = {"intercept": intercept, "b": -intercept / a, "a": a}
    pred = predict_items(fit, new).predictions
    for name, values in truth.items():
        covered = (pred[f"{name}_lo"].values <= values) & (values <= pred[f"{name}_hi"].values)
        assert 0.8 <= covered.mean() <= 0.97, name
    # the best any predictor can do: corr(z'beta, truth) = sqrt(var(z'beta) / (var + sigma^2))
    explained = np.var(z @ BETA)
    best = np.sqrt(explained / (explained + SIGMA**2))
    assert abs(np.corrcoef(pred["intercept_mean"], intercept)[0, 1] - best) < 0.04


def test_bank_serves_score_new_selection_and_adaptive_tests(fit):
    new = _new_features(150, seed=6)
    bank = predict_items(fit, new, random_seed=7)
    assert list(bank.posterior["item"].values) == list(new.index)
    np.testing.assert_array_equal(bank.posterior["theta"], fit.posterior["theta"])
    responses = bayesirt.analysis.posterior.fitted_responses(bank)
    assert list(responses.items[-150:]) == list(new.index)  # new items, no responses
    assert responses.n_observed == fit.constant_data.sizes["obs"]

    # a new model of known ability answers the new items by their mean predicted curve
    pred = bank.predictions
    rng = np.random.default_rng(8)
    p = expit(pred["a_mean"].values * 1.2 + pred["intercept_mean"].values)
    answers = Responses(
        subject_index=np.zeros(150),
        item_index=np.arange(150),
        response=(rng.random(150) < p).astype(int),
        subjects=["newcomer"],
        items=new.index,
    )
    scored = bayesirt.score_new(bank, answers)
    assert scored["theta_lo"].item() < 1.2 < scored["theta_hi"].item()

    chosen = select_items(bank, method="fisher", budget=5)
    assert set(chosen.items) <= set(new.index)

    run = simulate_adaptive_test(
        bank, [-1.0, 1.5], stopper=SdOrBudgetStopper(target_sd=0.45, max_items=100), seed=9
    )
    assert (run.summary["stopped"] == "sd").all()
    assert run.summary["theta_mean"].iloc[0] < run.summary["theta_mean"].iloc[1]


def test_include_fitted_puts_calibrated_items_first(fit):
    new = _new_features(4, seed=10)
    bank = predict_items(fit, new, include_fitted=True)
    items = list(bank.posterior["item"].values)
    assert items == list(fit.posterior["item"].values) + list(new.index)
    np.testing.assert_array_equal(
        bank.posterior["b"].sel(item=fit.posterior["item"].values), fit.posterior["b"]
    )
    assert list(bank.predictions["item"].values) == list(new.index)


def test_errors_name_the_bad_input(fit):
    new = _new_features(3, seed=11)
    with pytest.raises(ValueError, match="'q0'"):
        predict_items(fit, new.rename(index={"new0": "q0"}))
    with pytest.raises(ValueError, match="missing \\['steps'\\], unexpected \\['depth'\\]"):
        predict_items(fit, new.rename(columns={"steps": "depth"}))
    with pytest.raises(ValueError, match="fitted order"):
        predict_items(fit, new[["steps", "len"]])
    bad = new.copy()
    bad.loc["new1", "len"] = np.nan
    with pytest.raises(ValueError, match=r"'len'.*'new1'"):
        predict_items(fit, bad)
    with pytest.raises(ValueError, match="interval"):
        predict_items(fit, new, interval=1.0)
    plain = fit.copy()
    plain.attrs["bayesirt_config"] = '{"model": "2pl"}'
    with pytest.raises(ValueError, match=r"'2pl-explanatory'.*'2pl'"):
        predict_items(plain, new)


# ------------------------------------------------- the effects of a benchmark nobody fitted
#: Four benchmark sample means (logit scale), like metabench's intercepts, their items and
#: the residual sd of the items.
LEVELS, SIZES, RESIDUAL = np.array([0.7, -0.05, 0.7, -0.25]), np.array([100, 249, 102, 136]), 1.0
LEVEL_PRIORS = {
    "mu_intercept": Prior("Normal", mu=0.0, sigma=2.0),
    "tau_intercept": Prior("HalfNormal", sigma=1.0),
    "tau_a_contrast": Prior("HalfNormal", sigma=0.5),
}


def _pooled_posterior(levels: np.ndarray, contrasts: np.ndarray) -> xr.Dataset:
    """The variables of a pooled explanatory MIRT that a new benchmark's effects depend on:
    ``levels`` (chain, draw, benchmark) sample means of the intercepts, ``contrasts``
    (chain, draw, benchmark, contrast) the contrasts' benchmark effects."""
    codes = np.repeat(np.arange(len(SIZES)), SIZES)
    return xr.Dataset(
        {
            "intercept_mean": (("chain", "draw", "benchmark"), levels),
            "sigma_intercept": (("chain", "draw"), np.full(levels.shape[:2], RESIDUAL)),
            "mu_a_contrast_group": (("chain", "draw", "benchmark", "contrast"), contrasts),
            "item_benchmark": (("item",), codes),
        }
    )


_POOLED = SimpleNamespace(priors=LEVEL_PRIORS, pool_by="benchmark")


def _by_importance(levels: np.ndarray, noise: np.ndarray, mu_prior, tau_sd, n=2_000_000):
    """Draws of a new benchmark's effect μ + τu given the effects ``levels``, by weighting
    2,000,000 prior draws of (μ, τ) by their likelihood and resampling (``mu_prior`` None:
    μ = 0)."""
    rng = np.random.default_rng(7)
    tau = np.abs(rng.normal(0.0, tau_sd, n))
    mu = np.zeros(n) if mu_prior is None else rng.normal(*mu_prior, n)
    v = tau[:, None] ** 2 + noise
    log_w = -0.5 * (np.log(v) + (levels - mu[:, None]) ** 2 / v).sum(axis=1)
    w = np.exp(log_w - log_w.max())
    pick = rng.choice(n, size=200_000, p=w / w.sum())
    return mu[pick] + tau[pick] * rng.standard_normal(len(pick))


def test_a_new_benchmark_effect_follows_its_exact_predictive():
    """The effect of a benchmark nobody fitted, drawn with (μ, τ) from their conditional
    posterior given the fitted benchmarks' effects, against the same predictive by importance
    sampling from the priors: quantiles agree, for the intercept (μ integrated out) and the
    contrasts (μ = 0). Four benchmarks say little about τ, and the predictive's tails are
    far wider than the normal at the scale's best value."""
    shape = (4, 2000)
    contrast = np.array([[0.3, -0.2], [-0.4, 0.1], [0.05, 0.5], [0.2, -0.3]])
    post = _pooled_posterior(
        np.broadcast_to(LEVELS, (*shape, 4)).copy(),
        np.broadcast_to(contrast, (*shape, 4, 2)).copy(),
    )
    rng = np.random.default_rng(0)
    q = [0.05, 0.25, 0.5, 0.75, 0.95]
    cases = [
        ("intercept", LEVELS, RESIDUAL**2 / SIZES, (0.0, 2.0), 1.0),
        ("a_contrast", contrast.ravel(), np.zeros(8), None, 0.5),
    ]
    exact = {}
    for key, levels, noise, mu_prior, tau_sd in cases:
        drawn = _new_benchmark_effects(_POOLED, post, key, (1, 1), rng).ravel()
        exact[key] = _by_importance(levels, noise, mu_prior, tau_sd)
        print(key, np.quantile(drawn, q).round(3), np.quantile(exact[key], q).round(3))
        np.testing.assert_allclose(np.quantile(drawn, q), np.quantile(exact[key], q), atol=0.06)
    # plugging in the scale's best value (the sd of the four levels) is far narrower
    plug_in = LEVELS.mean() + 1.645 * LEVELS.std(ddof=1) * np.sqrt(1 + 1 / 4)
    print(f"plug-in 95% quantile {plug_in:.3f}")
    assert np.quantile(exact["intercept"], 0.95) > plug_in + 0.3


def test_a_new_benchmark_effect_covers_at_the_nominal_rate():
    """Benchmark levels drawn from the model's priors, 300 leaderboards of four benchmarks
    each (one per chain): the central 90% of the drawn effects of a fifth benchmark covers its
    true level in 0.9 of them."""
    n_boards, n_draws = 300, 60
    rng = np.random.default_rng(1)
    mu, tau = rng.normal(0.0, 2.0, n_boards), np.abs(rng.normal(0.0, 1.0, n_boards))
    noise = RESIDUAL / np.sqrt(SIZES)
    levels = mu[:, None] + np.sqrt(tau[:, None] ** 2 + noise**2) * rng.standard_normal(
        (n_boards, 4)
    )
    new_level = mu + tau * rng.standard_normal(n_boards)
    post = _pooled_posterior(
        np.repeat(levels[:, None, :], n_draws, axis=1), np.zeros((n_boards, n_draws, 4, 1))
    )
    drawn = _new_benchmark_effects(_POOLED, post, "intercept", (1, 50), rng)
    drawn = drawn.reshape(n_boards, -1)
    lo, hi = np.quantile(drawn, [0.05, 0.95], axis=1)
    covered = np.mean((lo <= new_level) & (new_level <= hi))
    print(f"\ncovered {covered:.3f}")
    assert 0.86 <= covered <= 0.94
