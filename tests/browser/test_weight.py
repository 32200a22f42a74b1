"""Light pages (#20): a first view of the pages readers open most stays within the budget of
bytes and requests, served compressed as Read the Docs serves it, and the theme's icons are
still drawn without the Font Awesome script the handbook leaves out, from the subsets of the
icon fonts (labhandbook/icons.py) and never from the theme's full fonts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labhandbook.assets import DROPPED_SCRIPT
from labhandbook.papers import PAPERS_DIR
from labhandbook.serve import serving

from .lab import Lab
from .weight import BUDGET_BYTES, BUDGET_REQUESTS, weigh

KINDS = ("home", "person", "publications", "paper")
#: Where the theme's full Font Awesome fonts are (225 KB; labhandbook/icons.py).
THEME_FONTS = "vendor/fontawesome/webfonts/"


@pytest.fixture(scope="module")
def gzip_site(handbook: Any) -> Iterator[str]:
    """The built handbook served with gzip on 127.0.0.1."""
    with serving(handbook.outdir) as base:
        yield base


@pytest.fixture(scope="module")
def weighed_pages(lab: Lab, page_of: dict[str, str]) -> dict[str, str]:
    paper = max(lab.papers, key=lambda p: len(p.members), default=None)
    assert paper is not None, "bib/ has no entry: the weight test needs a paper page"
    return {**{k: page_of[k] for k in ("home", "person", "publications")},
            "paper": f"{PAPERS_DIR}/{paper.key}.html"}


@pytest.mark.parametrize("kind", KINDS)
def test_first_view_within_budget(browser: Any, gzip_site: str, weighed_pages: dict[str, str],
                                  kind: str) -> None:
    weight = weigh(browser, gzip_site + weighed_pages[kind])
    assert weight.requests > 1, f"{weight.url}: nothing but the page was loaded"
    compressed = [u for u, _ in weight.files if u.endswith(".html")]
    assert compressed, "the page itself was not requested"
    assert weight.bytes <= BUDGET_BYTES, (
        f"{weight.url}: {weight.bytes:,} bytes over the wire, budget {BUDGET_BYTES:,}; "
        f"heaviest: {weight.heaviest()}")
    assert weight.requests <= BUDGET_REQUESTS, (
        f"{weight.url}: {weight.requests} requests, budget {BUDGET_REQUESTS}: "
        + ", ".join(u.rsplit("/", 1)[-1] for u, _ in weight.files))
    assert not any(DROPPED_SCRIPT in u for u, _ in weight.files), (
        f"{weight.url} loads {DROPPED_SCRIPT} again (did the theme change its template?)")
    full = [u for u, _ in weight.files if THEME_FONTS in u]
    assert not full, (f"{weight.url} fetches the theme's full icon fonts {full}: an icon it "
                      "draws is not in the subsets (regenerate: python -m labhandbook.icons)")
    subsets = [u for u, _ in weight.files if "labhandbook-icons-" in u]
    assert subsets, f"{weight.url} draws no icon from the subsets: {weight.heaviest(30)}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_theme_icons_still_drawn(page: Any, site: Any, page_of: dict[str, str],
                                 scheme: str) -> None:
    """Every icon of the header (repository, edit, theme switch, search...) is drawn from the
    theme's icon font family, in both colour schemes: a glyph, not an empty box, from a face
    that is loaded (the subset; the full fonts are not fetched, see above)."""
    page.emulate_media(color_scheme=scheme)
    page.goto(site.url(page_of["person"]), wait_until="networkidle")
    icons = page.evaluate("""() => [...document.querySelectorAll(
        '.article-header-buttons i[class*="fa-"], .article-header-buttons span[class*="fa-"]')]
      .filter((el) => el.offsetParent !== null)
      .map((el) => {
        const before = getComputedStyle(el, '::before');
        const glyph = (before.content.match(/"([^"]+)"/) || [])[1] || "";
        const family = before.fontFamily.split(',')[0].replace(/"/g, '');
        const point = glyph.codePointAt(0);
        const holds = (range) => range.split(',').some((part) => {
          const [lo, hi] = part.trim().replace(/^U\\+/i, '').split('-');
          return point >= parseInt(lo, 16) && point <= parseInt(hi || lo, 16);
        });
        // The faces of the family that are loaded and hold the glyph (the subset, #20).
        const faces = [...document.fonts].filter((f) => f.family.replace(/"/g, '') === family
          && f.status === 'loaded' && holds(f.unicodeRange));
        return {cls: el.className, font: before.fontFamily, content: before.content,
                width: el.getBoundingClientRect().width, glyph,
                loaded: !!glyph && faces.length > 0,
                fromSubset: faces.some((f) => f.unicodeRange !== 'U+0-10FFFF')};
      })""")
    assert icons, "no icon in the article header: did the theme change?"
    for icon in icons:
        assert "Font Awesome" in icon["font"], icon
        assert icon["content"] not in ("none", "normal", ""), icon
        assert icon["width"] > 0 and icon["loaded"], icon
        assert icon["fromSubset"], icon
