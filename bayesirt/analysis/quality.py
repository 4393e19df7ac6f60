r"""How well a benchmark measures: item quality, precision across abilities, separability.

Pure functions of a fitted model (``InferenceData`` in, pandas / xarray out), the analyses
behind the benchmark-quality part of the diagnostics report. Many LLM benchmarks measure
poorly (Polo et al. and others; "Lost in Benchmarks?"): items that (almost) everyone answers
alike, items that barely separate subjects, items whose answer key is wrong, and top models
that the questions cannot tell apart. Each of these is measured here:

* :func:`item_parameters`: posterior summaries of :math:`a, b` (:math:`c, d`) per item, with
  the item's group (category, benchmark) for their distributions by group;
* :func:`information`: item and test information curves over an ability grid and the ability
  range that the benchmark measures precisely, against where the subjects lie. The Fisher
  information of item :math:`i` at :math:`\theta` is
  :math:`I_i(\theta) = a_i^2 (P - c_i)^2 (d_i - P)^2 / ((d_i - c_i)^2 P (1 - P))`
  (:func:`bayesirt.models.item_information`), the test information :math:`I(\theta) =
  \sum_i I_i(\theta)` over all items of the fit, and the standard error of an ability
  estimated from the whole benchmark :math:`SE(\theta) = I(\theta)^{-1/2}`;
* :func:`saturated_items` and :func:`flag_items`: items almost everyone gets right or wrong,
  items with near-zero discrimination, and items whose responses run against ability, found by
  the posterior predictive item-fit check of :func:`bayesirt.analysis.ppc.ppc` (the item–rest
  correlation), not by the discrimination, which the models constrain to be positive;
* :func:`separability`: how many adjacent pairs among the top subjects the posterior separates
  (from :func:`bayesirt.analysis.rank`);
* :func:`wright_map`: abilities and difficulties on one scale.

:func:`assess_quality` runs them all. The item-parameter analyses need a unidimensional
curve (posterior ``theta``, ``a``, ``b``; ``c``, ``d`` where present).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from bayesirt._validate import check_positive, check_positive_int, check_probability
from bayesirt.analysis.posterior import (
    CHUNK_ELEMENTS,
    draw_sample,
    fitted_responses,
    posterior_draws,
)
from bayesirt.analysis.ppc import ppc
from bayesirt.analysis.ranking import rank, rank_table
from bayesirt.analysis.ranks import PROB_TOL
from bayesirt.data.groups import default_group_column
from bayesirt.irt import finite_item_information

__all__ = [
    "DEFAULT_THETA_GRID",
    "FLAGS",
    "BenchmarkQuality",
    "Separability",
    "assess_quality",
    "flag_items",
    "information",
    "item_parameters",
    "saturated_items",
    "separability",
    "wright_map",
]

#: Ability grid of the information curves (the fitted abilities have mean 0 and sd 1).
DEFAULT_THETA_GRID = np.linspace(-6.0, 6.0, 241)
#: Item flags of :func:`flag_items`, most serious first, with what to do about each.
FLAGS = {
    "against ability": "check the answer key and the question: responses run against ability",
    "near-zero discrimination": "review the question: it barely separates weak from strong",
    "saturated": "uninformative for these subjects: replace it or drop it",
}


def _groups(idata, by: str | None) -> pd.Series | None:
    """Each item's group label from item metadata column ``by`` (``"auto"``: the first of
    :data:`~bayesirt.data.groups.ITEM_GROUP_COLUMNS` with two or more labels)."""
    meta = fitted_responses(idata).item_meta
    meta.index = meta.index.astype(str)
    if by == "auto":
        by = default_group_column(meta)
    if by is None:
        return None
    if by not in meta.columns:
        raise ValueError(
            f"no item metadata column {by!r}; available: {', '.join(meta.columns) or 'none'}"
        )
    return meta[by].rename(by)


def _item_counts(idata) -> pd.DataFrame:
    """Responses and accuracy per item, indexed by the item labels (as strings)."""
    responses = fitted_responses(idata)
    responses.require_binary("the benchmark-quality analysis")
    table = pd.DataFrame(
        {
            "n_responses": responses.item_counts().to_numpy(),
            "accuracy": responses.item_accuracy().to_numpy(),
        },
        index=pd.Index(responses.items.astype(str), name="item"),
    )
    return table


def item_parameters(idata, *, by: str | None = "auto", interval: float = 0.9) -> pd.DataFrame:
    """Posterior summaries of every item's parameters, with its group and accuracy.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fitted unidimensional model (posterior ``a``, ``b``; ``c``, ``d`` where present).
    by : str or None
        Item metadata column of the groups (``"auto"``: the first of category, benchmark, ...
        with two or more labels; ``None``: no group column).
    interval : float in (0, 1)
        Mass of the central credible intervals.

    Returns
    -------
    pandas.DataFrame
        Indexed by item: ``n_responses``, ``accuracy``, the group column (named after the
        metadata column) when there is one, and for each parameter ``p`` of the model
        ``p`` (posterior mean), ``p_sd``, ``p_lo``, ``p_hi``.
    """
    check_probability("interval", interval)
    draws = posterior_draws(idata)
    table = _item_counts(idata).reindex(draws.items)
    groups = _groups(idata, by)
    if groups is not None:
        table[groups.name] = groups.reindex(draws.items).to_numpy()
    tail = (1.0 - interval) / 2
    for name in ("a", "b", "c", "d"):
        if name not in idata.posterior:
            continue
        values = getattr(draws, name)
        table[name] = values.mean(axis=0)
        table[f"{name}_sd"] = values.std(axis=0)
        table[f"{name}_lo"], table[f"{name}_hi"] = np.quantile(values, [tail, 1 - tail], axis=0)
    return table


def information(
    idata,
    *,
    theta: np.ndarray | None = None,
    se_max: float = 0.3,
    n_draws: int | None = 200,
    interval: float = 0.9,
    random_seed: int = 0,
    max_elements: int = CHUNK_ELEMENTS,
) -> xr.Dataset:
    r"""Item and test information over an ability grid, and where the benchmark is precise.

    In each used posterior draw :math:`s` the test information :math:`I^{(s)}(\theta)` is the
    sum of the item informations (module docstring) over all items of the fit. The benchmark
    measures :math:`\theta` *precisely* where the posterior median of the test information is
    at least :math:`1 / \text{se\_max}^2`, i.e. where the posterior median of
    :math:`SE(\theta) = I(\theta)^{-1/2}` is at most ``se_max``: a subject answering every
    item there would have its ability pinned to about ``se_max`` (on the scale of the fitted
    subjects, whose abilities have sd 1; ``se_max = 0.3`` corresponds to a reliability of
    about :math:`1 - 0.3^2 = 0.91`).

    Parameters
    ----------
    idata : arviz.InferenceData
    theta : array of float, optional
        Ability grid (default :data:`DEFAULT_THETA_GRID`, -6 to 6 by 0.05).
    se_max : float
        Largest standard error that counts as precise.
    n_draws : int or None
        Posterior draws used, at random without replacement (``None``: all).
    interval : float in (0, 1)
        Mass of the central credible intervals of the curves.
    random_seed : int
        Seed of the draw subset.
    max_elements : int
        Largest temporary array (cells) built at once.

    Returns
    -------
    xarray.Dataset
        Dims ``theta`` (the grid), ``item``, ``subject``:

        ``test_information``, ``test_information_lo``, ``test_information_hi`` (theta)
            Posterior median and central interval of :math:`I(\theta)`.
        ``se``, ``se_lo``, ``se_hi`` (theta)
            The same for :math:`SE(\theta)` (a monotone map of the information).
        ``item_information`` (item, theta)
            Posterior mean of each item's information.
        ``subject_theta``, ``subject_theta_lo``, ``subject_theta_hi`` (subject)
            Posterior mean and central interval of each subject's ability.
        ``precise`` (theta)
            Whether the grid point is measured precisely.

        ``attrs``: ``se_max``, ``precise_segments`` (list of ``[low, high]`` grid ranges
        measured precisely), ``precise_lo`` / ``precise_hi`` (the outermost bounds, NaN when
        no grid point is precise), ``precise_clipped`` (a segment reaches the end of the
        grid), ``n_subjects``, ``n_subjects_precise`` (subjects whose posterior mean ability
        lies in a precise segment), ``n_subjects_below`` / ``n_subjects_above`` (below the
        lowest / above the highest precise point), ``n_draws``, ``interval``.
    """
    check_positive("se_max", se_max)
    check_probability("interval", interval)
    grid = DEFAULT_THETA_GRID if theta is None else np.asarray(theta, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)):
        raise ValueError("theta must be a 1-D grid of at least 2 finite abilities")
    if np.any(np.diff(grid) <= 0):
        raise ValueError("theta must be strictly increasing")
    draws = posterior_draws(idata)
    rng = np.random.default_rng(random_seed)
    if n_draws is not None:
        check_positive_int("n_draws", n_draws, noun="integer or None")
    samples = draw_sample(draws.n_samples, n_draws, rng)

    n_items = len(draws.items)
    step = max(1, max_elements // len(grid))
    test = np.zeros((len(samples), len(grid)))
    item_sum = np.zeros((n_items, len(grid)))
    for row, s in enumerate(samples):
        for first in range(0, n_items, step):
            cols = slice(first, first + step)
            info = finite_item_information(
                grid[:, None], *(getattr(draws, p)[s, cols] for p in ("a", "b", "c", "d"))
            )
            test[row] += info.sum(axis=1)
            item_sum[cols] += info.T
    tail = (1.0 - interval) / 2
    median, lo, hi = np.quantile(test, [0.5, tail, 1 - tail], axis=0)
    with np.errstate(divide="ignore"):
        se, se_lo, se_hi = median**-0.5, hi**-0.5, lo**-0.5
    precise = median >= se_max**-2
    segments = _segments(grid, precise)
    theta_mean = draws.theta.mean(axis=0)
    theta_lo, theta_hi = np.quantile(draws.theta, [tail, 1 - tail], axis=0)
    inside = np.zeros(len(theta_mean), dtype=bool)
    for low, high in segments:
        inside |= (theta_mean >= low) & (theta_mean <= high)
    precise_lo = segments[0][0] if segments else float("nan")
    precise_hi = segments[-1][1] if segments else float("nan")
    attrs = {
        "se_max": se_max,
        "precise_segments": [list(seg) for seg in segments],
        "precise_lo": precise_lo,
        "precise_hi": precise_hi,
        "precise_clipped": bool(precise[0] or precise[-1]),
        "n_subjects": len(theta_mean),
        "n_subjects_precise": int(inside.sum()),
        "n_subjects_below": int((theta_mean < precise_lo).sum()) if segments else 0,
        "n_subjects_above": int((theta_mean > precise_hi).sum()) if segments else 0,
        "n_draws": len(samples),
        "interval": interval,
    }
    return xr.Dataset(
        {
            "test_information": ("theta", median),
            "test_information_lo": ("theta", lo),
            "test_information_hi": ("theta", hi),
            "se": ("theta", se),
            "se_lo": ("theta", se_lo),
            "se_hi": ("theta", se_hi),
            "precise": ("theta", precise),
            "item_information": (("item", "theta"), item_sum / len(samples)),
            "subject_theta": ("subject", theta_mean),
            "subject_theta_lo": ("subject", theta_lo),
            "subject_theta_hi": ("subject", theta_hi),
        },
        coords={
            "theta": grid,
            "item": np.asarray(draws.items),
            "subject": np.asarray(draws.subjects),
        },
        attrs=attrs,
    )


def _segments(grid: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """Runs of consecutive ``True`` in ``mask`` as ``(first, last)`` grid values."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(float(grid[a]), float(grid[b])) for a, b in zip(starts, stops, strict=True)]


