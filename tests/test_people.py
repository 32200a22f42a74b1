"""Generated people and research parts: directory, person pages, area pages, matrix, rebuilds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ROOTS, cli_build, copy_project, sphinx_build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    src = copy_project(ROOTS / "test-people", tmp_path_factory.mktemp("people") / "src")
    build = sphinx_build(src, src.parent / "out")
    assert build.warnings == ""
    return build


def article(build, page: str) -> BeautifulSoup:
    return build.soup(page).find("article")


def card_links(soup: BeautifulSoup) -> list[str]:
    return [a["href"] for a in soup.select(".sd-card a.sd-stretched-link")]


def test_directory_groups_by_role_in_order_with_alumni_last(built) -> None:
    soup = article(built, "people/index.html")
    headings = [h.get_text(strip=True).rstrip("#") for h in soup.find_all("h2")]
    assert headings == ["Principal investigators", "PhD students", "Alumni"]
    phd = soup.find("section", id="role-phd")
    # within a role, by family name: Babbage before Hopper
    assert card_links(phd) == ["charles-babbage.html", "grace-hopper.html"]
    alumni = soup.find("section", id="alumni")
    assert card_links(alumni) == ["mary-somerville.html"]
    assert "Postdoctoral researcher, 2018–2021" in alumni.get_text()


def test_cards_show_avatar_position_and_areas(built) -> None:
    soup = article(built, "people/index.html")
    ada = soup.find("section", id="role-pi").select_one(".sd-card")
    assert ada.select_one(".lh-avatar").get_text() == "AL"  # no photo: initials avatar
    assert "Professor of Computing" in ada.get_text()
    assert "Analytical engines" in ada.get_text()


def test_person_page_header_and_sections(built) -> None:
    soup = article(built, "people/ada-lovelace.html")
    header = soup.select_one(".lh-person-header")
    assert "Professor of Computing" in header.get_text()
    assert "Analytical Society" in header.get_text()
    area_link = header.select_one(".lh-areas a")
    assert area_link["href"] == "../research/engines.html"
    for section_id in ("news", "positions", "education", "awards", "service", "publications"):
        assert soup.find("section", id=section_id), section_id
    assert "Augustus De Morgan" in soup.find("section", id="education").get_text()


def test_email_is_obfuscated(built) -> None:
    html = built.html("people/ada-lovelace.html")
    assert "ada [at] example [dot] org" in html
    assert "ada@example.org" not in html
    assert "mailto:" not in html


def test_area_membership_both_ways(built) -> None:
    engines = article(built, "research/engines.html")
    members = engines.find("section", id="members")
    assert card_links(members) == ["../people/ada-lovelace.html",
                                   "../people/charles-babbage.html"]
    assert "Led by" in engines.select_one(".lh-leads").get_text()
    notes = article(built, "research/notes.html").find("section", id="members")
    assert "Former members: Mary Somerville" in notes.get_text(" ", strip=True)
    charles = article(built, "people/charles-babbage.html").select_one(".lh-areas")
    assert [a["href"] for a in charles.find_all("a")] == ["../research/engines.html",
                                                          "../research/notes.html"]


def test_research_index_cards_and_matrix(built) -> None:
    soup = article(built, "research/index.html")
    counts = [p.get_text() for p in soup.select(".lh-area-card .sd-card-footer p")]
    assert counts == ["2 members", "2 members"]
    rows = soup.select("table.lh-matrix tbody tr")
    marks = {r.find("td").get_text(strip=True): [td.get_text(strip=True) for td in
                                                 r.find_all("td")[1:]] for r in rows}
    assert marks == {"Ada Lovelace": ["●", ""], "Charles Babbage": ["●", "●"],
                     "Grace Hopper": ["", ""]}


def _reread(build_status: str) -> set[str]:
    return set(re.findall(r"reading sources\.\.\. \[\s*\d+%\] (\S+)", build_status))


def _written(build_status: str) -> set[str]:
    return set(re.findall(r"writing output\.\.\. \[\s*\d+%\] (\S+)", build_status))


def test_incremental_rebuild_after_areas_change(tmp_path: Path) -> None:
    src = copy_project(ROOTS / "test-people", tmp_path / "src")
    first = cli_build(src, tmp_path / "out")
    assert first.warnings == ""
    page = src / "people" / "charles-babbage.md"
    page.write_text(page.read_text().replace("areas: [engines, notes]", "areas: [notes]"))
    second = cli_build(src, tmp_path / "out")
    assert second.warnings == ""
    reread = _reread(second.status)
    assert {"people/charles-babbage", "people/index", "research/engines",
            "research/index"} <= reread
    assert "people/ada-lovelace" not in reread
    assert "publications" not in reread  # its filter bar shows names, not areas of people
    members = BeautifulSoup((tmp_path / "out/html/research/engines.html").read_text(),
                            "html.parser").find("section", id="members")
    assert card_links(members) == ["../people/ada-lovelace.html"]


def test_prose_edit_rereads_only_that_page(tmp_path: Path) -> None:
    src = copy_project(ROOTS / "test-people", tmp_path / "src")
    cli_build(src, tmp_path / "out")
    page = src / "people" / "grace-hopper.md"
    page.write_text(page.read_text().replace("writes compilers", "writes linkers"))
    second = cli_build(src, tmp_path / "out")
    assert _reread(second.status) == {"people/grace-hopper"}
    # Sphinx itself also rewrites the page whose toctree holds the edited page.
    assert _written(second.status) == {"people/grace-hopper", "people/index"}


def test_parallel_build_is_identical(tmp_path: Path) -> None:
    src = copy_project(ROOTS / "test-people", tmp_path / "src")
    one = sphinx_build(src, tmp_path / "one", parallel=1)
    two = sphinx_build(src, tmp_path / "two", parallel=2)
    assert one.warnings == two.warnings == ""
    pages = sorted(p.relative_to(one.outdir) for p in one.outdir.rglob("*.html"))
    assert pages
    for rel in pages:
        assert (one.outdir / rel).read_bytes() == (two.outdir / rel).read_bytes(), rel
