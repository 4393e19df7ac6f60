r"""Posterior draws of a fitted model as plain NumPy arrays.

Every analysis of a fit starts from the same arrays: the abilities :math:`\theta` and the item
parameters :math:`(a, b, c, d)` of each posterior draw. :func:`posterior_draws` extracts them
once, stacked over chains, with the defaults of the simpler models filled in, so the analysis
code never has to know which model was fitted. Stacked rather than kept as (chain, draw), the
ArviZ convention: every analysis here is a sum, a rank or a quantile over all draws (rank
distributions, expected scores, information), none compares chains, and one sample axis keeps
the chunked products simple; :meth:`PosteriorDraws.unstack` restores (chain, draw) where a
result is returned per draw. :func:`expected_scores` is the shared kernel
for "expected accuracy on a set of items", and :func:`item_weights` turns a user's item set
and weights into normalised weights over the fitted items.

The fitted model is an ``arviz.InferenceData`` with

* ``posterior``: ``theta`` (chain, draw, subject); ``a``, ``b`` (chain, draw, item); ``c``,
  ``d`` (chain, draw, item) only for the 3PL / 4PL (absent means :math:`c = 0`, :math:`d = 1`);
  coordinates ``subject`` and ``item`` hold the data's labels;
* ``constant_data``: the fitted :class:`~bayesirt.data.Responses` as written by
  :meth:`~bayesirt.data.Responses.to_xarray`.

Models with latent structure beyond :math:`(\theta, a, b, c, d)` (testlet, bifactor,
multidimensional; :mod:`bayesirt.models.correlated`) override
:meth:`~bayesirt.models.base.IRTModel.observation_probability`; for their fits
:attr:`PosteriorDraws.pair_probability` evaluates it, and :func:`expected_scores` uses it
instead of the 4PL curve. A multidimensional fit has no single ability: its draws carry only
the labels and ``pair_probability``, and reading ``theta`` or an item parameter from them is
an error that says so. So is reading an item parameter from a fit of ordinal scores
(:mod:`bayesirt.models.graded`), whose items have no binary curve; its ``pair_probability`` is
the expected score on [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from bayesirt.data import Responses
from bayesirt.data.validation import describe_values
from bayesirt.inference.io import fit_config, fitted_model_class, responses_from_fit
from bayesirt.models import IRTModel

__all__ = [
    "PosteriorDraws",
    "expected_scores",
    "fitted_responses",
    "item_weights",
    "posterior_draws",
]

#: Largest number of float64 cells a chunked kernel builds at once (32 MiB).
CHUNK_ELEMENTS = 2**22


@dataclass(frozen=True)
class PosteriorDraws:
    """Posterior draws of a fit, stacked over chains.

    Draw ``s`` of the stacked arrays is draw ``s % n_draw`` of chain ``s // n_draw`` (chain-
    major order, as ``reshape`` of a (chain, draw, ...) array gives); ``theta[s]`` and the item
    parameters ``a[s], b[s], c[s], d[s]`` belong to the same joint draw.

    Attributes
    ----------
    theta : numpy.ndarray, shape (n_samples, n_subjects)
    a, b, c, d : numpy.ndarray, shape (n_samples, n_items)
        ``c`` is zeros and ``d`` ones when the fit has no such parameter (1PL, 2PL; 3PL for
        ``d``).
    subjects, items : pandas.Index
        String labels of the columns of ``theta`` and of the item arrays.
    n_chain, n_draw : int
        Shape of the draws before stacking (``n_samples = n_chain * n_draw``).
    pair_probability : callable or None
        ``pair_probability(subject_index, item_index)`` → P(correct) at those pairs in every
        stacked draw, (n_samples, n_pairs), for models that override
        :meth:`~bayesirt.models.base.IRTModel.observation_probability`; None where the 4PL
        curve of the arrays above is the model.
    """

    theta: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    subjects: pd.Index
    items: pd.Index
    n_chain: int
    n_draw: int
    pair_probability: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    @property
    def n_samples(self) -> int:
        """Number of stacked draws, ``n_chain * n_draw``."""
        return self.n_chain * self.n_draw

    def unstack(self, values: np.ndarray) -> np.ndarray:
        """Reshape an array with the stacked draws first to (chain, draw, ...)."""
        return np.asarray(values).reshape(self.n_chain, self.n_draw, *np.shape(values)[1:])


def posterior_draws(idata) -> PosteriorDraws:
    r"""Extract :math:`(\theta, a, b, c, d)` draws of a fit as stacked NumPy arrays.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fitted model (see the module docstring for the expected variables).

    Returns
    -------
    PosteriorDraws
        Arrays of shape (chain × draw, subject) for ``theta`` and (chain × draw, item) for the
        item parameters, with ``c = 0`` and ``d = 1`` filled in when absent.

    Raises
    ------
    ValueError
        If the posterior group or one of ``theta``, ``a``, ``b`` is missing, or a variable does
        not have the expected dimensions.
    """
    posterior = getattr(idata, "posterior", None)
    if posterior is None:
        raise ValueError("the InferenceData has no posterior group; pass a fitted model")
    pair_probability = _pair_probability(idata, posterior)
    if "theta" in posterior and "trait" in posterior["theta"].dims:
        no_curves = dict.fromkeys(("theta", "a", "b", "c", "d"))
        return _labelled(_TraitDraws, posterior, pair_probability, **no_curves)
    if "intercepts" in posterior or "cutpoints" in posterior:  # graded or ordered beta
        no_curves = dict.fromkeys(("a", "b", "c", "d"))
        theta = _stacked(posterior["theta"], "subject")
        return _labelled(_ScoreDraws, posterior, pair_probability, theta=theta, **no_curves)
    missing = [name for name in ("theta", "a", "b") if name not in posterior]
    if missing:
        raise ValueError(
            f"the posterior lacks variable(s) {missing}; a fitted IRT model has theta, a, b "
            f"(and c, d for the 3PL/4PL); found {sorted(posterior.data_vars)}"
        )
    theta = _stacked(posterior["theta"], "subject")
    params = {name: _stacked(posterior[name], "item") for name in ("a", "b")}
    for name, default in (("c", 0.0), ("d", 1.0)):
        if name in posterior:
            params[name] = _stacked(posterior[name], "item")
        else:
            params[name] = np.full_like(params["a"], default)
    return _labelled(PosteriorDraws, posterior, pair_probability, theta=theta, **params)


def _labelled(cls: type[PosteriorDraws], posterior, pair_probability, **arrays) -> PosteriorDraws:
    """``cls`` of the ``arrays`` with the labels and shape of the draws of ``posterior``."""
    return cls(
        subjects=pd.Index(posterior["subject"].values.astype(str), name="subject"),
        items=pd.Index(posterior["item"].values.astype(str), name="item"),
        n_chain=posterior.sizes["chain"],
        n_draw=posterior.sizes["draw"],
        pair_probability=pair_probability,
        **arrays,
    )


class _PartialDraws(PosteriorDraws):
    """Draws of a fit without some of the binary-curve arrays: reading one of :attr:`missing`
    raises :attr:`reason`."""

    missing: tuple[str, ...] = ()
    reason: str = ""

    def __getattribute__(self, name: str):
        if name in type(self).missing:
            raise ValueError(type(self).reason)
        return super().__getattribute__(name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.subjects)} subjects, {len(self.items)} items)"


class _TraitDraws(_PartialDraws):
    """Draws of a fit with several abilities per subject (``theta`` over ``trait``)."""

    missing = ("theta", "a", "b", "c", "d")
    reason = (
        "this fit has several abilities per subject (theta over 'trait'), so there is "
        "no single ability or item curve to analyse; rank it by expected score "
        "(rank(idata, by='score'))"
    )


class _ScoreDraws(_PartialDraws):
    """Draws of a model of ordinal or continuous scores (graded response, partial credit,
    ordered beta): one ability per subject, but no binary item curve."""

    missing = ("a", "b", "c", "d")
    reason = (
        "this fit is a model of ordinal or continuous scores: the analyses of binary "
        "item curves (information, posterior predictive checks, item fit, subsets, "
        "scoring new subjects) do not apply to it yet; rank it by ability or by "
        "expected score (rank(idata, by='score'))"
    )


def draw_sample(n_samples: int, n_draws: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``n_draws`` of ``n_samples`` stacked draws, chosen by ``rng`` without
    replacement; all of them for ``None`` or at least ``n_samples`` (callers check
    ``n_draws``)."""
    if n_draws is None or n_draws >= n_samples:
        return np.arange(n_samples)
    return np.sort(rng.choice(n_samples, size=n_draws, replace=False))


