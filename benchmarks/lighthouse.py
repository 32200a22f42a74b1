"""Lighthouse mobile scores of a built handbook, served compressed as Read the Docs serves it.

Not part of ``make bench``: Lighthouse needs Node 18+ and its npm package, which the project
does not install. Install it once outside the repository (``npm i -E lighthouse@12.2.3`` in
a scratch folder) and name its command::

    LIGHTHOUSE=/path/to/node_modules/.bin/lighthouse \\
        .venv/bin/python benchmarks/lighthouse.py _build/html index.html people/lijun-wu.html

Each page is run with Lighthouse's default mobile settings (simulated throttling, which
multiplies this machine's main-thread time by 4: scores fall when the machine is loaded).
The site is served by ``labhandbook.serve.serving``, the gzip server of the budget test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from labhandbook.serve import serving

CHROME_FLAGS = "--headless --no-sandbox --disable-gpu --disable-background-networking"


def measure(lighthouse: str, url: str, out: Path) -> str:
    """One Lighthouse run; a line with the scores and the timings that make them."""
    subprocess.run(
        [lighthouse, url, "--form-factor=mobile", "--only-categories=performance,accessibility",
         "--output=json", f"--output-path={out}", "--quiet", f"--chrome-flags={CHROME_FLAGS}"],
        env={**os.environ, "CHROME_PATH": os.environ.get("CHROMIUM", "/usr/bin/chromium")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=True)
    report = json.loads(out.read_text(encoding="utf-8"))
    scores = {k: round(v["score"] * 100) for k, v in report["categories"].items()}
    audits = report["audits"]
    timings = " ".join(f"{name} {audits[key]['displayValue']}" for name, key in (
        ("FCP", "first-contentful-paint"), ("LCP", "largest-contentful-paint"),
        ("TBT", "total-blocking-time")))
    return (f"{url}: performance {scores['performance']}, accessibility "
            f"{scores['accessibility']}; {timings}; {audits['dom-size']['numericValue']:.0f} "
            "elements")


def main(argv: list[str]) -> int:
    lighthouse = os.environ.get("LIGHTHOUSE")
    if not lighthouse or len(argv) < 2:
        print("usage: LIGHTHOUSE=.../lighthouse lighthouse.py BUILT_HTML_DIR PAGE...",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, serving(Path(argv[0])) as base:
        for i, page in enumerate(argv[1:]):
            print(measure(lighthouse, base + page, Path(tmp) / f"{i}.json"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
