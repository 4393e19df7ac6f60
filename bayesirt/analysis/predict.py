r"""Item parameters of questions nobody has answered yet, predicted from their content.

A fit of the explanatory 2PL (:class:`bayesirt.models.ExplanatoryTwoPL`) holds, in every
posterior draw :math:`s`, the regression of the intercepts on the standardised features,
:math:`(\mu_\alpha, \beta_\alpha, \sigma_\alpha)^{(s)}`, and the population of the
log-discriminations. For a new item with features :math:`x`, standardised with the fitted
items' mean and sd into :math:`z`, :func:`predict_items` draws from the posterior predictive

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

The result is an item bank: an ``InferenceData`` whose posterior holds the fit's abilities
and the predicted items' draws, so it goes wherever a fit goes as a source of item parameters:
:func:`bayesirt.score_new` (score a new model on the predicted items),
:func:`bayesirt.analysis.select_items` (methods that use item parameters: ``fisher``,
``bayesian``, ``anchor`` with the IRT representation) and
:func:`bayesirt.analysis.simulate_adaptive_test`. With ``include_fitted=True`` the fitted
items come first with their own posterior draws, so a test can mix calibrated and predicted
items.
"""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayesirt._validate import check_probability
from bayesirt.analysis.posterior import fitted_responses
from bayesirt.data import Responses
from bayesirt.data.features import read_item_features
from bayesirt.data.validation import describe_values
from bayesirt.inference.io import CONFIG_ATTR, fit_config
from bayesirt.models import ExplanatoryTwoPL, model_from_config

__all__ = ["predict_items"]

#: Item parameters predicted (draws in the posterior, summaries in ``predictions``).
PREDICTED = ("intercept", "a", "b")


def predict_items(
    idata: az.InferenceData,
    new_item_features: pd.DataFrame,
    *,
    interval: float = 0.9,
    include_fitted: bool = False,
    random_seed: int = 0,
) -> az.InferenceData:
    r"""Posterior predictive item parameters of items with no responses (module docstring).

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit of the explanatory 2PL (model ``"2pl-explanatory"``).
    new_item_features : pandas.DataFrame
        One row per new item (index: label), with the fitted feature columns in the fitted
        order, made by the same transformation as the fitted items' features (see
        :mod:`bayesirt.features`).
    interval : float in (0, 1)
        Mass of the central intervals in ``predictions``.
    include_fitted : bool
        Put the fitted items (with their posterior draws) before the new ones in the bank.
    random_seed : int
        Seed of the residual draws :math:`\varepsilon, \varepsilon'`.

    Returns
    -------
    arviz.InferenceData
        ``posterior``: ``theta`` (chain, draw, subject) of the fit, and ``intercept``, ``a``,
        ``b`` (chain, draw, item) of the bank's items. ``constant_data``: the fit's responses
        with the new items added as items without any response. ``predictions``: for the new
        items, ``<p>_mean``, ``<p>_sd``, ``<p>_lo``, ``<p>_hi`` (central ``interval``) of each
        predicted parameter, dim ``item``. ``attrs``: the fit's ``bayesirt_config`` and
        ``bayesirt_predicted_items`` (JSON: the new labels, the interval, the seed). It is an
        item bank, not a fit: :func:`bayesirt.inference.save_fit` refuses it.

    Raises
    ------
    ValueError
        If the fit is not of the explanatory model, a new label is already a fitted item, the
        feature columns differ from the fitted ones (naming them) or a value is missing or
        not finite, or ``interval`` is outside (0, 1).
    """
    check_probability("interval", interval)
    config = fit_config(idata) or {}
    if config.get("model") != ExplanatoryTwoPL.name:
        raise ValueError(
            f"predict_items needs a fit of the {ExplanatoryTwoPL.name!r} model (item "
            f"parameters regressed on features), got model {config.get('model')!r}"
        )
    responses = fitted_responses(idata)
    responses.require_binary("predicting new items")
    model = model_from_config(config, responses)
    features = read_item_features(new_item_features)
    features.index = features.index.astype(str)
    clash = features.index.intersection(responses.items.astype(str))
    if len(clash):
        raise ValueError(
            f"item(s) {describe_values(clash)} are fitted items: their parameters are in the "
            "fit; predict_items is for items without responses"
        )
    z = model.design.standardise(features)

    post = idata.posterior
    rng = np.random.default_rng(random_seed)
    shape = (post.sizes["chain"], post.sizes["draw"], len(features))
    keys = ("intercept", "log_a")
    explained = {"intercept": True, "log_a": model.explain_log_a}
    values = {}
    for key in keys:
        mean = post[f"mu_{key}"].values[..., None]
        if explained[key]:
            mean = mean + np.einsum("cdk,nk->cdn", post[f"beta_{key}"].values, z)
        values[key] = mean + post[f"sigma_{key}"].values[..., None] * rng.standard_normal(shape)
    a = np.exp(values["log_a"])
    drawn = {"intercept": values["intercept"], "a": a, "b": -values["intercept"] / a}

    dims = ("chain", "draw", "item")
    new = xr.Dataset(
        {name: (dims, drawn[name]) for name in PREDICTED},
        coords={
            "chain": post["chain"].values,
            "draw": post["draw"].values,
            "item": np.asarray(features.index),
        },
    )
    items = new
    if include_fitted:
        items = xr.concat([post[list(PREDICTED)], new], dim="item")
    bank = items.assign(theta=post["theta"])[["theta", *PREDICTED]]

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
            CONFIG_ATTR: json.dumps(config),
            "bayesirt_predicted_items": json.dumps(
                {"items": list(features.index), "interval": interval, "random_seed": random_seed}
            ),
        }
    )
    return out


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
