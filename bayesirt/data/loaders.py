"""Read benchmark results from files or tables into :class:`~bayesirt.data.Responses`.

One entry point, :func:`load_responses`, reads every supported layout; the layout is named
by ``format=`` or inferred from the source where that is unambiguous. The readers only parse:
labels, responses, duplicates, thresholds and ordinal scores are checked once, by
:meth:`Responses.from_long` and :meth:`Responses.from_wide`.

Formats (the registry :data:`FORMATS`):

``long``
    A table with one row per (subject, item) pair: CSV, TSV, text, parquet or a DataFrame.
``wide``
    A subjects × items table: first column (file) or index (DataFrame) the subject, one
    column per item, a blank cell = missing.
``py-irt``
    py-irt jsonlines: one line per subject, ``{"subject_id": ..., "responses": {item: 0/1}}``.
``lm-eval``
    lm-evaluation-harness output written with ``--log_samples``: folders (or single files)
    of ``samples_<task>_<timestamp>.jsonl``, next to the run's ``results_<timestamp>.json``.
``inspect``
    Inspect AI evaluation logs (``.eval`` or ``.json``, folders of them), read by inspect_ai
    (``pip install 'bayesirt[inspect]'``).
``helm``
    HELM run folders: ``per_instance_stats.json`` beside ``run_spec.json``.
``leaderboard-details``
    Open LLM Leaderboard details: lm-eval samples as parquet (the hub's conversion of the
    ``open-llm-leaderboard/<model>-details`` datasets) or as the datasets' jsonl files.

The lm-eval reader lives in :mod:`bayesirt.data.lmeval`, the other harness readers in
:mod:`bayesirt.data.harnesses`.

A ``.csv`` or ``.txt`` table may be separated by commas, semicolons or tabs: the delimiter is
sniffed from its first lines unless ``sep=`` names it. What was read, and how, is recorded in
:attr:`Responses.source`.
"""

from __future__ import annotations

import csv
import itertools
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bayesirt.data.filters import drop_constant_items
from bayesirt.data.harnesses import (
    _jsonl_records,
    _require_content,
    harness_file_format,
    harness_folder_formats,
    is_details_parquet,
    read_helm,
    read_inspect,
    read_leaderboard_details,
)
from bayesirt.data.lmeval import read_lmeval
from bayesirt.data.responses import Responses
from bayesirt.data.validation import (
    ResponsesError,
    ResponsesWarning,
    describe_values,
    reading_options,
)

__all__ = ["FORMATS", "ResponseFormat", "load_responses"]

Source = str | os.PathLike | pd.DataFrame | Sequence[str | os.PathLike]

#: Options whose default is not ``None``; a default value counts as "not given".
OPTION_DEFAULTS = {"response": "response", "duplicates": "error", "response_type": "binary"}

#: Extensions of text tables and their delimiter (``None``: sniffed, see SNIFF_DELIMITERS).
TEXT_TABLE_SUFFIXES = {".csv": None, ".txt": None, ".tsv": "\t"}
TABLE_SUFFIXES = (*TEXT_TABLE_SUFFIXES, ".parquet")
#: Extensions of jsonlines files (``.jsonlines`` is what py-irt's examples use).
JSONL_SUFFIXES = (".jsonl", ".jsonlines", ".json")

#: Rows of a CSV read to tell a long table from a wide one.
SNIFF_ROWS = 1000
#: Delimiters a ``.csv`` / ``.txt`` table may use, in order of preference on a tie, and the
#: number of its first lines read to tell them apart.
SNIFF_DELIMITERS = (",", ";", "\t")
SNIFF_LINES = 50


@dataclass(frozen=True)
class ResponseFormat:
    """A layout :func:`load_responses` can read.

    Attributes
    ----------
    name : str
        The value of ``format=``.
    description : str
        One line shown in error messages.
    options : frozenset of str
        The optional arguments of :func:`load_responses` this layout uses; giving another one
        is an error rather than being silently ignored.
    read : callable
        ``read(source, **options) -> Responses``; the :attr:`Responses.source` it returns
        holds what the reader settled (a sniffed delimiter, the lm-eval filters, metrics and
        model names), which :func:`load_responses` adds to its record.
    """

    name: str
    description: str
    options: frozenset[str]
    read: Callable[..., Responses]


