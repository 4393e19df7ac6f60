"""bayesirt.compare: PSIS-LOO by response and by item, Pareto-k warnings, model choice.

The unit tests use fake fits (:func:`bayesirt.testing.fake_fit`) whose pointwise
log-likelihood is known, so the expected elpd can be written down; the model-choice check of
issue 5 fits 2PL, testlet and multidimensional models by NUTS to data simulated from each
(``slow``).
"""

from __future__ import annotations

import sys
import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr
from scipy.special import log_expit

import bayesirt
from bayesirt.analysis import compare
from bayesirt.analysis.compare import ParetoKWarning
from bayesirt.inference import ConvergenceWarning
from bayesirt.testing import complete_responses, fake_fit


@pytest.fixture(scope="module")
def responses():
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=(6, 5)) < 0.6).astype(float)
    y[0, 1] = np.nan  # a missing cell stays missing: 29 observations
    return complete_responses(y)


def _fake_fit(responses, loglik, *, seed=0, posterior=None):
    """A 2PL fit of ``responses`` whose stored log-likelihood is ``loglik`` (chain, draw, obs);
    with ``loglik`` None it has none. The draws are ``posterior`` (theta, a, b) or random."""
    stored = False if loglik is None else loglik
    return fake_fit(responses, log_likelihood=stored, seed=seed, **(posterior or {}))


def test_elpd_is_the_log_likelihood_when_the_posterior_is_sharp(responses):
    """With (almost) no posterior spread, leaving one unit out changes nothing: elpd_loo is the
    sum of the pointwise log-likelihoods, by response and by item."""
    rng = np.random.default_rng(1)
    n = responses.n_observed
    better = np.log(rng.uniform(0.5, 0.9, size=n))
    worse = better - 0.1
    fits = {
        name: _fake_fit(responses, base + 1e-6 * rng.normal(size=(2, 200, n)), seed=k)
        for k, (name, base) in enumerate((("worse", worse), ("better", better)))
    }
    for unit in ("response", "item"):
        table = compare(fits, unit=unit)
        assert list(table.index) == ["better", "worse"]
        assert table.loc["better", "elpd_loo"] == pytest.approx(better.sum(), abs=1e-3)
        assert table.loc["worse", "elpd_diff"] == pytest.approx(0.1 * n, abs=1e-3)
        assert table.loc["better", "p_loo"] == pytest.approx(0.0, abs=1e-3)
        expected_units = n if unit == "response" else responses.n_items
        assert (table["n_units"] == expected_units).all() and (table["unit"] == unit).all()


@pytest.mark.filterwarnings("ignore::bayesirt.analysis.compare.ParetoKWarning")
def test_item_level_loo_sums_each_items_answers(responses):
    rng = np.random.default_rng(2)
    n = responses.n_observed
    loglik = -rng.gamma(2.0, 0.3, size=(2, 300, n))
    fits = {"a": _fake_fit(responses, loglik), "b": _fake_fit(responses, loglik * 1.1, seed=1)}
    table = compare(fits, unit="item")
    per_item = np.zeros((2, 300, responses.n_items))
    for k, item in enumerate(responses.item_index):  # by hand, one answer at a time
        per_item[:, :, item] += loglik[:, :, k]
    by_item = xr.Dataset({"y": (("chain", "draw", "item"), per_item)})
    reference = az.loo(
        az.InferenceData(posterior=fits["a"].posterior, log_likelihood=by_item), pointwise=True
    )
    assert table.loc["a", "elpd_loo"] == pytest.approx(reference.elpd_loo, rel=1e-12)
    np.testing.assert_allclose(table.attrs["loo"]["a"].pareto_k, reference.pareto_k)


