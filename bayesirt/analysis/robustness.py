r"""How robust is a ranking: local dependence between questions, other distributions of interest.

A leaderboard averages over one particular set of questions, and an IRT fit assumes that,
given a subject's ability, its answers to different questions are independent. This module
checks both.

**Local dependence (Yen's Q3).** For stacked posterior draw :math:`s`, the residual of subject
:math:`j` on item :math:`i` is :math:`e_{ij}^{(s)} = y_{ij} - P_{ij}^{(s)}` with
:math:`P_{ij}^{(s)} = c_i + (d_i - c_i)\,\sigma\big(a_i(\theta_j - b_i)\big)` at that draw, and

.. math::

    Q_{3,ik}^{(s)} = \operatorname{corr}_{j \in O_i \cap O_k}\big(e_{ij}^{(s)},
    e_{kj}^{(s)}\big),

the Pearson correlation of the two items' residuals over the subjects observed on both
(pairwise-complete; a pair with fewer than three such subjects, or a constant residual on
them, has no Q3). Under local independence Q3 is near :math:`-1/(I - 1)`; groups of items that
share something beyond the ability (a passage, a topic, a format) correlate positively.
Every Q3 summary is computed on a seeded random subset of the posterior draws, so it has a
posterior distribution.

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
  (:class:`bayesirt.analysis._q3.ClusterSums`), :math:`O(J I)` per draw for any number of
  items. They equal the mean of the pairwise Q3 exactly when no cell is missing; with missing
  cells each residual is standardised over its own item's observed subjects and the mean is
  weighted by the number of common subjects, a close approximation of the pairwise-complete
  mean.

**Is the dependence more than noise?** (:func:`dependence_test`) A posterior predictive check
compares a statistic :math:`T` of the observed residuals with the same statistic of responses
replicated from the same draw, :math:`p = P(T(y^{rep}, \psi) \ge T(y, \psi) \mid y)`; a
permutation test shuffles the cluster labels of the items.

**Clusters of questions** come from the residuals (:func:`residual_clusters`), from item
metadata, from item text (:func:`text_clusters`, TF-IDF) or from embeddings
(:func:`embedding_clusters`); :func:`explain_dependence` says how much of the dependence each
partition explains.

**Other distributions of interest** (:func:`scenario_rankings`): the ranking by ability, by
expected score on all questions equally weighted, with every cluster weighted equally, with
user weights per cluster, under random cluster weights (Dirichlet use cases), and from other
fits; :func:`rank_stability` and :func:`order_flips` compare them. :func:`assess_robustness`
runs the whole analysis and :func:`robustness_to_json` reports it.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import kendalltau, rankdata

from bayesirt.analysis import _q3
from bayesirt.analysis._clustering import (
    CORE_Z,
    adjusted_rand_index,
    grow_cores,
    kmeans_directions,
    residual_partition,
)
from bayesirt.analysis._posterior import (
    CHUNK_ELEMENTS,
    PosteriorDraws,
    expected_scores,
    fitted_responses,
    posterior_draws,
)
from bayesirt.analysis._ranks import rank_bounds, rank_probabilities, rank_quantile
from bayesirt.analysis.ranking import _beat_probabilities, rank

__all__ = [
    "DEPENDENCE_STATISTICS",
    "Robustness",
    "adjusted_rand_index",
    "assess_robustness",
    "cluster_table",
    "dependence_test",
    "dependent_pairs",
    "embedding_clusters",
    "explain_dependence",
    "local_dependence",
    "order_flips",
    "rank_stability",
    "residual_clusters",
    "robustness_to_json",
    "scenario_rankings",
    "text_clusters",
]

#: Statistics of the posterior predictive check, see :func:`dependence_test`.
DEPENDENCE_STATISTICS = ("mean_abs", "cluster_excess")
#: Metadata columns tried, in order, by ``groups="auto"`` of :func:`assess_robustness`.
AUTO_GROUP_COLUMNS = ("cluster", "category", "benchmark", "subject_area", "task")
#: Scenario names :func:`scenario_rankings` reserves.
RESERVED_SCENARIOS = ("theta", "uniform", "balanced", "dirichlet")
#: Largest number of clusters whose cluster × cluster Q3 matrix is kept.
MAX_CLUSTER_MATRIX = 200
#: Item metadata columns tried, in order, by ``text="auto"`` of :func:`assess_robustness`.
AUTO_TEXT_COLUMNS = ("text", "instruction", "question", "prompt")
#: Most order flips :func:`robustness_to_json` lists.
JSON_FLIPS = 100
#: Label of items without a cluster in the scenario weights.
NO_GROUP = "(none)"

Clusters = str | pd.Series | Sequence | np.ndarray | None


# --------------------------------------------------------------------------- setup
@dataclass(frozen=True)
class _Setup:
    """Posterior draws, the aligned data and the stacked draws a summary uses."""

    draws: PosteriorDraws
    table: _q3.ObservedTable
    samples: np.ndarray

    def prob(self, s: int) -> np.ndarray:
        return _q3.expected_responses(self.draws, s)

    def mean_prob(self) -> np.ndarray:
        """Posterior mean of :math:`P_{ij}` over the used draws."""
        total = np.zeros(self.table.y.shape)
        for s in self.samples:
            total += self.prob(s)
        return total / len(self.samples)


def _setup(idata, n_draws: int | None, rng: np.random.Generator) -> _Setup:
    draws = posterior_draws(idata)
    table = _q3.observed_table(idata, draws)
    if n_draws is not None and n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer, got {n_draws}")
    if n_draws is None or n_draws >= draws.n_samples:
        samples = np.arange(draws.n_samples)
    else:
        samples = np.sort(rng.choice(draws.n_samples, size=n_draws, replace=False))
    return _Setup(draws=draws, table=table, samples=samples)


@dataclass(frozen=True)
class _Partition:
    """Items' cluster codes (-1: no cluster) and the cluster labels."""

    name: str
    codes: np.ndarray
    labels: pd.Index

    @property
    def indicator(self):
        """Sparse items × clusters membership (:func:`_q3.cluster_indicator`)."""
        return _q3.cluster_indicator(self.codes, len(self.labels))

    def item_labels(self) -> np.ndarray:
        """Each item's cluster label, :data:`NO_GROUP` for items without one."""
        return np.where(self.codes >= 0, self.labels.to_numpy(dtype=object)[self.codes], NO_GROUP)