def load_responses(
    source: Source,
    *,
    format: str | None = None,
    subject: str = "subject",
    item: str = "item",
    response: str = "response",
    threshold: float | None = None,
    duplicates: str = "error",
    item_meta: pd.DataFrame | str | os.PathLike | None = None,
    subject_meta: pd.DataFrame | str | os.PathLike | None = None,
    item_meta_columns: list[str] | None = None,
    subject_meta_columns: list[str] | None = None,
    model_name: str | Mapping[str, str] | None = None,
    metric: str | Mapping[str, str] | None = None,
    sample_filter: str | Mapping[str, str] | None = None,
    sep: str | None = None,
    drop_constant: bool = False,
    response_type: str = "binary",
    scale: tuple[float, float] | None = None,
    trials: str | None = None,
) -> Responses:
    """Read benchmark results into :class:`Responses`.

    Parameters
    ----------
    source : path, DataFrame or list of paths
        A CSV / TSV / text / parquet file, a DataFrame, a py-irt ``.jsonl`` / ``.jsonlines``
        file, or harness output: a folder (searched recursively), a file, or a list of them.
        lm-eval: ``samples_*.jsonl``; Inspect: ``*.eval`` and ``<timestamp>_*.json`` logs;
        HELM: run folders holding ``per_instance_stats.json``; leaderboard details:
        ``*.parquet`` and ``samples_<task>_<timestamp>.jsonl``.
    format : str, optional
        One of ``"long"``, ``"wide"``, ``"py-irt"``, ``"lm-eval"``, ``"inspect"``,
        ``"helm"``, ``"leaderboard-details"``: the layout (see :data:`FORMATS`). Inferred
        when omitted: a folder is the harness whose files it holds (``samples_*.jsonl``:
        ``lm-eval``; ``per_instance_stats.json``: ``helm``; Inspect logs: ``inspect``;
        parquet files with a ``doc_id`` column: ``leaderboard-details``; none of them:
        ``lm-eval``; several: an error); a list of paths is the one harness its entries show
        (``lm-eval`` if they show none); a ``.eval`` file or a ``.json`` file that starts
        like an Inspect log is ``inspect``; ``per_instance_stats.json`` is ``helm``; a jsonl
        line with ``doc_id`` is ``lm-eval``; a jsonl line with ``subject_id`` and
        ``responses`` is ``py-irt``; a parquet table with a ``doc_id`` column and no
        ``item`` column is ``leaderboard-details``; a table with the ``item`` column is
        ``long``; a table whose columns other than the subject are all numeric is ``wide``.
        Anything else is an error asking for ``format=``.
    subject, item, response : str
        Column names of a long table (``subject`` also names the subject column of a wide
        table, if it has one). ``item`` and ``subject`` are also the key columns of
        ``item_meta`` and ``subject_meta``.
    threshold : float, optional
        Binarise graded or fractional scores: :math:`y = 1` if ``score >= threshold``.
        Without it, any binary response other than 0/1 is an error. Not with
        ``response_type="ordinal"``.
    duplicates : {"error", "mean", "first", "last"}
        What to do with repeated (subject, item) pairs.
    item_meta, subject_meta : DataFrame or path to a table file, optional
        Metadata joined on the label (column ``item`` / ``subject`` or the index); every item
        (subject) must have a row.
    item_meta_columns, subject_meta_columns : list of str, optional
        Columns of a long table that hold item (subject) metadata.
    model_name : str or dict, optional
        Harness output only: the subject label, for everything read or per model:

        - ``lm-eval``: instead of the model named in a run's results JSON, as
          ``{run folder name: label}``, e.g. ``{"EleutherAI__pythia-160m": "pythia-160m"}``.
          A run without a results JSON (or whose results JSON names no model) is labelled by
          its folder's name, with a :class:`ResponsesWarning`.
        - ``inspect``: instead of the log's model (``eval.model``), as ``{model: label}``,
          e.g. ``{"openai/gpt-4o": "gpt-4o"}``.
        - ``helm``: instead of the run spec's ``adapter_spec.model``, as ``{model: label}``.
        - ``leaderboard-details``: instead of the model of the folder (``<org>__<model>``,
          read back as ``<org>/<model>``), as ``{model folder: label}``.
    metric : str or dict, optional
        Harness output only: the per-item score used as the response, for every task or as
        ``{task: metric}``; a task not named that logs several takes a default, and a
        :class:`ResponsesWarning` names the one used.

        - ``lm-eval``: the per-sample metric. The default is the first of
          :data:`LMEVAL_METRIC_PREFERENCE` it logs (``acc``, then ``acc_norm``, then
          ``exact_match``), else the first of its metrics by name. ``acc`` comes first
          because it is the score lm-eval reports for multiple-choice tasks, ``exact_match``
          the score of generative ones.
        - ``leaderboard-details``: the metric column (one number per document), with the same
          default, then ``prompt_level_strict_acc`` (IFEval), else the first by name.
        - ``inspect``: the scorer (key of a sample's ``scores``; task = ``eval.task``). The
          default is the task's first scorer (the first of the log's results), whose metrics
          Inspect reports first, else the first logged by name. Its value is mapped to a
          number by inspect_ai's ``value_to_float``: ``C`` (correct) 1, ``P`` (partial) 0.5,
          ``I`` (incorrect) and ``N`` (no answer) 0, numbers as they are; a dict, list or
          other string is an error. A sample scored over several epochs gets the mean of its
          epochs' scores (Inspect's default epoch reducer; a log made with another reducer
          is read with the mean and a warning), so a fractional score may need
          ``threshold``. Samples without a score (errors) are missing.
        - ``helm``: the per-instance stat (task = the run name without ``model=``, e.g.
          ``mmlu:subject=anatomy,method=multiple_choice_joint``). The default is the first
          logged of :data:`~bayesirt.data.harnesses.HELM_METRIC_PREFERENCE`
          (``exact_match``, ``quasi_exact_match``, ``prefix_exact_match``,
          ``quasi_prefix_exact_match``, ``final_number_exact_match``,
          ``math_equiv_chain_of_thought``, ``math_equiv``, ``f1_score``); a run logging none
          of them needs ``metric=``, since HELM also logs stats that are no score (token
          counts, runtimes). The response is the stat's ``mean`` for the instance, averaged
          over its train trials (``train_trial_index``, the few-shot prompts HELM draws; its
          reported scores average over them too); perturbed copies of an instance
          (robustness and fairness perturbations) are left out.
    sample_filter : str or dict, optional
        ``lm-eval`` and ``leaderboard-details`` only: the filter whose scores are used, for
        every task or as ``{task: filter}``, e.g. ``{"gsm8k": "flexible-extract"}``. A task
        not named that logs several filters uses ``strict-match`` if it logs it, else
        ``none`` if it logs it, else the first of its filters by name, and a
        :class:`ResponsesWarning` names the filter used. ``strict-match`` (gsm8k and similar
        tasks) only credits an answer given in the format the prompt asks for, the stricter
        and more commonly reported score; ``none`` is lm-eval's name for the unfiltered
        responses (and the filter of samples logged without one); ordering the rest by name
        makes the choice independent of the order of the files.
    sep : str, optional
        The delimiter of a CSV / TSV / text table. Without it a ``.tsv`` file is read as
        tab separated, and the delimiter of a ``.csv`` or ``.txt`` file is sniffed from its
        first lines: the one of ``,``, ``;`` and tab that splits every line into the same
        number of fields, the most fields winning.
    drop_constant : bool
        Drop items that every observed subject answered the same way. Either way such items
        are reported with a :class:`ResponsesWarning` (see :meth:`Responses.constant_items`).
    response_type : {"binary", "ordinal", "binomial", "continuous"}
        ``"binary"``: right/wrong responses, 0/1 (or binarised by ``threshold``).
        ``"ordinal"``: whole-number scores (e.g. a 1..4 rating) read as ordered categories,
        for a graded model; each item's categories are the scores observed for it (see
        :meth:`Responses.from_long`, and :attr:`Responses.category_scores`).
        ``"continuous"``: bounded scores (a judge's preference, ROUGE, F1, a pass rate) kept
        as they are, mapped onto [0, 1] by ``scale``, for the ordered beta model.
        ``"binomial"`` (``long`` only): k successes of n trials per pair (e.g. a model
        sampled n times on a question), k in the ``response`` column and n in the column
        named by ``trials``; the other formats hold one number per pair and cannot carry
        them.
    scale : (float, float), optional
        With ``response_type="ordinal"`` or ``"continuous"``: the range ``(lo, hi)`` of the
        scores, e.g. ``(1, 5)`` (whole numbers for ordinal scores); a score outside it is an
        error. Continuous scores are stored as ``(x - lo) / (hi - lo)`` (default ``(0, 1)``).
    trials : str, optional
        With ``response_type="binomial"``, which needs it: the column of a long table
        holding the number of trials n of each pair (see :attr:`Responses.trials`).

    Returns
    -------
    Responses
        With :attr:`Responses.source` recording the input (``input``: the paths as given, or
        ``"DataFrame"``), the ``format`` and every option used: those given, the delimiter
        of a text table, the filter, metric (Inspect: scorer) and model name used for each
        harness task and run, the epochs of each Inspect log (``epochs``) and the train
        trials of each HELM run (``train_trials``), ``drop_constant`` and the items it
        dropped (``dropped_constant_items``).

    Raises
    ------
    ImportError
        For ``format="inspect"`` without inspect_ai (``pip install 'bayesirt[inspect]'``).

    ResponsesError
        On an unknown or ambiguous format, an option the format does not use, or bad data;
        the message names the offending value.
    """
    scale = reading_options(response_type, threshold, scale, trials)
    fmt = _resolve_format(source, format, subject=subject, item=item, sep=sep)
    if response_type == "binomial" and fmt.name != "long":
        raise ResponsesError(
            f"response_type='binomial' (k successes of n trials) needs a long table with a "
            f"column of trials (trials={trials!r}); format {fmt.name!r} holds one number per "
            "(subject, item) pair and cannot carry the trials"
        )
    options = {
        "subject": subject,
        "item": item,
        "response": response,
        "threshold": threshold,
        "duplicates": duplicates,
        "item_meta_columns": item_meta_columns,
        "subject_meta_columns": subject_meta_columns,
        "model_name": model_name,
        "metric": metric,
        "sample_filter": sample_filter,
        "sep": sep,
        "response_type": response_type,
        "scale": scale,
        "trials": trials,
    }
    unused = [
        f"{key}={value!r}"
        for key, value in options.items()
        if key not in fmt.options
        and key not in ("subject", "item")
        and value is not None
        and value != OPTION_DEFAULTS.get(key)
    ]
    if unused:
        raise ResponsesError(
            f"option(s) {', '.join(unused)} do not apply to format {fmt.name!r}; it uses "
            f"{', '.join(f'{option}=' for option in sorted(fmt.options))}"
        )
    used = {key: options[key] for key in fmt.options}
    resp = fmt.read(source, **used)
    record = {
        "input": _describe_input(source),
        "format": fmt.name,
        **{key: value for key, value in used.items() if value is not None},
        **resp.source,
    }
    if item_meta is not None:
        resp = resp.with_item_meta(_read_meta(item_meta, "item"), on=item)
        record["item_meta"] = _describe_input(item_meta)
    if subject_meta is not None:
        resp = resp.with_subject_meta(_read_meta(subject_meta, "subject"), on=subject)
        record["subject_meta"] = _describe_input(subject_meta)
    resp, dropped = _report_constant_items(resp, drop=drop_constant)
    record["drop_constant"] = drop_constant
    if drop_constant:
        record["dropped_constant_items"] = [str(label) for label in dropped]
    return resp.with_source(record)


