"""What every page loads: no script the site does not need, none that holds up drawing it.

pydata-sphinx-theme (under sphinx-book-theme) puts ``scripts/fontawesome.js`` on every page:
1.5 MB (540 KB gzipped) of Font Awesome's SVG framework, parsed and run on each view (most of
the page weight and of the main-thread time Lighthouse measured, issue #20). Every icon the
theme draws (header buttons, theme switch, search, navigation) is also in the theme's
stylesheet as Font Awesome's web fonts, which the browser fetches only for the glyphs a page
shows; the site draws no icon of its own. So the theme's ``layout.html`` is extended (a
documented Sphinx template override, ``{% extends "!layout.html" %}``) with its ``css`` block
re-emitted line for line minus the line that loads that script (``html/layout.html``).

The scripts Sphinx, the theme and the extensions list for the page (the ``script_files`` of the
template context, ``html-page-context``) are loaded with ``defer``: they act on the finished
document (``DOMContentLoaded`` or later), and deferred scripts still run in their order, so
the page is drawn before they are fetched. Two stay as they are: ``documentation_options.js``
(the inline scripts after it, ``DOCUMENTATION_OPTIONS.pagename = ...``, need it at once) and
``doctools.js`` (its ``_ready`` is called at once by ``searchtools.js``, which the theme's
``extrahead`` block loads without ``defer``). Inline scripts and ``async`` ones are left alone.

The theme's icon fonts (225 KB of Font Awesome) are overridden by subsets holding the glyphs
the theme and the handbook draw (``labhandbook-icons.css``, see :mod:`labhandbook.icons`);
glyphs outside them still come from the theme's fonts.

On upgrade: if the theme renames the script or moves it out of the ``css`` block, the script
comes back (pages get heavier, nothing breaks); ``tests/browser/test_weight.py`` fails then.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config

TEMPLATES = Path(__file__).parent / "html"
#: The theme's script that no page loads (see html/layout.html).
DROPPED_SCRIPT = "scripts/fontawesome.js"
#: Scripts that inline scripts of the page use at once: they stay blocking.
BLOCKING = frozenset({"_static/documentation_options.js", "_static/doctools.js"})
THEMES = frozenset({"sphinx_book_theme", "pydata_sphinx_theme"})
ICONS_CSS = "labhandbook-icons.css"  #: written by ``python -m labhandbook.icons``


def _add_templates(app: Sphinx, config: Config) -> None:
    """Put the override after the lab's own templates (a lab's ``layout.html`` still wins)."""
    if config.html_theme in THEMES and str(TEMPLATES) not in config.templates_path:
        config.templates_path = [*config.templates_path, str(TEMPLATES)]


def deferred(script: Any) -> Any:
    """``script`` (an entry of ``script_files``) loaded with ``defer``, when that is safe."""
    filename = getattr(script, "filename", None)
    attributes = getattr(script, "attributes", None)
    if (not filename or not isinstance(attributes, dict) or str(filename) in BLOCKING
            or {"body", "async", "defer"} & attributes.keys()
            or attributes.get("type") == "module"):
        return script
    return type(script)(filename, priority=script.priority, **attributes, defer="defer")


def _defer_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                   doctree: Any) -> None:
    scripts = context.get("script_files")
    if isinstance(scripts, list):  # a new list: the builder's own stays as it is
        context["script_files"] = [deferred(s) for s in scripts]


def setup_assets(app: Sphinx) -> None:
    app.connect("config-inited", _add_templates)
    # Last: scripts that other handlers add to this page are deferred too.
    app.connect("html-page-context", _defer_scripts, priority=900)
    # After the theme's stylesheet (Sphinx links added files after it): its faces win.
    app.add_css_file(ICONS_CSS)
