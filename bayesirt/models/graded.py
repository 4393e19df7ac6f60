r"""Graded response model (Samejima) for ordinal scores: ratings, rubric points, Likert items.

Item :math:`i` has :math:`K_i` ordered categories :math:`0, \dots, K_i - 1` (the distinct
scores observed for it, :attr:`bayesirt.data.Responses.category_scores`), and in mirt's
slope–intercept convention

.. math::

    P(y_{ij} \ge k) = \sigma(a_i\theta_j + d_{ik}), \quad k = 1, \dots, K_i - 1,
    \qquad d_{i1} > d_{i2} > \dots > d_{i,K_i-1},

so :math:`P(y_{ij} = k) = \sigma(a_i\theta_j + d_{ik}) - \sigma(a_i\theta_j + d_{i,k+1})` with
:math:`d_{i0} = +\infty` and :math:`d_{iK_i} = -\infty`. The IRT form has thresholds
:math:`b_{ik} = -d_{ik}/a_i`. With two categories it is the 2PL.

Item parameters (abilities are standardised as in every model, :mod:`bayesirt.models.base`):

* discrimination :math:`\log a_i \sim N(\mu_{\log a}, \sigma_{\log a})`, as in the 2PL;
* the item's mean intercept :math:`\alpha_i = \tfrac{1}{K_i - 1}\sum_k d_{ik}
  \sim N(\mu_\alpha, \sigma_\alpha)` (``intercept``; the same hierarchical coordinates as the
  2PL's intercept), which moves all of the item's thresholds together;
* the gaps between neighbouring intercepts, :math:`d_{ik} - d_{i,k+1} = g_{ik}` with
  :math:`\log g_{ik} \sim N(\mu_{\log g}, \sigma_{\log g})` (``log_gap``, one entry per gap of
  every item, in the intercepts' hierarchical coordinates), so the intercepts are ordered by
  construction.

The posterior holds ``intercepts`` (item × threshold, mirt's :math:`d_{ik}`; NaN beyond an
item's own :math:`K_i - 1` thresholds), made of ``intercept`` and ``log_gap`` and so left out
of the convergence check, which covers those two
(:data:`~bayesirt.models.derived.COMPOSED_VARIABLES`). The derived ``b`` is
:math:`-\alpha_i / a_i`, the item's mean threshold.

**The likelihood is the binary kernel's.** For :math:`x > y`,
:math:`\sigma(x) - \sigma(y) = \sigma(x)\,\sigma(-y)\,(1 - e^{-(x - y)})`, so

.. math::

    \log P(y_{ij} = k) = \log\sigma(a_i\theta_j + d_{ik}) + \log\sigma\big(-(a_i\theta_j +
    d_{i,k+1})\big) + \log\big(1 - e^{-g_{ik}}\big),

where the first term is absent for :math:`k = 0`, the second for :math:`k = K_i - 1` and the
third for both. The first two are the log-likelihoods of a "correct" and a "wrong" answer to
a binary pseudo-item with slope :math:`a_i` and intercept :math:`d_{ik}` (one per threshold),
evaluated by the fused 2PL kernel (:mod:`bayesirt.models.likelihood`) with its one pass for
value and gradient; the third depends on the gaps only and is summed once per gap, weighted
by how many answers fell in that category.
"""

from __future__ import annotations

from functools import cached_property
from typing import ClassVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import expit

from bayesirt.data import Responses
from bayesirt.models._hierarchy import hierarchical_item_vector
from bayesirt.models.likelihood import irt_loglik, partial_credit_loglik
from bayesirt.models.priors import Prior
from bayesirt.models.unidimensional import (
    _DISCRIMINATION_PRIORS,
    _INTERCEPT_PRIORS,
    _Logistic,
)

__all__ = ["GradedResponse", "PartialCredit", "graded_layout"]


