"""The pybtex style of the handbook: members highlighted and linked, identifiers as links.

:func:`format_entry_text` turns one BibTeX entry into pybtex rich text. It is pure and fast
(the .bib is UTF-8, so LaTeX decoding runs only for a field that still holds a macro), and
:mod:`labhandbook.library` calls it once per changed entry, caching the result in the build
environment, packed into one string (:class:`PackedText`). :func:`make_style` wraps that
cache as a pybtex formatting style, so that sphinxcontrib-bibtex, which formats every
``{bibliography}`` on every build, only looks up.

A member's name becomes ``HRef("labhandbook:person/<slug>", Tag("strong", name))``; the link
is turned into a cross-reference to the person page by :mod:`labhandbook.publications`.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pybtex.richtext import BaseMultipartText, HRef, String, Tag, Text
from pybtex.style import FormattedEntry
from pybtex.style.formatting import BaseStyle

from .registry import source_fingerprint

if TYPE_CHECKING:
    from .names import Roster

PERSON_SCHEME = "labhandbook:person/"
PAPER_SCHEME = "labhandbook:paper/"
PAPERS_DIR = "papers"
STYLE_NAME = "labhandbook"

_BRACES = re.compile(r"[{}]")


def style_fingerprint() -> str:
    """Changes whenever this module changes, so cached formatted entries are never stale."""
    return source_fingerprint(__file__)


def plain(value: str) -> str:
    """Field text for display: LaTeX decoded only when a macro is present, braces dropped."""
    if "\\" in value or "~" in value or "--" in value:
        import latexcodec  # noqa: F401  (registers the "ulatex" codec; only needed here)

        try:
            value = codecs.decode(value, "ulatex")
        except Exception:  # noqa: BLE001  (a malformed macro is shown as written)
            pass
    return " ".join(_BRACES.sub("", value).split())


def display_name(person: Any) -> str:
    """"First von Last, Jr" from a pybtex Person, without LaTeX."""
    parts = [*person.first_names, *person.middle_names, *person.prelast_names,
             *person.last_names]
    name = plain(" ".join(parts))
    if person.lineage_names:
        name += ", " + plain(" ".join(person.lineage_names))
    return name


def equal_positions(entry: Any) -> set[int]:
    raw = entry.fields.get("equalcontrib", "")
    return {int(x) for x in re.findall(r"\d+", raw)}


def match_members(entry: Any, roster: Roster) -> list[str | None]:
    """For each author, the member slug it names (or None), by :mod:`labhandbook.names`."""
    return roster.slugs(entry.persons.get("author", []))


def _join_names(names: list[Text]) -> Text:
    if len(names) <= 1:
        return Text(*names)
    if len(names) == 2:
        return Text(names[0], " and ", names[1])
    return Text(*(t for n in names[:-1] for t in (n, ", ")), "and ", names[-1])


def link_targets(fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """The (label, url) links an entry offers, in display order."""
    links = []
    doi = fields.get("doi")
    if doi:
        links.append(("DOI", "https://doi.org/" + doi.strip()))
    eprint = fields.get("eprint")
    if eprint and fields.get("archiveprefix", "arXiv").lower() == "arxiv":
        links.append(("arXiv", "https://arxiv.org/abs/" + eprint.strip()))
    if fields.get("openreview"):
        links.append(("OpenReview", "https://openreview.net/forum?id=" + fields["openreview"]))
    if fields.get("acl"):
        links.append(("ACL Anthology", f"https://aclanthology.org/{fields['acl'].strip()}/"))
    if fields.get("url"):
        url = fields["url"].strip()
        links.append(("PDF" if url.lower().endswith(".pdf") else "Web", url))
    if fields.get("code"):
        links.append(("Code", fields["code"].strip()))
    return [(label, url) for label, url in links if url.startswith(("https://", "http://"))]


def _venue(entry: Any) -> Text:
    f = entry.fields
    kind = entry.type.lower()
    if kind == "article":
        venue = Text(Tag("em", plain(f.get("journal", ""))))
        vol = plain(f.get("volume", ""))
        if vol:
            venue = Text(venue, ", ", vol)
            if f.get("number"):
                venue = Text(venue, f"({plain(f['number'])})")
        if f.get("pages"):
            venue = Text(venue, (":" if vol else ", "), plain(f["pages"]))
        return venue
    if kind in {"inproceedings", "conference", "incollection"}:
        venue = Text("In ", Tag("em", plain(f.get("booktitle", ""))))
        if f.get("pages"):
            venue = Text(venue, ", pp. ", plain(f["pages"]))
        return venue
    if f.get("eprint") and f.get("archiveprefix", "arXiv").lower() == "arxiv":
        return Text("arXiv preprint arXiv:", plain(f["eprint"]))
    for key in ("howpublished", "journal", "booktitle", "institution", "publisher", "school"):
        if f.get(key):
            return Text(Tag("em", plain(f[key])))
    return Text()


def format_entry_text(entry: Any, roster: Roster) -> Text:
    """The full reference: authors, title, venue, year, note, and identifier links."""
    equal = equal_positions(entry)
    names = []
    members = match_members(entry, roster)
    authors = entry.persons.get("author", [])
    for i, (person, slug) in enumerate(zip(authors, members, strict=True), start=1):
        name: Any = display_name(person)
        if slug:
            name = HRef(PERSON_SCHEME + slug, Tag("strong", name))
        names.append(Text(name, Tag("sup", "*")) if i in equal else Text(name))
    f = entry.fields
    parts: list[Any] = []
    if names:
        parts += [_join_names(names), ". "]
    title = plain(f.get("title", ""))
    if title:
        parts += [HRef(PAPER_SCHEME + entry.key, title.rstrip(".")), ". "]
    venue = _venue(entry)
    if len(venue):
        parts += [venue, ", "]
    parts.append(plain(f.get("year", "")) or "n.d.")
    parts.append(".")
    if f.get("note"):
        parts += [" ", plain(f["note"]).rstrip("."), "."]
    if equal:
        parts += [" ", Tag("em", "* Equal contribution.")]
    links = link_targets(f)
    if links:
        parts.append(" ")
        for i, (label, url) in enumerate(links):
            parts += ([" · "] if i else []) + [HRef(url, label)]
    return Text(*parts)


class PackedText:
    """A formatted reference packed into one string, unpacked only when rendered.

    The environment keeps every formatted entry (ours, and sphinxcontrib-bibtex's citations
    point at the same objects). As pybtex rich text each entry is a tree of about forty
    objects, and unpickling those trees (plus the garbage collector's passes over them, on
    load and again at exit) was the largest cost of a no-change build at thousands of entries.
    Packed, an entry is one object. It offers what pybtex's rich text offers its callers:
    ``render(backend)`` (all sphinxcontrib-bibtex and the handbook call) and ``str()``.
    """

    __slots__ = ("packed",)

    def __init__(self, packed: str) -> None:
        self.packed = packed

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (PackedText, (self.packed,))

    def __repr__(self) -> str:
        return f"PackedText({self.packed!r})"

    @classmethod
    def pack(cls, text: Text) -> PackedText:
        return cls(json.dumps(_pack(text), ensure_ascii=False, separators=(",", ":")))

    def unpack(self) -> Text:
        return Text(_unpack(json.loads(self.packed)))

    def render(self, backend: Any) -> Any:
        return self.unpack().render(backend)

    def __str__(self) -> str:
        return str(self.unpack())


def _pack(part: Any) -> Any:
    """Rich text as nested lists: a string, ``["", ...]`` (text), ``["<em", ...]`` (tag),
    ``["@https://…", ...]`` (link)."""
    if isinstance(part, str):
        return part
    if isinstance(part, String):
        return "".join(part.parts)
    if type(part) is Text:
        head = ""
    elif isinstance(part, Tag):
        head = "<" + part.name
    elif isinstance(part, HRef):
        head = "@" + part.url
    else:  # a rich text type the style does not make; fail loudly rather than lose it
        raise TypeError(f"cannot pack {type(part).__name__}")
    assert isinstance(part, BaseMultipartText)
    return [head, *(_pack(p) for p in part.parts)]


def _unpack(data: Any) -> Any:
    if isinstance(data, str):
        return data
    head, *parts = data
    children = [_unpack(p) for p in parts]
    if head.startswith("<"):
        return Tag(head[1:], *children)
    if head.startswith("@"):
        return HRef(head[1:], *children)
    return Text(*children)


def format_entry_packed(entry: Any, roster: Roster) -> PackedText:
    """:func:`format_entry_text`, packed for the environment (see :class:`PackedText`)."""
    return PackedText.pack(format_entry_text(entry, roster))


class LabStyleBase(BaseStyle):
    """Newest first; labels are running numbers; formatting is a cache lookup."""

    default_name_style = "plain"
    default_label_style = "number"
    default_sorting_style = "none"
    lookup: Callable[[Any], PackedText]
    sort_key: Callable[[Any], Any]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # BaseStyle binds sort/format_labels to its plugins per instance; ours are cheaper.
        self.sort = self._sort  # type: ignore[method-assign]
        self.format_labels = self._labels  # type: ignore[method-assign]

    def _sort(self, entries: Iterable[Any]) -> list[Any]:
        return sorted(entries, key=self.sort_key)

    def _labels(self, sorted_entries: Iterable[Any]) -> Iterable[str]:
        entries = list(sorted_entries)
        return (str(len(entries) - i) for i in range(len(entries)))

    def format_entry(self, label: str, entry: Any, bib_data: Any = None) -> FormattedEntry:
        return FormattedEntry(entry.key, self.lookup(entry), label)


def make_style(lookup: Callable[[Any], PackedText],
               sort_key: Callable[[Any], Any]) -> type[BaseStyle]:
    """A style class bound to this build's cache (sphinxcontrib-bibtex instantiates it bare)."""
    return type("LabStyle", (LabStyleBase,), {"lookup": staticmethod(lookup),
                                              "sort_key": staticmethod(sort_key)})
