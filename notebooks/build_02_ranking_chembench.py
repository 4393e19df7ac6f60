from _nb import SETUP

NAME = "02_ranking_chembench"
CELLS = [
    ("md", """
# 02 · Ranking the ChemBench leaderboard

ChemBench asks chemistry questions of large language models. Its public results
(22 models × 2,854 questions, MIT licence, from `lamalab-org/irt-on-bench`) are a complete
binary table: 1 when a model answered a question fully correctly. The usual leaderboard sorts
models by their share of correct answers. This notebook asks which steps of that leaderboard
the data actually supports.

The data is read through `bayesirt.datasets`, which downloads the file from its pinned
source, checks its sha256 and caches it in `$BAYESIRT_DATA_CACHE`. CI points that variable at
`../shared/data/raw`, so nothing is downloaded there (the first cell does the same when the
shared folder is beside the repository and the variable is unset).

Under `BAYESIRT_NOTEBOOK_QUICK=1` the fit uses a random 300 of the questions and 100 + 100
draws per chain; it will not converge, and the `ConvergenceWarning` it prints is expected.
The full run uses every question and the package's defaults, which sample until the
convergence checks pass.
"""),
    ("code", SETUP + '''
NUTS = dict(draws=100, tune=100, chains=2) if QUICK else {}  # full size: the defaults
N_ITEMS = 300 if QUICK else None
'''),
    ("code", '''
print(bayesirt.datasets.list_datasets())
chembench = bayesirt.datasets.load("chembench")
if N_ITEMS is not None:
    rng = np.random.default_rng(0)
    keep = rng.choice(chembench.item_accuracy().index, size=N_ITEMS, replace=False)
    chembench = chembench.subset(items=list(keep))
print(chembench.summary())
'''),
    ("md", """
## Holding one model back

To show how a model *not* in the fit is scored later, we set one model aside before fitting:
the one in the middle of the accuracy leaderboard. The remaining 21 are fitted.
"""),
    ("code", '''
accuracy = chembench.subject_accuracy().sort_values(ascending=False)
newcomer = accuracy.index[len(accuracy) // 2]
fitted = chembench.subset(subjects=[s for s in accuracy.index if s != newcomer])
held_out = chembench.subset(subjects=[newcomer])
print(f"held out: {newcomer} (accuracy {accuracy[newcomer]:.3f}); fitting {fitted.n_subjects}")
'''),
    ("code", '''
t0 = time.perf_counter()
idata = bayesirt.fit(fitted, model="2pl", **NUTS, random_seed=2, progressbar=False)
print(f"fit took {time.perf_counter() - t0:.0f} s")
bayesirt.summarize_fit(idata)["diagnostics"]
'''),
    ("md", """
## Leaderboard vs posterior ranking

`rank` puts the observed-accuracy leaderboard (with a bootstrap interval over questions) next
to the posterior ranking. With only 21 models and thousands of questions the abilities are
well determined, but neighbours on the leaderboard are often closer than the data can resolve.
"""),
    ("code", '''
from bayesirt.analysis import rank_table, reordered_pairs

ranking = bayesirt.rank(idata)
table = rank_table(ranking)
table[["tier", "mean_rank", "rank_lo", "rank_hi", "theta", "theta_lo", "theta_hi",
       "accuracy", "accuracy_rank", "p_beats_next"]]
'''),
    ("code", '''
print(f"Kendall tau between accuracy rank and posterior mean rank: {ranking.attrs['kendall_tau']:.3f}")
print(f"adjacent pairs separated at {ranking.attrs['level']:.0%}: "
      f"{ranking.attrs['n_separated']} of {ranking.attrs['n_adjacent']}")
reordered_pairs(ranking).head(10)
'''),
    ("md", """
`reordered_pairs` lists the pairs that the accuracy leaderboard puts in the other order, with
the posterior probability that the posterior's order is right. Differences come from *which*
questions each model got right: a correct answer on a discriminating question says more about
ability than one on a question nearly every model solves.

## Tiers

A tier is a run of models, in posterior order, in which no step is supported at the 95% level:
a defensible leaderboard prints the tiers, not a strict order.
"""),
    ("code", '''
for number, members in enumerate(ranking.attrs["tiers"], start=1):
    print(f"tier {number}: {', '.join(members)}")
'''),
    ("code", '''
from bayesirt.reports import plot_p_beats, plot_rank_caterpillar, plot_rank_probabilities

fig, axes = plt.subplots(1, 3, figsize=(19, 6))
plot_rank_caterpillar(ranking, ax=axes[0])
plot_rank_probabilities(ranking, ax=axes[1])
plot_p_beats(ranking, ax=axes[2])
fig.tight_layout()
'''),
    ("md", """
## P(A beats B)

Any pair can be read off `p_beats`. Here: the top two models, and the two models either side of
the middle of the ranking.
"""),
    ("code", '''
order = list(ranking["subject"].values)
pairs = [(order[0], order[1]), (order[len(order) // 2 - 1], order[len(order) // 2])]
for a, b in pairs:
    p = float(ranking["p_beats"].sel(subject=a, opponent=b))
    print(f"P({a} beats {b}) = {p:.3f}")
'''),
    ("md", """
## Scoring a new model

`score_new` places a model that was not in the fit on the fitted scale, keeping the item
parameters fixed at their posterior (a *cut* posterior), and ranks it against the fitted
models draw by draw. We score the held-out model and compare its position with its accuracy
rank in the full leaderboard.
"""),
    ("code", '''
scored = bayesirt.score_new(idata, held_out)
row = scored[["theta_mean", "theta_lo", "theta_hi", "rank_mean", "rank_lo", "rank_hi"]]
print(row.to_dataframe())
print(f"accuracy rank of {newcomer} among all {len(accuracy)}: "
      f"{list(accuracy.index).index(newcomer) + 1}")
print(f"notebook ran in {time.perf_counter() - STARTED:.0f} s")
'''),
    ("md", """
## What to take away

The accuracy leaderboard is a point estimate. The posterior ranking keeps the same broad order
but turns it into tiers, and says how sure we can be of each step. A new model is scored in
seconds against a saved fit, without refitting the others.
"""),
]
