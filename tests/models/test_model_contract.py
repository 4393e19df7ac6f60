"""The contract of every registered model: what :meth:`~bayesirt.models.base.IRTModel.config`
stores rebuilds the same model, directly (:func:`~bayesirt.models.model_from_config`) and from a
saved fit (:func:`~bayesirt.inference.save_fit` → :func:`~bayesirt.inference.load_fit` →
:func:`~bayesirt.inference.model_from_fit`), with every constructor option at a value other
than its default.

The table :data:`CASES` must name every registered model and, over its cases, every option of
the model: a model or an option added without a case here fails
:func:`test_cases_cover_every_model_and_option`, and an option of the constructor that is not in
``model_options`` (so it would not be stored) fails :func:`test_constructor_options_are_stored`.
The fits are fakes (:func:`bayesirt.testing.fake_fit`, stamped as :func:`bayesirt.fit` stamps
a fit): sampling adds nothing to what is checked here.
"""

from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest

import bayesirt
from bayesirt.inference import load_fit, model_from_fit, save_fit
from bayesirt.models import MODELS, Prior, model_from_config
from bayesirt.testing import fake_fit

#: Constructor arguments every model takes (``pool_by`` only where the model offers it).
COMMON = ("self", "responses", "priors", "pool_by")
#: Models that refuse ``pool_by`` (checked to refuse it, so the exception cannot go stale).
NO_POOL_BY = {"2pl-explanatory"}
PRIORS = {"mu_intercept": Prior("Normal", mu=0.5, sigma=1.5)}


def _features(responses) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        rng.normal(size=(responses.n_items, 2)),
        index=pd.Index(responses.items.astype(str), name="item"),
        columns=["length", "depth"],
    )


def _half_traits(responses) -> dict[str, str]:
    return {str(item): ("x" if k % 2 else "y") for k, item in enumerate(responses.items)}


#: Per model, keyword arguments other than the defaults (callables take the responses).
CASES: dict[str, list[dict]] = {
    "1pl": [{"pool_by": "benchmark"}],
    "2pl": [{"pool_by": "benchmark"}],
    "3pl": [{"pool_by": "benchmark"}],
    "4pl": [{"pool_by": "benchmark"}],
    "testlet": [{"pool_by": "benchmark", "cluster_by": "topic"}],
    "bifactor": [{"pool_by": "benchmark", "cluster_by": "topic"}],
    "mirt": [
        {"pool_by": "benchmark", "n_traits": 3},
        {"pool_by": "benchmark", "traits": "category"},
        {"traits": _half_traits},
    ],
    "2pl-explanatory": [{"item_features": _features, "explain_log_a": True}],
    "mirt-explanatory": [{"pool_by": "benchmark", "item_features": _features, "n_traits": 3}],
    "grm": [{"pool_by": "benchmark"}],
    "gpcm": [{"pool_by": "benchmark"}],
    "beta": [{"pool_by": "benchmark"}],
    "2pl-dif": [{"pool_by": "benchmark", "dif_by": "family", "dif_slopes": True}],
}
#: Models of ordinal responses: given the same table read as ordinal scores.
ORDINAL = {"grm", "gpcm"}
PARAMS = [(name, k) for name, cases in CASES.items() for k in range(len(cases))]


@pytest.fixture(scope="module")
def responses():
    """12 subjects × 40 items with item metadata for every grouping option."""
    resp, _ = bayesirt.simulate_responses(
        12, 40, seed=5, clusters=3, cluster_size=8, missing_fraction=0.1, n_categories=2
    )
    items = resp.items.astype(str)
    meta = pd.DataFrame(
        {
            "benchmark": [f"bench_{k % 2}" for k in range(len(items))],
            "topic": [f"topic_{k % 3}" for k in range(len(items))],
        },
        index=pd.Index(items, name="item"),
    )
    family = pd.DataFrame(
        {"family": [f"family_{k % 2}" for k in range(resp.n_subjects)]},
        index=pd.Index(resp.subjects.astype(str), name="subject"),
    )
    return resp.with_item_meta(meta).with_subject_meta(family)


