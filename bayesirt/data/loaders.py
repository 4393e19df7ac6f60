"""Read benchmark results from files or tables into :class:`~bayesirt.data.Responses`.

One entry point, :func:`load_responses`, reads every supported layout; the layout is named
by ``format=`` or inferred from the source where that is unambiguous. The readers only parse:
labels, responses, duplicates and thresholds are checked once, by
:meth:`Responses.from_long` and :meth:`Responses.from_wide`.

Formats (the registry :data:`FORMATS`):

``long``
    A table with one row per (subject, item) pair: CSV, TSV, parquet or a DataFrame.
``wide``
    A subjects × items table: first column (CSV) or index (DataFrame) the subject, one
    column per item, a blank cell = missing.
``py-irt``
    py-irt jsonlines: one line per subject, ``{"subject_id": ..., "responses": {item: 0/1}}``.
``lm-eval``
    lm-evaluation-harness output written with ``--log_samples``: folders (or single files)
    of ``samples_<task>_<timestamp>.jsonl``, next to the run's ``results_<timestamp>.json``.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bayesirt.data.filters import drop_constant_items
from bayesirt.data.responses import Responses
from bayesirt.data.validation import ResponsesError, ResponsesWarning, describe_values

__all__ = ["FORMATS", "ResponseFormat", "load_responses"]

Source = str | os.PathLike | pd.DataFrame | Sequence[str | os.PathLike]

#: Keys of the lm-eval ``model_args`` that name the model, in lm-eval's order of precedence.
LMEVAL_MODEL_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")

#: Options whose default is not ``None``; a default value counts as "not given".
OPTION_DEFAULTS = {"response": "response", "duplicates": "error"}

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".parquet": None}
JSONL_SUFFIXES = (".jsonl", ".json")

#: Rows of a CSV read to tell a long table from a wide one.
SNIFF_ROWS = 1000


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
        ``read(source, **options) -> Responses``.
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
    drop_constant: bool = False,
) -> Responses:
    """Read benchmark results into :class:`Responses`.

    Parameters
    ----------
    source : path, DataFrame or list of paths
        A CSV / TSV / parquet file, a DataFrame, a py-irt ``.jsonl`` file, or lm-eval output
        (a folder searched recursively for ``samples_*.jsonl``, a samples file, or a list of
        them).
    format : {"long", "wide", "py-irt", "lm-eval"}, optional
        The layout (see :data:`FORMATS`). Inferred when omitted: a folder, a list of paths or a
        jsonl line with ``doc_id`` is ``lm-eval``; a jsonl line with ``subject_id`` and
        ``responses`` is ``py-irt``; a table with the ``item`` column is ``long``; a table
        whose columns other than the subject are all numeric is ``wide``. Anything else is an
        error asking for ``format=``.
    subject, item, response : str
        Column names of a long table (``subject`` also names the subject column of a wide
        table, if it has one). ``item`` and ``subject`` are also the key columns of
        ``item_meta`` and ``subject_meta``.
    threshold : float, optional
        Binarise graded or fractional scores: :math:`y = 1` if ``score >= threshold``.
        Without it, any response other than 0/1 is an error.
    duplicates : {"error", "mean", "first", "last"}
        What to do with repeated (subject, item) pairs.
    item_meta, subject_meta : DataFrame or path to a CSV, optional
        Metadata joined on the label (column ``item`` / ``subject`` or the index); every item
        (subject) must have a row.
    item_meta_columns, subject_meta_columns : list of str, optional
        Columns of a long table that hold item (subject) metadata.
    model_name : str or dict, optional
        ``lm-eval`` only: the subject label of a run instead of the model named in its
        results JSON (needed where that file is missing), for every run read or as
        ``{run folder name: label}``, e.g. ``{"EleutherAI__pythia-160m": "pythia-160m"}``.
    metric : str or dict, optional
        ``lm-eval`` only: the per-sample metric used as the response, for every task or as
        ``{task: metric}``. A task not named uses ``acc`` if it logs it, else its only metric.
    sample_filter : str or dict, optional
        ``lm-eval`` only: the filter whose scores are used, for every task or as
        ``{task: filter}``, e.g. ``{"gsm8k": "strict-match"}``. A task not named must log a
        single filter.
    drop_constant : bool
        Drop items that every observed subject answered the same way. Either way such items
        are reported with a :class:`ResponsesWarning` (see :meth:`Responses.constant_items`).

    Returns
    -------
    Responses

    Raises
    ------
    ResponsesError
        On an unknown or ambiguous format, an option the format does not use, or bad data;
        the message names the offending value.
    """
    fmt = _resolve_format(source, format, subject=subject, item=item)
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
            f"{', '.join(sorted(fmt.options))}"
        )
    resp = fmt.read(source, **{key: options[key] for key in fmt.options})
    if item_meta is not None:
        resp = resp.with_item_meta(_read_meta(item_meta, "item"), on=item)
    if subject_meta is not None:
        resp = resp.with_subject_meta(_read_meta(subject_meta, "subject"), on=subject)
    return _report_constant_items(resp, drop=drop_constant)


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
) -> Responses:
    return Responses.from_long(
        _read_table(source),
        subject=subject,
        item=item,
        response=response,
        threshold=threshold,
        duplicates=duplicates,
        item_meta_columns=item_meta_columns,
        subject_meta_columns=subject_meta_columns,
    )


def _read_wide(source, *, subject: str, threshold: float | None) -> Responses:
    frame = _wide_frame(_read_table(source), source=source, subject=subject)
    return Responses.from_wide(frame, threshold=threshold)


def _read_pyirt(source, *, threshold: float | None, duplicates: str) -> Responses:
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
    return Responses.from_long(frame, threshold=threshold, duplicates=duplicates)


def _read_lmeval(
    source,
    *,
    threshold: float | None,
    duplicates: str,
    model_name: str | Mapping[str, str] | None,
    metric: str | Mapping[str, str] | None,
    sample_filter: str | Mapping[str, str] | None,
) -> Responses:
    frames = [
        _lmeval_samples(path, model_name=model_name, metric=metric, sample_filter=sample_filter)
        for path in _lmeval_sample_files(source)
    ]
    return Responses.from_long(
        pd.concat(frames, ignore_index=True),
        threshold=threshold,
        duplicates=duplicates,
        item_meta_columns=["benchmark"],
    )


FORMATS: dict[str, ResponseFormat] = {
    fmt.name: fmt
    for fmt in (
        ResponseFormat(
            "long",
            "one row per (subject, item) pair: CSV, TSV, parquet or DataFrame",
            frozenset(
                {
                    "subject",
                    "item",
                    "response",
                    "threshold",
                    "duplicates",
                    "item_meta_columns",
                    "subject_meta_columns",
                }
            ),
            _read_long,
        ),
        ResponseFormat(
            "wide",
            "subjects × items table, subject in the first column (CSV) or index, blank = missing",
            frozenset({"subject", "threshold"}),
            _read_wide,
        ),
        ResponseFormat(
            "py-irt",
            'py-irt jsonlines, {"subject_id": ..., "responses": {item: 0/1}} per line',
            frozenset({"threshold", "duplicates"}),
            _read_pyirt,
        ),
        ResponseFormat(
            "lm-eval",
            "lm-evaluation-harness --log_samples output: folder(s) of samples_<task>_<time>.jsonl",
            frozenset({"threshold", "duplicates", "model_name", "metric", "sample_filter"}),
            _read_lmeval,
        ),
    )
}
"""The layouts :func:`load_responses` reads, by name."""


# --------------------------------------------------------- format inference
def _known_formats() -> str:
    return "; ".join(f"{name!r} ({fmt.description})" for name, fmt in FORMATS.items())


def _resolve_format(
    source: Source, format: str | None, *, subject: str, item: str
) -> ResponseFormat:
    if format is not None:
        if format not in FORMATS:
            raise ResponsesError(f"unknown format {format!r}; known formats: {_known_formats()}")
        return FORMATS[format]
    return FORMATS[_infer_format(source, subject=subject, item=item)]


def _infer_format(source: Source, *, subject: str, item: str) -> str:
    if isinstance(source, pd.DataFrame):
        return _infer_table_format(
            source, from_file=False, subject=subject, item=item, source="the DataFrame"
        )
    if isinstance(source, Sequence) and not isinstance(source, str):
        return "lm-eval"
    path = Path(source)
    if path.is_dir():
        return "lm-eval"
    if not path.exists():
        raise ResponsesError(f"no such file or folder: {str(path)!r}")
    suffix = path.suffix.lower()
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
        head = _read_table(path, nrows=SNIFF_ROWS)
        return _infer_table_format(
            head, from_file=True, subject=subject, item=item, source=repr(str(path))
        )
    raise ResponsesError(
        f"cannot tell the format of {str(path)!r} from its extension {suffix!r}: known extensions "
        f"are {', '.join([*TABLE_SUFFIXES, *JSONL_SUFFIXES])} and folders of lm-eval output; "
        f"pass format= (known formats: {_known_formats()})"
    )


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
def _read_table(source, *, nrows: int | None = None) -> pd.DataFrame:
    """A DataFrame as is, or a CSV / TSV / parquet file read by pandas (``nrows``: CSV only)."""
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ResponsesError(
            f"{str(path)!r} is not a table file: expected one of {', '.join(TABLE_SUFFIXES)}"
        )
    if TABLE_SUFFIXES[suffix] is None:
        return pd.read_parquet(path)
    return pd.read_csv(path, sep=TABLE_SUFFIXES[suffix], nrows=nrows)


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


def _report_constant_items(resp: Responses, *, drop: bool) -> Responses:
    """Warn about items with one observed value; drop them if asked."""
    constant = resp.constant_items()
    if not len(constant):
        return resp
    action = (
        "dropped (drop_constant=True)"
        if drop
        else ("kept; see Responses.constant_items(), or pass drop_constant=True to drop them")
    )
    warnings.warn(
        f"{len(constant)} of {resp.n_items} items are constant (every observed subject gave the "
        f"same answer), e.g. {describe_values(constant, 3)}: they carry no information about "
        f"ability. They are {action}",
        ResponsesWarning,
        stacklevel=3,
    )
    return drop_constant_items(resp)[0] if drop else resp


def _jsonl_records(path: Path):
    """(line number, parsed JSON) of each non-blank line."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                raise ResponsesError(f"{str(path)!r}, line {number}: not JSON ({err})") from None


