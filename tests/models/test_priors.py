"""Priors: a point-mass prior fixes a parameter; the asymptote spreads are fixed by default."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

import bayesirt
from bayesirt.models import get_model
from bayesirt.models.priors import Prior


@pytest.fixture(scope="module")
def responses():
    return bayesirt.simulate_responses(30, 40, model="3pl", seed=5)[0]


def test_point_mass_prior_is_a_constant_not_a_variable(responses):
    model = get_model("3pl")(responses).build_model()
    names = {v.name for v in model.free_RVs} | {v.name for v in model.deterministics}
    assert "sigma_logit_c" not in names
    # in the model's prior, the items' guessing logits spread by exactly the fixed scale
    c, mu = pm.draw([model["c"], model["mu_logit_c"]], draws=400, random_seed=2)
    spread = np.log(c / (1 - c)) - mu[:, None]
    assert np.std(spread) == pytest.approx(0.5, rel=0.05)


@pytest.mark.parametrize("name, key", [("3pl", "sigma_logit_c"), ("4pl", "sigma_logit_slip")])
def test_asymptote_spread_is_fixed_by_default_and_can_be_learned(responses, name, key):
    cls = get_model(name)
    assert cls.default_priors[key] == Prior("DiracDelta", c=0.5)
    fixed = cls(responses).build_model()
    learned = cls(responses, priors={key: Prior("HalfNormal", sigma=0.5)}).build_model()
    assert key not in {v.name for v in fixed.free_RVs}
    assert key in {v.name for v in learned.free_RVs}
    # the same value fixed and learned gives the same density at the same point
    point = fixed.initial_point()
    learned_point = {**point, f"{key}_log__": np.log(0.5)}
    half_normal = pm.logp(pm.HalfNormal.dist(sigma=0.5), 0.5).eval() + np.log(0.5)
    assert learned.compile_logp()(learned_point) == pytest.approx(
        fixed.compile_logp()(point) + half_normal
    )


def test_point_mass_prior_needs_its_value():
    with pytest.raises(ValueError, match="DiracDelta prior takes exactly its value c"):
        Prior("DiracDelta", sigma=1.0)
    assert Prior("DiracDelta", c=0.25).typical_value() == 0.25
