"""Save-to-reload and page weight, measured with a real browser (issue #20).

Used by ``run.py`` after the build variants, on the handbook variant's generated lab and its
build (``<scale>/handbook/src|html|doctrees``, so the preview starts warm, as an editor's does
after ``make html``):

* **save-to-reload**: a headless chromium (Playwright) shows a person page served by the
  preview; the benchmark saves an edit and measures until that page, reloaded by the preview
  itself, shows the change (polling the page's text every 10 ms). Two edits: one sentence of
  a person page's prose, and a new BibTeX entry by that person (its title must appear on their
  page). Each edit is undone afterwards and the undo is waited for too. Two previews, one after
  the other, on the same files: ``labhandbook serve`` and ``sphinx-autobuild`` (what
  ``make livehtml`` ran before); ``make html`` is the build variant's own edit figure.
* **page weight**: the first view of the home page, a person page, the publications page and a
  paper page, served with gzip: bytes over the wire and requests (``tests/browser/weight.py``,
  the same code as the budget test).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import weight as weighing  # noqa: E402

from labhandbook.serve import Broadcaster, Builder, serving, snapshot, watch  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_S = 300.0


def chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_text(page: Any, text: str, present: bool, timeout: float = TIMEOUT_S) -> float:
    """Seconds until the page's text contains ``text`` (or no longer does)."""
    start = time.perf_counter()
    js = "(t) => !!document.body && document.body.innerText.includes(t)"
    while time.perf_counter() - start < timeout:
        try:
            if page.evaluate(js, text) == present:
                return time.perf_counter() - start
        except Exception:  # noqa: BLE001 - the page is reloading
            pass
        time.sleep(0.01)
    raise TimeoutError(f"the page did not {'show' if present else 'drop'} {text!r} in {timeout}s")


class _OwnPreview:
    """``labhandbook serve``'s loop (builder, watcher, server) on the benchmark's folders."""

    name = "labhandbook serve"

    def __init__(self, src: Path, html: Path, doctrees: Path) -> None:
        self.src, self.html, self.doctrees = src, html, doctrees
        self.stop = threading.Event()
        self.results: list[Any] = []  #: every build after the first

    def __enter__(self) -> str:
        self.builder = Builder(self.src, self.html, self.doctrees)
        broadcaster = Broadcaster()
        before = snapshot(self.src)
        result = self.builder.build()
        if not result.ok:
            self.builder.close()
            raise RuntimeError(f"preview build failed: {result.problems[:3]}")
        broadcaster.publish(result)
        self._serving = serving(self.html, broadcaster)
        url = self._serving.__enter__()
        self._thread = threading.Thread(
            target=watch, args=(self.src, self.builder, broadcaster, self.stop),
            kwargs={"results": self.results, "before": before, "log": lambda _: None},
            daemon=True)
        self._thread.start()
        return url

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(timeout=TIMEOUT_S)
        self.builder.close()
        self._serving.__exit__(None, None, None)


class _Autobuild:
    """sphinx-autobuild on the same folders (a subprocess, as ``make livehtml`` ran it)."""

    name = "sphinx-autobuild"

    def __init__(self, src: Path, html: Path, doctrees: Path) -> None:
        self.src, self.html, self.doctrees = src, html, doctrees

    def __enter__(self) -> str:
        exe = Path(sys.executable).with_name("sphinx-autobuild")
        port = _free_port()
        self.log = open(self.html.parent / "logs" / "autobuild.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(exe), "--host", "127.0.0.1", "--port", str(port), str(self.src),
             str(self.html), "-d", str(self.doctrees), "-W", "--keep-going", "-n", "-q"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.perf_counter() + TIMEOUT_S
        while time.perf_counter() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return f"http://127.0.0.1:{port}/"
            if self.proc.poll() is not None:
                raise RuntimeError("sphinx-autobuild exited; see its log")
            time.sleep(0.2)
        raise TimeoutError("sphinx-autobuild did not start")

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


def _edits(src: Path, person: str, member_spelling: str) -> list[tuple[str, Path, str, str]]:
    """(kind, file, text to add, marker the page shows) for each edit."""
    page = src / "people" / f"{person}.md"
    bib = sorted((src / "bib").glob("*.bib"))[0]
    return [
        ("prose", page, "\n\nPreview benchmark sentence {n}.\n", "Preview benchmark sentence {n}."),
        ("bib", bib, "\n@misc{previewbench{n},\n  author = {" + member_spelling + " and Doe, Jane},"
         "\n  title = {Preview Benchmark Paper {n}},\n  year = {2025},\n}\n",
         "Preview Benchmark Paper {n}"),
    ]


def save_to_reload(src: Path, html: Path, doctrees: Path, person: str, member_spelling: str,
                   runs: int) -> dict[str, Any]:
    """Median seconds from save to a reloaded page showing the edit, per preview and edit."""
    from playwright.sync_api import sync_playwright

    exe = chromium()
    if exe is None:
        return {"status": "skipped", "error": "no chromium"}
    out: dict[str, Any] = {"status": "ok"}
    n = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        for preview_cls in (_OwnPreview, _Autobuild):
            preview = preview_cls(src, html, doctrees)
            figures: dict[str, list[float]] = {}
            try:
                with preview as url:
                    page = browser.new_page()
                    page.goto(f"{url}people/{person}.html")
                    for kind, path, add, marker in _edits(src, person, member_spelling):
                        for _ in range(runs):
                            n += 1
                            original = path.read_bytes()
                            time.sleep(0.3)  # mtimes differ from the last save
                            start = time.perf_counter()
                            built = len(getattr(preview, "results", []))
                            with path.open("a", encoding="utf-8") as f:
                                f.write(add.replace("{n}", str(n)))
                            _wait_text(page, marker.replace("{n}", str(n)), True)
                            figures.setdefault(kind, []).append(time.perf_counter() - start)
                            if isinstance(preview, _OwnPreview):  # CPU time of its builds
                                figures.setdefault(f"{kind}_cpu", []).append(sum(
                                    r.cpu_seconds for r in preview.results[built:]))
                            path.write_bytes(original)
                            _wait_text(page, marker.replace("{n}", str(n)), False)
                    page.close()
            except Exception as err:  # noqa: BLE001 - one failed preview does not stop the run
                out[preview.name] = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
                continue
            out[preview.name] = {"status": "ok", **{
                f"{k}_s": statistics.median(v) for k, v in figures.items()},
                "runs": figures}
        browser.close()
    return out


def page_weight(html: Path, pages: dict[str, str]) -> dict[str, Any]:
    """Bytes over the wire (gzip) and requests of a first view of each page."""
    from playwright.sync_api import sync_playwright

    exe = chromium()
    if exe is None:
        return {"status": "skipped", "error": "no chromium"}
    out: dict[str, Any] = {"status": "ok", "budget_bytes": weighing.BUDGET_BYTES,
                           "budget_requests": weighing.BUDGET_REQUESTS, "pages": {}}
    with sync_playwright() as pw, serving(html) as base:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        for kind, path in pages.items():
            w = weighing.weigh(browser, base + path)
            out["pages"][kind] = {"page": path, "bytes": w.bytes, "requests": w.requests,
                                  "heaviest": w.heaviest(3)}
        browser.close()
    return out
