"""bayesirt: Bayesian item response theory for LLM benchmark results."""

from bayesirt.analysis import rank, score_new
from bayesirt.data import Responses, ResponsesError

__version__ = "0.1.0"

__all__ = ["Responses", "ResponsesError", "__version__", "rank", "score_new"]
