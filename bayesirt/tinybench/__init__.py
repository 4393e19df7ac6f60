r"""bayesirt.tinybench: tiny benchmarks and adaptive tests built on a fitted model.

A tiny benchmark asks a new subject (a new LLM) a few items and estimates from its answers
the accuracy it would have scored on the whole benchmark. Three steps, each a pure function,
and an adaptive alternative:

* :func:`select_items` (:mod:`bayesirt.tinybench.design`) chooses ``budget`` items and a
  weight per item with one of :data:`SELECTION_METHODS`: random and stratified baselines;
  anchor points (Polo et al. 2024, tinyBenchmarks); Fisher information across ability levels
  (Kipnis et al. 2024, metabench); a Bayesian design that integrates the information over the
  posterior of the item parameters and over the target abilities; a genetic search that
  minimises the error of the reconstructed score on the training subjects. It returns a
  :class:`SubsetSelection`.
* :func:`estimate_scores` (:mod:`bayesirt.tinybench.estimators`) estimates, for new subjects
  that answered only the chosen items, their accuracy on the full benchmark with one of
  :data:`ESTIMATORS`: plain or weighted mean, p-IRT and gp-IRT (tinyBenchmarks), or the
  Bayesian posterior predictive with a credible interval and a posterior rank among the
  fitted subjects.
* :func:`evaluate_subsets` (:mod:`bayesirt.tinybench.evaluate`) splits the subjects of a data
  set into training, calibration and test subjects and scores every method × estimator ×
  budget × seed by the error of the estimated full accuracy of the test subjects, the Kendall
  :math:`\tau` of their estimated ranking and the coverage of the Bayesian intervals; it
  returns a :class:`SubsetEvaluation`.
* :func:`simulate_adaptive_test` (:mod:`bayesirt.tinybench.adaptive`) runs computerised
  adaptive tests of new subjects, one item at a time from the answers so far, until the
  ability is known well enough or a decision is reached (selectors :data:`SELECTORS`);
  :class:`AdaptiveTest` (:mod:`bayesirt.tinybench.live`) is the same test driven by a caller
  that runs the model, with exposure control across tests (:class:`ExposureControl`).

The package sits one layer above :mod:`bayesirt.analysis`, whose fitted-model kernels it uses
(:func:`bayesirt.analysis.score_new` is the Bayesian estimator's ability posterior);
``bayesirt.analysis`` still resolves the main names above, lazily.
"""

# adaptive and evaluate are offered whole (their __all__), design and estimators in part.
from bayesirt.tinybench import adaptive, evaluate
from bayesirt.tinybench.adaptive import *  # noqa: F403
from bayesirt.tinybench.design import (
    RANDOM_DESIGNS,
    SELECTION_METHODS,
    SubsetSelection,
    select_items,
)
from bayesirt.tinybench.estimators import ESTIMATORS, estimate_scores
from bayesirt.tinybench.evaluate import *  # noqa: F403
from bayesirt.tinybench.live import AdaptiveTest, ExposureControl

__all__ = [
    *adaptive.__all__,
    "RANDOM_DESIGNS",
    "SELECTION_METHODS",
    "SubsetSelection",
    "select_items",
    "ESTIMATORS",
    "estimate_scores",
    *evaluate.__all__,
    "AdaptiveTest",
    "ExposureControl",
]
