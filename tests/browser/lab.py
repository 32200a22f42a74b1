"""What the reader-facing tests expect, derived from the handbook's sources.

Nothing here is a hard-coded list of people, areas or papers: the registry is read from the
pages' front matter, the papers from ``bib/*.bib`` and the repository settings from
``conf.py``, exactly as the build reads them. Shared by ``tests/browser`` and
``tests/test_links.py``.
"""

from __future__ import annotations

import functools
import re
import runpy
from dataclasses import dataclass, field
from pathlib import Path

from pybtex.database import parse_file

from labhandbook.config import LabConfig
from labhandbook.registry import Registry, load_registry

REPO = Path(__file__).resolve().parents[2]
#: Pages Sphinx generates that have no source file and no place in the navigation.
GENERATED_PAGES = frozenset({"genindex.html", "search.html", "py-modindex.html"})
SOURCE_SUFFIXES = (".md", ".rst", ".ipynb")


def squash(text: str) -> str:
    """Text as compared by the tests: whitespace collapsed, case folded."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def plain_title(raw: str) -> str:
    """A BibTeX title as a reader sees it: no braces, no TeX escapes, one line."""
    text = re.sub(r"\\([&%$#_])", r"\1", raw).replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Paper:
    key: str
    title: str
    #: person slug -> the author's name as the BibTeX file spells it
    members: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Lab:
    """The handbook as its sources describe it."""

    config: LabConfig
    registry: Registry
    problems: list
    papers: list[Paper]
    repository_url: str
    branch: str

    # --- where things are built ---------------------------------------------------------------
    def person_page(self, slug: str) -> str:
        return f"{self.config.people_dir}/{slug}.html"

    def area_page(self, slug: str) -> str:
        return f"{self.config.research_dir}/{slug}.html"

    @property
    def people_page(self) -> str:
        return f"{self.config.people_dir}/index.html"

    @property
    def publications_page(self) -> str:
        return f"{self.config.publications_page}.html"

    # --- what there is ------------------------------------------------------------------------
    @property
    def people(self) -> list[str]:
        """Person slugs in directory order."""
        return self.registry.ordered_people()

    @property
    def areas(self) -> list[str]:
        return sorted(self.registry.areas)

    def source_of(self, page: str) -> str | None:
        """The source file (relative to the repository) that ``page`` (``x/y.html``) is built
        from, or ``None`` for pages Sphinx generates."""
        stem = page.removesuffix(".html")
        for suffix in SOURCE_SUFFIXES:
            if (REPO / f"{stem}{suffix}").is_file():
                return f"{stem}{suffix}"
        return None

    def edit_url(self, source: str) -> str:
        """Where the theme's edit-this-page button must point for ``source`` (a path relative
        to the repository's root): the file itself, on the configured branch."""
        return f"{self.repository_url.rstrip('/')}/edit/{self.branch}/{source}"

    # --- choices for tests that look at one page of a kind ------------------------------------
    def richest_person(self) -> str:
        """The person whose page has the most generated parts (areas, then papers)."""
        papers = {slug: 0 for slug in self.people}
        for paper in self.papers:
            for slug in paper.members:
                papers[slug] = papers.get(slug, 0) + 1
        return max(self.people,
                   key=lambda s: (len(self.registry.people[s].areas), papers.get(s, 0)))

    def busiest_area(self) -> str:
        """The area with the most members."""
        return max(self.areas, key=lambda a: len(self.registry.members.get(a, [])))


def _repository() -> tuple[str, str]:
    """The repository and branch the theme's buttons point at (conf.py)."""
    conf = runpy.run_path(str(REPO / "conf.py"))
    options = conf.get("html_theme_options", {})
    return options.get("repository_url", ""), options.get("repository_branch", "main")


def _lab_config() -> LabConfig:
    conf = runpy.run_path(str(REPO / "conf.py"))
    return LabConfig.from_dict(dict(conf.get("labhandbook", {})))


def read_papers(config: LabConfig, registry: Registry) -> list[Paper]:
    """Every entry of every ``*.bib`` file, with the lab members among its authors."""
    papers = []
    for path in sorted((REPO / config.bib_dir).glob("*.bib")):
        library = parse_file(str(path), "bibtex")
        for key, entry in library.entries.items():
            title = entry.fields.get("title")
            if not title:
                continue
            members = {}
            persons = entry.persons.get("author", [])
            for person, slug in zip(persons, registry.names.slugs(persons), strict=True):
                if slug:
                    members.setdefault(slug, str(person))
            papers.append(Paper(key, plain_title(title), members))
    return papers


@functools.cache
def load_lab() -> Lab:
    config = _lab_config()
    registry, problems = load_registry(REPO, config)
    repository_url, branch = _repository()
    return Lab(config, registry, problems, read_papers(config, registry), repository_url, branch)
