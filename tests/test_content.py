"""The real handbook's content, checked from the built HTML."""

from __future__ import annotations

import re

import pybtex.database
import pytest
from conftest import REPO

from labhandbook.config import LabConfig
from labhandbook.registry import load_registry

REGISTRY, PROBLEMS = load_registry(REPO, LabConfig())
MOJIBAKE = re.compile("ð\u0178|â€|Ã[\u0080-\u00bf]|\ufffd|ï¿½")


def test_front_matter_is_clean() -> None:
    assert PROBLEMS == []
    pages = {p.stem for p in (REPO / "people").glob("*.md")} - {"index"}
    assert pages and set(REGISTRY.people) == pages
    assert {p.stem for p in (REPO / "research").glob("*.md")} - {"index"} == set(REGISTRY.areas)


@pytest.mark.parametrize("slug", sorted(REGISTRY.people))
def test_member_page_shows_position_areas_and_news(handbook, slug: str) -> None:
    person = REGISTRY.people[slug]
    page = handbook.soup(f"people/{slug}.html").find("article")
    header = page.select_one(".lh-person-header").get_text(" ", strip=True)
    assert person.position in header
    area_links = [a.get_text(strip=True) for a in page.select(".lh-areas a")]
    assert area_links == [REGISTRY.areas[a].title for a in person.areas]
    news = page.find("section", id="news")
    assert news is not None and len(news.select("ul.lh-news li")) == len(person.news)
    for item in person.news:
        assert item.text in news.get_text(" ")


def _bib_authors() -> dict[str, set[str]]:
    """key -> member slugs among its authors, straight from the .bib files."""
    out = {}
    for path in sorted((REPO / "bib").glob("*.bib")):
        for key, entry in pybtex.database.parse_file(path).entries.items():
            slugs = REGISTRY.names.slugs(entry.persons["author"])
            out[key] = {slug for slug in slugs if slug}
    return out


@pytest.mark.parametrize("slug", sorted(REGISTRY.people))
def test_member_page_lists_exactly_their_papers(handbook, slug: str) -> None:
    expected = {key for key, members in _bib_authors().items() if slug in members}
    assert expected
    page = handbook.soup(f"people/{slug}.html").find("article")
    links = page.select("li.lh-pub a[href^='../papers/']")
    listed = {a["href"].removeprefix("../papers/").removesuffix(".html") for a in links}
    assert listed == expected


def test_every_paper_belongs_to_a_member_and_an_area() -> None:
    for key, members in _bib_authors().items():
        assert members, f"{key} names no lab member"


def test_no_mis_decoded_characters_anywhere(handbook) -> None:
    offenders = []
    for path in handbook.outdir.rglob("*"):
        if path.suffix in {".html", ".atom", ".xml", ".js", ".bib", ".txt"} and path.is_file():
            text = path.read_text(encoding="utf-8", errors="strict")
            if MOJIBAKE.search(text):
                offenders.append(path.relative_to(handbook.outdir).as_posix())
    assert offenders == []


def test_lab_name_comes_from_the_one_setting(handbook) -> None:
    conf = (REPO / "conf.py").read_text()
    name = re.search(r'"name": "([^"]+)"', conf).group(1)
    assert handbook.soup("index.html").find("h1").get_text(strip=True).rstrip("#") == name
    for page in ("index.md", "people/index.md", "research/index.md", "publications.md"):
        assert name not in (REPO / page).read_text(), f"{page} repeats the lab name"
