"""bayesirt: Bayesian item response theory for LLM benchmark results."""

from bayesirt._version import __version__
from bayesirt.analysis import compare, rank, route, score_new
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
    "AdaptiveTest",
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
    "route",
    "save_fit",
    "score_new",
    "simulate_responses",
    "summarize_fit",
    "sweep",
]


def __getattr__(name: str):
    """:class:`~bayesirt.tinybench.live.AdaptiveTest`, imported when first asked for (PEP 562):
    :mod:`bayesirt.tinybench` sits above :mod:`bayesirt.analysis`, which importing
    ``bayesirt`` must not pull it in with."""
    if name == "AdaptiveTest":
        from bayesirt.tinybench.live import AdaptiveTest

        return AdaptiveTest
    raise AttributeError(f"module 'bayesirt' has no attribute {name!r}")