def _partition(clusters: Clusters, idata, items: pd.Index) -> _Partition | None:
    """Resolve a metadata column name, a Series keyed by item or one label per item."""
    if clusters is None:
        return None
    if isinstance(clusters, str):
        meta = fitted_responses(idata).item_meta
        if clusters not in meta.columns:
            raise ValueError(
                f"no item metadata column {clusters!r}; available: "
                f"{', '.join(map(str, meta.columns)) or 'none'}"
            )
        column = meta[clusters]
        column.index = column.index.astype(str)
        values, name = column.reindex(items), clusters
    elif isinstance(clusters, pd.Series):
        keyed = clusters.copy()
        keyed.index = keyed.index.astype(str)
        unknown = keyed.index.difference(items)
        if len(unknown):
            raise ValueError(f"cluster labels for items not in the fit: {list(unknown[:5])}")
        values, name = keyed.reindex(items), str(clusters.name or "clusters")
    else:
        values = pd.Series(np.asarray(clusters, dtype=object), dtype=object)
        if len(values) != len(items):
            raise ValueError(
                f"got {len(values)} cluster labels for {len(items)} items; pass one per item "
                "in the fit's order, a Series keyed by item, or a metadata column name"
            )
        name = "clusters"
    text = values.astype(object).where(values.isna(), values.astype(str))
    codes, labels = pd.factorize(text.where(text != ""), sort=True)
    return _Partition(name=name, codes=codes.astype(np.int64), labels=pd.Index(labels))


def _interval(values: np.ndarray, interval: float, axis: int = 0):
    """Posterior mean and central interval, ignoring NaN."""
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


def _check_interval(interval: float) -> None:
    if not 0 < interval < 1:
        raise ValueError(f"interval must lie strictly between 0 and 1, got {interval!r}")


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

    Q3 is defined in the module docstring: the pairwise-complete correlation across subjects of
    two items' residuals :math:`e_{ij}^{(s)} = y_{ij} - P_{ij}^{(s)}`, one value per posterior
    draw.

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
    _check_interval(interval)
    if top < 1:
        raise ValueError(f"top must be a positive number of pairs, got {top}")
    rng = np.random.default_rng(random_seed)
    setup = _setup(idata, n_draws, rng)
    table, items = setup.table, setup.draws.items
    n_items = len(items)
    dense = n_items <= dense_max
    part = _partition(clusters, idata, items)
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
        left, right = _q3.sample_pairs(n_items, n_pairs, rng)
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
        resid = _q3.residuals(table, prob)
        if dense:
            q = _q3.dense_q3(table, resid, counts)
            ok = ~np.isnan(q)
            q0 = np.where(ok, q, 0.0)
            q_sum += q0
            q_sq += q0**2
            q_n += ok
            n_ok = ok.sum()
            mean_q3[row] = q0.sum() / n_ok if n_ok else np.nan
            mean_abs[row] = np.abs(q0).sum() / n_ok if n_ok else np.nan
        else:
            q = _q3.pair_q3(table, resid, left, right, max_elements=max_elements)
            with _quiet():
                mean_q3[row], mean_abs[row] = np.nanmean(q), np.nanmean(np.abs(q))
        if part is not None:
            z = _q3.standardized(table, resid)
            sums = _q3.cluster_sums(table, z, indicator, matrix=with_matrix)
            within[row], between[row], pooled[row] = sums.within, sums.between, sums.pooled_within
            if with_matrix:
                cross_num += sums.cross_num
                cross_cnt += sums.cross_cnt

    # the most dependent pairs: candidates, then their exact Q3 in every draw
    n_candidates = max(5 * top, 100)
    correct = table.y.sum(axis=0)
    eligible = np.minimum(correct, table.observed.sum(axis=0) - correct) >= min_minority
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
        mean_resid = _q3.residuals(table, prob_sum / n_draw)
        cand_left, cand_right = _q3.screen_pairs(
            _q3.standardized(table, mean_resid) * eligible,
            None if table.complete else table.observed.astype(float),
            n_candidates,
            max_elements=max_elements,
        )
        both = eligible[cand_left] & eligible[cand_right]
        cand_left, cand_right = cand_left[both], cand_right[both]
    cand_q3 = np.empty((n_draw, len(cand_left)))
    for row, s in enumerate(setup.samples):
        resid = _q3.residuals(table, setup.prob(s))
        cand_q3[row] = _q3.pair_q3(table, resid, cand_left, cand_right, max_elements=max_elements)
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
    mean, lo, hi = _interval(q, result.attrs["interval"])
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
    mean, lo, hi = _interval(within, result.attrs["interval"])
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
      above ``dense_max`` items), which needs no partition;
    * ``"cluster_excess"``: the pooled within-cluster mean Q3 minus the between-cluster mean
      (``clusters`` required).

    **Permutation test** (with ``clusters``). On the residuals of the posterior-mean expected
    responses, :math:`T_0` is the cluster excess; the items' cluster labels are shuffled
    ``n_permutations`` times (cluster sizes kept) and
    :math:`p = (1 + \#\{T_\pi \ge T_0\}) / (1 + n_\pi)`. The null hypothesis: items of the same
    cluster are no more alike in their residuals than items grouped at random. The test is
    exact for a partition fixed before seeing the residuals (metadata, text); for a partition
    found *from* these residuals (:func:`residual_clusters`) it is not valid and must not be
    used.

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
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    if n_permutations < 0:
        raise ValueError(f"n_permutations must be non-negative, got {n_permutations}")
    rng = np.random.default_rng(random_seed)
    setup = _setup(idata, n_draws, rng)
    table = setup.table
    n_items = len(setup.draws.items)
    part = _partition(clusters, idata, setup.draws.items)
    if statistic == "cluster_excess" and part is None:
        raise ValueError("statistic='cluster_excess' needs clusters=")
    measure, method = _statistic(
        statistic,
        table,
        part,
        dense_max=dense_max,
        n_pairs=n_pairs,
        rng=rng,
        max_elements=max_elements,
    )

    t_obs, t_rep = np.empty(len(setup.samples)), np.empty(len(setup.samples))
    for row, s in enumerate(setup.samples):
        prob = setup.prob(s)
        t_obs[row] = measure(table, prob)
        t_rep[row] = measure(_q3.replicate(table, prob, rng), prob)
    valid = ~(np.isnan(t_obs) | np.isnan(t_rep))
    ppc_p = float((t_rep[valid] >= t_obs[valid]).mean()) if valid.any() else float("nan")

    data_vars = {"t_obs": ("sample", t_obs), "t_rep": ("sample", t_rep)}
    perm_p = t0 = float("nan")
    if part is not None and n_permutations > 0:
        z = _q3.standardized(table, _q3.residuals(table, setup.mean_prob()))
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


