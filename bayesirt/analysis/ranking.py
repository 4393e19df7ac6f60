r"""Uncertainty-aware rankings of the subjects of a fit, next to the leaderboard they correct.

:func:`rank` turns the posterior of a fitted model into a ranking with its uncertainty: the
posterior distribution of every subject's rank, the probability that one subject beats
another, tiers of subjects that the data cannot tell apart, and the observed-accuracy
leaderboard with its bootstrap intervals for comparison. :func:`rank_table`,
:func:`rank_to_json` and :func:`reordered_pairs` present the result.

Ranks are taken draw by draw on a quantity :math:`v_j^{(s)}` (higher is better):

* ``by="theta"``: the ability, :math:`v_j^{(s)} = \theta_j^{(s)}`;
* ``by="score"``: the expected accuracy on an item set with normalised weights :math:`w_i`,
  :math:`v_j^{(s)} = \sum_i w_i P(\theta_j^{(s)}; a_i^{(s)}, b_i^{(s)}, c_i^{(s)},
  d_i^{(s)})`, which averages over every item of the set whether the subject answered it or
  not.

Rank 1 is the best. Ties within a draw are split evenly (see :mod:`bayesirt.analysis.ranks`):
a subject tied with :math:`m - 1` others on positions :math:`r..r+m-1` holds each with
probability :math:`1/m` and has rank :math:`r + (m - 1)/2` in that draw; in pairwise
comparisons a tie counts half a win.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy import sparse
from scipy.stats import kendalltau

from bayesirt._json import json_number
from bayesirt._validate import check_positive_int, check_probability
from bayesirt.analysis.posterior import (
    CHUNK_ELEMENTS,
    expected_scores,
    fitted_responses,
    item_weights,
    posterior_draws,
)
from bayesirt.analysis.ranks import PROB_TOL, rank_bounds, rank_probabilities, rank_quantile
from bayesirt.data import Responses
from bayesirt.data.validation import describe_values

__all__ = ["rank", "rank_table", "rank_to_json", "reordered_pairs"]

RANK_BY = ("theta", "score")
#: Number of leading subjects (in posterior order) of the "top" separability count.
TOP_SEPARABILITY = 10


def rank(
    idata,
    *,
    by: str = "theta",
    items: Sequence | None = None,
    weights: Sequence[float] | Mapping | pd.Series | None = None,
    top_k: Iterable[int] = (1, 3, 10),
    level: float = 0.95,
    interval: float = 0.9,
    n_boot: int = 1000,
    random_seed: int = 0,
) -> xr.Dataset:
    r"""Posterior ranking of the fitted subjects, with tiers and the leaderboard it corrects.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fitted model: ``posterior`` with ``theta``, ``a``, ``b`` (``c``, ``d``) and
        ``constant_data`` with the fitted responses.
    by : {"theta", "score"}
        Rank by ability, or by expected accuracy on ``items`` with ``weights``.
    items : sequence of item labels, optional
        ``by="score"`` only: the item set (default: every item of the fit, answered or not).
    weights : sequence of float, mapping or Series, optional
        ``by="score"`` only: non-negative item weights, a "distribution of interest" that is
        normalised to sum to one. A sequence follows the order of ``items`` (or of the fit's
        items); a mapping or Series is keyed by item label and, without ``items``, defines the
        item set. Default: equal weights.
    top_k : iterable of int
        The ``k`` of the ``P(rank <= k)`` columns.
    level : float in (0.5, 1)
        Posterior probability at which one subject counts as beating another (tiers and
        separability).
    interval : float in (0, 1)
        Mass of the credible intervals (of the rank, of the ranked quantity) and of the
        bootstrap intervals of the observed accuracy.
    n_boot : int
        Bootstrap replications for the observed-accuracy intervals.
    random_seed : int
        Seed of the bootstrap (the posterior summaries involve no randomness).

    Returns
    -------
    xarray.Dataset
        Subjects in posterior order (by mean rank, ties by higher posterior mean of the
        ranked quantity, then by their order in the fit), with dims ``subject``, ``opponent``
        (the same labels), ``rank`` (1..n) and ``top_k``:

        ``estimate``, ``estimate_lo``, ``estimate_hi`` (subject)
            Posterior mean and central ``interval`` credible interval of :math:`v_j`
            (θ or the expected score; ``attrs["by"]`` says which).
        ``mean_rank``, ``median_rank``, ``rank_lo``, ``rank_hi`` (subject)
            :math:`E[\text{rank}_j] = \sum_k k\,P(\text{rank}_j = k)`; the lower median
            and the bounds of the central interval, all read off :math:`P(\text{rank}_j = k)`:
            ``rank_lo`` is the smallest :math:`k` with :math:`P(\text{rank} \le k) \ge
            (1 - \text{interval})/2`, ``rank_hi`` the smallest with
            :math:`P(\text{rank} \le k) \ge (1 + \text{interval})/2`, so the interval holds
            at least ``interval`` of the mass.
        ``p_rank`` (subject, rank)
            :math:`P(\text{rank}_j = k)`; rows and columns sum to one.
        ``p_top`` (subject, top_k)
            :math:`P(\text{rank}_j \le k)`.
        ``p_beats`` (subject, opponent)
            :math:`P(v_A > v_B) + \tfrac12 P(v_A = v_B)`, so ``p_beats[A, B] + p_beats[B, A]
            = 1``; NaN on the diagonal.
        ``p_beats_next`` (subject)
            ``p_beats`` against the next subject in posterior order (NaN for the last).
        ``tier`` (subject)
            Tier number, 1 = top (rule below).
        ``accuracy``, ``accuracy_lo``, ``accuracy_hi``, ``accuracy_rank`` (subject)
            The leaderboard: observed accuracy over the subject's answered items of the item set
            (weighted by ``weights`` when given, so it estimates the same quantity as the score;
            for ordinal scores the mean normalised score, code / (categories - 1)), a
            percentile-bootstrap ``interval`` over items (items resampled with replacement,
            ``n_boot`` times) and its rank (ties averaged; NaN for a subject with no answered
            item).

        Attributes: ``by``, ``level``, ``interval``, ``n_samples``, ``n_boot``, ``tiers`` (list
        of lists of labels, top first), ``n_adjacent`` / ``n_separated`` (adjacent pairs in
        posterior order, and how many have ``p_beats_next >= level``),
        ``n_adjacent_top10`` / ``n_separated_top10`` (the same among the first 10 subjects),
        ``kendall_tau`` (τ-b between accuracy rank and mean rank) and ``n_reordered_pairs``
        (see :func:`reordered_pairs`).

    Notes
    -----
    **Tiers.** Walk the subjects in posterior order, the first opening tier 1. A subject joins
    the current tier unless it is separated at ``level`` from *any* member of that tier,
    :math:`\max(P(A > B), P(B > A)) \ge \text{level}`; then it opens the next tier. Every tier
    is therefore a run of consecutive subjects in which no pair is separated at ``level``, and
    each new tier starts at a subject that the posterior separates from someone above it.
    Comparing against every member (complete linkage) rather than only the tier's first member
    keeps the promise "the members of a tier cannot be told apart" true even when posteriors of
    very different widths make ``p_beats`` non-monotone along the order; when it is monotone
    both rules give the same tiers.

    No sampling happens here: everything is a function of the stored draws, stacked over
    chains, and of the bootstrap seed.

    Raises
    ------
    ValueError
        On an unknown ``by``, item labels not in the fit, negative or non-finite weights,
        ``items``/``weights`` with ``by="theta"``, or out-of-range ``level``/``interval``.
    """
    if by not in RANK_BY:
        raise ValueError(f"by must be one of {RANK_BY}, got {by!r}")
    check_probability("level", level, low=0.5)
    check_probability("interval", interval, low=0.0)
    ks = _check_top_k(top_k)
    check_positive_int("n_boot", n_boot, show=str)
    if by == "theta" and (items is not None or weights is not None):
        raise ValueError("items and weights choose the item set of by='score'; use by='score'")

    draws = posterior_draws(idata)
    responses = fitted_responses(idata)
    _check_same_labels(draws.subjects, responses.subjects, "subject")
    _check_same_labels(draws.items, responses.items, "item")
    item_w = item_weights(draws.items, items=items, weights=weights)
    values = draws.theta if by == "theta" else expected_scores(draws, item_w)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"the posterior draws of {by} contain NaN or infinite values")

    n = values.shape[1]
    first, last = rank_bounds(values)
    p_rank = rank_probabilities(first, last, n)
    mean_rank = p_rank @ np.arange(1, n + 1)
    estimate = values.mean(axis=0)
    order = _posterior_order(mean_rank, estimate)
    p_beats = _beat_probabilities(values)
    tier = _tiers(order, p_beats, level)
    p_next = np.full(n, np.nan)
    p_next[order[:-1]] = p_beats[order[:-1], order[1:]]

    tail = (1.0 - interval) / 2
    accuracy, acc_lo, acc_hi = _bootstrap_accuracy(
        responses,
        item_w[draws.items.get_indexer(responses.items.astype(str))],
        n_boot=n_boot,
        tail=tail,
        rng=np.random.default_rng(random_seed),
    )
    # the leaderboard comes in the data's subject order: align it with the posterior's
    align = pd.Index(responses.subjects.astype(str)).get_indexer(draws.subjects)
    accuracy, acc_lo, acc_hi = accuracy[align], acc_lo[align], acc_hi[align]
    accuracy_rank = pd.Series(accuracy).rank(ascending=False, method="average").to_numpy()

    subjects = draws.subjects[order]
    per_subject = {
        "estimate": estimate,
        "estimate_lo": np.quantile(values, tail, axis=0),
        "estimate_hi": np.quantile(values, 1 - tail, axis=0),
        "mean_rank": mean_rank,
        "median_rank": rank_quantile(p_rank, 0.5),
        "rank_lo": rank_quantile(p_rank, tail),
        "rank_hi": rank_quantile(p_rank, 1 - tail),
        "p_beats_next": p_next,
        "tier": tier,
        "accuracy": accuracy,
        "accuracy_lo": acc_lo,
        "accuracy_hi": acc_hi,
        "accuracy_rank": accuracy_rank,
    }
    data_vars = {name: ("subject", v[order]) for name, v in per_subject.items()}
    data_vars["p_rank"] = (("subject", "rank"), p_rank[order])
    cumulative = np.cumsum(p_rank, axis=1)[:, np.minimum(ks, n) - 1]
    data_vars["p_top"] = (("subject", "top_k"), cumulative[order])
    data_vars["p_beats"] = (("subject", "opponent"), p_beats[np.ix_(order, order)])

    adjacent = p_next[order[:-1]] >= level - PROB_TOL
    n_top = max(min(TOP_SEPARABILITY, n) - 1, 0)
    valid = ~np.isnan(accuracy)
    tau = (
        float(kendalltau(accuracy_rank[valid], mean_rank[valid]).statistic)
        if valid.sum() > 1
        else float("nan")
    )
    attrs = {
        "by": by,
        "level": level,
        "interval": interval,
        "n_samples": draws.n_samples,
        "n_boot": n_boot,
        "tiers": [list(subjects[tier[order] == t]) for t in range(1, tier.max() + 1)],
        "n_adjacent": n - 1,
        "n_separated": int(adjacent.sum()),
        "n_adjacent_top10": n_top,
        "n_separated_top10": int(adjacent[:n_top].sum()),
        "kendall_tau": tau,
        "n_reordered_pairs": len(_reordered(accuracy[order])[0]),
    }
    return xr.Dataset(
        data_vars,
        coords={
            "subject": np.asarray(subjects),
            "opponent": np.asarray(subjects),
            "rank": np.arange(1, n + 1),
            "top_k": np.asarray(ks),
        },
        attrs=attrs,
    )


def rank_table(result: xr.Dataset) -> pd.DataFrame:
    """One row per subject, in posterior order: the columns a leaderboard prints.

    Columns: ``tier``, ``mean_rank``, ``median_rank``, ``rank_lo``, ``rank_hi``, ``p_top<k>``
    for each ``k`` of ``top_k`` below the number of subjects (with ``n`` subjects every one is
    in the top ``n`` for sure, so ``P(rank <= k) = 1`` for ``k >= n`` says nothing and is left
    out), the ranked quantity (``theta`` or ``score``) with ``_lo`` / ``_hi`` bounds,
    ``accuracy`` with ``accuracy_lo`` / ``accuracy_hi``, ``accuracy_rank`` and
    ``p_beats_next``. Indexed by ``subject``.
    """
    result = _sorted(result)
    by = result.attrs["by"]
    table = pd.DataFrame(index=pd.Index(result["subject"].values, name="subject"))
    for name in ("tier", "mean_rank", "median_rank", "rank_lo", "rank_hi"):
        table[name] = result[name].values
    n_ranked = result.sizes["rank"]  # subjects ranked (a selection of rows keeps them all)
    for k in result["top_k"].values:
        if k < n_ranked:
            table[f"p_top{k}"] = result["p_top"].sel(top_k=k).values
    for suffix in ("", "_lo", "_hi"):
        table[f"{by}{suffix}"] = result[f"estimate{suffix}"].values
    for name in ("accuracy", "accuracy_lo", "accuracy_hi", "accuracy_rank", "p_beats_next"):
        table[name] = result[name].values
    return table


def rank_to_json(result: xr.Dataset) -> dict:
    """JSON-able summary: subjects in posterior order, pairwise probabilities and tiers.

    Returns
    -------
    dict
        ``{"subjects": [{"subject", "mean_rank", "rank_lo", "rank_hi", "p_top1", "tier",
        "accuracy", "accuracy_rank"}, ...], "p_beats": {A: {B: p}}, "tiers": [[...], ...]}``
        with plain Python numbers; a missing accuracy (subject with no answered item) is
        ``None``. ``p_beats`` leaves out a subject against itself.
    """
    result = _sorted(result)
    labels = [str(s) for s in result["subject"].values]
    subjects = [
        {
            "subject": label,
            "mean_rank": float(result["mean_rank"].values[j]),
            "rank_lo": int(result["rank_lo"].values[j]),
            "rank_hi": int(result["rank_hi"].values[j]),
            "p_top1": float(result["p_rank"].values[j, 0]),
            "tier": int(result["tier"].values[j]),
            "accuracy": json_number(result["accuracy"].values[j]),
            "accuracy_rank": json_number(result["accuracy_rank"].values[j]),
        }
        for j, label in enumerate(labels)
    ]
    beats = result["p_beats"].sel(opponent=result["subject"].values).values
    p_beats = {
        a: {b: float(beats[i, j]) for j, b in enumerate(labels) if i != j}
        for i, a in enumerate(labels)
    }
    tiers = [[str(s) for s in tier] for tier in result.attrs["tiers"]]
    return {"subjects": subjects, "p_beats": p_beats, "tiers": tiers}


def reordered_pairs(result: xr.Dataset) -> pd.DataFrame:
    """Pairs that the accuracy leaderboard orders differently from the posterior.

    A pair (``higher``, ``lower``) is listed when ``higher`` comes first in posterior order
    but has a strictly lower observed accuracy (tied accuracies are not a reordering).
    ``p_posterior_order`` is the posterior probability that ``higher`` beats ``lower``: how
    sure the posterior is that the leaderboard got this pair wrong. Sorted by that probability,
    most certain first.

    Returns
    -------
    pandas.DataFrame
        Columns ``higher``, ``lower``, ``p_posterior_order``, ``mean_rank_higher``,
        ``mean_rank_lower``, ``accuracy_higher``, ``accuracy_lower``.
    """
    result = _sorted(result)
    labels = result["subject"].values
    accuracy = result["accuracy"].values
    mean_rank = result["mean_rank"].values
    beats = result["p_beats"].sel(opponent=labels).values
    hi, lo = _reordered(accuracy)
    table = pd.DataFrame(
        {
            "higher": labels[hi],
            "lower": labels[lo],
            "p_posterior_order": beats[hi, lo],
            "mean_rank_higher": mean_rank[hi],
            "mean_rank_lower": mean_rank[lo],
            "accuracy_higher": accuracy[hi],
            "accuracy_lower": accuracy[lo],
        }
    )
    return table.sort_values("p_posterior_order", ascending=False, kind="stable").reset_index(
        drop=True
    )


# ---------------------------------------------------------------- NumPy core
def _posterior_order(mean_rank: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Indices by mean rank, then higher posterior mean, then original position."""
    return np.lexsort((np.arange(len(mean_rank)), -estimate, mean_rank))


