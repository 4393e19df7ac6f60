"""score_new: grid posteriors against direct integration, coverage, ranks, errors."""

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.special import expit

import bayesirt
from bayesirt.analysis import score_new
from bayesirt.testing import complete_responses, fake_fit

A = np.array([1.2, 0.8, 2.0, 1.0, 0.5])
B = np.array([-1.0, 0.0, 0.5, 1.5, -0.3])
ITEMS = [f"i{i}" for i in range(5)]


def _fit(a, b, *, c=None, d=None, n_fitted=3, seed=0):
    """A fit of ``n_fitted`` subjects whose item draws are ``a``, ``b`` (chain, draw, item)."""
    n_chain, n_draw, n_items = a.shape
    theta = np.random.default_rng(seed).normal(size=(n_chain, n_draw, n_fitted))
    responses = complete_responses(np.ones((n_fitted, n_items)))
    return fake_fit(responses, theta=theta, a=a, b=b, c=c, d=d)


def _direct(y, a, b, c=0.0, d=1.0):
    """Posterior mean, sd and 5% quantile of θ by adaptive quadrature."""

    def density(t):
        p = c + (d - c) * expit(a * (t - b))
        return np.exp(-0.5 * t * t) * np.prod(np.where(y == 1, p, 1 - p))

    norm = integrate.quad(density, -12, 12)[0]
    mean = integrate.quad(lambda t: t * density(t), -12, 12)[0] / norm
    var = integrate.quad(lambda t: (t - mean) ** 2 * density(t), -12, 12)[0] / norm
    q05 = optimize.brentq(lambda x: integrate.quad(density, -12, x)[0] / norm - 0.05, -8, 8)
    return mean, np.sqrt(var), q05


def test_grid_posterior_matches_direct_integration_for_one_draw():
    y = np.array([1, 1, 0, 1, 0])
    idata = _fit(A[None, None], B[None, None])
    result = score_new(idata, complete_responses(y[None], subjects=["new"], items=ITEMS))
    mean, sd, q05 = _direct(y, A, B)
    assert result["theta_mean"].item() == pytest.approx(mean, abs=1e-6)
    assert result["theta_sd"].item() == pytest.approx(sd, abs=2e-3)
    assert result["theta_lo"].item() == pytest.approx(q05, abs=5e-3)


def test_a_perfect_score_far_above_the_items_is_not_cut_off():
    # every item right and steep items far up: the posterior lies near θ = 7.5, where only
    # the prior holds it (a range of ±6 cut it off at 6). The density there is ~1e-13, too
    # small for quad's tolerance, so the reference integrates its log shifted to its maximum
    a, b, y = 3 * A, B + 7.0, np.ones(5)
    grid = np.linspace(-15, 15, 300_001)
    log_density = -0.5 * grid**2 + np.log(expit(a * (grid[:, None] - b))).sum(axis=1)
    weight = np.exp(log_density - log_density.max())
    mean = (grid * weight).sum() / weight.sum()
    sd = np.sqrt(((grid - mean) ** 2 * weight).sum() / weight.sum())
    new = complete_responses(y[None], subjects=["new"], items=ITEMS)
    result = score_new(_fit(a[None, None], b[None, None]), new)
    assert mean > 7
    assert result["theta_mean"].item() == pytest.approx(mean, abs=1e-3)
    assert result["theta_sd"].item() == pytest.approx(sd, abs=2e-3)


def test_grid_posterior_with_asymptotes():
    y = np.array([0, 1, 1, 1, 0])
    c, d = np.array([0.2, 0.0, 0.25, 0.1, 0.0]), np.array([1.0, 0.9, 0.95, 1.0, 0.85])
    idata = _fit(A[None, None], B[None, None], c=c[None, None], d=d[None, None])
    result = score_new(idata, complete_responses(y[None], subjects=["new"], items=ITEMS))
    mean, _, _ = _direct(y, A, B, c, d)
    assert result["theta_mean"].item() == pytest.approx(mean, abs=1e-6)


def test_item_uncertainty_is_integrated_not_plugged_in():
    # two equally likely item-parameter draws: the posterior is their mixture
    shift = np.array([-0.8, 0.8])[:, None]
    a = np.stack([A, 2 * A])[None]
    b = (B + shift)[None]
    y = np.array([1, 0, 1, 1, 0])
    result = score_new(_fit(a, b), complete_responses(y[None], subjects=["new"], items=ITEMS))
    per_draw = [_direct(y, a[0, s], b[0, s])[0] for s in range(2)]
    assert result["theta_mean"].item() == pytest.approx(np.mean(per_draw), abs=1e-6)
    plug_in = _direct(y, a[0].mean(0), b[0].mean(0))[0]
    assert abs(result["theta_mean"].item() - plug_in) > 0.01


def test_subset_of_items_in_any_order():
    # answers to i3 and i1 only, listed in that order
    y = np.array([[1.0, 0.0]])
    responses = complete_responses(y, subjects=["new"], items=["i3", "i1"])
    result = score_new(_fit(A[None, None], B[None, None]), responses)
    mean, _, _ = _direct(np.array([1, 0]), A[[3, 1]], B[[3, 1]])
    assert result["theta_mean"].item() == pytest.approx(mean, abs=1e-6)


