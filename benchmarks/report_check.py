"""The diagnostics report of a real benchmark, rendered and checked in headless Chromium.

Fits a model to a public dataset (ChemBench 2PL by ADVI by default, to keep it cheap: its
intervals are too narrow, so the tiers and separability it reports are optimistic), builds the
HTML report, prints the headline numbers (flagged items, the ability range measured with a
standard error at most ``--se-max``, separability of the top models) and, when a ``chromium``
binary exists, renders the file headless and checks that every section and image is there.

    BAYESIRT_DATA_CACHE=../shared/data/raw python benchmarks/report_check.py --out report.html

Timings are wall-clock on whatever machine runs it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import bayesirt
from bayesirt.analysis.ppc import STATISTICS, ppc, ppc_table
from bayesirt.analysis.quality import assess_quality
from bayesirt.reports.report import SECTIONS, build_report
from bayesirt.testing import check_rendering, find_chromium


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="chembench")
    parser.add_argument("--model", default="2pl")
    parser.add_argument("--method", default="advi", choices=["advi", "nuts"])
    parser.add_argument("--advi-iterations", type=int, default=20_000)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--se-max", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("report.html"))
    args = parser.parse_args()

    responses = bayesirt.datasets.load(args.dataset)
    print(f"{args.dataset}: {responses!r}")
    started = time.perf_counter()
    options = (
        {"advi_iterations": args.advi_iterations, "draws": args.draws}
        if args.method == "advi"
        else {"draws": args.draws, "tune": args.draws, "chains": 2}
    )
    idata = bayesirt.fit(
        responses,
        model=args.model,
        method=args.method,
        random_seed=args.seed,
        progressbar=False,
        **options,
    )
    print(f"fit ({args.method}, {options}): {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    checks = ppc(idata, statistics=tuple(STATISTICS), n_draws=400, random_seed=args.seed)
    quality = assess_quality(idata, se_max=args.se_max, item_fit=checks)
    print(f"checks and quality: {time.perf_counter() - started:.0f} s")
    print(ppc_table(checks).drop(columns="discrepancy").to_string(float_format="%.3f"))
    summary = quality.summary()
    print(json.dumps(summary, indent=1))
    flagged = quality.flagged
    against = flagged[flagged["reasons"].str.contains("against")]
    print(f"\nagainst ability ({len(against)} items):")
    print(against[["accuracy", "a", "b", "item_rest", "item_rest_rep", "p_low"]].to_string())
    info = quality.information
    theta = info["subject_theta"].to_series().sort_values()
    print(f"\nsubject abilities from {theta.iloc[0]:.2f} to {theta.iloc[-1]:.2f}")
    print("SE at the subjects' abilities (posterior median test information):")
    se_at = np.interp(theta.to_numpy(), info["theta"].values, info["se"].values)
    print(f"  min {se_at.min():.3f}, median {np.median(se_at):.3f}, max {se_at.max():.3f}")
    print(quality.separability.sentence)
    print(
        quality.separability.table[
            ["tier", "mean_rank", "rank_lo", "rank_hi", "p_beats_next"]
        ].to_string()
    )

    started = time.perf_counter()
    build_report({f"{args.dataset}-{args.model}": idata}, out=args.out, se_max=args.se_max)
    size = args.out.stat().st_size / 2**20
    print(f"\nreport: {args.out} ({size:.1f} MiB) in {time.perf_counter() - started:.0f} s")
    if find_chromium() is None:
        print("no chromium binary: the rendering check is skipped")
        return
    probe = check_rendering(args.out)
    sections = [key for key in SECTIONS if key in probe["sections"]]
    print(
        f"chromium: sections {sections}, {probe['images_ok']} of {probe['images']} images "
        f"decoded, errors: {probe['errors'] or 'none'}"
    )


if __name__ == "__main__":
    main()
