"""The command line never reports a broken fit as a good one.

Nonsense settings stop before the data is read (exit 2, one line naming the option); an
interrupted fit leaves no file and no traceback (exit 130); an existing fit is kept unless
``--overwrite``; a failed save leaves the earlier fit whole; a blank subject is left out
with its name in the warning.

The interrupted fits sample for real (in a subprocess, the way a user stops one); the other
tests check what happens around a fit, which they fake (:func:`bayesirt.testing.fake_fit` and
the ``fake_sampling`` fixture of ``conftest.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesirt
from bayesirt.cli import main
from bayesirt.inference import io as fit_io
from bayesirt.testing import fake_fit

MISSING = "no-such-results-file.csv"


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        (["--target-accept", "1.5"], "--target-accept"),
        (["--target-accept", "0"], "--target-accept"),
        (["--draws", "-5"], "--draws"),
        (["--chains", "0"], "--chains"),
        (["--seed", "-3"], "--seed"),
        (["--tune", "-1"], "--tune"),
        (["--max-draws", "0"], "--max-draws"),
        (["--max-seconds", "-2"], "--max-seconds"),
        (["--method", "advi", "--advi-iterations", "0"], "--advi-iterations"),
        (["--threshold", "nan"], "--threshold"),
        (["--out", "fit.txt"], "--out"),
    ],
)
def test_nonsense_settings_exit_2_before_the_data_is_read(options, flag, capsys, tmp_path):
    os.chdir(tmp_path)
    assert main(["fit", MISSING, *options]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bayesirt: error:") and flag in err, err
    assert MISSING not in err  # the data was never opened
    assert len(err.splitlines()) == 1


def test_threshold_that_leaves_one_outcome_is_refused(tmp_path, capsys):
    scores = pd.DataFrame({"subject": ["m1", "m1", "m2", "m2"], "item": ["q1", "q2"] * 2})
    scores["response"] = [0.2, 0.9, 0.4, 0.7]
    path = tmp_path / "scores.csv"
    scores.to_csv(path, index=False)
    assert main(["fit", str(path), "--threshold", "5", "--out", str(tmp_path / "x.nc")]) == 1
    err = capsys.readouterr().err
    assert "threshold 5 makes every observed response incorrect" in err


def test_existing_fit_is_kept_without_overwrite(tmp_path, capsys):
    out = tmp_path / "fit.nc"
    out.write_bytes(b"an earlier fit")
    assert main(["fit", MISSING, "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier fit"


def test_unwritable_folder_is_refused_before_fitting(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permission bits
            pytest.skip("permission bits are not enforced for this user")
        assert main(["fit", MISSING, "--out", str(locked / "sub" / "fit.nc")]) == 2
        assert "not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_failed_save_leaves_the_earlier_fit_whole(tmp_path, monkeypatch, tiny_fit):
    out = tmp_path / "fit.nc"
    fit_io.save_fit(tiny_fit, out)
    before = out.read_bytes()

    def broken(idata, path):
        Path(path).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_io, "_write_netcdf", broken)
    with pytest.raises(KeyboardInterrupt):
        fit_io.save_fit(tiny_fit, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.card.md", "fit.nc"]


def test_blank_subject_is_left_out_by_name(tmp_path, capsys, fake_sampling):
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        rng.integers(0, 2, size=(6, 8)).astype(float),
        index=[f"m{i}" for i in range(6)],
        columns=[f"q{i}" for i in range(8)],
    )
    table.loc["m3"] = np.nan
    path = tmp_path / "wide.csv"
    table.rename_axis("subject").to_csv(path)
    code = main(
        ["fit", str(path), "--method", "advi", "--draws", "20", "--out", str(tmp_path / "f.nc")]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "subject(s) without any observed response left out: 'm3'" in err
    (fitted,) = fake_sampling
    assert list(fitted.responses.subjects) == ["m0", "m1", "m2", "m4", "m5"]


@pytest.fixture(scope="module")
def tiny_fit():
    responses = bayesirt.simulate_responses(12, 30, seed=2)[0]
    return fake_fit(responses, method="advi", n_chains=1, n_draws=20)


def _interrupted_fit(
    tmp_path: Path, wait_for: str, extra: list[str], delay: float = 0.0
) -> tuple[int, str]:
    """Run ``bayesirt fit example``; send SIGINT ``delay`` seconds after ``wait_for`` is
    printed. Returns the exit status and what was printed after the signal."""
    out = tmp_path / "fit.nc"
    command = [sys.executable, "-m", "bayesirt", "fit", "example", "--out", str(out)]
    process = subprocess.Popen(
        [*command, "--progress", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 300
    for line in process.stdout:
        lines.append(line)
        if wait_for in line or time.monotonic() > deadline:
            break
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=120)
    assert wait_for in "".join(lines), "".join(lines)
    assert not out.exists() and not any(tmp_path.iterdir())
    return process.returncode, rest


@pytest.mark.parametrize(
    ("phase", "wait_for"),
    [("tuning", "sampling: tuning"), ("drawing", "continuing")],
)
def test_interrupted_fit_leaves_nothing_and_no_traceback(tmp_path, phase, wait_for):
    code, rest = _interrupted_fit(tmp_path, wait_for, [])
    assert code == 130, rest
    assert rest.strip().splitlines()[-1] == "bayesirt: interrupted", rest
    assert "Traceback" not in rest


def test_interrupted_fixed_length_fit_is_not_saved(tmp_path):
    """nutpie's blocking sampler returns its partial draws on Ctrl-C; the fit must not."""
    code, rest = _interrupted_fit(
        tmp_path, "fitting the 2PL", ["--draws", "100000", "--no-progress"], delay=40.0
    )
    assert code == 130, rest
    assert "Traceback" not in rest
