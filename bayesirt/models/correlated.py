r"""Models for correlated items: testlet, bifactor and multidimensional 2PL.

The unidimensional models assume that, given a subject's ability, its answers to different
questions are independent. Questions come in clusters (a source data set, a topic, a shared
passage) and a subject can be better or worse on a whole cluster than its overall ability says;
with more than one ability the "one number" itself is an approximation. The three models here
relax the assumption in increasing generality.

Testlet (:class:`Testlet`, ``"testlet"``)
    .. math::

        P(y_{ij} = 1) = \sigma\big(a_i(\theta_j + \gamma_{j k(i)} - b_i)\big), \qquad
        \gamma_{jk} = \sigma_k z_{jk},

    with a subject × cluster effect :math:`\gamma_{jk}` for the cluster :math:`k(i)` of item
    :math:`i` (Bradlow, Wainer & Wang 1999); :math:`\gamma = 0` for items without a cluster.
    :math:`\sigma_k` measures the local dependence within cluster :math:`k`: two items of the
    cluster share variance :math:`\sigma_k^2` beyond the ability. The :math:`z_{\cdot k}` are
    zero-sum normal over the subjects (each cluster's effects average to zero over the fitted
    subjects, so a cluster-wide shift stays with the difficulties instead of forming a ridge
    with them), and :math:`\log\sigma_k = \mu_{\log\sigma} + \tau_{\log\sigma} u_k`,
    :math:`u_k \sim N(0, 1)`, pools the clusters' scales (non-centred).

Bifactor (:class:`Bifactor`, ``"bifactor"``)
    .. math::

        \operatorname{logit} P(y_{ij} = 1) = a_i(\theta_j - b_i) + s_i\,\eta_{j k(i)},

    a general trait :math:`\theta` on which every item loads and one specific trait
    :math:`\eta_{\cdot k}` per cluster, loaded only by the cluster's items with
    :math:`s_i > 0`; traits are independent a priori. The testlet model is the bifactor model
    with :math:`s_i = a_i\sigma_{k(i)}`. Each :math:`\eta_{\cdot k}` is standardised over the
    fitted subjects like :math:`\theta` (mean 0, sd 1 in every draw), which fixes its scale
    and location; the positive loadings fix its sign. Specific loadings are hierarchical:
    :math:`\log s_i = \mu_{\log s} + \tau_{\log s} u_{k(i)} + \sigma_{\log s} v_i`.

Multidimensional 2PL (:class:`MultidimensionalTwoPL`, ``"mirt"``)
    .. math::

        \operatorname{logit} P(y_{ij} = 1) = \mathbf a_i^\top \boldsymbol\theta_j + d_i
        = \mathbf a_i^\top \boldsymbol\theta_j - \lVert \mathbf a_i \rVert\, b_i,

    an ability vector :math:`\boldsymbol\theta_j \in \mathbb R^K`, a discrimination
    (loading) vector :math:`\mathbf a_i` and a scalar difficulty: the intercept :math:`d_i` is
    sampled and :math:`b_i = -d_i / \lVert \mathbf a_i \rVert` is stored, Reckase's
    multidimensional difficulty (the distance from the origin, along :math:`\mathbf a_i`, to
    the point where :math:`P = 1/2`); with :math:`K = 1` this is the 2PL. Two forms:

    * *exploratory* (``n_traits=K``): the abilities are orthonormal over the fitted subjects
      (a zero-sum normal matrix, Gram–Schmidt orthonormalised: mean 0, sd 1 and zero sample
      correlation in every draw). Rotations :math:`\boldsymbol\theta \to R^\top
      \boldsymbol\theta`, :math:`\mathbf a \to R^\top \mathbf a` leave the likelihood
      unchanged. Trait 1 is fixed as the *general* direction, that of the mean loading
      vector, on which every item loads positively (:math:`a_{i1} > 0`, the 2PL's
      hierarchical log-normal discrimination); traits :math:`2..K` are *contrasts* around it,
      :math:`a_{ik} \sim N(0, \sigma_c)` constrained to :math:`\sum_i a_{ik} = 0`. The general
      direction is thereby pinned by all items at once (a lower-triangular constraint on
      anchor items, Geweke & Zhou 1996, pins it by the direction of one item and left the
      whole solution rotating slowly with that item's uncertainty: measured min bulk ESS 9–50
      against 270 with this construction at 300 × 60, K = 2). What remains is an orthogonal
      transformation :math:`Q` of the contrasts among themselves (a reflection for
      :math:`K = 2`), under which prior and likelihood are invariant; the sampler moves
      freely along it, and the stored ``a`` and ``theta`` are the contrasts turned in every
      draw onto a reference from the data (orthogonal Procrustes: the :math:`Q` minimising
      :math:`\lVert C Q - C_{\text{ref}} \rVert_F`, see :func:`_reference_frame`), so chains
      in different orientations report the same solution. Correlations between abilities
      show up as loadings on shared traits; :func:`align_traits` rotates a fit onto any
      target loading matrix (a truth, another fit) for comparisons.
    * *confirmatory* (``traits=``: an item metadata column or a mapping item → trait): item
      :math:`i` loads on its trait only, with the 2PL's hierarchical prior on
      :math:`\log a_{i,t(i)}`, and the traits are correlated with correlation matrix
      :math:`\Omega \sim \text{LKJ}(\eta)`, sampled through its canonical partial correlations
      (independent :math:`2\,\text{Beta}(\beta_j, \beta_j) - 1` with :math:`\beta_j = \eta +
      (K - 2 - j)/2` for column :math:`j` of the Cholesky factor; Lewandowski, Kurowicka &
      Joe 2009). Abilities :math:`\boldsymbol\theta_j = L\boldsymbol\varepsilon_j`, each trait
      then standardised over the subjects.

All three keep the package's identification of the (general) ability: :math:`\theta` has mean
0 and sd 1 over the fitted subjects in every draw, so ``bayesirt.rank(idata)`` ranks by the
general ability of the testlet and bifactor models. A multidimensional fit has no single
ability: rank it by expected score, ``bayesirt.rank(idata, by="score")``.

Posterior layout (besides the hyperparameters)

========================  ==========================================================
testlet                   ``theta`` (subject), ``a``, ``b`` (item), ``gamma``
                          (subject, cluster), ``sigma_cluster`` (cluster)
bifactor                  ``theta`` (subject), ``a``, ``b``, ``a_specific`` (item),
                          ``theta_specific`` (subject, cluster)
mirt                      ``theta`` (subject, trait), ``a`` (item, trait), ``b``,
                          ``intercept`` (item); ``trait_corr`` (trait, other_trait)
                          when confirmatory
========================  ==========================================================

The clustered models also store ``item_cluster`` (item): the code of each item's cluster in
the ``cluster`` coordinate, -1 for none, constant over draws, so that the pointwise functions
need nothing but the posterior. The sampled auxiliaries (``*_z``, centred pieces) are dropped
from the stored posterior: the variables above hold them whole.

All three can be fitted by NUTS or by ADVI, also in minibatches (``batch_size``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy import stats

from bayesirt._validate import check_positive_int
from bayesirt.data import Responses
from bayesirt.data.groups import ITEM_GROUP_COLUMNS, default_group_column
from bayesirt.data.validation import describe_values
from bayesirt.irt import icc, log_likelihood
from bayesirt.models.base import IRTModel
from bayesirt.models.likelihood import irt_loglik
from bayesirt.models.priors import Prior
from bayesirt.models.unidimensional import (
    _DISCRIMINATION_PRIORS,
    _INTERCEPT_PRIORS,
    _Logistic,
)

__all__ = [
    "Bifactor",
    "MultidimensionalTwoPL",
    "Testlet",
    "align_traits",
]


def _item_clusters(responses: Responses, column: str | None) -> tuple[str, np.ndarray, pd.Index]:
    """The cluster column used, each item's cluster code (-1: none) and the cluster labels."""
    meta = responses.item_meta
    if column is None:
        column = default_group_column(meta)
        if column is None:
            raise ValueError(
                "no cluster column: pass cluster_by=<item metadata column>; the item metadata "
                f"has {describe_values(meta.columns) or 'no columns'} and none of the default "
                f"columns {', '.join(ITEM_GROUP_COLUMNS)} with two or more labels"
            )
    if column not in meta.columns:
        raise ValueError(
            f"cluster_by={column!r} is not an item metadata column; available: "
            f"{describe_values(meta.columns) or 'none'}"
        )
    values = meta[column].reindex(responses.items)
    if values.isna().all():
        raise ValueError(f"item metadata column {column!r} has no cluster label for any item")
    codes, labels = pd.factorize(values, sort=True)
    return column, codes.astype(np.int32), pd.Index(labels.astype(str), name=column)


