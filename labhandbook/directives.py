"""Generated people and research parts, built as docutils nodes from the registry.

Directives (``people-directory``, ``research-areas``, ``research-matrix``, ``news``) render
lab-level parts; person and area pages get their header and sections added automatically when
they are read, so a lab member only writes front matter and prose. Every generated part notes
the registry tokens it shows (see :mod:`labhandbook.environment`).

Nodes are built directly (no generated MyST is parsed), so front-matter text is always text:
nothing a page's YAML holds can become markup or script.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective
from sphinx_design.shared import PassthroughTextElement, create_component

from .environment import get_library, get_registry, note_tokens
from .schema import ROLES, Person, Span
from .style import PAPER_SCHEME

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

    from .registry import Registry

DIRECTORY = "people-directory"
AREA_CARDS = "research-areas"
MATRIX = "research-matrix"
NEWS = "news"

LINK_LABELS = {
    "homepage": "Homepage",
    "scholar": "Google Scholar",
    "github": "GitHub",
    "orcid": "ORCID",
    "dblp": "DBLP",
    "openreview": "OpenReview",
    "semantic_scholar": "Semantic Scholar",
    "linkedin": "LinkedIn",
    "twitter": "X / Twitter",
    "blog": "Blog",
    "cv": "CV",
}


# --- small builders -----------------------------------------------------------------------------


def doc_link(env: BuildEnvironment, docname: str, text: str,
             classes: Iterable[str] = ()) -> addnodes.pending_xref:
    """A link to another page, resolved (and checked) by Sphinx like ``{doc}``."""
    ref = addnodes.pending_xref(
        "", nodes.inline(text, text), refdomain="std", reftype="doc", reftarget="/" + docname,
        refdoc=env.docname, refexplicit=True, refwarn=True, classes=list(classes),
    )
    return ref


def url_link(url: str, text: str, classes: Iterable[str] = ()) -> nodes.reference:
    return nodes.reference("", text, refuri=url, classes=list(classes))


def initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w[:1].isalpha()]
    letters = (words[0][0] + (words[-1][0] if len(words) > 1 else "")) if words else "?"
    return letters.upper()


def avatar(registry: Registry, slug: str, size: str = "md") -> nodes.Element:
    """The person's photo, or initials on a colour derived from the slug (stable across builds)."""
    person = registry.people[slug]
    if person.photo:
        folder = registry.person_doc(slug).rpartition("/")[0]
        return nodes.image(uri=f"/{folder}/{person.photo}", alt=person.photo_alt or person.name,
                           classes=["lh-avatar", f"lh-avatar-{size}"])
    hue = int(hashlib.blake2b(slug.encode(), digest_size=2).hexdigest(), 16) % 8
    text = initials(person.name)
    return nodes.inline(text, text, classes=["lh-avatar", f"lh-avatar-{size}", f"lh-hue-{hue}"])


def span_text(span: Span) -> str:
    start = span.start or ""
    end = span.end or ("present" if span.start else "")
    return f"{start} – {end}" if start or end else ""


def person_years(person: Person) -> str:
    start = (person.joined or "")[:4]
    end = (person.left or "")[:4]
    return f"{start}–{end}" if start or end else ""


def paragraph(*children: nodes.Node | str, classes: Iterable[str] = ()) -> nodes.paragraph:
    para = nodes.paragraph(classes=list(classes))
    for child in children:
        para += nodes.Text(child) if isinstance(child, str) else child
    return para


def join(parts: Iterable[nodes.Node], sep: str = ", ") -> list[nodes.Node]:
    out: list[nodes.Node] = []
    for part in parts:
        if out:
            out.append(nodes.Text(sep))
        out.append(part)
    return out


def section(document: nodes.document, title: str, ident: str) -> nodes.section:
    """A section with an id unique in ``document`` (so anchors and the page TOC work)."""
    base, n = nodes.make_id(ident), 1
    ident = base
    while ident in document.ids:
        n += 1
        ident = f"{base}-{n}"
    sect = nodes.section(ids=[ident], names=[ident])
    sect += nodes.title(title, title)
    document.ids[ident] = sect
    return sect


