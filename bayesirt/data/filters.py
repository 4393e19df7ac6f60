r"""Preprocessing filters: drop items or subjects that would not inform a fit.

The same kind of screening metabench applies before fitting: items that (almost) everyone
answers the same way, items that do not go along with the rest of the test, and subjects with
too few responses. Every filter returns the filtered :class:`Responses` and a record of what it
removed and why, a DataFrame with one row per removed label:

``kind``
    ``"item"`` or ``"subject"``.
``label``
    The removed item or subject.
``reason``
    Why, with the threshold, e.g. ``"accuracy 0.98 above max_accuracy=0.95"``.
``value``
    The statistic the decision was made on (accuracy, correlation, count).

Filters compose: apply them one after the other and concatenate the records. A filter that
would leave fewer than 2 subjects or 2 items raises :class:`ResponsesError`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import bayesirt.data.validation as checks
from bayesirt.data.responses import Responses

__all__ = [
    "REMOVED_COLUMNS",
    "compute_point_biserial",
    "drop_constant_items",
    "drop_items_by_accuracy",
    "drop_items_by_point_biserial",
    "drop_subjects_by_count",
]

REMOVED_COLUMNS = ["kind", "label", "reason", "value"]


def drop_items_by_accuracy(
    responses: Responses, *, min_accuracy: float, max_accuracy: float
) -> tuple[Responses, pd.DataFrame]:
    r"""Keep items whose accuracy lies in ``[min_accuracy, max_accuracy]``.

    The accuracy of item :math:`i` is :math:`\bar y_i = \frac{1}{|O_i|}\sum_{j \in O_i} y_{ij}`
    over the subjects :math:`O_i` who answered it. Items nobody answered are removed too.

    Returns
    -------
    filtered : Responses
    removed : pandas.DataFrame
        Columns ``kind, label, reason, value`` (value = the accuracy).
    """
    if not 0.0 <= min_accuracy <= max_accuracy <= 1.0:
        raise checks.ResponsesError(
            f"need 0 <= min_accuracy <= max_accuracy <= 1, got min_accuracy={min_accuracy}, "
            f"max_accuracy={max_accuracy}"
        )
    accuracy = responses.item_accuracy()
    reasons = pd.Series(pd.NA, index=accuracy.index, dtype=object)
    reasons[accuracy.isna()] = "no observed response"
    low = accuracy < min_accuracy
    high = accuracy > max_accuracy
    reasons[low] = [f"accuracy {v:.3g} below min_accuracy={min_accuracy}" for v in accuracy[low]]
    reasons[high] = [f"accuracy {v:.3g} above max_accuracy={max_accuracy}" for v in accuracy[high]]
    return _drop(responses, "item", reasons, accuracy)


def drop_constant_items(responses: Responses) -> tuple[Responses, pd.DataFrame]:
    """Drop items every observed subject answered the same way (accuracy 0 or 1; ordinal
    items: observed in a single category; binomial items: every trial failed, or every one
    succeeded; continuous items: one score throughout).

    Such an item adds nothing to the likelihood's information about abilities; see
    :meth:`Responses.constant_items`.
    """
    accuracy = responses.item_accuracy()
    reasons = pd.Series(pd.NA, index=accuracy.index, dtype=object)
    if responses.response_type in ("ordinal", "continuous"):
        constant = responses.constant_items()
        by_item = responses.to_long().groupby("item", sort=False)["response"].first()
        reasons[constant] = [
            f"constant: every observed score is {by_item[label]}" for label in constant
        ]
        return _drop(responses, "item", reasons, accuracy)
    if responses.response_type == "binomial":
        reasons[accuracy == 0] = "constant: every observed trial failed"
        reasons[accuracy == 1] = "constant: every observed trial succeeded"
        return _drop(responses, "item", reasons, accuracy)
    reasons[accuracy == 0] = "constant: every observed response is 0"
    reasons[accuracy == 1] = "constant: every observed response is 1"
    return _drop(responses, "item", reasons, accuracy)


def compute_point_biserial(responses: Responses) -> pd.Series:
    r"""Item–rest point-biserial correlation of each item.

    For an observed response :math:`y_{ij}` the rest score is the subject's accuracy on its
    other observed items,

    .. math::

        r_{ij} = \frac{\sum_{k \in O_j \setminus i} y_{kj}}{|O_j| - 1},

    and the item's correlation is Pearson's :math:`\rho(y_{\cdot i}, r_{\cdot i})` over the
    subjects who answered it (with complete data this is the classical item–rest correlation,
    the rest sum score being proportional to :math:`r`). NaN where it is undefined: a constant
    item or constant rest scores, or fewer than 2 usable subjects.
    """
    items, subjects, y = responses.item_index, responses.subject_index, responses.response
    y = y.astype(float)
    total = np.bincount(subjects, weights=y, minlength=responses.n_subjects)
    count = np.bincount(subjects, minlength=responses.n_subjects)
    usable = count[subjects] > 1
    items, y = items[usable], y[usable]
    rest = (total[subjects[usable]] - y) / (count[subjects[usable]] - 1)

    def per_item(weights: np.ndarray) -> np.ndarray:
        return np.bincount(items, weights=weights, minlength=responses.n_items)

    n = per_item(np.ones_like(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        dy = y - (per_item(y) / n)[items]
        dr = rest - (per_item(rest) / n)[items]
        corr = per_item(dy * dr) / np.sqrt(per_item(dy**2) * per_item(dr**2))
    corr[~np.isfinite(corr)] = np.nan
    return pd.Series(corr, index=responses.items, name="point_biserial")


def drop_items_by_point_biserial(
    responses: Responses, *, min_correlation: float = 0.0
) -> tuple[Responses, pd.DataFrame]:
    """Drop items whose item–rest correlation is below ``min_correlation`` or undefined.

    See :func:`compute_point_biserial`. An item that correlates negatively with the rest of
    the test measures something else (or has a wrong key); an undefined correlation means the
    item or the rest scores are constant over the subjects who answered it.
    """
    corr = compute_point_biserial(responses)
    reasons = pd.Series(pd.NA, index=corr.index, dtype=object)
    reasons[corr.isna()] = "item-rest correlation undefined (constant item or rest score)"
    low = corr < min_correlation
    reasons[low] = [
        f"item-rest correlation {v:.3g} below min_correlation={min_correlation}" for v in corr[low]
    ]
    return _drop(responses, "item", reasons, corr)


def drop_subjects_by_count(
    responses: Responses, *, min_responses: int
) -> tuple[Responses, pd.DataFrame]:
    """Drop subjects with fewer than ``min_responses`` observed responses."""
    counts = responses.subject_counts()
    reasons = pd.Series(pd.NA, index=counts.index, dtype=object)
    few = counts < min_responses
    reasons[few] = [
        f"{v} observed responses, fewer than min_responses={min_responses}" for v in counts[few]
    ]
    return _drop(responses, "subject", reasons, counts.astype(float))


def _drop(
    responses: Responses, kind: str, reasons: pd.Series, values: pd.Series
) -> tuple[Responses, pd.DataFrame]:
    """Remove the labels with a reason; return the rest and the record."""
    removed_mask = reasons.notna().to_numpy()
    removed = pd.DataFrame(
        {
            "kind": kind,
            "label": reasons.index[removed_mask],
            "reason": reasons[removed_mask].astype(str).to_numpy(),
            "value": values[removed_mask].to_numpy(dtype=float),
        },
        columns=REMOVED_COLUMNS,
    )
    labels = reasons.index[~removed_mask]
    filtered = responses.subset(**{"items" if kind == "item" else "subjects": labels})
    checks.require_nonempty(filtered.n_observed)
    checks.require_fittable(filtered.n_subjects, filtered.n_items)
    return filtered, removed
