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


def collaboration_graph(registry: Registry, lib: Library) -> TrustedHTML:
    """Members on a circle; solid lines for co-authored papers, dashed for shared areas."""
    esc = html.escape
    people = [s for s in registry.ordered_people() if registry.people[s].status == "current"]
    papers, areas = coauthor_counts(lib), shared_areas(registry)
    size, radius = 520, 170
    centre = size / 2
    pos = {}
    for i, slug in enumerate(people):
        angle = -math.pi / 2 + 2 * math.pi * i / max(len(people), 1)
        pos[slug] = (centre + radius * math.cos(angle), centre + radius * math.sin(angle))
    lines, facts = [], []
    for (a, b), common in sorted(areas.items()):
        if a in pos and b in pos:
            (x1, y1), (x2, y2) = pos[a], pos[b]
            names = "; ".join(registry.areas[c].title for c in common if c in registry.areas)
            lines.append(f'<line class="lh-edge-area" x1="{x1:.1f}" y1="{y1:.1f}" '
                         f'x2="{x2:.1f}" y2="{y2:.1f}"><title>{esc(names)}</title></line>')
            facts.append(f"{registry.people[a].name} and {registry.people[b].name} share "
                         f"{len(common)} area{'s' if len(common) != 1 else ''}: {names}")
    for (a, b), n in sorted(papers.items()):
        if a in pos and b in pos:
            (x1, y1), (x2, y2) = pos[a], pos[b]
            lines.append(f'<line class="lh-edge-paper" stroke-width="{1.5 + math.log2(n + 1):.1f}"'
                         f' x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}">'
                         f"<title>{n} joint paper{'s' if n != 1 else ''}</title></line>")
            facts.append(f"{registry.people[a].name} and {registry.people[b].name} co-authored "
                         f"{n} paper{'s' if n != 1 else ''}")
    dots = []
    box = [math.inf, math.inf, -math.inf, -math.inf]  # what is drawn: the picture's frame
    for slug, (x, y) in pos.items():
        name = esc(registry.people[slug].name)
        n = len(lib.by_person.get(slug, []))
        anchor = "middle"
        dy = -18 if y < centre else 32
        half = 4.6 * len(registry.people[slug].name) + 4  # about half the label at 16 units
        r = 8 + math.sqrt(n)
        box = [min(box[0], x - max(half, r)), min(box[1], y + dy - 16, y - r),
               max(box[2], x + max(half, r)), max(box[3], y + dy + 4, y + r)]
        dots.append(f'<circle class="lh-node" cx="{x:.1f}" cy="{y:.1f}" r="{8 + math.sqrt(n):.1f}">'
                    f"<title>{name}: {n} publications</title></circle>"
                    f'<text class="lh-node-label" x="{x:.1f}" y="{y + dy:.1f}" '
                    f'text-anchor="{anchor}">{name}</text>')
    label = "Collaboration between current members"
    desc = ". ".join(facts) if facts else "No joint papers or shared areas yet"
    if not pos:
        box = [0, 0, size, size]
    x0, y0, w, h = box[0] - 8, box[1] - 8, box[2] - box[0] + 16, box[3] - box[1] + 16
    svg = (f'<svg class="lh-chart lh-collab" viewBox="{x0:.0f} {y0:.0f} {w:.0f} {h:.0f}" '
           'role="img" '
           'aria-labelledby="collab-title collab-desc" xmlns="http://www.w3.org/2000/svg">'
           f'<title id="collab-title">{label}</title><desc id="collab-desc">{esc(desc)}.</desc>'
           + "".join(lines) + "".join(dots) + "</svg>")
    legend = ('<figcaption>Solid lines: papers written together (thicker means more). '
              "Dashed lines: research areas in common.<details><summary>Who shares what"
              "</summary><p>" + esc(desc) + ".</p></details></figcaption>")
    return TrustedHTML("", f'<figure class="lh-figure" id="collaboration">{svg}{legend}</figure>',
                     format="html")


class CollaborationGraph(SphinxDirective):
    """Which members co-author with which, and which areas they share."""

    def run(self) -> list[nodes.Node]:

        note_tokens(self.env, ["people", "areas", "pubs:all"])
        return [collaboration_graph(get_registry(self.env), get_library(self.env))]


def setup_charts(app: Sphinx) -> None:
    app.add_directive(COLLABORATION, CollaborationGraph)
