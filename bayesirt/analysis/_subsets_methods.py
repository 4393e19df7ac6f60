r"""Item-selection methods behind :func:`bayesirt.analysis.select_items`.

Every method has the signature ``method(data, budget, rng, **options)`` and returns the codes
of the chosen items (into ``data.items``), one non-negative weight per chosen item (summing
to one) and a dict of JSON-friendly details. ``rng`` is the only source of randomness.

Methods that need item parameters read them from ``data.draws`` (a fit); the others work on
the training responses alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from bayesirt.analysis._posterior import PosteriorDraws
from bayesirt.data import Responses
from bayesirt.models.irt import icc, item_information

__all__ = [
    "SelectionData",
    "information",
    "kmeans",
    "select_anchor",
    "select_bayesian",
    "select_fisher",
    "select_random",
    "select_search",
    "select_stratified",
]

#: Item-parameter draws used by the methods that integrate over the posterior.
MAX_DRAWS = 200
#: Ability levels (quantiles of the fitted abilities) of the IRT item representation.
REPRESENTATION_LEVELS = 50


@dataclass(frozen=True)
class SelectionData:
    """What a selection method may use.

    Attributes
    ----------
    responses : Responses
        The training responses, with columns in the order of ``items``.
    items : pandas.Index
        Labels of the candidate items (the fit's items when there is a fit).
    draws : PosteriorDraws or None
        The posterior draws of the fit, if the source was one.
    """

    responses: Responses
    items: pd.Index
    draws: PosteriorDraws | None

    @property
    def n_items(self) -> int:
        return len(self.items)

    @cached_property
    def correctness(self) -> np.ndarray:
        """Training subjects × items matrix of 0/1 with NaN where a response is missing."""
        dense = self.responses.dense()
        return dense[:, self.responses.items.astype(str).get_indexer(self.items)]

    def require_draws(self, method: str) -> PosteriorDraws:
        if self.draws is None:
            raise ValueError(
                f"method {method!r} needs item parameters: pass a fitted model (InferenceData), "
                "not bare Responses"
            )
        return self.draws


def _random_draws(draws: PosteriorDraws, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most :data:`MAX_DRAWS` stacked draws, at random without replacement."""
    n = min(MAX_DRAWS, draws.n_samples)
    return np.sort(rng.choice(draws.n_samples, size=n, replace=False))


def information(theta, a, b, c=0.0, d=1.0) -> np.ndarray:
    """:func:`~bayesirt.models.irt.item_information` with its limit 0 where P rounds to 0 or 1.

    Far from an item's difficulty the curve is 0 or 1 in floating point and the formula
    gives 0/0; the information there tends to 0.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(item_information(theta, a, b, c, d), nan=0.0)


def _equal(chosen: np.ndarray) -> np.ndarray:
    return np.full(len(chosen), 1.0 / len(chosen))


def select_random(
    data: SelectionData, budget: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict]:
    """``budget`` items drawn uniformly without replacement, equal weights."""
    chosen = np.sort(rng.choice(data.n_items, size=budget, replace=False))
    return chosen, _equal(chosen), {}


def select_stratified(
    data: SelectionData, budget: int, rng: np.random.Generator, *, by: str = "category"
) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""Random items within the groups of item metadata ``by``, allocated proportionally.

    Group :math:`g` with :math:`N_g` of the :math:`N` items gets :math:`k_g` items by the
    largest-remainder rule on :math:`\text{budget} \cdot N_g / N` (never more than
    :math:`N_g`), drawn uniformly within the group. An item of group :math:`g` weighs
    :math:`(N_g / N) / k_g`, so the weighted mean keeps the benchmark's group shares; groups
    that get no item (budget below the number of groups) are left out and the weights are
    renormalised.
    """
    codes, labels = data.responses.item_groups(by)
    codes = codes[data.responses.items.astype(str).get_indexer(data.items)]
    sizes = np.bincount(codes, minlength=len(labels))
    quota = budget * sizes / sizes.sum()
    alloc = np.floor(quota).astype(int)
    for g in np.argsort(-(quota - alloc), kind="stable")[: budget - alloc.sum()]:
        alloc[g] += 1
    chosen, weights = [], []
    for g, k in enumerate(alloc):
        if k:
            members = np.flatnonzero(codes == g)
            chosen.append(rng.choice(members, size=k, replace=False))
            weights.append(np.full(k, sizes[g] / k))
    order = np.argsort(np.concatenate(chosen))
    chosen_items = np.concatenate(chosen)[order]
    w = np.concatenate(weights)[order]
    details = {"by": by, "allocation": dict(zip(map(str, labels), alloc.tolist(), strict=True))}
    return chosen_items, w / w.sum(), details


def kmeans(
    points: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    n_init: int = 5,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Lloyd's k-means with k-means++ starts; the best of ``n_init`` runs by inertia.

    Minimises :math:`\sum_i \lVert x_i - \mu_{z_i} \rVert^2` over the assignments :math:`z`
    and centres :math:`\mu`. A cluster that empties is restarted at the point farthest from
    its centre.

    Returns
    -------
    labels : numpy.ndarray of int, shape (n_points,)
    centres : numpy.ndarray, shape (k, n_features)
    """
    best = (np.inf, None, None)
    sq_norms = (points**2).sum(axis=1)
    for _ in range(n_init):
        centres = _kmeans_plus_plus(points, sq_norms, k, rng)
        labels = np.full(len(points), -1)
        for _ in range(max_iter):
            dist = _sq_distances(points, sq_norms, centres)
            new_labels = dist.argmin(axis=1)
            if np.array_equal(new_labels, labels):
                break
            labels = new_labels
            counts = np.bincount(labels, minlength=k)
            for empty in np.flatnonzero(counts == 0):
                far = dist[np.arange(len(points)), labels].argmax()
                labels[far] = empty
                dist[far] = 0.0
            centres = np.stack([points[labels == c].mean(axis=0) for c in range(k)])
        inertia = _sq_distances(points, sq_norms, centres)[np.arange(len(points)), labels].sum()
        if inertia < best[0]:
            best = (inertia, labels, centres)
    return best[1], best[2]


def _sq_distances(points: np.ndarray, sq_norms: np.ndarray, centres: np.ndarray) -> np.ndarray:
    dist = sq_norms[:, None] - 2.0 * points @ centres.T + (centres**2).sum(axis=1)[None, :]
    return np.maximum(dist, 0.0)


def _kmeans_plus_plus(
    points: np.ndarray, sq_norms: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Starting centres: each next one drawn with probability ∝ squared distance to the set."""
    chosen = [rng.integers(len(points))]
    closest = _sq_distances(points, sq_norms, points[chosen])[:, 0]
    for _ in range(1, k):
        total = closest.sum()
        if total <= 0:
            candidates = np.setdiff1d(np.arange(len(points)), chosen)
            nxt = rng.choice(candidates)
        else:
            nxt = rng.choice(len(points), p=closest / total)
        chosen.append(nxt)
        closest = np.minimum(closest, _sq_distances(points, sq_norms, points[[nxt]])[:, 0])
    return points[chosen].astype(float)


def select_anchor(
    data: SelectionData,
    budget: int,
    rng: np.random.Generator,
    *,
    representation: str | None = None,
    n_init: int = 5,
) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""Anchor points (Polo et al. 2024, tinyBenchmarks): one representative item per cluster.

    The items are clustered into ``budget`` groups by k-means (:func:`kmeans`) on a vector
    representation :math:`x_i`; the anchor of a cluster is its member nearest the centre,
    and it weighs the cluster's share of the items, :math:`w = |C| / N`, so that the
    weighted mean :math:`\sum_{i \in S} w_i y_i` stands for the whole benchmark.

    Representations:

    ``"correctness"``
        The item's 0/1 column over the training subjects (missing cells filled with the item's
        mean), as in the paper's correctness clustering.
    ``"irt"`` (default with a fit)
        The item's posterior mean curve at :data:`REPRESENTATION_LEVELS` ability levels
        :math:`t_q` (quantiles of the fitted subjects' posterior mean abilities),
        :math:`x_{iq} = \frac{1}{S}\sum_s P(t_q; a_i^{(s)}, b_i^{(s)}, c_i^{(s)}, d_i^{(s)})`:
        the IRT-smoothed correctness profile. It uses the posterior item parameters while
        measuring distances in probability units, where raw :math:`(a, b)` pairs would mix
        scales.
    """
    if representation is None:
        representation = "correctness" if data.draws is None else "irt"
    if representation == "correctness":
        y = data.correctness
        points = np.where(np.isnan(y), np.nanmean(y, axis=0, keepdims=True), y).T
    elif representation == "irt":
        draws = data.require_draws("anchor with representation='irt'")
        rows = _random_draws(draws, rng)
        ability = draws.theta.mean(axis=0)
        levels = np.quantile(
            ability, (np.arange(REPRESENTATION_LEVELS) + 0.5) / REPRESENTATION_LEVELS
        )
        params = [p[rows][:, :, None] for p in (draws.a, draws.b, draws.c, draws.d)]
        points = icc(levels[None, None, :], *params).mean(axis=0)
    else:
        raise ValueError(
            f"unknown representation {representation!r}; choose 'irt' or 'correctness'"
        )
    labels, centres = kmeans(points, budget, rng, n_init=n_init)
    chosen = np.empty(budget, dtype=int)
    for c in range(budget):
        members = np.flatnonzero(labels == c)
        dist = ((points[members] - centres[c]) ** 2).sum(axis=1)
        chosen[c] = members[dist.argmin()]
    weights = np.bincount(labels, minlength=budget) / data.n_items
    order = np.argsort(chosen)
    return chosen[order], weights[order], {"representation": representation}


def select_fisher(
    data: SelectionData, budget: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""Most informative items across ability levels (metabench, Kipnis et al. 2024).

    The ability levels are the ``budget`` quantiles :math:`t_k` at :math:`(k - 1/2)/\text{budget}`
    of the fitted subjects' posterior mean abilities. Going through them from low to high,
    each level takes the not yet chosen item with the largest Fisher information
    :math:`I_i(t_k)` (see :func:`bayesirt.models.irt.item_information`) at the posterior mean
    item parameters. Equal weights. Deterministic (``rng`` is unused).
    """
    draws = data.require_draws("fisher")
    params = [p.mean(axis=0) for p in (draws.a, draws.b, draws.c, draws.d)]
    levels = np.quantile(draws.theta.mean(axis=0), (np.arange(budget) + 0.5) / budget)
    info = information(levels[:, None], *params)
    taken = np.zeros(data.n_items, dtype=bool)
    chosen = np.empty(budget, dtype=int)
    for k in range(budget):
        best = np.where(taken, -np.inf, info[k]).argmax()
        chosen[k] = best
        taken[best] = True
    chosen.sort()
    return chosen, _equal(chosen), {"levels": levels.round(6).tolist()}


def select_bayesian(
    data: SelectionData,
    budget: int,
    rng: np.random.Generator,
    *,
    target_subjects: list | pd.Index | None = None,
    n_samples: int = 2000,
    prior_precision: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""Greedy Bayesian design: expected posterior variance over items and target abilities.

    With :math:`m = 1..M` joint Monte Carlo samples of an ability :math:`\theta_m` (a random
    posterior draw of a random target subject) and independent item parameters
    :math:`\psi^{(m)}` (a random posterior draw of the items), the criterion of a set
    :math:`S` is the expected posterior variance of :math:`\theta` under the normal
    approximation,

    .. math::

        J(S) = \frac{1}{M} \sum_{m=1}^{M}
        \Big(\tau_0 + \sum_{i \in S} I_i(\theta_m; \psi_i^{(m)})\Big)^{-1},

    with prior precision :math:`\tau_0` (1 for the fit's :math:`N(0, 1)` scale) and the Fisher
    information :math:`I_i`. Items are added one at a time, each minimising :math:`J`: the
    information is integrated over the posterior of the item parameters and over the target
    population, and diminishing returns spread the items over the ability range.

    Parameters
    ----------
    target_subjects : list of labels, optional
        Fitted subjects whose abilities define the target population (default: all).
    n_samples : int
        :math:`M`.
    prior_precision : float
        :math:`\tau_0`.
    """
    draws = data.require_draws("bayesian")
    columns = np.arange(draws.theta.shape[1])
    if target_subjects is not None:
        columns = draws.subjects.get_indexer(pd.Index([str(s) for s in target_subjects]))
        if np.any(columns < 0) or not len(columns):
            raise ValueError("target_subjects must be a non-empty list of fitted subject labels")
    theta = draws.theta[
        rng.integers(draws.n_samples, size=n_samples), rng.choice(columns, n_samples)
    ]
    rows = rng.integers(draws.n_samples, size=n_samples)
    params = [p[rows] for p in (draws.a, draws.b, draws.c, draws.d)]
    info = information(theta[:, None], *params)
    precision = np.full(n_samples, float(prior_precision))
    taken = np.zeros(data.n_items, dtype=bool)
    chosen = np.empty(budget, dtype=int)
    criterion = np.empty(budget)
    for k in range(budget):
        value = (1.0 / (precision[:, None] + info)).mean(axis=0)
        value[taken] = np.inf
        best = value.argmin()
        chosen[k], criterion[k] = best, value[best]
        taken[best] = True
        precision += info[:, best]
    order = np.argsort(chosen)
    details = {"expected_posterior_variance": float(criterion[-1])}
    return chosen[order], _equal(chosen), details


def select_search(
    data: SelectionData,
    budget: int,
    rng: np.random.Generator,
    *,
    population: int = 40,
    max_evaluations: int = 4000,
    mutation_rate: float | None = None,
    n_elite: int = 2,
) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""Genetic search for the subset whose mean best reconstructs the full score.

    The fitness of a subset :math:`S` (lower is better) is the mean absolute error, over the
    training subjects :math:`j`, of the subset mean as an estimate of the full accuracy,

    .. math::

        F(S) = \frac{1}{n} \sum_j \Big| \bar y_{j,S} - \bar y_{j,I} \Big|,

    means taken over each subject's observed cells (a subject with no answer in :math:`S`
    counts an error of 1). A population of random subsets evolves
    for as long as the budget of ``max_evaluations`` fitness evaluations lasts: each
    generation keeps the ``n_elite`` best and fills up with children of parents picked by
    binary tournaments; a child keeps the items both parents share, completes them at random
    from the items of either parent, then swaps each item for a random outside item with
    probability ``mutation_rate`` (default ``1 / budget``). Equal weights.
    """
    if population < 2 or not 0 <= n_elite < population:
        raise ValueError("need population >= 2 and 0 <= n_elite < population")
    y = data.correctness
    observed = (~np.isnan(y)).astype(float)
    y0 = np.nan_to_num(y)
    full = y0.sum(axis=1) / np.maximum(observed.sum(axis=1), 1)
    rate = 1.0 / budget if mutation_rate is None else mutation_rate
    n_items = data.n_items

    def fitness(members: np.ndarray) -> np.ndarray:
        count = observed @ members.T
        mean = (y0 @ members.T) / np.maximum(count, 1)
        return np.where(count > 0, np.abs(mean - full[:, None]), 1.0).mean(axis=0)

    members = np.zeros((population, n_items))
    for row in members:
        row[rng.choice(n_items, size=budget, replace=False)] = 1.0
    scores = fitness(members)
    evaluations = population
    history = [float(scores.min())]
    while evaluations + population - n_elite <= max_evaluations and budget < n_items:
        elite = np.argsort(scores)[:n_elite]
        children = np.stack(
            [
                _child(
                    members[_tournament(scores, rng)], members[_tournament(scores, rng)], rate, rng
                )
                for _ in range(population - n_elite)
            ]
        )
        members = np.concatenate([members[elite], children])
        scores = np.concatenate([scores[elite], fitness(children)])
        evaluations += population - n_elite
        history.append(float(scores.min()))
    best = np.flatnonzero(members[scores.argmin()])
    details = {"evaluations": evaluations, "training_mae": history[-1], "history": history}
    return best, _equal(best), details


def _tournament(scores: np.ndarray, rng: np.random.Generator) -> int:
    a, b = rng.integers(len(scores), size=2)
    return a if scores[a] <= scores[b] else b


def _child(
    first: np.ndarray, second: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """Crossover and mutation of two parents given as 0/1 membership rows."""
    budget = int(first.sum())
    shared = np.flatnonzero((first > 0) & (second > 0))
    either = np.flatnonzero((first > 0) ^ (second > 0))
    child = np.zeros_like(first)
    child[shared] = 1.0
    child[rng.choice(either, size=budget - len(shared), replace=False)] = 1.0
    n_swap = int((rng.random(budget) < rate).sum())
    outside = np.flatnonzero(child == 0)
    n_swap = min(n_swap, len(outside))
    if n_swap:
        child[rng.choice(np.flatnonzero(child), size=n_swap, replace=False)] = 0.0
        child[rng.choice(outside, size=n_swap, replace=False)] = 1.0
    return child
