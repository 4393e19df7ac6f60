"""Inspect AI logs, HELM runs and Open LLM Leaderboard details read by load_responses.

The fixtures follow the harnesses' own writers (``fixtures/make_harness_fixtures.py`` made
them): the Inspect logs are real ``inspect eval`` logs of two mock models; the HELM runs are
``run_spec.json`` and ``per_instance_stats.json`` as HELM's runner serialises its RunSpec and
PerInstanceStats dataclasses (``src/helm/benchmark/runner.py``, ``metrics/metric.py``,
``metrics/statistic.py``); the leaderboard details are the hub's parquet conversion
(``<org>__<model>__<task>/latest/0000.parquet``) of lm-eval sample lines as the leaderboard's
harness logged them (``lm_eval/evaluator.py`` before ``filter`` and ``metrics`` were logged).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from bayesirt import load_responses
from bayesirt.cli import build_parser
from bayesirt.data import FORMATS, Responses, ResponsesError, ResponsesWarning
from bayesirt.data.harnesses import INSPECT_INSTALL, _helm_task
from bayesirt.data.loaders import _infer_format

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INSPECT = FIXTURES / "inspect_logs"
HELM = FIXTURES / "helm_output"
HELM_RUNS = HELM / "runs" / "v1"
DETAILS = FIXTURES / "leaderboard_details"

MMLU = "mmlu:subject=anatomy,method=multiple_choice_joint"
PYTHIA = "EleutherAI__pythia-160m"
LLAMA = "meta-llama__Llama-3.2-1B"
BBH = "leaderboard_bbh_boolean_expressions"
IFEVAL = "leaderboard_ifeval"

needs_inspect = pytest.mark.skipif(
    importlib.util.find_spec("inspect_ai") is None,
    reason=f"inspect_ai is not installed ({INSPECT_INSTALL})",
)

# The small fixtures have constant items; that warning is tested in test_load_responses.py.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*items are constant:bayesirt.data.ResponsesWarning"
)


def load_recording(*args, **kwargs) -> tuple[Responses, list[str]]:
    """``load_responses`` and the messages of the ResponsesWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resp = load_responses(*args, **kwargs)
    return resp, [
        str(w.message)
        for w in caught
        if issubclass(w.category, ResponsesWarning) and "items are constant" not in str(w.message)
    ]


def rows(resp: Responses, items: list[str]) -> dict[str, list[float]]:
    """Each subject's responses to ``items``."""
    wide = resp.to_wide()
    return {subject: wide.loc[subject, items].tolist() for subject in wide.index}


# ------------------------------------------------------------------------ Inspect
def inspect_log(suffix: str) -> Path:
    (path,) = INSPECT.glob(f"*{suffix}")
    return path


TOY = [f"toy_qa/q{i}" for i in range(1, 5)]


@needs_inspect
def test_inspect_folder_is_one_table_scored_by_the_first_scorer():
    # graded: alpha C I P C (one epoch), beta C C I C then C I I C (two epochs).
    low, messages = load_recording(INSPECT, threshold=0.25)
    high, _ = load_recording(INSPECT, threshold=0.75)
    assert (low.n_subjects, low.n_items) == (2, 4)
    assert rows(low, TOY) == {"mockllm/alpha": [1, 0, 1, 1], "mockllm/beta": [1, 1, 0, 1]}
    # alpha's P is 0.5, beta's q2 the mean of C and I: both between the thresholds.
    assert rows(high, TOY) == {"mockllm/alpha": [1, 0, 0, 1], "mockllm/beta": [1, 0, 0, 1]}
    (warned,) = messages
    assert "task 'toy_qa' logs several scorers, 'graded', 'includes'" in warned
    assert "used 'graded'" in warned and "metric={'toy_qa': '<scorer>'}" in warned
    assert low.source["format"] == "inspect"
    assert low.source["metric"] == {"toy_qa": "graded"}
    assert low.source["model_name"] == {
        "mockllm/alpha": "mockllm/alpha",
        "mockllm/beta": "mockllm/beta",
    }
    assert low.source["epochs"] == {inspect_log(".eval").name: 1, inspect_log(".json").name: 2}
    assert low.item_meta["benchmark"].unique().tolist() == ["toy_qa"]


