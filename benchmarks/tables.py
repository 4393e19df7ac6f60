"""The markdown tables the benchmark scripts write into ``results/``."""

from __future__ import annotations

import numpy as np
import pandas as pd


def markdown(table: pd.DataFrame) -> str:
    """``table`` as a markdown table, numbers to three decimals, NaN as an empty cell."""

    def cell(value) -> str:
        if isinstance(value, float | np.floating):
            return "" if np.isnan(value) else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + " --- |" * len(table.columns)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)
