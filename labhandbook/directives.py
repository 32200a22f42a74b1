"""Generated people and research parts, built as docutils nodes from the registry.

Directives (``people-directory``, ``research-areas``, ``research-matrix``, ``news``) render
lab-level parts; person and area pages get their header and sections added automatically when
they are read, so a lab member only writes front matter and prose. Every generated part notes
the registry tokens it shows (see :mod:`labhandbook.environment`).

Nodes are built directly (no generated MyST is parsed), so front-matter text is always text:
nothing a page's YAML holds can become markup or script.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx_design.shared import PassthroughTextElement, create_component

from .environment import add_token_resolver, get_library, get_registry, note_tokens
from .schema import ROLES, LabProfile, Person, Span
from .style import PAPER_SCHEME

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

    from .registry import Registry

logger = logging.getLogger(__name__)

DIRECTORY = "people-directory"
AREA_CARDS = "research-areas"
MATRIX = "research-matrix"
NEWS = "news"
CONTACT = "lab-contact"
SUMMARY = "lab-summary"

#: Person links in the order shown: label and icon (Font Awesome classes of the theme).
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
LINK_ICONS = {
    "homepage": "fa-solid fa-house", "scholar": "fa-brands fa-google-scholar",
    "github": "fa-brands fa-github", "orcid": "fa-brands fa-orcid",
    "dblp": "fa-solid fa-database", "openreview": "fa-solid fa-comments",
    "semantic_scholar": "fa-solid fa-book-open", "linkedin": "fa-brands fa-linkedin",
    "twitter": "fa-brands fa-x-twitter", "blog": "fa-solid fa-blog", "cv": "fa-solid fa-file-lines",
    "email": "fa-solid fa-envelope",
}


def icon_link(key: str, url: str, label: str) -> nodes.reference:
    """A link shown as an icon and its label (the label is also the accessible name)."""
    ref = nodes.reference("", "", refuri=url, classes=["lh-icon-link", f"lh-link-{key}"])
    ref += nodes.inline("", "", classes=[*LINK_ICONS.get(key, "fa-solid fa-link").split(),
                                         "lh-icon"])
    ref += nodes.inline(label, label, classes=["lh-icon-label"])
    return ref


def email_link(address: str) -> nodes.Element:
    """An e-mail address written so that harvesters reading the HTML do not see it: the text
    reads ``user [at] example [dot] org`` and the script makes the ``mailto:`` link from two
    attributes when the page loads."""
    import html

    user, _, domain = address.partition("@")
    shown = f"{user} [at] {domain.replace('.', ' [dot] ')}"
    markup = (f'<a class="lh-email lh-icon-link lh-link-email" href="#" '
              f'data-user="{html.escape(user, quote=True)}" '
              f'data-domain="{html.escape(domain, quote=True)}">'
              f'<span class="{LINK_ICONS["email"]} lh-icon"></span>'
              f'<span class="lh-icon-label">{html.escape(shown)}</span></a>')
    from .safety import TrustedHTML

    return TrustedHTML("", markup, format="html")


def person_links(person: Person) -> list[nodes.Node]:
    out: list[nodes.Node] = []
    for key, label in LINK_LABELS.items():
        url = getattr(person.links, key)
        if url:
            out.append(icon_link(key, url, label))
    if person.links.email:
        out.append(email_link(person.links.email))
    return out


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


#: The family of each of the eight avatar colours of labhandbook.css (``lh-hue-N``): blue,
#: warm, green, purple. Neighbours get colours of different families where they can.
HUE_FAMILIES = ("blue", "warm", "green", "purple", "green", "warm", "green", "blue")


def avatar_hues(registry: Registry) -> Mapping[str, int]:
    """Each person's avatar colour, the same on their card and their page.

    A person starts from a colour derived from their slug and, walking the directory in its
    order, takes the first colour unlike those of the three people before them (the card
    beside and the card above in a grid of up to three columns) and of another family than
    the two before them. So the colour is the person's, and neighbours on the directory
    differ; adding someone may change the colours of the few people after them.
    """
    return _hues_in_order(tuple(registry.ordered_people()))


@functools.lru_cache(maxsize=4)
def _hues_in_order(order: tuple[str, ...]) -> Mapping[str, int]:
    """The colours of a directory order, worked out once per order: every card and every
    ``avatar:`` fingerprint asks (once per person page at each build: O(n²) uncached)."""
    hues: dict[str, int] = {}
    for i, slug in enumerate(order):
        start = int(hashlib.blake2b(slug.encode(), digest_size=2).hexdigest(), 16)
        before = [hues[s] for s in order[max(0, i - 3):i]]
        families = {HUE_FAMILIES[h] for h in before[-2:]}
        options = [(start + k) % len(HUE_FAMILIES) for k in range(len(HUE_FAMILIES))]
        hues[slug] = next((h for h in options if h not in before
                           and HUE_FAMILIES[h] not in families),
                          next(h for h in options if h not in before))
    return MappingProxyType(hues)


def _avatar_digest(env: BuildEnvironment, token: str) -> str | None:
    """Fingerprint of ``avatar:<slug>``: the person's colour (see :func:`avatar_hues`)."""
    hue = avatar_hues(get_registry(env)).get(token.partition(":")[2])
    return None if hue is None else str(hue)