def _data(name: str, responses):
    """``responses`` as the model ``name`` takes them (ordinal scores for the graded models,
    continuous scores for the ordered beta model)."""
    if name == "beta":
        continuous = bayesirt.Responses.from_long(responses.to_long(), response_type="continuous")
        return continuous.with_item_meta(responses.item_meta)
    if name not in ORDINAL:
        return responses
    wide = responses.to_wide().reset_index()
    ordinal = bayesirt.Responses.from_wide(wide, subject="subject", response_type="ordinal")
    ordinal = ordinal.with_item_meta(responses.item_meta)
    # an item answered alike by everyone has no threshold in the graded model
    return ordinal.subset(items=ordinal.items.difference(ordinal.constant_items()))


def _arguments(name: str, k: int, responses) -> dict:
    case = CASES[name][k]
    args = {key: value(responses) if callable(value) else value for key, value in case.items()}
    return {"priors": PRIORS, **args}


def _required(cls, responses) -> dict:
    """The constructor's required options, taken from the first case of the model."""
    params = inspect.signature(cls.__init__).parameters
    first = _arguments(cls.name, 0, responses)
    return {
        key: first[key]
        for key, param in params.items()
        if key not in COMMON and param.default is inspect.Parameter.empty
    }


def test_constructor_options_are_stored():
    """Every option of a model's constructor is in its ``model_options``, so
    :meth:`~bayesirt.models.base.IRTModel.config` stores it, and nothing else is."""
    for name, cls in MODELS.items():
        params = inspect.signature(cls.__init__).parameters
        options = {key for key in params if key not in COMMON}
        assert options == set(cls.model_options), name
        assert {"responses", "priors", "pool_by"} <= set(params), name


def test_cases_cover_every_model_and_option(responses):
    assert set(CASES) == set(MODELS)
    for name, cls in MODELS.items():
        given = {key for case in CASES[name] for key in case}
        assert given <= {*cls.model_options, "pool_by"}, name
        assert set(cls.model_options) <= given, f"{name}: an option without a case"
        if name in NO_POOL_BY:
            with pytest.raises(ValueError, match="pool_by"):
                cls(responses, pool_by="benchmark", **_required(cls, responses))
        else:
            assert "pool_by" in given, f"{name}: pool_by without a case"


@pytest.mark.parametrize(("name", "k"), PARAMS)
def test_options_differ_from_the_defaults(responses, name, k):
    """Each option given in a case changes the configuration, so a round trip that lost it
    (rebuilt the model with the default) would not give the same configuration."""
    cls, responses = MODELS[name], _data(name, responses)
    config = cls(responses, **_arguments(name, k, responses)).config()
    default = cls(responses, **_required(cls, responses)).config()
    for key in ("priors", *CASES[name][k]):
        if key not in _required(cls, responses):
            assert config[key] != default[key], f"{name}: {key}"


@pytest.mark.parametrize(("name", "k"), PARAMS)
def test_config_rebuilds_the_model(responses, name, k):
    responses = _data(name, responses)
    model = MODELS[name](responses, **_arguments(name, k, responses))
    for config in (model.config(), json.dumps(model.config())):
        again = model_from_config(config, responses)
        assert type(again) is type(model)
        assert again.config() == model.config()
        assert again.priors == model.priors


@pytest.mark.parametrize(("name", "k"), PARAMS)
def test_saved_fit_rebuilds_the_model(tmp_path, responses, name, k):
    responses = _data(name, responses)
    model = MODELS[name](responses, **_arguments(name, k, responses))
    fit = fake_fit(responses, model=model, n_draws=5)
    loaded = load_fit(save_fit(fit, tmp_path / f"{name}.nc"), responses=responses)
    again = model_from_fit(loaded)
    assert type(again) is type(model)
    assert again.config() == model.config()
    assert again.responses.fingerprint() == responses.fingerprint()
