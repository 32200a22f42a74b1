"""The garbage collector and a build's long-lived heap.

A build loads the pickled environment (with sphinxcontrib-bibtex's parsed BibTeX entries:
about 200,000 objects at 5000 entries) and keeps it, with every imported module, until the
process ends. CPython's cyclic garbage collector walks these objects again and again: during
the build, whenever enough new objects have been made, and once more, several times, when the
interpreter shuts down, only to free memory that the operating system takes back anyway.
Profiled at 5000 entries, those walks were half of a no-change build (``benchmarks/README.md``).

So, with ``gc_freeze`` on (the default):

* from the last ``config-inited`` handler (Sphinx loads the pickled environment next) until
  the loaded heap is frozen (``env-before-read-docs``; in a clean build, where nothing is
  loaded, until ``builder-inited``), the collector is switched off:
  unpickling makes the environment's objects in one go, none of them garbage, and the
  collector's passes over them were 0.16 s of a 2.8 s one-page edit at lab scale (two full
  collections during the load, then young collections over the same objects; the floor has
  none). Switched back on at ``builder-inited`` instead, the young collections walk every
  loaded object once more and the gain is gone (measured), hence the later end. An application
  whose construction fails in between (a later ``builder-inited`` handler raising) leaves the
  collector off until the next application of the process reaches ``config-inited``, which
  switches it back on first;
* once the environment is loaded and the build has begun (``env-before-read-docs``, the first
  event inside the build, so that ``build-finished`` always follows it, also when a later
  handler fails), the objects alive are moved out of the collector's reach with
  :func:`gc.freeze`; they are long-lived by nature, and reference
  counting still frees any of them that is dropped;
* while the pages are read, the collector makes no full collection (only young ones: the
  third threshold of :func:`gc.set_threshold` is held out of reach): what reading makes is the
  doctrees and the environment's data, alive until written, and the freeze above leaves the
  collector counting only the objects made since, so it walked the growing heap of read pages
  every tenth young collection (five full passes, about 0.55 s of a 16 s clean build at lab
  scale, benchmarks/README.md);
* when writing begins (``write-started``), the thresholds are given back and the read heap is
  frozen too: the doctrees waiting to be written and every page's data are long-lived, and the
  full collections of the writing phase (1064 pages at lab scale, each leaving its rendering's
  garbage) walked them each time (0.16-0.44 s a pass); now they walk what writing made. A
  written doctree dropped by Sphinx (a cycle of parent links) stays in memory until the
  build has finished: all of them were alive together when reading ended, so the peak hardly
  moves (213 -> 215 MiB at lab scale);
* when the build has finished (``build-finished``), :func:`gc.unfreeze` gives them back, so a
  build inside a long-lived process (tests, a preview server) leaves the collector as it was;
* while the interpreter shuts down (an ``atexit`` hook), they are frozen again, so that the
  final collections skip them.

``labhandbook = {"gc_freeze": False}`` in ``conf.py`` switches all of it off.
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
    if get_config(app).gc_freeze:
        atexit.register(_skip_final_collection)


#: Applications whose environment load runs with the collector off (process-wide, as the
#: collector is: a construction that fails before its build leaves its entry, and the next
#: application's ``config-inited`` switches the collector back on first).
_HELD: set[int] = set()


def _hold_collections(app: Sphinx, config: Config) -> None:
    if _HELD:  # an earlier application failed before its build: give the collector back
        _HELD.clear()
        gc.enable()
    if get_config(app).gc_freeze and gc.isenabled():
        gc.disable()
        _HELD.add(id(app))


def _release_collections(app: Sphinx, *args: object) -> None:
    if id(app) in _HELD:
        _HELD.discard(id(app))
        gc.enable()


def _release_after_fresh_start(app: Sphinx) -> None:
    """No pickled environment was loaded (a clean build): the collector goes back on before
    the ``builder-inited`` handlers make the library. Left off until the heap is frozen,
    the garbage cycles they make were frozen with it and never freed (peak memory of a
    clean build at lab scale 202 -> 220 MB)."""
    if app.fresh_env_used:
        _release_collections(app)


#: The collector's thresholds before reading held its full collections, per application.
_THRESHOLDS: dict[int, tuple[int, int, int]] = {}
#: The third threshold while pages are read: young collections go on, full ones wait.
NO_FULL_COLLECTION = 1 << 30


def _give_thresholds_back(app: Sphinx) -> None:
    held = _THRESHOLDS.pop(id(app), None)
    if held is not None:
        gc.set_threshold(*held)


def _freeze_loaded_heap(app: Sphinx, env: object, docnames: list[str]) -> None:
    if get_config(app).gc_freeze:
        gc.freeze()
        if id(app) not in _THRESHOLDS:
            _THRESHOLDS[id(app)] = gc.get_threshold()
            young, middle, _ = _THRESHOLDS[id(app)]
            gc.set_threshold(young, middle, NO_FULL_COLLECTION)


def _freeze_read_heap(app: Sphinx, builder: object) -> None:
    """``write-started``: full collections again, over what writing makes only."""
    if get_config(app).gc_freeze:
        _give_thresholds_back(app)
        gc.freeze()


def _unfreeze(app: Sphinx, exception: Exception | None) -> None:
    if get_config(app).gc_freeze:
        _give_thresholds_back(app)  # a build that failed before writing
        gc.unfreeze()


def setup_process(app: Sphinx) -> None:
    # After labhandbook.config (priority 500) has validated the setting.
    app.connect("config-inited", _on_config_inited, priority=700)
    # Last of config-inited (Sphinx loads the environment next) until the heap is frozen.
    app.connect("config-inited", _hold_collections, priority=10_000)
    app.connect("builder-inited", _release_after_fresh_start, priority=0)
    app.connect("env-before-read-docs", _release_collections, priority=2)
    # Inside the build (not at builder-inited, which a failing later handler would leave
    # without its build-finished): the environment and the registry are loaded.
    app.connect("env-before-read-docs", _freeze_loaded_heap, priority=1)
    # Last of write-started: the other handlers' data is long-lived too.
    app.connect("write-started", _freeze_read_heap, priority=1000)
    # Last of all build-finished handlers.
    app.connect("build-finished", _unfreeze, priority=1000)
