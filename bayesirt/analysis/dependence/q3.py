r"""Yen's Q3 residual correlation over posterior draws: definition and kernels.

An IRT fit assumes that, given a subject's ability, its answers to different questions are
independent (local independence). For stacked posterior draw :math:`s` the residual of subject
:math:`j` on item :math:`i` is

.. math::

    e_{ij}^{(s)} = y_{ij} - P_{ij}^{(s)}, \qquad
    P_{ij}^{(s)} = c_i + (d_i - c_i)\,\sigma\big(a_i(\theta_j - b_i)\big)

on the observed cells, and

.. math::

    Q_{3,ik}^{(s)} = \operatorname{corr}_{j \in O_i \cap O_k}\big(e_{ij}^{(s)},
    e_{kj}^{(s)}\big),

the Pearson correlation of the two items' residuals over the subjects observed on both
(pairwise-complete; a pair with fewer than :data:`MIN_COMMON` such subjects, or a constant
residual on them, has no Q3). Under local independence Q3 is near :math:`-1/(I - 1)`; groups of
items that share something beyond the ability (a passage, a topic, a format) correlate
positively. Every Q3 summary is computed on a seeded random subset of the posterior draws
(:func:`fit_residuals`), so it has a posterior distribution.

Three ways to summarise the :math:`I (I - 1) / 2` pairs live here, chosen by the caller
according to the number of items:

* :func:`dense_q3`: the full :math:`I \times I` matrix (small :math:`I`);
* :func:`pair_q3`: the exact Q3 of a list of pairs (random pairs for global summaries, the
  candidates of :func:`screen_pairs` for the most dependent pairs);
* :func:`cluster_sums`: within- and between-cluster means from per-subject sums of
  standardised residuals, :math:`O(J I)` per draw for any partition of the items.

**The mean-|Q3| discrepancy** (:class:`MeanAbsQ3`) of a posterior predictive check compares
the observed responses :math:`y` with responses :math:`y^{rep,(s)}` replicated from draw
:math:`s` on the same cells, both with residuals against the same :math:`P^{(s)}`:

.. math::

    T(y, \psi^{(s)}) = \frac{1}{|\mathcal P_s|} \sum_{(i, k) \in \mathcal P_s}
    \big|Q_{3,ik}^{(s)}(y)\big|,

over every item pair (at most ``dense_max`` items) or over ``n_pairs`` pairs drawn once at
random, keeping in :math:`\mathcal P_s` the pairs whose Q3 is defined for both :math:`y` and
:math:`y^{rep,(s)}`. :func:`bayesirt.analysis.dependence.local.dependence_test` and the
``residual_correlation`` statistic of :func:`bayesirt.analysis.ppc.ppc` both use it.

Every temporary is built in blocks of at most ``max_elements`` cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from bayesirt._validate import check_positive_int
from bayesirt.analysis.posterior import (
    CHUNK_ELEMENTS,
    PosteriorDraws,
    draw_sample,
    fitted_responses,
    posterior_draws,
)
from bayesirt.irt import icc

__all__ = [
    "MIN_COMMON",
    "ClusterSums",
    "FitResiduals",
    "MeanAbsQ3",
    "ObservedTable",
    "cluster_indicator",
    "cluster_sums",
    "dense_q3",
    "eligible_items",
    "expected_responses",
    "fit_residuals",
    "observed_table",
    "pair_q3",
    "replicate",
    "residuals",
    "sample_pairs",
    "screen_pairs",
    "standardized",
]

#: Fewest subjects observed on both items for their Q3 to be defined (otherwise NaN).
MIN_COMMON = 3


@dataclass(frozen=True)
class ObservedTable:
    """The fitted responses as dense subjects × items arrays, in the posterior's order.

    Attributes
    ----------
    y : numpy.ndarray of float, shape (n_subjects, n_items)
        Responses, 0 in missing cells.
    observed : numpy.ndarray of bool, shape (n_subjects, n_items)
    complete : bool
        No cell is missing (enables the single-product path of :func:`dense_q3`).
    """

    y: np.ndarray
    observed: np.ndarray
    complete: bool

    def with_responses(self, y: np.ndarray) -> ObservedTable:
        """The same missing-data pattern with other responses (a replication)."""
        return ObservedTable(
            y=np.where(self.observed, y, 0.0), observed=self.observed, complete=self.complete
        )


def observed_table(idata, draws: PosteriorDraws) -> ObservedTable:
    """Dense responses of a fit, rows and columns aligned with ``draws``.

    Raises
    ------
    ValueError
        If the subject or item labels of the data and of the posterior differ.
    """
    responses = fitted_responses(idata)
    responses.require_binary("the residual correlations (Q3)")
    rows = _positions(responses.subjects, draws.subjects, "subject")
    cols = _positions(responses.items, draws.items, "item")
    y = np.zeros((len(draws.subjects), len(draws.items)))
    observed = np.zeros(y.shape, dtype=bool)
    y[rows[responses.subject_index], cols[responses.item_index]] = responses.response
    observed[rows[responses.subject_index], cols[responses.item_index]] = True
    return ObservedTable(y=y, observed=observed, complete=bool(observed.all()))


def _positions(data_labels, posterior_labels, name: str) -> np.ndarray:
    """Position in the posterior's labels of each data label (codes of the data → columns)."""
    data = np.asarray(data_labels).astype(str)
    where = posterior_labels.get_indexer(data)
    if len(data) != len(posterior_labels) or (where < 0).any():
        raise ValueError(
            f"the posterior's {name} labels do not match the fitted responses in constant_data"
        )
    return where