def saturated_items(
    idata, *, min_accuracy: float = 0.05, max_accuracy: float = 0.95
) -> pd.DataFrame:
    """Items that (almost) every subject answers alike: accuracy ≤ ``min_accuracy`` or ≥
    ``max_accuracy`` over the subjects who answered them, or no answer at all.

    Returns
    -------
    pandas.DataFrame
        Indexed by item: ``n_responses``, ``accuracy`` and ``side`` (``"right"``,
        ``"wrong"`` or ``"unanswered"``), easiest first.
    """
    if not 0.0 <= min_accuracy < max_accuracy <= 1.0:
        raise ValueError(
            "need 0 <= min_accuracy < max_accuracy <= 1, got "
            f"min_accuracy={min_accuracy!r}, max_accuracy={max_accuracy!r}"
        )
    table = _item_counts(idata)
    accuracy = table["accuracy"]
    side = pd.Series(
        np.select(
            [table["n_responses"] == 0, accuracy >= max_accuracy, accuracy <= min_accuracy],
            ["unanswered", "right", "wrong"],
            default="",
        ),
        index=table.index,
    )
    table["side"] = side
    table = table[side != ""]
    return table.sort_values("accuracy", ascending=False, kind="stable")


def flag_items(
    idata,
    *,
    item_fit: xr.Dataset | None = None,
    alpha: float = 0.05,
    a_min: float = 0.25,
    min_accuracy: float = 0.05,
    max_accuracy: float = 0.95,
    by: str | None = "auto",
    n_draws: int | None = 400,
    random_seed: int = 0,
) -> pd.DataFrame:
    r"""The items a benchmark maintainer should look at, with the reason and what to do.

    An item is flagged

    * **against ability** when its responses run against ability: the observed item–rest
      correlation :math:`r_i` (the correlation over subjects of the answers to item
      :math:`i` with the proportion correct on the other items) is negative *and* lower than
      the model replicates, :math:`p_\text{low} = \Pr(r_i^{rep} < r_i) + \tfrac12
      \Pr(r_i^{rep} = r_i) < \alpha` (the ``item_fit`` check of
      :func:`bayesirt.analysis.ppc.ppc`). This catches a flipped answer key even though
      the fitted discrimination, constrained positive, cannot turn negative;
    * **near-zero discrimination** when :math:`\Pr(a_i < a_\text{min}) \ge 0.5` (posterior
      median below ``a_min``; skipped when all items share one discrimination, the 1PL);
    * **saturated** as in :func:`saturated_items`.

    Parameters
    ----------
    idata : arviz.InferenceData
    item_fit : xarray.Dataset, optional
        A :func:`~bayesirt.analysis.ppc.ppc` result that includes ``"item_fit"`` (computed here
        with ``n_draws`` and ``random_seed`` when omitted).
    alpha : float
        Level of the item-fit p-value. The check runs once per item, so some items cross it
        by chance; ``attrs["n_against_expected"]`` estimates how many. If the data were
        one more replication from the fitted model, item :math:`i`'s :math:`p_\text{low}`
        would be uniform and its correlation negative exactly when :math:`p_\text{low} <
        \Pr(r_i^{rep} < 0)`, so it would be flagged with probability
        :math:`\min(\alpha, \Pr(r_i^{rep} < 0))`; the sum over items is the expected number
        of chance flags. It is an upper estimate: the item's own parameters were fitted to
        its answers, which makes posterior predictive p-values conservative. On a simulated
        2PL benchmark (40 subjects × 300 items, 15 answer keys flipped) ``alpha = 0.05``
        flagged 14 of the 15 flipped items and one or two others (NUTS, ADVI), where the
        estimate said about 10; ``alpha = 0.01`` missed four flipped items.
    a_min : float
        Discrimination below which an item counts as barely discriminating, on the scale of
        the fitted subjects (sd 1): at ``a_min = 0.25`` P(correct) moves by about 0.12 from
        one sd below average to one sd above.
    min_accuracy, max_accuracy : float
        Saturation thresholds of :func:`saturated_items`.
    by : str or None
        Item metadata column shown as the item's group (as :func:`item_parameters`).
    n_draws, random_seed
        Of the item-fit check when ``item_fit`` is not given. Its p-values move in steps of
        ``1 / n_draws``: keep ``n_draws`` at several times ``1 / alpha``.

    Returns
    -------
    pandas.DataFrame
        One row per flagged item, most serious first (against ability by p-value, then low
        discrimination, then saturated): the group column, ``n_responses``, ``accuracy``,
        ``a`` and ``b`` (posterior medians), ``p_a_below`` (:math:`\Pr(a < a_\text{min})`),
        ``item_rest`` (observed), ``item_rest_rep`` (replicated mean), ``p_low``,
        ``reasons`` (the flags, ``"; "``-separated) and ``action``. ``attrs`` hold the
        thresholds, ``n_items`` and ``n_against_expected`` (see ``alpha``).
    """
    check_probability("alpha", alpha)
    check_positive("a_min", a_min)
    if item_fit is None:
        item_fit = ppc(idata, statistics=("item_fit",), n_draws=n_draws, random_seed=random_seed)
    elif "item_fit" not in item_fit.attrs.get("statistics", []):
        raise ValueError("item_fit must be a ppc result computed with 'item_fit' in statistics")
    draws = posterior_draws(idata)
    table = _item_counts(idata).reindex(draws.items)
    groups = _groups(idata, by)
    if groups is not None:
        table.insert(0, groups.name, groups.reindex(draws.items).to_numpy())
    table["a"] = np.median(draws.a, axis=0)
    table["b"] = np.median(draws.b, axis=0)
    common_a = bool(np.all(draws.a == draws.a[:, :1]))
    table["p_a_below"] = np.nan if common_a else (draws.a < a_min).mean(axis=0)
    fit = item_fit[
        ["item_fit_obs", "item_fit_rep_mean", "item_fit_p", "item_fit_rep_negative"]
    ].to_dataframe()
    fit.index = fit.index.astype(str)
    fit = fit.reindex(draws.items)
    table["item_rest"] = fit["item_fit_obs"].to_numpy()
    table["item_rest_rep"] = fit["item_fit_rep_mean"].to_numpy()
    table["p_low"] = 1.0 - fit["item_fit_p"].to_numpy()

    saturated = saturated_items(idata, min_accuracy=min_accuracy, max_accuracy=max_accuracy)
    conditions = {
        "against ability": ((table["p_low"] < alpha) & (table["item_rest"] < 0)).to_numpy(),
        "near-zero discrimination": (table["p_a_below"] >= 0.5).to_numpy(),
        "saturated": table.index.isin(saturated.index),
    }
    reasons = [[flag for flag, hit in conditions.items() if hit[k]] for k in range(len(table))]
    table["reasons"] = ["; ".join(r) for r in reasons]
    table["action"] = [FLAGS[r[0]] if r else "" for r in reasons]
    severity = np.array([list(FLAGS).index(r[0]) if r else len(FLAGS) for r in reasons])
    order = np.lexsort(
        (
            table["accuracy"].to_numpy(),
            -table["p_a_below"].fillna(0).to_numpy(),
            table["p_low"].fillna(1).to_numpy(),
            severity,
        )
    )
    flagged = table.iloc[order]
    flagged = flagged[flagged["reasons"] != ""]
    flagged.attrs = {
        "alpha": alpha,
        "a_min": a_min,
        "min_accuracy": min_accuracy,
        "max_accuracy": max_accuracy,
        "n_items": len(table),
        "n_draws": item_fit.attrs["n_draws"],
        "n_against_expected": float(
            np.nansum(np.minimum(alpha, fit["item_fit_rep_negative"].to_numpy()))
        ),
    }
    return flagged


