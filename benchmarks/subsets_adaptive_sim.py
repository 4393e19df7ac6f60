"""Adaptive tests against fixed subsets on simulated data: items needed for a posterior sd of 0.3.

A leaderboard-like 2PL truth (discriminations around 2, difficulties spread with sd 1.5, so
that many items are almost always right or almost always wrong, as on real benchmarks) gives
complete answers of training and test subjects. The 2PL is fitted to the training subjects
(NUTS by default); the test subjects then take

* adaptive tests (:func:`bayesirt.analysis.simulate_adaptive_test`, answers looked up in
  their simulated responses), with the variance selector (item parameters integrated over
  their posterior) and with the classic Fisher selector;
* fixed subsets of every selection method (:func:`bayesirt.analysis.select_items`), given in
  the same machinery (:class:`~bayesirt.tinybench.adaptive.FixedSelector`), so that every
  posterior sd below is the same cut posterior on the same grid.

Reported for each: the shortest length at which the mean posterior sd of θ over the test
subjects is at most 0.3, and the shortest at which 90% of them are at most 0.3; for the
adaptive tests also the items each test needs when it stops by itself at sd 0.3. Fixed
lengths are found by bisection (the sd is taken to fall with the length). Writes
``--results``/``subsets_adaptive_sim.md``.

    python benchmarks/subsets_adaptive_sim.py                 # NUTS, about 10 min on 2 cores
    python benchmarks/subsets_adaptive_sim.py --method advi   # quicker, narrower posterior
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

import bayesirt
from bayesirt.analysis import select_items, simulate_adaptive_test
from bayesirt.inference import fit_info
from bayesirt.tinybench import FixedSelector, SdOrBudgetStopper

TARGET_SD = 0.3
#: Share of the test subjects that must reach the target in the second criterion.
SHARE = 0.9
FIXED = ("random", "anchor", "fisher", "bayesian", "search")
SELECTORS = ("variance", "fisher")


def simulate(n_subjects: int, n_items: int, seed: int) -> bayesirt.Responses:
    """Complete 2PL answers: θ ~ N(0, 1), a = 2 exp(N(0, 0.3²)), b ~ N(0, 1.5²)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n_subjects)
    a = 2.0 * np.exp(rng.normal(0.0, 0.3, n_items))
    b = rng.normal(0.0, 1.5, n_items)
    y = (rng.random((n_subjects, n_items)) < expit(a * (theta[:, None] - b))).astype(np.int8)
    return bayesirt.Responses(
        subject_index=np.repeat(np.arange(n_subjects), n_items),
        item_index=np.tile(np.arange(n_items), n_subjects),
        response=y.ravel(),
        subjects=pd.Index([f"m{j:04d}" for j in range(n_subjects)]),
        items=pd.Index([f"q{i:04d}" for i in range(n_items)]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=300, help="training subjects")
    parser.add_argument("--test", type=int, default=200, help="test subjects")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--method", choices=["nuts", "advi"], default="nuts")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-length", type=int, default=60, help="longest test considered")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    started = time.perf_counter()

    responses = simulate(args.train + args.test, args.items, args.seed)
    subjects = list(responses.subjects)
    training = responses.subset(subjects=subjects[: args.train])
    test = responses.subset(subjects=subjects[args.train :])
    settings = {"draws": args.draws, "random_seed": args.seed, "progressbar": False}
    if args.method == "nuts":
        settings.update(tune=args.draws, chains=2)
    else:
        settings.update(chains=1)
    idata = bayesirt.fit(training, model="2pl", method=args.method, **settings)
    diagnostics = fit_info(idata)["diagnostics"]
    fit_seconds = time.perf_counter() - started

    rows = []
    for selector in SELECTORS:
        free = simulate_adaptive_test(idata, test, selector=selector, seed=0)
        fixed_length = simulate_adaptive_test(
            idata,
            test,
            selector=selector,
            stopper=SdOrBudgetStopper(target_sd=None, max_items=args.max_length),
            seed=0,
        )
        per_step = fixed_length.history.groupby("step")["theta_sd"]
        n = free.summary["n_items"]
        rows.append(
            {
                "design": f"adaptive ({selector} selector)",
                "mean sd <= 0.3": _first(per_step.mean() <= TARGET_SD, args.max_length),
                f"{SHARE:.0%} of subjects <= 0.3": _first(
                    per_step.apply(lambda sd: (sd <= TARGET_SD).mean()) >= SHARE, args.max_length
                ),
                "stopping at sd 0.3: mean (median, max) items": f"{n.mean():.1f} "
                f"({n.median():.0f}, {n.max()})",
                "reached": f"{(free.summary['stopped'] == 'sd').mean():.0%}",
            }
        )
    for method in FIXED:

        def sds(k: int, method: str = method) -> pd.Series:
            chosen = select_items(idata, method=method, budget=k, seed=0)
            run = simulate_adaptive_test(
                idata,
                test,
                selector=FixedSelector(list(chosen.items)),
                stopper=SdOrBudgetStopper(target_sd=None, max_items=k),
                seed=0,
            )
            return run.summary["theta_sd"]

        rows.append(
            {
                "design": f"fixed subset ({method})",
                "mean sd <= 0.3": _bisect(lambda k: sds(k).mean() <= TARGET_SD, args.max_length),
                f"{SHARE:.0%} of subjects <= 0.3": _bisect(
                    lambda k: (sds(k) <= TARGET_SD).mean() >= SHARE, args.max_length
                ),
                "stopping at sd 0.3: mean (median, max) items": "",
                "reached": "",
            }
        )
    table = pd.DataFrame(rows)
    text = report(args, table, diagnostics, fit_seconds, time.perf_counter() - started)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "subsets_adaptive_sim.md").write_text(text)
    print(text)


def _first(reached: pd.Series, longest: int) -> str:
    """The first step at which ``reached`` holds, or '> longest'."""
    steps = reached.index[reached.to_numpy()]
    return str(int(steps[0])) if len(steps) else f"> {longest}"


def _bisect(ok, longest: int) -> str:
    """Smallest k in 1..longest with ``ok(k)`` (taken to be monotone), or '> longest'."""
    if not ok(longest):
        return f"> {longest}"
    lo, hi = 1, longest
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
    return str(lo)


def report(args, table: pd.DataFrame, diagnostics: dict, fit_seconds: float, total: float) -> str:
    fit_label = (
        f"NUTS (nutpie), 2 chains × {args.draws} draws after {args.draws} tuning steps"
        if args.method == "nuts"
        else f"ADVI, {args.draws} draws"
    )
    converged = diagnostics.get("converged")
    head = (
        f"### Adaptive tests vs fixed subsets, simulated (`benchmarks/subsets_adaptive_sim.py`)\n\n"
        f"2PL truth, θ ~ N(0, 1), a = 2·exp(N(0, 0.3²)), b ~ N(0, 1.5²); {args.items} items; "
        f"{args.train} training subjects fitted by {fit_label} (converged: "
        f"{'yes' if converged else 'no: ' + '; '.join(diagnostics.get('problems', []))}; "
        f"{fit_seconds:.0f} s), {args.test} test subjects answering from their simulated "
        f"responses; seed {args.seed}; whole run {total / 60:.1f} min (2 shared, loaded "
        "cores). Items needed for a posterior sd of θ of at most 0.3:\n"
    )
    header = "| " + " | ".join(table.columns) + " |"
    lines = [header, "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.to_numpy()]
    return head + "\n" + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
