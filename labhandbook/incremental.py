"""What an incremental build must redo besides re-reading changed pages, so that it equals a
clean build: pages to write again, and outputs of pages that no longer exist.

Sphinx re-reads changed sources (and :mod:`labhandbook.environment` adds the pages whose
generated facts changed), but it writes again only those and their direct parents in the
toctree. Three things on unchanged pages move all the same:

* the navigation (the theme's sidebar, prev/next links) of every page, when a page is added,
  removed or retitled, or a toctree changes;
* the toctrees in a page's body, which show section headings of the pages they reach through
  nested toctrees (the home page shows an area page's headings through the research index);
* ``{cite}`` links: sphinxcontrib-bibtex numbers the citations of the canonical list
  (``publications.html#idNN``) over the whole list, so one added entry renumbers the others;
* the ``?v=`` checksum Sphinx adds to every page's stylesheet and script links, when the
  lab edits its own stylesheet or script in ``_static/`` (or the theme's change).

All four are handled at ``env-updated`` (a documented event whose return value lists
documents to write again, without reading them). Outputs of removed pages (HTML, ``_sources``
copy, feeds, .bib downloads) are deleted at ``build-finished`` from a manifest of what the
last build made.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from docutils import nodes
from docutils.nodes import Node
from sphinx import addnodes

from .environment import OUTPUTS_ATTR, note_outputs
from .registry import fingerprint

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment
    from sphinxcontrib.bibtex.domain import BibtexDomain

NAV_ATTR = "labhandbook_nav"
HEADINGS_ATTR = "labhandbook_headings"
CITES_ATTR = "labhandbook_cite_targets"
ASSETS_ATTR = "labhandbook_assets"
#: Files whose links carry Sphinx's ``?v=`` checksum (``*_t`` are templates of such files).
ASSET_SUFFIXES = (".css", ".js", ".mjs", ".css_t", ".js_t", ".css.jinja", ".js.jinja")
MANIFEST_FILE = "labhandbook-manifest.json"
#: Pickled with the environment: what each page's table of contents gave (:func:`_toc_part`).
TOC_PARTS_ATTR = "labhandbook_toc_parts"
#: When Sphinx read the page (``env.all_docs``), its section numbers, its heading digest and
#: titles-and-toctrees.
TocParts = dict[str, tuple[int, str, str, list[str]]]


def navigation_digest(env: BuildEnvironment, parts: TocParts | None = None) -> str:
    """Everything the navigation of every page shows: which pages exist, their titles and
    toctrees (entries, captions, options). Section headings are left out: the theme's
    sidebar lists page titles only (``sbt-sidebar-nav.html``: ``titles_only=True``), and a
    new year heading on a publication list must not write every page again; the pages whose
    own toctrees show headings are found by :func:`pages_showing`."""
    titles = [(doc, env.titles[doc].astext()) for doc in sorted(env.titles)]
    return fingerprint(sorted(env.found_docs), titles,
                       [(doc, _toc_part(env, doc, parts)[3]) for doc in sorted(env.tocs)])


def _toc_part(env: BuildEnvironment, doc: str,
              parts: TocParts | None) -> tuple[int, str, str, list[str]]:
    """What ``doc``'s table of contents gives :func:`heading_digests` and
    :func:`navigation_digest`, kept in ``parts`` until Sphinx reads the page again (it stamps
    ``env.all_docs[doc]`` with the time of each reading and makes a new table of contents) or
    its section numbers change (set in place; ``env.toc_secnumbers`` says which). So a build
    serialises only the re-read pages': all 62 pages' took a tenth of a prose edit's build
    until the browser is told at lab scale (``labhandbook serve``), and the 219 pages' 0.25 s
    of every ``make html`` at department scale."""
    toc = env.tocs[doc]
    numbers = repr(sorted(env.toc_secnumbers.get(doc, {}).items()))
    stamp = env.all_docs.get(doc)
    kept = parts.get(doc) if parts is not None else None
    if kept is None or stamp is None or kept[0] != stamp or kept[1] != numbers:
        kept = (stamp or 0, numbers, fingerprint(str(toc)), _titles_and_toctrees(toc))
        if parts is not None and stamp is not None:
            parts[doc] = kept
    return kept


def _titles_and_toctrees(toc: Node) -> list[str]:
    """What a titles-only toctree shows of a page: its title entries and its toctrees, each
    with the ``only`` expressions around it (docutils' pseudo-XML: every attribute)."""
    out = [str(ref) for item in toc.children if isinstance(item, nodes.Element)
           for ref in item.findall(nodes.reference) if not ref.get("anchorname")]
    for tree in toc.findall(addnodes.toctree):
        only = [n["expr"] for n in _ancestors(tree) if isinstance(n, addnodes.only)]
        out.append(f"{only}{tree}")
    return out


def _ancestors(node: Node) -> Iterator[Node]:
    while node.parent is not None:
        node = node.parent
        yield node


def heading_digests(env: BuildEnvironment, parts: TocParts | None = None) -> dict[str, str]:
    """Each page's table of contents as toctrees show it: titles, section headings with their
    anchors, toctrees."""
    if parts is not None:
        for doc in [d for d in parts if d not in env.tocs]:
            del parts[doc]
    return {doc: _toc_part(env, doc, parts)[2] for doc in sorted(env.tocs)}


def pages_showing(env: BuildEnvironment, changed: set[str]) -> set[str]:
    """Pages whose own toctrees show the table of contents of a page in ``changed``: they
    reach it through toctrees that are not hidden (hidden ones too where a toctree has
    ``includehidden``). Sphinx writes again only a changed page's direct parents."""
    include_hidden = any(tree.get("includehidden") for toc in env.tocs.values()
                         for tree in toc.findall(addnodes.toctree))
    shown: dict[str, list[str]] = {}
    for doc, toc in env.tocs.items():
        shown[doc] = [child for tree in toc.findall(addnodes.toctree)
                      if include_hidden or not tree.get("hidden")
                      for child in tree["includefiles"]]
    out = set()
    for doc in shown:
        seen, todo = set(), list(shown[doc])
        while todo:
            child = todo.pop()
            if child not in seen:
                seen.add(child)
                todo.extend(shown.get(child, []))
        if seen & changed:
            out.add(doc)
    return out


def citation_targets(app: Sphinx, env: BuildEnvironment) -> dict[str, list[str]]:
    """Where each cited key's ``{cite}`` link points: the bibliography's page (or the page of
    the entry's year, when that year is not on the publications page) and anchor."""
    from .publications import current_citation_pages

    domain = cast("BibtexDomain", env.get_domain("cite"))
    pages = current_citation_pages(app)
    return {c.key: list(pages.get(c.citation_id, (c.bibliography_key.docname, c.citation_id)))
            for c in domain.citations}


def static_folders(app: Sphinx) -> list[tuple[Path, bool]]:
    """The folders the HTML builder copies into ``_static/``, in its order (the theme's, its
    parent themes' first, then ``html_static_path``), each with whether it is the lab's own
    (a relative path in ``conf.py``; extensions add theirs as absolute paths)."""
    theme = getattr(app.builder, "theme", None)
    folders = ([(Path(d, "static"), False) for d in reversed(theme.get_theme_dirs())]
               if theme is not None else [])
    return folders + [(Path(app.confdir, d), not Path(d).is_absolute())
                      for d in app.config.html_static_path]


def assets_digest(app: Sphinx) -> str:
    """What the ``?v=`` checksums of every page's stylesheet and script links are made of:
    the ``.css`` and ``.js`` files of the theme's static folders and of ``html_static_path``
    (Sphinx writes a page again when its source, settings or templates changed, never when a
    static file did). The lab's own folders (relative paths in ``conf.py``) by content;
    installed ones (the theme's, 2 MB; extensions add theirs as absolute paths) by size and
    modification time, which an install changes."""
    found: list[tuple[str, int, int]] = []
    for folder, own in static_folders(app):
        for path in _asset_files(folder):
            try:
                if own:
                    with open(path, "rb") as f:
                        found.append((path, zlib.crc32(f.read()), 0))
                else:
                    st = os.stat(path)
                    found.append((path, st.st_size, st.st_mtime_ns))
            except OSError:  # a broken link
                continue
    return fingerprint(found)


def _asset_files(folder: Path) -> list[str]:
    """The stylesheets and scripts under ``folder`` (or ``folder`` itself), sorted."""
    if folder.is_file():
        return [str(folder)]
    out = []
    for base, _dirs, names in os.walk(folder, followlinks=True):
        out += [os.path.join(base, n) for n in names
                if n.endswith(ASSET_SUFFIXES) and os.path.isfile(os.path.join(base, n))]
    return sorted(out)


def _forget_asset_checksums() -> None:
    """Adapter: Sphinx caches each asset's ``?v=`` checksum for the life of the process
    (``sphinx.builders.html._assets._file_checksum_inner``, ``functools.cache``), so a
    long-lived process (``labhandbook serve``, tests) would link an edited stylesheet with its
    old checksum. Breaks if Sphinx renames the function or drops the cache: then nothing is
    cleared (a new checksum needs a new process, as before);
    ``test_an_edited_stylesheet_is_linked_with_its_new_checksum`` builds twice in one process."""
    try:
        from sphinx.builders.html import _assets
    except ImportError:
        return
    clear = getattr(getattr(_assets, "_file_checksum_inner", None), "cache_clear", None)
    if callable(clear):
        clear()


def _pages_to_rewrite(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Unchanged pages whose output changes all the same (navigation, headings shown by
    toctrees, citation anchors, asset checksums)."""
    assets = assets_digest(app)
    old_assets = getattr(env, ASSETS_ATTR, None)
    setattr(env, ASSETS_ATTR, assets)
    if old_assets != assets:
        _forget_asset_checksums()
    parts: TocParts | None = getattr(env, TOC_PARTS_ATTR, None)
    if not isinstance(parts, dict):
        parts = {}
        setattr(env, TOC_PARTS_ATTR, parts)
    headings = heading_digests(env, parts)
    nav = navigation_digest(env, parts)
    old_nav = getattr(env, NAV_ATTR, None)
    setattr(env, NAV_ATTR, nav)
    old_headings: dict[str, str] | None = getattr(env, HEADINGS_ATTR, None)
    setattr(env, HEADINGS_ATTR, headings)
    targets = citation_targets(app, env)
    old: dict[str, list[str]] = getattr(env, CITES_ATTR, {})
    setattr(env, CITES_ATTR, targets)
    if (old_nav is not None and old_nav != nav) or (old_assets is not None
                                                    and old_assets != assets):
        return sorted(env.found_docs)
    out: set[str] = set()
    if old_headings is not None:
        changed = {d for d in set(old_headings) | set(headings)
                   if old_headings.get(d) != headings.get(d)}
        if changed:
            out |= pages_showing(env, changed) & env.found_docs
    moved = {k for k in set(old) | set(targets) if old.get(k) != targets.get(k)}
    if moved:
        domain = cast("BibtexDomain", env.get_domain("cite"))
        out |= {ref.docname for ref in domain.citation_refs
                if ref.docname in env.found_docs and moved & {t.key for t in ref.targets}}
    return sorted(out)


# --- outputs of pages that no longer exist ------------------------------------------------


def page_outputs(app: Sphinx) -> list[str]:
    """The HTML file and the ``_sources`` copy of every source page."""
    builder, env, config = app.builder, app.env, app.config
    out = [builder.get_target_uri(doc) for doc in env.found_docs]
    if config.html_copy_source:
        suffix = config.html_sourcelink_suffix
        for doc in env.found_docs:
            source = Path(env.doc2path(doc)).relative_to(app.srcdir).as_posix()
            name = source if source.endswith(suffix) else source + suffix
            out.append(f"_sources/{name}")
    return out


def _prune(app: Sphinx, exception: Exception | None) -> None:
    """Delete what the last build made and this one no longer makes (after every writer)."""
    if exception is not None or app.builder.format != "html":
        return
    note_outputs(app, page_outputs(app))
    current: set[str] = app.__dict__.pop(OUTPUTS_ATTR, set())
    manifest = Path(app.doctreedir, MANIFEST_FILE)
    try:
        previous = set(json.loads(manifest.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        previous = set()
    outdir = Path(app.outdir).resolve()
    for name in sorted(previous - current):
        path = (outdir / name).resolve()
        if path.is_relative_to(outdir) and path.is_file():
            path.unlink()
    if previous != current:
        manifest.write_text(json.dumps(sorted(current), indent=0), encoding="utf-8")


def setup_incremental(app: Sphinx) -> dict[str, Any]:
    # After sphinxcontrib-bibtex (500) has numbered the citations at env-updated.
    app.connect("env-updated", _pages_to_rewrite, priority=800)
    # After every writer of build-finished (feeds, downloads, sitemap: 500).
    app.connect("build-finished", _prune, priority=900)
    return {}
