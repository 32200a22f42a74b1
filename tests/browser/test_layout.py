"""Nothing scrolls sideways on a phone or a laptop (#19), on the example lab and on a generated
50-person lab; the matrix and the charts fit; contact and openings are one click from home.

Screen sizes are real ones: 360 px (the narrowest common phone) and 1366 px (the most common
laptop). Pages come from the built sites' own files, so the tests follow the content.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import sphinx_build

from .conftest import TIMEOUT_MS, Site, serving, synthetic_lab
from .lab import Lab

WIDTHS = (360, 1366)
#: The pages that draw something wide: each must keep it inside the screen.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const page = document.documentElement.scrollWidth;
  const wide = [...document.querySelectorAll('article *')]
    .filter(e => e.checkVisibility() && e.getBoundingClientRect().right > width + 1
                 && !e.closest('.pst-scrollable-table-container, pre, .highlight, .lh-sr-only'))
    .slice(0, 3).map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`
                            + ` ${Math.round(e.getBoundingClientRect().right)}px`);
  return {page, width, wide};
}"""


def site_pages(root: Path, papers: int | None = None) -> list[str]:
    """Every HTML page of a built site (at most ``papers`` paper pages, spread evenly)."""
    pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                   if not p.relative_to(root).as_posix().startswith(("_", "genindex")))
    paper = [p for p in pages if p.startswith("papers/")]
    if papers is not None and len(paper) > papers:
        keep = set(paper[:: max(1, len(paper) // papers)][:papers])
        pages = [p for p in pages if not p.startswith("papers/") or p in keep]
    return pages


def overflowing(browser: Any, site: Site, pages: list[str]) -> dict[str, str]:
    found = {}
    for width in WIDTHS:
        context = browser.new_context(base_url=site.base, viewport={"width": width,
                                                                    "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        tab = context.new_page()
        for page in pages:
            tab.goto(site.url(page), wait_until="load")
            result = tab.evaluate(OVERFLOW)
            if result["page"] > result["width"] or result["wide"]:
                found[f"{page} @ {width}px"] = (f"page {result['page']}px wide in "
                                                f"{result['width']}px: {result['wide']}")
        context.close()
    return found


def test_no_page_of_the_example_lab_scrolls_sideways(browser: Any, site: Site) -> None:
    pages = site_pages(site.root)
    assert len(pages) > 20
    assert overflowing(browser, site, pages) == {}


@pytest.fixture(scope="module")
def big_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A generated lab of 50 people (benchmarks/synthlab.py), built and served."""
    src = synthetic_lab(tmp_path_factory.mktemp("lab50") / "src", 50, 8, 150)
    research = src / "research" / "index.md"  # the example lab's research page has the graph
    research.write_text(research.read_text(encoding="utf-8").replace(
        "```{toctree}", "## Who works with whom\n\n```{collaboration-graph}\n```\n\n```{toctree}",
        1), encoding="utf-8")
    build = sphinx_build(src, src.parent / "out")
    assert build.warnings == "", build.warnings[:2000]
    with serving(build.outdir) as served:
        yield served


def test_no_page_of_a_50_person_lab_scrolls_sideways(browser: Any, big_lab: Site) -> None:
    pages = site_pages(big_lab.root, papers=25)
    assert sum(p.startswith("people/") for p in pages) > 50
    assert overflowing(browser, big_lab, pages) == {}


def fits(tab: Any, selector: str) -> list[str]:
    """Visible elements matching ``selector`` that stick out of the content column."""
    return tab.evaluate("""(selector) => {
      const column = document.querySelector('article').getBoundingClientRect();
      return [...document.querySelectorAll(selector)].filter(e => e.checkVisibility())
        .filter(e => { const r = e.getBoundingClientRect();
                       return r.width > 0 && (r.left < column.left - 1
                                              || r.right > column.right + 1); })
        .map(e => e.tagName + ' ' + Math.round(e.getBoundingClientRect().width) + 'px');
    }""", selector)


@pytest.mark.parametrize("width", WIDTHS)
def test_matrix_and_charts_fit_and_stay_readable(browser: Any, site: Site, big_lab: Site,
                                                 width: int) -> None:
    for where in (site, big_lab):
        context = browser.new_context(base_url=where.base,
                                      viewport={"width": width, "height": 800})
        tab = context.new_page()
        tab.goto(where.url("research/index.html"))
        shown = tab.evaluate("""() => [...document.querySelectorAll(
            'table.lh-matrix, .lh-matrix-list')].filter(e => e.checkVisibility()).length""")
        assert shown >= 1, "neither the matrix nor its list is shown"
        assert fits(tab, "table.lh-matrix, .lh-matrix-list, svg.lh-chart") == []
        charts = 0
        for page in ("research/index.html", "publications.html"):
            tab.goto(where.url(page))
            assert fits(tab, "svg.lh-chart") == []
            # chart text is drawn at 9 px or more (it was 5 px on phones)
            sizes = tab.evaluate("""() => [...document.querySelectorAll('svg.lh-chart text')]
                .filter(t => t.checkVisibility())
                .map(t => t.getBoundingClientRect().height)""")
            assert not sizes or min(sizes) >= 9, (page, width, min(sizes))
            charts += bool(sizes)
        assert charts, "no chart to check"
        context.close()


def test_contact_and_openings_are_one_click_from_home(page: Any, site: Site, lab: Lab) -> None:
    page.goto(site.url("index.html"))
    link = page.locator("article a.lh-contact-link")
    assert link.is_visible()
    link.click()
    page.wait_for_url(site.url("contact.html"))
    assert page.locator("article #openings").is_visible()
    openings = [o.title for slug in lab.people for o in lab.registry.people[slug].openings]
    text = page.locator("article #openings").inner_text()
    for title in openings:
        assert title in text


#: Labels of the collaboration graph whose boxes overlap, and what the graph and list show.
GRAPH = """() => {
  const figure = document.querySelector('figure#collaboration');
  const svg = figure.querySelector('svg');
  const labels = [...figure.querySelectorAll('svg text')].filter(t => t.checkVisibility())
    .map(t => [t.textContent, t.getBoundingClientRect()]);
  const overlaps = [];
  labels.forEach(([a, r], i) => labels.slice(i + 1).forEach(([b, q]) => {
    if (r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom)
      overlaps.push(`${a} / ${b}`);
  }));
  return {shown: svg.checkVisibility(), labels: labels.length, overlaps,
          nodes: figure.querySelectorAll('svg circle').length,
          listed: figure.querySelectorAll('details li').length,
          summary: figure.querySelector('details summary').checkVisibility(),
          legend: figure.querySelector('.lh-collab-legend').checkVisibility()};
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_collaboration_graph_stays_readable_in_a_large_lab(browser: Any, site: Site,
                                                           big_lab: Site, width: int) -> None:
    """At most a dozen members drawn, no label over another, inside the column; a phone that
    cannot show a large lab's graph readably gets the list of who writes with whom."""
    for where, members in ((site, None), (big_lab, 50)):
        context = browser.new_context(base_url=where.base,
                                      viewport={"width": width, "height": 800})
        tab = context.new_page()
        tab.goto(where.url("research/index.html"))
        graph = tab.evaluate(GRAPH)
        assert graph["nodes"] <= 12, graph
        assert graph["overlaps"] == [], graph
        assert fits(tab, "figure#collaboration, figure#collaboration *") == []
        assert graph["summary"], "the list of who writes with whom is not reachable"
        if graph["shown"]:
            assert graph["labels"] == graph["nodes"] and graph["legend"], graph
        else:  # only a large lab's graph on a phone gives way to the list
            assert members and width < 600, graph
            assert not graph["legend"], "the legend describes a picture that is not shown"
        if members:
            assert graph["nodes"] < members and graph["listed"] > graph["nodes"], graph
            if width > 1000:
                assert graph["shown"], graph
        context.close()


def avatars(tab: Any) -> list[dict[str, Any]]:
    """Initials avatars on the page: who (the card's or page's person), colours, section."""
    return tab.evaluate("""() => [...document.querySelectorAll('article span.lh-avatar')]
      .filter(a => a.checkVisibility()).map(a => {
        const card = a.closest('.lh-person-card');
        const link = card ? card.querySelector('a.sd-stretched-link').href : location.href;
        const style = getComputedStyle(a);
        return {who: link.split('/').pop(), bg: style.backgroundColor, fg: style.color,
                section: card ? card.closest('section').id : ''};
      })""")


def rgb_contrast(a: str, b: str) -> float:
    def luminance(css: str) -> float:
        channels = [int(v) / 255 for v in css[css.index("(") + 1:css.index(")")].split(",")[:3]]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_avatar_colour_is_the_persons_and_neighbours_differ(browser: Any, site: Site,
                                                            big_lab: Site, scheme: str) -> None:
    for where in (site, big_lab):
        context = browser.new_context(base_url=where.base, color_scheme=scheme,
                                      viewport={"width": 1366, "height": 800})
        tab = context.new_page()
        colour: dict[str, str] = {}
        for page in ("index.html", "people/index.html"):
            tab.goto(where.url(page))
            tab.evaluate("s => { document.documentElement.dataset.theme = s; }", scheme)
            cards = avatars(tab)
            for card in cards:
                assert colour.setdefault(card["who"], card["bg"]) == card["bg"], (page, card)
                assert rgb_contrast(card["bg"], card["fg"]) >= 4.5, card
            for i, card in enumerate(cards):  # beside and above in a grid of up to 3 columns
                near = [c["bg"] for c in cards[max(0, i - 3):i] if c["section"] == card["section"]]
                assert card["bg"] not in near, (page, card, near)
        people = sorted(colour)[:12]
        assert len(colour) >= min(3, len(people))
        for who in people:
            tab.goto(where.url(f"people/{who}"))
            tab.evaluate("s => { document.documentElement.dataset.theme = s; }", scheme)
            header = avatars(tab)[0]
            assert header["bg"] == colour[who], (who, header, colour[who])
        context.close()
