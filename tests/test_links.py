"""The example lab's site-specific checks over every built HTML page (no browser): the search
box and the edit button. The checks every lab runs (links, anchors, reachability, alt text,
every page built) are :mod:`labhandbook.sitetests`, run here by ``test_site.py``.

It reads the handbook built once per session by the ``handbook`` fixture; what it expects to
exist (source files, repository) comes from the sources.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser.lab import Lab, load_lab

from labhandbook.sitetests import Site, crawl


@pytest.fixture(scope="module")
def site(handbook) -> Site:
    built = crawl(Path(handbook.outdir))
    assert "index.html" in built.pages, "the build has no index.html"
    return built


@pytest.fixture(scope="module")
def lab() -> Lab:
    return load_lab()


def test_every_page_has_the_search_box(site: Site) -> None:
    """The theme's search box (a form sending ``q`` to search.html) and its button are on
    every page; tests/browser/test_search.py checks that they work."""
    wrong = []
    for page in site.pages.values():
        forms = [f for f in page.soup.select("form.bd-search")
                 if f.find("input", attrs={"name": "q"}) is not None
                 and (site.resolve(page.path, f.get("action", "")) or ("",))[0] == "search.html"]
        if not forms:
            wrong.append(f"{page.path}: no search form sending `q` to search.html")
        if not page.soup.select(".search-button__button"):
            wrong.append(f"{page.path}: no search button")
    assert not wrong, "\n".join(wrong)


def test_edit_button_points_to_the_page_source_in_the_repository(site: Site, lab: Lab) -> None:
    """Pages built from a file have an edit button to that file; pages generated without one
    (paper pages, the index) have none that points nowhere."""
    assert lab.repository_url, "conf.py sets no repository_url for the edit button"
    wrong = []
    for path, page in site.pages.items():
        source = lab.source_of(path)
        hrefs = sorted({str(a.get("href")) for a in page.soup.select("a.btn-source-edit-button")})
        if source is not None and hrefs != [lab.edit_url(source)]:
            wrong.append(f"{path}: edit button {hrefs}, expected {lab.edit_url(source)}")
        elif source is None and hrefs:
            wrong.append(f"{path}: generated page (no source file) has an edit button to {hrefs}")
    assert not wrong, "\n".join(wrong)
