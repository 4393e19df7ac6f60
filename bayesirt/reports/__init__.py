"""bayesirt.reports: every figure of the package (matplotlib; each plot returns its Axes)."""

from bayesirt.reports.ranking import plot_p_beats, plot_rank_caterpillar, plot_rank_probabilities
from bayesirt.reports.robustness import plot_cluster_q3, plot_dependence_test, plot_rank_bump
from bayesirt.reports.subsets import plot_subset_errors

__all__ = [
    "plot_cluster_q3",
    "plot_dependence_test",
    "plot_p_beats",
    "plot_rank_bump",
    "plot_rank_caterpillar",
    "plot_rank_probabilities",
    "plot_subset_errors",
]
