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

**Slopes** (``dif_slopes=True``; non-uniform DIF): an item may also discriminate differently
for a group, its slope multiplied by :math:`e^{\lambda_{g,i}}`,

.. math::

    P(y_{ij} = 1) = \sigma\big(a_i e^{\lambda_{g(j), i}}\theta_j + \alpha_i +
    \delta_{g(j), i}\big), \qquad \lambda_{0, i} = 0, \qquad
    \lambda_{g, \cdot} = \sigma_\lambda z'_{g, \cdot}, \quad
    z'_{g, \cdot} \sim \text{ZeroSumNormal}(1),

centred over the items for the same reason (scaling every slope for a group cannot be told
from a different spread of its abilities), with the scale fixed at :math:`\sigma_\lambda = 1`
(``sigma_dif_slope``) as for the intercepts. On a simulated 2PL of 400 subjects (two groups
of 200) × 60 items with 8 items at a third of their slope for one group (log ratio −1.1,
−0.95 after centring), a scale of 0.5 estimated the planted log ratios at −0.57 on average
and 1 at −0.78, both flagging the same 4 of the 8 (slopes rest on far fewer bits of
information than intercepts). Since the intercept is :math:`\alpha_i` at :math:`\theta = 0`,
an item whose slope differs at a location away from 0 shows an intercept effect too.
Measured in ``benchmarks/audit.py`` (planted DIF with slopes).

The posterior holds ``dif`` (``dif_group`` × item, the focal groups' :math:`\delta`, in logits
at equal ability; a positive value is an item *easier* for that group), with slopes
``dif_slope`` (:math:`\lambda`, log ratio of the group's slope to the reference group's),
and ``dif_code`` (each subject's group code, constant; not a parameter).
:func:`bayesirt.analysis.audit.dif_table` turns them into the audit's per-item table.
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

_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def _flag(name: str, value: bool | str) -> bool:
    """A yes/no option given as a bool or, from the command line, as text."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{name} must be true or false, got {value!r}")


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
    dif_slopes : bool or str
        Also let the slopes differ between groups (non-uniform DIF); on the command line
        ``--model-option dif_slopes=true``.
    """

    name = "2pl-dif"
    response_types: ClassVar[tuple[str, ...]] = ("binary",)
    supports_minibatch: ClassVar[bool] = False
    model_options: ClassVar[tuple[str, ...]] = ("dif_by", "dif_slopes")
    default_priors: ClassVar[dict[str, Prior]] = {
        **_INTERCEPT_PRIORS,
        **_DISCRIMINATION_PRIORS,
        "sigma_dif": Prior("DiracDelta", c=1.0),
        "sigma_dif_slope": Prior("DiracDelta", c=1.0),
    }
    internal_variables: ClassVar[tuple[str, ...]] = (
        *_Logistic.internal_variables,
        "dif_z",
        "dif_slope_z",
    )

    def __init__(
        self,
        responses: Responses,
        *,
        priors: dict[str, Prior] | None = None,
        pool_by: str | None = None,
        dif_by: str,
        dif_slopes: bool | str = False,
    ) -> None:
        super().__init__(responses, priors=priors, pool_by=pool_by)
        self.dif_slopes = _flag("dif_slopes", dif_slopes)
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
        dif = self._effects("dif", "sigma_dif")
        pm.Deterministic("dif_code", pt.as_tensor(self._dif_codes), dims="subject")
        shifted = pt.concatenate([intercept[None, :], intercept[None, :] + dif], axis=0)
        if self.dif_slopes:
            log_ratio = self._effects("dif_slope", "sigma_dif_slope")
            slopes = pt.concatenate([a[None, :], a[None, :] * pt.exp(log_ratio)], axis=0)
            pseudo_a = slopes.reshape((-1,))
        else:
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

    def _effects(self, name: str, scale: str):
        """Focal groups × items effects ``name``, centred over the items (non-centred)."""
        z = pm.ZeroSumNormal(f"{name}_z", sigma=1.0, dims=("dif_group", "item"), n_zerosum_axes=1)
        return pm.Deterministic(name, self._prior(scale) * z, dims=("dif_group", "item"))

    # ------------------------------------------------------- pointwise quantities
    @staticmethod
    def _logits(posterior, subject_index, item_index) -> np.ndarray:
        theta = posterior["theta"].values[:, :, subject_index]
        a = posterior["a"].values[:, :, item_index]
        group = posterior["dif_code"].values[0, 0, subject_index].astype(int)
        focal = group > 0
        at = (slice(None), slice(None), group[focal] - 1, item_index[focal])
        if "dif_slope" in posterior:
            a[..., focal] *= np.exp(posterior["dif_slope"].values[at])
        logit = a * theta + posterior["intercept"].values[:, :, item_index]
        logit[..., focal] += posterior["dif"].values[at]  # chain, draw, focal group, item
        return logit

    @classmethod
    def pointwise_log_likelihood(cls, posterior, subject_index, item_index, y) -> np.ndarray:
        logit = cls._logits(posterior, subject_index, item_index)
        return np.where(np.asarray(y) == 1, log_expit(logit), log_expit(-logit))

    @classmethod
    def observation_probability(cls, posterior, subject_index, item_index) -> np.ndarray:
        """P(correct) at the given pairs in every draw, with each subject's group's DIF."""
        return expit(cls._logits(posterior, subject_index, item_index))
