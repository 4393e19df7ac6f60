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

__all__ = ["plot_information", "plot_item_parameters", "plot_wright_map"]

_PARAMETER_LABELS = {
    "a": "discrimination a",
    "b": "difficulty b",
    "c": "lower asymptote c",
    "d": "upper asymptote d",
}
#: Most groups drawn side by side; the others are pooled as "other".
MAX_GROUPS = 12


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

    ``wright`` is :func:`~bayesirt.analysis.quality.wright_map`. Subjects are drawn as
    labelled points, items as a horizontal histogram (stacked by group when there are groups).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 6.0))
    subjects = wright[wright["kind"] == "subject"].sort_values("location")
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
    x = -0.08 * width * (1 + np.arange(len(subjects)) % 3)
    ax.scatter(x, subjects["location"], color="C3", s=14, zorder=3, label="subjects")
    if len(subjects) <= 40:
        for xi, (_, row) in zip(x, subjects.iterrows(), strict=True):
            ax.text(
                xi - 0.02 * width,
                row["location"],
                str(row["label"]),
                ha="right",
                va="center",
                fontsize=6,
            )
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlim(-0.6 * width, 1.05 * width)
    ax.set_xticks([t for t in ax.get_xticks() if t >= 0])
    ax.set_xlabel("number of items")
    ax.set_ylabel("ability θ / difficulty b")
    ax.set_title("Wright map: subjects (left) and item difficulties (right)")
    ax.legend(fontsize=7, loc="lower right")
    return ax
