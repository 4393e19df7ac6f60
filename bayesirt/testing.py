"""Helpers for testing code built on bayesirt.

* :func:`check_rendering` opens an HTML report of :func:`bayesirt.reports.build_report` in
  headless Chromium and says what the browser rendered: the sections, the images that
  decoded, the convergence banner and any JavaScript error.
* :func:`find_chromium` finds the Chromium (or Chrome) binary it runs, so that a test can be
  skipped where there is none.

The module is a harness, not part of the analysis: it sits above every other module of the
package, may import any of them, and none of them (nor ``import bayesirt``) imports it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bayesirt.reports.report import BANNER_ID

__all__ = ["CHROMIUM_NAMES", "check_rendering", "find_chromium"]

#: Names under which a Chromium binary is looked for on the PATH.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const decoded = (img) => img.complete && img.naturalWidth > 0;
  const out = document.createElement("pre");
  out.id = "bayesirt-probe";
  out.textContent = JSON.stringify({
    sections: Array.from(document.querySelectorAll("section[id]")).map((s) => s.id),
    images: images.length,
    images_ok: images.filter(decoded).length,
    broken: images.filter((img) => !decoded(img)).map((img) => img.alt),
    banner: document.getElementById("%s") !== null,
    errors: window.__bayesirtErrors,
  });
  document.body.appendChild(out);
});
</script>"""
_ERRORS = (
    '<script>window.__bayesirtErrors = []; window.addEventListener("error", '
    "(e) => window.__bayesirtErrors.push(String(e.message)));</script>"
)


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) binary on the PATH, ``None`` if there is none."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def check_rendering(path: str | Path, *, chromium: str | None = None, timeout: float = 180) -> dict:
    """Open a report in headless Chromium and say what the browser rendered.

    A copy of the file gets two small scripts (the report itself has none): one records
    JavaScript errors from the start, one runs after the page has loaded and writes what the
    page holds into the DOM, which ``chromium --headless --dump-dom`` prints. An image counts
    as decoded when the browser finished it with a positive natural width (a broken ``data:``
    URI has width 0).

    Returns
    -------
    dict
        ``sections`` (ids of the ``<section>`` elements, in order), ``images``, ``images_ok``,
        ``broken`` (alt texts of the images that did not decode), ``banner`` (whether the
        convergence-failure banner is there) and ``errors`` (JavaScript error messages).

    Raises
    ------
    FileNotFoundError
        If no Chromium binary is found.
    RuntimeError
        If Chromium fails or its output holds no probe result.
    """
    binary = chromium or find_chromium()
    if binary is None:
        raise FileNotFoundError(
            f"no Chromium binary on the PATH (looked for {', '.join(CHROMIUM_NAMES)}); on "
            "Debian: apt-get install chromium"
        )
    document = Path(path).read_text(encoding="utf-8")
    probed = document.replace("<head>", "<head>" + _ERRORS, 1).replace(
        "</body>", _PROBE % BANNER_ID + "</body>", 1
    )
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(probed, encoding="utf-8")
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            page.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    found = re.search(r'<pre id="bayesirt-probe">(.*?)</pre>', done.stdout, re.DOTALL)
    if done.returncode != 0 or found is None:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise RuntimeError(
            f"Chromium exited with status {done.returncode} without a probe result: "
            + " | ".join(tail)
        )
    return json.loads(html.unescape(found.group(1)))
