"""The located reader (labhandbook.bibreader) is pybtex's grammar: differential tests.

It touches pybtex internals (``LowLevelParser``); these tests compare it with pybtex's public
``parse_string`` on every real export of the corpus (tests/corpus/README.md), the example lab's
library, the test roots' libraries and a file of tricky syntax, so that a pybtex upgrade that
changes those internals fails here rather than in a lab's build.
"""

from __future__ import annotations

from pathlib import Path

import pybtex.errors
import pytest
from conftest import REPO, ROOTS
from pybtex.bibtex.utils import split_name_list
from pybtex.database import Person, parse_string
from pybtex.database.input.bibtex import month_names
from pybtex.exceptions import PybtexError
from pybtex.textutils import normalize_whitespace
from pybtex.utils import CaseInsensitiveDict
from test_check import TRICKY_BIB

from labhandbook import bibreader

CACHE = Path(__file__).parent / "corpus" / "cache"
PERSONS = ("author", "editor")  #: pybtex's person fields


def _texts() -> list[tuple[str, str]]:
    texts = [("tricky", TRICKY_BIB)]
    paths = sorted(set(REPO.glob("bib/*.bib")) | set(ROOTS.glob("*/bib/*.bib"))
                   | set(CACHE.glob("*.bib")))
    for path in paths:
        texts.append((str(path.relative_to(REPO)), path.read_text(encoding="utf-8-sig")))
    return texts


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


@pytest.mark.parametrize(("name", "text"), _texts(), ids=lambda x: x if len(x) < 60 else "")
def test_located_reader_equals_pybtex(name: str, text: str) -> None:
    """Same entries, keys, types, fields and names as pybtex's public parse; lines are right."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    commands, errors = bibreader.parse(text, CaseInsensitiveDict(month_names))
    # the corpus's genuine syntax error (a comma lost by hand) and JabRef's empty entry
    # without a key are the only errors: pybtex reads past both, as this reader does
    keyless = sum(bibreader.keyless_error(e[0]) for e in errors)
    assert len(errors) == keyless + name.endswith("zotero-biblatex.bib"), name
    with pybtex.errors.capture():  # a repeated key or field: pybtex keeps the first
        theirs = parse_string(text, "bibtex")
    failed = [c for c in commands if c.failed]
    assert len(failed) == len(errors), name
    entries = [c for c in commands if c.kind not in ("string", "preamble") and not c.failed]
    assert entries, name
    lines = text.split("\n")
    seen: set[str] = set()
    for cmd in entries:
        assert cmd.key is not None
        assert _line(text, cmd.start) == cmd.line and text[cmd.start] == "@", (name, cmd.key)
        assert text[cmd.end - 1] in "})", (name, cmd.key)
        for field_name, _, line in cmd.fields:
            assert field_name.lower() in lines[line - 1].lower(), (name, cmd.key, field_name)
        if cmd.key.casefold() in seen:
            continue
        seen.add(cmd.key.casefold())
        other = theirs.entries[cmd.key]
        assert cmd.kind == other.type.lower(), (name, cmd.key)
        ours: dict[str, str] = {}
        for field_name, value, _ in cmd.fields:
            ours.setdefault(field_name.lower(), normalize_whitespace(value))
        expected = {k.lower(): v for k, v in other.fields.items()}
        assert {k: v for k, v in ours.items() if k not in PERSONS} == expected, (name, cmd.key)
        for role in PERSONS:
            written = [str(Person(n)) for n in split_name_list(ours.get(role, ""))]
            assert written == [str(p) for p in other.persons.get(role, [])], (name, cmd.key)
    assert len(seen) + len(failed) == len(theirs.entries), name


def test_located_reader_reports_what_pybtex_rejects() -> None:
    """Every error pybtex raises is collected with its line, and reading goes on after it."""
    cases = {
        "@misc{a, title = {x}": 1,
        "@misc{a, title = Undefined}": 1,
        "@misc{a, title = {x}} @": 1,
        '@misc{a, title = "x}"}': 1,
        "@misc{a, title = {x} y = 2}": 1,
        "@misc{a, title = {x}, year = 2000a}": 1,
        "@{a, title = {x}}": 1,
        "@misc{a, title = {x}}\n\n@misc{b,\n  title = Undefined}\n@misc{c, title={y}}": 4,
    }
    for broken, line in cases.items():
        with pytest.raises(PybtexError):  # pybtex's own parse (strict mode) rejects it
            parse_string(broken, "bibtex")
        commands, errors = bibreader.parse(broken, CaseInsensitiveDict(month_names))
        assert errors, broken
        assert errors[0][3] == line, broken
    commands, _ = bibreader.parse(list(cases)[-1], CaseInsensitiveDict(month_names))
    assert [c.key for c in commands if not c.failed] == ["a", "c"]


def test_string_macros_carry_over_between_files() -> None:
    """``@string`` of one file is known in the next, as in the build (one macro table)."""
    macros = CaseInsensitiveDict(month_names)
    bibreader.parse('@string{jeng = "Journal of Engines"}', macros)
    commands, errors = bibreader.parse("@article{a, journal = jeng # { 2}, month = feb}", macros)
    assert errors == []
    assert [(n, v) for n, v, _ in commands[0].fields] == [("journal", "Journal of Engines 2"),
                                                          ("month", "February")]
