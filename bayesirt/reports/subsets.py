"""Plot of a tiny-benchmark evaluation (the output of :func:`bayesirt.analysis.evaluate_subsets`).

:func:`plot_subset_errors` draws a metric against the budget: one colour per selection method,
one line style per estimator, the mean over seeds with its spread as error bars.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import NullFormatter

from bayesirt.tinybench import SubsetEvaluation

__all__ = ["plot_subset_errors"]

_METRICS = {
    "mae": "mean absolute error of the full accuracy",
    "kendall_tau": "Kendall τ with the full-benchmark ranking",
    "coverage": "coverage of the credible intervals",
    "interval_width": "mean width of the credible intervals",
    "interval_width_model": "mean width of the model's own intervals (no discrepancy)",
    "theta_sd": "mean posterior sd of θ",
}
_STYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (1, 3)))


def plot_subset_errors(
    evaluation: SubsetEvaluation,
    *,
    metric: str = "mae",
    methods: Sequence[str] | None = None,
    estimators: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A metric of the estimated full scores against the number of items (log scale).

    Parameters
    ----------
    evaluation : SubsetEvaluation
    metric : str
        One of ``"mae"``, ``"kendall_tau"``, ``"coverage"``, ``"interval_width"``,
        ``"interval_width_model"``, ``"theta_sd"``: a column of ``evaluation.table``.
    methods, estimators : sequence of str, optional
        Which lines to draw (default: all in the table).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line per (method, estimator) with values; error bars are the sd over seeds.
    """
    if metric not in _METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(_METRICS)}")
    table = evaluation.table
    methods = list(dict.fromkeys(table["method"])) if methods is None else list(methods)
    estimators = list(dict.fromkeys(table["estimator"])) if estimators is None else list(estimators)
    for name, wanted, present in (
        ("method", methods, set(table["method"])),
        ("estimator", estimators, set(table["estimator"])),
    ):
        missing = [w for w in wanted if w not in present]
        if missing:
            raise ValueError(f"{name}(s) {missing} not in the evaluation")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for m, method in enumerate(methods):
        for e, estimator in enumerate(estimators):
            rows = table[(table["method"] == method) & (table["estimator"] == estimator)]
            stats = rows.groupby("budget")[metric].agg(["mean", "std"]).dropna(subset=["mean"])
            if stats.empty:
                continue
            ax.errorbar(
                stats.index.to_numpy(dtype=float),
                stats["mean"].to_numpy(dtype=float),
                yerr=stats["std"].fillna(0.0).to_numpy(dtype=float),
                color=colours[m % len(colours)],
                linestyle=_STYLES[e % len(_STYLES)],
                marker="o",
                markersize=3,
                capsize=2,
                label=f"{method} / {estimator}",
            )
    ax.set_xscale("log")
    budgets = sorted(table["budget"].unique())
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("items in the subset (budget)")
    ax.set_ylabel(_METRICS[metric])
    ax.set_title(f"Tiny benchmarks on {evaluation.settings.get('n_test', '?')} held-out subjects")
    ax.legend(fontsize=7, ncol=2)
    return ax
