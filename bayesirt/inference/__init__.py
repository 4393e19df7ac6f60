"""Inference: fit dispatch (NUTS via nutpie / PyMC / numpyro, ADVI), diagnostics, save/load."""

from bayesirt.inference.diagnostics import ConvergenceWarning, Diagnostics, check_convergence
from bayesirt.inference.fit import fit, fit_model
from bayesirt.inference.io import (
    FitFileError,
    fit_info,
    load_fit,
    model_from_fit,
    responses_from_fit,
    save_fit,
)
from bayesirt.inference.settings import METHODS, SAMPLERS, SettingError, check_fit_settings

__all__ = [
    "METHODS",
    "SAMPLERS",
    "ConvergenceWarning",
    "Diagnostics",
    "FitFileError",
    "SettingError",
    "check_convergence",
    "check_fit_settings",
    "fit",
    "fit_info",
    "fit_model",
    "load_fit",
    "model_from_fit",
    "responses_from_fit",
    "save_fit",
]