class GradedLayout:
    """Where each item's thresholds and gaps sit in the flat vectors of the model.

    Item ``i`` owns thresholds ``threshold_start[i] .. threshold_start[i] + K_i - 2`` and gaps
    ``gap_start[i] .. gap_start[i] + K_i - 3`` of the flat vectors.
    """

    def __init__(self, n_categories: np.ndarray) -> None:
        k = np.asarray(n_categories, dtype=np.int64)
        self.n_categories = k
        self.n_items = k.size
        self.n_thresholds = k - 1
        self.threshold_start = np.concatenate([[0], np.cumsum(k - 1)[:-1]])
        self.gap_start = np.concatenate([[0], np.cumsum(k - 2)[:-1]])
        #: per flat threshold: its item and its position ``j`` (0-based) within the item
        self.threshold_item = np.repeat(np.arange(self.n_items), k - 1)
        self.threshold_position = np.arange(self.threshold_item.size) - np.repeat(
            self.threshold_start, k - 1
        )
        self.gap_item = np.repeat(np.arange(self.n_items), k - 2)
        self.max_thresholds = int((k - 1).max())

    @property
    def total_thresholds(self) -> int:
        return int(self.threshold_item.size)

    @property
    def total_gaps(self) -> int:
        return int(self.gap_item.size)


def graded_layout(responses: Responses) -> GradedLayout:
    """The :class:`GradedLayout` of ordinal ``responses``."""
    return GradedLayout(responses.n_categories)


class _Ordinal(_Logistic):
    """What the models of ordinal scores share: the layout of each item's categories, its
    hierarchical slope and mean intercept, starting values from the observed shares, the
    stored ``intercepts`` and the pointwise functions built on :meth:`category_probabilities`."""

    supports_minibatch: ClassVar[bool] = False
    response_types: ClassVar[tuple[str, ...]] = ("ordinal",)

    def _check_responses(self) -> None:
        responses = self.responses
        too_few = responses.items[responses.n_categories < 2]
        if len(too_few):
            raise ValueError(
                f"{len(too_few)} item(s) have fewer than 2 observed categories: "
                f"{', '.join(map(str, too_few[:10]))}"
            )

    @cached_property
    def layout(self) -> GradedLayout:
        """Where each item's thresholds and gaps sit in the flat vectors."""
        return graded_layout(self.responses)

    def coords(self) -> dict:
        return {**super().coords(), "threshold": np.arange(1, self.layout.max_thresholds + 1)}

    # -------------------------------------------------------------- empirical
    def _cumulative_shares(self) -> np.ndarray:
        """Per flat threshold ``(i, k)``: the share of item ``i``'s answers in category ``k``
        or above, shrunk by half an answer each way."""
        r, layout = self.responses, self.layout
        at_least = np.zeros(layout.total_thresholds)
        for j in range(layout.max_thresholds):
            rows = layout.threshold_position == j
            counts = np.bincount(r.item_index, weights=r.response > j, minlength=r.n_items)
            at_least[rows] = counts[layout.threshold_item[rows]]
        n = r.item_counts().to_numpy()[layout.threshold_item]
        return (at_least + 0.5) / (n + 1.0)

    def _intercept_information(self) -> np.ndarray:
        r"""Precision the answers carry about the mean intercept, which moves every threshold:
        :math:`\sum_k n_i p_{ik}(1 - p_{ik})` with :math:`p_{ik}` the share at or above
        category :math:`k`."""
        p = self._cumulative_shares()
        n = self.responses.item_counts().to_numpy()[self.layout.threshold_item]
        return np.bincount(
            self.layout.threshold_item, weights=n * p * (1 - p), minlength=self.layout.n_items
        )

    def _empirical_intercepts(self) -> np.ndarray:
        r"""Start values of the flat intercepts: :math:`\sqrt{1 + \pi/8}\,
        \operatorname{logit} p_{ik}`, decreasing in :math:`k` by construction."""
        p = self._cumulative_shares()
        return np.sqrt(1 + np.pi / 8) * np.log(p / (1 - p))

    def _intercept_start(self) -> np.ndarray:
        d = self._empirical_intercepts()
        layout = self.layout
        return np.bincount(layout.threshold_item, weights=d) / layout.n_thresholds

    def _add_slope_and_mean_intercept(self):
        """The hierarchical slopes ``a`` and mean intercepts ``intercept`` of the items."""
        a = self._add_discrimination()
        mean_intercept = self._item_parameter(
            "intercept", information=self._intercept_information(), start=self._intercept_start()
        )
        return a, pm.Deterministic("intercept", mean_intercept, dims="item")

    def _store_intercepts(self, flat) -> None:
        """The flat intercepts as ``intercepts`` (item × threshold), NaN-padded."""
        layout = self.layout
        padded = pt.fill(pt.zeros((layout.n_items, layout.max_thresholds)), np.nan)
        pm.Deterministic(
            "intercepts",
            pt.set_subtensor(padded[layout.threshold_item, layout.threshold_position], flat),
            dims=("item", "threshold"),
        )

    @classmethod
    def category_probabilities(
        cls, posterior, subject_index: np.ndarray, item_index: np.ndarray
    ) -> np.ndarray:
        """P(category k) at the given (subject, item) pairs in every draw:
        (chain, draw, n_pairs, K_max), 0 beyond an item's own categories."""
        raise NotImplementedError

    @classmethod
    def pointwise_log_likelihood(
        cls, posterior, subject_index: np.ndarray, item_index: np.ndarray, y: np.ndarray
    ) -> np.ndarray:
        """Log-probability of the observed categories ``y`` (codes) in every draw."""
        probabilities = cls.category_probabilities(posterior, subject_index, item_index)
        chosen = np.take_along_axis(
            probabilities, np.asarray(y, dtype=int)[None, None, :, None], axis=-1
        )[..., 0]
        return np.log(chosen)

    @classmethod
    def observation_probability(cls, posterior, subject_index, item_index) -> np.ndarray:
        r"""The expected score on :math:`[0, 1]`, :math:`E[y_{ij}] / (K_i - 1)`, at the given
        pairs in every draw: the ordinal counterpart of P(correct) (equal to it with two
        categories), which ranking by expected score averages over items."""
        probabilities = cls.category_probabilities(posterior, subject_index, item_index)
        valid = ~np.isnan(posterior["intercepts"].values[0, 0, item_index, :])
        top = valid.sum(axis=-1)
        codes = np.arange(probabilities.shape[-1])
        return (probabilities @ codes) / top


