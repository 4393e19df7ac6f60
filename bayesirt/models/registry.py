"""The models by name: :data:`MODELS`, :func:`get_model`, and :func:`model_from_config`, which
rebuilds a model from its :meth:`~bayesirt.models.base.IRTModel.config` (the form stored with
every fit).
"""

from __future__ import annotations

import json
from typing import Any

from bayesirt.data import Responses
from bayesirt.models.base import IRTModel
from bayesirt.models.beta import OrderedBeta
from bayesirt.models.correlated import Bifactor, MultidimensionalTwoPL, Testlet
from bayesirt.models.dif import DifferentialTwoPL
from bayesirt.models.explanatory import ExplanatoryTwoPL
from bayesirt.models.explanatory_mirt import ExplanatoryMIRT
from bayesirt.models.graded import GradedResponse, PartialCredit
from bayesirt.models.priors import Prior
from bayesirt.models.unidimensional import FourPL, OnePL, ThreePL, TwoPL

__all__ = ["MODELS", "get_model", "model_from_config"]

MODELS: dict[str, type[IRTModel]] = {
    cls.name: cls
    for cls in (
        OnePL,
        TwoPL,
        ThreePL,
        FourPL,
        Testlet,
        Bifactor,
        MultidimensionalTwoPL,
        ExplanatoryTwoPL,
        ExplanatoryMIRT,
        GradedResponse,
        PartialCredit,
        OrderedBeta,
        DifferentialTwoPL,
    )
}


def get_model(name: str) -> type[IRTModel]:
    """The model class registered under ``name`` (case-insensitive, e.g. ``"2pl"``)."""
    key = str(name).lower()
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[key]


def model_from_config(config: dict[str, Any] | str, responses: Responses) -> IRTModel:
    """The model described by ``config`` (:meth:`~bayesirt.models.base.IRTModel.config`, or
    its JSON text) on ``responses``: its registered class, priors, ``pool_by`` and options."""
    config = json.loads(config) if isinstance(config, str) else config
    model_cls = get_model(config["model"])
    priors = {k: Prior.from_dict(v) for k, v in config["priors"].items()}
    options = {name: config[name] for name in model_cls.model_options if name in config}
    return model_cls(responses, priors=priors, pool_by=config.get("pool_by"), **options)
