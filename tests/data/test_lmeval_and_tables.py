"""Real inputs without Python: lm-eval defaults and warnings, sniffed tables, provenance.

The lm-eval fixtures are written the way lm-evaluation-harness writes ``--log_samples``
output (``lm_eval/loggers/evaluation_tracker.py``): a folder per model holding
``samples_<task>_<date_id>.jsonl``, one line per document and filter with the keys
``doc_id, doc, target, arguments, resps, filtered_resps, filter, metrics, *_hash`` and one key
per metric, beside ``results_<date_id>.json`` with ``model_name`` and ``config.model_args``.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesirt import load_responses
from bayesirt.data import Responses, ResponsesError, ResponsesWarning
from bayesirt.inference import load_fit, save_fit
from bayesirt.inference.io import card_path, responses_from_fit
from bayesirt.testing import fake_fit

DATE_ID = "2025-03-01T12-00-00.123456"

# The small tables have a constant item; that warning is tested in test_load_responses.py.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*items are constant:bayesirt.data.ResponsesWarning"
)

#: gsm8k as lm-eval logs it: every document twice, once per filter, scored by exact_match.
GSM8K = {
    "run-a": {
        "strict-match": {"exact_match": [1, 0, 1, 0]},
        "flexible-extract": {"exact_match": [1, 1, 1, 1]},
    },
    "run-b": {
        "strict-match": {"exact_match": [0, 1, 0, 1]},
        "flexible-extract": {"exact_match": [0, 1, 1, 1]},
    },
}
#: A multiple-choice task: no filter ("none"), two metrics.
ARC = {
    "run-a": {"none": {"acc": [1, 0, 1], "acc_norm": [0, 0, 1]}},
    "run-b": {"none": {"acc": [0, 1, 0], "acc_norm": [1, 1, 0]}},
}

WIDE = pd.DataFrame(
    {"q1": [1, 0, 1], "q2": [0, 0, 1], "q3": [1, 1, 1]}, index=pd.Index(["m1", "m2", "m3"])
)


def sample_line(doc_id: int, filter_name: str, scores: dict[str, int]) -> dict:
    """One line of a samples file, as lm-eval's evaluator logs it."""
    question = f"Question {doc_id}: how many?"
    return {
        "doc_id": doc_id,
        "doc": {"question": question, "answer": f"#### {doc_id}"},
        "target": f"#### {doc_id}",
        "arguments": {"gen_args_0": {"arg_0": f"{question}\nAnswer:", "arg_1": {"until": []}}},
        "resps": [[f"The answer is {doc_id}."]],
        "filtered_resps": [str(doc_id)],
        "filter": filter_name,
        "metrics": list(scores),
        "doc_hash": f"{doc_id:064x}",
        "prompt_hash": f"{doc_id + 1:064x}",
        "target_hash": f"{doc_id + 2:064x}",
        **scores,
    }


def write_task(root: Path, task: str, scores: dict, *, results: bool = True) -> Path:
    """Write ``scores`` ({run: {filter: {metric: values by doc}}}) as lm-eval output."""
    for run, by_filter in scores.items():
        folder = root / run
        folder.mkdir(parents=True, exist_ok=True)
        lines = [
            sample_line(doc_id, filter_name, {m: v[doc_id] for m, v in by_metric.items()})
            for filter_name, by_metric in by_filter.items()
            for doc_id in range(len(next(iter(by_metric.values()))))
        ]
        text = "".join(json.dumps(line) + "\n" for line in lines)
        (folder / f"samples_{task}_{DATE_ID}.jsonl").write_text(text)
        if results:
            summary = {
                "results": {task: {"alias": task}},
                "config": {"model": "hf", "model_args": f"pretrained=org/{run},dtype=float32"},
                "model_name": f"org/{run}",
                "model_name_sanitized": run,
            }
            (folder / f"results_{DATE_ID}.json").write_text(json.dumps(summary, indent=2))
    return root


