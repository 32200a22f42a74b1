"""Discovery: news feeds, paper pages with scholarly metadata, charts, OpenGraph, sitemap."""

from __future__ import annotations

import json
import re

import feedparser
import pybtex.database
import pytest
from conftest import REPO, ROOTS, copy_project, sphinx_build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    src = copy_project(ROOTS / "test-publications", tmp_path_factory.mktemp("disc") / "src")
    build = sphinx_build(src, src.parent / "out")
    assert build.warnings == ""
    return build


def library(build) -> pybtex.database.BibliographyData:
    data = pybtex.database.BibliographyData()
    for path in sorted((build.srcdir / "bib").glob("*.bib")):
        for key, entry in pybtex.database.parse_file(path).entries.items():
            data.add_entry(key, entry)
    return data


def test_lab_feed_is_valid_atom_newest_first(built) -> None:
    feed = feedparser.parse((built.outdir / "news.atom").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    titles = [e.title for e in feed.entries]
    assert titles == ["Lijun Wu: Dropout Twice was accepted <b>at</b> NeurIPS.",
                      "Jörg Müller: Jörg presented umlauts.",
                      "Lijun Wu: A study of reinforcement learning for translation appeared."]
    assert feed.entries[0].updated.startswith("2021-09-30")
    assert feed.entries[2].link == "https://example.org/rl"
    assert "Dropout Twice" in feed.entries[0].content[0].value  # the paper it mentions
    assert feed.feed.updated.startswith("2021-09-30")  # from the items, not the clock


def test_person_feed_has_only_their_news(built) -> None:
    feed = feedparser.parse((built.outdir / "people/jorg-muller.atom").read_bytes())
    assert not feed.bozo
    assert [e.title for e in feed.entries] == ["Jörg presented umlauts."]
    page = built.soup("people/jorg-muller.html")
    alternates = {link["href"] for link in page.find_all("link", rel="alternate")}
    assert alternates == {"../news.atom", "jorg-muller.atom"}


def test_news_page_links_people_and_papers_and_escapes_text(built) -> None:
    soup = built.soup("news.html").find("article")
    first = soup.select("ul.lh-news li")[0]
    hrefs = [a["href"] for a in first.find_all("a")]
    assert hrefs == ["people/lijun-wu.html", "papers/wu2021drop.html"]
    assert "<b>at</b>" in first.get_text()  # shown as text, never as markup
    assert first.find("b") is None


def test_every_paper_has_a_page(built) -> None:
    keys = set(library(built).entries)
    pages = {p.stem for p in (built.outdir / "papers").glob("*.html")}
    assert keys == pages


def test_paper_page_meta_tags_and_json_ld_match_the_bib(built) -> None:
    entry = library(built).entries["wu2021drop"]
    soup = built.soup("papers/wu2021drop.html")
    metas = [(m["name"], m["content"]) for m in soup.find_all("meta", attrs={"name": True})
             if m["name"].startswith("citation_")]
    authors = [str(p) for p in entry.persons["author"]]
    assert [c for n, c in metas if n == "citation_author"] == authors
    assert ("citation_title", entry.fields["title"]) in metas
    assert ("citation_publication_date", entry.fields["year"]) in metas
    assert ("citation_conference_title", entry.fields["booktitle"]) in metas
    data = json.loads(soup.find("script", type="application/ld+json").string)
    assert data["@type"] == "ScholarlyArticle"
    assert data["headline"] == entry.fields["title"]
    assert [a["name"] for a in data["author"]] == ["Xiaobo Liang", "Lijun Wu", "Zhen Wu"]
    assert data["datePublished"] == "2021"
    assert "https://arxiv.org/abs/2106.14448" in data["sameAs"]
    body = soup.find("article")
    assert body.select_one("a.lh-member")["href"] == "../people/lijun-wu.html"
    assert body.select_one("button.lh-bibtex-button")["data-bibtex"].startswith(
        "@inproceedings{wu2021drop,")
    assert [a.get_text() for a in body.select("#research-areas a")] == ["Machine translation"]
    assert [a["href"] for a in body.select("#related a")] == ["wu2018rl.html"]


def test_doi_meta_tag(built) -> None:
    soup = built.soup("papers/wu2018rl.html")
    assert soup.find("meta", attrs={"name": "citation_doi"})["content"] == "10.18653/v1/D18-1397"
    assert soup.find("meta", attrs={"name": "citation_journal_title"})["content"] == \
        "Journal of Translation"


def test_person_json_ld(built) -> None:
    soup = built.soup("people/lijun-wu.html")
    scripts = [json.loads(s.string) for s in soup.find_all("script", type="application/ld+json")]
    person = next(s for s in scripts if s["@type"] == "Person")
    assert person["name"] == "Lijun Wu"


def chart_numbers(svg_desc: str) -> dict[int, int]:
    return {int(y): int(n) for y, n in re.findall(r"(\d{4}): (\d+)", svg_desc)}


def test_charts_match_the_library(built) -> None:
    data = library(built)
    desc = built.soup("publications.html").select_one("#pubs-per-year desc").get_text()
    counts: dict[int, int] = {}
    for entry in data.entries.values():
        counts[int(entry.fields["year"])] = counts.get(int(entry.fields["year"]), 0) + 1
    full = {y: counts.get(y, 0) for y in range(min(counts), max(counts) + 1)}
    assert chart_numbers(desc) == full
    bars = built.soup("publications.html").select("#pubs-per-year rect.lh-bar")
    assert len(bars) == len(full)
    person = built.soup("people/lijun-wu.html").select_one("#person-pubs-per-year desc")
    assert chart_numbers(person.get_text()) == {2018: 1, 2019: 0, 2020: 0, 2021: 1}


def test_open_graph_and_sitemap_on_the_real_handbook(handbook) -> None:
    from labhandbook.config import LabConfig
    from labhandbook.registry import load_registry

    registry, _ = load_registry(REPO, LabConfig())
    slug = registry.ordered_people()[0]
    name = registry.people[slug].name
    soup = handbook.soup(f"people/{slug}.html")
    og = {m["property"]: m["content"] for m in soup.find_all("meta", property=True)}
    assert og["og:title"] == name
    assert og["og:url"].endswith(f"/people/{slug}.html")
    sitemap = (handbook.outdir / "sitemap.xml").read_text()
    assert f"people/{slug}.html" in sitemap and "papers/" in sitemap
    collab = handbook.soup("research/index.html").select_one("#collaboration desc").get_text()
    for person in registry.people.values():
        assert person.name in collab
    assert (REPO / "news.md").exists() and (handbook.outdir / "news.atom").exists()


def test_paper_pages_are_rendered_only_when_they_change(tmp_path) -> None:
    from conftest import cli_build

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    first = cli_build(src, tmp_path / "out")
    assert first.warnings == ""
    pages = sorted((tmp_path / "out/html/papers").glob("*.html"))
    stamps = {p.name: p.stat().st_mtime_ns for p in pages}
    cli_build(src, tmp_path / "out")
    assert {p.name: p.stat().st_mtime_ns for p in pages} == stamps  # no change: none rendered
    bib = src / "bib" / "b.bib"
    bib.write_text(bib.read_text().replace("Umlauts in Molecules", "Umlauts in Big Molecules"))
    third = cli_build(src, tmp_path / "out")
    assert third.warnings == ""
    changed = {p.name for p in pages if p.stat().st_mtime_ns != stamps[p.name]}
    # the edited paper, and the one whose "related papers" shows its title
    assert changed == {"mueller2019umlaut.html", "wu2019ws.html"}
    assert "Umlauts in Big Molecules" in (tmp_path / "out/html/papers/wu2019ws.html").read_text()


def _stamps(folder) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.html")}


def test_a_new_entry_renders_only_its_neighbours_pages(tmp_path) -> None:
    """Related papers are a paper's neighbours in time, not its area's newest papers: adding
    one entry to an area of 40 renders its page and a few around it, not all 40 (#8)."""
    from conftest import cli_build

    from labhandbook.papers import NEIGHBOURS

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    many = "".join(
        f"@inproceedings{{bulk{i:02d},\n  author = {{Wu, Lijun and Other, Person{i}}},\n"
        f"  title = {{Molecule Study Number {i}}},\n  booktitle = {{Conference on Molecules}},\n"
        f"  year = {{{2000 + i // 2}}},\n  keywords = {{molecules}},\n}}\n" for i in range(40))
    (src / "bib" / "c.bib").write_text(many, encoding="utf-8")
    assert cli_build(src, tmp_path / "out").warnings == ""
    folder = tmp_path / "out/html/papers"
    before = _stamps(folder)
    with (src / "bib" / "c.bib").open("a", encoding="utf-8") as f:
        f.write("@inproceedings{bulknew,\n  author = {Wu, Lijun and Other, Someone},\n"
                "  title = {A New Molecule Study},\n  booktitle = {Conference on Molecules},\n"
                "  year = {2020},\n  keywords = {molecules},\n}\n")
    assert cli_build(src, tmp_path / "out").warnings == ""
    after = _stamps(folder)
    changed = {name for name in after if before.get(name) != after[name]}
    assert "bulknew.html" in changed
    # the new page, and at most the neighbours on each side of it in the one list it is in
    assert 1 < len(changed) <= 1 + 2 * NEIGHBOURS, sorted(changed)
    new_related = [a["href"] for a in BeautifulSoup_(folder / "bulknew.html").select("#related a")]
    assert len(new_related) == 5
    for href in new_related:  # its related papers are the nearest in time
        year = int(BeautifulSoup_(folder / href).select_one(".lh-paper-venue").get_text()
                   .split(",")[-1].split("·")[0])
        assert abs(year - 2020) <= 2


def test_a_changed_setting_renders_paper_pages_again(tmp_path) -> None:
    """Paper pages show the site's settings (title, theme options): a change there renders
    them again even though no entry changed."""
    from conftest import cli_build

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    assert cli_build(src, tmp_path / "out").warnings == ""
    folder = tmp_path / "out/html/papers"
    before = _stamps(folder)
    assert cli_build(src, tmp_path / "out").warnings == ""
    assert _stamps(folder) == before  # nothing changed: nothing rendered
    conf = src / "conf.py"
    conf.write_text(conf.read_text() + 'html_title = "A Renamed Handbook"\n')
    assert cli_build(src, tmp_path / "out").warnings == ""
    after = _stamps(folder)
    assert all(after[name] != before[name] for name in before)
    assert "A Renamed Handbook" in (folder / "wu2021drop.html").read_text(encoding="utf-8")


def test_a_deleted_paper_page_is_rendered_again(tmp_path) -> None:
    from conftest import cli_build

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    assert cli_build(src, tmp_path / "out").warnings == ""
    page = tmp_path / "out/html/papers/wu2021drop.html"
    page.unlink()
    assert cli_build(src, tmp_path / "out").warnings == ""
    assert page.exists()


def BeautifulSoup_(path):  # noqa: N802  (a parsed HTML file)
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_feeds_and_downloads_are_written_only_when_what_they_show_changes(tmp_path) -> None:
    from conftest import cli_build

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    out = tmp_path / "out/html"
    assert cli_build(src, tmp_path / "out").warnings == ""
    files = [out / "news.atom", out / "people/lijun-wu.atom", out / "people/jorg-muller.atom",
             out / "_downloads/bib/lijun-wu.bib", out / "_downloads/bib/jorg-muller.bib"]
    stamps = {f: f.stat().st_mtime_ns for f in files}
    assert cli_build(src, tmp_path / "out").warnings == ""
    assert {f: f.stat().st_mtime_ns for f in files} == stamps
    # a news item's paper gets a new title: the feeds that name it change, and the downloads
    bib = src / "bib" / "a.bib"
    text = bib.read_text(encoding="utf-8")
    assert "Dropout Twice" in text
    bib.write_text(text.replace("Dropout Twice", "Dropout Thrice"), encoding="utf-8")
    assert cli_build(src, tmp_path / "out").warnings == ""
    assert "Dropout Thrice" in (out / "news.atom").read_text(encoding="utf-8")
    assert "Dropout Thrice" in (out / "people/lijun-wu.atom").read_text(encoding="utf-8")
    assert "Dropout Thrice" in (out / "_downloads/bib/lijun-wu.bib").read_text(encoding="utf-8")
    (out / "people/jorg-muller.atom").unlink()  # a missing output is written again
    (out / "_downloads/bib/jorg-muller.bib").unlink()
    assert cli_build(src, tmp_path / "out").warnings == ""
    assert (out / "people/jorg-muller.atom").exists()
    assert (out / "_downloads/bib/jorg-muller.bib").exists()


def test_with_j2_paper_pages_have_the_same_bytes(tmp_path):
    """``-j 2`` and ``-j 1`` give the same paper pages (rendered by Sphinx at
    ``html-collect-pages``, in the main process: see tests/test_incremental.py)."""
    import subprocess
    import sys

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    (src / "bib" / "c.bib").write_text("".join(
        f"@misc{{bulk{i:02d},\n  author = {{Wu, Lijun}},\n  title = {{Paper {i}}},\n"
        f"  year = {{{2000 + i}}},\n  keywords = {{molecules}},\n}}\n"
        for i in range(25)), encoding="utf-8")
    outs = {}
    for jobs in ("1", "2"):
        run = subprocess.run(
            [sys.executable, "-m", "sphinx", "-b", "html", "-W", "-j", jobs, "-d",
             str(tmp_path / f"d{jobs}"), str(src), str(tmp_path / f"h{jobs}")],
            capture_output=True, text=True, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
        assert run.returncode == 0, run.stderr[-2000:]
        outs[jobs] = {p.name: p.read_bytes() for p in (tmp_path / f"h{jobs}/papers").glob("*")}
    assert len(outs["1"]) >= 25
    assert outs["1"] == outs["2"]
