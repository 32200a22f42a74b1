"""Small static pictures of the lab's work, drawn as inline SVG at build time.

No JavaScript and no external service: the SVG is part of the page, takes its colours from
the theme's CSS variables (so it follows light and dark mode), and carries a text alternative
(``<title>``/``<desc>`` plus a data table for screen readers).
"""

from __future__ import annotations

import html
import math
from collections import Counter
from itertools import combinations
from typing import TYPE_CHECKING

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from .environment import get_library, get_registry, note_tokens
from .safety import TrustedHTML

if TYPE_CHECKING:
    from sphinx.application import Sphinx

    from .library import Library
    from .registry import Registry

COLLABORATION = "collaboration-graph"


def year_counts(lib: Library, keys: list[str]) -> dict[int, int]:
    """Publications per year over the whole span (years without papers count 0)."""
    counts = Counter(lib.pubs[k].year for k in keys if lib.pubs[k].year)
    if not counts:
        return {}
    return {y: counts.get(y, 0) for y in range(min(counts), max(counts) + 1)}


def bar_chart(counts: dict[int, int], label: str, ident: str) -> TrustedHTML:
    """A bar chart of publications per year, with a data table as its text alternative."""
    esc = html.escape
    years = sorted(counts)
    # Text is 16 units high (see labhandbook.css): at a phone's 320 px the chart is drawn at
    # about half size and the labels stay at 9 px or more.
    width, height, pad_left, pad_bottom, top = 560, 200, 8, 28, 22
    slot = (width - pad_left) / max(len(years), 1)
    every = max(1, math.ceil(44 / slot))  # a year label needs about 44 units
    peak = max(counts.values(), default=1) or 1
    bars = []
    for i, year in enumerate(years):
        n = counts[year]
        h = (height - pad_bottom - top) * n / peak
        x = pad_left + i * slot + slot * 0.15
        y = height - pad_bottom - h
        bars.append(
            f'<rect class="lh-bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}"><title>{year}: {n}</title></rect>'
            + (f'<text class="lh-chart-value" x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" '
               f'text-anchor="middle">{n}</text>' if n and slot >= 20 else "")
            + (f'<text class="lh-chart-axis" x="{x + slot * 0.35:.1f}" y="{height - 6}" '
               f'text-anchor="middle">{year}</text>'
               if (len(years) - 1 - i) % every == 0 else ""))
    summary = ", ".join(f"{y}: {counts[y]}" for y in years)
    svg = (
        f'<svg class="lh-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-title">{esc(label)}</title>'
        f'<desc id="{ident}-desc">Publications per year: {esc(summary)}.</desc>'
        f'<line class="lh-chart-baseline" x1="{pad_left}" x2="{width}" '
        f'y1="{height - pad_bottom}" y2="{height - pad_bottom}"/>'
        + "".join(bars) + "</svg>")
    # In a clipped box: a table is never narrower than its content, so a hidden table alone
    # widened the page on phones.
    table = ('<div class="lh-sr-only"><table><caption>' + esc(label) + "</caption><tr><th>Year</th>"
             "<th>Publications</th></tr>"
             + "".join(f"<tr><td>{y}</td><td>{counts[y]}</td></tr>" for y in years)
             + "</table></div>")
    return TrustedHTML("", f'<figure class="lh-figure" id="{ident}">{svg}{table}</figure>',
                     format="html")


def coauthor_counts(lib: Library) -> Counter[tuple[str, str]]:
    """How many papers each pair of members wrote together."""
    pairs: Counter[tuple[str, str]] = Counter()
    for pub in lib.pubs.values():
        for a, b in combinations(sorted(pub.members), 2):
            pairs[(a, b)] += 1
    return pairs


def shared_areas(registry: Registry) -> dict[tuple[str, str], list[str]]:
    out = {}
    for a, b in combinations(sorted(registry.people), 2):
        common = sorted(set(registry.people[a].areas) & set(registry.people[b].areas))
        if common:
            out[(a, b)] = common
    return out


#: At most this many members are drawn (those with the most joint papers); every member's
#: co-authors are in the list under the picture.
GRAPH_NODES = 12
#: At most this many lines of joint papers are drawn, the strongest.
GRAPH_EDGES = 24
#: Dashed lines of shared areas are drawn only for this few members (beyond, the matrix says it).
AREA_EDGES_UP_TO = 6
#: A picture wider than this (in text units of 16) is too small to read on a phone, which shows
#: the list instead (see labhandbook.css).
PHONE_WIDTH = 560
#: The list under the picture names each member's this many most frequent co-authors.
LIST_PARTNERS = 5
LABEL_UNIT = 9.2  #: about the width of one character of a 16-unit bold label


