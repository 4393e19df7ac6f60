r"""Model comparison by approximate leave-one-out cross-validation (PSIS-LOO).

For fits of several models to the same responses, :func:`compare` estimates each model's
expected log predictive density for held-out data,

.. math::

    \widehat{\text{elpd}}_{\text{loo}} = \sum_{u} \log p(y_u \mid y_{-u}),

by Pareto-smoothed importance sampling over the posterior draws (Vehtari, Gelman & Gabry
2017; the smoothing is :func:`arviz.psislw`, the comparison :func:`arviz.compare`). Higher is
better; the difference between two models comes with its standard error over the units
:math:`u`.

Memory: each unit's importance weights depend on its own log-likelihood column alone, so the
units are processed a block at a time (:data:`LOO_BLOCK_VALUES` values per block) and the
result is the same as in one pass. In one pass, ArviZ's :func:`arviz.loo` holds several copies
of the whole draws × responses matrix: for two default 2PL fits of ChemBench (7,340 draws ×
59,840 responses, 3.5 GB per copy) the report's comparison was killed for want of memory on a
24 GB machine.

What is left out: the unit
--------------------------
``unit="response"``: :math:`u` is one observed (subject, item) answer, :math:`\log p(y_u
\mid y_{-u})` uses the fit's pointwise log-likelihood as stored (``log_likelihood`` group,
``y`` over ``obs``). It asks *which model better predicts a missing answer of a known
subject on a known question* — the right unit to judge the response model itself (the shape of
the curve, the local dependence between answers of the same subject), and for imputing
missing cells. Under local dependence it favours the testlet and bifactor models, because the
subject's other answers in the same cluster inform its cluster effect.

``unit="item"``: :math:`u` is a question, with all its answers: :math:`\log p(y_{\cdot i} \mid
y_{-i}) `, from the per-item sum :math:`\sum_j \log p(y_{ji} \mid \psi)` in each draw. It asks
*which model better predicts the answers to a new question from the same benchmark* — the
right unit when the questions are treated as a sample from a population of questions (how
a benchmark is built and how it generalises), and the one the independence assumption of the
unidimensional models matters for. Each item's own parameters are informed only by its
column, so importance sampling is harder here and high Pareto :math:`k` are more common.

A subject-level unit (predicting a new LLM's answers) is not offered: a subject's ability is
informed by its own answers alone, so PSIS cannot approximate leaving it out; refit instead.

Pareto :math:`k`
----------------
Every unit gets a Pareto shape :math:`\hat k`; above ArviZ's threshold :math:`\min(1 -
1/\log_{10} S, 0.7)` for :math:`S` draws (0.7 from :math:`S \approx 2{,}200` on) the
estimate for that unit is unreliable. :func:`compare` counts them per model, names the worst
ones, and warns (:class:`ParetoKWarning`); many of them call for exact cross-validation
(K-fold refits) rather than PSIS.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy import sparse
from scipy.special import logsumexp

from bayesirt.analysis.posterior import fitted_responses
from bayesirt.data.validation import describe_values
from bayesirt.inference.fit import pointwise_log_likelihood

__all__ = ["LOO_UNITS", "ParetoKWarning", "compare"]

#: Units :func:`compare` can leave out.
LOO_UNITS = ("response", "item")
#: Log-likelihood values (draws × units) smoothed at a time: 2^24, 128 MB in float64.
LOO_BLOCK_VALUES = 2**24


class ParetoKWarning(UserWarning):
    """Some PSIS-LOO units have a Pareto shape above the reliability threshold."""


def compare(
    fits: Mapping[str, az.InferenceData],
    *,
    unit: str = "response",
    scale: str = "log",
    method: str = "stacking",
    n_named: int = 5,
) -> pd.DataFrame:
    r"""Compare models fitted to the same responses by PSIS-LOO.

    Parameters
    ----------
    fits : mapping of name to InferenceData
        At least two fits of the same responses (same data fingerprint). Each uses its
        stored pointwise log-likelihood (``fit(..., log_likelihood=True)``); a fit without
        one gets it computed from its posterior by
        :func:`bayesirt.inference.pointwise_log_likelihood`.
    unit : {"response", "item"}
        What one leave-one-out step leaves out; see the module docstring for which question
        each answers.
    scale : {"log", "negative_log", "deviance"}
        Scale of the reported elpd (as :func:`arviz.compare`).
    method : {"stacking", "BB-pseudo-BMA", "pseudo-BMA"}
        How :func:`arviz.compare` computes the model weights.
    n_named : int
        How many of the worst units (largest :math:`\hat k`) each table row and warning names.

    Returns
    -------
    pandas.DataFrame
        One row per model, best first, with the columns of :func:`arviz.compare` (``rank``,
        ``elpd_loo``, ``p_loo``, ``elpd_diff``, ``weight``, ``se``, ``dse``, ``warning``,
        ``scale``) and ``unit``, ``n_units``, ``k_threshold``, ``n_bad_k`` (units with
        :math:`\hat k` above it), ``max_k`` and ``bad_k_units`` (the worst of them, as
        labels: item labels, or ``subject|item`` for responses). The per-unit results are
        in ``attrs["loo"]`` (name → :class:`arviz.ELPDData`).

    Warns
    -----
    ParetoKWarning
        For each model with units above the threshold, naming them.

    Raises
    ------
    ValueError
        Fewer than two fits, an unknown ``unit``, or fits of different responses.
    """
    if unit not in LOO_UNITS:
        raise ValueError(f"unknown unit {unit!r}; choose one of {', '.join(LOO_UNITS)}")
    if not isinstance(fits, Mapping) or len(fits) < 2:
        raise ValueError("compare needs a mapping of at least two named fits")
    if n_named < 0:
        raise ValueError(f"n_named must be non-negative, got {n_named}")
    fits = {str(name): idata for name, idata in fits.items()}
    names = list(fits)
    responses = {name: fitted_responses(idata) for name, idata in fits.items()}
    fingerprints = {name: r.fingerprint() for name, r in responses.items()}
    reference = names[0]
    other_data = [n for n in names if fingerprints[n] != fingerprints[reference]]
    if other_data:
        raise ValueError(
            f"fits {describe_values(other_data)} were made on other responses than "
            f"{reference!r}; LOO compares models of the same data"
        )
    data = responses[reference]

    loos: dict[str, az.ELPDData] = {}
    rows = []
    for name, idata in fits.items():
        loglik, labels = _unit_log_likelihood(idata, data, unit)
        loo = _loo(idata, loglik)
        loos[name] = loo
        k = np.asarray(loo.pareto_k)
        bad = np.flatnonzero(k > loo.good_k)
        worst = bad[np.argsort(-k[bad])][:n_named]
        rows.append(
            {
                "unit": unit,
                "n_units": len(k),
                "k_threshold": float(loo.good_k),
                "n_bad_k": len(bad),
                "max_k": float(np.max(k)),
                "bad_k_units": ", ".join(labels[worst]),
            }
        )
        if len(bad):
            warnings.warn(
                f"{name}: {len(bad)} of {len(k)} {unit}s have Pareto k > {loo.good_k:.2f} "
                f"(worst: {', '.join(f'{labels[i]} ({k[i]:.2f})' for i in worst)}); their "
                "PSIS-LOO terms are unreliable, and so is the comparison if they are many "
                "(refit with K-fold cross-validation)",
                ParetoKWarning,
                stacklevel=2,
            )
    table = az.compare(loos, ic="loo", scale=scale, method=method)
    extra = pd.DataFrame(rows, index=names)
    table = table.join(extra)
    table.attrs["loo"] = loos
    return table


def _unit_log_likelihood(idata, data, unit: str) -> tuple[xr.DataArray, np.ndarray]:
    """Pointwise log-likelihood (chain, draw, unit) and the units' labels."""
    group = getattr(idata, "log_likelihood", None)
    if group is not None and "y" in group:
        loglik = group["y"]
    else:
        loglik = pointwise_log_likelihood(idata)["y"]
    if loglik.sizes["obs"] != data.n_observed:
        raise ValueError(
            f"the stored log-likelihood has {loglik.sizes['obs']} observations; the fitted "
            f"responses have {data.n_observed}"
        )
    subjects = np.asarray(data.subjects.astype(str), dtype=object)
    items = np.asarray(data.items.astype(str), dtype=object)
    if unit == "response":
        labels = subjects[data.subject_index] + "|" + items[data.item_index]
        return loglik.transpose("chain", "draw", "obs"), labels.astype(str)
    indicator = sparse.csr_matrix(
        (np.ones(data.n_observed), (np.arange(data.n_observed), data.item_index)),
        shape=(data.n_observed, data.n_items),
    )
    values = loglik.transpose("chain", "draw", "obs").values
    n_chain, n_draw = values.shape[:2]
    per_item = (indicator.T @ values.reshape(-1, data.n_observed).T).T
    per_item = per_item.reshape(n_chain, n_draw, data.n_items)
    summed = xr.DataArray(
        per_item,
        dims=("chain", "draw", "item"),
        coords={"chain": loglik["chain"].values, "draw": loglik["draw"].values, "item": items},
    )
    return summed, items.astype(str)


