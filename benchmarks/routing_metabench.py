"""Routing and unseen-benchmark prediction on metabench (issue 21).

The multi-benchmark matrix: the LLMs present in all five metabench train sets (arc, gsm8k,
mmlu, truthfulqa, winogrande of the Open LLM Leaderboard v1; 2,461 LLMs × 693 questions, every
cell observed), the questions' text from ``*_items.csv`` (the last block of each few-shot
prompt: the question itself, with mmlu's subject line). Features: TF-IDF + truncated SVD of
those texts (:func:`bayesirt.data.features.text_features`, 20 components), computed once on all
693 texts (unsupervised: no answer is used).

**Routing.** 20% of each benchmark's questions are held out (seed 0) and pools of 20 LLMs are
drawn from the fitted LLMs (seeds 0 to ``--pools`` - 1, five by default). Fitted once on the
training questions (all LLMs, or ``--llms N`` of them drawn with seed 1), by ADVI:

* ``mirt-explanatory``: the explanatory MIRT (``--traits`` traits, default 3) pooled by
  benchmark; routes each held-out question by posterior P(correct) from its text
  (:func:`bayesirt.analysis.route`);
* ``2pl``: the plain 2PL pooled by benchmark, no text; a held-out question is a new item of its
  benchmark, so it routes by ability alone;
* ``knn``: a k-nearest-neighbour router on the same features (EmbedLLM-style): P(correct) of an
  LLM is its accuracy on the ``--k`` training questions closest in cosine similarity;
* ``best LLM per benchmark``: the pool's most accurate LLM on the training questions of the
  question's benchmark;
* ``best single``: the pool's most accurate LLM on the training questions; ``oracle``: right
  whenever any pool LLM is.

Reported: observed accuracy of each router on the held-out questions, the share of the gap
from the best single LLM to the oracle it closes, and the calibration of predicted
P(correct) over all pool × held-out pairs (expected calibration error over 10 equal-width bins,
and the reliability table).

**Unseen benchmark.** Each benchmark in turn is left out; the explanatory MIRT is fitted on the
other four and predicts every LLM's accuracy on the left-out one from its questions' text
alone (:func:`bayesirt.analysis.predict_benchmark`, a new benchmark effect per draw): MAE and
coverage of the 90% intervals against the observed accuracies. Baselines: the LLM's mean
accuracy on the other four, as it is and mapped linearly (the map fitted by leaving each of
the four training benchmarks out in turn, coefficients averaged), and, for reference only,
the linear map fitted on the left-out benchmark's own accuracies (it uses the answers).

With ``--answered K`` (default 10; 0 skips it) each left-out benchmark is also predicted from
its text plus ``K`` of its questions (drawn with seed 0) answered by every LLM: the fit
includes them as a benchmark of their own, and the accuracy on the benchmark's other questions
is predicted as that of new items of a fitted benchmark. Baselines: each LLM's accuracy on the
``K`` answered questions, and a linear map of it and the mean accuracy elsewhere (learned on
the training benchmarks, ``K`` questions of each drawn the same way).

    python benchmarks/routing_metabench.py [--llms N] [--traits K] [--only routing|unseen]
        [--answered K]

Results are written to ``benchmarks/results/routing_metabench.json`` and printed as Markdown.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from tables import markdown

import bayesirt
from bayesirt.analysis import predict_benchmark, predict_items, route
from bayesirt.analysis.predict import item_probabilities
from bayesirt.data import Responses
from bayesirt.data.features import text_features

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "metabench"
RESULTS = ROOT / "benchmarks" / "results" / "routing_metabench.json"
BENCHMARKS = ("arc", "gsm8k", "mmlu", "truthfulqa", "winogrande")


def question_text(prompt: str) -> str:
    """The question of a few-shot prompt: its last block (mmlu: with the subject line)."""
    blocks = prompt.strip().split("\n\n")
    if blocks[0].startswith("The following are") and len(blocks) > 1:
        return blocks[0] + "\n" + blocks[-1]
    return blocks[-1]


def load_matrix() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Answers (LLM × question, labels ``<benchmark>/<item>``), question texts, benchmarks."""
    tables, texts = [], []
    for name in BENCHMARKS:
        wide = pd.read_csv(DATA / f"{name}_train_responses_wide.csv", index_col=0)
        wide.columns = [f"{name}/{c}" for c in wide.columns]
        tables.append(wide)
        items = pd.read_csv(DATA / f"{name}_items.csv")
        texts.append(
            pd.Series(
                items["prompt"].map(question_text).to_numpy(),
                index=[f"{name}/{i}" for i in items["item"]],
            )
        )
    llms = sorted(set.intersection(*(set(t.index) for t in tables)))
    answers = pd.concat([t.loc[llms] for t in tables], axis=1)
    answers.index = answers.index.astype(str)
    text = pd.concat(texts).loc[answers.columns]
    benchmark = pd.Series([c.split("/")[0] for c in answers.columns], index=answers.columns)
    return answers, text, benchmark


