"""Binomial responses (k successes in n trials) in the 1PL–4PL: the likelihood is the binomial
one, LOO works per (subject, item) cell, and repeated samples narrow the posterior as the extra
information says they should."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import bayesirt
from bayesirt.inference import fit
from bayesirt.inference.fit import pointwise_log_likelihood
from bayesirt.irt import icc
from bayesirt.models import get_model


@pytest.fixture(scope="module")
def binomial():
    return bayesirt.simulate_responses(30, 25, model="3pl", seed=8, trials=4, missing_fraction=0.1)


def _at_point(model, names):
    outputs = model.replace_rvs_by_values([model[n] for n in names])
    return model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")


@pytest.mark.parametrize("name", ["1pl", "2pl", "3pl", "4pl"])
def test_likelihood_is_binomial(binomial, name):
    responses, _ = binomial
    assert responses.response_type == "binomial"
    model = get_model(name)(responses).build_model()
    names = ["loglik", "theta", "a", "intercept"] + [v for v in ("c", "d") if v in model]
    rng = np.random.default_rng(0)
    point = {k: v + 0.2 * rng.normal(size=np.shape(v)) for k, v in model.initial_point().items()}
    values = dict(zip(names, _at_point(model, names)(point), strict=True))
    s, i = responses.subject_index, responses.item_index
    p = icc(
        values["theta"][s],
        a=values["a"][i],
        b=-values["intercept"][i] / values["a"][i],
        c=values["c"][i] if "c" in values else 0.0,
        d=values["d"][i] if "d" in values else 1.0,
    )
    k, n = responses.response, responses.n_trials
    binomial_logpmf = stats.binom.logpmf(k, n, p)
    log_choose = stats.binom.logpmf(k, n, 0.5) - n * np.log(0.5)  # log C(n, k)
    assert values["loglik"] == pytest.approx(np.sum(binomial_logpmf - log_choose), rel=1e-9)


def test_models_of_other_data_refuse_binomial(binomial):
    with pytest.raises(ValueError, match="testlet model is for binary responses"):
        get_model("testlet")(binomial[0], cluster_by="category")


def test_pointwise_log_likelihood_is_per_cell(binomial):
    responses, _ = binomial
    idata = fit(responses, model="2pl", method="advi", advi_iterations=200, draws=20, chains=1)
    loglik = pointwise_log_likelihood(idata)["y"].values
    post = idata.posterior
    s, i = responses.subject_index, responses.item_index
    theta = post["theta"].values[:, :, s]
    p = icc(theta, a=post["a"].values[:, :, i], b=post["b"].values[:, :, i])
    expected = stats.binom.logpmf(responses.response, responses.n_trials, p)
    assert loglik.shape == expected.shape == (1, 20, responses.n_observed)
    np.testing.assert_allclose(loglik, expected, rtol=1e-6, atol=1e-9)
    # the analyses of single right/wrong answers say they do not apply
    for analysis in (
        lambda: bayesirt.ppc(idata, n_draws=5),
        lambda: bayesirt.score_new(idata, responses),
        lambda: bayesirt.analysis.assess_quality(idata),
    ):
        with pytest.raises(ValueError, match=r"needs binary .* these responses are binomial"):
            analysis()


@pytest.mark.slow
def test_repeated_samples_narrow_the_abilities():
    """Five samples per question against one, same subjects and items: the abilities' posterior
    sd shrinks by about 1/sqrt(5) and the rank intervals narrow."""
    once, truth = bayesirt.simulate_responses(40, 150, seed=21)
    five, truth5 = bayesirt.simulate_responses(40, 150, seed=21, trials=5)
    np.testing.assert_array_equal(truth["theta"].values, truth5["theta"].values)
    fits = [fit(r, model="2pl", random_seed=1, progressbar=False) for r in (once, five)]
    sd_once, sd_five = (float(f.posterior["theta"].std(("chain", "draw")).mean()) for f in fits)
    assert 0.3 < sd_five / sd_once < 0.6  # 1 / sqrt(5) = 0.45
    width = [float((r["rank_hi"] - r["rank_lo"]).mean()) for r in (bayesirt.rank(f) for f in fits)]
    assert width[1] < 0.7 * width[0]
    corr = [
        np.corrcoef(f.posterior["theta"].mean(("chain", "draw")), truth["theta"])[0, 1]
        for f in fits
    ]
    assert corr[1] > corr[0]


def _coverage(draws, truth, level=0.9):
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return float(np.mean((truth >= lo) & (truth <= hi)))


def test_recovers_a_simulated_truth():
    """A 2PL answered five times per question: abilities and items recovered and covered."""
    responses, truth = bayesirt.simulate_responses(50, 80, seed=23, trials=5)
    idata = fit(responses, model="2pl", random_seed=4, progressbar=False)
    assert bayesirt.inference.io.fit_diagnostics(idata)["converged"]
    post = idata.posterior.stack(sample=("chain", "draw"))
    theta = truth["theta"].values
    m, s = theta.mean(), theta.std()
    standard = {"theta": (theta - m) / s, "a": truth["a"].values * s}
    standard["b"] = (truth["b"].values - m) / s
    draws = {k: post[k].transpose("sample", ...).values for k in ("theta", "a")}
    draws["b"] = -(post["intercept"] / post["a"]).transpose("sample", ...).values
    assert np.corrcoef(draws["theta"].mean(0), standard["theta"])[0, 1] >= 0.95
    assert 0.8 <= _coverage(draws["theta"], standard["theta"]) <= 0.97
    items = np.concatenate([draws["a"], draws["b"]], axis=1)
    assert 0.8 <= _coverage(items, np.concatenate([standard["a"], standard["b"]])) <= 0.97
