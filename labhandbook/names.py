"""One name model for both sides of "who wrote what": members' names and BibTeX authors.

A name is split the way BibTeX splits it (pybtex's ``Person``: first, von, last, jr) and then
*folded* for comparison: LaTeX accents decoded by the one decoder (:mod:`labhandbook.latex`:
``S{\\'{e}}bastien``), accents and case dropped (``Sébastien``, ``Sebastien`` and
``SEBASTIEN`` are one spelling), hyphens, dots and spaces ignored inside a part
(``Solano-Kamaiko`` = ``Solano Kamaiko``, ``S.S.`` = ``S. S.`` = ``S S``), equal-contribution
marks (``$^{*}$``, ``*``, ``†``) taken off.

:class:`Roster` holds the lab's members (each one's ``name``, ``bib_names`` and ``not_names``)
and answers, for one author of an entry, which member it is and how sure that is
(:class:`Match`): a spelling the member confirmed, a full match, a loose one (same family name,
given name only an initial or a short form, or a double family name shortened) or an ambiguous
one (it fits two members). Only a match to exactly one member gives that member the paper, a
loose one only when no co-author shares the family name (:meth:`Roster.attribute`);
:func:`attribution_notes` tells every member, once, which of their spellings were loose or
ambiguous and on which papers, so that nothing is given to the wrong person without a word.

Used by the registry (duplicate spellings), the library and style (who is highlighted), paper
pages, ``check`` and ``import``: there is no other name splitter in the handbook.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import pybtex.errors
from pybtex.database import Person

from .latex import base_letters, latex_text
from .problems import Problem

# --- splitting: pybtex's grammar, with a fast path for plain names -----------------------------


@dataclass(frozen=True)
class Name:
    """The parts of one BibTeX name, as :class:`pybtex.database.Person` splits it."""

    first: tuple[str, ...]  #: first and middle names
    prelast: tuple[str, ...]  #: "von" part
    last: tuple[str, ...]
    lineage: tuple[str, ...]  #: "Jr"

    def __str__(self) -> str:  # the same as str(Person): "von Last, Jr, First"
        return ", ".join(part for part in (" ".join(self.prelast + self.last),
                                           " ".join(self.lineage), " ".join(self.first)) if part)

    @classmethod
    def of(cls, person: Any) -> Name:
        """From a pybtex ``Person`` (or a :class:`Name`); a name pybtex split in biblatex's
        extended format is read as that (:func:`extended`)."""
        if isinstance(person, Name):
            return person
        name = cls(tuple(person.first_names + person.middle_names), tuple(person.prelast_names),
                   tuple(person.last_names), tuple(person.lineage_names))
        if any("=" in w for w in name.last):
            return extended(str(name)) or name
        return name


def _is_von(word: str) -> bool:
    for ch in word:
        if ch.isalpha():
            return ch.islower()
    return False


def _von_last(words: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """pybtex's split of "von Last": the von part ends at the last lower-case word."""
    head = words[:-1]
    cut = 0
    for i in range(len(head) - 1, -1, -1):
        if _is_von(head[i]):
            cut = i + 1
            break
    return tuple(head[:cut]), tuple(head[cut:] + words[-1:])


def parse_name(name: str) -> Name | None:
    """Split a plain name (no braces, backslashes or ``~``) exactly as pybtex does, ~20x faster.

    Returns ``None`` for anything else; the caller then asks pybtex (:func:`split`). A name
    in biblatex's extended format is read as that (:func:`extended`).
    """
    if "=" in name:
        return extended(name)
    if "{" in name or "}" in name or "\\" in name or "~" in name:
        return None
    parts = [p.strip() for p in name.split(",")]
    if len(parts) > 3:
        return None
    if len(parts) == 1:
        words = name.split()
        if not words:
            return Name((), (), (), ())
        pos = next((i for i, w in enumerate(words) if _is_von(w)), len(words))
        first, von_last = words[:pos], words[pos:]
        if not von_last:
            von_last = [first.pop()]
        von, last = _von_last(von_last)
        return Name(tuple(first), von, last, ())
    if any(not p for p in parts):
        return None
    von, last = _von_last(parts[0].split())
    lineage = tuple(parts[1].split()) if len(parts) == 3 else ()
    return Name(tuple(parts[-1].split()), von, last, lineage)


