"""The ``bayesirt`` command line: a thin layer over the public API.

Subcommands (each described in its module)
------------------------------------------
``fit DATA``, ``score FIT DATA``, ``demo``
    Fit a model to benchmark results and save it, score new subjects against a saved fit,
    or fit the shipped example (:mod:`bayesirt.cli.fit`).
``summary FIT``, ``rank FIT``, ``robustness FIT``
    Analyses of a saved fit (:mod:`bayesirt.cli.analysis`).
``select FIT``, ``evaluate-subsets SOURCE``
    Tiny benchmarks (:mod:`bayesirt.cli.subsets`).
``adaptive FIT --answers FILE``
    Recorded results replayed as adaptive tests (:mod:`bayesirt.cli.adaptive`).
``route FIT QUESTIONS``
    New questions sent to the fitted models most likely to answer them, or the cheapest
    likely enough (:mod:`bayesirt.cli.route`).
``report FIT ...``
    The HTML diagnostics report of saved fits (:mod:`bayesirt.cli.report`).
``sweep SPEC``
    A grid of fits and ranking analyses (:mod:`bayesirt.cli.sweep`).

Each of these modules adds its commands to the subparsers object, through
``add_command(commands)`` (:mod:`~bayesirt.cli.fit`: one ``add_..._command`` per command, see
:data:`COMMANDS`); what they share is in :mod:`bayesirt.cli._common`.

Choices offered on the command line (models and their options, methods, samplers, formats,
...) are read from the package's registries, and numeric defaults from the signatures of the
functions wrapped, so the command line cannot drift from the library. Errors reach the user as
one line, ``bayesirt: error: ...``, with a non-zero exit status; convergence problems as
``bayesirt: warning: ...`` lines that are never suppressed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from bayesirt._version import __version__
from bayesirt.cli import adaptive, analysis, fit, report, route, subsets, sweep
from bayesirt.cli._common import (
    DATA_OPTIONS,
    UsageError,
    _print_error,
    _user_facing_warnings,
)
from bayesirt.data import datasets

# Re-exported: the warning text that the command line hides.
from bayesirt.inference.fit import BLAS_WARNING as BLAS_WARNING

__all__ = ["build_parser", "main"]

#: The functions that add the subcommands, in the order ``bayesirt --help`` lists them
#: (``fit`` first: ``evaluate-subsets`` takes over its options).
COMMANDS = (
    fit.add_fit_command,
    fit.add_score_command,
    analysis.add_command,
    fit.add_demo_command,
    sweep.add_command,
    subsets.add_command,
    adaptive.add_command,
    route.add_command,
    report.add_command,
)


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises :class:`UsageError` instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``bayesirt ARGS``; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on a malformed command line, 1 on any other error, 130 when
        interrupted, 141 when the reader of the output closed it early (``| head``).
        Errors are printed as one line on stderr, never as a traceback.
    """
    parser = build_parser()
    data_options = False
    try:
        args = parser.parse_args(argv)
        data_options = all(key in vars(args) for key in DATA_OPTIONS)
        with _user_facing_warnings(data_options=data_options):
            args.run(args)
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else 0
    except BrokenPipeError:  # the reader left early (e.g. `| head`): stop quietly
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except UsageError as err:
        _print_error(err)
        return 2
    except (ValueError, OSError, ImportError, datasets.DatasetUnavailableError) as err:
        _print_error(err, data_options=data_options)
        return 1
    except KeyboardInterrupt:
        print("bayesirt: interrupted", file=sys.stderr)
        return 130
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``bayesirt`` command and its subcommands."""
    parser = _Parser(
        prog="bayesirt",
        description="Bayesian item response theory for LLM benchmark results.",
    )
    parser.add_argument("--version", action="version", version=f"bayesirt {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(commands)
    return parser