def avatar(registry: Registry, slug: str, size: str = "md",
           env: BuildEnvironment | None = None) -> nodes.Element:
    """The person's photo, or their initials on their colour (:func:`avatar_hues`)."""
    person = registry.people[slug]
    if person.photo:
        folder = registry.person_doc(slug).rpartition("/")[0]
        return nodes.image(uri=f"/{folder}/{person.photo}", alt=person.photo_alt or person.name,
                           classes=["lh-avatar", f"lh-avatar-{size}"])
    if env is not None:
        note_tokens(env, [f"avatar:{slug}"])
    hue = avatar_hues(registry)[slug]
    text = initials(person.name)
    return nodes.inline(text, text, classes=["lh-avatar", f"lh-avatar-{size}", f"lh-hue-{hue}"])


def span_text(span: Span) -> str:
    start = date_text(span.start) if span.start else ""
    end = date_text(span.end) if span.end else ("present" if span.start else "")
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
    body: list[nodes.Node] = [avatar(registry, slug, env=env)]
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
            return [grid([person_card(env, registry, s) for s in current], "1 2 2 3")]
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
                                                           short_title(registry.areas[slug].title)),
                                                  classes=["lh-rotated"]))
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
        # The same facts as one list per area, which phones show instead of the table.
        listing = nodes.bullet_list(classes=["lh-matrix-list"])
        for area in areas:
            members = [s for s in people if area in registry.people[s].areas]
            para = paragraph(doc_link(env, registry.area_doc(area), registry.areas[area].title),
                             ": ")
            para.extend(join(doc_link(env, registry.person_doc(s), registry.people[s].name)
                             for s in members) if members else [nodes.Text("no one yet")])
            listing += nodes.list_item("", para)
        return [table, listing]


def short_title(title: str, limit: int = 32) -> str:
    """An area's title short enough for a column heading: up to a colon, at most ``limit``
    characters, cut at a word (the per-area list under the matrix gives the full title)."""
    head = title.split(":", 1)[0].strip() or title
    if len(head) <= limit:
        return head
    words = head[: limit + 1].split()[:-1] or [head[:limit]]
    while len(words) > 1 and words[-1].casefold() in {"and", "or", "of", "for", "the", "in"}:
        words.pop()
    return " ".join(words).rstrip(",;") + "…"


