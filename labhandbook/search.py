"""Site search with Pagefind: every page a reader can open, typed and ranked.

Sphinx indexes source documents only, so the paper pages (``html-collect-pages``) are not in
``searchindex.js``; and the theme loads that whole index on every page view. Pagefind (the
``pagefind_bin`` wheel ships its binary) indexes the written HTML after the build and splits
the index into chunks a query fetches on demand (see ``benchmarks/README.md`` for the
measured comparison at department scale).

What this module does, all through documented hooks:

- ``html-page-context``: the page's own content (``body``) is wrapped in an element with
  Pagefind's ``data-pagefind-body``, which limits the index to that content (no theme chrome)
  and keeps pages without it (search, genindex) out. The wrapper carries the page's kind, a
  paper's year and a person's name or an area's title and topics as Pagefind meta (searched,
  and shown in results). No Pagefind filters: Pagefind 1.5 writes its filter index in hash-map
  order, so two builds of the same site would differ (tests/test_hardening.py).
- The generated parts that repeat other pages' facts (member cards, charts, the people x areas
  matrix, publication lists of person and area pages, BibTeX, related papers) are excluded
  with Pagefind's ``--exclude-selectors``; paper pages mark their authors and venue with
  ``data-pagefind-weight`` (``papers.py``).
- ``html-page-context`` again, after every other handler: the wrapped content is kept as a
  small HTML file in a build-owned folder of the doctree folder (``PAGES``; the page's ``lang``
  and ``<title>`` around it), rewritten only when it changes, removed with its page.
- ``build-finished``: Pagefind indexes that folder into the output's ``pagefind/``
  (``labhandbook serve`` runs it after the browser has reloaded: ``DEFER_ATTR``), skipped when
  no kept content changed since the last index. Pagefind reads only what it indexes (a third
  of the written HTML at lab scale, which it otherwise parsed whole on every build: half its
  time), without the excluded publication lists (``UNKEPT``); its output is the same as
  indexing the written site (tests/test_search_index.py).
- Two indexes (``PARTS``): the paper pages, which change only with the library, in
  ``pagefind/papers/``, and every other page in ``pagefind/``, each with its own kept content
  and written again only when that changed: a prose edit of a person page re-indexes the
  62 pages of a lab-scale site, not its 1000 paper pages too (1.0-1.2 s of CPU at lab scale).
  The search page merges the paper index into the other with Pagefind's documented
  ``mergeIndex`` (multisite search); results of both are ranked on one list by score, with
  the ``lh_name`` meta weighted (``metaWeights``) so that a query naming a person or an area
  finds its page first although each index weighs words by their rarity in it alone.
- Templates (``templates_path``, ``!layout.html`` / ``!search.html``): pages other than the
  search page no longer load ``searchindex.js``; the search page runs Pagefind
  (``static/labhandbook-search.js``) and falls back to Sphinx's own search when the site is
  opened from ``file://`` (browsers refuse the module and WebAssembly fetches there).
"""

from __future__ import annotations

import html
import json
import os
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from sphinx.util import logging

from .environment import get_library, get_registry
from .library import KINDS, page_name
from .registry import fingerprint, source_fingerprint

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config

logger = logging.getLogger(__name__)

BUNDLE = "pagefind"  #: folder of the index in the output
STATE_FILE = "labhandbook-search.json"
#: Folder (in the doctree folder) of every indexed page's content, as Pagefind reads it.
PAGES = "labhandbook-search-pages"


@dataclass(frozen=True)
class Part:
    """One of the site's Pagefind indexes: the pages whose content is kept in ``pages`` (a
    folder of the doctree folder, laid out as the output), indexed into ``bundle`` (a folder
    of the output) when one of them changed; ``state`` (in the doctree folder) records the
    last run."""

    name: str
    pages: str
    bundle: str
    state: str


#: Every page but the paper pages: the primary index, which the search page loads.
SITE = Part("site", PAGES, BUNDLE, STATE_FILE)
#: The paper pages (``papers.py``): they change only when the library does, so a prose edit
#: leaves their index as it is; merged into the primary one by the search page.
PAPERS = Part("papers", "labhandbook-search-papers", f"{BUNDLE}/papers",
              "labhandbook-search-papers.json")
