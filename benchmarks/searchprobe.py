"""Search figures of a built handbook, measured in Debian's chromium (Playwright).

For each query, in a fresh browser context (empty cache):

- ``pagefind``: the search page with ``?q=``: bytes the search downloads (response bodies of
  ``pagefind/*`` from the network log, compressed: see :func:`wire_bytes`), milliseconds from
  opening the page to the results, then milliseconds from the last keystroke to the results
  when the same query is typed again (the as-you-type latency), and the first result pages.
- ``sphinx``: Sphinx's own search fed with the generated pages: ``searchindex.js`` plus every
  paper page (its indexed content, as Pagefind sees it) fed through Sphinx's own word splitter,
  stemmer and filter (:func:`sphinx_index_with_papers`), served in place of the built one, with
  Pagefind's bundle hidden so the search page falls back to Sphinx's search. Bytes are the
  index and Sphinx's search scripts, gzip-compressed (as a web server would send them).

``python benchmarks/searchprobe.py _build/html "query" ...`` prints the figures as JSON.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
SPHINX_SCRIPTS = ("searchindex.js", "_static/searchtools.js", "_static/language_data.js")


class _Handler(SimpleHTTPRequestHandler):
    overrides: dict[str, Path] = {}
    hidden: tuple[str, ...] = ()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if clean in self.overrides:
            return str(self.overrides[clean])
        if clean.startswith(self.hidden):
            return str(Path(self.directory) / "__hidden__")
        return super().translate_path(path)


@contextmanager
def serve(root: Path, overrides: dict[str, Path] | None = None,
          hidden: tuple[str, ...] = ()) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1; ``overrides`` maps URL paths to other files; URL paths
    starting with one of ``hidden`` answer 404."""
    handler = type("Handler", (_Handler,), {"overrides": overrides or {}, "hidden": hidden})
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def indexed_text(html: str) -> tuple[str, str]:
    """The title and the text Pagefind indexes of one built page (its ``data-pagefind-body``
    without the excluded parts)."""
    from bs4 import BeautifulSoup

    from labhandbook.search import EXCLUDE

    start = html.find("<div data-pagefind-body")
    end = html.find("</article>", start)  # the theme's article holds the body
    if start < 0:
        return "", ""
    soup = BeautifulSoup(html[start:end if end > 0 else len(html)], "html.parser")
    body = soup.select_one("[data-pagefind-body]")
    if body is None:
        return "", ""
    for selector in (*EXCLUDE, "[data-pagefind-ignore]"):
        for el in body.select(selector):
            el.decompose()
    h1 = body.find("h1")
    return (h1.get_text(" ", strip=True) if h1 else ""), body.get_text(" ", strip=True)


def sphinx_index_with_papers(html_dir: Path, out: Path) -> dict[str, Any]:
    """Sphinx's ``searchindex.js`` of the build plus every paper page, fed as Sphinx feeds a
    document (its ``IndexBuilder``: title words and body words, stemmed and filtered)."""
    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document
    from sphinx.search import IndexBuilder

    class _Domains:
        def sorted(self) -> list[Any]:
            return []

    raw = (html_dir / "searchindex.js").read_text(encoding="utf-8")
    frozen = _JsIndex(raw)

    class _Env:
        """What IndexBuilder reads of Sphinx's environment (Sphinx 9), for a loaded index."""

        version = json.loads(frozen.text)["envversion"]
        domains = _Domains()

        def __init__(self) -> None:
            for name in ("titles", "filenames", "mapping", "title_mapping", "all_titles",
                         "index_entries", "objtypes", "objnames"):
                setattr(self, f"_search_index_{name}", {})

    start = time.perf_counter()
    builder = IndexBuilder(_Env(), "en", {}, "")  # type: ignore[arg-type]
    builder.load(frozen, "json")
    settings = get_default_settings(Parser)
    papers = sorted((html_dir / "papers").glob("*.html"))
    for path in papers:
        title, text = indexed_text(path.read_text(encoding="utf-8"))
        doc = new_document(str(path), settings)
        section = nodes.section(ids=[path.stem])
        section += nodes.title(title, title)
        section += nodes.paragraph(text, text)
        doc += section
        docname = f"papers/{path.stem}"
        builder.feed(docname, f"{docname}.html", title, doc)
    data = builder.freeze()
    data["filenames"] = [f or f"{d}.html" for d, f in zip(data["docnames"], data["filenames"],
                                                          strict=True)]
    text = "Search.setIndex(" + json.dumps(data, separators=(",", ":"), ensure_ascii=False) + ")"
    out.write_text(text, encoding="utf-8")
    seconds = time.perf_counter() - start
    return {"papers_fed": len(papers), "seconds": round(seconds, 2),
            "bytes": len(text.encode()), "gzip_bytes": len(gzip.compress(text.encode(), 6))}


class _JsIndex:
    """``searchindex.js`` read as the JSON IndexBuilder.load expects."""

    def __init__(self, text: str) -> None:
        self.text = re.sub(r"^Search\.setIndex\(|\)\s*$", "", text.strip())

    def read(self, *args: Any) -> str:
        return self.text


