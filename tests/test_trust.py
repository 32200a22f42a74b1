"""What a visitor trusts at first sight (#19): news in order at the precision given, BibTeX with
standard fields only, page metadata, the contact page and the lab's own settings.

Expectations about the example lab come from its own front matter and ``bib/*.bib``, read here
with PyYAML and pybtex (not through the handbook's code), so another lab's content passes too.
"""

from __future__ import annotations

import calendar
import re
import shutil
from datetime import date
from pathlib import Path

import pybtex.database
import pytest
import yaml
from bs4 import BeautifulSoup
from conftest import REPO, ROOTS, copy_project, sphinx_build

#: BibTeX's standard fields and the identifiers reference managers read (written out here,
#: independently of labhandbook.library.STANDARD_FIELDS).
STANDARD = {
    "address", "annote", "author", "booktitle", "chapter", "crossref", "doi", "edition",
    "editor", "eprint", "archiveprefix", "primaryclass", "eprintclass", "eprinttype",
    "howpublished", "institution", "isbn", "issn", "journal", "key", "month", "note", "number",
    "organization", "pages", "publisher", "school", "series", "title", "type", "url", "volume",
    "year", "date", "eid", "issue", "journaltitle", "location", "subtitle", "urldate",
}


def front_matter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text.split("\n---\n", 1)[0].removeprefix("---\n")) or {}


def people(root: Path = REPO) -> dict[str, dict]:
    return {p.stem: front_matter(p) for p in sorted((root / "people").glob("*.md"))
            if p.stem != "index"}


def period_end(value: str) -> date:
    """The last day of the period a partial date names."""
    parts = [int(p) for p in str(value).split("-")]
    if len(parts) == 1:
        return date(parts[0], 12, 31)
    if len(parts) == 2:
        return date(parts[0], parts[1], calendar.monthrange(parts[0], parts[1])[1])
    return date(*parts)


def shown(value: str) -> str:
    """A partial date as a reader should see it: at the precision it was written."""
    parts = [int(p) for p in str(value).split("-")]
    if len(parts) == 1:
        return str(parts[0])
    month = calendar.month_name[parts[1]]
    return f"{month} {parts[0]}" if len(parts) == 2 else f"{parts[2]} {month} {parts[0]}"