def grid(items: list[nodes.Node], columns: str = "1 2 3 3") -> nodes.container:
    cols = columns.split()
    classes = ["sd-row"] + [f"sd-row-cols-{c}" for c in cols[:1]] + [
        f"sd-row-cols-{bp}-{c}" for bp, c in zip(("xs", "sm", "md", "lg"), cols, strict=False)
    ] + ["sd-g-3", "sd-g-xs-3", "sd-g-sm-3", "sd-g-md-3", "sd-g-lg-3"]
    row = create_component("grid-row", classes)
    for item in items:
        row += create_component("grid-item", ["sd-col", "sd-d-flex-row"], children=[item])
    return create_component("grid-container", ["sd-container-fluid", "sd-sphinx-override",
                                               "sd-mb-4"], children=[row])


def card(env: BuildEnvironment, target_doc: str, title: str, body: list[nodes.Node],
         footer: list[nodes.Node] | None = None,
         extra_classes: Iterable[str] = ()) -> nodes.Element:
    """A sphinx-design card that opens ``target_doc`` when clicked anywhere."""
    title_node = create_component("card-title", ["sd-card-title", "sd-font-weight-bold"],
                                  children=[PassthroughTextElement(title, title)])
    card_body = create_component("card-body", ["sd-card-body"], children=[title_node, *body])
    container = create_component(
        "card", ["sd-card", "sd-sphinx-override", "sd-w-100", "sd-shadow-sm", "sd-card-hover",
                 *extra_classes], children=[card_body])
    if footer:
        container += create_component("card-footer", ["sd-card-footer"], children=footer)
    link = doc_link(env, target_doc, title, classes=["sd-stretched-link", "sd-hide-link-text"])
    container += PassthroughTextElement("", "", link)
    return container


def person_card(env: BuildEnvironment, registry: Registry, slug: str,
                alumni: bool = False) -> nodes.Element:
    person = registry.people[slug]
    body: list[nodes.Node] = [avatar(registry, slug)]
    position = person.position
    if alumni:
        years = person_years(person)
        position = f"{person.role_label}, {years}" if years else person.role_label
    body.append(paragraph(position, classes=["sd-card-text", "lh-card-position"]))
    titles = [registry.areas[a].title for a in person.areas if a in registry.areas]
    if titles:
        body.append(paragraph("; ".join(titles), classes=["sd-card-text", "lh-card-areas"]))
    note_tokens(env, [f"person:{slug}", *(f"area:{a}" for a in person.areas)])
    return card(env, registry.person_doc(slug), person.name, body,
                extra_classes=["lh-person-card"])


# --- directives ---------------------------------------------------------------------------------


class PeopleDirectory(SphinxDirective):
    """Cards of everyone, grouped by role in the order of ``schema.ROLES``; alumni last."""

    option_spec = {"compact": directives.flag}

    def run(self) -> list[nodes.Node]:
        env, registry = self.env, get_registry(self.env)
        note_tokens(env, ["people", "areas"])
        ordered = registry.ordered_people()
        current = [s for s in ordered if registry.people[s].status == "current"]
        alumni = [s for s in ordered if registry.people[s].status == "alumni"]
        if "compact" in self.options:
            return [grid([person_card(env, registry, s) for s in current], "1 2 3 4")]
        out: list[nodes.Node] = []
        document = self.state.document
        for role, (_, plural) in ROLES.items():
            group = [s for s in current if registry.people[s].role == role]
            if group:
                sect = section(document, plural, f"role-{role}")
                sect += grid([person_card(env, registry, s) for s in group])
                out.append(sect)
        if alumni:
            sect = section(document, "Alumni", "alumni")
            sect += grid([person_card(env, registry, s, alumni=True) for s in alumni])
            out.append(sect)
        if not out:
            out.append(paragraph("No one has added a page yet: see the contributing guide."))
        return out


