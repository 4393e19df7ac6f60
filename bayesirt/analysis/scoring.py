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

:func:`add_subjects` puts those draws into the fit itself, so that new models join the
ranking (and every other analysis) of the fitted ones without a refit, and :func:`item_drift`
checks whether the new models' answers still follow the fitted items, i.e. whether the cut
is safe or the items moved and a refit is due.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, softmax

from bayesirt._validate import check_positive_int, check_probability
from bayesirt.analysis.posterior import (
    CHUNK_ELEMENTS,
    PosteriorDraws,
    fitted_responses,
    posterior_draws,
    thinned,
)
from bayesirt.analysis.ranks import rank_probabilities, rank_quantile
from bayesirt.data import Responses
from bayesirt.data.validation import describe_values
from bayesirt.inference.io import FINGERPRINT_ATTR
from bayesirt.irt import icc, quadrature

__all__ = ["add_subjects", "item_drift", "score_new", "score_to_json"]

#: Nodes of the coarse grid that locates each posterior before the fine grid is laid out.
COARSE_NODES = 121
#: The fine grid covers every coarse node within this many nats of a draw's highest node...
SUPPORT_NATS = 20.0
#: ... over at most this many draws, evenly spaced through the stacked draws.
SUPPORT_DRAWS = 100
#: Attribute of a fit that lists the subjects :func:`add_subjects` added (JSON list).
ADDED_ATTR = "bayesirt_added_subjects"


