"""labhandbook: a Sphinx extension that turns people pages, research pages and BibTeX files
into a cross-referenced lab handbook, plus the ``labhandbook`` command line.

Each concern has its own module and its own ``setup_*`` function; ``setup`` only wires them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:
    from sphinx.application import Sphinx

STATIC = Path(__file__).parent / "static"


def _static_path(app: Sphinx, config: Any) -> None:
    """Ship our CSS and JS as Sphinx ships static files: copied before pages are written, so
    every build (clean or incremental) links them with the same ``?v=`` checksum. Set at
    ``config-inited``, the same for every build: Sphinx sees no configuration change."""
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def code_version(package: Path = Path(__file__).parent) -> int:
    """A number that changes with the package's code, templates and static files: as the
    extension's ``env_version``, a new version makes Sphinx read and write everything again
    (what the code pickles and renders may have changed), and nothing else does."""
    import hashlib

    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".html", ".css", ".js", ".md"):
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return int.from_bytes(digest.digest(), "big")


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    from .assets import setup_assets
    from .charts import setup_charts
    from .citations import setup_citations
    from .config import setup_config
    from .directives import setup_directives
    from .environment import setup_environment
    from .feeds import setup_feeds
    from .incremental import setup_incremental
    from .pagemeta import setup_pagemeta
    from .papers import setup_papers
    from .process import setup_process
    from .publications import setup_publications
    from .safety import setup_safety
    from .search import setup_search
    from .stems import setup_stems

    for dependency in ("myst_parser", "sphinxcontrib.bibtex", "sphinx_design"):
        app.setup_extension(dependency)
    setup_config(app)
    setup_environment(app)
    setup_directives(app)
    setup_publications(app)
    setup_citations(app)
    setup_papers(app)
    setup_pagemeta(app)
    setup_charts(app)
    setup_feeds(app)
    setup_process(app)
    setup_incremental(app)
    setup_assets(app)
    app.connect("config-inited", _static_path)
    setup_search(app)
    setup_stems(app)
    setup_safety(app)
    app.add_css_file("labhandbook.css")
    return {
        "version": __version__,
        "env_version": code_version(),
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
