"""``labhandbook import FILE.bib``: bring an export into the library without losing or doubling.

An export (DBLP, Google Scholar, Zotero, ORCID, ...) is read with pybtex, each entry is
normalised (LaTeX accents decoded by the one decoder, :func:`labhandbook.latex.latex_source`,
braces and math kept; identifiers bare; only the fields the handbook uses; ``crossref`` parents
folded into their children) and compared with the library already in ``bib/``: by DOI, by
arXiv id, and by normalised title and year. A preprint and its
published version are one paper: they are kept as one entry that holds both identifiers.

:func:`plan` decides, :func:`apply` writes. Nothing is written unless asked (``--write``), and
then only new entries are appended and matched entries completed in place: running the same
import twice adds nothing. Every input entry ends in exactly one outcome of the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pybtex.errors
from pybtex.database import Entry, Person
from pybtex.database.input.bibtex import Parser
from pybtex.exceptions import PybtexError

from .latex import latex_source
from .names import extended_name_error, fold
from .names import person as as_person
from .problems import Problem

#: The fields the handbook shows or links (everything else an exporter writes is left out).
KEPT_FIELDS = (
    "title", "journal", "booktitle", "year", "month", "volume", "number", "pages", "publisher",
    "school", "institution", "organization", "address", "series", "edition", "chapter",
    "howpublished", "note", "doi", "url", "eprint", "archiveprefix", "primaryclass", "isbn",
    "issn", "abstract", "code", "openreview", "acl", "pubtype", "equalcontrib", "keywords",
    "type",
)
#: biblatex names of the same fields.
RENAMED = {"journaltitle": "journal", "location": "address", "eprinttype": "archiveprefix"}
#: Fields a child takes from its ``crossref`` parent when it has none of its own.
INHERITED = ("booktitle", "year", "month", "publisher", "series", "volume", "address",
             "organization", "editor", "doi")
#: Text fields whose LaTeX accents and escapes are decoded (math between ``$`` is left alone).
DECODED = ("title", "journal", "booktitle", "publisher", "school", "institution",
           "organization", "address", "series", "note", "howpublished", "abstract")

DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.IGNORECASE)
ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([^\s}?#]+?)(?:v\d+)?(?:\.pdf)?/?$", re.I)


class ImportRefused(Exception):
    """The file cannot be imported; carries the located problems."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


# --- normalising one entry --------------------------------------------------------------------


def _escapes(value: str) -> str:
    r"""``\_``, ``\&``, ``\%`` and ``\#`` in an identifier or address are the characters."""
    return re.sub(r"\\([_&%#~])", r"\1", value).replace("{", "").replace("}", "").strip()


def arxiv_id(fields: dict[str, str]) -> str | None:
    """The arXiv id of an entry (eprint, an arxiv.org address, or "arXiv:..." in a venue)."""
    archive = fields.get("archiveprefix", "arxiv").casefold()
    eprint = fields.get("eprint", "")
    if eprint and archive == "arxiv":
        match = ARXIV_ID.search(eprint)
        if match:
            return match.group(1)
    match = ARXIV_URL.search(fields.get("url", ""))
    if match:
        return match.group(1)
    for name in ("journal", "howpublished", "note", "booktitle"):
        match = re.search(r"arxiv[:\s/]*(?:abs/)?" + ARXIV_ID.pattern, fields.get(name, ""),
                          re.IGNORECASE)
        if match:
            return match.group(1)
    return None


def doi_of(fields: dict[str, str]) -> str | None:
    doi = fields.get("doi", "")
    return doi.casefold() if doi.startswith("10.") else None


def is_preprint(entry: Entry) -> bool:
    f = entry.fields
    venue = " ".join(f.get(n, "") for n in ("journal", "booktitle", "howpublished", "publisher"))
    return bool(arxiv_id(dict(f))) and (not venue.strip() or "arxiv" in venue.casefold()
                                         or "corr" == venue.strip().casefold())


def title_key(entry: Entry) -> str:
    return fold(latex_source(entry.fields.get("title", "")))


def _person(person: Person) -> Person:
    """Decoded, and written the classic way ("von Last, Jr, First") when the export used
    biblatex's extended name format."""
    return Person(latex_source(str(as_person(person))))


