r"""Ordered beta IRT model for bounded continuous scores: judge preferences, ROUGE, pass rates.

A continuous score :math:`y_{ij} \in [0, 1]` (``response_type="continuous"``; a score on
another range is mapped onto it by the loader's ``scale``) is often exactly 0 or exactly 1:
on AlpacaEval 2, 8% of the preferences sit at the lower end and 67% within :math:`10^{-3}` of
it. A beta distribution has no mass at the ends, and clipping them in by an arbitrary
:math:`\epsilon` makes the fit depend on :math:`\epsilon` through :math:`\log \epsilon`. The
ordered beta model (Kubinec 2023, *Political Analysis* 31:519–536) treats the two ends and
the open interval as three ordered outcomes of one linear predictor

.. math::

    \eta_{ij} = a_i\theta_j + \alpha_i, \qquad \mu_{ij} = \sigma(\eta_{ij}),

with two cutpoints :math:`\kappa_1 < \kappa_2`, common to all items:

.. math::

    P(y_{ij} = 0) &= 1 - \sigma(\eta_{ij} - \kappa_1), \\
    P(y_{ij} = 1) &= \sigma(\eta_{ij} - \kappa_2), \\
    p(y_{ij} = y) &= \big[\sigma(\eta_{ij} - \kappa_1) - \sigma(\eta_{ij} - \kappa_2)\big]\,
        \operatorname{Beta}\big(y;\ \mu_{ij}\phi_i,\ (1 - \mu_{ij})\phi_i\big),
        \quad 0 < y < 1,

so a higher ability raises the chance of a perfect score, lowers that of a zero and moves
the interior scores up, all through the same :math:`a_i\theta_j + \alpha_i`. No score is
moved or clipped. The expected score is

.. math::

    E[y_{ij}] = \sigma(\eta_{ij} - \kappa_2) + \big[\sigma(\eta_{ij} - \kappa_1) -
    \sigma(\eta_{ij} - \kappa_2)\big]\,\mu_{ij},

which ranking by score averages over items (the counterpart of P(correct)).

Parameters and priors (abilities standardised as in every model, :mod:`bayesirt.models.base`):
the hierarchical discrimination ``a`` and intercept ``intercept`` of the 2PL
(:mod:`bayesirt.models.unidimensional`; ``b`` = :math:`-\alpha_i/a_i` is derived); the item's
precision :math:`\phi_i` (``phi``) with :math:`\log\phi_i \sim N(\mu_{\log\phi},
\sigma_{\log\phi})`, hierarchical in the same sample-mean coordinates (a judge is more
decided on some prompts than on others); the cutpoints (``cutpoints``, :math:`\kappa_1,
\kappa_2`) with :math:`\kappa_1 \sim N(-2, 2)` and :math:`\log(\kappa_2 - \kappa_1) \sim
N(1.5, 1)`, so they are ordered by construction.

**Likelihood.** The three-outcome part is the graded response model's with three categories
and thresholds :math:`\kappa_1, \kappa_2` (:mod:`bayesirt.models.graded`): two binary
pseudo-items per item, with intercepts :math:`\alpha_i - \kappa_1` and :math:`\alpha_i -
\kappa_2`, evaluated by the fused binary kernel (:mod:`bayesirt.models.likelihood`), plus
:math:`\log(1 - e^{-(\kappa_2 - \kappa_1)})` once per interior score. The beta density of
the interior scores,

.. math::

    \log\Gamma(\phi_i) - \log\Gamma(\mu\phi_i) - \log\Gamma((1 - \mu)\phi_i) +
    (\mu\phi_i - 1)\log y + ((1 - \mu)\phi_i - 1)\log(1 - y),

has a fused kernel of its own
(:func:`~bayesirt.models.likelihood.beta_density_loglik`): one loop over the interior scores
for the value and the gradient, the digamma function computed once per score and shape.
Timings against the plain PyTensor expression are in ``benchmarks/README.md``
(``benchmarks/beta_likelihood.py``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import expit, gammaln

from bayesirt.models.likelihood import beta_density_loglik, irt_loglik
from bayesirt.models.priors import Prior
from bayesirt.models.unidimensional import (
    _DISCRIMINATION_PRIORS,
    _INTERCEPT_PRIORS,
    _Logistic,
)

__all__ = ["OrderedBeta"]

#: Codes of the three outcomes of a score: the lower end, the open interval, the upper end.
LOWER, INTERIOR, UPPER = 0, 1, 2


def score_outcomes(y: np.ndarray) -> np.ndarray:
    """The outcome code of each score in [0, 1]: :data:`LOWER` for 0, :data:`UPPER` for 1,
    :data:`INTERIOR` otherwise."""
    y = np.asarray(y, dtype=float)
    return np.where(y <= 0.0, LOWER, np.where(y >= 1.0, UPPER, INTERIOR)).astype(np.int8)


class OrderedBeta(_Logistic):
    """Ordered beta IRT model for continuous scores in [0, 1]; see the module docstring."""

    name = "beta"
    response_types: ClassVar[tuple[str, ...]] = ("continuous",)
    supports_minibatch: ClassVar[bool] = False
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        "mu_log_phi": Prior("Normal", mu=1.5, sigma=1.5),
        "sigma_log_phi": Prior("HalfNormal", sigma=1.0),
        "tau_log_phi": Prior("HalfNormal", sigma=0.5),
        "cutpoint_low": Prior("Normal", mu=-2.0, sigma=2.0),
        "log_cutpoint_gap": Prior("Normal", mu=1.5, sigma=1.0),
    }
    internal_variables: ClassVar[tuple[str, ...]] = (
        *_Logistic.internal_variables,
        "log_phi_pc",
        "log_phi_mean_z",
        "mu_log_phi_z",
        "mu_log_phi_group_z",
        "cutpoint_low",
        "log_cutpoint_gap",
    )

    def coords(self) -> dict:
        return {**super().coords(), "cutpoint": ["low", "high"]}

    # -------------------------------------------------------------- empirical
    def _outcomes(self) -> np.ndarray:
        return score_outcomes(self.responses.response)

    def _cutpoint_starts(self, intercept_start: np.ndarray) -> tuple[float, float]:
        r"""Cutpoints that reproduce the shares of exact 0s and 1s at the mean intercept
        :math:`\bar\alpha`: :math:`\kappa_1 = \bar\alpha + \operatorname{logit} s_0`,
        :math:`\kappa_2 = \bar\alpha - \operatorname{logit} s_1` (shares shrunk by half an
        answer), at least 0.5 apart."""
        outcomes = self._outcomes()
        n = outcomes.size
        share_low = (np.sum(outcomes == LOWER) + 0.5) / (n + 1.0)
        share_high = (np.sum(outcomes == UPPER) + 0.5) / (n + 1.0)
        centre = float(np.mean(intercept_start))
        low = centre + np.log(share_low / (1 - share_low))
        high = max(centre - np.log(share_high / (1 - share_high)), low + 0.5)
        return low, high

    def _log_phi_start(self) -> np.ndarray:
        r"""Method-of-moments precision of each item's interior scores,
        :math:`\phi = m(1 - m)/v - 1`, clipped to [0.5, 200] (1 where fewer than 3)."""
        r = self.responses
        inside = self._outcomes() == INTERIOR
        items, y = r.item_index[inside], r.response[inside]
        count = np.bincount(items, minlength=r.n_items).astype(float)
        mean = np.bincount(items, weights=y, minlength=r.n_items) / np.maximum(count, 1)
        square = np.bincount(items, weights=y**2, minlength=r.n_items) / np.maximum(count, 1)
        variance = np.maximum(square - mean**2, 1e-6)
        phi = np.where(count >= 3, mean * (1 - mean) / variance - 1.0, 1.0)
        return np.log(np.clip(phi, 0.5, 200.0))

    # ------------------------------------------------------------------ build
    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        r = self.responses
        a, b = self._add_items()
        intercept = -a * b
        low_start, high_start = self._cutpoint_starts(self._intercept_start())
        low = self._prior("cutpoint_low", initval=low_start)
        log_gap = self._prior("log_cutpoint_gap", initval=np.log(high_start - low_start))
        gap = pt.exp(log_gap)
        cutpoints = pm.Deterministic("cutpoints", pt.stack([low, low + gap]), dims="cutpoint")
        inside = self._outcomes() == INTERIOR
        counts = np.bincount(r.item_index[inside], minlength=r.n_items)
        log_phi = self._item_parameter(
            "log_phi", information=counts / 2.0, start=self._log_phi_start()
        )
        phi = pm.Deterministic("phi", pt.exp(log_phi), dims="item")

        # the three outcomes: the graded model's likelihood with thresholds kappa_1, kappa_2
        subject, pseudo_item, y = self._pseudo_pairs()
        pseudo_a = a[np.repeat(np.arange(r.n_items), 2)]
        pseudo_b = (b[:, None] + cutpoints[None, :] / a[:, None]).reshape((-1,))
        outcomes = irt_loglik(
            theta,
            pseudo_a,
            pseudo_b,
            pm.Data("pseudo_subject", subject),
            pm.Data("pseudo_item", pseudo_item),
            pm.Data("pseudo_y", y),
        ) + inside.sum() * pt.log1mexp(-gap)

        # the beta density of the interior scores, fused (value and gradient in one pass)
        density = beta_density_loglik(
            theta,
            a,
            intercept,
            phi,
            r.subject_index[inside],
            r.item_index[inside],
            r.response[inside],
        )
        pm.Potential("loglik", outcomes + density)

    def _pseudo_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Binary pseudo-answers of the three-outcome part: a "wrong" one at the item's
        lower threshold (pseudo-item ``2i``) for a 0, a "correct" one there and a "wrong" one
        at its upper threshold (``2i + 1``) for an interior score, a "correct" one at the
        upper threshold for a 1."""
        r = self.responses
        outcome = self._outcomes()
        above = outcome > LOWER  # "correct" at threshold outcome - 1
        below = outcome < UPPER  # "wrong" at threshold outcome
        subject = np.concatenate([r.subject_index[above], r.subject_index[below]])
        pseudo = np.concatenate(
            [2 * r.item_index[above] + outcome[above] - 1, 2 * r.item_index[below] + outcome[below]]
        )
        y = np.concatenate([np.ones(above.sum()), np.zeros(below.sum())]).astype(np.int8)
        return subject.astype(np.int32), pseudo.astype(np.int32), y

    # ------------------------------------------------------- pointwise quantities
    @staticmethod
    def outcome_probabilities(posterior, subject_index: np.ndarray, item_index: np.ndarray):
        r"""The linear predictor :math:`\eta` and the probabilities of a 0, of an interior
        score and of a 1 at the given (subject, item) pairs in every draw: four arrays of
        shape (chain, draw, n_pairs)."""
        theta = posterior["theta"].values[:, :, subject_index]
        a = posterior["a"].values[:, :, item_index]
        eta = a * theta + posterior["intercept"].values[:, :, item_index]
        cut = posterior["cutpoints"].values
        above_low = expit(eta - cut[:, :, :1])
        above_high = expit(eta - cut[:, :, 1:])
        return eta, 1.0 - above_low, above_low - above_high, above_high

    @classmethod
    def pointwise_log_likelihood(
        cls, posterior, subject_index: np.ndarray, item_index: np.ndarray, y: np.ndarray
    ) -> np.ndarray:
        """Log-probability of a 0 or a 1, and log-density of an interior score (the
        probability of the interior times the beta density), in every draw."""
        y = np.asarray(y, dtype=float)
        eta, p_low, p_inside, p_high = cls.outcome_probabilities(
            posterior, subject_index, item_index
        )
        outcome = score_outcomes(y)
        phi = posterior["phi"].values[:, :, item_index]
        shape_1, shape_2 = expit(eta) * phi, expit(-eta) * phi
        inner = np.clip(y, 1e-300, 1.0 - 1e-16)  # only the interior scores use the density
        density = (
            gammaln(phi)
            - gammaln(shape_1)
            - gammaln(shape_2)
            + (shape_1 - 1.0) * np.log(inner)
            + (shape_2 - 1.0) * np.log1p(-inner)
        )
        with np.errstate(divide="ignore"):
            return np.where(
                outcome == LOWER,
                np.log(p_low),
                np.where(outcome == UPPER, np.log(p_high), np.log(p_inside) + density),
            )

    @classmethod
    def observation_probability(cls, posterior, subject_index, item_index) -> np.ndarray:
        """The expected score :math:`E[y_{ij}]` at the given pairs in every draw (see the
        module docstring): what ranking by expected score averages over items."""
        eta, _, p_inside, p_high = cls.outcome_probabilities(posterior, subject_index, item_index)
        return p_high + p_inside * expit(eta)
