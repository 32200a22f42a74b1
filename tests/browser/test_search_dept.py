"""Search at department scale (200 people, 15 areas, 5,000 papers; benchmarks/synthlab.py).

The lab is generated, built once and kept in ``_build/browser-dept/`` (tests/browser/dept.py;
a clean build takes minutes), so these tests run under ``CI=true`` or with
``LABHANDBOOK_DEPT=1`` and are skipped by a plain ``make test``. Expectations come from the
generated model: each query must find the right page among the first three, every snippet is
clean, and a first query downloads at most ``BYTE_BUDGET`` (network log). The time from the
last keystroke to the results is written to ``_build/browser-dept/search-figures.json``
(reported, not asserted: the machine is shared).
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import dept
from .conftest import CI, TIMEOUT_MS, Site
from .test_search import (
    BYTE_BUDGET,
    TOP,
    Paper,
    ascii_fold,
    expect_top,
    first_query_bytes,
    pages,
    paper_queries,
    snippet_problems,
    type_query,
)

RUN = CI or os.environ.get("LABHANDBOOK_DEPT", "") not in ("", "0")
pytestmark = pytest.mark.skipif(
    not RUN, reason="department-scale search: runs under CI=true or LABHANDBOOK_DEPT=1")
PEOPLE, AREAS, PAPERS = 6, 4, 4


@pytest.fixture(scope="module")
def lab() -> Any:
    return dept.generate()


@pytest.fixture(scope="module")
def dept_site(lab: Any) -> Iterator[Site]:
    import functools
    import threading
    from http.server import ThreadingHTTPServer

    from .conftest import _QuietHandler

    html = dept.build(lab)
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_QuietHandler, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_address[1]}/", Path(html))
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dept_page(browser: Any, dept_site: Site) -> Iterator[Any]:
    context = browser.new_context(base_url=dept_site.base,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS * 2)
    try:
        yield context.new_page()
    finally:
        context.close()


def accented_people(lab: Any) -> list[Any]:
    people = [p for p in lab.people if p.name != ascii_fold(p.name)]
    return (people or lab.people)[:PEOPLE]


def test_people_and_areas_are_found(dept_page: Any, dept_site: Site, lab: Any) -> None:
    wanted: dict[str, set[str]] = {}
    for p in accented_people(lab):
        wanted[p.name] = wanted[ascii_fold(p.name)] = {f"people/{p.slug}.html"}
    for a in lab.areas[:AREAS]:
        wanted[a.title] = {f"research/{a.slug}.html"}
        wanted[a.keywords[0].replace("-", " ")] = {f"research/{a.slug}.html"}
    found = {q: pages(type_query(dept_page, dept_site, q)) for q in wanted}
    assert not expect_top(found, wanted), (
        f"not among the first {TOP} (query: first hits): {expect_top(found, wanted)}")


def test_papers_are_found(dept_page: Any, dept_site: Site, lab: Any) -> None:
    papers = [Paper(e.key, e.title.replace("{", "").replace("}", ""),
                    {m: m for m in e.members}) for e in lab.entries]
    years = {e.key: e.year for e in lab.entries}
    authors = {e.key: [a.bibtex for a in e.authors] for e in lab.entries}
    queries = paper_queries(papers, years, PAPERS, authors)
    assert any(" " not in q for q in queries), f"no acronym among the queries: {queries}"
    results = {q: type_query(dept_page, dept_site, q) for q in queries}
    found = {q: pages(r) for q, r in results.items()}
    wanted = {q: {f"papers/{k}.html" for k in keys} for q, keys in queries.items()}
    assert not expect_top(found, wanted), (
        f"the paper is not among the first {TOP} (query: first hits): "
        f"{expect_top(found, wanted)}")
    problems = snippet_problems(r for rs in results.values() for r in rs)
    assert not problems, "\n".join(problems[:10])


def test_first_queries_stay_within_the_byte_budget(browser: Any, dept_site: Site,
                                                   lab: Any) -> None:
    people = accented_people(lab)
    queries = [people[0].name, ascii_fold(people[1].name), lab.areas[0].title,
               lab.entries[0].title.replace("{", "").replace("}", "")]
    figures: dict[str, Any] = {}
    for q in queries:  # a fresh context each: nothing cached
        context = browser.new_context(base_url=dept_site.base)
        context.set_default_timeout(TIMEOUT_MS * 2)
        page = context.new_page()
        transfer = first_query_bytes(page, dept_site, q)
        ms = page.evaluate("() => Number(document.documentElement.dataset.lhSearchMs || -1)")
        figures[q] = {"bytes": transfer.bytes, "requests": len(transfer.urls),
                      "typed_to_results_ms": ms}
        context.close()
    figures["median_typed_to_results_ms"] = statistics.median(
        f["typed_to_results_ms"] for f in figures.values())
    (dept.FOLDER / "search-figures.json").write_text(json.dumps(figures, indent=1,
                                                                ensure_ascii=False))
    over = {q: f for q, f in figures.items() if isinstance(f, dict) and f["bytes"] > BYTE_BUDGET}
    assert not over, f"first queries over {BYTE_BUDGET} bytes: {over}"
