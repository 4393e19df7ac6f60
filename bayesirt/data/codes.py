"""Integer codes of the responses a :class:`~bayesirt.data.Responses` stores: checked casts,
and the per-item categories of ordinal scores (each item's observed scores in order, coded
``0 .. K_i - 1``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bayesirt.data.validation import ResponsesError, describe_values

__all__ = ["category_score_table", "describe_categories", "ordinal_codes", "response_codes"]


def response_codes(values, dtype: type, what: str = "response codes") -> np.ndarray:
    """``values`` as integer codes of ``dtype``; refuses values that do not convert exactly
    (a fraction, NaN, or a number out of the type's range)."""
    values = np.asarray(values)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN or inf cast: refused below
        codes = values.astype(dtype)
    if values.dtype.kind not in "biu" or codes.dtype.itemsize < values.dtype.itemsize:
        with np.errstate(invalid="ignore"):
            bad = codes != values
        if np.any(bad):
            raise ResponsesError(
                f"{what} must be integers in the range of {np.dtype(dtype).name}, found "
                f"{describe_values(np.unique(values[bad]))}"
            )
    return codes


def category_score_table(scores, items: pd.Index) -> np.ndarray:
    """Checked :attr:`Responses.category_scores`: one row per item, finite scores increasing
    from the left then NaN only, at least one per row; trailing columns of NaN dropped."""
    if scores is None:
        raise ResponsesError(
            "ordinal responses need category_scores: one row per item with the score of each "
            "category code"
        )
    try:
        scores = np.array(scores, dtype=float)
    except (TypeError, ValueError):
        raise ResponsesError("category_scores must be numbers") from None
    if scores.ndim != 2 or scores.shape[0] != len(items) or scores.shape[1] < 1:
        raise ResponsesError(
            f"category_scores must have shape (n_items, K_max) = ({len(items)}, K_max) with "
            f"K_max >= 1, got {scores.shape}"
        )
    if np.isinf(scores).any():
        raise ResponsesError("category_scores must be finite (NaN only as padding)")
    present = ~np.isnan(scores)
    k = present.sum(axis=1)
    padded = present == (np.arange(scores.shape[1]) < k[:, None])
    for check, problem in (
        (k >= 1, "has no category score (an ordinal item needs at least one)"),
        (padded.all(axis=1), "has NaN before a score (NaN may only pad the row on the right)"),
    ):
        if not check.all():
            bad = items[~check]
            raise ResponsesError(f"category_scores: item(s) {describe_values(bad)} {problem}")
    with np.errstate(invalid="ignore"):
        steps = np.diff(scores, axis=1)
    rising = np.where(present[:, 1:], steps > 0, True).all(axis=1)
    if not rising.all():
        first = int(np.flatnonzero(~rising)[0])
        raise ResponsesError(
            f"category_scores must increase along each row: item(s) "
            f"{describe_values(items[~rising])} do not, e.g. {items[first]!r} has "
            f"{describe_values(scores[first][present[first]])}"
        )
    return scores[:, : max(int(k.max()), 1)] if len(k) else scores


def ordinal_codes(
    item_index: np.ndarray, scores: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``0 .. K_i - 1`` of observed ordinal scores and the (n_items, K_max) scores of
    the codes: the categories of item ``i`` are its distinct observed scores, increasing."""
    pairs, inverse = np.unique(
        np.column_stack([item_index.astype(float), scores]), axis=0, return_inverse=True
    )
    pair_item = pairs[:, 0].astype(np.int64)
    k = np.bincount(pair_item, minlength=n_items)
    starts = np.concatenate([[0], np.cumsum(k)[:-1]])
    position = np.arange(len(pairs)) - starts[pair_item]
    table = np.full((n_items, max(int(k.max()), 1)), np.nan)
    table[pair_item, position] = pairs[:, 1]
    return position[inverse.reshape(-1)].astype(np.int16), table


def describe_categories(k: np.ndarray) -> str:
    """``"4 categories"`` or ``"2–5 categories"``, for the numbers ``k`` per item."""
    if not len(k):
        return "no categories"
    lo, hi = int(k.min()), int(k.max())
    return f"{hi} categories" if lo == hi else f"{lo}–{hi} categories"
