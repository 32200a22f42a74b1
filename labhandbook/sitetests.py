"""The checks every lab's ``make test`` runs on its own handbook, shipped with the engine.

A lab's ``tests/test_site.py`` is one line, ``from labhandbook.sitetests import *``: pytest then
collects the fixtures and tests below. Nothing here names a person, an area or a paper: what must
exist comes from the lab's own front matter (the registry) and library, as the build reads them,
so the same tests pass for any lab and fail when a content change breaks the site. They improve
when the engine is upgraded, without the lab merging anything.

The handbook is built once per test session, in-process, into a temporary folder (never into
the lab's ``_build``), with the options of ``make html``: every warning is a failure.
"""

from __future__ import annotations

import io
import os
import posixpath
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

__all__ = [
    "Site", "crawl", "handbook_root", "site", "site_build",
    "test_the_build_has_no_warnings", "test_every_person_area_and_list_page_is_built",
    "test_every_publication_has_a_page", "test_every_internal_link_and_anchor_resolves",
    "test_every_page_is_reachable_from_the_home_page", "test_every_image_has_alt_text",
    "test_every_page_has_a_language_and_a_title",
    "test_every_person_area_and_paper_is_searchable",
]

#: Build folders that hold no pages of the handbook.
NOT_PAGES = ("_static/", "_sources/", "_downloads/", "_images/", "pagefind/")
#: Pages Sphinx generates that have no source file and no place in the navigation.
GENERATED_PAGES = frozenset({"genindex.html", "search.html", "py-modindex.html"})
#: Elements and attributes that load or open something of the site.
LINKING = (("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"),
           ("source", "src"), ("iframe", "src"), ("form", "action"))


@dataclass
class Page:
    path: str  #: relative to the build folder, e.g. "people/ada-lovelace.html"
    soup: object  #: a BeautifulSoup document
    ids: set[str] = field(default_factory=set)


@dataclass
class Site:
    """A built handbook, read page by page: what a crawler of the published site sees."""

    root: Path
    pages: dict[str, Page]

    def resolve(self, page: str, url: str) -> tuple[str, str] | None:
        """``(target path, fragment)`` of an internal ``url`` found on ``page``; ``None`` for
        links that leave the site (``https:``, ``mailto:``, ``//host``...)."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith("//"):
            return None
        fragment = unquote(parts.fragment)
        if not parts.path:
            return page, fragment
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(parts.path)))
        if parts.path.endswith("/") or (self.root / target).is_dir():
            target = posixpath.join(target, "index.html")
        return target, fragment

    def exists(self, target: str) -> bool:
        return not target.startswith("../") and (self.root / target).is_file()

    def content_pages(self) -> list[str]:
        return [p for p in self.pages if p not in GENERATED_PAGES]


def crawl(root: Path) -> Site:
    """Every HTML page of a built handbook with the ids it defines."""
    from bs4 import BeautifulSoup

    pages = {}
    for file in sorted(root.rglob("*.html")):
        rel = file.relative_to(root).as_posix()
        if rel.startswith(NOT_PAGES):
            continue
        soup = BeautifulSoup(file.read_text(encoding="utf-8"), "html.parser")
        ids = {el["id"] for el in soup.find_all(id=True)}
        ids |= {el["name"] for el in soup.find_all("a", attrs={"name": True})}
        pages[rel] = Page(rel, soup, ids)
    return Site(root, pages)


@dataclass
class SiteBuild:
    """The lab's handbook built once: where, what Sphinx said, and what the engine knew."""

    root: Path
    outdir: Path
    warnings: str
    people: dict[str, str]  #: person slug -> page
    areas: dict[str, str]  #: area slug -> page
    lists: list[str]  #: the people, research and publications pages
    papers: dict[str, str]  #: BibTeX key -> paper page


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def handbook_root(pytestconfig: pytest.Config) -> Path:
    """The lab's folder: ``$LABHANDBOOK_ROOT``, else the pytest root (where conf.py is)."""
    root = Path(os.environ.get("LABHANDBOOK_ROOT") or pytestconfig.rootpath).resolve()
    if not (root / "conf.py").is_file():
        pytest.fail(f"{root} has no conf.py: run the tests from the handbook's folder",
                    pytrace=False)
    return root


@pytest.fixture(scope="session")
def site_build(handbook_root: Path, tmp_path_factory: pytest.TempPathFactory) -> SiteBuild:
    """Build the handbook as ``make html`` does (warnings kept, not fatal, to be listed)."""
    from sphinx.application import Sphinx
    from sphinx.util.console import strip_escape_sequences
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    from .config import get_config
    from .environment import get_library, get_registry
    from .library import page_name
    from .style import PAPERS_DIR

    out = tmp_path_factory.mktemp("site")
    warning = io.StringIO()
    with patch_docutils(handbook_root), docutils_namespace():
        app = Sphinx(srcdir=handbook_root, confdir=handbook_root, outdir=out / "html",
                     doctreedir=out / "doctrees", buildername="html", status=io.StringIO(),
                     warning=warning, freshenv=True, keep_going=True,
                     confoverrides={"nitpicky": True})
        app.build()
        lab, registry, library = get_config(app), get_registry(app.env), get_library(app.env)
    return SiteBuild(
        root=handbook_root, outdir=out / "html",
        warnings=strip_escape_sequences(warning.getvalue()),
        people={s: f"{lab.people_dir}/{s}.html" for s in registry.people},
        areas={s: f"{lab.research_dir}/{s}.html" for s in registry.areas},
        lists=[f"{lab.people_dir}/index.html", f"{lab.research_dir}/index.html",
               f"{lab.publications_page}.html"],
        papers={k: f"{PAPERS_DIR}/{page_name(k)}.html" for k in library.ordered()
                if page_name(k)},  # listed ones
    )


