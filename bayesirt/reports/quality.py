"""Plots of the benchmark-quality analyses (:mod:`bayesirt.analysis.quality`).

Each function draws on ``ax`` (a new figure when omitted, or ``axes`` for the one that draws
several panels) and returns what it drew on.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.text import Text
from scipy.optimize import isotonic_regression

__all__ = ["plot_information", "plot_item_parameters", "plot_wright_map"]

_PARAMETER_LABELS = {
    "a": "discrimination a",
    "b": "difficulty b",
    "c": "lower asymptote c",
    "d": "upper asymptote d",
}
#: Most groups drawn side by side; the others are pooled as "other".
MAX_GROUPS = 12
#: Font size (points) of the subjects' names on the Wright map.
WRIGHT_LABEL_SIZE = 7.0
#: Tallest new Wright map figure (inches); taller data sets get a named subset of subjects.
WRIGHT_MAX_HEIGHT = 14.0
#: Distance between the centres of two stacked labels, in font sizes.
_LABEL_PITCH = 1.4


def plot_item_parameters(
    items: pd.DataFrame,
    *,
    by: str | None = None,
    parameters: tuple[str, ...] = ("a", "b"),
    axes: np.ndarray | None = None,
) -> np.ndarray:
    """Distributions of the posterior-mean item parameters, one box per group.

    ``items`` is :func:`~bayesirt.analysis.quality.item_parameters`; ``by`` names its group
    column (all items in one box without it). The :data:`MAX_GROUPS` largest groups are drawn,
    the rest pooled as ``"other"``. Returns the array of Axes, one per parameter.
    """
    missing = [p for p in parameters if p not in items.columns]
    if missing:
        raise ValueError(f"items has no column(s) {missing}; it has {list(items.columns)}")
    if by is not None and by not in items.columns:
        raise ValueError(f"items has no group column {by!r}")
    if by is None:
        labels = pd.Series("all items", index=items.index)
    else:
        labels = items[by].astype(object).fillna("(none)").astype(str)
        keep = labels.value_counts().index[:MAX_GROUPS]
        labels = labels.where(labels.isin(keep), "other")
    groups = list(labels.value_counts().index)
    if axes is None:
        width = max(4.0, 0.6 * len(groups) + 2.0)
        _, axes = plt.subplots(1, len(parameters), figsize=(width * len(parameters), 3.8))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, parameters, strict=True):
        values = [items.loc[labels == g, name].dropna().to_numpy() for g in groups]
        ax.boxplot(values, showfliers=True, flierprops={"markersize": 2})
        ax.set_xticks(np.arange(1, len(groups) + 1), groups, rotation=45, ha="right")
        ax.set_ylabel(_PARAMETER_LABELS[name] + " (posterior mean)")
        if name == "a":
            ax.set_yscale("log")
        ax.set_title(f"{_PARAMETER_LABELS[name]} by {by or 'item'}")
    return axes


def plot_information(info: xr.Dataset, *, n_items: int = 10, ax: Axes | None = None) -> Axes:
    """Test information with its interval, the most informative items' curves, the range
    measured precisely (shaded) and the subjects' abilities (ticks along the bottom).

    ``info`` is :func:`~bayesirt.analysis.quality.information`. The right axis shows the
    standard error :math:`I(\\theta)^{-1/2}` with the ``se_max`` threshold.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 4.0))
    grid = info["theta"].values
    ax.fill_between(
        grid, info["test_information_lo"], info["test_information_hi"], color="C0", alpha=0.25
    )
    ax.plot(grid, info["test_information"], color="C0", label="test information (median)")
    if n_items > 0:
        peak = info["item_information"].max("theta").values
        top = np.argsort(-peak)[:n_items]
        scale = float(info["test_information"].max()) / max(float(peak[top].max()), 1e-12)
        for k, i in enumerate(top):
            ax.plot(
                grid,
                info["item_information"].values[i] * scale,
                color="0.6",
                linewidth=0.7,
                label=f"{n_items} most informative items (rescaled)" if k == 0 else None,
            )
    for low, high in info.attrs["precise_segments"]:
        ax.axvspan(low, high, color="C2", alpha=0.12)
    se_max = info.attrs["se_max"]
    ax.axvspan(np.nan, np.nan, color="C2", alpha=0.12, label=f"SE ≤ {se_max:g}")
    theta = info["subject_theta"].values
    ax.plot(theta, np.zeros_like(theta), "|", color="C3", markersize=14, label="subjects")
    ax.set_xlabel("ability θ")
    ax.set_ylabel("information")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    right.plot(grid, info["se"], color="C1", linewidth=1, linestyle=":")
    right.axhline(se_max, color="C1", linewidth=0.8, linestyle="--")
    right.set_ylim(0, 4 * se_max)
    right.set_ylabel("standard error (dotted)", color="C1")
    inside, total = info.attrs["n_subjects_precise"], info.attrs["n_subjects"]
    ax.set_title(f"Information; {inside} of {total} subjects where SE ≤ {se_max:g}")
    ax.legend(fontsize=7, loc="upper left")
    return ax


