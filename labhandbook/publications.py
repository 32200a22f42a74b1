"""Publication lists: the canonical index, per-person and per-area lists, selected papers.

sphinxcontrib-bibtex stays the engine: it parses the .bib files, owns ``{cite}`` and renders
the one canonical ``{bibliography}`` (on the publications page), with our pybtex style.
Every other list is rendered at read time from the library's cached formatted entries, so it
costs nothing on a build where its entries did not change, and no entry is ever in two
citation lists (no duplicate-citation or duplicate-label warnings).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pybtex.plugin
from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.osutil import relative_uri
from sphinxcontrib.bibtex.directives import BibliographyDirective
from sphinxcontrib.bibtex.transforms import node_text_transform

from .charts import bar_chart, year_counts
from .config import get_config
from .directives import paragraph, section
from .environment import (
    LIBRARY_ATTR,
    add_token_resolver,
    get_library,
    get_registry,
    left_out_bib_files,
    note_outputs,
    note_tokens,
    outputs_current,
    record_outputs,
)
from .library import KINDS, Library, page_name, safe_key, update_library
from .registry import fingerprint, source_fingerprint
from .safety import TrustedHTML
from .style import (
    PAPER_SCHEME,
    PAPERS_DIR,
    PERSON_SCHEME,
    STYLE_NAME,
    PackedText,
    ShownElsewhere,
    ShownUnlessKept,
    format_entry_packed,
    make_style,
    style_fingerprint,
)

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment
    from sphinxcontrib.bibtex.domain import BibtexDomain

    from .schema import Person

logger = logging.getLogger(__name__)

LIBRARY_KEY_ATTR = "labhandbook_library_key"
#: The style of the canonical list on the publications page: entries of earlier years (on
#: pages of their own) are not rendered into it.
INDEX_STYLE = STYLE_NAME + "-index"
PUBLICATIONS = "publications"
INDEX = "publication-index"
INDEX_MARK = "labhandbook-publication-index"  #: metadata of the page with the canonical list
DOWNLOADS = "_downloads/bib"
LAB_BIB = "_downloads/publications.bib"  #: the whole library, standard fields only
BACKEND = pybtex.plugin.find_plugin("pybtex.backends", "docutils")()


# --- the library, once per build ----------------------------------------------------------------


def _on_builder_inited(app: Sphinx) -> None:
    """Index the parsed .bib (only when it or the name spellings changed) and bind the style."""
    env = app.env
    domain = cast("BibtexDomain", env.get_domain("cite"))
    registry = get_registry(env)
    key = (sorted((str(p), b.mtime) for p, b in domain.bibdata.bibfiles.items()),
           registry.digest("names"), style_fingerprint())
    old: Library | None = getattr(env, LIBRARY_ATTR, None)
    old_key = getattr(env, LIBRARY_KEY_ATTR, None)
    if not isinstance(old_key, tuple) or old_key[2:] != key[2:]:
        old = None  # the style changed: format everything again
    if old is None or old_key != key:
        lib = update_library(old, domain.bibdata.data.entries, registry, format_entry_packed,
                             key[2])
        setattr(env, LIBRARY_ATTR, lib)
        setattr(env, LIBRARY_KEY_ATTR, key)
    else:
        old.formatted_count = 0
    lib = get_library(env)
    style = make_style(lambda entry: lib.texts[entry.key],
                       lambda entry: lib.pubs[entry.key].sort_key)
    pybtex.plugin.register_plugin("pybtex.style.formatting", STYLE_NAME, style, force=True)
    elsewhere: list[frozenset[str]] = []  # worked out once per build, when first asked

    def index_text(entry: Any) -> Any:
        """The canonical list's entries on the publications page; those of earlier years,
        which their years' pages show, are not rendered into it (:class:`ShownElsewhere`)."""
        if not elsewhere:
            years = set(split_years(lib, get_config(app).publications_per_page)[1])
            elsewhere.append(frozenset(k for k, p in lib.pubs.items() if p.year in years))
        text = lib.texts[entry.key]
        if entry.key in elsewhere[0]:
            return ShownElsewhere(text)
        if isinstance(text, PackedText):
            return ShownUnlessKept(text, entry.key, lambda key: _html_kept(app, key))
        return text

    index_style = make_style(index_text, lambda entry: lib.pubs[entry.key].sort_key)
    pybtex.plugin.register_plugin("pybtex.style.formatting", INDEX_STYLE, index_style,
                                  force=True)


def _pub_digest(env: BuildEnvironment, token: str) -> str | None:
    """Fingerprints of ``pubs:person:x``, ``pubs:area:y``, ``pubs:all`` and ``pub:key``."""
    lib, registry = get_library(env), get_registry(env)
    kind, _, arg = token.partition(":")
    if kind == "pub":
        return lib.pubs[arg].digest if arg in lib.pubs else None
    what, _, slug = arg.partition(":")
    area = registry.areas.get(slug) if what == "area" else None
    if what == "area" and area is None:
        return None
    # Each page that records the token asks again (pubs:all on many pages, each a digest of
    # 5,000 entries); the answer is kept on the library, which never changes once made.
    memo = (token, tuple(area.keywords)) if area is not None else (token,)
    found = lib.token_digests.get(memo)
    if found is None:
        if what == "person":
            found = lib.digest_of(lib.by_person.get(slug, []))
        elif area is not None:
            found = lib.digest_of(lib.for_area(list(area.keywords)))
        else:
            found = lib.digest_of(lib.ordered())
        lib.token_digests[memo] = found
    return found


