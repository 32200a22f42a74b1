"""Checks of the BibTeX library (``bib/*.bib``), located to the line and worded for lab members.

:func:`check_library` is shared by ``labhandbook check`` and the Sphinx build, so a mistake reads
the same wherever it is found. It reads the files itself (never writes), parses them with
pybtex's grammar (the build's) through the located reader of :mod:`labhandbook.bibreader`,
which records the line of every entry and field, and then checks each entry against the
registry of people and research areas.

It has no Sphinx code and no side effects: pybtex's global error mode is left alone (errors are
collected by the parser instance), and nothing is cached between calls unless the caller
keeps a :class:`ReadCache` (a warm build's application does).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pybtex.errors
from pybtex.bibtex.utils import split_name_list
from pybtex.database import Person
from pybtex.database.input.bibtex import UndefinedMacro, month_names
from pybtex.exceptions import PybtexError
from pybtex.scanner import PrematureEOF, PybtexSyntaxError, TokenRequired
from pybtex.textutils import normalize_whitespace
from pybtex.utils import CaseInsensitiveDict

from . import bibreader
from .config import LabConfig
from .library import (
    ALIASES,
    DOI_LINK_RE,
    DOI_RE,
    KINDS,
    VOLUMES,
    entry_date,
    eprint_of,
    latex_url,
    page_name,
    split_keywords,
)
from .names import Name, Roster, attribution_notes, parse_name
from .problems import Problem
from .registry import Registry, fingerprint
from .safety import MAX_BIB_BYTES, MAX_FIELD_CHARS

# --- the rules ----------------------------------------------------------------------------------

#: Entry type -> the fields it must have; a tuple means "one of these".
#: Any other type is shown under "Other publications" with a warning.
REQUIRED_FIELDS: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "article": ("author", "title", "journal", "year"),
    "inproceedings": ("author", "title", "booktitle", "year"),
    "conference": ("author", "title", "booktitle", "year"),
    "incollection": ("author", "title", "booktitle", "year"),
    "book": (("author", "editor"), "title", "year"),
    "mvbook": (("author", "editor"), "title", "year"),
    "inbook": (("author", "editor"), "title", "year"),
    "bookinbook": ("author", "title", "year"),
    "booklet": ("title", "year"),
    "collection": ("title", "year"),
    "mvcollection": ("title", "year"),
    "proceedings": ("title", "year"),
    "mvproceedings": ("title", "year"),
    "reference": ("title", "year"),
    "periodical": ("title", "year"),
    "phdthesis": ("author", "title", "school", "year"),
    "mastersthesis": ("author", "title", "school", "year"),
    "thesis": ("author", "title", "year"),
    "techreport": ("author", "title", "institution", "year"),
    "report": ("title", "year"),
    "manual": ("title", "year"),
    "misc": ("title",),
    "online": ("title",),
    "electronic": ("title",),
    "www": ("title",),
    "software": ("title",),
    "dataset": ("title",),
    "patent": ("author", "title", "year"),
    "unpublished": ("author", "title"),
    "suppbook": ("title",),
    "suppcollection": ("title",),
    "suppperiodical": ("title",),
    "inreference": ("title",),
    "set": (),
    "xdata": (),
}
#: Entry types people write that the style cannot format, and what to write instead.
TYPE_ALIASES = {"journal": "article", "paper": "article", "webpage": "online"}
PERSON_FIELDS = ("author", "editor")
URL_FIELDS = ("url", "code")

HTTPS_RE = re.compile(r"^https://[^\s<>\"'\\{}]+$")
HTTP_RE = re.compile(r"^http://[^\s<>\"'\\{}]+$")
ARXIV_NEW_RE = re.compile(r"^\d{2}(?:0[1-9]|1[0-2])\.\d{4,5}(?:v\d+)?$")
ARXIV_OLD_RE = re.compile(r"^[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?$")
ARXIV_LINK_RE = re.compile(r"^(?:https?://)?(?:www\.)?arxiv\.org/(?:abs|pdf)/(.+?)(?:\.pdf)?/?$",
                           re.IGNORECASE)
OPENREVIEW_RE = re.compile(r"^[A-Za-z0-9_-]+$")
ACL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
EQUALCONTRIB_RE = re.compile(r"^\d+(?:\s*,\s*\d+)*$")
FIELD_START_RE = re.compile(r"^\s*([A-Za-z][\w.:+-]*)\s*=", re.MULTILINE)
ENTRY_START_RE = re.compile(r"^[ \t]*@[ \t]*[A-Za-z]+[ \t]*[{(]", re.MULTILINE)
COMMENT_RE = re.compile(r"@\s*comment\s*[{(]", re.IGNORECASE)
_BRACES = re.compile(r"[{}]")
STRAY_RE = re.compile(r"^[ \t]*(?:[A-Za-z][\w.:+-]*[ \t]*=|[}),])", re.MULTILINE)
#: A key is the address of its paper's page (papers/<key>.html, ``library.page_name``):
#: letters, digits, ``_.:+-``, and ``/`` between parts (DBLP keys), apostrophes written ``-``
#: (JabRef's ``O'Hara_1999``); never a double quote, ``<``, ``#``, ``..`` or a space.
# --- reading: entries with the line of every field -------------------------------------------


@dataclass
class BibEntry:
    """One parsed entry, with where it and each of its fields start."""

    path: str
    line: int
    type: str  #: lower case
    key: str
    fields: dict[str, str] = field(default_factory=dict)  #: lower-case name -> value
    persons: dict[str, list[Name]] = field(default_factory=dict)
    field_lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        return self.field_lines.get(name, self.line)

    @property
    def where(self) -> str:
        return f"`{self.key}`"


@dataclass
class Library:
    """What reading ``bib/*.bib`` found: the entries and the problems of reading them."""

    files: list[str] = field(default_factory=list)
    entries: list[BibEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


#: Where an entry is in its file's text: its key, the offset of its ``@`` and the offset after
#: its closing brace.
Span = tuple[str, int, int]


@dataclass
class ReadCache:
    """What reading each file gave, kept by a caller that checks the library again and again
    (``labhandbook serve``'s warm builds; see :mod:`labhandbook.environment`): a file is read
    again only when its bytes or the ``@string`` definitions of the files before it changed.
    A department's three files are 3 MB; one saved entry re-reads one of them."""

    files: dict[str, tuple[tuple[str, str], list[BibEntry], list[Problem],
                           list[tuple[str, str]]]] = field(default_factory=dict)
    reads: int = 0  #: files read (parsed) since the cache was made, for tests
    #: Each file's text as read (``\n`` line ends) with the SHA-256 of its bytes and its
    #: entries' places, ``(key, offset of "@", offset after the closing brace)`` in file
    #: order; only for a file read without any problem, ``@string`` or ``@preamble``. A saved
    #: file is read again from the first entry its edit touched to the last
    #: (:func:`_read_again`), and ``sources.py`` parses with pybtex only the entries whose
    #: text is new (:func:`labhandbook.sources._parse_changed_bib_files`).
    texts: dict[str, tuple[str, str, list[Span]]] = field(default_factory=dict)
    entries_read: int = 0  #: entries the located reader parsed since, for tests
    #: The problems each entry's own checks found (:meth:`_Checker.entry`), by everything of
    #: the entry they read (file, lines, type, key, fields), for the registry facts they read
    #: (``checks[0]``: name spellings, members' names and pages, the areas' keywords): a save
    #: of one entry checks that entry, not the 5,000 others. Entries that take fields from
    #: another (``crossref``) are checked every time.
    checks: tuple[object, dict[tuple[object, ...], list[Problem]]] = (None, {})
    checked: int = 0  #: entries checked since the cache was made, for tests
    #: Who each author list is (``Roster.attribute``, for the attribution notes), by the
    #: name spellings it was worked out with (``matches[0]``): 5,000 lists on every check.
    matches: tuple[object, dict[tuple[Any, ...], list[Any]]] = (None, {})


def read_library(root: Path, config: LabConfig, cache: ReadCache | None = None) -> Library:
    """Parse every ``*.bib`` file of the bib folder; syntax problems are located to the line.
    With ``cache``, files read before with the same bytes and macros are not parsed again."""
    lib = Library(files=config.bib_files(root))
    macros = CaseInsensitiveDict(month_names)  # @string definitions carry over, as in the build
    names: dict[str, Name | None] = {}  # authors repeat: parse each spelling once
    for rel in lib.files:
        if cache is None:
            _read_file(root, rel, macros, lib, names)
        else:
            _read_file_cached(root, rel, macros, lib, names, cache)
    if cache is not None:
        for rel in set(cache.files) - set(lib.files):
            del cache.files[rel]
        for rel in set(cache.texts) - set(cache.files):
            del cache.texts[rel]
    return lib


def _read_file_cached(root: Path, rel: str, macros: CaseInsensitiveDict, lib: Library,
                      names: dict[str, Name | None], cache: ReadCache) -> None:
    """:func:`_read_file` through ``cache`` (the entries and problems are never changed by the
    checks, so they are shared between reads)."""
    try:
        raw = (root / rel).read_bytes() if (root / rel).stat().st_size <= MAX_BIB_BYTES else None
    except OSError:
        raw = None
    if raw is None:  # too large or unreadable: reported by _read_file, never cached
        cache.files.pop(rel, None)
        cache.texts.pop(rel, None)
        _read_file(root, rel, macros, lib, names)
        return
    key = (hashlib.sha256(raw).hexdigest(),
           fingerprint(sorted((k.casefold(), v) for k, v in macros.items())))
    kept = cache.files.get(rel)
    if kept is not None and kept[0] == key:
        lib.entries.extend(kept[1])
        lib.problems.extend(kept[2])
        macros.update(kept[3])
        return
    cache.reads += 1
    entries, problems = len(lib.entries), len(lib.problems)
    again = None
    if kept is not None and kept[0][1] == key[1] and rel in cache.texts:
        again = _read_again(raw, rel, cache.texts[rel], kept[1], macros, lib, names, cache)
    read = again or _read_file(root, rel, macros, lib, names)
    cache.files[rel] = (key, lib.entries[entries:], lib.problems[problems:],
                        list(macros.items()))
    if read is None or lib.problems[problems:]:
        cache.texts.pop(rel, None)
    else:
        cache.texts[rel] = (key[0], *read)
        if again is None:
            cache.entries_read += len(read[1])


def _common_ends(old: str, new: str) -> tuple[int, int]:
    """The lengths of the longest common beginning and end of ``old`` and ``new`` (which do
    not overlap in the shorter text), by comparing halves (C speed, a few dozen slices)."""
    low, high = 0, min(len(old), len(new))
    while low < high:
        mid = (low + high + 1) // 2
        if old[low:mid] == new[low:mid]:
            low = mid
        else:
            high = mid - 1
    prefix = low
    low, high = 0, min(len(old), len(new)) - prefix
    while low < high:
        mid = (low + high + 1) // 2
        if old[len(old) - mid:len(old) - low] == new[len(new) - mid:len(new) - low]:
            low = mid
        else:
            high = mid - 1
    return prefix, low


def _read_again(raw: bytes, rel: str, before: tuple[str, str, list[Span]],
                entries: list[BibEntry], macros: CaseInsensitiveDict, lib: Library,
                names: dict[str, Name | None], cache: ReadCache
                ) -> tuple[str, list[Span]] | None:
    """Read a saved file again from its last reading (``before``: a text read without any
    problem, ``entries`` its entries, one per span): the entries before the first change and
    after the last are kept (their lines moved by the lines added or removed), the text
    between them is parsed alone with pybtex's grammar, from the end of the last entry kept
    before the change to the start of the first kept after it. pybtex's parser holds no state
    between two commands but the ``@string`` macros (none in either reading), so that text
    parses as it parses in the file. ``None`` (read the whole file) when the text between
    has any problem, ``@string`` or ``@preamble``, or the text between the entries kept
    before and the parsed ones has text BibTeX ignores that looks like a field."""
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        return None
    _, old, spans = before
    if len(spans) != len(entries):
        return None
    prefix, suffix = _common_ends(old, text)
    k = 0
    while k < len(spans) and spans[k][2] <= prefix:
        k += 1
    m = k
    while m < len(spans) and spans[m][1] < len(old) - suffix:
        m += 1
    start = spans[k - 1][2] if k else 0
    shift = len(text) - len(old)
    stop = spans[m][1] + shift if m < len(spans) else len(text)
    if stop < start:
        return None
    middle = Library(files=[rel])
    read = _read_text(text[start:stop], rel, CaseInsensitiveDict(macros), middle, names)
    if read is None or [p for p in middle.problems if p.code != "bib.empty"]:
        return None
    found = read[1]
    if not (k or found or m < len(spans)):
        return None  # no entry left: the whole file's reading says so
    first = found[0][1] + start if found else stop
    if k and _stray(text, start, first):  # the gap after the last entry kept before
        return None
    cache.entries_read += len(found)
    lines_before = text.count("\n", 0, start)
    added = lines_before + text.count("\n", start, stop) - old.count("\n", 0, spans[m][1]) \
        if m < len(spans) else 0
    lib.entries.extend(entries[:k])
    lib.entries.extend(_moved(e, lines_before) for e in middle.entries)
    lib.entries.extend(_moved(e, added) for e in entries[m:])
    return text, [*spans[:k], *((key, a + start, b + start) for key, a, b in found),
                  *((key, a + shift, b + shift) for key, a, b in spans[m:])]


def _moved(entry: BibEntry, lines: int) -> BibEntry:
    """``entry`` ``lines`` lines further down its file."""
    if not lines:
        return entry
    return replace(entry, line=entry.line + lines,
                   field_lines={name: line + lines for name, line in entry.field_lines.items()})


def _read_file(root: Path, rel: str, macros: CaseInsensitiveDict, lib: Library,
               names: dict[str, Name | None]) -> tuple[str, list[Span]] | None:
    """Read one file into ``lib``; its entries' texts as :func:`_read_text` gives them."""
    problems = lib.problems
    try:
        if (root / rel).stat().st_size > MAX_BIB_BYTES:
            problems.append(Problem(rel, 1, f"the file is larger than {MAX_BIB_BYTES // 2**20} "
                                    "MB and is left out", "split it into several files in "
                                    "the bib folder", code="bib.too-large"))
            return None
        raw = (root / rel).read_bytes()
    except OSError as err:
        problems.append(Problem(rel, 1, f"the file cannot be read ({err.strerror})",
                                "check that it is a readable file", code="bib.unreadable"))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        problems.append(Problem(
            rel, line, f"the file is not UTF-8 text (byte 0x{raw[err.start]:02x} in this line)",
            "save the file as UTF-8 in your editor and write accented letters as themselves "
            "(é, ü), not as LaTeX macros", code="bib.encoding"))
        return None
    return _read_text(text, rel, macros, lib, names)


def read_text_problems(text: str, rel: str) -> list[Problem]:
    """The syntax problems of one BibTeX text, located as ``check`` locates them (for
    ``labhandbook import``, which reads a file from outside the library)."""
    lib = Library(files=[rel])
    _read_text(text, rel, CaseInsensitiveDict(month_names), lib, {})
    return lib.problems


def _read_text(text: str, rel: str, macros: CaseInsensitiveDict, lib: Library,
               names: dict[str, Name | None]) -> tuple[str, list[Span]] | None:
    """Read one file's text into ``lib``. Returns the text read (``\n`` line ends) and each
    entry's key and place (from ``@`` to after its closing brace), in order, when pybtex's
    grammar read the text without any error and it has no ``@string`` or ``@preamble`` (each
    entry then parses alone as it parses in the file); else ``None``."""
    problems = lib.problems
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    commands, errors = bibreader.parse(text, macros)
    count = 0
    shared = False
    for i, cmd in enumerate(commands):
        if cmd.kind in ("string", "preamble"):
            shared = True
            continue
        count += 1
        if cmd.failed:
            continue  # reported below, located by _locate_error
        if cmd.gap_ok:
            nxt = commands[i + 1].start if i + 1 < len(commands) else len(text)
            _check_gap(text, rel, (cmd.start, cmd.end, cmd.key), nxt, problems)
        entry = BibEntry(rel, cmd.line, cmd.kind, cmd.key or "")
        seen: dict[str, int] = {}
        for name, raw_value, line in cmd.fields:
            lname = name.lower()
            if lname in seen:
                problems.append(Problem(
                    rel, line, f"{entry.where} has the field `{lname}` twice "
                    f"(first in line {seen[lname]})", "keep only one of them",
                    code="bib.duplicate-field"))
                continue
            seen[lname] = line
            entry.field_lines[lname] = line
            value = normalize_whitespace(raw_value)
            if lname in PERSON_FIELDS:
                entry.persons[lname] = _persons(value, entry, lname, problems, names)
            entry.fields[lname] = value
        lib.entries.append(entry)
    reported: set[int] = set()
    for error, key, field_name, line, command_start in errors:
        problem = _locate_error(text, rel, error, key, field_name, line, command_start)
        if problem.line not in reported:
            reported.add(problem.line)
            problems.append(problem)
    if count == 0 and not errors:
        problems.append(Problem(rel, 1, "the file holds no BibTeX entries",
                                "add entries to it, or delete the file", severity="warning",
                                code="bib.empty"))
    if errors or shared or any(cmd.failed or cmd.key is None for cmd in commands):
        return None
    return text, [(cmd.key or "", cmd.start, cmd.end) for cmd in commands]


def _persons(value: str, entry: BibEntry, role: str, problems: list[Problem],
             cache: dict[str, Name | None]) -> list[Name]:
    people = []
    for name in split_name_list(value):
        if name in cache:
            parsed = cache[name]
            if parsed is not None:
                people.append(parsed)
                continue
        parsed = parse_name(name)
        if parsed is not None:
            cache[name] = parsed
            people.append(parsed)
            continue
        with pybtex.errors.capture() as captured:
            person = Person(name)
        if captured:
            problems.append(Problem(
                entry.path, entry.line_of(role),
                f"the name {name!r} in `{role}` of {entry.where} cannot be read ({captured[0]})",
                "write each name as \"Last, First\" or \"First Last\" and separate names with "
                "` and `", code="bib.name"))
            continue
        cache[name] = Name.of(person)
        people.append(cache[name])
    return people


def _check_gap(text: str, rel: str, previous: tuple[int, int, str | None], end: int,
               problems: list[Problem]) -> None:
    """Text between entries is ignored by BibTeX; field-like text there means a stray ``}``."""
    start, previous_end, key = previous
    match = _stray(text, previous_end, end)
    if not match:
        return
    line = text.count("\n", 0, match.start()) + 1
    field_problem = _unbalanced_field(text, rel, start, end, key)
    if field_problem is not None:
        problems.append(field_problem)
        return
    problems.append(Problem(
        rel, line, f"this text is outside any entry: the entry `{key}` was closed early",
        "remove the extra `}` before this line so that the fields stay inside the entry",
        code="bib.braces"))


def _stray(text: str, start: int, end: int) -> re.Match[str] | None:
    """The first field-like line between ``start`` and ``end``, outside ``@comment{...}``."""
    pos = start
    while True:
        match = STRAY_RE.search(text, pos, end)
        comment = COMMENT_RE.search(text, pos, end)
        if comment is None or (match is not None and match.start() < comment.start()):
            return match
        depth = 0
        pos = end
        for brace in _BRACES.finditer(text, comment.end(), end):
            if brace.group() == "{":
                depth += 1
            elif depth == 0:
                pos = brace.end()
                break
            else:
                depth -= 1


def _unbalanced_field(text: str, rel: str, start: int, end: int, key: str | None
                      ) -> Problem | None:
    """The field between ``start`` and ``end`` whose braces do not balance, if one is found."""
    region = text[start:end]
    base_line = text.count("\n", 0, start) + 1
    starts = [(m.start(), m.group(1)) for m in FIELD_START_RE.finditer(region)]
    if not starts:
        return None
    entry_name = f"`{key}`" if key else "this entry"
    for i, (pos, name) in enumerate(starts):
        stop = starts[i + 1][0] if i + 1 < len(starts) else len(region)
        chunk = re.sub(r"\\[{}]", "", region[pos:stop])
        balance = chunk.count("{") - chunk.count("}")
        last = i + 1 == len(starts)
        line = base_line + region.count("\n", 0, pos)
        if not last and balance > 0:
            return Problem(rel, line, f"the value of `{name.lower()}` in {entry_name} has a "
                           "`{` without its `}`", "add the missing `}` at the end of the value",
                           code="bib.braces")
        if balance < 0 and (not last or balance < -1):
            return Problem(rel, line, f"the value of `{name.lower()}` in {entry_name} has a "
                           "`}` too many", "remove the extra `}` (every `}` closes a `{`)",
                           code="bib.braces")
        if last and balance >= 0:
            return Problem(rel, line, f"the entry {entry_name} is not closed",
                           "add a `}` after its last field (and check the braces of this value)",
                           code="bib.braces")
    return None


def _locate_error(text: str, rel: str, error: PybtexError, key: str | None,
                  field_name: str | None, line: int, start: int) -> Problem:
    """Turn one of pybtex's errors into a located problem that says what to do."""
    entry_name = f"`{key}`" if key else "this entry"
    if bibreader.keyless_error(error):
        return Problem(rel, line, "this entry has no key, so it is left out",
                       "give it a key, e.g. @article{wu2024scaling, ...}, or delete it if it "
                       "is empty", severity="warning", code="bib.no-key")
    if isinstance(error, UndefinedMacro):
        name = str(error.args[0]) if error.args else "?"
        what = f"`{field_name.lower()}`" if field_name else "a field"
        return Problem(rel, line, f"{what} of {entry_name} uses `{name}`, which is not defined",
                       f"put text values in braces, e.g. {field_name or 'journal'} = {{{name}}}",
                       code="bib.undefined-macro")
    # An error inside an entry: the usual cause is a brace, so look for the field that has it.
    eol = text.find("\n", start)
    nxt = ENTRY_START_RE.search(text, eol + 1) if eol >= 0 else None
    problem = _unbalanced_field(text, rel, start, nxt.start() if nxt else len(text), key)
    if problem is not None:
        return problem
    if isinstance(error, PrematureEOF):
        return Problem(rel, line, f"the file ends inside {entry_name}",
                       "close the entry with `}` and check that every `{` has its `}`",
                       code="bib.syntax")
    if isinstance(error, TokenRequired):
        expected = str(error.args[0]).removesuffix(" expected") if error.args else "?"
        return Problem(rel, line, f"BibTeX syntax error in {entry_name}: expected {expected}",
                       "an entry looks like @article{key, field = {value}, ...} — check this "
                       "line for a missing `,`, `=`, `{` or `}`", code="bib.syntax")
    if isinstance(error, PybtexSyntaxError):
        return Problem(rel, line, f"BibTeX syntax error in {entry_name}: {error.args[0]}",
                       "check the braces and quotes in this line", code="bib.syntax")
    return Problem(rel, line, f"BibTeX error in {entry_name}: {error}",
                   "check the entry at this line", code="bib.syntax")


# --- checking entries against the handbook ----------------------------------------------------


class _Checker:
    def __init__(self, registry: Registry, lib: Library, config: LabConfig,
                 cache: ReadCache | None = None) -> None:
        self.registry = registry
        self.lib = lib
        self.config = config
        self.roster: Roster = registry.names
        self.keywords: set[str] = {kw for a in registry.areas.values() for kw in a.keywords}
        self.problems: list[Problem] = []
        self.by_key = {e.key.casefold(): e for e in reversed(lib.entries)}
        self.cache = cache
        self.kept: dict[tuple[object, ...], list[Problem]] = {}
        if cache is not None:
            facts = (registry.digest("names"), registry.digest("roster"),
                     sorted(self.keywords), [(s, self.page_of(s)[0]) for s in registry.people])
            self.kept = cache.checks[1] if cache.checks[0] == facts else {}
            cache.checks = (facts, {})

    def add(self, entry: BibEntry, fieldname: str | None, message: str, hint: str,
            code: str, severity: str = "error") -> None:
        line = entry.line_of(fieldname) if fieldname else entry.line
        self.problems.append(Problem(entry.path, line, message, hint,
                                     severity=severity, code=code))  # type: ignore[arg-type]

    def run(self) -> list[Problem]:
        keys: dict[str, BibEntry] = {}
        pages: dict[str, BibEntry] = {}
        for entry in self.lib.entries:
            folded = entry.key.casefold()
            first = keys.get(folded)
            if first is not None:
                where = (f"line {first.line}" if first.path == entry.path
                         else f"{first.path}:{first.line}")
                self.add(entry, None, f"the key `{entry.key}` is already used ({where})",
                         "give one of the two entries another key, or delete the copy "
                         "(keys ignore upper and lower case)", "bib.duplicate-key")
                continue
            keys[folded] = entry
            page = (page_name(entry.key) or "").casefold()
            other = pages.get(page)
            if other is not None:
                where = (f"line {other.line}" if other.path == entry.path
                         else f"{other.path}:{other.line}")
                self.add(entry, None, f"the key {entry.where} gives the same page address "
                         f"as `{other.key}` ({where})", "give one of the two entries another "
                         "key", "html.unsafe-key")
            elif page:
                pages[page] = entry
            self.entry_kept(entry)
        self.news_papers(keys)
        self.problems.extend(attribution_notes(
            self.roster, ((e.key, e.persons.get("author", [])) for e in keys.values()),
            {slug: self.page_of(slug) for slug in self.registry.people}, self.attribute()))
        return self.problems

    def attribute(self) -> Callable[[list[Any]], list[Any]]:
        """``Roster.attribute``, with the cache's answers for the same spellings and names."""
        cache = self.cache
        if cache is None:
            return self.roster.attribute
        names = self.registry.digest("names")
        last = cache.matches[1] if cache.matches[0] == names else {}
        now: dict[tuple[Any, ...], list[Any]] = {}
        cache.matches = (names, now)

        def attribute(persons: list[Any]) -> list[Any]:
            key = tuple(persons)
            found = now.get(key)
            if found is None:
                found = last.get(key)
            if found is None:
                found = self.roster.attribute(persons)
            now[key] = found
            return found

        return attribute

    def page_of(self, slug: str) -> tuple[str, int]:
        """The person page of ``slug`` and the line of its ``name``."""
        page = self.registry.pages.get(self.registry.docnames.get(f"person:{slug}", ""))
        if page is None:
            return f"{self.config.people_dir}/{slug}.md", 1
        return page.path, page.line_of(("name",))

    def entry_kept(self, e: BibEntry) -> None:
        """:meth:`entry`, or the problems it found for the same entry last time."""
        if self.cache is None or any(name in e.fields for name in ("crossref", "xref")):
            self.entry(e)
            return
        key = (e.path, e.line, e.type, e.key, tuple(e.fields.items()),
               tuple(e.field_lines.items()))
        found = self.kept.get(key)
        if found is None:
            start = len(self.problems)
            self.entry(e)
            found = self.problems[start:]
            self.cache.checked += 1
        else:
            self.problems.extend(found)
        self.cache.checks[1][key] = found

    # one entry
    def entry(self, e: BibEntry) -> None:
        if not page_name(e.key):
            self.add(e, None, f"the key {e.where} cannot be the address of the paper's page",
                     "use letters, digits and `_ - . : +` (and `/` between parts), e.g. "
                     "wu2024scaling", "html.unsafe-key")
        required = REQUIRED_FIELDS.get(e.type)
        if required is None:
            alias = TYPE_ALIASES.get(e.type)
            self.add(e, None, f"{e.where} has the unknown entry type `@{e.type}`",
                     f"write @{alias}" if alias else
                     f"use one of: {', '.join('@' + t for t in REQUIRED_FIELDS)}",
                     "bib.unknown-type", severity="warning")
        else:
            self.required(e, required)
        for name, value in e.fields.items():
            if len(value) > MAX_FIELD_CHARS:
                self.add(e, name, f"the `{name}` of {e.where} is {len(value):,} characters long; "
                         f"the file is left out", f"keep fields under {MAX_FIELD_CHARS:,} "
                         "characters", "bib.too-long")
        year, _, _ = entry_date(self.value_fields(e))
        written = e.fields.get("year") or e.fields.get("date")
        if written and not year:
            name = "year" if e.fields.get("year") else "date"
            self.add(e, name, f"the `{name}` of {e.where} is not a date: {written!r}",
                     "write four digits, e.g. year = {2024} (or date = {2024-03}); the entry "
                     "is listed as undated", "bib.year", severity="warning")
        self.keywords_of(e)
        self.links(e)
        self.extras(e)
        self.names(e)

    def required(self, e: BibEntry, required: Iterable[str | tuple[str, ...]]) -> None:
        """Fields a reader expects (with ``crossref`` and biblatex names): a warning, never an
        error, since exporters leave out what they do not know and the entry is still shown."""
        names = ", ".join(r if isinstance(r, str) else " or ".join(r) for r in required)
        fields = self.value_fields(e)
        for req in required:
            options = (req,) if isinstance(req, str) else req
            if any(self.has(e, f, fields) for f in options):
                continue
            shown = " or ".join(f"`{f}`" for f in options)
            empty = [f for f in options if f in e.fields or f in e.persons]
            if empty:
                self.add(e, empty[0], f"{e.where} has an empty {shown}",
                         f"fill it in: an @{e.type} needs {names}", "bib.missing-field",
                         severity="warning")
            else:
                self.add(e, None, f"{e.where} has no {shown}",
                         f"add `{options[0]} = {{...}}`: an @{e.type} needs {names}",
                         "bib.missing-field", severity="warning")

    def parent(self, e: BibEntry) -> BibEntry | None:
        key = e.fields.get("crossref") or e.fields.get("xref")
        parent = self.by_key.get(key.casefold()) if key else None
        return parent if parent is not e else None

    def value_fields(self, e: BibEntry) -> dict[str, str]:
        """The entry's fields with biblatex aliases and what ``crossref`` gives it."""
        fields = dict(e.fields)
        parent = self.parent(e)
        if parent is not None:
            for name, value in parent.fields.items():
                if name == "title" and parent.type in VOLUMES:
                    fields.setdefault("booktitle", value)
                elif name != "title":
                    fields.setdefault(name, value)
        for alias, name in ALIASES.items():
            if alias in fields:
                fields.setdefault(name, fields[alias])
        if "year" not in fields and entry_date(fields)[0]:
            fields["year"] = str(entry_date(fields)[0])
        return fields

    def has(self, e: BibEntry, name: str, fields: dict[str, str]) -> bool:
        if name in PERSON_FIELDS:
            parent = self.parent(e)
            return bool(e.persons.get(name) or (parent and parent.persons.get(name)))
        return bool(fields.get(name, "").strip())

    def keywords_of(self, e: BibEntry) -> None:
        value = e.fields.get("keywords")
        if not value:
            return
        folded = {kw.casefold(): kw for kw in sorted(self.keywords)}
        for kw in split_keywords(value):
            if kw in self.keywords:
                continue
            # Exports carry their own tags (Zotero, Scholar, a library's subjects): only a
            # near miss of an area's keyword is worth a word.
            close = ([folded[kw.casefold()]] if kw.casefold() in folded else
                     difflib.get_close_matches(kw, sorted(self.keywords), n=1, cutoff=0.8))
            if close:
                self.add(e, "keywords", f"unknown keyword `{kw}` in {e.where}",
                         f"did you mean `{close[0]}`? (keywords are case-sensitive)",
                         "bib.unknown-keyword", severity="warning")

    def links(self, e: BibEntry) -> None:
        for name in URL_FIELDS:
            value = latex_url(e.fields.get(name, ""))
            if not value:
                continue
            if HTTPS_RE.match(value):
                continue
            if HTTP_RE.match(value):
                self.add(e, name, f"the `{name}` of {e.where} is not https: {value}",
                         "write https:// instead of http:// (nearly every site supports it)",
                         "bib.http", severity="warning")
            else:
                self.add(e, name, f"the `{name}` of {e.where} is not a web address: "
                         f"{_short(value)}", "write a full address starting with https://",
                         "bib.url")
        doi = latex_url(e.fields.get("doi", ""))
        if doi and not DOI_RE.match(doi):
            link = DOI_LINK_RE.match(doi)
            # what an exporter or a hand wrote there: read (a link) or shown without a link
            if link and DOI_RE.match(link.group(1)):
                self.add(e, "doi", f"the `doi` of {e.where} is a link, not a DOI: {doi}",
                         f"write only the DOI: doi = {{{link.group(1)}}}", "bib.doi",
                         severity="warning")
            else:
                self.add(e, "doi", f"the `doi` of {e.where} is not a DOI: {_short(doi)}; it "
                         "is shown without a link", "write it as 10.<number>/<suffix>, e.g. "
                         "doi = {10.18653/v1/N19-1423}, or remove the field", "bib.doi",
                         severity="warning")
        self.eprint(e)

    def eprint(self, e: BibEntry) -> None:
        eprint = latex_url(e.fields.get("eprint", ""))
        archive = (e.fields.get("archiveprefix") or e.fields.get("eprinttype") or "").strip()
        if archive and not eprint:
            name = "archiveprefix" if e.fields.get("archiveprefix") else "eprinttype"
            self.add(e, name, f"{e.where} names an archive but has no `eprint`",
                     f"add the id, e.g. eprint = {{2401.01234}}, or remove `{name}`",
                     "bib.eprint", severity="warning")
            return
        if not eprint or archive.casefold() != "arxiv":
            return  # another archive (or none): shown as its identifier, linked where known
        if eprint_of(e.fields):
            found = eprint_of({"eprint": eprint, "archiveprefix": "arXiv"})
            if found and found[2]:
                if found[1] != eprint:
                    self.add(e, "eprint", f"the `eprint` of {e.where} is not a bare arXiv id: "
                             f"{eprint}", f"write only the id: eprint = {{{found[1]}}}",
                             "bib.eprint", severity="warning")
                return
        bare = re.sub(r"^arxiv:\s*", "", eprint, flags=re.IGNORECASE)
        link = ARXIV_LINK_RE.match(bare)
        bare = link.group(1) if link else bare
        if ARXIV_NEW_RE.match(bare) or ARXIV_OLD_RE.match(bare):
            self.add(e, "eprint", f"the `eprint` of {e.where} is not a bare arXiv id: {eprint}",
                     f"write only the id: eprint = {{{bare}}}", "bib.eprint")
        else:
            self.add(e, "eprint", f"the `eprint` of {e.where} is not an arXiv id: "
                     f"{_short(eprint)}", "write it as 2401.01234 (or 2401.01234v2; old ids "
                     "as hep-th/9901001)", "bib.eprint")

    def extras(self, e: BibEntry) -> None:
        pubtype = e.fields.get("pubtype")
        if pubtype is not None and pubtype.strip().lower() not in KINDS:
            self.add(e, "pubtype", f"the `pubtype` of {e.where} cannot be {pubtype!r}",
                     f"use one of: {', '.join(KINDS)} (or remove it)", "bib.pubtype")
        equal = e.fields.get("equalcontrib")
        if equal is not None:
            n = len(e.persons.get("author", []))
            if not EQUALCONTRIB_RE.match(equal.strip()):
                ok = False
            else:
                nums = [int(x) for x in equal.split(",")]
                ok = all(1 <= x <= n for x in nums) and len(set(nums)) == len(nums) >= 2
            if not ok:
                self.add(e, "equalcontrib", f"the `equalcontrib` of {e.where} is not valid: "
                         f"{equal!r}", f"list two or more author positions between 1 and {n}, "
                         "e.g. equalcontrib = {1,2}", "bib.equalcontrib")
        for name, pattern, example in (("openreview", OPENREVIEW_RE, "a1B2c3D4e5"),
                                       ("acl", ACL_RE, "2020.acl-main.1")):
            value = e.fields.get(name)
            if value is not None and not pattern.match(value.strip()):
                self.add(e, name, f"the `{name}` of {e.where} is not an id: {_short(value)}",
                         f"write only the id, e.g. {name} = {{{example}}} (the link is made "
                         "for you)", f"bib.{name}")

    def names(self, e: BibEntry) -> None:
        """Authors that are members, or nearly: loose and ambiguous spellings are reported
        once per person (:func:`labhandbook.names.attribution_notes`), not here."""
        matched = False
        suspicious = False
        role = "author"  # the style highlights and links authors only
        for person in e.persons.get(role, []):
            text = str(person)
            if text.casefold() == "others":
                continue
            match = self.roster.match(person)
            if match.level != "none":
                matched = True
                continue
            if len(person.last) >= 2 and len(person.first) >= 2 and (
                    self.roster.slug(" ".join(person.last))
                    or self.roster.slug(" ".join(person.first))):
                suspicious = True
                self.add(e, role, f"{text!r} in `{role}` of {e.where} looks like two names",
                         "separate names with ` and `, not with commas", "bib.name-list",
                         severity="warning")
                continue
            swapped = self.roster.match(Name(person.last, (), person.first, ()))
            if swapped.slug is None or swapped.level == "loose":
                continue
            suspicious = True
            member = self.registry.people[swapped.slug]
            path, _ = self.page_of(swapped.slug)
            self.add(e, role, f"{text!r} in {e.where} looks like {member.name} with first and "
                     "last name swapped",
                     f"write it as {member.name!r}, or add {text!r} to `bib_names` in {path}",
                     "bib.name-variant", severity="warning")
        if not matched and not suspicious and e.persons.get(role):
            self.add(e, None, f"no author of {e.where} is a lab member",
                     "check how the members' names are spelled (their `bib_names`), or remove "
                     "the entry if it is not a lab paper", "bib.no-member", severity="warning")

    def news_papers(self, keys: dict[str, BibEntry]) -> None:
        """``news[].papers`` and ``selected`` of people pages must name entries of the
        library."""
        if not keys:
            return
        for slug, person in self.registry.people.items():
            named = [(("news", i, "papers", j), f"news[{i}].papers", key)
                     for i, item in enumerate(person.news) for j, key in enumerate(item.papers)]
            named += [(("selected", j), "selected", key)
                      for j, key in enumerate(person.selected or [])]
            for where, label, key in named:
                if key.casefold() in keys:
                    continue
                page = self.registry.pages[self.registry.docnames[f"person:{slug}"]]
                close = difflib.get_close_matches(key, [k.key for k in keys.values()], n=1)
                self.problems.append(Problem(
                    page.path, page.line_of(where),
                    f"`{label}` names `{key}`, which is not in {self.config.bib_dir}/",
                    f"did you mean `{close[0]}`?" if close else
                    "use the key of a BibTeX entry (the word after `@article{`)",
                    code="bib.unknown-paper"))


def _short(value: str, limit: int = 60) -> str:
    value = value.strip()
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


# --- entry point ------------------------------------------------------------------------------


def check_library_and_count(root: Path, config: LabConfig, registry: Registry,
                            cache: ReadCache | None = None) -> tuple[list[Problem], Library]:
    """Like :func:`check_library`, also returning what was read (for summaries)."""
    lib = read_library(root, config, cache)
    problems = list(lib.problems)
    problems.extend(_Checker(registry, lib, config, cache).run())
    problems.sort(key=lambda p: (p.path, p.line))
    return problems, lib


def check_library(root: Path, config: LabConfig, registry: Registry,
                  cache: ReadCache | None = None) -> list[Problem]:
    """Every problem of ``bib/*.bib``, each located to its file and line, sorted by place.

    Reads the files and nothing else; the registry gives the lab's members (their BibTeX name
    spellings), research areas (their keywords) and news items (the papers they name).
    ``cache`` (see :class:`ReadCache`) spares reading files again that did not change.
    """
    return check_library_and_count(root, config, registry, cache)[0]