def squash(text: str) -> str:
    """Whitespace collapsed, typographic quotes as typed (the build makes quotes curly)."""
    text = text.translate(str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"}))
    return " ".join(text.split())


# --- news ------------------------------------------------------------------------------------


def news_sections(soup: BeautifulSoup) -> list[tuple[str, list[str]]]:
    """(year heading, [item text...]) in page order."""
    out = []
    for sect in soup.select("article section"):
        heading = sect.find(re.compile("^h[2-4]$"), recursive=False)
        items = sect.select(":scope > ul.lh-news > li")
        if heading is not None and items:
            out.append((squash(heading.get_text()).rstrip("#").strip(),
                        [squash(li.get_text()) for li in items]))
    return out


def check_news(items: list[dict], sections: list[tuple[str, list[str]]]) -> None:
    assert items, "the front matter has no news to check"
    years = [year for year, _ in sections]
    assert years == sorted({str(i["date"])[:4] for i in items}, reverse=True), years
    for year, texts in sections:
        found = []
        for text in texts:
            matches = [i for i in items if squash(i["text"]) in text]
            assert matches, f"news item not in the front matter: {text}"
            item = matches[0]
            assert str(item["date"]).startswith(year), (year, text)
            assert text.startswith(shown(item["date"]) + " "), (item["date"], text)
            found.append(period_end(item["date"]))
        # newest first; a year-only date counts as the end of its year, never as 1 January
        assert found == sorted(found, reverse=True), (year, texts)
    assert sum(len(t) for _, t in sections) == len(items)


def test_news_page_groups_by_year_newest_first_at_the_precision_given(handbook) -> None:
    items = [i for fm in people().values() for i in fm.get("news", [])]
    check_news(items, news_sections(handbook.soup("news.html")))


def test_person_news_groups_by_year_newest_first(handbook) -> None:
    checked = 0
    for slug, fm in people().items():
        if fm.get("news"):
            soup = handbook.soup(f"people/{slug}.html")
            news = soup.find("section", id="news")
            check_news(fm["news"], news_sections(BeautifulSoup(f"<article>{news}</article>",
                                                               "html.parser")))
            checked += 1
    assert checked


def test_news_links_say_where_they_go(handbook) -> None:
    for page in ["news.html", "index.html", *(f"people/{s}.html" for s in people())]:
        for link in handbook.soup(page).select("ul.lh-news a"):
            assert squash(link.get_text()).strip("()").lower() not in {"link", "here", ""}, page


# --- BibTeX given to readers -----------------------------------------------------------------


def library() -> dict[str, pybtex.database.Entry]:
    entries = {}
    for path in sorted((REPO / "bib").glob("*.bib")):
        entries.update(pybtex.database.parse_file(path).entries)
    return entries


def check_bibtex(text: str, source: dict, where: str) -> int:
    data = pybtex.database.parse_string(text, "bibtex")
    for key, entry in data.entries.items():
        fields = {f.lower() for f in entry.fields}
        assert fields <= STANDARD, f"{where}: {key} carries {sorted(fields - STANDARD)}"
        original = source[key]
        assert {k.lower(): v for k, v in entry.fields.items()} == \
            {k.lower(): v for k, v in original.fields.items() if k.lower() in STANDARD}, where
    return len(data.entries)


def test_bibtex_given_to_readers_has_standard_fields_only(handbook) -> None:
    source = library()
    assert any(set(e.fields) - STANDARD for e in source.values()), \
        "the library has no handbook-only field: this test checks nothing"
    pages = ["publications.html", *(f"people/{s}.html" for s in people()),
             *(f"papers/{k}.html" for k in source)]
    count = 0
    for page in pages:
        soup = handbook.soup(page)
        for button in soup.select("[data-bibtex]"):
            count += check_bibtex(button["data-bibtex"], source, page)
        for pre in soup.select("pre.lh-bibtex-source"):
            count += check_bibtex(pre.get_text(), source, page)
    assert count >= 2 * len(source)
    for path in sorted((handbook.outdir / "_downloads").rglob("*.bib")):
        check_bibtex(path.read_text(encoding="utf-8"), source, path.name)


def test_the_whole_library_is_one_download_linked_from_the_publications_page(handbook) -> None:
    soup = handbook.soup("publications.html")
    link = soup.select_one("a.lh-bib-download")
    assert link is not None
    path = (handbook.outdir / link["href"]).resolve()
    data = pybtex.database.parse_file(path)
    assert set(data.entries) == set(library())


# --- person pages: summary first ------------------------------------------------------------


def paper_keys(part) -> list[str]:
    """The BibTeX keys of the references in ``part``, in page order (their title links)."""
    keys = []
    for li in part.select("li.lh-pub"):
        link = li.find("a", href=re.compile(r"papers/[^/]+\.html$"))
        keys.append(link["href"].rsplit("/", 1)[-1].removesuffix(".html"))
    return keys


def author_spellings(fm: dict) -> set[str]:
    """"Family, Given" spellings of a person: ``bib_names`` and the one ``name`` gives."""
    parts = fm["name"].split()
    return {*fm.get("bib_names", []), f"{parts[-1]}, {' '.join(parts[:-1])}"}


def first_author(entry: pybtex.database.Entry, fm: dict) -> bool:
    """The person is the first author, or shares the first place (``equalcontrib``)."""
    names = [str(p) for p in entry.persons.get("author", [])]
    mine = [i + 1 for i, n in enumerate(names) if n in author_spellings(fm)]
    equal = {int(n) for n in re.findall(r"\d+", entry.fields.get("equalcontrib", ""))}
    return bool(mine) and (mine[0] == 1 or (1 in equal and mine[0] in equal))


def test_person_pages_show_selected_publications_before_the_full_list(handbook) -> None:
    source = library()
    checked = {"given": 0, "newest first-author": 0}
    for slug, fm in people().items():
        article = handbook.soup(f"people/{slug}.html").find("article")
        full = paper_keys(article.find("section", id="publications"))
        chosen = article.find("section", id="selected-publications")
        if "selected" in fm:
            expected = [k for k in fm["selected"] or [] if k in source]
            checked["given"] += bool(expected)
        elif len(full) > 5:  # unset: the newest papers as first author, then the newest others
            lead = [k for k in full if first_author(source[k], fm)]
            picked = set((lead + [k for k in full if k not in lead])[:5])
            expected = [k for k in full if k in picked]
            checked["newest first-author"] += 1
        else:  # every paper is in the list below already
            expected = []
        assert (paper_keys(chosen) if chosen else []) == expected, slug
        # the summary first: header, prose, selected papers, all papers, news, CV
        order = [s["id"] for s in article.select("section > section[id]")
                 if s["id"] in {"selected-publications", "publications", "news", "positions",
                                "education"}]
        assert order == sorted(order, key=["selected-publications", "publications", "news",
                                           "positions", "education"].index), slug
        nav = article.select_one(".lh-page-nav")
        if chosen is not None and nav is not None:
            assert nav.find("a", href="#selected-publications") is not None, slug
    assert all(checked.values()), f"the example lab does not exercise every case: {checked}"


# --- page metadata ---------------------------------------------------------------------------


def html_pages(outdir: Path) -> list[Path]:
    return sorted(p for p in outdir.rglob("*.html")
                  if not p.relative_to(outdir).as_posix().startswith(("_", "genindex", "search")))


def test_every_page_has_a_description_and_a_favicon(handbook) -> None:
    pages = html_pages(handbook.outdir)
    assert len(pages) > 10
    descriptions = {}
    for path in pages:
        rel = path.relative_to(handbook.outdir).as_posix()
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        metas = soup.find_all("meta", attrs={"name": "description"})
        assert len(metas) == 1, rel
        text = metas[0]["content"]
        assert 20 <= len(text) <= 160, (rel, text)
        descriptions[rel] = text
        icon = soup.find("link", rel="icon")
        assert icon is not None, rel
        assert (path.parent / icon["href"]).resolve().is_file(), (rel, icon["href"])
    # pages of different people and papers are told apart by their descriptions
    people_pages = [d for p, d in descriptions.items() if p.startswith("people/")]
    assert len(set(people_pages)) == len(people_pages)


def test_paper_and_person_pages_have_open_graph_image_and_description(handbook) -> None:
    pages = [f"people/{s}.html" for s in people()] + [f"papers/{k}.html" for k in library()]
    for page in pages:
        soup = handbook.soup(page)
        og = {m["property"]: m["content"] for m in soup.find_all("meta", property=True)}
        assert og.get("og:description"), page
        image = og.get("og:image", "")
        assert image.startswith("http"), page
        local = image.split("/")[-2:]  # the site's own picture exists in the output
        assert (handbook.outdir / "/".join(local)).is_file(), (page, image)


def open_graph(soup: BeautifulSoup) -> dict[str, str]:
    return {m["property"]: m["content"] for m in soup.find_all("meta", property=True)}


def test_open_graph_shows_a_persons_photo_and_each_pages_own_words(lab_with_profile) -> None:
    """A person with a photo is previewed with it; pages without one share the lab's picture
    (a card per page would say no more than og:title and og:description, the page's own)."""
    out = lab_with_profile.outdir
    grace = open_graph(lab_with_profile.soup("people/grace-hopper.html"))
    assert grace["og:image"].startswith("https://example.org/lab/")
    assert grace["og:image"].rsplit("/", 1)[-1].startswith("grace-hopper")
    assert (out / grace["og:image"].removeprefix("https://example.org/lab/")).is_file()
    assert grace["og:image:alt"] == "Grace Hopper at a desk"
    assert grace["og:title"] == "Grace Hopper" and grace["og:type"] == "profile"
    ada = open_graph(lab_with_profile.soup("people/ada-lovelace.html"))
    assert ada["og:image"] == "https://example.org/lab/_static/labhandbook-card.png"
    assert ada["og:title"] == "Ada Lovelace"
    assert ada["og:description"].startswith("Ada Lovelace, Professor of Computing")
    papers = sorted((out / "papers").glob("*.html"))
    assert papers
    for path in papers:
        og = open_graph(BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser"))
        assert og["og:type"] == "article"
        assert og["og:title"] not in {"People lab", ""}
        assert og["og:description"] != ada["og:description"]


# --- avatars ---------------------------------------------------------------------------------


def hue(element) -> str:
    return next(c for c in element["class"] if c.startswith("lh-hue-"))


def test_a_persons_avatar_colour_is_theirs_on_every_page(handbook) -> None:
    """The initials' colour belongs to the person (card, page, home), and neighbours in the
    directory differ."""
    shown: dict[str, set[str]] = {}
    for page in ("index.html", "people/index.html"):
        for card in handbook.soup(page).select("article .lh-person-card"):
            slug = card.select_one("a.sd-stretched-link")["href"].rsplit("/", 1)[-1][:-5]
            avatar = card.select_one("span.lh-avatar")
            if avatar is not None:
                shown.setdefault(slug, set()).add(hue(avatar))
    for slug, fm in people().items():
        header = handbook.soup(f"people/{slug}.html").select_one(".lh-person-header .lh-avatar")
        if "photo" in fm:
            assert header.name == "img", slug
            continue
        assert shown.get(slug, set()) <= {hue(header)}, slug
    for sect in handbook.soup("people/index.html").select("article section[id]"):
        hues = [hue(a) for a in sect.select(".lh-person-card span.lh-avatar")]
        for i in range(len(hues)):
            assert hues[i] not in hues[max(0, i - 3):i], (sect["id"], hues)


def contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_avatar_colours_meet_contrast_in_light_and_dark() -> None:
    css = (REPO / "labhandbook" / "static" / "labhandbook.css").read_text(encoding="utf-8")
    palette = re.findall(r"\.lh-hue-\d+ \{ --lh-avatar: (#[0-9a-f]{6}); "
                         r"--lh-avatar-dark: (#[0-9a-f]{6}); \}", css)
    assert len(palette) >= 8
    for light, dark in palette:
        assert contrast(light, "#ffffff") >= 4.5, light  # white initials in light mode
        assert contrast(dark, "#111111") >= 4.5, dark  # near-black initials in dark mode


def test_paper_pages_read_as_one_paper(handbook) -> None:
    source = library()
    singular = {"Journal article", "Conference paper", "Workshop paper", "Preprint",
                "Publication"}
    for key, entry in source.items():
        soup = handbook.soup(f"papers/{key}.html")
        assert all(h.get_text(strip=True) for h in soup.find_all("h1")), key
        article = soup.find("article")
        venue = squash(article.select_one(".lh-paper-venue").get_text())
        assert venue.rsplit(" · ", 1)[-1] in singular, venue
        # the authors are listed once: the first author's family name is nowhere else on the
        # page than in the author line, the BibTeX and the related papers' titles
        first = entry.persons["author"][0].last_names[0]
        assert first in article.select_one(".lh-paper-authors").get_text()
        for part in article.select(".lh-paper-authors, #bibtex, #related"):
            part.decompose()
        assert not re.search(rf"\b{re.escape(first)}\b", squash(article.get_text())), key
        if "abstract" in entry.fields:
            assert article.find("section", id="abstract") is not None, key


# --- who we are and how to reach us ----------------------------------------------------------


def test_contact_page_is_one_click_from_home_and_lists_members_openings(handbook) -> None:
    home = handbook.soup("index.html").find("article")
    link = home.select_one("a.lh-contact-link")
    assert link is not None and link["href"] == "contact.html"
    contact = handbook.soup("contact.html").find("article")
    openings = [(slug, o) for slug, fm in people().items() for o in fm.get("openings", [])]
    listed = contact.select("#openings li")
    assert len(listed) == len(openings)
    for slug, opening in openings:
        item = next(li for li in listed if opening["title"] in li.get_text())
        assert item.find("a", href=f"people/{slug}.html") is not None
    members = [s for s, fm in people().items() if fm.get("status", "current") == "current"]
    hrefs = {a["href"] for a in contact.select("#members a")}
    assert {f"people/{s}.html" for s in members} <= hrefs


@pytest.fixture(scope="module")
def lab_with_profile(tmp_path_factory):
    src = copy_project(ROOTS / "test-people", tmp_path_factory.mktemp("profile") / "src")
    conf = src / "conf.py"
    shutil.copyfile(ROOTS / "test-check" / "people" / "ada-lovelace.png",
                    src / "people" / "grace-hopper.png")
    grace = src / "people" / "grace-hopper.md"
    grace.write_text(grace.read_text().replace(
        "areas: []\n", "areas: []\nphoto: grace-hopper.png\nphoto_alt: Grace Hopper at a desk\n"))
    conf.write_text(conf.read_text() + (
        'html_baseurl = "https://example.org/lab/"\n'
        'labhandbook.update({"leaders": ["ada-lovelace"], "location": "London",\n'
        '    "institutions": [{"name": "Analytical Society", "url": "https://example.org/as"}],\n'
        '    "email": "lab@example.org",\n'
        '    "openings": [{"title": "Engine programmers", "text": "Two positions."}]})\n'))
    (src / "contact.md").write_text("# Contact\n\n```{lab-contact}\n```\n")
    index = src / "index.md"
    index.write_text(index.read_text().replace("# People lab\n",
                                               "# People lab\n\n```{lab-summary}\n```\n")
                     .replace("publications\n```", "publications\ncontact\n```"))
    build = sphinx_build(src, src.parent / "out")
    assert build.warnings == ""
    return build


def test_lab_settings_are_shown_on_home_and_contact(lab_with_profile) -> None:
    home = squash(lab_with_profile.soup("index.html").find("article").get_text())
    assert "Led by Ada Lovelace" in home and "Hosted by Analytical Society" in home
    assert "Location: London" in home and "1 open position" in home
    contact = lab_with_profile.soup("contact.html").find("article")
    email = contact.select_one("a.lh-email")
    assert (email["data-user"], email["data-domain"]) == ("lab", "example.org")
    assert "lab@example.org" not in str(contact)
    assert "Engine programmers — Two positions." in squash(contact.get_text())


def test_unset_lab_settings_are_not_shown(handbook) -> None:
    home = squash(handbook.soup("index.html").find("article").get_text())
    conf = (REPO / "conf.py").read_text()
    for key, words in (("leaders", "Led by"), ("institutions", "Hosted by"),
                       ("location", "Location:")):
        if f'"{key}"' not in conf:
            assert words not in home


def test_lab_settings_are_validated_with_one_message() -> None:
    from sphinx.errors import ConfigError

    from labhandbook.config import LabConfig

    with pytest.raises(ConfigError, match=r"labhandbook\['email'\].*name@example.org"):
        LabConfig.from_dict({"email": "not an address"})
    with pytest.raises(ConfigError, match=r"labhandbook\['institutions'\]\[0\]\['url'\]"):
        LabConfig.from_dict({"institutions": [{"name": "U", "url": "ftp://u"}]})
    with pytest.raises(ConfigError, match="unknown key"):
        LabConfig.from_dict({"leader": ["x"]})
