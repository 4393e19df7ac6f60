r"""Convergence diagnostics that the user sees.

After every NUTS fit :func:`check_convergence` computes, over every parameter and
hyperparameter (the non-centred auxiliaries ``*_z`` are left out: they are reparameterisation
internals whose summaries duplicate the parameters built from them; so is the difficulty
``b``, computed from ``intercept`` and ``a`` after sampling by
:func:`bayesirt.models.derived.derived_variables`), the criteria of Vehtari, Gelman, Simpson,
Carpenter & Bürkner (2021, *Bayesian Analysis* 16, 667–718):

* the largest rank-normalised split :math:`\hat R` (the larger of the bulk and the folded
  tail versions), target :data:`RHAT_MAX` = 1.01;
* the smallest bulk and tail effective sample sizes, target :data:`ESS_MIN` = 400 in total
  (the paper's recommendation for reliable R-hat and ESS estimates, whatever the number of
  chains);
* the number of divergent transitions, target 0;
* the smallest energy Bayesian fraction of missing information (E-BFMI), target
  :data:`BFMI_MIN` = 0.3.

Any value that is not a finite number — a NaN R-hat or ESS, a non-finite draw — fails its
criterion: a diagnostic that could not be computed never passes. Anything that misses its
target raises a :class:`ConvergenceWarning` naming the quantity, its value and the worst
parameter. The report is stored in the fit's attributes, shown by ``bayesirt summary`` and
written to the fit's card.

The estimators (:func:`convergence_statistics`) are the paper's, computed for all parameters at
once: the same numbers as :func:`arviz.rhat` and :func:`arviz.ess` (tested to
1e-12), but vectorised over parameters, which makes them about three times faster on a
posterior with thousands of item parameters (6.7 s against 19 s for 9,000 parameters × 2 × 2,000
draws). That matters because a default fit checks them while it
samples (:mod:`bayesirt.inference.nuts`).

.. math::

    z = \Phi^{-1}\!\left(\frac{r - 3/8}{S + 1/4}\right), \qquad
    \hat R = \sqrt{\frac{\tfrac{N-1}{N} W + B/N}{W}}, \qquad
    \widehat{\mathrm{ESS}} = \frac{MN}{-1 + 2\sum_{k<K} \tilde P_k + \hat\rho_{2K}},

with :math:`r` the pooled (average) ranks of the :math:`S = MN` draws of :math:`M` split
chains of :math:`N` draws, :math:`W` and :math:`B` the within- and between-chain variances of
:math:`z`, and :math:`\tilde P_k` Geyer's initial monotone sequence of the pair sums
:math:`\hat\rho_{2k} + \hat\rho_{2k+1}` of the combined-chain autocorrelations, truncated at the
first non-positive pair :math:`K`. The tail ESS is the smaller ESS of the indicators
:math:`x \le q_{0.05}` and :math:`x \le q_{0.95}`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import arviz as az
import numpy as np
import xarray as xr
from scipy import fft, special

from bayesirt.models.derived import COMPOSED_VARIABLES, CONSTANT_VARIABLES, DERIVED_VARIABLES

__all__ = [
    "BFMI_MIN",
    "ESS_MIN",
    "RHAT_MAX",
    "ConvergenceWarning",
    "Diagnostics",
    "check_convergence",
    "convergence_statistics",
    "fit_statistics",
    "parameter_names",
    "parameter_statistics",
    "statistics_dataset",
    "summarise_statistics",
    "warn_if_not_converged",
]

RHAT_MAX = 1.01
ESS_MIN = 400
BFMI_MIN = 0.3
#: Chain means of one parameter further apart than this many within-chain standard deviations:
#: the chains sit in separate regions of the posterior (several modes, or one chain stuck),
#: which more draws of the same chains do not join.
SEPARATED_CHAINS = 4.0
#: Bulk ESS each chain must reach on its own before its region counts as explored.
_LOCAL_ESS = 50
#: Parameters handled together by the vectorised estimators (bounds their memory use).
_CHUNK = 64


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
    """Posterior variables that are model parameters: not ``*_z`` auxiliaries, not the
    data some models keep in their posterior (:data:`~bayesirt.models.derived.CONSTANT_VARIABLES`,
    constant by construction), and not the padded compositions of checked parameters
    (:data:`~bayesirt.models.derived.COMPOSED_VARIABLES`)."""
    skipped = CONSTANT_VARIABLES + COMPOSED_VARIABLES
    return [
        name
        for name in posterior.data_vars
        if not (name.endswith("_z") or name.endswith("__") or name in skipped)
    ]


def check_convergence(
    idata, *, warn: bool = True, subset: dict[str, np.ndarray] | None = None
) -> Diagnostics:
    """Diagnose an MCMC fit over all its parameters; warn about every failed criterion.

    ``subset`` restricts R-hat and ESS to some elements of some variables (flat indices per
    variable name); a quick screen, never the final word on a fit.
    """
    return summarise_statistics(
        idata, parameter_statistics(idata.posterior, subset=subset), warn=warn
    )


#: R-hat, bulk ESS and tail ESS of every element of one variable (flat), and the elements.
ParameterStatistics = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def parameter_statistics(
    posterior, *, subset: dict[str, np.ndarray] | None = None
) -> ParameterStatistics:
    """R-hat, bulk and tail ESS per element of every parameter (or of ``subset``)."""
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    out = {}
    for name in parameter_names(posterior):
        values = np.asarray(posterior[name].values, dtype=float).reshape(n_chains, n_draws, -1)
        elements = np.arange(values.shape[2])
        if subset is not None:
            if name not in subset:
                continue
            elements = np.asarray(subset[name], dtype=int)
            values = values[:, :, elements]
        out[name] = (*convergence_statistics(values), elements)
    return out


#: Name of the fit's group that holds the R-hat and ESS of every parameter element as computed
#: on the draws in memory when the fit was made (the stored draws are rounded; see
#: :mod:`bayesirt.inference.io`).
STATISTICS_GROUP = "convergence"
_STATISTICS = ("r_hat", "ess_bulk", "ess_tail")


def statistics_dataset(posterior, statistics: ParameterStatistics) -> xr.Dataset:
    """The :func:`parameter_statistics` of every element of every parameter as a dataset:
    one variable per parameter, dims ``statistic`` (``r_hat``, ``ess_bulk``, ``ess_tail``) and
    the parameter's own, with the chains and draws they were computed on as attributes."""
    data = {}
    for name, (rhat, bulk, tail, elements) in statistics.items():
        var = posterior[name]
        dims = [dim for dim in var.dims if dim not in ("chain", "draw")]
        shape = [var.sizes[dim] for dim in dims]
        values = np.full((3, int(np.prod(shape, dtype=int))), np.nan)
        values[:, elements] = np.stack([rhat, bulk, tail])
        data[name] = xr.DataArray(
            values.reshape(3, *shape),
            dims=("statistic", *dims),
            coords={dim: var[dim].values for dim in dims if dim in var.coords},
        )
    return xr.Dataset(
        data,
        coords={"statistic": list(_STATISTICS)},
        attrs={"chains": posterior.sizes["chain"], "draws": posterior.sizes["draw"]},
    )


