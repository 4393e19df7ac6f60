"""The shared posterior helpers: draw extraction, item weights, expected scores."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from bayesirt.analysis.posterior import (
    expected_scores,
    fitted_responses,
    item_weights,
    posterior_draws,
)
from bayesirt.testing import complete_responses, fake_fit, simulated_fit


def test_draws_are_stacked_chain_major_with_default_asymptotes():
    theta = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    a = np.ones((2, 3, 5))
    b = np.arange(2 * 3 * 5, dtype=float).reshape(2, 3, 5)
    idata = fake_fit(complete_responses(np.ones((4, 5))), theta=theta, a=a, b=b)
    draws = posterior_draws(idata)
    assert draws.theta.shape == (6, 4) and draws.b.shape == (6, 5)
    assert (draws.n_chain, draws.n_draw, draws.n_samples) == (2, 3, 6)
    np.testing.assert_array_equal(draws.theta[4], theta[1, 1])  # draw 1 of chain 1
    np.testing.assert_array_equal(draws.c, 0.0)
    np.testing.assert_array_equal(draws.d, 1.0)
    assert list(draws.subjects) == ["s0", "s1", "s2", "s3"]
    assert list(draws.items) == [f"i{i}" for i in range(5)]
    np.testing.assert_array_equal(draws.unstack(draws.theta), theta)


def test_draws_keep_fitted_asymptotes():
    shape = (1, 2, 3)
    c, d = np.full(shape, 0.2), np.full(shape, 0.9)
    idata = fake_fit(
        complete_responses(np.ones((2, 3))),
        theta=np.zeros((1, 2, 2)),
        a=np.ones(shape),
        b=np.zeros(shape),
        c=c,
        d=d,
    )
    draws = posterior_draws(idata)
    np.testing.assert_array_equal(draws.c, 0.2)
    np.testing.assert_array_equal(draws.d, 0.9)


def test_draws_dims_are_reordered_by_name():
    idata, _ = simulated_fit(n_subjects=3, n_items=4, n_draws=5)
    swapped = idata.posterior["theta"].transpose("subject", "chain", "draw")
    idata.posterior["theta"] = swapped
    np.testing.assert_allclose(
        posterior_draws(idata).theta,
        swapped.transpose("chain", "draw", "subject").values.reshape(-1, 3),
    )


def test_missing_posterior_variable_is_named():
    idata, _ = simulated_fit(n_subjects=3, n_items=4, n_draws=5)
    del idata.posterior["b"]
    with pytest.raises(ValueError, match=r"lacks variable\(s\) \['b'\]"):
        posterior_draws(idata)


def test_wrong_dims_are_refused():
    idata, _ = simulated_fit(n_subjects=3, n_items=4, n_draws=5)
    idata.posterior["a"] = idata.posterior["a"].isel(item=0)
    with pytest.raises(ValueError, match="expected \\(chain, draw, item\\)"):
        posterior_draws(idata)


def test_no_posterior_group():
    with pytest.raises(ValueError, match="no posterior group"):
        posterior_draws(object())


def test_fitted_responses_round_trip():
    y = np.array([[1, 0, np.nan], [0, 1, 1]])
    responses = complete_responses(y)
    idata = fake_fit(
        responses, theta=np.zeros((1, 2, 2)), a=np.ones((1, 2, 3)), b=np.zeros((1, 2, 3))
    )
    assert fitted_responses(idata).equals(responses)
    del idata.constant_data
    with pytest.raises(ValueError, match="no constant_data"):
        fitted_responses(idata)


ITEMS = pd.Index(["i0", "i1", "i2", "i3"])


def test_item_weights_forms_agree():
    expected = np.array([0.5, 0.0, 0.25, 0.25])
    np.testing.assert_allclose(
        item_weights(ITEMS, items=["i0", "i2", "i3"], weights=[2, 1, 1]), expected
    )
    np.testing.assert_allclose(item_weights(ITEMS, weights={"i0": 2, "i2": 1, "i3": 1}), expected)
    np.testing.assert_allclose(
        item_weights(
            ITEMS, items=["i3", "i2", "i0"], weights=pd.Series({"i0": 4, "i2": 2, "i3": 2})
        ),
        expected,
    )
    np.testing.assert_allclose(item_weights(ITEMS), 0.25)
    np.testing.assert_allclose(item_weights(ITEMS, items=["i1"]), [0, 1, 0, 0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"items": ["i0", "zz", "yy"]}, "not in the fitted model: 'zz', 'yy'"),
        ({"items": ["i0", "i0"]}, "repeated item labels: 'i0'"),
        ({"items": []}, "item set is empty"),
        ({"items": ["i0", "i1"], "weights": [1, -1]}, "bad weight for item\\(s\\) 'i1'"),
        ({"items": ["i0", "i1"], "weights": [1, np.nan]}, "bad weight for item\\(s\\) 'i1'"),
        ({"items": ["i0", "i1"], "weights": [1, 2, 3]}, "one weight per item \\(2\\)"),
        ({"items": ["i0", "i1"], "weights": [0, 0]}, "sum to zero"),
        ({"weights": {"i0": 1, "nope": 2}}, "not in the fitted model: 'nope'"),
        ({"items": ["i0", "i1"], "weights": {"i0": 1}}, "missing: 'i1', extra: none"),
    ],
)
def test_item_weights_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        item_weights(ITEMS, **kwargs)


def test_expected_scores_by_hand_and_chunked():
    idata, _ = simulated_fit(n_subjects=4, n_items=9, n_draws=6)
    draws = posterior_draws(idata)
    w = np.random.default_rng(3).random(9)
    w[2] = 0.0
    w /= w.sum()
    by_hand = (expit(draws.a[:, None] * (draws.theta[..., None] - draws.b[:, None])) * w).sum(-1)
    np.testing.assert_allclose(expected_scores(draws, w), by_hand)
    np.testing.assert_allclose(expected_scores(draws, w, max_elements=5), by_hand)
    np.testing.assert_allclose(expected_scores(draws, w, max_elements=50), by_hand)


def test_expected_scores_use_asymptotes():
    shape = (1, 3, 2)
    idata = fake_fit(
        complete_responses(np.ones((2, 2))),
        theta=np.zeros((1, 3, 2)),
        a=np.ones(shape),
        b=np.zeros(shape),
        c=np.full(shape, 0.25),
        d=np.full(shape, 0.75),
    )
    # θ = b, so σ = 1/2 and P = c + (d - c)/2 = 0.5
    np.testing.assert_allclose(expected_scores(posterior_draws(idata), np.array([0.5, 0.5])), 0.5)