def _cluster_codes(posterior) -> np.ndarray:
    """Each item's cluster code, from the constant ``item_cluster`` of a posterior."""
    if "item_cluster" not in posterior:
        raise ValueError(
            "the posterior has no item_cluster variable; it is not a fit of a clustered "
            f"model (found {sorted(posterior.data_vars)})"
        )
    values = np.asarray(posterior["item_cluster"].values)
    return values.reshape(-1, values.shape[-1])[0].astype(np.int64)


def _normal_scores(values: np.ndarray) -> np.ndarray:
    """Centred normal scores of the ranks of ``values``: a sampler start with distinct values
    (all-equal zero-sum coordinates would have zero sd)."""
    ranks = stats.rankdata(values)
    scores = stats.norm.ppf((ranks - 0.5) / len(ranks))
    return scores - scores.mean()


def _group_accuracy(responses: Responses, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Accuracy of each subject on each group of items (subject, group); the subject's overall
    accuracy where it answered no item of the group."""
    r = responses
    group = codes[r.item_index]
    keep = group >= 0
    cell = r.subject_index[keep] * n_groups + group[keep]
    size = r.n_subjects * n_groups
    correct = np.bincount(cell, weights=r.response[keep], minlength=size)
    counts = np.bincount(cell, minlength=size)
    overall = r.subject_accuracy().fillna(0.5).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = (correct / counts).reshape(r.n_subjects, n_groups)
    return np.where(np.isnan(accuracy), overall[:, None], accuracy)


def _observed(model: IRTModel):
    """The responses the likelihood sees and their weight: all of them, or the minibatch and
    ``n_observed / batch_size`` when the model is built with ``batch_size``."""
    if model._minibatch is None:
        return pm.Data("y", model.responses.response.astype(np.int8), dims="obs"), 1.0
    return model._minibatch


def _standardised_rows(z):
    """Rows of ``z`` divided by their root mean square (zero-sum rows: mean 0, sd 1)."""
    return z / pt.sqrt(pt.mean(z**2, axis=-1, keepdims=True))


class _LogitPairs:
    """The pointwise quantities of a model whose logit at the (subject, item) pairs, in every
    draw, its classmethod ``_logit(posterior, subject_index, item_index)`` gives."""

    @classmethod
    def pointwise_log_likelihood(cls, posterior, subject_index, item_index, y):
        return log_likelihood(y, cls._logit(posterior, subject_index, item_index), 1.0, 0.0)

    @classmethod
    def observation_probability(cls, posterior, subject_index, item_index):
        return icc(cls._logit(posterior, subject_index, item_index), 1.0, 0.0)


class _Clustered(_Logistic):
    """Shared set-up of the testlet and bifactor models: the item clusters."""

    response_types: ClassVar[tuple[str, ...]] = ("binary",)

    model_options: ClassVar[tuple[str, ...]] = ("cluster_by",)

    def __init__(
        self,
        responses: Responses,
        *,
        priors: dict[str, Prior] | None = None,
        pool_by: str | None = None,
        cluster_by: str | None = None,
    ) -> None:
        super().__init__(responses, priors=priors, pool_by=pool_by)
        self.cluster_by, self._cluster_codes, self._cluster_labels = _item_clusters(
            responses, cluster_by
        )
        if len(self._cluster_labels) < 2 and (self._cluster_codes >= 0).all():
            raise ValueError(
                f"cluster_by={self.cluster_by!r} puts every item in one cluster "
                f"({self._cluster_labels[0]!r}); its effect cannot be told from the ability"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.responses!r}, cluster_by={self.cluster_by!r})"

    def coords(self) -> dict[str, Any]:
        return {**super().coords(), "cluster": np.asarray(self._cluster_labels)}

    def _add_item_cluster(self) -> None:
        pm.Deterministic("item_cluster", pt.as_tensor(self._cluster_codes), dims="item")


class Testlet(_Clustered):
    r"""Testlet model: :math:`P = \sigma\big(a_i(\theta_j + \gamma_{j k(i)} - b_i)\big)`.

    See the module docstring for the priors. Item parameters as in the 2PL
    (:class:`~bayesirt.models.TwoPL`).

    Parameters
    ----------
    responses : Responses
    priors : dict of str to Prior, optional
        Overrides by key: the 2PL's, and ``mu_log_sigma_cluster`` (default
        :math:`N(\log 0.5, 1)`), ``tau_log_sigma_cluster`` (:math:`\text{HalfNormal}(0.5)`).
    pool_by : str, optional
        As in the 2PL.
    cluster_by : str, optional
        Item metadata column of the clusters; items with a missing label have no testlet
        effect. Default: the first of :data:`~bayesirt.data.groups.ITEM_GROUP_COLUMNS`
        with two or more labels.
    """

    name = "testlet"
    internal_variables: ClassVar[tuple[str, ...]] = (
        *_Logistic.internal_variables,
        "gamma_z",
        "sigma_cluster_z",
    )
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        "mu_log_sigma_cluster": Prior("Normal", mu=float(np.log(0.5)), sigma=1.0),
        "tau_log_sigma_cluster": Prior("HalfNormal", sigma=0.5),
    }

    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        """The 2PL likelihood at the effective abilities :math:`\\theta_j + \\gamma_{jk}`.

        The fused likelihood takes one ability per observation's "effective subject": index
        :math:`j` for items without a cluster, :math:`N + jK + k` for items of cluster
        :math:`k`, into the vector :math:`(\\theta, (\\theta_j + \\gamma_{jk})_{jk})`.
        """
        r = self.responses
        a, b = self._add_items()
        n_subjects, n_clusters = r.n_subjects, len(self._cluster_labels)
        u = pm.Normal("sigma_cluster_z", 0.0, 1.0, dims="cluster")
        log_sigma = self._prior("mu_log_sigma_cluster") + self._prior("tau_log_sigma_cluster") * u
        sigma = pm.Deterministic("sigma_cluster", pt.exp(log_sigma), dims="cluster")
        z = pm.ZeroSumNormal("gamma_z", sigma=1.0, dims=("cluster", "subject"))
        gamma = pm.Deterministic("gamma", (sigma[:, None] * z).T, dims=("subject", "cluster"))
        self._add_item_cluster()

        effective = pt.concatenate([theta, (theta[:, None] + gamma).ravel()])
        cluster = pt.as_tensor(self._cluster_codes)[item_index]
        subject = pt.switch(
            cluster >= 0, n_subjects + subject_index * n_clusters + cluster, subject_index
        )
        y, scale = _observed(self)
        loglik = irt_loglik(effective, a, b, subject, item_index, y)
        pm.Potential("loglik", scale * loglik)

    @classmethod
    def _effective(cls, posterior, subject_index, item_index):
        """:math:`(\\theta_j + \\gamma_{jk(i)}, a_i, b_i)` at the pairs, every draw."""
        cluster = _cluster_codes(posterior)[item_index]
        gamma = posterior["gamma"].transpose("chain", "draw", "subject", "cluster").values
        shift = np.where(cluster >= 0, gamma[:, :, subject_index, np.maximum(cluster, 0)], 0.0)
        theta = posterior["theta"].values[:, :, subject_index] + shift
        return (
            theta,
            posterior["a"].values[:, :, item_index],
            posterior["b"].values[:, :, item_index],
        )

    @classmethod
    def pointwise_log_likelihood(cls, posterior, subject_index, item_index, y):
        theta, a, b = cls._effective(posterior, subject_index, item_index)
        return log_likelihood(y, theta, a, b)

    @classmethod
    def observation_probability(cls, posterior, subject_index, item_index):
        theta, a, b = cls._effective(posterior, subject_index, item_index)
        return icc(theta, a, b)


class Bifactor(_LogitPairs, _Clustered):
    r"""Bifactor model: :math:`\operatorname{logit} P = a_i(\theta_j - b_i) + s_i\eta_{jk(i)}`.

    See the module docstring for the priors. Item parameters :math:`a, b` as in the 2PL.

    Parameters
    ----------
    responses : Responses
    priors : dict of str to Prior, optional
        Overrides by key: the 2PL's, and ``mu_log_a_specific`` (default :math:`N(-0.5, 1)`),
        ``tau_log_a_specific`` (:math:`\text{HalfNormal}(0.5)`), ``sigma_log_a_specific``
        (:math:`\text{HalfNormal}(0.5)`).
    pool_by : str, optional
        As in the 2PL.
    cluster_by : str, optional
        Item metadata column of the clusters (one specific trait each); items with a
        missing label load on the general trait only. Default: the first of
        :data:`~bayesirt.data.groups.ITEM_GROUP_COLUMNS` with two or more labels.
    """

    name = "bifactor"
    internal_variables: ClassVar[tuple[str, ...]] = (
        *_Logistic.internal_variables,
        "theta_specific_z",
        "a_specific_z",
        "a_specific_cluster_z",
    )
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        "mu_log_a_specific": Prior("Normal", mu=-0.5, sigma=1.0),
        "tau_log_a_specific": Prior("HalfNormal", sigma=0.5),
        "sigma_log_a_specific": Prior("HalfNormal", sigma=0.5),
    }

    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        r = self.responses
        a, b = self._add_items()
        codes = self._cluster_codes
        in_cluster = codes >= 0
        accuracy = _group_accuracy(r, codes, len(self._cluster_labels))
        overall = r.subject_accuracy().fillna(0.5).to_numpy()
        start = np.stack([_normal_scores(col - overall) for col in accuracy.T])
        z = pm.ZeroSumNormal(
            "theta_specific_z", sigma=1.0, dims=("cluster", "subject"), initval=start
        )
        eta = pm.Deterministic(
            "theta_specific", _standardised_rows(z).T, dims=("subject", "cluster")
        )
        u = pm.Normal("a_specific_cluster_z", 0.0, 1.0, dims="cluster")
        v = pm.Normal("a_specific_z", 0.0, 1.0, shape=int(in_cluster.sum()))
        log_s = (
            self._prior("mu_log_a_specific")
            + self._prior("tau_log_a_specific") * u[codes[in_cluster]]
            + self._prior("sigma_log_a_specific") * v
        )
        s = pt.set_subtensor(pt.zeros(r.n_items)[np.flatnonzero(in_cluster)], pt.exp(log_s))
        s = pm.Deterministic("a_specific", s, dims="item")
        self._add_item_cluster()

        # s = 0 where the item has no cluster, so any cluster's trait will do there
        cluster = pt.as_tensor(np.maximum(codes, 0))[item_index]
        logit = (
            a[item_index] * (theta[subject_index] - b[item_index])
            + s[item_index] * eta[subject_index, cluster]
        )
        y, scale = _observed(self)
        pm.Potential("loglik", scale * pt.sum(y * logit - pt.softplus(logit)))

    @classmethod
    def _logit(cls, posterior, subject_index, item_index):
        cluster = np.maximum(_cluster_codes(posterior)[item_index], 0)
        eta = posterior["theta_specific"].transpose("chain", "draw", "subject", "cluster").values
        a, b, s = (posterior[k].values[:, :, item_index] for k in ("a", "b", "a_specific"))
        theta = posterior["theta"].values[:, :, subject_index]
        return a * (theta - b) + s * eta[:, :, subject_index, cluster]


# ------------------------------------------------------------------ multidimensional
def _reference_frame(responses: Responses, n_traits: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Reference loadings (item, trait) and subject scores (subject, trait) of the
    exploratory model's frame, from the data alone.

    The response matrix (missing cells at the item's mean, each item centred) is reduced to
    its leading :math:`K` singular directions, :math:`X \approx U S V^\top`: item rows
    :math:`\ell_i = (V S)_i / \sqrt N`, subject scores :math:`\sqrt N\, U`. The frame is then
    turned like the model's: trait 1 along the mean of the :math:`\ell_i` (with a positive
    mean loading), the other traits orthogonal to it (contrasts, summing to zero over the
    items) along their principal axes, largest spread first.
    """
    check_positive_int("n_traits", n_traits, show=str)
    k = int(n_traits)
    dense = responses.dense()
    if min(dense.shape) < k:
        raise ValueError(
            f"{dense.shape[0]} subjects × {dense.shape[1]} items cannot carry {k} traits"
        )
    filled = np.where(np.isnan(dense), np.nanmean(dense, axis=0), dense)
    u, singular, vt = np.linalg.svd(filled - filled.mean(axis=0), full_matrices=False)
    n = dense.shape[0]
    rows = vt[:k].T * singular[:k] / np.sqrt(n)
    scores = u[:, :k] * np.sqrt(n)
    # trait 1 along the mean row (positive), then any orthonormal completion
    mean = rows.mean(axis=0)
    frame, _ = np.linalg.qr(np.column_stack([mean, np.eye(k)]))
    frame = frame[:, :k] * np.where(frame[:, 0] @ mean < 0, -1.0, 1.0)
    rows, scores = rows @ frame, scores @ frame
    if k > 2:  # the contrasts along their principal axes
        _, _, axes = np.linalg.svd(rows[:, 1:], full_matrices=False)
        rows[:, 1:], scores[:, 1:] = rows[:, 1:] @ axes.T, scores[:, 1:] @ axes.T
    return rows, scores


