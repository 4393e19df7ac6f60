"""Public benchmark results, downloaded on demand from their original source.

``bayesirt.datasets.load(name)`` returns a :class:`Responses`. The file comes from the URL in
the registry (:data:`DATASETS`), pinned to a commit, is checked against its sha256 and kept in
the cache directory: ``$BAYESIRT_DATA_CACHE`` if set, else ``~/.cache/bayesirt``. A cached file
is used as is (no network) once its checksum matches; one that does not match is refused rather
than silently replaced.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bayesirt.data.responses import Responses

__all__ = [
    "CACHE_ENV",
    "DATASETS",
    "DatasetInfo",
    "DatasetUnavailableError",
    "cache_directory",
    "fetch",
    "list_datasets",
    "load",
]

#: Environment variable naming the cache directory.
CACHE_ENV = "BAYESIRT_DATA_CACHE"

DOWNLOAD_TIMEOUT_S = 60


class DatasetUnavailableError(RuntimeError):
    """A dataset that cannot be had: not cached and not downloadable, or corrupted."""


@dataclass(frozen=True)
class DatasetInfo:
    """One entry of the registry.

    Attributes
    ----------
    name : str
        The name given to :func:`load`.
    url : str
        The original public source, pinned to a commit.
    filename : str
        The file's name in the cache directory.
    sha256 : str
        Checksum of the file as published.
    licence, citation, description : str
        What the data is, under which terms, and whom to cite.
    read : callable
        ``read(path) -> Responses``: parses the verified file.
    """

    name: str
    url: str
    filename: str
    sha256: str
    licence: str
    citation: str
    description: str
    read: Callable[[Path], Responses]


def _read_chembench(path: Path) -> Responses:
    """irt-on-bench's ``binary_matrix.csv``: questions are rows, models are columns."""
    matrix = pd.read_csv(path, index_col=0)
    matrix.index = [f"chembench/{label}" for label in matrix.index]
    meta = pd.DataFrame({"benchmark": "chembench"}, index=matrix.index)
    return Responses.from_wide(matrix.T, item_meta=meta)


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="chembench",
            url=(
                "https://raw.githubusercontent.com/lamalab-org/irt-on-bench/"
                "a914cea87f9577dafdc9381b1cbfa685007ccbeb/results/binary_matrix.csv"
            ),
            filename="irt-on-bench_binary_matrix.csv",
            sha256="7ae8f32dc3efeb4eb96797d83cacaa027e7703f113fb1525148012c8ca06bd3c",
            licence="MIT (lamalab-org/irt-on-bench)",
            citation=(
                "Mirza, A., Alampara, N., et al. A framework for evaluating the chemical "
                "knowledge and reasoning abilities of large language models against the "
                "expertise of chemists. Nature Chemistry (2025); response matrix from "
                "github.com/lamalab-org/irt-on-bench at commit a914cea8."
            ),
            description=(
                "ChemBench: 22 LLMs × 2,854 chemistry questions, complete, 1 = fully correct. "
                "Items are labelled chembench/<row of the source matrix>."
            ),
            read=_read_chembench,
        ),
    )
}


def cache_directory() -> Path:
    """``$BAYESIRT_DATA_CACHE`` if set, else ``~/.cache/bayesirt``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "bayesirt").expanduser()


def list_datasets() -> pd.DataFrame:
    """The registry as a table: name, description, licence, citation, url."""
    columns = ["description", "licence", "citation", "url"]
    return pd.DataFrame(
        [[getattr(info, col) for col in columns] for info in DATASETS.values()],
        index=pd.Index(list(DATASETS), name="name"),
        columns=columns,
    )


def fetch(name: str) -> Path:
    """The verified local file of dataset ``name``, downloaded into the cache if needed.

    Raises
    ------
    ValueError
        ``name`` is not in the registry (the message lists the known names).
    DatasetUnavailableError
        The file is neither cached nor downloadable, or its sha256 does not match.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    info = DATASETS[name]
    path = cache_directory() / info.filename
    if not path.is_file():
        _download_verified(info, path)
    digest = _sha256(path)
    if digest != info.sha256:
        raise DatasetUnavailableError(
            f"cached file {str(path)!r} of dataset {name!r} is corrupted: sha256 {digest} "
            f"instead of {info.sha256}. Delete it to download it again from {info.url}"
        )
    return path


def load(name: str) -> Responses:
    """Dataset ``name`` as :class:`Responses` (see :data:`DATASETS` and :func:`fetch`)."""
    path = fetch(name)
    return DATASETS[name].read(path)


def _download_verified(info: DatasetInfo, path: Path) -> None:
    """Download to a temporary name, check the checksum, then move into place."""
    partial = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _download(info.url, partial)
    except OSError as err:  # URLError, timeouts and unwritable caches are all OSErrors
        partial.unlink(missing_ok=True)
        raise DatasetUnavailableError(
            f"dataset {info.name!r} is not cached at {str(path)!r} and could not be downloaded "
            f"from {info.url} ({err}). Connect to the internet, or put {info.filename!r} "
            f"(sha256 {info.sha256}) in a folder and set {CACHE_ENV} to it"
        ) from None
    digest = _sha256(partial)
    if digest != info.sha256:
        partial.unlink()
        raise DatasetUnavailableError(
            f"download of dataset {info.name!r} from {info.url} has sha256 {digest}, expected "
            f"{info.sha256}; the file was discarded"
        )
    partial.replace(path)


def _download(url: str, destination: Path) -> None:
    """Write the body of ``url`` to ``destination``."""
    with (
        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
        destination.open("wb") as out,
    ):
        while chunk := response.read(1 << 16):
            out.write(chunk)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
