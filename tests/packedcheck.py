"""Shared by the tests of packed references (``labhandbook.style.PackedText``)."""

from __future__ import annotations

from typing import Any


def rendered_both_ways(lib: Any) -> int:
    """Every formatted entry rendered straight from its packed form and through pybtex's rich
    text (``PackedText.render`` against ``unpack().render``), with the docutils backend the
    pages use and pybtex's own; returns how many entries were compared."""
    import pybtex.plugin
    from pybtex_docutils import Backend

    backends = [Backend(), *(pybtex.plugin.find_plugin("pybtex.backends", name)()
                             for name in ("html", "plaintext"))]
    for text in lib.texts.values():
        for backend in backends:
            ours, theirs = text.render(backend), text.unpack().render(backend)
            if isinstance(ours, list):  # docutils nodes: compare their structure
                ours, theirs = [n.pformat() for n in ours], [n.pformat() for n in theirs]
            assert ours == theirs, text.packed
    return len(lib.texts)
