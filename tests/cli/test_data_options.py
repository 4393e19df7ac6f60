"""The data options of ``bayesirt fit`` for real inputs, checked up to the fit and no further.

``fit`` as ``bayesirt.cli.fit`` calls it is replaced by a stand-in that keeps the responses it
was given and stops the command, so no test here samples or optimises anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import bayesirt.cli.fit
from bayesirt.cli import main
from bayesirt.cli._common import _as_options

DATE_ID = "2025-03-01T12-00-00.123456"
#: {task: {run: {filter: {metric: values by doc}}}}, written as lm-eval --log_samples output.
RUNS = {
    "gsm8k": {
        "run-a": {
            "strict-match": {"exact_match": [1, 0, 1]},
            "flexible-extract": {"exact_match": [1, 1, 1]},
        },
        "run-b": {
            "strict-match": {"exact_match": [0, 1, 0]},
            "flexible-extract": {"exact_match": [0, 1, 1]},
        },
    },
    "arc_easy": {
        "run-a": {"none": {"acc": [1, 0, 1], "acc_norm": [0, 0, 1]}},
        "run-b": {"none": {"acc": [0, 1, 0], "acc_norm": [1, 1, 0]}},
    },
}


class FitReached(Exception):
    """Raised by the stand-in for ``fit``: the command got as far as fitting."""


@pytest.fixture
def fitted(monkeypatch: pytest.MonkeyPatch) -> list:
    """The responses ``bayesirt fit`` hands to ``fit`` (which then stops the command)."""
    given = []

    def stand_in(responses, **settings):
        given.append(responses)
        raise FitReached

    monkeypatch.setattr(bayesirt.cli.fit, "fit", stand_in)
    return given


def write_runs(root: Path, *, without_results: tuple[str, ...] = ()) -> Path:
    """lm-eval output: a folder per run with samples files and a results JSON."""
    for task, runs in RUNS.items():
        for run, by_filter in runs.items():
            folder = root / run
            folder.mkdir(parents=True, exist_ok=True)
            lines = [
                {
                    "doc_id": doc_id,
                    "doc": {"question": f"q{doc_id}"},
                    "target": str(doc_id),
                    "arguments": {"gen_args_0": {"arg_0": f"q{doc_id}", "arg_1": {}}},
                    "resps": [[str(doc_id)]],
                    "filtered_resps": [str(doc_id)],
                    "filter": filter_name,
                    "metrics": list(by_metric),
                    **{metric: values[doc_id] for metric, values in by_metric.items()},
                }
                for filter_name, by_metric in by_filter.items()
                for doc_id in range(3)
            ]
            text = "".join(json.dumps(line) + "\n" for line in lines)
            (folder / f"samples_{task}_{DATE_ID}.jsonl").write_text(text)
            if run not in without_results:
                results = {"model_name": f"org/{run}", "config": {"model_args": ""}}
                (folder / f"results_{DATE_ID}.json").write_text(json.dumps(results))
    return root


def fit_up_to_the_fit(capsys, fitted: list, *args: object):
    """``bayesirt fit ARGS`` until it calls ``fit``: the responses given and the stderr."""
    with pytest.raises(FitReached):
        main(["fit", *map(str, args)])
    return fitted[-1], capsys.readouterr().err


def run(capsys, *args: object) -> tuple[int, str]:
    """``bayesirt ARGS`` that stops before fitting: exit status and its one stderr line."""
    status = main([str(arg) for arg in args])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("bayesirt: error: ")
    return status, err


# ----------------------------------------------------------------------- lm-eval
def test_a_key_may_hold_an_equals_sign(capsys, fitted, tmp_path):
    helm = Path(__file__).parents[1] / "data" / "fixtures" / "helm_output"
    task = "mmlu:subject=anatomy,method=multiple_choice_joint"
    responses, _ = fit_up_to_the_fit(
        capsys,
        fitted,
        helm,
        *("--format", "helm", "--threshold", "0.5", "--metric", f"{task}=quasi_exact_match"),
        *("--out", tmp_path / "fit.nc"),
    )
    assert responses.source["metric"][task] == "quasi_exact_match"


def test_per_task_and_per_run_values_reach_load_responses(capsys, fitted, tmp_path):
    runs = write_runs(tmp_path / "out")
    responses, err = fit_up_to_the_fit(
        capsys,
        fitted,
        runs,
        *("--sample-filter", "gsm8k=flexible-extract", "--metric", "arc_easy=acc_norm"),
        *("--model-name", "run-b=model-b", "--out", tmp_path / "fit.nc"),
    )
    assert responses.source["sample_filter"] == {"arc_easy": "none", "gsm8k": "flexible-extract"}
    assert responses.source["metric"] == {"arc_easy": "acc_norm", "gsm8k": "exact_match"}
    assert list(responses.subjects) == ["org/run-a", "model-b"]
    assert responses.to_wide().loc["model-b", "gsm8k/2"] == 1  # flexible-extract's score
    assert "none was chosen" not in err


def test_defaults_are_warned_with_option_names(capsys, fitted, tmp_path):
    runs = write_runs(tmp_path / "out", without_results=("run-b",))
    responses, err = fit_up_to_the_fit(capsys, fitted, runs, "--out", tmp_path / "fit.nc")
    assert responses.source["sample_filter"]["gsm8k"] == "strict-match"
    assert responses.source["metric"]["arc_easy"] == "acc"
    warnings = [line for line in err.splitlines() if line.startswith("bayesirt: warning: ")]
    (on_filter,) = [line for line in warnings if "task 'gsm8k'" in line]
    assert "used 'strict-match'" in on_filter
    assert "--sample-filter gsm8k=<filter>" in on_filter
    (on_metric,) = [line for line in warnings if "task 'arc_easy'" in line]
    assert "used 'acc'" in on_metric and "--metric arc_easy=<metric>" in on_metric
    (on_run,) = [line for line in warnings if "results JSON" in line]
    assert "'run-b'" in on_run and "--model-name run-b=<label>" in on_run
    for argument in ("sample_filter=", "metric=", "model_name="):
        assert argument not in err


def test_errors_name_the_options(capsys, fitted, tmp_path):
    runs = write_runs(tmp_path / "out")
    out = ("--out", tmp_path / "fit.nc")
    status, err = run(capsys, "fit", runs, "--sample-filter", "strict-match", *out)
    assert status == 1
    assert "task 'arc_easy' logs no filter 'strict-match'" in err
    assert "--sample-filter arc_easy=<filter>" in err and "sample_filter=" not in err
    status, err = run(capsys, "fit", runs, "--model-name", "run-z=z", *out)
    assert "--model-name names run folder(s) 'run-z'" in err
    status, err = run(capsys, "fit", runs, "--sep", ";", *out)
    assert "--sep ';' do not apply to format 'lm-eval'" in err
    assert (
        "it uses --duplicates, --metric, --model-name, --response-type, --sample-filter, "
        "--scale, --threshold" in err
    )
    assert not fitted


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--metric", "acc", "--metric", "gsm8k=exact_match"], "--metric: give either one"),
        (["--metric", "gsm8k=acc", "--metric", "gsm8k=f1"], "task 'gsm8k' given more than once"),
        (["--model-name", "=label"], "expected VALUE or KEY=VALUE"),
        (["--sep", "ab"], "expected one character"),
    ],
)
def test_malformed_data_options_are_usage_errors(capsys, fitted, tmp_path, args, fragment):
    status, err = run(capsys, "fit", write_runs(tmp_path), *args, "--out", tmp_path / "x.nc")
    assert status == 2 and fragment in err
    assert not fitted


@pytest.mark.parametrize("args", [["--sep", ";"], ["--sample-filter", "strict-match"]])
def test_shipped_data_take_none_of_the_new_options(capsys, fitted, args):
    status, err = run(capsys, "fit", "example", *args)
    assert status == 2 and f"{args[0]}: only for results files" in err


# ------------------------------------------------------------------------ tables
@pytest.mark.parametrize(
    ("given", "sep"), [([], ";"), (["--sep", ";"], ";"), (["--sep", "tab"], "\t")]
)
def test_sep_is_sniffed_or_given(capsys, fitted, tmp_path, given, sep):
    path = tmp_path / "scores.txt"
    table = pd.DataFrame({"q1": [1, 0, 1], "q2": [0, 1, 1]}, index=["m1", "m2", "m3"])
    table.to_csv(path, sep=sep, index_label="model")
    responses, _ = fit_up_to_the_fit(capsys, fitted, path, *given, "--out", tmp_path / "x.nc")
    assert responses.source["sep"] == sep
    assert responses.to_wide().loc["m2"].tolist() == [0, 1]


def test_table_messages_name_the_options(capsys, fitted, tmp_path):
    out = ("--out", tmp_path / "x.nc")
    graded = tmp_path / "graded.csv"
    graded.write_text("subject,item,response\nm1,q1,0.5\nm1,q2,1\nm2,q1,0\nm2,q2,1\n")
    _, err = run(capsys, "fit", graded, *out)
    assert "pass --threshold to binarise" in err and "threshold=" not in err
    assert "graded model" not in err
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("model,question,correct\nm1,q1,1\nm2,q1,0\n")
    _, err = run(capsys, "fit", renamed, "--subject", "model", "--item", "question", *out)
    assert "--response 'response'" in err and "with --subject/--item/--response." in err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _, err = run(capsys, "fit", empty, *out)
    assert f"'{empty}' is empty" in err
    constant = tmp_path / "constant.csv"
    constant.write_text("model,q1,q2,q3\nm1,1,0,1\nm2,1,1,0\n")
    _, err = fit_up_to_the_fit(capsys, fitted, constant, *out)
    assert "pass --drop-constant to drop them" in err and "drop_constant=" not in err


def test_translation_of_argument_names():
    assert (
        _as_options("pass format= (known formats: 'long')")
        == "pass --format (known formats: 'long')"
    )
    assert (
        _as_options("option(s) metric='acc' do not apply")
        == "option(s) --metric 'acc' do not apply"
    )
    assert _as_options("dropped (drop_constant=True)") == "dropped (--drop-constant)"
    assert _as_options("with model_name={'run': '<label>'}") == "with --model-name run=<label>"
    assert (
        _as_options("pass duplicates='mean' or sep=';'") == "pass --duplicates 'mean' or --sep ';'"
    )
    # Names that only end like a data option, or are not followed by '=', stay as they are.
    kept = "item_meta_columns=['x'], min_item=2, the item 'q1', max_threshold=0.9"
    assert _as_options(kept) == kept