def responses_of(answers: pd.DataFrame, benchmark: pd.Series) -> Responses:
    meta = pd.DataFrame({"benchmark": benchmark.loc[answers.columns]})
    return Responses.from_wide(answers, item_meta=meta)


def calibration(pred: np.ndarray, observed: np.ndarray, bins: int = 10) -> tuple[float, list]:
    """Expected calibration error over equal-width bins, and the reliability table."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(pred, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        if not inside.any():
            continue
        gap = abs(pred[inside].mean() - observed[inside].mean())
        ece += inside.mean() * gap
        table.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "n": int(inside.sum()),
                "predicted": float(pred[inside].mean()),
                "observed": float(observed[inside].mean()),
            }
        )
    return float(ece), table


def fit_advi(responses: Responses, model: str, **options) -> tuple[object, float]:
    started = time.perf_counter()
    idata = bayesirt.fit(
        responses, model=model, method="advi", pool_by="benchmark", progressbar=False, **options
    )
    return idata, time.perf_counter() - started


def two_pl_predictive(idata, pool: list[str], benchmarks: pd.Series, seed: int) -> np.ndarray:
    """Posterior predictive P(correct) (pool × question) of the plain 2PL for new items of
    their (fitted) benchmarks: item parameters drawn from the benchmark's population."""
    post = idata.posterior
    rng = np.random.default_rng(seed)
    groups = list(post["benchmark"].values)
    code = np.array([groups.index(b) for b in benchmarks])
    theta = post["theta"].sel(subject=pool).values.reshape(-1, len(pool))
    n = theta.shape[0]

    def draw(key):
        mean = post[f"mu_{key}_group"].values.reshape(n, -1)[:, code]
        sigma = post[f"sigma_{key}"].values.reshape(n, 1)
        return mean + sigma * rng.standard_normal((n, len(code)))

    a, d = np.exp(draw("log_a")), draw("intercept")
    return expit(theta[:, :, None] * a[:, None, :] + d[:, None, :]).mean(axis=0)


def knn_probabilities(features, train, test, answers, pool, k: int) -> np.ndarray:
    """P(correct) (pool × test question): the LLM's accuracy on the k nearest training
    questions by cosine similarity of the features."""
    x = features.to_numpy()
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    idx = {q: i for i, q in enumerate(features.index)}
    sim = x[[idx[q] for q in test]] @ x[[idx[q] for q in train]].T
    nearest = np.argsort(-sim, axis=1)[:, :k]
    y = answers.loc[pool, train].to_numpy()
    return y[:, nearest].mean(axis=2)


