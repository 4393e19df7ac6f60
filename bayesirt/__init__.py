"""bayesirt: Bayesian item response theory for LLM benchmark results."""

from bayesirt._version import __version__
from bayesirt.analysis import compare, rank, score_new
from bayesirt.analysis.ppc import ppc
from bayesirt.analysis.predict import predict_items
from bayesirt.analysis.summary import summarize_fit
from bayesirt.data import (
    Responses,
    ResponsesError,
    datasets,
    load_example,
    load_responses,
    simulate_responses,
)
from bayesirt.inference import fit, load_fit, save_fit
from bayesirt.models import marginal_loglik
from bayesirt.sweep import sweep

__all__ = [
    "Responses",
    "ResponsesError",
    "__version__",
    "compare",
    "datasets",
    "fit",
    "load_example",
    "load_fit",
    "load_responses",
    "marginal_loglik",
    "ppc",
    "predict_items",
    "rank",
    "save_fit",
    "score_new",
    "simulate_responses",
    "summarize_fit",
    "sweep",
]
