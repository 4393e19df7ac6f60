"""Readers of evaluation-harness output: Inspect AI logs, HELM runs, Open LLM Leaderboard details.

Each reader turns one harness's per-sample scores into a long table (subject, item, response,
benchmark) and returns :class:`~bayesirt.data.Responses` whose :attr:`Responses.source` records
what it settled: the score used for each task, the subject label of each model or run, and how
repeated measurements were combined. :mod:`bayesirt.data.loaders` registers them as formats of
:func:`~bayesirt.data.load_responses`; see there for the options.

``inspect``
    Inspect AI evaluation logs (``.eval`` zip logs and ``.json`` logs written by
    ``inspect eval``), read with ``inspect_ai.log.read_eval_log``: the optional extra
    ``pip install 'bayesirt[inspect]'``. Subject: the log's model (``eval.model``); item:
    ``<task>/<sample id>``; response: the sample's score from one scorer, mapped to a number by
    ``inspect_ai.scorer.value_to_float`` (``C`` → 1, ``P`` → 0.5, ``I`` and ``N`` → 0), averaged
    over the epochs of the sample.
``helm``
    HELM run folders (``benchmark_output/runs/<suite>/<run>/``): ``per_instance_stats.json``
    beside ``run_spec.json``. Subject: ``adapter_spec.model`` of the run spec; item:
    ``<run name without model=>/<instance_id>``; response: the ``mean`` of one metric's stat for
    the unperturbed instance, averaged over its train trials.
``leaderboard-details``
    Open LLM Leaderboard details (the ``open-llm-leaderboard/<org>__<model>-details``
    datasets): lm-eval samples written by the leaderboard's harness, as the hub's parquet
    conversion (``<org>__<model>__<task>/<split>/0000.parquet``) or as the repository's own
    ``<org>__<model>/samples_<task>_<timestamp>.jsonl`` files. Subject: the model; item:
    ``<task>/<doc_id>``; response: one per-document metric column.

Item labels always carry the task, as the lm-eval reader's do, so that the label of an item does
not depend on which other files were read with it.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayesirt.data.responses import Responses
from bayesirt.data.validation import ResponsesError, ResponsesWarning, describe_values

__all__ = [
    "HELM_METRIC_PREFERENCE",
    "INSPECT_INSTALL",
    "LEADERBOARD_METRIC_PREFERENCE",
    "LMEVAL_FILTER_PREFERENCE",
    "LMEVAL_METRIC_PREFERENCE",
    "harness_file_format",
    "harness_files",
    "harness_folder_formats",
    "is_details_parquet",
    "read_helm",
    "read_inspect",
    "read_leaderboard_details",
]

#: An lm-eval task that logs several filters and is given none is scored with the first of
#: these it logs, else with the first of its filters by name (lm-eval and leaderboard details).
LMEVAL_FILTER_PREFERENCE = ("strict-match", "none")
#: Likewise for the per-sample metric: multiple-choice accuracy first, then exact match.
LMEVAL_METRIC_PREFERENCE = ("acc", "acc_norm", "exact_match")
#: The leaderboard's metrics: lm-eval's preference, then IFEval's per-prompt strict accuracy
#: (its per-instruction accuracies are lists, not one score per document).
LEADERBOARD_METRIC_PREFERENCE = (*LMEVAL_METRIC_PREFERENCE, "prompt_level_strict_acc")
#: HELM stats that score an instance, in order of preference; HELM also logs bookkeeping stats
#: (token counts, runtimes, ...), so a run logging none of these needs ``metric=``.
HELM_METRIC_PREFERENCE = (
    "exact_match",
    "quasi_exact_match",
    "prefix_exact_match",
    "quasi_prefix_exact_match",
    "final_number_exact_match",
    "math_equiv_chain_of_thought",
    "math_equiv",
    "f1_score",
)
#: How to install the optional dependency of the Inspect reader.
INSPECT_INSTALL = "pip install 'bayesirt[inspect]'"
#: Sample fields the Inspect reader does not need (skipped when reading ``.eval`` logs).
INSPECT_SKIPPED_FIELDS = frozenset({"messages", "events", "store", "attachments"})
#: String scores ``value_to_float`` maps (compared as is), and those it maps in any case.
INSPECT_SCORE_STRINGS = frozenset({"C", "I", "P", "N"})
INSPECT_SCORE_WORDS = frozenset({"yes", "no", "true", "false"})
#: How Inspect names its logs: ``.eval`` files, and ``.json`` files whose name starts with a
#: timestamp (the rule of ``inspect_ai.log.list_eval_logs``).
INSPECT_JSON_NAME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}[:-]\d{2}[:-]\d{2}.*\.json")
#: The start of an Inspect ``.json`` log: its first fields are always ``version``, ``status``.
INSPECT_JSON_HEAD = re.compile(rb'\A\s*\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:')
#: HELM's files: the per-instance stats, and the run spec beside them.
HELM_STATS = "per_instance_stats.json"
HELM_RUN_SPEC = "run_spec.json"
#: Arguments of a HELM run name that name the model rather than the benchmark.
HELM_MODEL_ARGUMENTS = ("model", "model_deployment")
#: lm-eval samples file name (leaderboard details): ``samples_<task>_<timestamp>.<ext>``.
SAMPLES_NAME = re.compile(
    r"samples_(?P<task>.+)_(?P<time>\d{4}-\d{2}-\d{2}T[\d.:-]+)\.(?:parquet|jsonl|json)"
)
#: A split folder of the hub's parquet conversion: ``latest`` or a run's timestamp.
PARQUET_SPLIT = re.compile(r"(?:partial-)?(?:latest|\d{4}_\d{2}_\d{2}T\d{2}_\d{2}_\d{2}\.\d+)")
#: Keys of an lm-eval sample line that are not per-document metrics.
LMEVAL_SAMPLE_KEYS = frozenset(
    {
        "doc_id",
        "doc",
        "target",
        "arguments",
        "resps",
        "filtered_resps",
        "filter",
        "metrics",
        "doc_hash",
        "prompt_hash",
        "target_hash",
    }
)


# ------------------------------------------------------------------ choices
@dataclass
class _Choices:
    """The value of one option (scorer, metric, filter) used for each task over the files read
    (the harness readers here and the lm-eval reader).

    Attributes
    ----------
    argument : str
        The argument of :func:`~bayesirt.data.load_responses` that names the value.
    what : str
        The noun of the value in messages (``"scorer"``, ``"metric"``, ``"filter"``).
    default : str
        How a default is taken, as the warning words it.
    listed : int
        How many of the values a task logs the messages list.
    sources : str
        What is read, in messages: the ``"files"`` or the ``"runs"`` of a task.
    in_read_order : bool
        Warn about the tasks in the order they were read, rather than by name.
    """

    argument: str
    what: str
    default: str
    listed: int = 8
    sources: str = "files"
    in_read_order: bool = False
    logged: dict[str, set[str]] = field(default_factory=dict)
    used: dict[str, set[str]] = field(default_factory=dict)
    defaulted: set[str] = field(default_factory=set)

    def pick(
        self,
        task: str,
        candidates: Sequence[str],
        *,
        given: str | None,
        where: str,
        preference: Sequence[str] = (),
        nameable: Iterable[str] = (),
        by_name: bool = True,
    ) -> str:
        """The value to use for ``task``, noted.

        ``given`` if ``where`` logs it among ``candidates`` or ``nameable`` (else an error);
        without it the first of ``preference`` among the ``candidates``, else the first
        candidate by name (with ``by_name``, or if it is the only one), else an error asking
        for the argument. A default taken among several candidates is warned about by
        :meth:`warn`.
        """
        hint = f"{self.argument}={{{task!r}: '<{self.what}>'}}"
        if given is not None:
            known = sorted({*candidates, *nameable})
            if given not in known:
                raise ResponsesError(
                    f"{where} logs no {self.what} {given!r}; it logs "
                    f"{describe_values(known, self.listed)} (name one for this task with {hint})"
                )
            value = given
        else:
            value = next((v for v in preference if v in candidates), None)
            if value is None and (by_name or len(candidates) == 1) and candidates:
                value = sorted(candidates)[0]
            if value is None:
                logged = sorted(nameable) or sorted(candidates)
                raise ResponsesError(
                    f"{where} logs none of the {self.what}s used by default "
                    f"({', '.join(preference)}); it logs "
                    f"{describe_values(logged, self.listed)}: name one with {hint}"
                )
            if len(candidates) > 1:
                self.defaulted.add(task)
        self.logged.setdefault(task, set()).update(candidates)
        self.used.setdefault(task, set()).add(value)
        return value

    def warn(self, *, stacklevel: int) -> None:
        """One :class:`ResponsesWarning` per task for which a default was taken."""
        tasks = sorted(self.defaulted)
        if self.in_read_order:
            tasks = [task for task in self.used if task in self.defaulted]
        for task in tasks:
            used = describe_values(sorted(self.used[task]))
            if len(self.used[task]) > 1:
                used += f" (its {self.sources} log different {self.what}s)"
            warnings.warn(
                f"task {task!r} logs several {self.what}s, "
                f"{describe_values(sorted(self.logged[task]), self.listed)}, and none was chosen: "
                f"used {used}, the default ({self.default}); choose with "
                f"{self.argument}={{{task!r}: '<{self.what}>'}}",
                ResponsesWarning,
                stacklevel=stacklevel + 1,
            )

    def recorded(self) -> dict[str, str | list[str]]:
        """Per task, the value used, or the values if its files logged different ones."""
        return {
            task: next(iter(used)) if len(used) == 1 else sorted(used)
            for task, used in self.used.items()
        }


def _for_key(option: str | Mapping[str, str] | None, key: str) -> str | None:
    """An option's value for a task or run: the value itself, or the entry of ``key``."""
    return option.get(key) if isinstance(option, Mapping) else option


