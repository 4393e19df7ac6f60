r"""Local dependence between questions: Yen's Q3, its tests, and clusters of questions.

An IRT fit assumes that, given a subject's ability, its answers to different questions are
independent. The residual correlation of two items across subjects,
:math:`Q_{3,ik} = \operatorname{corr}_j(y_{ij} - P_{ij}, y_{kj} - P_{kj})` in each posterior
draw, measures how far they are from that (Yen 1984).

* :mod:`~bayesirt.analysis.dependence.q3`: the definition and the kernels (dense matrix, pairs,
  cluster sums, the mean-|Q3| discrepancy of a posterior predictive check);
* :mod:`~bayesirt.analysis.dependence.local`: :func:`local_dependence` (the posterior of Q3
  overall, by cluster and for the most dependent pairs), :func:`dependence_test` (is it more
  than noise?) and :func:`explain_dependence` (which partition of the items explains it);
* :mod:`~bayesirt.analysis.dependence.clusters`: partitions of the items from metadata, from
  the residuals (:func:`residual_clusters`), from text (:func:`text_clusters`) and from
  embeddings (:func:`embedding_clusters`), compared by :func:`adjusted_rand_index`.
"""

from bayesirt.analysis.dependence.clusters import (
    adjusted_rand_index,
    embedding_clusters,
    residual_clusters,
    text_clusters,
)
from bayesirt.analysis.dependence.local import (
    DEPENDENCE_STATISTICS,
    cluster_table,
    dependence_test,
    dependent_pairs,
    explain_dependence,
    local_dependence,
)

__all__ = [
    "DEPENDENCE_STATISTICS",
    "adjusted_rand_index",
    "cluster_table",
    "dependence_test",
    "dependent_pairs",
    "embedding_clusters",
    "explain_dependence",
    "local_dependence",
    "residual_clusters",
    "text_clusters",
]
