"""One page per publication, generated from the library, with scholarly metadata.

Paper pages are not source documents (nothing is written into the source tree): they are
extra HTML pages rendered through the theme's ``page.html`` at ``html-collect-pages``. A page is
rendered again only when what it shows changed, so a build with no change renders none.
Each page carries Google Scholar ``citation_*`` meta tags and schema.org ``ScholarlyArticle``
JSON-LD; person pages get ``Person`` JSON-LD.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docutils import nodes
from sphinx.util import logging
from sphinx.util.osutil import relative_uri

from .environment import get_library, get_registry, note_outputs
from .library import KIND_SINGULAR, Library, Pub, page_name
from .registry import fingerprint
from .search import AUTHORS_WEIGHT, VENUE_WEIGHT, weight
from .style import PAPERS_DIR

if TYPE_CHECKING:
    from sphinx.application import Sphinx

    from .registry import Registry

logger = logging.getLogger(__name__)

STATE_FILE = "labhandbook-paper-pages.json"
RELATED = 5  #: related papers shown on a paper page
NEIGHBOURS = 3  #: candidates on each side of the paper in each of its lists


def paper_page(key: str) -> str:
    return f"{PAPERS_DIR}/{page_name(key)}"


def json_ld(data: dict[str, Any]) -> str:
    """A JSON-LD script element; ``<``, ``>`` and ``&`` are written as JSON escapes, so no
    field can close the script or open a comment (``<\\!--`` was not valid JSON)."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/ld+json">\n{text}\n</script>'


def meta(name: str, content: str) -> str:
    return f'<meta name="{html.escape(name)}" content="{html.escape(content, quote=True)}" />'


def areas_of(registry: Registry, pub: Pub) -> list[str]:
    return sorted((s for s, a in registry.areas.items() if set(a.keywords) & set(pub.keywords)),
                  key=lambda s: registry.areas[s].title.casefold())


