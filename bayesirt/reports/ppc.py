"""Plots of the posterior predictive checks (:func:`bayesirt.analysis.ppc.ppc`).

Each function draws on ``ax`` (a new figure when omitted) and returns the Axes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes

from bayesirt.analysis.ppc import GLOBAL_DISCREPANCIES, STATISTICS

__all__ = ["plot_ppc_discrepancy", "plot_ppc_histogram", "plot_ppc_units"]

#: Most units :func:`plot_ppc_units` draws with their intervals.
MAX_INTERVALS = 200
_LABELS = {
    "total_score": "number correct of a subject",
    "item_accuracy": "accuracy of an item",
    "item_fit": "item-rest correlation",
}


def _check(result: xr.Dataset, statistic: str, allowed: tuple[str, ...]) -> None:
    if statistic not in allowed:
        raise ValueError(f"statistic must be one of {allowed}, got {statistic!r}")
    if statistic not in result.attrs["statistics"]:
        raise ValueError(
            f"statistic {statistic!r} is not in this result; it has "
            f"{', '.join(result.attrs['statistics'])}"
        )


def plot_ppc_histogram(
    result: xr.Dataset, *, statistic: str = "total_score", ax: Axes | None = None
) -> Axes:
    """Histogram of the observed per-unit values against the replicated histograms.

    Bars: the observed counts per bin (subjects' proportions correct for ``"total_score"``,
    item accuracies for ``"item_accuracy"``); line and band: the median and central
    ``interval`` of the counts in the replications.
    """
    _check(result, statistic, ("total_score", "item_accuracy"))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 3.5))
    edges = np.asarray(result.attrs["bin_edges"])
    centres, width = result["bin"].values, np.diff(edges)
    observed = result[f"{statistic}_hist_obs"].values
    replicated = result[f"{statistic}_hist_rep"].values
    tail = (1.0 - result.attrs["interval"]) / 2
    lo, mid, hi = np.quantile(replicated, [tail, 0.5, 1 - tail], axis=0)
    ax.bar(centres, observed, width=width, color="0.75", edgecolor="0.4", label="observed")
    ax.fill_between(centres, lo, hi, step="mid", color="C0", alpha=0.3)
    ax.step(centres, mid, where="mid", color="C0", label="replicated (median, interval)")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(
        "proportion correct of a subject" if statistic == "total_score" else _LABELS[statistic]
    )
    ax.set_ylabel(f"number of {STATISTICS[statistic]}s")
    ppp = result.attrs[f"{statistic}_ppp"]
    ax.set_title(f"{statistic.replace('_', ' ')}: ppp of the sd = {ppp:.3f}")
    ax.legend(fontsize=8)
    return ax


def plot_ppc_units(
    result: xr.Dataset,
    *,
    statistic: str = "item_fit",
    alpha: float = 0.05,
    ax: Axes | None = None,
) -> Axes:
    """Observed per-unit value (x) against its replications (y: mean and interval).

    Units whose two-sided p-value :math:`2\\min(p, 1 - p)` is below ``alpha`` are drawn in red
    (with their intervals up to :data:`MAX_INTERVALS` units, points only above);
    points far below the diagonal are units whose observed value is larger than the model
    reproduces, far above smaller (for ``"item_fit"``: responses that go along with ability
    less than the model expects, or against it).
    """
    _check(result, statistic, ("total_score", "item_accuracy", "item_fit"))
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 5.0))
    observed = result[f"{statistic}_obs"].values
    mean = result[f"{statistic}_rep_mean"].values
    lo, hi = result[f"{statistic}_rep_lo"].values, result[f"{statistic}_rep_hi"].values
    p = result[f"{statistic}_p"].values
    extreme = 2 * np.minimum(p, 1 - p) < alpha
    ok = np.isfinite(observed) & np.isfinite(mean)
    intervals = ok.sum() <= MAX_INTERVALS
    for mask, colour, label in (
        (ok & ~extreme, "C0", "consistent"),
        (ok & extreme, "C3", f"two-sided p < {alpha:g}"),
    ):
        ax.errorbar(
            observed[mask],
            mean[mask],
            yerr=[mean[mask] - lo[mask], hi[mask] - mean[mask]] if intervals else None,
            fmt="o",
            markersize=3,
            color=colour,
            ecolor=colour,
            alpha=0.6,
            elinewidth=0.8,
            label=f"{label} ({int(mask.sum())})",
        )
    both = np.concatenate([observed[ok], lo[ok], hi[ok]])
    if both.size:
        low, high = float(both.min()), float(both.max())
        ax.plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1)
    ax.set_xlabel(f"observed {_LABELS[statistic]}")
    ax.set_ylabel(f"replicated (mean, {result.attrs['interval']:.0%} interval)")
    ax.set_title(f"{statistic.replace('_', ' ')} per {STATISTICS[statistic]}")
    ax.legend(fontsize=8)
    return ax


def plot_ppc_discrepancy(
    result: xr.Dataset, *, statistic: str = "residual_correlation", ax: Axes | None = None
) -> Axes:
    """The global discrepancy: replications against the data, with the p-value in the title.

    For a statistic of the responses alone (the observed value is the same in every draw) a
    histogram of the replicated values with the observed one as a vertical line; for Q3,
    whose residuals depend on the draw, one point per draw (x: replicated, y: observed) with
    the identity line, points above it being draws where the data show more than the model.
    """
    _check(result, statistic, tuple(STATISTICS))
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 4.0))
    t_obs = result[f"{statistic}_t_obs"].values
    t_rep = result[f"{statistic}_t_rep"].values
    what = GLOBAL_DISCREPANCIES[statistic]
    finite = np.isfinite(t_obs) & np.isfinite(t_rep)
    if np.ptp(t_obs[finite]) if finite.any() else 0.0:
        ax.scatter(t_rep[finite], t_obs[finite], s=12, alpha=0.7)
        both = np.concatenate([t_obs[finite], t_rep[finite]])
        ax.plot([both.min(), both.max()], [both.min(), both.max()], "--", color="0.4", lw=1)
        ax.set_xlabel(f"replicated: {what}")
        ax.set_ylabel(f"observed: {what}")
    else:
        ax.hist(t_rep[finite], bins=30, color="C0", alpha=0.6, label="replicated")
        if finite.any():
            ax.axvline(t_obs[finite][0], color="C3", linewidth=2, label="observed")
        ax.set_xlabel(what)
        ax.set_ylabel("draws")
        ax.legend(fontsize=8)
    ax.set_title(f"{statistic.replace('_', ' ')}: ppp = {result.attrs[f'{statistic}_ppp']:.3f}")
    return ax