class NewsList(SphinxDirective):
    """Dated news from people's front matter, newest first (``:limit:``, ``:person:``)."""

    option_spec = {"limit": directives.nonnegative_int, "person": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        env, registry = self.env, get_registry(self.env)
        slug = self.options.get("person")
        if slug is not None and slug not in registry.people:
            raise self.error(f"unknown person `{slug}` — use a file name of a page in people/")
        note_tokens(env, [f"person:{slug}"] if slug else ["news"])
        slugs = [slug] if slug else list(registry.people)
        if "limit" in self.options:
            return [news_list(env, registry, slugs, self.options["limit"],
                              show_person=slug is None)]
        out: list[nodes.Node] = [feed_link(f"{slug}.atom" if slug else "news.atom",
                                           root=slug is None)]
        out.extend(news_by_year(env, self.state.document, registry, slugs,
                                show_person=slug is None, prefix="news"))
        return out


def feed_link(path: str, root: bool) -> nodes.paragraph:
    """A link to an Atom feed that labhandbook.feeds writes next to the site."""
    ref = nodes.reference("", "Follow this news as an Atom feed", refuri=path)
    if root:
        ref["lh_root_path"] = path  # made relative to the page when it is written
    return paragraph(ref, classes=["lh-feed-link"])


MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


def date_text(value: str) -> str:
    """A partial date at the precision it was given: "2024", "May 2024", "17 May 2024"."""
    parts = value.split("-")
    if len(parts) == 1:
        return parts[0]
    month = MONTH_NAMES[int(parts[1]) - 1]
    return f"{month} {parts[0]}" if len(parts) == 2 else f"{int(parts[2])} {month} {parts[0]}"


def date_sort_key(value: str) -> tuple[int, int, int]:
    """Where a partial date sorts: at the end of the period it names ("2024" after
    "2024-11", "2024-05" after "2024-05-17"), so a year-only item is never taken for
    1 January and never falls below the dated items of its year."""
    parts = [int(p) for p in value.split("-")]
    return (parts[0], parts[1] if len(parts) > 1 else 13, parts[2] if len(parts) > 2 else 32)


def news_items(registry: Registry, slugs: list[str]) -> list[tuple[str, str, Any]]:
    """The news of ``slugs``, newest first (see :func:`date_sort_key`)."""
    items = [(item.date, slug, item) for slug in slugs for item in registry.people[slug].news]
    return sorted(items, key=lambda t: (date_sort_key(t[0]), t[1]), reverse=True)


def news_item(env: BuildEnvironment, registry: Registry, when: str, slug: str, item: Any,
              show_person: bool) -> nodes.list_item:
    text = date_text(when)
    date = nodes.inline(text, text, classes=["lh-date"])
    para = paragraph(date, " ")
    if show_person:
        para += doc_link(env, registry.person_doc(slug), registry.people[slug].name)
        para += nodes.Text(": ")
    # The item's own words are the link text (never a bare "(link)").
    para += url_link(item.url, item.text) if item.url else nodes.Text(item.text)
    papers = [paper_link(env, key) for key in item.papers]
    if papers:
        para += nodes.Text(" Paper: " if len(papers) == 1 else " Papers: ")
        para.extend(join(papers, "; "))
    return nodes.list_item("", para)


def news_list(env: BuildEnvironment, registry: Registry, slugs: list[str], limit: int | None,
              show_person: bool) -> nodes.Element:
    """The latest ``limit`` items as one list (a home page's "latest news")."""
    items = news_items(registry, slugs)[: limit or None]
    if not items:
        return paragraph("No news yet.")
    lst = nodes.bullet_list(classes=["lh-news"])
    for when, slug, item in items:
        lst += news_item(env, registry, when, slug, item, show_person)
    return lst


def news_by_year(env: BuildEnvironment, document: nodes.document, registry: Registry,
                 slugs: list[str], show_person: bool, prefix: str) -> list[nodes.Element]:
    """All news, one section per year, newest first."""
    items = news_items(registry, slugs)
    if not items:
        return [paragraph("No news yet.")]
    years: dict[str, list[tuple[str, str, Any]]] = {}
    for item in items:
        years.setdefault(item[0][:4], []).append(item)
    out: list[nodes.Element] = []
    for year, group in years.items():
        sect = section(document, year, f"{prefix}-{year}")
        lst = nodes.bullet_list(classes=["lh-news"])
        for when, slug, item in group:
            lst += news_item(env, registry, when, slug, item, show_person)
        sect += lst
        out.append(sect)
    return out


def paper_link(env: BuildEnvironment, key: str) -> nodes.Node:
    """A link to a paper's page, titled with the paper's title (resolved when written)."""
    pub = get_library(env).pubs.get(key)
    if pub is None:  # `check` reports unknown keys in news; the build shows the key as text
        return nodes.literal(key, key)
    note_tokens(env, [f"pub:{key}"])
    return nodes.reference(pub.title, pub.title, refuri=PAPER_SCHEME + key)


# --- automatic parts of person and area pages ---------------------------------------------------


def _timeline(rows: list[tuple[str, list[nodes.Node | str]]]) -> list[nodes.Element]:
    """Dated rows as a definition list (date, what); rows without a date as a plain list after
    it, so an undated entry shows no placeholder date."""
    out: list[nodes.Element] = []
    dated = [(term, body) for term, body in rows if term]
    if dated:
        dl = nodes.definition_list(classes=["lh-timeline"])
        for term, body in dated:
            item = nodes.definition_list_item()
            item += nodes.term(term, term)
            item += nodes.definition("", paragraph(*body))
            dl += item
        out.append(dl)
    undated = [body for term, body in rows if not term]
    if undated:
        lst = nodes.bullet_list(classes=["lh-timeline-undated"])
        for body in undated:
            lst += nodes.list_item("", paragraph(*body))
        out.append(lst)
    return out


def person_header(env: BuildEnvironment, registry: Registry, slug: str) -> nodes.Element:
    person = registry.people[slug]
    header = nodes.container(classes=["lh-person-header"])
    header += avatar(registry, slug, "lg", env=env)
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
    link_nodes = person_links(person)
    if link_nodes:
        info += paragraph(*join(link_nodes, " "), classes=["lh-links"])
    header += info
    return header


def person_sections(env: BuildEnvironment, document: nodes.document, registry: Registry,
                    slug: str) -> list[nodes.Element]:
    person = registry.people[slug]
    out = []
    if person.news:
        sect = section(document, "News", "news")
        sect += feed_link(f"{slug}.atom", root=False)  # written next to the page
        sect.extend(news_by_year(env, document, registry, [slug], show_person=False,
                                 prefix="news"))
        out.append(sect)
    if person.affiliations:
        sect = section(document, "Positions", "positions")
        sect.extend(_timeline([
            (span_text(a), [f"{a.position}, ",
                                   url_link(a.url, a.organisation) if a.url else a.organisation])
            for a in sorted(person.affiliations, key=lambda a: a.start or "", reverse=True)
        ]))
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
            rows.append((span_text(e), [text]))
        sect.extend(_timeline(rows))
        out.append(sect)
    if person.awards:
        sect = section(document, "Awards and honours", "awards")
        sect.extend(_timeline([
            (str(a.year), [url_link(a.url, a.title) if a.url else a.title])
            for a in sorted(person.awards, key=lambda a: a.year, reverse=True)
        ]))
        out.append(sect)
    if person.service:
        sect = section(document, "Service", "service")
        sect.extend(_timeline([(str(s.year), [s.role]) for s in
                               sorted(person.service, key=lambda s: s.year, reverse=True)]))
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


def page_nav(top: nodes.section) -> nodes.Element | None:
    """Links to the sections of a long page, right under its header (the theme's own page
    contents are hidden on phones)."""
    links = [nodes.reference("", sect[0].astext(), refid=sect["ids"][0])
             for sect in top.children
             if isinstance(sect, nodes.section) and sect["ids"] and len(sect)
             and isinstance(sect[0], nodes.title)]
    if len(links) < 3:
        return None
    return paragraph("On this page: ", *join(links, " · "), classes=["lh-page-nav"])


def order_toctrees(registry: Registry, doctree: nodes.document) -> None:
    """Person pages in a toctree (e.g. a ``:glob:`` one) in the directory's order, role then
    surname, so the sidebar lists people as the directory does. Other entries keep their
    places."""
    rank = {registry.person_doc(s): i for i, s in enumerate(registry.ordered_people())}
    for toc in doctree.findall(addnodes.toctree):
        entries = toc["entries"]
        slots = [i for i, (_, doc) in enumerate(entries) if doc in rank]
        people = sorted((entries[i] for i in slots), key=lambda e: rank[e[1]])
        for i, entry in zip(slots, people, strict=True):
            entries[i] = entry
        files = toc["includefiles"]
        slots = [i for i, doc in enumerate(files) if doc in rank]
        ordered = sorted((files[i] for i in slots), key=rank.__getitem__)
        for i, doc in zip(slots, ordered, strict=True):
            files[i] = doc


def _on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    """Add the generated header and sections to person and area pages; order people in
    toctrees."""
    env = app.env
    registry = get_registry(env)
    order_toctrees(registry, doctree)
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
        nav = page_nav(top)
        if nav is not None:
            index = top.index(next(iter(top.findall(
                lambda n: isinstance(n, nodes.container)
                and "lh-person-header" in n["classes"]))))
            top.insert(index + 1, nav)
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


# --- who the lab is and how to reach it ---------------------------------------------------------


def _lab_facts(env: BuildEnvironment, registry: Registry, profile: LabProfile) -> list[nodes.Node]:
    """Leaders, institutions and location, each only when set."""
    out: list[nodes.Node] = []
    leaders = [doc_link(env, registry.person_doc(s), registry.people[s].name)
               for s in profile.leaders if s in registry.people]
    if leaders:
        out.append(paragraph("Led by ", *join(leaders, ", "), classes=["lh-lab-leaders"]))
    if profile.institutions:
        hosts = [url_link(i.url, i.name) if i.url else nodes.Text(i.name)
                 for i in profile.institutions]
        out.append(paragraph("Hosted by ", *join(hosts, ", "), classes=["lh-lab-hosts"]))
    if profile.location:
        out.append(paragraph(f"Location: {profile.location}", classes=["lh-lab-location"]))
    return out


def all_openings(registry: Registry, profile: LabProfile) -> list[tuple[str | None, Any]]:
    """The lab's openings, then those of current members in directory order."""
    found: list[tuple[str | None, Any]] = [(None, o) for o in profile.openings]
    for slug in registry.ordered_people():
        person = registry.people[slug]
        if person.status == "current":
            found.extend((slug, o) for o in person.openings)
    return found


def _unknown_leaders(directive: SphinxDirective, registry: Registry,
                     profile: LabProfile) -> None:
    for slug in profile.leaders:
        if slug not in registry.people:
            logger.warning("conf.py: `labhandbook['leaders']` names `%s`, which has no page in "
                           "people/ — use the file name of a person's page", slug,
                           type="labhandbook", subtype="config",
                           location=directive.get_location())


class LabContact(SphinxDirective):
    """The Contact / Join us page: the lab's contact settings, every opening (the lab's and
    members'), and how to reach each current member."""

    def run(self) -> list[nodes.Node]:
        env, registry = self.env, get_registry(self.env)
        profile: LabProfile = self.config._labhandbook.profile
        note_tokens(env, ["people"])
        _unknown_leaders(self, registry, profile)
        document = self.state.document
        out: list[nodes.Node] = []
        facts = _lab_facts(env, registry, profile)
        reach: list[nodes.Node] = []
        if profile.email:
            reach.append(email_link(profile.email))
        if profile.contact_url:
            reach.append(icon_link("homepage", profile.contact_url, "Contact form"))
        if facts or reach:
            sect = section(document, "The lab", "the-lab")
            sect.extend(facts)
            if reach:
                sect += paragraph(*join(reach, " "), classes=["lh-links"])
            out.append(sect)
        openings = all_openings(registry, profile)
        sect = section(document, "Open positions", "openings")
        if openings:
            lst = nodes.bullet_list(classes=["lh-openings"])
            for slug, opening in openings:
                para = paragraph(nodes.strong(opening.title, opening.title))
                if opening.text:
                    para += nodes.Text(f" — {opening.text}")
                if slug:
                    para += nodes.Text(" Contact: ")
                    para += doc_link(env, registry.person_doc(slug), registry.people[slug].name)
                    para += nodes.Text(".")
                if opening.url:
                    para += nodes.Text(" ")
                    para += url_link(opening.url, f"More about {opening.title}")
                lst += nodes.list_item("", para)
            sect += lst
        else:
            sect += paragraph("No open positions are listed at the moment.")
        out.append(sect)
        sect = section(document, "Reaching a member", "members")
        lst = nodes.bullet_list(classes=["lh-contact-list"])
        for slug in registry.ordered_people():
            person = registry.people[slug]
            if person.status != "current":
                continue
            para = paragraph(doc_link(env, registry.person_doc(slug), person.name),
                             f", {person.position}")
            links = person_links(person)
            if links:
                para += nodes.Text(" ")
                para.extend(join(links, " "))
            lst += nodes.list_item("", para)
        sect += lst if len(lst) else paragraph("No one has added a page yet.")
        out.append(sect)
        return out


class LabSummary(SphinxDirective):
    """The home page's few lines on who leads the lab, where it is and how to reach it."""

    def run(self) -> list[nodes.Node]:
        env, registry = self.env, get_registry(self.env)
        lab = self.config._labhandbook
        profile: LabProfile = lab.profile
        note_tokens(env, ["people"])
        _unknown_leaders(self, registry, profile)
        box = nodes.container(classes=["lh-lab-summary"])
        box.extend(_lab_facts(env, registry, profile))
        if lab.contact_page in env.found_docs:
            count = len(all_openings(registry, profile))
            text = "Contact us" + (f" · {count} open position{'s' if count != 1 else ''}"
                                   if count else "")
            box += paragraph(doc_link(env, lab.contact_page, text, ["lh-contact-link"]),
                             classes=["lh-lab-contact"])
        return [box] if len(box) else []


def setup_directives(app: Sphinx) -> None:
    app.add_event("labhandbook-page-sections")
    add_token_resolver(app, "avatar:", _avatar_digest)
    app.add_directive(DIRECTORY, PeopleDirectory)
    app.add_directive(AREA_CARDS, AreaCards)
    app.add_directive(MATRIX, ResearchMatrix)
    app.add_directive(NEWS, NewsList)
    app.add_directive(CONTACT, LabContact)
    app.add_directive(SUMMARY, LabSummary)
    # Before Sphinx's own collectors (priority 500), so the added sections reach the page TOC.
    app.connect("doctree-read", _on_doctree_read, priority=400)
