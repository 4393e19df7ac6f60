r"""NUTS with nutpie that samples until the diagnostics pass.

A fixed number of draws is either wasteful (most data sets converge long before) or too
short (the README's own demo missed R-hat 1.01 after 2 × 500 draws). :func:`sample_until_converged`
starts the chains with a large draw budget in nutpie's background sampler, looks at the
draws so far every now and then, and stops the same chains as soon as
:func:`~bayesirt.inference.diagnostics.check_convergence` passes on them — or when the
budget of draws or seconds is spent, in which case the fit is kept, marked as such, and
reported as not converged.

Checking costs a copy of the trace and the vectorised diagnostics
(:func:`~bayesirt.inference.diagnostics.convergence_statistics`), with the chains paused. The
first check comes when every chain has :data:`MIN_DRAWS` draws; later checks first screen the
parameters that were close to failing, and are spaced so that checking would take at most
:data:`CHECK_SHARE` of the sampling time. Measured on the panel of ``benchmarks/panel.py``
(2 cores), the checks took 10–12% of the run on ChemBench, AlpacaEval 2 and metabench arc and
3% on truthfulqa.

Memory: nutpie keeps, for every draw of every chain (tuning included), each stored variable,
the sampled coordinates, the unconstrained draw and its gradient, and each look copies that
trace. On a table with tens of thousands of items this outgrows the machine long before the
chains converge (the 12 × 41,871 OpenCompass table was killed at 22 GB, twice), so a run whose
trace could take more than :data:`MEMORY_TRACE_SHARE` of the machine's memory has nutpie
write it to a temporary zarr store on disk; a look then reads only the stored parameters, one
variable at a time, and the folder is removed when the run ends.

Stopping when a diagnostic first passes is a (mild) form of optional stopping: the reported
R-hat and ESS are those of the draws kept, which passed the criterion, and the chains are
never stopped before the minimum. The criterion itself (ESS ≥ 400 over every parameter) is
conservative enough that the estimates it certifies are those of a fixed-length run of the
same size.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass

import arviz as az
import numpy as np

from bayesirt.inference.diagnostics import (
    ESS_MIN,
    Diagnostics,
    ParameterStatistics,
    check_convergence,
    parameter_statistics,
    summarise_statistics,
)

__all__ = ["CHECK_SHARE", "MEMORY_TRACE_SHARE", "MIN_DRAWS", "RunLength", "sample_until_converged"]

#: Draws per chain before the first convergence check.
MIN_DRAWS = 200
#: Largest share of the elapsed time spent checking convergence.
CHECK_SHARE = 0.25
#: Largest share of the machine's physical memory that nutpie's in-memory trace of a whole
#: run (all chains, tuning included) may take: each look copies it about twice more. A run
#: that could produce a larger trace writes it to a temporary zarr store on disk instead.
MEMORY_TRACE_SHARE = 0.25
#: Seconds between looks at the sampler's progress (cheap) while waiting for a check.
_POLL_SECONDS = 0.5
#: Shortest wait between two looks at the trace before the first check (and right after
#: tuning). A small model draws hundreds of draws per second, so a floor of seconds lets it
#: draw thousands before its first check: a default fit of a 30 × 60 2PL kept 2,679 and 2,900
#: draws per chain with a floor of 2 s, 2,090 and 1,379 with 0.5 s (same runs otherwise).
#: Where a look is expensive the wait of 4 looks' cost dominates instead: on LSAT7 (1,000
#: abilities) nutpie takes 12 s to hand over a trace of 2,400 draws, in which time the chains
#: draw 20,000, so stopping them sooner would cost more time than it saves.
_MIN_WAIT_SECONDS = 0.5


@dataclass
class RunLength:
    """How an adaptive run went (its numbers go into the fit's inference settings)."""

    draws: int  # per chain, kept
    checks: int
    check_seconds: float
    budget_exhausted: bool
    #: The full check that passed the kept draws (``None`` when none did): the fit's
    #: diagnostics and the statistics of every parameter behind them, so that they are not
    #: computed twice.
    diagnostics: Diagnostics | None = None
    statistics: ParameterStatistics | None = None


def sample_until_converged(
    model,
    *,
    tune: int,
    max_draws: int,
    max_seconds: float | None,
    chains: int,
    random_seed: int,
    target_accept: float,
    progressbar: bool,
    var_names: list[str] | None = None,
    sampler_kwargs: dict | None = None,
) -> tuple[az.InferenceData, RunLength]:
    """Sample ``model`` (a built :class:`pymc.Model`) with nutpie until converged.

    All ``chains`` run at once (as threads; on two cores four chains share them), each
    tuned for ``tune`` steps and then drawing until the draws so far pass the package's
    convergence criterion, or ``max_draws`` per chain or ``max_seconds`` (tuning included)
    are reached. Only ``var_names`` are stored (default: every variable). Returns the draws
    kept (the same number per chain) and how the run went. ``KeyboardInterrupt`` stops the
    chains and is raised again: nothing partial is returned.

    The chains are paused while their draws are checked. The next check is planned from
    the last one: at :data:`GROWTH` times as many draws, or more when the smallest ESS says
    that many more are needed (ESS grows in proportion to the draws), and late enough that
    checking takes at most :data:`CHECK_SHARE` of the time.
    """
    import nutpie

    compiled = nutpie.compile_pymc_model(model, var_names=var_names)
    with contextlib.ExitStack() as stack:
        store = None
        if _trace_bytes(compiled, chains, tune, max_draws) > _trace_memory():
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bayesirt-trace-"))
            store = nutpie.zarr_store.LocalStore(folder)
        started = time.perf_counter()
        sampler = nutpie.sample(
            compiled,
            draws=max_draws,
            tune=tune,
            chains=chains,
            cores=chains,
            seed=random_seed,
            target_accept=target_accept,
            progress_bar=False,
            save_warmup=False,
            blocking=False,
            zarr_store=store,
            **(sampler_kwargs or {}),
        )
        report = _Progress(progressbar, tune, max_draws)
        checks, check_seconds, paused_seconds = 0, 0.0, 0.0
        next_look, target = 0.0, min(MIN_DRAWS, max_draws)
        last_look = (0, 0.0)  # draws per chain, and seconds of sampling, at the previous look
        watch: dict[str, np.ndarray] | None = None  # the parameters that failed last time
        kept: az.InferenceData | None = None
        budget_exhausted = False
        try:
            while True:
                time.sleep(_POLL_SECONDS)
                elapsed = time.perf_counter() - started
                finished = _is_finished(sampler)
                out_of_time = max_seconds is not None and elapsed >= max_seconds
                if not (finished or out_of_time or elapsed >= next_look):
                    continue
                look_started = time.perf_counter()
                if not finished:
                    sampler.pause()
                kept = trace = None  # let the last copy go before the sampler makes the next
                trace = _inspect(sampler)
                inspect_cost = time.perf_counter() - look_started
                n_drawn = _common_draws(trace)
                report.tuning_or_drawing(n_drawn, elapsed)
                diagnostics = statistics = None
                if n_drawn >= target or finished or out_of_time:
                    kept = _first_draws(trace, n_drawn, var_names)
                    if n_drawn:
                        checks += 1
                        diagnostics, watch, statistics = _check(kept, watch)
                        report.checked(n_drawn, diagnostics)
                look_cost = time.perf_counter() - look_started
                paused_seconds += look_cost
                if diagnostics is not None:
                    check_seconds += look_cost
                    if diagnostics.converged:
                        break
                if finished or out_of_time:
                    budget_exhausted = True
                    break
                sampler.resume()
                # Draws per second of sampling, since the previous look (pauses excluded).
                sampling = time.perf_counter() - started - paused_seconds
                rate = (n_drawn - last_look[0]) / max(sampling - last_look[1], 1e-9)
                previous_draws = last_look[0]
                last_look = (n_drawn, sampling)
                if diagnostics is None:  # still tuning, or short of the first target
                    wait = max(_MIN_WAIT_SECONDS, 4.0 * look_cost)
                    if n_drawn and rate > 0 and previous_draws:  # a rate over drawing alone
                        wait = max(wait, (target - n_drawn) / rate)
                    next_look = time.perf_counter() - started + wait
                    continue
                # The next look screens the watch list: about the cost of copying the trace.
                target = _next_target(n_drawn, diagnostics, rate, 2.0 * inspect_cost, max_draws)
                wait = (target - n_drawn) / max(rate, 1e-9)
                if not previous_draws:
                    # The window since the last look held the end of tuning, so its rate is
                    # too low and the wait too long: a small model could draw its whole
                    # budget before the look. Look again soon, at a rate over drawing alone.
                    wait = min(wait, max(_MIN_WAIT_SECONDS, 4.0 * look_cost))
                next_look = time.perf_counter() - started + wait
        except BaseException:
            sampler.cancel()
            raise
        sampler.cancel()
        if kept is None or _common_draws(kept) == 0:
            raise RuntimeError(
                f"no posterior draws within the budget (max_seconds={max_seconds}): the "
                "sampler was still tuning; allow more time or fewer tuning steps"
            )
        # Read into memory before a trace on disk is removed with its folder.
        kept = az.InferenceData(
            posterior=_plain_labels(kept.posterior.load()),
            sample_stats=_plain_labels(kept.sample_stats.load()),
        )
        return kept, RunLength(
            draws=_common_draws(kept),
            checks=checks,
            check_seconds=round(check_seconds, 2),
            budget_exhausted=budget_exhausted,
            diagnostics=None if budget_exhausted else diagnostics,
            statistics=None if budget_exhausted else statistics,
        )


def _check(
    kept: az.InferenceData, watch: dict[str, np.ndarray] | None
) -> tuple[Diagnostics, dict[str, np.ndarray] | None, ParameterStatistics | None]:
    """Diagnostics of the draws so far, the parameters to watch next time, and the statistics
    of every parameter (``None`` after a screen that failed).

    When the last check left a watch list (the parameters close to failing, and every
    scalar), those are screened first: if one of them still fails, that verdict stands and
    the full check over thousands of item parameters is skipped. Only a full check can pass
    a fit; it also makes the next watch list.
    """
    if watch is not None:
        screened = check_convergence(kept, warn=False, subset=watch)
        if not screened.converged:
            return screened, watch, None
    statistics = parameter_statistics(kept.posterior)
    diagnostics = summarise_statistics(kept, statistics, warn=False)
    return diagnostics, _near_misses(statistics), statistics


def _near_misses(statistics: ParameterStatistics) -> dict[str, np.ndarray]:
    """Elements within a margin of failing (R-hat above 1.005, ESS below 1.5 × the target,
    or not computable), at most :data:`_WATCH_PER_VARIABLE` per variable, and scalars."""
    watch = {}
    for name, (rhat, bulk, tail, elements) in statistics.items():
        score = np.fmax(
            np.nan_to_num(rhat, nan=np.inf) - 1.005,
            1.5 * ESS_MIN - np.nan_to_num(np.fmin(bulk, tail), nan=-np.inf),
        )
        close = np.flatnonzero(score > 0) if elements.size > 1 else np.arange(elements.size)
        if close.size:
            order = np.argsort(score[close])[::-1][:_WATCH_PER_VARIABLE]
            watch[name] = elements[close[order]]
    return watch


#: Most elements of one variable screened before a full check.
_WATCH_PER_VARIABLE = 200
#: Least growth of the draws from one convergence check to the next.
GROWTH = 1.25


def _next_target(
    n_drawn: int, diag: Diagnostics, rate: float, check_cost: float, max_draws: int
) -> int:
    """Draws per chain at the next check (see :func:`sample_until_converged`)."""
    growth = GROWTH
    smallest_ess = min(diag.min_ess_bulk, diag.min_ess_tail)
    if math.isfinite(smallest_ess) and 0 < smallest_ess < ESS_MIN:
        growth = max(growth, min(2.0, 1.1 * ESS_MIN / smallest_ess))
    affordable = n_drawn + rate * check_cost * (1.0 - CHECK_SHARE) / CHECK_SHARE
    return int(min(max_draws, math.ceil(max(n_drawn * growth, affordable))))


def _inspect(sampler) -> az.InferenceData:
    with warnings.catch_warnings():  # ArviZ, on a trace with no draws yet
        warnings.filterwarnings("ignore", message="More chains", category=UserWarning)
        return sampler.inspect()


def _is_finished(sampler) -> bool:
    """Whether every chain has drawn its budget (nutpie 0.16 answers "not yet" by raising
    ``TimeoutError``)."""
    try:
        return bool(sampler.is_finished)
    except TimeoutError:
        return False


def _common_draws(trace: az.InferenceData) -> int:
    """Posterior draws that every chain has completed (nutpie pads shorter chains with
    NaN)."""
    if "sample_stats" not in trace or "energy" not in trace.sample_stats:
        return 0
    energy = trace.sample_stats["energy"].values
    return int(np.isfinite(energy).sum(axis=1).min()) if energy.size else 0


def _first_draws(trace: az.InferenceData, n: int, var_names: list[str] | None) -> az.InferenceData:
    """The posterior (``var_names`` of it) and its per-draw sampler statistics, cut to the
    first ``n`` draws per chain (lazily, for a trace on disk: only what is used is read)."""
    posterior = trace.posterior if var_names is None else trace.posterior[var_names]
    stats = trace.sample_stats
    per_draw = [name for name, var in stats.data_vars.items() if var.dims == ("chain", "draw")]
    return az.InferenceData(
        posterior=posterior.isel(draw=slice(0, n)),
        sample_stats=stats[per_draw].isel(draw=slice(0, n)),
    )


def _plain_labels(data):
    """``data`` with text coordinates as Python strings (dtype object), as nutpie's in-memory
    trace gives them; its zarr store gives NumPy's variable-width ``StringDType``, which
    ``astype(str)`` cannot convert."""
    text = {name: coord for name, coord in data.coords.items() if coord.dtype.kind == "T"}
    return data.assign_coords({name: coord.values.astype(object) for name, coord in text.items()})


def _trace_memory() -> float:
    """Bytes of memory an in-memory trace may take (:data:`MEMORY_TRACE_SHARE`)."""
    return MEMORY_TRACE_SHARE * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _trace_bytes(compiled, chains: int, tune: int, max_draws: int) -> float:
    """Bytes of the trace nutpie would hold in memory for a whole run: per draw and chain,
    tuning included, every stored variable and the unconstrained draw and its gradient (which
    nutpie 0.16 records whatever its ``store_*`` settings say), in float64."""
    per_draw = compiled.n_expanded + 2 * compiled.n_dim
    return 8.0 * chains * (tune + max_draws) * per_draw


class _Progress:
    """One line on stderr per convergence check (when ``progressbar``)."""

    def __init__(self, enabled: bool, tune: int, max_draws: int) -> None:
        self.enabled = enabled
        self.tune = tune
        self.max_draws = max_draws
        self._said_tuning = False

    def tuning_or_drawing(self, n_drawn: int, elapsed: float) -> None:
        if self.enabled and n_drawn == 0 and not self._said_tuning:
            self._print(f"tuning ({self.tune} steps per chain), {elapsed:.0f} s so far")
            self._said_tuning = True

    def checked(self, n_drawn: int, diag: Diagnostics) -> None:
        if not self.enabled:
            return
        verdict = "converged" if diag.converged else "continuing: " + "; ".join(diag.problems)
        self._print(
            f"{n_drawn} draws per chain (at most {self.max_draws}): R-hat "
            f"{_number(diag.max_rhat, '.3f')}, bulk ESS {_number(diag.min_ess_bulk, '.0f')}, "
            f"tail ESS {_number(diag.min_ess_tail, '.0f')}; {verdict}"
        )

    @staticmethod
    def _print(text: str) -> None:
        print(f"bayesirt: sampling: {text}", file=sys.stderr, flush=True)


def _number(value: float, spec: str) -> str:
    return "nan" if value is None or math.isnan(value) else format(value, spec)
