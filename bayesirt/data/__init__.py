"""Responses in: the container, loaders, validation, filters, simulation, datasets and item
features (:mod:`bayesirt.data.features`)."""

from bayesirt.data import datasets, filters
from bayesirt.data.example import load_example
from bayesirt.data.loaders import FORMATS, load_responses
from bayesirt.data.responses import Responses
from bayesirt.data.simulate import SIMULATION_MODELS, simulate_responses, simulate_routing
from bayesirt.data.validation import ResponsesError, ResponsesWarning

__all__ = [
    "FORMATS",
    "SIMULATION_MODELS",
    "Responses",
    "ResponsesError",
    "ResponsesWarning",
    "datasets",
    "filters",
    "load_example",
    "load_responses",
    "simulate_responses",
    "simulate_routing",
]