@needs_inspect
def test_inspect_named_scorer_and_labels():
    resp, messages = load_recording(
        [inspect_log(".eval"), inspect_log(".json")],
        metric="includes",
        model_name={"mockllm/alpha": "alpha"},
        threshold=0.5,
    )
    assert resp.source["format"] == "inspect"
    assert messages == []
    assert rows(resp, TOY) == {"alpha": [1, 0, 1, 1], "mockllm/beta": [1, 1, 0, 1]}
    assert resp.source["metric"] == {"toy_qa": "includes"}


@needs_inspect
def test_inspect_json_log_is_recognised_by_its_first_bytes():
    fmt = _infer_format(inspect_log(".json"), subject="subject", item="item", sep=None)
    assert fmt == "inspect"
    assert _infer_format(inspect_log(".eval"), subject="subject", item="item", sep=None) == (
        "inspect"
    )


@needs_inspect
def test_inspect_errors_name_the_file_and_value(tmp_path):
    with pytest.raises(ResponsesError, match=r"logs no scorer 'f1'; it logs 'graded', 'includes'"):
        load_responses(INSPECT, metric="f1")
    with pytest.raises(ResponsesError, match=r"model_name= names model\(s\) 'mockllm/gamma'"):
        load_responses(INSPECT, metric="graded", threshold=0.5, model_name={"mockllm/gamma": "g"})
    junk = tmp_path / "broken.eval"
    junk.write_text("not a zip")
    with pytest.raises(ResponsesError, match=r"broken\.eval' is not an Inspect log"):
        load_responses(junk)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResponsesError, match=r"no Inspect logs .* under '.*empty'"):
        load_responses(tmp_path / "empty", format="inspect")


@needs_inspect
def test_inspect_scores_that_are_not_one_number_are_refused(tmp_path):
    from inspect_ai.log import read_eval_log, write_eval_log

    log = read_eval_log(str(inspect_log(".eval")))
    log.samples[1].scores["graded"].value = {"accuracy": "C", "f1": 0.5}
    path = tmp_path / "dict_score.eval"
    write_eval_log(log, str(path))
    with pytest.raises(ResponsesError, match=r"dict_score\.eval', sample 'q2'.*dict with keys"):
        load_responses(path, metric="graded")
    log.samples[1].scores["graded"].value = "maybe"
    write_eval_log(log, str(path))
    with pytest.raises(ResponsesError, match=r"sample 'q2'.*the score is 'maybe'"):
        load_responses(path, metric="graded")


@needs_inspect
def test_inspect_unfinished_log_and_other_reducer_are_warned(tmp_path):
    from inspect_ai.log import read_eval_log, write_eval_log

    log = read_eval_log(str(inspect_log(".json")))
    log.status = "cancelled"
    log.eval.config.epochs_reducer = ["max"]
    (unscored,) = [s for s in log.samples if (s.id, s.epoch) == ("q2", 2)]
    unscored.scores = None  # beta's q2: C in epoch 1, I in epoch 2, now not scored
    write_eval_log(log, str(tmp_path / "beta.json"))
    shutil.copy(inspect_log(".eval"), tmp_path / "alpha.eval")
    resp, messages = load_recording(
        [tmp_path / "alpha.eval", tmp_path / "beta.json"], metric="graded", threshold=0.75
    )
    assert any("beta.json' is an Inspect log with status 'cancelled'" in m for m in messages)
    assert any("reduces its 2 epochs with max" in m for m in messages)
    # The epoch without a score is left out of the mean (not counted as 0): q2 is 1.
    assert rows(resp, TOY)["mockllm/beta"] == [1, 1, 0, 1]


@needs_inspect
def test_inspect_default_scorer_is_the_tasks_first(tmp_path):
    from inspect_ai.log import read_eval_log, write_eval_log

    for source in (inspect_log(".eval"), inspect_log(".json")):
        log = read_eval_log(str(source))
        log.results.scores.reverse()  # as if the task listed includes() first
        write_eval_log(log, str(tmp_path / source.name))
    resp, messages = load_recording(tmp_path, threshold=0.5)
    assert resp.source["metric"] == {"toy_qa": "includes"}
    assert rows(resp, TOY)["mockllm/alpha"] == [1, 0, 1, 1]
    (warned,) = messages
    assert "used 'includes'" in warned