def _statistic(
    name: str,
    table: _q3.ObservedTable,
    part: _Partition | None,
    *,
    dense_max: int,
    n_pairs: int,
    rng: np.random.Generator,
    max_elements: int,
) -> tuple[Callable[[_q3.ObservedTable, np.ndarray], float], str]:
    """The statistic ``T(table, prob)`` of :func:`dependence_test` and how it is computed."""
    if name == "cluster_excess":

        def excess(data: _q3.ObservedTable, prob: np.ndarray) -> float:
            z = _q3.standardized(data, _q3.residuals(data, prob))
            return _excess(data, z, part.codes, len(part.labels))

        return excess, "cluster sums"
    n_items = table.y.shape[1]
    if n_items <= dense_max:
        mask = table.observed.astype(float)
        counts = None if table.complete else mask.T @ mask

        def dense_mean_abs(data: _q3.ObservedTable, prob: np.ndarray) -> float:
            q = _q3.dense_q3(data, _q3.residuals(data, prob), counts)
            with _quiet():
                return float(np.nanmean(np.abs(q)))

        return dense_mean_abs, "dense"
    left, right = _q3.sample_pairs(n_items, n_pairs, rng)

    def sampled_mean_abs(data: _q3.ObservedTable, prob: np.ndarray) -> float:
        q = _q3.pair_q3(data, _q3.residuals(data, prob), left, right, max_elements=max_elements)
        with _quiet():
            return float(np.nanmean(np.abs(q)))

    return sampled_mean_abs, f"sampled ({len(left)} pairs)"


def _excess(table: _q3.ObservedTable, z: np.ndarray, codes: np.ndarray, n_clusters: int) -> float:
    sums = _q3.cluster_sums(table, z, _q3.cluster_indicator(codes, n_clusters))
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


# ------------------------------------------------------------------------ clusters
def residual_clusters(
    idata,
    *,
    k: int | None = None,
    n_draws: int | None = 100,
    core_size: int = 10,
    n_seeds: int = 1000,
    max_clusters: int = 20,
    n_null: int = 5,
    random_seed: int = 0,
    max_elements: int = CHUNK_ELEMENTS,
) -> pd.DataFrame:
    r"""Clusters of items whose residuals correlate, from a fitted model.

    The residuals are those of the posterior-mean expected responses over ``n_draws`` draws,
    :math:`e_{ij} = y_{ij} - \bar P_{ij}`, standardised per item over its observed subjects
    (missing cells count as 0). The algorithm (cores grown from seed items by a truncated
    power iteration, then a centroid assignment; see :mod:`bayesirt.analysis._clustering`)
    never forms the :math:`I \times I` Q3 matrix.

    With ``k=None`` the number of clusters is chosen against the model: the same core search
    is run on ``n_null`` data sets replicated from :math:`\bar P` (no local dependence by
    construction), and only cores more coherent than every core found there are kept (at most
    ``max_clusters``). With ``k`` given, the ``k`` most coherent distinct cores are used.

    Parameters
    ----------
    idata : arviz.InferenceData
    k : int, optional
        Number of clusters; ``None`` chooses it.
    n_draws : int or None
        Posterior draws averaged into :math:`\bar P`.
    core_size : int
        Items per core (at least 3; smaller than the smallest cluster worth finding).
    n_seeds : int
        Items that seed a core: all items up to this many, else a random subset (a cluster
        with few items may then go unseeded).
    max_clusters : int
        Upper bound on ``k`` when it is chosen.
    n_null : int
        Replicated data sets that calibrate ``k=None``.
    random_seed : int
    max_elements : int

    Returns
    -------
    pandas.DataFrame
        Indexed by item label: ``cluster`` (``"R1"``, ``"R2"``, ... by decreasing size; every
        item is assigned, ``"R0"`` for all when no cluster stands out), ``strength`` (the
        item's z-score for its cluster, about :math:`N(0, 1)` for an unrelated item) and
        ``core`` (``strength`` above 2). ``attrs``: ``k``, ``null_coherence`` (the
        threshold, NaN with ``k`` given).
    """
    if k is not None and k < 1:
        raise ValueError(f"k must be a positive number of clusters, got {k}")
    rng = np.random.default_rng(random_seed)
    setup = _setup(idata, n_draws, rng)
    table, items = setup.table, setup.draws.items
    n_items = len(items)
    if not 3 <= core_size < n_items:
        raise ValueError(f"core_size must be at least 3 and below the {n_items} items")
    seeds = (
        np.arange(n_items)
        if n_items <= n_seeds
        else np.sort(rng.choice(n_items, size=n_seeds, replace=False))
    )
    mean_prob = setup.mean_prob()
    z = _q3.standardized(table, _q3.residuals(table, mean_prob))
    threshold = -np.inf
    if k is None:
        null = []
        for _ in range(n_null):
            replicated = _q3.replicate(table, mean_prob, rng)
            z0 = _q3.standardized(replicated, _q3.residuals(replicated, mean_prob))
            _, coherence = grow_cores(z0, seeds, core_size, max_elements=max_elements)
            null.append(coherence.max())
        threshold = max(null)
    labels, strength, found = residual_partition(
        z,
        k=max_clusters if k is None else k,
        threshold=threshold,
        seeds=seeds,
        size=core_size,
        max_elements=max_elements,
    )
    if found == 0:
        names = np.full(n_items, "R0", dtype=object)
    else:
        by_size = np.argsort(-np.bincount(labels, minlength=found), kind="stable")
        rename = np.empty(found, dtype=object)
        rename[by_size] = [f"R{g + 1}" for g in range(found)]
        names = rename[labels]
    out = pd.DataFrame(
        {"cluster": names, "strength": strength, "core": strength > CORE_Z},
        index=pd.Index(np.asarray(items), name="item"),
    )
    out.attrs = {"k": int(max(found, 1)), "null_coherence": float(threshold)}
    return out


def text_clusters(
    texts: pd.Series | Sequence[str],
    *,
    k: int,
    items: Sequence | None = None,
    max_features: int = 20_000,
    n_components: int = 100,
    random_seed: int = 0,
) -> pd.Series:
    r"""Clusters of items by the words of their text (TF-IDF; needs scikit-learn).

    Each text becomes a TF-IDF vector (sublinear term frequency, English stop words removed,
    at most ``max_features`` terms, unit length). With more terms than ``n_components`` the
    vectors are reduced by a truncated SVD (latent semantic analysis) to ``n_components``
    dimensions; they are then clustered by k-means on directions (cosine similarity), the
    best of ten k-means++ starts.

    Parameters
    ----------
    texts : Series or sequence of str
        One text per item; a Series keeps its index as the item labels. Missing texts count as
        empty.
    k : int
        Number of clusters.
    items : sequence, optional
        Item labels for a plain sequence of texts (default ``0..n-1``).
    max_features, n_components : int
    random_seed : int

    Returns
    -------
    pandas.Series
        Labels ``"T1"``, ``"T2"``, ... (by decreasing size), indexed by item, named
        ``"text_cluster"``.
    """
    try:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError("text_clusters needs scikit-learn: pip install 'bayesirt[text]'") from err
    series = _labelled(texts, items)
    matrix = TfidfVectorizer(
        stop_words="english", sublinear_tf=True, max_features=max_features
    ).fit_transform(series.fillna("").astype(str))
    if matrix.shape[1] > n_components:
        vectors = TruncatedSVD(n_components, random_state=random_seed).fit_transform(matrix)
    else:
        vectors = matrix.toarray()
    labels = _direction_clusters(vectors, k, random_seed, prefix="T")
    return pd.Series(labels, index=series.index, name="text_cluster")