def graph_members(people: list[str], papers: Counter[tuple[str, str]],
                  counts: dict[str, int]) -> list[str]:
    """The members drawn: all when they are few, else those with the most joint papers (then
    the most papers), in directory order."""
    if len(people) <= GRAPH_NODES:
        return people
    strength: Counter[str] = Counter()
    for (a, b), n in papers.items():
        strength[a] += n
        strength[b] += n
    rank = sorted(people, key=lambda s: (-strength[s], -counts.get(s, 0), people.index(s)))
    keep = set(rank[:GRAPH_NODES])
    return [s for s in people if s in keep]


def collaboration_graph(registry: Registry, lib: Library) -> TrustedHTML:
    """Members on a circle; solid lines for co-authored papers, dashed for shared areas.

    Readable at any size of lab: at most :data:`GRAPH_NODES` members and
    :data:`GRAPH_EDGES` lines are drawn, labels stand outside the circle and run away from it
    (no two overlap: neighbours are at least 30 degrees apart, no member sits at the very top,
    and one at the very bottom is labelled under its dot), and the list under the picture
    names every member's co-authors. A picture too wide for a phone is not shown there.
    """
    esc = html.escape
    people = [s for s in registry.ordered_people() if registry.people[s].status == "current"]
    papers, areas = coauthor_counts(lib), shared_areas(registry)
    counts = {s: len(lib.by_person.get(s, [])) for s in people}
    shown = graph_members(people, papers, counts)
    radius = max(120.0, 24 * len(shown))
    pos = {}
    for i, slug in enumerate(shown):
        # half a step off the vertical, so no label sits on top of another at top or bottom
        angle = -math.pi / 2 + math.pi / max(len(shown), 1) + 2 * math.pi * i / max(len(shown), 1)
        if len(shown) == 1:
            angle = 0.0
        pos[slug] = (radius * math.cos(angle), radius * math.sin(angle), angle)
    lines = []
    if len(shown) <= AREA_EDGES_UP_TO:
        for (a, b), common in sorted(areas.items()):
            if a in pos and b in pos:
                names = "; ".join(registry.areas[c].title for c in common if c in registry.areas)
                lines.append(f'<line class="lh-edge-area" x1="{pos[a][0]:.1f}" '
                             f'y1="{pos[a][1]:.1f}" x2="{pos[b][0]:.1f}" y2="{pos[b][1]:.1f}">'
                             f"<title>{esc(names)}</title></line>")
    drawn = sorted(((n, a, b) for (a, b), n in papers.items() if a in pos and b in pos),
                   key=lambda t: (-t[0], t[1], t[2]))[:GRAPH_EDGES]
    for n, a, b in sorted(drawn, key=lambda t: (t[1], t[2])):
        names = f"{registry.people[a].name} and {registry.people[b].name}"
        lines.append(f'<line class="lh-edge-paper" stroke-width="{1.5 + math.log2(n + 1):.1f}"'
                     f' x1="{pos[a][0]:.1f}" y1="{pos[a][1]:.1f}" x2="{pos[b][0]:.1f}"'
                     f' y2="{pos[b][1]:.1f}"><title>{esc(names)}: {n} joint '
                     f"paper{'s' if n != 1 else ''}</title></line>")
    dots = []
    box = [-radius, -radius, radius, radius]  # what is drawn: the picture's frame
    for slug, (x, y, angle) in pos.items():
        name = registry.people[slug].name
        n = counts.get(slug, 0)
        r = 8 + math.sqrt(n)
        gap = r + 6
        lx, ly = x + gap * math.cos(angle), y + gap * math.sin(angle) + 6
        width = LABEL_UNIT * len(name)
        if abs(math.cos(angle)) < 1e-6:  # a lone member: the label under the dot
            anchor, left = "middle", lx - width / 2
            ly += 10
        elif math.cos(angle) > 0:
            anchor, left = "start", lx
        else:
            anchor, left = "end", lx - width
        box = [min(box[0], left, x - r), min(box[1], ly - 16, y - r),
               max(box[2], left + width, x + r), max(box[3], ly + 4, y + r)]
        dots.append(f'<circle class="lh-node" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}">'
                    f"<title>{esc(name)}: {n} publications</title></circle>"
                    f'<text class="lh-node-label" x="{lx:.1f}" y="{ly:.1f}" '
                    f'text-anchor="{anchor}">{esc(name)}</text>')
    label = "Collaboration between current members"
    facts = collaboration_facts(registry, people, papers, areas)
    if len(shown) < len(people):
        desc = (f"The {len(shown)} of {len(people)} current members with the most joint papers "
                f"and their {len(drawn)} strongest collaborations; the list below names every "
                "member's co-authors")
    else:
        desc = ". ".join(facts) if facts else "No joint papers or shared areas yet"
    x0, y0 = box[0] - 8, box[1] - 8
    w, h = box[2] - box[0] + 16, box[3] - box[1] + 16
    wide = " lh-collab-wide" if w > PHONE_WIDTH else ""
    svg = (f'<svg class="lh-chart lh-collab{wide}" viewBox="{x0:.0f} {y0:.0f} {w:.0f} {h:.0f}" '
           'role="img" '
           'aria-labelledby="collab-title collab-desc" xmlns="http://www.w3.org/2000/svg">'
           f'<title id="collab-title">{label}</title><desc id="collab-desc">{esc(desc)}.</desc>'
           + "".join(lines) + "".join(dots) + "</svg>")
    legend = ("Solid lines: papers written together (thicker means more)."
              + (" Dashed lines: research areas in common." if len(shown) <= AREA_EDGES_UP_TO
                 else f" The {len(shown)} members with the most joint papers are drawn."))
    listing = collaboration_list(registry, people, papers)
    if len(shown) <= AREA_EDGES_UP_TO and facts:
        listing += "<p>" + esc(". ".join(facts)) + ".</p>"
    caption = (f'<figcaption><span class="lh-collab-legend">{esc(legend)}</span><details>'
               f"<summary>Who writes with whom</summary>{listing}</details></figcaption>")
    return TrustedHTML("", f'<figure class="lh-figure{wide}" id="collaboration">{svg}{caption}'
                           "</figure>", format="html")