def test_inspect_without_inspect_ai_names_the_extra(monkeypatch):
    for name in ("inspect_ai", "inspect_ai.log", "inspect_ai.scorer"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'bayesirt\[inspect\]'"):
        load_responses(INSPECT, format="inspect")


# --------------------------------------------------------------------------- HELM
MMLU_ITEMS = [f"{MMLU}/id10{i}" for i in range(1, 5)]
GSM_ITEMS = [f"gsm/id21{i}" for i in range(3)]


def test_helm_suite_is_one_table_of_unperturbed_instances():
    low, messages = load_recording(HELM, threshold=0.25)
    high, _ = load_recording(HELM, threshold=0.75)
    assert (low.n_subjects, low.n_items) == (2, 7)
    # gpt2's id102 is 0: its perturbed copy (1) is left out. llama's id102 is 1 then 0 over
    # its two train trials: 0.5, between the thresholds.
    assert rows(low, MMLU_ITEMS) == {"meta/llama-3-8b": [1, 1, 0, 1], "openai/gpt2": [1, 0, 0, 1]}
    assert rows(high, MMLU_ITEMS)["meta/llama-3-8b"] == [1, 0, 0, 1]
    assert rows(low, GSM_ITEMS) == {"meta/llama-3-8b": [1, 1, 0], "openai/gpt2": [1, 0, 1]}
    (warned,) = messages
    assert f"task {MMLU!r} logs several metrics" in warned and "used 'exact_match'" in warned
    assert low.source["metric"] == {MMLU: "exact_match", "gsm": "final_number_exact_match"}
    assert low.source["model_name"] == {
        "meta/llama-3-8b": "meta/llama-3-8b",
        "openai/gpt2": "openai/gpt2",
    }
    trials = low.source["train_trials"]
    assert trials[f"{MMLU.replace(':', '_')},model=meta_llama-3-8b"] == 2
    assert trials["gsm_model=openai_gpt2"] == 1
    assert set(low.item_meta["benchmark"]) == {MMLU, "gsm"}


def test_helm_named_metric_run_folders_and_stats_file():
    runs = sorted(HELM_RUNS.glob("mmlu*"))
    resp, messages = load_recording(
        [runs[0], runs[1] / "per_instance_stats.json"],
        metric={MMLU: "quasi_exact_match"},
        model_name={"openai/gpt2": "gpt2"},
    )
    assert resp.source["format"] == "helm"
    assert messages == []
    assert rows(resp, MMLU_ITEMS) == {"meta/llama-3-8b": [1, 1, 0, 1], "gpt2": [1, 0, 1, 1]}


def test_helm_metric_missing_from_a_run_is_refused():
    with pytest.raises(ResponsesError, match=r"benchmark 'gsm' .* logs no metric 'exact_match'"):
        load_responses(HELM, metric="exact_match")
    with pytest.raises(ResponsesError, match=r"metric= names benchmark\(s\) 'mmlu'"):
        load_responses(HELM, metric={"mmlu": "exact_match"})


def copy_run(tmp_path: Path, pattern: str) -> Path:
    (run,) = HELM_RUNS.glob(pattern)
    return Path(shutil.copytree(run, tmp_path / run.name))


def test_helm_run_without_a_score_needs_metric(tmp_path):
    run = copy_run(tmp_path, "gsm*gpt2")
    stats = json.loads((run / "per_instance_stats.json").read_text())
    for entry in stats:
        entry["stats"] = [
            s for s in entry["stats"] if s["name"]["name"] != "final_number_exact_match"
        ]
    (run / "per_instance_stats.json").write_text(json.dumps(stats))
    with pytest.raises(
        ResponsesError, match=r"logs none of the metrics used by default .*'num_prompt_tokens'"
    ):
        load_responses([run, copy_run(tmp_path, "gsm*llama*")])


@pytest.mark.parametrize(
    ("logged", "used"),
    [
        (("f1_score", "quasi_exact_match"), "quasi_exact_match"),  # preferred over f1 by name
        (("math_equiv", "math_equiv_chain_of_thought"), "math_equiv_chain_of_thought"),
        (("f1_score",), "f1_score"),
    ],
)
def test_helm_default_metric_follows_the_preference(tmp_path, logged, used):
    runs = [copy_run(tmp_path, "gsm*gpt2"), copy_run(tmp_path, "gsm*llama*")]
    for run in runs:
        stats = json.loads((run / "per_instance_stats.json").read_text())
        for entry in stats:
            (score,) = [
                s for s in entry["stats"] if s["name"]["name"] == "final_number_exact_match"
            ]
            entry["stats"] += [{**score, "name": {**score["name"], "name": n}} for n in logged]
            entry["stats"].remove(score)
        (run / "per_instance_stats.json").write_text(json.dumps(stats))
    resp, messages = load_recording(runs)
    assert resp.source["metric"] == {"gsm": used}
    assert len(messages) == (len(logged) > 1)


def test_helm_broken_runs_are_named(tmp_path):
    run = copy_run(tmp_path, "gsm*gpt2")
    spec = json.loads((run / "run_spec.json").read_text())
    del spec["adapter_spec"]["model"]
    (run / "run_spec.json").write_text(json.dumps(spec))
    with pytest.raises(ResponsesError, match=r"run_spec\.json' names no model"):
        load_responses(run, format="helm")
    (run / "run_spec.json").unlink()
    with pytest.raises(ResponsesError, match=r"run_spec\.json' not found"):
        load_responses(run, format="helm")
    run = copy_run(tmp_path / "other", "gsm*gpt2")
    (run / "per_instance_stats.json").write_text(json.dumps({"instance_id": "id1"}))
    with pytest.raises(ResponsesError, match=r"per_instance_stats\.json' is not HELM per-instance"):
        load_responses(run)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResponsesError, match=r"no HELM run \(per_instance_stats\.json\) under"):
        load_responses(tmp_path / "empty", format="helm")