def _cpc_cholesky(cpc, n: int):
    """Cholesky factor of a correlation matrix from its canonical partial correlations.

    ``cpc`` lists the partial correlations of the lower triangle column by column
    (:func:`_cpc_pairs` order): :math:`L_{i0} = w_{i0}`, :math:`L_{ij} = w_{ij}\\sqrt{1 -
    \\sum_{l<j} L_{il}^2}`, :math:`L_{ii} = \\sqrt{1 - \\sum_{l<i} L_{il}^2}`.
    """
    position = {pair: p for p, pair in enumerate(_cpc_pairs(n))}
    rows = [pt.set_subtensor(pt.zeros(n)[0], 1.0)]
    for i in range(1, n):
        row = pt.zeros(n)
        remaining = pt.as_tensor(1.0)
        for j in range(i):
            value = cpc[position[(i, j)]] * pt.sqrt(remaining)
            row = pt.set_subtensor(row[j], value)
            remaining = remaining - value**2
        rows.append(pt.set_subtensor(row[i], pt.sqrt(remaining)))
    return pt.stack(rows)


def _cpc_pairs(n: int) -> list[tuple[int, int]]:
    """(row, column) of the strictly lower triangle, column by column."""
    return [(i, j) for j in range(n - 1) for i in range(j + 1, n)]


