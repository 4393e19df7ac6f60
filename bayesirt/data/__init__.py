"""Responses in: the container, loaders, validation, filters, simulation and datasets."""

from bayesirt.data.responses import Responses
from bayesirt.data.validation import ResponsesError

__all__ = ["Responses", "ResponsesError"]