def collaboration_facts(registry: Registry, people: list[str],
                        papers: Counter[tuple[str, str]],
                        areas: dict[tuple[str, str], list[str]]) -> list[str]:
    """Each pair's shared areas and joint papers, as sentences (the small graph's text)."""
    current = set(people)
    facts = []
    for (a, b), common in sorted(areas.items()):
        if a in current and b in current:
            names = "; ".join(registry.areas[c].title for c in common if c in registry.areas)
            facts.append(f"{registry.people[a].name} and {registry.people[b].name} share "
                         f"{len(common)} area{'s' if len(common) != 1 else ''}: {names}")
    for (a, b), n in sorted(papers.items()):
        if a in current and b in current:
            facts.append(f"{registry.people[a].name} and {registry.people[b].name} co-authored "
                         f"{n} paper{'s' if n != 1 else ''}")
    return facts


def collaboration_list(registry: Registry, people: list[str],
                       papers: Counter[tuple[str, str]]) -> str:
    """Every current member with joint papers and their most frequent co-authors in the lab."""
    esc = html.escape
    current = set(people)
    partners: dict[str, Counter[str]] = {}
    for (a, b), n in papers.items():
        if a in current and b in current:
            partners.setdefault(a, Counter())[b] = n
            partners.setdefault(b, Counter())[a] = n
    items = []
    for slug in people:
        mine = partners.get(slug)
        if not mine:
            continue
        ranked = sorted(mine.items(), key=lambda t: (-t[1], people.index(t[0])))
        with_whom = ", ".join(f"{esc(registry.people[o].name)} ({n} paper{'s' if n != 1 else ''})"
                              for o, n in ranked[:LIST_PARTNERS])
        if len(ranked) > LIST_PARTNERS:
            with_whom += f" and {len(ranked) - LIST_PARTNERS} more"
        items.append(f"<li><strong>{esc(registry.people[slug].name)}</strong>: {with_whom}</li>")
    if not items:
        return "<p>No joint papers yet.</p>"
    return '<ul class="lh-collab-list">' + "".join(items) + "</ul>"


class CollaborationGraph(SphinxDirective):
    """Which members co-author with which, and which areas they share."""

    def run(self) -> list[nodes.Node]:

        note_tokens(self.env, ["people", "areas", "pubs:all"])
        return [collaboration_graph(get_registry(self.env), get_library(self.env))]


def setup_charts(app: Sphinx) -> None:
    app.add_directive(COLLABORATION, CollaborationGraph)
