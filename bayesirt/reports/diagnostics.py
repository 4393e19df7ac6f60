"""Convergence diagnostics of a fit as tables and ArviZ plots.

The numbers come from the diagnostics stored with every fit
(:mod:`bayesirt.inference.diagnostics`, read by :func:`bayesirt.inference.io.fit_diagnostics`)
and from ArviZ (:func:`arviz.rhat`, :func:`arviz.ess`); the plots are ArviZ's trace and rank
plots.
Plot functions return the array of Axes that ArviZ drew.
"""

from __future__ import annotations

import inspect

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from bayesirt._validate import check_positive_int
from bayesirt.inference.diagnostics import (
    BFMI_MIN,
    ESS_MIN,
    RHAT_MAX,
    Diagnostics,
    fit_statistics,
    parameter_names,
)
from bayesirt.inference.fit import ADVI_WINDOW, fit_model
from bayesirt.inference.io import DIAGNOSTICS_ATTR, fit_settings
from bayesirt.inference.io import fit_diagnostics as stored_diagnostics

__all__ = [
    "advi_stopping_rule",
    "convergence_table",
    "fit_diagnostics",
    "hyperparameter_names",
    "plot_hyperparameter_trace",
    "plot_worst_rank",
    "worst_parameters",
]

#: The most ADVI steps of a fit by default (``advi_iterations`` of :func:`fit_model`).
_ADVI_MAX_STEPS = inspect.signature(fit_model).parameters["advi_iterations"].default
#: Font size (points) of the titles and axis labels of the rank plots.
RANK_TITLE_SIZE = 9.0


def fit_diagnostics(idata) -> Diagnostics:
    """The diagnostics stored with a fit.

    Raises
    ------
    ValueError
        If the fit carries none (it was not made by :func:`bayesirt.fit`).
    """
    stored = stored_diagnostics(idata)
    if stored is None:
        raise ValueError(
            f"the fit has no {DIAGNOSTICS_ATTR!r} attribute; fits made by bayesirt.fit carry "
            "their convergence diagnostics"
        )
    return Diagnostics.from_dict(stored)


def advi_stopping_rule(max_steps: int | None = None) -> str:
    """The rule by which :func:`bayesirt.fit` stops ADVI, in words.

    Built from the constants of the code that applies it
    (:class:`bayesirt.inference.fit._LossPlateau`, window
    :data:`~bayesirt.inference.fit.ADVI_WINDOW`), so the report cannot drift from it.

    Parameters
    ----------
    max_steps : int, optional
        The fit's ``advi_iterations`` (default: that of :func:`bayesirt.inference.fit_model`).
    """
    if max_steps is None:
        max_steps = _ADVI_MAX_STEPS
    w = ADVI_WINDOW
    return (
        f"ADVI takes Adam steps on its loss (the negative ELBO, one Monte Carlo draw per step). "
        f"From step {2 * w:,} on, every {w:,} steps, the median loss of the last {w:,} steps "
        f"is compared with the median of the {w:,} steps that end halfway through the run so "
        "far (so that a slow, steady decrease is not mistaken for noise); the optimisation "
        "stops as soon as the decrease is less than twice its standard error "
        "√(π/2)·√(s₁²/W + s₂²/W), where "
        f"W = {w:,} and s₁, s₂ are the robust standard deviations (1.4826 × the median "
        "absolute deviation) of the loss in the two windows, so that a rare huge loss of one "
        "Monte Carlo draw does not pass a falling loss for a settled one. A fit "
        f"that reaches its {max_steps:,} steps (advi_iterations) without stopping is "
        "reported as not converged: its loss was still falling."
    )


def convergence_table(idata) -> pd.DataFrame:
    """The stored diagnostics against their targets, one row per criterion.

    Columns ``value``, ``target``, ``where`` (the worst parameter) and ``ok``. For ADVI, whose
    fits have no R-hat, ESS, divergences or E-BFMI, the one row ``ADVI loss`` says whether
    the loss stopped falling by the rule of :func:`advi_stopping_rule` and after how many
    steps.
    """
    diag = fit_diagnostics(idata)
    n_chains = idata.posterior.sizes["chain"]
    if diag.method == "advi":
        settings = fit_settings(idata) or {}
        settled = bool(settings.get("advi_converged", not diag.problems))
        steps = settings.get("advi_steps")
        max_steps = settings.get("advi_iterations", _ADVI_MAX_STEPS)
        value = "settled" if settled else "still falling"
        if steps is not None:
            value += f" after {steps:,} steps"
        if not np.isfinite(settings.get("advi_final_loss", 0.0)):
            value = "not finite (the optimisation diverged)"
        w = ADVI_WINDOW
        return pd.DataFrame(
            [
                {
                    "criterion": "ADVI loss",
                    "value": value,
                    "target": f"mean loss of the last {w:,} steps less than 2 standard errors "
                    f"below that of the {w:,} before (checked every {w:,} steps, at most "
                    f"{max_steps:,} steps)",
                    "where": "",
                    "ok": settled,
                }
            ]
        ).set_index("criterion")
    rows = [
        ("max R-hat", diag.max_rhat, f"≤ {RHAT_MAX}", diag.worst_rhat, diag.max_rhat <= RHAT_MAX),
        (
            "min bulk ESS",
            diag.min_ess_bulk,
            f"≥ {ESS_MIN}",
            diag.worst_ess_bulk,
            diag.min_ess_bulk >= ESS_MIN,
        ),
        (
            "min tail ESS",
            diag.min_ess_tail,
            f"≥ {ESS_MIN}",
            diag.worst_ess_tail,
            diag.min_ess_tail >= ESS_MIN,
        ),
        ("divergences", diag.divergences, "0", "", diag.divergences == 0),
        (
            "min E-BFMI",
            diag.min_bfmi,
            f"≥ {BFMI_MIN}",
            "",
            bool(np.isnan(diag.min_bfmi) or diag.min_bfmi >= BFMI_MIN),
        ),
        ("chains", n_chains, "≥ 2", "", n_chains >= 2),
    ]
    table = pd.DataFrame(rows, columns=["criterion", "value", "target", "where", "ok"])
    return table.set_index("criterion")


