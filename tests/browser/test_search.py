"""Search, as a reader uses it: the theme's search box, Ctrl+K and "/" lead to the search page,
which runs Pagefind (labhandbook.search) and shows typed results with clean snippets.

Expected hits come from the sources: every member's name (also written without accents)
finds their page first, every research area's title and topic finds the area's page, a paper's
title, an author's family name with a year, and a title's acronym find the paper's page among
the first three. tests/browser/test_search_dept.py asks the same of a department-scale lab.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import Site
from .lab import REPO, Lab, Paper

sys.path.insert(0, str(REPO / "benchmarks"))  # searchprobe: bytes as measured by `make bench`

#: How a reader starts a search: the theme's search button/field, Ctrl+K, "/".
HOW = ("search box", "ctrl+k", "slash")
KINDS = ("home", "people", "person", "area", "publications", "guide")
PAPERS_TO_SEARCH = 4
TOP = 3  #: the right page must be among the first TOP results
#: What a first query may download (bytes on the wire, from the network log).
BYTE_BUDGET = 300 * 1024
SEARCH_PAGE_FIELD = ".bd-search-container form.bd-search input[name=q]"
SEARCH_FIELD_FOCUSED = ("() => { const el = document.activeElement;"
                        " return el !== null && el.name === 'q' && el.checkVisibility(); }")
STATUS = "#lh-search .lh-search-status"
RESULTS = "#lh-search .lh-search-results > li"
#: Words of the theme's chrome, navigation and generated parts that no snippet may show.
CHROME = re.compile(r"System Settings|Light Dark|Skip to main content|Copy BibTeX|Back to top"
                    r"|Edit on GitHub|Open issue|Toggle navigation|●|Related papers"
                    r"|Follow this news")
GLUED_INITIALS = re.compile(r"\b[A-Z]{2}(?:Researcher|Professor|Ph|Postdoc|Student|Master)")


@dataclass(frozen=True)
class Result:
    page: str  #: page path under the site
    kind: str  #: "Person", "Paper · 2021", ...
    title: str
    excerpt: str  #: the snippet's HTML
    text: str  #: the snippet's text


# --- driving the search page --------------------------------------------------------------------


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


def wait_for_results(page: Any, query: str, timeout: float = 15_000) -> None:
    """Wait until the search page reports the results of ``query``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "([sel, q]) => { const s = document.querySelector(sel);"
            " return s !== null && s.textContent.includes('“' + q + '”'); }",
            arg=[STATUS, query.strip()], timeout=timeout)
    except PlaywrightTimeout:
        pytest.fail(f"the search for {query!r} on {page.url} did not finish", pytrace=False)


def read_results(page: Any, site: Site) -> list[Result]:
    rows = page.eval_on_selector_all(RESULTS, """items => items.map(li => ({
        href: li.querySelector('a.lh-result-title').href,
        title: li.querySelector('a.lh-result-title').textContent,
        kind: li.querySelector('.lh-result-kind').textContent,
        excerpt: li.querySelector('.lh-result-excerpt').innerHTML,
        text: li.querySelector('.lh-result-excerpt').textContent}))""")
    return [Result(site.page(r["href"]), r["kind"], r["title"], r["excerpt"], r["text"])
            for r in rows]


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
    assert site.page(page.url) == "search.html" and "q=" in page.url, (
        f"the search went to {page.url}, not to search.html?q=...")
    wait_for_results(page, query)
    return [r.page for r in read_results(page, site)]


def type_query(page: Any, site: Site, query: str) -> list[Result]:
    """Type ``query`` into the search page's own field (no Enter: results come as one types)."""
    if not page.url.startswith(site.url("search.html")):
        page.goto(site.url("search.html"))
    field = page.locator(SEARCH_PAGE_FIELD)
    field.fill("")
    field.press_sequentially(query)
    wait_for_results(page, query)
    return read_results(page, site)


def pages(results: Iterable[Result]) -> list[str]:
    return [r.page for r in results]


def ascii_fold(text: str) -> str:
    """A name as typed on a keyboard without accents ("Jörg Müller" -> "Jorg Muller")."""
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))


