r"""Posterior predictive checks of a fitted model, for every model family.

For a posterior draw :math:`s` with parameters :math:`\psi^{(s)}`, replicated responses

.. math::

    y_k^{rep,(s)} \sim \text{Bernoulli}\big(P_k^{(s)}\big)

are drawn at every observed pair :math:`k = (j, i)` (missing cells stay missing), with
:math:`P_k^{(s)}` the fitted model's probability of a correct answer
(:meth:`~bayesirt.models.base.IRTModel.observation_probability` of the model named in the
fit's configuration), so the same code checks the 1PL–4PL and any model that defines that
method. A discrepancy :math:`T(y, \psi)` of the data is set against its replications by the
posterior predictive p-value (Gelman, Meng & Stern 1996), taken as a mid-p because most
statistics here are discrete:

.. math::

    p = \Pr\big(T(y^{rep}, \psi) > T(y, \psi) \mid y\big)
        + \tfrac12 \Pr\big(T(y^{rep}, \psi) = T(y, \psi) \mid y\big),

estimated over the used draws. A p-value near 0 means the observed value is larger than the
model reproduces, near 1 smaller; posterior predictive p-values are conservative (they
concentrate around 0.5 under a true model), so a value beyond 0.025 / 0.975 is a signal.

Statistics (``statistics=``), each with per-unit p-values and one global discrepancy:

``total_score``
    Per subject, the number of correct answers over its observed items; globally the standard
    deviation of the subjects' proportions correct (the spread of the leaderboard).
``item_accuracy``
    Per item, the proportion correct over its observed subjects; globally the standard
    deviation of the item accuracies.
``residual_correlation``
    Yen's Q3 (see :mod:`bayesirt.analysis.dependence.q3`): per item pair, the correlation over
    subjects of the residuals :math:`y - P^{(s)}` against that of :math:`y^{rep} - P^{(s)}`;
    globally the mean :math:`|Q3|` over the pairs defined in both
    (:class:`~bayesirt.analysis.dependence.q3.MeanAbsQ3`, the discrepancy of
    :func:`~bayesirt.analysis.dependence.local.dependence_test` too). Up to ``dense_max`` items
    every pair is computed from the :math:`I \times I` matrix of each draw; above, no such
    matrix is built: the global value comes from ``n_pairs`` random pairs and the pair table
    from the pairs that a blocked scan of the posterior-mean residuals finds most correlated
    (:func:`~bayesirt.analysis.dependence.q3.screen_pairs`).
``item_fit``
    Per item, the item–rest correlation: the correlation over the item's observed subjects of
    :math:`y_{ij}` with the subject's proportion correct on its *other* observed items
    (Sinharay, Johnson & Stern 2006 use such item–total discrepancies). An item whose
    responses run against ability has a low or negative observed value while the model,
    whose discrimination is positive, replicates a non-negative one: the p-value is then near
    1. Globally the mean item–rest correlation. An item (or a replication) answered alike by
    all its subjects has no correlation; such draws are left out of that item's p-value.

Every statistic is computed on the same replications: one :math:`y^{rep}` per used draw.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from bayesirt._validate import check_positive_int, check_probability
from bayesirt.analysis.dependence.q3 import (
    MeanAbsQ3,
    ObservedTable,
    eligible_items,
    residuals,
    screen_pairs,
    standardized,
)
from bayesirt.analysis.posterior import CHUNK_ELEMENTS, draw_sample, fitted_responses
from bayesirt.inference.io import CONFIG_ATTR, fitted_model_class

__all__ = [
    "DEFAULT_STATISTICS",
    "GLOBAL_DISCREPANCIES",
    "STATISTICS",
    "fitted_model_class",
    "ppc",
    "ppc_table",
    "ppc_unit_table",
]

#: Every statistic :func:`ppc` knows, and the unit its per-unit values belong to.
STATISTICS = {
    "total_score": "subject",
    "item_accuracy": "item",
    "residual_correlation": "pair",
    "item_fit": "item",
}
DEFAULT_STATISTICS = ("total_score", "item_accuracy", "residual_correlation")
#: What the global discrepancy of each statistic is.
GLOBAL_DISCREPANCIES = {
    "total_score": "sd of the subjects' proportions correct",
    "item_accuracy": "sd of the item accuracies",
    "residual_correlation": "mean |Q3| over item pairs",
    "item_fit": "mean item-rest correlation",
}
#: Bins on [0, 1] of the two-sided p-values of every tested item pair (kept as counts).
P_BINS = 1000
#: Statistics whose per-unit values are proportions, histogrammed on [0, 1].
_HISTOGRAMS = ("total_score", "item_accuracy")


#: Why a posterior predictive check cannot use an InferenceData without a configuration.
_NO_MODEL = (
    f"the InferenceData has no {CONFIG_ATTR!r} attribute naming its model; "
    "posterior predictive checks need a fit made by bayesirt.fit"
)


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class _Observed:
    """The fitted responses as observation arrays, labels aligned with the posterior."""

    subject_index: np.ndarray
    item_index: np.ndarray
    y: np.ndarray
    subjects: pd.Index
    items: pd.Index

    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def table(self) -> ObservedTable:
        """Dense subjects × items responses and mask (:class:`ObservedTable`)."""
        y = np.zeros((self.n_subjects, self.n_items))
        observed = np.zeros(y.shape, dtype=bool)
        y[self.subject_index, self.item_index] = self.y
        observed[self.subject_index, self.item_index] = True
        return ObservedTable(y=y, observed=observed, complete=bool(observed.all()))

    def dense(self, values: np.ndarray) -> np.ndarray:
        """Per-observation ``values`` scattered into a subjects × items array (0 elsewhere)."""
        out = np.zeros((self.n_subjects, self.n_items))
        out[self.subject_index, self.item_index] = values
        return out


def _observed(idata) -> _Observed:
    responses = fitted_responses(idata)
    responses.require_binary("a posterior predictive check")
    posterior = idata.posterior
    for dim, labels in (("subject", responses.subjects), ("item", responses.items)):
        fitted = posterior[dim].values.astype(str) if dim in posterior.coords else None
        if fitted is None or not np.array_equal(fitted, np.asarray(labels).astype(str)):
            raise ValueError(
                f"the posterior's {dim} coordinate does not match the {dim} labels of the "
                "fitted responses in constant_data"
            )
    return _Observed(
        subject_index=responses.subject_index.astype(np.int64),
        item_index=responses.item_index.astype(np.int64),
        y=responses.response.astype(float),
        subjects=pd.Index(responses.subjects.astype(str), name="subject"),
        items=pd.Index(responses.items.astype(str), name="item"),
    )


def _chosen_draws(posterior, n_draws: int | None, rng: np.random.Generator) -> np.ndarray:
    """Stacked (chain-major) indices of the used draws, sorted."""
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    if n_draws is not None and (int(n_draws) != n_draws or n_draws < 1):
        raise ValueError(f"n_draws must be a positive integer or None, got {n_draws!r}")
    return draw_sample(total, None if n_draws is None else int(n_draws), rng)


def _draw_subset(posterior: xr.Dataset, samples: np.ndarray) -> xr.Dataset:
    """The posterior restricted to stacked draws ``samples``, as one chain of them."""
    chain, draw = np.divmod(samples, posterior.sizes["draw"])
    picked = posterior.isel(
        chain=xr.DataArray(chain, dims="sample"), draw=xr.DataArray(draw, dims="sample")
    )
    picked = picked.drop_vars(["chain", "draw"]).rename({"sample": "draw"})
    return picked.expand_dims("chain").transpose("chain", "draw", ...)


def _probabilities(
    idata, observed: _Observed, samples: np.ndarray, max_elements: int
) -> Iterator[np.ndarray]:
    """:math:`P_k^{(s)}` at the observed pairs, one array per used draw, in blocks."""
    model_cls = fitted_model_class(idata, missing=_NO_MODEL)
    n_obs = len(observed.y)
    step = max(1, max_elements // max(n_obs, 1))
    for start in range(0, len(samples), step):
        block = _draw_subset(idata.posterior, samples[start : start + step])
        prob = model_cls.observation_probability(block, observed.subject_index, observed.item_index)
        yield from np.asarray(prob, dtype=float)[0]


# --------------------------------------------------------------------- statistics
def _mid_p(rep: np.ndarray, obs: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mid-p :math:`\\Pr(T^{rep} > T) + \\tfrac12 \\Pr(T^{rep} = T)` over valid draws."""
    valid = ~(np.isnan(rep) | np.isnan(obs))
    greater = np.where(valid, rep > obs, False).sum(axis=axis)
    equal = np.where(valid, rep == obs, False).sum(axis=axis)
    n = valid.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (greater + 0.5 * equal) / n, np.nan)


