"""``labhandbook check``: everything the build would reject, found without building.

Reads ``conf.py`` (as Sphinx does), the people and research pages (the registry) and the BibTeX
library, and returns every problem located to its file and line. Nothing is written.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

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


# --- page file names ---------------------------------------------------------------------------

#: Characters of a file name that would end a string of the page's HTML or inline script.
_UNSAFE_NAME = re.compile(r"[\"'<>\\&`\x00-\x1f]")


def find_pages(root: Path, exclude: Iterable[str] = (), include: Iterable[str] = ("**",)
               ) -> list[str]:
    """The Markdown pages Sphinx builds under ``root`` (paths relative to it), sorted."""
    from sphinx.project import EXCLUDE_PATHS
    from sphinx.util.matching import get_matching_files

    files = get_matching_files(root, list(include), [*exclude, *EXCLUDE_PATHS])
    return sorted(Path(f).as_posix() for f in files if f.endswith(".md"))


def page_name_problems(root: Path, lab: LabConfig, config: Config) -> list[Problem]:
    """Pages (of those Sphinx builds, ``config``: conf.py as Sphinx reads it) that are too
    large or not UTF-8 (left out of the build), or whose file name would end a string of the
    page's HTML or inline script (shared by ``check`` and the build; the registry reads
    people and research pages itself)."""
    from .registry import PageError, page_text
    from .safety import content_file
    from .sources import get_sources

    exclude = [*config.exclude_patterns, *config.templates_path, *config.html_static_path,
               *config.html_extra_path]
    problems = []
    registry_folders = {lab.people_dir, lab.research_dir}
    # The build has left out the pages too large or not UTF-8 (``sources.py``): report them.
    pages = {*find_pages(root, exclude, config.include_patterns),
             *get_sources(config).unreadable_pages}
    for rel in sorted(pages):
        if str(Path(rel).parent) in registry_folders and Path(rel).name != "index.md":
            continue  # the registry reads these
        try:
            if content_file(root, root / rel) is not None:  # else: `outside_links` says it
                page_text(root, root / rel)
        except PageError as err:
            problems.append(err.problem)
        except OSError:
            pass
        if _UNSAFE_NAME.search(rel):
            problems.append(Problem(rel, 1, f"the file name {rel!r} has a character that is "
                                    "unsafe in a web address",
                                    "rename the file: lowercase words joined by '-', e.g. "
                                    "lab-retreat.md", code="html.unsafe-name"))
    return problems


def policy_problems(root: Path) -> list[Problem]:
    """What :mod:`labhandbook.safety` refuses: links to files outside the content, and what
    the pages produce (raw HTML, links, files read), found by reading them as the build does."""
    from .safety import outside_links, read_problems

    problems = outside_links(root)
    try:
        problems += read_problems(root)
    except Exception as err:  # noqa: BLE001 - one located line, never a traceback
        problems.append(Problem("conf.py", 1, f"the pages could not be read ({err})",
                                "run `make html` to see where", code="page.unreadable"))
    return problems


def run_check(root: Path) -> CheckResult:
    """Check the handbook at ``root``: conf.py, front matter, cross references, BibTeX."""
    root = Path(root)
    try:
        lab, config = read_conf(root)
    except ConfError as err:
        return CheckResult([err.problem])
    registry, problems = load_registry(root, lab)
    problems += page_name_problems(root, lab, config)
    problems += policy_problems(root)
    library_problems, library = check_library_and_count(root, lab, registry)
    problems = problems + library_problems
    problems, hidden = hide_cascades(problems, lab)
    problems.sort(key=lambda p: (p.path, p.line))
    return CheckResult(problems, people=len(registry.people), areas=len(registry.areas),
                       entries=len(library.entries), bib_files=len(library.files), hidden=hidden)


def check_handbook(root: Path) -> list[Problem]:
    """Every problem ``labhandbook check`` reports for the handbook at ``root``, by place."""
    return run_check(root).problems


__all__ = ["CheckResult", "check_handbook", "find_pages", "page_name_problems",
           "policy_problems", "read_conf", "read_lab_config", "run_check"]