class PaperRenderer:
    """Renders the HTML body and head metadata of paper pages for one build."""

    def __init__(self, app: Sphinx) -> None:
        self.app = app
        self.builder = app.builder
        self.env = app.env
        self.lib: Library = get_library(self.env)
        self.registry = get_registry(self.env)
        #: "area:x" / "person:y" -> that list's keys, newest first, and each key's position
        self._lists: dict[str, tuple[list[str], dict[str, int]]] = {}
        self.site = _site_digest(app)

    def _list(self, name: str) -> tuple[list[str], dict[str, int]]:
        if name not in self._lists:
            kind, _, slug = name.partition(":")
            keys = (self.lib.for_area(list(self.registry.areas[slug].keywords))
                    if kind == "area" else self.lib.by_person.get(slug, []))
            self._lists[name] = (keys, {k: i for i, k in enumerate(keys)})
        return self._lists[name]

    def related(self, pub: Pub) -> list[str]:
        """Papers near ``pub`` in time among those that share an area or a member with it.

        Candidates are the neighbours of ``pub`` in each list it is in (not the newest papers
        of its areas), ranked by how many lists they share with it, then by distance in time:
        a new entry changes the related papers of its few neighbours only, so adding one
        renders a handful of paper pages again, not every page of its areas.
        """
        shared: dict[str, int] = {}
        names = ([f"area:{a}" for a in areas_of(self.registry, pub)]
                 + [f"person:{m}" for m in pub.members])
        for name in names:
            keys, positions = self._list(name)
            pos = positions[pub.key]
            for key in keys[max(0, pos - NEIGHBOURS): pos + NEIGHBOURS + 1]:
                if key != pub.key and page_name(key):  # an unsafe key has no page
                    shared[key] = shared.get(key, 0) + 1

        def rank(key: str) -> tuple[int, int, int, str]:
            other = self.lib.pubs[key]
            return (-shared[key], abs(other.year - pub.year), abs(other.month - pub.month), key)

        return sorted(shared, key=rank)[:RELATED]

    def shared_text(self, pub: Pub, key: str) -> str:
        """Why ``key`` is related to ``pub``: the members and areas they share."""
        other = self.lib.pubs[key]
        people = [self.registry.people[m].name for m in pub.members if m in other.members]
        mine = set(areas_of(self.registry, other))
        areas = [self.registry.areas[a].title for a in areas_of(self.registry, pub) if a in mine]
        return "shares " + "; ".join(filter(None, [", ".join(people), ", ".join(areas)]))

    def description(self, key: str) -> str:
        """The page's meta description: the abstract, else title, authors and venue."""
        pub = self.lib.pubs[key]
        if pub.field("abstract"):
            return pub.field("abstract")
        names = list(pub.authors)
        authors = ", ".join(names[:3]) + (" et al." if len(names) > 3 else "")
        venue = f"{pub.venue}, " if pub.venue else ""
        return f"{pub.title}. {authors}. {venue}{pub.shown_date}."

    def uri(self, page: str, target: str) -> str:
        return relative_uri(self.builder.get_target_uri(page), self.builder.get_target_uri(target))

    def digest(self, key: str) -> str:
        """Everything the page shows: the entry, its related papers, area titles, people."""
        pub = self.lib.pubs[key]
        parts = [self.site, pub.digest, [self.lib.pubs[k].digest for k in self.related(pub)],
                 [(s, self.registry.areas[s].title) for s in areas_of(self.registry, pub)],
                 [(m, self.registry.people[m].name) for m in pub.members]]
        return fingerprint(*parts)

    def body(self, key: str) -> str:
        page, pub = paper_page(key), self.lib.pubs[key]
        esc = html.escape
        authors = []
        for name, slug in zip(pub.authors, pub.author_slugs, strict=True):
            if slug:
                href = esc(self.uri(page, self.registry.person_doc(slug)))
                authors.append(f'<a class="lh-member reference internal" href="{href}">'
                               f'<strong class="lh-member">{esc(name)}</strong></a>')
            else:
                authors.append(esc(name))
        parts = [f'<section id="{esc(nodes.make_id(key))}" class="lh-paper">',
                 f"<h1>{esc(pub.title)}</h1>",
                 f'<p class="lh-paper-authors" {weight(AUTHORS_WEIGHT)}>{", ".join(authors)}</p>',
                 f'<p class="lh-paper-venue" {weight(VENUE_WEIGHT)}>{esc(pub.venue)}'
                 f'{", " if pub.venue else ""}{esc(pub.shown_date)}'
                 f' · {esc(KIND_SINGULAR[pub.kind])}</p>']
        if pub.field("note"):
            parts.append(f'<p class="lh-paper-note">{esc(pub.field("note"))}</p>')
        abstract = pub.field("abstract")
        if abstract:
            parts.append(f'<section id="abstract"><h2>Abstract</h2><p>{esc(abstract)}'
                         "</p></section>")
        links = pub.links
        if links:
            items = " · ".join(f'<a class="reference external" href="{esc(u)}">{esc(label)}</a>'
                               for label, u in links)
            parts.append(f'<p class="lh-pub-links lh-paper-links">{items}</p>')
        areas = areas_of(self.registry, pub)
        if areas:
            items = "".join(
                f'<li><a class="reference internal" href="'
                f'{esc(self.uri(page, self.registry.area_doc(a)))}">'
                f"{esc(self.registry.areas[a].title)}</a></li>" for a in areas)
            parts.append(f'<section id="research-areas"><h2>Research areas</h2><ul>{items}</ul>'
                         "</section>")
        parts.append('<section id="bibtex" class="lh-paper-bibtex"><h2>BibTeX</h2>'
                     f'<p><button type="button" class="lh-bibtex-button" data-bibtex="'
                     f'{esc(pub.bibtex, quote=True)}">Copy BibTeX</button></p>'
                     f'<pre class="lh-bibtex-source">{esc(pub.bibtex)}</pre></section>')
        related = self.related(pub)
        if related:
            items = "".join(
                f'<li><a class="reference internal" href="{esc(self.uri(page, paper_page(k)))}">'
                f"{esc(self.lib.pubs[k].title)}</a> ({self.lib.pubs[k].year})"
                f'<span class="lh-related-why"> — {esc(self.shared_text(pub, k))}</span></li>'
                for k in related)
            parts.append(f'<section id="related" class="lh-paper-related"><h2>Related papers</h2>'
                         f'<ul>{items}</ul>'
                         "</section>")
        canonical = self.uri(page, self.env.config._labhandbook.publications_page)
        parts.append(f'<p class="lh-paper-back"><a class="reference internal" '
                     f'href="{esc(canonical)}">All publications</a></p></section>')
        return "\n".join(parts)

    def metatags(self, key: str) -> str:
        pub = self.lib.pubs[key]
        tags = [meta("citation_title", pub.title)]
        tags += [meta("citation_author", name) for name in pub.authors_inverted]
        if pub.year:
            tags.append(meta("citation_publication_date", str(pub.year)))
        venue = pub.venue
        if pub.kind == "journal":
            tags.append(meta("citation_journal_title", venue))
        elif pub.kind in ("conference", "workshop"):
            tags.append(meta("citation_conference_title", venue))
        for field_name, tag in (("volume", "citation_volume"), ("number", "citation_issue")):
            if pub.field(field_name):
                tags.append(meta(tag, pub.field(field_name)))
        for label, ident in pub.identifiers:
            if label == "DOI":
                tags.append(meta("citation_doi", ident))
            if label == "arXiv":
                tags.append(meta("citation_arxiv_id", ident))
        for label, url in pub.links:
            if label == "PDF":
                tags.append(meta("citation_pdf_url", url))
        tags.append(json_ld(self.scholarly_article(key)))
        return "\n".join(tags)

    def scholarly_article(self, key: str) -> dict[str, Any]:
        pub = self.lib.pubs[key]
        base = self.env.config.html_baseurl
        authors = []
        for name, slug in zip(pub.authors, pub.author_slugs, strict=True):
            item: dict[str, Any] = {"@type": "Person", "name": name}
            if slug and base:
                item["url"] = base.rstrip("/") + "/" + self.builder.get_target_uri(
                    self.registry.person_doc(slug))
            authors.append(item)
        data: dict[str, Any] = {"@context": "https://schema.org", "@type": "ScholarlyArticle",
                                "headline": pub.title, "name": pub.title, "author": authors}
        if pub.year:
            data["datePublished"] = str(pub.year)
        if pub.venue:
            data["isPartOf"] = {"@type": "Periodical" if pub.kind == "journal" else
                                "PublicationEvent", "name": pub.venue}
        same_as = [url for _, url in pub.links]
        if same_as:
            data["sameAs"] = same_as
        doi = dict(pub.identifiers).get("DOI")
        if doi:
            data["identifier"] = {"@type": "PropertyValue", "propertyID": "DOI", "value": doi}
        if pub.keywords:
            data["keywords"] = list(pub.keywords)
        return data


