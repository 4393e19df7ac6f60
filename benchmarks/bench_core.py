"""Core benchmark of bayesirt's 2PL: samplers, ADVI and two baselines, in one run.

Every fit runs in a fresh subprocess (this file with ``--worker``), so that compile caches held
in memory, imported backends and memory high-water marks never carry from one fit to the next.
The parent process prepares each data set once (``<workdir>/<case>.npz``), starts the workers
one at a time, watches the memory of each worker's process tree, kills a worker that overruns
its time budget, and collects one JSON record per fit.

Methods
-------
``nutpie``
    The package's default: :class:`bayesirt.models.TwoPL` built by the package, compiled with
    ``nutpie.compile_pymc_model`` (timed on its own) and sampled with ``nutpie.sample`` using
    the arguments ``pm.sample(nuts_sampler="nutpie")`` passes. It stops itself at the time
    budget and reports how far it got.
``pymc``, ``numpyro``
    ``bayesirt.inference.fit(..., sampler=...)``. The setup column is the total wall time minus
    the sampler's own ``sampling_time`` attribute (for numpyro that attribute includes the JAX
    compilation, so its setup column is model building only).
``advi``
    ``bayesirt.inference.fit(..., method="advi")`` (mean-field, Adam).
``baseline``
    The straightforward PyMC 2PL a user would write: ``theta ~ N(0, 1)``,
    ``b ~ N(mu_b, sigma_b)`` and ``a ~ LogNormal(mu_log_a, sigma_log_a)``, both centred,
    long-format Bernoulli likelihood, default ``pm.sample`` (PyMC's own NUTS). Hyperpriors as
    the package's.
``pyirt``
    py-irt's hierarchical 2PL (Pyro SVI, mean-field), run by the interpreter of a separate
    virtual environment (``benchmarks/setup_peer.sh``), because py-irt pins ``pandas<3`` and
    ``rich<14`` and installing it next to bayesirt would downgrade both.

Run ``python benchmarks/bench_core.py --help`` for the options and ``benchmarks/README.md``
for what every column means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_PEER_PYTHON = HERE / ".venv-pyirt" / "bin" / "python"

METHODS = ("nutpie", "pymc", "numpyro", "advi", "baseline", "pyirt")
NUTS_METHODS = ("nutpie", "pymc", "numpyro", "baseline")
METHOD_LABELS = {
    "nutpie": "bayesirt NUTS, nutpie (default)",
    "pymc": "bayesirt NUTS, PyMC",
    "numpyro": "bayesirt NUTS, numpyro",
    "advi": "bayesirt ADVI",
    "baseline": "baseline: plain PyMC 2PL, pm.sample",
    "pyirt": "peer: py-irt 2PL (SVI)",
}

# Targets of the issue.
RHAT_TARGET = 1.01
ESS_TARGET = 400
NUTS_BUDGET_S = 300
ADVI_BUDGET_S = 180
ADVI_CORR_TARGET = 0.98
SPEEDUP_TARGET = 3.0

INTERVAL = 0.90
Z_INTERVAL = 1.6448536269514722  # standard normal 95% quantile: central 90% interval
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Case:
    """A data set: ChemBench (or a subset of its items) or a simulated 2PL table."""

    name: str
    source: str  # "chembench" or "simulated"
    n_subjects: int | None = None
    n_items: int | None = None
    seed: int = 0
    large: bool = False


CASES = {
    case.name: case
    for case in (
        Case("chembench", "chembench"),
        Case("sim50x500", "simulated", 50, 500, seed=1_005),
        Case("sim100x2000", "simulated", 100, 2_000, seed=1_002),
        Case("sim200x10000", "simulated", 200, 10_000, seed=1_003),
        Case("sim400x30000", "simulated", 400, 30_000, seed=1_004, large=True),
    )
}
QUICK_CASES = {
    case.name: case
    for case in (
        Case("quick-sim30x200", "simulated", 30, 200, seed=1_001),
        Case("quick-chembench200", "chembench", n_items=200),
    )
}
DEFAULT_CASES = ("chembench", "sim100x2000", "sim200x10000")
DEFAULT_QUICK_CASES = ("quick-sim30x200",)


# =============================================================================== parent side
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: tiny data (30 x 200), 100 draws + 100 tune, short ADVI and SVI",
    )
    parser.add_argument(
        "--large", action="store_true", help="add the 400 x 30,000 case (see how far it gets)"
    )
    parser.add_argument(
        "--cases",
        help=f"comma-separated cases; known: {', '.join([*CASES, *QUICK_CASES])}",
    )
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="comma-separated methods to run"
    )
    parser.add_argument("--draws", type=int, help="draws per chain (default 500; quick 100)")
    parser.add_argument("--tune", type=int, help="tuning steps per chain (default 500; quick 100)")
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1, help="random seed of every fit")
    parser.add_argument(
        "--advi-iterations",
        type=int,
        help="ADVI steps (default 20,000, the package's; quick 2,000)",
    )
    parser.add_argument(
        "--advi-batch-size",
        type=int,
        help="ADVI on random minibatches of this many responses per step (the package's "
        "batch_size), for cases with more observed responses than it; default: full batch",
    )
    parser.add_argument(
        "--pyirt-epochs", type=int, help="py-irt SVI epochs (default 2,000, py-irt's; quick 200)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="time budget of one fit in seconds (default 600; quick 300); nutpie stops itself "
        "there and reports its partial trace, other methods are killed after --grace more",
    )
    parser.add_argument(
        "--grace", type=float, default=120.0, help="seconds past --timeout before a kill"
    )
    parser.add_argument(
        "--peer-python",
        default=os.environ.get("BAYESIRT_PEER_PYTHON", str(DEFAULT_PEER_PYTHON)),
        help="interpreter with py-irt installed (benchmarks/setup_peer.sh makes it)",
    )
    parser.add_argument(
        "--cold-cache",
        action="store_true",
        help="give every fit an empty PyTensor compile directory (C and numba caches), to "
        "time compilation as a first use on a fresh machine pays it",
    )
    parser.add_argument("--out", help="write the machine-readable results to this JSON file")
    parser.add_argument(
        "--workdir", help="folder for the data files and per-fit logs (default: a new temp dir)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    quick = args.quick
    args.draws = args.draws or (100 if quick else 500)
    args.tune = args.tune if args.tune is not None else (100 if quick else 500)
    args.advi_iterations = args.advi_iterations or (2_000 if quick else 20_000)
    args.pyirt_epochs = args.pyirt_epochs or (200 if quick else 2_000)
    args.timeout = args.timeout or (300.0 if quick else 600.0)
    known = {**CASES, **QUICK_CASES}
    if args.cases:
        names = [c.strip() for c in args.cases.split(",") if c.strip()]
    else:
        names = list(DEFAULT_QUICK_CASES if quick else DEFAULT_CASES)
        if args.large:
            names.append("sim400x30000")
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(known)}")
    args.case_list = [known[n] for n in names]
    args.method_list = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in args.method_list if m not in METHODS]
    if bad:
        parser.error(f"unknown method(s) {', '.join(bad)}; known: {', '.join(METHODS)}")
    return args


def prepare_case(case: Case, workdir: Path) -> tuple[Path, dict]:
    """Write the case's data (long format) and truth to ``<workdir>/<case>.npz``."""
    import bayesirt
    from bayesirt.data import datasets

    if case.source == "chembench":
        responses = datasets.load("chembench")
        if case.n_items is not None:
            responses = responses.subset(items=responses.items[: case.n_items])
        truth = None
    else:
        responses, truth = bayesirt.simulate_responses(
            case.n_subjects, case.n_items, model="2pl", seed=case.seed
        )
    arrays = {
        "subject_index": responses.subject_index,
        "item_index": responses.item_index,
        "response": responses.response,
        "subjects": np.asarray(responses.subjects.astype(str), dtype=str),
        "items": np.asarray(responses.items.astype(str), dtype=str),
    }
    if truth is not None:
        for name in ("theta", "a", "b"):
            arrays[f"true_{name}"] = np.asarray(truth[name].values, dtype=float)
    path = workdir / f"{case.name}.npz"
    np.savez(path, **arrays)
    info = {
        "n_subjects": responses.n_subjects,
        "n_items": responses.n_items,
        "n_observed": responses.n_observed,
        "has_truth": truth is not None,
    }
    return path, info