def _beat_probabilities(values: np.ndarray, max_elements: int = CHUNK_ELEMENTS) -> np.ndarray:
    """``P[A, B] = P(v_A > v_B) + P(v_A = v_B) / 2`` over draws, NaN on the diagonal."""
    n_samples, n = values.shape
    step = max(1, max_elements // (n * n))
    wins = np.zeros((n, n))
    for start in range(0, n_samples, step):
        block = values[start : start + step]
        left, right = block[:, :, None], block[:, None, :]
        wins += (left > right).sum(axis=0) + 0.5 * (left == right).sum(axis=0)
    p = wins / n_samples
    np.fill_diagonal(p, np.nan)
    return p


def _tiers(order: np.ndarray, p_beats: np.ndarray, level: float) -> np.ndarray:
    """Tier of each subject (1 = top) by the complete-linkage walk of :func:`rank`."""
    tier = np.empty(len(order), dtype=np.int64)
    current, members = 1, [order[0]]
    tier[order[0]] = current
    for j in order[1:]:
        p = p_beats[members, j]
        if np.any(np.maximum(p, 1.0 - p) >= level - PROB_TOL):
            current += 1
            members = [j]
        else:
            members.append(j)
        tier[j] = current
    return tier


def _reordered(accuracy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of an ordered accuracy vector with ``accuracy[i] < accuracy[j]``."""
    hi, lo = np.triu_indices(len(accuracy), k=1)
    flipped = accuracy[hi] < accuracy[lo]
    return hi[flipped], lo[flipped]


def _bootstrap_accuracy(
    responses: Responses,
    weights: np.ndarray,
    *,
    n_boot: int,
    tail: float,
    rng: np.random.Generator,
    max_elements: int = CHUNK_ELEMENTS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Weighted observed accuracy and its percentile-bootstrap interval over items.

    Accuracy of subject :math:`j`: :math:`\sum_{i \in O_j} w_i y_{ij} / \sum_{i \in O_j} w_i`
    over its answered items. A replication draws as many items as the set has, uniformly with
    replacement, and counts item :math:`i` as often as it was drawn.
    """
    chosen = np.flatnonzero(weights > 0)
    position = np.full(len(weights), -1)
    position[chosen] = np.arange(len(chosen))
    row = position[responses.item_index]
    keep = row >= 0
    shape = (len(chosen), responses.n_subjects)
    w_obs = weights[responses.item_index[keep]]
    cols = responses.subject_index[keep]
    num = sparse.csc_array(
        (w_obs * responses.normalised_scores()[keep], (row[keep], cols)), shape=shape
    )
    den = sparse.csc_array((w_obs, (row[keep], cols)), shape=shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = num.sum(axis=0) / den.sum(axis=0)
    boot = np.empty((n_boot, responses.n_subjects))
    step = max(1, max_elements // max(len(chosen), responses.n_subjects))
    uniform = np.full(len(chosen), 1.0 / len(chosen))
    for start in range(0, n_boot, step):
        counts = rng.multinomial(len(chosen), uniform, size=min(step, n_boot - start))
        with np.errstate(invalid="ignore", divide="ignore"):
            boot[start : start + len(counts)] = (counts @ num) / (counts @ den)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(boot, [tail, 1 - tail], axis=0)
    return accuracy, lo, hi


# ------------------------------------------------------------------ helpers
def _sorted(result: xr.Dataset) -> xr.Dataset:
    order = _posterior_order(result["mean_rank"].values, result["estimate"].values)
    return result.isel(subject=order)


def _check_top_k(top_k: Iterable[int]) -> list[int]:
    ks = sorted({int(k) for k in top_k})
    if not ks or ks[0] < 1:
        raise ValueError(f"top_k must be positive integers, got {list(top_k)}")
    return ks


def _check_same_labels(posterior: pd.Index, data: pd.Index, name: str) -> None:
    data = pd.Index(data.astype(str))
    if len(posterior) != len(data) or len(posterior.symmetric_difference(data)):
        raise ValueError(
            f"the posterior's {name} labels do not match the fitted responses in "
            f"constant_data: only in the posterior {describe_values(posterior.difference(data))}"
            f"; only in the data {describe_values(data.difference(posterior))}"
        )
