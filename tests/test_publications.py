"""Publication lists: name matching, highlighting, grouping, BibTeX, citations, caching."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ROOTS, cli_build, copy_project, sphinx_build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    src = copy_project(ROOTS / "test-publications", tmp_path_factory.mktemp("pubs") / "src")
    build = sphinx_build(src, src.parent / "out")
    assert build.warnings == ""  # no duplicate citation or label warnings either
    return build


def pub_texts(soup: BeautifulSoup, scope: str = "article") -> list[str]:
    root = soup.find(scope) if scope else soup
    return [li.get_text(" ", strip=True) for li in root.select("li.lh-pub, li.lh-citation")]


def paper_titles(soup: BeautifulSoup) -> list[str]:
    return [a.get_text() for a in soup.select("article li.lh-pub a[href^='../papers/']")]


def test_person_lists_use_name_variants_not_surnames(built) -> None:
    lijun = paper_titles(built.soup("people/lijun-wu.html"))
    # "Wu, Zhen" and the initials-only "Wu, L." are not Lijun Wu.
    assert lijun == ["Dropout Twice", "A Study of Reinforcement Learning"]
    jorg = pub_texts(built.soup("people/jorg-muller.html"))
    # accents and an ASCII spelling in bib_names; "First Last" and "Last, First" forms
    assert len(jorg) == 2
    assert "Umlauts in Molecules" in jorg[0] and "Workshop Paper" in jorg[1]


def member_links(soup: BeautifulSoup) -> list[tuple[str, str]]:
    return [(a.get_text(strip=True), a["href"]) for a in soup.select("article a.lh-member")]


def test_members_highlighted_and_linked_in_every_list(built) -> None:
    canonical = member_links(built.soup("publications.html"))
    assert ("Lijun Wu", "people/lijun-wu.html") in canonical
    assert ("Jörg Müller", "people/jorg-muller.html") in canonical
    assert ("Joerg Mueller", "people/jorg-muller.html") in canonical
    names = {name for name, _ in canonical}
    assert "Zhen Wu" not in names and "L. Wu" not in names and "Xiaobo Liang" not in names
    assert all(a.find("strong") for a in built.soup("publications.html").select("a.lh-member"))
    area = member_links(built.soup("research/molecules.html"))
    assert ("Jörg Müller", "../people/jorg-muller.html") in area
    person = member_links(built.soup("people/lijun-wu.html"))
    assert [name for name, _ in person] == ["Lijun Wu", "Lijun Wu"]
    selected = member_links(built.soup("index.html"))
    assert selected == [("Lijun Wu", "people/lijun-wu.html")]


def test_equal_contribution_marked(built) -> None:
    text = pub_texts(built.soup("people/lijun-wu.html"))[0]
    assert text.startswith("Xiaobo Liang * , Lijun Wu * , and Zhen Wu. Dropout Twice")
    assert "Equal contribution" in text


def test_area_lists_filter_by_keywords(built) -> None:
    molecules = pub_texts(built.soup("research/molecules.html"))
    assert len(molecules) == 2  # keywords: molecules, drugs
    assert not any("Dropout" in t for t in molecules)
    translation = pub_texts(built.soup("research/translation.html"))
    assert len(translation) == 2


def test_canonical_list_grouped_by_year_then_type(built) -> None:
    soup = built.soup("publications.html").find("article")
    years = [s["id"] for s in soup.select("section section")]
    assert years == ["year-2021", "year-2019", "year-2018"]
    y2019 = soup.find("section", id="year-2019")
    kinds = [r.get_text(strip=True) for r in y2019.select("p.rubric")]
    assert kinds == ["Journal articles", "Workshop papers", "Preprints"]
    assert len(pub_texts(soup, "")) == 5


def test_links_and_bibtex_button(built) -> None:
    soup = built.soup("people/lijun-wu.html")
    first = soup.select("li.lh-pub")[0]
    hrefs = {a.get_text(): a["href"] for a in first.find_all("a")}
    assert hrefs["arXiv"] == "https://arxiv.org/abs/2106.14448"
    assert hrefs["Code"] == "https://github.com/example/drop"
    button = first.select_one("button.lh-bibtex-button")
    assert button["data-bibtex"].startswith("@inproceedings{wu2021drop,")


def test_person_bib_download(built) -> None:
    soup = built.soup("people/lijun-wu.html")
    href = soup.select_one("a.lh-bib-download")["href"]
    assert href == "../_downloads/bib/lijun-wu.bib"
    text = (built.outdir / "_downloads/bib/lijun-wu.bib").read_text(encoding="utf-8")
    assert re.findall(r"@\w+\{(\w+),", text) == ["wu2021drop", "wu2018rl"]


def test_cite_resolves_to_canonical_list(built) -> None:
    soup = built.soup("index.html")
    refs = [a["href"] for a in soup.select("article span.bibtex-citation a")]
    assert refs and all(h.startswith("publications.html#") for h in refs)
    canonical = built.soup("publications.html")
    for href in refs:
        assert canonical.find(id=href.split("#")[1]) is not None


def test_unchanged_build_formats_nothing_and_bib_edit_rereads_only_showing_pages(
        tmp_path: Path) -> None:
    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    first = cli_build(src, tmp_path / "out")
    assert first.warnings == "", first.warnings
    again = cli_build(src, tmp_path / "out")
    assert "reading sources... [" not in again.status
    assert "writing output... [" not in again.status
    bib = src / "bib" / "b.bib"
    bib.write_text(bib.read_text() + """