class MultidimensionalTwoPL(_LogitPairs, _Logistic):
    r"""Multidimensional 2PL: :math:`\operatorname{logit} P = \mathbf a_i^\top
    \boldsymbol\theta_j - \lVert\mathbf a_i\rVert b_i`, exploratory or confirmatory.

    See the module docstring for the identification and the priors.

    Parameters
    ----------
    responses : Responses
    priors : dict of str to Prior, optional
        Overrides by key. Intercepts: the 2PL's (``mu_intercept``, ``sigma_intercept``,
        ``tau_intercept``). Loadings on the general trait (exploratory) or on each item's own
        trait (confirmatory): the 2PL's ``mu_log_a``, ``sigma_log_a``, ``tau_log_a``.
        Exploratory contrasts: ``sigma_a_contrast`` (:math:`\text{HalfNormal}(1)`, one for all
        contrasts, so that the prior does not change when they turn). Confirmatory:
        ``trait_corr`` (``Prior("LKJCorr", eta=2.0)``; only ``eta`` is read).
    pool_by : str, optional
        Item metadata column whose groups get their own mean intercept (and mean
        log-discrimination on the general or own trait), as in the 2PL.
    n_traits : int, optional
        :math:`K` of the exploratory model (default 2 without ``traits``).
    traits : str or mapping, optional
        Confirmatory model: an item metadata column, or a mapping item label → trait label,
        giving every item's trait.
    """

    response_types: ClassVar[tuple[str, ...]] = ("binary",)

    name = "mirt"
    internal_variables: ClassVar[tuple[str, ...]] = (
        *_Logistic.internal_variables,
        "a_contrast_raw",
        "trait_cpc_z",
    )
    model_options: ClassVar[tuple[str, ...]] = ("n_traits", "traits")
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        "sigma_a_contrast": Prior("HalfNormal", sigma=1.0),
        "trait_corr": Prior("LKJCorr", eta=2.0),
    }

    def __init__(
        self,
        responses: Responses,
        *,
        priors: dict[str, Prior] | None = None,
        pool_by: str | None = None,
        n_traits: int | None = None,
        traits: str | Mapping | None = None,
    ) -> None:
        super().__init__(responses, priors=priors, pool_by=pool_by)
        if self.priors["trait_corr"].distribution != "LKJCorr":
            raise ValueError(
                f"prior 'trait_corr' must be an LKJCorr, got {self.priors['trait_corr']!r}"
            )
        items = pd.Index(responses.items.astype(str))
        if traits is not None:
            self._trait_codes, self._trait_labels = self._trait_map(traits, items, responses)
            if n_traits is not None and n_traits != len(self._trait_labels):
                raise ValueError(
                    f"n_traits={n_traits} but the trait map has {len(self._trait_labels)} "
                    f"traits ({describe_values(self._trait_labels)})"
                )
            n_traits = len(self._trait_labels)
        else:
            n_traits = 2 if n_traits is None else int(n_traits)
            check_positive_int("n_traits", n_traits, show=str)
            self._trait_labels = pd.Index([f"trait_{k + 1}" for k in range(n_traits)])
            self._reference, self._scores = _reference_frame(responses, n_traits)
        self.n_traits = n_traits
        if isinstance(traits, Mapping):
            traits = {str(item): str(trait) for item, trait in traits.items()}
        self.traits = traits

    @staticmethod
    def _trait_map(traits, items: pd.Index, responses: Responses):
        if isinstance(traits, str):
            if traits not in responses.item_meta.columns:
                raise ValueError(
                    f"traits={traits!r} is not an item metadata column; available: "
                    f"{describe_values(responses.item_meta.columns) or 'none'}"
                )
            values = responses.item_meta[traits]
            values.index = values.index.astype(str)
            values = values.reindex(items)
        elif isinstance(traits, Mapping):
            values = pd.Series({str(k): v for k, v in traits.items()}, dtype=object)
            extra = values.index.difference(items)
            if len(extra):
                raise ValueError(f"traits names items not in the data: {describe_values(extra)}")
            values = values.reindex(items)
        else:
            raise TypeError(
                f"traits must be a column name or a mapping item -> trait, got "
                f"{type(traits).__name__}"
            )
        if values.isna().any():
            raise ValueError(
                f"no trait for items {describe_values(items[values.isna().to_numpy()])}"
            )
        codes, labels = pd.factorize(values.astype(str), sort=True)
        return codes.astype(np.int32), pd.Index(labels)

    @property
    def confirmatory(self) -> bool:
        return self.traits is not None

    def __repr__(self) -> str:
        form = f"traits={self.traits!r}" if self.confirmatory else f"n_traits={self.n_traits}"
        return f"{type(self).__name__}({self.responses!r}, {form})"

    def coords(self) -> dict[str, Any]:
        coords = {**super().coords(), "trait": np.asarray(self._trait_labels)}
        if self.confirmatory:
            coords["other_trait"] = coords["trait"]
            pairs = _cpc_pairs(self.n_traits)
            coords["trait_pair"] = [
                f"{self._trait_labels[i]}~{self._trait_labels[j]}" for i, j in pairs
            ]
        return coords

    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        """Loadings, intercepts and the likelihood."""
        a, intercept = self._add_item_parameters(theta)
        logit = pt.sum(a[item_index] * theta[subject_index], axis=1) + intercept[item_index]
        y, scale = _observed(self)
        pm.Potential("loglik", scale * pt.sum(y * logit - pt.softplus(logit)))

    def _add_item_parameters(self, theta):
        """Loadings and intercepts as the likelihood uses them; stores ``a``, ``theta`` (the
        exploratory contrasts in their reference orientation: the likelihood is unchanged)
        and ``intercept``."""
        a, orientation = self._add_loadings()
        pm.Deterministic("a", a @ orientation, dims=("item", "trait"))
        pm.Deterministic("theta", theta @ orientation, dims=("subject", "trait"))
        intercept = self._item_parameter(
            "intercept", information=self._intercept_information(), start=self._intercept_start()
        )
        pm.Deterministic("intercept", intercept, dims="item")
        return a, intercept

    def _add_abilities(self):
        """Abilities (subject, trait), before the contrasts' signs: orthonormal
        (exploratory) or LKJ-correlated and then standardised (confirmatory)."""
        k = self.n_traits
        z = pm.ZeroSumNormal(
            "theta_z", sigma=1.0, dims=("trait", "subject"), initval=self._ability_start()
        )
        if self.confirmatory:
            eta = float(self.priors["trait_corr"].params.get("eta", 2.0))
            pairs = _cpc_pairs(k)
            beta = np.array([eta + (k - 2 - j) / 2.0 for _, j in pairs])
            if k > 1:
                u = pm.Beta("trait_cpc_z", alpha=beta, beta=beta, dims="trait_pair")
                chol = _cpc_cholesky(2.0 * u - 1.0, k)
            else:
                chol = pt.ones((1, 1))
            pm.Deterministic("trait_corr", chol @ chol.T, dims=("trait", "other_trait"))
            return _standardised_rows(chol @ z).T
        rows = []
        for t in range(k):
            v = z[t]
            for q in rows:
                v = v - pt.mean(v * q) * q
            rows.append(v / pt.sqrt(pt.mean(v**2)))
        return pt.stack(rows, axis=1)

    def _ability_start(self) -> np.ndarray:
        """Start of the abilities (trait, subject): normal scores of each subject's accuracy
        on each trait's items (confirmatory) or of its scores in the reference frame
        (exploratory, :func:`_reference_frame`)."""
        r = self.responses
        if self.confirmatory:
            accuracy = _group_accuracy(r, self._trait_codes, self.n_traits)
            return np.stack([_normal_scores(col) for col in accuracy.T])
        return np.stack([_normal_scores(col) for col in self._scores.T])

    def _add_loadings(self):
        r"""Loadings (item, trait) as the likelihood uses them, and the orthogonal matrix
        (trait, trait) that puts them in their stored orientation.

        Confirmatory: the 2PL's hierarchical discrimination on each item's own trait.
        Exploratory: the 2PL's discrimination on the general trait; contrasts
        :math:`N(0, \sigma_c)` minus their mean over the items, so that they sum to zero (the
        mean itself keeps its prior and does not enter the likelihood); the orientation is
        :math:`\operatorname{diag}(1, Q)` with :math:`Q = UV^\top` from the SVD
        :math:`C^\top C_{\text{ref}} = U S V^\top` (orthogonal Procrustes onto the reference
        contrasts of :func:`_reference_frame`).
        """
        r, k = self.responses, self.n_traits
        general = pt.exp(self._item_parameter("log_a", information=self._log_a_information()))
        if self.confirmatory:
            a = pt.set_subtensor(
                pt.zeros((r.n_items, k))[np.arange(r.n_items), self._trait_codes],
                general,
            )
            return a, pt.eye(k)
        if k == 1:
            return general[:, None], pt.eye(1)
        sigma = self._prior("sigma_a_contrast")
        raw = pm.Normal("a_contrast_raw", 0.0, sigma, shape=(r.n_items, k - 1))
        contrast = raw - pt.mean(raw, axis=0)
        u, _, vt = pt.linalg.svd(contrast.T @ self._reference[:, 1:])
        orientation = pt.set_subtensor(pt.eye(k)[1:, 1:], u @ vt)
        return pt.concatenate([general[:, None], contrast], axis=1), orientation

    @classmethod
    def _logit(cls, posterior, subject_index, item_index):
        a = posterior["a"].transpose("chain", "draw", "item", "trait").values
        theta = posterior["theta"].transpose("chain", "draw", "subject", "trait").values
        b = posterior["b"].values[:, :, item_index]
        logit = -np.sqrt(np.sum(a**2, axis=-1))[:, :, item_index] * b
        for t in range(a.shape[-1]):
            logit += a[:, :, item_index, t] * theta[:, :, subject_index, t]
        return logit


