"""The pybtex style of the handbook: members highlighted and linked, identifiers as links.

:func:`format_entry_text` turns one BibTeX entry into pybtex rich text. It is pure and fast
(it reads the normalised record of :mod:`labhandbook.library`, already clean text), and
:mod:`labhandbook.library` calls it once per changed entry, caching the result in the build
environment, packed into one string (:class:`PackedText`). :func:`make_style` wraps that
cache as a pybtex formatting style, so that sphinxcontrib-bibtex, which formats every
``{bibliography}`` on every build, only looks up.

A member's name becomes ``HRef("labhandbook:person/<slug>", Tag("strong", name))``; the link
is turned into a cross-reference to the person page by :mod:`labhandbook.publications`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from pybtex.richtext import BaseMultipartText, HRef, String, Tag, Text
from pybtex.style import FormattedEntry
from pybtex.style.formatting import BaseStyle

from .library import Pub
from .registry import source_fingerprint

PERSON_SCHEME = "labhandbook:person/"
PAPER_SCHEME = "labhandbook:paper/"
PAPERS_DIR = "papers"
STYLE_NAME = "labhandbook"


def style_fingerprint() -> str:
    """Changes whenever this module or the record changes, so cached formatted entries are
    never stale."""
    from . import library

    return source_fingerprint(__file__) + source_fingerprint(library.__file__)


def _join_names(names: list[Text]) -> Text:
    if len(names) <= 1:
        return Text(*names)
    if len(names) == 2:
        return Text(names[0], " and ", names[1])
    return Text(*(t for n in names[:-1] for t in (n, ", ")), "and ", names[-1])


def venue_text(pub: Pub) -> Text:
    """Where the work appeared: journal with volume, number and pages; "In" proceedings or a
    book; a thesis' school; a report's institution; an eprint identifier."""
    f = dict(pub.fields)
    vol, num, pages = f.get("volume", ""), f.get("number", ""), f.get("pages", "")
    if pub.type == "article" and pub.venue:
        venue = Text(Tag("em", pub.venue))
        if vol:
            venue = Text(venue, ", ", vol)
            if num:
                venue = Text(venue, f"({num})")
        if pages:
            venue = Text(venue, (":" if vol else ", "), pages)
        return venue
    if f.get("booktitle") and pub.type in IN_VOLUME:
        venue = Text("In ", Tag("em", f["booktitle"]))
        if pages:
            venue = Text(venue, ", pp. ", pages)
        return venue
    eprint = next(((label, ident) for label, ident in pub.identifiers if label != "DOI"), None)
    if eprint and not pub.venue:
        if eprint[0] == "arXiv":
            return Text("arXiv preprint arXiv:", eprint[1])
        return Text(f"{eprint[0]}: {eprint[1]}")
    if pub.venue:
        return Text(Tag("em", pub.venue))
    return Text()


#: Types shown as "In <booktitle>".
IN_VOLUME = {"inproceedings", "conference", "incollection", "inbook", "inreference",
             "bookinbook", "suppbook", "suppcollection"}


def format_entry_text(pub: Pub) -> Text:
    """The full reference of one record: authors, title, venue, date, note, identifier links.
    The one rendering every list and page shows."""
    names = []
    for i, (name, slug) in enumerate(zip(pub.authors, pub.author_slugs, strict=True), start=1):
        shown: Any = name
        if slug:
            shown = HRef(PERSON_SCHEME + slug, Tag("strong", name))
        names.append(Text(shown, Tag("sup", "*")) if i in pub.equal else Text(shown))
    parts: list[Any] = []
    if names:
        parts += [_join_names(names), ". "]
    elif pub.editors:
        parts += [", ".join(pub.editors), " (ed.). " if len(pub.editors) == 1 else " (eds.). "]
    if pub.title:
        parts += [HRef(PAPER_SCHEME + pub.key, pub.title.rstrip(".")), ". "]
    venue = venue_text(pub)
    if len(venue):
        parts += [venue, ", "]
    parts.append(pub.shown_date if pub.shown_date.endswith(".") else pub.shown_date + ".")
    note = pub.field("note")
    if note:
        parts += [" ", note.rstrip("."), "."]
    if pub.equal:
        parts += [" ", Tag("em", "* Equal contribution.")]
    if pub.links:
        parts.append(" ")
        for i, (label, url) in enumerate(pub.links):
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
        """What ``self.unpack().render(backend)`` returns, without making the rich-text tree:
        the packed parts go to the backend's ``format_str``/``format_tag``/``format_href``/
        ``render_sequence`` as pybtex's ``Text.render`` hands them (rebuilding pybtex's
        objects, which merge their parts as they are made, was two thirds of rendering a
        publication list; tests/test_publications.py compares both routes)."""
        return _render(_normal(["", json.loads(self.packed)]), backend)

    def __str__(self) -> str:
        return str(self.unpack())


class ShownElsewhere:
    """The formatted text of an entry of the canonical list that its page does not show (an
    earlier year's entry, on that year's page): sphinxcontrib-bibtex renders every citation of
    a bibliography into the page's doctree, and :mod:`labhandbook.publications` drops these
    again; at 5,000 entries, of which the page shows 1,569, rendering them was most of the
    page's cost. Rendered into docutils nodes it is nothing; as any other backend renders it
    (plain text: a ``{cite}``'s tooltip) it is the entry's text."""

    __slots__ = ("text",)

    def __init__(self, text: PackedText) -> None:
        self.text = text

    def __reduce__(self) -> tuple[Any, tuple[PackedText]]:
        return (ShownElsewhere, (self.text,))

    def render(self, backend: Any) -> Any:
        if getattr(backend, "name", None) == "docutils":
            return []
        return self.text.render(backend)

    def __str__(self) -> str:
        return str(self.text)


class ShownUnlessKept:
    """The formatted text of an entry the publications page shows: in an HTML build of
    ``labhandbook serve``'s warm application the page's last writing usually kept the entry's
    HTML (:class:`labhandbook.publications.KeptEntries`), which then replaces whatever
    sphinxcontrib-bibtex renders for it, so rendered into docutils nodes it is nothing when
    ``kept(key)`` says so (the page renders the text itself if it does not use the kept HTML
    after all); as any other backend renders it, and otherwise, it is the entry's text.
    Pickled as its text."""

    __slots__ = ("kept", "key", "text")

    def __init__(self, text: PackedText, key: str, kept: Callable[[str], bool]) -> None:
        self.text, self.key, self.kept = text, key, kept

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (PackedText, (self.text.packed,))

    def render(self, backend: Any) -> Any:
        if getattr(backend, "name", None) == "docutils" and self.kept(self.key):
            return []
        return self.text.render(backend)

    def __str__(self) -> str:
        return str(self.text)


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


def _normal(data: list[Any]) -> list[Any]:
    """Packed rich text as pybtex's constructors leave it: empty parts dropped, the parts of
    a nested text spliced in, neighbours of the same kind (tag name, link target) merged."""
    parts: list[Any] = []
    for part in data[1:]:
        if isinstance(part, str):
            if part:
                parts.append(part)
            continue
        part = _normal(part)
        if len(part) == 1:  # nothing left: pybtex drops an empty part
            continue
        if not part[0]:
            parts.extend(part[1:])
        else:
            parts.append(part)
    merged: list[Any] = []
    for part in parts:
        if merged and not isinstance(part, str) and not isinstance(merged[-1], str) \
                and merged[-1][0] == part[0]:
            merged[-1] = _normal([part[0], *merged[-1][1:], *part[1:]])
        else:
            merged.append(part)
    return [data[0], *merged]


def _render(data: Any, backend: Any) -> Any:
    if isinstance(data, str):
        return backend.format_str(data)
    head = data[0]
    text = backend.render_sequence([_render(part, backend) for part in data[1:]])
    if head.startswith("<"):
        return backend.format_tag(head[1:], text)
    if head.startswith("@"):
        return backend.format_href(head[1:], text, False)
    return text


def format_entry_packed(pub: Pub) -> PackedText:
    """:func:`format_entry_text`, packed for the environment (see :class:`PackedText`)."""
    return PackedText.pack(format_entry_text(pub))


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
