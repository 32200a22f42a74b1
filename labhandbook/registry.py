"""The registry of people and research areas, read once from the pages' front matter.

Reading is shared by the Sphinx extension and the command line: :func:`load_registry` reads
every ``people/*.md`` and ``research/*.md`` page, validates the front matter against
:mod:`labhandbook.schema`, checks the cross references (areas, leads, name spellings) and
returns a :class:`Registry` together with the problems found, each located to a line.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import re
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .config import LabConfig
from .names import Roster, members_of, read
from .problems import Problem
from .safety import content_file
from .schema import ROLES, Area, Person

try:  # the C loader is ~10x faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)
#: Largest page file read (front matter and prose): past it a page is refused, not parsed.
MAX_PAGE_BYTES = 1024 * 1024
#: Every node docutils builds for a page costs time, and markup makes nodes: a page of 250 KB of
#: ``*a*`` took 20 s to build. Each line and each character that starts markup counts; the
#: example lab's largest page counts about 700, a 40 KB document about 3,000.
MAX_PAGE_MARKUP = 25_000
_MARKUP_CHARS = "*_`[<#-|\n"  # not ">": every tag has one "<" already


class _DuplicateKey(yaml.constructor.ConstructorError):
    def __init__(self, key: str, first: int, mark: yaml.Mark) -> None:
        super().__init__(None, None, f"duplicate key {key!r}", mark)
        self.key, self.first = key, first


class _UniqueKeys(_Loader):  # type: ignore[misc, valid-type]
    """YAML where a key written twice in one mapping is an error (YAML's rule; PyYAML would
    silently keep the last value)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise _DuplicateKey(key.value, seen[key.value], key.start_mark)
                seen[key.value] = key.start_mark.line
        return super().construct_mapping(node, deep=deep)


_UniqueKeys.add_constructor("tag:yaml.org,2002:map", _UniqueKeys.construct_yaml_map)


# --- reading one page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page's front matter, as YAML data plus what is needed to locate its keys."""

    path: str  #: relative to the handbook root
    data: dict[str, Any]
    text: str  #: the YAML text of the front matter
    first_line: int  #: file line of the first YAML line (the line after ``---``)

    def _line(self, mark: yaml.Mark) -> int:
        """The 0-based line of ``mark`` counted in ``\n`` only (YAML also breaks lines at
        U+0085, U+2028 and U+2029; editors and GitHub do not)."""
        return self.text.count("\n", 0, mark.index)

    def line_of(self, loc: Iterable[str | int]) -> int:
        """The file line of the value at ``loc`` (keys and list indexes), or of its parent."""
        node = _compose(self.text)
        if node is _TOO_DEEP:  # locate the top-level key by its text
            top = str(next(iter(loc), ""))
            lines = self.text.split("\n")
            return self.first_line + next(
                (i for i, text in enumerate(lines) if text.startswith(f"{top}:")), 0)
        line = self._line(node.start_mark) if node is not None else 0
        for part in loc:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == part:
                        line, child = self._line(key.start_mark), value
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if 0 <= part < len(node.value):
                    child = node.value[part]
                    line = self._line(child.start_mark)
            if child is None:
                break
            node = child
        return self.first_line + line


_TOO_DEEP = yaml.Node("", "", None, None)


@lru_cache(maxsize=4)
def _compose(text: str) -> yaml.Node | None:
    """The YAML node tree of a front matter, once per page (not once per problem in it)."""
    try:
        return yaml.compose(text, Loader=_Loader)
    except RecursionError:  # only without libyaml
        return _TOO_DEEP


