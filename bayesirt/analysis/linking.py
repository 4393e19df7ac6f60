r"""Linking a new calibration onto an existing fit's scale through anchor items.

A benchmark's next version (new questions beside some of the old ones, answered by another
set of models) is fitted on its own; its ability scale is then that of its own subjects
(mean 0, sd 1), not the old fit's. Anchor items, answered in both, carry the old scale over:
on the old scale a new-fit ability :math:`\theta'` is :math:`\theta = A\theta' + B`, so an
item's parameters become

.. math::

    a^* = a' / A, \qquad b^* = A b' + B,

and the constants :math:`(A, B)` are those that make the anchors' test characteristic curve
in the new fit match the old one (Stocking & Lord 1983):

.. math::

    (A, B) = \arg\min \sum_q w_q \Big(\sum_{i \in \mathcal{A}} P_i(\theta_q; a_i, b_i)
        - \sum_{i \in \mathcal{A}} P_i\big(\tfrac{\theta_q - B}{A}; a'_i, b'_i\big)\Big)^2,

:math:`\theta_q` a grid with the old scale's :math:`N(0, 1)` weights :math:`w_q`. Curves
rather than moments (mean-sigma) keep anchors whose difficulty is ill-determined (a slope
near 0) from dominating. This is **separate calibration with characteristic-curve linking**,
done draw by draw: draw :math:`s` of the old fit and draw :math:`s` of the new one (two
independent posteriors, paired at random) give :math:`(A_s, B_s)` and the linked parameters
of that draw, so the uncertainty of both fits' anchors and of the new items reaches the
linked parameters (the documented alternative to fixed-parameter calibration, which would
need a model with the anchors' priors set from the old posterior).

**Anchor drift.** An anchor whose new answers disagree with its old parameters (a leaked or
changed question) is found by the posterior of :math:`b^*_i - b_i` and
:math:`\log a^*_i - \log a_i`: flagged where the central ``1 - alpha / 2`` interval of either
excludes 0 (two tests at ``alpha / 2``: a clean anchor is flagged at most at the rate
``alpha``). The link is then recomputed without the flagged anchor that is furthest from 0
(in posterior sd), and again, until no anchor in use is flagged (iterative purification): a
few anchors that drifted far would otherwise bend the link enough to make every anchor look
drifted. ``used`` says which anchors carry the final link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from bayesirt._validate import check_probability
from bayesirt.analysis.posterior import posterior_draws
from bayesirt.data.validation import describe_values
from bayesirt.irt import quadrature

__all__ = ["Linking", "link_items"]

#: Gauss-Newton steps of the Stocking-Lord fit (it converges in a handful).
NEWTON_STEPS = 30
#: Anchors kept whatever their drift: the link needs some.
MIN_ANCHORS = 2


@dataclass(frozen=True)
class Linking:
    """What :func:`link_items` gives.

    Attributes
    ----------
    items : pandas.DataFrame
        Every item of the new fit on the old scale (index ``item``): ``anchor``, ``a_mean``,
        ``a_lo``, ``a_hi``, ``b_mean``, ``b_lo``, ``b_hi``.
    anchors : pandas.DataFrame
        Per anchor (index ``item``): ``drift_b`` (posterior mean of :math:`b^* - b`),
        ``drift_b_lo``, ``drift_b_hi``, ``drift_log_a`` (of :math:`\\log a^* - \\log a`),
        ``drift_log_a_lo``, ``drift_log_a_hi`` (the central ``1 - alpha / 2`` intervals the
        flags use), ``flagged``, ``used`` (in the final link).
    constants : pandas.DataFrame
        ``A`` and ``B`` of every draw pair.
    a, b : numpy.ndarray, shape (pairs, n_new_items)
        The linked draws, columns as ``items``.
    """

    items: pd.DataFrame
    anchors: pd.DataFrame
    constants: pd.DataFrame
    a: np.ndarray
    b: np.ndarray


def link_items(
    reference,
    new,
    *,
    anchors: Sequence | None = None,
    alpha: float = 0.05,
    interval: float = 0.9,
    n_pairs: int = 1000,
    n_nodes: int = 61,
    random_seed: int = 0,
) -> Linking:
    """Put the items of ``new`` (a fit of the next version) on the scale of ``reference``.

    Parameters
    ----------
    reference, new : arviz.InferenceData
        1PL or 2PL fits (no asymptotes) sharing the anchor items.
    anchors : sequence of item labels, optional
        Items whose parameters carry the scale (default: every item of both fits).
    alpha : float
        Drift is flagged where the central ``1 - alpha / 2`` interval of the difference in
        b or in log a excludes 0.
    interval : float
        Mass of the reported intervals of the linked parameters.
    n_pairs : int
        Draw pairs (at most the smaller fit's number of draws).
    n_nodes : int
        Grid of the characteristic curves.
    random_seed : int
        Seed of the pairing of draws.

    Raises
    ------
    ValueError
        Naming anchors missing from either fit, too few anchors (fewer than
        :data:`MIN_ANCHORS`), or a fit with asymptotes.
    """
    check_probability("alpha", alpha)
    check_probability("interval", interval)
    old, fresh = posterior_draws(reference), posterior_draws(new)
    for draws, name in ((old, "reference"), (fresh, "new")):
        if draws.a is None or np.any(draws.c != 0) or np.any(draws.d != 1):
            raise ValueError(f"link_items needs 1PL or 2PL fits; the {name} fit is not one")
    shared = old.items.intersection(fresh.items)
    chosen = shared if anchors is None else pd.Index([str(i) for i in anchors])
    missing = chosen.difference(shared)
    if len(missing):
        raise ValueError(f"anchor(s) not in both fits: {describe_values(missing)}")
    if len(chosen) < MIN_ANCHORS:
        raise ValueError(f"linking needs at least {MIN_ANCHORS} anchors, got {len(chosen)}")

    rng = np.random.default_rng(random_seed)
    n = min(n_pairs, old.n_samples, fresh.n_samples)
    rows_old = np.sort(rng.choice(old.n_samples, size=n, replace=False))
    rows_new = rng.permutation(np.linspace(0, fresh.n_samples - 1, n).round().astype(int))
    ref_cols, new_cols = old.items.get_indexer(chosen), fresh.items.get_indexer(chosen)
    ref_a, ref_b = old.a[np.ix_(rows_old, ref_cols)], old.b[np.ix_(rows_old, ref_cols)]
    new_a, new_b = fresh.a[rows_new], fresh.b[rows_new]
    nodes, log_w = quadrature(n_nodes, (-4.0, 4.0))

    used = np.ones(len(chosen), dtype=bool)
    while True:  # link; drop the worst drifting anchor; again, until none drifts
        A, B = _stocking_lord(
            ref_a[:, used],
            ref_b[:, used],
            new_a[:, new_cols[used]],
            new_b[:, new_cols[used]],
            nodes,
            np.exp(log_w),
        )
        linked_a, linked_b = new_a / A[:, None], A[:, None] * new_b + B[:, None]
        drift_b = linked_b[:, new_cols] - ref_b
        drift_log_a = np.log(linked_a[:, new_cols]) - np.log(ref_a)
        flagged = _excludes_zero(drift_b, alpha / 2) | _excludes_zero(drift_log_a, alpha / 2)
        if not (flagged & used).any() or used.sum() <= MIN_ANCHORS:
            break
        score = np.maximum(_z(drift_b), _z(drift_log_a))
        used[np.argmax(np.where(flagged & used, score, -np.inf))] = False
    tail = (1 - interval) / 2
    items = pd.DataFrame(
        {
            "anchor": fresh.items.isin(chosen),
            "a_mean": linked_a.mean(axis=0),
            "a_lo": np.quantile(linked_a, tail, axis=0),
            "a_hi": np.quantile(linked_a, 1 - tail, axis=0),
            "b_mean": linked_b.mean(axis=0),
            "b_lo": np.quantile(linked_b, tail, axis=0),
            "b_hi": np.quantile(linked_b, 1 - tail, axis=0),
        },
        index=pd.Index(fresh.items, name="item"),
    )
    anchor_table = pd.DataFrame(
        {
            **_summary("drift_b", drift_b, alpha / 2),
            **_summary("drift_log_a", drift_log_a, alpha / 2),
            "flagged": flagged,
            "used": used,
        },
        index=pd.Index(chosen, name="item"),
    )
    return Linking(
        items=items,
        anchors=anchor_table,
        constants=pd.DataFrame({"A": A, "B": B}),
        a=linked_a,
        b=linked_b,
    )


def _stocking_lord(
    ref_a: np.ndarray,
    ref_b: np.ndarray,
    new_a: np.ndarray,
    new_b: np.ndarray,
    nodes: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    r"""``(A, B)`` per draw (rows), by Gauss-Newton on the weighted squared difference of the
    anchors' characteristic curves, from the mean-sigma values of the draw.

    The new curve at the transformed node is :math:`T'(u)`, :math:`u = (\theta - B)/A`, so
    with :math:`T'_u = \sum_i a'_i P_i (1 - P_i)` the residual's derivatives are
    :math:`\partial r / \partial A = T'_u\, u / A` and :math:`\partial r / \partial B = T'_u / A`.
    """
    target = expit(ref_a[:, None, :] * (nodes[None, :, None] - ref_b[:, None, :])).sum(axis=2)
    A = ref_b.std(axis=1) / np.maximum(new_b.std(axis=1), 1e-12)
    B = ref_b.mean(axis=1) - A * new_b.mean(axis=1)
    for _ in range(NEWTON_STEPS):
        u = (nodes[None, :] - B[:, None]) / A[:, None]
        p = expit(new_a[:, None, :] * (u[:, :, None] - new_b[:, None, :]))
        residual = target - p.sum(axis=2)  # (S, Q)
        slope = (new_a[:, None, :] * p * (1 - p)).sum(axis=2)
        jac = np.stack([slope * u / A[:, None], slope / A[:, None]], axis=2)  # d residual
        jw = jac * weights[None, :, None]
        hess = np.einsum("sqi,sqj->sij", jw, jac) + 1e-10 * np.eye(2)
        grad = np.einsum("sqi,sq->si", jw, residual)
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        A = np.maximum(A - step[:, 0], 1e-3)
        B = B - step[:, 1]
    return A, B


def _z(values: np.ndarray) -> np.ndarray:
    """Posterior mean over sd of each column: how many sd the drift is from 0."""
    return np.abs(values.mean(axis=0)) / np.maximum(values.std(axis=0), 1e-12)


def _excludes_zero(values: np.ndarray, alpha: float) -> np.ndarray:
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2], axis=0)
    return (lo > 0) | (hi < 0)


def _summary(name: str, values: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2], axis=0)
    return {name: values.mean(axis=0), f"{name}_lo": lo, f"{name}_hi": hi}