def fit_statistics(idata) -> ParameterStatistics:
    """R-hat, bulk and tail ESS of every parameter element of a fit, as its convergence check
    saw them: those computed when it was made (its :data:`STATISTICS_GROUP`, exact although
    the stored draws are rounded) when they belong to these draws, else computed from the
    posterior. Derived variables (``b``) are left out, as in the check."""
    posterior = idata.posterior.drop_vars(
        [name for name in DERIVED_VARIABLES if name in idata.posterior]
    )
    stored = idata[STATISTICS_GROUP] if STATISTICS_GROUP in idata.groups() else None
    names = parameter_names(posterior)
    same_draws = stored is not None and (
        stored.attrs.get("chains"),
        stored.attrs.get("draws"),
    ) == (posterior.sizes["chain"], posterior.sizes["draw"])
    if not same_draws or set(stored.data_vars) != set(names):
        return parameter_statistics(posterior)
    out = {}
    for name in names:
        values = stored[name].values.reshape(3, -1)
        if values.shape[1] != posterior[name].isel(chain=0, draw=0).size:
            return parameter_statistics(posterior)
        out[name] = (values[0], values[1], values[2], np.arange(values.shape[1]))
    return out


def summarise_statistics(
    idata, statistics: ParameterStatistics, *, warn: bool = True
) -> Diagnostics:
    """The :class:`Diagnostics` of a fit from its :func:`parameter_statistics`."""
    posterior = idata.posterior
    diag = Diagnostics(method="nuts")
    n_chains = posterior.sizes["chain"]
    worst = {"rhat": (-np.inf, ""), "bulk": (np.inf, ""), "tail": (np.inf, "")}
    worst_rhat_element = None  # (variable, flat index) of the largest R-hat
    not_finite = []
    for name, (*values, elements) in statistics.items():
        var = posterior[name]
        for key, result, better in zip(
            ("rhat", "bulk", "tail"), values, (np.greater, np.less, np.less), strict=True
        ):
            if key == "rhat" and n_chains < 2:  # undefined: "only one chain" says why
                continue
            # NaN counts as the worst possible value: it must never hide behind a finite one.
            fill = np.inf if key == "rhat" else -np.inf
            nan = np.isnan(result)
            if nan.any() and key == "rhat":
                not_finite.append(_label(var, name, int(elements[np.flatnonzero(nan)[0]])))
            result = np.where(nan, fill, result)
            if not result.size:
                continue
            flat = int(np.argmax(result) if key == "rhat" else np.argmin(result))
            if better(result[flat], worst[key][0]):
                worst[key] = (float(result[flat]), _label(var, name, int(elements[flat])))
                if key == "rhat":
                    worst_rhat_element = (name, int(elements[flat]))
    diag.max_rhat, diag.worst_rhat = _nan_if_infinite(worst["rhat"])
    diag.min_ess_bulk, diag.worst_ess_bulk = _nan_if_infinite(worst["bulk"])
    diag.min_ess_tail, diag.worst_ess_tail = _nan_if_infinite(worst["tail"])
    stats = idata.sample_stats if "sample_stats" in idata else {}
    if "diverging" in stats:
        diag.divergences = int(stats["diverging"].sum())
    if "energy" in stats:
        diag.min_bfmi = float(np.min(az.bfmi(idata)))

    if n_chains < 2:
        diag.problems.append("only one chain: R-hat cannot detect chains that disagree")
    if not_finite:
        diag.problems.append(
            f"R-hat and ESS not computable (non-finite or constant draws) for "
            f"{', '.join(not_finite[:3])}"
        )
    if n_chains >= 2 and not diag.max_rhat <= RHAT_MAX:  # written so that NaN fails
        problem = f"R-hat {diag.max_rhat:.3f} > {RHAT_MAX} for {diag.worst_rhat}"
        if worst_rhat_element is not None:
            name, flat = worst_rhat_element
            draws = posterior[name].values.reshape(n_chains, posterior.sizes["draw"], -1)
            problem += _separated_chains(draws[:, :, flat])
        diag.problems.append(problem)
    if not diag.min_ess_bulk >= ESS_MIN:
        diag.problems.append(
            f"bulk ESS {diag.min_ess_bulk:.0f} < {ESS_MIN} for {diag.worst_ess_bulk}"
        )
    if not diag.min_ess_tail >= ESS_MIN:
        diag.problems.append(
            f"tail ESS {diag.min_ess_tail:.0f} < {ESS_MIN} for {diag.worst_ess_tail}"
        )
    if diag.divergences:
        diag.problems.append(f"{diag.divergences} divergent transition(s)")
    if "energy" in stats and not diag.min_bfmi >= BFMI_MIN:
        diag.problems.append(f"E-BFMI {diag.min_bfmi:.2f} < {BFMI_MIN}")
    if warn:
        warn_if_not_converged(diag)
    return diag