def _pair_probability(idata, posterior):
    """The fitted model's own P(correct) at index pairs, stacked over draws, when its class
    overrides :meth:`~bayesirt.models.base.IRTModel.observation_probability`; else None."""
    if fit_config(idata) is None:
        return None
    model_cls = fitted_model_class(idata)
    if model_cls.observation_probability.__func__ is IRTModel.observation_probability.__func__:
        return None

    def probability(subject_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        prob = model_cls.observation_probability(posterior, subject_index, item_index)
        return prob.reshape(-1, len(subject_index))

    return probability


def thinned(data, max_draws: int):
    """``data`` (an InferenceData or a posterior Dataset) with at most ``max_draws`` draws in
    all: every k-th draw of each chain, the smallest such k."""
    sizes = (data.posterior if hasattr(data, "posterior") else data).sizes
    step = -(-sizes["chain"] * sizes["draw"] // max_draws)
    return data.isel(draw=slice(None, None, step)) if step > 1 else data


def fitted_responses(idata) -> Responses:
    """The responses a model was fitted to, rebuilt from ``idata.constant_data``
    (:func:`bayesirt.inference.io.responses_from_fit`; its :class:`ValueError` says how to get
    a fit that has them)."""
    return responses_from_fit(
        idata,
        missing="the InferenceData has no constant_data with the fitted responses; models "
        "fitted with bayesirt.fit store them there",
    )


def item_weights(
    fitted_items: pd.Index,
    *,
    items: Sequence | None = None,
    weights: Sequence[float] | Mapping | pd.Series | None = None,
) -> np.ndarray:
    """Normalised weights over ``fitted_items`` for an item set and optional weights.

    Items outside the set get weight 0. See :func:`bayesirt.analysis.rank` for the accepted
    forms.

    Raises
    ------
    ValueError
        Naming unknown or repeated item labels, labels missing from (or extra in) a weight
        mapping, negative or non-finite weights, or weights that sum to zero.
    """
    fitted = pd.Index(fitted_items.astype(str))
    keyed = isinstance(weights, Mapping | pd.Series)
    if keyed:
        weights = pd.Series(weights, dtype=float)
        weights.index = weights.index.astype(str)
        if items is None:
            items = list(weights.index)
    chosen = fitted if items is None else pd.Index([str(i) for i in items])
    if chosen.empty:
        raise ValueError("the item set is empty")
    if chosen.has_duplicates:
        raise ValueError(f"repeated item labels: {describe_values(chosen[chosen.duplicated()])}")
    unknown = chosen.difference(fitted, sort=False)
    if len(unknown):
        raise ValueError(f"item label(s) not in the fitted model: {describe_values(unknown)}")

    if weights is None:
        w = np.ones(len(chosen))
    elif keyed:
        missing = chosen.difference(weights.index, sort=False)
        extra = weights.index.difference(chosen, sort=False)
        if len(missing) or len(extra):
            raise ValueError(
                "weights must be keyed by exactly the chosen items; "
                f"missing: {describe_values(missing) or 'none'}, "
                f"extra: {describe_values(extra) or 'none'}"
            )
        w = weights.loc[chosen].to_numpy()
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(chosen),):
            raise ValueError(
                f"weights has shape {w.shape}; expected one weight per item ({len(chosen)})"
            )
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValueError(
            "weights must be finite and non-negative; bad weight for item(s) "
            f"{describe_values(chosen[bad])}"
        )
    if w.sum() <= 0:
        raise ValueError("the item weights sum to zero")
    out = np.zeros(len(fitted))
    out[fitted.get_indexer(chosen)] = w / w.sum()
    return out


def expected_scores(
    draws: PosteriorDraws,
    weights: np.ndarray,
    *,
    max_elements: int = CHUNK_ELEMENTS,
) -> np.ndarray:
    r"""Expected accuracy of each subject in each draw, on items weighted by ``weights``.

    .. math::

        S_j^{(s)} = \sum_i w_i \, P\big(\theta_j^{(s)}; a_i^{(s)}, b_i^{(s)}, c_i^{(s)},
        d_i^{(s)}\big), \qquad \sum_i w_i = 1,

    the posterior probability of a correct answer averaged over the items (observed or not),
    with the fitted model's own :math:`P` (``draws.pair_probability``) where it has one. Only
    items with :math:`w_i > 0` are evaluated, and the draws × subjects × items products
    are built in blocks of at most ``max_elements`` cells, so memory stays bounded.

    Parameters
    ----------
    draws : PosteriorDraws
    weights : numpy.ndarray, shape (n_items,)
        Non-negative item weights over ``draws.items``, summing to one.
    max_elements : int
        Size of the largest temporary block.

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_subjects)
    """
    used = np.flatnonzero(weights > 0)
    w = weights[used]
    n_samples, n_subjects = draws.n_samples, len(draws.subjects)
    out = np.zeros((n_samples, n_subjects))
    if draws.pair_probability is not None:
        step = max(1, max_elements // (n_samples * n_subjects))
        subjects = np.arange(n_subjects)
        for first in range(0, len(used), step):
            cols = used[first : first + step]
            prob = draws.pair_probability(np.repeat(subjects, len(cols)), np.tile(cols, n_subjects))
            out += prob.reshape(n_samples, n_subjects, len(cols)) @ w[first : first + step]
        return out
    per_draw = n_subjects * len(used)
    draw_step = max(1, max_elements // max(per_draw, 1))
    item_step = max(1, max_elements // (n_subjects * draw_step))
    for start in range(0, n_samples, draw_step):
        rows = slice(start, start + draw_step)
        theta = draws.theta[rows, :, None]
        for first in range(0, len(used), item_step):
            cols = used[first : first + item_step]
            a, b, c, d = (p[rows, None, cols] for p in (draws.a, draws.b, draws.c, draws.d))
            prob = c + (d - c) * expit(a * (theta - b))
            out[rows] += prob @ w[first : first + item_step]
    return out


def _stacked(var: xr.DataArray, dim: str) -> np.ndarray:
    expected = {"chain", "draw", dim}
    if set(var.dims) != expected:
        raise ValueError(
            f"posterior variable {var.name!r} has dims {var.dims}; expected (chain, draw, {dim})"
        )
    values = var.transpose("chain", "draw", dim).values.astype(float)
    return values.reshape(-1, values.shape[-1])
