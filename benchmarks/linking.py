"""Linking a benchmark's next version onto the old fit's scale (issue 23).

A 2PL truth of ``2 × items − anchors`` questions is split into two versions sharing
``--anchors`` of them (20% of a version by default); version 1 is answered by models with
θ ~ N(0, 1), version 2 by other models with θ ~ N(0.5, 1.3²), so the two separate fits are on
different scales. Both are fitted by NUTS (package defaults), the second is linked onto the
first with :func:`bayesirt.analysis.link_items`, and the new items' linked parameters are
compared with the truth put on the first fit's scale (through version 1's own items):
correlation of the posterior means and coverage of the 90% intervals. A planted drift of
``--drift`` in one anchor's difficulty shows whether drift is found.

    python benchmarks/linking.py                         # about 3 minutes on 2 cores
    python benchmarks/linking.py --subjects 500          # about 4 minutes

Writes ``--results``/``linking_SUBJECTS.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from tables import markdown

import bayesirt
from bayesirt.analysis import link_items
from bayesirt.inference.io import fit_diagnostics


def version(theta, a, b, columns, rng, prefix):
    y = rng.random((len(theta), len(columns))) < expit(a[columns] * (theta[:, None] - b[columns]))
    wide = pd.DataFrame(
        y.astype(float),
        index=[f"{prefix}{j:03d}" for j in range(len(theta))],
        columns=[f"item_{i:03d}" for i in columns],
    )
    return bayesirt.Responses.from_wide(wide)


def run(seed: int, n_subjects: int, n_items: int, n_anchors: int, drift: float) -> dict:
    rng = np.random.default_rng(seed)
    total = 2 * n_items - n_anchors
    a = np.exp(rng.normal(0.3, 0.3, total))
    b = rng.normal(0.0, 1.0, total)
    theta_old = rng.normal(size=n_subjects)
    theta_new = 0.5 + 1.3 * rng.normal(size=n_subjects)
    first = np.arange(n_items)
    second = np.arange(n_items - n_anchors, total)
    drifted = n_items - n_anchors  # the first anchor
    b_second = b.copy()
    b_second[drifted] += drift
    old = version(theta_old, a, b, first, rng, "old_")
    new = version(theta_new, a, b_second, second, rng, "new_")
    start = time.perf_counter()
    fits = [bayesirt.fit(r, model="2pl", random_seed=seed, progressbar=False) for r in (old, new)]
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    linking = link_items(*fits)
    link_seconds = time.perf_counter() - start

    # The truth on the first fit's scale: the line from the true difficulties of version 1's
    # own items to their posterior means in the first fit (b_fit = α + β b, so a_fit = a / β).
    # Standardising the true abilities instead is off by a few percent: a fit's scale has its
    # ability *draws* at sd 1, and their spread includes each subject's posterior sd.
    own = [f"item_{i:03d}" for i in range(n_items - n_anchors)]
    fitted_b = fits[0].posterior["b"].sel(item=own).mean(("chain", "draw")).values
    beta, alpha = np.polyfit(b[: n_items - n_anchors], fitted_b, 1)
    only_new = [f"item_{i:03d}" for i in range(n_items, total)]
    truth_b = pd.Series(alpha + beta * b[n_items:], index=only_new)
    truth_a = pd.Series(a[n_items:] / beta, index=only_new)
    items = linking.items.loc[only_new]
    anchors = linking.anchors
    planted = f"item_{drifted:03d}"
    return {
        "seed": seed,
        "fits converged": all((fit_diagnostics(f) or {}).get("converged") for f in fits),
        "fit s (both)": fit_seconds,
        "link s": link_seconds,
        "corr b": np.corrcoef(items["b_mean"], truth_b)[0, 1],
        "cover b": ((items["b_lo"] <= truth_b) & (truth_b <= items["b_hi"])).mean(),
        "corr a": np.corrcoef(items["a_mean"], truth_a)[0, 1],
        "cover a": ((items["a_lo"] <= truth_a) & (truth_a <= items["a_hi"])).mean(),
        "A": linking.constants["A"].mean(),
        "B": linking.constants["B"].mean(),
        "planted drift flagged": bool(anchors.loc[planted, "flagged"]),
        "clean anchors flagged": int(anchors["flagged"].drop(planted).sum()),
        "anchors used": f"{int(anchors['used'].sum())} / {len(anchors)}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--subjects", type=int, default=150)
    parser.add_argument("--items", type=int, default=200, help="items per version")
    parser.add_argument("--anchors", type=int, default=40)
    parser.add_argument("--drift", type=float, default=1.0)
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        rows.append(run(seed, args.subjects, args.items, args.anchors, args.drift))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    text = markdown(table)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"linking_{args.subjects}.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
