"""bayesirt.reports: every figure of the package (matplotlib; each plot returns its Axes)."""

from bayesirt.reports.ranking import plot_p_beats, plot_rank_caterpillar, plot_rank_probabilities

__all__ = ["plot_p_beats", "plot_rank_caterpillar", "plot_rank_probabilities"]
