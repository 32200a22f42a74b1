"""The one LaTeX decoder: BibTeX text as readers see it, with pylatexenc.

Every module that turns BibTeX's LaTeX into text uses this one: the library's records
(:func:`latex_text`: clean text for lists, pages, meta tags, feeds), the name model (names
compared with accents written in LaTeX or in Unicode) and ``labhandbook import``
(:func:`latex_source`: accents decoded in the BibTeX it writes, all else as written).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_PLAIN = re.compile(r"[\\{}$~]|--|``|''")
_BRACES = re.compile(r"[{}]")
#: ``$^{*}$``, ``$^\dagger$``: a superscript mark, kept as its character.
_SUP_MATH = re.compile(r"\$\s*\^\s*\{?\s*(\\dagger|\\ddagger|\\star|\*|[\w,†‡]+)\s*\}?\s*\$")
#: Sub- and superscripts in math (``Cu$_2$O``, ``$T^{-1}$``) that Unicode has characters for:
#: written with them (Cu₂O); others are left to pylatexenc (``_x`` as written).
_MATH = re.compile(r"\$[^$]*\$")
_SCRIPT = re.compile(r"([_^])(?:\{\s*([^{}\\]*?)\s*\}|([0-9a-zA-Z+=()-]))")
_SCRIPTS = {"_": str.maketrans("0123456789+-=()aehklmnopstx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕₖₗₘₙₒₚₛₜₓ"),
            "^": str.maketrans("0123456789+-=()in", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿ")}


def _script(match: re.Match[str]) -> str:
    kind, text = match.group(1), match.group(2) if match.group(2) is not None else match.group(3)
    shown = text.translate(_SCRIPTS[kind])
    return shown if text and all(a != b for a, b in zip(text, shown, strict=True)) else (
        match.group(0))


def _scripts(value: str) -> str:
    return _MATH.sub(lambda m: _SCRIPT.sub(_script, m.group(0)), value) if "$" in value else value


@lru_cache(maxsize=2)
def _latex(source: bool = False) -> tuple[Any, Any, Any]:
    """pylatexenc's walker context and converter, with the macros exports use that its
    defaults drop (``\\texttt``, ``\\LaTeX``) or misread (``\\href``, ``\\noopsort``).
    ``source``: keep braced groups (BibTeX's case protection) and math as written."""
    from pylatexenc import latexwalker, macrospec
    from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

    walk = latexwalker.get_default_latex_context_db()
    walk.add_context_category("labhandbook", prepend=True, macros=[
        macrospec.MacroSpec("href", "{{"), macrospec.MacroSpec("noopsort", "{"),
        macrospec.MacroSpec("texttt", "{"), macrospec.MacroSpec("mkbibquote", "{"),
        macrospec.MacroSpec("textsuperscript", "{"),
    ])
    text = get_default_latex_context_db()
    text.add_context_category("labhandbook", prepend=True, macros=[
        MacroTextSpec("texttt", "%(1)s"), MacroTextSpec("url", "%(1)s"),
        MacroTextSpec("href", "%(2)s"), MacroTextSpec("noopsort", ""),
        MacroTextSpec("mkbibquote", "“%(1)s”"), MacroTextSpec("textsuperscript", "%(1)s"),
        MacroTextSpec("LaTeX", "LaTeX"), MacroTextSpec("TeX", "TeX"),
        MacroTextSpec("BibTeX", "BibTeX"), MacroTextSpec("XeTeX", "XeTeX"),
        MacroTextSpec("LuaTeX", "LuaTeX"), MacroTextSpec("relax", ""),
        MacroTextSpec("newblock", ""), MacroTextSpec("dagger", "†"),
    ])
    if source:
        converter = LatexNodes2Text(latex_context=text, math_mode="verbatim",
                                    strict_latex_spaces=True, keep_braced_groups=True,
                                    keep_braced_groups_minlen=2)
    else:
        converter = LatexNodes2Text(latex_context=text, math_mode="text",
                                    strict_latex_spaces=True)
    return latexwalker, walk, converter


def _decode(value: str, source: bool) -> str:
    latexwalker, walk, converter = _latex(source)
    try:
        nodes = latexwalker.LatexWalker(value, latex_context=walk,
                                        tolerant_parsing=True).get_latex_nodes()[0]
        return converter.nodelist_to_text(nodes)
    except Exception:  # noqa: BLE001  (pylatexenc gave up: the text as written)
        return value if source else _BRACES.sub("", value)


@lru_cache(maxsize=65536)
def latex_text(value: str) -> str:
    """A BibTeX field as clean text: accents, escapes, dashes, quotes, markup (``\\emph``,
    ``\\textbf``, ``\\url``, ``\\href``) and simple math (``$\\alpha$``, ``$^{*}$``, ``Cu$_2$O``)
    decoded,
    braces dropped, whitespace collapsed. Plain UTF-8 text costs one regex search."""
    if _PLAIN.search(value):
        value = _decode(_SUP_MATH.sub(lambda m: "\\textsuperscript{" + m.group(1) + "}",
                                      _scripts(value)), source=False)
    return " ".join(value.split())


#: Macros that write one letter: accents (``\\"o``, ``\\c{c}``, ``\\'{\\i}``) and letters of
#: their own (``\\o``, ``\\ss``, ``\\l``): what :func:`latex_source` decodes.
_ACCENTS = frozenset("\"'`^~=.uvHcdbrkt")
_LETTERS = frozenset({"o", "O", "ss", "ae", "AE", "oe", "OE", "aa", "AA", "l", "L", "i", "j",
                      "dh", "DH", "th", "TH", "ng", "NG"})


def _letter(node: Any) -> bool:
    """Whether ``node`` is a macro that writes one letter (an accent on a plain letter)."""
    from pylatexenc.latexwalker import LatexMacroNode

    if not node.isNodeType(LatexMacroNode):
        return False
    if node.macroname in _LETTERS:
        return not (node.nodeargd and any(node.nodeargd.argnlist))
    if node.macroname not in _ACCENTS or not node.nodeargd or not node.nodeargd.argnlist:
        return False
    arg = node.nodeargd.argnlist[-1]
    text = arg.latex_verbatim().strip("{} ") if arg is not None else ""
    return len(text) == 1 and text.isalpha() or text in ("\\i", "\\j")


def _letter_spans(nodes: Any, spans: list[tuple[int, int, Any]]) -> None:
    """The places of letter macros in ``nodes`` (a group holding only one: the group), looked
    for in groups, macro arguments and environments; math is left as written."""
    from pylatexenc.latexwalker import LatexEnvironmentNode, LatexGroupNode, LatexMacroNode

    for node in nodes or ():
        if node is None:
            continue
        if node.isNodeType(LatexGroupNode):
            if len(node.nodelist) == 1 and _letter(node.nodelist[0]):
                spans.append((node.pos, node.pos + node.len, node.nodelist[0]))
            else:
                _letter_spans(node.nodelist, spans)
        elif node.isNodeType(LatexMacroNode):
            if _letter(node):
                spans.append((node.pos, node.pos + node.len, node))
            elif node.nodeargd:
                _letter_spans(node.nodeargd.argnlist, spans)
        elif node.isNodeType(LatexEnvironmentNode):
            _letter_spans(node.nodelist, spans)


def latex_source(value: str) -> str:
    """A BibTeX field with its accents decoded (``{\\"o}``, ``\\c{c}``, ``{\\o}`` are ö, ç, ø)
    and everything else kept as written: markup (``\\emph``, ``\\href{url}{text}``,
    ``\\url``), escapes (``\\&``, ``\\%``, ``\\_``), dashes, braces (case protection,
    ``{ACM}``) and math (``$^{*}$``, ``$\\alpha$``), which :func:`latex_text` shows when the
    file is read back."""
    if "\\" not in value:
        return " ".join(value.split())
    latexwalker, walk, converter = _latex(source=False)
    try:
        nodes = latexwalker.LatexWalker(value, latex_context=walk,
                                        tolerant_parsing=True).get_latex_nodes()[0]
        spans: list[tuple[int, int, Any]] = []
        _letter_spans(nodes, spans)
        out, at = [], 0
        for start, end, node in sorted(spans, key=lambda span: span[0]):
            letter = converter.nodelist_to_text([node]).strip()
            if start >= at and letter and not _PLAIN.search(letter):
                out += [value[at:start], letter]
                at = end
        value = "".join(out) + value[at:]
    except Exception:  # noqa: BLE001  (pylatexenc gave up: the text as written)
        pass
    return " ".join(value.split())


_URL_ESCAPE = re.compile(r"\\([_%&#$~{}])")


def latex_url(value: str) -> str:
    """A URL or DOI field as written by exporters (``\\_``, ``\\%``, ``{}``): the address."""
    return _BRACES.sub("", _URL_ESCAPE.sub(r"\1", value)).strip()


@lru_cache(maxsize=1024)
def base_letters(ch: str) -> str:
    """The letters of a character Unicode does not decompose, from its LaTeX name: ø -> o,
    ß -> ss, æ -> ae, ł -> l (pylatexenc's encoder; no table of our own)."""
    from pylatexenc.latexencode import unicode_to_latex

    latex = unicode_to_latex(ch).strip("{}")
    if latex.startswith("\\") and latex[1:].isascii() and latex[1:].isalpha():
        return latex[1:].lower()
    return ch
