"""Yen's Q3 kernels: pairwise-complete definition with missing cells, constant residuals, pairs."""

import numpy as np
import pytest
from dependence_fakes import residual_frame
from scipy.special import expit

from bayesirt.analysis.dependence import q3
from bayesirt.analysis.posterior import posterior_draws
from bayesirt.testing import complete_responses, fake_fit


@pytest.fixture(scope="module")
def gappy():
    """A 2PL fake fit on 25 × 12 responses with 30 % of the cells missing."""
    rng = np.random.default_rng(5)
    theta = rng.normal(size=25)
    a, b = np.exp(rng.normal(0, 0.3, 12)), rng.normal(size=12)
    y = (rng.random((25, 12)) < expit(a * (theta[:, None] - b))).astype(float)
    y[rng.random(y.shape) < 0.3] = np.nan
    shape = (2, 5)
    return fake_fit(
        complete_responses(y),
        theta=theta + 0.3 * rng.normal(size=(*shape, 25)),
        a=a * np.exp(0.1 * rng.normal(size=(*shape, 12))),
        b=b + 0.1 * rng.normal(size=(*shape, 12)),
    )


# ------------------------------------------------------------ definition
def test_missing_cells_are_pairwise_complete(gappy):
    draws = posterior_draws(gappy)
    table = q3.observed_table(gappy, draws)
    assert not table.complete
    for s in (0, 7):
        resid = q3.residuals(table, q3.expected_responses(draws, s))
        dense = q3.dense_q3(table, resid)
        by_hand = np.array(residual_frame(gappy, s).corr(min_periods=q3.MIN_COMMON))
        np.fill_diagonal(by_hand, np.nan)
        np.testing.assert_allclose(dense, by_hand, atol=1e-12)
        left, right = np.triu_indices(12, k=1)
        np.testing.assert_allclose(
            q3.pair_q3(table, resid, left, right, max_elements=50), dense[left, right]
        )


def test_a_constant_residual_has_no_q3_on_either_path():
    """An item with a = 0 that everyone answered right: e = 1 - (c + d) / 2 for every subject,
    which the sums over 10 subjects only reproduce up to rounding."""
    rng = np.random.default_rng(2)
    y = (rng.random((10, 5)) < 0.5).astype(float)
    y[:, 2] = 1.0
    a = np.ones((1, 3, 5))
    a[..., 2] = 0.0
    idata = fake_fit(
        complete_responses(y),
        theta=rng.normal(size=(1, 3, 10)),
        a=a,
        b=np.zeros((1, 3, 5)),
        c=np.full((1, 3, 5), 0.1),
        d=np.full((1, 3, 5), 0.7),
    )
    draws = posterior_draws(idata)
    table = q3.observed_table(idata, draws)
    resid = q3.residuals(table, q3.expected_responses(draws, 0))
    gappy_table = q3.ObservedTable(y=table.y, observed=table.observed, complete=False)
    left, right = np.triu_indices(5, k=1)
    for t in (table, gappy_table):
        q = q3.dense_q3(t, resid)
        assert np.isnan(q[2]).all() and np.isnan(q[:, 2]).all()
        assert np.isfinite(q[0, 1])
        np.testing.assert_allclose(q3.pair_q3(t, resid, left, right), q[left, right])


# ------------------------------------------------------------- sampling
def test_sample_pairs_are_distinct_upper_triangle_pairs():
    rng = np.random.default_rng(0)
    left, right = q3.sample_pairs(1000, 5000, rng)
    assert (left < right).all() and (right < 1000).all()
    assert len(set(zip(left, right, strict=True))) == 5000
    every = q3.sample_pairs(5, 100, rng)
    np.testing.assert_array_equal(np.stack(every), np.stack(np.triu_indices(5, k=1)))
