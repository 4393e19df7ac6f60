"""The one set of argument checks: probabilities, interval masses and positive counts.

Each check raises a plain ``ValueError`` naming the argument and the value it was given, worded
the same everywhere in the package. Checks of *response data* are a different concept and stay
with the data in :mod:`bayesirt.data.validation` (they raise ``ResponsesError``).

``show`` formats the offending value in the message: ``repr`` by default, ``str`` where a
caller's message has always shown the plain value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["check_positive", "check_positive_int", "check_probability", "check_whole"]


def check_probability(
    name: str, value: Any, *, low: float = 0, show: Callable[[Any], str] = repr
) -> None:
    """Raise ``ValueError`` unless ``low < value < 1`` (a probability, interval mass or level).

    The message reads ``"{name} must lie strictly between {low} and 1, got {show(value)}"``.
    """
    if not low < value < 1:
        raise ValueError(f"{name} must lie strictly between {low} and 1, got {show(value)}")


def check_positive_int(
    name: str, value: Any, *, noun: str = "integer", show: Callable[[Any], str] = repr
) -> None:
    """Raise ``ValueError`` if ``value < 1`` (a count: draws, items, subjects, ...).

    The message reads ``"{name} must be a positive {noun}, got {show(value)}"``; ``noun`` names
    what is counted (``"number of subjects"``) or allows more (``"integer or None"``).
    """
    if value < 1:
        raise ValueError(f"{name} must be a positive {noun}, got {show(value)}")


def check_positive(name: str, value: Any) -> None:
    """Raise ``ValueError`` if ``value <= 0`` (a positive real number such as a threshold)."""
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")


def check_whole(name: str, value: Any, *, minimum: int = 0) -> None:
    """Raise ``ValueError`` unless ``value`` is a whole number (not a bool) of at least
    ``minimum`` (an item budget, a rank width, ...).

    The message reads ``"{name} must be a positive whole number, got {value!r}"`` for
    ``minimum = 1``, else ``"{name} must be a whole number >= {minimum}, got {value!r}"``.
    """
    if isinstance(value, bool) or value != int(value) or value < minimum:
        noun = "positive whole number" if minimum == 1 else f"whole number >= {minimum}"
        raise ValueError(f"{name} must be a {noun}, got {value!r}")
