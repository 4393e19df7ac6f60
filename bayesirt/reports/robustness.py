"""Plots of the robustness analysis (:mod:`bayesirt.analysis.robustness`).

Each function draws on ``ax`` (a new figure when omitted) and returns the Axes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.ticker import MaxNLocator

from bayesirt._validate import check_positive_int

__all__ = ["plot_cluster_q3", "plot_dependence_test", "plot_rank_bump"]

_BASIS_VARS = {"posterior": "mean_rank", "accuracy": "accuracy_rank"}


def plot_rank_bump(
    scenarios: xr.Dataset,
    *,
    basis: str = "posterior",
    top: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Bump chart: each subject's rank (y, best at the top) across the scenarios (x).

    One line per subject, labelled at both ends, through its mean posterior rank (``basis=
    "posterior"``) or its observed-accuracy rank (``basis="accuracy"``) under each scenario of
    :func:`~bayesirt.analysis.robustness.scenario_rankings`. ``top`` keeps the subjects in the
    first ``top`` places of the reference scenario.
    """
    if basis not in _BASIS_VARS:
        raise ValueError(f"basis must be one of {tuple(_BASIS_VARS)}, got {basis!r}")
    if top is not None:
        check_positive_int("top", top, noun="number of subjects", show=str)
    shown = scenarios.isel(subject=slice(None, top))
    ranks = shown[_BASIS_VARS[basis]].values
    names = [str(s) for s in shown["scenario"].values]
    subjects = [str(s) for s in shown["subject"].values]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * len(names) + 3.0, 1.0 + 0.3 * len(subjects)))
    x = np.arange(len(names))
    colours = plt.get_cmap("tab20")(np.arange(len(subjects)) % 20)
    for j, subject in enumerate(subjects):
        ax.plot(x, ranks[:, j], marker="o", color=colours[j], linewidth=1.5, label=subject)
        ax.text(x[0] - 0.08, ranks[0, j], subject, ha="right", va="center", fontsize=8)
        ax.text(x[-1] + 0.08, ranks[-1, j], subject, ha="left", va="center", fontsize=8)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_xlim(-1.2, len(names) - 1 + 1.2)
    ax.invert_yaxis()
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    what = "mean posterior rank" if basis == "posterior" else "observed-accuracy rank"
    ax.set_ylabel(what)
    ax.set_title(f"Rank across scenarios (reference: {scenarios.attrs['reference']})")
    return ax


def plot_cluster_q3(
    dependence: xr.Dataset, *, annotate: bool = False, ax: Axes | None = None
) -> Axes:
    """Heat map of the posterior mean Q3 between clusters (diagonal: within a cluster).

    Reads ``cluster_q3`` of :func:`~bayesirt.analysis.robustness.local_dependence`; the
    colour scale is centred at 0. ``annotate`` writes each value in its cell.

    Raises
    ------
    ValueError
        If the result has no cluster × cluster matrix (no partition, or too many clusters).
    """
    if "cluster_q3" not in dependence:
        raise ValueError(
            "no cluster_q3 in the result: compute local_dependence with clusters= (at most "
            "MAX_CLUSTER_MATRIX clusters)"
        )
    q = dependence["cluster_q3"].values
    labels = [str(c) for c in dependence["cluster"].values]
    if ax is None:
        size = 2.5 + 0.4 * len(labels)
        _, ax = plt.subplots(figsize=(size + 1.0, size))
    finite = np.abs(q[np.isfinite(q)])
    limit = max(float(finite.max()) if finite.size else 0.0, 1e-6)
    image = ax.imshow(
        q,
        cmap="RdBu_r",
        norm=TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit),
        interpolation="nearest",
    )
    ax.set_xticks(np.arange(len(labels)), labels, rotation=90)
    ax.set_yticks(np.arange(len(labels)), labels)
    ax.figure.colorbar(image, ax=ax, label="mean Q3 (posterior mean)")
    if annotate:
        for i, j in zip(*np.nonzero(np.isfinite(q)), strict=True):
            ax.text(j, i, f"{q[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title(f"Residual correlation by {dependence.attrs['partition'] or 'cluster'}")
    return ax


def plot_dependence_test(test: xr.Dataset, *, ax: Axes | None = None) -> Axes:
    """Posterior predictive check: the statistic of the observed against replicated data.

    One point per posterior draw (x: replicated, y: observed) with the identity line; points
    above the line are draws where the observed data show more dependence than the model's
    replications. The title gives the p-values of
    :func:`~bayesirt.analysis.robustness.dependence_test`.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 5.0))
    t_obs, t_rep = test["t_obs"].values, test["t_rep"].values
    ax.scatter(t_rep, t_obs, s=12, alpha=0.7)
    both = np.concatenate([t_obs, t_rep])
    both = both[np.isfinite(both)]
    low, high = (both.min(), both.max()) if both.size else (0.0, 1.0)
    ax.plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1)
    statistic = test.attrs["statistic"]
    ax.set_xlabel(f"T(replicated), {statistic}")
    ax.set_ylabel(f"T(observed), {statistic}")
    title = f"PPC p = {test.attrs['ppc_p']:.3f}"
    if np.isfinite(test.attrs["permutation_p"]):
        title += f"; permutation p = {test.attrs['permutation_p']:.3f}"
    ax.set_title(title)
    return ax
