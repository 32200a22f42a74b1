"""The hostile corpus (``tests/hostile_corpus.py``) in chromium, in both layouts of the theme:
no page runs a payload's script (no dialog, no ``window.PWNED``), redirects, or makes a request
anywhere but the site itself (every other request is recorded and aborted)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from conftest import CorpusBuild

from .conftest import TIMEOUT_MS, _QuietHandler


@pytest.fixture(scope="module")
def corpus_sites(corpus: dict[str, CorpusBuild]) -> Iterator[dict[str, str]]:
    """Each layout's site on its own local HTTP server: layout -> base URL."""
    servers, bases = [], {}
    for layout in ("a", "b"):
        build = corpus[layout]
        handler = functools.partial(_QuietHandler, directory=str(build.outdir))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        bases[layout] = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield bases
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("layout", ["a", "b"])
def test_no_hostile_page_runs_script_redirects_or_calls_out(
        browser: Any, corpus: dict[str, CorpusBuild], corpus_sites: dict[str, str],
        layout: str) -> None:
    base = corpus_sites[layout]
    pages = sorted(p.relative_to(corpus[layout].outdir).as_posix()
                   for p in corpus[layout].outdir.glob("hostile/*.html"))
    pages += ["index.html", "people/eve.html", "people/mallory.html"]
    assert len(pages) > 40
    found: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    current = {"page": ""}

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(base):
            route.continue_()
        else:
            found.append(f"{current['page']}: request to {url[:100]}")
            route.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("dialog", lambda d: (found.append(f"{current['page']}: dialog {d.message!r}"),
                                d.dismiss()))
    try:
        for page in pages:
            current["page"] = page
            tab.goto(base + page, wait_until="load")
            tab.wait_for_timeout(200)  # handlers of images that failed to load, meta refresh
            if tab.url.split("#")[0] != base + page:
                found.append(f"{page}: went to {tab.url}")
            if tab.evaluate("() => Boolean(window.PWNED)"):
                found.append(f"{page}: a payload ran")
            frames = [f.url for f in tab.frames if f != tab.main_frame]
            if frames:
                found.append(f"{page}: frames {frames}")
    finally:
        context.close()
    assert found == []
