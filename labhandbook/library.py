"""The publication library: one normalised record per BibTeX entry, over sphinxcontrib-bibtex's
parse.

sphinxcontrib-bibtex parses ``bib/*.bib`` with pybtex (and caches the parse by file mtime).
Once per build, in the main process, :func:`update_library` turns each entry into a
:class:`Pub`: ``crossref`` resolved (the child inherits the parent's fields; a parent volume is
listed only when a member wrote or edited it), biblatex fields read (``date``,
``journaltitle``, ``location``, ``eprinttype``), every text field decoded from LaTeX to clean
text (:mod:`labhandbook.latex`), and the links and identifiers the outputs show. Every
output (lists, paper pages, meta tags, JSON-LD, feeds) reads these records, never raw fields.
Each *changed* entry is formatted once with the style's function (passed in, so this module
does not import the style) and kept packed in the build environment.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .latex import latex_text, latex_url
from .names import person
from .registry import fingerprint

if TYPE_CHECKING:
    from .names import Roster
    from .registry import Registry

#: Publication types in the order the canonical list shows them within a year.
KINDS: dict[str, str] = {
    "journal": "Journal articles",
    "conference": "Conference papers",
    "workshop": "Workshop papers",
    "preprint": "Preprints",
    "other": "Other publications",
}
#: The same types, one publication at a time (a paper page's label).
KIND_SINGULAR: dict[str, str] = {
    "journal": "Journal article",
    "conference": "Conference paper",
    "workshop": "Workshop paper",
    "preprint": "Preprint",
    "other": "Publication",
}
#: Fields of the BibTeX given to readers (copy buttons, paper pages, downloads): those of
#: BibTeX's standard styles, their biblatex counterparts (an entry written with ``date`` or
#: ``journaltitle`` keeps them) and the identifiers every reference manager reads. The handbook's
#: own fields (``keywords``, ``equalcontrib``, ``code``, ``openreview``, ``acl``, ``pubtype``)
#: and anything else a lab adds stay in ``bib/``.
STANDARD_FIELDS = frozenset({
    "address", "annote", "archiveprefix", "booktitle", "chapter", "crossref", "doi", "edition",
    "eprint", "eprintclass", "eprinttype", "howpublished", "institution", "isbn", "issn",
    "journal", "key", "month", "note", "number", "organization", "pages", "primaryclass",
    "publisher", "school", "series", "title", "type", "url", "volume", "year",
    "date", "eid", "issue", "journaltitle", "location", "subtitle", "urldate",
})

# --- names and dates ------------------------------------------------------------------------


def display_name(person: Any) -> str:
    """"First von Last, Jr" of a pybtex Person, as clean text."""
    parts = [*person.first_names, *person.middle_names, *person.prelast_names,
             *person.last_names]
    name = latex_text(" ".join(parts))
    if person.lineage_names:
        name += ", " + latex_text(" ".join(person.lineage_names))
    return name


# --- dates and identifiers -----------------------------------------------------------------

MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{2}))?(?:-\d{2})?(?:T[\d:]+Z?)?\s*(?:/\s*(\d{4})?)?")


def _month(text: str) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text) if 1 <= int(text) <= 12 else 0
    return MONTHS.get(text[:3].lower(), 0)


def entry_date(fields: Mapping[str, str]) -> tuple[int, int, str]:
    """(year, month, shown date) from ``year``/``month`` or biblatex's ``date``
    (``2024``, ``2024-03``, ``2024-03-14``, ranges ``2019/2021``); (0, 0, "") when none."""
    date = _DATE.match(fields.get("date", ""))
    year_text = latex_text(fields.get("year", ""))
    found = _YEAR.search(year_text)
    if found:
        year = int(found.group(1))
    elif date:
        year = int(date.group(1))
    else:
        return 0, 0, ""
    month = _month(fields.get("month", ""))
    if not month and date and date.group(2) and int(date.group(1)) == year:
        month = _month(date.group(2))
    shown = str(year)
    if not found and date and date.group(3) and date.group(3) != date.group(1):
        shown = f"{year}–{date.group(3)}"
    return year, month, shown


ARXIV_ID = re.compile(r"^(?:arxiv:\s*)?(\d{4}\.\d{4,5}(?:v\d+)?|[a-z-]+(?:\.[A-Z]{2})?/\d{7}"
                      r"(?:v\d+)?)$", re.IGNORECASE)
#: eprint types with a stable address for an id; any other type is shown as "TYPE: id".
EPRINT_LINKS: dict[str, tuple[str, str]] = {
    "arxiv": ("arXiv", "https://arxiv.org/abs/{}"),
    "pubmed": ("PubMed", "https://pubmed.ncbi.nlm.nih.gov/{}/"),
    "pmid": ("PubMed", "https://pubmed.ncbi.nlm.nih.gov/{}/"),
    "pmc": ("PubMed Central", "https://www.ncbi.nlm.nih.gov/pmc/articles/{}/"),
    "hal": ("HAL", "https://hal.science/{}"),
    "jstor": ("JSTOR", "https://www.jstor.org/stable/{}"),
    "googlebooks": ("Google Books", "https://books.google.com/books?id={}"),
    "hdl": ("Handle", "https://hdl.handle.net/{}"),
}
_SAFE_ID = re.compile(r"^[\w.:/+-]+$")


def eprint_of(fields: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(archive label, id, link or "") of an ``eprint``; arXiv only for arXiv ids."""
    eprint = latex_url(fields.get("eprint", ""))
    if not eprint:
        return None
    archive = latex_text(fields.get("archiveprefix", "") or fields.get("eprinttype", ""))
    kind = archive.casefold().replace(" ", "")
    arxiv = ARXIV_ID.match(eprint)
    if kind in ("", "arxiv") and arxiv:
        return "arXiv", arxiv.group(1), EPRINT_LINKS["arxiv"][1].format(arxiv.group(1))
    if kind in EPRINT_LINKS and kind != "arxiv" and _SAFE_ID.match(eprint):
        label, url = EPRINT_LINKS[kind]
        return label, eprint, url.format(eprint)
    return archive or "eprint", eprint, ""


