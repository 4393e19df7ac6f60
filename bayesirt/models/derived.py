r"""Variables of a posterior derived from the sampled ones after fitting (never sampled, stored
or checked): the difficulty ``b`` of the models' :math:`a(\theta - b)` form.

The pure item-response functions are in :mod:`bayesirt.irt`.
"""

from __future__ import annotations

__all__ = ["COMPOSED_VARIABLES", "CONSTANT_VARIABLES", "DERIVED_VARIABLES", "derived_variables"]


#: Posterior variables computed from others after sampling: never sampled, stored or checked.
DERIVED_VARIABLES = ("b",)
#: Data that a model keeps in its posterior, the same in every draw: each item's cluster code in
#: the clustered models, each subject's group code in the DIF model, each item's benchmark code
#: in the explanatory MIRT (so that their pointwise functions need only the posterior). They
#: are not parameters, and the convergence check leaves them out: their R-hat is 0/0.
CONSTANT_VARIABLES = ("item_cluster", "dif_code", "item_benchmark")
#: Variables stored for reading but made of sampled parameters that the convergence check
#: covers, and padded with NaN where an item has fewer entries: the graded response model's
#: ``intercepts`` (item × threshold), made of ``intercept`` and ``log_gap``.
COMPOSED_VARIABLES = ("intercepts",)


def derived_variables(posterior) -> dict:
    r"""The derived variables of a posterior (:data:`DERIVED_VARIABLES`), as DataArrays.

    The models sample an item's intercept :math:`\alpha_i` and discrimination; the difficulty
    of the :math:`a(\theta - b)` form follows from them,

    .. math::

        b_i = -\alpha_i / a_i \quad\text{(unidimensional)}, \qquad
        b_i = -\alpha_i / \lVert \mathbf a_i \rVert \quad\text{(multidimensional)},

    so it is computed from the draws rather than stored: it would add a third of the item
    draws to the sampler's memory and to the fit file. It is not part of the convergence
    check either (:mod:`bayesirt.inference.diagnostics`), which covers the parameters it is
    made of; where :math:`a_i` can come near 0, :math:`b_i` has no finite moments (see
    :func:`bayesirt.analysis.summary.summarize_fit` for its robust summary). Posteriors without an
    ``intercept`` and an ``a`` get nothing.
    """
    if "intercept" not in posterior or "a" not in posterior:
        return {}
    a = posterior["a"]
    extra = [dim for dim in a.dims if dim not in ("chain", "draw", "item")]
    scale = (a**2).sum(extra) ** 0.5 if extra else a
    return {"b": -posterior["intercept"] / scale}
