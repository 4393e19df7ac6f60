"""Data sources named by a string: the example leaderboard, a public dataset, or a results file.

The ``DATA`` argument of the command line and the ``data`` entries of a sweep spec
(:mod:`bayesirt.sweep`) name the responses to read in the same words:

- ``"example"`` (:data:`EXAMPLE`): the example leaderboard shipped with bayesirt
  (:func:`~bayesirt.data.example.load_example`);
- ``"dataset:NAME"`` (:data:`DATASET_PREFIX`): a public dataset
  (:mod:`bayesirt.data.datasets`), e.g. ``"dataset:chembench"``;
- anything else: a results file or folder, read by
  :func:`~bayesirt.data.loaders.load_responses` with its options.

:func:`parse_source` turns such a string into a :class:`DataSource`, :func:`load_source` reads
the responses it names, :func:`source_name` gives it a short name (for labels and file names)
and :func:`is_shipped` says whether it names shipped or public data rather than a file. A
sweep spec also declares simulated responses: a :class:`DataSource` of kind ``"simulate"``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bayesirt.data import datasets
from bayesirt.data.example import load_example
from bayesirt.data.loaders import load_responses
from bayesirt.data.responses import Responses
from bayesirt.data.simulate import simulate_responses

__all__ = [
    "DATASET_PREFIX",
    "EXAMPLE",
    "SOURCE_KINDS",
    "DataSource",
    "is_shipped",
    "load_source",
    "parse_source",
    "source_name",
]

#: Data source naming the example leaderboard shipped with bayesirt.
EXAMPLE = "example"
#: Prefix of a data source naming a public dataset, e.g. ``dataset:chembench``.
DATASET_PREFIX = "dataset:"
#: The kinds of :class:`DataSource`.
SOURCE_KINDS = ("example", "dataset", "path", "simulate")


@dataclass(frozen=True)
class DataSource:
    """A data source: ``kind`` is "example", "dataset", "path" or "simulate".

    ``value`` is the dataset's name (``"dataset"``) or the file or folder (``"path"``);
    ``options`` the keyword arguments of :func:`~bayesirt.data.loaders.load_responses`
    (``"path"``) or of :func:`~bayesirt.data.simulate.simulate_responses` (``"simulate"``).
    """

    kind: str
    value: Any = None
    options: Mapping[str, Any] | None = None

    def load(self) -> Responses:
        """The responses this source names (simulated ones: the responses, not the truth)."""
        match self.kind:
            case "example":
                return load_example()
            case "dataset":
                return datasets.load(self.value)
            case "simulate":
                return simulate_responses(**self.options)[0]
            case _:
                return load_responses(self.value, **(self.options or {}))


def is_shipped(source: str | os.PathLike) -> bool:
    """Whether ``source`` names the example or a public dataset rather than a results file."""
    return isinstance(source, str) and (source == EXAMPLE or source.startswith(DATASET_PREFIX))


def source_name(source: str | os.PathLike) -> str:
    """A short name for the data ``source`` names: the dataset's name, ``"example"``, or the
    stem of the file (for labels and file names)."""
    if isinstance(source, str) and source.startswith(DATASET_PREFIX):
        return source.removeprefix(DATASET_PREFIX)
    return EXAMPLE if source == EXAMPLE else Path(source).stem


def parse_source(
    source: str | os.PathLike, *, base: str | os.PathLike | None = None, **options: Any
) -> DataSource:
    """The :class:`DataSource` that a string names (see the module docstring).

    A path-like ``source`` is always a file or folder. With ``base`` a relative path is read
    from that folder and made absolute; without it the path is kept as given. ``options``
    (keyword arguments of :func:`~bayesirt.data.loaders.load_responses`) are only for files:
    :class:`ValueError` otherwise. The name of a dataset is not checked here
    (:func:`bayesirt.data.datasets.load` does when the data are read).
    """
    if is_shipped(source):
        if options:
            raise ValueError(
                f"options {sorted(options)} are only for results files, not for {source!r}"
            )
        if source == EXAMPLE:
            return DataSource("example")
        return DataSource("dataset", source.removeprefix(DATASET_PREFIX))
    path = str((Path(base) / source).resolve()) if base is not None else source
    return DataSource("path", path, dict(options))


def load_source(source: str | os.PathLike | DataSource, **options: Any) -> Responses:
    """The responses that a data source names: ``"example"``, ``"dataset:NAME"``, a results
    file or folder (read with ``options``, keyword arguments of
    :func:`~bayesirt.data.loaders.load_responses`), or a :class:`DataSource`."""
    if isinstance(source, DataSource):
        if options:
            raise TypeError("load_source: give the options of a DataSource in its 'options'")
        return source.load()
    return parse_source(source, **options).load()
