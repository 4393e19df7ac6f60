"""Plots of the audit of subjects (:func:`bayesirt.analysis.audit.audit`).

Each function draws on ``ax`` (a new figure when omitted) and returns the Axes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

__all__ = ["plot_person_fit"]

#: Most subjects :func:`plot_person_fit` names on its axis.
MAX_LABELS = 40


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