# --- rendering one entry ------------------------------------------------------------------------


def bibtex_button(bibtex: str) -> TrustedHTML:
    """A copy-to-clipboard button carrying the entry's BibTeX (escaped for the attribute)."""
    markup = ('<button type="button" class="lh-bibtex-button" data-bibtex="'
              f'{html.escape(bibtex, quote=True)}" title="Copy BibTeX">BibTeX</button>')
    return TrustedHTML("", markup, format="html")


def resolve_uri(builder: Any, registry: Any, docname: str, uri: str) -> str | None:
    """The relative URL of a ``labhandbook:`` link (member or paper) from ``docname``."""
    if uri.startswith(PERSON_SCHEME):
        target = registry.person_doc(uri[len(PERSON_SCHEME):])
    elif uri.startswith(PAPER_SCHEME):
        target = f"{PAPERS_DIR}/{page_name(uri[len(PAPER_SCHEME):])}"
    else:
        return None
    return relative_uri(builder.get_target_uri(docname), builder.get_target_uri(target))


def pub_item(env: BuildEnvironment, lib: Library, key: str) -> nodes.list_item:
    para = nodes.paragraph("", "", *lib.texts[key].render(BACKEND))
    pub = lib.pubs[key]
    item = nodes.list_item(classes=["lh-pub", f"lh-kind-{pub.kind}"])
    item += para
    item += paragraph(bibtex_button(pub.bibtex), classes=["lh-pub-links"])
    return item


def pub_list(env: BuildEnvironment, lib: Library, keys: list[str]) -> nodes.Element:
    lst = nodes.bullet_list(classes=["lh-pubs"])
    for key in keys:
        lst += pub_item(env, lib, key)
    return lst


def grouped_by_year(env: BuildEnvironment, document: nodes.document, lib: Library,
                    keys: list[str], prefix: str) -> list[nodes.Element]:
    out = []
    years: dict[int, list[str]] = {}
    for key in keys:  # keys are newest first already
        years.setdefault(lib.pubs[key].year, []).append(key)
    for year, year_keys in years.items():
        label = str(year) if year else "Undated"
        sect = section(document, label, f"{prefix}-{label}")
        sect += pub_list(env, lib, year_keys)
        out.append(sect)
    return out


def pub_classes(registry: Any, pub: Any) -> list[str]:
    """Classes the filter bar matches on: type, members and areas of the entry."""
    areas = [slug for slug, area in registry.areas.items()
             if set(area.keywords) & set(pub.keywords)]
    return ([f"lh-kind-{pub.kind}"] + [f"lh-member-{m}" for m in pub.members]
            + [f"lh-area-{a}" for a in areas])


def filter_bar(registry: Any, lib: Library, keys: list[str] | None = None) -> TrustedHTML:
    """Filter the canonical list by area, member and type in the browser (no server needed).

    The types and members offered are those of the entries the page shows (``keys``; all of
    the list by default), so that no choice empties the page; a page of one year does not
    change when another year gets a type or a member it had not had."""
    def select(name: str, label: str, options: list[tuple[str, str]]) -> str:
        opts = "".join(f'<option value="{html.escape(v)}">{html.escape(t)}</option>'
                       for v, t in options)
        return (f'<label>{label} <select data-lh-filter="{name}">'
                f'<option value="">All</option>{opts}</select></label>')

    listed = lib.ordered() if keys is None else keys
    shown = {lib.pubs[k].kind for k in listed}
    kinds = [(k, KINDS[k]) for k in KINDS if k in shown]
    members = (lib.by_person if keys is None
               else {m for k in keys for m in lib.pubs[k].members})
    people = [(s, registry.people[s].name) for s in registry.ordered_people() if s in members]
    areas = sorted(((s, a.title) for s, a in registry.areas.items()),
                   key=lambda t: t[1].casefold())
    markup = ('<form class="lh-filter" role="search" aria-label="Filter publications">'
              + select("area", "Area", areas) + select("member", "Member", people)
              + select("kind", "Type", kinds)
              + '<output class="lh-filter-count" aria-live="polite"></output></form>')
    return TrustedHTML("", markup, format="html")


# --- directives ---------------------------------------------------------------------------------


class PublicationsDirective(SphinxDirective):
    """A list of publications: ``:person:``, ``:area:``, the keys given as content, or without
    either the lab's newest (with ``:limit:``), which needs no editing when papers change."""

    has_content = True
    option_spec = {
        "person": directives.unchanged,
        "area": directives.unchanged,
        "limit": directives.nonnegative_int,
    }

    def run(self) -> list[nodes.Node]:
        env, lib, registry = self.env, get_library(self.env), get_registry(self.env)
        if "person" in self.options:
            slug = self.options["person"]
            if slug not in registry.people:
                raise self.error(f"unknown person `{slug}` — use a file name in people/")
            keys = lib.by_person.get(slug, [])
            note_tokens(env, [f"pubs:person:{slug}"])
        elif "area" in self.options:
            slug = self.options["area"]
            if slug not in registry.areas:
                raise self.error(f"unknown area `{slug}` — use a file name in research/")
            keys = lib.for_area(list(registry.areas[slug].keywords))
            note_tokens(env, [f"pubs:area:{slug}"])
        elif not any(line.strip() for line in self.content):
            keys = lib.ordered()  # no keys given: the newest publications of the lab
            note_tokens(env, ["pubs:all"])
        else:
            keys = [k for k in (line.strip() for line in self.content) if k]
            missing = [k for k in keys if k not in lib.pubs]
            if missing and left_out_bib_files(env):
                keys = [k for k in keys if k in lib.pubs]  # their file's errors are reported
            elif missing:
                raise self.error(f"unknown BibTeX key(s): {', '.join(missing)} — "
                                 "use keys of entries in bib/*.bib")
            note_tokens(env, [f"pub:{k}" for k in keys])
        keys = keys[: self.options.get("limit") or None]
        if not keys:
            return [paragraph("No publications yet.")]
        return [pub_list(env, lib, keys)]


