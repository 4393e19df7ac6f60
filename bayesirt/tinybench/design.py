r"""Tiny-benchmark designs: which ``budget`` items of a benchmark stand for all of it.

:func:`select_items` chooses a set :math:`S` of ``budget`` items and a weight :math:`w_i \ge 0`
per chosen item, :math:`\sum_{i \in S} w_i = 1`, so that the weighted mean of a subject's
answers :math:`\sum_{i \in S} w_i y_i` stands for its accuracy on the full benchmark (equal
weights unless the method says otherwise). The methods of :data:`SELECTION_METHODS`:

* ``random``: uniform without replacement; ``stratified``: proportional allocation over the
  groups :math:`g` of an item metadata column, :math:`k_g` items by the largest-remainder rule
  on :math:`\text{budget} \cdot N_g / N`, each weighing :math:`(N_g / N) / k_g`. Both draw
  their items at random (:data:`RANDOM_DESIGNS`).
* ``anchor`` (Polo et al. 2024, tinyBenchmarks): k-means on item representations
  :math:`x_i`, minimising :math:`\sum_i \lVert x_i - \mu_{z_i} \rVert^2` (SciPy's
  :func:`~scipy.cluster.vq.kmeans2` with k-means++ starts); the anchor of a cluster :math:`C`
  is its member nearest the centre, weighing :math:`|C| / N`.
* ``fisher`` (Kipnis et al. 2024, metabench): at each of ``budget`` ability quantiles
  :math:`t_k`, the not yet chosen item with the largest Fisher information
  :math:`I_i(t_k; \bar\psi_i)` at the posterior mean item parameters.
* ``bayesian``: greedy minimisation of the expected posterior variance of the ability,
  :math:`J(S) = \frac{1}{M}\sum_m \big(\tau_0 + \sum_{i \in S} I_i(\theta_m;
  \psi_i^{(m)})\big)^{-1}`, the information integrated over the posterior of the item
  parameters and over the target abilities.
* ``search``: a genetic search for the subset whose mean best reconstructs the full score of
  the training subjects, minimising :math:`F(S) = \frac{1}{n}\sum_j |\bar y_{j,S} - \bar
  y_{j,I}|`.

Each method's docstring gives its maths in full. Every method has the signature
``method(data, budget, rng, **options)`` and returns the codes of the chosen items (into
``data.items``), one non-negative weight per chosen item (summing to one) and a dict of
JSON-friendly details. ``rng`` (``numpy.random.default_rng(seed)``) is the only source of
randomness. Methods that need item parameters read them from ``data.draws`` (a fit); the others
work on the training responses alone.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2

from bayesirt.analysis.posterior import PosteriorDraws, fitted_responses, posterior_draws
from bayesirt.data import Responses
from bayesirt.irt import finite_item_information, icc

__all__ = [
    "RANDOM_DESIGNS",
    "SELECTION_METHODS",
    "SelectionData",
    "SubsetSelection",
    "select_anchor",
    "select_bayesian",
    "select_fisher",
    "select_items",
    "select_random",
    "select_search",
    "select_stratified",
]

#: Item-parameter draws used by the methods that integrate over the posterior.
MAX_DRAWS = 200
#: Ability levels (quantiles of the fitted abilities) of the IRT item representation.
REPRESENTATION_LEVELS = 50

#: Lloyd iterations per call of :func:`~scipy.cluster.vq.kmeans2` in the anchor clustering:
#: the calls go on from the centres reached until an assignment comes back unchanged.
KMEANS_ROUND = 10

#: Designs whose items are drawn at random: the gp-IRT rule takes κ = 1 for them, 4 otherwise.
RANDOM_DESIGNS = ("random", "stratified")


@dataclass(frozen=True)
class SubsetSelection:
    """Items chosen for a tiny benchmark, with their weights.

    Attributes
    ----------
    items : pandas.Index
        The chosen item labels.
    weights : numpy.ndarray
        One non-negative weight per item, summing to one: the weighted mean of the answers
        stands for the full benchmark (equal weights unless the method says otherwise).
    method : str
    budget : int
    seed : int
    n_candidates : int
        Number of items the choice was made from.
    details : dict
        Method-specific, JSON-friendly diagnostics (e.g. the search's training error).
    """

    items: pd.Index
    weights: np.ndarray
    method: str
    budget: int
    seed: int
    n_candidates: int
    details: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per chosen item: ``item``, ``weight``."""
        return pd.DataFrame({"item": self.items, "weight": self.weights})

    def to_dict(self) -> dict:
        """Plain-Python form for JSON."""
        return {
            "method": self.method,
            "budget": self.budget,
            "seed": self.seed,
            "n_candidates": self.n_candidates,
            "items": [str(i) for i in self.items],
            "weights": [float(w) for w in self.weights],
            "details": self.details,
        }


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


def _kmeans(
    points: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    n_init: int = 5,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    r"""k-means by SciPy's :func:`~scipy.cluster.vq.kmeans2`; the best of ``n_init`` runs.

    Minimises the inertia :math:`\sum_i \lVert x_i - \mu_{z_i} \rVert^2` over the assignments
    :math:`z` and centres :math:`\mu` by Lloyd's iterations from k-means++ starts drawn from
    ``rng``, in rounds of :data:`KMEANS_ROUND` iterations until a round leaves the assignment
    unchanged (at most ``max_iter`` iterations); the run of least inertia wins. A cluster
    left empty (fewer distinct points than ``k``, or an unlucky start) takes the point
    farthest from its centre among the clusters of several points, so that every cluster has
    a member.

    Returns
    -------
    labels : numpy.ndarray of int, shape (n_points,)
    centres : numpy.ndarray, shape (k, n_features)
    """
    best = (np.inf, None, None)
    for _ in range(n_init):
        # kmeans2 warns of the empty clusters that _fill_empty handles, and its k-means++
        # divides 0 by 0 once every distinct point is a centre.
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.filterwarnings("ignore", "One of the clusters is empty", UserWarning)
            centres, labels = kmeans2(points, k, iter=KMEANS_ROUND, minit="++", rng=rng)
            for _ in range(KMEANS_ROUND, max_iter, KMEANS_ROUND):
                centres, again = kmeans2(points, centres, iter=KMEANS_ROUND, minit="matrix")
                converged = np.array_equal(again, labels)
                labels = again
                if converged:
                    break
        labels, centres = _fill_empty(points, labels, centres, k)
        inertia = ((points - centres[labels]) ** 2).sum()
        if inertia < best[0]:
            best = (inertia, labels, centres)
    return best[1], best[2]


def _fill_empty(
    points: np.ndarray, labels: np.ndarray, centres: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Give every empty cluster the point farthest from its centre among the clusters with
    several points; the centres are then the means of the members."""
    counts = np.bincount(labels, minlength=k)
    if counts.all():
        return labels, centres
    labels = labels.copy()
    dist = ((points - centres[labels]) ** 2).sum(axis=1)
    for empty in np.flatnonzero(counts == 0):
        movable = np.flatnonzero(counts[labels] > 1)
        far = movable[dist[movable].argmax()]
        counts[labels[far]] -= 1
        labels[far], counts[empty], dist[far] = empty, 1, 0.0
    return labels, np.stack([points[labels == c].mean(axis=0) for c in range(k)])


def select_anchor(
    data: SelectionData,
    budget: int,
    rng: np.random.Generator,
    *,
    representation: str | None = None,
    n_init: int = 5,
) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""Anchor points (Polo et al. 2024, tinyBenchmarks): one representative item per cluster.

    The items are clustered into ``budget`` groups by k-means (:func:`_kmeans`: SciPy's
    :func:`~scipy.cluster.vq.kmeans2` from k-means++ starts, the best of ``n_init`` runs) on a
    vector representation :math:`x_i`; the anchor of a cluster is its member nearest the centre,
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
    labels, centres = _kmeans(points, budget, rng, n_init=n_init)
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
    :math:`I_i(t_k)` (see :func:`bayesirt.irt.item_information`) at the posterior mean
    item parameters. Equal weights. Deterministic (``rng`` is unused).
    """
    draws = data.require_draws("fisher")
    params = [p.mean(axis=0) for p in (draws.a, draws.b, draws.c, draws.d)]
    levels = np.quantile(draws.theta.mean(axis=0), (np.arange(budget) + 0.5) / budget)
    info = finite_item_information(levels[:, None], *params)
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
    info = finite_item_information(theta[:, None], *params)
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


#: Selection methods by name: ``method(data, budget, rng, **options) -> (codes, weights,
#: details)``; see each one's docstring for its maths.
SELECTION_METHODS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray, dict]]] = {
    "random": select_random,
    "stratified": select_stratified,
    "anchor": select_anchor,
    "fisher": select_fisher,
    "bayesian": select_bayesian,
    "search": select_search,
}


