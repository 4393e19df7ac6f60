"""Linking two "versions" of metabench gsm8k against a joint fit of both (issue 23).

The gsm8k training table (``../shared/data/metabench``; 5,041 LLMs × 249 items) is split at
random (seeded): ``--subjects`` LLMs in two halves, and the items into two version-only sets
and the anchors shared by both (``--anchor-share`` of each version, 20% by default). Version 1
is the first half of the LLMs on its items and the anchors, version 2 the second half on
its own. Three 2PL fits (NUTS, package defaults): each version alone, and both together (the
joint fit: one table, the answers outside each version missing). Version 2 is linked onto
version 1 with :func:`bayesirt.analysis.link_items`; the joint fit is put on version 1's scale
the same way, through all of version 1's items. For the version-2-only items the two
estimates on the same scale are compared: correlation of the posterior means, the share of
items whose joint-fit mean lies inside the linked 90% interval (and the reverse), and the
anchors flagged for drift (between two random halves of the same LLM population, few should
be).

    python benchmarks/linking_gsm8k.py          # about 15 minutes on 2 cores

Writes ``--results``/``linking_gsm8k.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tables import markdown

import bayesirt
from bayesirt.analysis import link_items
from bayesirt.inference.io import fit_diagnostics

DATA = Path(__file__).resolve().parents[2] / "shared/data/metabench/gsm8k_train_responses_wide.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=2000, help="LLMs used (both halves)")
    parser.add_argument("--anchor-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    wide = pd.read_csv(DATA, index_col="subject")
    rng = np.random.default_rng(args.seed)
    subjects = rng.permutation(wide.index)[: args.subjects]
    first, second = subjects[: args.subjects // 2], subjects[args.subjects // 2 :]
    items = rng.permutation(wide.columns)
    # anchors K and version-only items U per version with K / (U + K) = anchor share
    n_anchor = round(len(items) * args.anchor_share / (2 - args.anchor_share))
    anchors = items[:n_anchor]
    only_1 = items[n_anchor : n_anchor + (len(items) - n_anchor) // 2]
    only_2 = items[n_anchor + len(only_1) :]
    version_1 = wide.loc[first, [*only_1, *anchors]]
    version_2 = wide.loc[second, [*anchors, *only_2]]
    joint = pd.concat([version_1, version_2])[[*only_1, *anchors, *only_2]]

    fits, seconds = {}, {}
    for name, table in [("version 1", version_1), ("version 2", version_2), ("joint", joint)]:
        start = time.perf_counter()
        data = bayesirt.Responses.from_wide(table.rename_axis("subject"))
        fits[name] = bayesirt.fit(data, model="2pl", random_seed=args.seed, progressbar=False)
        seconds[name] = time.perf_counter() - start
        print(f"{name}: {data!r}, {seconds[name]:.0f} s", flush=True)

    linked = link_items(fits["version 1"], fits["version 2"])
    on_1 = link_items(fits["version 1"], fits["joint"], anchors=[*only_1, *anchors])
    targets = [str(i) for i in only_2]
    a, b = linked.items.loc[targets], on_1.items.loc[targets]

    def inside(point: pd.Series, lo: pd.Series, hi: pd.Series) -> float:
        return float(((lo <= point) & (point <= hi)).mean())

    row = {
        "LLMs per version": len(first),
        "items: version-only / anchors": f"{len(only_1)} + {len(only_2)} / {len(anchors)}",
        "fits converged": all((fit_diagnostics(f) or {}).get("converged") for f in fits.values()),
        "fit s (v1, v2, joint)": ", ".join(f"{s:.0f}" for s in seconds.values()),
        "corr b": np.corrcoef(a["b_mean"], b["b_mean"])[0, 1],
        "joint b inside linked 90%": inside(b["b_mean"], a["b_lo"], a["b_hi"]),
        "linked b inside joint 90%": inside(a["b_mean"], b["b_lo"], b["b_hi"]),
        "corr a": np.corrcoef(a["a_mean"], b["a_mean"])[0, 1],
        "joint a inside linked 90%": inside(b["a_mean"], a["a_lo"], a["a_hi"]),
        "anchors flagged": f"{int(linked.anchors['flagged'].sum())} / {len(anchors)}",
    }
    text = markdown(pd.DataFrame([row]))
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "linking_gsm8k.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
