"""The settings of a fit, checked before any work is done.

One function, :func:`check_fit_settings`, guards both the Python API
(:func:`bayesirt.inference.fit_model`) and the command line (which checks the options right
after parsing, before the data is read, and names the option in its message). A bad value
raises :class:`SettingError`, a ``ValueError`` that knows which setting it is about.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["METHODS", "SAMPLERS", "SettingError", "check_fit_settings"]

METHODS = ("nuts", "advi")
SAMPLERS = ("nutpie", "pymc", "numpyro")


class SettingError(ValueError):
    """A fit setting out of its range; :attr:`setting` names it (as a Python argument)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}{'' if message.startswith('=') else ' '}{message}")
        self.setting = setting
        self.detail = message


def check_fit_settings(
    *,
    method: str = "nuts",
    sampler: str = "nutpie",
    draws: int | None = None,
    tune: int = 0,
    chains: int = 1,
    random_seed: int = 0,
    target_accept: float = 0.8,
    advi_iterations: int = 1,
    max_draws: int = 1,
    max_seconds: float | None = None,
    batch_size: int | None = None,
) -> None:
    """Raise :class:`SettingError` for the first setting out of range.

    ``target_accept`` must lie strictly between 0 and 1; ``draws`` (when given), ``chains``,
    ``advi_iterations`` and ``max_draws`` must be positive integers, ``tune`` and
    ``random_seed`` non-negative integers, ``max_seconds`` (when given) a positive number,
    ``batch_size`` (when given) a positive integer and only with ADVI.
    """
    if method not in METHODS:
        raise SettingError("method", f"{method!r} is unknown; choose one of {', '.join(METHODS)}")
    if sampler not in SAMPLERS:
        raise SettingError(
            "sampler", f"{sampler!r} is unknown; choose one of {', '.join(SAMPLERS)}"
        )
    if draws is not None:
        _integer("draws", draws, minimum=1)
    _integer("chains", chains, minimum=1)
    _integer("tune", tune, minimum=0)
    _integer("random_seed", random_seed, minimum=0)
    _integer("advi_iterations", advi_iterations, minimum=1)
    _integer("max_draws", max_draws, minimum=1)
    if not _real(target_accept) or not 0.0 < target_accept < 1.0:
        raise SettingError(
            "target_accept", f"must be between 0 and 1 (exclusive), got {target_accept}"
        )
    if max_seconds is not None and (not _real(max_seconds) or max_seconds <= 0):
        raise SettingError(
            "max_seconds", f"must be a positive number of seconds, got {max_seconds}"
        )
    if batch_size is not None:
        _integer("batch_size", batch_size, minimum=1)
        if method != "advi":
            raise SettingError(
                "batch_size", f"={batch_size} needs method='advi' (NUTS uses every response)"
            )


def _integer(name: str, value, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise SettingError(name, f"must be {kind}, got {value!r}")


def _real(value) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
