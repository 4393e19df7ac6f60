"""Plots of a posterior ranking (the output of :func:`bayesirt.analysis.rank`).

Each function draws on ``ax`` (a new figure when omitted) and returns the Axes. Subjects are
shown in posterior order, best at the top; ``top`` keeps only the first subjects. Tiers are
coloured by :func:`tier_colours`, in which neighbouring tiers never share a colour.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba_array

from bayesirt._validate import check_positive_int
from bayesirt.analysis.ranking import rank_table

__all__ = [
    "TIER_PALETTE",
    "plot_p_beats",
    "plot_rank_caterpillar",
    "plot_rank_probabilities",
    "tier_colours",
]

_QUANTITY = {"theta": "ability θ", "score": "expected score"}
#: Colours of the tiers: odd tiers take the blues, even tiers the oranges, and each family
#: steps through its shades, so neighbouring tiers always differ (in hue) and a colour comes
#: back only every ``2 × 3`` tiers.
TIER_PALETTE = (
    ("#08519c", "#4292c6", "#0b2f5e"),  # blues: odd tiers 1, 3, 5
    ("#e6550d", "#fd8d3c", "#8c2d04"),  # oranges: even tiers 2, 4, 6
)


def tier_colours(tiers) -> np.ndarray:
    """RGBA colour of each tier number (1 = top) in :data:`TIER_PALETTE`.

    Tier ``t`` takes family ``(t - 1) % 2`` and, within it, shade ``((t - 1) // 2) % 3``:
    tiers ``t`` and ``t + 1`` are never the same colour whatever the number of tiers, and
    tiers ``t`` and ``t + 2`` differ in shade.

    Parameters
    ----------
    tiers : array-like of int
        Tier numbers, 1 or more.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(tiers), 4)``.
    """
    tiers = np.asarray(tiers, dtype=int).ravel()
    if tiers.size and tiers.min() < 1:
        raise ValueError(f"tier numbers start at 1, got {tiers.min()}")
    index = tiers - 1
    families = [to_rgba_array(family) for family in TIER_PALETTE]
    colours = np.empty((tiers.size, 4))
    for f, family in enumerate(families):
        chosen = index % len(families) == f
        colours[chosen] = family[(index[chosen] // len(families)) % len(family)]
    return colours


def plot_rank_caterpillar(
    result: xr.Dataset, *, top: int | None = None, ax: Axes | None = None
) -> Axes:
    """Posterior mean and credible interval of θ (or the score) per subject, ranked.

    One horizontal interval and one point per subject, coloured by tier; the observed-accuracy
    rank is written at the right edge (``acc #k``) so the leaderboard's order can be read
    against the posterior one.
    """
    shown, ax = _prepare(result, top, ax)
    y = np.arange(shown.sizes["subject"])
    ax.hlines(y, shown["estimate_lo"], shown["estimate_hi"], color="0.5", linewidth=1.5)
    ax.scatter(shown["estimate"], y, color=tier_colours(shown["tier"].values), zorder=3, s=20)
    for row, acc_rank in zip(y, shown["accuracy_rank"].values, strict=True):
        label = "acc –" if np.isnan(acc_rank) else f"acc #{acc_rank:g}"
        ax.text(1.01, row, label, transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    _subject_axis(ax, shown)
    interval = result.attrs["interval"]
    ax.set_xlabel(f"{_QUANTITY[result.attrs['by']]} (mean, {interval:.0%} interval)")
    ax.set_title("Posterior ranking")
    return ax


def plot_rank_probabilities(
    result: xr.Dataset, *, top: int | None = None, ax: Axes | None = None
) -> Axes:
    """Heat map of P(rank = k): one row per subject, one column per rank."""
    shown, ax = _prepare(result, top, ax)
    image = ax.imshow(
        shown["p_rank"].values,
        aspect="auto",
        cmap="viridis",
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
    )
    ranks = shown["rank"].values
    step = max(1, len(ranks) // 20)
    ax.set_xticks(np.arange(0, len(ranks), step), [str(k) for k in ranks[::step]])
    ax.set_xlabel("rank")
    _subject_axis(ax, shown)
    ax.figure.colorbar(image, ax=ax, label="P(rank = k)")
    ax.set_title("Rank probabilities")
    return ax


def plot_p_beats(
    result: xr.Dataset,
    *,
    top: int | None = None,
    annotate: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Heat map of P(row subject beats column subject), both ordered by posterior rank.

    ``annotate`` writes each probability in its cell (for small tables).
    """
    shown, ax = _prepare(result, top, ax)
    labels = shown["subject"].values
    p = shown["p_beats"].sel(opponent=labels).values
    image = ax.imshow(p, cmap="RdBu", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks(np.arange(len(labels)), [str(s) for s in labels], rotation=90)
    ax.set_xlabel("opponent")
    _subject_axis(ax, shown)
    ax.figure.colorbar(image, ax=ax, label="P(row beats column)")
    if annotate:
        for i, j in zip(*np.nonzero(~np.isnan(p)), strict=True):
            ax.text(j, i, f"{p[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title(f"P(A beats B); tiers at level {result.attrs['level']:g}")
    return ax


def _prepare(result: xr.Dataset, top: int | None, ax: Axes | None) -> tuple[xr.Dataset, Axes]:
    """The result in posterior order (first ``top`` subjects) and an Axes to draw on."""
    if top is not None:
        check_positive_int("top", top, noun="number of subjects", show=str)
    order = rank_table(result).index[:top]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 1.5 + 0.25 * len(order)))
    return result.sel(subject=order), ax


def _subject_axis(ax: Axes, shown: xr.Dataset) -> None:
    labels = [f"{k}. {s}" for k, s in enumerate(shown["subject"].values, start=1)]
    ax.set_yticks(np.arange(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_ylabel("subject (posterior order)")
