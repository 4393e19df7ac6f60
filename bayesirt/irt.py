r"""Pure item-response functions (NumPy and SciPy only, no PyMC).

All unidimensional models of the package share one item characteristic curve, the four-
parameter logistic

.. math::

    P(y_{ij} = 1 \mid \theta_j) = c_i + (d_i - c_i)\,\sigma\big(a_i(\theta_j - b_i)\big),

with ability :math:`\theta_j`, discrimination :math:`a_i > 0`, difficulty :math:`b_i`, lower
asymptote (guessing) :math:`c_i` and upper asymptote (slipping) :math:`d_i`, :math:`c_i < d_i`.
The 3PL fixes :math:`d = 1`, the 2PL also :math:`c = 0`, and the 1PL (Rasch) shares one
:math:`a` across items. Every function broadcasts its arguments with NumPy rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit, logsumexp

__all__ = [
    "finite_item_information",
    "icc",
    "irt_from_slope_intercept",
    "item_information",
    "log_likelihood",
    "marginal_loglik",
    "quadrature",
    "test_information",
]


def icc(theta, a, b, c=0.0, d=1.0):
    r"""Probability of a correct response, :math:`c + (d - c)\,\sigma(a(\theta - b))`."""
    return c + (d - c) * expit(a * (theta - b))


def log_likelihood(y, theta, a, b, c=0.0, d=1.0):
    r"""Bernoulli log-probability of responses ``y`` (0/1) under the 4PL curve.

    With :math:`c = 0, d = 1` it uses :math:`\log\sigma(\pm z)` directly, which stays exact
    for extreme logits.
    """
    z = a * (theta - b)
    if np.all(np.asarray(c) == 0) and np.all(np.asarray(d) == 1):
        return np.where(y == 1, log_expit(z), log_expit(-z))
    p = c + (d - c) * expit(z)
    return np.log(np.where(y == 1, p, 1.0 - p))


def item_information(theta, a, b, c=0.0, d=1.0):
    r"""Fisher information of an item about :math:`\theta`.

    .. math::

        I_i(\theta) = \frac{a_i^2\,(P - c_i)^2\,(d_i - P)^2}{(d_i - c_i)^2\,P\,(1 - P)},

    which is :math:`a_i^2 P (1 - P)` for the 2PL.
    """
    p = icc(theta, a, b, c, d)
    return a**2 * (p - c) ** 2 * (d - p) ** 2 / ((d - c) ** 2 * p * (1.0 - p))


def finite_item_information(theta, a, b, c=0.0, d=1.0) -> np.ndarray:
    """:func:`item_information` with its limit 0 where P rounds to 0 or 1.

    Far from an item's difficulty the curve is 0 or 1 in floating point and the formula
    gives 0/0; the information there tends to 0. Used by the quality summaries
    (:mod:`bayesirt.analysis.quality`) and the tiny-benchmark designs and adaptive tests
    (:mod:`bayesirt.tinybench`).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(item_information(theta, a, b, c, d), nan=0.0)


def test_information(theta, a, b, c=0.0, d=1.0):
    """Sum of item informations at each ``theta`` (items along the last axis)."""
    theta = np.asarray(theta, dtype=float)[..., None]
    return item_information(theta, a, b, c, d).sum(axis=-1)


def quadrature(n_nodes: int = 61, bounds: tuple[float, float] = (-6.0, 6.0)):
    """Equally spaced nodes on ``bounds`` with normalised N(0, 1) weights (as mirt's EM).

    Returns
    -------
    nodes, log_weights : numpy.ndarray
    """
    nodes = np.linspace(bounds[0], bounds[1], n_nodes)
    log_w = -0.5 * nodes**2
    return nodes, log_w - logsumexp(log_w)