class PageError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def page_text(root: Path, path: Path) -> str:
    """The text of the page file ``path``, read only when it is small enough: raise
    :class:`PageError` when it is too large or not UTF-8 (the same words for every page,
    a person's or a guide; the build leaves such a page out, see ``sources.py``)."""
    rel = path.relative_to(root).as_posix()
    with path.open("rb") as f:  # never more than the limit (a link to /dev/zero is endless)
        raw = f.read(MAX_PAGE_BYTES + 1)
    if len(raw) > MAX_PAGE_BYTES:
        raise PageError(Problem(rel, 1, f"the page is larger than {MAX_PAGE_BYTES // 1024} KB "
                                "and is left out", "keep a page to its facts and a few "
                                "paragraphs; split long text into several pages",
                                code="page.too-large"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise PageError(
            Problem(rel, line, "the file is not UTF-8 text",
                    "save it as UTF-8 in your editor", code="page.encoding")
        ) from None
    if sum(text.count(char) for char in _MARKUP_CHARS) > MAX_PAGE_MARKUP:
        at = next(itertools.islice(re.finditer(f"[{re.escape(_MARKUP_CHARS)}]", text),
                                   MAX_PAGE_MARKUP, None)).start()
        raise PageError(Problem(
            rel, text.count("\n", 0, at) + 1,
            f"the page has more than {MAX_PAGE_MARKUP:,} lines and markup characters and is "
            "left out (from this line on)", "split it into several pages, or put long data "
            "in a file the page includes", code="page.too-large"))
    return text


def read_page(root: Path, path: Path) -> Page:
    """Read the front matter of ``path``; raise :class:`PageError` for anything unreadable."""
    rel = path.relative_to(root).as_posix()
    source = page_text(root, path)
    source = source.replace("\r\n", "\n")
    if not source.startswith("---"):
        raise PageError(
            Problem(rel, 1, "the page has no front matter",
                    "start the file with a `---` line, the YAML fields, and another `---` line",
                    code="frontmatter.missing")
        )
    fences = list(FENCE.finditer(source))
    if len(fences) < 2 or fences[0].start() != 0:
        raise PageError(
            Problem(rel, 1, "the front matter is not closed",
                    "end the YAML fields with a line that holds only `---`",
                    code="frontmatter.unclosed")
        )
    text = source[fences[0].end() + 1 : fences[1].start()]
    # Each level of YAML opens with one of "[{-?:". libyaml recurses in C for every level and
    # crashes the interpreter past ~50 000 (100 KB of "- - -"); PyYAML's parser takes seconds
    # for a few thousand. No front matter needs 10 000 of them.
    if sum(map(text.count, "[{-?:")) > 10_000:
        raise PageError(Problem(
            rel, 2, "the front matter is too long or too deeply nested to be read",
            "keep the facts short, lists and mappings a few levels deep; prose goes into the "
            "page below the second `---`", code="frontmatter.yaml"))
    try:
        data = yaml.load(text, Loader=_UniqueKeys)
    except RecursionError:  # only without libyaml
        raise PageError(
            Problem(rel, 2, "the front matter is nested too deeply to be read",
                    "write one `key: value` per line; lists and mappings a few levels deep",
                    code="frontmatter.yaml")
        ) from None
    except _DuplicateKey as err:
        raise PageError(Problem(
            rel, 2 + text.count("\n", 0, err.problem_mark.index),
            f"the key `{err.key}` is written twice (also on line {2 + err.first})",
            "keep one of them: YAML would silently use only the last",
            code="frontmatter.duplicate-key")) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        context = getattr(err, "context", None) or ""
        if context.startswith(("while parsing a flow", "while scanning a quoted")):
            mark = err.context_mark or mark  # an unclosed [ { or quote: point at where it opens
        line = 2 + (text.count("\n", 0, mark.index) if mark else 0)
        what = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise PageError(
            Problem(rel, line, f"the front matter is not valid YAML ({what})",
                    "check the indentation and quote values that contain ':' or '#'",
                    code="frontmatter.yaml")
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PageError(
            Problem(rel, 2, "the front matter is not a set of `key: value` fields",
                    "write one `key: value` per line between the `---` lines",
                    code="frontmatter.not-mapping")
        )
    return Page(rel, data, text, first_line=2)


# --- validation messages ------------------------------------------------------------------------


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys a mapping at ``loc`` may hold (for "did you mean")."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fld = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if fld is None:
            for f in getattr(current, "model_fields", {}).values():
                if f.alias == part:
                    fld = f
        if fld is None:
            return []
        ann = fld.annotation
        args = getattr(ann, "__args__", ())
        inner = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)),
                     None)
        if inner is None:
            return []
        current = inner
    names = []
    for name, f in current.model_fields.items():
        names.append(f.alias or name)
    return names


