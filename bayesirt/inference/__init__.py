"""Inference: fit dispatch (NUTS via nutpie / PyMC / numpyro, ADVI), diagnostics, save/load."""

from bayesirt.inference.diagnostics import ConvergenceWarning, Diagnostics, check_convergence
from bayesirt.inference.fit import METHODS, SAMPLERS, fit, fit_model
from bayesirt.inference.io import (
    FitFileError,
    fit_info,
    load_fit,
    model_from_fit,
    responses_from_fit,
    save_fit,
)

__all__ = [
    "METHODS",
    "SAMPLERS",
    "ConvergenceWarning",
    "Diagnostics",
    "FitFileError",
    "check_convergence",
    "fit",
    "fit_info",
    "fit_model",
    "load_fit",
    "model_from_fit",
    "responses_from_fit",
    "save_fit",
]
