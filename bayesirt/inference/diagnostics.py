"""Convergence diagnostics that the user sees.

After every NUTS fit :func:`check_convergence` computes, over every parameter and
hyperparameter (the non-centred auxiliaries ``*_z`` are left out: they are reparameterisation
internals whose summaries duplicate the parameters built from them):

* the largest rank-normalised split :math:`\\hat R` (Vehtari et al. 2021), target ≤ 1.01;
* the smallest bulk and tail effective sample sizes, target ≥ 100 per chain;
* the number of divergent transitions, target 0;
* the smallest energy Bayesian fraction of missing information (E-BFMI), target ≥ 0.3.

Anything that misses its target raises a :class:`ConvergenceWarning` naming the quantity,
its value and the worst parameter. The report is also stored in the fit's attributes, shown
by ``bayesirt summary`` and written to the fit's card.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import arviz as az
import numpy as np

__all__ = ["ConvergenceWarning", "Diagnostics", "check_convergence", "parameter_names"]

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
BFMI_MIN = 0.3


class ConvergenceWarning(UserWarning):
    """The sampler did not converge by the package's criteria; the message says where."""


@dataclass
class Diagnostics:
    """Convergence summary of a fit (NaN where a quantity does not apply, e.g. ADVI)."""

    method: str
    max_rhat: float = float("nan")
    worst_rhat: str = ""
    min_ess_bulk: float = float("nan")
    worst_ess_bulk: str = ""
    min_ess_tail: float = float("nan")
    worst_ess_tail: str = ""
    divergences: int = 0
    min_bfmi: float = float("nan")
    problems: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        out = asdict(self)
        out["converged"] = self.converged
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Diagnostics:
        data = {k: v for k, v in data.items() if k != "converged"}
        return cls(**data)


def parameter_names(posterior) -> list[str]:
    """Posterior variables that are model parameters (not ``*_z`` auxiliaries)."""
    return [
        name for name in posterior.data_vars if not (name.endswith("_z") or name.endswith("__"))
    ]


def check_convergence(idata, *, warn: bool = True) -> Diagnostics:
    """Diagnose an MCMC fit over all its parameters; warn about every failed criterion."""
    names = parameter_names(idata.posterior)
    n_chains = idata.posterior.sizes["chain"]
    rhat = az.rhat(idata, var_names=names)
    ess_bulk = az.ess(idata, var_names=names, method="bulk")
    ess_tail = az.ess(idata, var_names=names, method="tail")
    diag = Diagnostics(method="nuts")
    diag.max_rhat, diag.worst_rhat = _extreme(rhat, np.nanargmax)
    diag.min_ess_bulk, diag.worst_ess_bulk = _extreme(ess_bulk, np.nanargmin)
    diag.min_ess_tail, diag.worst_ess_tail = _extreme(ess_tail, np.nanargmin)
    stats = idata.sample_stats
    if "diverging" in stats:
        diag.divergences = int(stats["diverging"].sum())
    if "energy" in stats:
        diag.min_bfmi = float(np.min(az.bfmi(idata)))

    ess_min = ESS_PER_CHAIN_MIN * n_chains
    if n_chains < 2:
        diag.problems.append("only one chain: R-hat cannot detect chains that disagree")
    if diag.max_rhat > RHAT_MAX:
        diag.problems.append(f"R-hat {diag.max_rhat:.3f} > {RHAT_MAX} for {diag.worst_rhat}")
    if diag.min_ess_bulk < ess_min:
        diag.problems.append(
            f"bulk ESS {diag.min_ess_bulk:.0f} < {ess_min} for {diag.worst_ess_bulk}"
        )
    if diag.min_ess_tail < ess_min:
        diag.problems.append(
            f"tail ESS {diag.min_ess_tail:.0f} < {ess_min} for {diag.worst_ess_tail}"
        )
    if diag.divergences:
        diag.problems.append(f"{diag.divergences} divergent transition(s)")
    if diag.min_bfmi < BFMI_MIN:
        diag.problems.append(f"E-BFMI {diag.min_bfmi:.2f} < {BFMI_MIN}")
    if warn and diag.problems:
        warnings.warn(
            "NUTS did not converge: "
            + "; ".join(diag.problems)
            + ". Do not trust these estimates; sample longer (more tune/draws) or check the model.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return diag


def _extreme(dataset, pick) -> tuple[float, str]:
    """The extreme value over all variables and elements of ``dataset``, and where it is."""
    best_value, best_where = float("nan"), ""
    for name, var in dataset.data_vars.items():
        values = np.asarray(var.values, dtype=float)
        if values.size == 0 or np.all(np.isnan(values)):
            continue
        flat = pick(values.reshape(-1))
        value = float(values.reshape(-1)[flat])
        better = np.isnan(best_value) or (
            value > best_value if pick is np.nanargmax else value < best_value
        )
        if better:
            best_value, best_where = value, _label(var, name, flat)
    return best_value, best_where


def _label(var, name: str, flat: int) -> str:
    if var.ndim == 0:
        return name
    index = np.unravel_index(flat, var.shape)
    parts = [f"{dim}={var[dim].values[i]}" for dim, i in zip(var.dims, index, strict=True)]
    return f"{name}[{', '.join(parts)}]"
