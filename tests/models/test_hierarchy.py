"""The hierarchical item vector of :mod:`bayesirt.models._hierarchy` is the model it states:
in prior draws, its sample means are the items' sample means, the items scatter as
:math:`N(\\mu_{g(i)} + \\ell_i, \\sigma)` around their population means, and those are
:math:`N(\\mu, \\tau)` (pooled) or :math:`N(m_0, s_0)` (one group, integrated)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from bayesirt.models._hierarchy import hierarchical_item_vector
from bayesirt.models.priors import Prior

N_ITEMS, N_GROUPS = 30, 3
PRIORS = {
    "mu_x": Prior("Normal", mu=0.5, sigma=1.5),
    "sigma_x": Prior("HalfNormal", sigma=1.0),
    "tau_x": Prior("HalfNormal", sigma=0.8),
}


def _prior_draws(pooled: bool):
    rng = np.random.default_rng(0)
    codes = np.arange(N_ITEMS) % N_GROUPS
    loc = 2.0 * rng.normal(size=N_ITEMS)  # summing to zero within every group
    loc -= (np.bincount(codes, weights=loc) / np.bincount(codes))[codes]
    information = np.where(np.arange(N_ITEMS) < 6, 0.0, 50.0)  # non-centred and centred
    coords = {"item": np.arange(N_ITEMS), "group": np.arange(N_GROUPS)}
    with pm.Model(coords=coords):
        items = hierarchical_item_vector(
            "x",
            priors=PRIORS,
            information=information,
            start=rng.normal(size=N_ITEMS),
            loc=loc,
            codes=codes if pooled else None,
            dims="group" if pooled else None,
        )
        pm.Deterministic("x", items.value, dims="item")
        pm.Deterministic("x_deviations", items.deviations, dims="item")
        prior = pm.sample_prior_predictive(draws=2000, random_seed=1).prior
    return prior, codes, loc


@pytest.mark.parametrize("pooled", [False, True])
def test_hierarchical_item_vector_is_the_stated_model(pooled):
    prior, codes, loc = _prior_draws(pooled)
    x = prior["x"].values[0]
    sigma = prior["sigma_x"].values[0][:, None]
    group = codes if pooled else np.zeros(N_ITEMS, dtype=int)
    n_groups = N_GROUPS if pooled else 1
    sample_means = np.stack([x[:, group == g].mean(axis=1) for g in range(n_groups)], axis=1)
    stored = prior["x_mean"].values[0].reshape(-1, n_groups)
    np.testing.assert_allclose(stored, sample_means, atol=1e-10)
    np.testing.assert_allclose(
        prior["x_deviations"].values[0], x - sample_means[:, group], atol=1e-10
    )

    mu = prior["mu_x"].values[0]
    population = prior["mu_x_group"].values[0] if pooled else mu[:, None]
    residual = (x - population[:, group] - loc) / sigma
    assert abs(residual.mean()) < 0.03
    assert abs(residual.std() - 1.0) < 0.03
    assert abs(np.corrcoef(residual[:, 0], residual[:, 3])[0, 1]) < 0.1  # same group
    assert abs(np.corrcoef(residual[:, 0], residual[:, 12])[0, 1]) < 0.1  # non-centred, centred
    np.testing.assert_allclose([mu.mean(), mu.std()], [0.5, 1.5], atol=0.1)
    if pooled:
        z = (population - mu[:, None]) / prior["tau_x"].values[0][:, None]
        np.testing.assert_allclose([z.mean(), z.std()], [0.0, 1.0], atol=0.05)


def test_groups_need_their_codes():
    with pm.Model(coords={"group": [0, 1]}), pytest.raises(ValueError, match="group code"):
        hierarchical_item_vector(
            "x", priors=PRIORS, information=np.ones(4), start=np.zeros(4), dims="group"
        )
