r"""Local dependence between questions: Yen's Q3 by pair and by cluster, and its tests.

Q3 and the residuals it correlates are defined in :mod:`bayesirt.analysis.dependence.q3`.

**How the pairs are summarised, by size** (:func:`local_dependence`):

* :math:`I \le` ``dense_max`` (2,000 by default): the full :math:`I \times I` matrix for each
  draw, kept only as its running posterior mean and standard deviation (32 MB per matrix at
  2,000 items);
* larger :math:`I`: no :math:`I \times I` matrix ever. The global summaries (mean Q3, mean
  :math:`|Q3|`) are taken over ``n_pairs`` item pairs drawn uniformly at random (the same
  pairs in every draw), and the most dependent pairs are found by a blocked scan of the
  posterior-mean residuals that keeps only the best candidates of each block of rows
  (:math:`O(I^2 J)` time, bounded memory), whose exact Q3 is then computed in every draw;
* always: within- and between-cluster means from per-subject sums of standardised residuals
  (:class:`~bayesirt.analysis.dependence.q3.ClusterSums`), :math:`O(J I)` per draw for any
  number of items. They equal the mean of the pairwise Q3 exactly when no cell is missing;
  with missing cells each residual is standardised over its own item's observed subjects and
  the mean is weighted by the number of common subjects, a close approximation of the
  pairwise-complete mean.

**Is the dependence more than noise?** (:func:`dependence_test`) A posterior predictive check
compares a statistic :math:`T` of the observed residuals with the same statistic of responses
replicated from the same draw, :math:`p = P(T(y^{rep}, \psi) \ge T(y, \psi) \mid y)`; a
permutation test shuffles the cluster labels of the items.

**Which partition explains it?** (:func:`explain_dependence`) For a partition of the items
(:mod:`bayesirt.analysis.dependence.clusters`), the *excess* is the within-cluster mean Q3
minus the between-cluster mean, in each draw; a partition that captures the dependence has a
clearly positive excess.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from bayesirt._validate import check_positive_int, check_probability
from bayesirt.analysis.dependence.clusters import Clusters, adjusted_rand_index, item_partition
from bayesirt.analysis.dependence.q3 import (
    MeanAbsQ3,
    ObservedTable,
    cluster_indicator,
    cluster_sums,
    dense_q3,
    eligible_items,
    fit_residuals,
    pair_q3,
    replicate,
    residuals,
    sample_pairs,
    screen_pairs,
    standardized,
)
from bayesirt.analysis.posterior import CHUNK_ELEMENTS

__all__ = [
    "DEPENDENCE_STATISTICS",
    "MAX_CLUSTER_MATRIX",
    "cluster_table",
    "dependence_test",
    "dependent_pairs",
    "explain_dependence",
    "interval_summary",
    "local_dependence",
]

#: Statistics of the posterior predictive check, see :func:`dependence_test`.
DEPENDENCE_STATISTICS = ("mean_abs", "cluster_excess")
#: Largest number of clusters whose cluster × cluster Q3 matrix is kept.
MAX_CLUSTER_MATRIX = 200


def interval_summary(values: np.ndarray, interval: float, axis: int = 0):
    """Posterior mean and central ``interval`` of draws along ``axis``, ignoring NaN."""
    tail = (1.0 - interval) / 2
    with np.errstate(invalid="ignore"), _quiet():
        return (
            np.nanmean(values, axis=axis),
            np.nanquantile(values, tail, axis=axis),
            np.nanquantile(values, 1 - tail, axis=axis),
        )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence NumPy's "mean of empty slice" warnings of all-NaN summaries."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# --------------------------------------------------------------------- Q3 summaries
def local_dependence(
    idata,
    *,
    clusters: Clusters = None,
    n_draws: int | None = 100,
    dense_max: int = 2000,
    n_pairs: int = 100_000,
    top: int = 20,
    min_minority: int = 2,
    interval: float = 0.9,
    random_seed: int = 0,
    max_elements: int = CHUNK_ELEMENTS,
) -> xr.Dataset:
    r"""Posterior distribution of Yen's Q3: global, by cluster, and for the most dependent pairs.

    Q3 is defined in :mod:`bayesirt.analysis.dependence.q3`: the pairwise-complete correlation
    across subjects of two items' residuals :math:`e_{ij}^{(s)} = y_{ij} - P_{ij}^{(s)}`, one
    value per posterior draw.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fitted model with ``constant_data`` holding its responses.
    clusters : str, Series, sequence or None
        A partition of the items for the cluster summaries: an item metadata column name, a
        Series keyed by item label, or one label per item in the fit's order. Items with a
        missing label belong to no cluster (they enter only between-cluster pairs).
    n_draws : int or None
        Number of posterior draws used, chosen at random without replacement (``None``: all).
    dense_max : int
        Largest number of items for which the full :math:`I \times I` matrix is computed.
    n_pairs : int
        Above ``dense_max``: number of random item pairs behind the global summaries.
    top : int
        Number of most dependent pairs (by absolute posterior mean Q3) reported with their
        posterior.
    min_minority : int
        The reported pairs only join items with at least this many observed responses in
        their less frequent category (correct or wrong). The residuals of an item that one
        subject answered differently from everyone else are driven by that subject alone, so
        any two such items sharing the subject have a Q3 near 1 that says nothing about the
        questions. The global and cluster summaries keep every item.
    interval : float in (0, 1)
        Mass of the central credible intervals.
    random_seed : int
        Seed of the draw subset and of the pair sample.
    max_elements : int
        Largest temporary array (cells) built at once.

    Returns
    -------
    xarray.Dataset
        Dims ``sample`` (the stacked posterior draws used), ``pair`` (the ``top`` pairs, most
        dependent first), and where they apply ``item`` / ``item2`` and ``cluster`` /
        ``cluster2``:

        ``mean_q3``, ``mean_abs_q3`` (sample)
            Mean Q3 and mean :math:`|Q3|` over all item pairs (dense) or the sampled pairs.
        ``pair_q3`` (sample, pair)
            Q3 of the most dependent pairs; coordinates ``pair_item``, ``pair_item2`` (and
            ``pair_cluster``, ``pair_cluster2`` with a partition).
        ``q3_mean``, ``q3_sd`` (item, item2)
            Dense only: posterior mean and standard deviation of every Q3 (NaN diagonal).
        ``within_q3`` (sample, cluster), ``between_q3``, ``pooled_within_q3`` (sample)
            With a partition: each cluster's mean within-cluster Q3, the mean over pairs in
            different clusters, and over all within-cluster pairs.
        ``cluster_q3`` (cluster, cluster2)
            Posterior mean cluster × cluster Q3 (diagonal: within), up to
            :data:`MAX_CLUSTER_MATRIX` clusters. ``cluster_size`` (cluster) counts items.

        ``attrs``: ``method`` (``"dense"`` or ``"sampled"``), ``n_pairs`` (pairs behind the
        global summaries), ``n_items``, ``n_subjects``, ``n_draws``, ``partition``,
        ``interval``, ``missing`` (the rule for missing cells), ``random_seed``.
    """
    check_probability("interval", interval)
    check_positive_int("top", top, noun="number of pairs", show=str)
    rng = np.random.default_rng(random_seed)
    setup = fit_residuals(idata, n_draws, rng)
    table, items = setup.table, setup.draws.items
    n_items = len(items)
    dense = n_items <= dense_max
    part = item_partition(clusters, idata, items)
    n_draw = len(setup.samples)
    total_pairs = n_items * (n_items - 1) // 2

    mean_q3, mean_abs = np.empty(n_draw), np.empty(n_draw)
    if dense:
        mask = table.observed.astype(float)
        counts = None if table.complete else mask.T @ mask
        q_sum = np.zeros((n_items, n_items))
        q_sq = np.zeros((n_items, n_items))
        q_n = np.zeros((n_items, n_items))
    else:
        left, right = sample_pairs(n_items, n_pairs, rng)
    if part is not None:
        indicator = part.indicator
        n_clusters = len(part.labels)
        with_matrix = n_clusters <= MAX_CLUSTER_MATRIX
        within = np.empty((n_draw, n_clusters))
        between, pooled = np.empty(n_draw), np.empty(n_draw)
        cross_num = np.zeros((n_clusters, n_clusters))
        cross_cnt = np.zeros((n_clusters, n_clusters))

    prob_sum = np.zeros(table.y.shape)
    for row, s in enumerate(setup.samples):
        prob = setup.prob(s)
        prob_sum += prob
        resid = residuals(table, prob)
        if dense:
            q = dense_q3(table, resid, counts)
            ok = ~np.isnan(q)
            q0 = np.where(ok, q, 0.0)
            q_sum += q0
            q_sq += q0**2
            q_n += ok
            n_ok = ok.sum()
            mean_q3[row] = q0.sum() / n_ok if n_ok else np.nan
            mean_abs[row] = np.abs(q0).sum() / n_ok if n_ok else np.nan
        else:
            q = pair_q3(table, resid, left, right, max_elements=max_elements)
            with _quiet():
                mean_q3[row], mean_abs[row] = np.nanmean(q), np.nanmean(np.abs(q))
        if part is not None:
            z = standardized(table, resid)
            sums = cluster_sums(table, z, indicator, matrix=with_matrix)
            within[row], between[row], pooled[row] = sums.within, sums.between, sums.pooled_within
            if with_matrix:
                cross_num += sums.cross_num
                cross_cnt += sums.cross_cnt

    # the most dependent pairs: candidates, then their exact Q3 in every draw
    n_candidates = max(5 * top, 100)
    eligible = eligible_items(table, min_minority)
    if dense:
        with np.errstate(invalid="ignore", divide="ignore"):
            q_mean = q_sum / q_n
            q_sd = np.sqrt(np.maximum(q_sq / q_n - q_mean**2, 0.0))
        usable = np.triu(q_n > 0, k=1) & eligible[:, None] & eligible[None, :]
        upper = np.where(usable, np.abs(np.nan_to_num(q_mean)), -1.0).ravel()
        keep = min(n_candidates, total_pairs)
        flat = np.argpartition(-upper, keep - 1)[:keep]
        flat = flat[upper[flat] >= 0]
        cand_left, cand_right = flat // n_items, flat % n_items
    else:
        mean_resid = residuals(table, prob_sum / n_draw)
        cand_left, cand_right = screen_pairs(
            standardized(table, mean_resid) * eligible,
            None if table.complete else table.observed.astype(float),
            n_candidates,
            max_elements=max_elements,
        )
        both = eligible[cand_left] & eligible[cand_right]
        cand_left, cand_right = cand_left[both], cand_right[both]
    cand_q3 = np.empty((n_draw, len(cand_left)))
    for row, s in enumerate(setup.samples):
        resid = residuals(table, setup.prob(s))
        cand_q3[row] = pair_q3(table, resid, cand_left, cand_right, max_elements=max_elements)
    with _quiet():
        strength = np.abs(np.nanmean(cand_q3, axis=0))
    order = np.argsort(-np.nan_to_num(strength, nan=-1.0), kind="stable")[:top]
    order = order[~np.isnan(strength[order])]
    pair_left, pair_right = cand_left[order], cand_right[order]

    coords: dict = {
        "sample": setup.samples,
        "pair": np.arange(len(order)),
        "pair_item": ("pair", np.asarray(items[pair_left])),
        "pair_item2": ("pair", np.asarray(items[pair_right])),
    }
    data_vars: dict = {
        "mean_q3": ("sample", mean_q3),
        "mean_abs_q3": ("sample", mean_abs),
        "pair_q3": (("sample", "pair"), cand_q3[:, order]),
    }
    if dense:
        coords["item"] = np.asarray(items)
        coords["item2"] = np.asarray(items)
        data_vars["q3_mean"] = (("item", "item2"), q_mean)
        data_vars["q3_sd"] = (("item", "item2"), q_sd)
    if part is not None:
        item_cluster = part.item_labels()
        coords["pair_cluster"] = ("pair", item_cluster[pair_left].astype(str))
        coords["pair_cluster2"] = ("pair", item_cluster[pair_right].astype(str))
        coords["cluster"] = np.asarray(part.labels)
        data_vars["within_q3"] = (("sample", "cluster"), within)
        data_vars["between_q3"] = ("sample", between)
        data_vars["pooled_within_q3"] = ("sample", pooled)
        data_vars["cluster_size"] = (
            "cluster",
            np.bincount(part.codes[part.codes >= 0], minlength=n_clusters),
        )
        if with_matrix:
            coords["cluster2"] = np.asarray(part.labels)
            with np.errstate(invalid="ignore", divide="ignore"):
                data_vars["cluster_q3"] = (("cluster", "cluster2"), cross_num / cross_cnt)
    attrs = {
        "method": "dense" if dense else "sampled",
        "n_pairs": total_pairs if dense else len(left),
        "n_items": n_items,
        "n_subjects": len(setup.draws.subjects),
        "n_draws": n_draw,
        "dense_max": dense_max,
        "min_minority": min_minority,
        "partition": part.name if part is not None else "",
        "interval": interval,
        "missing": "pairwise-complete"
        + ("" if table.complete else "; cluster means standardise per item"),
        "random_seed": random_seed,
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def dependent_pairs(result: xr.Dataset) -> pd.DataFrame:
    """The most dependent item pairs of :func:`local_dependence`, most dependent first.

    Columns: ``item``, ``item2``, ``q3`` (posterior mean), ``q3_lo``, ``q3_hi`` (central
    credible interval), ``p_positive`` (posterior probability that Q3 > 0), and ``cluster``,
    ``cluster2`` when the result has a partition.
    """
    q = result["pair_q3"].values
    mean, lo, hi = interval_summary(q, result.attrs["interval"])
    table = pd.DataFrame(
        {
            "item": result["pair_item"].values,
            "item2": result["pair_item2"].values,
            "q3": mean,
            "q3_lo": lo,
            "q3_hi": hi,
            "p_positive": (q > 0).mean(axis=0),
        }
    )
    if "pair_cluster" in result.coords:
        table["cluster"] = result["pair_cluster"].values
        table["cluster2"] = result["pair_cluster2"].values
    return table


def cluster_table(result: xr.Dataset) -> pd.DataFrame:
    """Within-cluster dependence of each cluster of :func:`local_dependence`'s partition.

    Columns: ``n_items``, ``within_q3`` with ``within_q3_lo`` / ``within_q3_hi``, ``excess``
    (posterior mean of within-cluster minus between-cluster mean Q3) and ``p_excess``
    (posterior probability that it is positive). Indexed by ``cluster``, most dependent first.

    Raises
    ------
    ValueError
        If the result was computed without a partition.
    """
    if "within_q3" not in result:
        raise ValueError("the result has no partition; pass clusters= to local_dependence")
    within = result["within_q3"].values
    excess = within - result["between_q3"].values[:, None]
    mean, lo, hi = interval_summary(within, result.attrs["interval"])
    with _quiet():
        table = pd.DataFrame(
            {
                "n_items": result["cluster_size"].values,
                "within_q3": mean,
                "within_q3_lo": lo,
                "within_q3_hi": hi,
                "excess": np.nanmean(excess, axis=0),
                "p_excess": (excess > 0).mean(axis=0),
            },
            index=pd.Index(result["cluster"].values, name="cluster"),
        )
    return table.sort_values("excess", ascending=False, kind="stable")


# --------------------------------------------------------------------------- tests
def dependence_test(
    idata,
    *,
    statistic: str = "mean_abs",
    clusters: Clusters = None,
    n_draws: int | None = 200,
    n_permutations: int = 1000,
    dense_max: int = 2000,
    n_pairs: int = 100_000,
    alpha: float = 0.05,
    random_seed: int = 0,
    max_elements: int = CHUNK_ELEMENTS,
) -> xr.Dataset:
    r"""Is the residual correlation more than the fitted model produces by chance?

    **Posterior predictive check.** For each used draw :math:`s`, responses
    :math:`y^{rep,(s)}_{ij} \sim \text{Bernoulli}(P_{ij}^{(s)})` are replicated on the observed
    cells (same missing pattern), and the statistic :math:`T` of the Q3 matrix is computed for
    the observed and the replicated responses, both with residuals against the same
    :math:`P^{(s)}`. The posterior predictive p-value is

    .. math::

        p_{\text{PPC}} = \frac{1}{S} \sum_s \mathbf 1\big[T(y^{rep,(s)}, \psi^{(s)}) \ge
        T(y, \psi^{(s)})\big].

    Its resolution is :math:`1/S`; a p-value of 0 means no replication reached the observed
    value. The statistic ``statistic`` is

    * ``"mean_abs"``: the mean :math:`|Q3|` over all item pairs (over ``n_pairs`` random pairs
      above ``dense_max`` items) whose Q3 is defined for both the observed and the replicated
      responses (:class:`~bayesirt.analysis.dependence.q3.MeanAbsQ3`), which needs no
      partition;
    * ``"cluster_excess"``: the pooled within-cluster mean Q3 minus the between-cluster mean
      (``clusters`` required).

    **Permutation test** (with ``clusters``). On the residuals of the posterior-mean expected
    responses, :math:`T_0` is the cluster excess; the items' cluster labels are shuffled
    ``n_permutations`` times (cluster sizes kept) and
    :math:`p = (1 + \#\{T_\pi \ge T_0\}) / (1 + n_\pi)`. The null hypothesis: items of the same
    cluster are no more alike in their residuals than items grouped at random. The test is
    exact for a partition fixed before seeing the residuals (metadata, text); for a partition
    found *from* these residuals
    (:func:`~bayesirt.analysis.dependence.clusters.residual_clusters`) it is not valid and must
    not be used.

    Parameters
    ----------
    idata : arviz.InferenceData
    statistic : {"mean_abs", "cluster_excess"}
    clusters : str, Series, sequence or None
        As in :func:`local_dependence`.
    n_draws : int or None
        Posterior draws used (one replication each); ``None`` for all.
    n_permutations : int
        Label permutations (0 skips the permutation test).
    dense_max, n_pairs, max_elements
        As in :func:`local_dependence`.
    alpha : float
        Level of the verdict.
    random_seed : int
        Seed of the draw subset, the pairs, the replications and the permutations.

    Returns
    -------
    xarray.Dataset
        ``t_obs``, ``t_rep`` (sample) and, with a partition, ``t_perm`` (permutation).
        ``attrs``: ``statistic``, ``ppc_p``, ``permutation_p`` (NaN without a partition),
        ``t_obs_mean_residual`` (:math:`T_0`), ``partition``, ``alpha``, ``method`` and
        ``verdict``, a sentence in plain language.
    """
    if statistic not in DEPENDENCE_STATISTICS:
        raise ValueError(f"statistic must be one of {DEPENDENCE_STATISTICS}, got {statistic!r}")
    check_probability("alpha", alpha)
    if n_permutations < 0:
        raise ValueError(f"n_permutations must be non-negative, got {n_permutations}")
    rng = np.random.default_rng(random_seed)
    setup = fit_residuals(idata, n_draws, rng)
    table = setup.table
    n_items = len(setup.draws.items)
    part = item_partition(clusters, idata, setup.draws.items)
    if statistic == "cluster_excess" and part is None:
        raise ValueError("statistic='cluster_excess' needs clusters=")
    if statistic == "mean_abs":
        mean_abs = MeanAbsQ3(
            table, dense_max=dense_max, n_pairs=n_pairs, rng=rng, max_elements=max_elements
        )
        method = "dense" if mean_abs.dense else f"sampled ({mean_abs.n_random} pairs)"
    else:
        method = "cluster sums"

    t_obs, t_rep = np.empty(len(setup.samples)), np.empty(len(setup.samples))
    for row, s in enumerate(setup.samples):
        prob = setup.prob(s)
        replicated = replicate(table, prob, rng)
        if statistic == "mean_abs":
            t_obs[row], t_rep[row] = mean_abs.discrepancy(
                mean_abs.q3(table, prob), mean_abs.q3(replicated, prob)
            )
        else:
            t_obs[row] = _residual_excess(table, prob, part)
            t_rep[row] = _residual_excess(replicated, prob, part)
    valid = ~(np.isnan(t_obs) | np.isnan(t_rep))
    ppc_p = float((t_rep[valid] >= t_obs[valid]).mean()) if valid.any() else float("nan")

    data_vars = {"t_obs": ("sample", t_obs), "t_rep": ("sample", t_rep)}
    perm_p = t0 = float("nan")
    if part is not None and n_permutations > 0:
        z = standardized(table, residuals(table, setup.mean_prob()))
        t0 = _excess(table, z, part.codes, len(part.labels))
        t_perm = np.array(
            [
                _excess(table, z, part.codes[rng.permutation(n_items)], len(part.labels))
                for _ in range(n_permutations)
            ]
        )
        perm_p = float((1 + (t_perm >= t0).sum()) / (1 + n_permutations))
        data_vars["t_perm"] = ("permutation", t_perm)
    attrs = {
        "statistic": statistic,
        "ppc_p": ppc_p,
        "permutation_p": perm_p,
        "t_obs_mean_residual": t0,
        "partition": part.name if part is not None else "",
        "alpha": alpha,
        "method": method,
        "n_draws": len(setup.samples),
        "n_permutations": n_permutations if part is not None else 0,
        "random_seed": random_seed,
    }
    attrs["verdict"] = _verdict(attrs, t_obs, t_rep)
    return xr.Dataset(data_vars, coords={"sample": setup.samples}, attrs=attrs)


def _residual_excess(data: ObservedTable, prob: np.ndarray, part) -> float:
    """The cluster excess of the residuals ``data - prob`` (``statistic="cluster_excess"``)."""
    z = standardized(data, residuals(data, prob))
    return _excess(data, z, part.codes, len(part.labels))


def _excess(table: ObservedTable, z: np.ndarray, codes: np.ndarray, n_clusters: int) -> float:
    """Pooled within-cluster minus between-cluster mean Q3 of standardised residuals ``z``."""
    sums = cluster_sums(table, z, cluster_indicator(codes, n_clusters))
    return sums.pooled_within - sums.between


def _verdict(attrs: dict, t_obs: np.ndarray, t_rep: np.ndarray) -> str:
    alpha, ppc_p, perm_p = attrs["alpha"], attrs["ppc_p"], attrs["permutation_p"]
    what = {"mean_abs": "mean |Q3|", "cluster_excess": "within-cluster excess of Q3"}[
        attrs["statistic"]
    ]
    with _quiet():
        gap = float(np.nanmean(t_obs - t_rep))
    if np.isnan(ppc_p):
        sentence = "The posterior predictive check could not be computed (no defined Q3)."
    elif ppc_p < alpha:
        sentence = (
            f"The residual correlation is not random: the observed {what} exceeds data "
            f"replicated from the fitted model (posterior predictive p = {ppc_p:.3f} < "
            f"{alpha:g}; on average by {gap:.3f}), so the items are locally dependent beyond "
            "what the model describes."
        )
    else:
        sentence = (
            f"The overall residual correlation ({what}) is typical of data replicated from "
            f"the fitted model (posterior predictive p = {ppc_p:.3f} >= {alpha:g}): no "
            "evidence of local dependence beyond what the model produces."
        )
    if not np.isnan(perm_p):
        name = attrs["partition"]
        if perm_p < alpha:
            sentence += (
                f" Items sharing a {name!r} label correlate more than items grouped at random "
                f"(within - between Q3 = {attrs['t_obs_mean_residual']:.3f}, permutation p = "
                f"{perm_p:.3f}), so part of the dependence follows the {name!r} labels."
            )
        else:
            sentence += (
                f" Items sharing a {name!r} label are no more alike than items grouped at "
                f"random (permutation p = {perm_p:.3f})."
            )
    return sentence


# -------------------------------------------------------------------- partitions
def explain_dependence(
    idata,
    partitions: Mapping[str, Clusters],
    *,
    reference: str | pd.Series | None = None,
    n_draws: int | None = 100,
    interval: float = 0.9,
    random_seed: int = 0,
) -> pd.DataFrame:
    r"""How much of the residual dependence each partition of the items explains.

    For every partition the within-cluster mean Q3 (over all pairs of items in the same
    cluster), the between-cluster mean and their difference, the *excess*, are computed in
    each used draw from cluster sums (see the module docstring); a partition that captures
    the dependence has a clearly positive excess.

    Parameters
    ----------
    idata : arviz.InferenceData
    partitions : mapping of name to clusters
        Each value as ``clusters`` of :func:`local_dependence` (metadata column name, Series
        keyed by item, or labels in the fit's item order).
    reference : str or Series, optional
        A partition (a key of ``partitions`` or labels as above) to compare every partition
        with by the adjusted Rand index, over the items labelled in both.
    n_draws, interval, random_seed
        As in :func:`local_dependence`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``partition``, by decreasing excess: ``n_clusters``, ``within_q3``
        (posterior mean), ``between_q3``, ``excess`` with ``excess_lo`` / ``excess_hi``,
        ``p_excess`` (posterior probability of a positive excess) and ``ari``.
    """
    check_probability("interval", interval)
    if not partitions:
        raise ValueError("no partitions given")
    rng = np.random.default_rng(random_seed)
    setup = fit_residuals(idata, n_draws, rng)
    items = setup.draws.items
    parts = {name: item_partition(labels, idata, items) for name, labels in partitions.items()}
    indicators = {name: part.indicator for name, part in parts.items()}
    within = {name: np.empty(len(setup.samples)) for name in parts}
    between = {name: np.empty(len(setup.samples)) for name in parts}
    for row, s in enumerate(setup.samples):
        z = standardized(setup.table, residuals(setup.table, setup.prob(s)))
        for name in parts:
            sums = cluster_sums(setup.table, z, indicators[name])
            within[name][row], between[name][row] = sums.pooled_within, sums.between

    if reference is None:
        ref = None
    elif isinstance(reference, str) and reference in parts:
        ref = parts[reference]
    else:
        ref = item_partition(reference, idata, items)
    rows = []
    for name, part in parts.items():
        excess = within[name] - between[name]
        mean, lo, hi = interval_summary(excess, interval)
        ari = float("nan")
        if ref is not None:
            both = (part.codes >= 0) & (ref.codes >= 0)
            if both.sum() > 1:
                ari = adjusted_rand_index(part.codes[both], ref.codes[both])
        with _quiet():
            rows.append(
                {
                    "partition": name,
                    "n_clusters": len(part.labels),
                    "within_q3": np.nanmean(within[name]),
                    "between_q3": np.nanmean(between[name]),
                    "excess": mean,
                    "excess_lo": lo,
                    "excess_hi": hi,
                    "p_excess": float((excess > 0).mean()),
                    "ari": ari,
                }
            )
    table = pd.DataFrame(rows).set_index("partition")
    return table.sort_values("excess", ascending=False, kind="stable")
