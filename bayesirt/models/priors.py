"""Prior specifications as small serialisable objects.

A :class:`Prior` names a PyMC distribution and its parameters, e.g.
``Prior("HalfNormal", sigma=0.5)``; ``Prior("DiracDelta", c=0.5)`` fixes the parameter at
``c`` (a constant of the model: not sampled, not stored in the posterior). Models keep a
dictionary of them (their documented defaults, overridable per key) and store it with the
fit, so a saved posterior says exactly which priors produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

__all__ = ["Prior", "merge_priors"]


@dataclass(frozen=True)
class Prior:
    """A PyMC distribution with fixed parameters.

    Parameters
    ----------
    distribution : str
        Name of a distribution in :mod:`pymc`, e.g. ``"Normal"``, ``"HalfNormal"``,
        ``"LogNormal"``, ``"Exponential"``.
    **params
        Its parameters, as numbers.

    Examples
    --------
    >>> Prior("Normal", mu=0.0, sigma=1.0)
    Prior('Normal', mu=0.0, sigma=1.0)
    """

    distribution: str
    params: dict[str, Any] = field(default_factory=dict)

    def __init__(self, distribution: str, **params: Any) -> None:
        if not hasattr(pm, distribution) or not isinstance(getattr(pm, distribution), type):
            raise ValueError(f"{distribution!r} is not a PyMC distribution")
        if distribution == "DiracDelta" and set(params) != {"c"}:
            raise ValueError(f"a DiracDelta prior takes exactly its value c, got {params}")
        object.__setattr__(self, "distribution", distribution)
        object.__setattr__(self, "params", dict(params))

    @property
    def is_fixed(self) -> bool:
        """Whether the prior is a point mass (``DiracDelta``): the parameter is a constant."""
        return self.distribution == "DiracDelta"

    def create(self, name: str, **kwargs: Any):
        """Add the random variable ``name`` to the PyMC model in context; a fixed prior
        (:attr:`is_fixed`) returns its value as a constant instead."""
        if self.is_fixed:
            return pt.as_tensor_variable(np.asarray(self.params["c"], dtype=float))
        return getattr(pm, self.distribution)(name, **self.params, **kwargs)

    def typical_value(self) -> float:
        """The median of the distribution (from 1,001 draws, fixed seed): a starting value."""
        if self.is_fixed:
            return float(self.params["c"])
        dist = getattr(pm, self.distribution).dist(**self.params)
        return float(np.median(pm.draw(dist, draws=1001, random_seed=0)))

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": self.distribution, **self.params}

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Prior:
        spec = dict(spec)
        return cls(spec.pop("distribution"), **spec)

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Prior({self.distribution!r}{args})"


def merge_priors(
    defaults: dict[str, Prior], overrides: dict[str, Prior] | None
) -> dict[str, Prior]:
    """The defaults with the user's overrides; an unknown key is an error naming it."""
    merged = dict(defaults)
    for key, prior in (overrides or {}).items():
        if key not in defaults:
            raise ValueError(
                f"unknown prior {key!r} for this model; it has priors {sorted(defaults)}"
            )
        if isinstance(prior, dict):
            prior = Prior.from_dict(prior)
        if not isinstance(prior, Prior):
            raise TypeError(f"prior {key!r} must be a Prior, got {type(prior).__name__}")
        merged[key] = prior
    return merged
