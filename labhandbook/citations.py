"""sphinxcontrib-bibtex's ``env-updated`` pass, kept while what it reads is the same.

At ``env-updated`` sphinxcontrib-bibtex works out every citation of every bibliography
(filters, order, labels, formatted text): at department scale 5,000 citations on every
build, a prose save's included, where nothing it reads has changed. :class:`KeptCitations`
is its domain with that pass (``BibtexDomain.env_updated``, which its handler calls) kept per
application: when the bibliographies, the ``{cite}``\\s, the pages' order, the parsed entries
(the same objects), the library and the settings are those of the last pass, the last pass's
citations are this build's. Anything else, a style that is not the handbook's, or a last
pass that logged a warning runs the real pass (and keeps it when it logged none).
"""

from __future__ import annotations

import ast
import logging
from typing import TYPE_CHECKING, Any

import pybtex.plugin
from sphinxcontrib.bibtex.domain import BibtexDomain, get_docnames

from .environment import LIBRARY_ATTR
from .style import LabStyleBase

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sphinx.application import Sphinx

#: The logger sphinxcontrib-bibtex's domain warns through (Sphinx's loggers are ``sphinx.``
#: plus the module's name).
DOMAIN_LOGGER = "sphinx." + BibtexDomain.__module__


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class KeptCitations(BibtexDomain):
    """sphinxcontrib-bibtex's domain whose ``env-updated`` pass is kept while its inputs are
    the same (see the module's docstring). The kept pass lives on the domain object, which
    lives with the environment of one application and is never pickled."""

    def env_updated(self) -> Iterable[str]:
        inputs = self._lh_inputs()
        last = self.__dict__.get("_lh_kept")
        if inputs is not None and last is not None and _same(last[0], inputs):
            self.citations[:] = last[1]
            return []
        self.__dict__.pop("_lh_kept", None)
        warnings = _Warnings()
        logger = logging.getLogger(DOMAIN_LOGGER)
        logger.addHandler(warnings)
        try:
            found = super().env_updated()
        finally:
            logger.removeHandler(warnings)
        if inputs is not None and not warnings.count:
            self.__dict__["_lh_kept"] = (inputs, list(self.citations))
        return found

    def _lh_inputs(self) -> tuple[Any, ...] | None:
        """Everything the pass reads, or None when one of the styles is not the handbook's
        (whose formatting is the library's text, see ``style.make_style``)."""
        config = self.env.config
        names = {b.style for b in self.bibliographies.values()}
        if config.bibtex_tooltips and config.bibtex_tooltips_style:
            names.add(config.bibtex_tooltips_style)
        for name in names:
            try:
                style = pybtex.plugin.find_plugin("pybtex.style.formatting", name)
            except Exception:  # noqa: BLE001 (an unknown style: the real pass reports it)
                return None
            if not (isinstance(style, type) and issubclass(style, LabStyleBase)):
                return None
        bibliographies = tuple(
            (key, value._replace(filter_=ast.dump(value.filter_), citation_nodes=None),
             tuple((k, tuple(node["ids"])) for k, node in value.citation_nodes.items()))
            for key, value in self.bibliographies.items())
        refs = tuple((r.citation_ref_id, r.docname, r.line, tuple(r.targets))
                     for r in self.citation_refs)
        bibdata = self.bibdata
        files = tuple((path, tuple(f.keys)) for path, f in bibdata.bibfiles.items())
        entries = tuple(bibdata.data.entries.get(k) for _, keys in files for k in keys)
        lab = getattr(config, "_labhandbook", None)
        settings = (config.bibtex_tooltips, config.bibtex_tooltips_style,
                    getattr(lab, "publications_page", None),
                    getattr(lab, "publications_per_page", None))
        return (bibliographies, refs, tuple(get_docnames(self.env)), files, settings,
                entries, getattr(self.env, LIBRARY_ATTR, None))


def _same(last: tuple[Any, ...], now: tuple[Any, ...]) -> bool:
    """Equal inputs, the parsed entries and the library being the same objects (the pass
    read them; a save that changes an entry makes a new object, and a new library)."""
    *last_values, last_entries, last_lib = last
    *values, entries, lib = now
    return (lib is last_lib and lib is not None and values == last_values
            and len(entries) == len(last_entries)
            and all(a is b for a, b in zip(entries, last_entries, strict=True)))


def setup_citations(app: Sphinx) -> None:
    """After sphinxcontrib-bibtex has added its domain."""
    app.add_domain(KeptCitations, override=True)
