"""Running the points of a sweep: one task (fit and analyses) in a worker, on either engine.

:func:`_run_task` fits one grid point (unless its cached fit is given) with the inference
method of the spec's ``fit`` table and runs
:func:`~bayesirt.analysis.scenarios.scenario_rankings` on it; it runs in a worker of the
engine that :func:`_engine` opens: a pool of spawned processes (``"local"``) or a Dask
distributed client (``"dask"``), behind one interface (``share``, ``submit``, ``completed``,
``close``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as futures_completed
from dataclasses import dataclass
from typing import Any

from bayesirt.analysis.scenarios import scenario_rankings
from bayesirt.data import Responses
from bayesirt.inference import ConvergenceWarning, fit, fit_info
from bayesirt.sweep.spec import _item_variant

__all__ = ["ENGINES"]

ENGINES = ("local", "dask")


# ------------------------------------------------------------------------ worker
@dataclass(frozen=True)
class _Task:
    """What a worker needs besides the source's responses (plain data, cheap to send)."""

    items: tuple
    model: str
    priors: dict
    fit: dict
    seed: int
    analysis: dict


def _run_task(task: _Task, base: Responses, idata=None):
    """Fit one grid point (unless its fit is given) and analyse it; runs in a worker.

    Returns ``(new_fit, result)``: the fit when it was made here (else ``None``), and the
    analyses (:func:`scenario_rankings` with ``converged`` and ``problems`` of the fit).
    """
    new_fit = None
    with _quiet_worker():
        if idata is None:
            responses = _item_variant(base, task.items)
            idata = new_fit = fit(
                responses,
                model=task.model,
                priors=task.priors,
                random_seed=task.seed,
                progressbar=False,
                **task.fit,
            )
        result = scenario_rankings(idata, random_seed=task.seed, **task.analysis)
    diagnostics = fit_info(idata)["diagnostics"]
    result["converged"] = bool(diagnostics.get("converged", False))
    result["problems"] = "; ".join(diagnostics.get("problems", []))
    return new_fit, result


@contextlib.contextmanager
def _quiet_worker() -> Iterator[None]:
    """No per-fit chatter from the workers: convergence problems travel with the fit's
    diagnostics and are reported by the driver for every fit, cached or not."""
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            yield
    finally:
        logger.setLevel(level)


# ----------------------------------------------------------------------- engines
class _LocalEngine:
    """Spawned worker processes (no fork of a driver that may hold threads or locks)."""

    def __init__(self, n_workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=context)

    def share(self, value: Any) -> Any:
        return value

    def submit(self, function: Callable, *args: Any):
        return self._pool.submit(function, *args)

    def completed(self, futures: list) -> Iterator:
        return futures_completed(futures)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _DaskEngine:
    """A Dask distributed client: of the cluster at ``address``, or of a loopback cluster."""

    def __init__(self, address: str | None, n_workers: int) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:
            raise ImportError(
                "engine='dask' needs Dask distributed: pip install 'bayesirt[dask]'"
            ) from err
        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            address = self._cluster.scheduler_address
        self._client = Client(address)

    def share(self, value: Any) -> Any:
        """Send data to the workers once; tasks then refer to it."""
        return self._client.scatter(value, broadcast=False)

    def submit(self, function: Callable, *args: Any):
        return self._client.submit(function, *args, pure=False)

    def completed(self, futures: list) -> Iterator:
        from distributed import as_completed

        return as_completed(futures)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


@contextlib.contextmanager
def _engine(engine: str, address: str | None, n_workers: int) -> Iterator[Any]:
    runner = _LocalEngine(n_workers) if engine == "local" else _DaskEngine(address, n_workers)
    try:
        yield runner
    finally:
        runner.close()
