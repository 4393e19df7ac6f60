"""``--model-option KEY=VALUE`` of ``bayesirt fit`` (and of ``evaluate-subsets``, which takes
over the options of ``fit``): the options each model declares (``model_options``), from the
command line to the model and into the saved fit, checked before any data is read.

Nothing here samples: ``fit_model`` of :mod:`bayesirt.inference.fit`, which the library's
``fit`` calls with the model it built, is replaced by :func:`bayesirt.testing.fake_fit_model`
(the ``fake_sampling`` fixture of ``conftest.py``, which keeps the models), whose fake fit is
stamped as a real fit is, so every command runs to its end (diagnostics printed, fit and card
written) in well under a second.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayesirt import simulate_responses
from bayesirt.cli import main
from bayesirt.cli._common import _model_option
from bayesirt.inference import fit_info, load_fit
from bayesirt.models import MODELS

from .conftest import run


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """12 subjects × 40 items as a long table, item metadata (category, cluster, topic, text)
    and a table of two item features."""
    root = tmp_path_factory.mktemp("model-options")
    responses, _ = simulate_responses(12, 40, seed=5, clusters=3, cluster_size=8, n_categories=2)
    responses.to_long().to_csv(root / "results.csv", index=False)
    items = [str(item) for item in responses.items]
    meta = responses.item_meta.copy()
    meta["topic"] = [f"topic_{k % 3}" for k in range(40)]
    meta["text"] = [f"{'cats' if k % 2 else 'dogs and sums'} question {k}" for k in range(40)]
    meta.reset_index().to_csv(root / "meta.csv", index=False)
    rng = np.random.default_rng(3)
    features = pd.DataFrame(rng.normal(size=(40, 2)), columns=["length", "depth"])
    features.insert(0, "item", items)
    features.to_csv(root / "features.csv", index=False)
    return {
        "root": root,
        "items": items,
        "fit": [
            "fit",
            root / "results.csv",
            "--format",
            "long",
            "--item-meta",
            root / "meta.csv",
            "--method",
            "advi",
            "--no-progress",
        ],
        "features": root / "features.csv",
    }


@pytest.fixture
def models(fake_sampling: list) -> list:
    """The models the library's ``fit`` hands to ``fit_model``, which returns a fake fit."""
    return fake_sampling


def _half_traits(items: list[str]) -> str:
    return json.dumps({item: "x" if k % 2 else "y" for k, item in enumerate(items)})


#: ``--model MODEL --model-option ...`` and the stored options of the model fitted.
CASES = [
    ("testlet", ["cluster_by=category"], {"cluster_by": "category"}),
    ("bifactor", ["cluster_by=topic"], {"cluster_by": "topic"}),
    ("mirt", ["n_traits=3"], {"n_traits": 3, "traits": None}),
    ("mirt", ["traits=category"], {"n_traits": 2, "traits": "category"}),
    ("mirt", ["traits=HALF"], {"n_traits": 2}),
    ("2pl-explanatory", ["item_features=FEATURES", "explain_log_a=true"], {"explain_log_a": True}),
]


@pytest.mark.parametrize(("model", "options", "stored"), CASES)
def test_options_reach_the_model_and_its_saved_fit(
    capsys, tmp_path, data, models, model, options, stored
):
    out = tmp_path / f"{model}.nc"
    words = [
        word.replace("HALF", _half_traits(data["items"])).replace("FEATURES", str(data["features"]))
        for option in options
        for word in ("--model-option", option)
    ]
    status, printed, err = run(capsys, *data["fit"], "--model", model, *words, "--out", out)
    assert status == 0, err
    assert f"fit written to {out}" in printed
    (fitted,) = models
    assert type(fitted) is MODELS[model]
    config = fit_info(load_fit(out))["config"]
    assert config == fitted.config()
    assert {key: config[key] for key in stored} == stored
    if model == "2pl-explanatory":
        assert config["item_features"]["columns"] == ["length", "depth"]
    if "traits=HALF" in options:
        assert config["traits"] == json.loads(_half_traits(data["items"]))


@pytest.mark.parametrize("spec", ["FEATURES", "text:text"])
def test_item_features_flag_is_the_model_option(capsys, tmp_path, data, models, spec):
    """``--item-features SPEC`` (with the default 2PL) is ``--model 2pl-explanatory
    --model-option item_features=SPEC``: the same model, through the same ``fit``."""
    spec = spec.replace("FEATURES", str(data["features"]))
    out = tmp_path / "explanatory.nc"
    flag = ["--item-features", spec]
    option = ["--model", "2pl-explanatory", "--model-option", f"item_features={spec}"]
    for words in (flag, option):
        status, _, err = run(capsys, *data["fit"], *words, "--out", out, "--overwrite")
        assert status == 0, err
    assert [type(model) for model in models] == [MODELS["2pl-explanatory"]] * 2
    assert models[0].config() == models[1].config()