@dataclass(frozen=True)
class Separability:
    """How well the posterior separates the top subjects (from :func:`separability`).

    Attributes
    ----------
    table : pandas.DataFrame
        The top subjects in posterior order (:func:`bayesirt.analysis.rank_table` rows).
    level : float
        Posterior probability at which a subject counts as beating another.
    n_adjacent, n_separated : int
        Adjacent pairs among the top subjects, and how many the posterior separates
        (``p_beats_next >= level``).
    tiers : list of list of str
        The ranking's tiers restricted to the top subjects.
    """

    table: pd.DataFrame
    level: float
    n_adjacent: int
    n_separated: int
    tiers: list[list[str]]

    @property
    def sentence(self) -> str:
        """The result in one sentence."""
        top = len(self.table)
        return (
            f"Among the top {top} subjects, {self.n_separated} of {self.n_adjacent} adjacent "
            f"pairs are separated at posterior probability {self.level:g}; they fall into "
            f"{len(self.tiers)} tier(s) of sizes {', '.join(str(len(t)) for t in self.tiers)}."
        )


def separability(
    idata, *, top: int = 10, level: float = 0.95, ranking: xr.Dataset | None = None
) -> Separability:
    """Separability of the top ``top`` subjects of the ranking by ability.

    ``ranking`` reuses a :func:`bayesirt.analysis.rank` result (its ``level`` then applies);
    otherwise the ranking by ability is computed at ``level``.
    """
    if top < 2:
        raise ValueError(f"top must be at least 2 subjects, got {top!r}")
    ranking = rank(idata, level=level) if ranking is None else ranking
    level = ranking.attrs["level"]
    table = rank_table(ranking).head(top)
    adjacent = table["p_beats_next"].to_numpy()[:-1]
    labels = set(table.index)
    tiers = [[s for s in tier if s in labels] for tier in ranking.attrs["tiers"]]
    return Separability(
        table=table,
        level=level,
        n_adjacent=len(adjacent),
        n_separated=int((adjacent >= level - PROB_TOL).sum()),
        tiers=[t for t in tiers if t],
    )


