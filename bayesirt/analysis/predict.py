r"""Questions and benchmarks nobody has answered yet, predicted from their content.

A fit of an explanatory model holds, in every posterior draw :math:`s`, the regression of the
item parameters on the standardised features. For the explanatory 2PL
(:class:`bayesirt.models.ExplanatoryTwoPL`), a new item with features :math:`x`,
standardised with the fitted items' mean and sd into :math:`z`, is drawn from the posterior
predictive

.. math::

    \alpha^{(s)} &= \mu_\alpha^{(s)} + z^\top\beta_\alpha^{(s)} + \sigma_\alpha^{(s)}
    \varepsilon, \qquad
    \log a^{(s)} = \mu_{\log a}^{(s)} + [z^\top\beta_{\log a}^{(s)}] + \sigma_{\log a}^{(s)}
    \varepsilon', \qquad \varepsilon, \varepsilon' \sim N(0, 1),\\
    b^{(s)} &= -\alpha^{(s)} / a^{(s)},

one draw per posterior draw (the bracket only when the fit regressed :math:`\log a` too).
The residual term is what makes the intervals honest: the features explain a share
:math:`R^2` of the intercepts, and the rest is as uncertain for a new item as the
population says.

For the explanatory multidimensional 2PL (:class:`bayesirt.models.ExplanatoryMIRT`) the
intercept, the general log-discrimination and each contrast are drawn the same way, in the
stored orientation of the traits, from the regression on the features' deviation from
their benchmark's mean features :math:`\bar z_g` (:mod:`bayesirt.models.explanatory_mirt`):
for a fitted benchmark :math:`g`, its posterior mean parameter plus
:math:`(z - \bar z_g)^\top\beta^{(s)}`; for a benchmark that was not fitted,
:math:`\mu^{(s)} + (z - \bar z_{\text{new}})^\top\beta^{(s)} + \tau^{(s)} u`, with
:math:`\bar z_{\text{new}}` the mean of its new items, one :math:`u \sim N(0, 1)` per
draw shared by all of them, and :math:`(\mu^{(s)}, \tau^{(s)})` drawn from their exact
conditional posterior given draw :math:`s`'s effects of the fitted benchmarks
(:func:`_new_benchmark_effects`: a handful of benchmarks measure the spread of their
effects poorly, and mean-field ADVI keeps too little of that uncertainty). Items of
unknown origin (``benchmark=None``) each get their own
:math:`u` and deviate from the mean of the fitted benchmarks' mean features.

:func:`predict_items` returns an item bank: an ``InferenceData`` whose posterior holds the
fit's abilities and the predicted items' draws, so it goes wherever a fit goes as a source of
item parameters: :func:`bayesirt.score_new` (score a new model on the predicted items),
:func:`bayesirt.analysis.select_items` (methods that use item parameters: ``fisher``,
``bayesian``, ``anchor`` with the IRT representation) and
:func:`bayesirt.analysis.simulate_adaptive_test` (unidimensional banks), and
:func:`bayesirt.analysis.route` (any bank). With ``include_fitted=True`` the fitted items
come first with their own posterior draws, so a test can mix calibrated and predicted items.

:func:`predict_benchmark` predicts every fitted subject's accuracy on a benchmark from its
questions' text alone: in every draw the mean over the benchmark's items of
:math:`P(y = 1 \mid \theta_j^{(s)}, \text{item}^{(s)})`, so the interval carries the
uncertainty of the abilities, of the regression, of each item's residual and of the
benchmark's own effect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy.special import expit

from bayesirt._validate import check_probability
from bayesirt.analysis.posterior import CHUNK_ELEMENTS, fitted_responses
from bayesirt.data import Responses
from bayesirt.data.features import read_item_features
from bayesirt.data.validation import describe_values
from bayesirt.inference.io import CONFIG_ATTR, fit_config
from bayesirt.models import ExplanatoryMIRT, ExplanatoryTwoPL, model_from_config

__all__ = ["item_probabilities", "predict_benchmark", "predict_items"]

#: Item parameters predicted (draws in the posterior, summaries in ``predictions``).
PREDICTED = ("intercept", "a", "b")
#: The models whose item parameters are regressed on features.
EXPLANATORY = (ExplanatoryTwoPL.name, ExplanatoryMIRT.name)
#: Attribute of an item bank: its new items, their benchmarks, the interval and the seed.
PREDICTED_ATTR = "bayesirt_predicted_items"
#: Cells of the grid on which the scale of a new benchmark's effects is drawn
#: (:func:`_new_benchmark_effects`).
SCALE_GRID_POINTS = 400


def predict_items(
    idata: az.InferenceData,
    new_item_features: pd.DataFrame,
    *,
    benchmark: str | Mapping | pd.Series | None = None,
    interval: float = 0.9,
    include_fitted: bool = False,
    random_seed: int = 0,
) -> az.InferenceData:
    r"""Posterior predictive item parameters of items with no responses (module docstring).

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit of an explanatory model (``"2pl-explanatory"`` or ``"mirt-explanatory"``).
    new_item_features : pandas.DataFrame
        One row per new item (index: label), with the fitted feature columns in the fitted
        order, made by the same transformation as the fitted items' features (see
        :mod:`bayesirt.data.features`).
    benchmark : str, mapping or Series, optional
        Multidimensional fits pooled by benchmark (``pool_by``) only: the benchmark of the new
        items, one label for all or one per item. A fitted benchmark's items get its
        effects; the items of a benchmark that was not fitted share one new effect per draw;
        ``None`` (default) treats each item as of unknown origin, with its own new effect.
    interval : float in (0, 1)
        Mass of the central intervals in ``predictions``.
    include_fitted : bool
        Put the fitted items (with their posterior draws) before the new ones in the bank.
    random_seed : int
        Seed of the residual and new benchmark draws.

    Returns
    -------
    arviz.InferenceData
        ``posterior``: ``theta`` (chain, draw, subject[, trait]) of the fit, and
        ``intercept``, ``a`` (chain, draw, item[, trait]), ``b`` of the bank's items.
        ``constant_data``: the fit's responses with the new items added as items without any
        response. ``predictions``: for the new items, ``<p>_mean``, ``<p>_sd``, ``<p>_lo``,
        ``<p>_hi`` (central ``interval``) of each predicted parameter. ``attrs``: the fit's
        ``bayesirt_config`` and ``bayesirt_predicted_items`` (JSON: the new labels, their
        benchmarks, the interval, the seed). It is an item bank, not a fit:
        :func:`bayesirt.inference.save_fit` refuses it.

    Raises
    ------
    ValueError
        If the fit is not of an explanatory model, a new label is already a fitted item, the
        feature columns differ from the fitted ones (naming them) or a value is missing or
        not finite, ``benchmark`` is given for a fit without benchmarks or misses items, or
        ``interval`` is outside (0, 1).
    """
    check_probability("interval", interval)
    model, responses = _explanatory_model(idata)
    features = read_item_features(new_item_features)
    features.index = features.index.astype(str)
    clash = features.index.intersection(responses.items.astype(str))
    if len(clash):
        raise ValueError(
            f"item(s) {describe_values(clash)} are fitted items: their parameters are in the "
            "fit; predict_items is for items without responses"
        )
    benchmarks = _new_item_benchmarks(model, features.index, benchmark)
    z = model.design.standardise(features)

    post = idata.posterior
    rng = np.random.default_rng(random_seed)
    codes = None  # the new items' benchmark codes in a fit pooled by benchmark
    if isinstance(model, ExplanatoryMIRT) and model.pool_by is not None:
        codes = _bank_benchmark_codes(post, model.pool_by, benchmarks, len(features))
    if isinstance(model, ExplanatoryMIRT):
        intercept, a = _mirt_items(model, post, z, codes, rng)
        b = -intercept / np.sqrt(np.sum(a**2, axis=-1))
        item_dims = ("chain", "draw", "item", "trait")
    else:
        intercept, a = _two_pl_items(model, post, z, rng)
        b = -intercept / a
        item_dims = ("chain", "draw", "item")
    drawn = {"intercept": intercept, "a": a, "b": b}
    dims = {"intercept": item_dims[:3], "a": item_dims, "b": item_dims[:3]}
    coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    coords["item"] = np.asarray(features.index)
    if "trait" in post["a"].dims:
        coords["trait"] = post["trait"].values
    new = xr.Dataset({name: (dims[name], drawn[name]) for name in PREDICTED}, coords=coords)
    items = new
    if include_fitted:
        items = xr.concat([post[list(PREDICTED)], new], dim="item")
    bank = items.assign(theta=post["theta"])[["theta", *PREDICTED]]
    if "benchmark_ability" in post:  # a pooled MIRT: the subjects' benchmark abilities
        if include_fitted:
            fitted_codes = post["item_benchmark"].values.reshape(-1, post.sizes["item"])[0]
            codes = np.concatenate([fitted_codes.astype(int), codes])
        bank = bank.assign(
            benchmark_ability=post["benchmark_ability"],
            sigma_benchmark_ability=post["sigma_benchmark_ability"],
            item_benchmark=("item", codes),
        )

    tail = (1.0 - interval) / 2
    summary = {}
    for name in PREDICTED:
        draws = new[name]
        summary[f"{name}_mean"] = draws.mean(("chain", "draw"))
        summary[f"{name}_sd"] = draws.std(("chain", "draw"))
        summary[f"{name}_lo"] = draws.quantile(tail, ("chain", "draw")).drop_vars("quantile")
        summary[f"{name}_hi"] = draws.quantile(1 - tail, ("chain", "draw")).drop_vars("quantile")
    out = az.InferenceData(
        posterior=bank,
        constant_data=_with_new_items(responses, features.index).to_xarray(),
        predictions=xr.Dataset(summary),
    )
    out.attrs.update(
        {
            CONFIG_ATTR: json.dumps(fit_config(idata)),
            PREDICTED_ATTR: json.dumps(
                {
                    "items": list(features.index),
                    "benchmarks": None if benchmarks is None else list(benchmarks),
                    "interval": interval,
                    "random_seed": random_seed,
                }
            ),
        }
    )
    return out


def predict_benchmark(
    idata: az.InferenceData,
    item_features: pd.DataFrame,
    *,
    benchmark: str = "new benchmark",
    interval: float = 0.9,
    subjects=None,
    random_seed: int = 0,
) -> pd.DataFrame:
    r"""Every fitted subject's accuracy on a benchmark known only by its questions' content.

    In every posterior draw, the mean over the benchmark's items of the probability of a
    correct answer, the items drawn by :func:`predict_items` (all in ``benchmark``: for a fit
    pooled by benchmark, a name that was not fitted gives the benchmark one new effect per
    draw, shared by its items; a fitted name places the items in that benchmark).

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit of an explanatory model.
    item_features : pandas.DataFrame
        The benchmark's items (index: label), features made as for the fitted items.
    benchmark : str
        The benchmark's name (multidimensional fits pooled by benchmark only).
    interval : float in (0, 1)
    subjects : sequence of labels, optional
        The subjects to predict (default: all fitted subjects).
    random_seed : int

    Returns
    -------
    pandas.DataFrame
        Index ``subject``; ``accuracy`` (posterior mean), ``accuracy_sd``, ``accuracy_lo``,
        ``accuracy_hi`` (central ``interval``).

    Notes
    -----
    The interval is exact under the model, which treats the new benchmark as one more
    draw from the population of the fitted ones. With a handful of fitted benchmarks that
    population is poorly known, and a benchmark unlike all of them is covered less often
    than the interval's level: on metabench (250 LLMs, each of five benchmarks left out in
    turn, ``benchmarks/routing_metabench.py``) the 90% intervals covered 0.95, 0.76, 0.95,
    0.62 and 0.68 of the LLMs (arc, gsm8k, mmlu, truthfulqa, winogrande). A few answered
    questions of the new benchmark, fitted as a benchmark of their own, pin its level down.
    """
    check_probability("interval", interval)
    model, _ = _explanatory_model(idata)
    bank = predict_items(
        idata,
        item_features,
        benchmark=benchmark if isinstance(model, ExplanatoryMIRT) and model.pool_by else None,
        interval=interval,
        random_seed=random_seed,
    )
    subjects = bank.posterior["subject"].values if subjects is None else np.asarray(subjects)
    draws = []
    for k, start in enumerate(range(0, len(subjects), 100)):
        chunk = subjects[start : start + 100]
        prob = item_probabilities(bank, subjects=chunk, random_seed=random_seed + 1 + k)
        draws.append(prob.mean(axis=-1))
    accuracy = np.concatenate(draws, axis=-1).reshape(-1, len(subjects))
    tail = (1.0 - interval) / 2
    return pd.DataFrame(
        {
            "accuracy": accuracy.mean(axis=0),
            "accuracy_sd": accuracy.std(axis=0),
            "accuracy_lo": np.quantile(accuracy, tail, axis=0),
            "accuracy_hi": np.quantile(accuracy, 1 - tail, axis=0),
        },
        index=pd.Index(subjects, name="subject"),
    )


def item_probabilities(bank, *, subjects=None, items=None, random_seed: int = 0) -> np.ndarray:
    r"""P(correct) of subjects on items in every draw of a fit or item bank,
    :math:`\sigma(\mathbf a_i^\top\boldsymbol\theta_j + d_i)` (one trait or several), plus
    :math:`a_{i1}\gamma_{j g(i)}` where the fit has the subjects' benchmark abilities
    (:class:`~bayesirt.models.ExplanatoryMIRT` pooled by benchmark): for an item of a fitted
    benchmark its posterior draws; for a predicted item of a benchmark that was not fitted a
    draw :math:`\gamma \sim N(0, \sigma_\gamma)` per draw and subject, shared by the items of
    that benchmark (``random_seed``). Returns an array (chain, draw, subject, item), subjects
    and items in the order asked (default: all).

    Raises
    ------
    ValueError
        A subject or item label that is not in the posterior (naming it).
    """
    post = getattr(bank, "posterior", bank)
    theta = post["theta"]
    a, intercept = post["a"], post["intercept"]
    for label, values, dim in (("subject", subjects, theta), ("item", items, a)):
        if values is not None:
            unknown = pd.Index(values).difference(dim[label].values)
            if len(unknown):
                raise ValueError(f"unknown {label}(s) {describe_values(unknown)}")
    if subjects is not None:
        theta = theta.sel(subject=list(subjects))
    if items is not None:
        a, intercept = a.sel(item=list(items)), intercept.sel(item=list(items))
    if "trait" in theta.dims:
        t = theta.transpose("chain", "draw", "subject", "trait").values
        loading = a.transpose("chain", "draw", "item", "trait").values
        logit = np.einsum("cdjk,cdik->cdji", t, loading)
    else:
        t = theta.transpose("chain", "draw", "subject").values
        loading = a.transpose("chain", "draw", "item").values
        logit = t[..., :, None] * loading[..., None, :]
    logit = logit + intercept.transpose("chain", "draw", "item").values[..., None, :]
    if "benchmark_ability" in post:
        codes = post["item_benchmark"]
        codes = codes if items is None else codes.sel(item=list(items))
        codes = np.asarray(codes.values).reshape(-1, codes.sizes["item"])[0].astype(int)
        gamma = post["benchmark_ability"]
        if subjects is not None:
            gamma = gamma.sel(subject=list(subjects))
        gamma = gamma.transpose("chain", "draw", "subject", ...).values
        sigma = post["sigma_benchmark_ability"].values[..., None, None]
        logit = logit + loading[..., 0][..., None, :] * _benchmark_shift(
            gamma, sigma, codes, np.random.default_rng(random_seed)
        )
    return expit(logit)


def _benchmark_shift(gamma, sigma, codes, rng) -> np.ndarray:
    """Each subject's benchmark ability on each item (chain, draw, subject, item): fitted
    benchmarks (code >= 0) from ``gamma``, a new one per item of unknown origin (code -1),
    and one per new named benchmark (code -2 - h), shared by its items."""
    shape = gamma.shape[:3]
    out = np.zeros((*shape, len(codes)))
    known = codes >= 0
    out[..., known] = gamma[..., codes[known]]
    unknown = codes == -1
    out[..., unknown] = sigma * rng.standard_normal((*shape, int(unknown.sum())))
    named = codes <= -2
    if named.any():
        groups, index = np.unique(codes[named], return_inverse=True)
        out[..., named] = (sigma * rng.standard_normal((*shape, len(groups))))[..., index]
    return out


def _bank_benchmark_codes(post, pool_by: str, benchmarks, n: int) -> np.ndarray:
    """``item_benchmark`` of predicted items: the fitted benchmark's code, -1 for an item of
    unknown origin, -2 - h for the h-th benchmark that was not fitted."""
    if benchmarks is None:
        return np.full(n, -1)
    fitted = pd.Index(post[pool_by].values.astype(str))
    codes = fitted.get_indexer(benchmarks)
    new = pd.Index(pd.unique(benchmarks[codes < 0]))
    codes[codes < 0] = -2 - new.get_indexer(benchmarks[codes < 0])
    return codes


def _explanatory_model(idata):
    """The fitted explanatory model and its responses; a clear error for other fits."""
    config = fit_config(idata) or {}
    if config.get("model") not in EXPLANATORY:
        names = ", ".join(map(repr, EXPLANATORY))
        raise ValueError(
            f"predicting new items needs a fit of an explanatory model ({names}: item "
            f"parameters regressed on features), got model {config.get('model')!r}"
        )
    responses = fitted_responses(idata)
    responses.require_binary("predicting new items")
    return model_from_config(config, responses), responses


def _new_item_benchmarks(model, items: pd.Index, benchmark) -> np.ndarray | None:
    """The benchmark label of each new item (``None``: no benchmarks, or each its own)."""
    pooled = isinstance(model, ExplanatoryMIRT) and model.pool_by is not None
    if benchmark is None:
        return None
    if not pooled:
        raise ValueError(
            f"benchmark={benchmark!r} needs a multidimensional explanatory fit pooled by "
            "benchmark (pool_by); this fit has no benchmark effects"
        )
    if isinstance(benchmark, str):
        return np.full(len(items), benchmark, dtype=object)
    labels = pd.Series(benchmark) if isinstance(benchmark, Mapping) else benchmark
    if not isinstance(labels, pd.Series):
        raise TypeError(f"benchmark must be a label, a mapping or a Series, got {type(benchmark)}")
    labels.index = labels.index.astype(str)
    missing = items.difference(labels.index)
    if len(missing):
        raise ValueError(f"no benchmark for new item(s) {describe_values(missing)}")
    return labels.reindex(items).astype(str).to_numpy(dtype=object)


def _two_pl_items(model: ExplanatoryTwoPL, post, z: np.ndarray, rng):
    """Intercept and discrimination draws (chain, draw, item) of the explanatory 2PL."""
    shape = (post.sizes["chain"], post.sizes["draw"], len(z))
    explained = {"intercept": True, "log_a": model.explain_log_a}
    values = {}
    for key in ("intercept", "log_a"):
        mean = post[f"mu_{key}"].values[..., None]
        if explained[key]:
            mean = mean + np.einsum("cdk,nk->cdn", post[f"beta_{key}"].values, z)
        values[key] = mean + post[f"sigma_{key}"].values[..., None] * rng.standard_normal(shape)
    return values["intercept"], np.exp(values["log_a"])


def _mirt_items(model: ExplanatoryMIRT, post, z: np.ndarray, code, rng):
    """Intercept (chain, draw, item) and loading (chain, draw, item, trait) draws of the
    explanatory MIRT, in the stored orientation (module docstring); ``code`` is each new
    item's benchmark code (:func:`_bank_benchmark_codes`; ``None`` without benchmarks)."""
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    n, k = len(z), model.n_traits
    pooled = model.pool_by is not None
    z_group = model.group_feature_means()
    centre = np.broadcast_to(z_group[0], z.shape).copy()  # one benchmark: its mean
    if pooled:
        # one new effect per benchmark that was not fitted; an item of unknown origin (-1)
        # is a benchmark of its own
        key = np.where(code == -1, -2 - len(z) - np.arange(n), code)
        unfitted, known = code < 0, code >= 0
        new_groups, inverse = np.unique(key[unfitted], return_inverse=True)
        new_code = np.full(n, -1)
        new_code[unfitted] = inverse
        # features enter as deviations from the benchmark's mean: a fitted benchmark's,
        # a new one's own, and the mean benchmark's for an item of unknown origin
        centre[known] = z_group[code[known]]
        centre[code == -1] = z_group.mean(axis=0)
        for h in np.unique(new_code[code <= -2]):
            members = new_code == h
            centre[members] = z[members].mean(axis=0)

    def location(key, beta):
        """Mean (chain, draw, item, column) of a regressed parameter, benchmark effect
        included, before the item's residual; ``beta`` is (chain, draw, feature, column)."""
        out = np.einsum("cdfm,nf->cdnm", beta, z - centre)
        contrast = key == "a_contrast"
        if not pooled:
            return out + (0.0 if contrast else post[f"mu_{key}"].values[..., None, None])
        if unfitted.any():
            fresh = _new_benchmark_effects(model, post, key, (len(new_groups), beta.shape[-1]), rng)
            out[:, :, unfitted] += fresh[:, :, new_code[unfitted]]
        if known.any():
            group_mean = post["mu_a_contrast_group" if contrast else f"mu_{key}_group"].values
            if not contrast:
                group_mean = group_mean[..., None]
            out[:, :, known] += group_mean[:, :, code[known]]
        return out

    intercept, log_a = (
        location(key, post[f"beta_{key}"].values[..., None])[..., 0]
        + post[f"sigma_{key}"].values[..., None] * rng.standard_normal((n_chain, n_draw, n))
        for key in ("intercept", "log_a")
    )
    loadings = [np.exp(log_a)[..., None]]
    if k > 1:
        contrast = location("a_contrast", post["beta_a_contrast"].values)
        contrast = contrast + post["sigma_a_contrast"].values[
            ..., None, None
        ] * rng.standard_normal((n_chain, n_draw, n, k - 1))
        loadings.append(contrast - post["a_contrast_offset"].values[:, :, None, :])
    return intercept, np.concatenate(loadings, axis=-1)


