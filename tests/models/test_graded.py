"""The graded response model: its likelihood against the direct formula, its gradient against
finite differences, recovery of a simulated truth, and mirt's and ltm's published estimates."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import bayesirt
from bayesirt import Responses
from bayesirt.data.simulate import simulate_graded
from bayesirt.inference import fit
from bayesirt.models import GradedResponse, get_model
from bayesirt.reports import build_report

NUTS = {"draws": 1000, "tune": 500, "chains": 2, "progressbar": False}


@pytest.fixture(scope="module")
def mixed():
    """Items with 2, 3 and 5 score levels, 10% of the cells missing."""
    levels = [2, 3, 5] * 4
    return simulate_graded(60, len(levels), n_levels=levels, seed=3, missing_fraction=0.1)


def _direct_gpcm(responses, theta, a, intercepts):
    """sum log softmax_k(k a theta + d_k) at the observed k, written out."""
    total = 0.0
    for s, i, y in zip(
        responses.subject_index, responses.item_index, responses.response, strict=True
    ):
        k = responses.n_categories[i]
        eta = np.arange(k) * a[i] * theta[s] + np.concatenate([[0.0], intercepts[i, : k - 1]])
        total += eta[y] - np.log(np.sum(np.exp(eta)))
    return total


def _direct_grm(responses, theta, a, intercepts):
    """sum log(P(y >= k) - P(y >= k + 1)), written out (as P(y < k + 1) - P(y < k) where
    both logits are positive, so that neither difference loses its digits)."""
    total = 0.0
    for s, i, y in zip(
        responses.subject_index, responses.item_index, responses.response, strict=True
    ):
        k = responses.n_categories[i]
        logits = [np.inf, *(a[i] * theta[s] + intercepts[i, : k - 1]), -np.inf]
        upper, lower = logits[y], logits[y + 1]
        if lower > 0:
            total += np.log(expit(-lower) - expit(-upper))
        else:
            total += np.log(expit(upper) - expit(lower))
    return total


def _at_point(model, names):
    """A function of a point of ``model`` (values of its value variables) returning the
    model variables ``names`` there."""
    outputs = model.replace_rvs_by_values([model[n] for n in names])
    return model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")


DIRECT = {"grm": _direct_grm, "gpcm": _direct_gpcm}


@pytest.mark.parametrize("name", ["grm", "gpcm"])
def test_likelihood_is_the_model_formula(mixed, name):
    responses, _ = mixed
    model = get_model(name)(responses).build_model()
    rng = np.random.default_rng(0)
    evaluate = _at_point(model, ["loglik", "theta", "a", "intercepts"])
    for shift in (0.0, 0.3):
        point = {
            k: v + shift * rng.normal(size=np.shape(v)) for k, v in model.initial_point().items()
        }
        loglik, theta, a, d = evaluate(point)
        assert loglik == pytest.approx(DIRECT[name](responses, theta, a, d), rel=1e-10)
    # padded intercepts are NaN; the graded model's real ones strictly decrease
    k = responses.n_categories
    assert np.all(np.isnan(d) == (np.arange(d.shape[1])[None, :] >= (k - 1)[:, None]))
    if name == "grm":
        assert all(np.all(np.diff(row[: n - 1]) < 0) for row, n in zip(d, k, strict=True))


@pytest.mark.parametrize("name", ["grm", "gpcm"])
def test_gradient_matches_finite_differences(mixed, name):
    responses, _ = mixed
    model = get_model(name)(responses).build_model()
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(1)
    point = {k: v + 0.2 * rng.normal(size=np.shape(v)) for k, v in model.initial_point().items()}
    gradient = dlogp(point)
    flat = np.concatenate([np.ravel(point[v.name]) for v in model.value_vars])
    sizes = [np.size(point[v.name]) for v in model.value_vars]

    def at(x):
        parts = np.split(x, np.cumsum(sizes)[:-1])
        return logp(
            {
                v.name: p.reshape(np.shape(point[v.name]))
                for v, p in zip(model.value_vars, parts, strict=True)
            }
        )

    for index in rng.choice(flat.size, size=25, replace=False):
        step = np.zeros_like(flat)
        step[index] = 1e-6
        numeric = (at(flat + step) - at(flat - step)) / 2e-6
        assert gradient[index] == pytest.approx(numeric, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("name", ["grm", "gpcm"])
def test_two_levels_is_the_two_pl(name):
    binary, _ = bayesirt.simulate_responses(30, 8, seed=4)
    wide = binary.to_wide()
    ordinal = Responses.from_wide(wide.reset_index(), subject="subject", response_type="ordinal")
    grm = get_model(name)(ordinal).build_model()
    two_pl = get_model("2pl")(binary).build_model()
    # the 2PL's point; what the 2PL does not have (the partial credit model's step spread
    # and deviations, which are zero with two categories) from the ordinal model's own
    point = two_pl.initial_point()
    own = {key: point.get(key, value) for key, value in grm.initial_point().items()}
    (grm_loglik,) = _at_point(grm, ["loglik"])(own)
    (two_pl_loglik,) = _at_point(two_pl, ["loglik"])(point)
    assert grm_loglik == pytest.approx(two_pl_loglik, rel=1e-12)


def test_models_refuse_the_other_kind_of_responses(mixed):
    binary, _ = bayesirt.simulate_responses(20, 5, seed=1)
    with pytest.raises(ValueError, match="grm model is for ordinal responses, got binary"):
        GradedResponse(binary)
    with pytest.raises(
        ValueError, match=r"2pl model is for binary or binomial responses.*graded model 'grm'"
    ):
        get_model("2pl")(mixed[0])


def _standardised(truth):
    """The truth on the fit's scale, abilities of mean 0 and sd 1: theta = m + s theta*, so
    a* = a s and the intercept of category k gains a m (graded) or k a m (partial credit),
    the multiple of theta in its logit."""
    theta = truth["theta"].values
    m, s = theta.mean(), theta.std()
    a = truth["a"].values
    intercepts = truth["intercepts"].values
    multiple = 1.0 if truth.attrs["model"] == "grm" else np.arange(1, intercepts.shape[1] + 1)
    return (theta - m) / s, a * s, intercepts + a[:, None] * m * multiple


def _coverage(draws, truth, level=0.9):
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    keep = ~np.isnan(truth)
    return float(np.mean((truth[keep] >= lo[keep]) & (truth[keep] <= hi[keep])))


@pytest.mark.parametrize("name", ["grm", pytest.param("gpcm", marks=pytest.mark.slow)])
def test_recovers_a_simulated_truth(name):
    levels = [3, 4, 5, 4] * 10
    # the first seed from 11 at which every level of every item was drawn (a level never
    # drawn is collapsed, as in real data, and the truth would have a threshold too many)
    responses, truth = next(
        drawn
        for seed in range(11, 60)
        if np.all(
            (drawn := simulate_graded(150, 40, n_levels=levels, model=name, seed=seed))[
                0
            ].n_categories
            == levels
        )
    )
    idata = fit(responses, model=name, random_seed=2, progressbar=False)  # until converged
    post = idata.posterior.stack(sample=("chain", "draw"))
    theta, a, intercepts = _standardised(truth)
    theta_draws = post["theta"].transpose("sample", ...).values
    assert np.corrcoef(theta_draws.mean(0), theta)[0, 1] >= 0.95
    assert 0.8 <= _coverage(theta_draws, theta) <= 0.97
    # the item parameters together (40 slopes and 120 intercepts)
    items = np.concatenate(
        [
            post["a"].transpose("sample", ...).values[:, :, None],
            post["intercepts"].transpose("sample", ...).values,
        ],
        axis=2,
    )
    truth_items = np.concatenate([a[:, None], intercepts], axis=1)
    assert 0.8 <= _coverage(items, truth_items) <= 0.97
    assert bayesirt.inference.io.fit_diagnostics(idata)["converged"]


def _classic(shared_data, name):
    wide = pd.read_csv(shared_data / "classic-irt" / f"{name}_wide.csv")
    return Responses.from_wide(wide, subject="subject", response_type="ordinal")


def _within_sd(draws, reference, n_sd=2.0):
    z = (draws.mean(0) - reference) / draws.std(0)
    assert np.all(np.abs(z) <= n_sd), f"posterior mean is {z.round(2)} sd from the reference"


@pytest.fixture(scope="module")
def references(shared_data):
    return json.loads((shared_data / "classic-irt" / "reference_estimates.json").read_text())


@pytest.fixture(scope="module")
def science_fit(shared_data):
    """The default fit (sampled until it passes the convergence check)."""
    idata = fit(_classic(shared_data, "science"), model="grm", random_seed=5, progressbar=False)
    assert bayesirt.inference.io.fit_diagnostics(idata)["converged"]
    return idata


def test_science_matches_mirt_graded(science_fit, references):
    reference = references["science_mirt"]["mirt_graded"]
    post = science_fit.posterior.stack(sample=("chain", "draw"))
    _within_sd(post["a"].transpose("sample", ...).values, np.array(reference["a"]))
    _within_sd(post["intercepts"].transpose("sample", ...).values, np.array(reference["d"]))


def test_environment_matches_ltm_grm(shared_data, references):
    reference = references["environment_ltm"]["ltm_grm"]
    idata = fit(_classic(shared_data, "environment"), model="grm", random_seed=5, **NUTS)
    post = idata.posterior.stack(sample=("chain", "draw"))
    a = post["a"].transpose("sample", ...).values
    _within_sd(a, np.array(reference["a"]))
    thresholds = -post["intercepts"].transpose("sample", ...).values / a[:, :, None]
    _within_sd(thresholds, np.array(reference["b"]))


def test_analyses_of_a_graded_fit(science_fit, shared_data, tmp_path):
    """Summaries give mirt's intercepts per item, the ranking works by ability and by expected
    score on [0, 1], and the analyses of binary answers refuse the fit by name."""
    summary = bayesirt.summarize_fit(science_fit)
    item = summary["items"][0]
    d = science_fit.posterior["intercepts"].isel(item=0)
    np.testing.assert_allclose(item["d_mean"], d.mean(("chain", "draw")).values)
    assert len(item["d_sd"]) == 3
    by_score = bayesirt.rank(science_fit, by="score")
    score = by_score["estimate"].values
    assert np.all((score > 0) & (score < 1))
    accuracy = by_score["accuracy"].values
    assert np.nanmax(accuracy) <= 1.0 and np.nanmin(accuracy) >= 0.0
    by_theta = bayesirt.rank(science_fit)
    assert (by_theta["mean_rank"].values > 0).all()
    with pytest.raises(ValueError, match="posterior predictive check needs binary"):
        bayesirt.ppc(science_fit, n_draws=10)
    with pytest.raises(ValueError, match="scoring new subjects needs binary"):
        bayesirt.score_new(science_fit, _new_subjects(shared_data))
    html = build_report(science_fit, out=tmp_path / "r.html", progress=False)
    assert "Posterior predictive checks is not available for this fit" in html


def _new_subjects(shared_data):
    """Two rows of the Science table under new subject labels."""
    wide = pd.read_csv(shared_data / "classic-irt" / "science_wide.csv").head(2)
    wide["subject"] = ["new_1", "new_2"]
    return Responses.from_wide(wide, subject="subject", response_type="ordinal")