def normalise(entry: Entry, parent: Entry | None, area_keywords: set[str]) -> Entry:
    """The entry with the fields the handbook uses, decoded and bare."""
    fields: dict[str, str] = {}
    raw = {k.lower(): v for k, v in entry.fields.items()}
    for name, value in list(raw.items()):
        if name in RENAMED and RENAMED[name] not in raw:
            raw[RENAMED[name]] = value
    if "year" not in raw and raw.get("date"):  # biblatex: date = {2024-05-17}, {2024/2025}
        match = re.match(r"(\d{4})(?:-(\d{2}))?", raw["date"].strip())
        if match:
            raw["year"] = match.group(1)
            if match.group(2) and "month" not in raw:
                raw["month"] = str(int(match.group(2)))
    persons = {role: list(people) for role, people in entry.persons.items()}
    if parent is not None:
        inherited = {k.lower(): v for k, v in parent.fields.items()}
        for name in INHERITED:
            if name == "editor":
                if "editor" not in persons and parent.persons.get("editor"):
                    persons["editor"] = list(parent.persons["editor"])
                continue
            source = "title" if name == "booktitle" else name
            if name not in raw and inherited.get(source):
                raw[name] = inherited[source]
    for name in KEPT_FIELDS:
        value = raw.get(name)
        if value is None or not value.strip():
            continue
        value = " ".join(value.split())
        if name in DECODED:
            value = latex_source(value)
        elif name in ("doi", "url", "eprint", "code"):
            value = _escapes(value)
            if name == "doi":
                value = DOI_PREFIX.sub("", value)
            if name == "eprint":
                value = re.sub(r"^arxiv:\s*", "", value, flags=re.IGNORECASE)
        if name == "year" and not re.fullmatch(r"\d{4}", value):
            years = re.findall(r"(?<!\d)\d{4}(?!\d)", re.sub(r"\{\\[a-z]+\{[^{}]*\}\}", "",
                                                               value))
            if years:  # "{\noopsort{1973b}}1981", "2024 (online)": the year shown
                value = years[-1]
        if name == "keywords":  # exporters' tags are not the lab's area keywords
            kept = [k.strip() for k in value.split(",") if k.strip() in area_keywords]
            if not kept:
                continue
            value = ", ".join(kept)
        if name == "archiveprefix" and value.casefold() == "arxiv":
            value = "arXiv"
        fields[name] = value
    arxiv = arxiv_id(fields)
    if arxiv and "eprint" not in fields:  # Scholar: journal = {arXiv preprint arXiv:...}
        fields["eprint"] = arxiv
    if "eprint" in fields and "archiveprefix" not in fields and arxiv:
        fields["archiveprefix"] = "arXiv"
    out = Entry(entry.type.lower(), fields=fields)
    for role in ("author", "editor"):
        if persons.get(role):
            out.persons[role] = [_person(p) for p in persons[role]]
    out.key = entry.key
    return out


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class Known:
    """An entry already in the library (or earlier in the same import)."""

    entry: Entry  #: normalised, for comparing
    path: str  #: relative to the handbook root; "" for an entry of the import itself
    line: int
    raw: Entry | None = None  #: as written in the library (every field kept when completed)


@dataclass
class Outcome:
    """What happens to one entry of the import."""

    key: str
    kind: str  #: "new", "duplicate", "merge", "conflict"
    detail: str
    entry: Entry | None = None  #: the entry to append (new) or the merged entry (merge)
    target: Known | None = None  #: the library entry it matches
    source: str = ""  #: the key in the export (``key`` may be a new one)

    def __post_init__(self) -> None:
        self.source = self.source or self.key


@dataclass
class Plan:
    outcomes: list[Outcome] = field(default_factory=list)
    into: str = ""

    def of(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind]


def _index(known: list[Known]) -> dict[str, Known]:
    index: dict[str, Known] = {}
    for k in known:
        for ident in _identities(k.entry):
            index.setdefault(ident, k)
    return index


