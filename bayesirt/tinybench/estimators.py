r"""Full-benchmark scores of new subjects estimated from a few answers.

:func:`estimate_scores` takes the answers of new subjects to a tiny benchmark (a
:class:`~bayesirt.tinybench.design.SubsetSelection`, or whatever an adaptive test asked) and
estimates their accuracy on the full benchmark with one of :data:`ESTIMATORS`.

Notation: :math:`I` is the full benchmark (the fitted items, :math:`N = |I|`); a new subject
answered the items :math:`O \subset I` (a subset, or what an adaptive test gave it), with
answers :math:`y_i`; :math:`w_i \ge 0` are the design weights of the subset (zero outside
it); :math:`\bar\psi_i = (\bar a_i, \bar b_i, \bar c_i, \bar d_i)` are posterior mean item
parameters and :math:`P_i(\theta)` the item curve. Every estimator targets the subject's
accuracy on the full benchmark, :math:`\frac{1}{N}\sum_{i \in I} y_i`, and returns a table
indexed by subject with columns ``estimate``, ``lo``, ``hi`` (the credible interval; NaN for
the point estimators) and ``n_answered``:

* ``mean``: :math:`\frac{1}{|O|}\sum_{i \in O} y_i`; ``weighted``: :math:`\sum_{i \in O} w_i
  y_i / \sum_{i \in O} w_i` (the tinyBenchmarks anchor estimator with anchor weights);
* ``pirt`` (Polo et al. 2024): the observed answers, and :math:`P_i(\hat\theta)` for the
  unanswered items at the MAP ability :math:`\hat\theta` given the answers;
* ``gpirt`` (Polo et al. 2024): :math:`\lambda \hat Z^{\text{weighted}} + (1 - \lambda) \hat
  Z^{\text{p-IRT}}` with :math:`\lambda = \hat b^2 / (\hat b^2 + \hat v / (\kappa |O|))`;
* ``bayes``: the posterior predictive of the full-benchmark accuracy, item parameters
  integrated out, :math:`A^{(s)} = \frac{1}{N}[\sum_{i \in O} y_i + \sum_{i \in I \setminus
  O} \tilde y_i^{(s)}]` per posterior draw :math:`s`, with a credible interval that
  calibration subjects set by split conformal prediction (:func:`calibrate_discrepancy`:
  widened by a model discrepancy :math:`\tau`, or narrowed where the model alone covers more
  than it should), and the posterior rank among the fitted subjects.

Each estimator's docstring gives its formulas in full.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from bayesirt._validate import check_probability
from bayesirt.analysis.posterior import (
    CHUNK_ELEMENTS,
    PosteriorDraws,
    fitted_responses,
    posterior_draws,
)
from bayesirt.analysis.scoring import score_new
from bayesirt.data import Responses
from bayesirt.data.validation import describe_values
from bayesirt.irt import icc, log_likelihood
from bayesirt.tinybench.design import RANDOM_DESIGNS, SubsetSelection

__all__ = [
    "ESTIMATORS",
    "EstimationData",
    "IntervalCalibration",
    "calibrate_discrepancy",
    "estimate_bayes",
    "estimate_gpirt",
    "estimate_mean",
    "estimate_pirt",
    "estimate_scores",
    "estimate_weighted",
    "gpirt_constants",
    "map_theta",
]

#: Grid of the MAP ability of p-IRT: spacing 0.01 on [-6, 6].
MAP_GRID = np.linspace(-6.0, 6.0, 1201)
#: Every VALIDATION_STEP-th training subject validates the IRT predictions of gp-IRT.
VALIDATION_STEP = 5
#: Largest discrepancy sd τ (θ scale, where the fitted abilities have sd 1) that the
#: calibration of the Bayesian intervals considers, and its bisection steps (resolution
#: TAU_MAX / 2**CALIBRATION_STEPS; the same number of steps finds the interval mass of the
#: subjects the model alone covers, to a resolution of 2**-CALIBRATION_STEPS of it).
TAU_MAX = 2.0
CALIBRATION_STEPS = 12


class IntervalCalibration(NamedTuple):
    """The calibrated Bayesian interval (:func:`calibrate_discrepancy`): the central
    ``mass`` of the accuracy draws at discrepancy sd ``discrepancy``."""

    discrepancy: float
    mass: float


@dataclass(frozen=True)
class EstimationData:
    r"""The answers of new subjects and what the estimators may use.

    Attributes
    ----------
    subjects : pandas.Index
        The new subjects.
    items : pandas.Index
        The full benchmark :math:`I`: the fitted items, or the design's items without a fit.
    answers : numpy.ndarray, shape (n_subjects, n_items)
        0/1 where answered, NaN elsewhere.
    weights : numpy.ndarray, shape (n_items,)
        Design weights :math:`w_i` (zero outside the design).
    variance_factor : float
        :math:`\kappa` of the gp-IRT rule (1 for random designs, 4 otherwise).
    idata : arviz.InferenceData or None
        The fit (needed by the IRT estimators).
    interval : float
        Mass of the credible intervals.
    target : {"realised", "expected"}
        What the Bayesian interval is about (see :func:`estimate_bayes`).
    seed : int
        Seed of the Bayesian estimator's draws.
    calibration : (numpy.ndarray, numpy.ndarray) or None
        Subjects that calibrate the Bayesian intervals (:func:`calibrate_discrepancy`): their
        answers under the same design, shape (n_calibration, n_items) with NaN where not
        asked, and their accuracy on the full benchmark.
    """

    subjects: pd.Index
    items: pd.Index
    answers: np.ndarray
    weights: np.ndarray
    variance_factor: float
    idata: Any
    interval: float
    target: str
    seed: int
    calibration: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.answers)

    @property
    def n_answered(self) -> np.ndarray:
        return self.observed.sum(axis=1)

    def draws(self, estimator: str) -> PosteriorDraws:
        if self.idata is None:
            raise ValueError(f"estimator {estimator!r} needs a fitted model (idata)")
        return posterior_draws(self.idata)

    def table(self, estimate: np.ndarray, **columns: np.ndarray) -> pd.DataFrame:
        nan = np.full(len(self.subjects), np.nan)
        frame = pd.DataFrame(
            {
                "estimate": estimate,
                "lo": columns.pop("lo", nan),
                "hi": columns.pop("hi", nan),
                "n_answered": self.n_answered,
                **columns,
            },
            index=pd.Index(self.subjects, name="subject"),
        )
        return frame


def estimate_mean(data: EstimationData) -> pd.DataFrame:
    r"""Plain mean of the answered items, :math:`\frac{1}{|O|}\sum_{i \in O} y_i`."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return data.table(np.nansum(data.answers, axis=1) / data.n_answered)