@pytest.fixture(scope="session")
def site(site_build: SiteBuild) -> Site:
    built = crawl(site_build.outdir)
    if "index.html" not in built.pages:
        pytest.fail("the build has no index.html", pytrace=False)
    return built


# --- the checks ----------------------------------------------------------------------------------


def test_the_build_has_no_warnings(site_build: SiteBuild) -> None:
    """``make html`` treats every warning as an error; so does the test."""
    assert not site_build.warnings.strip(), (
        "the build warned (run `make check` for located messages):\n" + site_build.warnings)


def test_every_person_area_and_list_page_is_built(site_build: SiteBuild, site: Site) -> None:
    expected = [*site_build.people.values(), *site_build.areas.values(), *site_build.lists]
    missing = [p for p in expected if p not in site.pages]
    assert site_build.people, "people/ has no person page"
    assert not missing, f"pages that were not built: {missing}"


def test_every_publication_has_a_page(site_build: SiteBuild, site: Site) -> None:
    missing = [f"{key} -> {page}" for key, page in site_build.papers.items()
               if page not in site.pages]
    assert not missing, "publications without a page:\n" + "\n".join(missing)


def test_every_internal_link_and_anchor_resolves(site: Site) -> None:
    broken: list[str] = []
    checked = 0
    for page in site.pages.values():
        for tag, attr in LINKING:
            for el in page.soup.find_all(tag, attrs={attr: True}):  # type: ignore[attr-defined]
                url = el[attr].strip()
                resolved = site.resolve(page.path, url)
                if resolved is None:
                    continue
                checked += 1
                target, fragment = resolved
                if not site.exists(target):
                    broken.append(f"{page.path}: <{tag} {attr}={url!r}>: {target} does not exist")
                elif fragment and target.endswith(".html"):
                    ids = site.pages[target].ids if target in site.pages else set()
                    if fragment not in ids:
                        broken.append(f"{page.path}: <{tag} {attr}={url!r}>: {target} has no "
                                      f"anchor #{fragment}")
    assert checked > 0, "no internal link was found: is the build empty?"
    assert not broken, (f"{len(broken)} broken link(s); fix the link in the page's source "
                        "(the .md file of the same name):\n" + "\n".join(broken))


def test_every_page_is_reachable_from_the_home_page(site: Site) -> None:
    seen = {"index.html"}
    queue: deque[str] = deque(seen)
    while queue:
        page = queue.popleft()
        for a in site.pages[page].soup.find_all("a", href=True):  # type: ignore[attr-defined]
            resolved = site.resolve(page, a["href"].strip())
            if resolved and resolved[0] in site.pages and resolved[0] not in seen:
                seen.add(resolved[0])
                queue.append(resolved[0])
    orphans = sorted(set(site.content_pages()) - seen)
    assert len(site.content_pages()) > 1, "the build has only one page"
    assert not orphans, ("pages no link leads to from index.html (add them to a toctree): "
                         f"{orphans}")


def test_every_image_has_alt_text(site: Site) -> None:
    missing = [f"{page.path}: <img src={img.get('src')!r}>"
               for page in site.pages.values()
               for img in page.soup.find_all("img")  # type: ignore[attr-defined]
               if not (img.get("alt") or "").strip()]
    assert not missing, "images without alternative text (add `photo_alt` or alt text):\n" + \
        "\n".join(missing)


def test_every_page_has_a_language_and_a_title(site: Site) -> None:
    wrong = []
    for page in site.pages.values():
        html = page.soup.find("html")  # type: ignore[attr-defined]
        title = page.soup.find("title")  # type: ignore[attr-defined]
        if html is None or not html.get("lang"):
            wrong.append(f"{page.path}: no lang attribute on <html>")
        if title is None or not title.get_text(strip=True):
            wrong.append(f"{page.path}: no <title>")
    assert not wrong, "\n".join(wrong)


def test_every_person_area_and_paper_is_searchable(site_build: SiteBuild, site: Site) -> None:
    """The site's search (Pagefind, :mod:`labhandbook.search`) indexes what a page marks as its
    own content: every person, area and paper page must be marked, and the index written."""
    assert (site_build.outdir / "pagefind" / "pagefind.js").is_file(), \
        "the build wrote no search index (pagefind/): is the pagefind_bin package installed?"
    expected = [*site_build.people.values(), *site_build.areas.values(),
                *site_build.papers.values()]
    unmarked = [page for page in expected if page in site.pages and
                site.pages[page].soup.find(attrs={"data-pagefind-body": True}) is None]
    assert not unmarked, "pages the search does not index:\n" + "\n".join(unmarked)