def routing(answers, text, benchmark, features, args) -> dict:
    rng = np.random.default_rng(0)
    test = []
    for name in BENCHMARKS:
        items = benchmark.index[benchmark == name]
        test.extend(rng.choice(items, size=round(0.2 * len(items)), replace=False))
    test = pd.Index(test)
    train = answers.columns.difference(test, sort=False)
    fitted_llms = _llm_sample(answers.index, [], args.llms)
    train_responses = responses_of(answers.loc[fitted_llms, train], benchmark)
    mirt, mirt_seconds = fit_advi(
        train_responses,
        "mirt-explanatory",
        item_features=features.loc[train],
        n_traits=args.traits,
    )
    two_pl, two_pl_seconds = fit_advi(train_responses, "2pl")
    bank = predict_items(mirt, features.loc[test], benchmark=benchmark.loc[test])

    rows, calib, pools = [], {}, []
    for seed in range(args.pools):
        pool = list(np.random.default_rng(seed).choice(fitted_llms, size=20, replace=False))
        y_test = answers.loc[pool, test].to_numpy()
        oracle = y_test.max(axis=0).mean()
        train_accuracy = answers.loc[pool, train].mean(axis=1)
        best = train_accuracy.idxmax()
        best_single = answers.loc[best, test].mean()

        def record(
            name,
            chosen_index,
            probs,
            seed=seed,
            y_test=y_test,
            oracle=oracle,
            best_single=best_single,
        ):
            routed = y_test[chosen_index, np.arange(len(test))].mean()
            ece, table = calibration(probs.ravel(), y_test.ravel())
            calib.setdefault(name, []).append(table)
            rows.append(
                {
                    "pool": seed,
                    "router": name,
                    "accuracy": routed,
                    "gap_closed": (routed - best_single) / (oracle - best_single),
                    "distinct_llms": len(set(chosen_index)),
                    "ece": ece,
                }
            )

        routed = route(mirt, features.loc[test], subjects=pool, benchmark=benchmark.loc[test])
        probs = item_probabilities(bank, subjects=pool).reshape(-1, len(pool), len(test))
        record(
            "explanatory MIRT (text)",
            [pool.index(s) for s in routed.choices["subject"]],
            probs.mean(axis=0),
        )
        probs = two_pl_predictive(two_pl, pool, benchmark.loc[test], seed=1)
        record("plain 2PL (ability only)", probs.argmax(axis=0), probs)
        probs = knn_probabilities(features, train, test, answers, pool, args.k)
        record(f"kNN router (k={args.k})", probs.argmax(axis=0), probs)
        per_benchmark = {  # the pool's most accurate LLM on each benchmark's training questions
            name: answers.loc[pool, train[benchmark.loc[train] == name]].mean(axis=1)
            for name in BENCHMARKS
        }
        probs = np.stack([per_benchmark[b].to_numpy() for b in benchmark.loc[test]], axis=1)
        record("best LLM per benchmark", probs.argmax(axis=0), probs)
        single = np.tile(train_accuracy.to_numpy()[:, None], len(test))
        record("best single LLM", np.full(len(test), pool.index(best)), single)
        rows.append(
            {
                "pool": seed,
                "router": "oracle",
                "accuracy": oracle,
                "gap_closed": 1.0,
                "distinct_llms": None,
                "ece": None,
            }
        )
        pools.append(
            {
                "pool": pool,
                "best_single_llm": best,
                "predicted_routing_accuracy": routed.accuracy,
                "observed_routing_accuracy": rows[-6]["accuracy"],
            }
        )
    return {
        "held_out_questions": len(test),
        "fitted_llms": len(fitted_llms),
        "pools": pools,
        "rows": rows,
        "calibration": calib,
        "timings": {"mirt-explanatory fit s": mirt_seconds, "2pl fit s": two_pl_seconds},
    }


def unseen(answers, text, benchmark, features, args) -> dict:
    llms = _llm_sample(answers.index, [], args.llms)
    rows = []
    for left_out in BENCHMARKS:
        test = benchmark.index[benchmark == left_out]
        answered = pd.Index(
            np.random.default_rng(0).choice(test, size=args.answered, replace=False)
        )
        for shown in (pd.Index([]), answered) if args.answered else (pd.Index([]),):
            rows.append(_unseen_row(answers.loc[llms], benchmark, features, left_out, shown, args))
            print(markdown(pd.DataFrame(rows[-1:])), flush=True)
    return {"fitted_llms": len(llms), "rows": rows}


