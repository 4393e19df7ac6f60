r"""Clusters of questions: from item metadata, from the residuals, from text and embeddings.

A *partition* gives each item at most one cluster label (:class:`ItemPartition`); it comes from
an item metadata column, labels given by the user (:func:`item_partition`), the residuals of a
fit (:func:`residual_clusters`), the words of the items' text (:func:`text_clusters`, TF-IDF) or
embeddings (:func:`embedding_clusters`). :func:`adjusted_rand_index` compares two partitions;
:func:`bayesirt.analysis.dependence.local.explain_dependence` says how much of the dependence
each one explains.

**Residual clusters.** Each item is a vector :math:`z_i \in \mathbb{R}^J` of standardised
residuals (subjects as coordinates), and :math:`Q_{ik} = z_i^\top z_k / J` is its Q3 with
item :math:`k`. A cluster of locally dependent items shares a subject-level effect, so its
members lean towards a common direction. Plain spectral or hierarchical clustering of
:math:`Q` needs that direction to stand out of the noise of *all* items at once; a small
cluster (tens of items among hundreds, residual correlations of 0.1–0.2 with :math:`J` of
about 60 to 120) lies below that threshold, and on such data both recovered the planted
clusters with an adjusted Rand index near 0.3. :func:`residual_partition` instead works
locally, in three steps:

1. *Cores* (:func:`grow_cores`): from a seed item, take it and its ``size - 1`` most
   correlated partners, then repeatedly replace the set by the ``size`` items with the largest
   summed Q3 to the current set (a truncated power iteration). From a member of a real cluster
   the set converges onto that cluster. Every item (or a random subset) seeds one run; a
   core's *coherence* is the mean Q3 of its pairs.
2. *Selection*: cores in decreasing coherence, skipping a core that shares an item with, or
   points the same way as (centroid correlation above :data:`SAME_DIRECTION`), one already
   kept, up to ``k``.
3. *Assignment* (:func:`refine`): every item joins the cluster whose centroid it correlates
   with most; an item's score for cluster :math:`g` is the z-statistic
   :math:`z_i^\top c_{g,-i} / \lVert c_{g,-i} \rVert` against the sum :math:`c_{g,-i}` of the
   cluster's core members other than itself (about :math:`N(0, 1)` for an unrelated item);
   members scoring above :data:`CORE_Z` form the next cores; repeat until nothing changes.

Every product is :math:`z^\top (z S)` for a thin :math:`S`, so no :math:`I \times I` matrix is
formed.

**Text and embeddings** are clustered by k-means on directions (:func:`kmeans_directions`,
cosine geometry): each vector is scaled to unit length before k-means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2
from scipy.special import comb

from bayesirt._validate import check_positive_int
from bayesirt.analysis.dependence.q3 import (
    cluster_indicator,
    fit_residuals,
    replicate,
    residuals,
    standardized,
)
from bayesirt.analysis.posterior import CHUNK_ELEMENTS, fitted_responses

__all__ = [
    "CORE_Z",
    "NO_GROUP",
    "SAME_DIRECTION",
    "Clusters",
    "ItemPartition",
    "adjusted_rand_index",
    "embedding_clusters",
    "grow_cores",
    "item_partition",
    "kmeans_directions",
    "refine",
    "residual_clusters",
    "residual_partition",
    "select_cores",
    "text_clusters",
]

#: Label of items without a cluster where every item needs one (scenario weights).
NO_GROUP = "(none)"

#: What names a partition: an item metadata column, a Series keyed by item label, one label per
#: item in the fit's order, or nothing.
Clusters = str | pd.Series | Sequence | np.ndarray | None


# ----------------------------------------------------------------------- partitions
@dataclass(frozen=True)
class ItemPartition:
    """A partition of the items: each item's cluster code (-1: no cluster) and the labels.

    Attributes
    ----------
    name : str
        The metadata column, the Series' name, or ``"clusters"``.
    codes : numpy.ndarray of int, shape (n_items,)
        Position of each item's label in ``labels``, in the fit's item order.
    labels : pandas.Index
        The cluster labels, sorted.
    """

    name: str
    codes: np.ndarray
    labels: pd.Index

    @property
    def indicator(self):
        """Sparse items × clusters 0/1 membership
        (:func:`~bayesirt.analysis.dependence.q3.cluster_indicator`)."""
        return cluster_indicator(self.codes, len(self.labels))

    def item_labels(self) -> np.ndarray:
        """Each item's cluster label, :data:`NO_GROUP` for items without one."""
        return np.where(self.codes >= 0, self.labels.to_numpy(dtype=object)[self.codes], NO_GROUP)