def wright_map(idata, *, by: str | None = "auto", interval: float = 0.9) -> pd.DataFrame:
    r"""Abilities and difficulties on one scale (the data of a Wright map).

    Returns
    -------
    pandas.DataFrame
        One row per subject (``kind="subject"``, location :math:`\theta_j`) and per item
        (``kind="item"``, location :math:`b_i`, where its curve is halfway between its
        asymptotes): ``kind``, ``label``, ``location`` (posterior mean), ``lo``, ``hi``
        (central ``interval``) and ``group`` (item group, empty for subjects).
    """
    check_probability("interval", interval)
    draws = posterior_draws(idata)
    tail = (1.0 - interval) / 2
    groups = _groups(idata, by)
    frames = []
    for kind, values, labels in (
        ("subject", draws.theta, draws.subjects),
        ("item", draws.b, draws.items),
    ):
        lo, hi = np.quantile(values, [tail, 1 - tail], axis=0)
        group = (
            groups.reindex(labels).astype(object).fillna("").astype(str).to_numpy()
            if kind == "item" and groups is not None
            else np.full(len(labels), "")
        )
        frames.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "label": np.asarray(labels),
                    "location": values.mean(axis=0),
                    "lo": lo,
                    "hi": hi,
                    "group": group,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class BenchmarkQuality:
    """Everything :func:`assess_quality` measured.

    Attributes
    ----------
    items : pandas.DataFrame
        :func:`item_parameters`.
    information : xarray.Dataset
        :func:`information`.
    flagged : pandas.DataFrame
        :func:`flag_items`.
    item_fit : xarray.Dataset
        The :func:`~bayesirt.analysis.ppc.ppc` result behind the item-fit flags.
    separability : Separability
    wright : pandas.DataFrame
        :func:`wright_map`.
    group : str or None
        The item metadata column used as group.
    """

    items: pd.DataFrame
    information: xr.Dataset
    flagged: pd.DataFrame
    item_fit: xr.Dataset
    separability: Separability
    wright: pd.DataFrame
    group: str | None

    def summary(self) -> dict:
        """The headline numbers, JSON-ready."""
        info = self.information.attrs
        flags = self.flagged["reasons"].str.split("; ").explode()
        counts = {flag: int((flags == flag).sum()) for flag in FLAGS}
        return {
            "n_items": len(self.items),
            "n_flagged": len(self.flagged),
            "n_against_expected": self.flagged.attrs["n_against_expected"],
            **{f"n_{flag.replace(' ', '_').replace('-', '_')}": n for flag, n in counts.items()},
            "se_max": info["se_max"],
            "precise_segments": info["precise_segments"],
            "n_subjects": info["n_subjects"],
            "n_subjects_precise": info["n_subjects_precise"],
            "top_separated": self.separability.n_separated,
            "top_adjacent": self.separability.n_adjacent,
            "top_tiers": [len(t) for t in self.separability.tiers],
        }


