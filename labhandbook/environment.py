"""The registry inside a Sphinx build: loaded once, reported, and tracked for incremental builds.

Each page that shows generated facts records them as *tokens* ("person:ada", "area:llm",
"people", "pubs:person:ada", ...) with the fingerprint they had when the page was read.
On the next build, ``env-get-outdated`` re-reads exactly the pages whose fingerprints moved, so a
change of one person's ``areas`` rebuilds the directory and the affected area pages without
``-E``, while a prose edit rebuilds one page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sphinx.environment.collectors import EnvironmentCollector
from sphinx.util import logging

from .config import get_config
from .problems import Problem
from .registry import PageCache, Registry, load_registry

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

    from .library import Library

logger = logging.getLogger(__name__)

REGISTRY_ATTR = "labhandbook_registry"
LIBRARY_ATTR = "labhandbook_library"
DEPS_ATTR = "labhandbook_deps"
BIBCHECK_ATTR = "labhandbook_bibcheck"
RESOLVERS_ATTR = "labhandbook_resolvers"

#: Token prefixes whose fingerprints another module computes (e.g. publications): prefix -> fn.
TokenResolver = Callable[["BuildEnvironment", str], "str | None"]


def get_registry(env: BuildEnvironment) -> Registry:
    """The registry of the current build."""
    return getattr(env, REGISTRY_ATTR)


def get_library(env: BuildEnvironment) -> Library:
    """The publication library of the current build (made by ``publications`` at
    builder-inited, after the registry)."""
    return getattr(env, LIBRARY_ATTR)


def report(app: Sphinx, problems: Iterable[Problem]) -> None:
    """Log problems at their file and line; any error makes the build exit non-zero.

    The build keeps going so that every problem is reported in one run, as ``check`` does.
    """
    errors = 0
    for problem in sorted(problems):
        location = f"{Path(app.srcdir, problem.path)}:{problem.line}"
        if problem.severity == "error":
            errors += 1
            logger.error(problem.text, location=location, type="labhandbook",
                         subtype=problem.code)
        elif problem.severity == "note":  # who wrote what: said, never fatal under -W
            logger.info(f"{location}: note: {problem.text}")
    if errors:
        app.statuscode = 1


OUTPUTS_FILE = "labhandbook-outputs.json"
OUTPUTS_ATTR = "_labhandbook_outputs"


def outputs_current(app: Sphinx, name: str, digest: str, files: Iterable[Path]) -> bool:
    """Whether the files a ``build-finished`` writer makes are there and were made from the
    same inputs (``digest``) by the last build; if not, the writer runs and calls
    :func:`record_outputs`. Kept next to the environment (build state, not source)."""
    return (_outputs_state(app).get(name) == digest
            and all(path.exists() for path in files))


def note_outputs(app: Sphinx, files: Iterable[str]) -> None:
    """Files (relative to the output folder) this build makes or keeps: what the last build
    made and this one does not is deleted when the build has finished
    (:mod:`labhandbook.incremental`)."""
    app.__dict__.setdefault(OUTPUTS_ATTR, set()).update(files)


def record_outputs(app: Sphinx, name: str, digest: str) -> None:
    import json

    state = _outputs_state(app)
    if state.get(name) != digest:
        state[name] = digest
        Path(app.doctreedir, OUTPUTS_FILE).write_text(json.dumps(state, sort_keys=True),
                                                      encoding="utf-8")


def _outputs_state(app: Sphinx) -> dict[str, str]:
    import json

    try:
        data = json.loads(Path(app.doctreedir, OUTPUTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def current_digest(env: BuildEnvironment, token: str) -> str | None:
    """The fingerprint ``token`` has now, asking the module that owns its prefix."""
    for prefix, resolver in getattr(env, RESOLVERS_ATTR, {}).items():
        if token.startswith(prefix):
            return resolver(env, token)
    return get_registry(env).digest(token)


def add_token_resolver(app: Sphinx, prefix: str, resolver: TokenResolver) -> None:
    """Let another module own the fingerprints of tokens starting with ``prefix`` (a
    module-level function: the table is handed to the environment at ``builder-inited``)."""
    app.__dict__.setdefault(RESOLVERS_ATTR, {})[prefix] = resolver


def note_tokens(env: BuildEnvironment, tokens: Iterable[str]) -> None:
    """Record that the page being read shows the facts behind ``tokens``."""
    deps: dict[str, dict[str, str | None]] = getattr(env, DEPS_ATTR)
    mine = deps.setdefault(env.docname, {})
    for token in tokens:
        if token not in mine:
            mine[token] = current_digest(env, token)


class TokenCollector(EnvironmentCollector):
    """Keeps the per-document token records consistent across incremental and parallel reads."""

    def clear_doc(self, app: Sphinx, env: BuildEnvironment, docname: str) -> None:
        getattr(env, DEPS_ATTR).pop(docname, None)

    def merge_other(self, app: Sphinx, env: BuildEnvironment, docnames: set[str],
                    other: BuildEnvironment) -> None:
        mine, theirs = getattr(env, DEPS_ATTR), getattr(other, DEPS_ATTR)
        for docname in docnames:
            if docname in theirs:
                mine[docname] = theirs[docname]

    def process_doc(self, app: Sphinx, doctree: Any) -> None:
        pass

    def get_outdated_docs(self, app: Sphinx, env: BuildEnvironment, added: set[str],
                          changed: set[str], removed: set[str]) -> list[str]:
        outdated = []
        for docname, tokens in getattr(env, DEPS_ATTR).items():
            if docname in changed or docname in removed:
                continue
            if any(current_digest(env, t) != digest for t, digest in tokens.items()):
                outdated.append(docname)
        return sorted(outdated)


def left_out_bib_files(env: BuildEnvironment) -> frozenset[str]:
    """.bib files left out of this build because pybtex cannot read them."""
    from .sources import get_sources

    return get_sources(env.config).left_out_bibs


#: The located reads of the .bib files, per application (not pickled): a warm build of
#: ``labhandbook serve`` re-reads only the files that changed (:class:`bibcheck.ReadCache`).
READS_ATTR = "_labhandbook_bib_reads"
#: Each person and area page's reading (:class:`registry.PageCache`), pickled with the
#: environment: ``make html`` reads and validates again only the pages whose bytes changed
#: (at department scale the 215 pages' YAML and validation were 0.12 s of CPU in every build,
#: 0.03 s with the cache). The environment is dropped with every new version of the
#: handbook's code (``env_version``), so a reading is never kept from older rules.
PAGES_ATTR = "labhandbook_page_reads"


def _library_problems(app: Sphinx, registry: Registry) -> list[Problem]:
    """``check``'s BibTeX problems, recomputed only when a .bib or the registry changed."""
    from .bibcheck import ReadCache, check_library

    env, lab = app.env, get_config(app)
    root = Path(app.srcdir)
    stats = sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                   for p in (root / lab.bib_dir).glob("*.bib"))
    key = (stats, [registry.digest(t) for t in ("names", "areas", "news")],
           sorted((slug, p.selected) for slug, p in registry.people.items()))
    cached = getattr(env, BIBCHECK_ATTR, None)
    if cached is None or cached[0] != key:
        reads = app.__dict__.setdefault(READS_ATTR, ReadCache())
        cached = (key, check_library(root, lab, registry, reads))
        setattr(env, BIBCHECK_ATTR, cached)
    return cached[1]


def _on_builder_inited(app: Sphinx) -> None:
    env = app.env
    pages = getattr(env, PAGES_ATTR, None)
    if not isinstance(pages, PageCache):
        pages = PageCache()
        setattr(env, PAGES_ATTR, pages)
    registry, problems = load_registry(Path(app.srcdir), get_config(app), pages)
    setattr(env, REGISTRY_ATTR, registry)
    setattr(env, RESOLVERS_ATTR, dict(app.__dict__.get(RESOLVERS_ATTR, {})))
    if not hasattr(env, DEPS_ATTR):
        setattr(env, DEPS_ATTR, {})
    # The build reports exactly the errors `labhandbook check` reports, in the same words.
    from .check import hide_cascades, page_name_problems

    problems += page_name_problems(Path(app.srcdir), get_config(app), app.config)
    problems = hide_cascades(problems + _library_problems(app, registry), get_config(app))[0]
    report(app, problems)


def setup_environment(app: Sphinx) -> None:
    # Before sphinxcontrib-bibtex (500) reads `bibtex_bibfiles`.
    app.connect("builder-inited", _on_builder_inited, priority=400)
    app.add_env_collector(TokenCollector)
