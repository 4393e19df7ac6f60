"""Plots of the audit (:func:`bayesirt.analysis.audit.audit`): person fit and DIF.

Each function draws on ``ax`` (a new figure when omitted) and returns the Axes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

__all__ = ["describe_answers", "plot_contamination", "plot_dif", "plot_person_fit"]

#: Most subjects :func:`plot_person_fit` names on its axis.
MAX_LABELS = 40


def describe_answers(rows: list) -> str:
    """The audit's ``(item, answer, P(correct))`` triples (``drivers``, ``suspects``) as text:
    ``"item (right, P=0.04), ..."``."""
    return ", ".join(f"{item} ({'right' if y else 'wrong'}, P={p:.2f})" for item, y, p in rows)


def plot_person_fit(subjects: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """The person-fit p-value of every subject (``audit(...)["subjects"]``), worst fit at the
    top: flagged subjects in red, the others in grey, on a log axis with the flagging
    threshold as a line when the table says what it was (``alpha`` in ``attrs``)."""
    table = subjects.sort_values("p_value", kind="stable")
    n = len(table)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, max(2.5, 0.16 * min(n, MAX_LABELS) + 1.0)))
    rows = np.arange(n)[::-1]
    p = np.maximum(table["p_value"].to_numpy(dtype=float), 1e-3)
    colours = np.where(table["flagged"].to_numpy(dtype=bool), "C3", "0.5")
    ax.scatter(p, rows, c=colours, s=14, zorder=3)
    ax.set_xscale("log")
    ax.set_xlim(8e-4, 1.0)
    ax.set_xlabel("person-fit p-value (posterior predictive; 0.001 and below at the edge)")
    if "alpha" in subjects.attrs:
        ax.axvline(subjects.attrs["alpha"], color="C3", linestyle=":", linewidth=1)
    shown = rows[:MAX_LABELS]
    ax.set_yticks(shown)
    ax.set_yticklabels(table["subject"].astype(str).to_numpy()[:MAX_LABELS], fontsize=7)
    ax.set_ylim(-1, n)
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_contamination(
    groups: pd.DataFrame, *, alpha: float = 0.05, ax: Axes | None = None
) -> Axes:
    """The screen per group of items (``audit(..., item_groups=...)["groups"]``): one column
    per group, one point per subject at its ``p_better`` (jittered sideways), flagged pairs in
    red and named (the ten highest), the flagging threshold ``1 - alpha`` as a line."""
    labels = pd.Index(pd.unique(groups["group"].astype(str)))
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(labels) + 2.0), 3.5))
    column = labels.get_indexer(groups["group"].astype(str))
    jitter = np.random.default_rng(0).uniform(-0.25, 0.25, size=len(groups))
    flagged = groups["flagged"].to_numpy(dtype=bool)
    x = column + jitter
    y = groups["p_better"].to_numpy(dtype=float)
    ax.scatter(x[~flagged], y[~flagged], s=8, color="0.5", alpha=0.6)
    ax.scatter(x[flagged], y[flagged], s=14, color="C3", zorder=3)
    top = np.flatnonzero(flagged)[np.argsort(-y[flagged], kind="stable")][:10]
    for k in top:
        ax.annotate(
            str(groups["subject"].iloc[k]),
            (x[k], y[k]),
            fontsize=6,
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
        )
    ax.axhline(1 - alpha, color="C3", linestyle=":", linewidth=1)
    ax.set_xticks(np.arange(len(labels)))
    ax.set_xticklabels(labels, fontsize=7, rotation=30 if len(labels) > 6 else 0)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("p_better (answers the group better\nthan its ability predicts)")
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_dif(items: pd.DataFrame, *, top: int = 40, ax: Axes | None = None) -> Axes:
    """The ``top`` largest DIF effects (``audit(...)["items"]`` of a fit of the DIF model)
    with their intervals, flagged ones in red: logits at equal ability, negative where the
    item is harder for the focal group."""
    table = items.reindex(items["dif"].abs().sort_values(ascending=False).index).head(top)
    n = len(table)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, max(2.5, 0.16 * n + 1.0)))
    rows = np.arange(n)[::-1]
    flagged = table["flagged"].to_numpy(dtype=bool)
    for colour, keep in (("C3", flagged), ("0.5", ~flagged)):
        ax.errorbar(
            table["dif"].to_numpy()[keep],
            rows[keep],
            xerr=[
                (table["dif"] - table["dif_lo"]).to_numpy()[keep],
                (table["dif_hi"] - table["dif"]).to_numpy()[keep],
            ],
            fmt="o",
            color=colour,
            markersize=3,
            linewidth=1,
        )
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    labels = (table["item"].astype(str) + " (" + table["group"].astype(str) + ")").to_numpy()
    ax.set_yticks(rows)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("DIF effect (logits at equal ability; < 0: harder for the group)")
    ax.grid(axis="x", alpha=0.3)
    return ax