@pytest.mark.filterwarnings("ignore::bayesirt.analysis.compare.ParetoKWarning")
@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto")
def test_loo_in_blocks_equals_arviz_in_one_pass(responses, monkeypatch):
    """Smoothing a block of units at a time (a few responses per block here) gives ArviZ's
    one-pass PSIS-LOO: every pointwise elpd, Pareto k, p_loo and the standard error."""
    rng = np.random.default_rng(4)
    loglik = -rng.gamma(2.0, 0.3, size=(2, 300, responses.n_observed))
    fit = _fake_fit(responses, loglik)
    # the module (``bayesirt.analysis.compare`` names the function)
    monkeypatch.setattr(sys.modules["bayesirt.analysis.compare"], "LOO_BLOCK_VALUES", 600 * 4)
    table = compare({"a": fit, "b": _fake_fit(responses, loglik * 1.1, seed=1)})
    ours, reference = table.attrs["loo"]["a"], az.loo(fit, pointwise=True)
    for key in ("elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "good_k"):
        assert ours[key] == pytest.approx(reference[key], rel=1e-12), key
    np.testing.assert_allclose(ours.loo_i, reference.loo_i, rtol=1e-12)
    np.testing.assert_allclose(ours.pareto_k, reference.pareto_k, rtol=1e-12)


def test_pareto_k_warning_names_the_bad_unit(responses):
    rng = np.random.default_rng(3)
    n = responses.n_observed
    loglik = -0.7 + 0.05 * rng.normal(size=(2, 400, n))
    bad = 7  # one draw makes this answer nearly impossible: a heavy importance-ratio tail
    loglik[0, :20, bad] = -np.linspace(40, 20, 20)
    fits = {"heavy": _fake_fit(responses, loglik), "plain": _fake_fit(responses, loglik * 0.9)}
    subject, item = responses.subject_index[bad], responses.item_index[bad]
    label = f"{responses.subjects[subject]}|{responses.items[item]}"
    with pytest.warns(ParetoKWarning, match=f"heavy: 1 of {n} responses .*{label}"):
        table = compare(fits)
    assert table.loc["heavy", "n_bad_k"] == 1
    assert table.loc["heavy", "bad_k_units"] == label
    assert table.loc["heavy", "max_k"] > table.loc["heavy", "k_threshold"]


def test_bad_calls_name_the_problem(responses):
    loglik = -np.ones((2, 50, responses.n_observed))
    fit = _fake_fit(responses, loglik)
    with pytest.raises(ValueError, match="unknown unit 'subject'"):
        compare({"a": fit, "b": fit}, unit="subject")
    with pytest.raises(ValueError, match="at least two"):
        compare({"a": fit})
    other = complete_responses(np.ones((6, 5)))
    with pytest.raises(ValueError, match="fits 'b' were made on other responses than 'a'"):
        compare({"a": fit, "b": _fake_fit(other, -np.ones((2, 50, 30)))})


@pytest.mark.filterwarnings("ignore::bayesirt.analysis.compare.ParetoKWarning")
def test_log_likelihood_is_computed_when_not_stored(responses):
    """A fit without a log_likelihood group gets it from its model's pointwise function: the
    2PL at these draws, written out by hand here."""
    rng = np.random.default_rng(4)
    theta = rng.normal(size=(2, 100, 6))
    a = np.exp(rng.normal(0, 0.2, size=(2, 100, 5)))
    b = rng.normal(size=(2, 100, 5))
    posterior = {"theta": theta, "a": a, "b": b}
    s, i, y = responses.subject_index, responses.item_index, responses.response
    z = a[:, :, i] * (theta[:, :, s] - b[:, :, i])
    by_hand = np.where(y == 1, log_expit(z), log_expit(-z))
    computed = _fake_fit(responses, None, posterior=posterior)
    stored = _fake_fit(responses, by_hand, posterior=posterior)
    reference = _fake_fit(responses, by_hand - 0.2, seed=5)
    for unit in ("response", "item"):
        one = compare({"fit": computed, "ref": reference}, unit=unit)
        two = compare({"fit": stored, "ref": reference}, unit=unit)
        assert one.loc["fit", "elpd_loo"] == pytest.approx(two.loc["fit", "elpd_loo"], rel=1e-12)


# ------------------------------------------------------------------ model choice (slow)
NUTS = {"draws": 300, "tune": 300, "chains": 2, "progressbar": False}

#: Data sets of the model-choice check: generating model → simulate_responses options.
GENERATING = {
    "2pl": {"model": "2pl", "n_categories": 4},
    "testlet": {"model": "2pl", "n_categories": 4, "clusters": 8, "cluster_size": 25},
    "mirt": {"model": "mirt", "n_categories": 4, "n_traits": 2, "cross_loading": 1.0},
}


@pytest.mark.slow
@pytest.mark.parametrize("truth", list(GENERATING))
def test_loo_prefers_the_generating_model(truth):
    """Done when: data from the 2PL, a testlet model and a 2-trait model, each fitted with
    all three; LOO (by response) prefers the generating model. The testlet model's clusters
    are the planted ones where there are any, else the (random) categories; the 2-trait data
    load on both traits with random weights, so no clustering of the items mimics them.

    The testlet and 2-trait data must be won outright, by more than two standard errors of
    the difference. On 2PL data the other two models contain the 2PL (σ_k → 0, a second
    trait with no loadings), so LOO can only tell them apart by their small extra variance:
    there no model may beat the 2PL by more than two standard errors."""
    responses, _ = bayesirt.simulate_responses(40, 200, seed=61, **GENERATING[truth])
    clusters = "cluster" if "clusters" in GENERATING[truth] else "category"
    options = {"2pl": {}, "testlet": {"cluster_by": clusters}, "mirt": {"n_traits": 2}}
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, extra in options.items():
            model = bayesirt.models.get_model(name)(responses, **extra)
            fits[name] = bayesirt.inference.fit_model(
                model, random_seed=7, log_likelihood=True, **NUTS
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParetoKWarning)
        by_response = compare(fits, unit="response")
        by_item = compare(fits, unit="item")
    for table in (by_response, by_item):
        print(f"\ntruth {truth}\n", table[["elpd_loo", "elpd_diff", "dse", "n_bad_k"]].round(1))
    behind = by_response.loc[truth, "elpd_diff"]
    assert behind <= 2 * by_response.loc[truth, "dse"], by_response
    if truth != "2pl":
        assert by_response.index[0] == truth
        runner_up = by_response.iloc[1]
        assert runner_up["elpd_diff"] > 2 * runner_up["dse"], by_response