def snippet_problems(results: Iterable[Result]) -> list[str]:
    """What is wrong with the snippets: chrome, glued initials, highlighting inside words."""
    wrong = []
    for r in results:
        if CHROME.search(r.text):
            wrong.append(f"{r.page}: chrome in {r.text!r}")
        if GLUED_INITIALS.search(r.text):
            wrong.append(f"{r.page}: glued initials in {r.text!r}")
        if re.search(r"\w<mark>|</mark>\w", r.excerpt):
            wrong.append(f"{r.page}: highlighting splits a word: {r.excerpt!r}")
        if not r.text.strip():
            wrong.append(f"{r.page}: empty snippet")
    return wrong


@dataclass
class Transfer:
    bytes: int
    urls: list[str]


def first_query_bytes(page: Any, site: Site, query: str) -> Transfer:
    """Bytes of search index and engine the browser downloads for a first query typed on the
    search page, in a fresh context: every response of ``pagefind/`` and any
    ``searchindex.js`` from the network log, compressed (``searchprobe.wire_bytes``:
    Pagefind's chunks are gzip files; text is counted gzip-compressed, as servers send it)."""
    from searchprobe import wire_bytes

    sizes: dict[str, int] = {}

    def on_response(response: Any) -> None:
        if "/pagefind/" not in response.url and not response.url.endswith("searchindex.js"):
            return
        try:
            sizes[response.url] = wire_bytes(response.body())
        except Exception:  # noqa: BLE001 - a redirect or aborted request has no body
            sizes.setdefault(response.url, 0)

    page.on("response", on_response)
    page.goto(site.url("search.html"))
    field = page.locator(SEARCH_PAGE_FIELD)
    field.press_sequentially(query)
    wait_for_results(page, query)
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", on_response)
    return Transfer(sum(sizes.values()), sorted(sizes))


def expect_top(found: dict[str, list[str]], wanted: dict[str, set[str]], n: int = TOP) -> dict:
    """The queries whose first ``n`` results hold none of the wanted pages."""
    return {q: found[q][:5] for q in wanted if not set(found[q][:n]) & wanted[q]}


# --- what to search for, from the sources --------------------------------------------------------


def family_name(spelling: str) -> str:
    """The family name of a BibTeX author ("Shen, Yifei" or "Yifei Shen")."""
    name = spelling.split(",")[0] if "," in spelling else spelling.split()[-1]
    return name.strip("{} ")


def acronym(title: str) -> str | None:
    """The acronym a title starts with ("R-Drop: ..." -> "R-Drop")."""
    match = re.match(r"^\{?([A-Za-z0-9+\-]{3,})\}?:\s", title)
    return match.group(1) if match and re.search(r"[A-Z].*[A-Z]", match.group(1)) else None


def paper_queries(papers: list[Paper], years: dict[str, int], limit: int,
                  authors: dict[str, list[str]]) -> dict[str, set[str]]:
    """Queries for papers and the paper keys each must find: title, author + year, acronym.

    Titles and acronyms that several papers share are skipped; "author year" accepts every
    paper of that author in that year, and the pairs with the fewest such papers are used.
    """
    titles: dict[str, list[str]] = {}
    for p in papers:
        titles.setdefault(p.title.casefold(), []).append(p.key)
    unique = [p for p in papers if len(titles[p.title.casefold()]) == 1]
    queries: dict[str, set[str]] = {}
    for p in sorted(unique, key=lambda p: (not p.members, p.key))[:limit]:
        queries[p.title] = {p.key}
    # "Aberg" also finds "Åberg": pairs are grouped by the name without accents
    by_pair: dict[tuple[str, int], set[str]] = {}
    for p in papers:
        for spelling in authors.get(p.key, []):
            name = family_name(spelling)
            if len(name) > 2 and years.get(p.key):
                by_pair.setdefault((ascii_fold(name).casefold(), years[p.key]), set()).add(p.key)
    for (name, year), keys in sorted(by_pair.items(), key=lambda kv: (len(kv[1]), kv[0]))[:limit]:
        queries[f"{name.capitalize()} {year}"] = keys
    acronyms: dict[str, list[str]] = {}
    for p in papers:
        a = acronym(p.title)
        if a:
            acronyms.setdefault(a, []).append(p.key)
    alone = [(a, keys) for a, keys in sorted(acronyms.items())
             if len(keys) == 1 and sum(a.casefold() in t for t in titles) == 1]
    for a, keys in alone[:limit]:
        queries[a] = set(keys)
    return queries