#: The keys of biblatex's extended name format (``family=Beethoven, given=Ludwig, prefix=van,
#: useprefix=true``), as Zotero's Better BibLaTeX and biber write it: name parts, their
#: initials and per-name options.
_EXTENDED_PARTS = {"family": 2, "given": 0, "prefix": 1, "suffix": 3}
_EXTENDED_OPTIONS = {"useprefix", "juniorcomma", "sortingnamekeytemplatename",
                     "uniquenametemplatename", "labelalphanametemplatename", "hash"}
_EXTENDED_KEY = re.compile(r"(?:^|(?<=[\s,]))([A-Za-z][A-Za-z-]*)\s*=")


def extended(text: str) -> Name | None:
    """A name in biblatex's extended format as a :class:`Name`, or ``None`` for any other.

    ``family=Oord, given=Aäron, prefix=van den, useprefix=true`` is "Aäron van den Oord"
    (family "Oord", von "van den"). Also read as pybtex leaves it once it has split the text
    at its commas (``family=Dijk, given=Marten, prefix=van useprefix=true``).
    """
    if "=" not in text:
        return None
    keys = [m for m in _EXTENDED_KEY.finditer(text)
            if text.count("{", 0, m.start()) == text.count("}", 0, m.start())]
    if not keys or text[: keys[0].start()].strip():
        return None
    parts: list[tuple[str, ...]] = [(), (), (), ()]
    found = False
    for n, m in enumerate(keys):
        key = m.group(1).lower()
        end = keys[n + 1].start() if n + 1 < len(keys) else len(text)
        value = text[m.end():end].strip().rstrip(",").strip()
        if len(value) >= 2 and value[0] == "{" and value[-1] == "}":
            value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        base = key.removesuffix("-i")
        if base in _EXTENDED_PARTS:
            if key == base:
                parts[_EXTENDED_PARTS[key]] = tuple(value.split())
                found = found or key == "family"
        elif key not in _EXTENDED_OPTIONS:
            return None
    if not found:
        return None
    return Name(*parts)


def extended_name_error(error: Exception) -> bool:
    """Whether ``error`` is pybtex's "too many commas" for a name in biblatex's extended
    format, which the handbook reads (:func:`person`): not an error of the file."""
    from pybtex.database import InvalidNameString

    if not isinstance(error, InvalidNameString):
        return False
    written = re.search(r"'(.*)'$|\"(.*)\"$", str(error))
    return bool(written and extended(written.group(1) or written.group(2) or ""))


def person(p: Any) -> Any:
    """A pybtex ``Person`` as the handbook reads it: one written in biblatex's extended format
    becomes the Person it names (family, von, given, jr parts); any other is returned as is."""
    if not any("=" in w for w in p.last_names):
        return p
    name = Name.of(p)
    if any("=" in w for w in name.last):
        return p
    return Person(first=" ".join(name.first), prelast=" ".join(name.prelast),
                  last=" ".join(name.last), lineage=" ".join(name.lineage))


class NameError_(ValueError):
    """pybtex cannot read a name; the message is pybtex's."""


def split(text: str) -> Name:
    """The parts of ``text``; raises :class:`NameError_` when pybtex cannot read it."""
    fast = parse_name(text)
    if fast is not None:
        return fast
    with pybtex.errors.capture() as captured:
        person = Person(text)
    if captured:
        raise NameError_(str(captured[0]))
    return Name.of(person)


# --- folding: one comparable form per name part -----------------------------------------------

#: Equal-contribution and affiliation marks written into a name: ``$^{*}$``,
#: ``\textsuperscript{1}``, ``*``, ``†``, ``‡``.
_MARKS = re.compile(r"\$[^$]*\$|\\textsuperscript\s*\{[^{}]*\}|\\(?:dag|ddag)\b(?:\{\})?|[*†‡§¶]")
_SEPARATORS = re.compile(r"[\s.\-~‐‑–]+")


