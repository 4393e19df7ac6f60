"""Auditing subjects (issue 22): planted contamination on simulated leaderboards, the rate at
which clean subjects are flagged, and the audit of real leaderboards.

**Planted.** For each of ``--seeds`` seeds, a simulated 2PL leaderboard of 60 subjects × 400
items (``simulate_responses(60, 400, seed=100 + k)``) whose items are labelled "old" and "new"
alternately (item metadata ``release``). Two subjects, drawn at random, are contaminated:

* subject A answers 60 items (15% of the benchmark) right regardless of its ability, drawn
  among the 100 hardest "old" items: person fit should flag it, and the contamination screen
  should flag its "old" group and not its "new" one;
* subject B answers 30 items right, drawn among the 200 hardest of all items (15% of the
  hardest half): a weaker planting.

Each data set is fitted with the defaults (2PL until converged) and audited at ``alpha =
0.05``. The other 58 subjects are clean. **Null.** ``--null-seeds`` (default ``--seeds``)
more data sets with nothing planted (``seed=200 + k``): the share of subjects and of
(subject, group) pairs flagged. Every rate is given for the flags of the audit (person fit
by sampled posterior p-values), with the suffix ``_by_ppp`` for the conservative posterior
predictive p-values at the same level, and ``_by_excess`` for the excess of surprising right
answers (``flagged_excess``).

**Planted DIF.** For each of ``--dif-seeds`` seeds, a simulated 2PL of 400 subjects (two
families of 200, alternating) × 200 items (``seed=300 + k``) in which 20 random items are 0.8
logits harder for one family, answers redrawn from the truth; and as many with no DIF
(``seed=400 + k``). Each is fitted with the DIF model (``model="2pl-dif"``,
``dif_by="family"``) and audited: the share of planted items flagged (interval rule and
Benjamini–Hochberg rule) and of the other items flagged. **Planted slope DIF** (``--only
slopes``, ``--slope-seeds`` seeds): the same shape, 20 random items with a third of their
slope for one family (``seed=500 + k``) and as many null data sets (``seed=600 + k``), fitted
with ``dif_slopes=True``.

**Real.** Default fits and the audit of ChemBench (22 × 2,854), AlpacaEval 2 (58 × 805, win =
``correct >= 0.5``, grouped by the instructions' source ``category``) and metabench gsm8k
(train, 5,041 × 249): what is flagged and how long the fit and the audit take.

    python benchmarks/audit.py                    # everything (over an hour on 2 cores)
    python benchmarks/audit.py --only simulated --seeds 20
    python benchmarks/audit.py --only real
    python benchmarks/audit.py --only dif --dif-seeds 8
    python benchmarks/audit.py --only slopes --slope-seeds 4
    python benchmarks/audit.py --only simulated --fits /tmp/audit_fits   # keep the fits, reuse them

Results are appended to ``results/audit.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

import bayesirt
from bayesirt.analysis.audit import audit
from bayesirt.analysis.posterior import fitted_responses
from bayesirt.data.sources import load_source

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "audit.json"
ALPHA = 0.05


def _fit(responses, name: str, fits: Path | None):
    """The default fit of ``responses`` and its seconds; with a folder ``fits`` (``--fits``),
    a fit saved there under ``name`` is reused when its answers are these (its seconds are
    those of the run that made it, NaN when that run did not record them)."""
    path = fits / f"{name}.nc" if fits is not None else None
    if path is not None and path.exists():
        idata = az.from_netcdf(path)
        if fitted_responses(idata).to_wide().equals(responses.to_wide()):
            return idata, float(idata.attrs.get("benchmark_fit_seconds", np.nan))
    started = time.perf_counter()
    idata = bayesirt.fit(responses, model="2pl", random_seed=1, progressbar=False)
    seconds = time.perf_counter() - started
    if path is not None:
        idata.attrs["benchmark_fit_seconds"] = seconds
        idata.to_netcdf(path)
    return idata, seconds


def _planted(seed: int, rng: np.random.Generator, fits: Path | None) -> dict:
    responses, truth = bayesirt.simulate_responses(60, 400, seed=seed)
    wide = responses.to_wide()
    items = wide.columns
    release = pd.Series(np.where(np.arange(len(items)) % 2 == 0, "old", "new"), index=items)
    difficulty = truth["b"].to_series().loc[items]
    a, b = rng.choice(wide.index, size=2, replace=False)
    hard_old = difficulty[release == "old"].sort_values(ascending=False).index[:100]
    hard = difficulty.sort_values(ascending=False).index[:200]
    wide.loc[a, rng.choice(hard_old, size=60, replace=False)] = 1.0
    wide.loc[b, rng.choice(hard, size=30, replace=False)] = 1.0
    data = bayesirt.Responses.from_wide(wide, item_meta=release.rename("release").to_frame())
    idata, fit_seconds = _fit(data, f"planted_{seed}", fits)
    started = time.perf_counter()
    result = audit(idata, item_groups="release", alpha=ALPHA)
    audit_seconds = time.perf_counter() - started
    subjects = result["subjects"].set_index("subject")
    groups = result["groups"].set_index(["subject", "group"])
    clean = subjects.drop(index=[a, b])
    ability = truth["theta"].to_series().rank(pct=True)
    return {
        "seed": seed,
        "converged": bayesirt.inference.io.fit_diagnostics(idata)["converged"],
        "fit_seconds": round(fit_seconds, 1),
        "audit_seconds": round(audit_seconds, 2),
        "a_ability_percentile": float(ability[a]),
        "a_p_value": float(subjects.loc[a, "p_value"]),
        "a_flagged": bool(subjects.loc[a, "flagged"]),
        "a_ppp_flagged": bool(subjects.loc[a, "ppp"] < ALPHA),
        "a_excess_flagged": bool(subjects.loc[a, "flagged_excess"]),
        "a_old_p_better": float(groups.loc[(a, "old"), "p_better"]),
        "a_old_flagged": bool(groups.loc[(a, "old"), "flagged"]),
        "a_old_ppp_flagged": bool(groups.loc[(a, "old"), "ppp_better"] > 1 - ALPHA),
        "a_new_flagged": bool(groups.loc[(a, "new"), "flagged"]),
        "b_ability_percentile": float(ability[b]),
        "b_p_value": float(subjects.loc[b, "p_value"]),
        "b_flagged": bool(subjects.loc[b, "flagged"]),
        "b_ppp_flagged": bool(subjects.loc[b, "ppp"] < ALPHA),
        "b_excess_flagged": bool(subjects.loc[b, "flagged_excess"]),
        "clean_flagged": float(clean["flagged"].mean()),
        "clean_ppp_flagged": float((clean["ppp"] < ALPHA).mean()),
        "clean_excess_flagged": float(clean["flagged_excess"].mean()),
        "clean_groups_flagged": float(groups.drop(index=[a, b], level="subject")["flagged"].mean()),
    }


def _null(seed: int, fits: Path | None) -> dict:
    responses, _ = bayesirt.simulate_responses(60, 400, seed=seed)
    release = pd.Series(
        np.where(np.arange(responses.n_items) % 2 == 0, "old", "new"), index=responses.items
    )
    data = responses.with_item_meta(release.rename("release").to_frame())
    idata, _ = _fit(data, f"null_{seed}", fits)
    result = audit(idata, item_groups="release", alpha=ALPHA)
    subjects, groups = result["subjects"], result["groups"]
    ability = idata.posterior["theta"].mean(("chain", "draw")).to_series()
    return {
        "seed": seed,
        "ability": [round(float(t), 3) for t in ability.loc[subjects["subject"]]],
        "flagged": float(subjects["flagged"].mean()),
        "ppp_flagged": float((subjects["ppp"] < ALPHA).mean()),
        "excess_flagged": float(subjects["flagged_excess"].mean()),
        "groups_flagged": float(groups["flagged"].mean()),
        "groups_ppp_flagged": float((groups["ppp_better"] > 1 - ALPHA).mean()),
        "p_values": [round(float(p), 4) for p in subjects["p_value"]],
        "ppp": [round(float(p), 4) for p in subjects["ppp"]],
        "p_excess": [round(float(p), 4) for p in subjects["p_excess"]],
    }


def _by_ability_quintile(null: list[dict]) -> dict:
    """Share of the null subjects flagged by person fit and by the excess, per quintile of
    their fitted ability (posterior mean), lowest first."""
    frame = pd.DataFrame(
        {
            key: np.concatenate([run[key] for run in null])
            for key in ("ability", "p_values", "p_excess")
        }
    )
    quintile = pd.qcut(frame["ability"], 5, labels=False)
    by = frame.groupby(quintile)
    return {
        "null_flagged_by_ability_quintile": by["p_values"]
        .apply(lambda p: (p < ALPHA).mean())
        .round(3)
        .tolist(),
        "null_excess_flagged_by_ability_quintile": by["p_excess"]
        .apply(lambda p: (p > 1 - ALPHA).mean())
        .round(3)
        .tolist(),
    }


def simulated(n_seeds: int, n_null: int, fits: Path | None = None) -> dict:
    rng = np.random.default_rng(22)
    planted = [_planted(100 + k, rng, fits) for k in range(n_seeds)]
    null = [_null(200 + k, fits) for k in range(n_null)]
    frame = pd.DataFrame(planted)
    return {
        "planted": planted,
        "null": [
            {k: v for k, v in run.items() if k not in ("p_values", "ppp", "p_excess", "ability")}
            for run in null
        ],
        **_by_ability_quintile(null),
        "a_detected": float(frame["a_flagged"].mean()),
        "a_detected_by_ppp": float(frame["a_ppp_flagged"].mean()),
        "a_detected_by_excess": float(frame["a_excess_flagged"].mean()),
        "a_detected_by_fit_or_excess": float(
            (frame["a_flagged"] | frame["a_excess_flagged"]).mean()
        ),
        "a_old_group_detected": float(frame["a_old_flagged"].mean()),
        "a_old_group_detected_by_ppp": float(frame["a_old_ppp_flagged"].mean()),
        "b_detected": float(frame["b_flagged"].mean()),
        "b_detected_by_ppp": float(frame["b_ppp_flagged"].mean()),
        "b_detected_by_excess": float(frame["b_excess_flagged"].mean()),
        "a_new_group_flagged": float(frame["a_new_flagged"].mean()),
        "clean_flagged_in_planted": float(frame["clean_flagged"].mean()),
        "clean_flagged_in_planted_by_ppp": float(frame["clean_ppp_flagged"].mean()),
        "clean_flagged_in_planted_by_excess": float(frame["clean_excess_flagged"].mean()),
        "clean_groups_flagged_in_planted": float(frame["clean_groups_flagged"].mean()),
        "null_flagged": float(np.mean([run["flagged"] for run in null])),
        "null_flagged_by_ppp": float(np.mean([run["ppp_flagged"] for run in null])),
        "null_flagged_by_excess": float(np.mean([run["excess_flagged"] for run in null])),
        "null_groups_flagged": float(np.mean([run["groups_flagged"] for run in null])),
        "null_groups_flagged_by_ppp": float(np.mean([run["groups_ppp_flagged"] for run in null])),
        **{
            f"null_{key}_deciles": np.quantile(
                np.concatenate([run[key] for run in null]), np.linspace(0.1, 0.9, 9)
            )
            .round(3)
            .tolist()
            for key in ("p_values", "ppp", "p_excess")
        },
    }


def _dif_data(seed: int, shift: float, slope_ratio: float = 1.0):
    """400 subjects (families "a" and "b" alternating) × 200 items of a 2PL in which 20 random
    items are ``shift`` logits harder for family "b" and have their slope divided by
    ``slope_ratio`` for it; the data and the planted items."""
    responses, truth = bayesirt.simulate_responses(400, 200, seed=seed)
    subjects, items = responses.subjects, responses.items
    family = np.where(np.arange(len(subjects)) % 2 == 0, "a", "b")
    rng = np.random.default_rng(seed)
    planted = rng.choice(len(items), size=20, replace=False)
    theta = truth["theta"].to_series().loc[subjects].to_numpy()
    a = np.tile(truth["a"].to_series().loc[items].to_numpy(), (len(subjects), 1))
    b = truth["b"].to_series().loc[items].to_numpy()
    a[np.ix_(family == "b", planted)] /= slope_ratio
    logit = a * (theta[:, None] - b)
    logit[np.ix_(family == "b", planted)] -= shift
    y = (rng.uniform(size=logit.shape) < 1 / (1 + np.exp(-logit))).astype(float)
    meta = pd.DataFrame({"family": family}, index=pd.Index(subjects, name="subject"))
    data = bayesirt.Responses.from_wide(
        pd.DataFrame(y, index=subjects, columns=items), subject_meta=meta
    )
    return data, items[planted]


def _dif_run(seed: int, shift: float) -> dict:
    data, chosen = _dif_data(seed, shift)
    started = time.perf_counter()
    idata = bayesirt.fit(data, model="2pl-dif", dif_by="family", random_seed=1, progressbar=False)
    fit_seconds = time.perf_counter() - started
    table = audit(idata, alpha=ALPHA)["items"].set_index("item")
    others = table.drop(index=chosen)
    return {
        "seed": seed,
        "shift": shift,
        "converged": bayesirt.inference.io.fit_diagnostics(idata)["converged"],
        "fit_seconds": round(fit_seconds, 1),
        "planted_flagged": float(table.loc[chosen, "flagged"].mean()),
        "planted_flagged_fdr": float(table.loc[chosen, "flagged_fdr"].mean()),
        "planted_mean_dif": float(table.loc[chosen, "dif"].mean()),
        "other_flagged": float(others["flagged"].mean()),
        "other_flagged_fdr": float(others["flagged_fdr"].mean()),
    }


def _slope_run(seed: int, ratio: float) -> dict:
    data, chosen = _dif_data(seed, 0.0, slope_ratio=ratio)
    started = time.perf_counter()
    idata = bayesirt.fit(
        data, model="2pl-dif", dif_by="family", dif_slopes=True, random_seed=1, progressbar=False
    )
    fit_seconds = time.perf_counter() - started
    table = audit(idata, alpha=ALPHA)["items"].set_index("item")
    others = table.drop(index=chosen)
    return {
        "seed": seed,
        "slope_ratio": ratio,
        "converged": bayesirt.inference.io.fit_diagnostics(idata)["converged"],
        "fit_seconds": round(fit_seconds, 1),
        "planted_slope_flagged": float(table.loc[chosen, "slope_flagged"].mean()),
        "planted_slope_flagged_fdr": float(table.loc[chosen, "slope_flagged_fdr"].mean()),
        "planted_mean_log_ratio": float(table.loc[chosen, "dif_slope"].mean()),
        "other_slope_flagged": float(others["slope_flagged"].mean()),
        "other_slope_flagged_fdr": float(others["slope_flagged_fdr"].mean()),
        "intercept_flagged": float(table["flagged"].mean()),
    }


def slopes(n_seeds: int) -> dict:
    """Planted slope DIF (20 items with a third of their slope for one family) and null data
    sets, fitted with ``dif_slopes=True``."""
    planted = [_slope_run(500 + k, 3.0) for k in range(n_seeds)]
    null = [_slope_run(600 + k, 1.0) for k in range(n_seeds)]
    frame, frame0 = pd.DataFrame(planted), pd.DataFrame(null)
    return {
        "planted": planted,
        "null": null,
        "planted_found": float(frame["planted_slope_flagged"].mean()),
        "planted_found_fdr": float(frame["planted_slope_flagged_fdr"].mean()),
        "planted_mean_log_ratio": float(frame["planted_mean_log_ratio"].mean()),
        "other_flagged": float(frame["other_slope_flagged"].mean()),
        "intercepts_flagged_planted": float(frame["intercept_flagged"].mean()),
        "null_flagged": float(
            (frame0["planted_slope_flagged"] * 20 + frame0["other_slope_flagged"] * 180).mean()
            / 200
        ),
        "null_flagged_fdr": float(
            (
                frame0["planted_slope_flagged_fdr"] * 20 + frame0["other_slope_flagged_fdr"] * 180
            ).mean()
            / 200
        ),
        "null_intercepts_flagged": float(frame0["intercept_flagged"].mean()),
    }


def dif(n_seeds: int) -> dict:
    planted = [_dif_run(300 + k, 0.8) for k in range(n_seeds)]
    null = [_dif_run(400 + k, 0.0) for k in range(n_seeds)]
    frame, frame0 = pd.DataFrame(planted), pd.DataFrame(null)
    return {
        "planted": planted,
        "null": null,
        "planted_found": float(frame["planted_flagged"].mean()),
        "planted_found_fdr": float(frame["planted_flagged_fdr"].mean()),
        "other_flagged": float(frame["other_flagged"].mean()),
        "other_flagged_fdr": float(frame["other_flagged_fdr"].mean()),
        "null_flagged": float(
            (frame0["planted_flagged"] * 20 + frame0["other_flagged"] * 180).mean() / 200
        ),
        "null_flagged_fdr": float(
            (frame0["planted_flagged_fdr"] * 20 + frame0["other_flagged_fdr"] * 180).mean() / 200
        ),
    }


REAL = {
    "chembench": ("dataset:chembench", {}, None),
    "alpacaeval2": (
        str(SHARED / "alpacaeval2/responses_tidy.csv"),
        {"response": "correct", "threshold": 0.5},
        "category",
    ),
    "gsm8k": (str(SHARED / "metabench/gsm8k_train_responses_wide.csv"), {}, None),
}


def real(names, fits: Path | None = None) -> dict:
    out = {}
    for name in names:
        source, options, groups = REAL[name]
        responses = load_source(source, **options)
        if name == "alpacaeval2":
            meta = pd.read_csv(SHARED / "alpacaeval2/items.csv", index_col="item")
            responses = responses.with_item_meta(meta[["category"]])
        idata, fit_seconds = _fit(responses, name, fits)
        started = time.perf_counter()
        result = audit(idata, item_groups=groups, alpha=ALPHA)
        audit_seconds = time.perf_counter() - started
        subjects = result["subjects"]
        record = {
            "shape": [responses.n_subjects, responses.n_items],
            "converged": bayesirt.inference.io.fit_diagnostics(idata)["converged"],
            "fit_seconds": round(fit_seconds, 1),
            "audit_seconds": round(audit_seconds, 2),
            "flagged": int(subjects["flagged"].sum()),
            "worst": [
                {
                    "subject": row.subject,
                    "person_fit": round(float(row.person_fit), 2),
                    "p_value": float(row.p_value),
                    "drivers": row.drivers[:3],
                }
                for row in subjects.head(5).itertuples()
            ],
        }
        if groups is not None:
            table = result["groups"].sort_values("p_better", ascending=False)
            record["groups_flagged"] = int(table["flagged"].sum())
            record["top_groups"] = table.head(5).to_dict("records")
        out[name] = record
        print(name, json.dumps(record, indent=1, default=str), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["simulated", "real", "dif", "slopes"])
    parser.add_argument("--dif-seeds", type=int, default=8)
    parser.add_argument("--slope-seeds", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--null-seeds", type=int, help="null data sets (default: --seeds)")
    parser.add_argument("--real", nargs="*", choices=list(REAL), default=list(REAL))
    parser.add_argument("--fits", type=Path, help="folder to save fits in and reuse them from")
    args = parser.parse_args()
    if args.fits is not None:
        args.fits.mkdir(parents=True, exist_ok=True)
    record: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds")}
    if args.only in (None, "simulated"):
        record["simulated"] = simulated(args.seeds, args.null_seeds or args.seeds, args.fits)
        summary = {k: v for k, v in record["simulated"].items() if k not in ("planted", "null")}
        print(json.dumps(summary, indent=1), flush=True)
    if args.only in (None, "real"):
        record["real"] = real(args.real, args.fits)
    if args.only in (None, "dif"):
        record["dif"] = dif(args.dif_seeds)
        summary = {k: v for k, v in record["dif"].items() if k not in ("planted", "null")}
        print(json.dumps(summary, indent=1), flush=True)
    if args.only in (None, "slopes"):
        record["slopes"] = slopes(args.slope_seeds)
        summary = {k: v for k, v in record["slopes"].items() if k not in ("planted", "null")}
        print(json.dumps(summary, indent=1), flush=True)
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*runs, record], indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