def item_partition(clusters: Clusters, idata, items: pd.Index) -> ItemPartition | None:
    """The partition named by ``clusters`` (see :data:`Clusters`) over the fit's ``items``.

    Labels are compared as strings; a missing or empty label puts the item in no cluster.
    ``None`` gives ``None``.

    Raises
    ------
    ValueError
        For an unknown metadata column, labels of items not in the fit, or a sequence of
        labels whose length is not the number of items.
    """
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
    return ItemPartition(name=name, codes=codes.astype(np.int64), labels=pd.Index(labels))


# ---------------------------------------------------------- residual clustering
#: An item belongs to a cluster's core when its z-score for the cluster exceeds this.
CORE_Z = 2.0
#: Two cores whose centroids correlate above this describe the same cluster.
SAME_DIRECTION = 0.5
#: Most truncated power iterations per seed.
GROW_ITERATIONS = 10
#: Most assignment rounds of :func:`refine`.
REFINE_ITERATIONS = 50


def grow_cores(
    z: np.ndarray,
    seeds: np.ndarray,
    size: int,
    *,
    max_elements: int = CHUNK_ELEMENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """A core of ``size`` items grown from each seed, and its coherence.

    Seeds are processed ``max_elements // I`` at a time; a seed stops as soon as its core no
    longer changes (at most :data:`GROW_ITERATIONS` rounds). The search runs in single
    precision (it only compares sums); the coherence is computed in double precision.

    Returns
    -------
    members : numpy.ndarray of int, shape (n_seeds, size)
        Sorted item indices of each core.
    coherence : numpy.ndarray, shape (n_seeds,)
        Mean :math:`z_i^\top z_k / J` over the core's pairs.
    """
    n_subjects, n_items = z.shape
    single = z.astype(np.float32)
    single_norms = (single**2).sum(axis=0)
    step = max(1, max_elements // n_items)
    members = np.empty((len(seeds), size), dtype=np.int64)
    for start in range(0, len(seeds), step):
        block = seeds[start : start + step]
        score = single[:, block].T @ single
        score[np.arange(len(block)), block] = -np.inf
        core = np.sort(np.concatenate([block[:, None], _top(score, size - 1)], axis=1), axis=1)
        active = np.arange(len(block))
        for _ in range(GROW_ITERATIONS):
            current = core[active]
            # summed Q3 of every item with the core, leaving out an item's own term
            score = single[:, current].sum(axis=2).T @ single
            score[np.arange(len(active))[:, None], current] -= single_norms[current]
            grown = np.sort(_top(score, size), axis=1)
            moving = ~(grown == current).all(axis=1)
            core[active] = grown
            active = active[moving]
            if not len(active):
                break
        members[start : start + step] = core
    sums = z[:, members].sum(axis=2)
    own = (z**2).sum(axis=0)[members].sum(axis=1)
    coherence = ((sums**2).sum(axis=0) - own) / (n_subjects * size * (size - 1))
    return members, coherence


def _top(score: np.ndarray, count: int) -> np.ndarray:
    """Column indices of the ``count`` largest entries of each row, shape (rows, count)."""
    cut = score.shape[1] - count
    return np.argpartition(score, cut, axis=1)[:, cut:]


def select_cores(
    z: np.ndarray, members: np.ndarray, coherence: np.ndarray, *, k: int, threshold: float
) -> list[np.ndarray]:
    """Up to ``k`` distinct cores with coherence above ``threshold``, best first."""
    kept: list[np.ndarray] = []
    directions: list[np.ndarray] = []
    taken = np.zeros(z.shape[1], dtype=bool)
    for s in np.argsort(-coherence, kind="stable"):
        if len(kept) == k or coherence[s] <= threshold:
            break
        core = members[s]
        centroid = z[:, core].sum(axis=1)
        centroid /= max(np.linalg.norm(centroid), 1e-12)
        if taken[core].any() or any(centroid @ d > SAME_DIRECTION for d in directions):
            continue
        kept.append(core)
        directions.append(centroid)
        taken[core] = True
    return kept


def refine(z: np.ndarray, cores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Assign every item to a cluster from initial cores (step 3 of the module docstring).

    Returns
    -------
    labels : numpy.ndarray of int, shape (n_items,)
        Index of the cluster in ``cores``.
    strength : numpy.ndarray, shape (n_items,)
        The item's z-score for its cluster.
    """
    n_items = z.shape[1]
    norms = (z**2).sum(axis=0)
    labels = np.full(n_items, -1)
    core = np.zeros(n_items, dtype=bool)
    for _ in range(REFINE_ITERATIONS):
        member = np.zeros((n_items, len(cores)))
        for g, items in enumerate(cores):
            member[items, g] = 1.0
        centroid = z @ member
        raw = z.T @ centroid
        own = norms[:, None] * member
        rest = np.maximum((centroid**2).sum(axis=0) - 2.0 * raw * member + own, 1e-12)
        score = (raw - own) / np.sqrt(rest)
        new_labels = np.argmax(score, axis=1)
        strength = score[np.arange(n_items), new_labels]
        new_core = strength > CORE_Z
        if np.array_equal(new_labels, labels) and np.array_equal(new_core, core):
            break
        labels, core = new_labels, new_core
        cores = [
            np.flatnonzero((labels == g) & core) if ((labels == g) & core).sum() >= 2 else old
            for g, old in enumerate(cores)
        ]
    return labels, strength


def residual_partition(
    z: np.ndarray,
    *,
    k: int,
    threshold: float,
    seeds: np.ndarray,
    size: int,
    max_elements: int = CHUNK_ELEMENTS,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Cores, selection and assignment (the module docstring) in one call.

    Returns labels (-1 for every item when no core passes), strengths and the number of
    clusters.
    """
    members, coherence = grow_cores(z, seeds, size, max_elements=max_elements)
    cores = select_cores(z, members, coherence, k=k, threshold=threshold)
    if not cores:
        return np.full(z.shape[1], -1), np.full(z.shape[1], np.nan), 0
    labels, strength = refine(z, cores)
    return labels, strength, len(cores)


def kmeans_directions(
    x: np.ndarray, k: int, *, rng: np.random.Generator, n_init: int = 10
) -> np.ndarray:
    """k-means of the rows of ``x`` scaled to unit length (cosine geometry), best of
    ``n_init`` k-means++ starts by within-cluster sum of squares."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms > 0, norms, 1.0)
    best, best_inertia = None, np.inf
    for _ in range(n_init):
        centres, labels = kmeans2(unit, k, minit="++", rng=rng)
        inertia = ((unit - centres[labels]) ** 2).sum()
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def adjusted_rand_index(first, second) -> float:
    r"""Adjusted Rand index of two labelings of the same objects (Hubert & Arabie, 1985).

    With the contingency table :math:`n_{uv}` and its margins :math:`a_u`, :math:`b_v`,

    .. math::

        \text{ARI} = \frac{\sum_{uv} \binom{n_{uv}}{2} - E}{\tfrac12\big(\sum_u \binom{a_u}{2}
        + \sum_v \binom{b_v}{2}\big) - E}, \qquad
        E = \frac{\sum_u \binom{a_u}{2} \sum_v \binom{b_v}{2}}{\binom{n}{2}};

    1 for identical partitions, about 0 for independent ones. Two partitions that both put
    every object on its own (or all in one cluster) give 1.
    """
    _, u = np.unique(np.asarray(first), return_inverse=True)
    _, v = np.unique(np.asarray(second), return_inverse=True)
    if len(u) != len(v):
        raise ValueError(f"the labelings have different lengths, {len(u)} and {len(v)}")
    table = np.zeros((u.max(initial=-1) + 1, v.max(initial=-1) + 1))
    np.add.at(table, (u, v), 1)
    pairs = comb(table, 2).sum()
    rows, cols = comb(table.sum(axis=1), 2).sum(), comb(table.sum(axis=0), 2).sum()
    expected = rows * cols / comb(len(u), 2) if len(u) > 1 else 0.0
    top = 0.5 * (rows + cols) - expected
    return 1.0 if top == 0 else float((pairs - expected) / top)


# ------------------------------------------------------------------ fit clusters
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
    power iteration, then a centroid assignment; see the module docstring)
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
    if k is not None:
        check_positive_int("k", k, noun="number of clusters", show=str)
    rng = np.random.default_rng(random_seed)
    setup = fit_residuals(idata, n_draws, rng)
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
    z = standardized(table, residuals(table, mean_prob))
    threshold = -np.inf
    if k is None:
        null = []
        for _ in range(n_null):
            replicated = replicate(table, mean_prob, rng)
            z0 = standardized(replicated, residuals(replicated, mean_prob))
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