def _weighted(data: EstimationData) -> np.ndarray:
    w = np.where(data.observed, data.weights[None, :], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * np.nan_to_num(data.answers)).sum(axis=1) / w.sum(axis=1)


def estimate_weighted(data: EstimationData) -> pd.DataFrame:
    r"""Design-weighted mean, :math:`\sum_{i \in O} w_i y_i / \sum_{i \in O} w_i`.

    With anchor points the weights are the cluster shares, so this is the tinyBenchmarks
    anchor estimator (Polo et al. 2024); with equal weights it is the plain mean.
    """
    return data.table(_weighted(data))


def map_theta(draws: PosteriorDraws, answers: np.ndarray) -> np.ndarray:
    r"""MAP ability of each row of ``answers`` at the posterior mean item parameters.

    .. math::

        \hat\theta = \arg\max_\theta \Big[-\tfrac12\theta^2 + \sum_{i \in O}
        \log p(y_i \mid \theta, \bar\psi_i)\Big],

    maximised on :data:`MAP_GRID` (spacing 0.01). The :math:`N(0, 1)` prior of the fit's scale
    keeps :math:`\hat\theta` finite when every answer is right (or wrong), where the maximum
    likelihood estimate diverges.
    """
    params = [p.mean(axis=0)[None, :] for p in (draws.a, draws.b, draws.c, draws.d)]
    grid = MAP_GRID[:, None]
    right = log_likelihood(1, grid, *params)
    wrong = log_likelihood(0, grid, *params)
    observed = ~np.isnan(answers)
    ones = (observed & (answers == 1)).astype(float)
    zeros = (observed & (answers == 0)).astype(float)
    log_post = ones @ right.T + zeros @ wrong.T - 0.5 * MAP_GRID[None, :] ** 2
    return MAP_GRID[log_post.argmax(axis=1)]


