"""The package's version, read from its installed metadata: ``pyproject.toml`` is the one place
it is written."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("bayesirt")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