# ------------------------------------------------------------------ readers
def _read_long(
    source,
    *,
    subject: str,
    item: str,
    response: str,
    threshold: float | None,
    duplicates: str,
    item_meta_columns: list[str] | None,
    subject_meta_columns: list[str] | None,
    sep: str | None,
    response_type: str,
    scale: tuple[float, float] | None,
    trials: str | None,
) -> Responses:
    sep = _table_sep(source, sep)
    resp = Responses.from_long(
        _read_table(source, sep=sep),
        subject=subject,
        item=item,
        response=response,
        threshold=threshold,
        duplicates=duplicates,
        item_meta_columns=item_meta_columns,
        subject_meta_columns=subject_meta_columns,
        response_type=response_type,
        scale=scale,
        trials=trials,
    )
    return resp.with_source({"sep": sep} if sep else {})


def _read_wide(
    source,
    *,
    subject: str,
    threshold: float | None,
    sep: str | None,
    response_type: str,
    scale: tuple[float, float] | None,
) -> Responses:
    sep = _table_sep(source, sep)
    frame = _wide_frame(_read_table(source, sep=sep), source=source, subject=subject)
    resp = Responses.from_wide(frame, threshold=threshold, response_type=response_type, scale=scale)
    return resp.with_source({"sep": sep} if sep else {})