def plot_wright_map(wright: pd.DataFrame, *, bins: int = 40, ax: Axes | None = None) -> Axes:
    """Wright map: subjects' abilities (left) and items' difficulties (right) on one scale.

    ``wright`` is :func:`~bayesirt.analysis.quality.wright_map`. Items are drawn as a
    horizontal histogram (stacked by group when there are groups), subjects as points on the
    left with their names in a column beside them. Names that would collide are moved apart
    and joined to their points by thin leader lines; when the axes are too short for every
    name at :data:`WRIGHT_LABEL_SIZE` points, an evenly spaced subset is named (always the
    highest and the lowest subject) and the legend says how many. A new figure grows with the
    number of subjects (up to :data:`WRIGHT_MAX_HEIGHT` inches).
    """
    subjects = wright[wright["kind"] == "subject"].sort_values("location", kind="stable")
    if ax is None:
        height = float(np.clip(2.5 + 0.14 * len(subjects), 6.0, WRIGHT_MAX_HEIGHT))
        _, ax = plt.subplots(figsize=(7.5, height), layout="constrained")
    items = wright[wright["kind"] == "item"]
    locations = wright["location"].to_numpy()
    edges = np.linspace(locations.min() - 0.1, locations.max() + 0.1, bins + 1)
    groups = [g for g in items["group"].unique() if g != ""] or [""]
    counts = [
        np.histogram(items.loc[items["group"] == g, "location"], bins=edges)[0] for g in groups
    ]
    left = np.zeros(bins)
    for group, count in zip(groups, counts, strict=True):
        ax.barh(
            (edges[:-1] + edges[1:]) / 2,
            count,
            height=np.diff(edges),
            left=left,
            alpha=0.7,
            label=group or "items",
        )
        left += count
    width = max(float(left.max()), 1.0)
    point_x, label_x = -0.05 * width, -0.16 * width
    ax.axvline(0, color="0.3", linewidth=0.8)
    pad = 0.03 * (edges[-1] - edges[0])
    ax.set_ylim(edges[0] - pad, edges[-1] + pad)
    ax.set_xlim(-0.6 * width, 1.05 * width)
    ax.set_xticks([t for t in ax.get_xticks() if 0 <= t <= 1.05 * width])
    ax.set_xlabel("number of items")
    ax.set_ylabel("ability θ / difficulty b")
    ax.set_title("Wright map: subjects (left) and item difficulties (right)")

    theta = subjects["location"].to_numpy()
    names = subjects["label"].astype(str).to_numpy()
    chosen, label_y = _spread_labels(theta, ax, WRIGHT_LABEL_SIZE)
    n_named = len(chosen)
    legend = "subjects" if n_named == len(names) else f"subjects ({n_named} of {len(names)} named)"
    ax.scatter(np.full(len(theta), point_x), theta, color="C3", s=14, zorder=3, label=legend)
    labels = [
        ax.annotate(
            names[j],
            xy=(point_x, theta[j]),
            xytext=(label_x, y),
            ha="right",
            va="center",
            fontsize=WRIGHT_LABEL_SIZE,
            arrowprops={
                "arrowstyle": "-",
                "color": "0.55",
                "linewidth": 0.5,
                "shrinkA": 1.5,
                "shrinkB": 2.5,
            },
        )
        for j, y in zip(chosen, label_y, strict=True)
    ]
    _fit_label_column(ax, labels, label_x, 1.05 * width)
    ax.legend(fontsize=7, loc="lower right")
    return ax


def _spread_labels(targets: np.ndarray, ax: Axes, fontsize: float) -> tuple[np.ndarray, np.ndarray]:
    """Which of the sorted ``targets`` get a label, and the labels' heights (data units).

    The labels are one pitch (:data:`_LABEL_PITCH` font sizes, measured on the laid-out axes)
    apart and as close to their targets as that allows: the least-squares placement under
    the spacing constraints, an isotonic regression of ``targets - k · pitch``. When the axes
    cannot hold every label, an evenly spaced subset is kept, both ends included.
    """
    if len(targets) == 0:
        return np.arange(0), np.zeros(0)
    figure = ax.figure
    figure.draw_without_rendering()  # lay the figure out, so the axes have their final size
    bottom, top = ax.get_ylim()
    axes_points = ax.get_window_extent().height * 72.0 / figure.dpi
    pitch = _LABEL_PITCH * fontsize * (top - bottom) / max(axes_points, 1.0)
    room = max(int((top - bottom) // pitch), 1)
    if len(targets) <= room:
        chosen = np.arange(len(targets))
    else:
        chosen = np.unique(np.linspace(0, len(targets) - 1, room).round().astype(int))
    steps = pitch * np.arange(len(chosen))
    spread = isotonic_regression(targets[chosen] - steps).x
    low, high = bottom + pitch / 2, top - pitch / 2 - steps[-1]
    return chosen, np.clip(spread, low, max(low, high)) + steps


def _fit_label_column(ax: Axes, labels: list, right_end: float, x_max: float) -> None:
    """Widen the axes to the left until the widest label (right-aligned at ``right_end``)
    lies inside them."""
    if not labels:
        return
    axes_pixels = ax.get_window_extent().width
    widest = max(Text.get_window_extent(label).width for label in labels)  # no leader line
    share = min(widest / max(axes_pixels, 1.0), 0.6) + 0.02  # of the axes width, with a margin
    # the label spans share · (x_max - x_min) data units to the left of right_end
    x_min = (right_end - share * x_max) / (1.0 - share)
    ax.set_xlim(min(x_min, ax.get_xlim()[0]), x_max)