def expected_responses(draws: PosteriorDraws, s: int) -> np.ndarray:
    """:math:`P_{ij}^{(s)}`, subjects × items, for stacked draw ``s``."""
    return icc(draws.theta[s][:, None], draws.a[s], draws.b[s], draws.c[s], draws.d[s])


@dataclass(frozen=True)
class FitResiduals:
    """Posterior draws, the aligned data and the stacked draws a Q3 summary uses.

    Attributes
    ----------
    draws : PosteriorDraws
    table : ObservedTable
        The fitted responses, aligned with ``draws``.
    samples : numpy.ndarray of int
        The stacked draws used, sorted.
    """

    draws: PosteriorDraws
    table: ObservedTable
    samples: np.ndarray

    def prob(self, s: int) -> np.ndarray:
        """:math:`P_{ij}^{(s)}` of stacked draw ``s`` (:func:`expected_responses`)."""
        return expected_responses(self.draws, s)

    def mean_prob(self) -> np.ndarray:
        """Posterior mean of :math:`P_{ij}` over the used draws."""
        total = np.zeros(self.table.y.shape)
        for s in self.samples:
            total += self.prob(s)
        return total / len(self.samples)


def fit_residuals(idata, n_draws: int | None, rng: np.random.Generator) -> FitResiduals:
    """The draws and data of a fit, with ``n_draws`` stacked draws chosen by ``rng`` without
    replacement (``None``, or at least as many as there are: all)."""
    draws = posterior_draws(idata)
    table = observed_table(idata, draws)
    if n_draws is not None:
        check_positive_int("n_draws", n_draws, show=str)
    samples = draw_sample(draws.n_samples, n_draws, rng)
    return FitResiduals(draws=draws, table=table, samples=samples)


def residuals(table: ObservedTable, prob: np.ndarray) -> np.ndarray:
    """:math:`e_{ij} = y_{ij} - P_{ij}` on observed cells, 0 elsewhere."""
    return np.where(table.observed, table.y - prob, 0.0)


def replicate(table: ObservedTable, prob: np.ndarray, rng: np.random.Generator) -> ObservedTable:
    """Responses drawn from :math:`\\text{Bernoulli}(P_{ij})` on the observed cells."""
    return table.with_responses((rng.random(prob.shape) < prob).astype(float))


