from _nb import SETUP

NAME = "06_report"
CELLS = [
    ("md", """
# 06 · The diagnostics report: building it and reading it

Everything the previous notebooks did by hand — convergence checks, posterior predictive checks,
flagged items, benchmark quality, the ranking with its uncertainty, a LOO comparison — is
collected by `bayesirt.reports.build_report` into one self-contained HTML file (figures
embedded, no scripts, no network needed to view it). This notebook builds the report for two
fits of ChemBench and walks through what each section tells you.

**QUICK.** Under `BAYESIRT_NOTEBOOK_QUICK=1` the fits use 200 of the questions and 100 + 100 NUTS
draws per chain. They will **not** converge, and that is useful here: the report then shows its
convergence-failure banner, which is exactly what a reader should see. The full run uses every
question (after the filter below) and the package's defaults, which sample until the
convergence checks pass.
"""),
    ("code", SETUP + '''
import re
import shutil
import subprocess
import sys
import tempfile
from html import unescape

from bayesirt.data import filters
from bayesirt.reports import build_report

NUTS = dict(draws=100, tune=100, chains=2) if QUICK else {}  # full size: the defaults
N_ITEMS = 200 if QUICK else None
PPC_DRAWS = 100 if QUICK else 400
OUT = Path(tempfile.mkdtemp())
'''),
    ("md", """
## Data and a recorded filter

Questions that (almost) every model gets right or wrong say little about the models. The
filters in `bayesirt.data.filters` remove them and return a *removal record*; passing that record
to the report puts it in the data section, so a reader knows what was left out and why.
"""),
    ("code", '''
chembench = bayesirt.datasets.load("chembench")
if N_ITEMS is not None:
    rng = np.random.default_rng(0)
    chembench = chembench.subset(items=list(rng.choice(chembench.item_accuracy().index,
                                                       N_ITEMS, replace=False)))
responses, removed = filters.drop_items_by_accuracy(chembench, min_accuracy=0.02,
                                                    max_accuracy=0.98)
print(f"kept {responses.n_items} of {chembench.n_items} questions")
removed.head()
'''),
    ("md", """
## Two fits

The 2PL is the model analysed in detail; the 1PL is there so the report can compare the two by
LOO (which needs `log_likelihood=True`). Both are saved, as they would be by `bayesirt fit`.
"""),
    ("code", '''
fits = {}
for name in ("2pl", "1pl"):
    t0 = time.perf_counter()
    fits[name] = bayesirt.fit(responses, model=name, **NUTS, log_likelihood=True,
                              random_seed=6, progressbar=False)
    bayesirt.save_fit(fits[name], OUT / f"chembench-{name}.nc")
    print(f"{name}: {time.perf_counter() - t0:.0f} s, {bayesirt.summarize_fit(fits[name])['diagnostics']}")
'''),
    ("md", """
## Building the report

From Python, `build_report` takes the fits (the first is analysed in detail) and returns the
HTML, writing it to `out`. The command line does the same from saved fits:

```sh
bayesirt report models/chembench-2pl.nc models/chembench-1pl.nc --out report.html --filters removed.csv
```
"""),
    ("code", '''
t0 = time.perf_counter()
path = OUT / "chembench-report.html"
report = build_report(fits, out=path, title="ChemBench: 2PL vs 1PL", filters=removed,
                      n_draws=PPC_DRAWS)
print(f"report built in {time.perf_counter() - t0:.0f} s: {path} ({len(report) / 1e6:.1f} MB)")
'''),
    ("code", '''
removed.to_csv(OUT / "removed.csv", index=False)
# the console script installed with the package, beside this Python if not on PATH
cli = shutil.which("bayesirt") or str(Path(sys.executable).with_name("bayesirt"))
command = [cli, "report", str(OUT / "chembench-2pl.nc"),
           str(OUT / "chembench-1pl.nc"), "--out", str(OUT / "cli-report.html"),
           "--filters", str(OUT / "removed.csv"), "--draws", str(PPC_DRAWS)]
done = subprocess.run(command, capture_output=True, text=True)
print("exit status", done.returncode)
print(done.stdout[-1500:], done.stderr[-1500:])
assert done.returncode == 0
'''),
    ("md", """
## Reading it

The report is meant to be opened in a browser. Here we read its text section by section (the
tables and figures are in the file). In order:

- **Data**: sizes, missingness and the filters applied.
- **Convergence**: R-hat, ESS, divergences and E-BFMI of every fit, with a red banner at the
  top when any fit failed; traces of the hyperparameters and the worst-mixing parameters.
  *If the banner is there, stop: nothing below it can be trusted yet.*
- **Posterior predictive checks**: does the model reproduce score distributions, item
  accuracies and residual correlations?
- **Item fit and flagged items**: questions the model fits badly (possible wrong keys or
  ambiguous questions), with a downloadable table.
- **Benchmark quality**: information across ability levels, where the benchmark measures
  precisely, items with low discrimination.
- **Ranking with uncertainty**: the caterpillar plot and the tier table of notebook 02.
- **Model comparison**: LOO by response and by item, with Pareto k counts.
"""),
    ("code", '''
def section_texts(document):
    """Plain text of each <section> of the report, by id."""
    texts = {}
    for key, body in re.findall(r'<section id="([^"]+)">(.*?)</section>', document, flags=re.S):
        body = re.sub(r"<(style|table)\\b.*?</\\1>", " [table] ", body, flags=re.S)
        body = re.sub(r"<img\\b[^>]*>", " [figure] ", body)
        text = unescape(re.sub(r"<[^>]+>", " ", body))
        texts[key] = re.sub(r"\\s+", " ", text).strip()
    return texts

texts = section_texts(report)
print("sections:", list(texts))
banner = re.search(r'<div[^>]*id="convergence-failure"[^>]*>(.*?)</div>', report, flags=re.S)
print("convergence-failure banner:", unescape(re.sub(r"<[^>]+>", "", banner.group(1))).strip()
      if banner else "none")
for key, text in texts.items():
    print(f"\\n== {key}\\n{text[:700]}")
'''),
    ("md", """
## Checking that a browser renders it

`check_rendering` opens the file in headless Chromium (CI installs it) and reports the sections
and images the browser actually decoded. Where no Chromium is found this cell says so and moves
on.
"""),
    ("code", '''
from bayesirt.testing import check_rendering, find_chromium

if find_chromium() is None:
    print("no Chromium found: rendering not checked")
else:
    seen = check_rendering(path)
    print({k: seen[k] for k in ("sections", "images", "images_ok", "banner", "errors")})
print(f"notebook ran in {time.perf_counter() - STARTED:.0f} s")
'''),
    ("md", """
## What to take away

One file answers, in order, the questions a reviewer of a benchmark analysis asks: did the
sampler converge, does the model fit, which questions are suspect, how precise is the benchmark,
what is the ranking and how sure is it, and would another model do better. Under QUICK the
banner is expected; at full size (see `README.md`) it should be absent.
"""),
]