def _read_pyirt(
    source,
    *,
    threshold: float | None,
    duplicates: str,
    response_type: str,
    scale: tuple[float, float] | None,
) -> Responses:
    rows = []
    for number, record in _jsonl_records(Path(source)):
        if not isinstance(record, dict) or "subject_id" not in record or "responses" not in record:
            raise ResponsesError(
                f"{str(source)!r}, line {number}: a py-irt line needs keys 'subject_id' and "
                "'responses'"
            )
        answers = record["responses"]
        if not isinstance(answers, dict):
            raise ResponsesError(
                f"{str(source)!r}, line {number}: 'responses' must map item ids to 0/1, got "
                f"{type(answers).__name__}"
            )
        rows.extend((record["subject_id"], key, value) for key, value in answers.items())
    frame = pd.DataFrame(rows, columns=["subject", "item", "response"])
    return Responses.from_long(
        frame,
        threshold=threshold,
        duplicates=duplicates,
        response_type=response_type,
        scale=scale,
    )


#: Options every harness reader takes (lm-eval and leaderboard details add ``sample_filter``).
_HARNESS_OPTIONS = frozenset(
    {"threshold", "duplicates", "model_name", "metric", "response_type", "scale"}
)

FORMATS: dict[str, ResponseFormat] = {
    fmt.name: fmt
    for fmt in (
        ResponseFormat(
            "long",
            "one row per (subject, item) pair: CSV, TSV, text, parquet or DataFrame",
            frozenset(
                {
                    "subject",
                    "item",
                    "response",
                    "threshold",
                    "duplicates",
                    "item_meta_columns",
                    "subject_meta_columns",
                    "sep",
                    "response_type",
                    "scale",
                    "trials",
                }
            ),
            _read_long,
        ),
        ResponseFormat(
            "wide",
            "subjects × items table, subject in the first column (file) or index, blank = missing",
            frozenset({"subject", "threshold", "sep", "response_type", "scale"}),
            _read_wide,
        ),
        ResponseFormat(
            "py-irt",
            'py-irt jsonlines, {"subject_id": ..., "responses": {item: 0/1}} per line',
            frozenset({"threshold", "duplicates", "response_type", "scale"}),
            _read_pyirt,
        ),
        ResponseFormat(
            "lm-eval",
            "lm-evaluation-harness --log_samples output: folder(s) of samples_<task>_<time>.jsonl",
            _HARNESS_OPTIONS | {"sample_filter"},
            read_lmeval,
        ),
        ResponseFormat(
            "inspect",
            "Inspect AI logs: .eval / .json files or folders of them (needs inspect_ai)",
            _HARNESS_OPTIONS,
            read_inspect,
        ),
        ResponseFormat(
            "helm",
            "HELM run folder(s): per_instance_stats.json beside run_spec.json",
            _HARNESS_OPTIONS,
            read_helm,
        ),
        ResponseFormat(
            "leaderboard-details",
            "Open LLM Leaderboard details: lm-eval samples as parquet or samples_*.jsonl",
            _HARNESS_OPTIONS | {"sample_filter"},
            read_leaderboard_details,
        ),
    )
}
"""The layouts :func:`load_responses` reads, by name."""


