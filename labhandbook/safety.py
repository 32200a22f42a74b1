"""What a page may put on the site and read from disk: one policy for the build and ``check``.

Pages arrive through pull requests, so their content is untrusted; ``conf.py`` is the lab's
own and stays trusted. The policy, applied to the doctree docutils and MyST actually produced
(never to the source text, which a parser may read differently):

- Raw HTML (MyST HTML blocks and inline tags, ``{raw} html``, rST raw roles, substitutions that
  assemble markup) is rewritten by the nh3 sanitizer against an allow-list of prose elements
  and attributes; whatever the sanitizer had to drop is reported at the file and line. An
  embed (a video, a map) is allowed by name in the ``allow_embeds`` setting.
- Links are ``http(s)``/``mailto``/``tel`` or relative; ``<meta http-equiv>`` is refused.
- Files are read only inside the handbook's content (symlinks resolved; hidden folders, the
  build output and virtual environments are not content) and only up to a size: ``include``,
  ``literalinclude``, ``csv-table :file:``, images, figures and downloads. ``raw :file:``,
  ``raw :url:`` and ``csv-table :url:`` are refused.
- Substitutions are plain text: ``{{ name }}`` of a defined substitution, never a Jinja2
  expression (MyST renders those with an unsandboxed Jinja2).

Every refusal is a :class:`~labhandbook.problems.Problem` kept per document in the environment
(parallel and incremental safe) and logged as an error; ``check`` reads the pages with Sphinx's
``dummy`` builder and reports the same problems.

Upgrade notes (MyST internals, isolated here and tested by ``tests/test_safety.py``): the
substitution renderer subclasses ``SphinxRenderer.render_substitution``; ``{include}`` in
Markdown is delegated to ``myst_parser.mocking.MockIncludeDirective``.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nh3
from docutils import nodes
from docutils.parsers.rst import directives
from docutils.parsers.rst.directives.misc import Raw
from docutils.utils import get_source_line
from sphinx.directives.code import LiteralInclude
from sphinx.directives.other import Include as SphinxInclude
from sphinx.directives.patches import CSVTable
from sphinx.environment.collectors import EnvironmentCollector
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinxcontrib.bibtex.directives import BibliographyDirective

from .problems import Problem

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config
    from sphinx.environment import BuildEnvironment

logger = logging.getLogger(__name__)

SAFETY_ATTR = "labhandbook_safety"
SUBSTITUTED = "labhandbook_substituted"

# --- the allow-list ---------------------------------------------------------------------------

#: Elements of prose a page may write as raw HTML.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "col",
    "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "pre", "q", "rp", "rt", "ruby", "s", "samp", "small", "span", "strong", "sub", "summary",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr",
})
GLOBAL_ATTRIBUTES = frozenset({"class", "id", "title", "lang", "dir", "role"})
TAG_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "target", "hreflang"}),
    "img": frozenset({"src", "alt", "width", "height", "loading"}),
    "td": frozenset({"colspan", "rowspan", "align"}),
    "th": frozenset({"colspan", "rowspan", "align", "scope"}),
    "col": frozenset({"span"}), "colgroup": frozenset({"span"}),
    "ol": frozenset({"start", "reversed", "type"}), "li": frozenset({"value"}),
    "details": frozenset({"open"}), "time": frozenset({"datetime"}),
}
#: Embeds a lab may allow by name (``allow_embeds``): the address each must start with.
EMBEDS: dict[str, tuple[str, ...]] = {
    "youtube": ("https://www.youtube-nocookie.com/embed/", "https://www.youtube.com/embed/"),
    "vimeo": ("https://player.vimeo.com/video/",),
    "openstreetmap": ("https://www.openstreetmap.org/export/embed.html?",),
    "google-maps": ("https://www.google.com/maps/embed?",),
}
EMBED_ATTRIBUTES = frozenset({"src", "width", "height", "title", "allow", "allowfullscreen",
                              "loading", "referrerpolicy"})
#: Schemes of links (``labhandbook:`` is the handbook's own, resolved into relative links).
LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_VOID = frozenset({"br", "col", "hr", "img", "wbr"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")

#: Largest file a page may include or show (an image, a CSV table, included text).
MAX_FILE_BYTES = 5 * 1024 * 1024
#: Largest .bib file read, and longest field value (a title, an abstract) of an entry: a file
#: beyond either is left out of the build (a 10 MB title would be printed on several pages).
MAX_BIB_BYTES = 16 * 1024 * 1024
MAX_FIELD_CHARS = 10_000
#: Folders of a handbook that are not content (besides hidden ones and virtual environments).
NOT_CONTENT = frozenset({"_build", "node_modules", "__pycache__"})
#: Longest ``:filter:`` of a ``{bibliography}``, and longest pattern (``%``) in it.
MAX_FILTER_CHARS = 1000
MAX_PATTERN_CHARS = 200
#: Pieces of raw HTML (tags, blocks) a page may hold: each is sanitized on its own, and a
#: page of 100,000 tags took minutes. Problems listed per page (the rest in one line).
MAX_RAW_HTML = 2000
MAX_PROBLEMS_PER_PAGE = 50

WHAT_A_PAGE_MAY_CONTAIN = "see “What a page may contain” in CONTRIBUTING.md"


def scheme_of(url: str) -> str:
    """The scheme of ``url`` as a browser reads it (``java\\tscript:`` is ``javascript``)."""
    match = _SCHEME.match(_INVISIBLE.sub("", url))
    return match.group(1).lower() if match else ""


def _is_local(url: str) -> bool:
    """A relative address on the site itself (no scheme, not ``//host``)."""
    flat = _INVISIBLE.sub("", url).replace("\\", "/")
    return not scheme_of(url) and not flat.startswith("//")


@dataclass(frozen=True)
class HtmlPolicy:
    """The allow-list with the embeds a lab allowed, and its nh3 cleaner."""

    embeds: tuple[str, ...] = ()

    @property
    def tags(self) -> frozenset[str]:
        return ALLOWED_TAGS | ({"iframe"} if self.embeds else set())

    def attributes(self, tag: str) -> frozenset[str]:
        extra = EMBED_ATTRIBUTES if tag == "iframe" and self.embeds else frozenset()
        return GLOBAL_ATTRIBUTES | TAG_ATTRIBUTES.get(tag, frozenset()) | extra

    def embed_prefixes(self) -> tuple[str, ...]:
        return tuple(p for name in self.embeds for p in EMBEDS[name])

    def value_problem(self, tag: str, attr: str, value: str) -> tuple[str, str] | None:
        """Why the value of an allowed attribute is refused: ``(message, hint)``, or None."""
        if tag == "a" and attr == "href":
            if scheme_of(value) and scheme_of(value) not in LINK_SCHEMES:
                return (f"raw HTML here links to a `{scheme_of(value)}:` address",
                        "link to an https:// address or a page of the handbook")
        elif tag == "a" and attr == "target" and value != "_blank":
            return ("raw HTML here opens a link in a named frame",
                    "leave out `target`, or write target=\"_blank\"")
        elif tag == "img" and attr == "src" and not _is_local(value):
            return ("raw HTML here loads an image from another site or a `data:` address",
                    "add the image file to the handbook and give its relative path")
        elif tag == "iframe" and attr == "src" and not value.startswith(self.embed_prefixes()):
            return ("raw HTML here embeds an address that is not an allowed embed",
                    f"embed only {', '.join(self.embeds)} (`allow_embeds` in conf.py), with "
                    f"an address starting {' or '.join(self.embed_prefixes())}")
        return None

    def _filter(self, tag: str, attr: str, value: str) -> str | None:
        if attr == "rel" and tag == "a":
            return value
        return None if self.value_problem(tag, attr, value) else value

    @property
    def cleaner(self) -> Any:
        return _cleaner(self)


@lru_cache(maxsize=8)
def _cleaner(policy: HtmlPolicy) -> Any:
    tags = set(policy.tags)
    return nh3.Cleaner(
        tags=tags, clean_content_tags={"script", "style"},
        attributes={tag: set(policy.attributes(tag)) for tag in tags},
        attribute_filter=policy._filter, strip_comments=True,
        generic_attribute_prefixes={"aria-"}, url_schemes=set(LINK_SCHEMES))


class _Tags(HTMLParser):
    """Start tags (with their line) and the elements left open, as Python's parser reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[int, str, list[tuple[str, str | None]]]] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append("".join(data.split()))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((self.getpos()[0] - 1, tag, attrs))
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((self.getpos()[0] - 1, tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]


def _tags(markup: str) -> _Tags:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    return parser


_END_TAGS = re.compile(r"(?:\s*</([a-zA-Z][a-zA-Z0-9]*)\s*>)+\s*")
_END_TAG = re.compile(r"</([a-zA-Z][a-zA-Z0-9]*)\s*>")


def judge_html(markup: str, policy: HtmlPolicy = HtmlPolicy()
               ) -> tuple[str, list[tuple[int, str, str]]]:
    """The sanitized ``markup`` and what the sanitizer dropped: ``(line offset, message, hint)``.

    ``markup`` may be a fragment (an inline ``<span>``, a block that opens a ``<div>`` closed
    further down the page): elements left open stay open, stray end tags of allowed elements
    stay, everything else is what nh3 makes of it.
    """
    if _END_TAGS.fullmatch(markup):
        names = [m.group(1).lower() for m in _END_TAG.finditer(markup)]
        return "".join(f"</{n}>" for n in names if n in policy.tags), []
    parsed = _tags(markup)
    problems: dict[int, tuple[str, str]] = {}
    expected: Counter[tuple[str, tuple[str, ...]]] = Counter()
    for line, tag, attrs in parsed.tags:
        if tag not in policy.tags:
            what = ("holds a `<script>` element" if tag == "script"
                    else f"has a `<{tag}>` element, which pages may not contain")
            hint = ("embed videos or maps by name: `allow_embeds` in the `labhandbook` setting "
                    "of conf.py" if tag in ("iframe", "object", "embed", "video") else
                    f"write it in Markdown; {WHAT_A_PAGE_MAY_CONTAIN}")
            problems.setdefault(line, (f"raw HTML here {what}", hint))
            continue
        kept = []
        for attr, value in attrs:
            if attr.startswith("on"):
                problems.setdefault(line, (f"raw HTML here has the event handler `{attr}=`",
                                           "remove it: pages may not run script"))
            elif attr not in policy.attributes(tag) and not attr.startswith("aria-"):
                problems.setdefault(line, (
                    f"raw HTML here has the attribute `{attr}` on `<{tag}>`, which pages may "
                    "not use", f"remove it; {WHAT_A_PAGE_MAY_CONTAIN}"))
            elif (why := policy.value_problem(tag, attr, value or "")) is not None:
                problems.setdefault(line, why)
            else:
                kept.append(attr)
        expected[(tag, tuple(sorted(set(kept))))] += 1
    closers = "".join(f"</{t}>" for t in reversed(parsed.open) if t in policy.tags)
    clean = policy.cleaner.clean(markup + closers)
    if closers and clean.endswith(closers):
        clean = clean[: -len(closers)]
    # What the sanitizer (an HTML5 parser, as browsers read it) kept must be what Python's
    # parser saw and the allow-list let through: the same elements, attributes and text.
    seen = _tags(clean)
    got: Counter[tuple[str, tuple[str, ...]]] = Counter(
        (tag, tuple(sorted({a for a, _ in attrs} - {"rel"}))) for _, tag, attrs in seen.tags)
    for key in list(got):
        if key[0] == "tbody" and not any(k[0] == "tbody" for k in expected):
            del got[key]  # the HTML tree builder adds it to a table
    if (got != expected or "".join(seen.text) != "".join(parsed.text)) and not problems:
        problems[0] = ("raw HTML here is read differently by browsers and by the handbook's "
                       "checks (a broken comment, quote or tag?)",
                       "write plain, well-formed HTML, or Markdown")
    return clean, sorted((line, m, h) for line, (m, h) in problems.items())


# --- content: where pages may read files from -------------------------------------------------


def content_file(root: Path, path: str | Path) -> Path | None:
    """``path`` with its symlinks resolved when it is a file of the handbook's content
    (inside ``root``, in no hidden folder, not build output or a virtual environment)."""
    real_root = Path(root).resolve()
    try:
        real = Path(path).resolve()
        rel = real.relative_to(real_root)
    except (OSError, ValueError, RuntimeError):
        return None
    if any(part.startswith(".") for part in rel.parts) or (rel.parts and
                                                            rel.parts[0] in NOT_CONTENT):
        return None
    folder = real.parent
    while folder != real_root and real_root in folder.parents:
        if (folder / "pyvenv.cfg").exists():
            return None
        folder = folder.parent
    return real


def file_problem(root: Path, path: str | Path, what: str) -> tuple[str, str] | None:
    """Why a page may not read ``path`` (``what``: "the included file"): message and hint."""
    real = content_file(root, path)
    shown = os.path.relpath(path, root) if Path(path).is_absolute() else str(path)
    if real is None:
        return (f"{what} `{shown}` is outside the handbook's content",
                "keep the file in the handbook's folders (not a link to a file elsewhere, not "
                "in a hidden folder or the build output)")
    if not real.exists():
        return None  # Sphinx and docutils report missing files themselves
    if not real.is_file():
        return (f"{what} `{shown}` is not a file", "name a file of the handbook")
    if real.stat().st_size > MAX_FILE_BYTES:
        return (f"{what} `{shown}` is larger than {MAX_FILE_BYTES // 2**20} MB",
                "make it smaller, or link to it on another site")
    return None


#: The first bytes of the raster formats a photo may be in (checked by content, not name).
RASTER_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF87a": "GIF",
                b"GIF89a": "GIF"}
MAX_PHOTO_BYTES = 5 * 1024 * 1024


def photo_problem(root: Path, path: Path) -> tuple[str, str, str] | None:
    """Why ``path`` cannot be a person's photo: ``(message, hint, code)``, or None. A photo is
    a PNG, JPEG, GIF or WebP file of the content, at most 5 MB (an SVG could run script)."""
    hint = ("add the image file next to the page (or under _static/) and give its path "
            "relative to the page, or remove `photo`")
    real = content_file(root, path)
    if real is None:
        return ("is outside the handbook", hint, "registry.missing-photo")
    if not real.is_file():
        return ("does not exist", hint, "registry.missing-photo")
    if real.stat().st_size > MAX_PHOTO_BYTES:
        return (f"is larger than {MAX_PHOTO_BYTES // 2**20} MB",
                "save it smaller (a few hundred pixels wide is enough)", "registry.photo")
    with real.open("rb") as f:
        head = f.read(12)
    if not (any(head.startswith(m) for m in RASTER_MAGIC) or
            (head[:4] == b"RIFF" and head[8:12] == b"WEBP")):
        return ("is not a PNG, JPEG, GIF or WebP image",
                "save the photo as .jpg or .png (SVG and other formats are not shown)",
                "registry.photo")
    return None


def outside_links(root: Path, skip: Iterable[str] = ()) -> list[Problem]:
    """Symbolic links in the handbook that point outside its content (the build would copy or
    read their targets): ``_static/``, ``bib/``, pages, guides."""
    root = Path(root)
    skip = set(skip)
    problems = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        rel_here = here.relative_to(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in NOT_CONTENT
                         and (rel_here / d).as_posix() not in skip
                         and not (here / d / "pyvenv.cfg").exists())
        for name in sorted([*dirs, *files]):
            path = here / name
            if path.is_symlink() and content_file(root, path) is None:
                rel = path.relative_to(root).as_posix()
                problems.append(Problem(
                    rel, 1, f"`{rel}` is a link to a file outside the handbook's content",
                    "replace the link by the file itself", code="safety.outside"))
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
    return problems


# --- recording and reporting refusals ---------------------------------------------------------


def _source_path(env: BuildEnvironment, source: str | None) -> str:
    """The file of ``source`` relative to the handbook (the page itself when unknown)."""
    if not source or not Path(source).is_absolute():
        return env.doc2path(env.docname, False).as_posix()
    return Path(os.path.relpath(source, env.srcdir)).as_posix()


def refuse(env: BuildEnvironment, source: str | None, line: int | None, message: str,
           hint: str, code: str) -> None:
    """Record (and log at its file and line) one thing the policy refused in the current page;
    past :data:`MAX_PROBLEMS_PER_PAGE`, one last line says there are more."""
    problem = Problem(_source_path(env, source), line or 1, message, hint, code=code)
    store: dict[str, list[Problem]] = getattr(env, SAFETY_ATTR)
    mine = store.setdefault(env.docname, [])
    if len(mine) >= MAX_PROBLEMS_PER_PAGE:
        if mine[-1].code != "safety.more":
            mine.append(Problem(problem.path, problem.line, "the page has more problems like "
                                "these, from here on", "fix those above and run the check "
                                "again", code="safety.more"))
            _log(env, mine[-1])
    elif problem not in mine:
        mine.append(problem)
        _log(env, problem)


def _log(env: BuildEnvironment, problem: Problem) -> None:
    logger.error(problem.text, location=f"{Path(env.srcdir, problem.path)}:{problem.line}",
                 type="labhandbook", subtype=problem.code)


class SafetyCollector(EnvironmentCollector):
    """Keeps each document's refusals across incremental and parallel reads."""

    def clear_doc(self, app: Sphinx, env: BuildEnvironment, docname: str) -> None:
        getattr(env, SAFETY_ATTR).pop(docname, None)

    def merge_other(self, app: Sphinx, env: BuildEnvironment, docnames: set[str],
                    other: BuildEnvironment) -> None:
        mine, theirs = getattr(env, SAFETY_ATTR), getattr(other, SAFETY_ATTR)
        for docname in docnames:
            if docname in theirs:
                mine[docname] = theirs[docname]

    def process_doc(self, app: Sphinx, doctree: nodes.document) -> None:
        pass


def stored_problems(env: BuildEnvironment) -> list[Problem]:
    return sorted(p for docname, ps in getattr(env, SAFETY_ATTR, {}).items()
                  if docname in env.all_docs for p in ps)


# --- the doctree pass -------------------------------------------------------------------------


class TrustedHTML(nodes.raw):
    """Raw HTML written by the handbook's own code (charts, the filter bar): not sanitized.
    A node class, so that nothing a page writes can claim it."""


def _visit_trusted(self: Any, node: nodes.Element) -> None:
    self.visit_raw(node)


def _depart_trusted(self: Any, node: nodes.Element) -> None:
    pass


def _line(node: nodes.Node) -> tuple[str | None, int | None]:
    source, line = get_source_line(node)
    parent = node.parent
    while line is None and parent is not None:
        source, line = get_source_line(parent)
        parent = parent.parent
    return source, line


class _Lines:
    """Exact lines where docutils and MyST give only a paragraph's first line (inline HTML) or
    none (``<meta>`` from front matter or ``.. meta::``): found in the text of the page's files.
    Each search moves forward from the last place found and stays within the paragraph, so a
    page costs one pass over its text, however many parts it has."""

    def __init__(self, page: str) -> None:
        self.page = page
        self.texts: dict[str, tuple[str, list[int]]] = {}
        self.lowered: dict[str, str] = {}
        self.meta_at: dict[str, int] = {}
        self.cursors: dict[int, tuple[int, int]] = {}

    def _text(self, source: str) -> tuple[str, list[int]]:
        if source not in self.texts:
            try:
                text = Path(source).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                text = ""
            starts = [0, *(m.end() for m in re.finditer("\n", text))]
            self.texts[source] = (text, starts)
        return self.texts[source]

    def inline(self, raw: nodes.raw, source: str | None, line: int | None) -> int | None:
        """The line of an inline ``raw`` in a paragraph that starts at ``line``."""
        para = raw.parent
        if not isinstance(para, nodes.TextElement) or raw.line not in (None, para.line) or \
                not line or raw.get(SUBSTITUTED):
            return line
        text, starts = self._text(source or self.page)
        if line > len(starts):
            return line
        if id(para) not in self.cursors:  # where the paragraph's text is: its lines
            last = min(len(starts), line + para.astext().count("\n") + 1)
            self.cursors[id(para)] = (starts[line - 1],
                                      starts[last] if last < len(starts) else len(text))
        start, end = self.cursors[id(para)]
        found = text.find(raw.astext(), start, end)
        if found < 0:  # not written as is: stop looking in this paragraph
            self.cursors[id(para)] = (end, end)
            return line
        self.cursors[id(para)] = (found + len(raw.astext()), end)
        return bisect_right(starts, found)

    def meta(self, source: str | None, words: Iterable[str]) -> int | None:
        """The next line of the page's own file that names one of ``words`` (``http-equiv``)."""
        source = source or self.page
        text, starts = self._text(source)
        low = self.lowered.setdefault(source, text.lower())
        at = self.meta_at.get(source, 0)
        found = min((i for i in (low.find(w, at) for w in words) if i >= 0), default=-1)
        if found < 0:
            return None
        self.meta_at[source] = starts[bisect_right(starts, found)] \
            if bisect_right(starts, found) < len(starts) else len(text)
        return bisect_right(starts, found)


class _Replacements:
    """Nodes replaced all at once, one pass per parent (``replace_self`` looks each node up
    in its parent's list: 10,000 refused links of one paragraph took minutes)."""

    def __init__(self) -> None:
        self.parents: dict[int, tuple[nodes.Element, dict[int, list[nodes.Node]]]] = {}

    def add(self, old: nodes.Element, *new: nodes.Node) -> None:
        if new and isinstance(new[0], nodes.Element):
            new[0].update_basic_atts(old)
        parent = old.parent
        self.parents.setdefault(id(parent), (parent, {}))[1][id(old)] = list(new)

    def apply(self) -> None:
        for parent, news in self.parents.values():
            children: list[nodes.Node] = []
            for child in parent.children:
                for node in news.get(id(child), [child]):
                    node.parent = parent
                    children.append(node)
            parent.children = children


def _set_text(raw: nodes.raw, text: str) -> None:
    """The sanitized markup in place of ``raw``'s (in place: see :class:`_Replacements`)."""
    raw.clear()
    raw.append(nodes.Text(text))
    raw["format"] = "html"


def check_doctree(app: Sphinx, doctree: nodes.document) -> None:
    """Apply the policy to what the page produced: raw HTML, links, images, downloads, meta."""
    from .config import get_config

    env = app.env
    policy = HtmlPolicy(get_config(app).allow_embeds)
    lines = _Lines(str(env.doc2path(env.docname)))
    replace = _Replacements()
    judged = 0
    for raw in list(doctree.findall(nodes.raw)):
        if isinstance(raw, TrustedHTML) or "html" not in raw.get("format", "").split():
            continue
        judged += 1
        if judged > MAX_RAW_HTML:
            if judged == MAX_RAW_HTML + 1:
                source, line = _line(raw)
                refuse(env, source, lines.inline(raw, source, line),
                       f"the page has more than {MAX_RAW_HTML} pieces of raw HTML; from here "
                       "on they are left out", f"write it in Markdown; {WHAT_A_PAGE_MAY_CONTAIN}",
                       "html.too-much")
            _set_text(raw, "")
            continue
        clean, found = judge_html(raw.astext(), policy)
        source, line = _line(raw)
        line = lines.inline(raw, source, line)
        for offset, message, hint in found:
            refuse(env, source, (line or 1) + offset, message, hint, "html.not-allowed")
        _set_text(raw, clean)
    for ref in list(doctree.findall(nodes.reference)):
        uri = ref.get("refuri", "")
        scheme = scheme_of(uri)
        if scheme and scheme not in LINK_SCHEMES and scheme != "labhandbook":
            source, line = _line(ref)
            refuse(env, source, line, f"the page links to a `{scheme}:` address",
                   "link to an https:// address or a page of the handbook", "html.link")
            replace.add(ref, nodes.inline("", "", *ref.children))
    for meta in list(doctree.findall(nodes.meta)):
        if meta.get("http-equiv") or meta.get("charset"):
            # MyST gives front matter's `html_meta` no line, docutils' `meta` a wrong one.
            source, line = get_source_line(meta)
            line = lines.meta(source, ("http-equiv", "charset")) or line
            refuse(env, source, line, "the page sets `<meta http-equiv>` (a redirect, a header)",
                   "remove it: a page may set only a description and keywords", "html.meta")
            replace.add(meta)
    for image in list(doctree.findall(nodes.image)):
        uri = image.get("uri", "")
        source, line = _line(image)
        if not _is_local(uri):
            why = ("the image is loaded from another site" if scheme_of(uri) != "data"
                   else "the image is a `data:` address")
            refuse(env, source, line, why, "add the image file to the handbook and give its "
                   "relative path", "safety.image")
            replace.add(image, nodes.inline("", image.get("alt", "")))
            continue
        problem = _path_problem(env, uri.replace("*", "x"), "the image")
        if problem:
            refuse(env, source, line, *problem, code="safety.outside")
            replace.add(image, nodes.inline("", image.get("alt", "")))
    from sphinx import addnodes

    for download in list(doctree.findall(addnodes.download_reference)):
        target = download.get("reftarget", "")
        if "://" in target:
            continue
        problem = _path_problem(env, target, "the download")
        if problem:
            source, line = _line(download)
            refuse(env, source, line, *problem, code="safety.outside")
            replace.add(download, nodes.inline("", download.astext()))
    replace.apply()


def _path_problem(env: BuildEnvironment, target: str, what: str) -> tuple[str, str] | None:
    _, path = env.relfn2path(target, env.docname)
    return file_problem(Path(env.srcdir), path, what)


# --- directives that read files ---------------------------------------------------------------


class _Guard(SphinxDirective):
    """Refuse a path outside the content before anything reads it."""

    def refused(self, target: str, what: str, *, relative_to_page: bool = False) -> bool:
        if relative_to_page:
            path: Path = Path(self.state.document.current_source or "").parent / target
        else:
            path = Path(self.env.relfn2path(target, self.env.docname)[1])
        problem = file_problem(Path(self.env.srcdir), path, what)
        if problem:
            self.refuse(*problem, code="safety.outside")
        return problem is not None

    def refuse(self, message: str, hint: str, code: str) -> None:
        source, line = self.get_source_info()
        refuse(self.env, source, line, message, hint, code)


class SafeRaw(Raw, _Guard):
    """``raw``: only its content, never ``:file:`` or ``:url:``."""

    def run(self) -> list[nodes.Node]:
        if "file" in self.options or "url" in self.options:
            self.refuse("raw HTML is read from a file or an address here",
                        "write the markup into the page (it is then checked like any raw "
                        "HTML), or use Markdown", "safety.raw-file")
            return []
        return super().run()


class SafeCSVTable(CSVTable, _Guard):
    """``csv-table``: ``:file:`` inside the content, never ``:url:``."""

    def run(self) -> list[nodes.Node]:
        if "url" in self.options:
            self.refuse("the table is read from an address here",
                        "add the CSV file to the handbook and use `:file:`", "safety.outside")
            return []
        target = self.options.get("file")
        if target and (self.refused(target, "the table file") or (
                not target.startswith("/") and
                self.refused(target, "the table file", relative_to_page=True))):
            return []
        return super().run()


class SafeLiteralInclude(LiteralInclude, _Guard):
    """``literalinclude``: the file (and a ``:diff:`` file) inside the content."""

    def run(self) -> list[nodes.Node]:
        for target in (self.arguments[0], self.options.get("diff")):
            if target and self.refused(target, "the included file"):
                return []
        return super().run()


class SafeInclude(_Guard):
    """``include``: the file inside the content. Not a subclass of docutils' ``Include`` (MyST
    would bypass ``run`` for those); it hands over to Sphinx's ``include`` in reStructuredText
    and to MyST's own include in Markdown."""

    required_arguments = 1
    final_argument_whitespace = True
    has_content = False
    option_spec = {**SphinxInclude.option_spec, "relative-images": directives.flag,
                   "relative-docs": directives.path,
                   "heading-offset": directives.nonnegative_int}

    def run(self) -> list[nodes.Node]:
        target = "".join(s.strip() for s in self.arguments[0].splitlines())
        if not (target.startswith("<") and target.endswith(">")) and \
                self.refused(target, "the included file"):
            return []
        from myst_parser.mocking import MockIncludeDirective, MockState

        if isinstance(self.state, MockState):
            return MockIncludeDirective(
                self.state._renderer, name=self.name, klass=SphinxInclude,
                arguments=self.arguments, options=self.options, body=list(self.content),
                lineno=self.lineno).run()
        return list(SphinxInclude(self.name, self.arguments, self.options, self.content,
                                  self.lineno, self.content_offset, self.block_text, self.state,
                                  self.state_machine).run())


# --- bibliography filters: patterns that run in linear time --------------------------------

#: A pattern of ``:filter:`` that Python's backtracking ``re`` matches in linear time: plain
#: text (metacharacters escaped with a backslash), alternatives joined by ``|``, each maybe
#: anchored by ``^`` and ``$``. No group, class, repetition or wildcard, so nothing backtracks.
#: (Alternatives start with different characters: this pattern is itself linear.)
_PLAIN = r"\^?(?:[^.^$*+?{}\[\]()|\\]|\\[^A-Za-z0-9])*\$?"
PLAIN_PATTERN = re.compile(f"{_PLAIN}(?:\\|{_PLAIN})*")


def filter_problem(expression: str) -> str | None:
    """Why a ``{bibliography}`` ``:filter:`` from a page is refused, or None.

    sphinxcontrib-bibtex evaluates ``field % "pattern"`` with Python's ``re.search``, which
    backtracks: ``title % "(a+)+$"`` on a long title runs for hours. So a pattern must be a
    quoted text of :data:`PLAIN_PATTERN`, never a field's value (a .bib file is page content
    too); the rest of the expression language (``==``, ``in``, ``and``...) is linear.
    """
    import ast

    if len(expression) > MAX_FILTER_CHARS:
        return f"the `:filter:` here is longer than {MAX_FILTER_CHARS} characters"
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "the `:filter:` here is not a valid expression"
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            pattern = node.right
            if not (isinstance(pattern, ast.Constant) and isinstance(pattern.value, str)):
                return "the `:filter:` here matches a pattern that is not a quoted text"
            if len(pattern.value) > MAX_PATTERN_CHARS or \
                    not PLAIN_PATTERN.fullmatch(pattern.value):
                shown = pattern.value if len(pattern.value) <= 40 else pattern.value[:39] + "…"
                return (f"the `:filter:` pattern `{shown}` is more than plain text (a pattern "
                        "such as `(a+)+$` can take hours to match a long title)")
    return None


class SafeBibliography(BibliographyDirective, _Guard):
    """``bibliography``: a ``:filter:`` only with patterns that run in linear time."""

    def run(self) -> list[nodes.Node]:
        if "filter" in self.options and (why := filter_problem(self.options["filter"])):
            self.refuse(why, "match plain text of at most "
                        f"{MAX_PATTERN_CHARS} characters, e.g. `author % \"Wu, Lijun\"` or "
                        "`title % \"^graph|network$\"` (only `^`, `$` and `|` are special), or "
                        "test a word with `\"graphs\" in keywords`", "safety.filter")
            return []
        return list(super().run())


# --- substitutions: plain text ----------------------------------------------------------------


def _safe_parser() -> type:
    from myst_parser.config.main import TopmatterReadError, merge_file_level, read_topmatter
    from myst_parser.mdit_to_docutils.base import token_line
    from myst_parser.mdit_to_docutils.sphinx_ import SphinxRenderer
    from myst_parser.parsers.mdit import create_md_parser
    from myst_parser.parsers.sphinx_ import MystParser
    from myst_parser.warnings_ import create_warning

    class PlainSubstitutions(SphinxRenderer):  # type: ignore[misc]
        """``{{ name }}`` is replaced by the substitution ``name``; nothing else is run."""

        def render_substitution(self, token: Any, inline: bool) -> None:
            name = token.content.strip()
            line = token_line(token, 1)
            if name not in self.md_config.substitutions:
                shown = name if len(name) <= 60 else name[:59] + "…"
                refuse(self.sphinx_env, self.document["source"], line,
                       f"`{{{{ {shown} }}}}` is not the name of a substitution",
                       "write `{{ name }}` with a name from `myst_substitutions` in conf.py or "
                       "the page's `myst: substitutions:` (expressions are not run)",
                       "safety.substitution")
                return
            before = len(self.current_node.children)
            super().render_substitution(token, inline)
            for node in self.current_node.children[before:]:
                for raw in node.findall(nodes.raw):  # MyST numbers them one line down
                    raw.line = line
                    raw[SUBSTITUTED] = True  # not written as such in the page

    class SafeMystParser(MystParser):  # type: ignore[misc]
        """MyST's parser with :class:`PlainSubstitutions` (its ``parse``, renderer swapped)."""

        def parse(self, inputstring: str, document: nodes.document) -> None:
            config = document.settings.env.myst_config
            try:
                topmatter = read_topmatter(inputstring)
            except TopmatterReadError:
                pass
            else:
                if topmatter:
                    def warning(wtype: Any, msg: str) -> None:
                        create_warning(document, msg, wtype, line=1, append_to=document)
                    config = merge_file_level(config, topmatter, warning)
            parser = create_md_parser(config, PlainSubstitutions)
            parser.options["document"] = document
            parser.render(inputstring)

    return SafeMystParser


# --- check: the same problems, found by reading the pages with Sphinx -------------------------


def read_problems(root: Path) -> list[Problem]:
    """What the policy refuses in the handbook at ``root``: its pages read by Sphinx's ``dummy``
    builder (nothing written next to the sources), as the build reads them."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    with tempfile.TemporaryDirectory(prefix="labhandbook-check-") as tmp, \
            patch_docutils(root), docutils_namespace():
        app = Sphinx(root, root, Path(tmp, "out"), Path(tmp, "doctrees"), "dummy",
                     status=None, warning=io.StringIO(), freshenv=True, keep_going=True)
        app.builder.read()  # the read phase only: the policy runs when pages are read
        return stored_problems(app.env)


# --- wiring ----------------------------------------------------------------------------------


def _on_builder_inited(app: Sphinx) -> None:
    env = app.env
    if not hasattr(env, SAFETY_ATTR):
        setattr(env, SAFETY_ATTR, {})


def _leave_out_links(app: Sphinx, config: Config) -> None:
    """Links to files outside the content: reported, and never read, copied or published
    (at ``config-inited``, before ``sources.py`` decides: the configuration is then final)."""
    from .environment import report

    root = Path(app.srcdir)
    real_root = root.resolve()
    skip = [Path(d).resolve().relative_to(real_root).as_posix()
            for d in (app.outdir, app.doctreedir) if real_root in Path(d).resolve().parents]
    problems = outside_links(root, skip)
    if not problems:
        return
    report(app, problems)
    bad = [p.path for p in problems]
    patterns = list(bad)
    for static in [*config.html_static_path, *config.html_extra_path]:
        base = Path(static).as_posix().rstrip("/") + "/"
        inside = [p[len(base):] for p in bad if p.startswith(base)]
        patterns += inside + [f"./{p}" for p in inside]  # copy_asset matches "./name" at the top
    config.exclude_patterns = [*config.exclude_patterns, *patterns]
    if config.bibtex_bibfiles:
        config.bibtex_bibfiles = [f for f in config.bibtex_bibfiles if f not in bad]


def _on_read_docs(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    app._labhandbook_read = set(docnames)  # type: ignore[attr-defined]


def _on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    """Fail the build while any page holds a refused part, also one not re-read this time
    (its problems are logged again)."""
    if exception is not None:
        return
    read = getattr(app, "_labhandbook_read", set())
    for docname, problems in sorted(getattr(app.env, SAFETY_ATTR, {}).items()):
        if docname in app.env.all_docs and docname not in read:
            for problem in problems:
                _log(app.env, problem)
    if stored_problems(app.env):
        app.statuscode = 1


def setup_safety(app: Sphinx) -> None:
    app.add_node(TrustedHTML, override=True,
                 **{fmt: (_visit_trusted, _depart_trusted)
                    for fmt in ("html", "latex", "text", "man", "texinfo")})
    for name, directive in (("raw", SafeRaw), ("csv-table", SafeCSVTable),
                            ("literalinclude", SafeLiteralInclude), ("include", SafeInclude),
                            ("bibliography", SafeBibliography)):
        app.add_directive(name, directive, override=True)
    app.add_source_parser(_safe_parser(), override=True)
    # Before the image and download collectors (500) note files to copy.
    app.connect("doctree-read", check_doctree, priority=100)
    app.connect("builder-inited", _on_builder_inited, priority=300)
    app.connect("config-inited", _leave_out_links, priority=800)
    app.connect("env-before-read-docs", _on_read_docs)
    app.connect("build-finished", _on_build_finished)
    app.add_env_collector(SafetyCollector)

