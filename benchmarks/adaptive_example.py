"""A live adaptive test, driven the way a caller running a real model drives it (issue 23).

The shipped example (40 models × 1,500 items in 8 categories) is fitted once; then a new
model takes an adaptive test that stops as soon as it is decided, with 95% certainty, whether
the new model beats the example's median model, holding the categories to their shares in
the benchmark and asking 5 items at a time. Here the new model is simulated by
``answer(item) -> 0/1``; with ``--lm-eval MODEL_ARGS`` (lm-evaluation-harness installed, and
a fit whose items are labelled ``<task>/<doc_id>`` as :func:`bayesirt.load_responses` labels
lm-eval samples) each batch is run by lm-evaluation-harness instead, through its Python API:
``simple_evaluate(..., samples={task: [doc_id, ...]})`` evaluates just those documents.

    python benchmarks/adaptive_example.py                  # about 2 minutes on 2 cores
    python benchmarks/adaptive_example.py --fit FIT.nc --lm-eval pretrained=gpt2 \\
        --metric acc --beats SOME_FITTED_MODEL
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

import bayesirt
from bayesirt.irt import icc
from bayesirt.tinybench import AdaptiveTest, ContentBalance, DecisionStopper, ItemBank


def simulated_answer(bank: ItemBank, theta: float, seed: int):
    """A model of ability ``theta``: right with the probability the fit gives."""
    rng = np.random.default_rng(seed)
    params = bank.mean_params

    def answer(item: str) -> int:
        code = bank.items.get_loc(item)
        return int(rng.random() < icc(theta, *(p[code] for p in params)))

    return answer


def lm_eval_batch(model_args: str, metric: str):
    """``run(items) -> {item: 0/1}`` that evaluates a batch of ``<task>/<doc_id>`` items with
    lm-evaluation-harness; a score in between counts as right from 0.5 up."""
    import lm_eval  # only this path needs it

    def run(items: list[str]) -> dict[str, int]:
        wanted = defaultdict(list)
        for item in items:
            task, doc = item.rsplit("/", 1)
            wanted[task].append(int(doc))
        out = lm_eval.simple_evaluate(
            model="hf", model_args=model_args, tasks=list(wanted), samples=dict(wanted)
        )
        scores = {}
        for task, records in out["samples"].items():
            for record in records:
                scores[f"{task}/{record['doc_id']}"] = int(float(record[metric]) >= 0.5)
        return scores

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fit", help="a saved fit (default: fit the shipped example)")
    parser.add_argument("--beats", help="fitted model to decide against (default: median)")
    parser.add_argument("--theta", type=float, default=0.9, help="simulated model's ability")
    parser.add_argument("--lm-eval", metavar="MODEL_ARGS", help="run the items with lm-eval")
    parser.add_argument("--metric", default="acc", help="lm-eval per-document metric")
    args = parser.parse_args()

    if args.fit:
        idata = bayesirt.load_fit(args.fit)
        categories = None
    else:
        data = bayesirt.load_example()
        print(f"fitting the 2PL to the shipped example {data!r} ...", flush=True)
        idata = bayesirt.fit(data, model="2pl", random_seed=0, progressbar=False)
        categories = ContentBalance(data.item_meta["category"])
    bank = ItemBank.from_idata(idata)
    means = bank.theta.mean(axis=0)
    rival = args.beats or str(bank.subjects[np.argsort(means)[len(means) // 2]])

    test = AdaptiveTest(
        bank, stop=DecisionStopper(rival, level=0.95, max_items=200), content=categories
    )
    if args.lm_eval:
        run_batch = lm_eval_batch(args.lm_eval, args.metric)
    else:
        answer = simulated_answer(bank, args.theta, seed=1)

        def run_batch(items: list[str]) -> dict[str, int]:
            return {item: answer(item) for item in items}

    while not test.done:
        batch = test.next_items(5)
        for item, score in run_batch(batch).items():
            test.record(item, score)
        now = test.estimate([rival])
        print(
            f"{test.n_items:4d} items: θ {now['theta_mean']:+.2f} "
            f"[{now['theta_lo']:+.2f}, {now['theta_hi']:+.2f}], accuracy "
            f"{now['score_mean']:.3f} [{now['score_lo']:.3f}, {now['score_hi']:.3f}], rank "
            f"{now['rank_lo']:.0f}-{now['rank_hi']:.0f}, "
            f"P(beats {rival}) {now[f'p_beats[{rival}]']:.3f}"
        )
    verdict = test.estimate([rival])
    beats = verdict[f"p_beats[{rival}]"] >= 0.5
    print(
        f"stopped ({verdict['stopped']}) after {verdict['n_items']} of {bank.n_items} items: "
        f"the new model {'beats' if beats else 'does not beat'} {rival} "
        f"(fitted θ {means[bank.subject_code(rival)]:+.2f}"
        + ("" if args.lm_eval else f"; true θ of the simulated model {args.theta:+.2f}")
        + ")"
    )


if __name__ == "__main__":
    main()