PARTS = (SITE, PAPERS)
#: An application attribute: a list there collects the build's Pagefind run instead of running it.
DEFER_ATTR = "labhandbook_search_later"
TEMPLATES = Path(__file__).parent / "html"

#: What a result says it is (the ``kind`` meta of a page).
PERSON, AREA, PAPER = "Person", "Research area", "Paper"
PUBLICATIONS, NEWS, HOME, PAGE = "Publications", "News", "Home", "Page"

#: Pages Sphinx writes on every build that the index leaves out (no ``data-pagefind-body``).
UNINDEXED = ("search", "genindex", "py-modindex")


#: Pagefind weight of a person's name and an area's title (headings weigh 7 for <h1> by default,
#: a paper's title among them; body text 1).
TITLE_WEIGHT = 10
#: A paper's authors and its venue line (with the year): "Shen 2024", "NeurIPS dropout".
AUTHORS_WEIGHT, VENUE_WEIGHT = 5, 3

#: Generated parts that repeat facts of other pages, or are not prose: not indexed.
EXCLUDE = (
    ".headerlink",  # the "#" after every heading
    ".lh-avatar",  # initials ("YS") glued to the next word
    ".lh-person-card .lh-card-position", ".lh-person-card .lh-card-areas",  # card repetition
    ".lh-figure",  # charts: digits, node labels
    ".lh-matrix",  # people x areas matrix: names and dots
    # publication lists: of person and area pages, and the canonical list of the publications
    # page (at 5,000 papers its text alone is a 270 KB chunk to fetch); each paper has its page
    ".lh-pubs", ".lh-pub-group",
    ".lh-pub-links",  # BibTeX buttons and download links
    ".lh-pub-count", ".lh-bib-download", ".lh-filter", ".lh-feed-link",
    # paper pages: the reference repeats the authors, BibTeX the whole entry, related papers
    # are other pages' titles
    ".lh-paper-reference", ".lh-paper-bibtex", ".lh-paper-related", ".lh-paper-back",
)
#: Excluded lists left out of the kept content already: Pagefind would parse them only to drop
#: them (at department scale 25 of the 28 MB it read for a prose edit, half its CPU time), and
#: the bundle is the same (``test_the_indexes_equal_pagefind_over_the_written_site``).
UNKEPT = ("lh-pubs", "lh-pub-group")
#: The start tag of an element with one of the ``UNKEPT`` classes.
_UNKEPT_CLASS = "|".join(map(re.escape, UNKEPT))
_UNKEPT_START = re.compile(
    rf'<(?P<tag>[a-z][a-z0-9]*)\b[^>]*\sclass="(?:[^"]*\s)?(?:{_UNKEPT_CLASS})(?:\s[^"]*)?"[^>]*>')


def weight(value: float) -> str:
    """Pagefind's weight attribute for an element of a generated page."""
    return f'data-pagefind-weight="{value}"'


def page_kind(app: Sphinx, pagename: str, context: dict[str, Any]) -> str | None:
    """The kind of page shown in results, or ``None`` for pages that are not indexed."""
    if context.get("lh_paper"):
        return PAPER
    if context.get("lh_year_page"):
        return PUBLICATIONS
    if pagename in UNINDEXED or "body" not in context:
        return None
    kind = get_registry(app.env).by_docname.get(pagename, (None, ""))[0]
    if kind == "person":
        return PERSON
    if kind == "area":
        return AREA
    lab = app.config._labhandbook
    return {lab.publications_page: PUBLICATIONS, lab.news_page: NEWS,
            app.config.root_doc: HOME}.get(pagename, PAGE)


def _meta(kind: str, meta: dict[str, str]) -> str:
    """Hidden Pagefind meta elements; values are element text, so commas in a title are kept
    (the attribute form splits at commas)."""
    esc = html.escape
    parts = [f'<span data-pagefind-meta="kind">{esc(kind)}</span>']
    parts += [f'<span data-pagefind-meta="{esc(k)}">{esc(v)}</span>' for k, v in meta.items()]
    # data-pagefind-ignore keeps the text out of the body's index; meta is still read.
    return f'<div hidden data-pagefind-ignore>{"".join(parts)}</div>'


