"""Fixtures of the browser tests.

The handbook is built once (the ``handbook`` fixture of ``tests/conftest.py``), served from a
local HTTP server on 127.0.0.1 and read in Debian's ``chromium``, driven headless by Playwright
for Python with ``executable_path`` (Playwright never downloads a browser here). One browser is
started per session; every test gets a fresh context (empty storage, light colour scheme).

A missing browser, Playwright or npm FAILS the tests under ``CI=true`` and SKIPS them elsewhere,
with one line naming what to install, so ``make test`` passes for a newcomer without them.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit

import pytest

from .lab import Lab, load_lab

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
#: What chromium needs on a machine with a closed network and no display.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that drives the browser carries the ``browser`` marker (``-m "not browser"``
    deselects them)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def missing(what: str) -> NoReturn:
    """A tool the browser tests need is missing: fail under CI, skip elsewhere."""
    if CI:
        pytest.fail(what, pytrace=False)
    pytest.skip(what)


def chromium_executable() -> str | None:
    """Debian's chromium; ``$CHROMIUM``, when set, names the one to use instead."""
    override = os.environ.get("CHROMIUM")
    candidates = [override] if override else [shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return candidate
    return None


NO_CHROMIUM = ("browser tests need Debian's chromium: install the package with "
               "`sudo apt-get install chromium`")
NO_PLAYWRIGHT = ("browser tests need Playwright for Python: run `make venv` "
                 "(or `.venv/bin/pip install playwright`)")
NO_NPM = ("the accessibility tests need npm (for axe-core): install it with "
          "`sudo apt-get install npm`")

@functools.cache
def browser_missing() -> str | None:
    """What is missing to drive the browser, if anything."""
    if chromium_executable() is None:
        return NO_CHROMIUM
    if importlib.util.find_spec("playwright") is None:
        return NO_PLAYWRIGHT
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Outside CI, browser tests on a machine without the browser (or npm, for axe-core) are
    skipped here, before any fixture runs, so that ``-ra`` shows one line for all of them.
    (Under CI the ``browser`` and ``axe_source`` fixtures fail them instead.)"""
    if CI:
        return
    needs = getattr(item, "fixturenames", ())
    if "browser" in needs and browser_missing():
        pytest.skip(browser_missing())
    if "axe_source" in needs and not AXE.is_file() and shutil.which("npm") is None:
        pytest.skip(NO_NPM)


# --- the lab as its sources describe it ---------------------------------------------------------


@pytest.fixture(scope="session")
def lab() -> Lab:
    return load_lab()


@pytest.fixture(scope="session")
def person(lab: Lab) -> str:
    """One person, the one with the richest page."""
    assert lab.people, "people/ has no person page: the browser tests need at least one"
    return lab.richest_person()


@pytest.fixture(scope="session")
def area(lab: Lab) -> str:
    """One research area, the one with the most members."""
    assert lab.areas, "research/ has no area page: the browser tests need at least one"
    return lab.busiest_area()


@pytest.fixture(scope="session")
def page_of(lab: Lab, person: str, area: str) -> dict[str, str]:
    """The page (path under the site) of each kind the tests visit."""
    return {
        "home": "index.html",
        "people": lab.people_page,
        "person": lab.person_page(person),
        "area": lab.area_page(area),
        "publications": lab.publications_page,
        "guide": "guides/index.html",
        "search": "search.html",
    }


# --- the site on a local HTTP server ------------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


@dataclass(frozen=True)
class Site:
    base: str  #: "http://127.0.0.1:<port>/"
    root: Path

    def url(self, page: str) -> str:
        return urljoin(self.base, page)

    def page(self, url: str) -> str:
        """The page path (``people/x.html``) of a URL of this site, without query and anchor."""
        parts = urlsplit(url)
        assert url.startswith(self.base.rstrip("/")), f"{url} is not on the local site"
        path = parts.path.lstrip("/")
        return path + "index.html" if path == "" or path.endswith("/") else path


def synthetic_lab(src: Path, people: int, areas: int, entries: int) -> Path:
    """Write the generated lab of ``benchmarks/synthlab.py`` (the benchmark's handbook
    variant) into ``src``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import synthlab
    finally:
        sys.path.pop(0)
    synthlab.write(synthlab.generate(people, areas, entries), "handbook", src)
    return src


@contextlib.contextmanager
def serving(outdir: Path | str) -> Iterator[Site]:
    """A built site's folder served on 127.0.0.1 (a free port) while the block runs."""
    handler = functools.partial(_QuietHandler, directory=str(outdir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-http", daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_address[1]}/", Path(outdir))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def site(handbook) -> Iterator[Site]:
    """The handbook built by the ``handbook`` fixture, served on 127.0.0.1 (a free port)."""
    with serving(handbook.outdir) as served:
        yield served


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser(site: Site) -> Iterator[Any]:
    """One headless chromium for all the tests of this folder.

    Playwright gives every launch a new, empty ``--user-data-dir`` of its own. The handbook is
    built (``site``) before Playwright starts, and Playwright stops when the last browser test
    is done: a build forks (sphinx-sitemap starts a multiprocessing manager), and a child forked
    while Playwright runs inherits its pipes, so ``playwright.stop()`` would wait forever.
    """
    executable = chromium_executable()
    if executable is None:
        missing(NO_CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing(NO_PLAYWRIGHT)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=CHROMIUM_ARGS)
    except Exception as err:  # noqa: BLE001 - a broken browser install is reported as missing
        playwright.stop()
        missing(f"chromium at {executable} does not start under Playwright: "
                f"{str(err).splitlines()[0]}")
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@dataclass
class Console:
    """What a page reported as broken: console errors, uncaught exceptions, failed requests."""

    errors: list[str] = field(default_factory=list)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, site: Site, console: Console) -> Iterator[Any]:
    """A fresh tab (new context: no storage, no cookies) on a desktop-sized light screen."""
    context = browser.new_context(base_url=site.base, color_scheme="light",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    def on_console(msg: Any) -> None:
        url = msg.location.get("url", "")
        # Chromium asks for /favicon.ico by itself; an icon the site declares is a <link>
        # that tests/test_links.py checks.
        if msg.type == "error" and urlsplit(url).path != "/favicon.ico":
            console.errors.append(f"console.error: {msg.text} ({url})")

    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: console.errors.append(f"uncaught exception: {exc}"))
    tab.on("requestfailed", lambda req: console.errors.append(
        f"request failed: {req.url} ({req.failure})"))
    try:
        yield tab
    finally:
        context.close()


# --- axe-core -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, installed from the npm registry into tests/browser/node_modules."""
    if not AXE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            missing(NO_NPM)
        run = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
                             cwd=HERE, capture_output=True, text=True, timeout=600)
        if run.returncode != 0 or not AXE.is_file():
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            missing(f"`npm install` in tests/browser could not install axe-core: {last}")
    return AXE.read_text(encoding="utf-8")