def run_worker(
    spec: dict, *, python: str, kill_after: float, log: Path, cold_cache: bool = False
) -> dict:
    """Run one fit in a fresh process; return its record with timing and memory added.

    With ``cold_cache`` the worker compiles into a new, empty PyTensor compile directory.
    """
    spec_path = Path(spec["result"].removesuffix(".result.json") + ".spec.json")
    spec_path.write_text(json.dumps(spec))
    for stale in (spec["result"], spec["progress"]):
        Path(stale).unlink(missing_ok=True)
    env = dict(os.environ)
    if cold_cache:
        compiledir = tempfile.mkdtemp(prefix="pytensor-", dir=Path(spec["result"]).parent)
        flags = env.get("PYTENSOR_FLAGS", "")
        env["PYTENSOR_FLAGS"] = ",".join(filter(None, [flags, f"base_compiledir={compiledir}"]))
    started = time.perf_counter()
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "--worker", str(spec_path)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill reaches its children too
        )
        tree_peak, killed, status, usage = 0, False, 0, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            tree_peak = max(tree_peak, _tree_rss(proc.pid))
            if not killed and time.perf_counter() - started > kill_after:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                killed = True
            time.sleep(0.5)
        proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started

    result_path = Path(spec["result"])
    record = json.loads(result_path.read_text()) if result_path.exists() else {}
    record.setdefault("case", spec["case"])
    record.setdefault("method", spec["method"])
    record["worker_wall_s"] = round(elapsed, 1)
    record["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 0) if usage else None
    record["tree_rss_mib"] = round(tree_peak / 2**20, 0)
    record["log"] = str(log)
    if killed:
        stages = _read_progress(Path(spec["progress"]))
        last = stages[-1] if stages else {"stage": "started", "t": 0.0}
        record.update(
            status="killed",
            stages=stages,
            note=f"killed after {elapsed:.0f} s; last stage reached: {last['stage']} "
            f"at {last['t']:.0f} s",
        )
    elif proc.returncode != 0 or "status" not in record:
        record.update(status="error", error=_tail(log))
    return record


def _tree_rss(root: int) -> int:
    """Resident memory (bytes) of ``root`` and all its descendants, summed, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    rss: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/statm") as f:
                resident = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children[ppid].append(int(name))
        rss[int(name)] = resident * PAGE_BYTES
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, ()))
    return total


def _read_progress(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _tail(path: Path, n_lines: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n_lines:])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(Path(args.worker))

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bayesirt-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"# bayesirt core benchmark; data and logs in {workdir}", flush=True)
    settings = {
        "quick": args.quick,
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "seed": args.seed,
        "advi_iterations": args.advi_iterations,
        "advi_batch_size": args.advi_batch_size,
        "pyirt_epochs": args.pyirt_epochs,
        "timeout_s": args.timeout,
        "grace_s": args.grace,
        "cold_cache": args.cold_cache,
    }
    peer_python = args.peer_python if Path(args.peer_python).exists() else None
    records, cases = [], {}
    for case in args.case_list:
        try:
            data_path, info = prepare_case(case, workdir)
        except Exception as err:  # e.g. ChemBench neither cached nor downloadable
            print(f"[{case.name}] skipped: {type(err).__name__}: {err}", flush=True)
            cases[case.name] = {"error": f"{type(err).__name__}: {err}"}
            records.extend(
                {"case": case.name, "method": m, "status": "skipped", "note": "no data"}
                for m in args.method_list
            )
            continue
        cases[case.name] = info
        print(
            f"[{case.name}] {info['n_subjects']} x {info['n_items']} "
            f"({info['n_observed']:,} responses)",
            flush=True,
        )
        for method in args.method_list:
            if method == "pyirt" and peer_python is None:
                record = {
                    "case": case.name,
                    "method": method,
                    "status": "skipped",
                    "note": f"no py-irt interpreter at {args.peer_python}; run "
                    "benchmarks/setup_peer.sh or pass --peer-python",
                }
            else:
                stem = f"{workdir}/{case.name}.{method}"
                spec = {
                    **settings,
                    "case": case.name,
                    "method": method,
                    "data": str(data_path),
                    "result": f"{stem}.result.json",
                    "progress": f"{stem}.progress.jsonl",
                }
                python = peer_python if method == "pyirt" else sys.executable
                record = run_worker(
                    spec,
                    python=python,
                    kill_after=args.timeout + args.grace,
                    log=Path(f"{stem}.log"),
                    cold_cache=args.cold_cache,
                )
            record.update(info)
            add_verdicts(record, args.timeout)
            records.append(record)
            print(f"  {one_line(record)}", flush=True)

    checks = issue_checks(records)
    results = {
        "settings": settings,
        "environment": environment(peer_python),
        "cases": cases,
        "runs": records,
        "checks": checks,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, default=_json_default))
        print(f"# results written to {args.out}")
    print()
    print(
        f"Settings: {args.draws} draws + {args.tune} tuning steps x {args.chains} chains, seed "
        f"{args.seed}; ADVI {args.advi_iterations:,} steps; py-irt {args.pyirt_epochs:,} "
        f"epochs; budget {args.timeout:.0f} s per fit"
        + ("; cold compile caches" if args.cold_cache else "")
        + (" (QUICK SMOKE RUN: not results)" if args.quick else "")
    )
    print()
    print(markdown_table(records))
    print()
    print(markdown_checks(checks))
    return 0


def add_verdicts(record: dict, timeout: float) -> None:
    """Derived columns: ESS per second and whether the fit meets the issue's targets."""
    ess, sampling, total = (record.get(k) for k in ("min_ess_bulk", "sampling_s", "total_s"))
    if _finite(ess) and _finite(sampling) and sampling > 0:
        record["ess_per_s"] = ess / sampling
    if _finite(ess) and _finite(total) and total > 0:
        record["ess_per_s_wall"] = ess / total
    if record.get("method") in NUTS_METHODS and record.get("status") == "ok":
        rhat = record.get("max_rhat")
        record["converged"] = bool(
            _finite(rhat) and rhat <= RHAT_TARGET and _finite(ess) and ess >= ESS_TARGET
        )
    if record.get("status") == "ok" and _finite(total) and total > timeout:
        record["status"] = "over budget"


def issue_checks(records: list[dict]) -> dict:
    """The three comparisons the issue asks for, from the runs of this invocation."""
    by = {(r["case"], r["method"]): r for r in records}
    checks: dict = {"speedup": [], "nuts_convergence": [], "advi": []}
    for case in dict.fromkeys(r["case"] for r in records):
        ours, base = by.get((case, "nutpie")), by.get((case, "baseline"))
        if ours and base:
            entry = {"case": case}
            for key in ("ess_per_s", "ess_per_s_wall"):
                a, b = ours.get(key), base.get(key)
                entry[key] = a / b if _finite(a) and _finite(b) and b > 0 else None
            entry["meets_target"] = (
                entry["ess_per_s"] is not None and entry["ess_per_s"] >= SPEEDUP_TARGET
            )
            checks["speedup"].append(entry)
        if case.startswith("chembench") or case.startswith("sim100x2000") or "quick" in case:
            for method in ("nutpie", "pymc", "numpyro"):
                r = by.get((case, method))
                if not r:
                    continue
                total = r.get("total_s")
                checks["nuts_convergence"].append(
                    {
                        "case": case,
                        "method": method,
                        "converged": bool(r.get("converged")),
                        "total_s": total,
                        "within_budget": _finite(total) and total <= NUTS_BUDGET_S,
                        "meets_target": bool(r.get("converged"))
                        and _finite(total)
                        and total <= NUTS_BUDGET_S,
                    }
                )
        if case.startswith("sim200x10000") or "quick-sim" in case:
            r = by.get((case, "advi"))
            if r:
                total, corr = r.get("total_s"), r.get("corr_theta")
                checks["advi"].append(
                    {
                        "case": case,
                        "total_s": total,
                        "corr_theta": corr,
                        "meets_target": _finite(total)
                        and total <= ADVI_BUDGET_S
                        and _finite(corr)
                        and corr >= ADVI_CORR_TARGET,
                    }
                )
    return checks


def environment(peer_python: str | None) -> dict:
    import importlib.metadata as md

    versions = {}
    for name in ("bayesirt", "pymc", "pytensor", "nutpie", "numpyro", "jax", "arviz", "numpy"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "versions": versions,
        "peer_python": peer_python,
        "git": _git_state(),
    }


def _git_state() -> dict:
    """Commit of the checkout and whether the package's files differ from it."""

    def git(*cmd: str) -> str:
        try:
            done = subprocess.run(
                ["git", *cmd], cwd=HERE, capture_output=True, text=True, timeout=30, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD") or None,
        "package_modified": bool(git("status", "--porcelain", "--", "../bayesirt")),
    }


# ------------------------------------------------------------------------------ reporting
COLUMNS = (
    ("case", "case"),
    ("method", "method"),
    ("status", "status"),
    ("setup_s", "setup / compile s"),
    ("sampling_s", "sampling s"),
    ("total_s", "total s"),
    ("min_ess_bulk", "min bulk ESS"),
    ("ess_per_s", "ESS/s"),
    ("ess_per_s_wall", "ESS/s (wall)"),
    ("max_rhat", "max R-hat"),
    ("divergences", "div."),
    ("corr_theta", "corr θ"),
    ("corr_b", "corr b"),
    ("coverage_theta", "90% cov. θ"),
    ("peak_rss_mib", "peak RSS MiB"),
    ("tree_rss_mib", "tree RSS MiB"),
)


def _fmt(key: str, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, str):
        return value
    if key in ("min_ess_bulk", "peak_rss_mib", "tree_rss_mib", "divergences"):
        return f"{value:,.0f}"
    if key in ("max_rhat",):
        return f"{value:.3f}"
    if key in ("corr_theta", "corr_b", "coverage_theta"):
        return f"{value:.3f}"
    if key in ("ess_per_s", "ess_per_s_wall"):
        return f"{value:.3g}"
    return f"{value:,.1f}"


def markdown_table(records: list[dict]) -> str:
    lines = [
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "| " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    notes = []
    for r in records:
        cells = []
        for key, _ in COLUMNS:
            value = r.get(key)
            if key == "method":
                value = METHOD_LABELS.get(value, value)
            cells.append(_fmt(key, value))
        lines.append("| " + " | ".join(cells) + " |")
        if r.get("note"):
            notes.append(f"* {r['case']} / {r['method']}: {r['note']}")
        if r.get("status") == "error" and r.get("error"):
            last = r["error"].strip().splitlines()[-1] if r["error"].strip() else ""
            notes.append(f"* {r['case']} / {r['method']}: error: {last}")
    return "\n".join(lines + (["", *notes] if notes else []))


def markdown_checks(checks: dict) -> str:
    def yes(flag) -> str:
        return "**yes**" if flag else "no"

    out = ["Targets of the issue (from this run):", ""]
    for c in checks["speedup"]:
        ratio = _fmt("x", c["ess_per_s"])
        wall = _fmt("x", c["ess_per_s_wall"])
        out.append(
            f"* {c['case']}: nutpie ESS/s ÷ plain PyMC ESS/s = {ratio}× on sampling time, "
            f"{wall}× on total wall time (target ≥ {SPEEDUP_TARGET:.0f}×): "
            f"{yes(c['meets_target'])}"
        )
    for c in checks["nuts_convergence"]:
        out.append(
            f"* {c['case']} / {c['method']}: converged (R-hat ≤ {RHAT_TARGET}, min bulk ESS ≥ "
            f"{ESS_TARGET}) {yes(c['converged'])}, in {_fmt('x', c['total_s'])} s "
            f"(≤ {NUTS_BUDGET_S} s incl. compilation): {yes(c['meets_target'])}"
        )
    for c in checks["advi"]:
        out.append(
            f"* {c['case']} / ADVI: {_fmt('x', c['total_s'])} s (≤ {ADVI_BUDGET_S} s), corr θ "
            f"{_fmt('corr_theta', c['corr_theta'])} (≥ {ADVI_CORR_TARGET}): "
            f"{yes(c['meets_target'])}"
        )
    return "\n".join(out)


def one_line(r: dict) -> str:
    parts = [f"{r['method']:<9} {r.get('status', '?'):<11}"]
    for key, label in (
        ("total_s", "total"),
        ("min_ess_bulk", "ESS"),
        ("max_rhat", "R-hat"),
        ("corr_theta", "corr θ"),
        ("peak_rss_mib", "MiB"),
    ):
        if r.get(key) is not None:
            parts.append(f"{label} {_fmt(key, r[key])}")
    if r.get("note"):
        parts.append(f"({r['note']})")
    return "  ".join(parts)


def _finite(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


# =============================================================================== worker side
class Progress:
    """Appends ``{"stage", "t"}`` lines, so the parent can tell how far a killed fit got."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __call__(self, stage: str, **extra) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"stage": stage, "t": round(self.elapsed(), 2), **extra}) + "\n")


def worker_main(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text())
    progress = Progress(spec["progress"])
    progress("started")
    data = dict(np.load(spec["data"]))
    runner = {
        "nutpie": run_nutpie,
        "pymc": run_package,
        "numpyro": run_package,
        "advi": run_package,
        "baseline": run_baseline,
        "pyirt": run_pyirt,
    }[spec["method"]]
    record = {"case": spec["case"], "method": spec["method"], "status": "ok"}
    record.update(runner(spec, data, progress))
    usage_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    usage_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    record["worker_rss_mib"] = round(usage_self / 1024)
    record["worker_children_rss_mib"] = round(usage_children / 1024)
    Path(spec["result"]).write_text(json.dumps(record, default=_json_default))
    progress("done")
    return 0


def _responses(data: dict):
    from bayesirt.data import Responses

    return Responses(
        subject_index=data["subject_index"],
        item_index=data["item_index"],
        response=data["response"],
        subjects=data["subjects"].astype(object),
        items=data["items"].astype(object),
    )


def run_nutpie(spec: dict, data: dict, progress: Progress) -> dict:
    """The package's model, compiled and sampled by nutpie with a self-imposed deadline."""
    import nutpie

    from bayesirt.models import get_model

    t0 = time.perf_counter()
    model = get_model("2pl")(_responses(data)).build_model()
    t1 = time.perf_counter()
    progress("built")
    compiled = nutpie.compile_pymc_model(model)
    t2 = time.perf_counter()
    progress("compiled")
    sampler = nutpie.sample(
        compiled,
        draws=spec["draws"],
        tune=spec["tune"],
        chains=spec["chains"],
        target_accept=0.8,
        seed=spec["seed"],
        progress_bar=False,
        blocking=False,
    )
    progress("sampling")
    remaining = max(spec["timeout_s"] - progress.elapsed(), 1.0)
    out: dict = {}
    try:
        idata = sampler.wait(timeout=remaining)
    except TimeoutError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = sampler.abort()
        out["status"] = "timeout"
    t3 = time.perf_counter()
    progress("sampled")
    out.update(build_s=t1 - t0, compile_s=t2 - t1, setup_s=t2 - t0, sampling_s=t3 - t2)
    out["total_s"] = t3 - t0
    out.update(_progress_counts(idata, spec))
    if out.get("status") == "timeout":
        out["note"] = (
            f"stopped at the {spec['timeout_s']:.0f} s budget after {out['warmup_done']} of "
            f"{spec['tune']} tuning and {out['draws_done']} of {spec['draws']} draws per chain"
        )
    if out["draws_done"] >= 4:
        out.update(_nuts_summary(idata, data, standardised=True))
    return out


def _progress_counts(idata, spec: dict) -> dict:
    draws = int(idata.posterior.sizes.get("draw", 0))
    warm = int(idata.warmup_posterior.sizes.get("draw", 0)) if "warmup_posterior" in idata else 0
    return {"draws_done": draws, "warmup_done": warm if draws == 0 else spec["tune"]}


def run_package(spec: dict, data: dict, progress: Progress) -> dict:
    """``bayesirt.inference.fit`` with PyMC's or numpyro's NUTS, or ADVI."""
    from bayesirt.inference import fit
    from bayesirt.inference.io import fit_settings

    method = "advi" if spec["method"] == "advi" else "nuts"
    responses = _responses(data)
    progress("fitting")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = fit(
            responses,
            model="2pl",
            method=method,
            sampler="pymc" if method == "advi" else spec["method"],
            draws=spec["draws"],
            tune=spec["tune"],
            chains=spec["chains"],
            random_seed=spec["seed"],
            advi_iterations=spec["advi_iterations"],
            batch_size=_advi_batch(spec, responses) if method == "advi" else None,
            progressbar=False,
        )
    total = time.perf_counter() - t0
    progress("fitted")
    inference = fit_settings(idata)
    out: dict = {"total_s": total, "package_seconds": inference.get("seconds")}
    if method == "advi":
        out["advi_converged"] = inference.get("advi_converged")
        out["advi_steps"] = inference.get("advi_steps")
        out["advi_batch_size"] = inference.get("batch_size")
        out["sampling_s"] = total
        if not inference.get("advi_converged"):
            out["note"] = "ADVI loss not converged by the package's rule"
        out.update(_accuracy(idata.posterior, data, standardised=True))
        return out
    sampling = idata.posterior.attrs.get("sampling_time")
    if sampling is not None:
        out["sampling_s"] = float(sampling)
        out["setup_s"] = total - float(sampling)
    if spec["method"] == "numpyro":
        out["note"] = "numpyro: sampling time includes JAX compilation"
    out.update(_nuts_summary(idata, data, standardised=True))
    return out


def _advi_batch(spec: dict, responses) -> int | None:
    """The ``--advi-batch-size`` where the case has more responses than that, else None."""
    batch = spec.get("advi_batch_size")
    return batch if batch and batch < responses.n_observed else None


def build_baseline_model(data: dict):
    """The straightforward PyMC 2PL: centred items, θ ~ N(0, 1), long-format likelihood."""
    import pymc as pm

    coords = {"subject": data["subjects"], "item": data["items"]}
    s, i = data["subject_index"], data["item_index"]
    with pm.Model(coords=coords) as model:
        theta = pm.Normal("theta", 0.0, 1.0, dims="subject")
        mu_b = pm.Normal("mu_b", 0.0, 2.0)
        sigma_b = pm.HalfNormal("sigma_b", 2.0)
        b = pm.Normal("b", mu_b, sigma_b, dims="item")
        mu_log_a = pm.Normal("mu_log_a", 0.0, 1.0)
        sigma_log_a = pm.HalfNormal("sigma_log_a", 0.5)
        a = pm.LogNormal("a", mu_log_a, sigma_log_a, dims="item")
        pm.Bernoulli("y", logit_p=a[i] * (theta[s] - b[i]), observed=data["response"])
    return model


def run_baseline(spec: dict, data: dict, progress: Progress) -> dict:
    import pymc as pm

    t0 = time.perf_counter()
    model = build_baseline_model(data)
    progress("built")
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = pm.sample(
            draws=spec["draws"],
            tune=spec["tune"],
            chains=spec["chains"],
            # pm.sample's own default ran the chains one after the other on this 2-core
            # machine ("2 chains in 1 job"); in parallel, as every other method runs them
            cores=min(spec["chains"], os.cpu_count() or 1),
            random_seed=spec["seed"],
            progressbar=False,
        )
    total = time.perf_counter() - t0
    progress("sampled")
    sampling = float(idata.posterior.attrs["sampling_time"])
    out = {"total_s": total, "sampling_s": sampling, "setup_s": total - sampling}
    out.update(_nuts_summary(idata, data, standardised=False))
    return out


def run_pyirt(spec: dict, data: dict, progress: Progress) -> dict:
    """py-irt's hierarchical 2PL by SVI (runs under the peer interpreter)."""
    import pyro
    import torch
    from py_irt.config import IrtConfig
    from py_irt.dataset import Dataset
    from py_irt.training import IrtModelTrainer

    t0 = time.perf_counter()
    subjects = [str(x) for x in data["subjects"]]
    items = [str(x) for x in data["items"]]
    n_obs = len(data["response"])
    dataset = Dataset(
        item_ids=set(items),
        subject_ids=set(subjects),
        item_id_to_ix={name: k for k, name in enumerate(items)},
        ix_to_item_id=dict(enumerate(items)),
        subject_id_to_ix={name: k for k, name in enumerate(subjects)},
        ix_to_subject_id=dict(enumerate(subjects)),
        observation_subjects=data["subject_index"].tolist(),
        observation_items=data["item_index"].tolist(),
        observations=data["response"].astype(float).tolist(),
        training_example=[True] * n_obs,
    )
    config = IrtConfig(
        model_type="2pl", priors="hierarchical", epochs=spec["pyirt_epochs"], seed=spec["seed"]
    )
    pyro.set_rng_seed(spec["seed"])
    trainer = IrtModelTrainer(data_path=None, config=config, dataset=dataset, verbose=False)
    t1 = time.perf_counter()
    progress("built")
    trainer.train(device="cpu")
    t2 = time.perf_counter()
    progress("trained")
    store = pyro.get_param_store()
    with torch.no_grad():
        theta_mean = store["loc_ability"].detach().cpu().numpy().astype(float)
        theta_sd = store["scale_ability"].detach().cpu().numpy().astype(float)
        b_mean = store["loc_diff"].detach().cpu().numpy().astype(float)
        a_mean = np.exp(store["loc_slope"].detach().cpu().numpy().astype(float))
    out = {
        "setup_s": t1 - t0,
        "sampling_s": t2 - t1,
        "total_s": t2 - t0,
        "note": f"py-irt {_version('py-irt')}, {spec['pyirt_epochs']} SVI epochs; setup is "
        "building its Dataset; intervals are its mean-field normal ± 1.645 sd",
    }
    if "true_theta" in data:
        lo, hi = theta_mean - Z_INTERVAL * theta_sd, theta_mean + Z_INTERVAL * theta_sd
        truth = data["true_theta"]
        out.update(
            corr_theta=_corr(theta_mean, truth),
            corr_b=_corr(b_mean, data["true_b"]),
            corr_a=_corr(a_mean, data["true_a"]),
            coverage_theta=float(np.mean((truth >= lo) & (truth <= hi))),
        )
    return out


def _version(name: str) -> str:
    import importlib.metadata as md

    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "?"


def _nuts_summary(idata, data: dict, *, standardised: bool) -> dict:
    """Min bulk ESS and max R-hat over all parameters, divergences, and accuracy."""
    import arviz as az

    from bayesirt.inference.diagnostics import parameter_names

    names = parameter_names(idata.posterior)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ess = az.ess(idata, var_names=names, method="bulk")
        rhat = az.rhat(idata, var_names=names)
    min_ess, worst_ess = _extreme(ess, np.nanargmin)
    max_rhat, worst_rhat = _extreme(rhat, np.nanargmax)
    out = {
        "min_ess_bulk": min_ess,
        "worst_ess_bulk": worst_ess,
        "max_rhat": max_rhat,
        "worst_rhat": worst_rhat,
        "parameters": names,
    }
    if "diverging" in idata.sample_stats:
        out["divergences"] = int(idata.sample_stats["diverging"].sum())
    out.update(_accuracy(idata.posterior, data, standardised=standardised))
    return out


def _extreme(dataset, pick) -> tuple[float, str]:
    best, where = float("nan"), ""
    for name, var in dataset.data_vars.items():
        values = np.asarray(var.values, dtype=float).reshape(-1)
        if values.size == 0 or np.all(np.isnan(values)):
            continue
        k = int(pick(values))
        if math.isnan(best) or (values[k] < best if pick is np.nanargmin else values[k] > best):
            best, where = float(values[k]), f"{name}[{k}]" if values.size > 1 else name
    return best, where


def _accuracy(posterior, data: dict, *, standardised: bool) -> dict:
    """Posterior-mean correlations with the truth and 90% interval coverage of θ.

    The package's abilities are standardised over the fitted subjects in every draw, so they
    are compared with the true abilities standardised the same way (mean 0, sd 1, ``ddof=0``);
    the baseline's abilities have the population prior N(0, 1) and are compared with the raw
    truth. Correlations do not depend on the scale.
    """
    if "true_theta" not in data:
        return {}
    truth = data["true_theta"]
    if standardised:
        truth = (truth - truth.mean()) / truth.std()
    theta = _draws(posterior["theta"])
    lo, hi = np.quantile(theta, [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2], axis=0)
    return {
        "corr_theta": _corr(theta.mean(axis=0), truth),
        "corr_b": _corr(_draws(posterior["b"]).mean(axis=0), data["true_b"]),
        "corr_a": _corr(_draws(posterior["a"]).mean(axis=0), data["true_a"]),
        "coverage_theta": float(np.mean((truth >= lo) & (truth <= hi))),
    }


def _draws(var) -> np.ndarray:
    """(chain, draw, k) → (chain × draw, k)."""
    values = np.asarray(var.values, dtype=float)
    return values.reshape(-1, values.shape[-1])


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(np.asarray(x, dtype=float), np.asarray(y, dtype=float))[0, 1])


if __name__ == "__main__":
    sys.exit(main())
