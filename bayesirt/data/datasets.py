"""Public benchmark results, downloaded on demand from their original source.

``bayesirt.datasets.load(name)`` returns a :class:`Responses`. The file comes from the URL in
the registry (:data:`DATASETS`), pinned to a commit, is checked against its sha256 and kept in
the cache directory: ``$BAYESIRT_DATA_CACHE`` if set, else ``~/.cache/bayesirt``. A cached file
is used as is (no network) once its checksum matches; one that does not match is refused rather
than silently replaced.

The download itself is `pooch <https://www.fatiando.org/pooch>`_'s: the registry is handed to
it in its own format (file name → ``sha256:<hash>``, with the pinned URL of each file), and it
streams to a temporary file in the cache folder, checks the hash, moves the file into place
only when it matches, retries a failed or corrupted download (:data:`DOWNLOAD_RETRIES`) and
shows a progress bar while it downloads. Two things stay here because pooch does them
differently: the cache folder (pooch's default is per-OS, e.g. ``~/Library/Caches`` on macOS;
this package promises ``~/.cache/bayesirt`` everywhere) and the cached file whose checksum does
not match, which pooch would download again over the old one; here it is refused with an error
that says what to do, and pooch is told ``allow_updates=False`` so that it never replaces it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pooch

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

#: Seconds without an answer from the server before a download attempt is given up.
DOWNLOAD_TIMEOUT_S = 60
#: Further attempts after a failed or corrupted download (pooch waits 1 s, 2 s, ... between).
DOWNLOAD_RETRIES = 2


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
    if path.is_file():
        digest = pooch.file_hash(str(path), alg="sha256")
        if digest != info.sha256:
            raise DatasetUnavailableError(
                f"cached file {str(path)!r} of dataset {name!r} is corrupted: sha256 {digest} "
                f"instead of {info.sha256}. Delete it to download it again from {info.url}"
            )
    else:
        _download_verified(info, path)
    return path


def load(name: str) -> Responses:
    """Dataset ``name`` as :class:`Responses` (see :data:`DATASETS` and :func:`fetch`)."""
    path = fetch(name)
    return DATASETS[name].read(path)


def _registry() -> pooch.Pooch:
    """The registry in pooch's terms, kept in :func:`cache_directory` (read when called)."""
    return pooch.create(
        path=cache_directory(),
        base_url="",  # unused: every file has its own pinned URL
        registry={info.filename: f"sha256:{info.sha256}" for info in DATASETS.values()},
        urls={info.filename: info.url for info in DATASETS.values()},
        retry_if_failed=DOWNLOAD_RETRIES,
        allow_updates=False,
    )


def _download_verified(info: DatasetInfo, path: Path) -> None:
    """Have pooch download ``info`` into ``path``: via a temporary file, checked, retried."""
    downloader = pooch.HTTPDownloader(
        # tqdm comes with pooch[progress]; without it, no bar rather than an error
        progressbar=importlib.util.find_spec("tqdm") is not None,
        timeout=DOWNLOAD_TIMEOUT_S,
    )
    try:
        _registry().fetch(info.filename, downloader=downloader)
    except OSError as err:  # requests' errors and unwritable caches are all OSErrors
        raise DatasetUnavailableError(
            f"dataset {info.name!r} is not cached at {str(path)!r} and could not be downloaded "
            f"from {info.url} ({err}). Connect to the internet, or put {info.filename!r} "
            f"(sha256 {info.sha256}) in a folder and set {CACHE_ENV} to it"
        ) from None
    except ValueError as err:  # pooch's hash mismatch; it has deleted the download
        raise DatasetUnavailableError(
            f"download of dataset {info.name!r} from {info.url} does not have sha256 "
            f"{info.sha256}; the file was discarded ({err})"
        ) from None
