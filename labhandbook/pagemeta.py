"""What a browser, a search engine and a chat preview read about a page: favicon, meta
description, OpenGraph tags.

Every page gets a ``<meta name="description">`` (its first paragraph of prose, or for a paper
its abstract or reference) and OpenGraph tags; paper and person pages also get ``og:image``
(a person's photo when there is one, else the lab's picture).
The favicon (an SVG with the lab's initials) and the 1200x630 preview card (PNG, drawn with
Pillow) are generated at ``build-finished`` and written only when the lab's name changes.
A lab that sets ``html_favicon`` or ``html_logo`` gets its own files used instead.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docutils import nodes

from .config import get_config
from .environment import get_registry, note_outputs, outputs_current, record_outputs
from .registry import fingerprint

if TYPE_CHECKING:
    from sphinx.application import Sphinx

FAVICON = "_static/labhandbook-favicon.svg"
CARD = "_static/labhandbook-card.png"
COLOUR = "#1f5f8b"  #: the favicon's and card's background; white text on it has 7:1 contrast
DESCRIPTION_LENGTH = 160


def lab_initials(name: str) -> str:
    """Up to three initials of the lab's name's capitalised words ("LLM & AI for Science Group"
    -> "LAS")."""
    words = [w for w in name.replace("-", " ").split() if w[:1].isalnum()]
    capital = [w for w in words if w[:1].isupper() or w[:1].isdigit()] or words
    return "".join(w[0].upper() for w in capital[:3]) or "L"


def favicon_svg(name: str) -> str:
    letters = html.escape(lab_initials(name))
    size = 30 if len(letters) < 3 else 22
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
            f'<rect width="64" height="64" rx="12" fill="{COLOUR}"/>'
            f'<text x="32" y="33" fill="#fff" font-family="sans-serif" font-weight="700" '
            f'font-size="{size}" text-anchor="middle" dominant-baseline="middle">{letters}'
            "</text></svg>\n")


def card_png(name: str, path: Path) -> None:
    """The preview card: the lab's initials and name, white on the favicon's colour."""
    from PIL import Image, ImageDraw, ImageFont  # only when the card is (re)written

    image = Image.new("RGB", (1200, 630), COLOUR)
    draw = ImageDraw.Draw(image)
    big, small = ImageFont.load_default(size=200), ImageFont.load_default(size=56)
    draw.text((600, 250), lab_initials(name), font=big, fill="white", anchor="mm")
    words, lines = name.split(), [""]
    for word in words:  # wrap the name at about 36 characters a line
        if lines[-1] and len(lines[-1]) + len(word) > 36:
            lines.append("")
        lines[-1] = f"{lines[-1]} {word}".strip()
    for i, line in enumerate(lines[:2]):
        draw.text((600, 450 + 70 * i), line, font=small, fill="white", anchor="mm")
    image.save(path, "PNG", optimize=True)


def shorten(text: str, limit: int = DESCRIPTION_LENGTH) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _generated(node: nodes.Node) -> bool:
    """Whether ``node`` is inside a part the handbook generated (headers, lists, cards)."""
    while node is not None:
        if isinstance(node, nodes.Element) and any(
                c.startswith(("lh-", "sd-", "toctree")) for c in node.get("classes", [])):
            return True
        node = node.parent
    return False


def first_prose(doctree: nodes.document) -> str:
    """The first paragraph the page's author wrote (not a generated part, not a list item)."""
    for para in doctree.findall(nodes.paragraph):
        if _generated(para) or isinstance(para.parent, (nodes.list_item, nodes.entry)):
            continue
        text = " ".join(para.astext().split())
        if len(text) > 40:
            return text
    return ""