def _new_benchmark_effects(
    model: ExplanatoryMIRT, post, key: str, shape: tuple[int, int], rng
) -> np.ndarray:
    r"""Effects :math:`\mu + \tau u` of benchmarks that were not fitted, (chain, draw,
    *shape*): one per new benchmark (rows) and column (one, or one per contrast).

    The benchmark effects of :mod:`bayesirt.models.explanatory_mirt` are exchangeable,
    :math:`\mu_g = \mu + \tau u_g`, and a new benchmark's is one more. Its spread is set by
    the scale :math:`\tau`, which the fitted benchmarks, a handful of them, measure poorly:
    with :math:`G` of them the predictive of a new effect has tails like a Student
    :math:`t` with :math:`G - 1` degrees of freedom, not like a normal. Mean-field ADVI, the
    fit at leaderboard size, keeps too little of that uncertainty (on metabench its
    posterior sd of :math:`\tau` was 0.01, and 90% intervals of the accuracy on a left-out
    benchmark covered 0.29–0.89 of the LLMs; 0.62–0.95 with the draws below).

    So in every draw :math:`s`, :math:`(\mu, \tau)` are drawn afresh from their exact
    conditional posterior given that draw's benchmark effects, which is all the data say
    about them (a Gibbs step on the hyperparameters, valid whichever algorithm made the
    draws; with NUTS draws it leaves their posterior as it was). For the intercept and the
    general log-discrimination the model has the benchmarks' sample means
    :math:`\bar x_g = \mu + \sqrt{\tau^2 + \sigma^2 / n_g}\, u_g`
    (:func:`~bayesirt.models._hierarchy.hierarchical_item_vector`; ``<key>_mean``,
    ``sigma_<key>``, :math:`n_g` items), and
    :math:`\mu \sim N(m_0, s_0)` integrates out:

    .. math::

        p(\tau \mid \bar x, \sigma) \propto p(\tau)\, \prod_g v_g^{-1/2}\,
        P^{-1/2} \exp\Big\{-\tfrac12\Big(\sum_g \frac{\bar x_g^2}{v_g}
        + \frac{m_0^2}{s_0^2} - P m^2\Big)\Big\}, \qquad
        \mu \mid \tau \sim N(m, P^{-1}),

    with :math:`v_g = \tau^2 + \sigma^2 / n_g`, :math:`P = s_0^{-2} + \sum_g v_g^{-1}` and
    :math:`m = (m_0 s_0^{-2} + \sum_g \bar x_g / v_g) / P`. The contrasts' benchmark
    effects (``mu_a_contrast_group``, :math:`G \times (K - 1)` of them) have mean 0, so
    :math:`p(\tau_c \mid c) \propto p(\tau_c) \prod_{g,k} \tau_c^{-1}
    \exp(-c_{gk}^2 / 2\tau_c^2)`. :math:`\tau` is drawn from its density on a grid of
    :data:`SCALE_GRID_POINTS` cells up to where the prior (:math:`p(\tau)`, the model's)
    keeps :math:`10^{-4}` of its mass or ten times the largest spread of the effects, and
    uniformly within its cell.
    """
    if key == "a_contrast":
        effects = post["mu_a_contrast_group"].values
        effects = effects.reshape(-1, effects.shape[2] * effects.shape[3])
        noise, mean_prior = np.zeros_like(effects), None
    else:
        effects = post[f"{key}_mean"].values.reshape(-1, post.sizes[model.pool_by])
        sizes = np.bincount(
            np.asarray(post["item_benchmark"].values).reshape(-1, post.sizes["item"])[0],
            minlength=effects.shape[1],
        )
        noise = post[f"sigma_{key}"].values.reshape(-1, 1) ** 2 / sizes
        mean_prior = model.priors[f"mu_{key}"].params
    prior = model.priors[f"tau_{key}"]
    n_draws = effects.shape[0]
    if prior.is_fixed:
        tau = np.full(n_draws, float(prior.params["c"]))
    else:
        dist = getattr(pm, prior.distribution).dist(**prior.params)
        upper = max(
            float(np.quantile(pm.draw(dist, draws=20_000, random_seed=0), 1 - 1e-4)),
            10.0 * float(np.ptp(effects, axis=1).max()),
        )
        step = upper / SCALE_GRID_POINTS
        grid = (np.arange(SCALE_GRID_POINTS) + 0.5) * step
        log_prior = pm.logp(dist, grid).eval()
        uniform, cell = rng.random(n_draws), np.empty(n_draws, dtype=int)
        rows = max(1, CHUNK_ELEMENTS // (SCALE_GRID_POINTS * effects.shape[1]))
        for start in range(0, n_draws, rows):
            chunk = slice(start, start + rows)
            log_density = (
                log_prior
                + _effects_log_likelihood(
                    effects[chunk, None, :],
                    noise[chunk, None, :],
                    grid[None, :, None] ** 2,
                    mean_prior,
                )[0]
            )
            weights = np.exp(log_density - log_density.max(axis=1, keepdims=True))
            cumulative = np.cumsum(weights, axis=1)
            cell[chunk] = (cumulative < uniform[chunk, None] * cumulative[:, -1:]).sum(axis=1)
        tau = grid[cell] + (rng.random(n_draws) - 0.5) * step
    if mean_prior is None:
        mu = np.zeros(n_draws)
    else:
        _, precision, mean = _effects_log_likelihood(effects, noise, tau[:, None] ** 2, mean_prior)
        mu = mean + rng.standard_normal(n_draws) / np.sqrt(precision)
    fresh = mu[:, None, None] + tau[:, None, None] * rng.standard_normal((n_draws, *shape))
    return fresh.reshape(post.sizes["chain"], post.sizes["draw"], *shape)


def _effects_log_likelihood(effects, noise, tau2, mean_prior):
    r"""Log-likelihood of the benchmark ``effects`` (last axis: benchmarks) given the scale
    :math:`\tau^2` (``tau2``), with :math:`\mu \sim N(m_0, s_0)` (``mean_prior``)
    integrated out, or :math:`\mu = 0` (``None``); and, with a mean prior, the precision
    and mean of :math:`\mu` given :math:`\tau` (:func:`_new_benchmark_effects`)."""
    v = tau2 + noise
    log_lik = -0.5 * (np.log(v) + effects**2 / v).sum(axis=-1)
    if mean_prior is None:
        return log_lik, None, None
    m0, s0 = float(mean_prior["mu"]), float(mean_prior["sigma"])
    precision = 1.0 / s0**2 + (1.0 / v).sum(axis=-1)
    mean = (m0 / s0**2 + (effects / v).sum(axis=-1)) / precision
    log_lik = log_lik - 0.5 * (np.log(precision) + m0**2 / s0**2 - precision * mean**2)
    return log_lik, precision, mean


def _with_new_items(responses: Responses, new_items: pd.Index) -> Responses:
    """The responses with extra item labels that have no response (metadata left empty)."""
    items = pd.Index(np.concatenate([responses.items.astype(str), np.asarray(new_items)]))
    return Responses(
        subject_index=responses.subject_index,
        item_index=responses.item_index,
        response=responses.response,
        subjects=responses.subjects,
        items=items,
        item_meta=responses.item_meta.set_axis(responses.items.astype(str)).reindex(items),
        subject_meta=responses.subject_meta,
    )
