r"""Rankings under other distributions of interest over the questions, and their stability.

A leaderboard averages over one particular set of questions with one particular weighting.
:func:`scenario_rankings` ranks the subjects under other *scenarios*: by ability, by expected
score on all questions equally weighted, with every group of questions (cluster, category,
benchmark) weighted equally, with user weights per group, under random group weights
(Dirichlet use cases), and from other fits. With weights :math:`w_i \ge 0` the ranked value of
subject :math:`j` in draw :math:`s` is its expected score

.. math::

    S_j^{(s)}(w) = \sum_i w_i \, P_{ij}^{(s)}, \qquad \sum_i w_i = 1,

with a group's weight spread equally over its items, :math:`w_i = \pi_{g(i)} / n_{g(i)}`.
Each scenario is ranked both by the posterior and by the observed accuracy weighted the same
way. :func:`rank_stability` (Kendall's :math:`\tau_b`, rank shifts) and :func:`order_flips`
(pairs of subjects ordered the other way round) compare the scenarios with a reference.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import kendalltau, rankdata

from bayesirt._validate import check_probability
from bayesirt.analysis.dependence.clusters import Clusters, item_partition
from bayesirt.analysis.dependence.q3 import ObservedTable, cluster_indicator, observed_table
from bayesirt.analysis.posterior import (
    CHUNK_ELEMENTS,
    PosteriorDraws,
    expected_scores,
    posterior_draws,
)
from bayesirt.analysis.ranking import _beat_probabilities, rank
from bayesirt.analysis.ranks import rank_bounds, rank_probabilities, rank_quantile

__all__ = [
    "RANK_BASES",
    "RESERVED_SCENARIOS",
    "SCENARIO_VARS",
    "order_flips",
    "rank_stability",
    "scenario_rankings",
]

#: Scenario names :func:`scenario_rankings` reserves.
RESERVED_SCENARIOS = ("theta", "uniform", "balanced", "dirichlet")
#: Per-scenario variables taken from each :func:`~bayesirt.analysis.rank` result.
SCENARIO_VARS = (
    "mean_rank",
    "rank_lo",
    "rank_hi",
    "estimate",
    "p_rank",
    "p_beats",
    "accuracy",
    "accuracy_rank",
)
#: What :func:`rank_stability` and :func:`order_flips` compare: scenario ranks, use-case ranks.
RANK_BASES = {
    "posterior": ("mean_rank", "use_case_rank"),
    "accuracy": ("accuracy_rank", "use_case_accuracy_rank"),
}


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
    is missing form one more group,
    :data:`~bayesirt.analysis.dependence.clusters.NO_GROUP`.

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
        The item groups (as ``clusters`` of
        :func:`~bayesirt.analysis.dependence.local.local_dependence`).
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
    check_probability("interval", interval)
    if n_use_cases < 0 or concentration <= 0:
        raise ValueError("n_use_cases must be non-negative and concentration positive")
    draws = posterior_draws(idata)
    items, subjects = draws.items, draws.subjects
    options = {"interval": interval, "n_boot": n_boot, "random_seed": random_seed}
    ranked: dict[str, tuple[str, xr.Dataset]] = {
        "theta": ("ability", rank(idata, by="theta", **options)),
        "uniform": ("score", rank(idata, by="score", **options)),
    }
    part = item_partition(groups, idata, items)
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
            table = observed_table(idata, draws)
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
        per_scenario.append({"kind": kind, **{v: aligned[v].values for v in SCENARIO_VARS}})
    if dirichlet is not None:
        per_scenario.append({"kind": "use_cases", **dirichlet})
    ref = scenario_names.index(reference)
    order = np.lexsort((np.arange(len(labels)), per_scenario[ref]["mean_rank"]))
    dims = {
        "p_rank": ("scenario", "subject", "rank"),
        "p_beats": ("scenario", "subject", "opponent"),
    }
    data_vars = {}
    for var in SCENARIO_VARS:
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
    table: ObservedTable,
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
    member = cluster_indicator(codes, n_groups)
    correct = (member.T @ table.y.T).T  # (subject, group)
    answered = (member.T @ table.observed.astype(float).T).T
    item_share = use_cases / sizes
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = (item_share @ correct.T) / (item_share @ answered.T)
    accuracy_rank = pd.DataFrame(-accuracy).rank(axis=1, method="average").to_numpy()
    tail = (1.0 - interval) / 2
    with warnings.catch_warnings():  # subjects without an answered item: NaN accuracy
        warnings.simplefilter("ignore", RuntimeWarning)
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