class GradedResponse(_Ordinal):
    """Samejima's graded response model; see the module docstring for the maths."""

    name = "grm"
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        "mu_log_gap": Prior("Normal", mu=0.5, sigma=1.0),
        "sigma_log_gap": Prior("HalfNormal", sigma=0.5),
    }
    internal_variables: ClassVar[tuple[str, ...]] = (
        *_Logistic.internal_variables,
        "log_gap_pc",
        "mu_log_gap_z",
    )

    def coords(self) -> dict:
        return {**super().coords(), "gap": np.arange(self.layout.total_gaps)}

    # ------------------------------------------------------------------ build
    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        layout = self.layout
        a, mean_intercept = self._add_slope_and_mean_intercept()
        flat = mean_intercept[layout.threshold_item]
        gap_term = 0.0
        if layout.total_gaps:
            log_gap, weight = self._add_log_gaps()
            gaps = pt.exp(log_gap)
            # positions below the item's first intercept: minus the sum of the gaps before
            cumulative = pt.concatenate([pt.zeros(1), pt.cumsum(gaps)])
            before = np.minimum(
                layout.gap_start[layout.threshold_item] + layout.threshold_position,
                layout.total_gaps,
            )
            position = -(cumulative[before] - cumulative[layout.gap_start[layout.threshold_item]])
            mean_position = pt.zeros(layout.n_items)[layout.threshold_item].inc(position)
            flat = flat + position - (mean_position / layout.n_thresholds)[layout.threshold_item]
            # log(1 - exp(-g)) once per gap, times the answers in the category it spans
            gap_term = pt.sum(weight * pt.log1mexp(-gaps))
        self._store_intercepts(flat)
        subject, pseudo_item, y = self._pseudo_pairs()
        a_flat = a[layout.threshold_item]
        loglik = irt_loglik(
            theta,
            a_flat,
            -flat / a_flat,
            pm.Data("pseudo_subject", subject),
            pm.Data("pseudo_item", pseudo_item),
            pm.Data("pseudo_y", y),
        )
        pm.Potential("loglik", loglik + gap_term)

    def _add_log_gaps(self):
        r"""Log-gaps between neighbouring intercepts, hierarchical in the intercepts'
        sample-mean coordinates (:func:`~bayesirt.models._hierarchy.hierarchical_item_vector`),
        started at the empirical gaps. The information about gap :math:`g_{ik}` is taken as
        :math:`n_{ik}/4`, a quarter of the answers in the category it spans."""
        r, layout = self.responses, self.layout
        d = self._empirical_intercepts()
        following = np.flatnonzero(layout.threshold_position > 0)
        start = np.log(np.maximum(d[following - 1] - d[following], 0.05))
        middle = (r.response > 0) & (r.response < r.n_categories[r.item_index] - 1)
        gap_of_answer = layout.gap_start[r.item_index[middle]] + r.response[middle] - 1
        counts = np.bincount(gap_of_answer, minlength=layout.total_gaps).astype(float)
        log_gap = hierarchical_item_vector(
            "log_gap", priors=self.priors, information=counts / 4.0, start=start
        ).value
        return pm.Deterministic("log_gap", log_gap, dims="gap"), counts

    def _pseudo_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The binary pseudo-answers of the likelihood: a "correct" one at threshold ``k``
        for every answer in category ``k >= 1`` and a "wrong" one at threshold ``k + 1`` for
        every answer below the top category."""
        r, layout = self.responses, self.layout
        top = r.n_categories[r.item_index] - 1
        above = r.response > 0
        below = r.response < top
        start = layout.threshold_start[r.item_index]
        subject = np.concatenate([r.subject_index[above], r.subject_index[below]])
        pseudo = np.concatenate(
            [start[above] + r.response[above] - 1, start[below] + r.response[below]]
        )
        y = np.concatenate([np.ones(above.sum()), np.zeros(below.sum())]).astype(np.int8)
        return subject.astype(np.int32), pseudo.astype(np.int32), y

    # ------------------------------------------------------- pointwise quantities
    @classmethod
    def category_probabilities(
        cls, posterior, subject_index: np.ndarray, item_index: np.ndarray
    ) -> np.ndarray:
        """P(category k) at the given (subject, item) pairs in every draw:
        (chain, draw, n_pairs, K_max), 0 beyond an item's own categories."""
        theta = posterior["theta"].values[:, :, subject_index]
        a = posterior["a"].values[:, :, item_index]
        d = posterior["intercepts"].values[:, :, item_index, :]
        above = expit(a[..., None] * theta[..., None] + d)  # P(y >= k), k = 1..K-1
        above = np.where(np.isnan(d), 0.0, above)
        ones = np.ones((*above.shape[:-1], 1))
        zeros = np.zeros_like(ones)
        cumulative = np.concatenate([ones, above, zeros], axis=-1)
        return cumulative[..., :-1] - cumulative[..., 1:]