@article{mueller2020new,
  author = {Müller, Jörg},
  title = {A New Molecule Paper},
  journal = {Journal of Molecules},
  year = {2020},
  keywords = {molecules},
}
""", encoding="utf-8")
    third = cli_build(src, tmp_path / "out")
    assert third.warnings == ""
    reread = set(re.findall(r"reading sources\.\.\. \[\s*\d+%\] (\S+)", third.status))
    assert reread == {"publications", "people/jorg-muller", "research/molecules"}
    page = (tmp_path / "out/html/people/jorg-muller.html").read_text()
    assert "A New Molecule Paper" in page


def test_bibtex_text_round_trips_for_the_real_library() -> None:
    import pybtex.database
    from conftest import REPO

    from labhandbook.library import STANDARD_FIELDS, to_bibtex

    for path in sorted((REPO / "bib").glob("*.bib")):
        for key, entry in pybtex.database.parse_file(path).entries.items():
            again = pybtex.database.parse_string(to_bibtex(entry), "bibtex").entries[key]
            assert again.type == entry.type
            assert dict(again.fields) == {k: v for k, v in entry.fields.items()
                                          if k.lower() in STANDARD_FIELDS}
            assert {r: [str(p) for p in ps] for r, ps in again.persons.items()} == \
                {r: [str(p) for p in ps] for r, ps in entry.persons.items()}


def test_a_packed_reference_renders_as_the_rich_text_it_was_made_from() -> None:
    """The environment keeps references packed (one string each, #8); unpacked, they render
    exactly as pybtex's rich text did, and a kind of rich text the style never makes is
    refused rather than lost."""
    import pickle

    import pybtex.plugin
    from pybtex.richtext import HRef, Protected, Tag, Text

    from labhandbook.style import PackedText

    rich = Text(HRef("labhandbook:person/ada", Tag("strong", "Ada Lovelace")), " and Jörg. ",
                HRef("https://doi.org/10.1/x", "DOI"), Tag("em", "Notes", Tag("sup", "*")))
    packed = PackedText.pack(rich)
    assert isinstance(packed.packed, str)
    again = pickle.loads(pickle.dumps(packed))
    for backend in ("plaintext", "html", "markdown"):
        render = pybtex.plugin.find_plugin("pybtex.backends", backend)()
        assert again.render(render) == rich.render(render)
    assert str(again) == str(rich)
    with pytest.raises(TypeError):
        PackedText.pack(Text(Protected("x")))
    # rendered straight from the packed form, as pybtex's constructors would have left it:
    # empty parts dropped, nested texts spliced, neighbouring tags and links merged
    odd = PackedText('["",["<em","a"],"",["",["<em","b",["<sup",""]]],["@u",""],["@u","x"],'
                     '["@u","y"],"z",["",""]]')
    for backend in ("plaintext", "html", "markdown"):
        render = pybtex.plugin.find_plugin("pybtex.backends", backend)()
        assert odd.render(render) == odd.unpack().render(render)
    assert odd.render(pybtex.plugin.find_plugin("pybtex.backends", "html")()) == \
        "<em>ab</em><a href=\"u\">xy</a>z"


def test_the_example_labs_references_render_straight_from_their_packed_form() -> None:
    from conftest import REPO
    from packedcheck import rendered_both_ways
    from sphinxcontrib.bibtex.bibfile import parse_bibdata

    from labhandbook.config import LabConfig
    from labhandbook.library import update_library
    from labhandbook.registry import load_registry
    from labhandbook.style import format_entry_packed

    lab = LabConfig()
    registry, _ = load_registry(REPO, lab)
    data = parse_bibdata([REPO / f for f in lab.bib_files(REPO)], "utf-8-sig")
    lib = update_library(None, data.data.entries, registry, format_entry_packed)
    assert rendered_both_ways(lib) >= len(data.data.entries) - 5
