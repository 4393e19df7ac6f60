"""bayesirt.datasets offline: the cache, the checksum, and the errors (never the network).

Downloads go through pooch; its HTTP downloader is replaced here by one that serves local bytes
or fails as it would offline, and its wait between retries by a note of the wait.
"""

from __future__ import annotations

import importlib.util
import shutil
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pooch
import pytest
import requests

import bayesirt
from bayesirt.data import datasets

CHEMBENCH = datasets.DATASETS["chembench"]


@pytest.fixture
def waits(monkeypatch):
    """pooch's pauses between download attempts, recorded instead of slept."""
    waited = []
    monkeypatch.setattr(pooch.core, "time", types.SimpleNamespace(sleep=waited.append))
    return waited


@pytest.fixture
def downloads(monkeypatch, waits):
    """``downloads(serve)``: pooch's HTTP download runs ``serve(url, destination)`` instead.

    Returns the list of the URLs asked for, one entry per attempt.
    """
    attempts = []

    def install(serve):
        def download(self, url, output_file, pup, check_only=False):
            attempts.append(url)
            serve(url, Path(output_file))

        monkeypatch.setattr(pooch.HTTPDownloader, "__call__", download)
        return attempts

    return install


@pytest.fixture
def no_network(monkeypatch, downloads):
    """Any download attempt fails as it would offline, and is counted (once: no retries)."""
    monkeypatch.setattr(datasets, "DOWNLOAD_RETRIES", 0)

    def fail(url, destination):
        raise requests.exceptions.ConnectionError("[Errno -3] Temporary failure in name resolution")

    return downloads(fail)


@pytest.fixture
def raw_cache(shared_data, monkeypatch, no_network):
    cache = shared_data / "raw"
    monkeypatch.setenv(datasets.CACHE_ENV, str(cache))
    return cache


def test_chembench_loads_from_the_cache_without_network(raw_cache, no_network, shared_data):
    resp = bayesirt.datasets.load("chembench")
    assert no_network == []
    assert (resp.n_subjects, resp.n_items, resp.n_observed) == (22, 2854, 22 * 2854)
    assert resp.items[0] == "chembench/0"
    assert set(resp.item_meta["benchmark"]) == {"chembench"}
    published = pd.read_csv(shared_data / "chembench" / "published_model_scores.csv", index_col=0)
    np.testing.assert_allclose(
        resp.subject_accuracy().loc[published.index],
        published["published_all_correct_score"],
        atol=1e-12,
    )


def test_chembench_is_oriented_models_by_questions(raw_cache, shared_data):
    """The source matrix is questions × models; the curated copy is its transpose."""
    resp = datasets.load("chembench")
    curated = pd.read_csv(shared_data / "chembench" / "responses_wide.csv", index_col=0)
    wide = resp.to_wide()
    wide.columns = [f"cb_q{label.split('/')[1]}" for label in wide.columns]
    pd.testing.assert_frame_equal(
        wide.loc[curated.index, curated.columns], curated.astype(float), check_names=False
    )


def test_corrupted_cache_is_refused(shared_data, tmp_path, monkeypatch, no_network):
    corrupted = tmp_path / CHEMBENCH.filename
    shutil.copyfile(shared_data / "raw" / CHEMBENCH.filename, corrupted)
    data = bytearray(corrupted.read_bytes())
    data[-3] = ord("0") if data[-3] != ord("0") else ord("1")
    corrupted.write_bytes(bytes(data))
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path))
    with pytest.raises(datasets.DatasetUnavailableError, match="is corrupted") as err:
        datasets.load("chembench")
    assert str(corrupted) in str(err.value)
    assert CHEMBENCH.sha256 in str(err.value)
    assert no_network == []  # refused, not silently downloaded again


def test_no_cache_and_no_network_says_where_it_looked(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path))
    with pytest.raises(datasets.DatasetUnavailableError) as err:
        datasets.load("chembench")
    message = str(err.value)
    assert no_network == [CHEMBENCH.url]
    assert str(tmp_path / CHEMBENCH.filename) in message
    assert datasets.CACHE_ENV in message
    assert "Temporary failure in name resolution" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert not list(tmp_path.iterdir())  # no partial file left behind


