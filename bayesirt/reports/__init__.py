"""bayesirt.reports: every figure of the package (matplotlib; each plot returns its Axes) and
the self-contained HTML diagnostics report (:func:`build_report`)."""

from bayesirt.reports.audit import plot_contamination, plot_dif, plot_person_fit
from bayesirt.reports.diagnostics import plot_hyperparameter_trace, plot_worst_rank
from bayesirt.reports.ppc import plot_ppc_discrepancy, plot_ppc_histogram, plot_ppc_units
from bayesirt.reports.quality import plot_information, plot_item_parameters, plot_wright_map
from bayesirt.reports.ranking import plot_p_beats, plot_rank_caterpillar, plot_rank_probabilities
from bayesirt.reports.report import build_report
from bayesirt.reports.robustness import plot_cluster_q3, plot_dependence_test, plot_rank_bump
from bayesirt.reports.subsets import plot_subset_errors

__all__ = [
    "build_report",
    "plot_cluster_q3",
    "plot_contamination",
    "plot_dependence_test",
    "plot_dif",
    "plot_hyperparameter_trace",
    "plot_information",
    "plot_item_parameters",
    "plot_p_beats",
    "plot_person_fit",
    "plot_ppc_discrepancy",
    "plot_ppc_histogram",
    "plot_ppc_units",
    "plot_rank_bump",
    "plot_rank_caterpillar",
    "plot_rank_probabilities",
    "plot_subset_errors",
    "plot_worst_rank",
    "plot_wright_map",
]