#: A bounded repr: YAML aliases can make a value of billions of elements out of a few lines.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist = 1, 60, 60, 4


def validation_problems(page: Page, model: type[BaseModel], err: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into located, actionable problems."""
    problems = []
    for e in err.errors():
        loc = tuple(e["loc"])
        kind = e["type"]
        where = _dotted(loc)
        if kind == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = (f"did you mean `{close[0]}`?" if close
                    else f"use one of: {', '.join(allowed)}")
            problems.append(Problem(page.path, page.line_of(loc), f"unknown key `{where}`", hint,
                                    code="frontmatter.unknown-key"))
        elif kind == "missing":
            problems.append(Problem(page.path, page.line_of(loc[:-1]),
                                    f"`{where}` is missing", f"add `{loc[-1]}: ...`",
                                    code="frontmatter.missing-key"))
        elif kind == "literal_error":
            expected = e.get("ctx", {}).get("expected", "")
            problems.append(Problem(page.path, page.line_of(loc),
                                    f"`{where}` cannot be {_SHORT.repr(e['input'])}",
                                    f"use one of: {expected.replace(chr(39), '')}",
                                    code="frontmatter.not-allowed"))
        else:
            msg = e["msg"].removeprefix("Value error, ")
            keyed = re.match(r"^`(\w+)`: (.*)$", msg)
            if not loc and keyed:  # a whole-page rule names the key it is about
                loc, msg = (keyed.group(1),), keyed.group(2)
                message, hint = msg.split(" — ", 1) if " — " in msg else (msg, "")
                problems.append(Problem(page.path, page.line_of(loc), message, hint,
                                        code="frontmatter.inconsistent"))
                continue
            problems.append(Problem(page.path, page.line_of(loc), f"`{where}` is not valid",
                                    msg[0].lower() + msg[1:] if msg else "see the template",
                                    code="frontmatter.invalid"))
    return problems


# --- the registry -------------------------------------------------------------------------------


def fingerprint(*parts: Any) -> str:
    """A short stable digest of JSON-serialisable ``parts`` (every fingerprint of the build)."""
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


def source_fingerprint(path: str | Path) -> str:
    """The digest of a module's source: output cached by that module changes with it."""
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=8).hexdigest()


@dataclass
class Registry:
    """People and areas of the handbook and the relations derived from them."""

    people: dict[str, Person] = field(default_factory=dict)
    areas: dict[str, Area] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)  #: "people/x" -> its front matter
    docnames: dict[str, str] = field(default_factory=dict)  #: person/area slug -> docname

    # Derived views. cached_property keeps them out of __init__ and computes each once.
    @cached_property
    def members(self) -> dict[str, list[str]]:
        """Area slug -> slugs of the people who work on it, in directory order."""
        out: dict[str, list[str]] = {slug: [] for slug in self.areas}
        for slug in self.ordered_people():
            for area in self.people[slug].areas:
                out.setdefault(area, []).append(slug)
        return out

    @cached_property
    def names(self) -> Roster:
        """Who is who among BibTeX authors (:mod:`labhandbook.names`)."""
        return members_of(self.people)

    @cached_property
    def by_docname(self) -> dict[str, tuple[str, str]]:
        """Docname -> ("person" | "area", slug)."""
        out = {}
        for key, doc in self.docnames.items():
            kind, _, slug = key.partition(":")
            out[doc] = (kind, slug)
        return out

    def areas_of(self, slug: str) -> list[str]:
        return list(self.people[slug].areas)

    def ordered_people(self) -> list[str]:
        """Directory order: current before alumni, then by role, then by family name."""
        return list(self._directory_order)

    @cached_property
    def _directory_order(self) -> tuple[str, ...]:
        """:meth:`ordered_people`, sorted once per registry (a build reads a new one): pages
        ask for it once per token they record, hundreds of times in a department's build."""
        order = {role: i for i, role in enumerate(ROLES)}

        def key(slug: str) -> tuple[Any, ...]:
            p = self.people[slug]
            alumni = p.status == "alumni"
            return (alumni, "" if not alumni else _neg(p.left or ""), order[p.role],
                    p.name.split()[-1].casefold(), p.name.casefold())

        return tuple(sorted(self.people, key=key))

    def person_doc(self, slug: str) -> str:
        return self.docnames[f"person:{slug}"]

    def area_doc(self, slug: str) -> str:
        return self.docnames[f"area:{slug}"]

    # Fingerprints let incremental builds re-read exactly the pages whose generated parts change.
    @cached_property
    def _digests(self) -> dict[str, str]:
        d: dict[str, str] = {}
        for slug, p in self.people.items():
            d[f"person:{slug}"] = fingerprint(p.model_dump(mode="json"))
        for slug, a in self.areas.items():
            d[f"area:{slug}"] = fingerprint(a.model_dump(mode="json"))
        d["people"] = fingerprint(sorted((k, v) for k, v in d.items() if k.startswith("person:")))
        d["areas"] = fingerprint(sorted((k, v) for k, v in d.items() if k.startswith("area:")))
        d["names"] = fingerprint(self.names.fingerprint_data())
        # in directory order: lists of people (the publications filter) follow role and status
        d["roster"] = fingerprint([(slug, self.people[slug].name)
                                   for slug in self.ordered_people()])
        d["area-titles"] = fingerprint(sorted((slug, a.title, list(a.keywords))
                                          for slug, a in self.areas.items()))
        d["news"] = fingerprint(sorted((slug, p.name, [n.model_dump(mode="json") for n in p.news])
                                   for slug, p in self.people.items()))
        for area, members in self.members.items():
            d[f"members:{area}"] = fingerprint([(m, d[f"person:{m}"]) for m in members])
        return d

    def digest(self, token: str) -> str | None:
        """The current fingerprint of ``token`` ("person:x", "area:y", "members:y", "people",
        "areas", "names", "news", "roster", "area-titles"); ``None`` when it no longer exists."""
        return self._digests.get(token)


