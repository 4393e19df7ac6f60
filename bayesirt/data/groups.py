"""Item groups from item metadata: the one default partition of the questions.

A benchmark's questions often come in groups (a category, a source benchmark, a subject area,
a task), given as a column of the item metadata. The clustered models (testlet, bifactor),
the local-dependence analysis and the benchmark-quality tables all group the items; when the
user names no column, each takes the same default: the first of :data:`ITEM_GROUP_COLUMNS`
that the metadata has with at least two labels (one label does not divide the items).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["ITEM_GROUP_COLUMNS", "default_group_column"]

#: Item metadata columns tried, in order, when no grouping column is named.
ITEM_GROUP_COLUMNS = ("cluster", "category", "benchmark", "subject_area", "task")


def default_group_column(meta: pd.DataFrame) -> str | None:
    """The first of :data:`ITEM_GROUP_COLUMNS` in ``meta`` with two or more labels, or
    ``None``."""
    return next((c for c in ITEM_GROUP_COLUMNS if c in meta and meta[c].nunique() >= 2), None)
