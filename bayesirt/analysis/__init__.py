"""bayesirt.analysis: pure functions of a fitted model (InferenceData in, xarray / pandas out).

* :func:`rank`: uncertainty-aware ranking with tiers and the accuracy leaderboard it corrects;
  :func:`rank_table`, :func:`rank_to_json`, :func:`reordered_pairs` present it.
* :func:`score_new`: cut-posterior ability and rank of subjects that were not in the fit;
  :func:`add_subjects` puts them into the fit (they join its ranking without a refit) and
  :func:`item_drift` checks that their answers still follow the fitted items.
* :func:`predict_items`: item parameters of questions nobody has answered, predicted from
  their content by an explanatory fit, and :func:`predict_benchmark`: every fitted model's
  accuracy on a benchmark known only by its questions (:mod:`bayesirt.analysis.predict`).
* :func:`route`: each question to the model most likely to answer it, or the cheapest one
  likely enough to, with the routing's expected accuracy and cost
  (:mod:`bayesirt.analysis.routing`).
* :func:`select_items`, :func:`estimate_scores`, :func:`evaluate_subsets` (with
  :class:`SubsetSelection`, :class:`SubsetEvaluation`): tiny benchmarks (subset selection,
  full-score estimation from a subset, and their evaluation); :func:`simulate_adaptive_test`:
  computerised adaptive testing of new models. They live in :mod:`bayesirt.tinybench`, a
  layer above this package, and are resolved from there when first asked for (PEP 562
  module ``__getattr__``), so that importing ``bayesirt.analysis`` does not import it.
* :func:`link_items`: a new version's items on an old fit's scale through anchor items, with
  anchor drift (:mod:`bayesirt.analysis.linking`).
* :func:`compare`: PSIS-LOO comparison of models fitted to the same responses, by response or
  by item (:mod:`bayesirt.analysis.compare`).
* :func:`assess_robustness`: local dependence (Yen's Q3) with its tests, clusters of questions, and
  rankings under other distributions of interest (:mod:`bayesirt.analysis.robustness`).
* :mod:`bayesirt.analysis.ppc`: posterior predictive checks (``bayesirt.ppc``) of any model:
  total scores, item accuracy, residual correlations and item fit, with p-values
  (:func:`ppc_table`, :func:`ppc_unit_table` present them).
* :func:`assess_quality`: how well the benchmark measures (:mod:`bayesirt.analysis.quality`):
  item parameters by group, information and the ability range measured precisely, flagged
  items (:func:`flag_items`), separability of the top subjects, Wright map.
* :mod:`bayesirt.analysis.report_inputs`: every analysis of the HTML diagnostics report
  (:func:`~bayesirt.analysis.report_inputs.report_inputs`), which
  :func:`bayesirt.reports.build_report` then draws.
"""

from bayesirt.analysis.compare import compare
from bayesirt.analysis.dependence import (
    dependence_test,
    explain_dependence,
    local_dependence,
    residual_clusters,
)
from bayesirt.analysis.linking import link_items
from bayesirt.analysis.ppc import ppc_table, ppc_unit_table
from bayesirt.analysis.predict import predict_benchmark, predict_items
from bayesirt.analysis.quality import (
    assess_quality,
    flag_items,
    information,
    item_parameters,
    saturated_items,
    separability,
    wright_map,
)
from bayesirt.analysis.ranking import rank, rank_table, rank_to_json, reordered_pairs
from bayesirt.analysis.robustness import assess_robustness, robustness_to_json
from bayesirt.analysis.routing import Routing, route
from bayesirt.analysis.scenarios import rank_stability, scenario_rankings
from bayesirt.analysis.scoring import add_subjects, item_drift, score_new

__all__ = [
    "Routing",
    "SubsetEvaluation",
    "SubsetSelection",
    "add_subjects",
    "assess_quality",
    "assess_robustness",
    "compare",
    "dependence_test",
    "estimate_scores",
    "evaluate_subsets",
    "explain_dependence",
    "flag_items",
    "information",
    "item_drift",
    "item_parameters",
    "link_items",
    "local_dependence",
    "ppc_table",
    "ppc_unit_table",
    "predict_benchmark",
    "predict_items",
    "rank",
    "rank_stability",
    "rank_table",
    "rank_to_json",
    "reordered_pairs",
    "residual_clusters",
    "robustness_to_json",
    "route",
    "saturated_items",
    "scenario_rankings",
    "score_new",
    "select_items",
    "separability",
    "simulate_adaptive_test",
    "wright_map",
]

#: Names of :data:`__all__` that live in :mod:`bayesirt.tinybench` (a higher layer, which
#: imports this package): :func:`__getattr__` resolves them on first use.
_TINYBENCH = frozenset(
    {
        "SubsetEvaluation",
        "SubsetSelection",
        "estimate_scores",
        "evaluate_subsets",
        "select_items",
        "simulate_adaptive_test",
    }
)


def __getattr__(name: str):
    """The tiny-benchmark names, imported from :mod:`bayesirt.tinybench` when first asked for."""
    if name in _TINYBENCH:
        import bayesirt.tinybench

        value = getattr(bayesirt.tinybench, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