def _site_digest(app: Sphinx) -> str:
    """What every paper page shows besides its entry: the navigation, the checksums of its
    stylesheets and scripts, the settings and templates of the HTML build, and the
    extension's version (its code, templates and static files: a stylesheet another module
    adds to every page renders the pages again)."""
    from . import code_version
    from .incremental import ASSETS_ATTR, NAV_ATTR, assets_digest, navigation_digest

    env, builder = app.env, app.builder
    templates = getattr(builder, "templates", None)
    # worked out at env-updated, before pages are collected (incremental.py)
    nav = getattr(env, NAV_ATTR, None) or navigation_digest(env)
    assets = getattr(env, ASSETS_ATTR, None) or assets_digest(app)
    parts = [nav, assets, _settings(app.config), sorted(app.tags),
             templates.newest_template_mtime() if templates else 0, code_version()]
    return fingerprint(*parts)


def _settings(config: Any) -> list[tuple[str, str]]:
    """The settings that shape HTML pages, as Sphinx decides when to write pages again
    (values of the ``env`` and ``html`` kinds), in a form that is the same for every build."""
    def stable(value: Any) -> Any:
        if callable(value):
            return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
        if isinstance(value, (set, frozenset)):
            return sorted(map(repr, value))
        if isinstance(value, dict):
            return sorted((repr(k), stable(v)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return [stable(v) for v in value]
        return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)

    return sorted((c.name, stable(c.value)) for c in config if c.rebuild in ("env", "html"))




def _library_digest(renderer: PaperRenderer) -> str:
    """One fingerprint of everything any paper page shows (checked before the per-page ones)."""
    reg = renderer.registry
    parts = [renderer.site, renderer.lib.digest_of(renderer.lib.ordered()),
             reg.digest("names"), reg.digest("roster"), reg.digest("area-titles")]
    return fingerprint(*parts)


def _pages_digest(renderer: PaperRenderer) -> str:
    """What a paper page shows besides its own lists (:func:`_unchanged_lists`): the site,
    the members' names and the areas' titles and keywords."""
    reg = renderer.registry
    return fingerprint(renderer.site, reg.digest("roster"), reg.digest("area-titles"))


def _unchanged_lists(renderer: PaperRenderer, old: dict[str, str]
                     ) -> tuple[dict[str, str], set[str]]:
    """The fingerprint of every area's and member's list (keys in order, each with its
    record's digest), and the papers whose lists all have the fingerprint they had when the
    pages were last written (``old``, kept only while :func:`_pages_digest` is the same).

    A page shows its record, its related papers (its neighbours in those lists, ranked by
    the lists they share and their dates) and the names of its areas and members, so its
    fingerprint is the one written then: a new entry fingerprints the pages of its areas'
    and members' lists, not all 5,000. A paper in no list is fingerprinted every time."""
    lib, reg = renderer.lib, renderer.registry
    lists: dict[str, str] = {}
    papers: dict[str, list[str]] = {}
    names = [f"area:{slug}" for slug in reg.areas] + [f"person:{slug}" for slug in lib.by_person]
    for name in names:
        keys = renderer._list(name)[0]
        lists[name] = lib.digest_of(keys)
        for key in keys:
            papers.setdefault(key, []).append(name)
    kept = {key for key, mine in papers.items()
            if all(old.get(name) == lists[name] for name in mine)}
    return lists, kept


def _collect_pages(app: Sphinx) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Render paper pages whose content changed (or whose file is missing).

    A build in which nothing any paper page shows changed (one combined fingerprint) and
    every page exists renders none and computes no per-page fingerprint.
    """
    if app.builder.format != "html":
        return
    renderer = PaperRenderer(app)
    # The environment is pickled before pages are written, so the record of what was
    # rendered lives next to it in the doctree folder (build state, not source).
    state = Path(app.doctreedir, STATE_FILE)
    try:
        saved = json.loads(state.read_text(encoding="utf-8"))
        overall, written = str(saved["all"]), dict(saved["pages"])
        old_lists = (dict(saved.get("lists", {}))
                     if saved.get("shared") == _pages_digest(renderer) else {})
    except (OSError, ValueError, KeyError, TypeError):
        overall, written, old_lists = "", {}, {}
    outdir = Path(app.outdir)
    folder = outdir / PAPERS_DIR
    keys = [k for k in renderer.lib.ordered() if page_name(k)]  # `check` reports unsafe keys
    files = {app.builder.get_target_uri(paper_page(k)): k for k in keys}
    combined = _library_digest(renderer)
    if combined == overall and set(written) == set(keys):
        note_outputs(app, files)
        try:
            present = {f"{PAPERS_DIR}/{name}" for name in os.listdir(folder)}
        except OSError:
            present = set()
        if present.issuperset(files):
            return
    current: dict[str, str] = {}
    todo: list[str] = []
    lists, kept = _unchanged_lists(renderer, old_lists)
    for target, key in files.items():
        digest = written.get(key) if key in kept else None
        if digest is None:
            digest = renderer.digest(key)
        current[key] = digest
        if written.get(key) != digest or not (outdir / target).exists():
            todo.append(key)
    note_outputs(app, files)
    # Paper pages are not in any toctree and all live in one folder, so the theme's sidebar
    # navigation is the same HTML for every one of them: render it once per build.
    shared = _shared_renderer({})
    sections: dict[str, Any] = BuildMemo()  # the theme's component lists, once (THEME_SECTIONS)
    tags: dict[str, dict[Any, str]] = BuildMemo()  # each stylesheet's and script's tag, once
    for key in todo:
        # The title reaches the theme as HTML, as a source page's title does (escaped text);
        # the theme writes ``pagetitle`` as it is (into the print-only <h1>).
        title = html.escape(renderer.lib.pubs[key].title)
        context = {"title": title, "pagetitle": title,
                   "body": renderer.body(key), "metatags": renderer.metatags(key),
                   "lh_description": renderer.description(key), "display_toc": False,
                   "sourcename": "", "lh_paper": key, "lh_shared": shared,
                   SECTIONS_KEY: sections, TAGS_KEY: tags}
        yield paper_page(key), context, "page.html"
    state.write_text(json.dumps({"all": combined, "pages": current, "lists": lists,
                                 "shared": _pages_digest(renderer)}, sort_keys=True),
                     encoding="utf-8")
    for stale in {k for k in written if page_name(k)} - set(current):
        (outdir / app.builder.get_target_uri(paper_page(stale))).unlink(missing_ok=True)


def _shared_renderer(memo: dict[str, str]) -> Any:
    """``lh_shared(key, macro)`` for templates: the macro's HTML, rendered once per memo (per
    build for paper pages, per page for the others)."""
    from markupsafe import Markup

    def shared(key: str, render: Any) -> Markup:
        if key not in memo:
            memo[key] = str(render())
        return Markup(memo[key])  # the theme's own HTML, already escaped by its template

    return shared


#: The theme's component that renders the site navigation (replaced on paper pages).
THEME_NAV = "sbt-sidebar-nav.html"
SHARED_NAV = "lh-shared-sidebar-nav.html"
#: The theme's other default sidebar components, each wrapped like :data:`SHARED_NAV` by a
#: template of ours (``html/lh-shared-<name>``) that asks ``lh_shared`` for its HTML: they read
#: the lab's settings and the page's folder only (the logo's link to the root page, the icon
#: links, the search button), so paper pages render each once per build, not twice a page (the
#: theme's check for empty components, then the page). Measured at lab scale (1000 paper
#: pages): the theme's ``html-page-context`` handlers on paper pages 0.84-1.03 s of CPU with
#: the sidebar rendered in that check, 0.53-0.56 s without it.
SHARED_COMPONENTS = {THEME_NAV: SHARED_NAV,
                     **{name: f"lh-shared-{name}" for name in
                        ("navbar-logo.html", "icon-links.html", "search-button-field.html")}}


def theme_sidebars() -> list[str] | None:
    """The sidebar components sphinx-book-theme uses by default (its ``theme.conf``).

    Adapter to one detail of the theme: paper pages replace the theme's navigation component
    by :data:`SHARED_NAV`, which includes that same component once per build and repeats its
    HTML (measured at lab scale, 1000 papers: clean build 52 s with the theme rendering the
    navigation per page, 17 s with it shared; commit e4b5112). Breaks when the theme renames
    the component or moves its default sidebars out of ``theme.conf``: then ``None`` and paper
    pages use the theme's own sidebars (slower, same HTML); ``tests/test_incremental.py``
    checks the theme still matches.
    """
    import configparser

    try:
        import sphinx_book_theme

        conf = Path(sphinx_book_theme.__file__).parent / "theme/sphinx_book_theme/theme.conf"
        parser = configparser.ConfigParser()
        parser.read(conf, encoding="utf-8")
        items = [s.strip() for s in parser.get("theme", "sidebars").split(",") if s.strip()]
    except (ImportError, OSError, configparser.Error):
        return None
    return items if THEME_NAV in items else None


#: pydata-sphinx-theme's template sections that its ``html-page-context`` handlers
#: (``update_and_remove_templates``, ``set_secondary_sidebar_items``) render on every page to
#: drop the components that come out empty. It also does so with Sphinx's ``sidebars``, which
#: other extensions may read at the same priority: not held (on paper pages the navigation in
#: it is rendered once per build anyway, :data:`SHARED_NAV`).
THEME_SECTIONS = ("theme_navbar_start", "theme_navbar_center", "theme_navbar_persistent",
                  "theme_navbar_end", "theme_article_header_start", "theme_article_header_end",
                  "theme_article_footer_items", "theme_content_footer_items",
                  "theme_footer_start", "theme_footer_center", "theme_footer_end",
                  "theme_primary_sidebar_end")  # and "sidebars": Sphinx's own, left alone
SECONDARY = ("theme_secondary_sidebar_items", "secondary_sidebar_items")  # what it reads, sets
SECTIONS_KEY, HELD_KEY = "lh_theme_sections", "lh_theme_sections_held"


def _hold_theme_sections(app: Sphinx, pagename: str, templatename: str,
                         context: dict[str, Any], doctree: Any) -> None:
    """Adapter to one detail of pydata-sphinx-theme (under sphinx-book-theme): before its
    handlers (priority 500), every paper page but the first of a build hides the component
    lists it would render only to see which come out empty, and :func:`_restore_theme_sections`
    hands the first page's answer back after them. Paper pages have one context shape (no
    source, no toc, one folder), so the answer is the same for all of them; measured at lab
    scale (1000 papers) those renders were 0.75 s of a 21 s clean build. Breaks when the theme
    renames a section or adds one: a section not in :data:`THEME_SECTIONS` is still worked out
    per page (as before); a renamed one is not held and the theme works it out (slower, same
    HTML); ``test_paper_pages_keep_the_themes_components`` compares the pages with and
    without the adapter."""
    memo = context.get(SECTIONS_KEY)
    if memo is None:
        return
    present = tuple(s for s in THEME_SECTIONS if context.get(s)) + \
        ((SECONDARY[0],) if SECONDARY[0] in context else ())
    if memo.get("present") != present or "lists" not in memo:  # the theme's turn
        memo.clear()
        memo["present"] = present
        return
    held = {s: context[s] for s in present}
    for section in present:
        if section == SECONDARY[0]:
            del context[section]  # the theme reads it when the key is there at all
        else:
            context[section] = None  # the theme skips a section that is empty
    context[HELD_KEY] = held


def _restore_theme_sections(app: Sphinx, pagename: str, templatename: str,
                            context: dict[str, Any], doctree: Any) -> None:
    """After the theme's handlers: the first paper page's component lists recorded, every
    later page given them (see :func:`_hold_theme_sections`)."""
    memo = context.get(SECTIONS_KEY)
    present = memo.get("present") if memo is not None else None
    if present is None:
        return
    held = context.pop(HELD_KEY, None)
    if held is None:  # the theme worked them out here: remember its answer
        memo["lists"] = {s: list(context[s]) for s in present if s != SECONDARY[0]}
        if SECONDARY[0] in present:
            memo["lists"][SECONDARY[1]] = list(context[SECONDARY[1]])
        return
    if SECONDARY[0] in held:
        context[SECONDARY[0]] = held[SECONDARY[0]]
    for section, templates in memo["lists"].items():
        context[section] = list(templates)


#: Where a paper page's context holds the build's memo of asset tags (:func:`_shared_asset_tags`).
TAGS_KEY = "lh_asset_tags"
#: The HTML builder's template functions that write a page's ``<link>`` and ``<script>`` tags.
TAG_FUNCTIONS = ("css_tag", "js_tag")


def _asset_key(asset: Any) -> Any:
    """What an asset's tag is made from: its file and attributes (``None`` when the asset is
    of a kind this does not know, or has no file: its tag is made every time). An inline
    script (no file, a ``body``; the theme adds one naming the page to every page) costs
    nothing to write and is different on every page: kept, it grew the memo by one entry a
    page."""
    if isinstance(asset, str):
        return ("str", asset)
    attributes = getattr(asset, "attributes", None)
    if not isinstance(attributes, dict):
        return None
    if not all(isinstance(v, str | None) for v in attributes.values()):
        return None
    filename = getattr(asset, "filename", None)
    if not filename:
        return None
    return (type(asset).__name__, os.fspath(filename),
            tuple(sorted(attributes.items(), key=lambda kv: str(kv[0]))))


class BuildMemo(dict[Any, Any]):
    """A per-build memo carried in paper pages' template context, written short by ``repr``:
    Sphinx's ``EventManager.emit`` logs ``repr`` of every event's arguments, the whole context
    at each ``html-page-context``, whether or not debug logging is on (Sphinx 9.0), so a memo
    that is ``repr``-ed in full is ``repr``-ed once per paper page."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} entries>"


