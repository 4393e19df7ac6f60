"""bayesirt: Bayesian item response theory for LLM benchmark results."""

from bayesirt.analysis import rank, score_new
from bayesirt.data import (
    Responses,
    ResponsesError,
    datasets,
    load_example,
    load_responses,
    simulate_responses,
)

__version__ = "0.1.0"

__all__ = [
    "Responses",
    "ResponsesError",
    "__version__",
    "datasets",
    "load_example",
    "load_responses",
    "rank",
    "score_new",
    "simulate_responses",
]