def test_download_with_a_wrong_checksum_is_discarded(tmp_path, monkeypatch, downloads):
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path))
    downloads(lambda url, dest: dest.write_text("tampered"))
    with pytest.raises(datasets.DatasetUnavailableError, match="discarded"):
        datasets.load("chembench")
    assert not list(tmp_path.iterdir())


def test_download_lands_in_the_cache(shared_data, tmp_path, monkeypatch, downloads):
    source = shared_data / "raw" / CHEMBENCH.filename
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path / "new"))
    downloads(lambda url, dest: shutil.copyfile(source, dest))
    assert datasets.fetch("chembench") == tmp_path / "new" / CHEMBENCH.filename
    assert [p.name for p in (tmp_path / "new").iterdir()] == [CHEMBENCH.filename]


def test_cached_file_is_used_with_no_download_attempted(
    shared_data, tmp_path, monkeypatch, downloads
):
    cached = tmp_path / CHEMBENCH.filename
    shutil.copyfile(shared_data / "raw" / CHEMBENCH.filename, cached)
    before = cached.stat().st_mtime_ns
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path))

    def refuse(url, destination):
        raise AssertionError(f"no download expected, asked for {url}")  # not an OSError

    attempts = downloads(refuse)
    assert datasets.fetch("chembench") == cached
    assert datasets.load("chembench").n_items == 2854
    assert attempts == []
    assert cached.stat().st_mtime_ns == before
    assert [p.name for p in tmp_path.iterdir()] == [CHEMBENCH.filename]


def test_corrupted_cache_is_refused_even_when_a_good_copy_is_online(
    shared_data, tmp_path, monkeypatch, downloads
):
    """pooch by itself would download the good copy over a mismatching file; here it may not."""
    good = shared_data / "raw" / CHEMBENCH.filename
    corrupted = tmp_path / CHEMBENCH.filename
    corrupted.write_bytes(good.read_bytes()[:-100])  # a truncated copy
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path))
    attempts = downloads(lambda url, dest: shutil.copyfile(good, dest))
    with pytest.raises(datasets.DatasetUnavailableError, match="is corrupted") as err:
        datasets.fetch("chembench")
    message = str(err.value)
    assert str(corrupted) in message
    assert pooch.file_hash(str(corrupted)) in message  # the sha256 it has
    assert CHEMBENCH.sha256 in message and "Delete it" in message
    assert attempts == []
    assert corrupted.read_bytes() == good.read_bytes()[:-100]  # left as it was


def test_a_failed_download_is_retried_with_a_progress_bar_and_a_timeout(
    shared_data, tmp_path, monkeypatch, downloads, waits
):
    source = shared_data / "raw" / CHEMBENCH.filename
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path))
    seen = []

    def flaky(url, destination):
        if len(attempts) == 1:
            raise requests.exceptions.ConnectionError("Connection reset by peer")
        shutil.copyfile(source, destination)

    attempts = downloads(flaky)
    original = pooch.HTTPDownloader.__call__

    def spy(self, url, output_file, pup, check_only=False):
        seen.append((bool(self.progressbar), self.kwargs.get("timeout")))
        return original(self, url, output_file, pup, check_only)

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", spy)
    assert datasets.fetch("chembench") == tmp_path / CHEMBENCH.filename
    assert attempts == [CHEMBENCH.url, CHEMBENCH.url]
    assert waits == [1]  # pooch's pause before the second attempt
    with_bar = importlib.util.find_spec("tqdm") is not None
    assert seen == [(with_bar, datasets.DOWNLOAD_TIMEOUT_S)] * 2
    assert [p.name for p in tmp_path.iterdir()] == [CHEMBENCH.filename]


def test_unknown_dataset_lists_the_registry():
    with pytest.raises(ValueError, match="unknown dataset 'mmlu'") as err:
        datasets.load("mmlu")
    for name in datasets.DATASETS:
        assert name in str(err.value)


def test_cache_directory_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv(datasets.CACHE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert datasets.cache_directory() == tmp_path / ".cache" / "bayesirt"
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert datasets.cache_directory() == tmp_path / "elsewhere"


def test_registry_entries_are_complete():
    table = datasets.list_datasets()
    assert "chembench" in table.index
    for info in datasets.DATASETS.values():
        assert info.url.startswith("https://") and len(info.sha256) == 64
        assert info.licence and info.citation and info.description