def page_description(app: Sphinx, pagename: str, context: dict[str, Any],
                     doctree: nodes.document | None) -> str:
    lab = get_config(app).lab_name
    registry = get_registry(app.env)
    kind, slug = registry.by_docname.get(pagename, (None, ""))
    if context.get("lh_description"):
        return shorten(context["lh_description"])
    prose = first_prose(doctree) if doctree is not None else ""
    if kind == "person":
        person = registry.people[slug]
        lead = f"{person.name}, {person.position}, {lab}."
        return shorten(f"{lead} {prose}" if prose else lead)
    if kind == "area":
        area = registry.areas[slug]
        return shorten(f"{area.title}: {area.summary}")
    if prose:
        return shorten(prose)
    title = html.unescape(nodes.Text(context.get("title") or "").astext())
    return shorten(f"{title} — {lab}" if title and title != lab else lab)


def og_image(app: Sphinx, pagename: str, doctree: nodes.document | None
             ) -> tuple[str, str] | None:
    """The absolute URL of the page's preview picture and its text alternative: a person's
    photo, else the lab's logo, else the generated card.

    Pages without a photo share the lab's picture on purpose: a card drawn per page would be
    one more PNG per paper (thousands in a large lab) that says no more than ``og:title`` and
    ``og:description``, which are the page's own.
    """
    base = (app.config.html_baseurl or "").rstrip("/")
    if not base:
        return None
    lab = get_config(app).lab_name
    registry = get_registry(app.env)
    kind, _ = registry.by_docname.get(pagename, (None, ""))
    if kind == "person" and doctree is not None:
        for image in doctree.findall(nodes.image):
            if "lh-avatar" in image["classes"]:
                # the writer has made ``uri`` relative to the page; the source path is the
                # image's candidate (what Sphinx copies to ``_images``)
                source = image.get("candidates", {}).get("*", image["uri"])
                name = getattr(app.builder, "images", {}).get(source)
                if name:
                    return f"{base}/{app.builder.imagedir}/{name}", image.get("alt") or lab
    logo = app.config.html_logo
    if logo and "://" not in logo:
        return f"{base}/_static/{Path(logo).name}", lab
    if logo:
        return logo, lab
    return f"{base}/{CARD}", lab


def _page_meta(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
               doctree: Any) -> None:
    """Description, OpenGraph tags and the favicon link of every page."""
    lab = get_config(app).lab_name
    base = app.config.html_baseurl
    title = html.unescape(nodes.Text(context.get("title") or "").astext())
    description = page_description(app, pagename, context, doctree)
    registry = get_registry(app.env)
    kind, _ = registry.by_docname.get(pagename, (None, ""))
    is_paper = bool(context.get("lh_paper"))
    tags = [("og:title", title), ("og:type", "article" if is_paper else
                                  "profile" if kind == "person" else "website"),
            ("og:site_name", lab), ("og:description", description)]
    if base:
        tags.append(("og:url", base.rstrip("/") + "/" + app.builder.get_target_uri(pagename)))
    if is_paper or kind == "person":
        image = og_image(app, pagename, doctree)
        if image:
            tags.append(("og:image", image[0]))
            tags.append(("og:image:alt", image[1]))
    markup = [f'\n<meta name="description" content="{html.escape(description, quote=True)}" />']
    markup += [f'\n<meta property="{p}" content="{html.escape(v, quote=True)}" />'
               for p, v in tags]
    if not app.config.html_favicon:
        href = context["pathto"](FAVICON, 1)
        markup.append(f'\n<link rel="icon" href="{html.escape(href)}" type="image/svg+xml" />')
    context["metatags"] = context.get("metatags", "") + "".join(markup)


def _write_assets(app: Sphinx, exception: Exception | None) -> None:
    """The favicon and the preview card, written when the lab's name (or this code) changes."""
    if exception is not None or app.builder.format != "html":
        return
    name = get_config(app).lab_name
    outdir = Path(app.outdir)
    paths = [outdir / FAVICON, outdir / CARD]
    digest = fingerprint(name, favicon_svg(name), COLOUR, 1)
    note_outputs(app, [FAVICON, CARD])
    if outputs_current(app, "page-assets", digest, paths):
        return
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    paths[0].write_text(favicon_svg(name), encoding="utf-8")
    card_png(name, paths[1])
    record_outputs(app, "page-assets", digest)


def setup_pagemeta(app: Sphinx) -> None:
    app.connect("html-page-context", _page_meta)
    app.connect("build-finished", _write_assets)
