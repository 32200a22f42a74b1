"""The publication library: an index over sphinxcontrib-bibtex's parsed BibTeX data.

sphinxcontrib-bibtex parses ``bib/*.bib`` (and caches the parse by file mtime). Once per build,
in the main process, :func:`update_library` turns its entries into :class:`Pub` records (year,
type, areas, the members among the authors, a fingerprint) and formats each *changed* entry once
with :func:`labhandbook.style.format_entry_text`. Everything is kept in the build environment,
so a build in which neither the .bib nor the registry changed formats nothing at all.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .registry import fingerprint
from .style import PackedText, format_entry_packed, match_members, plain, style_fingerprint

if TYPE_CHECKING:
    from .registry import Registry

#: Publication types in the order the canonical list shows them within a year.
KINDS: dict[str, str] = {
    "journal": "Journal articles",
    "conference": "Conference papers",
    "workshop": "Workshop papers",
    "preprint": "Preprints",
    "other": "Other publications",
}


@dataclass(frozen=True, slots=True)
class Pub:
    """What the handbook needs to know about one BibTeX entry."""

    key: str
    year: int
    month: int
    kind: str
    title: str
    keywords: tuple[str, ...]
    members: tuple[str, ...]  #: member slugs among the authors, in author order
    digest: str  #: changes whenever anything shown for the entry changes
    bibtex: str  #: the entry as BibTeX, for copy and download

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Newest first, then by key for a stable order."""
        return (-self.year, -self.month, self.key)


KEY_PART_RE = re.compile(r"[\w.:+-]+")


def safe_key(key: str) -> bool:
    """Whether ``key`` can name a page: no character that leaves the papers folder, ends a URL
    or an HTML/JavaScript string (the theme writes the page name into an inline script)."""
    return all(KEY_PART_RE.fullmatch(part) and part not in (".", "..")
               for part in key.split("/"))


def split_keywords(value: str) -> list[str]:
    """The tags of a ``keywords`` field: comma-separated, exact (shared with ``check``)."""
    return [kw.strip() for kw in value.split(",") if kw.strip()]


def _kind(entry: Any) -> str:
    explicit = entry.fields.get("pubtype", "").strip().lower()
    if explicit in KINDS:
        return explicit
    kind = entry.type.lower()
    if kind == "article":
        return "journal"
    if kind in {"inproceedings", "conference", "incollection"}:
        return "workshop" if "workshop" in entry.fields.get("booktitle", "").lower() else \
            "conference"
    if entry.fields.get("eprint") or "arxiv" in entry.fields.get("howpublished", "").lower():
        return "preprint"
    return "other"


MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}


def _int(text: str, default: int = 0) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    return MONTHS.get(text[:3].lower(), default)


def entry_digest(entry: Any, members: list[str | None], salt: str = "") -> str:
    """Fingerprint of everything shown for an entry; ``salt`` changes when the style does."""
    payload = [salt, entry.type.lower(), sorted((k.lower(), v) for k, v in entry.fields.items()),
               {role: [str(p) for p in persons] for role, persons in entry.persons.items()},
               members]
    return fingerprint(payload)


def to_bibtex(entry: Any) -> str:
    """The entry as BibTeX text, for copy buttons and downloads.

    Written directly: pybtex's writer looks its plugin up through package metadata on every
    call, which cost seconds per thousand entries.
    """
    lines = [f"@{entry.type}{{{entry.key},"]
    for role, persons in entry.persons.items():
        lines.append(f"  {role} = {{{' and '.join(str(p) for p in persons)}}},")
    for name, value in entry.fields.items():
        lines.append(f"  {name} = {{{value}}},")
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines) + "\n}"


def make_pub(entry: Any, members: list[str | None], digest: str) -> Pub:
    f = entry.fields
    keywords = tuple(split_keywords(f.get("keywords", "")))
    bibtex = to_bibtex(entry)
    return Pub(
        key=entry.key, year=_int(f.get("year", "")), month=_int(f.get("month", "")),
        kind=_kind(entry), title=plain(f.get("title", "")), keywords=keywords,
        members=tuple(dict.fromkeys(m for m in members if m)), digest=digest, bibtex=bibtex,
    )


@dataclass
class Library:
    """All publications with the views the lists need; stored in the build environment."""

    pubs: dict[str, Pub] = field(default_factory=dict)
    texts: dict[str, PackedText] = field(default_factory=dict)  #: key -> formatted reference
    by_person: dict[str, list[str]] = field(default_factory=dict)
    by_keyword: dict[str, list[str]] = field(default_factory=dict)
    formatted_count: int = 0  #: entries formatted by the last update (for tests/benchmarks)

    def ordered(self, keys: list[str] | None = None) -> list[str]:
        keys = list(self.pubs) if keys is None else keys
        return sorted(keys, key=lambda k: self.pubs[k].sort_key)

    def for_area(self, keywords: list[str]) -> list[str]:
        found = {k for kw in keywords for k in self.by_keyword.get(kw, [])}
        return self.ordered(list(found))

    def digest_of(self, keys: list[str]) -> str:
        return fingerprint([(k, self.pubs[k].digest) for k in keys])


def update_library(old: Library | None, entries: dict[str, Any], registry: Registry) -> Library:
    """Index ``entries`` (key -> pybtex Entry), reusing every record whose digest is unchanged."""
    names = registry.names
    salt = style_fingerprint()
    lib = Library()
    old_pubs = old.pubs if old else {}
    old_texts = old.texts if old else {}
    for key, entry in entries.items():
        members = match_members(entry, names)
        digest = entry_digest(entry, members, salt)
        previous = old_pubs.get(key)
        if previous is not None and previous.digest == digest and key in old_texts:
            lib.pubs[key], lib.texts[key] = previous, old_texts[key]
            continue
        lib.pubs[key] = make_pub(entry, members, digest)
        lib.texts[key] = format_entry_packed(entry, names)
        lib.formatted_count += 1
    by_person: dict[str, list[str]] = defaultdict(list)
    by_keyword: dict[str, list[str]] = defaultdict(list)
    for key in lib.ordered():
        pub = lib.pubs[key]
        for slug in pub.members:
            by_person[slug].append(key)
        for kw in pub.keywords:
            by_keyword[kw].append(key)
    lib.by_person, lib.by_keyword = dict(by_person), dict(by_keyword)
    return lib
