r"""The 2PL with differential item functioning (DIF) between groups of subjects.

Subjects fall into groups :math:`g = 0, \dots, G - 1` by a subject metadata column
(``dif_by``: model family, open or closed weights, released before or after the benchmark);
the first label in sorted order is the reference group :math:`0`. An item functions
differently when it is harder for one group than for another *at equal ability*:

.. math::

    P(y_{ij} = 1) = \sigma\big(a_i\theta_j + \alpha_i + \delta_{g(j), i}\big), \qquad
    \delta_{0, i} = 0,

with the abilities, slopes and intercepts of the 2PL (:mod:`bayesirt.models.unidimensional`;
the intercepts are the reference group's). The DIF effects of each focal group sum to zero
over the items,

.. math::

    \delta_{g, \cdot} = \sigma_\delta\, z_{g, \cdot}, \qquad
    z_{g, \cdot} \sim \text{ZeroSumNormal}(1), \qquad \sigma_\delta = 1,

because a shift of every intercept for a group cannot be told from a difference of the
groups' abilities: the groups' abilities carry the mean, and :math:`\delta` is each item's
departure from it. (With a share :math:`s` of items shifted by :math:`\Delta`, the others
read :math:`-s\Delta/(1 - s)`: 0.09 for 10% of the items shifted by 0.8.) They are sampled
non-centred, since each rests on the answers of one group only.

Why the scale is fixed (``sigma_dif``, ``Prior("DiracDelta", c=1.0)``; give it a
``HalfNormal`` prior to learn it): DIF is sparse, a few items among many, and a learned normal
scale is set by the many items without it and shrinks the few with it. Measured on a
simulated 2PL of 400 subjects (two groups of 200) × 200 items with 20 items 0.8 logits harder
for one group: with a learned ``HalfNormal(0.5)`` scale (posterior mean 0.22) the planted
effects were estimated at −0.32 on average and 40% of them had a 95% interval excluding 0;
with the scale fixed at 1, −0.68 (the truth less the 0.09 of the centring) and 90%, with
2.8% of the other items flagged (at 100 per group and the learned scale: 30%). A local
Student-t scale per item (a sparse prior) did not converge in 155 s and found 20%.

The posterior holds ``dif`` (``dif_group`` × item, the focal groups' :math:`\delta`, in logits
at equal ability; a positive value is an item *easier* for that group) and ``dif_code`` (each
subject's group code, constant; not a parameter). :func:`bayesirt.analysis.audit.dif_table`
turns it into the audit's per-item table.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy.special import expit, log_expit

from bayesirt.data import Responses
from bayesirt.models.likelihood import irt_loglik
from bayesirt.models.priors import Prior
from bayesirt.models.unidimensional import _DISCRIMINATION_PRIORS, _INTERCEPT_PRIORS, _Logistic

__all__ = ["DifferentialTwoPL"]


class DifferentialTwoPL(_Logistic):
    """The 2PL with differential item functioning between subject groups; see the module
    docstring.

    Parameters
    ----------
    responses : Responses
    priors : dict of str to Prior, optional
        Overrides by key: the 2PL's, and ``sigma_dif`` (default fixed at 1).
    pool_by : str, optional
        As in the 2PL.
    dif_by : str
        Subject metadata column of the groups (at least two, every subject labelled).
    """

    name = "2pl-dif"
    response_types: ClassVar[tuple[str, ...]] = ("binary",)
    supports_minibatch: ClassVar[bool] = False
    model_options: ClassVar[tuple[str, ...]] = ("dif_by",)
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        "sigma_dif": Prior("DiracDelta", c=1.0),
    }
    internal_variables: ClassVar[tuple[str, ...]] = (*_Logistic.internal_variables, "dif_z")

    def __init__(
        self,
        responses: Responses,
        *,
        priors: dict[str, Prior] | None = None,
        pool_by: str | None = None,
        dif_by: str,
    ) -> None:
        super().__init__(responses, priors=priors, pool_by=pool_by)
        meta = responses.subject_meta
        if dif_by not in meta.columns:
            known = ", ".join(map(str, meta.columns)) or "none"
            raise ValueError(
                f"dif_by={dif_by!r} is not a subject metadata column (columns: {known})"
            )
        values = meta[dif_by]
        if values.isna().any():
            missing = ", ".join(map(str, values.index[values.isna()][:10]))
            raise ValueError(f"subject metadata {dif_by!r} is missing for subjects {missing}")
        codes, labels = pd.factorize(values.astype(str), sort=True)
        if len(labels) < 2:
            raise ValueError(
                f"dif_by={dif_by!r} puts every subject in one group ({labels[0]!r}): there is "
                "nothing to compare"
            )
        self.dif_by = dif_by
        self._dif_codes = codes.astype(np.int32)
        self._dif_labels = pd.Index(labels, name=dif_by)

    def coords(self) -> dict[str, Any]:
        return {**super().coords(), "dif_group": np.asarray(self._dif_labels[1:].astype(str))}

    def _add_likelihood(self, theta, subject_index, item_index) -> None:
        """The 2PL likelihood on (item, group) pseudo-items: pseudo-item :math:`gI + i` has
        the slope of item :math:`i` and the intercept :math:`\\alpha_i + \\delta_{g,i}`."""
        r = self.responses
        n_items, n_groups = r.n_items, len(self._dif_labels)
        a, b = self._add_items()
        intercept = -a * b
        z = pm.ZeroSumNormal("dif_z", sigma=1.0, dims=("dif_group", "item"), n_zerosum_axes=1)
        dif = pm.Deterministic("dif", self._prior("sigma_dif") * z, dims=("dif_group", "item"))
        pm.Deterministic("dif_code", pt.as_tensor(self._dif_codes), dims="subject")
        shifted = pt.concatenate([intercept[None, :], intercept[None, :] + dif], axis=0)
        pseudo_a = pt.tile(a, n_groups)
        pseudo_b = -shifted.reshape((-1,)) / pseudo_a
        subjects, items, outcomes = self._answers
        pseudo_item = self._dif_codes[subjects] * n_items + items
        loglik = irt_loglik(
            theta,
            pseudo_a,
            pseudo_b,
            subject_index,
            pm.Data("dif_pseudo_item", pseudo_item.astype(np.int32)),
            pm.Data("y", outcomes.astype(np.int8), dims="obs"),
        )
        pm.Potential("loglik", loglik)

    # ------------------------------------------------------- pointwise quantities
    @staticmethod
    def _logits(posterior, subject_index, item_index) -> np.ndarray:
        theta = posterior["theta"].values[:, :, subject_index]
        a = posterior["a"].values[:, :, item_index]
        logit = a * theta + posterior["intercept"].values[:, :, item_index]
        group = posterior["dif_code"].values[0, 0, subject_index].astype(int)
        dif = posterior["dif"].values  # chain, draw, focal group, item
        focal = group > 0
        logit[..., focal] += dif[:, :, group[focal] - 1, item_index[focal]]
        return logit

    @classmethod
    def pointwise_log_likelihood(cls, posterior, subject_index, item_index, y) -> np.ndarray:
        logit = cls._logits(posterior, subject_index, item_index)
        return np.where(np.asarray(y) == 1, log_expit(logit), log_expit(-logit))

    @classmethod
    def observation_probability(cls, posterior, subject_index, item_index) -> np.ndarray:
        """P(correct) at the given pairs in every draw, with each subject's group's DIF."""
        return expit(cls._logits(posterior, subject_index, item_index))