def _separated_chains(draws: np.ndarray) -> str:
    """A note when every chain has explored its own region (bulk ESS of each chain alone at
    least :data:`_LOCAL_ESS`) and the chains' means of one parameter (``draws``: chain × draw)
    lie more than :data:`SEPARATED_CHAINS` pooled within-chain standard deviations apart;
    else ``""``. Chains that merely move slowly have a small ESS each and get no note."""
    if not np.isfinite(draws).all():
        return ""
    local_ess = [convergence_statistics(chain[None, :, None])[1][0] for chain in draws]
    means = draws.mean(axis=1)
    within = float(np.sqrt(np.mean(np.var(draws, axis=1, ddof=1))))
    spread = float(means.max() - means.min())
    if not (min(local_ess) >= _LOCAL_ESS and within > 0 and spread > SEPARATED_CHAINS * within):
        return ""
    return (
        f" (its chain means range from {means.min():.3g} to {means.max():.3g}, "
        f"{spread / within:.0f} within-chain sds apart: the chains sit in separate regions "
        "of the posterior, several modes or a stuck chain, which more draws do not join; "
        "a simpler model or stronger priors may identify it)"
    )


def warn_if_not_converged(diag: Diagnostics) -> None:
    """Raise a :class:`ConvergenceWarning` listing every problem of ``diag``, if any."""
    if diag.problems:
        warnings.warn(
            "NUTS did not converge: "
            + "; ".join(diag.problems)
            + ". Do not trust these estimates; sample longer (a larger draw budget, more "
            "tuning) or check the model.",
            ConvergenceWarning,
            stacklevel=4,
        )


