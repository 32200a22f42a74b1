"""``labhandbook serve``: a live preview that keeps the build warm between saves.

``make livehtml`` with sphinx-autobuild starts a new ``sphinx-build`` for every save: Python
starts, imports Sphinx, docutils, MyST, pybtex and the theme, and loads the pickled environment
before one page is rendered. Here one process does all of that once:

* **Builds** use Sphinx's documented application API with the settings of ``make html``
  (same output and doctree folders, ``-n``), in this process, so imports, templates and the
  theme are loaded once. After a save of existing pages or .bib files the same application
  builds again, its environment still loaded (:class:`Builder`); anything else (``conf.py``,
  a file added or removed, templates) gets a new application. The output is what
  ``make html`` writes; the search index follows in the background once the page reloaded.
* **Saves** are noticed by polling the sources' modification times (standard library only;
  a few hundred files stat in about a millisecond).
* **The browser reloads itself**: pages are served with a small script added on the fly (the
  files on disk are untouched) that listens to ``/__labhandbook__/events`` (server-sent events)
  and reloads when a build succeeded, or shows the build's errors over the page, with file and
  line, when it failed. The next good build removes them; the server never stops on an error.
  The browsers are told as soon as every document's page is written, while Sphinx's finish
  steps (indexes, search, ``build-finished``) go on (:class:`Ready`): until they end, the
  server sends nothing those steps may be writing (:class:`Broadcaster`).
* It listens on 127.0.0.1 only, and serves text compressed with gzip as Read the Docs does.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import gzip
import io
import json
import os
import re
import signal
import stat
import sys
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

PREFIX = "/__labhandbook__/"
#: Every file is stale at once: the browser asks with its ``ETag`` on every load.
REVALIDATE = "max-age=0, must-revalidate"
#: A file whose URL names its bytes (:meth:`PreviewHandler._lasting`): kept by the browser
#: without asking again; other bytes come under another URL.
LASTING = "max-age=31536000, immutable"
EVENTS = PREFIX + "events"
CLIENT = PREFIX + "reload.js"
#: Folders never watched: build output, environments, tool caches, version control.
IGNORED_DIRS = frozenset({"_build", ".venv", "venv", "node_modules", "__pycache__", ".git",
                          ".pytest_cache", ".ruff_cache", "tests", "benchmarks", "build",
                          "dist"})
WATCHED_SUFFIXES = frozenset({".md", ".rst", ".bib", ".py", ".css", ".js", ".html", ".png",
                              ".jpg", ".jpeg", ".svg", ".webp", ".gif", ".txt", ".yml",
                              ".yaml", ".json"})
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml",
                "application/xml", "application/atom+xml")
#: A Sphinx warning line: ``path:line: WARNING: message`` (line optional).
PROBLEM = re.compile(r"^(?P<path>[^\s:][^:]*?)(?::(?P<line>\d+))?: (?:\(?(?P<kind>WARNING|ERROR|"
                     r"CRITICAL|SEVERE)\)?[:/]?\s*)(?P<message>.*)$")

CLIENT_JS = """\
// labhandbook serve: reload when a build has finished, show its errors when it failed.
(() => {
  const seen = document.documentElement.dataset.lhBuild;
  const source = new EventSource(
    "%(events)s?page=" + encodeURIComponent(window.location.pathname));
  const box = () => {
    let el = document.getElementById("lh-preview-errors");
    if (!el) {
      el = document.createElement("div");
      el.id = "lh-preview-errors";
      el.setAttribute("role", "alert");
      el.style.cssText = "position:fixed;inset:auto 0 0 0;max-height:60vh;overflow:auto;" +
        "z-index:10000;margin:0;padding:1rem;background:#3b0d0d;color:#fff;" +
        "font:14px/1.4 monospace;white-space:pre-wrap;border-top:4px solid #e33";
      document.body.append(el);
    }
    return el;
  };
  source.addEventListener("build", (event) => {
    const build = JSON.parse(event.data);
    if (build.problems.length) {
      const el = box();
      el.textContent = "The preview could not be built " +
        "(the page shows the last good build):\\n\\n" +
        build.problems.map((p) => (p.path ? p.path + (p.line ? ":" + p.line : "") + ": " : "") +
          p.message).join("\\n");
    } else if (String(build.id) !== seen) {
      window.location.reload();
    } else {
      document.getElementById("lh-preview-errors")?.remove();
    }
  });
})();
"""


# --- building -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass
class BuildResult:
    id: int
    ok: bool
    seconds: float
    problems: list[Problem] = field(default_factory=list)
    cpu_seconds: float = 0.0  #: this process's CPU time during the build


def parse_problems(text: str, srcdir: Path) -> list[Problem]:
    """Sphinx's warnings (``path:line: WARNING: ...``) as problems, paths relative to the
    sources; lines that continue a message are appended to it."""
    problems: list[Problem] = []
    root = str(srcdir).rstrip(os.sep) + os.sep
    for raw in text.splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", raw).rstrip()
        if not line:
            continue
        m = PROBLEM.match(line)
        if m:
            path = m["path"].removeprefix(root)
            problems.append(Problem(path, int(m["line"]) if m["line"] else None,
                                    f"{m['kind']}: {m['message']}"))
        elif re.match(r"^(WARNING|ERROR|CRITICAL)[:/ ]", line):
            problems.append(Problem("", None, line))
        elif problems:
            last = problems[-1]
            problems[-1] = Problem(last.path, last.line, f"{last.message}\n{line}")
    return problems


class TemplateCache:
    """Compiled Jinja templates kept between builds (Jinja's documented ``BytecodeCache``,
    in memory). Each build makes a new template environment, which would compile the theme's
    templates again (about a second on a loaded 2-core machine); a template is looked up by
    name and a checksum of its source, so an edited template is compiled again.

    Adapter: it reaches the builder's Jinja environment as ``app.builder.templates.environment``
    (Sphinx's ``BuiltinTemplateLoader``); when that is missing, builds simply compile as usual.
    """

    def __init__(self) -> None:
        from jinja2 import BytecodeCache

        store: dict[str, bytes] = {}

        class _Memory(BytecodeCache):
            def load_bytecode(self, bucket: Any) -> None:
                if bucket.key in store:
                    bucket.bytecode_from_string(store[bucket.key])

            def dump_bytecode(self, bucket: Any) -> None:
                store[bucket.key] = bucket.bytecode_to_string()

        self.cache = _Memory()

    def attach(self, app: Any) -> None:
        environment = getattr(getattr(app.builder, "templates", None), "environment", None)
        if environment is not None and getattr(environment, "bytecode_cache", None) is None:
            environment.bytecode_cache = self.cache


class ToctreeCache:
    """The global navigation of each page kept between builds of one application.

    The theme's sidebar on every page written is Sphinx's ``toctree`` template function
    (documented in Sphinx's templating reference; the theme calls it through
    ``context["toctree"]``): Sphinx copies and resolves the toctree of the whole site for each
    page (about a third of a prose edit's warm build at lab scale). Its HTML depends on the page
    and on the site's navigation only, so an ``html-page-context`` handler (documented; run
    before the theme's at priority 400) wraps the page's ``toctree`` function: a call returns the
    HTML of the last build while the page, its arguments and :func:`navigation_state` are the
    same. An application's first build fills it; a new application gets a new cache (a build
    with warnings never leaves its application to the next save, so a warning the toctree gave
    is never skipped).
    """

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], tuple[str, str]] = {}
        self.parts: dict[str, tuple[Any, Any, bytes]] = {}  #: see :func:`navigation_state`
        self.state: str | None = None
        self.hits = 0

    def attach(self, app: Any) -> None:
        app.connect("env-before-read-docs", self._new_build)
        app.connect("html-page-context", self._wrap, priority=400)

    def _new_build(self, app: Any, env: Any, docnames: list[str]) -> None:
        self.state = None

    def _wrap(self, app: Any, pagename: str, templatename: str, context: dict[str, Any],
              doctree: Any) -> None:
        toctree = context.get("toctree")
        if not callable(toctree):
            return
        self._share_sidebar(app, pagename, context)

        def cached(**kwargs: Any) -> Any:
            if self.state is None:
                self.state = navigation_state(app.env, self.parts)
            key = (pagename, repr(sorted(kwargs.items())))
            hit = self.items.get(key)
            if hit is not None and hit[0] == self.state:
                self.hits += 1
                return hit[1]
            html = toctree(**kwargs)
            if isinstance(html, str):
                self.items[key] = (self.state, html)
            return html

        context["toctree"] = cached

    def _share_sidebar(self, app: Any, pagename: str, context: dict[str, Any]) -> None:
        """The theme's navigation component of the page (the toctree HTML made over with
        BeautifulSoup by the pydata theme's ``generate_toctree_html``: a tenth of a prose
        edit's warm build at lab scale) kept between builds like the toctree.

        The page's sidebar list names the component that ``papers.py`` gives paper pages
        (:data:`~labhandbook.papers.SHARED_NAV`, which includes the theme's own component and
        asks ``lh_shared`` for its HTML) instead of the theme's; ``lh_shared`` returns the HTML
        of the last build while the page and :func:`navigation_state` are the same. The
        component's HTML depends on the page, the navigation and the theme's settings only
        (``theme_sidebars`` in ``papers.py`` is the adapter to the theme's list).
        """
        from markupsafe import Markup

        from .papers import SHARED_NAV, THEME_NAV

        sidebars = context.get("sidebars")
        if context.get("lh_paper") and callable(context.get("lh_shared")):
            self._share_paper_sidebar(app, context)
            return
        # papers.py names SHARED_NAV itself when the lab sets no html_sidebars
        if (not isinstance(sidebars, list) or "lh_shared" in context
                or (THEME_NAV not in sidebars and SHARED_NAV not in sidebars)):
            return
        context["sidebars"] = [SHARED_NAV if name == THEME_NAV else name for name in sidebars]

        def shared(key: str, render: Callable[[], Any]) -> Markup:
            if self.state is None:
                self.state = navigation_state(app.env, self.parts)
            item = (pagename, f"lh_shared:{key}")
            hit = self.items.get(item)
            if hit is not None and hit[0] == self.state:
                self.hits += 1
                return Markup(hit[1])
            html = str(render())
            self.items[item] = (self.state, html)
            return Markup(html)  # the theme's own HTML, escaped by its template

        context["lh_shared"] = shared

    def _share_paper_sidebar(self, app: Any, context: dict[str, Any]) -> None:
        """Paper pages share one navigation (``papers.py`` renders it once per build: they
        are in no toctree and in one folder): kept between builds too, while
        :func:`navigation_state` is the same (0.4-0.9 s of a department's .bib save)."""
        from markupsafe import Markup

        per_build = context["lh_shared"]

        def shared(key: str, render: Callable[[], Any]) -> Markup:
            if self.state is None:
                self.state = navigation_state(app.env, self.parts)
            item = ("lh_shared:papers", key)
            hit = self.items.get(item)
            if hit is not None and hit[0] == self.state:
                self.hits += 1
                return Markup(hit[1])
            html = str(per_build(key, render))
            self.items[item] = (self.state, html)
            return Markup(html)

        context["lh_shared"] = shared


class StaticFiles:
    """Sphinx's static files copied once per application, not on every warm build.

    Before writing pages, the HTML builder copies the theme's and ``html_static_path``'s files
    into ``_static/`` (``copy_static_files``), rendering its templates (``*.jinja``, ``*_t``)
    and ``pygments.css`` afresh: 0.03–0.1 s of a prose edit's warm build at lab scale. A warm
    build skips it when nothing it is made from changed since the last build copied them, and
    nothing changed ``_static/`` since that build ended: the files of those folders (and
    ``html_logo``, ``html_favicon``) and of the output's ``_static/`` (path, modification time,
    size), and the template context (every value but functions; see :func:`_stable_repr`).
    Settings cannot change within an application (a new ``conf.py`` gets a new one). A later
    step that writes into ``_static/`` (the theme writes ``pygments.css`` again at
    ``build-finished``) writes its file whole again in the next build, as after a copy.

    Adapter: the builder's ``copy_static_files`` method (Sphinx's HTML builder, called from
    ``copy_assets``) is replaced on the builder object; without it, builds copy as usual.
    Breaks if Sphinx copies static files elsewhere: then they are copied every build (slower,
    the same output). ``tests/test_serve.py`` checks the skip, and a copy after a change.
    """

    def __init__(self) -> None:
        self.key: tuple[str, str] | None = None  #: inputs and ``_static/`` as a build left them
        self._inputs: str | None = None  #: the current build's
        self.skips = 0

    def attach(self, app: Any) -> None:
        builder = app.builder
        copy = getattr(builder, "copy_static_files", None)
        if not callable(copy):
            return

        def copy_when_changed() -> None:
            self._inputs = inputs = self._inputs_key(app)
            if inputs is not None and self.key == (inputs, _stamps(builder.outdir / "_static")):
                self.skips += 1
                return
            copy()

        builder.copy_static_files = copy_when_changed
        app.connect("build-finished", self._finished, priority=1000)

    def _finished(self, app: Any, exception: BaseException | None) -> None:
        """After every writer of ``build-finished``: ``_static/`` as this build leaves it."""
        inputs, self._inputs = self._inputs, None
        self.key = (None if exception is not None or inputs is None
                    else (inputs, _stamps(app.builder.outdir / "_static")))

    @staticmethod
    def _inputs_key(app: Any) -> str | None:
        import hashlib

        from .incremental import static_folders

        builder = app.builder
        try:
            folders = [folder for folder, _own in static_folders(app)]
            files = [Path(app.confdir, f) for f in (app.config.html_logo,
                                                     app.config.html_favicon)
                     if f and "://" not in str(f)]
            context = dict(builder.globalcontext)
            if builder.indexer is not None:
                context.update(builder.indexer.context_for_searchtool())
        except Exception:  # noqa: BLE001 - a Sphinx without these: copy every build
            return None
        digest = hashlib.blake2b(digest_size=16)
        for name, value in sorted(context.items()):
            if not callable(value):
                digest.update(f"{name}={_stable_repr(value)}\0".encode())
        for folder in folders:
            digest.update(f"\1{folder}\1{_stamps(folder)}".encode())
        for path in files:
            with contextlib.suppress(OSError):
                st = path.stat()
                digest.update(f"{path}:{st.st_mtime_ns}:{st.st_size}\0".encode())
        return digest.hexdigest()


def _stamps(folder: Path) -> str:
    """A digest of every file under ``folder`` (relative path, modification time, size),
    symbolic links followed as Sphinx's copy follows them."""
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    found = []
    for base, _dirs, names in os.walk(folder, followlinks=True):
        for name in names:
            path = os.path.join(base, name)
            with contextlib.suppress(OSError):
                st = os.stat(path)
                found.append(f"{os.path.relpath(path, folder)}:{st.st_mtime_ns}:{st.st_size}")
    for line in sorted(found):
        digest.update(line.encode() + b"\0")
    return digest.hexdigest()


def _stable_repr(value: Any) -> str:
    """``repr`` of plain data, containers element by element; an object by its ``str`` when
    its class writes one (Sphinx's script and stylesheet entries), else its ``repr`` (which
    names the object: another object, another text)."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_stable_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{_stable_repr(v)}" for k, v in
                              sorted(value.items(), key=lambda kv: repr(kv[0]))) + "}"
    plain = isinstance(value, (str, int, float, type(None)))
    if not plain and type(value).__str__ is not object.__str__:
        return f"{type(value).__qualname__}({value})"
    return repr(value)


#: The plugin groups of pybtex and sphinxcontrib-bibtex a build looks styles up in.
STYLE_GROUPS = ("pybtex.style.formatting", "pybtex.style.labels", "pybtex.style.names",
                "pybtex.style.sorting", "sphinxcontrib.bibtex.style.referencing")


@functools.cache
def _remember_styles_once() -> int:
    return remember_installed_styles()


def remember_installed_styles() -> int:
    """Register the installed styles of :data:`STYLE_GROUPS` (and their aliases) at run time
    (pybtex's and sphinxcontrib-bibtex's documented ``register_plugin``); how many.

    Both look a plugin up in their run-time registry first and else in the installed entry
    points, which ``importlib.metadata`` finds by reading every installed distribution's
    metadata again on each lookup: nine lookups per build (sphinxcontrib-bibtex's referencing
    styles at ``builder-inited``, pybtex's name, label and sorting styles each time a
    bibliography style is made), 0.05–0.09 s of a lab-scale warm build. Registered once per
    process before any application exists, each name resolves to the same class as its entry
    point, and a later ``register_plugin`` gets the answer it would get from the entry point
    (refused without ``force``, else replacing it).
    """
    from importlib.metadata import entry_points

    import pybtex.plugin
    import sphinxcontrib.bibtex.plugin

    installed = entry_points()
    count = 0
    for group in STYLE_GROUPS:
        register = (sphinxcontrib.bibtex.plugin.register_plugin
                    if group.startswith("sphinxcontrib.") else pybtex.plugin.register_plugin)
        aliases = () if group.startswith("sphinxcontrib.") else (f"{group}.aliases",)
        for name in (group, *aliases):
            for point in installed.select(group=name):
                with contextlib.suppress(Exception):  # a broken plugin: looked up as before
                    register(name, point.name, point.load(), force=True)
                    count += 1
    return count


def navigation_state(env: Any, parts: dict[str, tuple[Any, Any, bytes]]) -> str:
    """A digest of everything Sphinx's global toctree is made from (``global_toctree_for_doc``):
    the root document's toctree directives, every page's table of contents (``env.tocs``: the
    nested toctrees, section titles), section numbers, titles (``self`` entries),
    ``tocdepth``, and which page includes which (``env.toctree_includes``: the current page's
    ancestors). Settings, templates and tags are fixed for an application.

    ``parts`` keeps each page's digest with the objects it was made from: a page not re-read
    keeps its table of contents and title objects (Sphinx replaces them when it reads the
    page; section numbers, which it sets in place, are in ``env.toc_secnumbers``), so only
    re-read pages are serialised again (all 62 pages' took 0.27 s of a profiled prose edit).

    Adapter: these are the attributes ``sphinx.environment.adapters.toctree`` reads (Sphinx 9);
    if a release reads another, a stale sidebar shows in ``tests/test_serve.py``'s comparison of
    warm and clean builds over random edits (navigation edits included).
    """
    import hashlib

    from sphinx import addnodes

    digest = hashlib.blake2b(digest_size=16)
    for node in env.master_doctree.findall(addnodes.toctree):
        digest.update(node.pformat().encode())
    for doc in sorted(env.tocs):
        toc, title = env.tocs[doc], env.titles.get(doc)
        kept = parts.get(doc)
        if kept is None or kept[0] is not toc or kept[1] is not title:
            page = hashlib.blake2b(toc.pformat().encode(), digest_size=16)
            page.update(title.pformat().encode() if title is not None else b"-")
            parts[doc] = kept = (toc, title, page.digest())
        digest.update(f"\0{doc}\0{env.metadata.get(doc, {}).get('tocdepth')}\0".encode())
        digest.update(kept[2])
    for doc in [d for d in parts if d not in env.tocs]:
        del parts[doc]
    digest.update(repr(sorted(env.toc_secnumbers.items())).encode())
    digest.update(repr(sorted(env.toctree_includes.items())).encode())
    return digest.hexdigest()


#: Modules whose ``builder-inited`` handlers read the sources (front matter, .bib files): a
#: warm application runs them again before each build (see :meth:`Builder._refresh`).
SOURCE_READERS = ("labhandbook.", "sphinxcontrib.bibtex")
#: Files a warm application rebuilds after; any other change (``conf.py``, templates, static
#: files, images) gets a new application, as ``make html`` would start one.
WARM_SUFFIXES = frozenset({".md", ".rst", ".bib"})


def source_readers(app: Any) -> list[Callable[[Any], None]] | None:
    """The ``builder-inited`` handlers of :data:`SOURCE_READERS`, in Sphinx's order (priority,
    then connection order).

    Adapter: reads the listener table of Sphinx's event manager (``app.events.listeners``,
    entries with ``handler`` and ``priority``); if a Sphinx release renames it, this returns
    ``None`` and every build gets a new application (correct, only slower).
    """
    listeners = getattr(getattr(app, "events", None), "listeners", None)
    if not isinstance(listeners, dict):
        return None
    try:
        ordered = sorted(listeners.get("builder-inited", []), key=lambda lst: lst.priority)
        return [lst.handler for lst in ordered
                if getattr(lst.handler, "__module__", "").startswith(SOURCE_READERS)]
    except AttributeError:
        return None


def asset_marks(app: Any) -> tuple[int, int] | None:
    """How many scripts and stylesheets the application has registered before its first
    build: what :func:`reset_between_builds` goes back to. ``None`` when Sphinx keeps its
    state elsewhere than :func:`reset_between_builds` knows (then every build gets a new
    application: correct, only slower)."""
    registry, env = getattr(app, "registry", None), getattr(app, "env", None)
    scripts, sheets = getattr(registry, "js_files", None), getattr(registry, "css_files", None)
    builder = getattr(app, "builder", None)
    if (not isinstance(scripts, list) or not isinstance(sheets, list)
            or not callable(getattr(builder, "init_js_files", None))
            or not callable(getattr(builder, "init_css_files", None))
            or not isinstance(getattr(env, "_pickled_doctree_cache", None), dict)):
        return None
    return len(scripts), len(sheets)


def reset_between_builds(app: Any, marks: tuple[int, int]) -> None:
    """What a build leaves in the application that the next build must not see.

    Adapter over Sphinx internals (checked by :func:`asset_marks`; the differential test of
    ``tests/test_serve.py`` fails when a Sphinx upgrade adds another):

    * doctrees read from disk are cached in ``env._pickled_doctree_cache``, and the root
      document in the ``env.master_doctree`` cached property: a page re-read since would be
      resolved from its old doctree (``sphinx.testing``'s application clears the cache before
      each build for the same reason);
    * sphinxcontrib-bibtex's citation nodes are filled when written (:func:`empty_citation_nodes`);
    * ``app.add_js_file`` from an ``html-page-context`` handler (the theme adds
      ``DOCUMENTATION_OPTIONS.pagename = ...`` to each page, our search page its script) also
      appends to the component registry (``app.registry.js_files``), whose files the HTML
      builder's ``prepare_writing`` adds to every page of the next build: the lists are cut
      back and the builder's ``init_css_files``/``init_js_files`` (what its ``init`` calls)
      run again.
    """
    app.env._pickled_doctree_cache.clear()
    app.env.__dict__.pop("master_doctree", None)
    empty_citation_nodes(app.env)
    del app.registry.js_files[marks[0]:]
    del app.registry.css_files[marks[1]:]
    app.builder.init_css_files()
    app.builder.init_js_files()


def empty_citation_nodes(env: Any) -> None:
    """Give sphinxcontrib-bibtex's citation nodes back the state reading left them in.

    Adapter over sphinxcontrib-bibtex 2.7: each bibliography keeps its citation nodes in the
    environment (``domain.bibliographies[...].citation_nodes``), and when the page is written
    its post-transform appends the label and the formatted entry to those very nodes (and sets
    ``docname``, ``backrefs``). ``make html`` loads them afresh from the pickle each time; a warm
    application would append a second label and entry to a bibliography page written again
    without being re-read (a page retitled rewrites every page), and the child would pickle
    them so for the next ``make html``. If a release keeps them elsewhere, this does nothing
    and ``tests/test_serve.py``'s retitle step shows doubled entries.
    """
    with contextlib.suppress(Exception):  # no such domain: nothing to reset
        bibliographies = env.get_domain("cite").bibliographies
        for bibliography in bibliographies.values():
            for node in bibliography.citation_nodes.values():
                del node.children[:]
                node["backrefs"] = []
                node.attributes.pop("docname", None)
                node.parent = None


def _unsaved_environment() -> None:
    """What Sphinx's own pickle of the environment holds in a serve build (the real one is
    written by a child process): loading it fails, and Sphinx then starts from a fresh
    environment (reads every page: correct, only slower)."""
    raise RuntimeError("labhandbook serve had not saved this environment")


#: Seconds serve waits for the child saving the environment before it gives up on it.
SAVE_TIMEOUT = 120.0
#: How much lower the priority of the background work of a build is (the child saving the
#: environment, Pagefind): ``nice`` steps, out of the way of the build and the browser.
BACKGROUND_NICE = 10
#: Seconds between telling the browsers of a build and starting Pagefind: the reloaded page is
#: fetched and drawn first (a 2-core machine has no core to spare for it).
INDEX_DELAY = 1.0
#: Seconds a request waits for a build told of early to finish (see :class:`Broadcaster`).
SETTLE_TIMEOUT = 120.0
#: Seconds at most that a build told of early holds its finish steps for the browsers' reload
#: (see :meth:`Broadcaster.reloaded`).
RELOAD_HOLD = 1.0
#: Seconds between looks at the files saved lately (:func:`watch`): an editor saves the page it
#: is editing again and again, and a ``stat`` of a few files costs a thousandth of the tree's
#: walk, which is made every ``poll`` (50 ms: a save waited 25 ms on average to be noticed).
HOT_POLL = 0.01
#: How many of the files saved lately are looked at every ``HOT_POLL``.
HOT_FILES = 8


def lower_priority(steps: int = BACKGROUND_NICE) -> None:
    """Lower the priority of the calling thread, and so of the processes it starts, by
    ``steps`` (best effort). Linux sets priorities per thread (``setpriority`` with the
    thread's id); elsewhere only a process of its own (the forked child) is lowered, never
    serve's threads that build and serve.
    """
    with contextlib.suppress(OSError, AttributeError):
        if sys.platform.startswith("linux"):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + steps)
        elif threading.active_count() == 1:
            os.nice(steps)


def pickle_in_child(env: Any, children: list[int]) -> Callable[[], None]:
    """Make Sphinx's pickle of ``env`` during the build happen in a forked child process;
    returns the undo. Each child's process id is added to ``children`` (wait for them before
    the file is read or written again: :meth:`Builder.wait_saved`).

    Sphinx pickles the whole environment after reading, inside ``Builder.build`` (27 % of a
    prose edit's build at lab scale; 15 MB at department scale), only so that the next
    process can start from it. At that moment the child, a copy-on-write snapshot of this
    process, pickles the same environment with the same ``pickle.dump`` into a new file and
    moves it over Sphinx's (``ENV_PICKLE_FILENAME``), while the build goes on writing pages
    on the other core. The environment must be pickled as it is then, after reading: the write
    phase changes it (sphinxcontrib-bibtex renders entries into the citation nodes it keeps),
    so a later pickle would be another state than Sphinx's. If the child fails, the file holds
    the few bytes Sphinx wrote, whose loading fails: the next build reads every page.

    Adapter: the environment's class is swapped for a subclass during the build (pickling
    looks ``__reduce_ex__`` up on the class). Breaks if Sphinx stops pickling the environment
    with ``pickle`` or renames ``ENV_PICKLE_FILENAME``: ``tests/test_serve.py`` checks that a
    ``sphinx-build`` after serve reads no page and equals a clean build. Without ``os.fork``
    (Windows) Sphinx pickles as usual.
    """
    if not hasattr(os, "fork"):
        return lambda: None
    cls = type(env)

    def reduce(self: Any, protocol: int) -> Any:
        pid = os.fork()
        if pid == 0:  # the child: save, and never return into the build
            code = 1
            try:
                lower_priority()  # the build goes on in the parent, the browser reloads
                self.__class__ = cls
                _save_environment(self)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
        return (_unsaved_environment, ())

    env.__class__ = type(f"Forked{cls.__name__}", (cls,), {"__reduce_ex__": reduce})

    def undo() -> None:
        env.__class__ = cls

    return undo


def _save_environment(env: Any) -> None:
    """Pickle ``env`` where Sphinx keeps it, as Sphinx does; the file is replaced only when
    complete."""
    import pickle

    from sphinx.application import ENV_PICKLE_FILENAME

    path = Path(env.doctreedir, ENV_PICKLE_FILENAME)
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    with open(part, "wb") as f:
        pickle.dump(env, f, pickle.HIGHEST_PROTOCOL)
    os.replace(part, path)


@dataclass
class Ready:
    """One build's way to its early publication (:attr:`Builder.ready`): the documents it may
    write, and the output files of those it has begun to write.

    Sphinx writes every document's page (``html-page-context``, then the file) one after the
    other before its finish steps (the general index, ``html-collect-pages``, the search page,
    the search index, ``build-finished``), whose first page is not a document: at that page's
    ``html-page-context``, or at ``html-collect-pages``, every document's page is whole and
    will not be written again in this build; once the builder's ``handle_page`` has returned
    (or, without :meth:`Builder._tell_when_written`, at the next page's ``html-page-context``),
    the page before is. The browsers are told at the first of these moments after a page a
    browser shows (:attr:`Builder.watched`) is whole, or after every document's page is. The
    browser's reload needs only that page and files it holds already (``304``), so it need
    not wait for the finish steps (a fifth of a prose edit's warm build at lab scale) nor for
    other pages. The final output is unchanged: the build goes on.
    """

    docs: Collection[str]
    start: float  #: when the build began (``time.perf_counter``)
    cpu: float  #: and this process's CPU time then
    pages: list[str] = field(default_factory=list)
    told: bool = False
    #: Pages to feed to Sphinx's search index once told (:meth:`Builder._defer_search_feed`).
    feeds: list[tuple[str, Any, str]] = field(default_factory=list)
    #: The search index's load from disk, made once told (:meth:`Builder._defer_search_feed`).
    load: Callable[[], None] | None = None


class Builder:
    """Builds the handbook in this process, as ``make html`` does, one build at a time.

    The first build, and any build after a change of anything but an existing page or .bib
    file, creates a :class:`~sphinx.application.Sphinx` application (``sphinx-build``'s
    settings). After a save of existing pages or .bib files, the same application builds
    again (``app.build()``, as Sphinx's own tests rebuild one application): the environment
    stays loaded, and the handlers that read the sources at ``builder-inited`` (the registry,
    the BibTeX checks, sphinxcontrib-bibtex's parse, the library) run again first. The output
    is a clean build's (``tests/test_serve.py`` compares them over a random edit sequence).

    The Pagefind index is not made during the build (:data:`labhandbook.search.DEFER_ATTR`):
    :meth:`index_later` runs it in the background once the page has reloaded, and the next
    build stops it if a save comes first. Use as a context manager (or call :meth:`close`):
    a warm application keeps Sphinx's docutils registrations open between builds.
    """

    def __init__(self, srcdir: Path, outdir: Path, doctreedir: Path, *,
                 nitpicky: bool = True, log: Callable[[str], None] = print) -> None:
        self.srcdir, self.outdir, self.doctreedir = srcdir, outdir, doctreedir
        self.overrides = {"nitpicky": True} if nitpicky else {}
        self.log = log
        self.count = 0
        self.lock = threading.Lock()
        self.templates = TemplateCache()
        self.toctrees = ToctreeCache()  #: the current application's
        self.static = StaticFiles()  #: the current application's
        self._app: Any = None
        self._readers: list[Callable[[Any], None]] = []
        self._marks: tuple[int, int] | None = None
        self._scope: contextlib.ExitStack | None = None
        self._streams = (io.StringIO(), io.StringIO())
        self._pending: list[Any] = []  #: Pagefind runs the last build left to do
        self._indexing: tuple[threading.Thread, list[Any], threading.Event] | None = None
        self.warm_builds = 0  #: builds that reused the application
        self._children: list[int] = []  #: processes saving the environment (pickle_in_child)
        #: Told of a build once every page of its write phase is written (see :class:`Ready`).
        self.ready: Callable[[BuildResult, list[str]], None] | None = None
        _remember_styles_once()
        #: The output files the browsers show (absolute, real paths): once one of them is
        #: written, the browsers are told without waiting for the other pages.
        self.watched: Callable[[], Collection[str]] | None = None
        #: Returns once the browsers told of a build early have reloaded (or gave up waiting):
        #: the build's finish steps wait for it (:meth:`Broadcaster.reloaded`).
        self.reloaded: Callable[[], object] | None = None
        self._ready: Ready | None = None  #: the current build's
        self._clock = (0.0, 0.0)  #: the current build's start: wall and CPU time

    def __enter__(self) -> Builder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop a background index, wait for the environment to be saved (the next
        ``make html`` goes on from it) and let the application go."""
        self._stop_indexing()
        self.wait_saved()
        self._drop_app()

    def wait_saved(self, timeout: float = SAVE_TIMEOUT) -> bool:
        """Wait for the processes saving the environment; whether they all succeeded.

        A child that has not finished after ``timeout`` seconds is killed (a fork of a
        process with threads can in principle block on a lock another thread held): the file
        then holds Sphinx's few bytes, so the next build reads every page, and serve goes on.
        """
        ok = True
        deadline = time.monotonic() + timeout
        while self._children:
            pid = self._children.pop()
            try:
                while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
                    if time.monotonic() > deadline:
                        os.kill(pid, signal.SIGKILL)
                        done = os.waitpid(pid, 0)
                        break
                    time.sleep(0.005)
                ok = os.waitstatus_to_exitcode(done[1]) == 0 and ok
            except ChildProcessError:
                ok = False
        return ok

    def _drop_app(self) -> None:
        self._app = None
        if self._scope is not None:
            self._scope.close()
            self._scope = None

    def _new_app(self) -> Any:
        from sphinx.application import Sphinx
        from sphinx.util.docutils import docutils_namespace, patch_docutils

        from .incremental import _forget_asset_checksums
        from .search import DEFER_ATTR

        self._drop_app()
        # Sphinx keeps each asset's ``?v=`` checksum for the life of the process, and a new
        # application comes after a save that may change a file it renders from settings
        # (``documentation_options.js``): the server lets browsers keep a ``?v=`` file as
        # long as it likes (PreviewHandler._lasting), so the pages must name the new bytes.
        _forget_asset_checksums()
        self._streams = status, warnings = io.StringIO(), io.StringIO()
        scope = contextlib.ExitStack()
        scope.enter_context(patch_docutils(self.srcdir))
        scope.enter_context(docutils_namespace())
        self._scope = scope
        app = Sphinx(self.srcdir, self.srcdir, self.outdir, self.doctreedir, "html",
                     confoverrides=dict(self.overrides), status=status, warning=warnings,
                     freshenv=False, keep_going=True, verbosity=0)
        self.templates.attach(app)
        self.toctrees = ToctreeCache()
        self.toctrees.attach(app)
        self.static = StaticFiles()
        self.static.attach(app)
        app.connect("html-page-context", self._page_written, priority=1)
        app.connect("html-collect-pages", self._pages_written, priority=1)
        self._defer_search_feed(app)
        self._tell_when_written(app)
        self._write_shown_first(app)
        app.__dict__[DEFER_ATTR] = self._pending
        self._marks = asset_marks(app)
        return app

    def _warm_app(self, edited: Collection[str] | None) -> Any:
        """The application of the last build, reset, when ``edited`` (files saved in place)
        allows it; else ``None``."""
        from sphinx.environment import CONFIG_OK

        from .sources import Sources, get_sources

        app = self._app
        if app is None or edited is None or not self._readers or self._marks is None:
            return None
        if app.env.config_status != CONFIG_OK or get_sources(app.config) != Sources():
            return None  # a new configuration, or files left out: sources.py decides afresh
        bibs = set(app.config.bibtex_bibfiles)
        for name in edited:
            path = Path(name)
            if path.suffix not in WARM_SUFFIXES or path.is_symlink() or not path.is_file():
                return None
            rel = path.relative_to(self.srcdir).as_posix() if path.is_absolute() else name
            if path.suffix == ".bib" and rel not in bibs:
                return None
            if path.suffix != ".bib" and app.env.path2doc(str(path)) not in app.env.found_docs:
                return None
        for stream in self._streams:
            stream.seek(0)
            stream.truncate()
        app.statuscode = 0
        reset_between_builds(app, self._marks)
        return app

    def build(self, edited: Collection[str] | None = None) -> BuildResult:
        """Build; ``edited``: the files saved in place since the last build (absolute paths),
        ``None`` when unknown or when files were added or removed.

        A warm build that fails or warns is done again by a new application, whose
        ``config-inited`` decides afresh (a .bib pybtex cannot read, a page that is not UTF-8
        are left out there): what the editor sees is what ``make html`` reports, and a warm
        application only ever goes on from a build without problems.
        """
        with self.lock:
            self._stop_indexing()
            self.count += 1
            start, cpu = self._clock = time.perf_counter(), time.process_time()
            app = self._warm_app(edited)
            if app is not None:
                self.warm_builds += 1
                failed, problems = self._run(app)
                app = self._app
                if app is None:
                    self._pending.clear()  # the new application's build indexes
            if app is None:
                failed, problems = self._run(None)
            seconds = time.perf_counter() - start
            ok = not failed and not problems
            return BuildResult(self.count, ok, seconds, problems, time.process_time() - cpu)

    def _run(self, app: Any) -> tuple[bool, list[Problem]]:
        """One build with ``app`` (``None``: a new application; else the warm one, whose
        source readers run first); whether it failed, and its problems. The application is
        kept for the next save only when the build had no problem."""
        problems: list[Problem] = []
        failed = True
        self._app = None
        self.wait_saved()  # the last build's environment is on disk before this one starts
        try:
            if app is None:
                app = self._new_app()
            else:
                from .config import get_config

                # The warm application's heap (its environment, the caches) went back to the
                # collector when the last build finished (process.py): frozen again before
                # the source readers, as process.py freezes it inside the build, so that the
                # collections their new objects set off do not walk it (at department scale
                # a .bib save set off four full collections here, 1-3 s of CPU). Unfrozen at
                # build-finished, or below when the build fails before it.
                if get_config(app).gc_freeze:
                    gc.freeze()
                for reader in self._readers:
                    reader(app)
            undo = pickle_in_child(app.env, self._children)
            self._ready = (Ready(app.env.found_docs, *self._clock)
                           if self.ready is not None else None)
            try:
                app.build()
            finally:
                undo()
                self._ready = None
            failed = app.statuscode != 0
        except Exception as err:  # noqa: BLE001 - any failure is shown, the server goes on
            # Sphinx deleted the environment so that the next build starts anew: so does a
            # child that was still saving it.
            from sphinx.application import ENV_PICKLE_FILENAME

            self.wait_saved()
            Path(self.doctreedir, ENV_PICKLE_FILENAME).unlink(missing_ok=True)
            self._drop_app()
            self._pending.clear()
            # A failure before ``build-finished`` leaves the heap that process.py froze
            # frozen; this process lives on, so give it back.
            gc.unfreeze()
            where = _location(err, self.srcdir)
            problems.append(Problem(where[0], where[1], f"{type(err).__name__}: {err}"))
        problems = parse_problems(self._streams[1].getvalue(), self.srcdir) + problems
        if not failed and not problems:
            self._app, self._readers = app, source_readers(app) or []
        return failed, problems

    def _page_written(self, app: Any, pagename: str, *args: Any) -> None:
        ready = self._ready
        if ready is not None and not ready.told:
            if pagename not in ready.docs:
                self._tell_ready(app)
            elif ready.pages and self.watched is not None and ready.pages[-1] in self.watched():
                self._tell_ready(app)  # the last page written is whole, and a browser shows it
            else:
                # Written after this event; whole by the next page's, or by the end of writing.
                ready.pages.append(os.path.realpath(app.builder.get_outfilename(pagename)))

    def _tell_when_written(self, app: Any) -> None:
        """Tell the browsers as soon as the page one of them shows is written, not at the next
        page's ``html-page-context``: Sphinx resolves the next page's doctree, runs its
        post-transforms and translates it first (the theme's and sphinx-design's transforms
        each walk the whole doctree).

        Adapter: ``handle_page`` (which renders the page's template, writes its file and the
        ``_sources`` copy) is wrapped on the builder object (Sphinx's HTML builder); without
        it, the browsers are told at the next page's ``html-page-context`` as before. Breaks if
        Sphinx writes pages elsewhere: then the same (later).
        """
        builder = app.builder
        handle_page = getattr(builder, "handle_page", None)
        if not callable(handle_page):
            return

        def written(pagename: str, *args: Any, **kwargs: Any) -> Any:
            result = handle_page(pagename, *args, **kwargs)
            ready = self._ready
            if (ready is not None and not ready.told and pagename in ready.docs
                    and ready.pages and self.watched is not None
                    and ready.pages[-1] == os.path.realpath(builder.get_outfilename(pagename))
                    and ready.pages[-1] in self.watched()):
                self._tell_ready(app)  # the page is whole, and a browser shows it
            return result

        builder.handle_page = written

    def _write_shown_first(self, app: Any) -> None:
        """Write the pages the browsers show before the build's other pages.

        Sphinx writes a build's documents in name order, and a saved page's toctree parent
        with it (``env.files_to_rebuild``): a person page named after ``index`` in the
        alphabet (``people/wu`` after ``people/index``: 40 of the benchmark lab's 50) waited
        for the people directory's page to be resolved, translated and written before the
        browsers were told. Here the pages a browser shows are written first, then the
        others, by two calls of the builder's documented ``write_documents``, each writing its
        pages in name order as before; what is written is the same.

        Adapter: ``write_documents`` is wrapped on the builder object (Sphinx's HTML
        builder). Breaks if Sphinx writes documents elsewhere: then in name order (the tell
        after the pages before it, same output). The random-edit comparison of
        ``tests/test_serve.py`` writes every person page first.
        """
        builder = app.builder
        write_documents = getattr(builder, "write_documents", None)
        if not callable(write_documents):
            return

        def shown_first(docnames: Any) -> Any:
            shown = self.watched() if self._ready is not None and self.watched else ()
            first = {d for d in docnames
                     if os.path.realpath(builder.get_outfilename(d)) in shown}
            if not first or first == set(docnames):
                return write_documents(docnames)
            write_documents(first)
            return write_documents(set(docnames) - first)

        builder.write_documents = shown_first

    def _pages_written(self, app: Any) -> list[Any]:
        if self._ready is not None and not self._ready.told:
            self._tell_ready(app)
        return []

    def _tell_ready(self, app: Any) -> None:
        """Every document's page is written (Sphinx writes them serially, before its finish
        steps): tell the browsers, unless the build has gone wrong so far; then feed the
        search index the pages written."""
        ready = self._ready
        assert ready is not None and self.ready is not None
        ready.told = True
        if app.statuscode == 0 and not parse_problems(self._streams[1].getvalue(),
                                                      self.srcdir):
            self.ready(BuildResult(self.count, True, time.perf_counter() - ready.start,
                                   cpu_seconds=time.process_time() - ready.cpu),
                       list(ready.pages))
            if self.reloaded is not None:
                # The rest of the build waits for the reload: it would take the GIL from the
                # server's threads and a core from the browser (told to shown 0.30 s beside
                # it, lab scale).
                self.reloaded()
        load, ready.load = ready.load, None
        if load is not None:
            load()
        feeds, ready.feeds = ready.feeds, []
        for args in feeds:
            app.builder.index_page(*args)

    def _defer_search_feed(self, app: Any) -> None:
        """Load and feed Sphinx's search index after the page is written, not before.

        Sphinx loads its search index from the last build's ``searchindex.js``
        (``load_indexer``, from ``prepare_writing``, before any page is written), then feeds
        each document to it (``index_page``, from ``write_doc_serialized``) just before writing
        its page: together more than a tenth of a prose edit's warm build at lab scale, which
        the browser need not wait for. In a build with a :class:`Ready`, both calls are kept
        and made when the browsers are told (before ``html-collect-pages`` and the index's
        dump in ``handle_finish``), the load first, then the pages in order, with the same
        arguments: the same index. Nothing else reads the index's contents before then
        (``copy_assets`` and the search page ask it for its language's scripts and scorer
        only, which it has from its settings).

        Adapter: ``load_indexer`` and ``index_page`` are wrapped on the builder object
        (Sphinx's HTML builder); without them, the index is loaded and fed as usual. Breaks if
        Sphinx loads or feeds its index elsewhere: then it does so before the pages again
        (slower, the same index). The random-edit comparison of ``tests/test_serve.py``
        compares ``searchindex.js`` with a clean build's.
        """
        builder = app.builder
        index_page = getattr(builder, "index_page", None)
        load_indexer = getattr(builder, "load_indexer", None)
        if not callable(index_page) or not callable(load_indexer):
            return

        def deferred(pagename: str, doctree: Any, title: str) -> None:
            ready = self._ready
            if ready is None or ready.told:
                index_page(pagename, doctree, title)
            else:
                ready.feeds.append((pagename, doctree, title))

        def load_later(docnames: Any) -> None:
            ready = self._ready
            if ready is None or ready.told:
                load_indexer(docnames)
            else:
                ready.load = partial(load_indexer, set(docnames))

        builder.index_page = deferred
        builder.load_indexer = load_later

    def index_later(self, delay: float = 0.0) -> None:
        """Start the Pagefind run the last build left, in a background thread, after
        ``delay`` seconds and at a lower priority (:func:`lower_priority`), so that it does
        not take the cores from the browser's reload; the next build stops it first (also
        while it waits). Its failures are logged."""
        with self.lock:
            jobs, self._pending[:] = list(self._pending), []
            if not jobs:
                return
            procs: list[Any] = []
            cancel = threading.Event()

            def run() -> None:
                if cancel.wait(delay):
                    return
                lower_priority()
                for job in jobs:
                    if cancel.is_set() or not job.needed():
                        continue
                    problem = job.run(started=procs.append)
                    if problem is not None and not getattr(procs[-1], "stopped", False):
                        self.log(f"search index not built: {problem}")

            thread = threading.Thread(target=run, name="labhandbook-index", daemon=True)
            self._indexing = (thread, procs, cancel)
            thread.start()

    def wait_for_index(self, timeout: float | None = None) -> None:
        """Until the background index is written (tests, benchmarks)."""
        if self._indexing is not None:
            self._indexing[0].join(timeout)

    def _stop_indexing(self) -> None:
        if self._indexing is None:
            return
        thread, procs, cancel = self._indexing
        self._indexing = None
        cancel.set()
        while thread.is_alive():
            for proc in procs:
                if proc.poll() is None:
                    proc.stopped = True
                    proc.terminate()
            thread.join(0.05)


def _location(err: BaseException, srcdir: Path) -> tuple[str, int | None]:
    """The source file and line an exception names, if any (docutils and Sphinx errors)."""
    text = str(err)
    m = re.search(r"(?P<path>[^\s:'\"]+\.(?:md|rst|bib|py))(?::(?P<line>\d+))?", text)
    if not m:
        return "", None
    path = m["path"].removeprefix(str(srcdir).rstrip(os.sep) + os.sep)
    return path, int(m["line"]) if m["line"] else None


# --- watching -----------------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every watched file under ``root`` with its (mtime in ns, size)."""
    found: dict[str, tuple[int, int]] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if name not in IGNORED_DIRS and not name.startswith("."):
                    stack.append(Path(entry.path))
            elif Path(name).suffix.lower() in WATCHED_SUFFIXES:
                with contextlib.suppress(OSError):
                    st = entry.stat()
                    found[entry.path] = (st.st_mtime_ns, st.st_size)
    return found


def _touched(files: Collection[str], before: dict[str, tuple[int, int]]) -> bool:
    """Whether any of ``files`` is not as ``before`` saw it (changed, or gone)."""
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            return True
        if (st.st_mtime_ns, st.st_size) != before.get(path):
            return True
    return False


def changes(before: dict[str, tuple[int, int]],
            after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def edited_in_place(before: dict[str, tuple[int, int]],
                    after: dict[str, tuple[int, int]]) -> list[str] | None:
    """The files that changed, when every one of them was saved in place (none added or
    removed): what :meth:`Builder.build` may rebuild with a warm application."""
    changed = changes(before, after)
    return changed if all(c in before and c in after for c in changed) else None


# --- serving ------------------------------------------------------------------------------------


class Broadcaster:
    """The latest build, and a condition that wakes every event stream when it changes.

    A build may be told of twice: early (:meth:`publish_early`), once every page of its write
    phase is written, so the browsers reload while the build finishes; then when it has
    finished (:meth:`publish`). Between the two, the server answers at once only for what is
    whole: those pages, and ``304`` for a file the browser holds as it is on disk; any other
    file may be being written, so its request waits for the build's end (:meth:`settled`).
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.latest: BuildResult | None = None
        self.good_id = 0
        self.closed = False
        self.version = 0  #: every publication, early or final, is a new version
        self.written: frozenset[str] | None = None  #: while a build finishes: its whole pages
        #: The event streams open: each one's page (real path) and connection (``None``: taken
        #: as open until it is closed).
        self.streams: list[tuple[str, Any]] = []
        #: Since the early publication: event streams on its pages when told, streams opened
        #: on them since (the reloaded pages'), requests waiting for the build's end.
        self.reloading = 0
        self.reopened = 0
        self.waiting = 0

    def watch(self, path: str, connection: Any = None) -> Callable[[], None]:
        """An event stream of the page ``path`` opened on ``connection`` (its socket);
        returns what to call when it ends."""
        stream = (os.path.realpath(path), connection)
        with self.cond:
            self.streams.append(stream)
            if self.written is not None and stream[0] in self.written:
                self.reopened += 1
                self.cond.notify_all()

        def unwatch() -> None:
            with self.cond, contextlib.suppress(ValueError):
                self.streams.remove(stream)

        return unwatch

    def _live_streams(self) -> list[tuple[str, Any]]:
        """The streams whose browser has not closed its connection (with the lock held).

        A stream's thread learns that its browser went away (reloaded, left the page) only
        when it next writes; the connection is readable at end of file at once (the browser
        sends nothing else on it)."""
        self.streams = [s for s in self.streams if s[1] is None or _still_open(s[1])]
        return self.streams

    def watched(self) -> frozenset[str]:
        """The files of the pages browsers show now (real paths)."""
        with self.cond:
            return frozenset(path for path, _ in self._live_streams())

    def publish(self, result: BuildResult) -> None:
        with self.cond:
            self.latest = result
            if result.ok:
                self.good_id = result.id
            self.written = None
            self.version += 1
            self.cond.notify_all()

    def publish_early(self, result: BuildResult, written: Collection[str]) -> None:
        """Tell of ``result`` while its build still runs; ``written``: the files (absolute
        paths) the build has written whole and will not write again."""
        with self.cond:
            self.latest = result
            self.good_id = result.id
            self.written = frozenset(os.path.realpath(p) for p in written)
            self.reloading = sum(path in self.written for path, _ in self._live_streams())
            self.reopened = 0
            self.version += 1
            self.cond.notify_all()

    def reloaded(self, timeout: float | None = None) -> bool:
        """After an early publication, wait until the browsers that show a page it wrote have
        reloaded it (an event stream opened on each of those pages again: the reload script of
        the new page runs once its stylesheets and scripts are in), or a request waits for
        the build's end (it must go on), or ``timeout`` seconds (:data:`RELOAD_HOLD`);
        ``False`` when it gave up waiting.

        The build's finish steps wait for this: run beside the reload, in the server's process
        and on the same cores, they made it slower (told to shown 0.17-0.20 s before the
        early tell, 0.30 s beside the finish steps, lab scale, 2 cores). No browser on such a
        page: no wait."""
        with self.cond:
            return self.cond.wait_for(
                lambda: (self.closed or self.written is None or self.waiting > 0
                         or self.reopened >= self.reloading),
                RELOAD_HOLD if timeout is None else timeout)

    def settled(self, path: str, timeout: float = SETTLE_TIMEOUT) -> bool:
        """Whether ``path`` may be read whole now: no build is finishing after an early
        publication, or it wrote ``path`` whole. Otherwise wait (at most ``timeout`` s) for its
        end; ``False`` when it has not ended by then."""
        with self.cond:
            if self.written is None or os.path.realpath(path) in self.written:
                return True
            if timeout <= 0:
                return self.closed
            self.waiting += 1  # the build holding for the reload goes on (:meth:`reloaded`)
            self.cond.notify_all()
            try:
                return self.cond.wait_for(lambda: self.closed or self.written is None, timeout)
            finally:
                self.waiting -= 1

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.written = None
            self.cond.notify_all()

    def wait(self, after: int | None, timeout: float) -> tuple[int, BuildResult] | None:
        """The latest publication (its version and build) once its version is not ``after``
        (``None``: whatever is latest)."""
        with self.cond:
            self.cond.wait_for(lambda: self.closed or (
                self.latest is not None and self.version != after), timeout)
            if self.closed or self.latest is None or self.version == after:
                return None
            return self.version, self.latest


def _still_open(connection: Any) -> bool:
    """Whether the other end of an event stream's socket has not closed it (nothing to read,
    or something other than the end of the stream)."""
    import selectors
    import socket

    try:
        with selectors.DefaultSelector() as selector:  # epoll/poll: any descriptor number
            selector.register(connection, selectors.EVENT_READ)
            readable = selector.select(0)
        return not readable or connection.recv(1, socket.MSG_PEEK) != b""
    except (OSError, ValueError):  # closed here (no descriptor) or reset by the browser
        return False


def _event(result: BuildResult) -> bytes:
    data = {"id": result.id, "good": result.ok, "seconds": round(result.seconds, 3),
            "problems": [p.as_dict() for p in result.problems]}
    return f"event: build\nid: {result.id}\ndata: {json.dumps(data)}\n\n".encode()


class BodyCache:
    """Response bodies as sent (HTML with the reload script, text compressed), kept by file
    and digest of its bytes (and build id, for HTML), least recently used dropped beyond
    ``limit`` bytes: a reload compresses only the files whose bytes the build changed."""

    def __init__(self, limit: int = 64 << 20) -> None:
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: tuple[Any, ...], data: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self.size += len(data) - (len(old) if old is not None else 0)
            self._items[key] = data
            while self.size > self.limit and len(self._items) > 1:
                self.size -= len(self._items.popitem(last=False)[1])


def _digest(data: bytes) -> str:
    import hashlib

    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _checksum(data: bytes) -> str:
    """Sphinx's ``?v=`` for a file with these bytes: the CRC32 of the bytes without carriage
    returns, none for an empty file.

    Adapter: Sphinx's private ``sphinx.builders.html._assets._file_checksum`` makes it (Sphinx
    7.1+, 9.0 checked). Breaks if Sphinx changes how: no ``?v=`` matches, every file is
    revalidated as before (slower reloads, nothing stale); ``tests/test_serve.py`` compares
    the two."""
    data = data.translate(None, b"\r")
    return f"{zlib.crc32(data):08x}" if data else ""


@functools.cache
def _client_bytes() -> bytes:
    return CLIENT_JS.replace("%(events)s", EVENTS).encode()


@functools.cache
def _client_version() -> str:
    return _checksum(_client_bytes())


def _theme_static() -> Path | None:
    """pydata-sphinx-theme's static folder, whose ``?digest=`` URLs the theme's template
    names (``webpack-macros.html``); ``None`` without the theme."""
    try:
        import pydata_sphinx_theme
    except ImportError:
        return None
    return Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"


@functools.lru_cache(maxsize=4)
def _theme_digests(macros: str, stamp: tuple[int, int]) -> frozenset[str]:
    """The ``?digest=`` values the theme's template ``macros`` (as of ``stamp``) writes."""
    try:
        text = Path(macros).read_text(encoding="utf-8")
    except OSError:
        return frozenset()
    return frozenset(re.findall(r"\?digest=([0-9A-Za-z]+)", text))


def _matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, RFC 9110)."""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


class PreviewHandler(SimpleHTTPRequestHandler):
    """Static files of the build (gzip when the client accepts it), the reload script and the
    event stream. HTML pages get the reload script and the build id added as they are sent.

    A file whose URL names its bytes says ``Cache-Control: max-age=31536000, immutable``: a
    reload does not ask for it at all (:meth:`_lasting`: a ``?v=`` that is Sphinx's checksum
    of the bytes served, the theme's ``?digest=`` on the installed theme's own file, the
    reload script): 15 of the 20 files a lab person page's reload asked for. Every
    other file says ``max-age=0, must-revalidate`` (the browser asks again on every reload).
    Every file carries an ``ETag``, a digest of its bytes (for HTML also the build id its
    reload script names; no ``Last-Modified``, whose whole seconds would miss a page
    rewritten within the second): a reload gets ``304 Not Modified`` for every file it asks
    for whose bytes the build did not change. Sphinx and the theme write some of them afresh
    on every build (``pygments.css``, ``basic.css``, ``documentation_options.js``; the theme's
    ``pygments.css`` again at ``build-finished``), so the file's time and size would not do.
    A digest is worked out once per file version (time, size, inode; kept only when the file
    did not change while it was read).

    While a build told of early is finishing (:class:`Broadcaster`), a request is answered at
    once when it is for a page that build wrote whole, or when the browser's copy has the
    bytes on disk (``304``: it holds the whole file, whatever is written next); any other
    waits for the build's end, so nothing half-written is ever sent from that build."""

    broadcaster: Broadcaster | None = None
    bodies: BodyCache | None = None
    digests: dict[str, tuple[tuple[int, int, int], str, str]] | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?", 1)[0]
        if self.broadcaster is not None and path == EVENTS:
            self._events()
        elif self.broadcaster is not None and path == CLIENT:
            self._client()
        else:
            super().do_GET()

    def send_head(self) -> Any:
        """Files as ``SimpleHTTPRequestHandler`` finds them; text compressed, ``304`` when
        the browser's copy is current."""
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            if not self.path.split("?", 1)[0].endswith("/"):
                return super().send_head()  # the redirect to "folder/"
            path = os.path.join(path, "index.html")
        ctype = self.guess_type(path)
        html = ctype == "text/html" and self.broadcaster is not None
        gzipped = (ctype.startswith(COMPRESSIBLE)
                   and "gzip" in self.headers.get("Accept-Encoding", ""))
        for waited in (False, True):
            try:
                st = os.stat(path)
                if not stat.S_ISREG(st.st_mode):
                    return super().send_head()
                digest, checksum, data = self._content(path, st)
            except OSError:
                return super().send_head()
            build = self.broadcaster.good_id if html and self.broadcaster is not None else None
            etag = f'"{digest}{"" if build is None else f"-b{build}"}{"-gz" if gzipped else ""}"'
            lasting = not html and self._lasting(path, digest, checksum)
            if _matches(self.headers.get("If-None-Match"), etag):
                # The browser's copy is whole and what is on disk, whatever is written next.
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self._validators(etag, lasting)
                self.end_headers()
                return None
            if waited or self.broadcaster is None or self.broadcaster.settled(path, 0):
                break
            # A build told of early is finishing and may be writing this file: wait for it.
            self.broadcaster.settled(path)
        key = (path, digest, build, gzipped)
        body = self.bodies.get(key) if self.bodies is not None else None
        if body is None:
            if data is None:
                try:
                    data = Path(path).read_bytes()
                except OSError:
                    self.send_error(HTTPStatus.NOT_FOUND, "File not found")
                    return None
                if _digest(data) != digest:  # rewritten since: send what was read
                    digest = _digest(data)
                    lasting = False
                    etag = (f'"{digest}{"" if build is None else f"-b{build}"}'
                            f'{"-gz" if gzipped else ""}"')
                    key = (path, digest, build, gzipped)
            body = self._with_client(data) if html else data
            if gzipped:
                body = gzip.compress(body, compresslevel=6, mtime=0)
            if self.bodies is not None:
                self.bodies.put(key, body)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self._validators(etag, lasting)
        self.end_headers()
        return io.BytesIO(body)

    def _content(self, path: str, st: os.stat_result) -> tuple[str, str, bytes | None]:
        """The digest of the file's bytes and Sphinx's checksum of them (kept by its time and
        size, so a file is read for them once per version), and the bytes when they were read
        now."""
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        kept = self.digests.get(path) if self.digests is not None else None
        if kept is not None and kept[0] == stamp:
            return kept[1], kept[2], None
        data = Path(path).read_bytes()
        digest, checksum = _digest(data), _checksum(data)
        after = os.stat(path)
        if self.digests is not None and (after.st_mtime_ns, after.st_size, after.st_ino) == stamp:
            self.digests[path] = (stamp, digest, checksum)  # not written while it was read
        return digest, checksum, data

    def _lasting(self, path: str, digest: str, checksum: str) -> bool:
        """Whether this URL names these bytes, so that no other bytes are ever sent under it
        and the browser may keep them without asking (``LASTING``).

        ``?v=`` is Sphinx's checksum of a stylesheet or script (``css_files``/``script_files``:
        the theme's, extensions' and the lab's own, whose edits change it, f828331): it names
        these bytes when it is their checksum (:func:`_checksum`), not when a stale one links
        new bytes (Sphinx caches checksums per process). pydata-sphinx-theme's ``?digest=`` is
        one hash of its whole compiled bundle, not of a file: it names these bytes when they
        are the installed theme's file at the same place under ``_static/`` (a lab's own file
        of that name is not) and the value is the one its template writes. Anything else
        (no query: ``basic.css``, ``searchtools.js``, fonts named in stylesheets, images) is
        revalidated on every reload."""
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        if query.keys() == {"v"}:
            return checksum != "" and query["v"] == [checksum]
        if query.keys() != {"digest"} or len(query["digest"]) != 1:
            return False
        static, theme = os.path.join(self.directory, "_static"), _theme_static()
        rel = os.path.relpath(path, static)
        if theme is None or rel.startswith(os.pardir) or os.path.isabs(rel):
            return False
        try:
            macros = os.stat(theme / "webpack-macros.html")
            shipped = str(theme / rel)
            ours = self._content(shipped, os.stat(shipped))[0]
        except OSError:
            return False
        return ours == digest and query["digest"][0] in _theme_digests(
            str(theme / "webpack-macros.html"), (macros.st_mtime_ns, macros.st_size))

    def _validators(self, etag: str, lasting: bool = False) -> None:
        self.send_header("Vary", "Accept-Encoding")
        # Not ``no-cache``: on a reload chromium then asks for the page's stylesheets without
        # the ETag it holds (measured, Debian's chromium); stale at once, it asks with it.
        self.send_header("Cache-Control", LASTING if lasting else REVALIDATE)
        self.send_header("ETag", etag)

    def _with_client(self, html: bytes) -> bytes:
        assert self.broadcaster is not None
        tag = (f'<script data-lh-build="{self.broadcaster.good_id}">'
               f'document.documentElement.dataset.lhBuild="{self.broadcaster.good_id}";'
               f'</script><script src="{CLIENT}?v={_client_version()}" defer></script>').encode()
        at = html.rfind(b"</body>")
        return html[:at] + tag + html[at:] if at >= 0 else html + tag

    def _client(self) -> None:
        """The reload script: pages name it with its checksum (``?v=``), so the browser keeps
        it; under any other URL it is revalidated like the build's files."""
        data = _client_bytes()
        gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
        etag = f'"{_digest(data)}{"-gz" if gzipped else ""}"'
        lasting = parse_qs(urlsplit(self.path).query).get("v") == [_client_version()]
        if _matches(self.headers.get("If-None-Match"), etag):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self._validators(etag, lasting)
            self.end_headers()
            return
        if gzipped:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/javascript")
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self._validators(etag, lasting)
        self.end_headers()
        self.wfile.write(data)

    def _events(self) -> None:
        assert self.broadcaster is not None
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        last: int | None = None
        page = parse_qs(urlsplit(self.path).query).get("page", [""])[0]
        shown = self.translate_path(quote(page)) if page.startswith("/") else None
        if shown is not None and os.path.isdir(shown):
            shown = os.path.join(shown, "index.html")
        unwatch = self.broadcaster.watch(shown, self.connection) if shown is not None else None
        try:
            # The latest build at once (a page loaded while a build failed shows its errors).
            while True:
                got = self.broadcaster.wait(last, timeout=15)
                if self.broadcaster.closed:
                    return
                self.wfile.write(_event(got[1]) if got else b": keep-alive\n\n")
                self.wfile.flush()
                if got:
                    last = got[0]
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            if unwatch is not None:
                unwatch()


def make_server(root: Path, port: int, broadcaster: Broadcaster | None = None,
                host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server of ``root`` on ``host`` (127.0.0.1: never another interface); ``port`` 0
    picks a free one."""
    handler = type("Handler", (PreviewHandler,),
                   {"broadcaster": broadcaster, "bodies": BodyCache(), "digests": {}})
    server = ThreadingHTTPServer((host, port), partial(handler, directory=str(root)))
    server.daemon_threads = True
    return server


@contextlib.contextmanager
def serving(root: Path, broadcaster: Broadcaster | None = None,
            port: int = 0) -> Iterator[str]:
    """Serve ``root`` in a background thread; yields the base URL."""
    server = make_server(root, port, broadcaster)
    thread = threading.Thread(target=server.serve_forever, name="labhandbook-serve",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        if broadcaster is not None:
            broadcaster.close()
        server.shutdown()
        server.server_close()


# --- the command --------------------------------------------------------------------------------


def describe(result: BuildResult) -> str:
    if result.ok:
        return f"build {result.id}: ok in {result.seconds:.2f}s"
    lines = [f"build {result.id}: FAILED in {result.seconds:.2f}s — shown in the page; "
             "fix and save, the preview goes on"]
    lines += [f"  {p.path}{':' + str(p.line) if p.line else ''}: {p.message}"
              for p in result.problems[:20]]
    return "\n".join(lines)


def connect(builder: Builder, broadcaster: Broadcaster) -> None:
    """Builds tell the browsers early and hold their finish steps for the reload."""
    builder.ready, builder.watched = broadcaster.publish_early, broadcaster.watched
    builder.reloaded = broadcaster.reloaded


def watch(root: Path, builder: Builder, broadcaster: Broadcaster, stop: threading.Event, *,
          poll: float = 0.05, log: Callable[[str], None] = print,
          results: list[BuildResult] | None = None,
          before: dict[str, tuple[int, int]] | None = None) -> None:
    """Rebuild on every save until ``stop`` is set: build, tell the browsers, then index for
    search in the background. Files saved during a build are picked up by the next look
    (``before``: the files as the last build saw them). The tree is walked every ``poll``
    seconds; the files saved lately (``HOT_FILES``) are looked at every ``HOT_POLL``, and a
    change to one of them walks the tree at once."""
    before = snapshot(root) if before is None else before
    connect(builder, broadcaster)
    builder.index_later(INDEX_DELAY)
    hot: list[str] = []
    walked = time.monotonic()
    while not stop.wait(HOT_POLL if hot and HOT_POLL < poll else poll):
        if hot and time.monotonic() - walked < poll and not _touched(hot, before):
            continue
        walked = time.monotonic()
        after = snapshot(root)
        changed = changes(before, after)
        if not changed:
            continue
        hot = [p for p in dict.fromkeys([*changed, *hot]) if p in after][:HOT_FILES]
        edited = edited_in_place(before, after)
        before = after
        log("changed: " + ", ".join(os.path.relpath(c, root) for c in changed[:5])
            + (f" and {len(changed) - 5} more" if len(changed) > 5 else ""))
        result = builder.build(edited)
        log(describe(result))
        broadcaster.publish(result)
        if results is not None:
            results.append(result)
        builder.index_later(INDEX_DELAY)


def serve(root: Path, port: int = 8000, *, builddir: str = "_build", poll: float = 0.05,
          open_browser: bool = False, log: Callable[[str], None] = print,
          stop: threading.Event | None = None) -> int:
    """Build, serve on 127.0.0.1 and rebuild on every save until interrupted."""
    root = root.resolve()
    outdir, doctreedir = root / builddir / "html", root / builddir / "doctrees"
    broadcaster = Broadcaster()
    with Builder(root, outdir, doctreedir, log=log) as builder:
        before = snapshot(root)
        log("labhandbook serve: building...")
        result = builder.build()
        log(describe(result))
        broadcaster.publish(result)
        stop = stop or threading.Event()
        with serving(outdir, broadcaster, port) as url:
            log(f"Serving {url} (127.0.0.1 only); Ctrl+C stops.")
            if open_browser:
                import webbrowser

                webbrowser.open(url)
            try:
                watch(root, builder, broadcaster, stop, poll=poll, log=log, before=before)
            except KeyboardInterrupt:
                log("stopped")
    return 0