@pytest.mark.parametrize(
    ("model", "key", "listed"),
    [
        ("testlet", "n_traits", "its options: cluster_by"),
        ("mirt", "cluster_by", "its options: n_traits, traits"),
        ("2pl-explanatory", "traits", "its options: item_features, explain_log_a"),
        ("2pl", "cluster_by", "it has none"),
    ],
)
def test_an_unknown_option_exits_2_before_the_data_is_read(
    capsys, tmp_path, models, model, key, listed
):
    """The data path does not exist: reading it would exit 1 with a missing-file error."""
    absent = tmp_path / "absent.csv"
    for command in (["fit"], ["evaluate-subsets"]):
        status, out, err = run(
            capsys, *command, absent, "--model", model, "--model-option", f"{key}=1"
        )
        assert status == 2
        assert err.startswith("bayesirt: error: ") and err.count("\n") == 1
        assert f"--model {model} has no option {key!r} ({listed})" in err
        assert "absent" not in err and out == ""
    assert models == []


@pytest.mark.parametrize(
    ("words", "fragment"),
    [
        (
            ["--model-option", "cluster_by=category", "--model-option", "cluster_by=cluster"],
            "option 'cluster_by' given more than once",
        ),
        (["--model-option", "cluster_by"], "expected KEY=VALUE, got 'cluster_by'"),
        (["--model-option", "=category"], "expected KEY=VALUE, got '=category'"),
    ],
)
def test_a_repeated_or_malformed_option_exits_2(capsys, tmp_path, models, words, fragment):
    status, _, err = run(capsys, "fit", tmp_path / "absent.csv", "--model", "testlet", *words)
    assert status == 2
    assert fragment in err and "absent" not in err
    assert models == []


@pytest.mark.parametrize(
    ("model", "option", "fragment"),
    [
        ("mirt", "n_traits=[1]", "n_traits takes an integer or null, got [1]"),
        ("mirt", "n_traits=true", "n_traits takes an integer or null, got true"),
        ("mirt", "traits=5", "traits takes a string, an object or null, got 5"),
        ("testlet", "cluster_by=3", "cluster_by takes a string or null, got 3"),
        ("2pl-explanatory", "explain_log_a=1", "explain_log_a takes true or false, got 1"),
        ("2pl-explanatory", "item_features=3", "item_features takes an object or a string, got 3"),
    ],
)
def test_a_value_of_the_wrong_type_exits_2_before_the_data_is_read(
    capsys, tmp_path, models, model, option, fragment
):
    """The type is the one the model's constructor declares for the option."""
    absent = tmp_path / "absent.csv"
    status, _, err = run(capsys, "fit", absent, "--model", model, "--model-option", option)
    assert status == 2
    assert f"--model-option {option}: {fragment}" in err and "absent" not in err
    assert models == []


def test_the_item_features_flag_counts_as_the_option(capsys, tmp_path, models):
    absent = tmp_path / "absent.csv"
    status, _, err = run(
        capsys, "fit", absent, "--item-features", "a.csv", "--model-option", "item_features=b.csv"
    )
    assert status == 2
    assert "option 'item_features' given more than once" in err
    status, _, err = run(capsys, "fit", absent, "--model", "2pl-explanatory")
    assert status == 2
    assert "--model 2pl-explanatory needs --item-features" in err
    status, _, err = run(capsys, "fit", absent, "--model", "3pl", "--item-features", "a.csv")
    assert status == 2
    assert "--item-features: only for --model 2pl, got 3pl" in err
    assert models == []


def test_evaluate_subsets_fits_the_training_subjects_with_the_options(capsys, data, models):
    args = data["fit"][1:]  # DATA and the data and inference options of `fit`
    status, out, err = run(
        capsys,
        "evaluate-subsets",
        *args,
        "--model",
        "testlet",
        "--model-option",
        "cluster_by=category",
        *("--budgets", 5, "--seeds", 0, "--methods", "random", "--estimators", "mean"),
        *("--calibration-share", 0),
    )
    assert status == 0, err
    (fitted,) = models
    assert type(fitted) is MODELS["testlet"] and fitted.cluster_by == "category"
    assert fitted.responses.n_subjects == 10  # the training subjects
    assert "mean absolute error" in out


def test_a_saved_fit_takes_no_model_option(capsys, tmp_path):
    status, _, err = run(
        capsys, "evaluate-subsets", tmp_path / "fit.nc", "--model-option", "cluster_by=category"
    )
    assert status == 2
    assert "--model-option: only when SOURCE is data, not a saved fit" in err


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("n_traits=3", 3),
        ("scale=2.5", 2.5),
        ("explain_log_a=true", True),
        ("explain_log_a=false", False),
        ("traits=null", None),
        ('traits={"q1": "x", "q2": "y"}', {"q1": "x", "q2": "y"}),
        ("cols=[1, 2]", [1, 2]),
        ("cluster_by=category", "category"),
        ('cluster_by="3"', "3"),
        ("item_features=text:body", "text:body"),
        ("item_features=data/features.csv", "data/features.csv"),
        ("label=a=b", "a=b"),
        ("empty=", ""),
    ],
)
def test_values_are_json_when_they_parse_and_text_otherwise(text, value):
    option = _model_option(text)
    assert (option.key, option.value) == (text.partition("=")[0], value)
    assert option.given == f"--model-option {text}"


def test_fit_help_lists_every_models_options(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no line breaks (argparse wraps at hyphens)
    assert main(["fit", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--model-option KEY=VALUE" in text
    for name, cls in MODELS.items():
        if cls.model_options:
            assert f"{name}: {', '.join(cls.model_options)}" in text