# --------------------------------------------------------- format inference
def _known_formats() -> str:
    return "; ".join(f"{name!r} ({fmt.description})" for name, fmt in FORMATS.items())


def _resolve_format(
    source: Source, format: str | None, *, subject: str, item: str, sep: str | None
) -> ResponseFormat:
    if format is not None:
        if format not in FORMATS:
            raise ResponsesError(f"unknown format {format!r}; known formats: {_known_formats()}")
        return FORMATS[format]
    return FORMATS[_infer_format(source, subject=subject, item=item, sep=sep)]


def _infer_format(source: Source, *, subject: str, item: str, sep: str | None) -> str:
    if isinstance(source, pd.DataFrame):
        return _infer_table_format(
            source, from_file=False, subject=subject, item=item, source="the DataFrame"
        )
    if isinstance(source, Sequence) and not isinstance(source, str):
        return _infer_list_format(source)
    path = Path(source)
    if path.is_dir():
        return _infer_folder_format(path)
    if not path.exists():
        raise ResponsesError(f"no such file or folder: {str(path)!r}")
    suffix = path.suffix.lower()
    if harness := harness_file_format(path):
        return harness
    if suffix in JSONL_SUFFIXES:
        first = next(_jsonl_records(path), (None, None))[1]
        if isinstance(first, dict) and {"subject_id", "responses"} <= first.keys():
            return "py-irt"
        if isinstance(first, dict) and "doc_id" in first:
            return "lm-eval"
        keys = describe_values(first.keys()) if isinstance(first, dict) else repr(first)
        raise ResponsesError(
            f"cannot tell the format of {str(path)!r}: its first line has {keys}, neither "
            "py-irt ('subject_id', 'responses') nor lm-eval samples ('doc_id'); pass format= "
            f"(known formats: {_known_formats()})"
        )
    if suffix in TABLE_SUFFIXES:
        head = _read_table(path, sep=sep, nrows=SNIFF_ROWS)
        if suffix == ".parquet" and "doc_id" in head.columns and item not in head.columns:
            return "leaderboard-details"
        return _infer_table_format(
            head, from_file=True, subject=subject, item=item, source=repr(str(path))
        )
    raise ResponsesError(
        f"cannot tell the format of {str(path)!r} from its extension {suffix!r}: known extensions "
        f"are {', '.join([*TABLE_SUFFIXES, *JSONL_SUFFIXES, '.eval'])} and folders of harness "
        f"output; pass format= (known formats: {_known_formats()})"
    )


