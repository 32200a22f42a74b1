"""Earlier years of a long publication list on pages of their own (#20: a department's list of
5,000 entries was 819 KB of compressed HTML, the only page over the 500 KB first-view budget).

The publications page shows the newest years up to ``publications_per_page`` entries; each
earlier year gets ``publications-<year>.html``. Every entry is still on exactly one page, every
``{cite}`` link lands on the page and anchor of its entry, and an incremental build that moves
a year onto a page of its own equals a clean build.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ROOTS, copy_project
from sphinx.errors import ConfigError
from test_incremental import NEW_ENTRY, build, cite_links, differences, finish, two_builds

from labhandbook.config import LabConfig


def per_page(src: Path, count: int) -> None:
    conf = src / "conf.py"
    text = conf.read_text(encoding="utf-8")
    new = text.replace('{"lab_name": "Publications lab"}',
                       f'{{"lab_name": "Publications lab", "publications_per_page": {count}}}')
    assert new != text
    conf.write_text(new, encoding="utf-8")


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def listed(html: Path) -> dict[str, list[str]]:
    """Page -> ids of the entries of the canonical list it shows."""
    pages = [html / "publications.html", *sorted(html.glob("publications-*.html"))]
    return {p.name: [li["id"] for li in soup(p).select("li.lh-citation")] for p in pages}


def test_earlier_years_get_pages_and_every_entry_is_on_one(tmp_path: Path) -> None:
    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    per_page(src, 2)  # 2021 (1 entry) fits, 2019 (3 entries) would not
    with (src / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write('html_baseurl = "https://lab.example.org/"\n')
    finish(build(src, tmp_path / "out", 1), "build")
    html = tmp_path / "out/html"
    pages = listed(html)
    assert set(pages) == {"publications.html", "publications-2019.html",
                          "publications-2018.html"}
    assert len(pages["publications.html"]) == 1
    ids = [i for page in pages.values() for i in page]
    assert len(ids) == len(set(ids)) == 5
    main = soup(html / "publications.html")
    assert main.select_one("p.lh-pub-count").get_text().startswith("5 publications")
    links = [a["href"] for a in main.select("#earlier-years p a")]
    assert links == ["publications-2019.html", "publications-2018.html"]
    assert not main.select("#year-2019"), "an earlier year is also on the publications page"
    year = soup(html / "publications-2019.html")
    assert year.select_one("form.lh-filter"), "the year's page has no filter"
    assert [li.select_one("button.lh-bibtex-button") for li in year.select("li.lh-citation")]
    assert "/publications-2019.html<" in (html / "sitemap.xml").read_text(encoding="utf-8")


def test_cite_links_follow_an_entry_whose_year_moves_to_its_own_page(tmp_path: Path) -> None:
    """A new 2030 entry fills the publications page (one entry a page): 2021 moves to a page
    of its own, and an unchanged page that cites a 2021 entry is written again, linking there."""
    def prepare(src: Path) -> None:
        per_page(src, 1)
        page = src / "research/molecules.md"
        page.write_text(page.read_text(encoding="utf-8") + "\nSee {cite:p}`wu2021drop`.\n",
                        encoding="utf-8")

    def edit(src: Path) -> None:  # last in the last file: the anchors stay, the page moves
        bib = src / "bib/b.bib"
        bib.write_text(bib.read_text(encoding="utf-8") + "\n" + NEW_ENTRY, encoding="utf-8")

    inc, clean, _ = two_builds(tmp_path, edit, prepare=prepare)
    links = re.findall(r'href="(\.\./publications[^"]*#[^"]+)"',
                       (clean / "research/molecules.html").read_text(encoding="utf-8"))
    assert len(links) == 1 and links[0].startswith("../publications-2021.html#"), links
    anchor = links[0].partition("#")[2]
    assert soup(clean / "publications-2021.html").find(id=anchor) is not None
    assert not cite_links(inc / "research/molecules.html")  # none left on the main page
    assert differences(inc, clean) == []


def test_the_default_keeps_a_lab_on_one_page() -> None:
    """A lab of 1,000 entries (the benchmark's lab scale) keeps its one publications page."""
    assert LabConfig().publications_per_page >= 1000


@pytest.mark.parametrize("value", [0, -3, True, "2000", 2.5])
def test_a_wrong_page_size_is_one_message(value: object) -> None:
    with pytest.raises(ConfigError, match=r"publications_per_page.*whole number"):
        LabConfig.from_dict({"publications_per_page": value})
    assert LabConfig.from_dict({"publications_per_page": 300}).publications_per_page == 300


def test_an_added_entry_leaves_the_pages_of_other_years_alone(tmp_path: Path) -> None:
    """sphinxcontrib-bibtex numbers its anchors over the whole list, so one entry added first
    renumbers them all; entries on a year's page are anchored at their key instead: that page,
    and an unchanged page that cites one of its entries, are not written again."""
    stamps: dict[str, int] = {}
    watched = ("publications-2018.html", "research/molecules.html", "publications.html")

    def prepare(src: Path) -> None:
        per_page(src, 1)
        page = src / "research/molecules.md"
        page.write_text(page.read_text(encoding="utf-8") + "\nSee {cite:p}`wu2018rl`.\n",
                        encoding="utf-8")

    def edit(src: Path) -> None:  # a 2021 entry first in the first file: every anchor moves
        for name in watched:
            stamps[name] = (tmp_path / "inc/html" / name).stat().st_mtime_ns
        bib = src / "bib/a.bib"
        bib.write_text(NEW_ENTRY.replace("2030", "2021") + bib.read_text(encoding="utf-8"),
                       encoding="utf-8")

    inc, clean, _ = two_builds(tmp_path, edit, prepare=prepare)
    assert differences(inc, clean) == []
    links = re.findall(r'href="(\.\./publications[^"]*#[^"]+)"',
                       (inc / "research/molecules.html").read_text(encoding="utf-8"))
    assert links == ["../publications-2018.html#ref-wu2018rl"]
    written = [n for n in watched if (inc / n).stat().st_mtime_ns != stamps[n]]
    assert written == ["publications.html"]


def test_each_page_filters_by_the_types_and_members_it_shows(tmp_path: Path) -> None:
    """A page's filter bar offers the types and members of the entries it shows (every area
    of the lab): an entry of a type the library had not had, added to a year on the
    publications page, changes that page's bar and leaves the pages of the other years as
    they were (a type they do not show would empty them), as a clean build has them."""
    def edit(src: Path) -> None:
        bib = src / "bib/a.bib"
        bib.write_text(bib.read_text(encoding="utf-8") + "\n@book{wu2021book,\n  author = "
                       "{Wu, Lijun},\n  title = {A Book},\n  publisher = {Example Press},\n"
                       "  year = {2021},\n}\n", encoding="utf-8")

    inc, clean, _ = two_builds(tmp_path, edit, prepare=lambda src: per_page(src, 1))
    assert (inc / "publications-2018.html").exists()
    assert differences(inc, clean) == []
    for page in [inc / "publications.html", *sorted(inc.glob("publications-*.html"))]:
        bar = soup(page).select_one("form.lh-filter")
        items = soup(page).select("li.lh-citation")
        kinds = {c for li in items for c in li["class"] if c.startswith("lh-kind-")}
        members = {c for li in items for c in li["class"] if c.startswith("lh-member-")}
        offered = {o["value"] for o in bar.select('select[data-lh-filter="kind"] option')}
        assert offered - {""} == {k.removeprefix("lh-kind-") for k in kinds}, page.name
        offered = {o["value"] for o in bar.select('select[data-lh-filter="member"] option')}
        assert offered - {""} == {m.removeprefix("lh-member-") for m in members}, page.name
        areas = bar.select('select[data-lh-filter="area"] option')
        research = (inc.parent.parent / "src/research").glob("*.md")
        assert len(areas) == 1 + len([a for a in research if a.stem != "index"])
    assert "Other publications" in (inc / "publications.html").read_text(encoding="utf-8")
    assert "Other publications" not in (inc / "publications-2018.html").read_text(
        encoding="utf-8")
