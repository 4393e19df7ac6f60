"""Base class of the PyMC models: data, coordinates, priors and configuration.

A model object holds a :class:`~bayesirt.data.Responses` and a prior configuration and builds
a :class:`pymc.Model` on demand. It never samples by itself: :func:`bayesirt.inference.fit_model`
fits it (:func:`bayesirt.fit` builds and fits a model by name).

Identification of the latent scale (shared by every model of the package)
-------------------------------------------------------------------------
The 2PL likelihood is unchanged by :math:`\\theta \\to s\\theta + m`, :math:`b \\to sb + m`,
:math:`a \\to a/s`. A prior :math:`\\theta \\sim N(0, 1)` identifies :math:`m` and :math:`s` only
through the prior, so with many items per subject the posterior is a long thin ridge along
the joint shift and the joint rescaling, which NUTS crosses very slowly (the issue measured
min ESS ≈ 7 after 1,000 draws at 100 × 2,000). Here both are fixed by constraint:

.. math::

    z \\sim \\text{ZeroSumNormal}(1), \\qquad
    \\theta_j = \\frac{z_j}{\\sqrt{\\tfrac1N \\sum_k z_k^2}},

so the abilities of the fitted subjects have mean exactly 0 and standard deviation exactly 1
in every draw. The implied prior is that of :math:`N(0, 1)` abilities conditioned on their
sample mean and standard deviation. The zero-sum normal is sampled in :math:`N - 1`
unconstrained coordinates, so the location has no direction left to wander in; the radius of
:math:`z` does not enter the likelihood and keeps its :math:`\\chi_{N-1}` prior, which NUTS
samples easily. Both ridges disappear, and item parameters are on the scale of the fitted
population (a new subject is scored with the population prior :math:`\\theta \\sim N(0, 1)`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pymc as pm
from scipy import stats

from bayesirt.data import Responses
from bayesirt.data.validation import require_fittable
from bayesirt.irt import icc, log_likelihood
from bayesirt.models._hierarchy import hierarchical_item_vector
from bayesirt.models.priors import Prior, merge_priors

__all__ = ["IRTModel"]


class IRTModel:
    """Common machinery of every IRT model in the package.

    Subclasses set :attr:`name`, :attr:`default_priors` and implement :meth:`_add_items`
    (item parameters and the per-observation probability or logit).

    Parameters
    ----------
    responses : Responses
        The data. Only observed pairs enter the likelihood.
    priors : dict of str to Prior, optional
        Overrides of :attr:`default_priors`, by key.
    pool_by : str, optional
        Item metadata column (e.g. ``"category"``, ``"benchmark"``) whose groups get their own
        mean difficulty and mean log-discrimination, partially pooled towards the overall
        means (group offsets :math:`\\tau z_g`, non-centred).
    """

    name: ClassVar[str]
    default_priors: ClassVar[dict[str, Prior]]
    #: Whether :meth:`build_model` accepts ``batch_size`` (minibatch ADVI).
    supports_minibatch: ClassVar[bool] = False
    #: Sampled pieces that a stored parameter already holds whole; dropped after fitting
    #: (``theta_z``: the abilities before standardisation, see the module docstring).
    internal_variables: ClassVar[tuple[str, ...]] = ("theta_z",)
    #: Options of nutpie's sampler this model is sampled with by default (measured in
    #: ``benchmarks/``; ``fit(..., sampler_kwargs=...)`` overrides them).
    nutpie_options: ClassVar[dict[str, Any]] = {}
    #: Further constructor options (attributes of the same name), stored by :meth:`config`.
    model_options: ClassVar[tuple[str, ...]] = ()
    #: Kinds of responses (:attr:`bayesirt.data.Responses.response_type`) the model is for.
    response_types: ClassVar[tuple[str, ...]] = ("binary",)

    def __init__(
        self,
        responses: Responses,
        *,
        priors: dict[str, Prior] | None = None,
        pool_by: str | None = None,
    ) -> None:
        if not isinstance(responses, Responses):
            raise TypeError(f"responses must be a Responses, got {type(responses).__name__}")
        require_fittable(responses.n_subjects, responses.n_items)
        if responses.response_type not in self.response_types:
            suggestion = {
                "ordinal": "; ordinal scores are fitted by the graded model 'grm'",
                "continuous": "; continuous scores are fitted by the ordered beta model 'beta'",
            }
            raise ValueError(
                f"the {self.name} model is for {' or '.join(self.response_types)} responses, "
                f"got {responses.response_type} responses"
                + suggestion.get(responses.response_type, "")
            )
        self.responses = responses
        self._answers = self.answer_pairs()
        self.priors = merge_priors(self.default_priors, priors)
        self.pool_by = pool_by
        if pool_by is not None:
            self._group_codes, self._group_labels = responses.item_groups(pool_by)
        self._check_responses()

    def _check_responses(self) -> None:
        """Checks of the data that only some models need (none here); raise naming the bad
        items or subjects."""

    # ----------------------------------------------------------------- config
    def config(self) -> dict[str, Any]:
        """JSON-able description from which
        :func:`~bayesirt.models.registry.model_from_config` rebuilds the model."""
        return {
            "model": self.name,
            "priors": {k: p.to_dict() for k, p in self.priors.items()},
            "pool_by": self.pool_by,
            **{name: getattr(self, name) for name in self.model_options},
        }

    def __repr__(self) -> str:
        pooled = f", pool_by={self.pool_by!r}" if self.pool_by else ""
        return f"{type(self).__name__}({self.responses!r}{pooled})"

    # ------------------------------------------------------------------ build
    def answer_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""The (subject, item, outcome) triples the likelihood sums over.

        The observed pairs as they are, except for binomial responses (:math:`k` successes in
        :math:`n` trials), which become :math:`k` correct and :math:`n - k` wrong answers of
        the same subject to the same item: the Bernoulli likelihood of those answers is the
        binomial likelihood up to the constant :math:`\log\binom{n}{k}`, so every model of
        right/wrong answers takes repeated samples as the evidence they are, on the same
        fused kernel. The cost grows with the total number of trials.
        """
        r = self.responses
        if r.response_type != "binomial":
            return r.subject_index, r.item_index, r.response
        k = r.response.astype(np.int64)
        n = r.n_trials.astype(np.int64)
        subject = np.concatenate([np.repeat(r.subject_index, k), np.repeat(r.subject_index, n - k)])
        item = np.concatenate([np.repeat(r.item_index, k), np.repeat(r.item_index, n - k)])
        outcome = np.concatenate([np.ones(k.sum()), np.zeros((n - k).sum())])
        return subject.astype(np.int32), item.astype(np.int32), outcome.astype(np.int8)

    def coords(self) -> dict[str, Any]:
        coords = {
            "subject": np.asarray(self.responses.subjects.astype(str)),
            "item": np.asarray(self.responses.items.astype(str)),
            "obs": np.arange(len(self._answers[2])),
        }
        if self.pool_by is not None:
            coords[self.pool_by] = np.asarray(self._group_labels.astype(str))
        return coords

    def build_model(self, *, batch_size: int | None = None) -> pm.Model:
        """The PyMC model: abilities, item parameters and the Bernoulli log-likelihood of the
        observed pairs (a potential ``loglik``; see :mod:`bayesirt.models.likelihood`).

        With ``batch_size``, the likelihood is evaluated on a fresh random minibatch of that
        many observed pairs at every evaluation and scaled by ``n_observed / batch_size``, an
        unbiased estimate of the full log-likelihood: for stochastic-gradient ADVI on large
        data only (NUTS needs the exact density). Models that support it set
        :attr:`supports_minibatch`.
        """
        subjects, items, outcomes = self._answers
        if batch_size is not None and not self.supports_minibatch:
            raise ValueError(f"the {self.name} model cannot be fitted in minibatches")
        if batch_size is not None and not 1 <= int(batch_size) <= len(outcomes):
            raise ValueError(
                f"batch_size must be between 1 and the {len(outcomes)} observed responses, "
                f"got {batch_size}"
            )
        with pm.Model(coords=self.coords()) as model:
            if batch_size is None:
                self._minibatch = None
                subject_index = pm.Data("subject_index", subjects, dims="obs")
                item_index = pm.Data("item_index", items, dims="obs")
            else:
                subject_index, item_index, y = pm.Minibatch(
                    subjects, items, outcomes.astype(np.int8), batch_size=int(batch_size)
                )
                self._minibatch = (y, len(outcomes) / int(batch_size))
            theta = self._add_abilities()
            self._add_likelihood(theta, subject_index, item_index)
        return model

    def _add_abilities(self):
        """Standardised abilities (see the module docstring for why).

        The sampler starts from normal scores of the subjects' accuracy ranks (any start with
        distinct values would do; all-equal ``z`` would have zero sd).
        """
        accuracy = self.responses.subject_accuracy().fillna(0.5).to_numpy()
        ranks = stats.rankdata(accuracy)
        start = stats.norm.ppf((ranks - 0.5) / len(ranks))
        z = pm.ZeroSumNormal("theta_z", sigma=1.0, dims="subject", initval=start - start.mean())
        return pm.Deterministic("theta", z / pm.math.sqrt(pm.math.mean(z**2)), dims="subject")

    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        raise NotImplementedError

    def _prior(self, key: str, name: str | None = None, **kwargs):
        return self.priors[key].create(name or key, **kwargs)

    def _grouped_mean(self, key: str):
        """Overall mean ``mu_<key>``, plus partially pooled group means if ``pool_by``.

        Returns the mean per item (a scalar without pooling). For parameters that the data
        barely inform item by item (asymptotes); well-informed ones use
        :meth:`_item_parameter`.
        """
        mu = self._prior(f"mu_{key}")
        if self.pool_by is None:
            return mu
        tau = self._prior(f"tau_{key}")
        offset = pm.Normal(f"{key}_group_z", 0.0, 1.0, dims=self.pool_by)
        group_mean = pm.Deterministic(f"mu_{key}_group", mu + tau * offset, dims=self.pool_by)
        return group_mean[self._group_codes]

    def _item_parameter(
        self, key: str, *, information: np.ndarray, start: np.ndarray | None = None
    ):
        r"""Hierarchical item parameter :math:`x_i \sim N(\mu_{g(i)}, \sigma)` (``key`` names
        it and its priors ``mu_<key>``, ``sigma_<key>``, ``tau_<key>``), with groups :math:`g`
        of ``pool_by`` (one group without it), sampled as its group sample means plus
        partially centred zero-sum deviations: the model and its coordinates are those of
        :func:`~bayesirt.models._hierarchy.hierarchical_item_vector`.

        ``information`` is the precision that each item's own answers carry about
        :math:`x_i`; ``start`` is an initial value of :math:`x` (default: the prior mean of
        ``mu_<key>``).
        """
        n_items = self.responses.n_items
        if start is None:  # the prior mean of mu_<key> (e.g. c near 0.12 for the 3PL)
            start = np.full(n_items, float(self.priors[f"mu_{key}"].params.get("mu", 0.0)))
        items = hierarchical_item_vector(
            key,
            priors=self.priors,
            information=information,
            start=start,
            codes=np.zeros(n_items, dtype=int) if self.pool_by is None else self._group_codes,
            dims=self.pool_by,
        )
        return items.value

    # ------------------------------------------------------- pointwise quantities
    @classmethod
    def pointwise_log_likelihood(
        cls, posterior, subject_index: np.ndarray, item_index: np.ndarray, y: np.ndarray
    ) -> np.ndarray:
        """Bernoulli log-probability of responses ``y`` at the (subject, item) pairs given by
        the index arrays, in every draw of ``posterior`` (an xarray Dataset with ``chain``
        and ``draw`` dims): array (chain, draw, n_pairs).

        The base implementation reads ``theta``, ``a``, ``b`` (and ``c``, ``d`` where
        present) and evaluates the 4PL curve; models with other latent structure override it.
        """
        theta, params = cls._pair_parameters(posterior, subject_index, item_index)
        return log_likelihood(y, theta, **params)

    @classmethod
    def observation_probability(
        cls, posterior, subject_index: np.ndarray, item_index: np.ndarray
    ) -> np.ndarray:
        """P(correct) at the given (subject, item) pairs in every draw: (chain, draw, n_pairs)."""
        theta, params = cls._pair_parameters(posterior, subject_index, item_index)
        return icc(theta, **params)

    @staticmethod
    def _pair_parameters(posterior, subject_index, item_index):
        theta = posterior["theta"].values[:, :, subject_index]
        params = {
            k: posterior[k].values[:, :, item_index] for k in ("a", "b", "c", "d") if k in posterior
        }
        return theta, params