def _neg(text: str) -> str:
    """Invert a date string so that sorting puts the most recent first."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in text)


def _pages(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.md") if p.name != "index.md")


#: One page's reading: its front matter and validated model, or the problems that stop it.
PageRead = tuple["Page | None", "Person | Area | None", list[Problem]]


@dataclass
class PageCache:
    """Each page's reading, kept by a caller that loads the registry again and again
    (the build keeps it with the environment, see :mod:`labhandbook.environment`: every
    ``make html`` and every warm build of ``labhandbook serve``): a page is read and validated
    again only when its bytes changed; a department's 215 pages were read on every save of
    any of them. The kept models are never changed (the registry replaces a model, as
    :func:`check_photos` does, rather than editing it)."""

    pages: dict[str, tuple[str, PageRead]] = field(default_factory=dict)
    reads: int = 0  #: pages read since the cache was made, for tests


def _read_and_validate(root: Path, path: Path, model: type[BaseModel]) -> PageRead:
    try:
        page = read_page(root, path)
    except PageError as err:
        return None, None, [err.problem]
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", path.stem):
        return None, None, [Problem(page.path, 1, f"the file name `{path.name}` is not a slug",
                                    "rename it to lowercase words joined by '-', "
                                    "e.g. ada-lovelace.md", code="page.slug")]
    try:
        return page, model.model_validate(page.data), []  # type: ignore[return-value]
    except ValidationError as err:
        return None, None, validation_problems(page, model, err)


def _read_cached(root: Path, path: Path, model: type[BaseModel],
                 cache: PageCache | None) -> PageRead:
    if cache is None:
        return _read_and_validate(root, path, model)
    rel = path.relative_to(root).as_posix()
    try:
        with path.open("rb") as f:  # as page_text reads it: never more than the limit
            key = f"{model.__name__}:" + hashlib.sha256(f.read(MAX_PAGE_BYTES + 1)).hexdigest()
    except OSError:
        cache.pages.pop(rel, None)
        return _read_and_validate(root, path, model)
    kept = cache.pages.get(rel)
    if kept is not None and kept[0] == key:
        return kept[1]
    cache.reads += 1
    result = _read_and_validate(root, path, model)
    cache.pages[rel] = (key, result)
    return result


def load_registry(root: Path, config: LabConfig,
                  cache: PageCache | None = None) -> tuple[Registry, list[Problem]]:
    """Read and validate every person and area page under ``root`` (with ``cache``, only
    the pages whose bytes changed since it last read them)."""
    reg = Registry()
    problems: list[Problem] = []
    loaded: dict[str, tuple[Page, Person | Area]] = {}
    seen: set[str] = set()
    for kind, folder, model in (("person", config.people_dir, Person),
                                ("area", config.research_dir, Area)):
        for path in _pages(root / folder):
            if content_file(root, path) is None:
                continue  # a link to a file elsewhere: safety.outside_links reports it
            slug = path.stem
            seen.add(path.relative_to(root).as_posix())
            page, obj, found = _read_cached(root, path, model, cache)
            problems.extend(found)
            if page is None or obj is None:
                continue
            docname = f"{folder}/{slug}"
            reg.pages[docname] = page
            reg.docnames[f"{kind}:{slug}"] = docname
            loaded[docname] = (page, obj)
            if isinstance(obj, Person):
                reg.people[slug] = obj
            else:
                reg.areas[slug] = obj  # type: ignore[assignment]
    if cache is not None:
        for rel in set(cache.pages) - seen:
            del cache.pages[rel]
    problems.extend(_cross_check(reg))
    problems.extend(check_photos(root, reg))
    return reg, problems


def _unknown_references(page: Page, key: str, values: list[str], known: Any, message: str,
                        otherwise: str, code: str) -> list[Problem]:
    """Slugs in ``page``'s list ``key`` that name no page, with a "did you mean" hint."""
    problems = []
    for i, value in enumerate(values):
        if value not in known:
            close = difflib.get_close_matches(value, known, n=1)
            problems.append(Problem(page.path, page.line_of((key, i)), message.format(value),
                                    f"did you mean `{close[0]}`?" if close else otherwise,
                                    code=code))
    return problems