# ------------------------------------------------------------ lm-eval output
def _lmeval_sample_files(source) -> list[Path]:
    """Every ``samples_*.jsonl`` under the given folders / files, sorted."""
    sources = [source] if isinstance(source, str | os.PathLike) else list(source)
    files: list[Path] = []
    for entry in map(Path, sources):
        if entry.is_dir():
            found = sorted(entry.rglob("samples_*.jsonl"))
            if not found:
                raise ResponsesError(
                    f"no lm-eval samples files (samples_<task>_<timestamp>.jsonl) under "
                    f"{str(entry)!r}; run lm-eval with --log_samples --output_path"
                )
            files.extend(found)
        elif entry.is_file() and entry.name.startswith("samples_"):
            files.append(entry)
        else:
            raise ResponsesError(
                f"{str(entry)!r} is neither a folder nor a samples_<task>_<timestamp>.jsonl file"
            )
    return files


def _lmeval_samples(
    path: Path,
    *,
    model_name: str | Mapping[str, str] | None,
    metric: str | Mapping[str, str] | None,
    sample_filter: str | Mapping[str, str] | None,
) -> pd.DataFrame:
    """The long table of one samples file: subject, item = ``<task>/<doc_id>``, benchmark."""
    stem = path.name.removesuffix(".jsonl")
    task, _, timestamp = stem.removeprefix("samples_").rpartition("_")
    if not task:
        raise ResponsesError(
            f"{str(path)!r} is not named samples_<task>_<timestamp>.jsonl as lm-eval writes it"
        )
    subject = _for_key(model_name, path.parent.name) or _lmeval_model_name(
        path.parent, timestamp=timestamp, samples=path
    )
    records = [record for _, record in _jsonl_records(path)]
    if not records:
        raise ResponsesError(f"{str(path)!r} holds no samples")
    chosen_filter = _choose(
        sorted({str(r.get("filter", "none")) for r in records}),
        _for_key(sample_filter, task),
        preferred=None,
        what="filter",
        argument="sample_filter",
        task=task,
    )
    records = [r for r in records if str(r.get("filter", "none")) == chosen_filter]
    metrics = sorted({m for r in records for m in r.get("metrics", [])})
    chosen_metric = _choose(
        metrics,
        _for_key(metric, task),
        preferred="acc",
        what="metric",
        argument="metric",
        task=task,
    )
    values = []
    for record in records:
        value = record.get(chosen_metric, np.nan)
        if not isinstance(value, bool | int | float) and value is not None:
            raise ResponsesError(
                f"metric {chosen_metric!r} of task {task!r} is not a per-document score: got "
                f"{value!r} for doc_id {record.get('doc_id')!r}; choose another with metric="
            )
        values.append(np.nan if value is None else float(value))
    return pd.DataFrame(
        {
            "subject": subject,
            "item": [f"{task}/{r['doc_id']}" for r in records],
            "response": values,
            "benchmark": task,
        }
    )


