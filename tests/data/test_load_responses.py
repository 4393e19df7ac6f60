"""load_responses on real files: long and wide CSV, parquet, py-irt and lm-eval output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesirt import load_responses
from bayesirt.data import FORMATS, ResponsesError, ResponsesWarning

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LMEVAL = FIXTURES / "lm_eval_output"
PYTHIA = "EleutherAI/pythia-160m"
LLAMA = "meta-llama/Llama-3.2-1B"
GSM8K_STRICT = {"gsm8k": "strict-match"}

# Tiny fixtures have constant items; the warning itself is tested with pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore::bayesirt.data.ResponsesWarning")


@pytest.fixture(scope="module")
def chembench_wide(shared_data):
    with pytest.warns(ResponsesWarning, match="items are constant"):
        return load_responses(shared_data / "chembench" / "responses_wide.csv")


# ------------------------------------------------------------------- ChemBench
def test_chembench_wide_row_means_equal_published_scores(chembench_wide, shared_data):
    published = pd.read_csv(shared_data / "chembench" / "published_model_scores.csv", index_col=0)
    assert (chembench_wide.n_subjects, chembench_wide.n_items) == (22, 2854)
    assert chembench_wide.fraction_missing == 0
    accuracy = chembench_wide.subject_accuracy()
    assert list(accuracy.index) == list(published.index)
    np.testing.assert_allclose(
        accuracy, published["published_all_correct_score"], rtol=0, atol=1e-12
    )


def test_chembench_tidy_equals_wide_and_keeps_category(chembench_wide, shared_data):
    with pytest.warns(ResponsesWarning):
        tidy = load_responses(
            shared_data / "chembench" / "responses_tidy.csv",
            response="correct",
            item_meta_columns=["category"],
        )
    assert tidy.equals(chembench_wide)
    assert tidy.item_meta["category"].value_counts().to_dict() == {
        "intermediate": 1973,
        "easy": 859,
        "hard": 22,
    }


def test_constant_items_are_reported_and_kept_unless_asked(chembench_wide, shared_data):
    constant = chembench_wide.constant_items()
    assert len(constant) == 134
    assert chembench_wide.n_items == 2854  # kept
    with pytest.warns(ResponsesWarning, match=r"134 of 2854 items are constant.*dropped"):
        dropped = load_responses(
            shared_data / "chembench" / "responses_wide.csv", drop_constant=True
        )
    assert dropped.n_items == 2854 - 134
    assert not dropped.items.isin(constant).any()
    assert len(dropped.constant_items()) == 0


def test_misnamed_response_column_names_the_columns(shared_data):
    with pytest.raises(ResponsesError, match=r"response='response'.*'correct'"):
        load_responses(shared_data / "chembench" / "responses_tidy.csv")


# ------------------------------------------------------------------ AlpacaEval
def test_alpacaeval_ties_refused_without_threshold(shared_data):
    with pytest.raises(ResponsesError, match=r"non-binary responses 0\.5 .*threshold="):
        load_responses(shared_data / "alpacaeval2" / "responses_tidy.csv", response="correct")


def test_alpacaeval_with_threshold_and_item_metadata(shared_data):
    folder = shared_data / "alpacaeval2"
    raw = pd.read_csv(folder / "responses_tidy.csv")
    resp = load_responses(
        folder / "responses_tidy.csv",
        response="correct",
        threshold=1.0,
        item_meta=folder / "items.csv",
    )
    assert (resp.n_subjects, resp.n_items) == (58, 805)
    assert resp.n_observed == len(raw) == 58 * 805 - 10  # missing cells stay missing
    expected = (raw["correct"] >= 1.0).groupby(raw["subject"]).mean()
    np.testing.assert_allclose(resp.subject_accuracy().loc[expected.index], expected)
    items = pd.read_csv(folder / "items.csv", index_col="item")
    assert set(resp.item_meta.columns) == {"category", "instruction"}
    assert resp.item_meta.loc[items.index, "category"].equals(items["category"])


def test_item_metadata_without_a_row_for_every_item_is_refused(shared_data, tmp_path):
    folder = shared_data / "alpacaeval2"
    items = pd.read_csv(folder / "items.csv")
    items.iloc[1:].to_csv(tmp_path / "items.csv", index=False)
    with pytest.raises(ResponsesError, match=f"no row for 1 item.*{items['item'][0]}"):
        load_responses(
            folder / "responses_tidy.csv",
            response="correct",
            threshold=0.5,
            item_meta=tmp_path / "items.csv",
        )


# ------------------------------------------------------------------------ LSAT
def test_lsat7_wide(shared_data):
    path = shared_data / "classic-irt" / "lsat7_wide.csv"
    resp = load_responses(path)
    raw = pd.read_csv(path, index_col=0)
    assert (resp.n_subjects, resp.n_items) == (1000, 5)
    assert list(resp.items) == ["Item1", "Item2", "Item3", "Item4", "Item5"]
    np.testing.assert_allclose(resp.item_accuracy(), raw.mean())
    np.testing.assert_array_equal(resp.to_wide().to_numpy(), raw.to_numpy())


# ------------------------------------------------------- other table containers
def test_parquet_tsv_and_dataframe_read_like_csv(shared_data, tmp_path):
    frame = pd.read_csv(shared_data / "classic-irt" / "lsat7_wide.csv")
    long = frame.melt(id_vars="subject", var_name="question", value_name="score")
    long.to_parquet(tmp_path / "long.parquet")
    long.to_csv(tmp_path / "long.tsv", sep="\t", index=False)
    reference = load_responses(long, item="question", response="score")
    for source in (tmp_path / "long.parquet", tmp_path / "long.tsv"):
        assert load_responses(source, item="question", response="score").equals(reference)
    assert load_responses(frame).equals(reference)  # wide DataFrame, subject column
    assert load_responses(frame.set_index("subject")).equals(reference)  # subjects as index


# ---------------------------------------------------------------------- py-irt
def test_pyirt_jsonlines():
    resp = load_responses(FIXTURES / "pyirt.jsonl")
    assert list(resp.subjects) == ["gpt-4o", "llama-3-8b", "mistral-7b", "phi-3-mini"]
    assert list(resp.items) == ["q1", "q2", "q3", "q4"]
    wide = resp.to_wide()
    assert np.isnan(wide.loc["mistral-7b", "q3"])  # absent answer stays missing
    assert resp.n_observed == 15
    assert wide.loc["gpt-4o"].tolist() == [1, 1, 1, 0]


def test_pyirt_line_without_responses_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"subject_id": "a", "responses": {"q1": 1}}\n{"subject_id": "b"}\n')
    with pytest.raises(ResponsesError, match=r"line 2.*'responses'"):
        load_responses(path, format="py-irt")


# --------------------------------------------------------------------- lm-eval
def test_lmeval_output_folder():
    resp = load_responses(LMEVAL, sample_filter=GSM8K_STRICT)
    assert list(resp.subjects) == [PYTHIA, LLAMA]
    assert list(resp.items) == [
        *(f"arc_easy/{i}" for i in range(4)),
        *(f"gsm8k/{i}" for i in range(3)),
    ]
    assert resp.item_meta["benchmark"].tolist() == ["arc_easy"] * 4 + ["gsm8k"] * 3
    wide = resp.to_wide()
    # acc (not acc_norm) for arc_easy, strict-match exact_match for gsm8k
    assert wide.loc[PYTHIA].tolist() == [1, 0, 1, 0, 0, 1, 0]
    assert wide.loc[LLAMA].iloc[:3].tolist() == [1, 1, 0]
    assert np.isnan(wide.loc[LLAMA, "arc_easy/3"])  # that run had --limit 3
    assert wide.loc[LLAMA].iloc[4:].tolist() == [1, 1, 0]


def test_lmeval_several_folders_and_single_files():
    by_folder = load_responses(
        [LMEVAL / "EleutherAI__pythia-160m", LMEVAL / "meta-llama__Llama-3.2-1B"],
        sample_filter=GSM8K_STRICT,
    )
    assert by_folder.equals(load_responses(LMEVAL, sample_filter=GSM8K_STRICT))
    arc_files = sorted(LMEVAL.rglob("samples_arc_easy_*.jsonl"))
    arc = load_responses(arc_files)
    assert list(arc.items) == [f"arc_easy/{i}" for i in range(4)]


def test_lmeval_metric_and_filter_choice():
    resp = load_responses(
        LMEVAL, metric={"arc_easy": "acc_norm"}, sample_filter={"gsm8k": "flexible-extract"}
    )
    wide = resp.to_wide()
    assert wide.loc[PYTHIA].tolist() == [1, 1, 0, 0, 0, 1, 0]
    with pytest.warns(ResponsesWarning, match=r"'gsm8k'.*'flexible-extract', 'strict-match'"):
        assert load_responses(LMEVAL).equals(load_responses(LMEVAL, sample_filter=GSM8K_STRICT))
    with pytest.raises(ResponsesError, match=r"no metric 'f1'.*'acc', 'acc_norm'"):
        load_responses(LMEVAL, metric="f1", sample_filter=GSM8K_STRICT)


def test_lmeval_model_name_from_model_args_or_argument(tmp_path):
    run = shutil.copytree(LMEVAL / "EleutherAI__pythia-160m", tmp_path / "run")
    other = LMEVAL / "meta-llama__Llama-3.2-1B"
    results_file = next(run.glob("results_*.json"))
    results = json.loads(results_file.read_text())
    del results["model_name"], results["model_name_sanitized"]
    results["config"]["model_args"] = "dtype=float32,pretrained=my-org/my-model"
    results_file.write_text(json.dumps(results))
    resp = load_responses([run, other], sample_filter=GSM8K_STRICT)
    assert list(resp.subjects) == ["my-org/my-model", LLAMA]
    results_file.unlink()
    with pytest.warns(ResponsesWarning, match=r"no results JSON.*model_name=\{'run'"):
        resp = load_responses([run, other], sample_filter=GSM8K_STRICT)
    assert list(resp.subjects) == ["run", LLAMA]
    resp = load_responses([run, other], model_name={"run": "pythia"}, sample_filter=GSM8K_STRICT)
    assert list(resp.subjects) == ["pythia", LLAMA]


def test_lmeval_folder_without_samples(tmp_path):
    with pytest.raises(ResponsesError, match=r"no lm-eval samples files.*--log_samples"):
        load_responses(tmp_path)


# ------------------------------------------------------------- format choice
def test_unknown_format_lists_the_registry(shared_data):
    with pytest.raises(ResponsesError, match="unknown format 'xlsx'") as err:
        load_responses(shared_data / "classic-irt" / "lsat7_wide.csv", format="xlsx")
    for name in FORMATS:
        assert repr(name) in str(err.value)


def test_unknown_extension_is_named(tmp_path):
    path = tmp_path / "scores.xlsx"
    path.write_bytes(b"not a table")
    with pytest.raises(ResponsesError, match=r"extension '\.xlsx'.*'lm-eval'"):
        load_responses(path)


def test_ambiguous_table_asks_for_a_mapping(tmp_path):
    path = tmp_path / "scores.csv"
    pd.DataFrame({"model": ["a", "b"], "question": ["q1", "q2"], "score": [1, 0]}).to_csv(
        path, index=False
    )
    with pytest.raises(ResponsesError, match=r"long or a wide.*'question'.*format="):
        load_responses(path)
    resp = load_responses(path, subject="model", item="question", response="score")
    assert resp.n_observed == 2


def test_unrecognised_jsonl_names_its_keys(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"model": "a", "score": 1}\n')
    with pytest.raises(ResponsesError, match=r"'model', 'score'.*py-irt"):
        load_responses(path)


def test_option_that_does_not_apply_is_refused(shared_data):
    with pytest.raises(ResponsesError, match=r"metric='acc'.*format 'wide'"):
        load_responses(shared_data / "classic-irt" / "lsat7_wide.csv", metric="acc")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ResponsesError, match="no such file"):
        load_responses(tmp_path / "absent.csv")