def embedding_clusters(
    embeddings: np.ndarray | pd.DataFrame,
    *,
    k: int,
    items: Sequence | None = None,
    random_seed: int = 0,
) -> pd.Series:
    """Clusters of items from user-given embeddings (one row per item), by cosine k-means.

    A DataFrame's index gives the item labels, otherwise ``items`` (default ``0..n-1``).
    Returns labels ``"E1"``, ``"E2"``, ... (by decreasing size) named ``"embedding_cluster"``.
    """
    if isinstance(embeddings, pd.DataFrame):
        index = embeddings.index
        vectors = embeddings.to_numpy(dtype=float)
    else:
        vectors = np.asarray(embeddings, dtype=float)
        index = pd.RangeIndex(len(vectors)) if items is None else pd.Index(items)
    if vectors.ndim != 2 or len(vectors) != len(index):
        raise ValueError(
            f"embeddings must be a 2-d array with one row per item, got shape {vectors.shape} "
            f"for {len(index)} items"
        )
    labels = _direction_clusters(vectors, k, random_seed, prefix="E")
    return pd.Series(labels, index=index, name="embedding_cluster")


def _labelled(texts, items) -> pd.Series:
    if isinstance(texts, pd.Series):
        return texts
    return pd.Series(list(texts), index=None if items is None else pd.Index(items))


def _direction_clusters(vectors: np.ndarray, k: int, random_seed: int, *, prefix: str):
    if not 1 <= k <= len(vectors):
        raise ValueError(f"k must be between 1 and the {len(vectors)} items, got {k}")
    codes = kmeans_directions(vectors, k, rng=np.random.default_rng(random_seed))
    by_size = np.argsort(-np.bincount(codes, minlength=k), kind="stable")
    rename = np.empty(k, dtype=object)
    rename[by_size] = [f"{prefix}{g + 1}" for g in range(k)]
    return rename[codes]


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
    _check_interval(interval)
    if not partitions:
        raise ValueError("no partitions given")
    rng = np.random.default_rng(random_seed)
    setup = _setup(idata, n_draws, rng)
    items = setup.draws.items
    parts = {name: _partition(labels, idata, items) for name, labels in partitions.items()}
    indicators = {name: part.indicator for name, part in parts.items()}
    within = {name: np.empty(len(setup.samples)) for name in parts}
    between = {name: np.empty(len(setup.samples)) for name in parts}
    for row, s in enumerate(setup.samples):
        z = _q3.standardized(setup.table, _q3.residuals(setup.table, setup.prob(s)))
        for name in parts:
            sums = _q3.cluster_sums(setup.table, z, indicators[name])
            within[name][row], between[name][row] = sums.pooled_within, sums.between

    if reference is None:
        ref = None
    elif isinstance(reference, str) and reference in parts:
        ref = parts[reference]
    else:
        ref = _partition(reference, idata, items)
    rows = []
    for name, part in parts.items():
        excess = within[name] - between[name]
        mean, lo, hi = _interval(excess, interval)
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


