"""Item Fisher information that stays finite far from an item's difficulty.

Shared by the quality summaries (:mod:`bayesirt.analysis.quality`) and the tiny-benchmark
designs and adaptive tests (:mod:`bayesirt.tinybench`), which sit a layer above.
"""

from __future__ import annotations

import numpy as np

from bayesirt.irt import item_information

__all__ = ["information"]


def information(theta, a, b, c=0.0, d=1.0) -> np.ndarray:
    """:func:`~bayesirt.irt.item_information` with its limit 0 where P rounds to 0 or 1.

    Far from an item's difficulty the curve is 0 or 1 in floating point and the formula
    gives 0/0; the information there tends to 0.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(item_information(theta, a, b, c, d), nan=0.0)
