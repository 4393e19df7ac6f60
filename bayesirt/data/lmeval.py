"""Reader of lm-evaluation-harness output, the ``lm-eval`` format of
:func:`~bayesirt.data.load_responses` (registered in :mod:`bayesirt.data.loaders`; see there for
the options).

lm-eval run with ``--log_samples`` writes one ``samples_<task>_<timestamp>.jsonl`` per task,
next to the run's ``results_<timestamp>.json``. Subject: the model the results JSON names (else
the run folder's name); item: ``<task>/<doc_id>``; response: one per-document metric of one
filter, chosen per task (``metric=``, ``sample_filter=``; defaults: :data:`LMEVAL_CHOICES`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from bayesirt.data.harnesses import (
    LMEVAL_FILTER_PREFERENCE,
    LMEVAL_METRIC_PREFERENCE,
    _check_keys,
    _Choices,
    _for_key,
    _jsonl_records,
    _long_responses,
    harness_files,
)
from bayesirt.data.responses import Responses
from bayesirt.data.validation import ResponsesError, ResponsesWarning

__all__ = ["LMEVAL_CHOICES", "LMEVAL_MODEL_KEYS", "read_lmeval"]

#: Keys of the lm-eval ``model_args`` that name the model, in lm-eval's order of precedence.
LMEVAL_MODEL_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")

#: LMEVAL_FILTER_PREFERENCE and LMEVAL_METRIC_PREFERENCE (defined in
#: :mod:`bayesirt.data.harnesses`, shared with the leaderboard details reader) order the
#: defaults of an lm-eval task that logs several filters or metrics (see
#: :func:`~bayesirt.data.load_responses`).
#: The lm-eval choices made per task: argument of load_responses → (noun, preference).
LMEVAL_CHOICES = {
    "sample_filter": ("filter", LMEVAL_FILTER_PREFERENCE),
    "metric": ("metric", LMEVAL_METRIC_PREFERENCE),
}


def read_lmeval(
    source,
    *,
    threshold: float | None,
    duplicates: str,
    model_name: str | Mapping[str, str] | None,
    metric: str | Mapping[str, str] | None,
    sample_filter: str | Mapping[str, str] | None,
    response_type: str = "binary",
    scale: tuple[float, float] | None = None,
) -> Responses:
    """Every samples file as a long table; the choices made are warned about and recorded.

    The source record holds, per task, the filter and the metric used and, per run folder,
    the subject label.
    """
    runs: dict[tuple[Path, str], str] = {}
    wanted = {"sample_filter": sample_filter, "metric": metric}
    choices = {
        argument: _Choices(
            argument,
            what,
            f"the first logged of {', '.join(preference)}, else the first by name",
            listed=5,
            sources="runs",
            in_read_order=True,
        )
        for argument, (what, preference) in LMEVAL_CHOICES.items()
    }
    frames = []
    for path in _lmeval_sample_files(source):
        task, timestamp = _lmeval_task(path)
        run = (path.parent, timestamp)
        if run not in runs:
            runs[run] = _for_key(model_name, path.parent.name) or _lmeval_model_name(
                path.parent, timestamp=timestamp, samples=path
            )
        frames.append(
            _lmeval_samples(path, task=task, subject=runs[run], wanted=wanted, choices=choices)
        )
    _check_keys(model_name, "model_name", "run folder", {folder.name for folder, _ in runs})
    for argument, choice in choices.items():
        _check_keys(wanted[argument], argument, "task", choice.used)
        choice.warn(stacklevel=3)
    resp = _long_responses(
        frames,
        threshold=threshold,
        duplicates=duplicates,
        what="lm-eval samples",
        response_type=response_type,
        scale=scale,
    )
    record = {argument: choice.recorded() for argument, choice in choices.items()}
    record["model_name"] = {folder.name: label for (folder, _), label in runs.items()}
    return resp.with_source(record)


# ------------------------------------------------------------ lm-eval output
def _lmeval_sample_files(source) -> list[Path]:
    """Every ``samples_*.jsonl`` under the given folders / files, sorted."""
    return harness_files(
        source,
        in_folder=lambda path: path.name.startswith("samples_") and path.suffix == ".jsonl",
        given=lambda path: path.name.startswith("samples_"),
        none_found="no lm-eval samples files (samples_<task>_<timestamp>.jsonl) under "
        "{folder}; run lm-eval with --log_samples --output_path",
        not_accepted="{path} is neither a folder nor a samples_<task>_<timestamp>.jsonl file",
    )


def _lmeval_task(path: Path) -> tuple[str, str]:
    """The task and the timestamp in the name ``samples_<task>_<timestamp>.jsonl``."""
    stem = path.name.removesuffix(".jsonl")
    task, _, timestamp = stem.removeprefix("samples_").rpartition("_")
    if not task:
        raise ResponsesError(
            f"{str(path)!r} is not named samples_<task>_<timestamp>.jsonl as lm-eval writes it"
        )
    return task, timestamp


def _lmeval_samples(
    path: Path,
    *,
    task: str,
    subject: str,
    wanted: dict[str, str | Mapping[str, str] | None],
    choices: dict[str, _Choices],
) -> pd.DataFrame:
    """The long table of one samples file: subject, item = ``<task>/<doc_id>``, benchmark.

    ``wanted`` holds the ``sample_filter`` and ``metric`` options; the values used are noted
    in ``choices`` (option → :class:`~bayesirt.data.harnesses._Choices`).
    """
    records = [record for _, record in _jsonl_records(path)]
    if not records:
        raise ResponsesError(f"{str(path)!r} holds no samples")
    filters = sorted({_lmeval_filter(record) for record in records})
    used_filter = _choose(
        filters, task=task, argument="sample_filter", wanted=wanted, choices=choices
    )
    records = [record for record in records if _lmeval_filter(record) == used_filter]
    metrics = sorted({name for record in records for name in record.get("metrics", [])})
    if not metrics:
        raise ResponsesError(
            f"the samples of {str(path)!r} list no metrics (no 'metrics' key, which older "
            "lm-eval versions do not write); rerun the task with a recent lm-eval, or, for "
            "Open LLM Leaderboard details, pass format='leaderboard-details'"
        )
    used_metric = _choose(metrics, task=task, argument="metric", wanted=wanted, choices=choices)
    values = []
    for record in records:
        value = record.get(used_metric, np.nan)
        if not isinstance(value, bool | int | float) and value is not None:
            raise ResponsesError(
                f"metric {used_metric!r} of task {task!r} is not a per-document score: "
                f"got {value!r} for doc_id {record.get('doc_id')!r}; choose another with "
                f"metric={{{task!r}: '<metric>'}}"
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


def _lmeval_filter(record: dict) -> str:
    """The filter of a sample line (``none``, lm-eval's name for no filter, if it has none)."""
    return str(record.get("filter", "none"))


def _choose(
    available: list[str],
    *,
    task: str,
    argument: str,
    wanted: dict[str, str | Mapping[str, str] | None],
    choices: dict[str, _Choices],
) -> str:
    """The filter (``argument="sample_filter"``) or metric of a task to use, noted in
    ``choices``.

    The value named in ``wanted[argument]`` if the task logs it (else an error); without one
    the only value logged, else the first logged of the preference of
    :data:`LMEVAL_CHOICES`, else the first of ``available`` (sorted): a default.
    """
    return choices[argument].pick(
        task,
        available,
        given=_for_key(wanted[argument], task),
        where=f"task {task!r}",
        preference=LMEVAL_CHOICES[argument][1],
    )


def _lmeval_model_name(folder: Path, *, timestamp: str, samples: Path) -> str:
    """The model of a run, from its results JSON (same folder, same timestamp).

    Without one, or if it names no model, the run is labelled by its folder's name (lm-eval
    names the folder after the model) with a :class:`ResponsesWarning`.
    """
    candidates = sorted(folder.glob(f"*_{timestamp}.json"))
    fallback = (
        f"the run is labelled {folder.name!r}, its folder's name; give another label with "
        f"model_name={{{folder.name!r}: '<label>'}}"
    )
    if not candidates:
        warnings.warn(
            f"no results JSON (results_{timestamp}.json) beside {str(samples)!r} names the "
            f"model: {fallback}",
            ResponsesWarning,
            stacklevel=4,
        )
        return folder.name
    try:
        results = json.loads(candidates[0].read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ResponsesError(f"{str(candidates[0])!r} is not a JSON results file ({err})") from None
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
        warnings.warn(
            f"{str(candidates[0])!r} names no model (no 'model_name', 'config.model_args' or "
            f"'model_name_sanitized'): {fallback}",
            ResponsesWarning,
            stacklevel=4,
        )
        return folder.name
    return str(name)