def standardized(table: ObservedTable, resid: np.ndarray) -> np.ndarray:
    r"""Residuals centred and scaled per item over its observed subjects, 0 elsewhere.

    :math:`z_{ij} = (e_{ij} - \bar e_i) / s_i` with the mean and the population standard
    deviation over :math:`O_i`; an item whose residual is constant (:math:`s_i` at rounding
    level) gets :math:`z = 0`.
    """
    n = table.observed.sum(axis=0)
    safe = np.maximum(n, 1)
    mean = resid.sum(axis=0) / safe
    centred = np.where(table.observed, resid - mean, 0.0)
    sd = np.sqrt((centred**2).sum(axis=0) / safe)
    spread = sd > 1e-9 * np.sqrt((resid**2).sum(axis=0) / safe)
    scale = np.divide(1.0, sd, out=np.zeros_like(sd), where=spread)
    return centred * scale


def eligible_items(table: ObservedTable, min_minority: int) -> np.ndarray:
    """Items with at least ``min_minority`` observed answers in their less frequent category.

    The residuals of an item that one subject answered differently from everyone else are
    driven by that subject alone, so any two such items sharing the subject have a Q3 near 1
    that says nothing about the questions; tables of the most dependent pairs leave them out.
    """
    correct = table.y.sum(axis=0)
    return np.minimum(correct, table.observed.sum(axis=0) - correct) >= min_minority


def dense_q3(table: ObservedTable, resid: np.ndarray, counts: np.ndarray | None = None):
    r"""The :math:`I \times I` Q3 matrix of one draw (NaN on the diagonal and where undefined).

    Without missing cells it is :math:`Z^\top Z / J` for the standardised residuals. With
    missing cells every pair uses its own subjects :math:`O_i \cap O_k`: with the 0/1 mask
    :math:`M`, :math:`n = M^\top M`, :math:`S = E^\top M` (sums of :math:`e_i` over the
    subjects that also answered :math:`k`), :math:`S_2 = (E \odot E)^\top M` and
    :math:`C = E^\top E`,

    .. math::

        Q_{3,ik} = \frac{C_{ik} - S_{ik} S_{ki} / n_{ik}}
        {\sqrt{(S_{2,ik} - S_{ik}^2 / n_{ik})(S_{2,ki} - S_{ki}^2 / n_{ik})}}.

    Pairs with fewer than :data:`MIN_COMMON` common subjects, or with a constant residual on
    them, are NaN. ``counts`` is :math:`n`, which does not change across draws.
    """
    n_subjects = resid.shape[0]
    if table.complete:
        z = standardized(table, resid)
        q = z.T @ z / n_subjects
        flat = ~z.any(axis=0)
        q[flat, :] = np.nan
        q[:, flat] = np.nan
    else:
        mask = table.observed.astype(float)
        n = mask.T @ mask if counts is None else counts
        with np.errstate(invalid="ignore", divide="ignore"):
            sums = resid.T @ mask
            squares = (resid**2).T @ mask
            centred_sq = _variance(squares, squares - sums**2 / n)
            cross = resid.T @ resid - sums * sums.T / n
            q = cross / np.sqrt(centred_sq * centred_sq.T)
        q[n < MIN_COMMON] = np.nan
    np.fill_diagonal(q, np.nan)
    return q