def _loo(idata, loglik: xr.DataArray) -> az.ELPDData:
    r"""PSIS-LOO of one fit, a block of units at a time (the module docstring says why).

    For unit :math:`u` with log-likelihood :math:`\ell_{us}` in draw :math:`s` of :math:`S`,
    the raw importance ratios :math:`1/p(y_u \mid \psi_s)` are Pareto-smoothed into
    normalised log weights :math:`\log w_{us}` (:func:`arviz.psislw`, with the relative
    efficiency :math:`r_\text{eff}` = mean ESS of the posterior / :math:`S`, as
    :func:`arviz.loo`), and

    .. math::

        \widehat{\text{elpd}}_u = \log \sum_s w_{us}\, e^{\ell_{us}}, \qquad
        p_\text{loo} = \sum_u \Big(\log \tfrac1S \sum_s e^{\ell_{us}}\Big)
        - \sum_u \widehat{\text{elpd}}_u,

    with standard error :math:`\sqrt{U \operatorname{Var}_u \widehat{\text{elpd}}_u}`.
    Returns the :class:`arviz.ELPDData` that :func:`arviz.loo` gives with ``pointwise=True``
    (without its generic Pareto-k warning: :func:`compare` names the units instead).
    """
    values = loglik.transpose("chain", "draw", ...).values
    n_samples = values.shape[0] * values.shape[1]
    values = values.reshape(n_samples, -1)
    n_units = values.shape[1]
    reff = _relative_efficiency(idata.posterior, n_samples)
    elpd_i, pareto_k, lppd_i = (np.empty(n_units) for _ in range(3))
    step = max(1, LOO_BLOCK_VALUES // n_samples)
    for start in range(0, n_units, step):
        block = values[:, start : start + step].T.astype(np.float64)  # units × draws
        log_weights, k = az.psislw(-block, reff)
        elpd_i[start : start + step] = logsumexp(log_weights + block, axis=1)
        lppd_i[start : start + step] = logsumexp(block, axis=1) - np.log(n_samples)
        pareto_k[start : start + step] = k
    unit_dim = next(dim for dim in loglik.dims if dim not in ("chain", "draw"))
    coords = {unit_dim: loglik[unit_dim].values} if unit_dim in loglik.coords else {}
    good_k = min(1 - 1 / np.log10(n_samples), 0.7)
    return az.ELPDData(
        data=[
            float(elpd_i.sum()),
            float(np.sqrt(n_units * np.var(elpd_i))),
            float(lppd_i.sum() - elpd_i.sum()),
            n_samples,
            n_units,
            bool(np.any(pareto_k > good_k)),
            xr.DataArray(elpd_i, dims=[unit_dim], coords=coords, name="loo_i"),
            xr.DataArray(pareto_k, dims=[unit_dim], coords=coords, name="pareto_shape"),
            "log",
            good_k,
        ],
        index=[
            "elpd_loo",
            "se",
            "p_loo",
            "n_samples",
            "n_data_points",
            "warning",
            "loo_i",
            "pareto_k",
            "scale",
            "good_k",
        ],
    )


def _relative_efficiency(posterior: xr.Dataset, n_samples: int) -> float:
    """Mean ESS (ArviZ's "mean" method) over every posterior value, per draw; 1 for one
    chain."""
    if posterior.sizes["chain"] == 1:
        return 1.0
    ess = az.ess(posterior, method="mean")
    return float(np.hstack([ess[name].values.ravel() for name in ess.data_vars]).mean() / n_samples)