def hyperparameter_names(idata) -> list[str]:
    """Scalar parameters of the posterior (no dims besides chain and draw), ``*_z`` left out."""
    posterior = idata.posterior
    return [
        name
        for name in parameter_names(posterior)
        if set(posterior[name].dims) == {"chain", "draw"}
    ]


def worst_parameters(idata, *, n: int = 4) -> pd.DataFrame:
    """The ``n`` parameter elements with the largest R-hat (ties: smallest bulk ESS).

    Over every parameter the convergence check judged, with the statistics it saw
    (:func:`~bayesirt.inference.diagnostics.fit_statistics`). Columns
    ``variable``, ``selection`` (a dict of coordinates), ``label``, ``r_hat``, ``ess_bulk``,
    ``ess_tail``. With one chain R-hat is undefined and the order is by bulk ESS alone.
    """
    check_positive_int("n", n)
    posterior = idata.posterior
    rows = []
    for name, (flat_r, flat_b, flat_t, _) in fit_statistics(idata).items():
        var = posterior[name]
        dims = [dim for dim in var.dims if dim not in ("chain", "draw")]
        shape = [var.sizes[dim] for dim in dims]
        for k in range(flat_r.size):
            index = np.unravel_index(k, shape) if dims else ()
            selection = {
                dim: _plain(var[dim].values[i]) for dim, i in zip(dims, index, strict=True)
            }
            label = name + (
                "[" + ", ".join(str(v) for v in selection.values()) + "]" if selection else ""
            )
            rows.append((name, selection, label, flat_r[k], flat_b[k], flat_t[k]))
    table = pd.DataFrame(
        rows, columns=["variable", "selection", "label", "r_hat", "ess_bulk", "ess_tail"]
    )
    order = np.lexsort((table["ess_bulk"].fillna(np.inf), -table["r_hat"].fillna(-np.inf)))
    return table.iloc[order[:n]].reset_index(drop=True)


def _plain(value):
    """A coordinate value as a plain Python object (for ``.sel`` and labels)."""
    return value.item() if isinstance(value, np.generic) else value


def plot_hyperparameter_trace(idata, *, max_variables: int = 8) -> np.ndarray:
    """ArviZ trace plot (density and trace per chain) of the scalar hyperparameters.

    Raises
    ------
    ValueError
        If the posterior has no scalar parameter.
    """
    names = hyperparameter_names(idata)[:max_variables]
    if not names:
        raise ValueError("the posterior has no scalar hyperparameter to plot")
    axes = az.plot_trace(idata, var_names=names, compact=True, figsize=(9, 1.6 * len(names)))
    axes[0, 0].figure.tight_layout()
    return axes


def plot_worst_rank(idata, *, n: int = 4) -> np.ndarray:
    """ArviZ rank plots of the ``n`` worst parameter elements (:func:`worst_parameters`).

    Uniform rank histograms in every chain mean the chains agree; a chain whose histogram
    leans to one side explores a different region. Needs at least two chains. The panels
    sit two to a row on a figure with constrained layout; each is titled by its parameter
    element, in :data:`RANK_TITLE_SIZE` points and shortened with "…" where it would be
    wider than its panel, so no two titles meet.
    """
    if idata.posterior.sizes["chain"] < 2:
        raise ValueError("rank plots compare chains: the fit has only one chain")
    worst = worst_parameters(idata, n=n)
    selected = xr.Dataset(
        {
            row.label: idata.posterior[row.variable]
            .sel(row.selection)
            .drop_vars(list(row.selection), errors="ignore")
            for row in worst.itertuples()
        }
    )
    n_cols = min(2, len(worst))
    n_rows = int(np.ceil(len(worst) / n_cols))
    figure, grid = plt.subplots(
        n_rows, n_cols, figsize=(9, 2.4 * n_rows), layout="constrained", squeeze=False
    )
    for extra in grid.ravel()[len(worst) :]:
        extra.remove()
    axes = np.atleast_1d(az.plot_rank(selected, kind="bars", ax=grid.ravel()[: len(worst)]))
    figure.draw_without_rendering()  # lay out the panels before measuring their width
    for ax in axes.ravel():
        ax.xaxis.label.set_fontsize(RANK_TITLE_SIZE)
        ax.yaxis.label.set_fontsize(RANK_TITLE_SIZE)
        ax.tick_params(labelsize=RANK_TITLE_SIZE - 1)
        _fit_title(ax, ax.get_title(), RANK_TITLE_SIZE)
    return axes


def _fit_title(ax, text: str, size: float) -> None:
    """Title ``ax`` with ``text`` in ``size`` points; a title wider than the axes loses
    characters from its middle (replaced by "…"), keeping the name's start and its end."""
    title = ax.set_title(text, fontsize=size)
    room = 0.95 * ax.get_window_extent().width
    keep = len(text)
    while keep > 2 and title.get_window_extent().width > room:
        keep -= 1
        head = (keep + 1) // 2
        title.set_text(text[:head] + "…" + text[len(text) - (keep - head) :])
