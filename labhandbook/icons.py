"""The icon fonts a reader downloads: the glyphs the site draws, not all of Font Awesome (#20).

pydata-sphinx-theme draws its icons (search, theme switch, menus, header and download buttons,
the repository link) and the handbook its person links with Font Awesome 7's web fonts:
``fa-solid-900.woff2`` (115 KB) and ``fa-brands-400.woff2`` (110 KB), more than half of a first
view. ``static/labhandbook-icons.css`` declares the same font families again over subsets of
the same fonts (``static/labhandbook-icons-*.woff2``, a few KB) that hold only the glyphs named
in the theme's and the handbook's code, each face limited to them with ``unicode-range``. CSS
checks the faces of a family from the last declared one, and the handbook's stylesheets come
after the theme's: a page whose icons are all in the subsets loads the subsets only; any
other glyph (an icon link a lab adds in ``html_theme_options``) is outside their range, so the
browser still fetches the theme's full font for it. Look, sizes and the theme's markup
(``aria-hidden``, labels) are unchanged: the glyphs are the same glyphs.

The subsets are generated files, kept in the package (no build step, same bytes in every
build). After a theme upgrade, regenerate them: ``pip install 'labhandbook[icons]'`` and
``python -m labhandbook.icons``; ``tests/browser/test_weight.py`` fails when a page the theme
draws needs the full font again.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

STATIC = Path(__file__).parent / "static"
CSS = "labhandbook-icons.css"
#: Family (as the theme's stylesheet names it), weight, theme font file, subset file.
FACES = (
    ("Font Awesome 7 Free", 900, "fa-solid-900.woff2", "labhandbook-icons-solid.woff2"),
    ("Font Awesome 7 Brands", 400, "fa-brands-400.woff2", "labhandbook-icons-brands.woff2"),
)
_NAME = re.compile(r"\bfa-[a-z0-9]+(?:-[a-z0-9]+)*")
_RULE = re.compile(r"((?:\.fa-[a-z0-9-]+,?)+)\{--fa:\"\\([0-9a-f]+)\"")


def theme_dirs() -> list[Path]:
    import pydata_sphinx_theme
    import sphinx_book_theme

    return [Path(pydata_sphinx_theme.__file__).parent, Path(sphinx_book_theme.__file__).parent]


def icon_names(folders: list[Path]) -> set[str]:
    """Every ``fa-*`` name in the code and templates of ``folders``."""
    names: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*"):
            if path.suffix in (".py", ".html") and path.is_file():
                names.update(_NAME.findall(path.read_text(encoding="utf-8", errors="ignore")))
    return names


def codepoints(css: str, names: set[str]) -> set[int]:
    """The code points the theme's stylesheet gives to ``names``."""
    found: set[int] = set()
    for selectors, hexcode in _RULE.findall(css):
        if {s.lstrip(".") for s in selectors.split(",")} & names:
            found.add(int(hexcode, 16))
    return found


def subset(source: Path, target: Path, wanted: set[int]) -> list[int]:
    """Write the glyphs of ``wanted`` that ``source`` has to ``target`` (WOFF2)."""
    from fontTools import subset as ftsubset
    from fontTools.ttLib import TTFont

    font = TTFont(str(source), recalcTimestamp=False)
    present = sorted(set(font.getBestCmap()) & wanted)
    options = ftsubset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # keeps the font's licence and copyright records
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(unicodes=present)
    subsetter.subset(font)
    font.flavor = "woff2"
    font.save(str(target), reorderTables=False)
    return present


def unicode_range(points: list[int]) -> str:
    return ", ".join(f"U+{p:04X}" for p in points)


def generate(static: Path = STATIC) -> str:
    """Write the subsets and their stylesheet into ``static``; the stylesheet's text."""
    pydata, book = theme_dirs()
    theme_static = pydata / "theme" / "pydata_sphinx_theme" / "static"
    css = (theme_static / "styles" / "pydata-sphinx-theme.css").read_text(encoding="utf-8")
    wanted = codepoints(css, icon_names([pydata, book, Path(__file__).parent]))
    lines = ["/* labhandbook (labhandbook/icons.py, generated): the Font Awesome glyphs the theme",
             "   and the handbook draw, as subsets of the theme's own fonts; any other glyph",
             "   falls outside unicode-range and comes from the theme's full font. */"]
    for family, weight, font, target in FACES:
        present = subset(theme_static / "vendor" / "fontawesome" / "webfonts" / font,
                         static / target, wanted)
        lines += ["@font-face {", f'  font-family: "{family}";', "  font-style: normal;",
                  f"  font-weight: {weight};", "  font-display: block;",
                  f'  src: url("{target}") format("woff2");',
                  f"  unicode-range: {unicode_range(present)};", "}"]
    text = "\n".join(lines) + "\n"
    (static / CSS).write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    sys.stdout.write(generate())