def _for_key(option: str | Mapping[str, str] | None, key: str) -> str | None:
    """An option's value for a task or run: the value itself, or the entry of ``key``."""
    return option.get(key) if isinstance(option, Mapping) else option


def _choose(
    available: list[str],
    wanted: str | None,
    *,
    preferred: str | None,
    what: str,
    argument: str,
    task: str,
) -> str:
    """The wanted value if the task logs it; else ``preferred`` if logged; else the only one."""
    if wanted is not None:
        if wanted not in available:
            raise ResponsesError(
                f"task {task!r} logs no {what} {wanted!r}; it logs {describe_values(available)}"
            )
        return wanted
    if preferred in available:
        return preferred
    if len(available) == 1:
        return available[0]
    raise ResponsesError(
        f"task {task!r} logs several {what}s {describe_values(available)}; choose one with "
        f"{argument}="
    )


def _lmeval_model_name(folder: Path, *, timestamp: str, samples: Path) -> str:
    """The model of a run, from its results JSON (same folder, same timestamp)."""
    candidates = sorted(folder.glob(f"*_{timestamp}.json"))
    if not candidates:
        raise ResponsesError(
            f"no results JSON (results_{timestamp}.json) beside {str(samples)!r} to name the "
            f"model; pass model_name={{{folder.name!r}: <label>}}"
        )
    results = json.loads(candidates[0].read_text(encoding="utf-8"))
    model_args = results.get("config", {}).get("model_args")
    if isinstance(model_args, str):
        pairs = (part.split("=", 1) for part in model_args.split(",") if "=" in part)
        model_args = {key.strip(): value for key, value in pairs}
    from_args = next(
        (str(model_args[key]) for key in LMEVAL_MODEL_KEYS if model_args and key in model_args),
        None,
    )
    name = results.get("model_name") or from_args or results.get("model_name_sanitized")
    if not name:
        raise ResponsesError(
            f"{str(candidates[0])!r} names no model (no 'model_name', 'config.model_args' or "
            f"'model_name_sanitized'); pass model_name={{{folder.name!r}: <label>}}"
        )
    return str(name)
