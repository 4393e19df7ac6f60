r"""Hierarchical 1PL, 2PL, 3PL and 4PL models.

All four share the item characteristic curve

.. math::

    P(y_{ij} = 1) = c_i + (d_i - c_i)\,\sigma\big(a_i(\theta_j - b_i)\big)

over the observed pairs :math:`(j, i)` only, with standardised abilities :math:`\theta`
(mean 0, sd 1 over the fitted subjects; see :mod:`bayesirt.models.base`) and these item
priors (``pool_by`` adds group means around the overall ones):

* difficulty :math:`b_i \sim N(\mu_b, \sigma_b)`, centred where the item is informative.
  With the scale fixed by the abilities, each :math:`b_i` is informed by every subject that
  answered item :math:`i`, so the centred form samples best (the non-centred form couples
  :math:`\mu_b` to all :math:`b_i`); items that (nearly) everyone answers the same way are
  non-centred (see ``_add_difficulty``);
* discrimination, positive and non-centred: :math:`\log a_i = \mu_{\log a} +
  \sigma_{\log a} z_i`, :math:`z_i \sim N(0, 1)`; discrimination is weakly identified per
  item, where the non-centred form avoids the funnel in :math:`\sigma_{\log a}`;
* lower asymptote (3PL, 4PL): :math:`\operatorname{logit} c_i = \mu_c + \sigma_c z^c_i`;
* upper asymptote (4PL): :math:`1 - d_i = (1 - c_i)\,\sigma(\mu_s + \sigma_s z^s_i)`, which
  enforces :math:`c_i < d_i` by construction.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayesirt.models.base import IRTModel
from bayesirt.models.likelihood import irt_loglik
from bayesirt.models.priors import Prior

__all__ = ["FourPL", "OnePL", "ThreePL", "TwoPL"]

CENTRED_LOG_A_MIN_RESPONSES = 200
#: Items with fewer correct (or incorrect) answers than this get a non-centred difficulty.
MIN_MINORITY_ANSWERS = 2

_DIFFICULTY_PRIORS = {
    "mu_b": Prior("Normal", mu=0.0, sigma=2.0),
    "sigma_b": Prior("HalfNormal", sigma=2.0),
    "tau_b": Prior("HalfNormal", sigma=1.0),
}
_DISCRIMINATION_PRIORS = {
    "mu_log_a": Prior("Normal", mu=0.0, sigma=1.0),
    "sigma_log_a": Prior("HalfNormal", sigma=0.5),
    "tau_log_a": Prior("HalfNormal", sigma=0.5),
}
_GUESSING_PRIORS = {
    "mu_logit_c": Prior("Normal", mu=-2.0, sigma=1.0),
    "sigma_logit_c": Prior("HalfNormal", sigma=0.5),
}
_SLIPPING_PRIORS = {
    "mu_logit_slip": Prior("Normal", mu=-2.5, sigma=1.0),
    "sigma_logit_slip": Prior("HalfNormal", sigma=0.5),
}


class _Logistic(IRTModel):
    """Shared construction of the 1PL–4PL family."""

    has_guessing: ClassVar[bool] = False
    has_slipping: ClassVar[bool] = False
    internal_variables: ClassVar[tuple[str, ...]] = ("b_informative",)

    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        b = self._add_difficulty()
        a = self._add_discrimination()
        c = d = None
        if self.has_guessing:
            c = pm.Deterministic("c", self._unit_interval("logit_c"), dims="item")
        if self.has_slipping:
            slip = self._unit_interval("logit_slip")
            d = pm.Deterministic("d", 1.0 - (1.0 - c) * slip, dims="item")
        y = pm.Data("y", self.responses.response.astype(np.int8), dims="obs")
        pm.Potential("loglik", irt_loglik(theta, a, b, subject_index, item_index, y, c=c, d=d))

    def _add_difficulty(self):
        """Difficulties: centred for informative items, non-centred for the others.

        An item whose answers are (nearly) all the same — fewer than
        :data:`MIN_MINORITY_ANSWERS` correct or incorrect — bounds :math:`b_i` on one side
        only, so its posterior follows the prior and a centred :math:`b_i` would form a funnel
        with :math:`\\sigma_b` (measured on ChemBench: 134 items nobody answers, R-hat 1.15
        for :math:`\\sigma_b` when all items were centred). Those items use
        :math:`b_i = \\mu_b + \\sigma_b z_i`; both forms have the same prior.
        """
        mean, sigma = self._grouped_mean("b"), self._prior("sigma_b")
        weak = self._weak_items()
        start = self._difficulty_start()
        if not weak.any():
            return pm.Normal("b", mean, sigma, dims="item", initval=start)
        mean = pt.as_tensor(mean) * pt.ones(self.responses.n_items)
        strong = ~weak
        centred = pm.Normal(
            "b_informative", mean[strong], sigma, shape=int(strong.sum()), initval=start[strong]
        )
        offset = pm.Normal("b_z", 0.0, 1.0, shape=int(weak.sum()))
        b = pt.zeros(self.responses.n_items)
        b = pt.set_subtensor(b[np.flatnonzero(strong)], centred)
        b = pt.set_subtensor(b[np.flatnonzero(weak)], mean[weak] + sigma * offset)
        return pm.Deterministic("b", b, dims="item")

    def _weak_items(self) -> np.ndarray:
        """Items with fewer than ``MIN_MINORITY_ANSWERS`` correct or incorrect answers."""
        r = self.responses
        correct = np.bincount(r.item_index, weights=r.response, minlength=r.n_items)
        wrong = r.item_counts().to_numpy() - correct
        return np.minimum(correct, wrong) < MIN_MINORITY_ANSWERS

    def _difficulty_start(self):
        """Start of :math:`b` from item accuracy: with :math:`\\theta \\sim N(0, 1)` and
        :math:`a = 1`, :math:`P \\approx \\sigma(-b / \\sqrt{1 + \\pi/8})`."""
        accuracy = self.responses.item_accuracy().fillna(0.5).clip(0.02, 0.98).to_numpy()
        return -np.sqrt(1 + np.pi / 8) * np.log(accuracy / (1 - accuracy))

    def _add_discrimination(self):
        mean, sigma = self._grouped_mean("log_a"), self._prior("sigma_log_a")
        if self.centred_discrimination:
            log_a = pm.Normal("log_a", mean, sigma, dims="item")
        else:
            log_a = mean + sigma * pm.Normal("log_a_z", 0.0, 1.0, dims="item")
        return pm.Deterministic("a", pm.math.exp(log_a), dims="item")

    @property
    def centred_discrimination(self) -> bool:
        """Centre :math:`\\log a` when items have many responses (median ≥ 200), where the data
        pin each :math:`a_i`; otherwise the non-centred form avoids the funnel."""
        return float(np.median(self.responses.item_counts())) >= CENTRED_LOG_A_MIN_RESPONSES

    def _unit_interval(self, key: str):
        """Item parameter in (0, 1), non-centred: ``sigmoid(mu_<key> + sigma_<key> * z)``."""
        z = pm.Normal(f"{key}_z", 0.0, 1.0, dims="item")
        return pm.math.sigmoid(self._prior(f"mu_{key}") + self._prior(f"sigma_{key}") * z)


class OnePL(_Logistic):
    r"""Rasch model with a common discrimination: :math:`P = \sigma(a(\theta_j - b_i))`.

    :math:`\log a \sim` ``priors["log_a"]`` (default :math:`N(0, 1)`); ``a`` is stored per
    item (all equal) so every model exposes the same posterior variables.
    """

    name = "1pl"
    default_priors: ClassVar[dict[str, Prior]] = {
        **_DIFFICULTY_PRIORS,
        "log_a": Prior("Normal", mu=0.0, sigma=1.0),
    }

    def _add_discrimination(self):
        log_a = self._prior("log_a")
        n_items = self.responses.n_items
        return pm.Deterministic("a", pm.math.exp(log_a) * pm.math.ones(n_items), dims="item")


class TwoPL(_Logistic):
    r"""Two-parameter logistic model: :math:`P = \sigma(a_i(\theta_j - b_i))`."""

    name = "2pl"
    default_priors: ClassVar[dict[str, Prior]] = {**_DIFFICULTY_PRIORS, **_DISCRIMINATION_PRIORS}


class ThreePL(_Logistic):
    r"""Three-parameter logistic model: :math:`P = c_i + (1 - c_i)\,\sigma(a_i(\theta_j - b_i))`."""

    name = "3pl"
    has_guessing = True
    default_priors: ClassVar[dict[str, Prior]] = {
        **_DIFFICULTY_PRIORS,
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
    default_priors: ClassVar[dict[str, Prior]] = {
        **_DIFFICULTY_PRIORS,
        **_DISCRIMINATION_PRIORS,
        **_GUESSING_PRIORS,
        **_SLIPPING_PRIORS,
    }
