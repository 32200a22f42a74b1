"""Light pages (#20): a first view of the pages readers open most stays within the budget of
bytes and requests, served compressed as Read the Docs serves it, and the theme's icons are
still drawn without the Font Awesome script the handbook leaves out, from the subsets of the
icon fonts (labhandbook/icons.py) and never from the theme's full fonts."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labhandbook.assets import DROPPED_SCRIPT
from labhandbook.config import LabConfig
from labhandbook.papers import PAPERS_DIR
from labhandbook.serve import serving

from .conftest import synthetic_lab
from .lab import Lab
from .weight import BUDGET_BYTES, BUDGET_REQUESTS, FIRST_VIEW_LIMIT, weigh

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


#: Entries a page in the generated lab below: a few years on the publications page, the
#: earlier ones on their own pages.
SMALL_PAGE = 150


@pytest.fixture(scope="module")
def split_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A generated lab of 400 entries (benchmarks/synthlab.py) whose publications page holds
    at most :data:`SMALL_PAGE` of them, built and served with gzip."""
    from conftest import sphinx_build

    src = synthetic_lab(tmp_path_factory.mktemp("split") / "src", 12, 4, 400)
    conf = src / "conf.py"
    conf.write_text(conf.read_text(encoding="utf-8").replace(
        '"publications_page": "publications",',
        f'"publications_page": "publications", "publications_per_page": {SMALL_PAGE},'),
        encoding="utf-8")
    build = sphinx_build(src, src.parent / "out")
    assert build.warnings == "", build.warnings[:2000]
    with serving(build.outdir) as base:
        yield base, build.outdir


def test_a_department_publications_page_stays_within_the_first_view_limit(
        browser: Any, split_lab: tuple[str, Path]) -> None:
    """The publications page shows at most ``publications_per_page`` entries (2,000 by
    default): its first view, projected to that many entries at the bytes each reference
    costs here (compressed), stays within the issue's 500 KB. A department's 5,000 entries
    were 959,744 bytes in one page; heavier markup per reference fails this."""
    base, html = split_lab
    text = (html / "publications.html").read_text(encoding="utf-8")
    items = re.findall(r'<li class="lh-citation.*?</li>', text, flags=re.S)
    shown = len(items)
    assert 0 < shown <= SMALL_PAGE
    assert list(html.glob("publications-*.html")), "no earlier year got a page of its own"
    per_reference = len(gzip.compress("\n".join(items).encode(), 6)) / shown
    weight = weigh(browser, base + "publications.html")
    limit = LabConfig().publications_per_page
    projected = weight.bytes + per_reference * (limit - shown)
    assert projected <= FIRST_VIEW_LIMIT, (
        f"{limit} entries at {per_reference:.0f} compressed bytes each: {projected:,.0f} bytes "
        f"for a first view of the publications page (measured {weight.bytes:,} with {shown})")
    for page in html.glob("publications-*.html"):  # one year a page
        year = weigh(browser, base + page.name)
        assert year.bytes <= FIRST_VIEW_LIMIT, f"{year.url}: {year.heaviest()}"