class PublicationIndex(SphinxDirective):
    """The canonical list: one section per year, one group per type, newest first.

    The entries are sphinxcontrib-bibtex citations (so ``{cite}`` links here); they are placed
    into their year and type groups by :func:`place_citations` when the page is written.
    """

    def run(self) -> list[nodes.Node]:
        env, lib = self.env, get_library(self.env)
        # The filter bar shows people's names and areas' titles, nothing else of them.
        note_tokens(env, ["pubs:all", "names", "roster", "area-titles"])
        document = self.state.document
        out: list[nodes.Node] = []
        groups = year_groups(lib)
        download = nodes.reference("", "Download all as BibTeX", refuri="#",
                                   classes=["lh-bib-download"], lh_root_path=LAB_BIB)
        out.append(paragraph(f"{len(lib.pubs)} publication{'s' if len(lib.pubs) != 1 else ''}"
                             ". ", download, classes=["lh-pub-count"]))
        out.append(bar_chart(year_counts(lib, lib.ordered()), "Publications per year",
                             "pubs-per-year"))
        lab = self.config._labhandbook  # type: ignore[attr-defined]
        earlier: list[int] = []
        if env.docname == lab.publications_page:
            # Kept per document by Sphinx's metadata collector (cleared when it is re-read).
            env.metadata[env.docname][INDEX_MARK] = True
            earlier = split_years(lib, lab.publications_per_page)[1]
        shown = None if not earlier else [
            k for year, kinds in groups.items() if year not in earlier
            for keys in kinds.values() for k in keys]
        out.append(filter_bar(get_registry(env), lib, shown))
        for year, kinds in groups.items():
            if year in earlier:
                continue  # on a page of its own (html-collect-pages)
            label = year_label(year)
            sect = section(document, label, f"year-{label}")
            for kind in KINDS:
                if kind in kinds:
                    sect += nodes.rubric(KINDS[kind], KINDS[kind], classes=["lh-kind-heading"])
                    sect += nodes.container(classes=["lh-pub-slot"], lh_keys=kinds[kind])
            out.append(sect)
        if earlier:
            sect = section(document, "Earlier years", "earlier-years")
            sect += year_links(groups, earlier, env.docname, None)
            out.append(sect)
        style = INDEX_STYLE if env.docname == lab.publications_page else STYLE_NAME
        bib = BibliographyDirective(
            "bibliography", [], {"all": None, "style": style, "list": "citation"},
            StringList(), self.lineno, self.content_offset, "", self.state, self.state_machine,
        ).run()
        holder = nodes.container(classes=["lh-pub-source"])
        holder.extend(bib)
        out.append(holder)
        return out


# --- earlier years on pages of their own ---------------------------------------------------------
#
# A department's list (5,000 entries) is 800 KB of compressed HTML: the publications page shows
# the newest years up to ``publications_per_page`` entries and each earlier year gets a page
# next to it, rendered at ``html-collect-pages`` (only when what it shows changed). The
# entries stay sphinxcontrib-bibtex's citations of the one canonical bibliography; a ``{cite}``
# of an entry of an earlier year is pointed at that year's page (:func:`place_citations`).


def year_label(year: int) -> str:
    return str(year) if year else "Undated"


def year_groups(lib: Library) -> dict[int, dict[str, list[str]]]:
    """Year -> type -> keys of the canonical list, newest first (the publications page's
    sections and the pages of earlier years)."""
    groups: dict[int, dict[str, list[str]]] = {}
    for key in lib.ordered():
        pub = lib.pubs[key]
        groups.setdefault(pub.year, {}).setdefault(pub.kind, []).append(key)
    return groups


def split_years(lib: Library, limit: int) -> tuple[list[int], list[int]]:
    """The years the publications page shows (newest first, at most ``limit`` entries, at
    least one year) and the earlier years, which get a page each."""
    counts: dict[int, int] = {}
    for key in lib.ordered():
        year = lib.pubs[key].year
        counts[year] = counts.get(year, 0) + 1
    years = list(counts)
    shown, total = 0, 0
    while shown < len(years) and (not shown or total + counts[years[shown]] <= limit):
        total += counts[years[shown]]
        shown += 1
    return years[:shown], years[shown:]


def year_page(docname: str, year: int) -> str:
    """The page of an earlier year, next to the publications page."""
    return f"{docname}-{year_label(year).lower()}"