def _facts(app: Sphinx, pagename: str, kind: str, context: dict[str, Any]) -> dict[str, str]:
    """The page's meta: a paper's year and type; a person's name; an area's title and topics
    (the ``lh_`` fields are searched as well as the page's text)."""
    registry = get_registry(app.env)
    meta: dict[str, str] = {}
    if kind == PAPER:
        pub = get_library(app.env).pubs[context["lh_paper"]]
        if pub.year:
            meta["year"] = str(pub.year)
        meta["paper_type"] = KINDS[pub.kind]
    elif kind == AREA:
        area = registry.areas[registry.by_docname[pagename][1]]
        meta["lh_name"] = area.title
        meta["lh_topics"] = " ".join(k.replace("-", " ") for k in area.keywords)
    elif kind == PERSON:
        meta["lh_name"] = registry.people[registry.by_docname[pagename][1]].name
    return meta


def merged_bundles(app: Sphinx) -> list[str]:
    """The indexes the search page merges into ``pagefind/``: the paper pages' when the
    library gives any paper a page (Pagefind refuses to write an index of no page)."""
    library = get_library(app.env)
    return [f"{PAPERS.bundle}/"] if any(map(page_name, library.ordered())) else []


def _mark_page(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
               doctree: Any) -> None:
    if app.builder.format != "html":
        return
    if pagename == "search":
        app.add_js_file("labhandbook-search.js")  # this page only (classic: file:// too)
        context["lh_search_merge"] = " ".join(merged_bundles(app))  # html/search.html
        return
    kind = page_kind(app, pagename, context)
    if kind is None:
        return
    meta = _facts(app, pagename, kind, context)
    body = context["body"]
    if kind in (PERSON, AREA):
        # The page title (Sphinx writes the document title as the body's first <h1>) is a
        # person's name or an area's title: it outranks what other pages say about them.
        body = body.replace("<h1>", f"<h1 {weight(TITLE_WEIGHT)}>", 1)
    context["body"] = (f'<div data-pagefind-body data-lh-kind="{html.escape(kind)}">'
                       f'{_meta(kind, meta)}{body}</div>')


# --- the index ----------------------------------------------------------------------------------


def pagefind_executable() -> str | None:
    """The binary of the ``pagefind_bin`` wheel (a dependency of the handbook)."""
    try:
        from pagefind_bin import get_executable
    except ImportError:
        return None
    try:
        return str(get_executable())
    except FileNotFoundError:
        return None


#: Words' postings per index chunk (a file a query fetches for each of its words, from each
#: index). Pagefind's default, 20,000, made chunks of 15-22 KB, and with two indexes a
#: seven-word paper title at department scale fetched 351 KB (budget 300 KB); at 5,000 the same
#: query fetches 240 KB and a name 163 KB (benchmarks/README.md).
CHUNK_SIZE = 5000


def pagefind_env() -> dict[str, str]:
    """The environment of a Pagefind run. Adapter to an internal: Pagefind reads the chunk size
    from ``PAGEFIND_UNSTABLE_INDEX_CHUNK_SIZE`` (no option or documented setting; 1.5.2). If a
    later Pagefind ignores it, chunks are of its default size: the index is the same, first
    queries download more (``test_the_chunk_size_reaches_pagefind`` fails)."""
    return {**os.environ, "PAGEFIND_UNSTABLE_INDEX_CHUNK_SIZE": str(CHUNK_SIZE)}


def pagefind_command(site: Path, bundle: Path | None = None) -> list[str] | None:
    """Pagefind indexing the HTML files under ``site`` into ``bundle`` (default:
    ``site/pagefind``)."""
    exe = pagefind_executable()
    if exe is None:
        return None
    cmd = [exe, "--site", str(site), "--silent"]
    cmd += ["--output-subdir", BUNDLE] if bundle is None else ["--output-path", str(bundle)]
    for selector in EXCLUDE:
        cmd += ["--exclude-selectors", selector]
    return cmd


def _page_file(app: Sphinx, pagename: str, part: Part) -> Path:
    """Where the indexed content of ``pagename`` is kept in ``part``: its output path under
    the part's folder."""
    rel = Path(app.builder.get_outfilename(pagename)).relative_to(app.outdir)
    return Path(app.doctreedir, part.pages, rel)


