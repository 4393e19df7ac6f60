"""A plain summary of a saved fit: abilities, item parameters and convergence diagnostics.

:func:`summarize_fit` reduces the posterior of a fit to the numbers a reader or another tool
wants first, as JSON-ready Python objects (``bayesirt summary --json`` prints exactly this).
Every posterior summary is taken over all draws of all chains.
"""

from __future__ import annotations

from typing import Any

import arviz as az
import numpy as np

from bayesirt._json import json_number
from bayesirt._validate import check_probability
from bayesirt.inference import fit_info

__all__ = ["DEFAULT_INTERVAL", "NON_DISCRIMINATING_A", "summarize_fit"]

#: Mass of the central credible interval of the abilities, unless asked otherwise.
DEFAULT_INTERVAL = 0.9

#: Item parameters summarised when the posterior has them (``c``, ``d``: 3PL and 4PL only).
ITEM_PARAMETERS = ("a", "intercept", "b", "c", "d", "phi")
#: An item whose posterior median discrimination is below this barely discriminates: its
#: information :math:`a^2 p(1-p)` is at most 1/16 of a unit-discrimination item's, and its
#: difficulty :math:`b = -\alpha/a` has no finite posterior moments when :math:`a` can come
#: close to 0 (posterior means of :math:`|b|` in the hundreds were seen on real data).
NON_DISCRIMINATING_A = 0.25


def summarize_fit(idata: az.InferenceData, *, interval: float = DEFAULT_INTERVAL) -> dict[str, Any]:
    r"""Posterior summaries of the abilities and items of a fit, with its diagnostics.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit made by :func:`bayesirt.inference.fit` (in memory or read by
        :func:`~bayesirt.inference.load_fit`).
    interval : float in (0, 1)
        Mass of the central credible interval of each ability.

    Returns
    -------
    dict
        ``{"subjects": [...], "items": [...], "diagnostics": {...}}`` where

        ``subjects``
            One record per subject, best first (highest posterior mean of :math:`\theta`;
            ties keep the fit's order): ``subject``, ``theta_mean``, ``theta_sd``,
            ``theta_lo`` and ``theta_hi`` (the :math:`(1 \mp \text{interval})/2` quantiles).
        ``items``
            One record per item, in the fit's order: ``item``, ``a_mean``, ``a_sd``,
            ``intercept_mean``, ``intercept_sd`` (where the posterior has the intercept
            :math:`\alpha`), ``b_mean``, ``b_sd``, the robust summary of the difficulty
            ``b_median``, ``b_lo``, ``b_hi`` (central ``interval``), ``discriminating``
            (``False`` when the posterior median of ``a`` is below
            :data:`NON_DISCRIMINATING_A`: its ``b`` summaries are then meaningless, use the
            intercept), and ``c_mean``, ``c_sd``, ``d_mean``, ``d_sd`` only where the model
            has a lower (3PL, 4PL) or upper (4PL) asymptote. For the graded response model,
            ``d_mean`` and ``d_sd`` are lists instead: mirt's intercepts :math:`d_{ik}` of
            :math:`P(y \ge k) = \sigma(a\theta + d_{ik})`, one per category above the
            lowest, in order (``intercept`` is their mean, ``b`` the item's mean threshold
            :math:`-\alpha/a`). For the ordered beta model (continuous scores), ``phi_mean`` and
            ``phi_sd`` are the precision :math:`\phi_i` of the item's interior scores.
        ``diagnostics``
            ``max_rhat``, ``min_ess_bulk`` and ``divergences`` as recorded at fit time;
            ``None`` where a quantity does not apply (all three for ADVI) or was not recorded.

        All numbers are plain Python ``float`` / ``int``; a NaN or infinity becomes ``None``, so the
        result can be written with ``json.dumps(..., allow_nan=False)``.

    Raises
    ------
    FitFileError
        ``idata`` carries no bayesirt fit records.
    ValueError
        ``interval`` is not strictly between 0 and 1.
    """
    check_probability("interval", interval)
    info = fit_info(idata)
    draws = az.extract(idata, group="posterior", combined=True)
    tail = (1 - interval) / 2

    theta = _by_row(draws["theta"], "subject")
    theta_mean = theta.mean(axis=1)
    theta_lo, theta_hi = np.quantile(theta, [tail, 1 - tail], axis=1)
    order = np.argsort(-theta_mean, kind="stable")
    subject_labels = draws["subject"].values
    subjects = [
        {
            "subject": str(subject_labels[j]),
            "theta_mean": json_number(theta_mean[j]),
            "theta_sd": json_number(theta[j].std()),
            "theta_lo": json_number(theta_lo[j]),
            "theta_hi": json_number(theta_hi[j]),
        }
        for j in order
    ]

    present = [name for name in ITEM_PARAMETERS if name in draws]
    values = {name: _by_row(draws[name], "item") for name in present}
    intercepts = (
        np.ascontiguousarray(draws["intercepts"].transpose("item", "sample", "threshold").values)
        if "intercepts" in draws
        else None
    )
    items = []
    for i, label in enumerate(draws["item"].values):
        record: dict[str, Any] = {"item": str(label)}
        for name in present:
            record[f"{name}_mean"] = json_number(values[name][i].mean())
            record[f"{name}_sd"] = json_number(values[name][i].std())
            if name == "b":
                median, lo, hi = np.quantile(values["b"][i], [0.5, tail, 1 - tail])
                record.update(
                    b_median=json_number(median), b_lo=json_number(lo), b_hi=json_number(hi)
                )
        if intercepts is not None:
            own = intercepts[i][:, ~np.isnan(intercepts[i][0])]
            record["d_mean"] = [json_number(v) for v in own.mean(axis=0)]
            record["d_sd"] = [json_number(v) for v in own.std(axis=0)]
        record["discriminating"] = bool(np.median(values["a"][i]) >= NON_DISCRIMINATING_A)
        items.append(record)

    recorded = info["diagnostics"]
    divergences = recorded.get("divergences") if recorded.get("method") == "nuts" else None
    diagnostics = {
        "max_rhat": json_number(recorded.get("max_rhat")),
        "min_ess_bulk": json_number(recorded.get("min_ess_bulk")),
        "divergences": None if divergences is None else int(divergences),
    }
    return {"subjects": subjects, "items": items, "diagnostics": diagnostics}


def _by_row(variable: Any, dim: str) -> np.ndarray:
    """The draws of ``variable`` as a C-ordered (``dim``, sample) array.

    Sums over draws then run in the same order whatever the memory layout of the source, so
    a fit in memory and the same fit read back from disk summarise to identical numbers.
    """
    return np.ascontiguousarray(variable.transpose(dim, "sample").values)