def marginal_loglik(
    responses,
    item_params: pd.DataFrame | dict,
    *,
    n_nodes: int = 61,
    bounds: tuple[float, float] = (-6.0, 6.0),
) -> float:
    r"""Marginal log-likelihood with :math:`\theta \sim N(0, 1)` integrated by quadrature.

    .. math::

        \log L = \sum_j \log \sum_q w_q \prod_{i \in O_j} P_i(\theta_q)^{y_{ij}}
                 \big(1 - P_i(\theta_q)\big)^{1 - y_{ij}},

    over the observed items :math:`O_j` of each subject, with nodes :math:`\theta_q` equally
    spaced on ``bounds`` and weights :math:`w_q \propto \phi(\theta_q)` summing to one (the
    rule of mirt's EM; 61 nodes on [-6, 6] by default).

    Parameters
    ----------
    responses : Responses
        The data; missing cells do not enter the product.
    item_params : DataFrame or dict
        Columns ``a``, ``b`` and optionally ``c``, ``d`` (IRT form), indexed by item label or
        in the order of ``responses.items``. Use :func:`irt_from_slope_intercept` to convert
        mirt's slope-intercept output.
    """
    params = _aligned_params(item_params, responses.items)
    nodes, log_w = quadrature(n_nodes, bounds)
    ii, ss, y = responses.item_index, responses.subject_index, responses.response
    a, b, c, d = (params[k][ii] for k in ("a", "b", "c", "d"))
    per_node = np.empty((responses.n_subjects, n_nodes))
    for q, node in enumerate(nodes):
        ll = log_likelihood(y, node, a, b, c, d)
        per_node[:, q] = np.bincount(ss, weights=ll, minlength=responses.n_subjects)
    return float(logsumexp(per_node + log_w, axis=1).sum())


def irt_from_slope_intercept(frame: pd.DataFrame) -> pd.DataFrame:
    r"""Convert mirt's slope-intercept parameters to the IRT form used here.

    mirt writes :math:`P = g + (u - g)\,\sigma(a_1\theta + d)`; here
    :math:`P = c + (d - c)\,\sigma(a(\theta - b))`, so :math:`a = a_1`, :math:`b = -d/a_1`,
    :math:`c = g`, upper asymptote :math:`= u`. Expects columns ``a1``, ``d`` and optionally
    ``g``, ``u`` (and ``item``, which becomes the index).
    """
    frame = frame.set_index("item") if "item" in frame.columns else frame
    a1 = frame["a1"].to_numpy(dtype=float)
    if np.any(a1 == 0):
        raise ValueError(
            f"slope a1 is 0 for items {list(frame.index[a1 == 0])}: b = -d/a1 is undefined"
        )
    out = pd.DataFrame({"a": a1, "b": -frame["d"].to_numpy(dtype=float) / a1}, index=frame.index)
    out["c"] = frame["g"].to_numpy(dtype=float) if "g" in frame.columns else 0.0
    out["d"] = frame["u"].to_numpy(dtype=float) if "u" in frame.columns else 1.0
    out.index = out.index.astype(str)
    return out


def _aligned_params(item_params, items: pd.Index) -> dict[str, np.ndarray]:
    frame = pd.DataFrame(item_params)
    for name in ("a", "b"):
        if name not in frame.columns:
            raise ValueError(f"item_params needs a column {name!r}; got {list(frame.columns)}")
    if len(frame) != len(items):
        raise ValueError(f"item_params has {len(frame)} rows for {len(items)} items")
    if not isinstance(frame.index, pd.RangeIndex):
        labels = items.astype(str)
        frame.index = frame.index.astype(str)
        unknown = labels.difference(frame.index)
        if len(unknown):
            raise ValueError(f"item_params has no row for items {list(unknown[:5])}")
        frame = frame.loc[labels]
    out = {k: frame[k].to_numpy(dtype=float) for k in ("a", "b")}
    out["c"] = frame["c"].to_numpy(dtype=float) if "c" in frame.columns else np.zeros(len(frame))
    out["d"] = frame["d"].to_numpy(dtype=float) if "d" in frame.columns else np.ones(len(frame))
    return out