def assess_quality(
    idata,
    *,
    by: str | None = "auto",
    se_max: float = 0.3,
    alpha: float = 0.05,
    a_min: float = 0.25,
    min_accuracy: float = 0.05,
    max_accuracy: float = 0.95,
    top: int = 10,
    level: float = 0.95,
    ranking: xr.Dataset | None = None,
    item_fit: xr.Dataset | None = None,
    n_draws: int | None = 400,
    random_seed: int = 0,
) -> BenchmarkQuality:
    """Run every quality analysis of this module on one fit (parameters as in each function).

    ``n_draws`` and ``random_seed`` apply to the item-fit check (and to the information curves,
    with at most 200 draws); ``ranking`` reuses a :func:`bayesirt.analysis.rank` result and
    ``item_fit`` a :func:`~bayesirt.analysis.ppc.ppc` result that includes ``"item_fit"``.
    """
    groups = _groups(idata, by)
    group = None if groups is None else str(groups.name)
    if item_fit is None:
        item_fit = ppc(idata, statistics=("item_fit",), n_draws=n_draws, random_seed=random_seed)
    info_draws = 200 if n_draws is None else min(n_draws, 200)
    return BenchmarkQuality(
        items=item_parameters(idata, by=group),
        information=information(idata, se_max=se_max, n_draws=info_draws, random_seed=random_seed),
        flagged=flag_items(
            idata,
            item_fit=item_fit,
            alpha=alpha,
            a_min=a_min,
            min_accuracy=min_accuracy,
            max_accuracy=max_accuracy,
            by=group,
        ),
        item_fit=item_fit,
        separability=separability(idata, top=top, level=level, ranking=ranking),
        wright=wright_map(idata, by=group),
        group=group,
    )