def _identities(entry: Entry) -> list[str]:
    f = dict(entry.fields)
    out = ["key:" + entry.key.casefold()]
    doi = doi_of(f)
    if doi:
        out.append("doi:" + doi)
    arxiv = arxiv_id(f)
    if arxiv:
        out.append("arxiv:" + arxiv.casefold())
    title = title_key(entry)
    if len(title) >= 12:
        out.append(f"title:{title}:{f.get('year', '').strip()}")
        out.append(f"title:{title}")
    return out


def _find(entry: Entry, index: dict[str, Known]) -> tuple[Known, str] | None:
    f = dict(entry.fields)
    same_key = index.get("key:" + entry.key.casefold())
    if same_key is not None and title_key(same_key.entry) == title_key(entry):
        return same_key, "same key and title"
    doi, arxiv = doi_of(f), arxiv_id(f)
    if doi and "doi:" + doi in index:
        return index["doi:" + doi], f"same DOI {f['doi']}"
    if arxiv and "arxiv:" + arxiv.casefold() in index:
        return index["arxiv:" + arxiv.casefold()], f"same arXiv id {arxiv}"
    title, year = title_key(entry), f.get("year", "").strip()
    if len(title) >= 12:
        hit = index.get(f"title:{title}:{year}")
        if hit is not None:
            return hit, "same title and year"
        hit = index.get(f"title:{title}")
        if hit is not None and (is_preprint(hit.entry) or is_preprint(entry)):
            return hit, "same title, a preprint and its published version"
    return None


#: What a second record of the same paper may add to the first.
COMPLETING = ("eprint", "archiveprefix", "primaryclass", "doi", "url", "code", "openreview",
              "abstract")


def merge(old: Known, new: Entry) -> tuple[Entry, list[str]]:
    """One entry for one paper: the published version's venue, both identifiers.

    ``old`` keeps its key and every field it has (as written); when ``new`` is the published
    version of ``old``'s preprint, its type, venue and year replace the preprint's. Returns the
    merged entry and the fields it gained or changed.
    """
    base = old.raw if old.raw is not None else old.entry
    fields = dict(base.fields)
    kind = base.type
    persons = {role: list(people) for role, people in base.persons.items()}
    if is_preprint(old.entry) and not is_preprint(new):
        kind = new.type
        for name in ("journal", "booktitle", "howpublished", "publisher"):
            fields.pop(name, None)
            fields.pop(name.capitalize(), None)
        for name, value in new.fields.items():
            if name not in ("eprint", "archiveprefix", "primaryclass", "keywords"):
                fields[name] = value
    present = {n.casefold() for n in fields}
    for name, value in new.fields.items():
        if name in COMPLETING and name not in present:
            fields[name] = value
    merged = Entry(kind, fields=fields)
    merged.persons.update(persons)
    merged.key = base.key
    gained = [n for n in merged.fields if base.fields.get(n) != merged.fields[n]]
    if merged.type != base.type:
        gained.insert(0, f"type @{merged.type}")
    return merged, gained


