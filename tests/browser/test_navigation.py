"""Getting around, as a reader clicks: directory cards, area links, member names in publication
lists, the edit-this-page button and the colour mode.

Who and what to expect comes from the sources (front matter and ``bib/*.bib``), so the tests
follow the content as it grows; a test with nothing to check fails instead of passing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import pytest
from bs4 import BeautifulSoup, Tag

from .conftest import Site
from .lab import Lab, Paper, squash

LINKS_IN = "article a[href]"
CARDS = "article .sd-card:has(a.sd-stretched-link)"


def link_urls(page: Any, selector: str = LINKS_IN) -> list[str]:
    """The absolute URLs (without anchor) of the links in the page's content."""
    return [url.split("#")[0] for url in
            page.eval_on_selector_all(selector, "links => links.map(a => a.href)")]


def click_link_to(page: Any, url: str, selector: str = LINKS_IN) -> bool:
    """Click the first visible link of the content to ``url``; whether there was one."""
    index = page.eval_on_selector_all(
        selector,
        "(links, url) => links.findIndex(a => a.href.split('#')[0] === url"
        " && a.checkVisibility())",
        url)
    if index < 0:
        return False
    page.locator(selector).nth(index).click()
    page.wait_for_url(url)
    return True


def heading(page: Any) -> str:
    return page.locator("article h1").first.inner_text().strip().rstrip("#").strip()


# --- the people directory -----------------------------------------------------------------------


def test_directory_cards_open_the_person_pages(page: Any, site: Site, lab: Lab) -> None:
    assert lab.people, "people/ has no person page: the directory has nothing to show"
    directory = site.url(lab.people_page)
    wrong = {}
    for slug in lab.people:
        person = lab.registry.people[slug]
        target = site.url(lab.person_page(slug))
        page.goto(directory)
        index = page.eval_on_selector_all(
            CARDS, "(cards, url) => cards.findIndex("
            " c => c.querySelector('a.sd-stretched-link').href.split('#')[0] === url)", target)
        if index < 0:
            wrong[slug] = "no card of the directory links to the person's page"
            continue
        # A reader clicks the card where the name is; whatever lies on top there gets it.
        title = page.locator(CARDS).nth(index).locator(".sd-card-title")
        title.scroll_into_view_if_needed()
        box = title.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        try:
            page.wait_for_url(target, timeout=5_000)
        except Exception:  # noqa: BLE001 - reported below with where the click went
            wrong[slug] = f"clicking the card opened {page.url}"
            continue
        if heading(page) != person.name:
            wrong[slug] = f"the page opened by the card is headed {heading(page)!r}"
    assert not wrong, f"directory cards that do not open the person's page: {wrong}"


# --- people and areas ---------------------------------------------------------------------------


def test_a_persons_areas_open_area_pages_that_list_the_person(page: Any, site: Site,
                                                              lab: Lab) -> None:
    people = [slug for slug in lab.people if lab.registry.people[slug].areas]
    assert people, "no person lists `areas` in their front matter: nothing links people and areas"
    wrong = {}
    for slug in people:
        person_url = site.url(lab.person_page(slug))
        page.goto(person_url)
        for area in lab.registry.people[slug].areas:
            area_url = site.url(lab.area_page(area))
            if page.url != person_url:
                page.go_back()
                page.wait_for_url(person_url)
            if not click_link_to(page, area_url):
                wrong[f"{slug} -> {area}"] = "the person's page has no visible link to the area"
                continue
            if heading(page) != lab.registry.areas[area].title:
                wrong[f"{slug} -> {area}"] = f"the area page is headed {heading(page)!r}"
            if person_url not in link_urls(page):
                wrong[f"{slug} -> {area}"] = "the area page does not link to the person"
    assert not wrong, f"people and areas that do not link both ways: {wrong}"


# --- member names in publication lists ----------------------------------------------------------


def family_name(bib_name: str) -> str:
    """"Lovelace, Ada" -> "lovelace"; "Ada Lovelace" -> "lovelace"."""
    last = bib_name.partition(",")[0] if "," in bib_name else bib_name.split()[-1]
    return squash(last.replace("{", "").replace("}", ""))


def innermost_showing(el: Tag, title: str) -> list[Tag]:
    """The innermost elements under ``el`` whose text shows ``title`` (descending only into
    children that show it, so a large page is read a few times, not once per element)."""
    kids = [c for c in el.find_all(True, recursive=False) if title in squash(c.get_text(" "))]
    if not kids:
        return [el]
    return [found for kid in kids for found in innermost_showing(kid, title)]


