"""Search, as a reader uses it: the theme's search box, the search page, Ctrl+K and "/".

Expected hits come from the sources: every member's name finds their page first, every
research area's title finds the area's page first, and a paper's title finds the pages that
list the paper, the publications page among them.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from .conftest import Site
from .lab import GENERATED_PAGES, Lab, Paper, load_lab, squash

#: How a reader starts a search: the theme's search button/field, Ctrl+K, "/".
HOW = ("search box", "ctrl+k", "slash")
KINDS = ("home", "people", "person", "area", "publications", "guide", "search")
PAPERS_TO_SEARCH = 3
SEARCH_PAGE_FIELD = ".bd-search-container form.bd-search input[name=q]"
SEARCH_FIELD_FOCUSED = ("() => { const el = document.activeElement;"
                        " return el !== null && el.name === 'q' && el.checkVisibility(); }")


def open_search(page: Any, how: str) -> bool:
    """Open the search box the way a reader would; whether a visible search field got the
    focus."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if how == "search box":
        page.locator(".search-button__button:visible").first.click()
    elif how == "ctrl+k":
        page.keyboard.press("Control+k")
    elif how == "slash":
        page.keyboard.press("/")
    else:  # pragma: no cover
        raise ValueError(how)
    try:
        page.wait_for_function(SEARCH_FIELD_FOCUSED, timeout=3_000)
    except PlaywrightTimeout:
        return False
    return True


def results(page: Any, site: Site) -> list[str]:
    """The pages of the search results, best first, once the search has finished."""
    assert site.page(page.url) == "search.html" and "q=" in page.url, (
        f"the search went to {page.url}, not to search.html?q=...")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "() => { const s = document.querySelector('#search-results .search-summary');"
            " return s !== null && s.textContent.trim() !== ''; }", timeout=10_000)
        finished = True
    except PlaywrightTimeout:
        finished = False
    if not finished:
        pytest.fail(f"the search on {page.url} did not finish within 10 s", pytrace=False)
    hrefs = page.eval_on_selector_all("#search-results ul.search > li > a",
                                      "links => links.map(a => a.href)")
    pages: list[str] = []
    for href in hrefs:
        found = site.page(href)
        if found not in pages:
            pages.append(found)
    return pages


def search(page: Any, site: Site, query: str, start: str = "index.html",
           how: str = "search box") -> list[str] | None:
    """Type ``query`` into the search box of ``start`` and press Enter; the result pages,
    or ``None`` when the search box did not open."""
    page.goto(site.url(start))
    if not open_search(page, how):
        return None
    page.keyboard.type(query)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    return results(page, site)


def search_on_search_page(page: Any, site: Site, query: str) -> list[str]:
    """Type ``query`` into the search page's own field and press Enter (the search page stays
    open from one query to the next)."""
    if not page.url.startswith(site.url("search.html")):
        page.goto(site.url("search.html"))
    field = page.locator(SEARCH_PAGE_FIELD)
    field.click()
    field.fill("")
    page.keyboard.type(query)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    return results(page, site)


# --- search works on every page -----------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
def test_search_works_on_every_kind_of_page(page: Any, site: Site, lab: Lab, person: str,
                                            page_of: dict[str, str], how: str) -> None:
    """The search box, Ctrl+K and "/" open a search field on every kind of page, and what is
    typed there is searched. (That every page has the search box: tests/test_links.py.)"""
    name = lab.registry.people[person].name
    wrong = {}
    for kind in KINDS:
        start = page_of[kind]
        hits = search(page, site, name, start=start, how=how)
        if hits is None:
            wrong[start] = "no visible search field got the focus"
        elif hits[:1] != [lab.person_page(person)]:
            wrong[start] = f"searching {name!r} gave {hits[:5]}"
    assert not wrong, f"search with {how} does not work on: {wrong}"


def test_search_page_searches_what_is_typed_into_it(page: Any, site: Site, lab: Lab,
                                                    area: str) -> None:
    title = lab.registry.areas[area].title
    hits = search_on_search_page(page, site, title)
    assert hits[:1] == [lab.area_page(area)], f"searching {title!r} gave {hits[:5]}"


# --- the right pages come first -----------------------------------------------------------------


def test_a_members_name_finds_their_page_first(page: Any, site: Site, lab: Lab) -> None:
    assert lab.people, "people/ has no person page to search for"
    wrong = {}
    for slug in lab.people:
        name = lab.registry.people[slug].name
        hits = search_on_search_page(page, site, name)
        if hits[:1] != [lab.person_page(slug)]:
            wrong[name] = hits[:5]
    assert not wrong, f"the first hit is not the person's page (query: first hits): {wrong}"


def test_an_areas_title_finds_its_page_first(page: Any, site: Site, lab: Lab) -> None:
    assert lab.areas, "research/ has no area page to search for"
    wrong = {}
    for slug in lab.areas:
        title = lab.registry.areas[slug].title
        hits = search_on_search_page(page, site, title)
        if hits[:1] != [lab.area_page(slug)]:
            wrong[title] = hits[:5]
    assert not wrong, f"the first hit is not the area's page (query: first hits): {wrong}"


@functools.cache
def searchable_texts(root: Path) -> dict[str, str]:
    """The text of each page the search indexes (those built from a source file)."""
    lab = load_lab()
    texts = {}
    for path in root.rglob("*.html"):
        rel = path.relative_to(root).as_posix()
        if rel in GENERATED_PAGES or lab.source_of(rel) is None:
            continue
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        content = soup.find("article") or soup.body
        texts[rel] = squash(content.get_text(" ")) if content is not None else ""
    return texts


def pages_listing(site: Site, paper: Paper) -> set[str]:
    """The searchable pages whose content shows the paper's title."""
    wanted = squash(paper.title)
    return {rel for rel, text in searchable_texts(site.root).items() if wanted in text}


def papers_to_search(lab: Lab) -> list[Paper]:
    """A few papers, those with lab members first (their pages list them too), by key."""
    assert lab.papers, f"{lab.config.bib_dir}/ has no BibTeX entry with a title to search for"
    ranked = sorted(lab.papers, key=lambda p: (not p.members, p.key))
    return ranked[:PAPERS_TO_SEARCH]


def test_a_paper_title_finds_the_publication_pages_first(page: Any, site: Site,
                                                         lab: Lab) -> None:
    wrong = {}
    for paper in papers_to_search(lab):
        listing = pages_listing(site, paper)
        assert lab.publications_page in listing, (
            f"{lab.publications_page} does not show the title of {paper.key}: {paper.title!r}")
        hits = search_on_search_page(page, site, paper.title)
        first = hits[: len(listing)]
        if not first or first[0] not in listing or lab.publications_page not in first:
            wrong[paper.title] = {"first hits": first, "pages listing it": sorted(listing)}
    assert not wrong, f"a paper's title does not find the pages that list it first: {wrong}"
