"""A crawler over every built HTML page (no browser): links, anchors, reachability, alt text,
the search box and the edit button.

It reads the handbook built once per session by the ``handbook`` fixture; what it expects to
exist (people, areas, source files) comes from the sources.
"""

from __future__ import annotations

import posixpath
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from browser.lab import GENERATED_PAGES, Lab, load_lab
from bs4 import BeautifulSoup

#: Build folders that hold no pages of the handbook.
NOT_PAGES = ("_static/", "_sources/", "_downloads/", "_images/")
#: Elements and attributes that load or open something of the site.
LINKING = (("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"),
           ("source", "src"), ("iframe", "src"), ("form", "action"))


@dataclass
class Page:
    path: str  #: relative to the build folder, e.g. "people/ada-lovelace.html"
    soup: BeautifulSoup
    ids: set[str] = field(default_factory=set)


@dataclass
class Site:
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


@pytest.fixture(scope="module")
def site(handbook) -> Site:
    root = Path(handbook.outdir)
    pages = {}
    for file in sorted(root.rglob("*.html")):
        rel = file.relative_to(root).as_posix()
        if rel.startswith(NOT_PAGES):
            continue
        soup = BeautifulSoup(file.read_text(encoding="utf-8"), "html.parser")
        ids = {el["id"] for el in soup.find_all(id=True)}
        ids |= {el["name"] for el in soup.find_all("a", attrs={"name": True})}
        pages[rel] = Page(rel, soup, ids)
    assert "index.html" in pages, "the build has no index.html"
    return Site(root, pages)


@pytest.fixture(scope="module")
def lab() -> Lab:
    return load_lab()


def content_pages(site: Site) -> list[str]:
    return [p for p in site.pages if p not in GENERATED_PAGES]


def test_every_person_and_area_has_a_page(site: Site, lab: Lab) -> None:
    assert lab.people, "people/ has no person page"
    assert lab.areas, "research/ has no area page"
    expected = [lab.person_page(s) for s in lab.people] + [lab.area_page(a) for a in lab.areas]
    expected += [lab.people_page, lab.publications_page]
    missing = [p for p in expected if p not in site.pages]
    assert not missing, f"pages that were not built: {missing}"


def test_every_internal_link_and_anchor_resolves(site: Site) -> None:
    broken: list[str] = []
    checked = 0
    for page in site.pages.values():
        for tag, attr in LINKING:
            for el in page.soup.find_all(tag, attrs={attr: True}):
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
                        broken.append(f"{page.path}: <{tag} {attr}={url!r}>: no id "
                                      f"{fragment!r} in {target}")
    assert checked > 0, "no internal link was found: is the build empty?"
    assert not broken, f"{len(broken)} broken internal link(s):\n" + "\n".join(broken)


def test_no_page_is_orphaned_from_the_navigation(site: Site) -> None:
    """Every page can be reached from index.html by following links."""
    seen = {"index.html"}
    queue = deque(seen)
    while queue:
        page = queue.popleft()
        for a in site.pages[page].soup.find_all("a", href=True):
            resolved = site.resolve(page, a["href"].strip())
            if resolved and resolved[0] in site.pages and resolved[0] not in seen:
                seen.add(resolved[0])
                queue.append(resolved[0])
    orphans = sorted(set(content_pages(site)) - seen)
    assert len(content_pages(site)) > 1, "the build has only one page"
    assert not orphans, f"pages no link leads to from index.html: {orphans}"


def test_every_image_has_alt_text(site: Site) -> None:
    missing = [f"{page.path}: <img src={img.get('src')!r}>"
               for page in site.pages.values() for img in page.soup.find_all("img")
               if not (img.get("alt") or "").strip()]
    assert not missing, "images without alternative text:\n" + "\n".join(missing)


def test_every_page_has_the_search_box(site: Site) -> None:
    """The theme's search box (a form sending ``q`` to search.html) and its button are on
    every page; tests/browser/test_search.py checks that they work."""
    wrong = []
    for page in site.pages.values():
        forms = [f for f in page.soup.select("form.bd-search")
                 if f.find("input", attrs={"name": "q"}) is not None
                 and (site.resolve(page.path, f.get("action", "")) or ("",))[0] == "search.html"]
        if not forms:
            wrong.append(f"{page.path}: no search form sending `q` to search.html")
        if not page.soup.select(".search-button__button"):
            wrong.append(f"{page.path}: no search button")
    assert not wrong, "\n".join(wrong)


def test_edit_button_points_to_the_page_source_in_the_repository(site: Site, lab: Lab) -> None:
    """Pages built from a file have an edit button to that file; pages generated without one
    (paper pages, the index) have none that points nowhere."""
    assert lab.repository_url, "conf.py sets no repository_url for the edit button"
    wrong = []
    for path, page in site.pages.items():
        source = lab.source_of(path)
        hrefs = sorted({str(a.get("href")) for a in page.soup.select("a.btn-source-edit-button")})
        if source is not None and hrefs != [lab.edit_url(source)]:
            wrong.append(f"{path}: edit button {hrefs}, expected {lab.edit_url(source)}")
        elif source is None and hrefs:
            wrong.append(f"{path}: generated page (no source file) has an edit button to {hrefs}")
    assert not wrong, "\n".join(wrong)