def entry_of(content: Tag, paper: Paper) -> Tag | None:
    """The element of a publication list that holds ``paper``: the smallest element showing
    its title that also shows its member authors' names."""
    title = squash(paper.title)
    if title not in squash(content.get_text(" ")):
        return None
    names = [family_name(n) for n in paper.members.values()]
    for el in innermost_showing(content, title):
        while el is not None and el is not content:
            text = squash(el.get_text(" "))
            if all(text.count(n) > title.count(n) for n in names):
                return el
            el = el.parent
    return None


def member_links(site: Site, page_path: str, content: Tag, lab: Lab,
                 paper: Paper) -> dict[str, str]:
    """For each member author of ``paper`` on ``page_path``: what is wrong with their name
    (nothing when it links to their page)."""
    entry = entry_of(content, paper)
    if entry is None:
        return {slug: f"{page_path} does not show {paper.key}" for slug in paper.members}
    base = site.url(page_path)
    problems = {}
    for slug, bib_name in paper.members.items():
        target = site.url(lab.person_page(slug))
        ok = any(urljoin(base, a["href"]).split("#")[0] == target
                 and family_name(bib_name) in squash(a.get_text(" "))
                 for a in entry.find_all("a", href=True))
        if not ok:
            problems[slug] = (f"{bib_name!r} in {paper.key} on {page_path} is not a link to "
                              f"{lab.person_page(slug)}")
    return problems


def papers_with_members(lab: Lab) -> list[Paper]:
    papers = [p for p in lab.papers if p.members]
    assert papers, (f"no author in {lab.config.bib_dir}/*.bib matches a member's name "
                    "(or `bib_names`): no publication list can link a member")
    return papers


def test_member_names_in_the_publication_list_link_to_their_pages(site: Site,
                                                                  lab: Lab) -> None:
    path = lab.publications_page
    soup = BeautifulSoup((site.root / path).read_text(encoding="utf-8"), "html.parser")
    content = soup.find("article") or soup.body
    wrong = {}
    for paper in papers_with_members(lab):
        wrong.update({f"{paper.key}/{slug}": why for slug, why in
                      member_links(site, path, content, lab, paper).items()})
    assert not wrong, f"member names that are not links to their pages: {wrong}"


def test_a_member_name_in_a_publication_list_opens_their_page(page: Any, site: Site,
                                                              lab: Lab) -> None:
    paper = papers_with_members(lab)[0]
    slug, _ = next(iter(paper.members.items()))
    page.goto(site.url(lab.publications_page))
    assert click_link_to(page, site.url(lab.person_page(slug))), (
        f"{lab.publications_page} has no visible link to {lab.person_page(slug)}")
    assert heading(page) == lab.registry.people[slug].name


# --- the edit-this-page button ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["person", "area", "publications"])
def test_edit_button_points_to_the_source_file(page: Any, site: Site, lab: Lab,
                                               page_of: dict[str, str], kind: str) -> None:
    path = page_of[kind]
    source = lab.source_of(path)
    assert source, f"{path} has no source file in the repository"
    page.goto(site.url(path))
    page.locator(".dropdown-source-buttons button.dropdown-toggle:visible").first.click()
    edit = page.locator("a.btn-source-edit-button")
    edit.wait_for(state="visible")
    href = edit.get_attribute("href")
    assert href == lab.edit_url(source), (
        f"{path}: the edit button points to {href}, not to {lab.edit_url(source)}")


# --- colour mode --------------------------------------------------------------------------------


def background_luminance(page: Any) -> float:
    """Relative luminance (0 black .. 1 white) of the page's background."""
    rgb = page.evaluate(
        "() => getComputedStyle(document.body).backgroundColor.match(/[\\d.]+/g).map(Number)")
    r, g, b = (c / 255 for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_dark_mode_toggles_and_persists_across_a_reload(page: Any, site: Site,
                                                        page_of: dict[str, str]) -> None:
    page.goto(site.url("index.html"))
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    light = background_luminance(page)
    assert light > 0.5, "the light theme does not have a light background"

    page.locator(".theme-switch-button:visible").first.click()
    page.locator(".theme-change-button[data-mode=dark]:visible").first.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.wait_for_function("() => { const c = getComputedStyle(document.body).backgroundColor"
                           ".match(/[\\d.]+/g).map(Number);"
                           " return (c[0] + c[1] + c[2]) / 3 < 128; }")

    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark", (
        "dark mode is lost on reload")
    assert background_luminance(page) < 0.5
    page.goto(site.url(page_of["person"]))
    assert page.evaluate("document.documentElement.dataset.theme") == "dark", (
        "dark mode is lost on another page")