class AreaCards(SphinxDirective):
    """Cards of all research areas with their summary and member count."""

    def run(self) -> list[nodes.Node]:
        env, registry = self.env, get_registry(self.env)
        note_tokens(env, ["areas", "people"])
        items = []
        for slug in sorted(registry.areas, key=lambda s: registry.areas[s].title.casefold()):
            area = registry.areas[slug]
            count = len(registry.members.get(slug, []))
            footer = [paragraph(f"{count} member{'s' if count != 1 else ''}",
                                classes=["sd-card-text"])]
            items.append(card(env, registry.area_doc(slug), area.title,
                              [paragraph(area.summary, classes=["sd-card-text"])], footer,
                              extra_classes=["lh-area-card"]))
        return [grid(items, "1 1 2 2")]


class ResearchMatrix(SphinxDirective):
    """Who works on what: a people x areas table, both axes linked."""

    def run(self) -> list[nodes.Node]:
        env, registry = self.env, get_registry(self.env)
        note_tokens(env, ["areas", "people"])
        areas = sorted(registry.areas, key=lambda s: registry.areas[s].title.casefold())
        people = [s for s in registry.ordered_people() if registry.people[s].status == "current"]
        table = nodes.table(classes=["lh-matrix"])
        title = "Who works on what: current members (rows) and research areas (columns)"
        table += nodes.title(title, title)
        tgroup = nodes.tgroup(cols=len(areas) + 1)
        table += tgroup
        for _ in range(len(areas) + 1):
            tgroup += nodes.colspec(colwidth=1)
        head_row = nodes.row()
        head_row += nodes.entry("", paragraph("Member"))
        for slug in areas:
            head_row += nodes.entry("", paragraph(doc_link(env, registry.area_doc(slug),
                                                           registry.areas[slug].title)))
        tgroup += nodes.thead("", head_row)
        body = nodes.tbody()
        for slug in people:
            row = nodes.row()
            row += nodes.entry("", paragraph(doc_link(env, registry.person_doc(slug),
                                                      registry.people[slug].name)))
            mine = set(registry.people[slug].areas)
            for area in areas:
                mark = "●" if area in mine else ""
                cell = nodes.entry("", paragraph(mark, classes=["lh-mark"]) if mark else
                                   paragraph(""))
                row += cell
            body += row
        tgroup += body
        return [table]