def _unseen_row(answers, benchmark, features, left_out, answered, args) -> dict:
    """Accuracy on the left-out benchmark's unanswered questions, predicted from their text
    by a fit on the other benchmarks plus the ``answered`` questions (a benchmark of their
    own), against the baselines of the module docstring."""
    others = [b for b in BENCHMARKS if b != left_out]
    train = benchmark.index[(benchmark != left_out) | benchmark.index.isin(answered)]
    test = benchmark.index[(benchmark == left_out) & ~benchmark.index.isin(answered)]
    fit, seconds = fit_advi(
        responses_of(answers[train], benchmark),
        "mirt-explanatory",
        item_features=features.loc[train],
        n_traits=args.traits,
    )
    started = time.perf_counter()
    pred = predict_benchmark(fit, features.loc[test], benchmark=left_out)
    predict_seconds = time.perf_counter() - started
    observed = answers.loc[pred.index, test].mean(axis=1)
    covered = (pred["accuracy_lo"] <= observed) & (observed <= pred["accuracy_hi"])
    accuracy = {b: answers[benchmark.index[benchmark == b]].mean(axis=1) for b in others}
    elsewhere = pd.concat(accuracy.values(), axis=1).mean(axis=1)
    row = {
        "left out": left_out,
        "answered": len(answered),
        "predicted items": len(test),
        "observed mean": float(observed.mean()),
        "MIRT MAE": float((pred["accuracy"] - observed).abs().mean()),
        "MIRT 90% coverage": float(covered.mean()),
        "MIRT interval width": float((pred["accuracy_hi"] - pred["accuracy_lo"]).mean()),
        "mean elsewhere MAE": float((elsewhere - observed).abs().mean()),
    }
    # the maps are learned on the training benchmarks alone, each left out in turn
    if len(answered) == 0:
        slopes = []
        for inner in others:
            rest = pd.concat([accuracy[b] for b in others if b != inner], axis=1).mean(axis=1)
            slopes.append(np.polyfit(rest, accuracy[inner], 1))
        slope, intercept = np.mean(slopes, axis=0)
        row["linear map MAE"] = float((intercept + slope * elsewhere - observed).abs().mean())
        own = np.polyfit(elsewhere, observed, 1)
        row["own-answers map MAE (reference)"] = float(
            (np.polyval(own, elsewhere) - observed).abs().mean()
        )
    else:
        few = answers.loc[pred.index, answered].mean(axis=1)
        rng = np.random.default_rng(0)
        coefficients = []
        for inner in others:  # [1, own few answers, mean elsewhere] -> accuracy on the rest
            items = benchmark.index[benchmark == inner]
            shown = rng.choice(items, size=len(answered), replace=False)
            rest_items = items.difference(pd.Index(shown))
            rest = pd.concat([accuracy[b] for b in others if b != inner], axis=1).mean(axis=1)
            x = np.column_stack([np.ones(len(rest)), answers[shown].mean(axis=1), rest])
            y = answers[rest_items].mean(axis=1)
            coefficients.append(np.linalg.lstsq(x, y, rcond=None)[0])
        c = np.mean(coefficients, axis=0)
        row["own answered MAE"] = float((few - observed).abs().mean())
        row["answered + elsewhere map MAE"] = float(
            (c[0] + c[1] * few + c[2] * elsewhere - observed).abs().mean()
        )
    row["fit s"], row["predict s"] = seconds, predict_seconds
    return row


def _llm_sample(llms: pd.Index, keep: list[str], n: int | None) -> pd.Index:
    """``n`` LLMs drawn with seed 1, ``keep`` among them (all when ``n`` is None)."""
    if n is None or n >= len(llms):
        return pd.Index(llms)
    rest = llms.difference(keep)
    drawn = np.random.default_rng(1).choice(rest, size=n - len(keep), replace=False)
    return pd.Index(sorted([*keep, *drawn]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llms", type=int, default=None, help="fit on this many LLMs")
    parser.add_argument("--traits", type=int, default=3)
    parser.add_argument("--k", type=int, default=20, help="neighbours of the kNN router")
    parser.add_argument("--pools", type=int, default=5, help="pools of 20 LLMs (seeds 0..)")
    parser.add_argument("--only", choices=("routing", "unseen"), default=None)
    parser.add_argument(
        "--answered", type=int, default=10, help="answered questions of a left-out benchmark"
    )
    args = parser.parse_args()

    answers, text, benchmark = load_matrix()
    features = text_features(text, n_components=20)
    print(f"{answers.shape[0]} LLMs × {answers.shape[1]} questions", flush=True)
    out = {"llms": answers.shape[0], "questions": answers.shape[1], "traits": args.traits}
    if args.only in (None, "routing"):
        out["routing"] = routing(answers, text, benchmark, features, args)
        table = pd.DataFrame(out["routing"]["rows"])
        print(markdown(table), flush=True)
        mean = table.groupby("router", sort=False)[["accuracy", "gap_closed", "ece"]].mean()
        print(markdown(mean.reset_index()), flush=True)
        print(json.dumps(out["routing"]["timings"]), flush=True)
        _write(out)
    if args.only in (None, "unseen"):
        out["unseen"] = unseen(answers, text, benchmark, features, args)
        print(markdown(pd.DataFrame(out["unseen"]["rows"])), flush=True)
        _write(out)


def _write(out: dict) -> None:
    """The results so far, so that a run stopped in its second part keeps its first (and a
    run of one part keeps the other's earlier results)."""
    RESULTS.parent.mkdir(exist_ok=True)
    earlier = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**earlier, **out}, indent=2, default=float))


if __name__ == "__main__":
    main()