def read_export(path: Path, shown: str, left_out: list[Problem] | None = None
                ) -> dict[str, Entry]:
    """The entries of an export; a file that cannot be read is one located problem.

    An entry with an error (a syntax error, a name pybtex cannot read) refuses the whole file,
    unless ``left_out`` is given: then the entries without one are returned and each error,
    located, is added to ``left_out`` (the entries it names are not imported).
    """
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ImportRefused([Problem(shown, 1, f"cannot read the file ({err.strerror})",
                                     "check the path", code="import.unreadable")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        try:
            text = raw.decode("cp1252")  # older exports: Windows Latin-1
        except UnicodeDecodeError:
            raise ImportRefused([Problem(
                shown, line, "the file is neither UTF-8 nor Latin-1 text",
                "export it again as UTF-8", code="import.encoding")]) from None
    from .bibcheck import read_text_problems

    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # a field written twice is a slip of the exporter, not a reason to refuse: the first is kept
    problems = [p for p in read_text_problems(text, shown)
                if p.severity == "error" and p.code != "bib.duplicate-field"]
    if problems and left_out is None:
        raise ImportRefused(problems)
    parser = Parser(encoding="utf-8")
    try:
        with pybtex.errors.capture():  # errors are the located problems above
            data = parser.parse_string(text)
    except PybtexError as err:  # the located reader found nothing: say what pybtex said
        raise ImportRefused([Problem(shown, 1, f"the file cannot be read as BibTeX ({err})",
                                     "check the file against the line pybtex names",
                                     code="import.syntax")]) from None
    entries = dict(data.entries)
    if problems:
        bad = _entries_at(text, [p.line for p in problems])
        entries = {k: e for k, e in entries.items() if k.casefold() not in bad}
        if not entries:
            raise ImportRefused(problems)
        left_out.extend(problems)  # type: ignore[union-attr]
    if not entries:
        raise ImportRefused([Problem(shown, 1, "the file holds no BibTeX entries",
                                     "export the library again, as BibTeX",
                                     code="import.empty")])
    return entries


def _entries_at(text: str, lines: list[int]) -> set[str]:
    """Keys (case-folded) of the entries that hold these lines: each entry runs from its ``@``
    to the next entry's."""
    from pybtex.database.input.bibtex import month_names
    from pybtex.utils import CaseInsensitiveDict

    from . import bibreader

    commands, _ = bibreader.parse(text, CaseInsensitiveDict(month_names))
    starts = [(c.line, (c.key or "").casefold()) for c in commands
              if c.kind not in ("string", "preamble")]
    keys = set()
    for line in lines:
        holding = [key for start, key in starts if start <= line]
        if holding:
            keys.add(holding[-1])
    return keys


def plan(entries: dict[str, Entry], library: list[Known], into: str,
         area_keywords: set[str]) -> Plan:
    """Decide, for every entry of the export, what happens to it."""
    result = Plan(into=into)
    by_key = {k.entry.key.casefold(): k for k in library}
    index = _index(library)
    parents = {e.fields.get("crossref", "").casefold() for e in entries.values()}
    lower = {key.casefold(): e for key, e in entries.items()}
    pending: dict[str, Known] = {}  # entries of this import already planned as new
    for key, raw in entries.items():
        if key.casefold() in parents and raw.type.lower() in ("proceedings", "book",
                                                                "mvproceedings", "mvbook") \
                and not raw.persons.get("author"):
            result.outcomes.append(Outcome(key, "duplicate", "a volume other entries cite "
                                           "through crossref; its fields went into them"))
            continue
        parent = lower.get(raw.fields.get("crossref", "").casefold())
        entry = normalise(raw, parent, area_keywords)
        found = _find(entry, index)
        if found is not None:
            target, why = found
            merged, gained = merge(target, entry)
            old_title, new_title = title_key(target.entry), title_key(entry)
            if why.startswith("same DOI") and old_title and new_title and old_title != new_title:
                result.outcomes.append(Outcome(
                    key, "conflict", f"{why} as `{target.entry.key}` ({_where(target)}) but "
                    "another title: check which is right", target=target))
                continue
            if not gained:
                result.outcomes.append(Outcome(key, "duplicate",
                                               f"{why} as `{target.entry.key}` ({_where(target)})",
                                               target=target))
                continue
            result.outcomes.append(Outcome(
                key, "merge", f"{why} as `{target.entry.key}` ({_where(target)}): adds "
                + ", ".join(gained), entry=merged, target=target))
            target.raw = merged
            target.entry = normalise(merged, None, _ALL)
            index = _index([*library, *pending.values()])
            continue
        new_key, n = key, 0
        while new_key.casefold() in by_key:
            new_key, n = _suffixed(key, n), n + 1
        if new_key != key:
            other = by_key[key.casefold()]
            detail = (f"the key `{key}` is taken by another paper ({_where(other)}): "
                      f"added as `{new_key}`")
        else:
            detail = "new"
        entry.key = new_key
        known = Known(entry, "", 0)
        by_key[new_key.casefold()] = known
        pending[new_key] = known
        for ident in _identities(entry):
            index.setdefault(ident, known)
        result.outcomes.append(Outcome(new_key, "new", detail, entry=entry, target=known,
                                       source=key))
    return result


def _suffixed(key: str, n: int) -> str:
    """``key`` with a letter added, as BibTeX keys of one author and year are told apart:
    wu2024b, wu2024c, ..., wu2024z, wu2024ba, ..."""
    letters = "bcdefghijklmnopqrstuvwxyz"
    suffix = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, len(letters))
        suffix = letters[rest] + suffix
    return key + suffix


def _where(known: Known) -> str:
    return f"{known.path}:{known.line}" if known.path else "earlier in this file"


# --- writing ----------------------------------------------------------------------------------


def entry_text(entry: Entry) -> str:
    from .library import to_bibtex

    return to_bibtex(entry, standard_only=False)


def _span(text: str, line: int) -> tuple[int, int]:
    """Offsets of the entry that starts at ``line`` (1-based): from its ``@`` to its ``}``."""
    start = 0
    for _ in range(line - 1):
        start = text.index("\n", start) + 1
    at = text.index("@", start)
    opening = re.compile(r"@\s*\w+\s*([{(])").match(text, at)
    if opening is None:
        raise ValueError(f"no entry at line {line}")
    close = "}" if opening.group(1) == "{" else ")"
    depth, i = 0, opening.end() - 1
    while i < len(text):
        ch = text[i]
        if ch == "{" or (ch == "(" and close == ")" and depth == 0):
            depth += 1
        elif ch == "}" or (ch == ")" and close == ")" and depth == 1):
            depth -= 1
            if depth == 0:
                return at, i + 1
        i += 1
    raise ValueError(f"the entry at line {line} is not closed")


def apply(root: Path, result: Plan) -> list[str]:
    """Write the plan: new entries appended to ``result.into``, merged entries replaced in
    their files. Returns the files written."""
    edits: dict[str, list[Outcome]] = {}
    for o in result.of("merge"):
        if o.target is not None and o.target.path:
            edits.setdefault(o.target.path, []).append(o)
    written = []
    for rel, outcomes in edits.items():
        path = root / rel
        text = path.read_text(encoding="utf-8")
        # replace from the end, so that earlier offsets stay right
        for o in sorted(outcomes, key=lambda o: o.target.line, reverse=True):  # type: ignore
            start, end = _span(text, o.target.line)  # type: ignore[union-attr]
            text = text[:start] + entry_text(o.target.raw) + text[end:]  # type: ignore
        path.write_text(text, encoding="utf-8")
        written.append(rel)
    new = [o for o in result.outcomes if o.kind in ("new",)]
    if new:
        path = root / result.into
        path.parent.mkdir(parents=True, exist_ok=True)
        before = path.read_text(encoding="utf-8") if path.exists() else ""
        chunks = [entry_text(o.target.raw or o.target.entry if o.target else o.entry)  # type: ignore
                  for o in new]
        sep = "" if not before or before.endswith("\n\n") else ("\n" if before.endswith("\n")
                                                               else "\n\n")
        path.write_text(before + sep + "\n\n".join(chunks) + "\n", encoding="utf-8")
        if result.into not in written:
            written.append(result.into)
    return written


def library_entries(root: Path, files: list[str]) -> list[Known]:
    """The entries already in the library, with where each starts."""
    known = []
    for rel in files:
        text = (root / rel).read_text(encoding="utf-8-sig")
        try:
            with pybtex.errors.capture() as captured:
                data = Parser(encoding="utf-8").parse_string(text)
            errors = [e for e in captured if not extended_name_error(e)]
            if errors:
                raise errors[0]
        except PybtexError as err:
            raise ImportRefused([Problem(rel, 1, f"the library file cannot be read ({err})",
                                         "run `labhandbook check` and fix it first",
                                         code="import.library")]) from None
        lines = _entry_lines(text)
        for key, entry in data.entries.items():
            known.append(Known(normalise(entry, None, _ALL), rel, lines.get(key.casefold(), 1),
                               raw=entry))
    return known


class _Everything(set):  # type: ignore[type-arg]
    """Every keyword (the library's own entries keep theirs)."""

    def __contains__(self, item: Any) -> bool:
        return True


_ALL = _Everything()


def _entry_lines(text: str) -> dict[str, int]:
    out = {}
    for match in re.finditer(r"^[ \t]*@[ \t]*(\w+)[ \t]*[{(][ \t]*([^,\s]+)[ \t]*,", text,
                             re.MULTILINE):
        if match.group(1).lower() not in ("string", "preamble", "comment"):
            out.setdefault(match.group(2).casefold(), text.count("\n", 0, match.start()) + 1)
    return out