def _mean_curve(draws: PosteriorDraws, theta: np.ndarray) -> np.ndarray:
    """Probability of a right answer of each subject on each item, at the mean parameters."""
    params = [p.mean(axis=0)[None, :] for p in (draws.a, draws.b, draws.c, draws.d)]
    return icc(theta[:, None], *params)


def _pirt(data: EstimationData, draws: PosteriorDraws) -> np.ndarray:
    observed = data.observed
    predicted = _mean_curve(draws, map_theta(draws, data.answers))
    filled = np.where(observed, np.nan_to_num(data.answers), predicted)
    return filled.mean(axis=1)


def estimate_pirt(data: EstimationData) -> pd.DataFrame:
    r"""p-IRT of Polo et al. (2024), "tinyBenchmarks: evaluating LLMs with fewer examples".

    .. math::

        \hat Z^{\text{p-IRT}} = \hat\lambda \frac{1}{|O|}\sum_{i \in O} y_i
        + (1 - \hat\lambda) \frac{1}{|I \setminus O|}\sum_{i \in I \setminus O}
        P_i(\hat\theta), \qquad \hat\lambda = \frac{|O|}{|I|},

    the observed answers where there are some and the IRT prediction elsewhere, with the
    ability :math:`\hat\theta` estimated from the answered items alone (:func:`map_theta`;
    the paper uses the maximum likelihood estimate, which is infinite for an all-right or
    all-wrong subset).
    """
    return data.table(_pirt(data, data.draws("pirt")))


def gpirt_constants(idata, draws: PosteriorDraws, items: pd.Index) -> tuple[float, float]:
    r"""The training-set quantities :math:`(\hat b, \hat v)` of the gp-IRT :math:`\lambda` rule.

    Following the published procedure, :math:`\hat b` is the mean absolute error of the IRT
    prediction of a subject's accuracy on half of the items from its answers on the other
    half (abilities by :func:`map_theta` on the even-numbered items, predictions and
    observed accuracy on the odd-numbered ones), over every :data:`VALIDATION_STEP`-th
    training subject; :math:`\hat v = \frac{1}{n}\sum_j \widehat{\operatorname{Var}}_i(y_{ij})`
    is the mean over training subjects of the variance of their answers across items. Here
    the item parameters come from the fit that includes the validation subjects (the paper
    refits without them), so :math:`\hat b` is slightly optimistic.
    """
    training = fitted_responses(idata)
    training.require_binary("a tiny-benchmark score estimate")
    dense = training.dense()[:, training.items.astype(str).get_indexer(items)]
    validation = dense[::VALIDATION_STEP]
    seen = validation.copy()
    seen[:, 1::2] = np.nan
    predicted = _mean_curve(draws, map_theta(draws, seen))[:, 1::2]
    held_out = validation[:, 1::2]
    has = ~np.isnan(held_out)
    usable = has.any(axis=1)
    pred = np.where(has, predicted, 0.0).sum(axis=1)[usable] / has.sum(axis=1)[usable]
    bias = float(np.abs(pred - np.nanmean(held_out[usable], axis=1)).mean())
    variance = float(np.nanmean(np.nanvar(dense, axis=1)))
    return bias, variance