# ------------------------------------------------------------------------ estimators
def convergence_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-normalised split R-hat (the larger of its bulk and folded versions), bulk ESS and
    tail ESS of every parameter of ``x`` (chain, draw, parameter), in one pass.

    NaN where a draw is not finite, and R-hat NaN where a parameter never changes or there
    is only one chain (as in ArviZ: split halves of one chain cannot show chains that
    disagree). The tail ESS is the smaller ESS of the indicators of the 5% and 95%
    quantiles (R's type-7 quantiles, as ArviZ).
    """

    def all_three(split, whole):
        z = _rank_normal(split)
        return np.stack(
            [np.fmax(_basic_rhat(z), _folded_rhat(split)), _ess(z), _tail_ess(split, whole)]
        )

    out = _by_chunk(x, all_three)
    rhat = out[0] if np.shape(x)[0] > 1 else np.full_like(out[0], np.nan)
    return rhat, out[1], out[2]


def _by_chunk(x: np.ndarray, statistic) -> np.ndarray:
    """Apply ``statistic(split, whole)`` to a few parameters at a time, laid out (parameter,
    chain, draw) so that each chunk's sorts and transforms stay in cache: ``split`` holds the
    split chains, ``whole`` the chains as sampled. NaN for parameters with a non-finite
    draw."""
    x = np.asarray(x, dtype=float)
    half = x.shape[1] // 2
    results = []
    for lo in range(0, x.shape[2], _CHUNK):
        part = x[:, :, lo : lo + _CHUNK].transpose(2, 0, 1)
        split = np.ascontiguousarray(
            np.concatenate([part[:, :, :half], part[:, :, part.shape[2] - half :]], axis=1)
        )
        value = np.asarray(statistic(split, part), dtype=float)
        finite = np.isfinite(part).all(axis=(1, 2))
        results.append(np.where(finite, value, np.nan))
    return np.concatenate(results, axis=-1)


def _rank_normal(x: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled average ranks of each parameter's draws (Blom's 3/8);
    ``x`` is (parameter, chain, draw)."""
    n_params, n_chains, n_draws = x.shape
    size = n_chains * n_draws
    ranks = _average_ranks(x.reshape(n_params, size))
    return special.ndtri((ranks - 0.375) / (size + 0.25)).reshape(x.shape)


def _average_ranks(rows: np.ndarray) -> np.ndarray:
    """1-based ranks within each row, ties sharing their average rank."""
    n_rows, n = rows.shape
    order = np.argsort(rows, axis=1)
    ordered = np.take_along_axis(rows, order, axis=1)
    ranks = np.broadcast_to(np.arange(1.0, n + 1), (n_rows, n))
    tied = ordered[:, 1:] == ordered[:, :-1]
    if tied.any():  # NUTS repeats a draw now and then: give each run of ties its mean rank
        starts = np.ones((n_rows, n), dtype=bool)
        starts[:, 1:] = ~tied
        first = np.flatnonzero(starts.ravel())
        length = np.diff(np.append(first, starts.size))
        ranks = np.repeat(first % n + (length + 1) / 2, length).reshape(n_rows, n)
    out = np.empty((n_rows, n))
    np.put_along_axis(out, order, ranks, axis=1)
    return out


def _basic_rhat(x: np.ndarray) -> np.ndarray:
    n = x.shape[2]
    within = x.var(axis=2, ddof=1).mean(axis=1)
    between = n * x.mean(axis=2).var(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _folded_rhat(x: np.ndarray) -> np.ndarray:
    median = np.median(x.reshape(x.shape[0], -1), axis=1)
    return _basic_rhat(_rank_normal(np.abs(x - median[:, None, None])))


def _tail_ess(split: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """The quantiles come from the whole chains (an odd middle draw included), as in ArviZ."""
    lo, hi = np.quantile(whole.reshape(whole.shape[0], -1), [0.05, 0.95], axis=1)
    below_lo = _ess((split <= lo[:, None, None]).astype(float))
    below_hi = _ess((split <= hi[:, None, None]).astype(float))
    return np.minimum(below_lo, below_hi)


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of each parameter of ``x`` (parameter, chain, draw)."""
    n_params, n_chains, n = x.shape
    rows = np.arange(n_params)
    size = fft.next_fast_len(2 * n)
    spectrum = fft.rfft(x - x.mean(axis=2, keepdims=True), n=size, axis=2)
    acov = fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=2)[:, :, :n] / n
    mean_acov = acov.mean(axis=1)  # (parameter, lag)
    mean_var = mean_acov[:, 0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if n_chains > 1:
        var_plus = var_plus + x.mean(axis=2).var(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - mean_acov) / var_plus[:, None]
    rho[:, 0] = 1.0
    # Pair sums P_k = rho_2k + rho_2k+1 of the pairs Geyer's sequence may reach.
    k_max = max((n - 3) // 2, 0)
    pairs = rho[:, 0 : 2 * k_max + 1 : 2] + rho[:, 1 : 2 * k_max + 2 : 2]
    k = np.arange(pairs.shape[1])
    stop = (pairs <= 0) & (k >= 1)
    first_stop = np.where(stop.any(axis=1), stop.argmax(axis=1), k_max)
    last_pair = np.where(pairs[:, 0] > 0, first_stop, 0)
    monotone = np.minimum.accumulate(pairs, axis=1)
    total = np.where(k < last_pair[:, None], monotone, 0.0).sum(axis=1)
    even = rho[rows, 2 * last_pair]
    keep_even = (even > 0) | (pairs[rows, last_pair] >= 0)
    n_total = n_chains * n
    tau = np.maximum(-1.0 + 2.0 * total + np.where(keep_even, even, 0.0), 1 / math.log10(n_total))
    ess = n_total / tau
    ess[np.isnan(rho).any(axis=1)] = np.nan
    constant = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    ess[constant] = n_total
    return ess


# --------------------------------------------------------------------------- labels
def _nan_if_infinite(pair: tuple[float, str]) -> tuple[float, str]:
    value, where = pair
    return (value if np.isfinite(value) else float("nan")), where


def _label(var, name: str, flat: int) -> str:
    dims = [dim for dim in var.dims if dim not in ("chain", "draw")]
    if not dims:
        return name
    shape = [var.sizes[dim] for dim in dims]
    index = np.unravel_index(flat, shape)
    parts = [f"{dim}={var[dim].values[i]}" for dim, i in zip(dims, index, strict=True)]
    return f"{name}[{', '.join(parts)}]"