def _memo_tag(memo: dict[Any, str], tag: Any) -> Any:
    def shared(asset: Any) -> str:
        key = _asset_key(asset)
        if key is None:
            return tag(asset)
        if key not in memo:
            memo[key] = tag(asset)
        return memo[key]

    return shared


def _shared_asset_tags(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                       doctree: Any) -> None:
    """Adapter to the HTML builder's template context: ``css_tag`` and ``js_tag`` (set per page
    by Sphinx's ``handle_page``) write a stylesheet's or script's tag, the URL relative to the
    page and Sphinx's ``?v=`` checksum of the file, which resolves the file's path on disk on
    every call (13 assets per page; 65,000 ``lstat`` calls in a lab-scale clean build). Paper
    pages all live in one folder, so each asset's tag is the same on every one of them: made
    on the first paper page of a build and repeated (a memo per build, set by
    :func:`_collect_pages`). Measured at lab scale (CPU time inside the tag functions on the
    1001 paper pages): 0.54-0.66 s, now 0.03 s. Breaks if Sphinx renames the functions (then
    they are not wrapped: every tag made per page, as before) or makes a tag of anything else
    than the asset's file and attributes (``test_paper_pages_keep_the_themes_components``
    compares the pages with and without the adapter)."""
    memo = context.get(TAGS_KEY)
    if not isinstance(memo, dict):
        return
    for name in TAG_FUNCTIONS:
        if callable(context.get(name)):
            context[name] = _memo_tag(memo.setdefault(name, BuildMemo()), context[name])