def score_new(
    idata,
    responses: Responses,
    *,
    interval: float = 0.9,
    n_nodes: int = 101,
    bounds: tuple[float, float] = (-12.0, 12.0),
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
        Range of θ considered. The fitted θ have mean 0 and sd 1 in every draw, but a new
        subject that answers (nearly) every item right or wrong is pushed far out, where
        only the prior holds it (on AlpacaEval 2 a model winning every comparison sat near
        θ = 8 on the scale of the others), so the default reaches well beyond the fitted
        subjects.
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


def add_subjects(
    idata,
    responses: Responses,
    *,
    max_draws: int | None = 1000,
    n_nodes: int = 41,
    random_seed: int = 0,
    **scoring,
):
    r"""The fit with new subjects added: their ability draws from the cut posterior of
    :func:`score_new` (one per posterior draw of the items), their responses in
    ``constant_data``.

    Every analysis of a fit then covers them with the fitted subjects (:func:`rank`, the
    report, ...): ranks are computed draw by draw over old and new abilities alike. The
    fitted subjects and the items are unchanged, which is right as long as the new answers
    follow the fitted items; :func:`item_drift` checks that (and says when to refit). The
    subjects added are listed in the fit's attribute :data:`ADDED_ATTR`; the
    ``log_likelihood`` group, which would lack them, is dropped.

    The cost is draws × new answers × ``n_nodes``, so the fit is first thinned to at most
    ``max_draws`` draws (every k-th draw of each chain): thinning a correlated chain keeps
    most of its effective sample size, and with it the addition takes seconds where a refit
    takes minutes (``benchmarks/add_subjects.py``). The grid of 41 nodes spans about ±6
    posterior sd per subject; the density is piecewise constant on its cells, which widens
    the sd by under 1%.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit of a model with one ability per subject (``theta``: chain, draw, subject).
    responses : Responses
        Binary responses of the new subjects on fitted items.
    max_draws : int or None
        Keep at most this many draws of the fit (None: all).
    n_nodes : int
        Nodes of each new subject's grid (:func:`score_new`).
    random_seed : int
        Seed of the draws.
    **scoring
        ``bounds`` of :func:`score_new`.

    Raises
    ------
    ValueError
        As :func:`score_new`, or for a model with other per-subject parameters.
    """
    per_subject = [
        name
        for name, value in idata.posterior.data_vars.items()
        if "subject" in value.dims and name != "theta"
    ]
    if per_subject or idata.posterior["theta"].dims != ("chain", "draw", "subject"):
        raise ValueError(
            "add_subjects needs a model whose only per-subject parameter is a scalar ability "
            f"theta (chain, draw, subject); this fit has {describe_values(pd.Index(per_subject))}"
            f" and theta {idata.posterior['theta'].dims}"
        )
    if max_draws is not None:
        check_positive_int("max_draws", max_draws)
        idata = thinned(idata, max_draws)
    fitted = fitted_responses(idata)
    scored = score_new(idata, responses, n_nodes=n_nodes, random_seed=random_seed, **scoring)
    theta = idata.posterior["theta"]
    new_theta = xr.DataArray(
        scored["theta"].values,
        dims=theta.dims,
        coords={"chain": theta["chain"], "draw": theta["draw"], "subject": scored["subject"]},
    )
    posterior = idata.posterior.drop_vars(["theta", "subject"]).assign(
        theta=xr.concat([theta, new_theta], dim="subject")
    )
    combined = _joined(fitted, responses)
    updated = idata.copy()
    if "log_likelihood" in updated.groups():
        del updated.log_likelihood
    updated.posterior = posterior.transpose("chain", "draw", "subject", ...)
    updated.constant_data = combined.to_xarray()
    added = [*_added(idata), *map(str, scored["subject"].values)]
    updated.attrs = {
        **idata.attrs,
        FINGERPRINT_ATTR: combined.fingerprint(),
        ADDED_ATTR: json.dumps(added),
    }
    return updated


def item_drift(
    idata, *, alpha: float = 0.05, n_draws: int = 500, random_seed: int = 0
) -> pd.DataFrame:
    r"""Do the answers of the subjects added by :func:`add_subjects` follow the fitted items?

    For each item :math:`i` answered by added subjects :math:`J_i`, its number right
    :math:`O_i = \sum_{j \in J_i} y_{ij}` against replications
    :math:`T_i \sim \sum_{j} \text{Bernoulli}(P_i(\theta_j^{(s)}; \psi_i^{(s)}))`, one per
    draw :math:`s` (``n_draws`` evenly spaced): ``p_two_sided`` :math:`= 2\min(p, 1 - p)`
    with :math:`p = \Pr(T_i < O_i) + \frac12 \Pr(T_i = O_i)`, ``flagged`` below ``alpha``.
    The new answers did not inform :math:`\psi_i`, so under no drift the item p-values are
    close to uniform (slightly conservative: the new abilities were fitted to the same
    answers). Over all items, the discrepancy :math:`D = \sum_i (O_i - E_i)^2 / V_i`, with
    :math:`E_i` and :math:`V_i` the mean and variance of :math:`T_i` over draws and
    replications (the predictive distribution, item uncertainty included: a discrepancy at
    each draw's own mean would count the spread of the item draws as misfit), against its
    replications gives ``p_overall`` (in ``attrs``), and ``refit`` (in ``attrs``) is true
    where ``p_overall < alpha``: the items moved for the new subjects and a joint refit is
    due.

    Returns
    -------
    pandas.DataFrame
        One row per item with added answers: ``item``, ``n_added``, ``observed``,
        ``expected``, ``p_two_sided``, ``flagged``; smallest p first.
    """
    check_probability("alpha", alpha)
    added = pd.Index(_added(idata))
    if not len(added):
        raise ValueError("the fit has no subjects added by add_subjects")
    draws = posterior_draws(idata)
    rows = np.unique(np.linspace(0, draws.n_samples - 1, n_draws).round().astype(int))
    responses = fitted_responses(idata)
    new = responses.subset(subjects=added)
    subject = draws.subjects.get_indexer(new.subjects.astype(str))[new.subject_index]
    item = draws.items.get_indexer(new.items.astype(str))[new.item_index]
    p = icc(
        draws.theta[np.ix_(rows, subject)],
        *(getattr(draws, k)[np.ix_(rows, item)] for k in ("a", "b", "c", "d")),
    )
    codes, labels = pd.factorize(item)
    n_items = len(labels)

    def by_item(values: np.ndarray) -> np.ndarray:
        return np.stack([np.bincount(codes, weights=row, minlength=n_items) for row in values])

    rng = np.random.default_rng(random_seed)
    observed = np.bincount(codes, weights=new.response.astype(float), minlength=n_items)
    expected, variance = by_item(p), by_item(p * (1 - p))
    replicated = by_item((rng.random(p.shape) < p).astype(float))
    mid_p = (replicated < observed).mean(axis=0) + 0.5 * (replicated == observed).mean(axis=0)
    p_two_sided = np.minimum(1.0, 2 * np.minimum(mid_p, 1 - mid_p))
    mean = expected.mean(axis=0)
    spread = variance.mean(axis=0) + expected.var(axis=0)  # predictive variance of T_i
    scale = np.divide(1.0, spread, out=np.zeros_like(spread), where=spread > 0)
    d_obs = ((observed - mean) ** 2 * scale).sum()
    d_rep = ((replicated - mean) ** 2 * scale).sum(axis=1)
    p_overall = float((d_rep >= d_obs).mean())
    table = pd.DataFrame(
        {
            "item": draws.items[labels],
            "n_added": np.bincount(codes, minlength=n_items),
            "observed": observed,
            "expected": mean,
            "p_two_sided": p_two_sided,
            "flagged": p_two_sided < alpha,
        }
    ).sort_values("p_two_sided", kind="stable", ignore_index=True)
    table.attrs.update(p_overall=p_overall, refit=p_overall < alpha, alpha=alpha)
    return table


def _added(idata) -> list[str]:
    return json.loads(idata.attrs.get(ADDED_ATTR, "[]"))


def _joined(fitted: Responses, new: Responses) -> Responses:
    """The fitted responses followed by the new subjects' (on the fitted items)."""
    item_code = fitted.items.astype(str).get_indexer(new.items.astype(str))
    subjects = pd.Index([*fitted.subjects.astype(str), *new.subjects.astype(str)], name="subject")
    meta = pd.concat([fitted.subject_meta, new.subject_meta]).set_axis(subjects)
    return Responses(
        subject_index=np.concatenate([fitted.subject_index, new.subject_index + fitted.n_subjects]),
        item_index=np.concatenate([fitted.item_index, item_code[new.item_index]]),
        response=np.concatenate([fitted.response, new.response]),
        subjects=subjects,
        items=fitted.items,
        subject_meta=meta,
        item_meta=fitted.item_meta,
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
