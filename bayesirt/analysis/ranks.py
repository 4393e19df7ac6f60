r"""Ranks of posterior draws, with ties split evenly (NumPy only).

In each draw a subject's rank is 1 plus the number of subjects with a strictly higher value.
A group of :math:`m` subjects tied on positions :math:`r, \dots, r + m - 1` shares them: each
member holds every one of those positions with probability :math:`1/m` in that draw, so its
rank in the draw is the average :math:`r + (m - 1)/2`. With this rule the matrix
:math:`P(\text{rank}_j = k)` sums to one over subjects and over positions, and the mean rank
is :math:`\sum_k k\,P(\text{rank}_j = k)`.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

__all__ = ["rank_bounds", "rank_probabilities", "rank_quantile"]

#: Slack for comparing accumulated probabilities with a threshold.
PROB_TOL = 1e-9


def rank_bounds(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last position of each subject's tie group in each draw (higher = better).

    Parameters
    ----------
    values : numpy.ndarray, shape (n_samples, n_subjects)

    Returns
    -------
    first, last : numpy.ndarray of int, shape (n_samples, n_subjects)
        1-based positions; ``first == last`` when the subject is not tied.
    """
    first = rankdata(-values, method="min", axis=1).astype(np.int64)
    last = rankdata(-values, method="max", axis=1).astype(np.int64)
    return first, last


def rank_probabilities(first: np.ndarray, last: np.ndarray, n_positions: int) -> np.ndarray:
    r"""Probability of each position, ``P[j, k - 1] = P(rank_j = k)``, from tie-group bounds.

    Each draw gives subject :math:`j` mass :math:`1/m` on each of the :math:`m` positions
    ``first..last``; the result is the average over draws.

    Parameters
    ----------
    first, last : numpy.ndarray of int, shape (n_samples, n_subjects)
        As returned by :func:`rank_bounds` (any bounds within ``1..n_positions`` work).
    n_positions : int

    Returns
    -------
    numpy.ndarray, shape (n_subjects, n_positions)
    """
    n_samples, n_subjects = first.shape
    width = n_positions + 1
    base = np.arange(n_subjects) * width
    share = (1.0 / (last - first + 1)).ravel()
    size = n_subjects * width
    steps = np.bincount((base + first - 1).ravel(), weights=share, minlength=size)
    steps -= np.bincount((base + last).ravel(), weights=share, minlength=size)
    mass = np.cumsum(steps.reshape(n_subjects, width), axis=1)[:, :n_positions]
    return mass / n_samples


def rank_quantile(p_rank: np.ndarray, q: float) -> np.ndarray:
    """Smallest position ``k`` with ``P(rank <= k) >= q``, per subject (row of ``p_rank``)."""
    cdf = np.cumsum(p_rank, axis=1)
    return 1 + np.argmax(cdf >= q - PROB_TOL, axis=1)
