"""PyMC models of the package (they build a ``pm.Model``, never sample).

Models are registered by name (:mod:`bayesirt.models.registry`); :func:`get_model` looks one
up and names the known ones when a name is unknown, and :func:`model_from_config` rebuilds a
model from its stored configuration. The pure IRT functions (:mod:`bayesirt.irt`) are
importable from here too.
"""

from bayesirt.irt import (
    icc,
    irt_from_slope_intercept,
    item_information,
    marginal_loglik,
    test_information,
)
from bayesirt.models.base import IRTModel
from bayesirt.models.beta import OrderedBeta
from bayesirt.models.correlated import Bifactor, MultidimensionalTwoPL, Testlet, align_traits
from bayesirt.models.dif import DifferentialTwoPL
from bayesirt.models.explanatory import ExplanatoryTwoPL
from bayesirt.models.explanatory_mirt import ExplanatoryMIRT
from bayesirt.models.graded import GradedResponse, PartialCredit
from bayesirt.models.priors import Prior
from bayesirt.models.registry import MODELS, get_model, model_from_config
from bayesirt.models.unidimensional import FourPL, OnePL, ThreePL, TwoPL

__all__ = [
    "MODELS",
    "Bifactor",
    "DifferentialTwoPL",
    "ExplanatoryMIRT",
    "ExplanatoryTwoPL",
    "FourPL",
    "GradedResponse",
    "IRTModel",
    "MultidimensionalTwoPL",
    "OnePL",
    "OrderedBeta",
    "PartialCredit",
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
    "model_from_config",
    "test_information",
]