class NewsList(SphinxDirective):
    """Dated news from people's front matter, newest first (``:limit:``, ``:person:``)."""

    option_spec = {"limit": directives.nonnegative_int, "person": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        env, registry = self.env, get_registry(self.env)
        slug = self.options.get("person")
        if slug is not None and slug not in registry.people:
            raise self.error(f"unknown person `{slug}` — use a file name of a page in people/")
        note_tokens(env, [f"person:{slug}"] if slug else ["news"])
        out = [news_list(env, registry, [slug] if slug else list(registry.people),
                         self.options.get("limit"), show_person=slug is None)]
        if "limit" not in self.options:
            out.append(feed_link(f"{slug}.atom" if slug else "news.atom", root=slug is None))
        return out


def feed_link(path: str, root: bool) -> nodes.paragraph:
    """A link to an Atom feed that labhandbook.feeds writes next to the site."""
    ref = nodes.reference("", "Follow this news as an Atom feed", refuri=path)
    if root:
        ref["lh_root_path"] = path  # made relative to the page when it is written
    return paragraph(ref, classes=["lh-feed-link"])


def news_items(registry: Registry, slugs: list[str]) -> list[tuple[str, str, Any]]:
    items = [(item.date, slug, item) for slug in slugs for item in registry.people[slug].news]
    return sorted(items, key=lambda t: (t[0], t[1]), reverse=True)


def news_list(env: BuildEnvironment, registry: Registry, slugs: list[str], limit: int | None,
              show_person: bool) -> nodes.Element:
    items = news_items(registry, slugs)[: limit or None]
    if not items:
        return paragraph("No news yet.")
    lst = nodes.bullet_list(classes=["lh-news"])
    for when, slug, item in items:
        para = paragraph(nodes.inline(when, when, classes=["lh-date"]), " ")
        if show_person:
            para += doc_link(env, registry.person_doc(slug), registry.people[slug].name)
            para += nodes.Text(": ")
        para += nodes.Text(item.text)
        if item.url:
            para += nodes.Text(" ")
            para += url_link(item.url, "(link)")
        papers = [paper_link(env, key) for key in item.papers]
        if papers:
            para += nodes.Text(" — ")
            para.extend(join(papers, "; "))
        lst += nodes.list_item("", para)
    return lst


def paper_link(env: BuildEnvironment, key: str) -> nodes.Node:
    """A link to a paper's page, titled with the paper's title (resolved when written)."""
    pub = get_library(env).pubs.get(key)
    if pub is None:  # `check` reports unknown keys in news; the build shows the key as text
        return nodes.literal(key, key)
    note_tokens(env, [f"pub:{key}"])
    return nodes.reference(pub.title, pub.title, refuri=PAPER_SCHEME + key)


# --- automatic parts of person and area pages ---------------------------------------------------


def _definition_list(rows: list[tuple[str, list[nodes.Node]]]) -> nodes.Element:
    dl = nodes.definition_list(classes=["lh-timeline"])
    for term, body in rows:
        item = nodes.definition_list_item()
        item += nodes.term(term, term)
        item += nodes.definition("", paragraph(*body))
        dl += item
    return dl


def person_header(env: BuildEnvironment, registry: Registry, slug: str) -> nodes.Element:
    person = registry.people[slug]
    header = nodes.container(classes=["lh-person-header"])
    header += avatar(registry, slug, "lg")
    info = nodes.container(classes=["lh-person-info"])
    line = [person.position]
    aff = person.current_affiliation
    shown = person.position.casefold()
    if aff and aff.organisation.casefold() not in shown:  # say each fact once
        same = aff.position.casefold() in shown
        line.append(aff.organisation if same else f"{aff.position}, {aff.organisation}")
    if person.status == "alumni":
        years = person_years(person)
        line.append(f"Alumni{f' ({years})' if years else ''}")
    info += paragraph(" · ".join(line), classes=["lh-position"])
    if person.areas:
        links = [doc_link(env, registry.area_doc(a), registry.areas[a].title, ["lh-area-tag"])
                 for a in person.areas if a in registry.areas]
        info += paragraph("Research areas: ", *join(links), classes=["lh-areas"])
    link_nodes: list[nodes.Node] = []
    for key, label in LINK_LABELS.items():
        url = getattr(person.links, key)
        if url:
            link_nodes.append(url_link(url, label))
    if person.links.email:
        user, _, domain = person.links.email.partition("@")
        shown = f"{user} [at] {domain.replace('.', ' [dot] ')}"
        link_nodes.append(nodes.inline(shown, shown, classes=["lh-email"]))
    if link_nodes:
        info += paragraph(*join(link_nodes, " · "), classes=["lh-links"])
    header += info
    return header


def person_sections(env: BuildEnvironment, document: nodes.document, registry: Registry,
                    slug: str) -> list[nodes.Element]:
    person = registry.people[slug]
    out = []
    if person.news:
        sect = section(document, "News", "news")
        sect += news_list(env, registry, [slug], None, show_person=False)
        sect += feed_link(f"{slug}.atom", root=False)  # written next to the page
        out.append(sect)
    if person.affiliations:
        sect = section(document, "Positions", "positions")
        sect += _definition_list([
            (span_text(a) or "—", [f"{a.position}, ",
                                   url_link(a.url, a.organisation) if a.url else a.organisation])
            for a in sorted(person.affiliations, key=lambda a: a.start or "", reverse=True)
        ])
        out.append(sect)
    if person.education:
        sect = section(document, "Education", "education")
        rows = []
        for e in sorted(person.education, key=lambda e: e.start or "", reverse=True):
            text = f"{e.degree}{f' in {e.field}' if e.field else ''}, {e.institution}"
            if e.advisors:
                text += f". Advisors: {', '.join(e.advisors)}"
            if e.note:
                text += f". {e.note}"
            rows.append((span_text(e) or "—", [text]))
        sect += _definition_list(rows)
        out.append(sect)
    if person.awards:
        sect = section(document, "Awards and honours", "awards")
        sect += _definition_list([
            (str(a.year), [url_link(a.url, a.title) if a.url else a.title])
            for a in sorted(person.awards, key=lambda a: a.year, reverse=True)
        ])
        out.append(sect)
    if person.service:
        sect = section(document, "Service", "service")
        sect += _definition_list([(str(s.year), [s.role]) for s in
                                  sorted(person.service, key=lambda s: s.year, reverse=True)])
        out.append(sect)
    return out


def area_header(env: BuildEnvironment, registry: Registry, slug: str) -> nodes.Element:
    area = registry.areas[slug]
    box = nodes.container(classes=["lh-area-header"])
    box += paragraph(area.summary, classes=["lh-summary"])
    if area.leads:
        leads = [doc_link(env, registry.person_doc(p), registry.people[p].name)
                 for p in area.leads if p in registry.people]
        box += paragraph("Led by ", *join(leads), classes=["lh-leads"])
        note_tokens(env, [f"person:{p}" for p in area.leads])
    if area.status == "past":
        box += paragraph("This area is no longer active.", classes=["lh-status"])
    return box


def area_members(env: BuildEnvironment, document: nodes.document, registry: Registry,
                 slug: str) -> nodes.Element:
    sect = section(document, "Members", "members")
    members = registry.members.get(slug, [])
    current = [m for m in members if registry.people[m].status == "current"]
    alumni = [m for m in members if registry.people[m].status == "alumni"]
    if current:
        sect += grid([person_card(env, registry, m) for m in current], "1 2 3 3")
    if alumni:
        sect += paragraph("Former members: ", *join(
            doc_link(env, registry.person_doc(m), registry.people[m].name) for m in alumni))
    if not members:
        sect += paragraph("No one lists this area yet.")
    return sect


def _top_section(doctree: nodes.document) -> nodes.section | None:
    return next(iter(doctree.findall(nodes.section)), None)


def _insert_after_title(sect: nodes.section, node: nodes.Node) -> None:
    index = sect.first_child_matching_class(nodes.title)
    sect.insert(0 if index is None else index + 1, node)


def _on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    """Add the generated header and sections to person and area pages."""
    env = app.env
    registry = get_registry(env)
    kind, slug = registry.by_docname.get(env.docname, (None, ""))
    if kind is None:
        return
    top = _top_section(doctree)
    if top is None:
        return
    if kind == "person":
        note_tokens(env, [f"person:{slug}"] + [f"area:{a}" for a in registry.areas_of(slug)])
        _insert_after_title(top, person_header(env, registry, slug))
        for part in extra_sections(app, env, doctree, kind, slug):
            top += part
        for part in person_sections(env, doctree, registry, slug):
            top += part
    else:
        note_tokens(env, [f"area:{slug}", f"members:{slug}"])
        _insert_after_title(top, area_header(env, registry, slug))
        top += area_members(env, doctree, registry, slug)
        for part in extra_sections(app, env, doctree, kind, slug):
            top += part


#: Other modules add sections at the end of person and area pages (e.g. publications).
def extra_sections(app: Sphinx, env: BuildEnvironment, doctree: nodes.document, kind: str,
                   slug: str) -> list[nodes.Element]:
    out: list[nodes.Element] = []
    for results in app.events.emit("labhandbook-page-sections", doctree, kind, slug):
        out.extend(results or [])
    return out


def setup_directives(app: Sphinx) -> None:
    app.add_event("labhandbook-page-sections")
    app.add_directive(DIRECTORY, PeopleDirectory)
    app.add_directive(AREA_CARDS, AreaCards)
    app.add_directive(MATRIX, ResearchMatrix)
    app.add_directive(NEWS, NewsList)
    # Before Sphinx's own collectors (priority 500), so the added sections reach the page TOC.
    app.connect("doctree-read", _on_doctree_read, priority=400)