# --- the example lab ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
def test_search_works_on_every_kind_of_page(page: Any, site: Site, lab: Lab, person: str,
                                            page_of: dict[str, str], how: str) -> None:
    """The search box, Ctrl+K and "/" open a search field on every kind of page, and what is
    typed there is searched. (That every page has the search box: tests/test_links.py.)"""
    name = lab.registry.people[person].name
    wrong = {}
    for kind in (*KINDS, "search"):
        start = page_of[kind]
        hits = search(page, site, name, start=start, how=how)
        if hits is None:
            wrong[start] = "no visible search field got the focus"
        elif hits[:1] != [lab.person_page(person)]:
            wrong[start] = f"searching {name!r} gave {hits[:5]}"
    assert not wrong, f"search with {how} does not work on: {wrong}"


def test_a_members_name_finds_their_page_first(page: Any, site: Site, lab: Lab) -> None:
    assert lab.people, "people/ has no person page to search for"
    wrong = {}
    for slug in lab.people:
        name = lab.registry.people[slug].name
        for query in dict.fromkeys([name, ascii_fold(name)]):
            hits = pages(type_query(page, site, query))
            if hits[:1] != [lab.person_page(slug)]:
                wrong[query] = hits[:5]
    assert not wrong, f"the first hit is not the person's page (query: first hits): {wrong}"


def test_an_areas_title_and_topic_find_its_page(page: Any, site: Site, lab: Lab) -> None:
    """An area's title finds its page first; its first keyword (a topic word) among the first
    three."""
    assert lab.areas, "research/ has no area page to search for"
    wrong = {}
    for slug in lab.areas:
        area = lab.registry.areas[slug]
        hits = pages(type_query(page, site, area.title))
        if hits[:1] != [lab.area_page(slug)]:
            wrong[area.title] = hits[:5]
        if area.keywords:
            topic = area.keywords[0].replace("-", " ")
            hits = pages(type_query(page, site, topic))
            if lab.area_page(slug) not in hits[:TOP]:
                wrong[topic] = hits[:5]
    assert not wrong, f"the area's page is not found first (query: first hits): {wrong}"


def example_paper_queries(lab: Lab) -> dict[str, set[str]]:
    from pybtex.database import parse_file

    years, authors = {}, {}
    for path in sorted((REPO / lab.config.bib_dir).glob("*.bib")):
        for key, entry in parse_file(str(path), "bibtex").entries.items():
            year = re.match(r"\d{4}", entry.fields.get("year", ""))
            years[key] = int(year.group()) if year else 0
            authors[key] = [str(p) for p in entry.persons.get("author", [])]
    return paper_queries(lab.papers, years, PAPERS_TO_SEARCH, authors)


def test_papers_are_found_by_title_author_year_and_acronym(page: Any, site: Site,
                                                           lab: Lab) -> None:
    queries = example_paper_queries(lab)
    assert any(acronym(p.title) for p in lab.papers), "no title with an acronym to search for"
    found = {q: pages(type_query(page, site, q)) for q in queries}
    wanted = {q: {f"papers/{k}.html" for k in keys} for q, keys in queries.items()}
    assert not expect_top(found, wanted), (
        f"the paper's page is not among the first {TOP} (query: first hits): "
        f"{expect_top(found, wanted)}")


def test_a_name_finds_the_person_and_their_papers_through_both_indexes(page: Any, site: Site,
                                                                       lab: Lab,
                                                                       person: str) -> None:
    """The paper pages have an index of their own (``pagefind/papers/``, written only when the
    library changes), which the search page merges into the site's (Pagefind's mergeIndex):
    one query reads both, and ranks the person's page first and their papers after it."""
    name = lab.registry.people[person].name
    theirs = {f"papers/{p.key}.html" for p in lab.papers if person in p.members}
    assert theirs, f"{person} has no paper to find"
    transfer = first_query_bytes(page, site, name)
    hits = pages(read_results(page, site))
    assert hits[:1] == [lab.person_page(person)], hits[:5]
    assert set(hits) & theirs, f"{name!r} found none of their papers: {hits}"
    index = [u for u in transfer.urls if "/index/" in u]
    assert any("/pagefind/papers/index/" in u for u in index), transfer.urls
    assert any("/pagefind/index/" in u for u in index), transfer.urls