def _templates_checked_once(app: Sphinx) -> None:
    """Adapter to the HTML builder's Jinja environment (``app.builder.templates.environment``
    of Sphinx's ``BuiltinTemplateLoader``, made once per application): Jinja's ``auto_reload``
    (on by default) checks a template's file on disk every time a page includes it, 38 times
    a page here (the theme's components), 38,000 ``stat`` calls with Sphinx's up-to-date
    function in a lab-scale clean build, 0.34 s of CPU, nearly all on the 1001 paper pages.
    Templates do not change while an application lives: ``make html`` starts one per build,
    and ``labhandbook serve`` builds again in the same one only after saves of pages and .bib
    files (``serve.WARM_SUFFIXES``; an edited template gets a new application), so the check
    is switched off. Breaks if Sphinx renames the
    attribute: then it is not found and templates are checked as before (slower, same HTML);
    ``test_templates_are_checked_once_per_build`` fails."""
    environment = getattr(getattr(app.builder, "templates", None), "environment", None)
    if environment is not None and hasattr(environment, "auto_reload"):
        environment.auto_reload = False


def _paper_sidebars(app: Sphinx, config: Any) -> None:
    """Every page uses the theme's sidebar with its navigation component wrapped in
    :data:`SHARED_NAV` and its other components in theirs (:data:`SHARED_COMPONENTS`; see
    :func:`theme_sidebars` and :func:`_page_navigation`). Skipped when the lab sets its own
    sidebars."""
    if app.config.html_theme != "sphinx_book_theme" or config.html_sidebars:
        return
    items = theme_sidebars()
    if items is None:
        return
    config.templates_path = [*config.templates_path, str(Path(__file__).parent / "html")]
    config.html_sidebars = {"**": [SHARED_COMPONENTS.get(i, i) for i in items]}