def wire_bytes(body: bytes) -> int:
    """What a response weighs compressed: Pagefind's chunks are gzip files already; text
    (JavaScript, JSON) is counted gzip-compressed, as Read the Docs and most servers send it
    (the test server, http.server, does not compress)."""
    return len(body) if body[:2] == b"\x1f\x8b" else len(gzip.compress(body, 6))


@contextmanager
def _browser() -> Iterator[Any]:
    """Debian's chromium under Playwright, closed afterwards."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


def _pages_of(base: str, hrefs: list[str]) -> list[str]:
    out = []
    for h in hrefs:
        p = h.removeprefix(base).split("#", 1)[0].split("?", 1)[0]
        p = p + "index.html" if p == "" or p.endswith("/") else p
        if p not in out:
            out.append(p)
    return out


PAGEFIND_DONE = ("q => { const s = document.querySelector('#lh-search .lh-search-status');"
                 " return s !== null && s.textContent.includes('“' + q + '”'); }")
RESULT_LINKS = ("() => [...document.querySelectorAll('#lh-search .lh-search-results a')]"
                ".map(a => a.href)")
SPHINX_DONE = ("() => { const s = document.querySelector('#search-results .search-summary');"
               " return s !== null && s.textContent.trim() !== ''; }")
SPHINX_LINKS = "() => [...document.querySelectorAll('#search-results ul.search > li > a')]" \
               ".map(a => a.href)"


def probe_pagefind(html_dir: Path, queries: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with _browser() as browser, serve(html_dir) as base:
        for q in queries:
            ctx = browser.new_context()
            page = ctx.new_page()
            sizes: dict[str, int] = {}

            def on_response(r: Any, sizes: dict[str, int] = sizes) -> None:
                if "/pagefind/" in r.url:
                    try:
                        sizes[r.url] = wire_bytes(r.body())
                    except Exception:  # noqa: BLE001 - no body
                        sizes[r.url] = 0

            page.on("response", on_response)
            page.goto(base + "search.html?q=" + q.replace(" ", "+"))
            page.wait_for_function(PAGEFIND_DONE, arg=q, timeout=60_000)
            opened_ms = page.evaluate("() => Math.round(performance.now())")
            page.wait_for_load_state("networkidle")
            hits = _pages_of(base, page.evaluate(RESULT_LINKS))
            field = page.locator(".bd-search-container form.bd-search input[name=q]")
            field.fill("")
            page.wait_for_function(
                "() => document.querySelector('#lh-search .lh-search-status')"
                ".textContent === ''")
            field.press_sequentially(q)
            page.wait_for_function(PAGEFIND_DONE, arg=q, timeout=60_000)
            typed_ms = int(page.evaluate(
                "() => document.documentElement.dataset.lhSearchMs || -1"))
            out[q] = {"bytes": sum(sizes.values()), "requests": len(sizes),
                      "open_to_results_ms": opened_ms, "typed_to_results_ms": typed_ms,
                      "top": hits[:5]}
            ctx.close()
    return out


def probe_sphinx(html_dir: Path, index: Path, queries: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    script_bytes = sum(len(gzip.compress((html_dir / s).read_bytes(), 6))
                       for s in SPHINX_SCRIPTS[1:])
    index_gz = len(gzip.compress(index.read_bytes(), 6))
    with _browser() as browser, serve(html_dir, overrides={"/searchindex.js": index},
                                      hidden=("/pagefind/",)) as base:
        for q in queries:
            ctx = browser.new_context()
            page = ctx.new_page()
            page.goto(base + "search.html?q=" + q.replace(" ", "+"))
            page.wait_for_function(SPHINX_DONE, timeout=300_000)
            opened_ms = page.evaluate("() => Math.round(performance.now())")
            hits = _pages_of(base, page.evaluate(SPHINX_LINKS))
            out[q] = {"bytes": index_gz + script_bytes, "open_to_results_ms": opened_ms,
                      "top": hits[:5]}
            ctx.close()
    return out


def pagefind_size(html_dir: Path) -> dict[str, Any]:
    """The index on disk: all of it, and what is fetched at start (entry, meta, wasm, js)."""
    bundle = html_dir / "pagefind"
    files = [p for p in bundle.rglob("*") if p.is_file()]
    index = [p for p in files if p.parent.name in ("index", "fragment", "filter")]
    return {"bundle_bytes": sum(p.stat().st_size for p in files),
            "index_bytes": sum(p.stat().st_size for p in index),
            "files": len(files)}


def main(argv: list[str]) -> int:
    html_dir, queries = Path(argv[0]), argv[1:]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    out: dict[str, Any] = {"pagefind_size": pagefind_size(html_dir)}
    out["pagefind"] = probe_pagefind(html_dir, queries)
    print(json.dumps(out, indent=1, ensure_ascii=False), flush=True)
    fed = html_dir.parent / "searchindex-with-papers.js"
    out["sphinx_fed"] = sphinx_index_with_papers(html_dir, fed)
    out["sphinx_fed"]["built_index_bytes"] = (html_dir / "searchindex.js").stat().st_size
    print(json.dumps(out["sphinx_fed"]), flush=True)
    out["sphinx"] = probe_sphinx(html_dir, fed, queries)
    print(json.dumps(out, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