def estimate_gpirt(data: EstimationData) -> pd.DataFrame:
    r"""gp-IRT of Polo et al. (2024), "tinyBenchmarks: evaluating LLMs with fewer examples".

    A convex combination of the design-weighted mean (:func:`estimate_weighted`) and p-IRT
    (:func:`estimate_pirt`),

    .. math::

        \hat Z^{\text{gp-IRT}} = \lambda \hat Z^{\text{weighted}}
        + (1 - \lambda) \hat Z^{\text{p-IRT}}, \qquad
        \lambda = \frac{\hat b^2}{\hat b^2 + \hat v / (\kappa\,|O|)},

    the weight that minimises the mean squared error when the first estimator is unbiased
    with variance :math:`\hat v / (\kappa |O|)` and the second has bias :math:`\hat b` and
    negligible variance. :math:`(\hat b, \hat v)` come from the training subjects
    (:func:`gpirt_constants`); :math:`\kappa = 1` for random designs and 4 otherwise (the
    published heuristic for anchor points: a curated design is taken to cut the variance of
    the weighted mean fourfold). For designs whose weighted mean is biased (most informative
    items) the rule's premise fails and gp-IRT inherits part of that bias.
    """
    draws = data.draws("gpirt")
    bias, variance = gpirt_constants(data.idata, draws, data.items)
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = bias**2 / (bias**2 + variance / (data.variance_factor * data.n_answered))
    lam = np.where(data.n_answered > 0, lam, 0.0)
    weighted = np.nan_to_num(_weighted(data))
    return data.table(lam * weighted + (1.0 - lam) * _pirt(data, draws), weight=lam)


def estimate_bayes(data: EstimationData) -> pd.DataFrame:
    r"""Posterior predictive full-benchmark accuracy, item parameters integrated out.

    The ability posterior of each new subject given its answers is the cut posterior of
    :func:`bayesirt.analysis.score_new`: one :math:`\theta^{(s)}` per stacked posterior
    draw :math:`s` of the item parameters :math:`\psi^{(s)}`. Each draw gives an accuracy on
    the full benchmark,

    .. math::

        A^{(s)} = \frac{1}{N}\Big[\sum_{i \in O} y_i + \sum_{i \in I \setminus O}
        \tilde y_i^{(s)}\Big], \qquad
        \tilde\theta^{(s)} = \theta^{(s)} + \tau z^{(s)}, \quad z^{(s)} \sim N(0, 1),

    with, for ``target="realised"`` (default), :math:`\tilde y_i^{(s)} \sim
    \text{Bernoulli}(P_i(\tilde\theta^{(s)}; \psi_i^{(s)}))`: the posterior predictive of the
    accuracy the subject would have scored on these exact items; or, for
    ``target="expected"``, :math:`\tilde y_i^{(s)} = P_i(\tilde\theta^{(s)}; \psi_i^{(s)})`:
    the posterior of its expected accuracy. The interval is the central quantiles of the
    :math:`A^{(s)}`. The estimate is their posterior mean at :math:`\tau = 0` (the model's
    own), the same for both targets and computed from the expected accuracies (the Bernoulli
    draws would only add Monte Carlo noise to it).

    :math:`\tau \ge 0` is a *model discrepancy*: the ability that drives the unanswered items
    may differ from the one the answered items measure by a shift :math:`\tau z` (a
    unidimensional model fitted to real leaderboards misses such subject-specific
    deviations, and a design that concentrates on a few informative items extrapolates
    them). :math:`\tau = 0`, the model alone, unless calibration subjects are given; then the
    interval is :func:`calibrate_discrepancy`'s: at :math:`\tau > 0` when the model alone
    covers too few calibration subjects, narrower than the model's (a central mass below
    ``interval`` at :math:`\tau = 0`) when it covers more than it needs to, and all of
    [0, 1] (:math:`\tau = \infty`) when no :math:`\tau` up to :data:`TAU_MAX` covers enough
    calibration subjects, or there are too few of them for the level. The calibration
    changes the interval and leaves the estimate alone: it is chosen for the intervals'
    coverage, and averaging the sigmoid over :math:`\tau z` would pull every estimate
    towards the middle of the scale by an amount that nothing fitted to the estimate's error
    (on AlpacaEval 2, 3 splits × 3 seeds of ``benchmarks/subsets_coverage.py``, the mean
    absolute error was 0.028 with the :math:`\tau` mean and 0.024 with the model's, 0.043
    against 0.029 in the runs with :math:`\tau > 0.3`). The extra columns give
    ``discrepancy`` (:math:`\tau`) and ``interval_mass`` (the central mass of the draws that
    the interval is), the model-alone interval ``model_lo``, ``model_hi`` (:math:`\tau = 0`,
    mass ``interval``), the ability (``theta_mean``, ``theta_sd``) and the posterior rank
    among the fitted subjects (``rank_mean``, ``rank_lo``, ``rank_hi``), as :func:`score_new`
    reports them; ranking by ability is ranking by expected full-benchmark accuracy, which
    increases with :math:`\theta` in every draw.
    """
    draws = data.draws("bayes")
    scored = _cut_posterior(data, data.answers, data.subjects)
    theta = scored["theta"].values.reshape(draws.n_samples, len(data.subjects))
    calibration = (
        IntervalCalibration(0.0, data.interval)
        if data.calibration is None
        else calibrate_discrepancy(data)
    )
    model = _accuracy_draws(draws, theta, data.answers, 0.0, data.seed)
    which = 1 if data.target == "realised" else 0
    model_lo, model_hi = _central(model[which], data.interval)
    tau = calibration.discrepancy
    if tau == 0:
        expected, realised = model
        lo, hi = _central(model[which], calibration.mass)
    elif math.isfinite(tau):
        expected, realised = _accuracy_draws(draws, theta, data.answers, tau, data.seed)
        lo, hi = _central((expected, realised)[which], data.interval)
    else:  # no τ covers enough calibration subjects: the interval is every accuracy
        expected, realised = model
        lo, hi = np.zeros(len(data.subjects)), np.ones(len(data.subjects))
    accuracy = (expected, realised)[which]
    return data.table(
        model[0].mean(axis=0),
        lo=lo,
        hi=hi,
        sd=accuracy.std(axis=0),
        discrepancy=np.full(len(data.subjects), tau),
        interval_mass=np.full(len(data.subjects), calibration.mass),
        model_lo=model_lo,
        model_hi=model_hi,
        theta_mean=scored["theta_mean"].values,
        theta_sd=scored["theta_sd"].values,
        rank_mean=scored["rank_mean"].values,
        rank_lo=scored["rank_lo"].values,
        rank_hi=scored["rank_hi"].values,
    )


