"""``labhandbook check``: everything the build would reject, found without building.

Reads ``conf.py`` (as Sphinx does), the people and research pages (the registry) and the BibTeX
library, and returns every problem located to its file and line. Nothing is written.
"""

from __future__ import annotations

import html
import re
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util.tags import Tags

from .bibcheck import check_library_and_count
from .config import CONFIG_NAME, LabConfig
from .problems import Problem
from .registry import load_registry

#: Problems that only follow from a page that could not be read: a research page with a YAML
#: error hides its keywords and its slug, a broken person page hides the person's names and slug.
_CASCADES = {
    "research": ("bib.unknown-keyword",),
    "people": ("bib.no-member", "bib.name-variant"),
}
_REFERENCES = {"research": "registry.unknown-area", "people": "registry.unknown-person"}


@dataclass
class CheckResult:
    """The problems found and what was read, for the one-line summary."""

    problems: list[Problem] = field(default_factory=list)
    people: int = 0
    areas: int = 0
    entries: int = 0
    bib_files: int = 0
    hidden: int = 0  #: library problems left out because they follow from a broken page

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


class ConfError(Exception):
    """``conf.py`` cannot be read; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def read_lab_config(root: Path) -> LabConfig:
    """The ``labhandbook`` setting of ``root/conf.py``, read the way Sphinx reads it."""
    return read_conf(root)[0]


def read_conf(root: Path) -> tuple[LabConfig, Config]:
    """The ``labhandbook`` setting and Sphinx's view of ``root/conf.py`` (for the page scan)."""
    conf = root / "conf.py"
    if not conf.is_file():
        raise ConfError(Problem("conf.py", 1, f"there is no conf.py in {root}",
                                "run the command in the handbook's folder, or pass --root",
                                code="conf.missing"))
    try:
        config = Config.read(root, overrides={}, tags=Tags())
        config.add(CONFIG_NAME, {}, "env", types=frozenset({dict}))
        for name in ("html_static_path", "html_extra_path", "myst_enable_extensions"):
            config.add(name, [], "env", ())
        raw = config[CONFIG_NAME]
        if not isinstance(raw, dict):
            raise ConfigError(f"conf.py: `{CONFIG_NAME}` must be a dict — "
                              f"write {CONFIG_NAME} = {{\"lab_name\": ...}}")
        return LabConfig.from_dict(dict(raw)), config
    except ConfigError as err:
        raise ConfError(_conf_problem(conf, err)) from None


def _conf_problem(conf: Path, err: ConfigError) -> Problem:
    cause = err.__cause__
    if isinstance(cause, SyntaxError):
        return Problem("conf.py", cause.lineno or 1,
                       f"conf.py is not valid Python ({cause.msg})",
                       "fix the line (a missing quote, comma or bracket?)", code="conf.syntax")
    if cause is not None:
        line = 1
        for frame in traceback.extract_tb(cause.__traceback__):
            if Path(frame.filename).name == "conf.py":
                line = frame.lineno or 1
        return Problem("conf.py", line,
                       f"conf.py fails: {type(cause).__name__}: {cause}",
                       "fix this line of conf.py", code="conf.error")
    message = str(err).strip().splitlines()[0].removeprefix("conf.py: ")
    text, _, hint = message.partition(" — ")
    return Problem("conf.py", _line_of(conf, CONFIG_NAME), text,
                   hint or "see the `labhandbook` setting in conf.py", code="conf.invalid")


