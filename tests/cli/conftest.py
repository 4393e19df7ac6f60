"""What the command-line tests share: running ``bayesirt`` in process, faked sampling, LSAT7.

Most commands that fit are tested for their plumbing (arguments, files written, JSON shapes,
exit codes), which sampling adds nothing to: :func:`sampling_faked` replaces ``fit_model`` of
:mod:`bayesirt.inference.fit`, which :func:`bayesirt.fit` calls with the model it built, by
:func:`bayesirt.testing.fake_fit_model`, which checks and records the settings as the real one
does and returns a fake fit with every attribute of a real fit. The command then runs to its
end (diagnostics printed, fit and card written) in well under a second. Tests that check
numbers a fit estimates, or an interrupted fit, sample for real.

Test modules import the helpers with ``from .conftest import ...`` (``tests/cli`` is a
package).
"""

from __future__ import annotations

import contextlib
import importlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bayesirt.cli import main
from bayesirt.models.base import IRTModel
from bayesirt.testing import fake_fit_model

#: ADVI options of the fits of LSAT7 (faked: the settings are recorded, not run).
ADVI = ["--method", "advi", "--advi-iterations", "300", "--draws", "50", "--no-progress"]


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """``bayesirt ARGS`` in process: exit status, stdout, stderr."""
    status = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    """A failed command printed one line, ``bayesirt: error: ...``, holding ``fragments``."""
    assert status != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bayesirt: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@contextlib.contextmanager
def sampling_faked() -> Iterator[list[IRTModel]]:
    """Within the block every fit is a :func:`bayesirt.testing.fake_fit_model`; yields the
    list of the models handed to the sampler, in order."""
    given: list[IRTModel] = []

    def stand_in(irt_model: IRTModel, **settings):
        given.append(irt_model)
        return fake_fit_model(irt_model, **settings)

    # ``bayesirt.inference.fit`` as an attribute is the function, not its module
    module = importlib.import_module("bayesirt.inference.fit")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "fit_model", stand_in)
        yield given


@pytest.fixture
def fake_sampling() -> Iterator[list[IRTModel]]:
    """Fits are fakes during the test (:func:`sampling_faked`); the models given, in order."""
    with sampling_faked() as given:
        yield given


@pytest.fixture(scope="session")
def lsat7(shared_data: Path) -> Path:
    """LSAT7 (1,000 × 5) as a wide table, from the shared data."""
    return shared_data / "classic-irt" / "lsat7_wide.csv"


@pytest.fixture(scope="session")
def lsat7_fit(lsat7: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A 2PL fit of LSAT7 written by ``bayesirt fit`` with faked sampling (its path and what
    the command printed)."""
    path = tmp_path_factory.mktemp("fits") / "lsat7.nc"
    out, err = io.StringIO(), io.StringIO()
    with sampling_faked(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["fit", str(lsat7), *ADVI, "--out", str(path)])
    assert status == 0, err.getvalue()
    return path, out.getvalue()