def load_recording(*args, **kwargs) -> tuple[Responses, list[str]]:
    """``load_responses`` and the messages of the ResponsesWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resp = load_responses(*args, **kwargs)
    return resp, [str(w.message) for w in caught if issubclass(w.category, ResponsesWarning)]


def choice_warnings(messages: list[str]) -> list[str]:
    return [m for m in messages if "none was chosen" in m]


@pytest.fixture
def lmeval(tmp_path: Path) -> Path:
    """Two runs of gsm8k (two filters) and arc_easy (two metrics), with results JSONs."""
    write_task(tmp_path / "out", "gsm8k", GSM8K)
    return write_task(tmp_path / "out", "arc_easy", ARC)


# ------------------------------------------------------------------ lm-eval defaults
def test_several_filters_default_to_strict_match_with_a_warning(lmeval):
    resp, messages = load_recording(lmeval)
    wide = resp.to_wide()
    gsm8k = [f"gsm8k/{i}" for i in range(4)]
    assert wide.loc["org/run-a", gsm8k].tolist() == GSM8K["run-a"]["strict-match"]["exact_match"]
    assert wide.loc["org/run-b", gsm8k].tolist() == GSM8K["run-b"]["strict-match"]["exact_match"]
    (warned,) = [m for m in choice_warnings(messages) if "filter" in m]
    assert "task 'gsm8k'" in warned
    assert "'flexible-extract', 'strict-match'" in warned
    assert "used 'strict-match'" in warned
    assert "sample_filter={'gsm8k': '<filter>'}" in warned


def test_several_metrics_default_to_acc_with_a_warning(lmeval):
    resp, messages = load_recording(lmeval)
    arc = [f"arc_easy/{i}" for i in range(3)]
    assert resp.to_wide().loc["org/run-a", arc].tolist() == ARC["run-a"]["none"]["acc"]
    (warned,) = [m for m in choice_warnings(messages) if "metric" in m]
    assert "task 'arc_easy'" in warned and "'acc', 'acc_norm'" in warned
    assert "used 'acc'" in warned


def test_named_filter_and_metric_are_used_without_a_warning(lmeval):
    resp, messages = load_recording(
        lmeval, sample_filter={"gsm8k": "flexible-extract"}, metric={"arc_easy": "acc_norm"}
    )
    wide = resp.to_wide()
    flexible = GSM8K["run-b"]["flexible-extract"]["exact_match"]
    assert wide.loc["org/run-b", [f"gsm8k/{i}" for i in range(4)]].tolist() == flexible
    assert wide.loc["org/run-b", [f"arc_easy/{i}" for i in range(3)]].tolist() == [1, 1, 0]
    assert choice_warnings(messages) == []


@pytest.mark.parametrize(
    ("filters", "used"),
    [
        (("none", "maj@8"), "none"),  # 'none' before the first by name
        (("take-last", "extract"), "extract"),  # neither preferred: the first by name
        (("none", "strict-match"), "strict-match"),
    ],
)
def test_filter_default_is_strict_match_then_none_then_first_by_name(tmp_path, filters, used):
    scores = {
        run: {name: {"exact_match": values} for name in filters}
        for run, values in (("run-a", [1, 0]), ("run-b", [0, 1]))
    }
    resp, messages = load_recording(write_task(tmp_path, "custom", scores))
    assert resp.source["sample_filter"] == {"custom": used}
    (warned,) = choice_warnings(messages)
    assert f"used {used!r}" in warned


@pytest.mark.parametrize(
    ("metrics", "used"),
    [
        (("acc_norm", "exact_match"), "acc_norm"),
        (("bleu", "exact_match"), "exact_match"),  # preferred over the first by name
        (("f1", "bleu"), "bleu"),  # neither preferred: the first by name
    ],
)
def test_metric_default_is_acc_then_acc_norm_then_exact_match(tmp_path, metrics, used):
    scores = {
        run: {"none": dict.fromkeys(metrics, values)}
        for run, values in (("run-a", [1, 0]), ("run-b", [0, 1]))
    }
    resp, messages = load_recording(write_task(tmp_path, "custom", scores))
    assert resp.source["metric"] == {"custom": used}
    (warned,) = choice_warnings(messages)
    assert f"used {used!r}" in warned and "task 'custom'" in warned


def test_a_single_filter_and_metric_need_no_warning(tmp_path):
    scores = {"run-a": {"none": {"acc": [1, 0]}}, "run-b": {"none": {"acc": [0, 1]}}}
    _, messages = load_recording(write_task(tmp_path, "piqa", scores))
    assert messages == []


def test_missing_results_json_labels_the_run_by_its_folder(tmp_path):
    write_task(tmp_path, "arc_easy", {"run-a": ARC["run-a"]})
    write_task(tmp_path, "arc_easy", {"run-b": ARC["run-b"]}, results=False)
    resp, messages = load_recording(tmp_path, metric="acc")
    assert list(resp.subjects) == ["org/run-a", "run-b"]
    (warned,) = [m for m in messages if "results JSON" in m]
    assert "results_2025-03-01T12-00-00.123456.json" in warned and "'run-b'" in warned
    assert "model_name={'run-b': '<label>'}" in warned
    resp, messages = load_recording(tmp_path, metric="acc", model_name={"run-b": "model-b"})
    assert list(resp.subjects) == ["org/run-a", "model-b"]
    assert not [m for m in messages if "results JSON" in m]


def test_keys_that_name_nothing_read_are_refused(lmeval):
    with pytest.raises(ResponsesError, match=r"sample_filter= names task\(s\) 'gsm8k_cot'"):
        load_responses(lmeval, sample_filter={"gsm8k_cot": "strict-match"})
    with pytest.raises(ResponsesError, match=r"model_name= names run folder\(s\) 'run-z'"):
        load_responses(lmeval, model_name={"run-z": "z"})


# ------------------------------------------------------------------------- tables
@pytest.mark.parametrize(("sep", "suffix"), [(";", ".csv"), ("\t", ".csv"), (";", ".txt")])
def test_delimiter_of_a_table_is_sniffed(tmp_path, sep, suffix):
    path = tmp_path / f"scores{suffix}"
    WIDE.to_csv(path, sep=sep, index_label="model")
    resp = load_responses(path)
    assert resp.to_wide().equals(WIDE.astype(float).rename_axis(index="subject", columns="item"))
    assert resp.source["format"] == "wide" and resp.source["sep"] == sep


def test_sniffing_prefers_the_delimiter_that_splits_every_line_alike(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("subject;item;response\nm1;q1, part a;1\nm1;q2;0\nm2;q1, part a;0\nm2;q2;1\n")
    resp = load_responses(path)
    assert resp.source["sep"] == ";"
    assert list(resp.items) == ["q1, part a", "q2"]


def test_given_sep_overrides_sniffing_and_is_refused_where_meaningless(tmp_path):
    path = tmp_path / "scores.txt"
    WIDE.to_csv(path, sep="|", index_label="model")
    assert load_responses(path, sep="|").to_wide().shape == (3, 3)
    with pytest.raises(ResponsesError, match=r"sep='\|'.*a DataFrame"):
        load_responses(WIDE, sep="|")
    with pytest.raises(ResponsesError, match=r"sep=';' do not apply to format 'lm-eval'"):
        load_responses([tmp_path / "absent"], sep=";")


@pytest.mark.parametrize("name", ["scores.csv", "scores.tsv", "scores.jsonl", "scores.jsonlines"])
def test_empty_file_is_named(tmp_path, name):
    path = tmp_path / name
    path.write_text("\n  \n")
    with pytest.raises(ResponsesError, match=re.escape(f"'{path}' is empty")):
        load_responses(path)


def test_pyirt_jsonlines_extension(tmp_path):
    path = tmp_path / "irt.jsonlines"
    lines = [
        {"subject_id": "m1", "responses": {"q1": 1, "q2": 0}},
        {"subject_id": "m2", "responses": {"q1": 0, "q2": 1}},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    resp = load_responses(path)
    assert resp.source["format"] == "py-irt"
    assert resp.to_wide().loc["m2"].tolist() == [0, 1]


# --------------------------------------------------------------------- provenance
def test_provenance_records_what_was_read(lmeval, tmp_path):
    resp, _ = load_recording(lmeval, threshold=0.5, duplicates="first")
    assert resp.source == {
        "input": str(lmeval),
        "format": "lm-eval",
        "threshold": 0.5,
        "duplicates": "first",
        "response_type": "binary",
        "sample_filter": {"arc_easy": "none", "gsm8k": "strict-match"},
        "metric": {"arc_easy": "acc", "gsm8k": "exact_match"},
        "model_name": {"run-a": "org/run-a", "run-b": "org/run-b"},
        "drop_constant": False,
    }
    path = tmp_path / "wide.csv"
    WIDE.to_csv(path, index_label="model")
    table, _ = load_recording(path, drop_constant=True)
    assert table.source["dropped_constant_items"] == ["q3"]
    assert table.source["drop_constant"] is True and table.source["sep"] == ","


def test_provenance_survives_xarray_subsets_and_a_saved_fit(lmeval, tmp_path):
    resp, _ = load_recording(lmeval)
    ds = resp.to_xarray()
    back = Responses.from_xarray(ds)
    assert back.source == resp.source
    assert back.fingerprint() == resp.fingerprint() == resp.with_source({}).fingerprint()
    assert (
        ds.attrs["bayesirt_responses_fingerprint"]
        == resp.with_source({}).to_xarray().attrs["bayesirt_responses_fingerprint"]
    )
    assert resp.subset(items=resp.items[:3]).source == resp.source
    # A fake fit (no sampling) of these responses, saved and loaded as a real one is.
    path = save_fit(fake_fit(resp, method="advi"), tmp_path / "fit.nc")
    assert responses_from_fit(load_fit(path)).source == resp.source
    card = card_path(path).read_text()
    (line,) = [line for line in card.splitlines() if line.startswith("- source: ")]
    assert "format='lm-eval'" in line and "'gsm8k': 'strict-match'" in line


def test_responses_without_provenance_store_none():
    resp = Responses.from_wide(WIDE)
    assert resp.source == {}
    assert "bayesirt_responses_source" not in resp.to_xarray().attrs
    assert Responses.from_xarray(resp.to_xarray()).source == {}
    assert np.array_equal(Responses.from_xarray(resp.to_xarray()).response, resp.response)


def test_very_wide_table_is_sniffed(tmp_path):
    """A leaderboard with tens of thousands of items has lines longer than the csv module's
    field limit when split on the wrong delimiter; the right one must still be found."""
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        rng.integers(0, 2, size=(3, 30_000)),
        index=pd.Index(["m1", "m2", "m3"], name="subject"),
        columns=[f"item_{k}" for k in range(30_000)],
    )
    path = tmp_path / "wide.csv"
    table.to_csv(path)
    assert load_responses(path).n_items == 30_000
