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
      unchanged; they are removed by a lower-triangular constraint on :math:`K` *anchor*
      items: anchor :math:`k` loads on traits :math:`1..k` only, with a positive loading on
      trait :math:`k` (Geweke & Zhou 1996). The only orthogonal :math:`R` that keeps this
      pattern is the identity, so the chains agree by construction. The anchors are chosen
      from the data (:func:`choose_anchors`: a pivoted Gram–Schmidt on the rows of the
      response matrix's leading singular vectors, so each anchor has a large loading on a
      direction the earlier ones do not cover) or given by the user. Loadings on trait
      :math:`k` are :math:`a_{ik} \sim N(\mu_k, \sigma_k)` (centred for items whose answers
      inform them, non-centred otherwise), anchors' diagonal loadings log-normal.
      The anchors pin the rotation through the direction of one item each, so the loadings
      and abilities move together along the remaining posterior uncertainty of that
      rotation, a direction a diagonal mass matrix follows slowly: sample with nutpie's
      low-rank mass-matrix adaptation, ``sampler_kwargs={"low_rank_modified_mass_matrix":
      True}`` (measured at 300 × 60, K = 2: min bulk ESS 112 from 2 × 300 draws, against 50
      from 2 × 500 draws with the default diagonal one).
      Correlations between abilities show up as loadings on shared traits;
      :func:`align_traits` rotates a fit onto any target loading matrix (a truth, another
      fit) for comparisons.
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

from bayesirt.data import Responses
from bayesirt.data.validation import describe_values
from bayesirt.models.base import IRTModel
from bayesirt.models.irt import icc, log_likelihood
from bayesirt.models.likelihood import irt_loglik
from bayesirt.models.priors import Prior
from bayesirt.models.unidimensional import (
    _DISCRIMINATION_PRIORS,
    _INTERCEPT_PRIORS,
    MIN_MINORITY_ANSWERS,
    _Logistic,
)

__all__ = [
    "CLUSTER_COLUMNS",
    "Bifactor",
    "MultidimensionalTwoPL",
    "Testlet",
    "align_traits",
    "choose_anchors",
]

#: Item metadata columns tried, in order, when a clustered model is given no ``cluster_by``.
CLUSTER_COLUMNS = ("cluster", "category", "benchmark")


def _item_clusters(responses: Responses, column: str | None) -> tuple[str, np.ndarray, pd.Index]:
    """The cluster column used, each item's cluster code (-1: none) and the cluster labels."""
    meta = responses.item_meta
    if column is None:
        found = [c for c in CLUSTER_COLUMNS if c in meta.columns]
        if not found:
            raise ValueError(
                "no cluster column: pass cluster_by=<item metadata column>; the item metadata "
                f"has {describe_values(meta.columns) or 'no columns'} and none of the default "
                f"columns {', '.join(CLUSTER_COLUMNS)}"
            )
        column = found[0]
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


class _Clustered(_Logistic):
    """Shared set-up of the testlet and bifactor models: the item clusters."""

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
        effect. Default: the first of :data:`CLUSTER_COLUMNS` present.
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
        pm.Potential("loglik", scale * loglik.sum())

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


class Bifactor(_Clustered):
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
        :data:`CLUSTER_COLUMNS` present.
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

    @classmethod
    def pointwise_log_likelihood(cls, posterior, subject_index, item_index, y):
        return log_likelihood(y, cls._logit(posterior, subject_index, item_index), 1.0, 0.0)

    @classmethod
    def observation_probability(cls, posterior, subject_index, item_index):
        return icc(cls._logit(posterior, subject_index, item_index), 1.0, 0.0)


# ------------------------------------------------------------------ multidimensional
def choose_anchors(responses: Responses, n_traits: int) -> list[str]:
    r"""Anchor items for the lower-triangular identification of an exploratory MIRT fit.

    The response matrix (missing cells at the item's mean, each item centred) is reduced to
    its leading ``n_traits`` singular directions, giving each item a loading row
    :math:`\ell_i = (V_K S_K)_i`. A pivoted Gram–Schmidt then picks, for :math:`k = 1..K`,
    the item whose row has the largest norm after removing the directions of the anchors
    already chosen, and removes its direction. Anchor :math:`k` therefore loads clearly on a
    direction the earlier anchors do not cover, which keeps its positive diagonal loading away
    from zero (where the constraint would leave two modes). Items with fewer than
    ``MIN_MINORITY_ANSWERS`` correct or incorrect answers are never anchors.

    Returns
    -------
    list of str
        ``n_traits`` item labels, anchor of trait 1 first.
    """
    if int(n_traits) < 1:
        raise ValueError(f"n_traits must be a positive integer, got {n_traits}")
    dense = responses.dense()
    counts = np.sum(~np.isnan(dense), axis=0)
    correct = np.nansum(dense, axis=0)
    eligible = np.minimum(correct, counts - correct) >= MIN_MINORITY_ANSWERS
    if eligible.sum() < n_traits:
        raise ValueError(
            f"only {int(eligible.sum())} items have at least {MIN_MINORITY_ANSWERS} correct and "
            f"incorrect answers; {n_traits} anchors are needed"
        )
    filled = np.where(np.isnan(dense), np.nanmean(dense, axis=0), dense)
    centred = filled - filled.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    rows = vt[:n_traits].T * singular[:n_traits]
    rows[~eligible] = 0.0
    anchors = []
    for _ in range(n_traits):
        norms = np.linalg.norm(rows, axis=1)
        norms[anchors] = -1.0
        pick = int(np.argmax(norms))
        direction = rows[pick] / np.linalg.norm(rows[pick])
        rows = rows - np.outer(rows @ direction, direction)
        anchors.append(pick)
    return [str(responses.items[i]) for i in anchors]


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