# ----------------------------------------------------------------------- scenarios
def scenario_rankings(
    idata,
    *,
    groups: Clusters = None,
    group_weights: Mapping[str, Mapping[str, float]] | None = None,
    n_use_cases: int = 200,
    concentration: float = 1.0,
    other_fits: Mapping[str, object] | None = None,
    reference: str = "uniform",
    interval: float = 0.9,
    n_boot: int = 200,
    random_seed: int = 0,
) -> xr.Dataset:
    r"""Rankings of the subjects under several distributions of interest over the questions.

    Scenarios, in this order:

    ``theta``
        :func:`~bayesirt.analysis.rank` by ability.
    ``uniform``
        By expected score with every question weighted equally,
        ``rank(idata, by="score")``.
    ``balanced`` (with ``groups``)
        Every group (cluster, category, benchmark) weighs the same, spread equally over its
        items: :math:`w_i = 1 / (G\, n_{g(i)})`.
    one per entry of ``group_weights`` (with ``groups``)
        User weights per group, e.g. ``{"code-heavy": {"code": 0.5}}``: the named groups get
        their weight, the remaining mass :math:`1 - \sum` is spread equally over the groups
        not named (if every group is named the weights are normalised), and each group's
        weight is spread equally over its items.
    ``dirichlet`` (with ``groups`` and ``n_use_cases > 0``)
        Random distributions of interest: ``n_use_cases`` group weights
        :math:`\pi_u \sim \text{Dirichlet}(\alpha \mathbf 1_G)` (a Bayesian bootstrap over
        groups for :math:`\alpha = 1`). The ranked value in use case :math:`u` and draw
        :math:`s` is :math:`\sum_g \pi_{ug} S_{gj}^{(s)}`, with :math:`S_g` the expected score
        on group :math:`g`; ranks are pooled over use cases and draws, so the rank
        distribution mixes posterior and use-case uncertainty.
    ``fit:<name>`` (one per entry of ``other_fits``)
        Another fitted model of the same subjects (a testlet model, another prior), ranked by
        its own ability.

    Every scenario but ``dirichlet`` is a call of :func:`~bayesirt.analysis.rank`; the
    Dirichlet mixture uses the same rank kernels on the pooled draws. Items whose group label
    is missing form one more group, :data:`NO_GROUP`.

    Each scenario is ranked twice: by the posterior (``mean_rank``, ``p_rank``, ...) and by
    the observed accuracy weighted the same way (``accuracy``, ``accuracy_rank``, the
    leaderboard of :func:`~bayesirt.analysis.rank`). Under a *unidimensional* model the two
    behave very differently: every expected score :math:`\sum_i w_i P_i(\theta)` with
    :math:`w \ge 0` increases with :math:`\theta`, so in every draw all score scenarios rank
    the subjects exactly as ``theta`` does, whatever the weights. The posterior scenarios of
    one unidimensional fit therefore agree by construction; a distribution of interest can
    only move the posterior ranking through a model with more than one ability (``other_fits``,
    e.g. a testlet model), while the accuracy ranks show how much the leaderboard itself moves.

    Parameters
    ----------
    idata : arviz.InferenceData
    groups : str, Series, sequence or None
        The item groups (as ``clusters`` of :func:`local_dependence`).
    group_weights : mapping of scenario name to {group: weight}, optional
    n_use_cases : int
        Dirichlet use cases (0: no ``dirichlet`` scenario).
    concentration : float
        :math:`\alpha`; larger values keep use cases closer to equal group weights.
    other_fits : mapping of name to InferenceData, optional
    reference : str
        The scenario the others are compared with (by :func:`rank_stability`).
    interval : float in (0, 1)
        Mass of the rank intervals.
    n_boot : int
        Bootstrap replications of the accuracy leaderboard inside each ``rank`` call.
    random_seed : int
        Seed of the bootstraps and of the use cases.

    Returns
    -------
    xarray.Dataset
        Dims ``scenario``, ``subject`` (ordered by the reference's mean rank), ``opponent``,
        ``rank`` and, with groups, ``group`` and ``use_case``:

        ``mean_rank``, ``rank_lo``, ``rank_hi``, ``estimate`` (scenario, subject)
            The posterior ranking (``estimate``: posterior mean of θ or of the score).
        ``p_rank`` (scenario, subject, rank), ``p_beats`` (scenario, subject, opponent)
            As in :func:`~bayesirt.analysis.rank`.
        ``accuracy``, ``accuracy_rank`` (scenario, subject)
            Weighted observed accuracy and its rank (for ``dirichlet``: their means over the
            use cases; for ability rankings: equal weights).
        ``scenario_weights`` (scenario, group)
            The weight of each group (NaN for ability rankings).
        ``use_case_weights`` (use_case, group), ``use_case_rank``,
        ``use_case_accuracy_rank`` (use_case, subject)
            The Dirichlet use cases, the rank of each subject's posterior mean score and of
            its weighted observed accuracy in each.

        Coordinate ``scenario_kind``: ``"ability"``, ``"score"``, ``"use_cases"`` or
        ``"other_fit"``. ``attrs``: ``reference``, ``groups``, ``n_use_cases``,
        ``concentration``, ``interval``, ``random_seed``.
    """
    _check_interval(interval)
    if n_use_cases < 0 or concentration <= 0:
        raise ValueError("n_use_cases must be non-negative and concentration positive")
    draws = posterior_draws(idata)
    items, subjects = draws.items, draws.subjects
    options = {"interval": interval, "n_boot": n_boot, "random_seed": random_seed}
    ranked: dict[str, tuple[str, xr.Dataset]] = {
        "theta": ("ability", rank(idata, by="theta", **options)),
        "uniform": ("score", rank(idata, by="score", **options)),
    }
    part = _partition(groups, idata, items)
    weights: dict[str, np.ndarray] = {}
    dirichlet = None
    if part is not None:
        names, codes = np.unique(part.item_labels().astype(str), return_inverse=True)
        sizes = np.bincount(codes, minlength=len(names))
        weights["uniform"] = sizes / sizes.sum()
        weights["balanced"] = np.full(len(names), 1.0 / len(names))
        for name, mapping in (group_weights or {}).items():
            if name in RESERVED_SCENARIOS or name.startswith("fit:"):
                raise ValueError(f"scenario name {name!r} is reserved")
            weights[name] = _spread(mapping, pd.Index(names))
        for name, w in weights.items():
            if name != "uniform":
                item_w = pd.Series(w[codes] / sizes[codes], index=items)
                ranked[name] = ("score", rank(idata, by="score", weights=item_w, **options))
        if n_use_cases > 0:
            rng = np.random.default_rng(random_seed)
            use_cases = rng.dirichlet(np.full(len(names), concentration), size=n_use_cases)
            table = _q3.observed_table(idata, draws)
            dirichlet = _use_case_ranks(draws, table, codes, sizes, use_cases, interval)
            weights["dirichlet"] = use_cases.mean(axis=0)
    for name, other in (other_fits or {}).items():
        result = rank(other, by="theta", **options)
        found = pd.Index(result["subject"].values.astype(str))
        if len(found) != len(subjects) or len(found.symmetric_difference(subjects)):
            raise ValueError(f"fit {name!r} does not have the same subjects as idata")
        ranked[f"fit:{name}"] = ("other_fit", result)
    scenario_names = list(ranked) + (["dirichlet"] if dirichlet is not None else [])
    if reference not in scenario_names:
        raise ValueError(f"reference {reference!r} is not a scenario: {scenario_names}")

    labels = np.asarray(subjects)
    per_scenario = []
    for kind, result in ranked.values():
        aligned = result.sel(subject=labels, opponent=labels)
        per_scenario.append({"kind": kind, **{v: aligned[v].values for v in _SCENARIO_VARS}})
    if dirichlet is not None:
        per_scenario.append({"kind": "use_cases", **dirichlet})
    ref = scenario_names.index(reference)
    order = np.lexsort((np.arange(len(labels)), per_scenario[ref]["mean_rank"]))
    dims = {
        "p_rank": ("scenario", "subject", "rank"),
        "p_beats": ("scenario", "subject", "opponent"),
    }
    data_vars = {}
    for var in _SCENARIO_VARS:
        values = np.stack([entry[var] for entry in per_scenario])[:, order]
        if var == "p_beats":
            values = values[:, :, order]
        data_vars[var] = (dims.get(var, ("scenario", "subject")), values)
    coords = {
        "scenario": scenario_names,
        "scenario_kind": ("scenario", [entry["kind"] for entry in per_scenario]),
        "subject": labels[order],
        "opponent": labels[order],
        "rank": np.arange(1, len(labels) + 1),
    }
    if part is not None:
        coords["group"] = names
        data_vars["scenario_weights"] = (
            ("scenario", "group"),
            np.stack([weights.get(name, np.full(len(names), np.nan)) for name in scenario_names]),
        )
    if dirichlet is not None:
        coords["use_case"] = np.arange(n_use_cases)
        data_vars["use_case_weights"] = (("use_case", "group"), use_cases)
        for var in ("use_case_rank", "use_case_accuracy_rank"):
            data_vars[var] = (("use_case", "subject"), dirichlet[var][:, order])
    attrs = {
        "reference": reference,
        "groups": part.name if part is not None else "",
        "n_use_cases": n_use_cases if dirichlet is not None else 0,
        "concentration": concentration,
        "interval": interval,
        "random_seed": random_seed,
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


#: Per-scenario variables taken from each :func:`~bayesirt.analysis.rank` result.
_SCENARIO_VARS = (
    "mean_rank",
    "rank_lo",
    "rank_hi",
    "estimate",
    "p_rank",
    "p_beats",
    "accuracy",
    "accuracy_rank",
)


def _spread(mapping: Mapping[str, float], groups: pd.Index) -> np.ndarray:
    """Group weights from user weights for some groups, the rest spread equally."""
    given = pd.Series(mapping, dtype=float)
    given.index = given.index.astype(str)
    unknown = given.index.difference(groups)
    if len(unknown):
        raise ValueError(f"unknown group(s) {list(unknown)}; groups are {list(groups)}")
    if not np.all(np.isfinite(given)) or (given < 0).any():
        raise ValueError("group weights must be finite and non-negative")
    w = np.zeros(len(groups))
    w[groups.get_indexer(given.index)] = given.to_numpy()
    rest = ~groups.isin(given.index)
    if rest.any():
        if given.sum() > 1:
            raise ValueError(
                f"the named group weights sum to {given.sum():g} > 1 and leave nothing for "
                f"the {rest.sum()} other group(s)"
            )
        w[rest] = (1.0 - given.sum()) / rest.sum()
    if w.sum() <= 0:
        raise ValueError("the group weights sum to zero")
    return w / w.sum()


def _use_case_ranks(
    draws: PosteriorDraws,
    table: _q3.ObservedTable,
    codes: np.ndarray,
    sizes: np.ndarray,
    use_cases: np.ndarray,
    interval: float,
) -> dict[str, np.ndarray]:
    """Rank summaries pooled over Dirichlet use cases × posterior draws, and per use case."""
    n_groups, n_subjects = len(sizes), len(draws.subjects)
    group_scores = np.stack(
        [expected_scores(draws, np.where(codes == g, 1.0 / sizes[g], 0.0)) for g in range(n_groups)]
    )  # (group, sample, subject)
    n_samples = group_scores.shape[1]
    per_block = max(1, CHUNK_ELEMENTS // (n_samples * n_subjects * max(n_subjects, n_groups)))
    p_rank = np.zeros((n_subjects, n_subjects))
    p_beats = np.zeros((n_subjects, n_subjects))
    total = np.zeros(n_subjects)
    point = np.empty((len(use_cases), n_subjects))
    for start in range(0, len(use_cases), per_block):
        block = use_cases[start : start + per_block]
        values = np.einsum("ug,gsj->usj", block, group_scores)
        point[start : start + len(block)] = values.mean(axis=1)
        pooled = values.reshape(-1, n_subjects)
        first, last = rank_bounds(pooled)
        p_rank += rank_probabilities(first, last, n_subjects) * len(pooled)
        p_beats += _beat_probabilities(pooled) * len(pooled)
        total += pooled.sum(axis=0)
    n_rows = len(use_cases) * n_samples
    p_rank /= n_rows
    # weighted observed accuracy, item weight pi_g / n_g, over each subject's answered items
    member = _q3.cluster_indicator(codes, n_groups)
    correct = (member.T @ table.y.T).T  # (subject, group)
    answered = (member.T @ table.observed.astype(float).T).T
    item_share = use_cases / sizes
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = (item_share @ correct.T) / (item_share @ answered.T)
    accuracy_rank = pd.DataFrame(-accuracy).rank(axis=1, method="average").to_numpy()
    tail = (1.0 - interval) / 2
    with _quiet():
        return {
            "mean_rank": p_rank @ np.arange(1, n_subjects + 1),
            "rank_lo": rank_quantile(p_rank, tail),
            "rank_hi": rank_quantile(p_rank, 1 - tail),
            "estimate": total / n_rows,
            "p_rank": p_rank,
            "p_beats": p_beats / n_rows,
            "accuracy": np.nanmean(accuracy, axis=0),
            "accuracy_rank": np.nanmean(accuracy_rank, axis=0),
            "use_case_rank": rankdata(-point, method="average", axis=1),
            "use_case_accuracy_rank": accuracy_rank,
        }


#: What :func:`rank_stability` and :func:`order_flips` compare: scenario ranks, use-case ranks.
RANK_BASES = {
    "posterior": ("mean_rank", "use_case_rank"),
    "accuracy": ("accuracy_rank", "use_case_accuracy_rank"),
}


def rank_stability(
    scenarios: xr.Dataset, *, reference: str | None = None, basis: str = "posterior"
) -> xr.Dataset:
    r"""How much the ranking moves between the scenarios of :func:`scenario_rankings`.

    Parameters
    ----------
    scenarios : xarray.Dataset
    reference : str, optional
        Scenario to compare with (default: the one ``scenario_rankings`` was given).
    basis : {"posterior", "accuracy"}
        Compare the posterior mean ranks (``mean_rank``) or the ranks of the weighted
        observed accuracy (``accuracy_rank``).

    Returns
    -------
    xarray.Dataset
        ``kendall_tau`` (scenario, scenario2)
            Kendall's :math:`\tau_b` between the ranks of two scenarios (subjects with a
            rank in both).
        ``rank_shift`` (scenario, subject)
            Rank under the scenario minus under the reference (positive: worse).
        ``max_shift``, ``max_shift_scenario`` (subject)
            The largest absolute shift and the first scenario where it happens.
        ``p_rank_change`` (subject)
            Share of the Dirichlet use cases in which the subject's rank (of its posterior
            mean score, or of its weighted accuracy) differs from its reference rank (of the
            posterior mean, or of the accuracy); NaN without a ``dirichlet`` scenario.
        ``n_flips`` (scenario)
            Pairs of subjects ordered the other way round than by the reference (see
            :func:`order_flips`).

        ``attrs``: ``reference``, ``basis``.
    """
    names, ref, ranks = _basis(scenarios, reference, basis)
    n_names, n_subjects = ranks.shape
    tau = np.ones((n_names, n_names))
    for i in range(n_names):
        for j in range(i + 1, n_names):
            both = ~(np.isnan(ranks[i]) | np.isnan(ranks[j]))
            tau[i, j] = tau[j, i] = kendalltau(ranks[i, both], ranks[j, both]).statistic
    shift = ranks - ranks[ref]
    largest = np.argmax(np.nan_to_num(np.abs(shift), nan=-1.0), axis=0)
    p_change = np.full(n_subjects, np.nan)
    use_case_var = RANK_BASES[basis][1]
    if use_case_var in scenarios:
        if basis == "posterior":
            point = rankdata(-scenarios["estimate"].values[ref], method="average")
        else:
            point = ranks[ref]
        p_change = (scenarios[use_case_var].values != point).mean(axis=0)
    flips = [len(_flipped(ranks[ref], ranks[k])[0]) for k in range(n_names)]
    return xr.Dataset(
        {
            "kendall_tau": (("scenario", "scenario2"), tau),
            "rank_shift": (("scenario", "subject"), shift),
            "max_shift": ("subject", np.abs(shift)[largest, np.arange(n_subjects)]),
            "max_shift_scenario": ("subject", np.asarray(names, dtype=object)[largest]),
            "p_rank_change": ("subject", p_change),
            "n_flips": ("scenario", np.asarray(flips)),
        },
        coords={"scenario": names, "scenario2": names, "subject": scenarios["subject"].values},
        attrs={"reference": names[ref], "basis": basis},
    )


def order_flips(
    scenarios: xr.Dataset, *, reference: str | None = None, basis: str = "posterior"
) -> pd.DataFrame:
    """Pairs of subjects that a scenario orders the other way round than the reference.

    ``higher`` ranks better (smaller rank, of ``basis`` as in :func:`rank_stability`) than
    ``lower`` under the reference; the pair is listed for every scenario that ranks ``lower``
    strictly better. ``p_reversed`` is that scenario's posterior probability that ``lower``
    beats ``higher`` (for either basis; it is what the posterior says about the reversal).
    Sorted by ``p_reversed``, most certain first.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, ``higher``, ``lower``, ``ref_rank_higher``, ``ref_rank_lower``,
        ``rank_higher``, ``rank_lower``, ``p_reversed``.
    """
    names, ref, ranks = _basis(scenarios, reference, basis)
    p_beats = scenarios["p_beats"].values
    labels = scenarios["subject"].values
    frames = []
    for k, name in enumerate(names):
        hi, lo = _flipped(ranks[ref], ranks[k])
        frames.append(
            pd.DataFrame(
                {
                    "scenario": name,
                    "higher": labels[hi],
                    "lower": labels[lo],
                    "ref_rank_higher": ranks[ref, hi],
                    "ref_rank_lower": ranks[ref, lo],
                    "rank_higher": ranks[k, hi],
                    "rank_lower": ranks[k, lo],
                    "p_reversed": p_beats[k, lo, hi],
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values("p_reversed", ascending=False, kind="stable").reset_index(drop=True)


def _basis(
    scenarios: xr.Dataset, reference: str | None, basis: str
) -> tuple[list[str], int, np.ndarray]:
    """Scenario names, the reference's position and the compared ranks (scenario, subject)."""
    if basis not in RANK_BASES:
        raise ValueError(f"basis must be one of {tuple(RANK_BASES)}, got {basis!r}")
    reference = reference or scenarios.attrs["reference"]
    names = [str(s) for s in scenarios["scenario"].values]
    if reference not in names:
        raise ValueError(f"reference {reference!r} is not a scenario: {names}")
    return names, names.index(reference), scenarios[RANK_BASES[basis][0]].values


def _flipped(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a, b) with a strictly ahead of b by ``reference``, strictly behind by
    ``other`` (NaN ranks never flip)."""
    a, b = np.nonzero(reference[:, None] < reference[None, :])
    reversed_ = other[a] > other[b]
    return a[reversed_], b[reversed_]


# ------------------------------------------------------------------------ pipeline
@dataclass(frozen=True)
class Robustness:
    """Everything :func:`assess_robustness` computes.

    Attributes
    ----------
    dependence : xarray.Dataset
        :func:`local_dependence` with the main partition (the metadata groups, else the
        residual clusters).
    test : xarray.Dataset
        :func:`dependence_test` (permutation test only with metadata groups).
    partitions : pandas.DataFrame
        One column of cluster labels per partition (``residual``, the metadata column,
        ``text``, ``embedding``), indexed by item.
    explained : pandas.DataFrame
        :func:`explain_dependence` of the partitions, ARI against the metadata groups.
    scenarios : xarray.Dataset
        :func:`scenario_rankings` over the main partition.
    stability : dict of str to xarray.Dataset
        :func:`rank_stability` for each basis (``"posterior"``, ``"accuracy"``).
    flips : dict of str to pandas.DataFrame
        :func:`order_flips` for each basis.
    timings : dict of str to float
        Seconds spent in each step.
    """

    dependence: xr.Dataset
    test: xr.Dataset
    partitions: pd.DataFrame
    explained: pd.DataFrame
    scenarios: xr.Dataset
    stability: dict[str, xr.Dataset]
    flips: dict[str, pd.DataFrame]
    timings: dict[str, float]


def assess_robustness(
    idata,
    *,
    groups: Clusters = "auto",
    text: str | None = "auto",
    embeddings: np.ndarray | pd.DataFrame | None = None,
    k: int | None = None,
    n_text_clusters: int | None = None,
    group_weights: Mapping[str, Mapping[str, float]] | None = None,
    other_fits: Mapping[str, object] | None = None,
    n_draws: int | None = 100,
    n_ppc_draws: int | None = 200,
    n_permutations: int = 1000,
    n_use_cases: int = 200,
    dense_max: int = 2000,
    n_pairs: int = 100_000,
    top: int = 20,
    interval: float = 0.9,
    alpha: float = 0.05,
    random_seed: int = 0,
) -> Robustness:
    """The whole robustness analysis of a fit: dependence, its tests, clusters and scenarios.

    Steps: residual clusters (:func:`residual_clusters`, ``k``); metadata groups; text and
    embedding clusters; Q3 summaries (:func:`local_dependence`) by the main partition;
    the tests (:func:`dependence_test`, mean |Q3|, permutation over the metadata groups);
    :func:`explain_dependence` of every partition; :func:`scenario_rankings` over the main
    partition; :func:`rank_stability` and :func:`order_flips` on both bases.

    Parameters
    ----------
    idata : arviz.InferenceData
    groups : str, Series, sequence, "auto" or None
        Item groups from metadata. ``"auto"`` takes the first column of
        :data:`AUTO_GROUP_COLUMNS` with at least two labels. Without groups the residual
        clusters take their place (and there is no permutation test).
    text : str, "auto" or None
        Item metadata column with the item text, clustered by :func:`text_clusters`.
        ``"auto"`` takes the first column of :data:`AUTO_TEXT_COLUMNS`, if scikit-learn is
        installed.
    embeddings : array or DataFrame, optional
        One row per item (fit's order, or indexed by item) for :func:`embedding_clusters`.
    k : int, optional
        Number of residual clusters (``None``: chosen).
    n_text_clusters : int, optional
        Clusters of text and embeddings (default: as many as the metadata groups, else as
        the residual clusters, at least 2).
    group_weights, other_fits
        Extra scenarios, see :func:`scenario_rankings`.
    n_draws : int or None
        Posterior draws behind the Q3 summaries and the clusters.
    n_ppc_draws : int or None
        Draws (replications) of the posterior predictive check.
    n_permutations, n_use_cases, dense_max, n_pairs, top, interval, alpha, random_seed
        See the functions above.

    Returns
    -------
    Robustness
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    meta = fitted_responses(idata).item_meta
    meta.index = meta.index.astype(str)
    items = posterior_draws(idata).items
    if isinstance(groups, str) and groups == "auto":
        groups = next((c for c in AUTO_GROUP_COLUMNS if c in meta and meta[c].nunique() >= 2), None)
    residual = residual_clusters(idata, k=k, n_draws=n_draws, random_seed=random_seed)
    partitions = {"residual": residual["cluster"].reindex(items)}
    lap("residual_clusters")
    group_name = None
    if groups is not None:
        group_name = (
            groups if isinstance(groups, str) else str(getattr(groups, "name", None) or "groups")
        )
        labels = _partition(groups, idata, items)
        partitions[group_name] = pd.Series(
            np.where(labels.codes >= 0, labels.item_labels(), None), index=items
        )
    n_other = n_text_clusters or max(
        len(pd.unique(partitions[group_name].dropna())) if group_name else residual.attrs["k"], 2
    )
    if text == "auto":
        text = next((c for c in AUTO_TEXT_COLUMNS if c in meta), None)
        if text is not None and not _has_sklearn():
            text = None
    if text is not None:
        if text not in meta:
            raise ValueError(f"no item metadata column {text!r} with the item text")
        partitions["text"] = text_clusters(
            meta[text].reindex(items), k=n_other, random_seed=random_seed
        )
    if embeddings is not None:
        partitions["embedding"] = embedding_clusters(
            embeddings, k=n_other, items=items, random_seed=random_seed
        ).reindex(items)
    lap("other_clusters")
    partitions = {name: labels.rename(name) for name, labels in partitions.items()}
    main = partitions[group_name] if group_name else partitions["residual"]

    dependence = local_dependence(
        idata,
        clusters=main,
        n_draws=n_draws,
        dense_max=dense_max,
        n_pairs=n_pairs,
        top=top,
        interval=interval,
        random_seed=random_seed,
    )
    lap("local_dependence")
    test = dependence_test(
        idata,
        clusters=partitions[group_name] if group_name else None,
        n_draws=n_ppc_draws,
        n_permutations=n_permutations,
        dense_max=dense_max,
        n_pairs=n_pairs,
        alpha=alpha,
        random_seed=random_seed,
    )
    lap("dependence_test")
    explained = explain_dependence(
        idata,
        partitions,
        reference=group_name,
        n_draws=n_draws,
        interval=interval,
        random_seed=random_seed,
    )
    lap("explain_dependence")
    scenarios = scenario_rankings(
        idata,
        groups=main,
        group_weights=group_weights,
        n_use_cases=n_use_cases,
        other_fits=other_fits,
        interval=interval,
        random_seed=random_seed,
    )
    lap("scenario_rankings")
    stability = {basis: rank_stability(scenarios, basis=basis) for basis in RANK_BASES}
    flips = {basis: order_flips(scenarios, basis=basis) for basis in RANK_BASES}
    lap("stability")
    return Robustness(
        dependence=dependence,
        test=test,
        partitions=pd.DataFrame(partitions, index=pd.Index(np.asarray(items), name="item")),
        explained=explained,
        scenarios=scenarios,
        stability=stability,
        flips=flips,
        timings=timings,
    )


def _has_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installation
        return False
    return True


def robustness_to_json(result: Robustness) -> dict:
    """A JSON-safe summary of :func:`assess_robustness` (plain Python types, ``None`` for NaN).

    Returns
    -------
    dict
        ::

            {
              "dependence": {
                "method": "dense" | "sampled", "n_items", "n_subjects", "n_draws",
                "n_pairs", "partition",
                "mean_q3": {"mean", "lo", "hi"}, "mean_abs_q3": {...},
                "between_q3": {...} | None,
                "clusters": [{"cluster", "n_items", "within_q3", "within_q3_lo",
                              "within_q3_hi", "excess", "p_excess"}, ...],
                "top_pairs": [{"item", "item2", "q3", "q3_lo", "q3_hi", "p_positive",
                               "cluster", "cluster2"}, ...]
              },
              "test": {"statistic", "method", "ppc_p", "permutation_p", "partition",
                       "n_draws", "n_permutations", "alpha", "verdict"},
              "partitions": [{"partition", "n_clusters", "within_q3", "between_q3",
                              "excess", "excess_lo", "excess_hi", "p_excess", "ari"}, ...],
              "scenarios": {
                "names": [...], "kinds": [...], "reference", "groups",
                "subjects": [{"subject", "mean_rank": {scenario: r}, "rank_lo": {...},
                              "rank_hi": {...}, "accuracy": {...},
                              "accuracy_rank": {...}}, ...],
                "posterior" | "accuracy": {
                  "kendall_tau": {scenario: {scenario2: tau}},
                  "n_flips": {scenario: n},
                  "max_shift": {subject: shift}, "max_shift_scenario": {subject: name},
                  "p_rank_change": {subject: p},
                  "flips": [{"scenario", "higher", "lower", "ref_rank_higher",
                             "ref_rank_lower", "rank_higher", "rank_lower",
                             "p_reversed"}, ...]
                }
              },
              "timings": {step: seconds}
            }

        Subjects in the reference scenario's order; ``clusters`` and ``between_q3`` are empty
        / ``None`` without a partition; each ``flips`` keeps the :data:`JSON_FLIPS` most
        certain reversals.
    """
    dep, test, scen = result.dependence, result.test, result.scenarios
    interval = dep.attrs["interval"]

    def summary(values: np.ndarray) -> dict:
        mean, lo, hi = _interval(values, interval)
        return {"mean": mean, "lo": lo, "hi": hi}

    dependence = {
        key: dep.attrs[key]
        for key in ("method", "n_items", "n_subjects", "n_draws", "n_pairs", "partition")
    }
    dependence["mean_q3"] = summary(dep["mean_q3"].values)
    dependence["mean_abs_q3"] = summary(dep["mean_abs_q3"].values)
    dependence["between_q3"] = summary(dep["between_q3"].values) if "between_q3" in dep else None
    dependence["clusters"] = (
        cluster_table(dep).reset_index().to_dict("records") if "within_q3" in dep else []
    )
    dependence["top_pairs"] = dependent_pairs(dep).to_dict("records")

    names = [str(s) for s in scen["scenario"].values]
    labels = [str(s) for s in scen["subject"].values]
    per_subject = ("mean_rank", "rank_lo", "rank_hi", "accuracy", "accuracy_rank")
    scenarios = {
        "names": names,
        "kinds": [str(k) for k in scen["scenario_kind"].values],
        "reference": scen.attrs["reference"],
        "groups": scen.attrs["groups"],
        "subjects": [
            {
                "subject": subject,
                **{
                    var: dict(zip(names, scen[var].values[:, j], strict=True))
                    for var in per_subject
                },
            }
            for j, subject in enumerate(labels)
        ],
    }
    for basis, stab in result.stability.items():
        tau = stab["kendall_tau"].values
        scenarios[basis] = {
            "kendall_tau": {
                a: {b: tau[i, j] for j, b in enumerate(names)} for i, a in enumerate(names)
            },
            "n_flips": dict(zip(names, stab["n_flips"].values, strict=True)),
            **{
                var: dict(zip(labels, stab[var].values, strict=True))
                for var in ("max_shift", "max_shift_scenario", "p_rank_change")
            },
            "flips": result.flips[basis].head(JSON_FLIPS).to_dict("records"),
        }
    out = {
        "dependence": dependence,
        "test": {
            key: test.attrs[key]
            for key in (
                "statistic",
                "method",
                "ppc_p",
                "permutation_p",
                "partition",
                "n_draws",
                "n_permutations",
                "alpha",
                "verdict",
            )
        },
        "partitions": result.explained.reset_index().to_dict("records"),
        "scenarios": scenarios,
        "timings": result.timings,
    }
    return _json_safe(out)


def _json_safe(value):
    """Plain Python types throughout, ``None`` for NaN and infinities."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value) if np.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)