def earlier_year_pages(env: BuildEnvironment) -> dict[int, str]:
    """Year -> page, for the years of the canonical list not on the publications page."""
    lab = env.config._labhandbook  # type: ignore[attr-defined]
    if not env.metadata.get(lab.publications_page, {}).get(INDEX_MARK):
        return {}  # the page lists its entries some other way: no split
    earlier = split_years(get_library(env), lab.publications_per_page)[1]
    return {year: year_page(lab.publications_page, year) for year in earlier}


def year_anchor(key: str, citation_id: str) -> str:
    """An entry's anchor on its year's page: its BibTeX key, which does not change when other
    entries are added (sphinxcontrib-bibtex's ``idNN`` numbers the whole list), so neither do
    the year's page nor the pages that cite it."""
    return f"ref-{key}" if safe_key(key) else citation_id


def citation_pages(env: BuildEnvironment) -> dict[str, tuple[str, str]]:
    """Citation id -> (page, anchor), for the canonical list's entries shown on an earlier
    year's page (every other citation is on its bibliography's page, at its id)."""
    pages = earlier_year_pages(env)
    if not pages:
        return {}
    lib = get_library(env)
    domain = cast("BibtexDomain", env.get_domain("cite"))
    docname = env.config._labhandbook.publications_page  # type: ignore[attr-defined]
    return {c.citation_id: (pages[lib.pubs[c.key].year], year_anchor(c.key, c.citation_id))
            for c in domain.citations
            if c.bibliography_key.docname == docname and c.key in lib.pubs
            and lib.pubs[c.key].year in pages}


def year_links(groups: dict[int, Any], earlier: list[int], docname: str,
               current: int | None) -> nodes.paragraph:
    """Links to the publications page and to the pages of earlier years (with their counts
    on the publications page; a year's page shows the years only, so that an entry added to
    one year does not change the others' pages)."""
    para = nodes.paragraph(classes=["lh-year-pages"])
    if current is not None:
        shown = [y for y in groups if y not in earlier]
        span = year_label(shown[0]) + (f"–{year_label(shown[-1])}" if len(shown) > 1 else "")
        para += nodes.reference("", f"{span} and the list's filter", refuri="#",
                                lh_page=docname)
        para += nodes.Text(" · ")
    for i, year in enumerate(earlier):
        if i:
            para += nodes.Text(" · ")
        count = sum(len(v) for v in groups[year].values())
        text = year_label(year) if current is not None else f"{year_label(year)} ({count})"
        if year == current:
            para += nodes.strong(text, text)
        else:
            para += nodes.reference("", text, refuri="#", lh_page=year_page(docname, year))
    return para


def _year_page_body(app: Sphinx, docname: str, year: int, pagename: str,
                    groups: dict[int, dict[str, list[str]]], earlier: list[int],
                    cites: dict[str, Any], bar: TrustedHTML) -> str:
    """The HTML of an earlier year's page: its entries grouped by type, as on the
    publications page (same anchors, classes, filter bar and BibTeX buttons)."""
    from docutils.utils import new_document

    lib, registry = get_library(app.env), get_registry(app.env)
    label = year_label(year)
    document = new_document(pagename)
    sect = section(document, f"Publications {label}", f"year-{label}")
    count = sum(len(v) for v in groups[year].values())
    sect += paragraph(f"{count} publication{'s' if count != 1 else ''} of {label}, "
                      "grouped by type. Other years:", classes=["lh-pub-count"])
    sect += year_links(groups, earlier, docname, year)
    sect += bar.deepcopy()
    for kind in KINDS:
        keys = groups[year].get(kind)
        if not keys:
            continue
        sect += nodes.rubric(KINDS[kind], KINDS[kind], classes=["lh-kind-heading"])
        group = nodes.bullet_list(classes=["lh-pub-group"])
        for key in keys:
            item = nodes.list_item(ids=[year_anchor(key, cites[key].citation_id)], classes=[
                "lh-citation", *pub_classes(registry, lib.pubs[key])])
            # No label: sphinxcontrib-bibtex's numbers change whenever an entry is added.
            item += nodes.paragraph("", "", *lib.texts[key].render(BACKEND))
            item += paragraph(bibtex_button(lib.pubs[key].bibtex), classes=["lh-pub-links"])
            group += item
        sect += group
    _resolve_links(app.builder, registry, pagename, sect)
    return str(app.builder.render_partial(sect)["fragment"])