def pair_q3(
    table: ObservedTable,
    resid: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    *,
    max_elements: int = CHUNK_ELEMENTS,
) -> np.ndarray:
    """Exact pairwise-complete Q3 of the item pairs ``(left[k], right[k])`` in one draw.

    Without missing cells this is the mean product of standardised residuals; otherwise each
    pair's sums run over its common subjects, as in :func:`dense_q3`.
    """
    n_subjects = resid.shape[0]
    out = np.empty(len(left))
    step = max(1, max_elements // n_subjects)
    z = standardized(table, resid) if table.complete else None
    for start in range(0, len(left), step):
        i, k = left[start : start + step], right[start : start + step]
        if z is not None:
            q = np.einsum("jp,jp->p", z[:, i], z[:, k]) / n_subjects
            q[~(z[:, i].any(axis=0) & z[:, k].any(axis=0))] = np.nan
            out[start : start + step] = q
            continue
        both = table.observed[:, i] & table.observed[:, k]
        x = np.where(both, resid[:, i], 0.0)
        w = np.where(both, resid[:, k], 0.0)
        n = both.sum(axis=0)
        sx, sw = x.sum(axis=0), w.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            cross = (x * w).sum(axis=0) - sx * sw / n
            sq_x, sq_w = (x * x).sum(axis=0), (w * w).sum(axis=0)
            var_x = _variance(sq_x, sq_x - sx**2 / n)
            var_w = _variance(sq_w, sq_w - sw**2 / n)
            q = cross / np.sqrt(var_x * var_w)
        q[n < MIN_COMMON] = np.nan
        out[start : start + step] = q
    return out


def _variance(squares: np.ndarray, centred: np.ndarray) -> np.ndarray:
    """Centred sums of squares, NaN where rounding is all that is left (a constant residual)."""
    return np.where(centred > 1e-12 * squares, centred, np.nan)


def sample_pairs(
    n_items: int, n_pairs: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` distinct item pairs ``i < k`` drawn uniformly without replacement.

    Pairs are numbered row by row in the upper triangle and the numbers drawn with
    ``rng.choice(..., replace=False)``; no list of all pairs is built.
    """
    total = n_items * (n_items - 1) // 2
    index = np.sort(rng.choice(total, size=min(n_pairs, total), replace=False))
    return _pair_from_index(index, n_items)


def _pair_from_index(index: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Invert ``index = first(i) + (k - i - 1)``, ``first(i) = i (2I - i - 1) / 2``."""
    width = 2 * n_items - 1

    def first(row: np.ndarray) -> np.ndarray:
        return row * (width - row) // 2

    row = np.floor((width - np.sqrt(width**2 - 8.0 * index)) / 2).astype(np.int64)
    # the float square root can land one row off at a row boundary
    row = np.where(first(row) > index, row - 1, row)
    row = np.where(first(row + 1) <= index, row + 1, row)
    return row, index - first(row) + row + 1


def screen_pairs(
    z: np.ndarray,
    mask: np.ndarray | None,
    n_pairs: int,
    *,
    max_elements: int = CHUNK_ELEMENTS,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The ``n_pairs`` item pairs with the largest :math:`|z_i^\top z_k| / n_{ik}`.

    ``z`` are standardised residuals (0 where missing) and ``mask`` the 0/1 observed mask as
    floats (``None`` when nothing is missing, :math:`n_{ik} = J`); :math:`n_{ik}` is the number
    of subjects observed on both. The upper triangle of the :math:`I \times I` product is
    formed ``max_elements // I`` rows at a time; a block keeps only the entries above the
    current ``n_pairs``-th best score, so memory stays
    :math:`O(\text{max\_elements} + \text{n\_pairs})` while time is :math:`O(I^2 J / 2)`.

    Returns
    -------
    left, right : numpy.ndarray of int
        The pairs (``left < right``), best first.
    """
    n_items = z.shape[1]
    block = max(1, max_elements // n_items)
    best = np.empty(0)
    best_left = np.empty(0, dtype=np.int64)
    best_right = np.empty(0, dtype=np.int64)
    floor = -np.inf
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        score = np.abs(z[:, start:stop].T @ z[:, start:])
        if mask is not None:
            n = mask[:, start:stop].T @ mask[:, start:]
            score /= np.maximum(n, 1.0)
            score[n < MIN_COMMON] = -1.0
        below = np.tril_indices(stop - start)
        score[below] = -1.0
        flat = score.ravel()
        top = np.flatnonzero(flat > max(floor, -0.5))
        if len(top) > n_pairs:
            top = top[np.argpartition(-flat[top], n_pairs - 1)[:n_pairs]]
        width = n_items - start
        best = np.concatenate([best, flat[top]])
        best_left = np.concatenate([best_left, start + top // width])
        best_right = np.concatenate([best_right, start + top % width])
        if len(best) > n_pairs:
            keep = np.argpartition(-best, n_pairs - 1)[:n_pairs]
            best, best_left, best_right = best[keep], best_left[keep], best_right[keep]
            floor = best.min()
    order = np.argsort(-best, kind="stable")
    return best_left[order], best_right[order]


class MeanAbsQ3:
    r"""The mean-|Q3| discrepancy :math:`T` of a posterior predictive check (module docstring).

    Up to ``dense_max`` items every pair enters (:func:`dense_q3` of each draw); above, no
    :math:`I \times I` matrix is built and :math:`T` runs over ``n_pairs`` random pairs drawn
    here, once, with ``rng`` (:func:`sample_pairs`). :meth:`add_pairs` computes the Q3 of more
    pairs alongside (the candidates of a table of pairs) without letting them into :math:`T`.

    Attributes
    ----------
    dense : bool
        Every pair, from the :math:`I \times I` matrix.
    left, right : numpy.ndarray of int or None
        Not dense: the pairs whose Q3 :meth:`q3` returns, in that order.
    random : numpy.ndarray of bool or None
        Not dense: which of them are the random pairs behind :math:`T`.
    """

    def __init__(
        self,
        table: ObservedTable,
        *,
        dense_max: int,
        n_pairs: int,
        rng: np.random.Generator,
        max_elements: int = CHUNK_ELEMENTS,
    ):
        self.n_items = table.y.shape[1]
        self.max_elements = max_elements
        self.dense = self.n_items <= dense_max
        self.counts = self.left = self.right = self.random = None
        if self.dense:
            mask = table.observed.astype(float)
            self.counts = None if table.complete else mask.T @ mask
        else:
            self.left, self.right = sample_pairs(self.n_items, n_pairs, rng)
            self.random = np.ones(len(self.left), dtype=bool)

    @property
    def n_random(self) -> int:
        """Pairs behind :math:`T`: all pairs when dense, else the random ones."""
        if self.dense:
            return self.n_items * (self.n_items - 1) // 2
        return int(self.random.sum())

    def add_pairs(self, left: np.ndarray, right: np.ndarray) -> None:
        """Not dense: also compute the Q3 of the pairs ``(left[k], right[k])``, ``left < right``
        (the pairs end up sorted by ``left * I + right``; :attr:`random` marks the random ones)."""
        random_codes = self.left[self.random] * self.n_items + self.right[self.random]
        codes = np.union1d(random_codes, left * self.n_items + right)
        self.left, self.right = np.divmod(codes, self.n_items)
        self.random = np.isin(codes, random_codes)

    def q3(self, data: ObservedTable, prob: np.ndarray) -> np.ndarray:
        r"""Q3 of the residuals ``data - prob``: the :math:`I \times I` matrix when dense, else
        one value per pair of :attr:`left`, :attr:`right`."""
        resid = residuals(data, prob)
        if self.dense:
            return dense_q3(data, resid, self.counts)
        return pair_q3(data, resid, self.left, self.right, max_elements=self.max_elements)

    def discrepancy(self, q_obs: np.ndarray, q_rep: np.ndarray) -> tuple[float, float]:
        """:math:`T` of the observed and of the replicated data from their :meth:`q3`, over
        the pairs defined in both (NaN when there is none)."""
        sel = ~(np.isnan(q_obs) | np.isnan(q_rep))
        if not self.dense:
            sel &= self.random
        n = sel.sum()
        if not n:
            return np.nan, np.nan
        return np.abs(q_obs[sel]).sum() / n, np.abs(q_rep[sel]).sum() / n


@dataclass(frozen=True)
class ClusterSums:
    r"""Sums behind the within- and between-cluster mean Q3 of one draw.

    With standardised residuals :math:`z` (see :func:`standardized`), per-subject cluster
    sums :math:`Z_{jc} = \sum_{i \in c} z_{ij}` and observed counts :math:`m_{jc}`, the
    ordered pairs :math:`i \ne k` of cluster :math:`c` give

    .. math::

        \text{num}_c = \sum_j \Big(Z_{jc}^2 - \sum_{i \in c} z_{ij}^2\Big), \qquad
        \text{cnt}_c = \sum_j (m_{jc}^2 - m_{jc}),

    and :math:`\text{num}_c / \text{cnt}_c` is the mean Q3 of the cluster's pairs, exactly
    when no cell is missing. Between clusters :math:`c \ne d`,
    :math:`\sum_j Z_{jc} Z_{jd} / \sum_j m_{jc} m_{jd}`.

    Attributes
    ----------
    within_num, within_cnt : numpy.ndarray, shape (n_clusters,)
    between_num, between_cnt : float
        Over all pairs of items in different clusters (items without a cluster included).
    cross_num, cross_cnt : numpy.ndarray, shape (n_clusters, n_clusters) or None
        Cluster × cluster sums, diagonal equal to ``within_*``; only when asked.
    """

    within_num: np.ndarray
    within_cnt: np.ndarray
    between_num: float
    between_cnt: float
    cross_num: np.ndarray | None
    cross_cnt: np.ndarray | None

    @property
    def within(self) -> np.ndarray:
        """Mean within-cluster Q3 of each cluster (NaN for a cluster with no pair)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.within_num / self.within_cnt

    @property
    def pooled_within(self) -> float:
        """Mean Q3 over all within-cluster pairs of all clusters."""
        cnt = self.within_cnt.sum()
        return float(self.within_num.sum() / cnt) if cnt > 0 else float("nan")

    @property
    def between(self) -> float:
        """Mean Q3 over all pairs of items in different clusters."""
        return self.between_num / self.between_cnt if self.between_cnt > 0 else float("nan")

    @property
    def matrix(self) -> np.ndarray:
        """Cluster × cluster mean Q3 (diagonal: within)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.cross_num / self.cross_cnt


def cluster_indicator(codes: np.ndarray, n_clusters: int) -> sparse.csr_array:
    """Sparse items × clusters 0/1 matrix; items with code -1 belong to no cluster."""
    inside = np.flatnonzero(codes >= 0)
    return sparse.csr_array(
        (np.ones(len(inside)), (inside, codes[inside])), shape=(len(codes), n_clusters)
    )


def cluster_sums(
    table: ObservedTable,
    z: np.ndarray,
    indicator: sparse.csr_array,
    *,
    matrix: bool = False,
) -> ClusterSums:
    """Within/between sums of :class:`ClusterSums` for standardised residuals ``z``.

    ``indicator`` is :func:`cluster_indicator` of the partition; ``matrix`` also returns the
    cluster × cluster sums.
    """
    observed = table.observed.astype(float)
    zc = (indicator.T @ z.T).T
    mc = (indicator.T @ observed.T).T
    own = (indicator.T @ (z**2).T).T
    within_num = (zc**2 - own).sum(axis=0)
    within_cnt = (mc**2 - mc).sum(axis=0)
    per_subject = z.sum(axis=1)
    n = observed.sum(axis=1)
    total_num = float((per_subject**2 - (z**2).sum(axis=1)).sum())
    total_cnt = float((n**2 - n).sum())
    cross_num = cross_cnt = None
    if matrix:
        cross_num = zc.T @ zc
        cross_cnt = mc.T @ mc
        np.fill_diagonal(cross_num, within_num)
        np.fill_diagonal(cross_cnt, within_cnt)
    return ClusterSums(
        within_num=within_num,
        within_cnt=within_cnt,
        between_num=total_num - float(within_num.sum()),
        between_cnt=total_cnt - float(within_cnt.sum()),
        cross_num=cross_num,
        cross_cnt=cross_cnt,
    )