DOI_RE = re.compile(r"^10\.\d{4,9}/[^\s\"'\\{}]+$")  # SICI DOIs hold < and >
DOI_LINK_RE = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)(10\..*)$", re.IGNORECASE)


def doi_of(fields: Mapping[str, str]) -> tuple[str, bool]:
    """The entry's DOI (read out of a doi.org link or a ``doi:`` prefix, as some exporters
    write it) and whether it is one: only a DOI is linked; anything else in the field (a
    publisher's item id typed there) is shown as written."""
    doi = latex_url(fields.get("doi", ""))
    link = DOI_LINK_RE.match(doi)
    if link and DOI_RE.match(link.group(1)):
        return link.group(1), True
    return doi, bool(DOI_RE.match(doi))


def link_targets(fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """The (label, url) links an entry offers, in display order (fields as written)."""
    links = []
    doi, is_doi = doi_of(fields)
    if is_doi:
        links.append(("DOI", "https://doi.org/" + quote(doi, safe="/:;()[]")))
    eprint = eprint_of(fields)
    if eprint and eprint[2]:
        links.append((eprint[0], eprint[2]))
    if fields.get("openreview"):
        links.append(("OpenReview", "https://openreview.net/forum?id="
                      + latex_url(fields["openreview"])))
    if fields.get("acl"):
        links.append(("ACL Anthology", f"https://aclanthology.org/{latex_url(fields['acl'])}/"))
    url = latex_url(fields.get("url", ""))
    if url and not (doi and url.casefold().endswith(doi.casefold())):
        links.append(("PDF" if url.lower().endswith(".pdf") else "Web", url))
    if fields.get("code"):
        links.append(("Code", latex_url(fields["code"])))
    return [(label, url) for label, url in links if url.startswith(("https://", "http://"))]


# --- one record per entry ------------------------------------------------------------------

#: biblatex field -> the BibTeX field the handbook reads (used when the latter is absent).
ALIASES = {"journaltitle": "journal", "location": "address", "eprinttype": "archiveprefix"}
#: Types whose ``title`` is the ``booktitle`` of the entries inside them (crossref parents).
VOLUMES = {"proceedings", "mvproceedings", "book", "mvbook", "collection", "mvcollection",
           "reference", "mvreference", "periodical"}
_NOT_INHERITED = {"crossref", "xref", "ids", "key", "keywords", "abstract", "note", "url", "doi",
                  "eprint", "archiveprefix", "eprinttype", "openreview", "acl", "code",
                  "equalcontrib", "pubtype", "biburl", "bibsource", "timestamp", "file"}
#: biblatex containers of other entries' data, never publications themselves.
UNLISTED = {"set", "xdata"}
#: Fields by which an entry takes fields from another (``resolved_fields``).
CROSSREF_FIELDS = ("crossref", "xref")
#: Text fields the outputs show (decoded once into the record).
SHOWN = ("title", "journal", "booktitle", "volume", "number", "pages", "publisher", "address",
         "institution", "school", "organization", "howpublished", "series", "edition",
         "chapter", "type", "note", "abstract")


def resolved_fields(entry: Any, entries: Mapping[str, Any]) -> dict[str, str]:
    """The entry's fields (lower-case names) with biblatex aliases read and ``crossref``
    inherited: the parent volume's ``title`` becomes the ``booktitle``, its other fields
    fill what the child lacks."""
    fields = {name.lower(): value for name, value in entry.fields.items()}
    parent_key = fields.get("crossref") or fields.get("xref")
    parent = entries.get(parent_key) if parent_key else None
    if parent is not None and parent is not entry:
        for name, value in parent.fields.items():
            if name.lower() not in _NOT_INHERITED and name.lower() != "title":
                fields.setdefault(name.lower(), value)
        if parent.type.lower() in VOLUMES and parent.fields.get("title"):
            fields.setdefault("booktitle", parent.fields["title"])
    for alias, name in ALIASES.items():
        if alias in fields:
            fields.setdefault(name, fields[alias])
    return fields


def resolved_persons(entry: Any, entries: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Author and editor lists (pybtex ``Person`` objects, biblatex's extended name format
    read by :func:`labhandbook.names.person`), editors inherited by crossref."""
    persons = {role.lower(): [person(p) for p in people]
               for role, people in entry.persons.items()}
    parent_key = entry.fields.get("crossref") or entry.fields.get("xref")
    parent = entries.get(parent_key) if parent_key else None
    if parent is not None and parent is not entry:
        for role, people in parent.persons.items():
            persons.setdefault(role.lower(), [person(p) for p in people])
    return persons


def crossref_parents(entries: Mapping[str, Any]) -> set[str]:
    """Keys (lower case) of the entries other entries ``crossref``."""
    return {str(e.fields.get("crossref") or e.fields.get("xref")).casefold()
            for e in entries.values() if e.fields.get("crossref") or e.fields.get("xref")}


def _kind(kind: str, fields: Mapping[str, str], eprint: tuple[str, str, str] | None) -> str:
    explicit = fields.get("pubtype", "").strip().lower()
    if explicit in KINDS:
        return explicit
    if kind == "article" and fields.get("journal"):
        return "journal"
    if kind in {"inproceedings", "conference", "incollection"}:
        return "workshop" if "workshop" in fields.get("booktitle", "").lower() else "conference"
    if (eprint and eprint[0] == "arXiv") or "arxiv" in fields.get("howpublished", "").lower():
        return "preprint"
    if kind == "article":
        return "journal"
    return "other"


@dataclass(frozen=True, slots=True)
class Pub:
    """What every output needs of one BibTeX entry, as clean text."""

    key: str
    year: int
    month: int
    kind: str
    title: str
    keywords: tuple[str, ...]
    members: tuple[str, ...]  #: member slugs among the authors, in author order
    digest: str  #: changes whenever anything shown for the entry changes
    bibtex: str  #: the entry as BibTeX, for copy and download
    type: str = "misc"  #: the entry type, lower case (``@thesis`` -> "thesis")
    date: str = ""  #: the date as shown: "2024", "2019–2021"; "" when the entry has none
    authors: tuple[str, ...] = ()  #: every author's display name, in order
    author_slugs: tuple[str | None, ...] = ()  #: the member each author is, or None
    authors_inverted: tuple[str, ...] = ()  #: "Family, Given" of each author (meta tags)
    editors: tuple[str, ...] = ()
    venue: str = ""  #: journal, proceedings, publisher, institution... (the first there is)
    fields: tuple[tuple[str, str], ...] = ()  #: the shown text fields (:data:`SHOWN`), clean
    links: tuple[tuple[str, str], ...] = ()  #: (label, https URL)
    identifiers: tuple[tuple[str, str], ...] = ()  #: (label, id): DOI, arXiv, other eprints
    equal: tuple[int, ...] = ()  #: 1-based author positions with equal contribution
    listed: bool = True  #: False for a crossref parent volume that is no lab work, a @set

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Newest first, then by key for a stable order."""
        return (-self.year, -self.month, self.key)

    def field(self, name: str) -> str:
        for key, value in self.fields:
            if key == name:
                return value
        return ""

    @property
    def shown_date(self) -> str:
        """The date, or "n.d." only when the entry truly has none."""
        return self.date or "n.d."


KEY_PART_RE = re.compile(r"[\w.:+-]+")


def safe_key(key: str) -> bool:
    """Whether ``key`` can name a page: no character that leaves the papers folder, ends a URL
    or an HTML/JavaScript string (the theme writes the page name into an inline script)."""
    return all(KEY_PART_RE.fullmatch(part) and part not in (".", "..")
               for part in key.split("/"))


#: Apostrophes that key generators copy from family names (JabRef's ``O'Hara_1999``,
#: BibDesk's ``D'Angelo:2010``): a page address cannot hold them (they end a JavaScript
#: string), so the page is named with ``-`` in their place.
APOSTROPHES_RE = re.compile("['\u2019]")


def page_name(key: str) -> str | None:
    """The name of the paper page of ``key`` (under ``papers/``): the key itself when it is
    safe, with ``-`` for the apostrophes exporters write, else None (no page; ``check``
    reports the key)."""
    if safe_key(key):
        return key
    name = APOSTROPHES_RE.sub("-", key)
    return name if safe_key(name) else None


def split_keywords(value: str) -> list[str]:
    """The tags of a ``keywords`` field: comma-separated, exact (shared with ``check``)."""
    return [kw.strip() for kw in value.split(",") if kw.strip()]


def match_members(persons: list[Any], roster: Roster) -> list[str | None]:
    """For each person (pybtex ``Person``), the member it names or None
    (:mod:`labhandbook.names`)."""
    return roster.slugs(persons)


def _venue(kind: str, fields: Mapping[str, str]) -> str:
    order = (("journal",) if kind == "article" else ("booktitle",)
             if kind in {"inproceedings", "conference", "incollection", "inbook"} else ())
    for name in (*order, "journal", "booktitle", "howpublished", "institution", "school",
                 "organization", "publisher"):
        if fields.get(name):
            return latex_text(fields[name])
    return ""


def to_bibtex(entry: Any, standard_only: bool = True) -> str:
    """The entry as BibTeX text, for copy buttons and downloads with standard fields only
    (``standard_only``); ``labhandbook import`` writes every field into ``bib/``.

    Written directly: pybtex's writer looks its plugin up through package metadata on every
    call, which cost seconds per thousand entries.
    """
    lines = [f"@{entry.type}{{{entry.key},"]
    for role, persons in entry.persons.items():
        lines.append(f"  {role} = {{{' and '.join(str(p) for p in persons)}}},")
    for name, value in entry.fields.items():
        if standard_only and name.lower() not in STANDARD_FIELDS:
            continue
        lines.append(f"  {name} = {{{value}}},")
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines) + "\n}"


def entry_digest(entry: Any, fields: Mapping[str, str], persons: Mapping[str, list[Any]],
                 members: list[str | None], salt: str = "") -> str:
    """Fingerprint of everything shown for an entry; ``salt`` changes when the style does."""
    payload = [salt, entry.type.lower(), sorted(fields.items()),
               {role: [str(p) for p in people] for role, people in persons.items()}, members]
    return fingerprint(payload)


def make_pub(entry: Any, fields: Mapping[str, str], persons: Mapping[str, list[Any]],
             members: list[str | None], digest: str, listed: bool = True) -> Pub:
    """The normalised record of ``entry`` (``fields`` and ``persons`` already resolved)."""
    kind = entry.type.lower()
    year, month, date = entry_date(fields)
    eprint = eprint_of(fields)
    identifiers = []
    doi, _ = doi_of(fields)
    if doi:
        identifiers.append(("DOI", doi))
    if eprint:
        identifiers.append((eprint[0], eprint[1]))
    authors = persons.get("author", [])
    return Pub(
        key=entry.key, year=year, month=month, kind=_kind(kind, fields, eprint),
        title=latex_text(fields.get("title", "")),
        keywords=tuple(split_keywords(fields.get("keywords", ""))),
        members=tuple(dict.fromkeys(m for m in members if m)), digest=digest,
        bibtex=to_bibtex(entry), type=kind, date=date,
        authors=tuple(display_name(p) for p in authors), author_slugs=tuple(members),
        authors_inverted=tuple(latex_text(str(p)) for p in authors),
        editors=tuple(display_name(p) for p in persons.get("editor", [])),
        venue=_venue(kind, fields),
        fields=tuple((n, latex_text(fields[n])) for n in SHOWN if fields.get(n, "").strip()),
        links=tuple(link_targets(fields)), identifiers=tuple(identifiers),
        equal=tuple(sorted({int(x) for x in re.findall(r"\d+", fields.get("equalcontrib", ""))})),
        listed=listed,
    )


@dataclass
class Library:
    """All publications with the views the lists need; stored in the build environment."""

    pubs: dict[str, Pub] = field(default_factory=dict)
    texts: dict[str, Any] = field(default_factory=dict)  #: key -> formatted reference (packed)
    by_person: dict[str, list[str]] = field(default_factory=dict)
    by_keyword: dict[str, list[str]] = field(default_factory=dict)
    formatted_count: int = 0  #: entries formatted by the last update (for tests/benchmarks)
    #: every listed publication, newest first: sorted once (a library is not changed after
    #: :func:`update_library` made it), asked for by many pages and fingerprints each build
    _all: tuple[str, ...] | None = field(default=None, repr=False, compare=False)
    #: fingerprints of ``pubs:`` tokens, worked out once per library (``publications``)
    token_digests: dict[tuple[Any, ...], str] = field(default_factory=dict, repr=False,
                                                      compare=False)
    #: the parsed entry each record was made from, and the name spellings it was matched
    #: with: an entry that is the same object next time (sphinxcontrib-bibtex's data reuse
    #: the entries of a saved file whose text did not change) is not examined again
    sources: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    names_digest: str | None = field(default=None, repr=False, compare=False)
    _digests: dict[tuple[str, ...], str] = field(default_factory=dict, repr=False,
                                                 compare=False)
    examined_count: int = 0  #: entries examined by the last update (for tests)

    def ordered(self, keys: list[str] | None = None) -> list[str]:
        """``keys`` (default: every listed publication), newest first."""
        if keys is None:
            if self._all is None:
                self._all = tuple(sorted((k for k, p in self.pubs.items() if p.listed),
                                         key=lambda k: self.pubs[k].sort_key))
            return list(self._all)
        return sorted(keys, key=lambda k: self.pubs[k].sort_key)

    def for_area(self, keywords: list[str]) -> list[str]:
        found = {k for kw in keywords for k in self.by_keyword.get(kw, [])}
        return self.ordered(list(found))

    def digest_of(self, keys: list[str]) -> str:
        """The fingerprint of ``keys``' records, worked out once per list and library: the
        paper pages, the downloads and the ``pubs:`` tokens ask for the same lists of up to
        5,000 entries, in every build while the library is the same (a prose edit)."""
        memo = tuple(keys)
        found = self._digests.get(memo)
        if found is None:
            found = self._digests[memo] = fingerprint([(k, self.pubs[k].digest) for k in keys])
        return found

    def __getstate__(self) -> dict[str, Any]:
        # the memo is remade by the next build that asks (not pickled with the environment)
        return {**self.__dict__, "_digests": {}}


#: ``render(pub)``: the formatted reference of one record (see ``style``).
Renderer = Callable[[Pub], Any]


def update_library(old: Library | None, entries: Mapping[str, Any], registry: Registry,
                   render: Renderer, salt: str = "") -> Library:
    """Index ``entries`` (key -> pybtex Entry, as parsed), reusing every record whose digest is
    unchanged; ``render`` formats a changed record, ``salt`` names the style's version."""
    names = registry.names
    lib = Library(names_digest=registry.digest("names"))
    old_pubs = old.pubs if old else {}
    old_texts = old.texts if old else {}
    same_names = old is not None and old.names_digest == lib.names_digest
    old_sources = old.sources if same_names and old is not None else {}
    parents = crossref_parents(entries)
    for key, entry in entries.items():
        lib.sources[key] = entry
        if (old_sources.get(key) is entry and key in old_texts and key.casefold() not in parents
                and not any(f in entry.fields for f in CROSSREF_FIELDS)):
            # the same parsed entry, neither taking fields from nor giving them to another,
            # matched with the same names: the same record
            lib.pubs[key], lib.texts[key] = old_pubs[key], old_texts[key]
            continue
        lib.examined_count += 1
        fields = resolved_fields(entry, entries)
        persons = resolved_persons(entry, entries)
        members = match_members(persons.get("author", []), names)
        # an entry with nothing in it (pybtex's `unnamed-N` for an entry without a key) is no
        # publication
        listed = entry.type.lower() not in UNLISTED and bool(entry.fields or entry.persons) and (
            key.casefold() not in parents or any(members)
            or any(match_members(persons.get("editor", []), names)))
        digest = entry_digest(entry, fields, persons, [*members, listed], salt)
        previous = old_pubs.get(key)
        if previous is not None and previous.digest == digest and key in old_texts:
            lib.pubs[key], lib.texts[key] = previous, old_texts[key]
            continue
        pub = make_pub(entry, fields, persons, members, digest, listed)
        lib.pubs[key] = pub
        lib.texts[key] = render(pub)
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
