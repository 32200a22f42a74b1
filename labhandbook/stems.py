"""Sphinx's search feed: each word stemmed once per application.

Sphinx's search index stems every word of every page it is fed (``SearchLanguage.stem``,
Snowball's stemmer for English), with a memo that lasts one page. ``labhandbook serve``'s
warm builds feed the same pages again and again: at department scale the publications page
alone has about 5,700 different words, stemmed again after every .bib save. The language
object is made anew by every build (``IndexBuilder``, in the HTML builder's
``prepare_writing``); the first page resolved in a build (``doctree-resolved``, before any
page is fed) gives it a memo of stems kept by the application, per language and options.
Only Sphinx's own languages (whose stemmers are pure functions of the word) are memoised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docutils import nodes
    from sphinx.application import Sphinx

STEMS_ATTR = "_labhandbook_stems"


class KeptStems:
    """A language's ``stem`` with the application's memo in front."""

    __slots__ = ("memo", "stem")

    def __init__(self, stem: Callable[[str], str], memo: dict[str, str]) -> None:
        self.stem, self.memo = stem, memo

    def __call__(self, word: str) -> str:
        found = self.memo.get(word)
        if found is None:
            found = self.memo[word] = self.stem(word)
        return found


def _keep_stems(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    lang = getattr(getattr(app.builder, "indexer", None), "lang", None)
    if lang is None or isinstance(lang.__dict__.get("stem"), KeptStems):
        return  # no search index, or memoised already in this build
    if not type(lang).__module__.startswith("sphinx.search."):
        return  # a language of another extension: its stemmer may depend on anything
    key = (type(lang), lang.lang, repr(sorted(lang.options.items())))
    memo = app.__dict__.setdefault(STEMS_ATTR, {}).setdefault(key, {})
    lang.stem = KeptStems(lang.stem, memo)  # type: ignore[method-assign]


def setup_stems(app: Sphinx) -> None:
    app.connect("doctree-resolved", _keep_stems, priority=1)