def _line_of(conf: Path, name: str) -> int:
    try:
        for i, line in enumerate(conf.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith(name):
                return i
    except (OSError, UnicodeDecodeError):
        pass
    return 1


def hide_cascades(problems: list[Problem], lab: LabConfig) -> tuple[list[Problem], int]:
    """Leave out the problems that are only consequences of a page that failed to load."""
    broken: dict[str, set[str]] = {"research": set(), "people": set()}
    for p in problems:
        if p.severity != "error" or not p.code.startswith(("frontmatter.", "page.")):
            continue
        for kind, folder in (("research", lab.research_dir), ("people", lab.people_dir)):
            if p.path.startswith(folder + "/"):
                broken[kind].add(Path(p.path).stem)

    def hidden(p: Problem) -> bool:
        for kind, slugs in broken.items():
            if slugs and p.code in _CASCADES[kind]:
                return True
            if p.code == _REFERENCES[kind] and any(f"`{slug}`" in p.message for slug in slugs):
                return True
        return False

    kept = [p for p in problems if not hidden(p)]
    return kept, len(problems) - len(kept)


# --- raw HTML that runs script, in any page ----------------------------------------------------

#: ``<script`` as a tag (tag names cannot be written with entities).
_SCRIPT_TAG = re.compile(r"<script(?=[\s/>]|$)", re.IGNORECASE)
#: ``onclick=``, ``onerror =``, ... (an attribute name: not preceded by a letter, digit or ``-``).
_HANDLER = re.compile(r"(?<![\w-])(on[a-z]+)\s*=", re.IGNORECASE)
#: Addresses that run script; matched after entities are decoded and whitespace removed, as a
#: browser reads an attribute (``java&#x09;script:`` is ``javascript:``).
_SCRIPT_URL = re.compile(r"javascript:|vbscript:|data:text/html", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;?)")
#: Directives whose content is not Markdown.
_NOT_MARKDOWN = {"code", "code-block", "sourcecode", "code-cell", "literalinclude", "math",
                 "toctree", "csv-table", "mermaid", "graphviz", "publications", "bibliography"}
#: Characters of a file name that would end a string of the page's HTML or inline script.
_UNSAFE_NAME = re.compile(r"[\"'<>\\&`\x00-\x1f]")
_RST_RAW = re.compile(r"^(\s*)\.\.\s+raw::\s*(.*)$")
_DEFAULT_EXTENSIONS = ("colon_fence", "deflist")


def _decoded(text: str, drop_space: bool) -> tuple[str, list[int]]:
    """``text`` with entities decoded (and whitespace dropped), and where each char came from."""
    chars: list[str] = []
    where: list[int] = []

    def add(part: str, start: int, single: bool) -> None:
        for i, ch in enumerate(part):
            if drop_space and (ch.isspace() or ord(ch) < 32):
                continue
            chars.append(ch)
            where.append(start if single else start + i)

    pos = 0
    for m in _ENTITY.finditer(text):
        add(text[pos : m.start()], pos, False)
        add(html.unescape(m.group()), m.start(), True)
        pos = m.end()
    add(text[pos:], pos, False)
    return "".join(chars), where


def script_in_html(markup: str) -> list[tuple[int, str, str]]:
    """What in a piece of raw HTML runs script: ``(line offset, message, hint)``, first per line.

    Deliberately conservative: a ``<script`` or ``on...=`` anywhere in raw HTML counts, also
    inside a comment or a text node, because browsers and Markdown disagree on where those end.
    """
    found: dict[int, tuple[str, str]] = {}
    hint = ("remove it: pages may not run script (a lab that needs it sets "
            "`allow_raw_html_scripts: True` in the `labhandbook` setting of conf.py)")

    def note(pos: int, message: str, what_hint: str = hint) -> None:
        found.setdefault(markup.count("\n", 0, pos), (message, what_hint))

    for variant, where in ((markup, None), _decoded(markup, drop_space=False)):
        for m in _SCRIPT_TAG.finditer(variant):
            note(m.start() if where is None else where[m.start()],
                 "raw HTML here holds a `<script>` element")
    for m in _HANDLER.finditer(markup):
        note(m.start(1), f"raw HTML here has the event handler `{m.group(1).lower()}=`")
    flat, where = _decoded(markup, drop_space=True)
    for m in _SCRIPT_URL.finditer(flat):
        note(where[m.start()], f"raw HTML here uses a `{m.group().lower()}` address",
             "link to an https:// address instead")
    return [(line, message, what_hint) for line, (message, what_hint) in sorted(found.items())]


@lru_cache(maxsize=8)
def _markdown_parser(extensions: tuple[str, ...]) -> Any:
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    try:
        config = MdParserConfig(enable_extensions=set(extensions))
    except (TypeError, ValueError):  # an unknown extension: Sphinx reports it, not this scan
        config = MdParserConfig(enable_extensions=set(_DEFAULT_EXTENSIONS))
    return create_md_parser(config, RendererHTML)


def _html_in_markdown(text: str, first_line: int, parser: Any, depth: int = 0
                      ) -> Iterator[tuple[int, str]]:
    """Every piece of raw HTML in MyST ``text`` with its 1-based line (code is skipped)."""
    if depth > 50:  # directives nested deeper than anyone writes: all of it counts as HTML
        yield first_line, text
        return
    for token in parser.parse(text):
        line = first_line + (token.map[0] if token.map else 0)
        if token.type == "html_block":
            yield line, token.content
        elif token.type == "inline":
            offset = 0
            for child in token.children or []:
                if child.type == "html_inline":
                    yield line + offset, child.content
                offset += 1 if child.type in ("softbreak", "hardbreak") else \
                    child.content.count("\n")
        elif token.type in ("fence", "colon_fence") and token.info.strip().startswith("{"):
            info = token.info.strip()
            name, _, args = info[1:].partition("}")
            name = name.strip().lower()
            if name == "raw":
                if "html" in args.lower().split():
                    yield line + 1, token.content
            elif name == "eval-rst":
                yield from _html_in_rst(token.content, line + 1)
            elif name not in _NOT_MARKDOWN:
                yield from _html_in_markdown(token.content, line + 1, parser, depth + 1)
        elif token.type == "front_matter":
            yield from _html_in_substitutions(token.content, parser)


def _html_in_rst(text: str, first_line: int) -> Iterator[tuple[int, str]]:
    """The bodies of ``.. raw:: html`` directives in reStructuredText (``{eval-rst}``)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _RST_RAW.match(lines[i])
        i += 1
        if not m or "html" not in m.group(2).lower().split():
            continue
        indent, start = len(m.group(1)), i
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > indent):
            i += 1
        yield first_line + start, "\n".join(lines[start:i])


def _html_in_substitutions(front_matter: str, parser: Any) -> Iterator[tuple[int, str]]:
    """MyST renders ``myst: substitutions:`` of a page's front matter as Markdown."""
    import yaml

    if "substitutions" not in front_matter:
        return
    try:
        data = yaml.safe_load(front_matter)
    except (yaml.YAMLError, RecursionError):
        return  # the registry or MyST reports it
    myst = data.get("myst") if isinstance(data, dict) else None
    subs = myst.get("substitutions") if isinstance(myst, dict) else None
    if not isinstance(subs, dict):
        return
    lines = front_matter.split("\n")
    for key, value in subs.items():
        if not isinstance(value, str):
            continue
        line = next((i for i, text in enumerate(lines, 2)
                     if text.lstrip().startswith(f"{key}:")), 1)
        for _, markup in _html_in_markdown(value, line, parser):
            yield line, markup


def find_pages(root: Path, exclude: Iterable[str] = (), include: Iterable[str] = ("**",)
               ) -> list[str]:
    """The Markdown pages Sphinx builds under ``root`` (paths relative to it), sorted."""
    from sphinx.project import EXCLUDE_PATHS
    from sphinx.util.matching import get_matching_files

    files = get_matching_files(root, list(include), [*exclude, *EXCLUDE_PATHS])
    return sorted(Path(f).as_posix() for f in files if f.endswith(".md"))


def raw_html_problems(root: Path, lab: LabConfig, config: Config) -> list[Problem]:
    """:func:`page_problems` of every page Sphinx builds (``config``: conf.py as Sphinx reads
    it; shared by ``check`` and the build)."""
    exclude = [*config.exclude_patterns, *config.templates_path, *config.html_static_path,
               *config.html_extra_path]
    return page_problems(root, lab, find_pages(root, exclude, config.include_patterns),
                         config.myst_enable_extensions)


def page_problems(root: Path, lab: LabConfig, pages: Iterable[str],
                  extensions: Iterable[str] | None = None) -> list[Problem]:
    """What in ``pages`` would put script on the site: raw HTML with ``<script>``, ``on...=``
    handlers or ``javascript:`` addresses (code blocks and inline code are not looked at;
    ``allow_raw_html_scripts`` turns this off), and file names that would end a string of
    the page's HTML or inline script."""
    try:
        parser = _markdown_parser(tuple(sorted(set(extensions or _DEFAULT_EXTENSIONS))))
    except TypeError:  # not a list of names: Sphinx reports it
        parser = _markdown_parser(_DEFAULT_EXTENSIONS)
    problems = []
    registry_folders = {lab.people_dir, lab.research_dir}  # the registry names those files
    for rel in pages:
        if _UNSAFE_NAME.search(rel) and str(Path(rel).parent) not in registry_folders:
            problems.append(Problem(rel, 1, f"the file name {rel!r} has a character that is "
                                    "unsafe in a web address",
                                    "rename the file: lowercase words joined by '-', e.g. "
                                    "lab-retreat.md", code="html.unsafe-name"))
        if lab.allow_raw_html_scripts:
            continue
        try:
            text = (root / rel).read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue  # the registry reports unreadable people and research pages
        if "<" not in text:
            continue  # no tag, no raw HTML: most pages are not parsed at all
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        seen: set[int] = set()
        for line, markup in _html_in_markdown(text, 1, parser):
            for offset, message, hint in script_in_html(markup):
                if line + offset not in seen:
                    seen.add(line + offset)
                    problems.append(Problem(rel, line + offset, message, hint,
                                            code="html.script"))
    return problems


def run_check(root: Path) -> CheckResult:
    """Check the handbook at ``root``: conf.py, front matter, cross references, BibTeX."""
    root = Path(root)
    try:
        lab, config = read_conf(root)
    except ConfError as err:
        return CheckResult([err.problem])
    registry, problems = load_registry(root, lab)
    problems += raw_html_problems(root, lab, config)
    library_problems, library = check_library_and_count(root, lab, registry)
    problems = problems + library_problems
    problems, hidden = hide_cascades(problems, lab)
    problems.sort(key=lambda p: (p.path, p.line))
    return CheckResult(problems, people=len(registry.people), areas=len(registry.areas),
                       entries=len(library.entries), bib_files=len(library.files), hidden=hidden)


def check_handbook(root: Path) -> list[Problem]:
    """Every problem ``labhandbook check`` reports for the handbook at ``root``, by place."""
    return run_check(root).problems


__all__ = ["CheckResult", "check_handbook", "find_pages", "page_problems", "raw_html_problems",
           "read_conf", "read_lab_config", "run_check", "script_in_html"]
