r"""Hierarchical 1PL, 2PL, 3PL and 4PL models.

All four share the item characteristic curve

.. math::

    P(y_{ij} = 1) = c_i + (d_i - c_i)\,\sigma\big(a_i\theta_j + \alpha_i\big)
                  = c_i + (d_i - c_i)\,\sigma\big(a_i(\theta_j - b_i)\big),
    \qquad b_i = -\alpha_i / a_i,

over the observed pairs :math:`(j, i)` only, with standardised abilities :math:`\theta`
(mean 0, sd 1 over the fitted subjects; see :mod:`bayesirt.models.base`). The items are
parameterised by slope and intercept (as in mirt), and the posterior holds both the
intercept :math:`\alpha_i` (``intercept``) and the difficulty :math:`b_i` (``b``) of the
:math:`a(\theta - b)` form, computed from them after sampling
(:func:`~bayesirt.models.derived.derived_variables`). Priors (``pool_by`` adds partially
pooled group means):

* intercept :math:`\alpha_i \sim N(\mu_\alpha, \sigma_\alpha)`;
* discrimination, positive: :math:`\log a_i \sim N(\mu_{\log a}, \sigma_{\log a})`;
* lower asymptote (3PL, 4PL): :math:`\operatorname{logit} c_i \sim N(\mu_c, \sigma_c)`;
* upper asymptote (4PL): :math:`1 - d_i = (1 - c_i)\,s_i` with
  :math:`\operatorname{logit} s_i \sim N(\mu_s, \sigma_s)`, so :math:`c_i < d_i` always.

The common levels :math:`\mu_c, \mu_s` are learned; the spreads :math:`\sigma_c = \sigma_s
= 0.5` are fixed by default (``Prior("DiracDelta", c=0.5)``; give ``sigma_logit_c`` a
``HalfNormal`` prior to learn it). An asymptote is informed only by the few answers at one
end of the ability range, so how much the items' guessing levels differ is barely identified,
and learning it made the posterior bimodal on real data: on AlpacaEval 2 (58 × 805,
``correct > 0.5``, 4 chains) the chains settled at :math:`\sigma_c \approx 3.3` (a few items
with real guessing) or at 0.26 (none), R-hat 1.75 after 2,773 draws per chain, with or
without an upper bound of 1/2 on :math:`c`. With the spread fixed at 0.5 (95% of items within
a factor of about 2.7 of the common odds of guessing) the same fit converged after 808 draws
per chain at 31 leapfrog steps per draw (``benchmarks/asymptotes.py``).

Why slope–intercept: with abilities centred and scaled, the likelihood of an item's
:math:`(\log a_i, \alpha_i)` is nearly uncorrelated (:math:`\partial z/\partial \alpha = 1`,
:math:`\partial z/\partial a = \theta`, and :math:`\sum_j \theta_j = 0`), while
:math:`(\log a_i, b_i)` are strongly correlated for every item far from the middle of the
ability range; and a change in the spread of the abilities moves every :math:`b_i` but no
:math:`\alpha_i`. Measured on ChemBench (22 × 2,854, nutpie, 500 + 500 draws): min bulk ESS
26 (θ, :math:`\sigma_b`) and E-BFMI 0.26 with :math:`b`; min ESS 210 and E-BFMI 0.75 with the
intercept and the sample-mean coordinates of
:func:`~bayesirt.models._hierarchy.hierarchical_item_vector`. The prior is placed on the
intercept, so :math:`b = -\alpha/a` has a heavier-tailed prior for weakly discriminating items,
as it should: such items say little about where they sit.

Every item parameter is hierarchical through :meth:`IRTModel._item_parameter`
(:func:`~bayesirt.models._hierarchy.hierarchical_item_vector`), which samples group sample
means and zero-sum deviations (exactly the same model); each item's deviation is partially
centred (:func:`~bayesirt.models._hierarchy.partially_centred_normal`) by the information its
own answers carry about it (``_*_information`` below). The logits of the 3PL/4PL asymptotes
stay non-centred.

Measured on the shipped example leaderboard (40 × 1,500, nutpie, 2 chains × (500 + 500)
draws), against the earlier choice of fully centred or fully non-centred per item by a
threshold on the item's information (``benchmarks/geometry.py``, seed 1): the smallest bulk
ESS over every parameter and hyperparameter, that of :math:`\sigma_{\log a}` in both, rose
from 156 to 250 and the smallest tail ESS from 230 to 263, at 22.9 instead of 21.3 leapfrog
steps per draw; E-BFMI fell from 0.94 to 0.76 (the target is 0.3). With seed 0 the smallest
bulk ESS went from 108 to 269. The run times of these measurements (40 s and 61 s) were
taken beside another fit and are not comparable.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pymc as pm

from bayesirt.data.filters import compute_point_biserial
from bayesirt.models.base import IRTModel
from bayesirt.models.likelihood import irt_loglik
from bayesirt.models.priors import Prior

__all__ = ["FourPL", "OnePL", "ThreePL", "TwoPL"]


_INTERCEPT_PRIORS = {
    "mu_intercept": Prior("Normal", mu=0.0, sigma=2.0),
    "sigma_intercept": Prior("HalfNormal", sigma=2.0),
    "tau_intercept": Prior("HalfNormal", sigma=1.0),
}
_DISCRIMINATION_PRIORS = {
    "mu_log_a": Prior("Normal", mu=0.0, sigma=1.0),
    "sigma_log_a": Prior("HalfNormal", sigma=0.5),
    "tau_log_a": Prior("HalfNormal", sigma=0.5),
}
_GUESSING_PRIORS = {
    "mu_logit_c": Prior("Normal", mu=-2.0, sigma=1.0),
    "sigma_logit_c": Prior("DiracDelta", c=0.5),
    "tau_logit_c": Prior("HalfNormal", sigma=0.5),
}
_SLIPPING_PRIORS = {
    "mu_logit_slip": Prior("Normal", mu=-2.5, sigma=1.0),
    "sigma_logit_slip": Prior("DiracDelta", c=0.5),
    "tau_logit_slip": Prior("HalfNormal", sigma=0.5),
}


class _Logistic(IRTModel):
    """Shared construction of the 1PL–4PL family."""

    response_types: ClassVar[tuple[str, ...]] = ("binary", "binomial")
    has_guessing: ClassVar[bool] = False
    has_slipping: ClassVar[bool] = False
    supports_minibatch: ClassVar[bool] = True
    internal_variables: ClassVar[tuple[str, ...]] = (
        IRTModel.internal_variables
        + tuple(
            f"{key}_{part}"
            for key in ("intercept", "log_a", "logit_c", "logit_slip")
            for part in ("pc", "z", "mean_z")
        )
        + tuple(f"mu_{key}_z" for key in ("intercept", "log_a", "logit_c", "logit_slip"))
    )

    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        a, b = self._add_items()
        c = d = None
        if self.has_guessing:
            c = pm.Deterministic("c", self._unit_interval("logit_c"), dims="item")
        if self.has_slipping:
            slip = self._unit_interval("logit_slip")
            d = pm.Deterministic("d", 1.0 - (1.0 - c) * slip, dims="item")
        if self._minibatch is None:
            y, scale = pm.Data("y", self._answers[2].astype(np.int8), dims="obs"), 1.0
        else:
            y, scale = self._minibatch
        loglik = irt_loglik(theta, a, b, subject_index, item_index, y, c=c, d=d)
        pm.Potential("loglik", scale * loglik)

    def _add_items(self):
        """Discrimination ``a`` and ``intercept`` as posterior variables; returns the tensors
        ``(a, b)`` with the difficulty ``b = -intercept / a`` (derived after sampling, not
        stored: :func:`~bayesirt.models.derived.derived_variables`)."""
        a = self._add_discrimination()
        intercept = self._item_parameter(
            "intercept", information=self._intercept_information(), start=self._intercept_start()
        )
        pm.Deterministic("intercept", intercept, dims="item")
        return a, -intercept / a

    def _answer_counts(self) -> tuple[np.ndarray, np.ndarray]:
        _, items, outcomes = self._answers
        n_items = self.responses.n_items
        correct = np.bincount(items, weights=outcomes, minlength=n_items)
        return correct, np.bincount(items, minlength=n_items) - correct

    def _intercept_information(self) -> np.ndarray:
        r"""Precision that an item's answers carry about its intercept,
        :math:`\sum_j p_{ij}(1 - p_{ij}) \approx n_i \hat p_i (1 - \hat p_i)`, with the
        item's accuracy shrunk by half an answer each way (an item nobody solves carries
        almost none: measured on ChemBench, 134 such items made R-hat 1.15 when centred)."""
        correct, wrong = self._answer_counts()
        n = correct + wrong
        p = (correct + 0.5) / (n + 1.0)
        return n * p * (1.0 - p) * (np.minimum(correct, wrong) > 0)

    def _log_a_information(self) -> np.ndarray:
        r"""Precision that an item's answers carry about its log-discrimination,
        :math:`a_i^2 \sum_j \theta_j^2 p_{ij}(1 - p_{ij}) \approx \hat a_i^2 n_i \hat p_i
        (1 - \hat p_i)` with standardised abilities, where :math:`\hat a_i` is read off the
        item's correlation :math:`r_i` with the subjects' accuracy on the other items
        (:func:`~bayesirt.data.filters.compute_point_biserial`, 0 where undefined;
        normal-ogive :math:`a \approx 1.7\, r / \sqrt{1 - r^2}`), times the intercept's
        information. An item that barely discriminates carries little information about its
        log-discrimination, however many subjects answered it."""
        rest = compute_point_biserial(self.responses).fillna(0.0).to_numpy()
        a_hat = np.clip(1.7 * rest / np.sqrt(np.clip(1.0 - rest**2, 1e-3, None)), 0.05, 4.0)
        return a_hat**2 * self._intercept_information()

    def _intercept_start(self):
        r"""Start from item accuracy: with :math:`\theta \sim N(0, 1)` and :math:`a = 1`,
        :math:`P \approx \sigma(\alpha / \sqrt{1 + \pi/8})`."""
        accuracy = self.responses.item_accuracy().fillna(0.5).clip(0.02, 0.98).to_numpy()
        return np.sqrt(1 + np.pi / 8) * np.log(accuracy / (1 - accuracy))

    def _add_discrimination(self):
        log_a = self._item_parameter("log_a", information=self._log_a_information())
        return pm.Deterministic("a", pm.math.exp(log_a), dims="item")

    def _unit_interval(self, key: str):
        """Item parameter in (0, 1), non-centred: ``sigmoid(mu_<key> + sigma_<key> * z)``
        (``pool_by`` adds group offsets). The asymptotes are weakly identified item by item,
        so their means are sampled directly rather than as the items' sample mean: the
        sample-mean coordinates made ADVI on the 3PL diverge (NaN) in the first steps."""
        z = pm.Normal(f"{key}_z", 0.0, 1.0, dims="item")
        return pm.math.sigmoid(self._grouped_mean(key) + self._prior(f"sigma_{key}") * z)


class OnePL(_Logistic):
    r"""Rasch model with a common discrimination: :math:`P = \sigma(a(\theta_j - b_i))`.

    :math:`\log a \sim` ``priors["log_a"]`` (default :math:`N(0, 1)`); ``a`` is stored per
    item (all equal) so every model exposes the same posterior variables.
    """

    name = "1pl"
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        "log_a": Prior("Normal", mu=0.0, sigma=1.0),
    }

    def _add_discrimination(self):
        log_a = self._prior("log_a")
        n_items = self.responses.n_items
        return pm.Deterministic("a", pm.math.exp(log_a) * pm.math.ones(n_items), dims="item")


class TwoPL(_Logistic):
    r"""Two-parameter logistic model: :math:`P = \sigma(a_i(\theta_j - b_i))`."""

    name = "2pl"
    default_priors: ClassVar[dict[str, Prior]] = {**_INTERCEPT_PRIORS, **_DISCRIMINATION_PRIORS}


#: nutpie options of the models with asymptotes. The shift of the guessing level
#: (``mu_logit_c``) trades against the mean intercept, a correlation between two
#: hyperparameters that a diagonal mass matrix cannot follow; nutpie's low-rank modified mass
#: matrix learns it during tuning. Measured on a simulated 150 × 200 3PL (seed 22,
#: ``benchmarks/asymptotes.py``): 2,279 draws per chain at 47.9 leapfrog steps per draw,
#: against 2,369 draws at 109 steps with the diagonal mass matrix (2.3× fewer gradients).
_ASYMPTOTE_NUTPIE_OPTIONS = {"low_rank_modified_mass_matrix": True}


class ThreePL(_Logistic):
    r"""Three-parameter logistic model: :math:`P = c_i + (1 - c_i)\,\sigma(a_i(\theta_j - b_i))`."""

    name = "3pl"
    has_guessing = True
    nutpie_options: ClassVar[dict] = _ASYMPTOTE_NUTPIE_OPTIONS
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        **_GUESSING_PRIORS,
    }


class FourPL(_Logistic):
    r"""Four-parameter logistic model.

    :math:`P = c_i + (d_i - c_i)\,\sigma(a_i(\theta_j - b_i))`.
    """

    name = "4pl"
    has_guessing = True
    has_slipping = True
    nutpie_options: ClassVar[dict] = _ASYMPTOTE_NUTPIE_OPTIONS
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        **_GUESSING_PRIORS,
        **_SLIPPING_PRIORS,
    }