def _infer_folder_format(folder: Path) -> str:
    """The one harness whose files lie under ``folder``; ``lm-eval`` if none does."""
    found = harness_folder_formats(folder)
    if len(found) > 1:
        shown = "; ".join(f"{name} (e.g. {path!r})" for name, path in sorted(found.items()))
        raise ResponsesError(
            f"cannot tell the format of folder {str(folder)!r}: it holds the output of several "
            f"harnesses, {shown}; pass format= or name the files (known formats: "
            f"{_known_formats()})"
        )
    return next(iter(found), "lm-eval")


def _infer_list_format(entries: Sequence) -> str:
    """The one harness a list of paths shows (``lm-eval`` if none does).

    A folder shows the harness whose files it holds, a file the harness its name or content
    shows; a path that does not exist (or shows none) leaves the choice to the others.
    """
    formats: dict[str, str] = {}
    for entry in map(Path, entries):
        if entry.is_dir():
            shown = harness_folder_formats(entry)
        elif entry.is_file():
            fmt = harness_file_format(entry)
            if fmt is None and is_details_parquet(entry):
                fmt = "leaderboard-details"
            shown = {fmt: str(entry)} if fmt else {}
        else:
            shown = {}
        for name, example in shown.items():
            formats.setdefault(name, example)
    if len(formats) > 1:
        shown = "; ".join(f"{name} (e.g. {path!r})" for name, path in sorted(formats.items()))
        raise ResponsesError(
            f"cannot tell the format of the paths given: they hold the output of several "
            f"harnesses, {shown}; pass format= (known formats: {_known_formats()})"
        )
    return next(iter(formats), "lm-eval")


def _infer_table_format(
    frame: pd.DataFrame, *, from_file: bool, subject: str, item: str, source: str
) -> str:
    """``long`` if the item column is there, ``wide`` if all answer columns are numeric."""
    if item in frame.columns:
        return "long"
    column = _subject_column(frame, subject=subject, from_file=from_file)
    answers = frame if column is None else frame.drop(columns=column)
    non_numeric = [
        c for c, dtype in answers.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)
    ]
    if len(answers.columns) and not non_numeric:
        return "wide"
    raise ResponsesError(
        f"cannot tell whether {source} is a long or a wide table: it has no item column "
        f"{item!r} (columns: {describe_values(frame.columns, limit=8)}) and its columns "
        f"{describe_values(non_numeric)} are not numeric. Map a long table's columns with "
        "subject=/item=/response=, or pass format= (known formats: "
        f"{_known_formats()})"
    )