def _check_keys(option, argument: str, what: str, read: Iterable[str]) -> None:
    """Refuse a ``{key: value}`` option naming a task (run, model) that was not read."""
    if not isinstance(option, Mapping):
        return
    read = sorted(set(read))
    unknown = sorted(set(option) - set(read))
    if unknown:
        raise ResponsesError(
            f"{argument}= names {what}(s) {describe_values(unknown)} that were not read; the "
            f"{what}s read are {describe_values(read)}"
        )


def _entries(source) -> list[Path]:
    """The paths of a source: one path, or each of a list."""
    if isinstance(source, str | os.PathLike):
        return [Path(source)]
    return [Path(entry) for entry in source]


def harness_files(source, *, in_folder, given, none_found: str, not_accepted: str) -> list[Path]:
    """The files of a source: under each folder, every file that ``in_folder`` accepts
    (sorted; none is an error, ``none_found`` formatted with ``folder``), and each file given
    that ``given`` accepts (another is an error, ``not_accepted`` formatted with ``path``)."""
    files: list[Path] = []
    for entry in _entries(source):
        if entry.is_dir():
            found = sorted(path for path in entry.rglob("*") if path.is_file() and in_folder(path))
            if not found:
                raise ResponsesError(none_found.format(folder=repr(str(entry))))
            files.extend(found)
        elif entry.is_file() and given(entry):
            files.append(entry)
        else:
            raise ResponsesError(not_accepted.format(path=repr(str(entry))))
    return files