class PartialCredit(_Ordinal):
    r"""Generalized partial credit model (Muraki), in mirt's ``gpcm`` convention:

    .. math::

        P(y_{ij} = k) = \frac{\exp(k\,a_i\theta_j + d_{ik})}
        {\sum_{m=0}^{K_i - 1} \exp(m\,a_i\theta_j + d_{im})}, \qquad d_{i0} = 0,

    with :math:`d_{ik} = \sum_{v \le k} s_{iv}` the sums of the step intercepts
    :math:`s_{iv}` (the log-odds of category :math:`v` against :math:`v - 1` at
    :math:`\theta = 0` is :math:`s_{iv}`). Unlike the graded model's, steps need not be ordered
    (a middle category may be rarely chosen at any ability). With two categories it is the 2PL.

    Priors: the hierarchical slope and mean step ``intercept`` :math:`\alpha_i` of every model
    here, and steps :math:`s_{iv} = \alpha_i + \sigma_s (e_{iv} - \bar e_i)` with
    :math:`e_{iv} \sim N(0, 1)` (``step_z``; the deviations sum to zero within an item, so
    :math:`\alpha_i` is exactly the mean step) and :math:`\sigma_s \sim` ``sigma_step``.
    ``intercepts`` holds :math:`d_{i1}, \dots, d_{i,K_i-1}` (NaN beyond an item's own),
    mirt's ``d1..`` of ``gpcm`` items. The likelihood, a log-sum-exp over each item's
    categories per answer, has a fused kernel of its own
    (:func:`~bayesirt.models.likelihood.partial_credit_loglik`: value and gradient in one
    pass; timings in ``benchmarks/README.md``).
    """

    name = "gpcm"
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        "sigma_step": Prior("HalfNormal", sigma=1.0),
    }
    internal_variables: ClassVar[tuple[str, ...]] = (*_Logistic.internal_variables, "step_z")

    def _step_start(self) -> np.ndarray:
        """Observed adjacent-category log-odds of every step (half an answer added to each
        category)."""
        r, layout = self.responses, self.layout
        counts = np.zeros((r.n_items, layout.max_thresholds + 1))
        np.add.at(counts, (r.item_index, r.response), 1.0)
        counts += 0.5
        below = counts[layout.threshold_item, layout.threshold_position]
        above = counts[layout.threshold_item, layout.threshold_position + 1]
        return np.log(above / below)

    def _intercept_start(self) -> np.ndarray:
        layout = self.layout
        return np.bincount(layout.threshold_item, weights=self._step_start()) / layout.n_thresholds

    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        r, layout = self.responses, self.layout
        a, mean_step = self._add_slope_and_mean_intercept()
        start = self._step_start()
        item_mean = np.bincount(layout.threshold_item, weights=start) / layout.n_thresholds
        deviation_start = start - item_mean[layout.threshold_item]
        sigma = self._prior("sigma_step")
        sigma0 = self.priors["sigma_step"].typical_value()
        e = pm.Normal(
            "step_z", 0.0, 1.0, shape=layout.total_thresholds, initval=deviation_start / sigma0
        )
        e_mean = pt.zeros(layout.n_items)[layout.threshold_item].inc(e) / layout.n_thresholds
        steps = mean_step[layout.threshold_item] + sigma * (e - e_mean[layout.threshold_item])
        # d_k: running sums of the steps within each item
        cumulative = pt.concatenate([pt.zeros(1), pt.cumsum(steps)])
        first = layout.threshold_start[layout.threshold_item]
        flat = cumulative[first + layout.threshold_position + 1] - cumulative[first]
        self._store_intercepts(flat)
        index = np.where(
            np.arange(layout.max_thresholds)[None, :] < layout.n_thresholds[:, None],
            layout.threshold_start[:, None] + np.arange(layout.max_thresholds)[None, :],
            -1,
        )
        loglik = partial_credit_loglik(
            theta, a, flat, r.subject_index, r.item_index, r.response, index
        )
        pm.Potential("loglik", loglik)

    @classmethod
    def category_probabilities(
        cls, posterior, subject_index: np.ndarray, item_index: np.ndarray
    ) -> np.ndarray:
        theta = posterior["theta"].values[:, :, subject_index]
        a = posterior["a"].values[:, :, item_index]
        d = posterior["intercepts"].values[:, :, item_index, :]
        d = np.concatenate([np.zeros((*d.shape[:-1], 1)), d], axis=-1)
        codes = np.arange(d.shape[-1])
        eta = (a * theta)[..., None] * codes + d
        eta = np.where(np.isnan(eta), -np.inf, eta)
        eta -= eta.max(axis=-1, keepdims=True)
        weight = np.exp(eta)
        return weight / weight.sum(axis=-1, keepdims=True)
