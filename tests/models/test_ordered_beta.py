"""The ordered beta model of continuous scores: its likelihood against the direct formula
(scipy's beta density), its gradient against finite differences, the pointwise functions
against the model, its expected score against simulation, and recovery of a simulated truth."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats
from scipy.special import expit

import bayesirt
from bayesirt.data.simulate import simulate_scores
from bayesirt.inference import fit
from bayesirt.models import OrderedBeta, get_model


@pytest.fixture(scope="module")
def scores():
    """40 subjects × 12 items, exact 0s and 1s included, 10% of the cells missing."""
    return simulate_scores(40, 12, seed=5, missing_fraction=0.1)


def _direct(responses, theta, a, intercept, phi, cutpoints):
    """sum over the observed scores of log P(0), log P(1), or log P(interior) + the beta
    log-density (scipy), written out score by score."""
    total = 0.0
    low, high = cutpoints
    for s, i, y in zip(
        responses.subject_index, responses.item_index, responses.response, strict=True
    ):
        eta = a[i] * theta[s] + intercept[i]
        if y == 0.0:
            total += np.log(1.0 - expit(eta - low))
        elif y == 1.0:
            total += np.log(expit(eta - high))
        else:
            mu = expit(eta)
            total += np.log(expit(eta - low) - expit(eta - high))
            total += stats.beta.logpdf(y, mu * phi[i], (1.0 - mu) * phi[i])
    return total


def _at_point(model, names):
    outputs = model.replace_rvs_by_values([model[n] for n in names])
    return model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")


def _random_point(model, rng, shift):
    return {k: v + shift * rng.normal(size=np.shape(v)) for k, v in model.initial_point().items()}


def _as_posterior(values: dict) -> xr.Dataset:
    """One draw of one chain, as the pointwise functions read a posterior."""
    dims = {"theta": ("subject",), "a": ("item",), "intercept": ("item",), "phi": ("item",)}
    dims["cutpoints"] = ("cutpoint",)
    return xr.Dataset(
        {k: (("chain", "draw", *dims[k]), np.asarray(v)[None, None]) for k, v in values.items()}
    )


def test_scores_have_both_ends(scores):
    y = scores[0].response
    assert 0.03 < np.mean(y == 0) < 0.3 and 0.03 < np.mean(y == 1) < 0.3


def test_likelihood_is_the_model_formula(scores):
    responses, _ = scores
    model = OrderedBeta(responses).build_model()
    names = ["loglik", "theta", "a", "intercept", "phi", "cutpoints"]
    evaluate = _at_point(model, names)
    rng = np.random.default_rng(0)
    for shift in (0.0, 0.3):
        loglik, *values = evaluate(_random_point(model, rng, shift))
        assert loglik == pytest.approx(_direct(responses, *values), rel=1e-10)
        # the pointwise log-likelihood (LOO) adds up to the same total
        posterior = _as_posterior(dict(zip(names[1:], values, strict=True)))
        pointwise = OrderedBeta.pointwise_log_likelihood(
            posterior, responses.subject_index, responses.item_index, responses.response
        )
        assert pointwise.sum() == pytest.approx(loglik, rel=1e-10)


def test_gradient_matches_finite_differences(scores):
    model = OrderedBeta(scores[0]).build_model()
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(1)
    point = _random_point(model, rng, 0.2)
    gradient = dlogp(point)
    sizes = [np.size(point[v.name]) for v in model.value_vars]
    flat = np.concatenate([np.ravel(point[v.name]) for v in model.value_vars])

    def at(x):
        parts = np.split(x, np.cumsum(sizes)[:-1])
        return logp(
            {
                v.name: p.reshape(np.shape(point[v.name]))
                for v, p in zip(model.value_vars, parts, strict=True)
            }
        )

    # every scalar parameter (cutpoints, hyperparameters) and a sample of the vectors
    scalars = np.flatnonzero(np.repeat(np.array(sizes) == 1, sizes))
    for index in np.concatenate([scalars, rng.choice(flat.size, size=25, replace=False)]):
        step = np.zeros_like(flat)
        step[index] = 1e-6
        numeric = (at(flat + step) - at(flat - step)) / 2e-6
        assert gradient[index] == pytest.approx(numeric, rel=1e-4, abs=1e-5)


def test_expected_score_matches_simulation():
    rng = np.random.default_rng(2)
    values = {
        "theta": np.array([-1.5, 0.0, 1.2]),
        "a": np.array([0.8, 1.6]),
        "intercept": np.array([-0.5, 1.0]),
        "phi": np.array([4.0, 12.0]),
        "cutpoints": np.array([-2.0, 2.5]),
    }
    subject, item = np.repeat(np.arange(3), 2), np.tile(np.arange(2), 3)
    expected = OrderedBeta.observation_probability(_as_posterior(values), subject, item)[0, 0]
    eta = values["a"][item] * values["theta"][subject] + values["intercept"][item]
    n = 200_000
    u = rng.uniform(size=(n, eta.size))
    low, high = values["cutpoints"]
    phi = values["phi"][item]
    inside = rng.beta(expit(eta) * phi, expit(-eta) * phi, size=(n, eta.size))
    draws = np.where(
        u < 1 - expit(eta - low), 0.0, np.where(u > 1 - expit(eta - high), 1.0, inside)
    )
    np.testing.assert_allclose(expected, draws.mean(axis=0), atol=4 * draws.std(0).max() / n**0.5)


def test_models_refuse_the_other_kind_of_responses(scores):
    binary, _ = bayesirt.simulate_responses(20, 5, seed=1)
    with pytest.raises(ValueError, match="beta model is for continuous responses, got binary"):
        OrderedBeta(binary)
    with pytest.raises(ValueError, match=r"2pl model is for .*ordered beta model 'beta'"):
        get_model("2pl")(scores[0])


def _standardised(truth):
    """The truth on the fit's scale (abilities of mean 0 and sd 1): theta = m + s theta*,
    so a* = a s and the intercept gains a m."""
    theta = truth["theta"].values
    m, s = theta.mean(), theta.std()
    a, intercept = truth["a"].values, truth["intercept"].values
    return (theta - m) / s, a * s, intercept + a * m


def _coverage(draws, truth, level=0.9):
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return float(np.mean((truth >= lo) & (truth <= hi)))


def test_recovers_a_simulated_truth():
    responses, truth = simulate_scores(80, 60, seed=7, missing_fraction=0.05)
    idata = fit(responses, model="beta", random_seed=3, progressbar=False)  # until converged
    assert bayesirt.inference.io.fit_diagnostics(idata)["converged"]
    post = idata.posterior.stack(sample=("chain", "draw"))
    theta, a, intercept = _standardised(truth)
    draws = {k: post[k].transpose("sample", ...).values for k in ("theta", "a", "intercept")}
    assert np.corrcoef(draws["theta"].mean(0), theta)[0, 1] >= 0.95
    assert 0.8 <= _coverage(draws["theta"], theta) <= 0.97
    items = np.concatenate([draws["a"], draws["intercept"], np.log(post["phi"].values.T)], axis=1)
    truth_items = np.concatenate([a, intercept, np.log(truth["phi"].values)])
    assert 0.8 <= _coverage(items, truth_items) <= 0.97
    cut = post["cutpoints"].transpose("sample", ...).values
    assert np.all(np.abs(cut.mean(0) - truth["cutpoints"].values) <= 3 * cut.std(0))
    # ranking by expected score follows the abilities
    ranked = bayesirt.rank(idata, by="score")
    true_order = truth["theta"].to_series().sort_values(ascending=False).index
    assert ranked["subject"].values[0] in set(true_order[:3])
