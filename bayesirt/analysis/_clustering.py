r"""Clustering of items by residual correlation, by embedding, and the adjusted Rand index.

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
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.special import comb

from bayesirt.analysis._posterior import CHUNK_ELEMENTS

__all__ = [
    "CORE_Z",
    "SAME_DIRECTION",
    "adjusted_rand_index",
    "grow_cores",
    "kmeans_directions",
    "refine",
    "residual_partition",
    "select_cores",
]

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