def _page_navigation(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                     doctree: Any) -> None:
    """The navigation of a source page rendered once, not twice: pydata-sphinx-theme renders
    every sidebar component at ``html-page-context`` (priority 500) to drop empty ones, the
    book theme's navigation among them (its own is exempt from that check, the book theme's
    is not), and then the page renders it again. :data:`SHARED_NAV` keeps the first rendering
    for the second, in a memo of this page's context (the theme's check renders with a copy
    of the context: the same memo). Nothing the navigation shows changes in between (it reads
    the page's name, the theme's options and its toctree function, all set before the
    check). The saving is the template around the toctree, not the toctree: the theme caches
    its toctree HTML per page (``generate_toctree_html``), so the check's rendering (6.8 of 48
    profiled seconds of a lab-scale clean build) was mostly the page's one real rendering;
    not measurable against the shared machine's noise (benchmarks/README.md). Paper pages
    share one memo per build instead (set by :func:`_collect_pages`)."""
    if "lh_shared" not in context:
        context["lh_shared"] = _shared_renderer({})


def _person_json_ld(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                    doctree: Any) -> None:
    """Add ``Person`` JSON-LD to person pages."""
    registry = get_registry(app.env)
    kind, slug = registry.by_docname.get(pagename, (None, ""))
    if kind != "person":
        return
    person = registry.people[slug]
    data: dict[str, Any] = {"@context": "https://schema.org", "@type": "Person",
                            "name": person.name, "jobTitle": person.position}
    aff = person.current_affiliation
    if aff:
        data["affiliation"] = {"@type": "Organization", "name": aff.organisation}
        if aff.url:
            data["affiliation"]["url"] = aff.url
    links = [v for k, v in person.links.model_dump().items() if v and k != "email"]
    if links:
        data["sameAs"] = links
    if app.config.html_baseurl:
        data["url"] = app.config.html_baseurl.rstrip("/") + "/" + app.builder.get_target_uri(
            pagename)
    context["metatags"] = context.get("metatags", "") + "\n" + json_ld(data)