@pytest.mark.parametrize(
    ("run_name", "task"),
    [
        (f"{MMLU},model=openai_gpt2", MMLU),
        (
            "mmlu:subject=anatomy,model=openai_gpt2,eval_split=test",
            "mmlu:subject=anatomy,eval_split=test",
        ),
        ("gsm:model=openai_gpt2,model_deployment=openai_gpt2", "gsm"),
        ("narrative_qa", "narrative_qa"),
    ],
)
def test_helm_benchmark_is_the_run_name_without_the_model(run_name, task):
    assert _helm_task(run_name) == task


# ---------------------------------------------------------------- leaderboard details
BBH_ITEMS = [f"{BBH}/{i}" for i in range(5)]
IFEVAL_ITEMS = [f"{IFEVAL}/{i}" for i in range(3)]


def test_leaderboard_parquet_conversion_is_one_table():
    resp, messages = load_recording(DETAILS)
    assert resp.source["format"] == "leaderboard-details"
    assert (resp.n_subjects, resp.n_items) == (2, 8)
    assert rows(resp, BBH_ITEMS) == {
        "EleutherAI/pythia-160m": [1, 0, 1, 0, 1],
        "meta-llama/Llama-3.2-1B": [1, 1, 1, 0, 0],
    }
    # IFEval: prompt_level_strict_acc, not the loose accuracy first by name.
    assert rows(resp, IFEVAL_ITEMS) == {
        "EleutherAI/pythia-160m": [1, 0, 0],
        "meta-llama/Llama-3.2-1B": [1, 1, 0],
    }
    (warned,) = messages
    assert (
        f"task {IFEVAL!r} logs several metrics, 'prompt_level_loose_acc', 'prompt_level_strict_acc'"
        in warned
    )
    assert "used 'prompt_level_strict_acc'" in warned
    assert resp.source["metric"] == {BBH: "acc_norm", IFEVAL: "prompt_level_strict_acc"}
    assert resp.source["model_name"] == {
        PYTHIA: "EleutherAI/pythia-160m",
        LLAMA: "meta-llama/Llama-3.2-1B",
    }


def test_leaderboard_named_metric_and_model_name():
    resp, messages = load_recording(
        DETAILS, metric={IFEVAL: "prompt_level_loose_acc"}, model_name={PYTHIA: "pythia"}
    )
    assert messages == []
    assert rows(resp, IFEVAL_ITEMS) == {"pythia": [1, 1, 0], "meta-llama/Llama-3.2-1B": [1, 1, 1]}
    with pytest.raises(
        ResponsesError, match=r"doc_id 0, metric 'inst_level_strict_acc'.*not a number"
    ):
        load_responses(DETAILS, metric={IFEVAL: "inst_level_strict_acc"})
    with pytest.raises(ResponsesError, match=r"logs no metric 'acc'; it logs 'acc_norm'"):
        load_responses(DETAILS, metric="acc")


