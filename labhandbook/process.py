"""How a build process ends: without the interpreter's last pass over a large heap.

When ``sphinx-build`` exits, CPython's cyclic garbage collector walks every object still alive
(the build environment with sphinxcontrib-bibtex's parsed entries, every imported module),
several times, only to free memory that the operating system takes back anyway. With a large
library that walk was the largest single cost of a no-change build: 1.4 s of 3.6 s at 5000
BibTeX entries, 0.4 s of 1.6 s at 1000 (``benchmarks/README.md``).

So, while the interpreter shuts down (an ``atexit`` hook, never during a build), the objects
still alive are moved out of the collector's reach with :func:`gc.freeze`. Builds inside a
long-lived process (tests, a preview server) are not affected, and reference counting still
frees what it frees. ``labhandbook = {"fast_exit": False}`` in ``conf.py`` switches it off.
"""

from __future__ import annotations

import atexit
import gc
from typing import TYPE_CHECKING

from .config import get_config

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config


def _skip_final_collection() -> None:
    gc.freeze()


def _on_config_inited(app: Sphinx, config: Config) -> None:
    atexit.unregister(_skip_final_collection)  # at most once, and not at all when switched off
    if get_config(app).fast_exit:
        atexit.register(_skip_final_collection)


def setup_process(app: Sphinx) -> None:
    # After labhandbook.config (priority 500) has validated the setting.
    app.connect("config-inited", _on_config_inited, priority=700)
