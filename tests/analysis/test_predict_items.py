"""predict_items on fake explanatory fits (no sampler): the predictive distribution against
its formula, interval coverage, errors, and the bank in the analyses."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import bayesirt
from bayesirt.analysis import predict_items, select_items, simulate_adaptive_test
from bayesirt.data import Responses
from bayesirt.models import ExplanatoryTwoPL
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