def test_subject_without_responses_gets_the_prior():
    y = np.array([[1, 0, 1, 1, 0], [np.nan] * 5])
    responses = complete_responses(y, subjects=["new", "blank"], items=ITEMS)
    result = score_new(_fit(A[None, None], B[None, None]), responses).sel(subject="blank")
    assert result["theta_mean"].item() == pytest.approx(0.0, abs=1e-6)
    assert result["theta_sd"].item() == pytest.approx(1.0, abs=5e-3)
    assert result["theta_hi"].item() == pytest.approx(1.645, abs=0.01)


def test_coverage_of_held_out_subjects():
    """True θ in the 90% interval for about 90% of simulated new subjects."""
    rng = np.random.default_rng(2024)
    n_items, n_new, shape = 25, 150, (2, 20)
    a = np.exp(rng.normal(0.0, 0.3, n_items))
    b = rng.normal(size=n_items)
    a_draws = a * np.exp(0.03 * rng.normal(size=(*shape, n_items)))
    b_draws = b + 0.03 * rng.normal(size=(*shape, n_items))
    idata = _fit(a_draws, b_draws, n_fitted=10)
    true_theta = rng.normal(size=n_new)
    y = (rng.random((n_new, n_items)) < expit(a * (true_theta[:, None] - b))).astype(float)
    y[rng.random(y.shape) < 0.2] = np.nan  # each new subject skips some items
    labels = [f"new{j}" for j in range(n_new)]
    result = score_new(idata, complete_responses(y, subjects=labels, items=idata.posterior.item))
    inside = (result["theta_lo"].values <= true_theta) & (true_theta <= result["theta_hi"].values)
    assert 0.8 <= inside.mean() <= 0.97
    # the draws follow the grid posterior: standardised draw means are about N(0, 1)
    draws = result["theta"].values.reshape(-1, n_new)
    z = (draws.mean(0) - result["theta_mean"].values) / (result["theta_sd"].values / 40**0.5)
    assert 0.7 < (z**2).mean() < 1.4
    assert np.std(draws, axis=0).mean() == pytest.approx(float(result["theta_sd"].mean()), rel=0.05)


def test_ranks_against_fitted_subjects_of_the_same_draw():
    rng = np.random.default_rng(5)
    a = np.tile(A, (2, 30, 1))
    b = np.tile(B, (2, 30, 1))
    idata = _fit(a, b, n_fitted=6)
    y = np.array([[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 0, 1, 0, 1]], dtype=float)
    y[2, rng.random(5) < 0.3] = np.nan
    result = score_new(idata, complete_responses(y, subjects=["top", "bottom", "mid"], items=ITEMS))
    assert dict(result.sizes) == {"chain": 2, "draw": 30, "subject": 3, "rank": 7}
    fitted = idata.posterior["theta"].values
    theta = result["theta"].values
    expected = 1 + (fitted[..., None, :] > theta[..., None]).sum(-1)
    np.testing.assert_array_equal(result["rank_draws"].values, expected)
    p = result["p_rank"].values
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(result["rank_mean"].values, p @ np.arange(1, 8))
    assert result["rank_mean"].sel(subject="top") < result["rank_mean"].sel(subject="bottom")
    lo, med, hi = (result[v].values for v in ("rank_lo", "rank_median", "rank_hi"))
    assert ((1 <= lo) & (lo <= med) & (med <= hi) & (hi <= 7)).all()
    assert result.attrs["n_fitted_subjects"] == 6


def test_seeded():
    idata = _fit(np.tile(A, (1, 8, 1)), np.tile(B, (1, 8, 1)))
    responses = complete_responses(np.array([[1, 0, 1, 1, 0]]), subjects=["new"], items=ITEMS)
    first = score_new(idata, responses, random_seed=3)
    again = score_new(idata, responses, random_seed=3)
    other = score_new(idata, responses, random_seed=4)
    np.testing.assert_array_equal(first["theta"].values, again["theta"].values)
    assert not np.array_equal(first["theta"].values, other["theta"].values)
    np.testing.assert_array_equal(first["theta_mean"].values, other["theta_mean"].values)


def test_unknown_items_are_named():
    responses = complete_responses(
        np.array([[1, 0, 1]]), subjects=["new"], items=["i0", "x9", "y7"]
    )
    with pytest.raises(ValueError, match="not in the fitted model: 'x9', 'y7'"):
        score_new(_fit(A[None, None], B[None, None]), responses)


def test_fitted_subjects_are_refused():
    responses = complete_responses(np.array([[1, 0]]), subjects=["s1"], items=["i0", "i1"])
    with pytest.raises(ValueError, match="already in the fit: 's1'"):
        score_new(_fit(A[None, None], B[None, None]), responses)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": 1.0}, "interval must lie"),
        ({"n_nodes": 1}, "n_nodes must be at least 2"),
        ({"bounds": (3.0, -3.0)}, "bounds must be increasing"),
    ],
)
def test_bad_arguments(kwargs, message):
    responses = complete_responses(np.array([[1, 0]]), subjects=["new"], items=["i0", "i1"])
    with pytest.raises(ValueError, match=message):
        score_new(_fit(A[None, None], B[None, None]), responses, **kwargs)


def test_responses_type_is_checked():
    with pytest.raises(TypeError, match="must be a Responses"):
        score_new(_fit(A[None, None], B[None, None]), {"i0": 1})


def test_top_level_export():
    assert bayesirt.score_new is score_new
