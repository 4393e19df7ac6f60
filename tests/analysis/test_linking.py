"""Linking a new version's items onto an old fit's scale: the scale constants and the items
are recovered, a drifting anchor is found and left out, bad anchors are refused."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from bayesirt.analysis.linking import _stocking_lord, link_items
from bayesirt.irt import quadrature
from bayesirt.testing import complete_responses, fake_fit

N_ITEMS, ANCHORS = 360, np.arange(160, 200)  # version 1: items 0-199, version 2: 160-359
MU, SIGMA = 0.5, 1.3  # the second version's models: θ ~ N(0.5, 1.3²) on the old scale


def _fit(items, a, b, theta, rng, noise=0.05, b_noise=None):
    """A fit on its own subjects' scale (mean 0, sd 1): θ' = (θ - m)/s, b' = (b - m)/s,
    a' = a s; draws scatter around those values (``b_noise``: per-item sd of b)."""
    m, s = theta.mean(), theta.std()
    shape = (2, 200)
    labels = [f"item_{i:03d}" for i in items]
    responses = complete_responses(np.ones((len(theta), len(items))), items=labels)
    return fake_fit(
        responses,
        theta=(theta - m) / s + noise * rng.normal(size=(*shape, len(theta))),
        a=a[items] * s * np.exp(noise * rng.normal(size=(*shape, len(items)))),
        b=(b[items] - m) / s
        + (noise if b_noise is None else b_noise[items]) * rng.normal(size=(*shape, len(items))),
    )


@pytest.fixture(scope="module")
def versions():
    rng = np.random.default_rng(0)
    a = np.exp(rng.normal(0.2, 0.3, N_ITEMS))
    b = rng.normal(0.0, 1.0, N_ITEMS)
    theta_old = rng.normal(size=300)
    theta_new = MU + SIGMA * rng.normal(size=300)
    old = _fit(np.arange(200), a, b, theta_old, rng)
    m, s = theta_old.mean(), theta_old.std()
    return old, (a * s, (b - m) / s), theta_new, rng  # truth on the old fit's scale


def test_new_items_are_recovered_on_the_old_scale(versions):
    old, (a, b), theta_new, rng = versions
    new = _fit(np.arange(160, N_ITEMS), a, b, theta_new, rng)
    linking = link_items(old, new)
    only_new = [f"item_{i:03d}" for i in range(200, N_ITEMS)]
    items = linking.items.loc[only_new]
    truth_b, truth_a = b[200:], a[200:]
    assert np.corrcoef(items["b_mean"], truth_b)[0, 1] > 0.99
    assert np.abs(items["b_mean"] - truth_b).max() < 0.15
    assert np.abs(np.log(items["a_mean"] / truth_a)).max() < 0.15
    constants = linking.constants.mean()
    # the new scale's unit is SIGMA / sd(theta_old) of the old one; its origin MU (shifted)
    assert not linking.anchors["flagged"].any() and linking.anchors["used"].all()
    assert linking.items["anchor"].sum() == len(ANCHORS)
    assert constants["A"] > 1.0 and constants["B"] > 0.2


def test_a_drifting_anchor_is_flagged_and_left_out(versions):
    old, (a, b), theta_new, rng = versions
    moved = b.copy()
    moved[170] += 1.0  # the question changed (or leaked) between the versions
    new = _fit(np.arange(160, N_ITEMS), a, moved, theta_new, rng)
    linking = link_items(old, new)
    anchors = linking.anchors
    assert anchors.loc["item_170", "flagged"] and not anchors.loc["item_170", "used"]
    assert anchors.loc["item_170", "drift_b"] == pytest.approx(1.0, abs=0.2)
    assert anchors["flagged"].sum() <= 3  # nominal 5% of 40 clean anchors: about 2
    only_new = [f"item_{i:03d}" for i in range(200, N_ITEMS)]
    assert np.abs(linking.items.loc[only_new, "b_mean"] - b[200:]).max() < 0.15


def test_anchors_are_checked(versions):
    old, (a, b), theta_new, rng = versions
    new = _fit(np.arange(160, N_ITEMS), a, b, theta_new, rng)
    with pytest.raises(ValueError, match="item_300"):
        link_items(old, new, anchors=["item_170", "item_300"])
    with pytest.raises(ValueError, match="at least 2 anchors"):
        link_items(old, new, anchors=["item_170"])


def test_anchors_that_barely_discriminate_do_not_distort_the_link(versions):
    """Five anchors with slopes near 0 in both versions have difficulties the data barely
    determine (posterior sd 2 here, as a fit gives them): they neither bend the link nor
    count as drifted."""
    _, (a, b), theta_new, rng = versions
    flat = np.arange(165, 170)
    a_flat, b_noise = a.copy(), np.full(N_ITEMS, 0.05)
    a_flat[flat], b_noise[flat] = 0.02, 2.0
    theta_old = rng.normal(size=300)
    m, s = theta_old.mean(), theta_old.std()
    old = _fit(np.arange(200), a_flat / s, b * s + m, theta_old, rng, b_noise=b_noise * s)
    new = _fit(np.arange(160, N_ITEMS), a_flat, b, theta_new, rng, b_noise=b_noise)
    linking = link_items(old, new)
    only_new = [f"item_{i:03d}" for i in range(200, N_ITEMS)]
    assert np.abs(linking.items.loc[only_new, "b_mean"] - b[200:]).max() < 0.2
    assert linking.anchors["used"].all()


def test_anchors_that_lost_their_slope_are_dropped_one_by_one(versions):
    """Five anchors whose slope collapsed in the new version bend the first link enough
    that every anchor looks drifted; dropping the worst one at a time finds the five."""
    old, (a, b), theta_new, rng = versions
    collapsed = a.copy()
    collapsed[165:170] = 0.02
    new = _fit(np.arange(160, N_ITEMS), collapsed, b, theta_new, rng)
    linking = link_items(old, new)
    dropped = set(linking.anchors.index[~linking.anchors["used"]])
    assert {f"item_{i}" for i in range(165, 170)} <= dropped and len(dropped) <= 8
    only_new = [f"item_{i:03d}" for i in range(200, N_ITEMS)]
    assert np.abs(linking.items.loc[only_new, "b_mean"] - b[200:]).max() < 0.15


def test_the_link_minimises_the_characteristic_curve_criterion():
    """Each draw's (A, B) against a direct minimisation of the weighted squared difference
    of the anchors' curves."""
    rng = np.random.default_rng(4)
    ref_a, ref_b = np.exp(rng.normal(0, 0.4, (3, 12))), rng.normal(0, 1, (3, 12))
    new_a = ref_a * 1.4 * np.exp(rng.normal(0, 0.2, (3, 12)))
    new_b = (ref_b - 0.3) / 1.4 + rng.normal(0, 0.3, (3, 12))
    nodes, log_w = quadrature(61, (-4.0, 4.0))
    A, B = _stocking_lord(ref_a, ref_b, new_a, new_b, nodes, np.exp(log_w))
    for s in range(3):

        def loss(x, s=s):
            target = expit(ref_a[s] * (nodes[:, None] - ref_b[s])).sum(axis=1)
            u = (nodes - x[1]) / x[0]
            moved = expit(new_a[s] * (u[:, None] - new_b[s])).sum(axis=1)
            return np.sum(np.exp(log_w) * (target - moved) ** 2)

        best = minimize(
            loss,
            x0=[1.0, 0.0],
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-14, "maxiter": 4000},
        )
        assert (A[s], B[s]) == pytest.approx(tuple(best.x), abs=1e-4)
        assert loss([A[s], B[s]]) <= best.fun + 1e-12