def align_traits(idata, target, *, by: str = "draw") -> xr.Dataset:
    r"""Rotate the traits of an exploratory multidimensional fit onto a target loading matrix.

    For each draw (``by="draw"``) or each chain (``by="chain"``, one rotation from the chain's
    mean loadings) the orthogonal :math:`R` minimising :math:`\lVert A R - T \rVert_F`
    (orthogonal Procrustes: :math:`A^\top T = U S V^\top`, :math:`R = U V^\top`) is applied to
    the loadings and to the abilities, :math:`A \to A R`, :math:`\Theta \to \Theta R`; the
    likelihood, :math:`\Theta A^\top`, is unchanged. Use it to compare a fit with a truth or
    with another fit up to the rotation the exploratory model leaves free, or to put chains
    that settled in different reflections on a common orientation.

    Parameters
    ----------
    idata : arviz.InferenceData or xarray.Dataset
        A ``mirt`` fit (or its posterior): ``a`` (item, trait) and ``theta`` (subject, trait).
    target : array-like (item, trait) or xarray.DataArray
        The loadings to rotate onto, items in the fit's order.
    by : {"draw", "chain"}

    Returns
    -------
    xarray.Dataset
        ``a`` and ``theta`` rotated, with the fit's dims and coordinates, and ``rotation``
        (chain, draw, trait, other_trait).
    """
    posterior = getattr(idata, "posterior", idata)
    for name in ("a", "theta"):
        if name not in posterior or "trait" not in posterior[name].dims:
            raise ValueError(f"align_traits needs a multidimensional fit: no {name} over trait")
    a = posterior["a"].transpose("chain", "draw", "item", "trait")
    theta = posterior["theta"].transpose("chain", "draw", "subject", "trait")
    target = np.asarray(target, dtype=float)
    if target.shape != a.shape[2:]:
        raise ValueError(f"target has shape {target.shape}; the loadings have {a.shape[2:]}")
    if by not in ("draw", "chain"):
        raise ValueError(f"by must be 'draw' or 'chain', got {by!r}")
    values = a.values
    source = values if by == "draw" else values.mean(axis=1, keepdims=True)
    u, _, vt = np.linalg.svd(np.swapaxes(source, -1, -2) @ target)
    rotation = np.broadcast_to(u @ vt, values.shape[:2] + (target.shape[1],) * 2)
    rotated = {
        "a": xr.DataArray(values @ rotation, dims=a.dims, coords=a.coords),
        "theta": xr.DataArray(theta.values @ rotation, dims=theta.dims, coords=theta.coords),
        "rotation": xr.DataArray(
            rotation,
            dims=("chain", "draw", "trait", "other_trait"),
            coords={
                "chain": a["chain"].values,
                "draw": a["draw"].values,
                "trait": a["trait"].values,
                "other_trait": a["trait"].values,
            },
        ),
    }
    return xr.Dataset(rotated)
