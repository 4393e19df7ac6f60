"""PyMC models of the package (they build a ``pm.Model``, never sample) and pure IRT functions.

Models are registered by name; :func:`get_model` looks one up and names the known ones when
a name is unknown.
"""

from bayesirt.models.base import IRTModel
from bayesirt.models.correlated import Bifactor, MultidimensionalTwoPL, Testlet, align_traits
from bayesirt.models.explanatory import ExplanatoryTwoPL
from bayesirt.models.irt import (
    icc,
    irt_from_slope_intercept,
    item_information,
    marginal_loglik,
    test_information,
)
from bayesirt.models.priors import Prior
from bayesirt.models.unidimensional import FourPL, OnePL, ThreePL, TwoPL

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
    )
}


def get_model(name: str) -> type[IRTModel]:
    """The model class registered under ``name`` (case-insensitive, e.g. ``"2pl"``)."""
    key = str(name).lower()
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[key]


__all__ = [
    "MODELS",
    "Bifactor",
    "ExplanatoryTwoPL",
    "FourPL",
    "IRTModel",
    "MultidimensionalTwoPL",
    "OnePL",
    "Prior",
    "Testlet",
    "ThreePL",
    "TwoPL",
    "align_traits",
    "get_model",
    "icc",
    "irt_from_slope_intercept",
    "item_information",
    "marginal_loglik",
    "test_information",
]