def select_items(
    source,
    *,
    method: str = "anchor",
    budget: int,
    seed: int = 0,
    **options: Any,
) -> SubsetSelection:
    """Choose ``budget`` items of a benchmark to stand for all of it.

    Parameters
    ----------
    source : arviz.InferenceData or Responses
        A fitted model (its items, posterior and training responses), or bare training
        responses for the methods that need no item parameters (``random``, ``stratified``,
        ``anchor`` with the correctness representation, ``search``).
    method : str
        A key of :data:`SELECTION_METHODS`:

        ``"random"``
            Uniform without replacement.
        ``"stratified"``
            Proportional allocation over the groups of item metadata ``by`` (default
            ``"category"``), weights restoring the group shares.
        ``"anchor"``
            tinyBenchmarks anchor points: k-means on item representations
            (``representation="irt"`` or ``"correctness"``), the item nearest each centre,
            weighted by its cluster's share.
        ``"fisher"``
            metabench: the most informative item at each of ``budget`` ability quantiles.
        ``"bayesian"``
            Greedy minimum expected posterior variance, information integrated over the
            item posterior and the abilities of the target subjects (``target_subjects``).
        ``"search"``
            Genetic search minimising the training error of the subset mean
            (``population``, ``max_evaluations``, ``mutation_rate``, ``n_elite``).
    budget : int
        Number of items, 1 .. number of items.
    seed : int
        Seed of ``numpy.random.default_rng`` (methods without randomness ignore it).
    **options
        Method-specific keyword arguments (above).

    Returns
    -------
    SubsetSelection

    Raises
    ------
    ValueError
        For an unknown method (listing the known ones), a budget out of range, or a method
        that needs item parameters given bare responses.
    """
    if method not in SELECTION_METHODS:
        raise ValueError(
            f"unknown selection method {method!r}; choose one of {', '.join(SELECTION_METHODS)}"
        )
    data = _selection_data(source)
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer):
        raise ValueError(f"budget must be an integer, got {budget!r}")
    if not 1 <= budget <= data.n_items:
        raise ValueError(f"budget must lie between 1 and the {data.n_items} items, got {budget}")
    rng = np.random.default_rng(seed)
    codes, weights, details = SELECTION_METHODS[method](data, int(budget), rng, **options)
    return SubsetSelection(
        items=pd.Index(data.items[codes], name="item"),
        weights=np.asarray(weights, dtype=float),
        method=method,
        budget=int(budget),
        seed=seed,
        n_candidates=data.n_items,
        details=details,
    )


def _selection_data(source) -> SelectionData:
    if isinstance(source, Responses):
        return SelectionData(
            responses=source, items=pd.Index(source.items.astype(str), name="item"), draws=None
        )
    if isinstance(source, az.InferenceData):
        draws = posterior_draws(source)
        responses = fitted_responses(source)
        responses.require_binary("item selection for a tiny benchmark")
        return SelectionData(responses=responses, items=draws.items, draws=draws)
    raise TypeError(
        f"select_items needs an InferenceData or Responses, got {type(source).__name__}"
    )