def _cross_check(reg: Registry) -> list[Problem]:
    """References between pages: areas, leads and name spellings."""
    problems = []
    area_list = ", ".join(sorted(reg.areas)) or "(no research pages yet)"
    for slug, person in reg.people.items():
        page = reg.pages[reg.person_doc(slug)]
        problems.extend(_unknown_references(
            page, "areas", person.areas, reg.areas, "unknown research area `{}`",
            f"use the file name of a page in research/: {area_list}", "registry.unknown-area"))
    seen: dict[Any, str] = {}
    for slug, person in reg.people.items():
        page = reg.pages[reg.person_doc(slug)]
        # the name itself, and each confirmed spelling: one person each
        for loc, text in [(("name",), person.name),
                          *((("bib_names", i), t) for i, t in enumerate(person.bib_names))]:
            folded = read(text)
            other = seen.get(folded.key)
            if other and other != slug:
                problems.append(Problem(
                    page.path, page.line_of(loc),
                    f"the name spelling {folded.text!r} also belongs to `{other}`",
                    "two people cannot share a BibTeX spelling: add a middle name or initial "
                    "to the `name` or `bib_names` of one of them", code="registry.duplicate-name"))
            seen[folded.key] = slug
    for slug, area in reg.areas.items():
        page = reg.pages[reg.area_doc(slug)]
        problems.extend(_unknown_references(
            page, "leads", area.leads, reg.people, "unknown person `{}` in `leads`",
            "use the file name (without .md) of a page in people/", "registry.unknown-person"))
    return problems


def check_photos(root: Path, reg: Registry) -> list[Problem]:
    """Photos named in front matter must be raster images of the handbook (relative to the
    person page); one that is not is never shown or copied."""
    from .safety import photo_problem

    problems = []
    for slug, person in list(reg.people.items()):
        if not person.photo:
            continue
        page = reg.pages[reg.person_doc(slug)]
        found = photo_problem(root, (root / page.path).parent / person.photo)
        if found is None:
            continue
        message, hint, code = found
        if message != "does not exist":
            # "../../../etc/passwd" would be copied into the site: never shown, reported
            reg.people[slug] = person.model_copy(update={"photo": None})
        problems.append(Problem(page.path, page.line_of(("photo",)),
                                f"the photo `{person.photo}` {message}", hint, code=code))
    return problems