def details(model: str, task: str) -> Path:
    return DETAILS / f"{model}__{task}" / "latest" / "0000.parquet"


def test_leaderboard_files_and_samples_jsonl_read_alike(tmp_path):
    files = [details(PYTHIA, BBH), details(LLAMA, BBH)]
    assert _infer_format(files[0], subject="subject", item="item", sep=None) == (
        "leaderboard-details"
    )
    from_parquet = load_responses(files)
    assert from_parquet.source["format"] == "leaderboard-details"
    # The details repositories hold the same lines as samples_<task>_<time>.jsonl per model.
    for model, path in zip((PYTHIA, LLAMA), files, strict=True):
        folder = tmp_path / model
        folder.mkdir()
        frame = pd.read_parquet(path)
        lines = frame.to_json(orient="records", lines=True)
        (folder / f"samples_{BBH}_2024-06-26T18-52-15.170010.jsonl").write_text(lines)
    from_jsonl = load_responses(tmp_path, format="leaderboard-details")
    assert from_jsonl.to_wide().equals(from_parquet.to_wide())
    # Without format= the folder is lm-eval output, whose reader points here.
    with (
        pytest.raises(ResponsesError, match=r"list no metrics.*format='leaderboard-details'"),
        pytest.warns(ResponsesWarning, match="no results JSON"),
    ):
        load_responses(tmp_path)


def test_leaderboard_filters_and_repeated_documents(tmp_path):
    frame = pd.read_parquet(details(PYTHIA, BBH))
    # lm-eval logs one line per document and filter; recent versions name both.
    both = pd.concat([frame.assign(filter="strict-match"), frame.assign(filter="flexible-extract")])
    both["metrics"] = [["acc_norm"]] * len(both)
    both.loc[both["filter"] == "flexible-extract", "acc_norm"] = 1.0
    for model in (PYTHIA, LLAMA):
        path = tmp_path / f"{model}__{BBH}" / "latest" / "0000.parquet"
        path.parent.mkdir(parents=True)
        both.to_parquet(path)
    resp, messages = load_recording(tmp_path, format="leaderboard-details")
    assert rows(resp, BBH_ITEMS)["EleutherAI/pythia-160m"] == [1, 0, 1, 0, 1]
    (warned,) = messages
    assert "logs several filters, 'flexible-extract', 'strict-match'" in warned
    resp, messages = load_recording(tmp_path, sample_filter="flexible-extract")
    assert messages == [] and resp.source["sample_filter"] == {BBH: "flexible-extract"}
    # Older lines do not name the filter: the two lines of a document cannot be told apart.
    both.drop(columns=["filter", "metrics"]).to_parquet(path)
    with pytest.raises(
        ResponsesError, match=r"doc_id 0, 1, 2, \.\.\. \(2 more\) appear\(s\) more than once"
    ):
        load_responses(tmp_path)


def test_leaderboard_files_without_doc_id_or_metric_are_refused(tmp_path):
    path = tmp_path / "table.parquet"
    pd.DataFrame({"example": ["a", "b"], "predictions": ["x", "y"]}).to_parquet(path)
    with pytest.raises(ResponsesError, match=r"table\.parquet' has no 'doc_id' column"):
        load_responses(path, format="leaderboard-details")
    pd.DataFrame({"doc_id": [0, 1], "doc": ["a", "b"], "resps": ["x", "y"]}).to_parquet(path)
    with pytest.raises(ResponsesError, match=r"has no per-document metric column"):
        load_responses(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResponsesError, match=r"no Open LLM Leaderboard details under"):
        load_responses(tmp_path / "empty", format="leaderboard-details")


# ---------------------------------------------------------------------- inference
def test_a_folder_of_several_harnesses_needs_format(tmp_path):
    shutil.copytree(HELM, tmp_path / "helm")
    shutil.copytree(DETAILS, tmp_path / "details")
    with pytest.raises(ResponsesError, match=r"several harnesses, helm .*leaderboard-details"):
        load_responses(tmp_path)
    assert load_recording(tmp_path, format="helm", threshold=0.5)[0].n_items == 7


def test_new_formats_are_registered_and_offered_by_the_cli():
    assert {"inspect", "helm", "leaderboard-details"} <= set(FORMATS)
    parser = build_parser()
    for name in ("inspect", "helm", "leaderboard-details"):
        assert parser.parse_args(["fit", "results", "--format", name]).format == name