def _keep_indexed(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                  doctree: Any) -> None:
    """Keep the page's indexed content (after every other handler: ``body`` as written) for
    Pagefind, in its part's folder; written only when it changed, so an unchanged page does
    not index again."""
    if app.builder.name != "html":
        return
    part = PAPERS if context.get("lh_paper") else SITE
    for other in PARTS:
        if other is not part:  # a page is in one index only
            _page_file(app, pagename, other).unlink(missing_ok=True)
    path = _page_file(app, pagename, part)
    body = context.get("body")
    if not (isinstance(body, str) and body.startswith("<div data-pagefind-body")):
        path.unlink(missing_ok=True)  # not (or no longer) indexed
        return
    body = without_unkept(body)
    # What Pagefind reads besides the body: the language, and <title> for a page without <h1>
    # (as Sphinx's layout writes it).
    title = html.escape(Markup(context.get("title", "")).striptags())
    if context.get("docstitle") and not context.get("embedded"):
        title += " &#8212; " + html.escape(str(context["docstitle"]))
    lang = html.escape(str(context.get("lang_attr") or context.get("language") or "en"))
    text = (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head><meta charset="utf-8">'
            f"<title>{title}</title></head>\n<body>{body}</body>\n</html>\n").encode()
    try:
        if path.read_bytes() == text:
            return
    except OSError:
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)


def without_unkept(body: str) -> str:
    """``body`` without the elements of the ``UNKEPT`` classes. Docutils writes well-formed
    HTML and escapes ``<`` in text and attributes, so an element ends at the end tag that
    balances its start tag's name."""
    parts, pos = [], 0
    while (start := _UNKEPT_START.search(body, pos)) is not None:
        tag = start["tag"]
        tags = re.compile(rf"<(/?){tag}\b[^>]*>")
        depth, end = 1, start.end()
        while depth:
            found = tags.search(body, end)
            if found is None:  # not balanced: keep the rest as it is (Pagefind drops it)
                return "".join(parts) + body[pos:]
            depth += -1 if found[1] else 1
            end = found.end()
        parts.append(body[pos:start.start()])
        pos = end
    return "".join(parts) + body[pos:]


def _pages_state(pages: Path, outdir: Path) -> str:
    """A fingerprint of every kept page's name, size and modification time; pages whose HTML
    file is gone (a removed page, deleted before this runs) are forgotten first. Walked with
    ``os.scandir``, one listing of each output folder: at department scale 5,000 kept paper
    pages on every build."""
    stats: list[tuple[str, int, int]] = []
    _folder_state(pages, outdir, "", stats)
    stats.sort()
    return fingerprint(stats)


def _folder_state(folder: Path, outdir: Path, prefix: str,
                  stats: list[tuple[str, int, int]]) -> None:
    try:
        written = {e.name for e in os.scandir(outdir) if e.is_file()}
    except OSError:
        written = set()
    try:
        entries = os.scandir(folder)
    except FileNotFoundError:
        return
    with entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _folder_state(Path(entry.path), outdir / entry.name, f"{prefix}{entry.name}/",
                              stats)
            elif entry.name.endswith(".html"):
                if entry.name not in written:
                    os.unlink(entry.path)
                    continue
                st = entry.stat()
                stats.append((prefix + entry.name, st.st_size, st.st_mtime_ns))


