"""labhandbook: a Sphinx extension that turns people pages, research pages and BibTeX files
into a cross-referenced lab handbook, plus the ``labhandbook`` command line.

Each concern has its own module and its own ``setup_*`` function; ``setup`` only wires them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sphinx.application import Sphinx

STATIC = Path(__file__).parent / "static"


def _copy_static(app: Sphinx, exception: Exception | None) -> None:
    """Ship our CSS and JS without touching ``html_static_path`` (a config change would make
    every next build a full rebuild)."""
    from sphinx.util.fileutil import copy_asset_file

    if exception is None and app.builder.format == "html":
        for asset in STATIC.iterdir():
            copy_asset_file(asset, Path(app.outdir, "_static"), force=True)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    from .charts import setup_charts
    from .config import setup_config
    from .directives import setup_directives
    from .environment import setup_environment
    from .feeds import setup_feeds
    from .papers import setup_papers
    from .process import setup_process
    from .publications import setup_publications

    for dependency in ("myst_parser", "sphinxcontrib.bibtex", "sphinx_design"):
        app.setup_extension(dependency)
    setup_config(app)
    setup_environment(app)
    setup_directives(app)
    setup_publications(app)
    setup_papers(app)
    setup_charts(app)
    setup_feeds(app)
    setup_process(app)
    app.connect("build-finished", _copy_static)
    app.add_css_file("labhandbook.css")
    return {
        "version": __version__,
        "env_version": 1,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