def calibrate_discrepancy(data: EstimationData) -> IntervalCalibration:
    r"""The Bayesian interval that has its coverage, by split conformal prediction over a
    nested family of intervals.

    The calibration subjects are not in the fit (as the new subjects are not) and answered
    the same design (for an adaptive test: their own tests, run the same way); their
    full-benchmark accuracy :math:`T_k` is known. The family is indexed by
    :math:`s \in [-1, \text{TAU\_MAX}]`, with :math:`1 - \alpha` the level
    (``interval``):

    * :math:`s \le 0`: the central :math:`(1 - \alpha)(1 + s)` of the model's own accuracy
      draws (:math:`\tau = 0`; :math:`s = 0` is the model's interval);
    * :math:`s > 0`: the central :math:`1 - \alpha` of the draws at discrepancy sd
      :math:`\tau = s` (:func:`estimate_bayes`).

    Every interval contains those of smaller :math:`s` (the quantiles of one set of draws
    spread with the mass, and the draws :math:`z` and the Bernoulli draws are common to every
    :math:`\tau`). Computed from its design answers alone, each calibration subject's
    intervals :math:`[L_k(s), U_k(s)]` give it the score

    .. math::

        s_k = \min\{s : L_k(s) \le T_k \le U_k(s)\},

    found by bisection (:data:`CALIBRATION_STEPS` steps on :math:`[-1, 0]` or on
    :math:`[0, \text{TAU\_MAX}]`; :math:`\infty` for a subject not covered even at
    :data:`TAU_MAX`), so that a subject is covered at :math:`s` exactly when its score is at
    most :math:`s`. With :math:`K` calibration subjects,

    .. math::

        \hat s = s_{(\lceil (K + 1)(1 - \alpha) \rceil)},

    the :math:`\lceil (K + 1)(1 - \alpha) \rceil`-th smallest score. If the new subject and
    the calibration subjects are exchangeable (drawn from the same population and given the
    same design), its score is equally likely to take any rank among the :math:`K + 1`, so
    its interval covers with probability at least :math:`1 - \alpha`, whatever the model's
    misfit and however the design chose the items (nested conformal prediction; Vovk et al.
    2005, Gupta, Kuchibhotla & Ramdas 2022), and exactly :math:`\lceil (K + 1)(1 -
    \alpha) \rceil / (K + 1)` when the scores are distinct: 0.9 with 9 calibration subjects
    at 90%, 0.9005 with 200. The smallest :math:`s` with an empirical coverage of :math:`1 -
    \alpha` on the calibration subjects, :math:`s_{(\lceil K(1 - \alpha) \rceil)}`,
    covers only :math:`\lceil K(1 - \alpha) \rceil / (K + 1)` on average: 0.82 with 10
    calibration subjects at 90%, 0.86 with 20.

    The part below :math:`s = 0` keeps the scores distinct. Without it every subject that the
    model alone covers would score 0, and with few calibration subjects the rank would
    often fall among scores that are not: on AlpacaEval 2 (9 calibration models, a design
    whose model-alone intervals cover 0.91), the interval was the model's own when all nine
    scored 0 (probability :math:`0.91^9 \approx 0.43`) and otherwise widened to the largest
    positive score, which together covered 0.95 of held-out models.

    Returns the discrepancy :math:`\tau = \max(\hat s, 0)` and the central mass
    :math:`(1 - \alpha)(1 + \min(\hat s, 0))`; :math:`\tau = \infty` (the interval is the
    whole of [0, 1]) when more than a share :math:`\alpha` of the calibration subjects is
    not covered even at :data:`TAU_MAX`, or when there are too few of them for the level
    (:math:`K + 1 < 1 / \alpha`, fewer than 9 at 90%).
    """
    answers, truth = data.calibration
    keep = np.isfinite(truth)
    answers, truth = answers[keep], truth[keep]
    n = len(truth)
    if not n:
        raise ValueError("the calibration subjects have no answer to the benchmark's items")
    rank = math.ceil((n + 1) * data.interval - 1e-9)
    if rank > n:
        return IntervalCalibration(math.inf, data.interval)
    draws = data.draws("bayes")
    labels = pd.Index([f"calibration {k}" for k in range(n)])
    scored = _cut_posterior(data, answers, labels)
    theta = scored["theta"].values.reshape(draws.n_samples, n)
    which = 1 if data.target == "realised" else 0

    def covered_by_mass(draws_at: np.ndarray, mass: np.ndarray) -> np.ndarray:
        lo, hi = _central(draws_at, mass)
        return (lo <= truth) & (truth <= hi)

    def bisect(inside, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The upper end of the bisection bracket of the least ``s`` in [lo, hi] with
        ``inside(s)`` (``inside`` is monotone: once true, true for every larger ``s``)."""
        for _ in range(CALIBRATION_STEPS):
            mid = 0.5 * (lo + hi)
            ok = inside(mid)
            lo, hi = np.where(ok, lo, mid), np.where(ok, mid, hi)
        return hi

    model = _accuracy_draws(draws, theta, answers, 0.0, data.seed)[which]

    def by_mass(s: np.ndarray) -> np.ndarray:
        return covered_by_mass(model, data.interval * (1.0 + s))

    at_zero = by_mass(np.zeros(n))
    below = bisect(by_mass, np.full(n, -1.0), np.zeros(n))

    def by_tau(s: np.ndarray) -> np.ndarray:
        shifted = _accuracy_draws(draws, theta, answers, s, data.seed)[which]
        return covered_by_mass(shifted, np.full(n, data.interval))

    at_max = by_tau(np.full(n, TAU_MAX))
    above = bisect(by_tau, np.zeros(n), np.full(n, TAU_MAX))
    scores = np.where(at_zero, below, np.where(at_max, above, np.inf))
    s_hat = float(np.sort(scores)[rank - 1])
    if s_hat <= 0:
        return IntervalCalibration(0.0, data.interval * (1.0 + s_hat))
    return IntervalCalibration(s_hat, data.interval)


def _cut_posterior(data: EstimationData, answers: np.ndarray, labels: pd.Index):
    """:func:`score_new` of the rows of ``answers`` (subjects named ``labels``)."""
    rows, cols = np.nonzero(~np.isnan(answers))
    new = Responses(
        subject_index=rows,
        item_index=cols,
        response=answers[rows, cols].astype(np.int8),
        subjects=pd.Index(labels.astype(str)),
        items=pd.Index(data.items.astype(str)),
    )
    return score_new(data.idata, new, interval=data.interval, random_seed=data.seed)


def _central(draws: np.ndarray, mass) -> tuple[np.ndarray, np.ndarray]:
    """Central interval of ``draws`` (rows: draws, columns: subjects) of ``mass``: a number,
    or one per column. Quantiles interpolate linearly between order statistics, as
    :func:`numpy.quantile` does by default, and equal neighbours give exactly their value,
    so that an accuracy among the draws is inside the interval whatever the mass and
    however it was given (the calibration relies on that)."""
    ordered = np.sort(draws, axis=0)
    tail = np.broadcast_to((1.0 - np.asarray(mass, dtype=float)) / 2, ordered.shape[1:])
    return _sorted_quantile(ordered, tail), _sorted_quantile(ordered, 1.0 - tail)


def _sorted_quantile(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Column ``j``'s quantile ``q[j]`` of the sorted columns ``ordered``."""
    position = q * (ordered.shape[0] - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, ordered.shape[0] - 1)
    columns = np.arange(ordered.shape[1])
    low, high = ordered[below, columns], ordered[above, columns]
    return low + (high - low) * (position - below)


def _accuracy_draws(
    draws: PosteriorDraws,
    theta: np.ndarray,
    answers: np.ndarray,
    tau: float | np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected and realised full-benchmark accuracy per draw and subject (see
    :func:`estimate_bayes`), at one ``tau`` or one per subject; the random numbers depend on
    ``seed`` only, not on ``tau``."""
    unseen = np.isnan(answers).astype(float)
    answered = np.nansum(answers, axis=1)
    n_samples, n_new = theta.shape
    shifted = theta + tau * np.random.default_rng([seed, 0]).normal(size=theta.shape)
    expected = np.empty((n_samples, n_new))
    realised = np.empty((n_samples, n_new))
    step = max(1, CHUNK_ELEMENTS // max(n_new * answers.shape[1], 1))
    for start in range(0, n_samples, step):
        rows = slice(start, start + step)
        params = [p[rows, None, :] for p in (draws.a, draws.b, draws.c, draws.d)]
        prob = icc(shifted[rows, :, None], *params)
        uniform = np.random.default_rng([seed, 1, start]).random(prob.shape)
        expected[rows] = answered + (prob * unseen).sum(axis=-1)
        realised[rows] = answered + ((uniform < prob) * unseen).sum(axis=-1)
    n_items = answers.shape[1]
    return expected / n_items, realised / n_items


#: Score estimators by name: ``estimator(EstimationData) -> DataFrame``.
ESTIMATORS: dict[str, Callable[[EstimationData], pd.DataFrame]] = {
    "mean": estimate_mean,
    "weighted": estimate_weighted,
    "pirt": estimate_pirt,
    "gpirt": estimate_gpirt,
    "bayes": estimate_bayes,
}


def estimate_scores(
    idata,
    responses: Responses,
    *,
    selection: SubsetSelection | None = None,
    estimator: str = "bayes",
    interval: float = 0.9,
    target: str = "realised",
    seed: int = 0,
    calibration: Responses | None = None,
) -> pd.DataFrame:
    """Estimate the full-benchmark accuracy of new subjects from a few answers.

    Parameters
    ----------
    idata : arviz.InferenceData or None
        The fitted model; its items are the full benchmark. ``None`` is allowed for
        ``"mean"`` and ``"weighted"``, which then need ``selection``.
    responses : Responses
        The new subjects' answers. With ``selection``, only the answers to its items are
        used; without, every answer to a fitted item counts (e.g. an adaptive test's).
    selection : SubsetSelection, optional
        The tiny benchmark: its items and weights (for ``"weighted"`` and ``"gpirt"``) and
        its method (random designs get κ = 1 in the gp-IRT rule, others 4). Without it the
        weights are equal and κ = 4.
    estimator : str
        A key of :data:`ESTIMATORS`: ``"mean"``, ``"weighted"`` (anchor-weighted mean),
        ``"pirt"``, ``"gpirt"`` (Polo et al. 2024), ``"bayes"`` (posterior predictive with
        credible interval and rank; see the module docstring and each estimator's for the
        formulas).
    interval : float in (0, 1)
        Mass of the Bayesian credible interval.
    target : {"realised", "expected"}
        ``"bayes"`` only: interval for the accuracy on these exact items (Bernoulli draws
        for the unanswered ones) or for the expected accuracy.
    seed : int
        Seed of the Bayesian estimator's draws.
    calibration : Responses, optional
        ``"bayes"`` only: subjects that were not in the fit, with their answers to the full
        benchmark, that calibrate the intervals: they answer the ``selection`` (required
        then) as the new subjects did, and the model-discrepancy sd τ is chosen by split
        conformal prediction (:func:`calibrate_discrepancy`), so that the interval of a new
        subject drawn from the same population covers its full accuracy with probability at
        least ``interval``; at least 9 are needed at 90% (fewer give the whole of [0, 1]).
        Without it, τ = 0 (the model's own intervals). Fitted subjects may be passed, but
        the fit has seen their answers, so the calibration is then optimistic.

    Returns
    -------
    pandas.DataFrame
        Indexed by subject: ``estimate``, ``lo``, ``hi`` (NaN for point estimators),
        ``n_answered``; ``"gpirt"`` adds its ``weight`` λ, ``"bayes"`` adds ``sd``,
        ``discrepancy`` (τ), ``model_lo``, ``model_hi`` (the interval at τ = 0),
        ``theta_mean``, ``theta_sd``, ``rank_mean``, ``rank_lo``, ``rank_hi``.
    """
    if not isinstance(responses, Responses):
        raise TypeError(f"responses must be a Responses, got {type(responses).__name__}")
    if idata is None and selection is None:
        raise ValueError("without a fitted model, pass the selection that defines the items")
    items = posterior_draws(idata).items if idata is not None else selection.items
    answers = answer_matrix(responses, items)
    if selection is None:
        weights = np.ones(len(items))
        kappa = 4.0
    else:
        where = items.get_indexer(selection.items)
        if np.any(where < 0):
            raise ValueError(
                "selection items not in the fitted model: "
                f"{describe_values(selection.items[where < 0])}"
            )
        weights = np.zeros(len(items))
        weights[where] = selection.weights
        answers[:, weights == 0] = np.nan
        kappa = 1.0 if selection.method in RANDOM_DESIGNS else 4.0
    if calibration is not None:
        if selection is None or idata is None:
            raise ValueError(
                "calibration needs the fitted model and the selection that the calibration "
                "subjects answer"
            )
        if not isinstance(calibration, Responses):
            raise TypeError(f"calibration must be a Responses, got {type(calibration).__name__}")
        full = answer_matrix(calibration, items)
        calibration = (np.where(weights[None, :] > 0, full, np.nan), np.nanmean(full, axis=1))
    return run_estimator(
        estimator,
        idata,
        pd.Index(responses.subjects.astype(str)),
        items,
        answers,
        weights,
        kappa,
        interval=interval,
        target=target,
        seed=seed,
        calibration=calibration,
    )


def answer_matrix(responses: Responses, items: pd.Index) -> np.ndarray:
    """Subjects × ``items`` matrix of 0/1, NaN where a subject has no response."""
    codes = responses.items.astype(str).get_indexer(items)
    return np.where(codes[None, :] >= 0, responses.dense()[:, np.maximum(codes, 0)], np.nan)


def run_estimator(
    estimator: str,
    idata,
    subjects: pd.Index,
    items: pd.Index,
    answers: np.ndarray,
    weights: np.ndarray,
    kappa: float,
    *,
    interval: float,
    target: str,
    seed: int,
    calibration: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Run the estimator named ``estimator`` on answers laid out over ``items`` (subjects ×
    items, NaN where not answered) after checking the options; shared by
    :func:`estimate_scores` and :func:`~bayesirt.tinybench.evaluate.evaluate_subsets`."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    if target not in ("realised", "expected"):
        raise ValueError(f"target must be 'realised' or 'expected', got {target!r}")
    check_probability("interval", interval)
    data = EstimationData(
        subjects=subjects,
        items=items,
        answers=answers,
        weights=weights,
        variance_factor=kappa,
        idata=idata,
        interval=interval,
        target=target,
        seed=seed,
        calibration=calibration,
    )
    return ESTIMATORS[estimator](data)