# ------------------------------------------------------------------ helpers
def _describe_input(source) -> str | list[str]:
    """How a source is recorded in :attr:`Responses.source`: its path(s) as given."""
    if isinstance(source, pd.DataFrame):
        return "DataFrame"
    if isinstance(source, str | os.PathLike):
        return str(source)
    return [str(entry) for entry in source]


def _read_table(source, *, sep: str | None = None, nrows: int | None = None) -> pd.DataFrame:
    """A DataFrame as is, or a table file read by pandas (``nrows``: text tables only)."""
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ResponsesError(
            f"{str(path)!r} is not a table file: expected one of {', '.join(TABLE_SUFFIXES)}"
        )
    _require_content(path)
    if suffix not in TEXT_TABLE_SUFFIXES:
        return pd.read_parquet(path)
    return pd.read_csv(path, sep=_table_sep(path, sep), nrows=nrows)


def _table_sep(source, sep: str | None) -> str | None:
    """The delimiter of a text table: ``sep``, else its extension's, else sniffed.

    ``None`` for a DataFrame or a parquet file, which have no delimiter to choose.
    """
    text = not isinstance(source, pd.DataFrame) and Path(source).suffix.lower() in (
        TEXT_TABLE_SUFFIXES
    )
    if not text:
        if sep is not None:
            shown = "a DataFrame" if isinstance(source, pd.DataFrame) else repr(str(source))
            raise ResponsesError(
                f"sep={sep!r} is the delimiter of a text table ({', '.join(TEXT_TABLE_SUFFIXES)}); "
                f"it does not apply to {shown}"
            )
        return None
    path = Path(source)
    return sep or TEXT_TABLE_SUFFIXES[path.suffix.lower()] or _sniff_sep(path)


def _sniff_sep(path: Path) -> str:
    """The delimiter of SNIFF_DELIMITERS that splits the first non-blank lines of ``path``
    into the same number of fields, more than one; the most fields win, then the earlier
    delimiter. ``,`` if none does (a one-column table, or an empty file)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        lines = [line for line in itertools.islice(handle, SNIFF_LINES) if line.strip()]
    best, most = SNIFF_DELIMITERS[0], 1
    for sep in SNIFF_DELIMITERS:
        try:
            widths = {len(row) for row in csv.reader(lines, delimiter=sep)}
        except csv.Error:  # a wide table's line is one field over csv's size limit: not sep
            continue
        if len(widths) == 1 and (width := widths.pop()) > most:
            best, most = sep, width
    return best


def _subject_column(frame: pd.DataFrame, *, subject: str, from_file: bool) -> str | None:
    """A wide table's subject column: ``subject`` if present, else a file's first column.

    ``None`` for a DataFrame without it: its index holds the subjects.
    """
    if subject in frame.columns:
        return subject
    return frame.columns[0] if from_file else None


def _wide_frame(frame: pd.DataFrame, *, source, subject: str) -> pd.DataFrame:
    """The wide table with the subject labels as its index."""
    from_file = not isinstance(source, pd.DataFrame)
    column = _subject_column(frame, subject=subject, from_file=from_file)
    return frame if column is None else frame.set_index(column)


def _read_meta(meta: pd.DataFrame | str | os.PathLike, role: str) -> pd.DataFrame:
    if isinstance(meta, pd.DataFrame):
        return meta
    path = Path(meta)
    if not path.is_file():
        raise ResponsesError(f"{role} metadata file not found: {str(path)!r}")
    return _read_table(path)


def _report_constant_items(resp: Responses, *, drop: bool) -> tuple[Responses, pd.Index]:
    """Warn about items with one observed value; drop them if asked.

    Returns the responses and the constant items.
    """
    constant = resp.constant_items()
    if not len(constant) or resp.n_subjects < 2:  # one subject's answers cannot vary
        return resp, constant[:0]
    action = (
        "dropped (drop_constant=True)" if drop else "kept; pass drop_constant=True to drop them"
    )
    warnings.warn(
        f"{len(constant)} of {resp.n_items} items are constant (every observed subject gave the "
        f"same answer), e.g. {describe_values(constant, 3)}: they carry no information about "
        f"ability. They are {action}",
        ResponsesWarning,
        stacklevel=3,
    )
    return (drop_constant_items(resp)[0] if drop else resp), constant
