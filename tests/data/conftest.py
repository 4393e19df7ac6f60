"""Fixtures of the data-layer tests."""

from __future__ import annotations

import pytest

import bayesirt.cli._common


class _Read(Exception):
    """Raised by the stand-in for load_source once the command has read its data."""


class ReadOptions(list):
    """(responses, options) of every read the stand-in made; ``stop`` is the exception it
    raises after reading."""

    stop = _Read


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> ReadOptions:
    """The responses and options the data options of a command read, then it stops."""
    seen = ReadOptions()
    real = bayesirt.cli._common.load_source

    def stand_in(source, **options):
        seen.append((real(source, **options), options))
        raise _Read

    monkeypatch.setattr(bayesirt.cli._common, "load_source", stand_in)
    return seen
