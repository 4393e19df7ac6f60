"""bayesirt: Bayesian item response theory for LLM benchmark results."""

from bayesirt.data import Responses, ResponsesError

__version__ = "0.1.0"

__all__ = ["Responses", "ResponsesError", "__version__"]