def test_results_say_what_they_are_with_clean_snippets(page: Any, site: Site, lab: Lab,
                                                       person: str, area: str) -> None:
    paper = next(p for p in lab.papers if p.members)
    expect = {lab.registry.people[person].name: (lab.person_page(person), "Person"),
              lab.registry.areas[area].title: (lab.area_page(area), "Research area"),
              paper.title: (f"papers/{paper.key}.html", "Paper")}
    wrong, snippets = {}, []
    for query, (target, kind) in expect.items():
        results = type_query(page, site, query)
        snippets += results
        hit = next((r for r in results if r.page == target), None)
        if hit is None or not hit.kind.startswith(kind):
            wrong[query] = hit
        elif kind == "Paper" and not re.fullmatch(r"Paper \d{4}", hit.kind):
            wrong[query] = f"a paper's result names its year: {hit.kind!r}"
    for query in ("molecule", "dropout", "news", "translation"):
        snippets += type_query(page, site, query)
    assert not wrong, f"results that do not say what they are: {wrong}"
    assert not snippet_problems(snippets), "\n".join(snippet_problems(snippets))


def test_an_area_word_does_not_match_every_member_card(page: Any, site: Site, lab: Lab,
                                                       area: str) -> None:
    """Member cards repeat area titles: the directory and other people's pages must not come
    up for a word of an area's title only because a card shows it."""
    members = {lab.person_page(m) for m in lab.registry.members.get(area, [])}
    title = lab.registry.areas[area].title
    hits = pages(type_query(page, site, title))
    assert lab.people_page not in hits, f"{title!r} found the directory through its cards: {hits}"
    others = [h for h in hits if h.startswith(f"{lab.config.people_dir}/") and h not in members]
    assert not others, f"{title!r} found people who do not work on it: {others}"


def test_first_query_downloads_little(page: Any, site: Site, lab: Lab, person: str) -> None:
    name = lab.registry.people[person].name
    transfer = first_query_bytes(page, site, name)
    assert not [u for u in transfer.urls if u.endswith("searchindex.js")], transfer.urls
    assert any("/pagefind/" in u for u in transfer.urls), transfer.urls
    assert transfer.bytes <= BYTE_BUDGET, (
        f"the first query downloaded {transfer.bytes} bytes: {transfer.urls}")


def test_no_page_but_search_loads_an_index(page: Any, site: Site,
                                           page_of: dict[str, str]) -> None:
    """Pages other than the search page load neither Sphinx's index nor Pagefind's."""
    loaded: list[str] = []
    page.on("request", lambda req: loaded.append(req.url))
    for kind in KINDS:
        page.goto(site.url(page_of[kind]))
    index = [u for u in loaded if u.endswith("searchindex.js") or "/pagefind/" in u]
    assert not index, f"pages load a search index on every view: {index}"


def test_search_from_the_built_folder_falls_back_to_sphinx(page: Any, site: Site, lab: Lab,
                                                           person: str) -> None:
    """Opened from file:// (no server), the search page runs Sphinx's own search."""
    name = lab.registry.people[person].name
    page.goto((site.root / "search.html").as_uri() + "?q=" + name.replace(" ", "+"))
    page.wait_for_function(
        "() => document.querySelectorAll('#search-results ul.search li a').length > 0")
    hrefs = page.eval_on_selector_all("#search-results ul.search li a",
                                      "links => links.map(a => a.getAttribute('href'))")
    assert any(lab.person_page(person) in h for h in hrefs), hrefs


def test_search_page_with_results_is_accessible(page: Any, site: Site, lab: Lab, person: str,
                                                axe_source: str) -> None:
    from .test_accessibility import BLOCKING, describe

    type_query(page, site, lab.registry.people[person].name)
    page.add_script_tag(content=axe_source)
    report = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})"
                           ".then(r => r.violations)")
    blocking = [v for v in report if v["impact"] in BLOCKING]
    assert not blocking, "\n".join(map(describe, blocking))
