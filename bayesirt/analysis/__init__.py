"""bayesirt.analysis: pure functions of a fitted model (InferenceData in, xarray / pandas out).

* :func:`rank`: uncertainty-aware ranking with tiers and the accuracy leaderboard it corrects;
  :func:`rank_table`, :func:`rank_to_json`, :func:`reordered_pairs` present it.
* :func:`score_new`: cut-posterior ability and rank of subjects that were not in the fit.
"""

from bayesirt.analysis.ranking import rank, rank_table, rank_to_json, reordered_pairs
from bayesirt.analysis.scoring import score_new

__all__ = ["rank", "rank_table", "rank_to_json", "reordered_pairs", "score_new"]
