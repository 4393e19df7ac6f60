"""New models added to a fit against a full refit (issue 23).

For each data set the 2PL is fitted (NUTS, package defaults) to all subjects but ``--new``
held out at random (seeded); the held-out subjects are then added to that fit with
:func:`bayesirt.analysis.scoring.add_subjects` (their cut posterior) and, for comparison, the
2PL is refitted to all subjects. Reported: the time of the addition and of the refit (one
after the other, in the same run), and how far the two agree: for the added subjects the
difference of their posterior means in units of the refit's posterior sd (the refit's scale
linked to the first fit's through the subjects they share), for every subject
whether the 90% rank intervals of the two overlap, the Spearman correlation of the mean
ranks, and the item drift check of the addition (:func:`item_drift`).

    python benchmarks/add_subjects.py                       # simulated and AlpacaEval 2
    python benchmarks/add_subjects.py --only simulated

Writes ``--results``/``add_subjects.md``. Needs ``../shared/data`` beside the repository.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tables import markdown

import bayesirt
from bayesirt.analysis import rank
from bayesirt.analysis.scoring import add_subjects, item_drift
from bayesirt.inference.io import fit_diagnostics

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def datasets(only: list[str] | None) -> dict[str, bayesirt.Responses]:
    out = {}
    if not only or "simulated" in only:
        out["simulated 2PL 60 × 400"] = bayesirt.simulate_responses(60, 400, seed=3)[0]
    if not only or "alpacaeval2" in only:
        out["AlpacaEval 2 (`correct` ≥ 0.5)"] = bayesirt.load_responses(
            SHARED / "alpacaeval2/responses_tidy.csv", response="correct", threshold=0.5
        )
    return out


def compare(data: bayesirt.Responses, n_new: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    subjects = pd.Index(data.subjects.astype(str))
    new = pd.Index(rng.choice(subjects, size=n_new, replace=False))
    old = subjects.difference(new, sort=False)
    base = bayesirt.fit(data.subset(subjects=old), model="2pl", random_seed=seed, progressbar=False)

    start = time.perf_counter()
    added = add_subjects(base, data.subset(subjects=new), random_seed=seed)
    drift = item_drift(added, random_seed=seed)
    add_seconds = time.perf_counter() - start

    start = time.perf_counter()
    full = bayesirt.fit(data, model="2pl", random_seed=seed, progressbar=False)
    refit_seconds = time.perf_counter() - start

    # The two fits standardise θ over different subjects (the refit's scale also counts the
    # new ones), so the refit is put on the first fit's scale by the mean and sd of the
    # fitted subjects' posterior means in each (mean-sigma linking) before comparing.
    theta_added = added.posterior["theta"]
    theta_full = full.posterior["theta"].sel(subject=theta_added["subject"])
    mean_added = theta_added.mean(("chain", "draw")).to_series()
    mean_full = theta_full.mean(("chain", "draw")).to_series()
    sd_full = theta_full.std(("chain", "draw")).to_series()
    scale = mean_added.loc[old].std() / mean_full.loc[old].std()
    linked = (mean_full - mean_full.loc[old].mean()) * scale + mean_added.loc[old].mean()
    gap = (mean_added - linked) / (sd_full * scale)
    ranks = {}
    for label, idata in [("added", added), ("full", full)]:
        result = rank(idata)
        ranks[label] = pd.DataFrame(
            {k: result[k].to_series() for k in ("mean_rank", "rank_lo", "rank_hi")}
        )
    a, f = ranks["added"], ranks["full"].loc[ranks["added"].index]
    worst = np.abs(gap.loc[new])
    overlap = (a["rank_lo"] <= f["rank_hi"]) & (f["rank_lo"] <= a["rank_hi"])
    return {
        "subjects × items": f"{data.n_subjects} × {data.n_items}",
        "added": n_new,
        "add s": add_seconds,
        "refit s": refit_seconds,
        "time ratio": add_seconds / refit_seconds,
        "median |Δθ| / sd, added": float(np.abs(gap.loc[new]).median()),
        "max |Δθ| / sd, added": f"{worst.max():.2f} ({worst.idxmax()})",
        "max |Δθ| / sd, all": float(np.abs(gap).max()),
        "rank intervals overlapping": f"{int(overlap.sum())} / {len(overlap)}",
        "Spearman of mean ranks": a["mean_rank"].corr(f["mean_rank"], method="spearman"),
        "drift p": drift.attrs["p_overall"],
        "items flagged": f"{int(drift['flagged'].sum())} / {len(drift)}",
        "base fit converged": (fit_diagnostics(base) or {}).get("converged"),
        "refit converged": (fit_diagnostics(full) or {}).get("converged"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--new", type=int, default=10, help="subjects held out and added")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", choices=["simulated", "alpacaeval2"])
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rows = []
    for name, data in datasets(args.only).items():
        print(f"{name}: {data!r}", flush=True)
        rows.append({"data": name, **compare(data, args.new, args.seed)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    text = markdown(table)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "add_subjects.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
