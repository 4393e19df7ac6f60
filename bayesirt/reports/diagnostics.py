"""Convergence diagnostics of a fit as tables and ArviZ plots.

The numbers come from the diagnostics stored with every fit
(:mod:`bayesirt.inference.diagnostics`, ``idata.attrs["bayesirt_diagnostics"]``) and from
ArviZ (:func:`arviz.rhat`, :func:`arviz.ess`); the plots are ArviZ's trace and rank plots.
Plot functions return the array of Axes that ArviZ drew.
"""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayesirt.inference.diagnostics import (
    BFMI_MIN,
    ESS_MIN,
    RHAT_MAX,
    Diagnostics,
    parameter_names,
    parameter_statistics,
)

__all__ = [
    "convergence_table",
    "fit_diagnostics",
    "hyperparameter_names",
    "plot_hyperparameter_trace",
    "plot_worst_rank",
    "worst_parameters",
]


def fit_diagnostics(idata) -> Diagnostics:
    """The diagnostics stored with a fit.

    Raises
    ------
    ValueError
        If the fit carries none (it was not made by :func:`bayesirt.fit`).
    """
    stored = getattr(idata, "attrs", {}).get("bayesirt_diagnostics")
    if stored is None:
        raise ValueError(
            "the fit has no 'bayesirt_diagnostics' attribute; fits made by bayesirt.fit carry "
            "their convergence diagnostics"
        )
    return Diagnostics.from_dict(json.loads(stored))


def convergence_table(idata) -> pd.DataFrame:
    """The stored diagnostics against their targets, one row per criterion.

    Columns ``value``, ``target``, ``where`` (the worst parameter) and ``ok``. For ADVI the
    MCMC criteria do not apply (value NaN, ``ok`` missing) and the row ``ADVI loss`` says
    whether the optimisation settled.
    """
    diag = fit_diagnostics(idata)
    n_chains = idata.posterior.sizes["chain"]
    if diag.method == "advi":
        settled = not diag.problems
        return pd.DataFrame(
            [
                {
                    "criterion": "ADVI loss",
                    "value": "settled" if settled else "still changing",
                    "target": "change ≤ 0.1% over the last 10% of steps",
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

    Over every parameter of :func:`~bayesirt.inference.diagnostics.parameter_names`. Columns
    ``variable``, ``selection`` (a dict of coordinates), ``label``, ``r_hat``, ``ess_bulk``,
    ``ess_tail``. With one chain R-hat is undefined and the order is by bulk ESS alone.
    """
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    posterior = idata.posterior
    rows = []
    for name, (flat_r, flat_b, flat_t, _) in parameter_statistics(posterior).items():
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
    leans to one side explores a different region. Needs at least two chains.
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
    axes = az.plot_rank(selected, kind="bars", figsize=(9, 2.2 * int(np.ceil(len(worst) / 2))))
    axes = np.atleast_1d(axes)
    axes.ravel()[0].figure.tight_layout()
    return axes