class MultidimensionalTwoPL(_Logistic):
    r"""Multidimensional 2PL: :math:`\operatorname{logit} P = \mathbf a_i^\top
    \boldsymbol\theta_j - \lVert\mathbf a_i\rVert b_i`, exploratory or confirmatory.

    See the module docstring for the identification and the priors.

    Parameters
    ----------
    responses : Responses
    priors : dict of str to Prior, optional
        Overrides by key. Intercepts: the 2PL's (``mu_intercept``, ``sigma_intercept``,
        ``tau_intercept``). Exploratory loadings: ``mu_a`` (:math:`N(0.5, 1)` per trait),
        ``sigma_a`` (:math:`\text{HalfNormal}(1)` per trait), ``log_a_anchor``
        (:math:`N(0, 1)`, the anchors' diagonal). Confirmatory: the 2PL's ``mu_log_a``,
        ``sigma_log_a``, ``tau_log_a``, and ``trait_corr`` (``Prior("LKJCorr", eta=2.0)``;
        only ``eta`` is read).
    pool_by : str, optional
        Item metadata column whose groups get their own mean intercept (and mean
        log-discrimination, confirmatory), as in the 2PL.
    n_traits : int, optional
        :math:`K` of the exploratory model (default 2 without ``traits``).
    traits : str or mapping, optional
        Confirmatory model: an item metadata column, or a mapping item label → trait label,
        giving every item's trait.
    anchors : list of str, optional
        Exploratory anchor items, one per trait (default :func:`choose_anchors`).
    """

    name = "mirt"
    internal_variables: ClassVar[tuple[str, ...]] = (
        *_Logistic.internal_variables,
        "theta_z",
        "a_centred",
        "a_z",
        "log_a_anchor",
        "trait_cpc_z",
    )
    model_options: ClassVar[tuple[str, ...]] = ("n_traits", "traits", "anchors")
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        "mu_a": Prior("Normal", mu=0.5, sigma=1.0),
        "sigma_a": Prior("HalfNormal", sigma=1.0),
        "log_a_anchor": Prior("Normal", mu=0.0, sigma=1.0),
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
        anchors: list[str] | None = None,
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
            if anchors is not None:
                raise ValueError("anchors identify the exploratory model; drop them or traits")
            n_traits = len(self._trait_labels)
        else:
            n_traits = 2 if n_traits is None else int(n_traits)
            if n_traits < 1:
                raise ValueError(f"n_traits must be a positive integer, got {n_traits}")
            self._trait_labels = pd.Index([f"trait_{k + 1}" for k in range(n_traits)])
            anchors = choose_anchors(responses, n_traits) if anchors is None else anchors
            anchors = [str(x) for x in anchors]
            unknown = [x for x in anchors if x not in items]
            if unknown or len(anchors) != n_traits or len(set(anchors)) != n_traits:
                raise ValueError(
                    f"anchors must be {n_traits} distinct fitted items; got {anchors!r}"
                    + (f" (unknown: {describe_values(unknown)})" if unknown else "")
                )
        self.n_traits = n_traits
        if isinstance(traits, Mapping):
            traits = {str(item): str(trait) for item, trait in traits.items()}
        self.traits = traits
        self.anchors = anchors

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
        a = self._add_loadings()
        intercept = self._item_parameter(
            "intercept", centred=self._centred_intercept(), start=self._intercept_start()
        )
        pm.Deterministic("intercept", intercept, dims="item")
        pm.Deterministic("b", -intercept / pt.sqrt(pt.sum(a**2, axis=1)), dims="item")
        logit = pt.sum(a[item_index] * theta[subject_index], axis=1) + intercept[item_index]
        y, scale = _observed(self)
        pm.Potential("loglik", scale * pt.sum(y * logit - pt.softplus(logit)))

    def _add_abilities(self):
        """Abilities (subject, trait): orthonormal (exploratory) or LKJ-correlated and then
        standardised (confirmatory)."""
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
            return pm.Deterministic(
                "theta", _standardised_rows(chol @ z).T, dims=("subject", "trait")
            )
        rows = []
        for t in range(k):
            v = z[t]
            for q in rows:
                v = v - pt.mean(v * q) * q
            rows.append(v / pt.sqrt(pt.mean(v**2)))
        return pm.Deterministic("theta", pt.stack(rows, axis=1), dims=("subject", "trait"))

    def _ability_start(self) -> np.ndarray:
        """Start of the abilities (trait, subject): normal scores of each subject's accuracy
        on each trait's items (confirmatory) or of its scores on the leading singular
        directions of the centred response matrix (exploratory)."""
        r = self.responses
        if self.confirmatory:
            accuracy = _group_accuracy(r, self._trait_codes, self.n_traits)
            return np.stack([_normal_scores(col) for col in accuracy.T])
        dense = r.dense()
        filled = np.where(np.isnan(dense), np.nanmean(dense, axis=0), dense)
        u, _, _ = np.linalg.svd(filled - filled.mean(axis=0), full_matrices=False)
        scores = u[:, : self.n_traits]
        if scores.shape[1] < self.n_traits:
            raise ValueError(f"{r.n_subjects} subjects cannot support {self.n_traits} traits")
        accuracy = r.subject_accuracy().fillna(0.5).to_numpy()
        scores[:, 0] *= np.sign(np.corrcoef(scores[:, 0], accuracy)[0, 1]) or 1.0
        return np.stack([_normal_scores(col) for col in scores.T])

    def _add_loadings(self):
        """Loadings (item, trait). Confirmatory: the 2PL's hierarchical log-discrimination on
        each item's own trait. Exploratory: :math:`a_{ik} \\sim N(\\mu_k, \\sigma_k)` on the
        free entries, centred for items whose answers inform them (the 2PL's rule for
        :math:`\\log a`), non-centred otherwise; the anchors' diagonal log-normal."""
        r, k = self.responses, self.n_traits
        if self.confirmatory:
            log_a = self._item_parameter("log_a", centred=self._centred_log_a())
            a = pt.set_subtensor(
                pt.zeros((r.n_items, k))[np.arange(r.n_items), self._trait_codes], pt.exp(log_a)
            )
            return pm.Deterministic("a", a, dims=("item", "trait"))
        anchor_rows = pd.Index(r.items.astype(str)).get_indexer(self.anchors)
        free = np.ones((r.n_items, k), dtype=bool)
        for t, row in enumerate(anchor_rows):
            free[row, t:] = False
        rows, cols = np.nonzero(free)
        centred = self._centred_log_a()[rows]
        mu, sigma = self._prior("mu_a", dims="trait"), self._prior("sigma_a", dims="trait")
        a = pt.zeros((r.n_items, k))
        if centred.any():
            where = (rows[centred], cols[centred])
            part = pm.Normal("a_centred", mu[where[1]], sigma[where[1]], shape=int(centred.sum()))
            a = pt.set_subtensor(a[where], part)
        if (~centred).any():
            where = (rows[~centred], cols[~centred])
            z = pm.Normal("a_z", 0.0, 1.0, shape=int((~centred).sum()))
            a = pt.set_subtensor(a[where], mu[where[1]] + sigma[where[1]] * z)
        diagonal = self._prior("log_a_anchor", dims="trait")
        a = pt.set_subtensor(a[anchor_rows, np.arange(k)], pt.exp(diagonal))
        return pm.Deterministic("a", a, dims=("item", "trait"))

    @classmethod
    def _logit(cls, posterior, subject_index, item_index):
        a = posterior["a"].transpose("chain", "draw", "item", "trait").values
        theta = posterior["theta"].transpose("chain", "draw", "subject", "trait").values
        b = posterior["b"].values[:, :, item_index]
        logit = -np.sqrt(np.sum(a**2, axis=-1))[:, :, item_index] * b
        for t in range(a.shape[-1]):
            logit += a[:, :, item_index, t] * theta[:, :, subject_index, t]
        return logit

    @classmethod
    def pointwise_log_likelihood(cls, posterior, subject_index, item_index, y):
        return log_likelihood(y, cls._logit(posterior, subject_index, item_index), 1.0, 0.0)

    @classmethod
    def observation_probability(cls, posterior, subject_index, item_index):
        return icc(cls._logit(posterior, subject_index, item_index), 1.0, 0.0)


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