def _require_content(path: Path) -> None:
    """Refuse, naming it, a file that holds nothing but white space."""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            if chunk.strip():
                return
    raise ResponsesError(f"{str(path)!r} is empty: there is nothing to read")


def _jsonl_records(path: Path):
    """(line number, parsed JSON) of each non-blank line; an empty file is an error."""
    _require_content(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                raise ResponsesError(f"{str(path)!r}, line {number}: not JSON ({err})") from None


def _long_responses(
    frames: list[pd.DataFrame],
    *,
    threshold: float | None,
    duplicates: str,
    what: str,
    response_type: str = "binary",
    scale: tuple[float, float] | None = None,
) -> Responses:
    """The long tables (subject, item, response, benchmark) of every file, as Responses
    (``response_type``, ``scale``: :meth:`Responses.from_long`; e.g. ROUGE as continuous)."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        raise ResponsesError(f"the {what} read hold no scores")
    return Responses.from_long(
        pd.concat(frames, ignore_index=True),
        threshold=threshold,
        duplicates=duplicates,
        item_meta_columns=["benchmark"],
        response_type=response_type,
        scale=scale,
    )


def _score(value, *, where: str) -> float:
    """A per-item score as a float: a number or a bool; ``None`` (or NaN) is missing."""
    if value is None or value is pd.NA:
        return np.nan
    if isinstance(value, bool | int | float | np.bool_ | np.integer | np.floating):
        return float(value)
    raise ResponsesError(f"{where}: the score {value!r} is not a number")


# ---------------------------------------------------------------- inference
def harness_file_format(path: Path) -> str | None:
    """The harness format a file's name (or, for a ``.json`` file, its first bytes) shows.

    ``inspect`` for a ``.eval`` log or a ``.json`` file that starts like an Inspect log,
    ``helm`` for ``per_instance_stats.json``, else ``None``.
    """
    suffix = path.suffix.lower()
    if suffix == ".eval":
        return "inspect"
    if path.name == HELM_STATS:
        return "helm"
    if suffix == ".json" and path.is_file():
        with path.open("rb") as handle:
            if INSPECT_JSON_HEAD.match(handle.read(512)):
                return "inspect"
    return None


def harness_folder_formats(folder: Path) -> dict[str, str]:
    """The harnesses whose output lies under ``folder``, each with one file as an example.

    ``lm-eval`` for ``samples_*.jsonl``, ``helm`` for ``per_instance_stats.json``,
    ``inspect`` for Inspect's log names (``*.eval``, ``<timestamp>*.json``) and
    ``leaderboard-details`` for parquet files with a ``doc_id`` column.
    """
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        name = path.name
        if name.startswith("samples_") and name.endswith(".jsonl"):
            kind = "lm-eval"
        elif name == HELM_STATS:
            kind = "helm"
        elif name.endswith(".eval") or INSPECT_JSON_NAME.fullmatch(name):
            kind = "inspect"
        elif is_details_parquet(path):
            kind = "leaderboard-details"
        else:
            continue
        found.setdefault(kind, str(path))
    return found


def is_details_parquet(path: Path) -> bool:
    """Whether ``path`` is a parquet file with a ``doc_id`` column (lm-eval samples)."""
    if path.suffix.lower() != ".parquet":
        return False
    try:
        import pyarrow.parquet as pq

        return "doc_id" in pq.read_schema(path).names
    except Exception:  # not parquet, or no pyarrow: not a leaderboard details file
        return False


# ------------------------------------------------------------------ Inspect
def _inspect_api():
    """``read_eval_log`` and ``value_to_float`` of inspect_ai, or an ImportError saying how to
    install it."""
    try:
        from inspect_ai.log import read_eval_log
        from inspect_ai.scorer import value_to_float
    except ImportError as err:
        raise ImportError(
            "reading Inspect AI logs (format='inspect') needs the optional dependency "
            f"inspect_ai, which could not be imported ({err}); install it with {INSPECT_INSTALL}"
        ) from err
    return read_eval_log, value_to_float


def _inspect_log_files(source) -> list[Path]:
    """Every Inspect log under the given folders, and the given files, sorted per folder."""
    return harness_files(
        source,
        in_folder=lambda path: path.suffix == ".eval" or INSPECT_JSON_NAME.fullmatch(path.name),
        given=lambda path: path.suffix in (".eval", ".json"),
        none_found="no Inspect logs (*.eval, or <timestamp>_<task>_<id>.json) under {folder}; "
        "run inspect eval with --log-dir",
        not_accepted="{path} is neither a folder nor an Inspect log (.eval, .json)",
    )


def read_inspect(
    source,
    *,
    threshold: float | None,
    duplicates: str,
    model_name: str | Mapping[str, str] | None,
    metric: str | Mapping[str, str] | None,
    response_type: str = "binary",
    scale: tuple[float, float] | None = None,
) -> Responses:
    """Read Inspect AI logs; see :func:`~bayesirt.data.load_responses` (``format="inspect"``).

    ``metric`` names the scorer, for every task or as ``{task: scorer}``; ``model_name`` the
    subject, for every log or as ``{model: label}``. The source record holds, per task, the
    scorer used, per model its label and, per log file, its number of epochs.
    """
    read_eval_log, value_to_float = _inspect_api()
    to_float = value_to_float()  # C 1, P 0.5, I and N 0, as Inspect's metrics count them
    scorers = _Choices("metric", "scorer", "the task's first scorer, else the first logged by name")
    labels: dict[str, str] = {}
    epochs: dict[str, int] = {}
    frames = []
    for path in _inspect_log_files(source):
        try:
            log = read_eval_log(str(path), exclude_fields=set(INSPECT_SKIPPED_FIELDS))
        except Exception as err:  # inspect_ai raises many kinds on a file it cannot read
            raise ResponsesError(
                f"{str(path)!r} is not an Inspect log that inspect_ai can read "
                f"({type(err).__name__}: {err})"
            ) from None
        model = str(log.eval.model)
        labels[model] = _for_key(model_name, model) or model
        frame, n_epochs = _inspect_samples(
            log,
            path=path,
            subject=labels[model],
            wanted=metric,
            scorers=scorers,
            to_float=to_float,
        )
        epochs[path.name] = n_epochs
        frames.append(frame)
    _check_keys(model_name, "model_name", "model", labels)
    _check_keys(metric, "metric", "task", scorers.used)
    scorers.warn(stacklevel=3)
    resp = _long_responses(
        frames,
        threshold=threshold,
        duplicates=duplicates,
        what="Inspect logs",
        response_type=response_type,
        scale=scale,
    )
    return resp.with_source({"metric": scorers.recorded(), "model_name": labels, "epochs": epochs})


def _inspect_samples(
    log, *, path: Path, subject: str, wanted, scorers: _Choices, to_float
) -> tuple[pd.DataFrame, int]:
    """The long table of one log, each sample's score averaged over its epochs, and the
    number of epochs."""
    task = str(log.eval.task)
    if log.status != "success":
        warnings.warn(
            f"{str(path)!r} is an Inspect log with status {log.status!r}: its samples without "
            "scores are read as missing",
            ResponsesWarning,
            stacklevel=4,
        )
    samples = log.samples or []
    if not samples:
        raise ResponsesError(f"{str(path)!r} holds no samples (was it written header only?)")
    logged = sorted({name for sample in samples for name in sample.scores or {}})
    if not logged:
        raise ResponsesError(f"no sample of {str(path)!r} has a score (was the task scored?)")
    # The task's scorers in its order: the first is the one whose metrics Inspect shows first.
    ordered = [score.scorer for score in (log.results.scores if log.results else [])]
    first = next((name for name in ordered if name in logged), None)
    scorer = scorers.pick(
        task,
        logged,
        given=_for_key(wanted, task),
        where=f"task {task!r} ({str(path)!r})",
        preference=(first,) if first else (),
    )
    rows = []
    for sample in samples:
        score = (sample.scores or {}).get(scorer)
        where = f"{str(path)!r}, sample {sample.id!r} (epoch {sample.epoch}), scorer {scorer!r}"
        value = np.nan if score is None else _inspect_value(score.value, to_float, where=where)
        rows.append((f"{task}/{sample.id}", value))
    frame = pd.DataFrame(rows, columns=["item", "response"])
    n_epochs = int(frame.groupby("item", sort=False).size().max())
    reducers = log.eval.config.epochs_reducer
    if n_epochs > 1 and reducers and list(reducers) != ["mean"]:
        warnings.warn(
            f"{str(path)!r} reduces its {n_epochs} epochs with {', '.join(reducers)}; each sample "
            "is scored here by the mean over its epochs",
            ResponsesWarning,
            stacklevel=4,
        )
    frame = frame.groupby("item", sort=False, as_index=False)["response"].mean()
    frame.insert(0, "subject", subject)
    frame["benchmark"] = task
    return frame, n_epochs


def _inspect_value(value, to_float, *, where: str) -> float:
    """An Inspect score value as a float, by ``value_to_float``; what it would turn into 0 with
    no more than a logged warning (a dict, a list, another string) is refused."""
    if value is None:
        return np.nan
    if isinstance(value, bool | int | float):
        return float(to_float(value))
    if isinstance(value, str):
        text = value.strip()
        if text in INSPECT_SCORE_STRINGS or text.lower() in INSPECT_SCORE_WORDS:
            return float(to_float(text))
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    shown = (
        f"a {type(value).__name__} with keys {describe_values(list(value))}"
        if isinstance(value, dict)
        else repr(value)
    )
    raise ResponsesError(
        f"{where}: the score is {shown}, not one number or one of C/I/P/N (correct, incorrect, "
        "partial, no answer); choose a scorer with one score per sample with "
        "metric={'<task>': '<scorer>'}"
    )


# --------------------------------------------------------------------- HELM
def _helm_runs(source) -> list[Path]:
    """The run folders (holding per_instance_stats.json) under the given folders / files."""
    runs: list[Path] = []
    for entry in _entries(source):
        if entry.is_dir():
            found = sorted(path.parent for path in entry.rglob(HELM_STATS))
            if not found:
                raise ResponsesError(
                    f"no HELM run ({HELM_STATS}) under {str(entry)!r}; give a run folder "
                    "(benchmark_output/runs/<suite>/<run>) or a folder above it"
                )
            runs.extend(found)
        elif entry.is_file() and entry.name in (HELM_STATS, HELM_RUN_SPEC):
            runs.append(entry.parent)
        else:
            raise ResponsesError(f"{str(entry)!r} is neither a folder nor a HELM {HELM_STATS} file")
    return runs


def _read_json(path: Path, what: str):
    """A JSON file, or an error naming it."""
    if not path.is_file():
        raise ResponsesError(f"{str(path)!r} not found: a HELM run folder holds its {what}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ResponsesError(f"{str(path)!r} is not JSON ({err})") from None


def _helm_task(run_name: str) -> str:
    """A run's name without the arguments naming the model: the benchmark, e.g.
    ``mmlu:subject=anatomy,method=multiple_choice_joint``."""
    scenario, colon, arguments = run_name.partition(":")
    if not colon:
        return run_name
    kept = [
        argument
        for argument in arguments.split(",")
        if argument.partition("=")[0] not in HELM_MODEL_ARGUMENTS
    ]
    return f"{scenario}:{','.join(kept)}" if kept else scenario


def read_helm(
    source,
    *,
    threshold: float | None,
    duplicates: str,
    model_name: str | Mapping[str, str] | None,
    metric: str | Mapping[str, str] | None,
    response_type: str = "binary",
    scale: tuple[float, float] | None = None,
) -> Responses:
    """Read HELM runs; see :func:`~bayesirt.data.load_responses` (``format="helm"``).

    ``metric`` names the stat, for every benchmark or as ``{benchmark: stat}``; ``model_name``
    the subject, for every run or as ``{model: label}``. The source record holds, per
    benchmark, the metric used, per model its label and, per run folder, its number of train
    trials.
    """
    metrics = _Choices(
        "metric", "metric", f"the first logged of {', '.join(HELM_METRIC_PREFERENCE)}"
    )
    labels: dict[str, str] = {}
    trials: dict[str, int] = {}
    frames = []
    for run in _helm_runs(source):
        spec = _read_json(run / HELM_RUN_SPEC, "run spec")
        model = spec.get("adapter_spec", {}).get("model") if isinstance(spec, dict) else None
        if not model:
            raise ResponsesError(
                f"{str(run / HELM_RUN_SPEC)!r} names no model (adapter_spec.model)"
            )
        labels[model] = _for_key(model_name, model) or model
        task = _helm_task(str(spec.get("name") or run.name))
        frame, n_trials = _helm_instances(
            run / HELM_STATS, task=task, subject=labels[model], wanted=metric, metrics=metrics
        )
        trials[run.name] = n_trials
        frames.append(frame)
    _check_keys(model_name, "model_name", "model", labels)
    _check_keys(metric, "metric", "benchmark", metrics.used)
    metrics.warn(stacklevel=3)
    resp = _long_responses(
        frames,
        threshold=threshold,
        duplicates=duplicates,
        what="HELM runs",
        response_type=response_type,
        scale=scale,
    )
    return resp.with_source(
        {"metric": metrics.recorded(), "model_name": labels, "train_trials": trials}
    )


def _helm_instances(
    path: Path, *, task: str, subject: str, wanted, metrics: _Choices
) -> tuple[pd.DataFrame, int]:
    """The long table of one run: each unperturbed instance's stat mean, averaged over its
    train trials, and the number of trials."""
    entries = _read_json(path, "per-instance stats")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and "instance_id" in e and isinstance(e.get("stats"), list)
        for e in entries
    ):
        raise ResponsesError(
            f"{str(path)!r} is not HELM per-instance stats: expected a list of "
            '{"instance_id", "train_trial_index", "stats": [...]}'
        )
    rows = []
    for entry in entries:
        if entry.get("perturbation"):  # a perturbed copy (robustness, fairness): not the item
            continue
        means: dict[str, float] = {}
        for stat in entry["stats"]:
            name = stat.get("name") if isinstance(stat, dict) else None
            if not isinstance(name, dict) or "name" not in name or name.get("perturbation"):
                continue
            where = f"{str(path)!r}, instance {entry['instance_id']!r}, stat {name['name']!r}"
            if name["name"] in means:
                raise ResponsesError(f"{where}: logged twice for the same trial")
            means[name["name"]] = _score(stat.get("mean"), where=where)
        rows.append((entry["instance_id"], entry.get("train_trial_index", 0), means))
    if not rows:
        raise ResponsesError(f"{str(path)!r} holds no unperturbed instance")
    logged = sorted({name for *_, means in rows for name in means})
    used = metrics.pick(
        task,
        [name for name in HELM_METRIC_PREFERENCE if name in logged],
        given=_for_key(wanted, task),
        where=f"benchmark {task!r} ({str(path)!r})",
        preference=HELM_METRIC_PREFERENCE,
        nameable=logged,
        by_name=False,
    )
    frame = pd.DataFrame(
        [(f"{task}/{instance}", trial, means.get(used, np.nan)) for instance, trial, means in rows],
        columns=["item", "trial", "response"],
    )
    n_trials = int(frame["trial"].nunique())
    frame = frame.groupby("item", sort=False, as_index=False)["response"].mean()
    frame.insert(0, "subject", subject)
    frame["benchmark"] = task
    return frame, n_trials


# ------------------------------------------------------ leaderboard details
def _details_files(source) -> list[Path]:
    """Every details file (parquet, or samples_*.json / .jsonl) under the given folders."""

    def details(path: Path) -> bool:
        return path.suffix == ".parquet" or bool(SAMPLES_NAME.fullmatch(path.name))

    return harness_files(
        source,
        in_folder=details,
        given=details,
        none_found="no Open LLM Leaderboard details under {folder}: expected parquet files "
        "(<org>__<model>__<task>/<split>/0000.parquet) or samples_<task>_<timestamp>.jsonl "
        "files",
        not_accepted="{path} is neither a folder nor a details file (.parquet, or "
        "samples_<task>_<timestamp>.jsonl)",
    )


def _details_names(path: Path) -> tuple[str, str]:
    """The task and the model folder (``<org>__<model>``) of a details file.

    ``samples_<task>_<timestamp>.<ext>`` in the model's folder (the details repository), or
    ``<org>__<model>__<task>/<split>/<n>.parquet`` (the hub's parquet conversion), else the
    file's stem in the model's folder.
    """
    named = SAMPLES_NAME.fullmatch(path.name)
    if named:
        return named["task"], path.parent.name
    config = path.parent.parent.name
    if PARQUET_SPLIT.fullmatch(path.parent.name) and "__" in config:
        model, _, task = config.rpartition("__")
        return task, model
    return path.stem, path.parent.name


def _details_frame(path: Path) -> pd.DataFrame:
    """The rows of a details file: parquet, or lm-eval sample lines (a JSON list in old
    ``.json`` files)."""
    if path.stat().st_size == 0:
        raise ResponsesError(f"{str(path)!r} is empty: there is nothing to read")
    if path.suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except ImportError:
            raise
        except Exception as err:
            raise ResponsesError(f"{str(path)!r} is not a parquet file ({err})") from None
    text = path.read_text(encoding="utf-8")
    try:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError:
        try:
            records = json.loads(text)
        except json.JSONDecodeError as err:
            raise ResponsesError(f"{str(path)!r} is neither JSON lines nor JSON ({err})") from None
    if isinstance(records, list) and len(records) == 1 and isinstance(records[0], list):
        records = records[0]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ResponsesError(f"{str(path)!r} does not hold one JSON object per sample")
    return pd.DataFrame.from_records(records)


def _scalar_column(column: pd.Series) -> bool:
    """Whether a column holds one number (or bool, or nothing) per row."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return True
    return column.map(
        lambda v: v is None or isinstance(v, bool | int | float | np.bool_ | np.number)
    ).all()


def read_leaderboard_details(
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
    """Read Open LLM Leaderboard details; see :func:`~bayesirt.data.load_responses`
    (``format="leaderboard-details"``).

    ``metric`` names the column, ``sample_filter`` the filter (files that log one), for every
    task or as ``{task: value}``; ``model_name`` the subject, for every model or as
    ``{model folder: label}``. The source record holds, per task, the metric (and filter) used
    and, per model folder, its label.
    """
    metrics = _Choices(
        "metric",
        "metric",
        f"the first logged of {', '.join(LEADERBOARD_METRIC_PREFERENCE)}, else the first by name",
    )
    filters = _Choices(
        "sample_filter",
        "filter",
        f"the first logged of {', '.join(LMEVAL_FILTER_PREFERENCE)}, else the first by name",
    )
    labels: dict[str, str] = {}
    frames = []
    for path in _details_files(source):
        task, folder = _details_names(path)
        if folder not in labels:
            labels[folder] = _for_key(model_name, folder) or folder.replace("__", "/", 1)
        frames.append(
            _details_samples(
                path,
                task=task,
                subject=labels[folder],
                wanted={"metric": metric, "sample_filter": sample_filter},
                metrics=metrics,
                filters=filters,
            )
        )
    _check_keys(model_name, "model_name", "model folder", labels)
    _check_keys(metric, "metric", "task", metrics.used)
    _check_keys(sample_filter, "sample_filter", "task", filters.used)
    filters.warn(stacklevel=3)
    metrics.warn(stacklevel=3)
    resp = _long_responses(
        frames,
        threshold=threshold,
        duplicates=duplicates,
        what="leaderboard details",
        response_type=response_type,
        scale=scale,
    )
    return resp.with_source(
        {
            "sample_filter": filters.recorded(),
            "metric": metrics.recorded(),
            "model_name": labels,
        }
    )


def _details_samples(
    path: Path,
    *,
    task: str,
    subject: str,
    wanted: dict[str, str | Mapping[str, str] | None],
    metrics: _Choices,
    filters: _Choices,
) -> pd.DataFrame:
    """The long table of one details file: subject, item = ``<task>/<doc_id>``, benchmark."""
    frame = _details_frame(path)
    if "doc_id" not in frame.columns:
        raise ResponsesError(
            f"{str(path)!r} has no 'doc_id' column, so it is not lm-eval samples as the "
            f"leaderboard details hold them (columns: {describe_values(frame.columns, 8)})"
        )
    if frame.empty:
        raise ResponsesError(f"{str(path)!r} holds no samples")
    where = f"task {task!r} ({str(path)!r})"
    # Samples logged before lm-eval named the filter count as filter "none", as lm-eval reads them.
    logged_filters = frame["filter"].astype(str) if "filter" in frame.columns else None
    used = filters.pick(
        task,
        ["none"] if logged_filters is None else sorted(logged_filters.unique()),
        given=_for_key(wanted["sample_filter"], task),
        where=where,
        preference=LMEVAL_FILTER_PREFERENCE,
    )
    if logged_filters is not None:
        frame = frame[logged_filters == used]
    repeated = frame["doc_id"][frame["doc_id"].duplicated()]
    if len(repeated):
        raise ResponsesError(
            f"{where}: doc_id {describe_values(repeated.unique(), 3)} appear(s) more than once; "
            "its harness logged one line per filter without naming the filter, so the lines "
            "cannot be told apart"
        )
    if "metrics" in frame.columns:
        named = {str(m) for listed in frame["metrics"] if listed is not None for m in listed}
        columns = [c for c in frame.columns if c in named]
    else:
        columns = [c for c in frame.columns if c not in LMEVAL_SAMPLE_KEYS]
    candidates = [c for c in columns if _scalar_column(frame[c])]
    if not candidates:
        raise ResponsesError(
            f"{where} has no per-document metric column (one number per row); its columns are "
            f"{describe_values(frame.columns, 12)}"
        )
    used = metrics.pick(
        task,
        candidates,
        given=_for_key(wanted["metric"], task),
        where=where,
        preference=LEADERBOARD_METRIC_PREFERENCE,
        nameable=columns,
    )
    values = [
        _score(value, where=f"{where}, doc_id {doc!r}, metric {used!r}")
        for doc, value in zip(frame["doc_id"], frame[used], strict=True)
    ]
    return pd.DataFrame(
        {
            "subject": subject,
            "item": [f"{task}/{doc}" for doc in frame["doc_id"]],
            "response": values,
            "benchmark": task,
        }
    )
