"""labhandbook: a Sphinx extension that turns people pages, research pages and BibTeX
files into a cross-referenced lab handbook, plus the ``labhandbook`` command line.

Each concern has its own module and its own ``setup_*`` function; ``setup`` only wires them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sphinx.application import Sphinx


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    from .config import setup_config

    setup_config(app)
    return {
        "version": __version__,
        "env_version": 1,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