def _collect_year_pages(app: Sphinx) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Render the pages of earlier years whose content changed (or whose file is missing)."""
    if app.builder.format != "html":
        return
    env = app.env
    pages = earlier_year_pages(env)
    if not pages:
        return
    from .papers import _site_digest

    lib, registry = get_library(env), get_registry(env)
    docname = env.config._labhandbook.publications_page  # type: ignore[attr-defined]
    domain = cast("BibtexDomain", env.get_domain("cite"))
    cites = {c.key: c for c in domain.citations if c.bibliography_key.docname == docname}
    groups = year_groups(lib)
    earlier = list(pages)
    note_outputs(app, [app.builder.get_target_uri(p) for p in pages.values()])
    site = _site_digest(app)
    shared = fingerprint(site, earlier, [y for y in groups if y not in pages],
                         registry.digest("names"), registry.digest("roster"),
                         registry.digest("area-titles"))
    for year, pagename in pages.items():
        keys = [k for kind in KINDS for k in groups[year].get(kind, [])]
        if any(k not in cites for k in keys):
            continue  # the bibliography is not on the publications page: nothing to show
        # the year's types and members, and the areas of the lab
        bar = filter_bar(registry, lib, keys)
        digest = fingerprint(shared, lib.digest_of(keys), bar.astext(),
                             [year_anchor(k, cites[k].citation_id) for k in keys])
        target = Path(app.outdir, app.builder.get_target_uri(pagename))
        if outputs_current(app, f"year-page:{pagename}", digest, [target]):
            continue
        title = html.escape(f"Publications {year_label(year)}")
        context = {"title": title, "pagetitle": title, "display_toc": False, "sourcename": "",
                   "body": _year_page_body(app, docname, year, pagename, groups, earlier,
                                           cites, bar),
                   "lh_year_page": year}
        yield pagename, context, "page.html"
        record_outputs(app, f"year-page:{pagename}", digest)


# --- automatic sections and write-time work ------------------------------------------------------


#: How many papers a person page shows first when its front matter names none.
SELECTED_COUNT = 5


def selected_keys(lib: Library, person: Person, slug: str) -> list[str]:
    """The papers a person page shows first: the keys of ``selected`` in the order given (those
    in the library); unset, the person's newest papers as first author (or equal first), then
    their newest others, :data:`SELECTED_COUNT` in all, and none when that would be every
    paper of the full list below."""
    if person.selected is not None:
        return [k for k in person.selected if k in lib.pubs]
    keys = lib.by_person.get(slug, [])
    if len(keys) <= SELECTED_COUNT:
        return []

    def first(key: str) -> bool:
        pub = lib.pubs[key]
        lead = [i for i, s in enumerate(pub.author_slugs) if s == slug]
        return bool(lead) and (lead[0] == 0 or (1 in pub.equal and lead[0] + 1 in pub.equal))

    ranked = [k for k in keys if first(k)] + [k for k in keys if not first(k)]
    return lib.ordered(ranked[:SELECTED_COUNT])


def _page_sections(app: Sphinx, doctree: nodes.document, kind: str,
                   slug: str) -> list[nodes.Element]:
    env, lib, registry = app.env, get_library(app.env), get_registry(app.env)
    out: list[nodes.Element] = []
    if kind == "person":
        keys = lib.by_person.get(slug, [])
        note_tokens(env, [f"pubs:person:{slug}"])
        chosen = selected_keys(lib, registry.people[slug], slug)
        if chosen:
            note_tokens(env, [f"pub:{k}" for k in chosen])
            sect = section(doctree, "Selected publications", "selected-publications")
            sect += pub_list(env, lib, chosen)
            out.append(sect)
    else:
        keys = lib.for_area(list(registry.areas[slug].keywords))
        note_tokens(env, [f"pubs:area:{slug}"])
    sect = section(doctree, "Publications", "publications")
    out.append(sect)
    if not keys:
        sect += paragraph("No publications in the library yet.")
        return out
    intro = paragraph(f"{len(keys)} publication{'s' if len(keys) != 1 else ''}, newest first.",
                      classes=["lh-pub-count"])
    if kind == "person":
        intro += nodes.Text(" ")
        link = nodes.reference("", "Download as BibTeX", refuri="#",
                               classes=["lh-bib-download"],
                               lh_root_path=f"{DOWNLOADS}/{slug}.bib")
        intro += link
    sect += intro
    if kind == "person":
        name = registry.people[slug].name
        sect += bar_chart(year_counts(lib, keys), f"Publications of {name} per year",
                          "person-pubs-per-year")
    sect.extend(grouped_by_year(env, doctree, lib, keys, "pubs"))
    return out


def _note_cited(app: Sphinx, doctree: nodes.document) -> None:
    """Pages that ``{cite}`` an entry are re-read when that entry changes.

    A ``{cite}`` of an entry that is not listed (a volume other entries take fields from
    through ``crossref``, no member's work; a ``@set``) would link to an anchor that is not on
    the publications page: it is a located warning (an error under ``-W``) saying what to do.
    """
    keys = set()
    lib = get_library(app.env)
    for ref in doctree.findall(addnodes.pending_xref):
        if ref.get("refdomain") == "cite":
            cited = [k.strip() for k in ref.get("reftarget", "").split(",") if k.strip()]
            keys.update(cited)
            for key in cited:
                pub = lib.pubs.get(key)
                if pub is not None and not pub.listed:
                    logger.warning(
                        "`{cite}` names `%s`, which is not in the publication list (other "
                        "entries take their venue from it through `crossref`, and no member "
                        "wrote or edited it), so the citation would link nowhere — cite one "
                        "of the papers in it instead, or add the member who edited it to its "
                        "`editor` field", key, type="labhandbook", subtype="cite-unlisted",
                        location=ref)
    if keys:
        note_tokens(app.env, [f"pub:{k}" for k in sorted(keys) if k in lib.pubs])


def place_citations(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Move the canonical citations into their year/type groups; link members; add buttons.

    Member and paper links (``labhandbook:`` URIs in the cached formatted entries) become
    relative links here, so the cache holds no page-specific URL. Runs at ``doctree-resolved``
    (after sphinxcontrib-bibtex has rendered the bibliography in its post-transform).
    """
    builder, env = app.builder, app.env
    _resolve_links(builder, get_registry(env), docname, doctree)
    _point_cites_at_year_pages(app, doctree, docname)
    _group_citations(env, doctree, docname)


def _resolve_links(builder: Any, registry: Any, docname: str, tree: nodes.Element) -> None:
    """``labhandbook:`` links, generated files (``lh_root_path``) and pages of earlier years
    (``lh_page``) as relative URLs from ``docname``."""
    here = builder.get_target_uri(docname)
    for ref in list(tree.findall(nodes.reference)):
        uri = ref.get("refuri", "")
        resolved = resolve_uri(builder, registry, docname, uri)
        if resolved is not None:
            ref["refuri"] = resolved
            ref["internal"] = True
            if uri.startswith(PERSON_SCHEME):
                ref["classes"].append("lh-member")
        elif ref.get("lh_root_path"):  # a generated file, relative to the site's root
            ref["refuri"] = relative_uri(here, ref["lh_root_path"])
        elif ref.get("lh_page"):
            ref["refuri"] = relative_uri(here, builder.get_target_uri(ref["lh_page"]))
            ref["internal"] = True


#: :func:`citation_pages` of the build being written, worked out once at ``env-updated`` (the
#: citations are numbered by then) instead of once per written page; replaced by every build
#: (a warm ``labhandbook serve`` application builds many times) and dropped when it ends.
CITATION_PAGES_ATTR = "_labhandbook_citation_pages"


def _remember_citation_pages(app: Sphinx, env: BuildEnvironment) -> list[str]:
    app.__dict__[CITATION_PAGES_ATTR] = citation_pages(env)
    return []


def current_citation_pages(app: Sphinx) -> dict[str, tuple[str, str]]:
    """:func:`citation_pages` of this build (worked out at ``env-updated``)."""
    pages = app.__dict__.get(CITATION_PAGES_ATTR)
    return citation_pages(app.env) if pages is None else pages


def _forget_citation_pages(app: Sphinx, exception: Exception | None) -> None:
    app.__dict__.pop(CITATION_PAGES_ATTR, None)


def _point_cites_at_year_pages(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """A ``{cite}`` of an entry shown on an earlier year's page links there (same anchor).

    sphinxcontrib-bibtex links a citation with Sphinx's ``make_refnode``: ``refuri`` is the
    bibliography's page plus ``#`` and the citation's id, or ``refid`` alone on that page.
    """
    pages = current_citation_pages(app)
    if not pages:
        return
    builder = app.builder
    here = builder.get_target_uri(docname)
    bib_doc = app.env.config._labhandbook.publications_page  # type: ignore[attr-defined]
    base = "" if docname == bib_doc else relative_uri(here, builder.get_target_uri(bib_doc))
    for ref in doctree.findall(nodes.reference):
        if "refuri" in ref:
            path, sep, ident = ref["refuri"].partition("#")
            if not sep or path != base:
                continue
        else:
            ident = ref.get("refid", "") if docname == bib_doc else ""
        if ident in pages:
            page, anchor = pages[ident]
            ref.attributes.pop("refid", None)
            ref["refuri"] = relative_uri(here, builder.get_target_uri(page)) + "#" + anchor
            ref["internal"] = True


def _group_citations(env: BuildEnvironment, doctree: nodes.document, docname: str,
                     kept: KeptEntries | None = None) -> None:
    """The citations as items of their year/type groups; with ``kept`` (HTML builders), an
    entry whose HTML was written for this page by the last build of the application is that
    HTML, every other is marked (:class:`entry_mark`) so that its HTML is kept."""
    # findall by class: docutils' fast path (a callable condition visits every node slowly:
    # the 1000-entry publications page has about 60,000).
    slots = [n for n in doctree.findall(nodes.container) if "lh-pub-slot" in n["classes"]]
    if not slots:
        return
    last, now = kept.start(docname) if kept is not None else ({}, None)
    lib = get_library(env)
    domain = cast("BibtexDomain", env.get_domain("cite"))
    by_id = {c.citation_id: c.key for c in domain.citations
             if c.bibliography_key.docname == docname}
    citations: dict[str, nodes.Element] = {}
    for node in doctree.findall(nodes.citation):
        for ident in node["ids"]:
            if ident in by_id:
                citations[by_id[ident]] = node
    for slot in slots:
        # A real list (not docutils' citation markup, whose children are not list items
        # for screen readers); each item keeps the citation's ids, so {cite} links land here.
        group = nodes.bullet_list(classes=["lh-pub-group"])
        for key in slot["lh_keys"]:
            node = citations.get(key)
            if node is None:
                continue
            node.parent.remove(node)
            ids = list(node["ids"])
            classes = ["lh-citation", *pub_classes(get_registry(env), lib.pubs[key])]
            label = node.next_node(nodes.label)
            shape = None
            if now is not None:
                shape = _entry_shape(lib, key, label is not None)
                found = last.get(shape) if shape is not None else None
                text = "" if label is None else f"[{label.astext()}]"
                if found is not None and (label is None or _plain(text)):
                    # its HTML, around this build's anchor and label
                    now[shape] = found
                    (before, after), words = found
                    group += nodes.list_item(
                        "", nodes.substitution_definition("", f"{text} {words}"),
                        entry_html(lh_html=before + text + after if label else before),
                        ids=ids, classes=classes)
                    continue
            item = nodes.list_item(ids=ids, classes=classes)
            # The children move (no copy): the citation node is dropped.
            item.extend([child for child in node.children if not isinstance(child, nodes.label)])
            first = item.next_node(nodes.paragraph)
            if first is not None and not first.children and now is not None:
                # not rendered by sphinxcontrib-bibtex (its HTML was kept): rendered here as
                # its post-transform renders it
                first.extend(lib.texts[key].render(BACKEND))
                node_text_transform(first)
            if label is not None and first is not None:
                text = f"[{label.astext()}]"
                first.insert(0, nodes.inline(text, text, classes=["lh-label"]))
                first.insert(1, nodes.Text(" "))
            item += paragraph(bibtex_button(lib.pubs[key].bibtex), classes=["lh-pub-links"])
            if shape is not None:  # its HTML is kept when written
                item.insert(0, entry_mark())
                item += entry_mark(lh_keep=(docname, shape))
            group += item
        slot.replace_self(group)
    for holder in [n for n in doctree.findall(nodes.container)
                   if "lh-pub-source" in n["classes"]]:
        holder.parent.remove(holder)


# --- the canonical list's entries, written once per application --------------------------------
#
# A department's publications page shows 1,500 entries, about 60,000 docutils nodes that every
# post-transform (sphinx-design's, the theme's), the HTML writer and Sphinx's search feed walk:
# three quarters of a warm build after a save of one .bib entry. Each entry's HTML, as the
# writer wrote it after every transform, is kept in memory with the environment (never
# pickled), by everything that shapes it; a later build of the same application puts one
# node holding that HTML in its place.


class entry_mark(nodes.Invisible, nodes.Element):  # noqa: N801 (as docutils names nodes)
    """The first and last child of an entry of the canonical list written afresh: the HTML
    writer keeps what it writes between them (``lh_keep`` on the last: page and shape).

    An entry kept from the page's last writing is a list item (its start tag and end written
    as for any entry) holding an :class:`entry_html` and, first, a ``substitution_definition``
    (which HTML writers skip) with the words Sphinx's search feed finds in the entry."""


class entry_html(nodes.Special, nodes.Element):  # noqa: N801
    """The HTML inside a kept entry's list item (``lh_html``), written as it is."""


#: An entry's kept HTML: what follows the item's start tag, up to its label and after it.
Kept = tuple[tuple[str, str], str]


class KeptEntries:
    """Page -> entry shape -> (HTML, words) of the entries its last writing wrote. Lives with
    the environment of one application (its writer and settings); pickled empty."""

    __slots__ = ("pages",)

    def __init__(self) -> None:
        self.pages: dict[str, dict[tuple[Any, ...], Kept]] = {}

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (KeptEntries, ())

    def start(self, docname: str) -> tuple[dict[tuple[Any, ...], Kept],
                                           dict[tuple[Any, ...], Kept]]:
        """The entries kept for ``docname`` and the (empty) record of this writing, which
        replaces them: only entries the page still shows stay kept."""
        last = self.pages.get(docname, {})
        self.pages[docname] = now = {}
        return last, now


KEPT_ENTRIES_ATTR = "_labhandbook_kept_entries"


def kept_entries(env: BuildEnvironment) -> KeptEntries:
    found = env.__dict__.get(KEPT_ENTRIES_ATTR)
    if not isinstance(found, KeptEntries):
        found = env.__dict__[KEPT_ENTRIES_ATTR] = KeptEntries()
    return found


def _entry_shape(lib: Library, key: str, labelled: bool) -> tuple[Any, ...] | None:
    """What an entry's item is made of besides its page, the application, its anchor, label and
    classes (sphinxcontrib-bibtex numbers both over the whole list, so one new entry changes
    them for most entries; the item's start tag and label are written afresh): its formatted
    text and its BibTeX. None when the text is not packed."""
    text = lib.texts.get(key)
    if not isinstance(text, PackedText):
        return None
    return (key, text.packed, labelled, lib.pubs[key].bibtex)


def _html_kept(app: Sphinx, key: str) -> bool:
    """Whether the publications page's last writing in this application kept the HTML of the
    entry as it is now (the canonical list's entries are labelled): sphinxcontrib-bibtex then
    need not render it (:class:`ShownUnlessKept`)."""
    if app.builder.format != "html":
        return False
    page = kept_entries(app.env).pages.get(get_config(app).publications_page)
    if not page:
        return False
    shape = _entry_shape(get_library(app.env), key, True)
    return shape is not None and shape in page


class PlaceKeptEntries(SphinxPostTransform):
    """Group the canonical list's citations right after sphinxcontrib-bibtex has rendered them
    (its post-transform has priority 5; references are resolved at 10), so that entries written
    before are one node each for every later transform, the writer and the search feed."""

    default_priority = 6
    formats = ("html",)

    def run(self, **kwargs: Any) -> None:
        _group_citations(self.env, self.document, self.env.docname, kept_entries(self.env))


def _search_words(node: nodes.Node) -> list[str] | None:
    """The texts Sphinx's search feed (``WordCollector``) splits into words, in order; None
    when it would find a title."""
    if isinstance(node, nodes.Text):
        return [node.astext()]
    if isinstance(node, nodes.comment) or (isinstance(node, nodes.Element)
                                           and "no-search" in node["classes"]):
        return []
    if isinstance(node, nodes.raw):
        if "html" not in node.get("format", "").split():
            return []
        text = re.sub(r"<style.*?</style>", "", node.astext(), flags=re.IGNORECASE | re.DOTALL)
        text = re.sub(r"<script.*?</script>", "", text, flags=re.IGNORECASE | re.DOTALL)
        return [re.sub(r"<[^<]+?>", "", text)]
    if isinstance(node, nodes.title):
        return None
    out: list[str] = []
    for child in node.children:
        found = _search_words(child)
        if found is None:
            return None
        out.extend(found)
    return out


def _words_join(builder: Any) -> bool:
    """Whether the search feed splits text into words with the regular expression of Sphinx's
    ``SearchLanguage`` (so a space never joins two words, and words may be fed in any order),
    or feeds no index at all."""
    from sphinx.search import SearchLanguage

    indexer = getattr(builder, "indexer", None)
    if indexer is None:
        return True
    lang = indexer.lang
    return (type(lang).split is SearchLanguage.split
            and lang._word_re.pattern == SearchLanguage._word_re.pattern)


def _plain(text: str) -> bool:
    """Whether the HTML writer writes ``text`` as it is (a label written into kept HTML)."""
    return not any(c in text for c in "&<>\"'@")


def _visit_entry_mark(self: Any, node: entry_mark) -> None:
    """Keep the entry's HTML as written (after every transform), split around its label."""
    item = node.parent
    if "lh_keep" not in node:
        item["lh_start"] = len(self.body)
        raise nodes.SkipNode
    docname, shape = node["lh_keep"]
    page = kept_entries(self.builder.env).pages.get(docname)
    if page is None or getattr(self, "compact_simple", False) or getattr(self, "compact_p", None):
        raise nodes.SkipNode  # (entries are never in a compact list: each has two paragraphs)
    body = self.body[item["lh_start"]:]
    words = _search_words(item)
    if shape[2]:  # the label: the first inline of the first paragraph, written as it is
        label = next(iter(item.findall(nodes.inline)), None)
        text = label.astext() if label is not None and "lh-label" in label["classes"] else None
        at = next((i for i in range(len(body) - 1) if text is not None and _plain(text)
                   and body[i].startswith('<span class="lh-label"') and body[i + 1] == text),
                  None)
        if at is None or not words or words[0] != text:
            raise nodes.SkipNode
        parts, words = ("".join(body[:at + 1]), "".join(body[at + 2:])), words[1:]
    else:
        parts = ("".join(body), "")
    if words is not None and _words_join(self.builder):
        page[shape] = (parts, " ".join(words))
    raise nodes.SkipNode


def _visit_entry_html(self: Any, node: entry_html) -> None:
    self.body.append(node["lh_html"])
    raise nodes.SkipNode


def _depart_nothing(self: Any, node: nodes.Element) -> None:
    pass


#: How entries become BibTeX text is library code: a new version writes the downloads again.
_LIBRARY_CODE = source_fingerprint(Path(__file__).with_name("library.py"))


def _write_downloads(app: Sphinx, exception: Exception | None) -> None:
    """Each member's publications and the whole library as .bib files next to the site (only
    rewritten on change)."""
    if exception is not None or app.builder.format != "html":
        return
    lib, registry = get_library(app.env), get_registry(app.env)
    folder = Path(app.outdir, DOWNLOADS)
    slugs = sorted(registry.people)
    digest = fingerprint(lib.digest_of(lib.ordered()), slugs, _LIBRARY_CODE)
    files = {folder / f"{s}.bib": lib.by_person.get(s, []) for s in slugs}
    files[Path(app.outdir, LAB_BIB)] = lib.ordered()
    note_outputs(app, [f"{DOWNLOADS}/{s}.bib" for s in slugs] + [LAB_BIB])
    if outputs_current(app, "downloads", digest, list(files)):
        return
    folder.mkdir(parents=True, exist_ok=True)
    for path, keys in files.items():
        text = "\n\n".join(lib.pubs[k].bibtex for k in keys) + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    record_outputs(app, "downloads", digest)


def _config_defaults(app: Sphinx, config: Any) -> None:
    # Author-year citations read well in prose; labels only number the canonical list.
    if config.bibtex_reference_style == "label":
        config.bibtex_reference_style = "author_year"
    config.bibtex_default_style = STYLE_NAME
    get_config(app)  # validated already (config-inited of labhandbook.config)


def setup_publications(app: Sphinx) -> None:
    app.connect("config-inited", _config_defaults, priority=600)
    # After sphinxcontrib-bibtex (default 500) has parsed the .bib and after the registry.
    app.connect("builder-inited", _on_builder_inited, priority=600)
    add_token_resolver(app, "pubs:", _pub_digest)
    add_token_resolver(app, "pub:", _pub_digest)
    app.add_directive(PUBLICATIONS, PublicationsDirective)
    app.add_directive(INDEX, PublicationIndex)
    app.connect("labhandbook-page-sections", _page_sections)
    app.connect("doctree-read", _note_cited, priority=450)
    app.connect("doctree-resolved", place_citations)
    app.add_post_transform(PlaceKeptEntries)
    app.add_node(entry_mark, override=True, html=(_visit_entry_mark, _depart_nothing))
    app.add_node(entry_html, override=True, html=(_visit_entry_html, _depart_nothing))
    # After sphinxcontrib-bibtex (500) has numbered the citations at env-updated.
    app.connect("env-updated", _remember_citation_pages, priority=700)
    app.connect("build-finished", _forget_citation_pages)
    app.connect("build-finished", _write_downloads)
    app.connect("html-collect-pages", _collect_year_pages)
    app.add_js_file("labhandbook.js")
