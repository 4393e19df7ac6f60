r"""Hierarchical item vectors in the coordinates they are sampled in.

Every hierarchical item parameter of the package (the intercepts and log-discriminations of
:mod:`~bayesirt.models.unidimensional`, :mod:`~bayesirt.models.correlated` and
:mod:`~bayesirt.models.explanatory`) is built here, by :func:`hierarchical_item_vector`:
group sample means plus zero-sum deviations, each deviation partially centred
(:func:`partially_centred_normal`). The coordinates differ from the model's, the joint
distribution does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayesirt.models.priors import Prior

__all__ = ["HierarchicalItems", "hierarchical_item_vector", "partially_centred_normal"]


def partially_centred_normal(
    name: str,
    loc,
    sigma,
    *,
    information: np.ndarray,
    start: np.ndarray,
    sigma_start: float,
):
    r"""Vector :math:`x_i \sim N(\text{loc}_i, \sigma)`, sampled partially centred.

    Hierarchical item parameters sit between two regimes. Where an item's answers pin
    :math:`x_i`, the centred coordinates :math:`x_i` themselves sample well and the
    non-centred :math:`z_i = (x_i - \text{loc}_i)/\sigma` couple every item to
    :math:`\sigma`; where the answers say little (an item nobody solves, one that barely
    discriminates), the centred coordinates form a funnel with :math:`\sigma`. Many items of
    a leaderboard are in between. The partially non-centred parameterisation
    (Papaspiliopoulos, Roberts & Sköld 2007; Gorinova, Moore & Hoffman 2020) samples

    .. math::

        \tilde x_i \sim N(\lambda_i\,\text{loc}_i,\; \sigma^{\lambda_i}), \qquad
        x_i = \text{loc}_i + \sigma^{1 - \lambda_i}(\tilde x_i - \lambda_i\,\text{loc}_i),
        \qquad
        \lambda_i = \frac{\sigma^2 I_i}{\sigma^2 I_i + 1},

    which is exactly :math:`x_i \sim N(\text{loc}_i, \sigma)` for any
    :math:`\lambda_i \in [0, 1]` (:math:`\lambda = 1` centred, :math:`0` non-centred).
    With a Gaussian likelihood of precision :math:`I_i` this weight — the share of the
    posterior precision that comes from the data — makes :math:`\tilde x_i` and
    :math:`\sigma` a posteriori uncorrelated. ``information`` is :math:`I_i`, estimated
    from the data before sampling; :math:`\lambda_i` follows the current :math:`\sigma`.
    ``start`` is an initial value of :math:`x - \text{loc}` and ``sigma_start`` a typical
    :math:`\sigma`, used only for the initial point.
    """
    information = np.asarray(information, dtype=float)
    log_sigma = pt.log(sigma)
    weight = pm.math.sigmoid(2.0 * log_sigma + np.log(np.maximum(information, 1e-12)))
    weight_start = sigma_start**2 * information / (sigma_start**2 * information + 1.0)
    initval = np.asarray(start, dtype=float) / sigma_start ** (1.0 - weight_start)
    shifted = weight * loc
    tilde = pm.Normal(
        name, shifted, pt.exp(weight * log_sigma), shape=information.size, initval=initval
    )
    return loc + pt.exp((1.0 - weight) * log_sigma) * (tilde - shifted)


class HierarchicalItems(NamedTuple):
    """What :func:`hierarchical_item_vector` builds."""

    #: :math:`x`, one value per item.
    value: Any
    #: :math:`x_i - \bar x_{g(i)}`, the deviations of the items from their group's sample mean.
    deviations: Any


def hierarchical_item_vector(
    key: str,
    *,
    priors: Mapping[str, Prior],
    information: np.ndarray,
    start: np.ndarray,
    loc: Any = 0.0,
    codes: np.ndarray | None = None,
    dims: str | None = None,
) -> HierarchicalItems:
    r"""Hierarchical item vector :math:`x_i \sim N(\mu_{g(i)} + \ell_i, \sigma)` (``key``
    names it and its priors ``mu_<key>``, ``sigma_<key>``, ``tau_<key>``), sampled as its
    group sample means plus zero-sum deviations.

    The model, with groups :math:`g` (``dims``; one group without it):

    .. math::

        \mu \sim N(m_0, s_0), \quad \mu_g = \mu + \tau z_g, \quad z_g \sim N(0, 1),
        \quad x_i = \mu_{g(i)} + \ell_i + \sigma\varepsilon_i, \quad
        \varepsilon_i \sim N(0, 1).

    :math:`\ell` is ``loc`` (0, or a regression on item features centred within the group),
    which must sum to zero within every group.

    Sampled in other coordinates with exactly the same joint distribution. With many items
    the data pin the *sample* mean :math:`\bar x_g` of each group tightly, and the usual
    coordinates turn that into a ridge: :math:`\mu_g` can only move together with all
    :math:`n_g` of its items (measured on ChemBench: min bulk ESS 27 of 1,000 draws for
    :math:`\mu_{\log a}`). Here the sample mean is itself a coordinate. For Gaussians
    the sample mean is independent of the deviations from it, so (as :math:`\ell` sums to
    zero in each group)

    .. math::

        \bar x_g = \mu + \sqrt{\tau^2 + \sigma^2 / n_g}\; u_g, \qquad
        x_i - \bar x_{g(i)} = e_i - \bar e_{g(i)},

    with :math:`u_g \sim N(0, 1)` and :math:`e_i \sim N(\ell_i, \sigma)` independent (the
    group means of :math:`e` do not enter the likelihood and keep their prior). Without
    groups, :math:`\mu` is integrated out as well,
    :math:`\bar x \sim N(m_0, \sqrt{s_0^2 + \sigma^2 / n})`, which requires a Normal
    prior on ``mu_<key>``. The population means are restored exactly from their
    conditional distribution given the sample means (a Normal, drawn with one auxiliary
    standard normal each), so the posterior holds ``mu_<key>`` (and ``mu_<key>_group``)
    as usual, plus the sample mean(s) ``<key>_mean``.

    Each :math:`e_i` is partially centred (:func:`partially_centred_normal`, variable
    ``<key>_pc``) by ``information``, the precision that the item's own answers carry about
    :math:`x_i`.

    Parameters
    ----------
    key : str
        Name of the parameter; its variables are ``sigma_<key>``, ``<key>_pc`` and, without
        groups, ``<key>_mean``, ``mu_<key>_z`` and ``mu_<key>``; with groups ``mu_<key>``,
        ``tau_<key>``, ``<key>_mean_z``, ``<key>_mean``, ``mu_<key>_group_z`` and
        ``mu_<key>_group``.
    priors : mapping of str to Prior
        The priors of the model, with the keys above.
    information : numpy.ndarray, shape (n,)
        Per item, the precision that its answers carry about :math:`x_i`.
    start : numpy.ndarray, shape (n,)
        Initial value of :math:`x` (the initial point only).
    loc : tensor or float
        :math:`\ell`, summing to zero within every group.
    codes : numpy.ndarray of int, shape (n,), optional
        Group of each item, ``0 .. n_groups - 1`` (required with ``dims``). Without it the
        items are one group whose means are plain means; with it the means are sums by code
        over the counts. The two reductions of one group round differently in the last bit:
        :meth:`~bayesirt.models.base.IRTModel._item_parameter` passes all-zero codes without
        ``dims``, the explanatory model none, each as it always did, so that their initial
        points and densities stay the same to the last bit.
    dims : str, optional
        Name of the group dimension: the group means are pooled (``tau_<key>``). Without it
        there is one group and :math:`\mu` is integrated out.

    Returns
    -------
    HierarchicalItems
        :math:`x` and its deviations from its group sample means.
    """
    start = np.asarray(start, dtype=float)
    if dims is not None and codes is None:
        raise ValueError(f"the groups of {dims!r} need the group code of every item")
    if codes is None:  # one group: plain means
        counts = [start.size]
        start_means = np.array([start.mean()])
    else:  # sums by code over counts
        n_groups = 1 if dims is None else len(pm.modelcontext(None).coords[dims])
        if dims is None and np.any(codes != 0):
            raise ValueError("items in several groups need the name of the group dimension")
        counts = np.bincount(codes, minlength=n_groups).astype(float)
        start_means = np.bincount(codes, weights=start, minlength=n_groups) / counts

    sigma = priors[f"sigma_{key}"].create(f"sigma_{key}")
    raw = partially_centred_normal(
        f"{key}_pc",
        loc,
        sigma,
        information=information,
        start=start - (start_means[0] if codes is None else start_means[codes]),
        sigma_start=priors[f"sigma_{key}"].typical_value(),
    )
    if codes is None:
        deviations = raw - raw.mean()
    else:
        group_sums = pt.inc_subtensor(pt.zeros(len(counts))[codes], raw)
        deviations = raw - (group_sums / counts)[codes]

    if dims is None:
        mu_prior = priors[f"mu_{key}"]
        if mu_prior.distribution != "Normal":
            raise ValueError(
                f"prior mu_{key} must be Normal (the mean is integrated analytically), "
                f"got {mu_prior!r}"
            )
        m0, s0 = float(mu_prior.params.get("mu", 0.0)), float(mu_prior.params["sigma"])
        noise = sigma**2 / counts[0]
        sample_mean = pm.Normal(f"{key}_mean", m0, pt.sqrt(s0**2 + noise), initval=start_means[0])
        shrink = s0**2 / (s0**2 + noise)
        w = pm.Normal(f"mu_{key}_z", 0.0, 1.0)
        pm.Deterministic(
            f"mu_{key}", m0 + shrink * (sample_mean - m0) + pt.sqrt(shrink * noise) * w
        )
        return HierarchicalItems(sample_mean + deviations, deviations)
    mu = priors[f"mu_{key}"].create(f"mu_{key}")
    tau = priors[f"tau_{key}"].create(f"tau_{key}")
    noise = sigma**2 / counts
    u = pm.Normal(f"{key}_mean_z", 0.0, 1.0, dims=dims)
    sample_means = pm.Deterministic(f"{key}_mean", mu + pt.sqrt(tau**2 + noise) * u, dims=dims)
    shrink = tau**2 / (tau**2 + noise)
    w = pm.Normal(f"mu_{key}_group_z", 0.0, 1.0, dims=dims)
    pm.Deterministic(
        f"mu_{key}_group",
        mu + shrink * (sample_means - mu) + pt.sqrt(shrink * noise) * w,
        dims=dims,
    )
    return HierarchicalItems(sample_means[codes] + deviations, deviations)