def _write_sitemap(app: Sphinx, exception: Exception | None) -> None:
    """``sitemap.xml`` of every page, sorted, no dates: the same bytes for the same site.

    Written here rather than by sphinx-sitemap, which starts a helper process on every build.
    """
    base = app.config.html_baseurl
    if exception is not None or app.builder.format != "html" or not base:
        return
    base = base.rstrip("/") + "/"
    # Pages that exist: source pages and the paper pages of listed entries with safe keys
    # (`check` refuses others; a crossref parent volume that is no lab work has none)
    from .publications import earlier_year_pages

    pages = [*app.env.found_docs, *earlier_year_pages(app.env).values(),
             *(paper_page(k) for k in get_library(app.env).ordered() if page_name(k))]
    urls = sorted(base + app.builder.get_target_uri(page) for page in pages)
    body = "".join(f"  <url><loc>{html.escape(url)}</loc></url>\n" for url in urls)
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{body}</urlset>\n")
    path = Path(app.outdir, "sitemap.xml")
    note_outputs(app, ["sitemap.xml"])
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def setup_papers(app: Sphinx) -> None:
    app.connect("build-finished", _write_sitemap)
    app.connect("html-collect-pages", _collect_pages)
    app.connect("html-page-context", _person_json_ld)
    app.connect("html-page-context", _page_navigation, priority=450)
    app.connect("html-page-context", _hold_theme_sections, priority=499)
    app.connect("html-page-context", _restore_theme_sections, priority=501)
    app.connect("html-page-context", _shared_asset_tags)
    app.connect("builder-inited", _templates_checked_once)
    app.connect("config-inited", _paper_sidebars)