def _correlation(n, sx, sy, sxx, syy, sxy) -> np.ndarray:
    """Pearson correlation from sums; NaN where either variable is constant."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * sxy - sx * sy
        vx, vy = n * sxx - sx**2, n * syy - sy**2
        scale = np.maximum(n * np.maximum(sxx, syy), 1.0) * 1e-12
        ok = (vx > scale) & (vy > scale) & (n >= 2)
        return np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)


class _UnitStatistic:
    """A statistic of the responses alone, one value per subject or item."""

    def __init__(self, name: str, observed: _Observed, n_samples: int, n_bins: int):
        self.name, self.data, self.n_bins = name, observed, n_bins
        self.unit = STATISTICS[name]
        self.counts = np.bincount(
            observed.subject_index if self.unit == "subject" else observed.item_index,
            minlength=observed.n_subjects if self.unit == "subject" else observed.n_items,
        ).astype(float)
        self.subject_counts = np.bincount(observed.subject_index, minlength=observed.n_subjects)
        self.obs = self.values(observed.y)
        self.rep = np.empty((n_samples, len(self.obs)), dtype=np.float32)

    def values(self, y: np.ndarray) -> np.ndarray:
        d = self.data
        if self.name == "total_score":
            return np.bincount(d.subject_index, weights=y, minlength=d.n_subjects)
        if self.name == "item_accuracy":
            correct = np.bincount(d.item_index, weights=y, minlength=d.n_items)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(self.counts > 0, correct / self.counts, np.nan)
        return self._item_rest(y)

    def _item_rest(self, y: np.ndarray) -> np.ndarray:
        """Correlation of each item's responses with the rest score of its subjects."""
        d = self.data
        totals = np.bincount(d.subject_index, weights=y, minlength=d.n_subjects)
        others = self.subject_counts[d.subject_index] - 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            rest = (totals[d.subject_index] - y) / others
        use = others > 0
        item, y, rest = d.item_index[use], y[use], rest[use]

        def total(w):
            return np.bincount(item, weights=w, minlength=d.n_items)

        return _correlation(
            total(np.ones_like(y)),
            total(y),
            total(rest),
            total(y * y),
            total(rest**2),
            total(y * rest),
        )

    def proportions(self, values: np.ndarray) -> np.ndarray:
        if self.name == "total_score":
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(self.counts > 0, values / self.counts, np.nan)
        return values

    def global_value(self, values: np.ndarray) -> float:
        values = self.proportions(values)
        values = values[~np.isnan(values)]
        if values.size == 0:
            return float("nan")
        return float(values.mean() if self.name == "item_fit" else values.std())

    def update(self, row: int, y_rep: np.ndarray, prob: np.ndarray) -> None:
        self.rep[row] = self.values(y_rep)

    def finish(self, interval: float) -> tuple[dict, dict]:
        rep = self.rep.astype(float)
        tail = (1.0 - interval) / 2
        some = ~np.all(np.isnan(rep), axis=0)
        lo = np.full(rep.shape[1], np.nan)
        hi = np.full(rep.shape[1], np.nan)
        mean = np.full(rep.shape[1], np.nan)
        if some.any():
            mean[some] = np.nanmean(rep[:, some], axis=0)
            lo[some], hi[some] = np.nanquantile(rep[:, some], [tail, 1 - tail], axis=0)
        name, unit = self.name, self.unit
        # compared at the float32 precision of the stored replications, so ties stay ties
        obs = self.obs.astype(np.float32).astype(float)
        t_rep = np.array([self.global_value(r) for r in rep])
        data_vars = {
            f"{name}_obs": (unit, self.obs),
            f"{name}_rep_mean": (unit, mean),
            f"{name}_rep_lo": (unit, lo),
            f"{name}_rep_hi": (unit, hi),
            f"{name}_p": (unit, _mid_p(rep, obs[None, :])),
            f"{name}_t_obs": ("sample", np.full(len(rep), self.global_value(obs))),
            f"{name}_t_rep": ("sample", t_rep),
        }
        if name == "item_fit":
            valid = (~np.isnan(rep)).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                negative = np.where(valid > 0, (rep < 0).sum(axis=0) / valid, np.nan)
            data_vars[f"{name}_rep_negative"] = (unit, negative)
        if name in _HISTOGRAMS:
            edges = np.linspace(0.0, 1.0, self.n_bins + 1)
            data_vars[f"{name}_hist_obs"] = ("bin", self._histogram(self.obs, edges))
            data_vars[f"{name}_hist_rep"] = (
                ("sample", "bin"),
                np.array([self._histogram(r, edges) for r in rep]),
            )
        return data_vars, {}

    def _histogram(self, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
        values = self.proportions(values)
        return np.histogram(values[~np.isnan(values)], bins=edges)[0]


class _ResidualCorrelation:
    """Yen's Q3 of observed and replicated residuals, dense or on chosen pairs."""

    name = "residual_correlation"

    def __init__(
        self,
        observed: _Observed,
        n_samples: int,
        *,
        dense_max: int,
        n_pairs: int,
        top: int,
        min_minority: int,
        mean_prob: Iterator[np.ndarray] | None,
        rng: np.random.Generator,
        max_elements: int,
    ):
        self.data, self.top = observed, top
        self.table = observed.table()
        n_items = observed.n_items
        self.eligible = eligible_items(self.table, min_minority)
        self.t_obs, self.t_rep = np.empty(n_samples), np.empty(n_samples)
        self.mean_abs = MeanAbsQ3(
            self.table, dense_max=dense_max, n_pairs=n_pairs, rng=rng, max_elements=max_elements
        )
        if self.mean_abs.dense:
            shape = (n_items, n_items)
        else:
            mean_resid = residuals(self.table, observed.dense(_mean(mean_prob)))
            z = standardized(self.table, mean_resid) * self.eligible
            self.mean_abs.add_pairs(
                *screen_pairs(
                    z,
                    None if self.table.complete else self.table.observed.astype(float),
                    max(5 * top, 100),
                    max_elements=max_elements,
                )
            )
            shape = (len(self.mean_abs.left),)
        # float32: four I × I accumulators at up to dense_max items
        self.sum_obs = np.zeros(shape, dtype=np.float32)
        self.sum_rep = np.zeros(shape, dtype=np.float32)
        self.greater = np.zeros(shape, dtype=np.float32)
        self.valid = np.zeros(shape, dtype=np.float32)

    def update(self, row: int, y_rep: np.ndarray, prob: np.ndarray) -> None:
        prob = self.data.dense(prob)
        replicated = self.table.with_responses(self.data.dense(y_rep))
        q_obs = self.mean_abs.q3(self.table, prob)
        q_rep = self.mean_abs.q3(replicated, prob)
        ok = ~(np.isnan(q_obs) | np.isnan(q_rep))
        q_obs0, q_rep0 = np.where(ok, q_obs, 0.0), np.where(ok, q_rep, 0.0)
        self.sum_obs += q_obs0
        self.sum_rep += q_rep0
        self.greater += (q_rep0 > q_obs0) & ok
        self.valid += ok
        self.t_obs[row], self.t_rep[row] = self.mean_abs.discrepancy(q_obs, q_rep)

    def finish(self, interval: float) -> tuple[dict, dict]:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_obs = self.sum_obs / self.valid
            mean_rep = self.sum_rep / self.valid
            p = self.greater / self.valid
        mean_abs = self.mean_abs
        if mean_abs.dense:
            usable = np.triu(self.valid > 0, k=1)
            usable &= self.eligible[:, None] & self.eligible[None, :]
            left, right = np.nonzero(usable)
            mean_obs, mean_rep, p = (v[left, right] for v in (mean_obs, mean_rep, p))
        else:
            usable = (self.valid > 0) & self.eligible[mean_abs.left] & self.eligible[mean_abs.right]
            left, right = mean_abs.left[usable], mean_abs.right[usable]
            mean_obs, mean_rep, p = (v[usable] for v in (mean_obs, mean_rep, p))
        order = np.lexsort((-(mean_obs - mean_rep), p))[: self.top]
        items = np.asarray(self.data.items)
        name = self.name
        two_sided = 2 * np.minimum(p, 1 - p)
        data_vars = {
            f"{name}_p_counts": (
                "p_bin",
                np.histogram(two_sided, bins=P_BINS, range=(0.0, 1.0))[0],
            ),
            f"{name}_obs": ("pair", mean_obs[order]),
            f"{name}_rep_mean": ("pair", mean_rep[order]),
            f"{name}_p": ("pair", p[order]),
            f"{name}_t_obs": ("sample", self.t_obs),
            f"{name}_t_rep": ("sample", self.t_rep),
        }
        coords = {
            "pair_item": ("pair", items[left[order]]),
            "pair_item2": ("pair", items[right[order]]),
        }
        if mean_abs.dense:
            method = f"dense ({mean_abs.n_random} pairs)"
        else:
            method = (
                f"sampled ({mean_abs.n_random} random pairs; table from {len(mean_abs.left)} pairs)"
            )
        attrs = {"residual_correlation_method": method}
        return data_vars, {"coords": coords, "attrs": attrs}


def _mean(arrays: Iterator[np.ndarray]) -> np.ndarray:
    total, n = None, 0
    for values in arrays:
        total = values.copy() if total is None else total + values
        n += 1
    return total / n


# ----------------------------------------------------------------------- entry point
def ppc(
    idata,
    *,
    statistics: Sequence[str] = DEFAULT_STATISTICS,
    n_draws: int | None = 200,
    interval: float = 0.9,
    n_bins: int = 20,
    dense_max: int = 2000,
    n_pairs: int = 100_000,
    top: int = 20,
    min_minority: int = 2,
    random_seed: int = 0,
    max_elements: int = CHUNK_ELEMENTS,
) -> xr.Dataset:
    r"""Posterior predictive checks of a fit (definitions in the module docstring).

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit made by :func:`bayesirt.fit` (its ``bayesirt_config`` names the model, its
        ``constant_data`` holds the responses).
    statistics : sequence of str
        Any of :data:`STATISTICS`: ``"total_score"``, ``"item_accuracy"``,
        ``"residual_correlation"``, ``"item_fit"``.
    n_draws : int or None
        Posterior draws used, chosen at random without replacement (``None``: all); one
        replication per draw, so p-values have resolution ``1 / n_draws``.
    interval : float in (0, 1)
        Mass of the central intervals of the replicated per-unit values.
    n_bins : int
        Bins on [0, 1] of the histograms of proportions correct and item accuracies.
    dense_max : int
        Most items for which the full Q3 matrix is computed per draw.
    n_pairs : int
        Above ``dense_max``: random item pairs behind the global Q3 discrepancy.
    top : int
        Item pairs kept in the pair table (smallest p first, then largest excess of the
        observed over the replicated Q3).
    min_minority : int
        The pair table only joins items with at least this many answers in their less frequent
        category (a pair of items that one subject alone answered differently shares a Q3
        near 1 that says nothing about the questions); the global value keeps every item.
    random_seed : int
        Seed of the draws used, the random pairs and the replications.
    max_elements : int
        Largest temporary array (cells) built at once.

    Returns
    -------
    xarray.Dataset
        Dims ``sample`` (the stacked posterior draws used), ``subject``, ``item``, ``pair``
        and ``bin``. For each statistic ``S``:

        ``S_obs``, ``S_rep_mean``, ``S_p`` (unit)
            Observed value (posterior mean for Q3, which depends on the draw), mean of the
            replications, and the posterior predictive mid-p; ``S_rep_lo`` / ``S_rep_hi``
            bound the replications' central ``interval`` (not for Q3).
        ``S_t_obs``, ``S_t_rep`` (sample)
            The global discrepancy (:data:`GLOBAL_DISCREPANCIES`) of the data and of the
            replication in each used draw.
        ``S_hist_obs`` (bin), ``S_hist_rep`` (sample, bin)
            ``total_score`` (as proportions) and ``item_accuracy`` only: histograms.
        ``item_fit_rep_negative`` (item)
            ``item_fit`` only: the share of replications with a negative item-rest
            correlation (what :func:`~bayesirt.analysis.quality.flag_items` needs for its
            expected number of chance flags).
        ``residual_correlation_p_counts`` (p_bin)
            Counts of the two-sided p-values :math:`2\\min(p, 1 - p)` of every tested pair
            (all pairs of eligible items when dense), in :data:`P_BINS` bins on [0, 1].

        The pair table has coordinates ``pair_item``, ``pair_item2``. ``attrs``:
        ``statistics``, ``model``, ``n_draws``, ``interval``, ``random_seed``, the global
        p-value ``S_ppp`` of each statistic, ``bin_edges`` and
        ``residual_correlation_method``.

    Raises
    ------
    ValueError
        On an unknown statistic, a fit without model configuration or responses, or a bad
        ``n_draws``, ``interval``, ``n_bins`` or ``top``.
    """
    statistics = list(dict.fromkeys([statistics] if isinstance(statistics, str) else statistics))
    unknown = [s for s in statistics if s not in STATISTICS]
    if unknown or not statistics:
        raise ValueError(
            f"unknown statistic(s) {unknown or statistics!r}; choose from {', '.join(STATISTICS)}"
        )
    check_probability("interval", interval)
    for name, value in (("n_bins", n_bins), ("top", top)):
        check_positive_int(name, value)
    model_cls = fitted_model_class(idata, missing=_NO_MODEL)
    observed = _observed(idata)
    rng = np.random.default_rng(random_seed)
    samples = _chosen_draws(idata.posterior, n_draws, rng)

    def probabilities() -> Iterator[np.ndarray]:
        return _probabilities(idata, observed, samples, max_elements)

    checks: list = []
    for name in statistics:
        if name == "residual_correlation":
            dense_path = observed.n_items <= dense_max
            checks.append(
                _ResidualCorrelation(
                    observed,
                    len(samples),
                    dense_max=dense_max,
                    n_pairs=n_pairs,
                    top=top,
                    min_minority=min_minority,
                    mean_prob=None if dense_path else probabilities(),
                    rng=rng,
                    max_elements=max_elements,
                )
            )
        else:
            checks.append(_UnitStatistic(name, observed, len(samples), n_bins))

    for row, prob in enumerate(probabilities()):
        y_rep = (rng.random(prob.shape) < prob).astype(float)
        for check in checks:
            check.update(row, y_rep, prob)

    data_vars: dict = {}
    coords: dict = {"sample": samples}
    attrs: dict = {
        "statistics": statistics,
        "model": model_cls.name,
        "n_draws": len(samples),
        "interval": interval,
        "random_seed": random_seed,
        "bin_edges": np.linspace(0.0, 1.0, n_bins + 1).tolist(),
    }
    for check in checks:
        variables, extra = check.finish(interval)
        data_vars.update(variables)
        coords.update(extra.get("coords", {}))
        attrs.update(extra.get("attrs", {}))
        t_obs, t_rep = variables[f"{check.name}_t_obs"][1], variables[f"{check.name}_t_rep"][1]
        attrs[f"{check.name}_ppp"] = float(_mid_p(t_rep, t_obs))
    units = {STATISTICS[s] for s in statistics}
    if "subject" in units:
        coords["subject"] = np.asarray(observed.subjects)
    if "item" in units:
        coords["item"] = np.asarray(observed.items)
    if "residual_correlation" in statistics:
        coords["p_bin"] = (np.arange(P_BINS) + 0.5) / P_BINS
    if any(s in _HISTOGRAMS for s in statistics):
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        coords["bin"] = (edges[:-1] + edges[1:]) / 2
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


# --------------------------------------------------------------------------- tables
def ppc_table(result: xr.Dataset, *, alpha: float = 0.05) -> pd.DataFrame:
    """One row per statistic of :func:`ppc`: the global check and how many units look off.

    Columns: ``discrepancy`` (what the global value is), ``t_obs`` (posterior mean of the
    observed value), ``t_rep`` with ``t_rep_lo`` / ``t_rep_hi`` (mean and central interval of
    the replications), ``ppp`` (global posterior predictive p-value), ``unit``,
    ``n_units`` (units with a p-value; for Q3 every tested pair, not only those of the pair
    table), ``n_extreme``: units with a two-sided p-value :math:`2\\min(p, 1 - p)` below
    ``alpha`` (for Q3 counted at a resolution of ``1 / P_BINS``), and ``n_expected``
    :math:`= \\alpha \\, n_\\text{units}`, what uniform p-values would give (posterior
    predictive p-values are conservative, so fewer are expected under a fitting model).
    """
    check_probability("alpha", alpha)
    tail = (1.0 - result.attrs["interval"]) / 2
    rows = {}
    for name in result.attrs["statistics"]:
        t_rep = result[f"{name}_t_rep"].values
        p = result[f"{name}_p"].values
        p = p[~np.isnan(p)]
        finite = t_rep[np.isfinite(t_rep)]
        lo, hi = np.quantile(finite, [tail, 1 - tail]) if finite.size else (np.nan, np.nan)
        if STATISTICS[name] == "pair":
            counts = result[f"{name}_p_counts"].values
            n_units = int(counts.sum())
            n_extreme = int(counts[: int(np.floor(alpha * P_BINS + 1e-9))].sum())
        else:
            n_units, n_extreme = len(p), int((2 * np.minimum(p, 1 - p) < alpha).sum())
        rows[name] = {
            "discrepancy": GLOBAL_DISCREPANCIES[name],
            "t_obs": float(np.nanmean(result[f"{name}_t_obs"].values)),
            "t_rep": float(np.nanmean(t_rep)) if finite.size else np.nan,
            "t_rep_lo": lo,
            "t_rep_hi": hi,
            "ppp": result.attrs[f"{name}_ppp"],
            "unit": STATISTICS[name],
            "n_units": n_units,
            "n_extreme": n_extreme,
            "n_expected": alpha * n_units,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("statistic")


def ppc_unit_table(result: xr.Dataset, statistic: str) -> pd.DataFrame:
    """Per-unit values of one statistic of :func:`ppc`, most extreme p-value first.

    Columns ``observed``, ``replicated`` (mean), ``replicated_lo`` / ``replicated_hi``
    (where computed) and ``p``; indexed by subject, item, or for Q3 by ``(item, item2)``.
    """
    if statistic not in result.attrs["statistics"]:
        raise ValueError(
            f"statistic {statistic!r} is not in this result; it has "
            f"{', '.join(result.attrs['statistics'])}"
        )
    unit = STATISTICS[statistic]
    table = pd.DataFrame(
        {
            "observed": result[f"{statistic}_obs"].values,
            "replicated": result[f"{statistic}_rep_mean"].values,
        }
    )
    if f"{statistic}_rep_lo" in result:
        table["replicated_lo"] = result[f"{statistic}_rep_lo"].values
        table["replicated_hi"] = result[f"{statistic}_rep_hi"].values
    table["p"] = result[f"{statistic}_p"].values
    if unit == "pair":
        table.index = pd.MultiIndex.from_arrays(
            [result["pair_item"].values, result["pair_item2"].values], names=["item", "item2"]
        )
        return table
    table.index = pd.Index(result[unit].values, name=unit)
    extremity = np.minimum(table["p"], 1 - table["p"])
    return table.iloc[np.argsort(extremity.to_numpy(), kind="stable")]
