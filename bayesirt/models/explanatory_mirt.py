r"""Explanatory multidimensional 2PL: several benchmarks, abilities in :math:`K` traits, item
parameters regressed on the items' content.

The item response function is the exploratory multidimensional 2PL's
(:class:`~bayesirt.models.correlated.MultidimensionalTwoPL`),

.. math::

    \operatorname{logit} P(y_{ij} = 1) = \mathbf a_i^\top\boldsymbol\theta_j + d_i,
    \qquad \mathbf a_i = (a_{i1}, c_{i2}, \dots, c_{iK}),

with orthonormal abilities, a general trait on which every item loads positively
(:math:`a_{i1} = e^{\ell_i}`) and contrasts :math:`c_{ik}` that sum to zero over the items.
What is new is where the item parameters come from. Each item :math:`i` belongs to a benchmark
:math:`g(i)` (``pool_by``, an item metadata column; one benchmark without it) and has features
:math:`x_i` (:mod:`bayesirt.data.features`: TF-IDF or sentence-embedding components of its
text), standardised over the fitted items into :math:`z_i`, with :math:`\bar z_g` the mean
of benchmark :math:`g`'s items. The intercept, the general log-discrimination and every
contrast are regressions on the features *within* the benchmark, plus a pooled benchmark
effect:

.. math::

    d_i &= \mu_d + (z_i - \bar z_{g(i)})^\top\beta_d + \tau_d u^d_{g(i)}
    + \sigma_d\varepsilon^d_i,\\
    \ell_i &= \mu_\ell + (z_i - \bar z_{g(i)})^\top\beta_\ell + \tau_\ell u^\ell_{g(i)}
    + \sigma_\ell \varepsilon^\ell_i,\\
    c_{ik} &= (z_i - \bar z_{g(i)})^\top B_{\cdot k} + \tau_c u^c_{g(i)k}
    + \sigma_c\varepsilon^c_{ik} \;-\; \tfrac1n \textstyle\sum_{i'}(\dots)_{i'k},

all :math:`u, \varepsilon \sim N(0, 1)`, :math:`\beta, B \sim N(0, s_\beta)` per standard
deviation of a feature. With benchmarks, every subject also has an ability of its own on each
benchmark, on the general trait's scale (the testlet construction of
:mod:`~bayesirt.models.correlated`, one "testlet" per benchmark):

.. math::

    \operatorname{logit} P(y_{ij} = 1) = \mathbf a_i^\top\boldsymbol\theta_j
    + a_{i1}\gamma_{j g(i)} + d_i, \qquad \gamma_{jg} = \sigma_\gamma z_{jg},

:math:`z_{\cdot g}` zero-sum normal over the subjects (``benchmark_ability``, subject ×
benchmark). The traits are what the benchmarks share, item by item; :math:`\gamma` is what a
model does better or worse on a whole benchmark than its traits say (a model tuned on
mathematics), which the per-benchmark best model of a pool exploits and few traits cannot
hold. On a benchmark nobody fitted, :math:`\gamma_{j,\text{new}} \sim N(0, \sigma_\gamma)`:
predictions of accuracy there carry it as uncertainty.

The text decides which kind of subject an item favours (through the contrasts) as well as
how hard and how discriminating it is *compared with the other items of its benchmark*; the
benchmark effects :math:`\tau u_g` carry everything about a benchmark as a whole. The
features do not explain the benchmarks' levels: with a handful of benchmarks that regression
would rest on as many points as there are benchmarks, and features that tell the benchmarks'
formats apart make it extrapolate on a new one (measured on metabench with the regression at
the benchmarks' mean features: 90% intervals of the accuracy on a left-out benchmark covered
0.10–0.87 of the LLMs). The benchmark effects are exchangeable, so a benchmark nobody has
fitted gets a new :math:`u_g \sim N(0, 1)`, and its items are placed by their features'
deviation from their own mean: that is how :func:`bayesirt.analysis.predict_benchmark`
predicts accuracy on an unseen benchmark with an honest interval, and how
:func:`bayesirt.analysis.predict_items` places new questions of a fitted benchmark. A few
answered questions of a new benchmark are used by fitting them as a benchmark of their own:
its effects and the subjects' abilities on it are then estimated, and its remaining
questions are new items of a fitted benchmark.

Coordinates (the same model, sampled well):

* The intercept and general log-discrimination are the hierarchical item vectors of
  :func:`~bayesirt.models._hierarchy.hierarchical_item_vector`, with the regression on the
  within-benchmark features as each item's location (``loc``, summing to zero in each
  benchmark), so that the benchmark sample means remain coordinates of their own, and the
  coefficients in the QR coordinates of :class:`~bayesirt.models.explanatory.FeatureDesign`.
* The contrasts are non-centred (:math:`\varepsilon^c` sampled), their benchmark effects and
  coefficients too; the sum over the items, which does not enter the likelihood, is removed
  as in the exploratory MIRT, and the stored contrasts, coefficients and benchmark effects
  are turned by the same orthogonal Procrustes rotation onto the data's reference frame in
  every draw, so that a new item's contrast predicted from the stored variables is in the
  orientation of the stored abilities.

Likelihood: where at least half of the subject × item table is observed (a leaderboard where
every model ran every benchmark), the logits are one dense matrix product
:math:`\Theta A^\top + d` with the missing cells masked out, which costs far less per
gradient than gathering both factors for every observed pair.

Posterior variables beyond the MIRT's: ``beta_intercept``, ``beta_log_a`` (feature),
``beta_a_contrast`` (feature, contrast), ``mu_a_contrast_group`` (group, contrast) and
``a_contrast_offset`` (contrast: the removed item mean, in the stored orientation),
``sigma_a_contrast``, ``tau_a_contrast``; with ``pool_by`` the benchmark means
``mu_intercept_group``, ``mu_log_a_group``, scales ``tau_intercept``, ``tau_log_a``, the
subjects' ``benchmark_ability`` (subject, benchmark) with its scale
``sigma_benchmark_ability``, and ``item_benchmark`` (item: each item's benchmark code,
constant over draws).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayesirt.data import Responses
from bayesirt.models._hierarchy import hierarchical_item_vector
from bayesirt.models.correlated import MultidimensionalTwoPL, _observed
from bayesirt.models.explanatory import checked_design, qr_coefficients, require_normal_priors
from bayesirt.models.priors import Prior

__all__ = ["ExplanatoryMIRT"]

#: Share of observed cells from which the likelihood is evaluated as a dense masked matrix.
DENSE_FROM = 0.5


class ExplanatoryMIRT(MultidimensionalTwoPL):
    r"""Exploratory multidimensional 2PL whose intercepts, general discriminations and
    contrasts are regressed on item features, with pooled benchmark (``pool_by``) effects.

    See the module docstring for the model and its coordinates.

    Parameters
    ----------
    responses : Responses
    item_features : DataFrame or dict
        One row per fitted item (index: item label), numeric columns; or its stored form.
        Stored with the fit, so that new items' features are standardised the same way.
    n_traits : int
        :math:`K` (default 2); trait 1 is the general one.
    pool_by : str, optional
        Item metadata column naming each item's benchmark.
    priors : dict of str to Prior, optional
        Overrides; besides the MIRT's keys, ``beta_intercept``, ``beta_log_a`` and
        ``beta_a_contrast`` (Normal, per standard deviation of a feature) and
        ``tau_a_contrast`` (scale of the benchmarks' contrast effects).
    """

    name = "mirt-explanatory"
    model_options: ClassVar[tuple[str, ...]] = ("item_features", "n_traits")
    default_priors: ClassVar[dict[str, Prior]] = {
        **MultidimensionalTwoPL.default_priors,
        "beta_intercept": Prior("Normal", mu=0.0, sigma=1.0),
        "beta_log_a": Prior("Normal", mu=0.0, sigma=0.5),
        "beta_a_contrast": Prior("Normal", mu=0.0, sigma=0.5),
        "tau_a_contrast": Prior("HalfNormal", sigma=0.5),
        "sigma_benchmark_ability": Prior("HalfNormal", sigma=0.5),
    }
    internal_variables: ClassVar[tuple[str, ...]] = (
        *MultidimensionalTwoPL.internal_variables,
        "beta_intercept_qr",
        "beta_log_a_qr",
        "beta_a_contrast_z",
        "a_contrast_group_z",
        "a_contrast_z",
        "benchmark_ability_z",
    )
    supports_minibatch: ClassVar[bool] = False

    def __init__(
        self,
        responses: Responses,
        *,
        item_features: pd.DataFrame | dict[str, Any],
        n_traits: int | None = None,
        priors: dict[str, Prior] | None = None,
        pool_by: str | None = None,
    ) -> None:
        super().__init__(responses, priors=priors, pool_by=pool_by, n_traits=n_traits)
        require_normal_priors(
            self.priors,
            ("mu_intercept", "mu_log_a", "beta_intercept", "beta_log_a", "beta_a_contrast"),
        )
        self.design, self.item_features = checked_design(item_features, responses.items)
        codes = np.zeros(responses.n_items, dtype=int) if pool_by is None else self._group_codes
        counts = np.bincount(codes).astype(float)
        #: Per benchmark, the mean of the QR coordinates of its items' features.
        self._q_group_mean = (
            np.stack([np.bincount(codes, weights=col) for col in self.design.q.T], axis=1)
            / counts[:, None]
        )
        #: The items' QR coordinates centred within their benchmark: the regressors.
        self._q_within = self.design.q - self._q_group_mean[codes]
        self._codes = codes

    def group_feature_means(self) -> np.ndarray:
        r"""Mean standardised features of each benchmark's fitted items, :math:`\bar z_g`
        (benchmark, feature); one row without ``pool_by``."""
        return self._q_group_mean @ self.design.r

    def __repr__(self) -> str:
        pooled = f", pool_by={self.pool_by!r}" if self.pool_by else ""
        return (
            f"{type(self).__name__}({self.responses!r}, n_traits={self.n_traits}, "
            f"{len(self.design.columns)} features{pooled})"
        )

    def coords(self) -> dict[str, Any]:
        coords = {**super().coords(), "feature": np.asarray(self.design.columns)}
        coords["contrast"] = coords["trait"][1:]
        return coords

    # ------------------------------------------------------------------ build
    def _item_parameter(
        self, key: str, *, information: np.ndarray, start: np.ndarray | None = None
    ):
        """The intercept and general log-discrimination as regressions with benchmark effects
        (module docstring); ``start`` as in the MIRT."""
        gamma = qr_coefficients(f"beta_{key}", self.design, self.priors[f"beta_{key}"])
        within = pt.as_tensor(self._q_within) @ gamma
        if start is None:
            start = np.full(self.responses.n_items, float(self.priors[f"mu_{key}"].params["mu"]))
        groups = {} if self.pool_by is None else {"codes": self._codes, "dims": self.pool_by}
        items = hierarchical_item_vector(
            key, priors=self.priors, information=information, start=start, loc=within, **groups
        )
        return items.value

    def _add_loadings(self):
        """General loadings (regressed, pooled) and contrasts (regressed, pooled,
        non-centred, item mean removed), with the Procrustes orientation of the MIRT."""
        r, k = self.responses, self.n_traits
        general = pt.exp(self._item_parameter("log_a", information=self._log_a_information()))
        if k == 1:
            return general[:, None], pt.eye(1)
        # the contrasts' coefficients (feature, contrast): independent normals, so the QR
        # coordinates of each column are R* times them
        prior = self.priors["beta_a_contrast"].params
        z = pm.Normal("beta_a_contrast_z", 0.0, 1.0, shape=(len(self.design.columns), k - 1))
        beta = float(prior.get("mu", 0.0)) + float(prior["sigma"]) * z
        fitted = pt.as_tensor(self._q_within @ self.design.r) @ beta
        sigma = self._prior("sigma_a_contrast")
        raw = fitted + sigma * pm.Normal("a_contrast_z", 0.0, 1.0, shape=(r.n_items, k - 1))
        group_effect = None
        if self.pool_by is not None:
            tau = self._prior("tau_a_contrast")
            group_z = pm.Normal("a_contrast_group_z", 0.0, 1.0, dims=(self.pool_by, "contrast"))
            group_effect = tau * group_z
            raw = raw + group_effect[self._codes]
        offset = pt.mean(raw, axis=0)
        contrast = raw - offset
        u, _, vt = pt.linalg.svd(contrast.T @ self._reference[:, 1:])
        turn = u @ vt
        pm.Deterministic("beta_a_contrast", beta @ turn, dims=("feature", "contrast"))
        pm.Deterministic("a_contrast_offset", offset @ turn, dims="contrast")
        if group_effect is not None:
            pm.Deterministic(
                "mu_a_contrast_group", group_effect @ turn, dims=(self.pool_by, "contrast")
            )
        orientation = pt.set_subtensor(pt.eye(k)[1:, 1:], turn)
        return pt.concatenate([general[:, None], contrast], axis=1), orientation

    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        """Loadings, intercepts, the subjects' benchmark abilities (with ``pool_by``) and the
        likelihood: a dense masked matrix product where the table is mostly observed, else
        a sum over the observed pairs (module docstring)."""
        r = self.responses
        a, intercept = self._add_item_parameters(theta)
        shift = None
        if self.pool_by is not None:
            pm.Deterministic("item_benchmark", pt.as_tensor(self._codes), dims="item")
            sigma = self._prior("sigma_benchmark_ability")
            z = pm.ZeroSumNormal("benchmark_ability_z", sigma=1.0, dims=(self.pool_by, "subject"))
            gamma = pm.Deterministic(
                "benchmark_ability", (sigma * z).T, dims=("subject", self.pool_by)
            )
            shift = (gamma, a[:, 0])
        subjects, items, outcome = (np.asarray(x) for x in self._answers)
        if len(subjects) >= DENSE_FROM * r.n_subjects * r.n_items:
            table = np.zeros((r.n_subjects, r.n_items))
            mask = np.zeros((r.n_subjects, r.n_items))
            table[subjects, items] = outcome
            mask[subjects, items] = 1.0
            logit = theta @ a.T + intercept[None, :]
            if shift is not None:
                logit = logit + shift[0][:, self._codes] * shift[1][None, :]
            pm.Potential("loglik", pt.sum(mask * (table * logit - pt.softplus(logit))))
            return
        logit = pt.sum(a[item_index] * theta[subject_index], axis=1) + intercept[item_index]
        if shift is not None:
            codes = self._codes[np.asarray(self._answers[1])]
            logit = logit + shift[0][subject_index, codes] * shift[1][item_index]
        y, scale = _observed(self)
        pm.Potential("loglik", scale * pt.sum(y * logit - pt.softplus(logit)))

    @classmethod
    def _logit(cls, posterior, subject_index, item_index):
        """The MIRT's logit plus, for a fit pooled by benchmark, the subject's ability on the
        item's benchmark times the item's general discrimination."""
        logit = super()._logit(posterior, subject_index, item_index)
        if "benchmark_ability" not in posterior:
            return logit
        codes = np.asarray(posterior["item_benchmark"].values).reshape(-1, posterior.sizes["item"])
        codes = codes[0].astype(int)[item_index]
        gamma = posterior["benchmark_ability"].transpose("chain", "draw", "subject", ...).values
        general = posterior["a"].transpose("chain", "draw", "item", "trait").values[..., 0]
        return logit + gamma[:, :, subject_index, codes] * general[:, :, item_index]