@dataclass
class IndexJob:
    """One Pagefind run of one index (a :class:`Part`), startable later (``labhandbook serve``
    runs it after the browser has reloaded, and stops it when the next save comes)."""

    outdir: Path
    state: Path
    cmd: list[str]
    pages: Path  #: the kept content of the part's pages
    bundle: Path  #: the part's index in the output
    name: str = SITE.name
    current: str = ""

    def _kept(self) -> bool:
        return any(self.pages.rglob("*.html"))

    def needed(self) -> bool:
        """Whether a page of the index changed since its last run (or it is missing)."""
        self.current = fingerprint(_pages_state(self.pages, self.outdir), self.cmd[1:], _CODE)
        try:
            saved = json.loads(self.state.read_text(encoding="utf-8")).get("html")
        except (OSError, ValueError, AttributeError):
            saved = None
        written = (self.bundle / "pagefind.js").is_file()
        return saved != self.current or written != self._kept()

    def _clear(self) -> None:
        """Remove the last index (Pagefind names its files by content and leaves older ones:
        an incremental build must leave the same files as a clean one), but not the indexes
        inside its folder (``pagefind/papers/``), which are written on their own."""
        nested = {Path(self.outdir, p.bundle) for p in PARTS} - {self.bundle}
        if not self.bundle.is_dir():
            return
        for path in self.bundle.iterdir():
            if path in nested:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()

    def run(self, started: Callable[[subprocess.Popen[str]], None] | None = None) -> str | None:
        """Index afresh; ``None`` when done, else why not. ``started`` gets the process (to
        stop it); a stopped run records nothing, so the next build indexes again."""
        start, used = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        self._clear()
        cpu = 0.0
        if self._kept():  # Pagefind fails on a folder without pages (a lab with no papers)
            proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=pagefind_env())
            if started is not None:
                started(proc)
            stdout, stderr = proc.communicate()
            if proc.returncode != 0:
                last = (stderr.strip() or stdout.strip() or "no output").splitlines()[-1]
                return f"pagefind exited with {proc.returncode}: {last}"
            # CPU time of the children finished meanwhile (Pagefind's, in a build): the
            # benchmark reports it beside the build's.
            now = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = now.ru_utime - used.ru_utime + now.ru_stime - used.ru_stime
        seconds = time.perf_counter() - start
        self.state.write_text(json.dumps({"html": self.current, "seconds": round(seconds, 3),
                                          "cpu_seconds": round(cpu, 3)}), encoding="utf-8")
        return None


def index_jobs(app: Sphinx) -> list[IndexJob]:
    """The Pagefind runs of this build, one per index (none when the binary is missing:
    warned)."""
    outdir = Path(app.outdir)
    jobs = []
    for part in PARTS:
        pages, bundle = Path(app.doctreedir, part.pages), outdir / part.bundle
        cmd = pagefind_command(pages, bundle)
        if cmd is None:
            logger.warning("the search index was not built: the pagefind binary is missing — "
                           "reinstall the handbook's dependencies (`make venv`, `pip install .`)",
                           type="labhandbook", subtype="search")
            return []
        pages.mkdir(parents=True, exist_ok=True)
        jobs.append(IndexJob(outdir, Path(app.doctreedir, part.state), cmd, pages, bundle,
                             part.name))
    return jobs


#: What the build log says while each index is written.
_WHAT = {SITE.name: "the site", PAPERS.name: "the paper pages"}


def build_index(app: Sphinx, exception: Exception | None) -> None:
    """Index the written site with Pagefind, each index (``PARTS``) unless none of its pages
    changed since last time. When the application holds a list under ``DEFER_ATTR``
    (``labhandbook serve``), the runs are appended to it instead, for the caller to start
    once the pages are shown (it asks each ``job.needed()`` then)."""
    if exception is not None or app.builder.format != "html" or app.builder.name != "html":
        return
    jobs = index_jobs(app)
    later = app.__dict__.get(DEFER_ATTR)
    if isinstance(later, list):
        later.extend(jobs)
        return
    for job in jobs:
        if not job.needed():
            continue
        logger.info("indexing %s for search (pagefind)... ", _WHAT[job.name], nonl=True)
        start = time.perf_counter()
        problem = job.run()
        if problem is not None:
            logger.warning("the search index was not built: %s", problem, type="labhandbook",
                           subtype="search")
            return
        logger.info("done in %.1f s", time.perf_counter() - start)


def _templates(app: Sphinx, config: Config) -> None:
    """Our ``layout.html`` and ``search.html`` (theme overrides) are found first."""
    if str(TEMPLATES) not in map(str, config.templates_path):
        config.templates_path = [*config.templates_path, str(TEMPLATES)]


_CODE = source_fingerprint(__file__)  #: a new version of this module indexes again


def setup_search(app: Sphinx) -> None:
    app.connect("config-inited", _templates)
    app.connect("html-page-context", _mark_page)
    app.connect("html-page-context", _keep_indexed, priority=1000)  # the body as written
    app.connect("build-finished", build_index, priority=900)  # after every file is written