def clean(text: str) -> str:
    """A name part as a reader sees it: marks off, LaTeX decoded, braces dropped."""
    if "$" in text or "\\" in text or any(m in text for m in "*†‡§¶"):
        text = _MARKS.sub("", text)
    return latex_text(text) if "\\" in text or "{" in text else " ".join(text.split())


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Case-, accent- and punctuation-free form: ``M{\\"u}ller-L\\"udenscheidt`` ->
    ``mullerludenscheidt``, ``J{\\o}rgensen`` -> ``jorgensen``.

    Letters that Unicode does not decompose (ø, ł, ß, æ, đ) take the letters of their LaTeX
    name (:func:`labhandbook.latex.base_letters`: ``\\o`` -> o, ``\\ss`` -> ss).
    """
    text = unicodedata.normalize("NFKD", clean(text).casefold())
    out = []
    for ch in text:
        if ch.isascii():
            if ch.isalnum():
                out.append(ch)
        elif unicodedata.combining(ch):
            continue
        elif ch.isalpha():
            out.append(base_letters(ch))
        elif ch.isalnum():
            out.append(ch)
    return "".join(out)


def given_tokens(words: Iterable[str]) -> tuple[str, ...]:
    """Folded given names, one per word or initial: "S.S." -> (s, s), "Li-Jun" -> (li, jun).

    Words in parentheses (a nickname) and lower-case particles next to capitalised names
    ("Ludwig van") are left out; an all-capital word of two or three letters ("SS", as some
    indexes write initials) is read as initials.
    """
    words = [w for w in (clean(w) for w in words) if w]
    capitalised = any(w[:1].isupper() for w in words)
    out: list[str] = []
    for word in words:
        if word.startswith("(") and word.endswith(")"):
            continue
        if capitalised and word[:1].islower() and out:
            continue
        if 2 <= len(word) <= 3 and word.isalpha() and word.isupper() and word.isascii():
            out.extend(word.lower())
            continue
        out.extend(t for t in (fold(part) for part in _SEPARATORS.split(word)) if t)
    return tuple(out)


def nicknames(words: Iterable[str]) -> tuple[str, ...]:
    """Given names written in parentheses: "Hyunseung (Daniel)" -> (daniel,)."""
    return tuple(fold(w) for w in words if w.startswith("(") and w.endswith(")") and fold(w))


# --- one name, ready to compare ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spelling:
    """One way a name may be read: a folded family name and folded given names."""

    family: str
    given: tuple[str, ...]
    loose: bool = False  #: a shortened family name: at best a loose fit


@dataclass(frozen=True)
class Folded:
    """A name as the matcher sees it."""

    text: str  #: as a reader sees it: "Choudhury, S."
    spellings: tuple[Spelling, ...]  #: the first is the name as written; others are readings
    key: Spelling  #: the name as written (what ``bib_names``/``not_names`` confirm or refuse)


def _strip_marks(name: Name) -> Name:
    """Equal-contribution marks written as separate words ("Lijun Wu $^*$") leave no part."""
    def kept(part: tuple[str, ...]) -> list[str]:
        return [w for w in part if clean(w)]

    first, von, last = kept(name.first), kept(name.prelast), kept(name.last)
    if not last:
        if von:
            last = [von.pop()]
        elif first:
            last = [first.pop()]
    return Name(tuple(first), tuple(von), tuple(last), tuple(kept(name.lineage)))


def _display(name: Name) -> str:
    given = " ".join(clean(w) for w in name.first)
    family = " ".join(clean(w) for w in name.prelast + name.last)
    lineage = " ".join(clean(w) for w in name.lineage)
    return ", ".join(p for p in (family, lineage, given) if p)


def _readings(name: Name, comma: bool) -> tuple[Spelling, ...]:
    """The spellings one name may stand for.

    Family names are compared with and without their von part ("van Beethoven"/"Beethoven");
    a name written "Given Given Family" may have a two-word family name ("Falaah Arif Khan" is
    also "Arif Khan, Falaah"); a nickname in parentheses is another given name.
    """
    given = given_tokens(name.first)
    family = fold("".join(name.prelast + name.last))
    out = [Spelling(family, given)]
    if name.prelast:
        out.append(Spelling(fold("".join(name.last)), given))
    particles = [w for w in name.first[1:] if clean(w)[:1].islower()]
    if particles and comma:  # "Beethoven, Ludwig van": the particle belongs to the family name
        out.append(Spelling(fold("".join(particles) + "".join(name.last)), given))
    if not comma and len(name.first) >= 2:
        words = [w for w in name.first if not (w.startswith("(") and w.endswith(")"))]
        for k in range(1, len(words)):  # ("K M, Annervaz" is "Annervaz K M" too)
            out.append(Spelling(fold("".join(words[k:] + [*name.prelast, *name.last])),
                                given_tokens(words[:k])))
    if len(name.first) == 1 and len(name.last) == 1 and not name.prelast:
        initials = clean(name.last[0]).replace(".", "")
        if 1 <= len(initials) <= 3 and initials.isalpha() and initials.isupper():
            # "Srinivasa SS", as PubMed and Vancouver-style lists write "Family Initials"
            out.append(Spelling(fold(name.first[0]), tuple(initials.lower())))
    for nick in nicknames(name.first):
        out.append(Spelling(family, (nick,)))
    parts = [p for p in re.split(r"[\s\-‐‑]+", clean(" ".join(name.last))) if fold(p)]
    if len(parts) >= 2:  # "Gonzalez-Pumariega" is often shortened to its first family name
        out.append(Spelling(fold(parts[0]), given, loose=True))
    return tuple(dict.fromkeys(s for s in out if s.family))


_LINEAGE = re.compile(r"(?:Jr|Sr|Jnr|Snr)\.?|I{2,3}|IV", re.IGNORECASE)


def _titled(text: str) -> str:
    """A name written all in lower case, with capitals (BibTeX would take it for von parts)."""
    return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))


@lru_cache(maxsize=65536)
def read(text: str) -> Folded:
    """One name, given as text ("Wu, Lijun", "Lijun Wu", "S{\\'{e}}bastien Bubeck")."""
    text = " ".join(text.split())
    if text and text == text.lower() and any(ch.isalpha() for ch in text):
        text = _titled(text)
    try:
        name = split(text)
    except NameError_:
        name = Name(tuple(text.split()[:-1]), (), tuple(text.split()[-1:]), ())
    return _folded(name, "," in text)


def _lineage(name: Name) -> Name:
    """"Sammy Davis Jr." and "Sammy Davis, Jr." (BibTeX wants "Davis, Jr., Sammy")."""
    if name.lineage:
        return name
    if len(name.first) >= 2 and len(name.last) == 1 and _LINEAGE.fullmatch(name.last[0]):
        return Name(name.first[:-1], name.prelast, name.first[-1:], name.last)
    if len(name.first) == 1 and _LINEAGE.fullmatch(name.first[0]) and len(name.last) >= 2:
        try:
            given_family = split(" ".join(name.prelast + name.last))
        except NameError_:
            return name
        return Name(given_family.first, given_family.prelast, given_family.last, name.first)
    return name


def _folded(name: Name, comma: bool) -> Folded:
    name = _strip_marks(_lineage(name))
    spellings = _readings(name, comma)
    key = spellings[0] if spellings else Spelling("", ())
    return Folded(_display(name), spellings, key)


def read_person(person: Any) -> Folded:
    """One author of a parsed entry (a pybtex ``Person`` or a :class:`Name`)."""
    name = Name.of(person)
    return _read_parts(name)


@lru_cache(maxsize=65536)
def _read_parts(name: Name) -> Folded:
    text = str(name)
    if text and text == text.lower() and any(ch.isalpha() for ch in text):
        return read(text)
    # a name written "Given Family" has no comma; pybtex's parts do not say which it was
    return _folded(name, comma=not name.first or len(name.first) < 2)


# --- comparing given names ---------------------------------------------------------------------

NONE, LOOSE, FULL = 0, 1, 2


def fit(author: tuple[str, ...], member: tuple[str, ...]) -> int:
    """How well an author's given names fit a member's: FULL, LOOSE or NONE.

    "Li-Jun"/"Lijun", "Siddhartha S."/"Siddhartha", "S. S."/"Siddhartha S." fit fully;
    "L."/"Lijun" (an initial) and "Maximus"/"Max" (a short form of three letters or more) fit
    loosely; "Lingfei"/"Lijun" and "J. A."/"J. B." do not fit.
    """
    if not author or not member:
        return FULL if author == member else LOOSE
    if "".join(author) == "".join(member):
        return FULL
    short = False
    for a, m in zip(author, member, strict=False):
        if a == m or (len(a) == 1 and m.startswith(a)) or (len(m) == 1 and a.startswith(m)):
            continue
        if min(len(a), len(m)) >= 3 and (a.startswith(m) or m.startswith(a)):
            short = True  # "Will"/"William"
            continue
        return NONE
    if short:
        return LOOSE
    if len(author[0]) > 1 and len(member[0]) > 1:
        return FULL  # the first given name in full, the rest agreeing
    initials_a, initials_m = [t[0] for t in author], [t[0] for t in member]
    if len(author) >= 2 and initials_a == initials_m:
        return FULL  # every initial agrees ("S. S." and "Siddhartha S.")
    return LOOSE


# --- the roster: which member an author is --------------------------------------------------

Level = Literal["confirmed", "full", "loose", "ambiguous", "none"]


@dataclass(frozen=True)
class Match:
    """Who an author is: ``slug`` when exactly one member fits, else None."""

    slug: str | None
    level: Level
    candidates: tuple[str, ...] = ()  #: the members that fit (for loose and ambiguous matches)


NO_MATCH = Match(None, "none")


@dataclass(frozen=True)
class Member:
    """What the roster needs from a person page."""

    slug: str
    name: str
    bib_names: tuple[str, ...] = ()
    not_names: tuple[str, ...] = ()


@dataclass
class Roster:
    """The lab's members, indexed by folded family name."""

    members: dict[str, Member] = field(default_factory=dict)
    _by_family: dict[str, list[tuple[str, Spelling]]] = field(default_factory=dict)
    _confirmed: dict[Spelling, str] = field(default_factory=dict)
    _refused: dict[str, set[Spelling]] = field(default_factory=dict)
    _cache: dict[Any, Match] = field(default_factory=dict)

    @classmethod
    def of(cls, members: Iterable[Member]) -> Roster:
        roster = cls()
        for m in members:
            roster.members[m.slug] = m
            for text in (m.name, *m.bib_names):
                for s in read(text).spellings:
                    # several members may share a family name, even given names: keep them all
                    entries = roster._by_family.setdefault(s.family, [])
                    if (m.slug, s) not in entries:
                        entries.append((m.slug, s))
            for text in m.bib_names:
                roster._confirmed.setdefault(read(text).key, m.slug)
            roster._refused[m.slug] = {read(t).key for t in m.not_names}
        return roster

    def owner_of_spelling(self, text: str) -> str | None:
        """The member who confirmed ``text`` in ``bib_names``."""
        return self._confirmed.get(read(text).key)

    def match(self, person: Any) -> Match:
        """Which member an author is (a pybtex ``Person``, a :class:`Name` or text)."""
        key = person if isinstance(person, (str, Name)) else Name.of(person)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self.match_folded(read(key) if isinstance(key, str) else _read_parts(key))
        self._cache[key] = result
        return result

    def match_folded(self, folded: Folded) -> Match:
        for s in folded.spellings[:1]:
            slug = self._confirmed.get(s)
            if slug is not None:
                return Match(slug, "confirmed", (slug,))
        best: dict[str, int] = {}
        for s in folded.spellings:
            for slug, spelling in self._by_family.get(s.family, ()):
                level = fit(s.given, spelling.given)
                if s.loose or spelling.loose:
                    level = min(level, LOOSE)
                if level > best.get(slug, NONE):
                    best[slug] = level
        for slug in list(best):
            if folded.key in self._refused.get(slug, ()):
                del best[slug]
        full = tuple(sorted(s for s, lv in best.items() if lv == FULL))
        if len(full) == 1:
            return Match(full[0], "full", full)
        if len(full) > 1:
            return Match(None, "ambiguous", full)
        loose = tuple(sorted(s for s, lv in best.items() if lv == LOOSE))
        if len(loose) == 1:
            return Match(loose[0], "loose", loose)
        if len(loose) > 1:
            return Match(None, "ambiguous", loose)
        return NO_MATCH

    def slug(self, person: Any) -> str | None:
        """The member an author certainly is (a confirmed or full match)."""
        m = self.match(person)
        return m.slug if m.level in ("confirmed", "full") else None

    def attribute(self, persons: Iterable[Any]) -> list[Match]:
        """Who each author of one entry is.

        A loose match (the family name of exactly one member, the given name only an initial
        or a short form of theirs) gives the paper to that member unless the evidence is
        against it: another author of the same entry has that family name too ("Wu, Zhen" next
        to "Wu, L."), so the family is not the member's alone there. Then it is left
        unattributed. Both cases are reported by :func:`attribution_notes`.
        """
        persons = list(persons)
        matches = [self.match(p) for p in persons]
        if any(m.level == "loose" for m in matches):
            families = [self._family(p) for p in persons]
            for i, m in enumerate(matches):
                if m.level == "loose" and families.count(families[i]) > 1:
                    matches[i] = Match(None, "loose", m.candidates)
        return matches

    @staticmethod
    def _family(person: Any) -> str:
        folded = read(person) if isinstance(person, str) else read_person(person)
        return folded.key.family

    def slugs(self, persons: Iterable[Any]) -> list[str | None]:
        """For each author of one entry, the member it is (or None)."""
        return [m.slug for m in self.attribute(persons)]

    def fingerprint_data(self) -> list[Any]:
        """What attribution depends on (for the registry's "names" fingerprint)."""
        return sorted((m.slug, m.name, list(m.bib_names), list(m.not_names))
                      for m in self.members.values())


def members_of(people: Mapping[str, Any]) -> Roster:
    """A roster from schema ``Person`` objects keyed by slug."""
    return Roster.of(Member(slug, p.name, tuple(p.bib_names), tuple(getattr(p, "not_names", ())))
                     for slug, p in people.items())


# --- telling members about loose and ambiguous spellings --------------------------------------


def attribution_notes(roster: Roster, entries: Iterable[tuple[str, Iterable[Any]]],
                      locate: Mapping[str, tuple[str, int]],
                      attribute: Callable[[list[Any]], list[Match]] | None = None,
                      ) -> list[Problem]:
    """One note per member whose papers were matched loosely or ambiguously.

    ``entries``: (key, authors); ``locate``: slug -> (page path, line of ``name``);
    ``attribute``: ``roster.attribute`` or a memo of it. Each note lists every such spelling
    with its papers and says how to confirm (``bib_names``) or refuse (``not_names``) it.
    """
    attribute = attribute or roster.attribute
    # slug -> (spelling, level) -> (other members, keys)
    found: dict[str, dict[tuple[str, str], tuple[tuple[str, ...], list[str]]]] = \
        defaultdict(dict)
    for key, persons in entries:
        persons = list(persons)
        for person, m in zip(persons, attribute(persons), strict=True):
            if m.level not in ("loose", "ambiguous"):
                continue
            text = read(person).text if isinstance(person, str) else read_person(person).text
            for slug in m.candidates:
                others = tuple(c for c in m.candidates if c != slug)
                level = m.level if m.slug or m.level == "ambiguous" else "unsure"
                _, keys = found[slug].setdefault((text, level), (others, []))
                if key not in keys:
                    keys.append(key)
    notes = []
    for slug in sorted(found):
        member = roster.members[slug]
        parts = []
        for (text, level), (others, keys) in sorted(found[slug].items()):
            papers = f"{len(keys)} paper{'s' if len(keys) != 1 else ''}: {', '.join(keys)}"
            if level == "ambiguous":
                who = " and ".join(roster.members[o].name for o in others)
                parts.append(f"{text!r} also fits {who}, so it is given to no one ({papers})")
            elif level == "loose":
                parts.append(f"{text!r} fits only loosely (initial or short form) and is "
                             f"given to {member.name} ({papers})")
            else:
                parts.append(f"{text!r} fits only loosely and another author has the same "
                             f"family name, so it is given to no one ({papers})")
        path, line = locate.get(slug, (f"people/{slug}.md", 1))
        notes.append(Problem(
            path, line, f"{member.name}: " + "; ".join(parts),
            "add each spelling that is theirs to `bib_names:` and each that is not to "
            "`not_names:` in this page", severity="note", code="names.unsure"))
    return notes
