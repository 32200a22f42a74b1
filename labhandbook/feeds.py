"""Atom feeds of the lab's news: one for the whole lab and one per person.

News lives in people's front matter (one source of truth); the news page and the home page
render it with the ``news`` directive, and this module writes the same items as Atom with
feedgen. Feeds are deterministic (their dates come from the items, never from the clock) and
are rewritten only when their bytes change.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .directives import news_items
from .environment import get_registry, note_outputs, outputs_current, record_outputs
from .registry import fingerprint

if TYPE_CHECKING:
    from sphinx.application import Sphinx

    from .registry import Registry

LAB_FEED = "news.atom"
#: Characters XML 1.0 cannot hold (a BibTeX title may have them): left out of the feeds.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def person_feed(slug: str, people_dir: str) -> str:
    return f"{people_dir}/{slug}.atom"


def when(partial: str) -> datetime:
    """A news date (YYYY, YYYY-MM or YYYY-MM-DD) as a UTC datetime at its start."""
    parts = [int(p) for p in partial.split("-")] + [1, 1]
    return datetime(parts[0], parts[1], parts[2], tzinfo=timezone.utc)


def build_feed(app: Sphinx, registry: Registry, slugs: list[str], feed_path: str,
               title: str, page: str) -> bytes:
    """The Atom document for the news of ``slugs``, newest first."""
    from feedgen.feed import FeedGenerator  # imported when feeds are written, not per build

    from .environment import get_library

    base = (app.config.html_baseurl or "").rstrip("/") + "/"
    builder = app.builder
    lib = get_library(app.env)
    items = news_items(registry, slugs)
    fg = FeedGenerator()
    fg.id(base + feed_path)
    fg.title(_NOT_XML.sub("", title))
    fg.link(href=base + builder.get_target_uri(page), rel="alternate")
    fg.link(href=base + feed_path, rel="self")
    fg.language("en")
    fg.generator("labhandbook", __version__)
    fg.updated(when(items[0][0]) if items else EPOCH)
    for date, slug, item in items:
        person = registry.people[slug]
        person_url = base + builder.get_target_uri(registry.person_doc(slug))
        entry = fg.add_entry(order="append")
        entry.id(f"{person_url}#news-{date}-{_position(registry, slug, item)}")
        text = item.text if len(slugs) == 1 else f"{person.name}: {item.text}"
        text = _NOT_XML.sub("", text)
        entry.title(text if len(text) <= 120 else text[:119] + "…")
        entry.link(href=item.url or person_url)
        entry.author({"name": _NOT_XML.sub("", person.name), "uri": person_url})
        entry.updated(when(date))
        entry.published(when(date))
        papers = [lib.pubs[k].title for k in item.papers if k in lib.pubs]
        body = item.text + (" Papers: " + "; ".join(papers) + "." if papers else "")
        entry.content(_NOT_XML.sub("", body), type="text")
    return fg.atom_str(pretty=True)


def _position(registry: Registry, slug: str, item: Any) -> int:
    """Where ``item`` stands in the person's own news (stable id part)."""
    return list(registry.people[slug].news).index(item)


def _write(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _write_feeds(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from .config import get_config
    from .environment import get_library

    registry, lab = get_registry(app.env), get_config(app)
    out = Path(app.outdir)
    feeds = {slug: person_feed(slug, lab.people_dir) for slug in registry.people}
    # What the feeds show: the news, people's names and pages, the titles of papers the news
    # names, the site's address and name. Unchanged and present: nothing to do.
    lib = get_library(app.env)
    papers = sorted({k for p in registry.people.values() for n in p.news for k in n.papers})
    digest = fingerprint(__version__, registry.digest("news"), registry.digest("roster"),
                         [lib.pubs[k].title if k in lib.pubs else None for k in papers],
                         app.config.html_baseurl, lab.lab_name, lab.news_page, feeds,
                         app.builder.get_target_uri(lab.news_page))
    note_outputs(app, [LAB_FEED, *feeds.values()])
    if outputs_current(app, "feeds", digest, [out / LAB_FEED, *(out / f for f in
                                                                 feeds.values())]):
        return
    _write(out / LAB_FEED, build_feed(app, registry, list(registry.people), LAB_FEED,
                                      f"{lab.lab_name}: news", lab.news_page))
    for slug, feed in feeds.items():
        _write(out / feed, build_feed(app, registry, [slug], feed,
                                      f"{registry.people[slug].name}: news",
                                      registry.person_doc(slug)))
    record_outputs(app, "feeds", digest)


def _feed_links(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                doctree: Any) -> None:
    """``<link rel="alternate">`` to the lab feed on every page, and to a person's own feed."""
    from html import escape

    from .config import get_config

    pathto = context.get("pathto")
    if pathto is None:
        return
    lab = get_config(app)
    links = [(LAB_FEED, f"{lab.lab_name}: news")]
    registry = get_registry(app.env)
    kind, slug = registry.by_docname.get(pagename, (None, ""))
    if kind == "person":
        links.append((person_feed(slug, lab.people_dir), f"{registry.people[slug].name}: news"))
    tags = "".join(f'\n<link rel="alternate" type="application/atom+xml" title="{escape(t)}" '
                   f'href="{escape(pathto(href, 1))}" />' for href, t in links)
    context["metatags"] = context.get("metatags", "") + tags


def setup_feeds(app: Sphinx) -> None:
    app.connect("build-finished", _write_feeds)
    app.connect("html-page-context", _feed_links)
