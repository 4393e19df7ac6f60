"""Responses in: the container, loaders, validation, filters, simulation and datasets."""

from bayesirt.data import filters
from bayesirt.data.loaders import FORMATS, load_responses
from bayesirt.data.responses import Responses
from bayesirt.data.validation import ResponsesError, ResponsesWarning

__all__ = [
    "FORMATS",
    "Responses",
    "ResponsesError",
    "ResponsesWarning",
    "filters",
    "load_responses",
]
