"""Pure IRT functions against closed forms and published marginal log-likelihoods."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayesirt import Responses
from bayesirt.irt import log_likelihood, quadrature
from bayesirt.irt import test_information as total_information
from bayesirt.models import icc, irt_from_slope_intercept, item_information, marginal_loglik

LSAT7_A = [0.988, 1.081, 1.706, 0.765, 0.736]
LSAT7_D = [1.856, 0.808, 1.804, 0.486, 1.855]


def test_icc_reduces_to_each_model():
    theta, a, b = 0.3, 1.7, -0.4
    logistic = 1 / (1 + np.exp(-a * (theta - b)))
    assert icc(theta, a, b) == pytest.approx(logistic)
    assert icc(theta, a, b, 0.2) == pytest.approx(0.2 + 0.8 * logistic)
    assert icc(theta, a, b, 0.2, 0.9) == pytest.approx(0.2 + 0.7 * logistic)
    assert icc(b, a, b, 0.2, 0.9) == pytest.approx(0.55)  # midpoint at theta = b


def test_information_matches_numerical_fisher_information():
    theta = np.linspace(-3, 3, 13)
    a, b, c, d, h = 1.3, 0.4, 0.15, 0.92, 1e-5
    p = icc(theta, a, b, c, d)
    dp = (icc(theta + h, a, b, c, d) - icc(theta - h, a, b, c, d)) / (2 * h)
    fisher = dp**2 / (p * (1 - p))
    np.testing.assert_allclose(item_information(theta, a, b, c, d), fisher, rtol=1e-6)
    p2 = icc(theta, a, b)
    np.testing.assert_allclose(item_information(theta, a, b), a**2 * p2 * (1 - p2))
    total = total_information(theta, np.array([a, 2.0]), np.array([b, -1.0]))
    expected = item_information(theta, a, b) + item_information(theta, 2.0, -1.0)
    np.testing.assert_allclose(total, expected)


def test_log_likelihood_is_stable_for_extreme_logits():
    assert log_likelihood(1, 40.0, 1.0, 0.0) == pytest.approx(-np.exp(-40.0), abs=1e-15)
    assert np.isfinite(log_likelihood(0, 40.0, 1.0, 0.0))
    assert log_likelihood(0, 40.0, 1.0, 0.0) == pytest.approx(-40.0, rel=1e-9)


def test_quadrature_weights_are_normal():
    nodes, log_w = quadrature(61, (-6, 6))
    w = np.exp(log_w)
    assert w.sum() == pytest.approx(1.0)
    assert (w * nodes).sum() == pytest.approx(0.0, abs=1e-12)
    assert (w * nodes**2).sum() == pytest.approx(1.0, abs=1e-6)


def test_lsat7_published_loglik(shared_data):
    wide = pd.read_csv(shared_data / "classic-irt" / "lsat7_wide.csv")
    responses = Responses.from_wide(wide, subject="subject")
    params = irt_from_slope_intercept(
        pd.DataFrame({"a1": LSAT7_A, "d": LSAT7_D}, index=responses.items)
    )
    assert marginal_loglik(responses, params) == pytest.approx(-2658.805, abs=0.01)


@pytest.mark.parametrize("bench", ["arc", "gsm8k", "mmlu", "truthfulqa", "winogrande"])
def test_metabench_mirt_loglik(shared_data, bench):
    """2PL (arc, gsm8k, truthfulqa), 3PL (mmlu) and 4PL (winogrande) fits of mirt."""
    reference = json.loads((shared_data / "metabench" / "reference_loglik.json").read_text())
    wide = pd.read_csv(shared_data / "metabench" / f"{bench}_train_responses_wide.csv")
    responses = Responses.from_wide(wide, subject="subject")
    params = irt_from_slope_intercept(
        pd.read_csv(shared_data / "metabench" / f"{bench}_mirt_item_parameters.csv")
    )
    assert marginal_loglik(responses, params) == pytest.approx(reference[bench]["logLik"], abs=0.01)


def test_marginal_loglik_skips_missing_cells():
    full = Responses.from_long(
        pd.DataFrame({"subject": list("aabb"), "item": list("xyxy"), "response": [1, 0, 0, 1]})
    )
    sparse = full.subset(subjects=["a", "b"])  # same data
    params = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0]}, index=["x", "y"])
    assert marginal_loglik(full, params) == pytest.approx(marginal_loglik(sparse, params))
    one_missing = Responses.from_long(
        pd.DataFrame({"subject": list("aabb"), "item": list("xyxy"), "response": [1, 0, 0, np.nan]})
    )
    # subject b answered only x: its term is log of the marginal probability of x wrong
    nodes, log_w = quadrature()
    w = np.exp(log_w)
    p_a = (w * icc(nodes, 1.0, 0.0) * (1 - icc(nodes, 2.0, 1.0))).sum()
    p_b = (w * (1 - icc(nodes, 1.0, 0.0))).sum()
    assert marginal_loglik(one_missing, params) == pytest.approx(np.log(p_a) + np.log(p_b))


def test_bad_item_parameters_are_named():
    responses = Responses.from_long(
        pd.DataFrame({"subject": list("aabb"), "item": list("xyxy"), "response": [1, 0, 0, 1]})
    )
    with pytest.raises(ValueError, match="'b'"):
        marginal_loglik(responses, pd.DataFrame({"a": [1.0, 1.0]}, index=["x", "y"]))
    with pytest.raises(ValueError, match="'y'"):
        marginal_loglik(responses, pd.DataFrame({"a": [1.0, 1.0], "b": [0, 0]}, index=["x", "z"]))
    with pytest.raises(ValueError, match="a1 is 0"):
        irt_from_slope_intercept(pd.DataFrame({"item": ["x"], "a1": [0.0], "d": [1.0]}))
