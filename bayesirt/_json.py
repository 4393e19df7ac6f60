"""Numbers made safe for JSON: the one place a NaN (or an infinity) becomes ``null``.

Strict JSON has no NaN or infinity (the command line writes it with ``allow_nan=False``), so
every ``*_to_json`` / ``to_dict`` of the package passes its floats through :func:`json_number`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = ["json_number", "json_records"]


def json_number(value: Any) -> float | None:
    """``value`` as a Python float, or ``None`` for a missing, NaN or infinite value."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def json_records(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as dicts, every float through :func:`json_number`."""
    return [
        {k: (json_number(v) if isinstance(v, float) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
