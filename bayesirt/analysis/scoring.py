r"""Scoring subjects that were not in the fit, with the fitted items held at their posterior.

For a new subject with responses :math:`y` on some of the fitted items,
:func:`score_new` draws, for every posterior draw :math:`s` of the item parameters
:math:`\psi^{(s)} = (a^{(s)}, b^{(s)}, c^{(s)}, d^{(s)})`, one ability from

.. math::

    p(\theta \mid y, \psi^{(s)}) \propto \phi(\theta) \prod_{i \in O}
    P_i(\theta; \psi_i^{(s)})^{y_i} \big(1 - P_i(\theta; \psi_i^{(s)})\big)^{1 - y_i},

with the population prior :math:`\theta \sim N(0, 1)` of the fit's scale. Mixing over the
draws integrates the uncertainty of the item parameters instead of plugging in their means.
This is a *cut* posterior: the new responses do not feed back into the items (nor into the
fitted abilities), as if the subject had been scored after the fit was frozen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, softmax

from bayesirt._validate import check_probability
from bayesirt.analysis.posterior import CHUNK_ELEMENTS, PosteriorDraws, posterior_draws
from bayesirt.analysis.ranks import rank_probabilities, rank_quantile
from bayesirt.data import Responses
from bayesirt.data.validation import describe_values
from bayesirt.irt import quadrature

__all__ = ["score_new", "score_to_json"]

#: Nodes of the coarse grid that locates each posterior before the fine grid is laid out.
COARSE_NODES = 121
#: The fine grid covers every coarse node within this many nats of a draw's highest node...
SUPPORT_NATS = 20.0
#: ... over at most this many draws, evenly spaced through the stacked draws.
SUPPORT_DRAWS = 100


def score_new(
    idata,
    responses: Responses,
    *,
    interval: float = 0.9,
    n_nodes: int = 101,
    bounds: tuple[float, float] = (-6.0, 6.0),
    random_seed: int = 0,
) -> xr.Dataset:
    r"""Posterior ability and rank of subjects not in the fit (a cut posterior).

    For each stacked posterior draw :math:`s` and each new subject, the conditional posterior
    :math:`p(\theta \mid y, \psi^{(s)})` (see the module docstring) is evaluated on a grid and
    one :math:`\theta` is drawn from it, so the result has as many draws as the fit.

    The grid is laid out per subject in two passes: on a coarse grid of :data:`COARSE_NODES`
    nodes over ``bounds``, evaluated for :data:`SUPPORT_DRAWS` evenly spaced draws, it finds
    the nodes within :data:`SUPPORT_NATS` of each draw's highest node; ``n_nodes`` equally
    spaced nodes then span the union of those regions widened by one coarse step on each side
    (clipped to ``bounds``). On the fine grid, with spacing :math:`h`, the posterior is taken
    as piecewise constant on the cells :math:`[\theta_q - h/2, \theta_q + h/2]`: a draw picks
    a cell with probability :math:`p_q \propto \phi(\theta_q) L(\theta_q)` and a uniform
    point inside it.

    This is a *cut* posterior: item parameters come from the fit and are not updated by the
    new responses, and the fitted subjects are unchanged.

    Parameters
    ----------
    idata : arviz.InferenceData
        The fitted model.
    responses : Responses
        The new subjects' responses, on any subset of the fitted items (matched by label).
        A subject with no response gets the prior.
    interval : float in (0, 1)
        Mass of the central credible intervals.
    n_nodes : int
        Nodes of each subject's fine grid. The grid spans about ±6 posterior standard
        deviations, so the default spacing is near 0.13 sd. The cost is of order
        draws × answered cells × (``n_nodes`` + :data:`COARSE_NODES` × SUPPORT_DRAWS / draws).
    bounds : (float, float)
        Range of θ considered (the fitted θ have mean 0 and sd 1 in every draw).
    random_seed : int
        Seed of the draws from the grid posteriors.

    Returns
    -------
    xarray.Dataset
        Dims ``chain``, ``draw`` (as the fit), ``subject`` (the new labels), ``rank``
        (1 .. n_fitted + 1):

        ``theta`` (chain, draw, subject)
            The draws.
        ``rank_draws`` (chain, draw, subject)
            Rank among the fitted subjects, draw by draw: :math:`1 + \#\{k : \theta_k^{(s)} >
            \theta^{(s)}\}` over the fitted abilities of the same draw, ties counting half;
            each new subject is ranked on its own against the fit only.
        ``theta_mean``, ``theta_sd``, ``theta_lo``, ``theta_hi`` (subject)
            Moments and central-interval quantiles of the mixture over draws of the grid
            posteriors (exact for the piecewise-constant density, no Monte Carlo error).
        ``rank_mean``, ``rank_median``, ``rank_lo``, ``rank_hi`` (subject); ``p_rank`` (subject,
        rank)
            Summaries of the rank draws, read off :math:`P(\text{rank} = k)` as in
            :func:`bayesirt.analysis.rank`.

    Raises
    ------
    ValueError
        If item labels are not in the fit (naming them), new subject labels are already in
        the fit, or ``interval``, ``n_nodes`` or ``bounds`` are invalid.
    TypeError
        If ``responses`` is not a :class:`~bayesirt.data.Responses`.
    """
    check_probability("interval", interval)
    if n_nodes < 2:
        raise ValueError(f"n_nodes must be at least 2, got {n_nodes}")
    if not bounds[0] < bounds[1]:
        raise ValueError(f"bounds must be increasing, got {bounds}")
    if not isinstance(responses, Responses):
        raise TypeError(f"responses must be a Responses, got {type(responses).__name__}")
    responses.require_binary("scoring new subjects")
    draws = posterior_draws(idata)
    new_subjects = pd.Index(responses.subjects.astype(str), name="subject")
    clash = new_subjects.intersection(draws.subjects)
    if len(clash):
        raise ValueError(
            f"subject label(s) already in the fit: {describe_values(clash)}; score_new is for "
            "subjects the model has not seen (rename them to score them again)"
        )
    items = responses.items.astype(str)
    item_code = draws.items.get_indexer(items)
    if np.any(item_code < 0):
        raise ValueError(
            f"item label(s) not in the fitted model: {describe_values(items[item_code < 0])}"
        )

    obs = _Observations.build(responses, item_code)
    coarse, coarse_logw = quadrature(COARSE_NODES, bounds)
    lo, hi = _support(draws, obs, coarse, coarse_logw)
    step = coarse[1] - coarse[0]
    grid = np.linspace(
        np.maximum(coarse[lo] - step, bounds[0]), np.minimum(coarse[hi] + step, bounds[1]), n_nodes
    ).T
    width = grid[:, 1] - grid[:, 0]

    rng = np.random.default_rng(random_seed)
    pick = rng.random((draws.n_samples, obs.n_subjects))
    jitter = rng.random((draws.n_samples, obs.n_subjects)) - 0.5
    theta = np.empty((draws.n_samples, obs.n_subjects))
    mixture = np.zeros((obs.n_subjects, n_nodes))
    for rows, loglik in _chunked_loglik(draws, obs, grid):
        p = softmax(loglik - 0.5 * grid**2, axis=-1)
        mixture += p.sum(axis=0)
        cell = (np.cumsum(p, axis=-1) < pick[rows, :, None]).sum(axis=-1)
        cell = np.minimum(cell, n_nodes - 1)
        theta[rows] = np.take_along_axis(grid[None], cell[..., None], axis=-1)[..., 0]
        theta[rows] += jitter[rows] * width
    mixture /= draws.n_samples

    first, last = _rank_against(draws.theta, theta)
    n_positions = draws.theta.shape[1] + 1
    p_rank = rank_probabilities(first, last, n_positions)
    tail = (1.0 - interval) / 2
    mean = (mixture * grid).sum(axis=1)
    var = (mixture * (grid - mean[:, None]) ** 2).sum(axis=1) + width**2 / 12
    theta_lo, theta_hi = (_grid_quantile(grid, width, mixture, q) for q in (tail, 1 - tail))

    sample_dims = ("chain", "draw", "subject")
    return xr.Dataset(
        {
            "theta": (sample_dims, draws.unstack(theta)),
            "rank_draws": (sample_dims, draws.unstack((first + last) / 2)),
            "theta_mean": ("subject", mean),
            "theta_sd": ("subject", np.sqrt(var)),
            "theta_lo": ("subject", theta_lo),
            "theta_hi": ("subject", theta_hi),
            "rank_mean": ("subject", p_rank @ np.arange(1, n_positions + 1)),
            "rank_median": ("subject", rank_quantile(p_rank, 0.5)),
            "rank_lo": ("subject", rank_quantile(p_rank, tail)),
            "rank_hi": ("subject", rank_quantile(p_rank, 1 - tail)),
            "p_rank": (("subject", "rank"), p_rank),
        },
        coords={
            "chain": np.arange(draws.n_chain),
            "draw": np.arange(draws.n_draw),
            "subject": np.asarray(new_subjects),
            "rank": np.arange(1, n_positions + 1),
        },
        attrs={
            "posterior": "cut: item parameters held at their fitted posterior",
            "interval": interval,
            "n_nodes": n_nodes,
            "n_fitted_subjects": n_positions - 1,
            "random_seed": random_seed,
        },
    )


def score_to_json(scored: xr.Dataset, idata, responses: Responses, *, neighbours: int = 2) -> dict:
    r"""Plain-JSON summary of :func:`score_new`: one record per scored subject.

    Each record holds ``subject``, ``theta_mean``, ``theta_sd``, ``theta_lo``, ``theta_hi``,
    ``rank_lo``, ``rank_hi`` (the central interval of its rank among the fitted subjects plus
    itself), ``n_items`` (its answered items) and ``p_beats``: for the ``neighbours`` fitted
    subjects just above and the ``neighbours`` just below it by posterior mean ability,
    :math:`P(\theta_\text{new} > \theta_k)` over the joint draws (each draw of the new
    ability is made with the same posterior draw of the items as the fitted abilities it is
    compared with). Records are ordered best first.
    """
    # Only the fitted abilities, stacked in the same (chain, draw) order as the new ones.
    theta = idata.posterior["theta"].stack(sample=("chain", "draw")).transpose("sample", ...)
    fitted, labels = theta.values, theta["subject"].values
    fitted_mean = fitted.mean(axis=0)
    new_draws = scored["theta"].stack(sample=("chain", "draw")).transpose("sample", ...).values
    counts = responses.subject_counts().reindex(scored["subject"].values, fill_value=0)
    order = np.argsort(-scored["theta_mean"].values, kind="stable")
    records = []
    for j in order:
        mean = float(scored["theta_mean"].values[j])
        above = np.flatnonzero(fitted_mean > mean)
        below = np.flatnonzero(fitted_mean <= mean)
        nearest = [
            *above[np.argsort(fitted_mean[above])][:neighbours][::-1],
            *below[np.argsort(-fitted_mean[below])][:neighbours],
        ]
        records.append(
            {
                "subject": str(scored["subject"].values[j]),
                **{
                    key: float(scored[key].values[j])
                    for key in ("theta_mean", "theta_sd", "theta_lo", "theta_hi")
                },
                "rank_lo": int(scored["rank_lo"].values[j]),
                "rank_hi": int(scored["rank_hi"].values[j]),
                "n_items": int(counts.iloc[j]),
                "p_beats": [
                    {
                        "subject": str(labels[k]),
                        "theta_mean": float(fitted_mean[k]),
                        "p": float(np.mean(new_draws[:, j] > fitted[:, k])),
                    }
                    for k in nearest
                ],
            }
        )
    return {
        "n_fitted_subjects": int(scored.attrs["n_fitted_subjects"]),
        "interval": float(scored.attrs["interval"]),
        "subjects": records,
    }


@dataclass(frozen=True)
class _Observations:
    """New responses sorted by subject; subject ``j`` owns the slice ``starts[j]:ends[j]``."""

    item: np.ndarray
    response: np.ndarray
    subject: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @property
    def n_subjects(self) -> int:
        return len(self.starts)

    @classmethod
    def build(cls, responses: Responses, item_code: np.ndarray) -> _Observations:
        order = np.argsort(responses.subject_index, kind="stable")
        subject = responses.subject_index[order]
        codes = np.arange(responses.n_subjects)
        return cls(
            item=item_code[responses.item_index[order]],
            response=responses.response[order],
            subject=subject,
            starts=np.searchsorted(subject, codes, side="left"),
            ends=np.searchsorted(subject, codes, side="right"),
        )


def _chunked_loglik(
    draws: PosteriorDraws,
    obs: _Observations,
    nodes: np.ndarray,
    rows: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    r"""Yield ``(rows, L)``: log-likelihood of each new subject at its nodes, by draw blocks.

    ``nodes`` is (n_nodes,) shared by all subjects or (n_subjects, n_nodes); ``rows`` selects
    the stacked draws to visit (default all). ``L`` has shape (block, n_subjects, n_nodes),
    :math:`L_{sjq} = \sum_{i \in O_j} \log p(y_{ij} \mid \theta_{jq}, \psi_i^{(s)})`.

    Without asymptotes :math:`\log p = \log\sigma(\pm z)`, :math:`z = a(\theta - b)`, is
    evaluated in place in its stable form.
    """
    rows = np.arange(draws.n_samples) if rows is None else rows
    at_obs = nodes if nodes.ndim == 1 else nodes[obs.subject]
    n_obs, n_nodes = len(obs.item), nodes.shape[-1]
    answered = obs.ends > obs.starts
    asymptotes = np.any(draws.c[:, obs.item] != 0) or np.any(draws.d[:, obs.item] != 1)
    sign = 2.0 * obs.response - 1.0
    step = max(1, CHUNK_ELEMENTS // max(n_obs * n_nodes, 1))
    for start in range(0, len(rows), step):
        block = rows[start : start + step]
        out = np.zeros((len(block), obs.n_subjects, n_nodes))
        if n_obs:
            a, b, c, d = (p[block][:, obs.item, None] for p in (draws.a, draws.b, draws.c, draws.d))
            z = at_obs - b
            if asymptotes:
                z *= a
                prob = c + (d - c) * expit(z)
                ll = np.log(np.where(obs.response[:, None] == 1, prob, 1.0 - prob))
            else:
                # log σ(x) = min(x, 0) - log1p(exp(-|x|)) with x = ±z (+ if y = 1)
                z *= a * sign[:, None]
                tail = np.abs(z)
                np.negative(tail, out=tail)
                np.exp(tail, out=tail)
                np.log1p(tail, out=tail)
                ll = np.minimum(z, 0.0, out=z)
                ll -= tail
            out[:, answered] = np.add.reduceat(ll, obs.starts[answered], axis=1)
        yield block, out


def _support(
    draws: PosteriorDraws, obs: _Observations, nodes: np.ndarray, log_prior: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per subject, the first and last coarse node within SUPPORT_NATS of a draw's maximum.

    Taken over SUPPORT_DRAWS evenly spaced draws: the margin of SUPPORT_NATS (several
    posterior standard deviations) absorbs the shift of the posterior between draws.
    """
    lo = np.full(obs.n_subjects, len(nodes) - 1)
    hi = np.zeros(obs.n_subjects, dtype=np.int64)
    rows = np.unique(np.linspace(0, draws.n_samples - 1, SUPPORT_DRAWS).round().astype(int))
    for _, loglik in _chunked_loglik(draws, obs, nodes, rows):
        log_post = loglik + log_prior
        near = log_post >= log_post.max(axis=-1, keepdims=True) - SUPPORT_NATS
        lo = np.minimum(lo, np.argmax(near, axis=-1).min(axis=0))
        hi = np.maximum(hi, (len(nodes) - 1 - np.argmax(near[..., ::-1], axis=-1)).max(axis=0))
    return lo, hi


def _rank_against(fitted: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tie-group bounds of each new value among the fitted values of the same draw."""
    first = np.empty(new.shape, dtype=np.int64)
    last = np.empty(new.shape, dtype=np.int64)
    for j in range(new.shape[1]):
        value = new[:, j, None]
        first[:, j] = 1 + (fitted > value).sum(axis=1)
        last[:, j] = first[:, j] + (fitted == value).sum(axis=1)
    return first, last


def _grid_quantile(grid: np.ndarray, width: np.ndarray, mass: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` of piecewise-constant densities with cell masses ``mass`` (per row)."""
    cdf = np.cumsum(mass, axis=1)
    cell = np.minimum((cdf < q).sum(axis=1), grid.shape[1] - 1)
    rows = np.arange(len(grid))
    below = cdf[rows, cell] - mass[rows, cell]
    inside = np.clip((q - below) / np.maximum(mass[rows, cell], 1e-300), 0.0, 1.0)
    return grid[rows, cell] - width / 2 + inside * width
