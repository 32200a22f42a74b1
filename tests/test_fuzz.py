"""Property-based tests (#10): generated front matter, BibTeX and raw HTML, valid and broken,
through the registry, ``labhandbook check``, the build's library code and real Sphinx builds.

Every case ends in success or in the project's own message: a :class:`Problem` located to a
line of an existing file, or for a build located ``ERROR`` lines and a non-zero exit. Never a
Python traceback, never a hang: each case runs under a time limit (:func:`bounded`).

``make test`` runs about 1 100 derandomized cases (the same ones every run, ~35 s); ``make fuzz``
(``LABHANDBOOK_FUZZ=1``) runs about 16 000 random ones. Both print how many cases each property
tried. A failure prints a ``@reproduce_failure`` line; ``LABHANDBOOK_FUZZ_NO_SHRINK=1`` reports
the first failing case without shrinking it (huge cases shrink slowly).
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import json
import os
import re
import shutil
import signal
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pybtex.errors
import pytest
import yaml
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from conftest import Build
from feedgen.feed import FeedGenerator
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from sphinx.application import Sphinx
from sphinx.util.console import strip_escape_sequences
from sphinx.util.docutils import docutils_namespace, patch_docutils
from test_check import TEST_ROOT, tree_digest
from test_hardening import injections

from labhandbook import cli
from labhandbook.bibcheck import read_library
from labhandbook.check import run_check
from labhandbook.config import LabConfig
from labhandbook.feeds import _NOT_XML
from labhandbook.library import KINDS, display_name, link_targets, update_library
from labhandbook.papers import json_ld, meta
from labhandbook.problems import Problem
from labhandbook.publications import BACKEND
from labhandbook.registry import load_registry
from labhandbook.safety import MAX_FIELD_CHARS, judge_html
from labhandbook.schema import ROLES, Links
from labhandbook.style import format_entry_packed

FUZZ = os.environ.get("LABHANDBOOK_FUZZ") == "1"
#: LABHANDBOOK_FUZZ_NO_SHRINK=1 reports the first failing case as found (huge cases shrink slowly)
NO_SHRINK = os.environ.get("LABHANDBOOK_FUZZ_NO_SHRINK") == "1"
pytestmark = pytest.mark.fuzz

#: Every hostile value calls this; no built page may run it.
MARK = "PWNED("


def budget(ci: int, fuzz: int) -> settings:
    """``ci`` derandomized examples in ``make test``, ``fuzz`` random ones in ``make fuzz``.
    Each case is bounded by :func:`bounded`, not by hypothesis' deadline (the CPUs are shared)."""
    return settings(
        max_examples=fuzz if FUZZ else ci, derandomize=not FUZZ, deadline=None, database=None,
        print_blob=True, suppress_health_check=list(HealthCheck),
        # no "explain" phase: its line tracing slows the pure-Python YAML parser past any bound
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                *([] if NO_SHRINK else [Phase.shrink])],
    )


# --- counting and bounding every case -----------------------------------------------------------

TRIED: Counter[str] = Counter()


class _Counts:
    """Prints how many cases each property tried, at the end of the run."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not TRIED:
            return
        profile = "make fuzz" if FUZZ else "make test"
        terminalreporter.section(f"labhandbook fuzz: cases tried ({profile} profile)")
        for name, count in TRIED.items():
            terminalreporter.write_line(f"{count:7d}  {name}")
        terminalreporter.write_line(f"{sum(TRIED.values()):7d}  in all")


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin("labhandbook-fuzz-counts"):
        manager.register(_Counts(), "labhandbook-fuzz-counts")


class CaseTimeout(BaseException):
    """A case ran too long (a BaseException, so no ``except Exception`` can swallow it)."""


@contextlib.contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Fail the case after ``seconds`` (SIGALRM); if even that cannot interrupt it (a loop in C),
    dump every thread's stack and exit after twice as long, so CI never hangs."""

    def alarm(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"the case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(2 * seconds + 10, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


# --- what every problem must look like ----------------------------------------------------------


def assert_located(problems: list[Problem], root: Path) -> None:
    """Each problem names an existing file of the handbook and a line in it, in one line."""
    for p in problems:
        assert isinstance(p, Problem)
        assert p.severity in ("error", "warning", "note")
        assert p.message.strip(), p
        assert not p.path.startswith("/") and "\\" not in p.path, p
        target = root / p.path
        assert target.is_file(), f"{p}: no such file"
        # lines as Sphinx and editors count them: \r\n, \n or a lone \r (never U+2028)
        lines = len(re.split(rb"\r\n|\r|\n", target.read_bytes()))
        assert 1 <= p.line <= lines, f"{p}: line {p.line} of {lines}"
        for text in (str(p), cli.format_problem(p), cli._github_annotation(p, root)):
            assert "\n" not in text and "\r" not in text, repr(text)
            assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), repr(text)


# --- strategies: text ---------------------------------------------------------------------------

PAYLOADS = [
    "<script>PWNED()</script>", "</script><script>PWNED()</script>",
    "<img src=x onerror=PWNED()>", '"><svg onload=PWNED()>', "'><b onmouseover=PWNED()>x</b>",
    "javascript:PWNED()", "<!--", "-->", "]]>", "<![CDATA[", "&amp;", "&#60;script&#62;",
    "{{ lab_name }}", "`code`", "*emph* _u_", "[x](javascript:PWNED())", "<https://x.org>",
    "$x^2$", "--", "~", "%", "#", "@", ": ", "- ", "|", ">", "\u202e", "\u200b", "\u2028",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "日本語", "عربى", "Ωμέγα", "O'Brien", 'say "hi"', "\\", "\t",
]
NO_CONTROL = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
ANY_CHAR = st.characters(codec="utf-8", exclude_categories=("Cs",))


def _has_text(value: str) -> bool:
    return bool(value.strip())


#: One-line text a lab member may write: unicode, HTML and script, markup of every kind.
plain_text = st.one_of(
    st.text(NO_CONTROL, min_size=1, max_size=30),
    st.sampled_from(PAYLOADS),
    st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(NO_CONTROL, max_size=8)),
             min_size=2, max_size=5).map(" ".join),
).filter(_has_text)
#: Text of any kind, with control characters; sometimes huge.
any_text = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    plain_text,
    st.builds(lambda s, n: s * n, st.sampled_from(PAYLOADS + ["x", "é ", "\x00"]),
              st.integers(1_000, 30_000)),
)
given_names = st.sampled_from(["Ada", "Lijun", "Jean-Luc", "Ay\u015fe", "J\u00f6rg", "Se\u00e1n",
                               "A.", "A. B.", "Li Jun", "\u674e", "Mar\u00eda Jos\u00e9"])
family_names = st.sampled_from(["Lovelace", "Wu", "M\u00fcller", "O'Brien", "\u00d6zt\u00fcrk",
                                "Smith-Jones", "Nguy\u1ec5n", "\u738b", "Garc\u00eda"])
person_names = st.one_of(
    st.builds(lambda g, f: f"{g} {f}", given_names, family_names),
    st.builds(lambda g, f, v: f"{g} {v} {f}", given_names, family_names,
              st.sampled_from(["von", "van der", "de la", "di"])),
    plain_text,
)


# --- strategies: front matter -------------------------------------------------------------------

AREAS = ["language-models", "ai-for-science"]
PAPERS = ["lovelace2023engines", "wu2024scaling", "wu2025proteins"]
PEOPLE = ["ada-lovelace", "lijun-wu"]
LINK_KEYS = [k for k in Links.model_fields if k != "email"]

urls = st.from_regex(
    r"https?://[a-z0-9-]{1,12}(\.[a-z0-9-]{1,8}){1,2}(/[A-Za-z0-9._~%!$&()*+,;=:@/?-]{0,25})?",
    fullmatch=True)
emails = st.from_regex(r"[a-z0-9._+-]{1,10}@[a-z0-9-]{1,10}\.[a-z]{2,4}", fullmatch=True)


@st.composite
def partial_dates(draw: st.DrawFn) -> tuple[str, Any]:
    """(the date as the schema keeps it, the value written in YAML)."""
    day = draw(st.dates(date(1950, 1, 1), date(2100, 12, 31)))
    form = draw(st.sampled_from(["year", "int", "month", "day", "date"]))
    if form == "year":
        return str(day.year), str(day.year)
    if form == "int":
        return str(day.year), day.year
    if form == "month":
        return day.isoformat()[:7], day.isoformat()[:7]
    if form == "day":
        return day.isoformat(), day.isoformat()
    return day.isoformat(), day


@st.composite
def span(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    dates = sorted(draw(st.lists(partial_dates(), max_size=2)), key=lambda d: d[0])
    if dates:
        out["from"] = dates[0][1]
    if len(dates) == 2:
        out["to"] = dates[1][1]
    return out


def optional(draw: st.DrawFn, out: dict[str, Any], key: str, strategy: Any) -> None:
    if draw(st.booleans()):
        out[key] = draw(strategy)


@st.composite
def person_data(draw: st.DrawFn) -> dict[str, Any]:
    """Front matter the schema accepts, with hostile text wherever text goes."""
    d: dict[str, Any] = {"name": draw(person_names), "role": draw(st.sampled_from(list(ROLES)))}
    dates = sorted(draw(st.lists(partial_dates(), max_size=2)), key=lambda x: x[0])
    if draw(st.booleans()) or len(dates) == 2:
        d["status"] = "alumni" if len(dates) == 2 else "current"
    if dates:
        d["joined"] = dates[0][1]
    if len(dates) == 2:
        d["left"] = dates[1][1]
    optional(draw, d, "title", plain_text)
    optional(draw, d, "areas", st.lists(st.sampled_from(AREAS), unique=True))
    if draw(st.booleans()):
        d["links"] = {k: draw(urls) for k in draw(st.lists(st.sampled_from(LINK_KEYS),
                                                           unique=True, max_size=4))}
        optional(draw, d["links"], "email", emails)
    if draw(st.integers(0, 4)) == 0:
        d["photo"], d["photo_alt"] = "ada-lovelace.png", draw(plain_text)
    optional(draw, d, "bib_names", st.lists(person_names, max_size=2))
    optional(draw, d, "affiliations", st.lists(st.builds(
        lambda o, p, s, u: {"organisation": o, "position": p, **s, **u}, plain_text,
        plain_text, span(), st.just({}) | urls.map(lambda u: {"url": u})), max_size=2))
    optional(draw, d, "education", st.lists(st.builds(
        lambda dg, i, s, f, a, n: {"degree": dg, "institution": i, **s, **f, **a, **n},
        plain_text, plain_text, span(), st.just({}) | plain_text.map(lambda x: {"field": x}),
        st.just({}) | st.lists(plain_text, max_size=2).map(lambda x: {"advisors": x}),
        st.just({}) | plain_text.map(lambda x: {"note": x})), max_size=2))
    optional(draw, d, "awards", st.lists(st.builds(
        lambda y, t, u: {"year": y, "title": t, **u}, st.integers(1900, 2200), plain_text,
        st.just({}) | urls.map(lambda u: {"url": u})), max_size=2))
    optional(draw, d, "service", st.lists(st.builds(
        lambda y, r: {"year": y, "role": r}, st.integers(1900, 2200), plain_text), max_size=2))
    optional(draw, d, "news", st.lists(st.builds(
        lambda when, t, u, p: {"date": when[1], "text": t, **u, **p}, partial_dates(),
        plain_text, st.just({}) | urls.map(lambda u: {"url": u}),
        st.just({}) | st.lists(st.sampled_from(PAPERS), max_size=2).map(
            lambda p: {"papers": p})), max_size=3))
    return d


@st.composite
def area_data(draw: st.DrawFn) -> dict[str, Any]:
    d: dict[str, Any] = {"title": draw(plain_text), "summary": draw(plain_text),
                         "keywords": draw(st.lists(plain_text, min_size=1, max_size=3))}
    optional(draw, d, "leads", st.lists(st.sampled_from(PEOPLE), unique=True))
    optional(draw, d, "status", st.sampled_from(["active", "past"]))
    return d


yaml_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8) |
                                                               st.integers(), inner, max_size=3),
    max_leaves=8,
)
YAML_BITS = ["[", "]", "{", "}", ":", ": ", "- ", "\t", "'", '"', "&a ", "*a", "*b", "? ", "|",
             ">", "#", "%YAML 1.1\n", "---\n", "...\n", "!!python/object/apply:os.system ['x']",
             "!!binary x", "\x00", "\x1b[31m", "\r", "\ufeff", "@", "`", "\n", "\n  ", "<<: *a",
             "2024-13-45", "0x1F", ".inf", "~"]


def alias_bomb(key: str, levels: int) -> str:
    """A few lines of YAML that stand for 9**levels values."""
    lines = ["b0: &b0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\n{key}: *b{levels}\n"


@st.composite
def broken_yaml(draw: st.DrawFn, valid: dict[str, Any]) -> str:
    """Front matter text that is wrong: wrong types, unknown keys, bad YAML, bombs."""
    data = dict(valid)
    how = draw(st.sampled_from(["value", "unknown", "missing", "text", "bomb", "deep", "junk"]))
    if how == "value":
        data[draw(st.sampled_from(sorted(data)))] = draw(yaml_junk)
    elif how == "unknown":
        data[draw(st.text(min_size=1, max_size=12))] = draw(yaml_junk)
    elif how == "missing":
        data.pop(draw(st.sampled_from(sorted(data))))
    elif how == "bomb":
        key = draw(st.sampled_from(sorted(valid) + ["areas", "links", "news", "x"]))
        return alias_bomb(key, draw(st.integers(1, 9)))
    elif how == "deep":
        n = draw(st.integers(100, 60_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("- ", "")]))
        return f"{draw(st.sampled_from(sorted(valid)))}: {opener * n}x{closer * n}\n"
    elif how == "junk":
        return draw(st.text(ANY_CHAR, max_size=200))
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    if how == "text" or draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            pos = draw(st.integers(0, len(text)))
            if draw(st.booleans()):
                text = text[:pos] + draw(st.sampled_from(YAML_BITS) | any_text) + text[pos:]
            else:
                text = text[:pos] + text[pos + draw(st.integers(1, 20)):]
    return text


BODIES = [
    "# Page\n\nProse.\n",
    "# Page\n\n```html\n<script>PWNED()</script>\n```\n",
    "# Page\n\n<div onclick=\"PWNED()\">x</div>\n",
    ":::{note}\n<script>PWNED()</script>\n:::\n",
    "# Page\n\n```{raw} html\n<b onmouseover=PWNED()>x</b>\n```\n",
    "",
]


@st.composite
def page_files(draw: st.DrawFn) -> tuple[str, bytes, bool, dict[str, Any]]:
    """(relative path, file content, whether the front matter is valid, its data)."""
    kind = draw(st.sampled_from(["person", "area"]))
    folder, data = ("people", draw(person_data())) if kind == "person" else \
        ("research", draw(area_data()))
    valid = draw(st.integers(0, 2)) == 0
    front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False) if valid else \
        draw(broken_yaml(data))
    body = draw(st.sampled_from(BODIES) | st.text(ANY_CHAR, max_size=100))
    text = f"---\n{front}---\n{body}"
    shape = draw(st.sampled_from(["normal"] * 6 + ["crlf", "bom", "latin1", "none", "unclosed",
                                                   "empty"]))
    if shape == "crlf":
        raw = text.replace("\n", "\r\n").encode()
    elif shape == "bom":
        raw = b"\xef\xbb\xbf" + text.encode()
    elif shape == "latin1":
        raw, valid = text.encode() + "Müller".encode("latin-1"), False
    elif shape == "none":
        raw, valid = body.encode(), False
    elif shape == "unclosed":
        raw, valid = f"---\n{front}{body}".encode(), False
    elif shape == "empty":
        raw, valid = b"", False
    else:
        raw = text.encode()
    slug = draw(st.sampled_from(["fuzz", "fuzz-two", "zz-last"]))
    return f"{folder}/{slug}.md", raw, valid, data


# --- strategies: BibTeX -------------------------------------------------------------------------

LATEX = ['\\"o', '{\\"O}', "\\&", "\\textbf{bold}", "$x_1$", "--", "~", "\\url{https://x.org}",
         "\\c{c}", "\\'e", "{\\ss}", "\\emph{x}", "\\unknownmacro{x}", "\\%", "\\$", "``x''"]
bib_chars = st.characters(codec="utf-8", exclude_characters="{}\\", exclude_categories=("Cs",))


def bib_text(max_size: int = 12) -> st.SearchStrategy[str]:
    """A field value with balanced braces: text, LaTeX, HTML and script, braced groups."""
    leaf = st.one_of(st.text(bib_chars, max_size=max_size), st.sampled_from(LATEX),
                     st.sampled_from([p for p in PAYLOADS if not set(p) & set("{}\\")]))
    return st.recursive(leaf, lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map("".join), inner.map(lambda s: f"{{{s}}}")),
        max_leaves=6)


bib_words = bib_text().filter(lambda s: s.replace("{", "").replace("}", "").strip())
name_words = st.text(st.characters(categories=["L"]), min_size=1, max_size=10)
bib_names = st.one_of(
    st.sampled_from(["Wu, Lijun", "Lijun Wu", "Lovelace, Ada", "Ada Lovelace", "Turing, Alan",
                     "Wu, L.", "Lijun, Wu", "{\\\"O}zt{\\\"u}rk, Ay{\\c{s}}e",
                     "M\u00fcller, J\u00f6rg",
                     "Erd\\H{o}s, Paul", "Plato", "{ACME Corporation}", "{Barnes and Noble}",
                     "van der Berg, Anna", "Ludwig van Beethoven", "Smith, Jr., John",
                     "King, Jr, Martin Luther", "J.-P. Sartre", "de la Fontaine, Jean", "others",
                     "{\\relax Ch}ristopher Manning", "{<script>PWNED()</script> Lab}"]),
    st.builds(lambda g, f: f"{f}, {g}", name_words, name_words),
    st.builds(lambda g, f: f"{g} {f}", name_words, name_words),
    name_words,
)
FIELD_VALUES: dict[str, st.SearchStrategy[str]] = {
    "url": urls, "code": urls,
    "doi": st.from_regex(r"10\.[0-9]{4,9}/[A-Za-z0-9._;()/:-]{1,20}", fullmatch=True),
    "eprint": st.from_regex(r"[0-9]{2}(0[1-9]|1[0-2])\.[0-9]{4,5}(v[0-9])?", fullmatch=True),
    "openreview": st.from_regex(r"[A-Za-z0-9_-]{5,12}", fullmatch=True),
    "acl": st.from_regex(r"20[0-2][0-9]\.acl-main\.[0-9]{1,3}", fullmatch=True),
    "keywords": st.lists(st.sampled_from(["llm", "reasoning", "ai4science", "proteins"]),
                         min_size=1, max_size=3).map(", ".join),
    "pubtype": st.sampled_from(list(KINDS)),
    "note": bib_words, "abstract": bib_text(200), "pages": st.just("1--10"),
    "volume": st.integers(1, 99).map(str), "number": st.integers(1, 12).map(str),
    "month": st.sampled_from(["jan", "feb", "12", "May", "7"]),
    "howpublished": bib_words, "publisher": bib_words, "school": bib_words,
    "institution": bib_words, "editor": st.lists(bib_names, min_size=1, max_size=2).map(
        " and ".join),
}
REQUIRED_VALUES = {"journal": bib_words, "booktitle": bib_words, "publisher": bib_words,
                   "school": bib_words, "institution": bib_words, "note": bib_words,
                   "chapter": st.just("3"), "pages": st.just("1--10"), "title": bib_words}


@st.composite
def bib_entry(draw: st.DrawFn, key: str) -> str:
    """One entry ``check`` accepts (warnings aside)."""
    from labhandbook.bibcheck import REQUIRED_FIELDS

    kind = draw(st.sampled_from(sorted(REQUIRED_FIELDS)))
    fields: dict[str, str] = {}
    authors = draw(st.lists(bib_names, min_size=1, max_size=4))
    for req in REQUIRED_FIELDS[kind]:
        name = req if isinstance(req, str) else draw(st.sampled_from(req))
        if name == "author":
            fields["author"] = " and ".join(authors)
        elif name == "editor":
            fields["editor"] = " and ".join(authors)
        elif name == "year":
            fields["year"] = str(draw(st.integers(1900, 2100)))
        else:
            fields[name] = draw(REQUIRED_VALUES.get(name, bib_words))
    for name in draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), unique=True, max_size=5)):
        fields.setdefault(name, draw(FIELD_VALUES[name]))
    if "eprint" in fields and draw(st.booleans()):
        fields["archiveprefix"] = "arXiv"
    n = len(authors) if "author" in fields else 0
    if n >= 2 and draw(st.booleans()):
        fields["equalcontrib"] = ",".join(map(str, sorted(draw(st.sets(
            st.integers(1, n), min_size=2, max_size=n)))))
    if draw(st.integers(0, 9)) == 0:
        fields["title"] = (draw(st.sampled_from(["x", "é", "<script>PWNED()</script>"])) *
                           draw(st.integers(1_000, 20_000)))[:MAX_FIELD_CHARS]  # the limit
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
    return f"@{kind}{{{key},\n{body},\n}}\n"


bib_keys = st.from_regex(r"[A-Za-z][A-Za-z0-9_:.+-]{0,15}", fullmatch=True).filter(
    lambda k: k.casefold() not in PAPERS)
BIB_BITS = ["{", "}", "@", ",", "=", '"', "#", "%", "(", ")", "@string{x = {y}}", "@comment{",
            "\\", "}}}", "{{{", "\x00", "\n@misc{", "@preamble{", " and ", "\ufeff"]


@st.composite
def bib_files(draw: st.DrawFn) -> tuple[bytes, bool]:
    """(the .bib file, whether every entry is valid)."""
    keys = draw(st.lists(bib_keys, min_size=1, max_size=5, unique_by=str.casefold))
    text = "\n".join(draw(bib_entry(k)) for k in keys)
    valid = draw(st.integers(0, 2)) == 0
    if not valid:
        how = draw(st.sampled_from(["bits", "bits", "junk", "deep", "type", "value", "latin1",
                                    "dup", "paren", "string", "bad-key"]))
        if how == "bits":
            for _ in range(draw(st.integers(1, 3))):
                pos = draw(st.integers(0, len(text)))
                if draw(st.booleans()):
                    text = text[:pos] + draw(st.sampled_from(BIB_BITS) | any_text) + text[pos:]
                else:
                    text = text[:pos] + text[pos + draw(st.integers(1, 10)):]
        elif how == "junk":
            text = draw(st.text(ANY_CHAR, max_size=300))
        elif how == "deep":
            n = draw(st.integers(100, 50_000))
            text += f"@misc{{deep{n},\n  author = {{Wu, Lijun}},\n  title = {{{'{' * n}x" \
                    f"{'}' * n}}},\n  year = {{2020}},\n}}\n"
        elif how == "type":
            kind = draw(st.sampled_from(["journal", "thesis", "x", "comment", "string"]))
            text = re.sub(r"@\w+\{", f"@{kind}{{", text, count=1)
        elif how == "value":
            field = draw(st.sampled_from(["year", "url", "doi", "eprint", "equalcontrib",
                                          "pubtype", "keywords", "author", "title", "code",
                                          "openreview", "acl"]))
            text = text.replace("\n}", f",\n  {field} = {{{draw(bib_text())}}}\n}}", 1)
        elif how == "latin1":
            return text.encode() + "Müller".encode("latin-1"), False
        elif how == "dup":
            text += "\n" + text
        elif how == "paren":
            text = text.replace("{", "(", 1)
        elif how == "string":
            text = "@string{jnl = {Journal of <b>Things</b>}}\n" + text.replace(
                "\n}", ",\n  journal = jnl # { x} # undefinedmacro\n}", 1)
        elif how == "bad-key":
            text = text.replace(keys[0], draw(st.sampled_from(
                ["../../x", "a b", "x'+PWNED()+'", "a#b", "", "ключ"])), 1)
    return text.encode(), valid


# --- properties: front matter through the registry and check ------------------------------------


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small valid handbook that each case adds its generated files to (and removes them)."""
    root = tmp_path_factory.mktemp("fuzz") / "handbook"
    shutil.copytree(TEST_ROOT, root)
    return root


@contextlib.contextmanager
def written(root: Path, files: dict[str, bytes]) -> Iterator[None]:
    for rel, content in files.items():
        (root / rel).write_bytes(content)
    try:
        yield
    finally:
        for rel in files:
            (root / rel).unlink(missing_ok=True)


@budget(ci=200, fuzz=3000)
@given(pages=st.lists(page_files(), min_size=1, max_size=3, unique_by=lambda p: p[0]))
def test_front_matter_ends_in_problems_or_success(fuzz_root: Path, pages: list) -> None:
    TRIED["front matter: registry and check"] += 1
    with written(fuzz_root, {rel: raw for rel, raw, _, _ in pages}), bounded(30):
        result = run_check(fuzz_root)
        registry, _ = load_registry(fuzz_root, LabConfig(lab_name="Check lab"))
        # what the build derives from the registry (fingerprints, order, name index)
        for token in ("people", "areas", "names", "news"):
            registry.digest(token)
        registry.ordered_people()
        assert_located(result.problems, fuzz_root)
    for rel, _, valid, data in pages:
        mine = [p for p in result.problems if p.path == rel and
                p.code.startswith(("frontmatter.", "page."))]
        note(f"{rel}: valid={valid} {mine}")
        if valid:
            assert mine == [], mine
            slug = Path(rel).stem
            if rel.startswith("people/"):
                assert registry.people[slug].name == data["name"].strip()
            else:
                assert registry.areas[slug].title == data["title"].strip()


# --- properties: BibTeX through check and the build's library code ------------------------------


def _pybtex_keeps(root: Path, files: list[str]) -> list[str]:
    """The .bib files the build keeps: those sphinxcontrib-bibtex's parser can read (as
    labhandbook.environment decides when check reports errors)."""
    from sphinxcontrib.bibtex.bibfile import parse_bibdata

    good: list[str] = []
    for rel in files:
        try:
            parse_bibdata([root / f for f in [*good, rel]], "utf-8-sig")
        except Exception:  # noqa: BLE001
            continue
        good.append(rel)
    return good


@budget(ci=200, fuzz=3000)
@given(bib=bib_files())
def test_bibtex_ends_in_problems_or_success(fuzz_root: Path, bib: tuple[bytes, bool]) -> None:
    from sphinxcontrib.bibtex.bibfile import parse_bibdata

    TRIED["BibTeX: check, the build's parser and the library"] += 1
    raw, valid = bib
    lab = LabConfig(lab_name="Check lab")
    with written(fuzz_root, {"bib/fuzz.bib": raw}), bounded(30):
        result = run_check(fuzz_root)
        assert_located(result.problems, fuzz_root)
        errors = [p for p in result.problems if p.severity == "error"]
        note(f"problems: {errors}")
        if valid:
            assert errors == []
        files = lab.bib_files(fuzz_root)
        clean = [f for f in files if not any(p.path == f for p in errors)]
        # a file check finds no error in is read by the build's parser (never a traceback);
        # past an entry without a key (a warning), as the build reads it (sources.py)
        keyless = any(p.code == "bib.no-key" for p in result.problems)
        with pybtex.errors.capture() if keyless else contextlib.nullcontext():
            data = parse_bibdata([fuzz_root / f for f in clean], "utf-8-sig")
        if any(p.path.endswith(".bib") for p in errors):
            data = parse_bibdata([fuzz_root / f for f in _pybtex_keeps(fuzz_root, files)],
                                 "utf-8-sig")
        # only web addresses pass check
        for entry in read_library(fuzz_root, lab).entries:
            for name in ("url", "code"):
                value = entry.fields.get(name, "").strip()
                if value and not any(p.code == "bib.url" and p.line == entry.line_of(name)
                                     for p in errors if p.path == entry.path):
                    assert value.startswith(("https://", "http://")), value
        # what the build does with every entry it keeps
        registry, _ = load_registry(fuzz_root, lab)
        lib = update_library(None, data.data.entries, registry, format_entry_packed)
        feed = FeedGenerator()
        feed.id("https://example.org/")
        feed.title("x")
        for key, entry in data.data.entries.items():
            pub = lib.pubs[key]
            lib.texts[key].render(BACKEND)
            for _, url in link_targets(entry.fields):
                assert url.startswith(("https://", "http://")), url
            for person in entry.persons.get("author", []):
                meta("citation_author", display_name(person))
            json.loads(json_ld({"headline": pub.title, "venue": pub.venue})
                       .split("\n", 1)[1].rsplit("\n", 1)[0])
            item = feed.add_entry()
            item.id(f"https://example.org/{len(feed.entry())}")
            item.title(_NOT_XML.sub("", pub.title) or "x")  # as labhandbook.feeds writes it
            item.content(_NOT_XML.sub("", f"Papers: {pub.title}."), type="text")
        feed.atom_str()


# --- properties: only web addresses are accepted ------------------------------------------------

SCHEMES = ["https://", "http://", "HTTPS://", "javascript:", "JaVaScRiPt:", " javascript:",
           "java\tscript:", "jav&#x09;ascript:", "data:text/html,", "vbscript:", "file:///",
           "ftp://", "mailto:", "//", "", "https:/", "https:\\\\", "\x00https://"]
addresses = st.builds(lambda scheme, rest: scheme + rest, st.sampled_from(SCHEMES),
                      st.one_of(urls.map(lambda u: u.split("://", 1)[1]),
                                st.text(ANY_CHAR, max_size=20),
                                st.sampled_from(["x.org/\"onmouseover=\"PWNED()", "x.org/<b>",
                                                 "PWNED()", "x.org/ a", "x.org/'"])))
ADDRESS_FIELDS = [("links", "homepage"), ("affiliations", "url"), ("awards", "url"),
                  ("news", "url")]


@budget(ci=200, fuzz=3000)
@given(address=addresses, where=st.sampled_from(ADDRESS_FIELDS))
def test_only_web_addresses_are_accepted(fuzz_root: Path, address: str,
                                         where: tuple[str, str]) -> None:
    TRIED["addresses: front matter and BibTeX url/code"] += 1
    key, name = where
    person: dict[str, Any] = {"name": "Grace Hopper", "role": "phd"}
    item = {"homepage": address} if key == "links" else {
        "affiliations": {"organisation": "x", "position": "y"}, "awards": {"year": 2020,
        "title": "x"}, "news": {"date": "2024", "text": "x"}}[key] | {name: address}
    person[key] = item if key == "links" else [item]
    front = yaml.safe_dump(person, allow_unicode=True)
    clean = address.replace("{", "").replace("}", "").replace("\\", "")
    bib = (f"@misc{{addr,\n  author = {{Wu, Lijun}},\n  title = {{Addresses}},\n"
           f"  year = {{2024}},\n  url = {{{clean}}},\n  code = {{{clean}}},\n}}\n")
    files = {"people/grace-hopper.md": f"---\n{front}---\n# Grace\n".encode(),
             "bib/addr.bib": bib.encode()}
    with written(fuzz_root, files), bounded(30):
        problems = run_check(fuzz_root).problems
        assert_located(problems, fuzz_root)
    web = re.compile(r"https?://[^\s<>\"']+")  # a web address that cannot end an attribute
    page_refused = any(p.path == "people/grace-hopper.md" and p.severity == "error"
                       for p in problems)
    if not page_refused:
        assert web.fullmatch(address.strip()), address
    bib_refused = [p for p in problems if p.path == "bib/addr.bib" and p.code == "bib.url"]
    if len(bib_refused) != 2 and clean.strip():  # url and code
        assert web.fullmatch(" ".join(clean.split())), clean
    for _, url in link_targets({"url": clean, "code": clean}):
        assert url.startswith(("https://", "http://")), url


# --- properties: raw HTML -----------------------------------------------------------------------

TAGS = ["script", "SCRIPT", "img", "a", "svg", "div", "iframe", "b", "style", "body", "p"]
ATTRS = ["onclick", "ONERROR", "onload", "href", "src", "title", "class", "srcdoc", "style",
         "xlink:href", "on", "one", "data-x"]
VALUES = ["PWNED()", "javascript:PWNED()", "JaVaScRiPt:x", "jav&#x09;ascript:x",
          "&#106;avascript:x", "java\nscript:x", " javascript:x", "https://x.org/?on=1",
          "data:text/html,x", "x", "&lt;script&gt;", '"', "'", ">"]


@st.composite
def html_fragments(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        tag = draw(st.sampled_from(TAGS))
        attrs = "".join(
            draw(st.sampled_from([" ", "\n", "/", "\t"])) + draw(st.sampled_from(ATTRS))
            + draw(st.sampled_from(["=", " = ", "="]))
            + draw(st.sampled_from(['"{}"', "'{}'", "{}"])).format(draw(st.sampled_from(VALUES)))
            for _ in range(draw(st.integers(0, 3))))
        parts.append(f"<{tag}{attrs}>{draw(st.text(max_size=5))}</{tag}>")
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(["<!--", "-->", "<", ">", "&", "\n", " "])))
    return "".join(parts)


def _runs_script(markup: str) -> bool:
    """What a browser would run, as far as Python's HTML parser sees it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)  # "x" looks like a path
        soup = BeautifulSoup(markup, "html.parser")
    for tag in soup.find_all(True):
        if tag.name == "script":
            return True
        for attr, value in tag.attrs.items():
            value = " ".join(value) if isinstance(value, list) else value
            if re.fullmatch(r"on[a-z]+", attr.lower()):
                return True
            flat = re.sub(r"[\x00-\x20]", "", value).lower()
            if attr.lower() in ("href", "src", "xlink:href", "action") and \
                    flat.startswith(("javascript:", "vbscript:", "data:text/html")):
                return True
            if attr.lower() == "srcdoc" and _runs_script(value):
                return True
    return False


@budget(ci=300, fuzz=5000)
@given(markup=html_fragments())
def test_raw_html_that_runs_script_is_always_found_and_never_kept(markup: str) -> None:
    TRIED["raw HTML: the allow-list against an HTML parser"] += 1
    with bounded(10):
        clean, found = judge_html(markup)
    if _runs_script(markup):
        assert found, markup
    assert not _runs_script(clean), (markup, clean)


MD_BITS = ["```\n", ":::{note}\n", ":::\n", "    ", "```{raw} html\n", "> ", "- ",
           "```{eval-rst}\n.. raw:: html\n\n   ", "---\nmyst:\n  substitutions:\n    x: "]


@budget(ci=15, fuzz=500)  # each example reads the handbook with Sphinx
@given(body=st.lists(st.one_of(st.sampled_from(BODIES), html_fragments(),
                               st.text(ANY_CHAR, max_size=50), st.sampled_from(MD_BITS)),
                     max_size=8).map("\n".join))
def test_page_scan_of_any_markdown_is_located(fuzz_root: Path, body: str) -> None:
    TRIED["raw HTML: any Markdown page through check"] += 1
    with written(fuzz_root, {"page.md": body.encode()}), bounded(30):
        result = run_check(fuzz_root)
        assert_located(result.problems, fuzz_root)
    assert all(p.path == "page.md" for p in result.problems), result.problems


# --- properties: real builds --------------------------------------------------------------------

OVERVIEW = """\
# Overview

```{people-directory}
```

```{research-areas}
```

```{research-matrix}
```

```{collaboration-graph}
```

```{news}
```
"""
#: A message located to a file (and a line, except for a few of MyST's about a whole page).
LOCATED = re.compile(r"^(?P<path>/\S.*?)(?::(?P<line>\d+))?: (?:ERROR|WARNING|CRITICAL): ")


def sphinx(srcdir: Path, outdir: Path) -> tuple[Build, int]:
    """A fresh in-process build, as ``make html`` without ``-W``; its exit status."""
    warning, status = io.StringIO(), io.StringIO()
    with patch_docutils(srcdir), docutils_namespace():
        app = Sphinx(srcdir=srcdir, confdir=srcdir, outdir=outdir / "html",
                     doctreedir=outdir / "doctrees", buildername="html", status=status,
                     warning=warning, freshenv=True, keep_going=True,
                     confoverrides={"nitpicky": True})
        app.build()
    build = Build(srcdir, outdir / "html", strip_escape_sequences(warning.getvalue()),
                  strip_escape_sequences(status.getvalue()))
    return build, app.statuscode


@st.composite
def handbooks(draw: st.DrawFn) -> dict[str, bytes]:
    """Generated people, an area and a .bib, mostly valid (so that pages show hostile text),
    sometimes broken, batched into one build."""
    files: dict[str, bytes] = {}
    for i in range(draw(st.integers(1, 4))):
        data = draw(person_data())
        front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        if draw(st.integers(0, 5)) == 0:
            front = draw(broken_yaml(data))
        files[f"people/fuzz-{i}.md"] = f"---\n{front}---\n# Person {i}\n\nProse.\n".encode()
    if draw(st.booleans()):
        front = yaml.safe_dump(draw(area_data()), allow_unicode=True, sort_keys=False)
        files["research/fuzz-area.md"] = f"---\n{front}---\n# Area\n\nProse.\n".encode()
    raw, _ = draw(bib_files())
    files["bib/fuzz.bib"] = raw
    if draw(st.integers(0, 3)) == 0:
        files["raw.md"] = ("# Raw\n\n" + draw(st.sampled_from(BODIES))).encode()
    return files


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzzbuild") / "base"
    shutil.copytree(TEST_ROOT, root)
    (root / "overview.md").write_text(OVERVIEW, encoding="utf-8")
    index = root / "index.md"
    index.write_text(index.read_text().replace("publications\n", "publications\noverview\n"
                                               "raw\n"), encoding="utf-8")
    return root


@budget(ci=6, fuzz=60)
@given(files=handbooks())
def test_builds_end_in_located_errors_or_success(build_root: Path, files: dict[str, bytes],
                                                 tmp_path_factory: pytest.TempPathFactory
                                                 ) -> None:
    TRIED["builds (generated people, areas and .bib in one Sphinx build)"] += 1
    work = tmp_path_factory.mktemp("case")
    src = work / "src"
    shutil.copytree(build_root, src)
    if "raw.md" not in files:
        files = {**files, "raw.md": b"# Raw\n"}
    for rel, content in files.items():
        (src / rel).write_bytes(content)
    before = tree_digest(src)
    with bounded(180):
        expected = [p for p in run_check(src).problems if p.severity == "error"]
        build, status = sphinx(src, work / "out")
    assert tree_digest(src) == before, "the build wrote into the source tree"
    note(build.warnings)
    for bad in ("Traceback", "Exception occurred", "Extension error"):
        assert bad not in build.warnings + build.status, bad
    for line in build.warnings.splitlines():
        if re.search(r"\b(ERROR|WARNING|CRITICAL):", line):
            assert LOCATED.match(line), line
    if expected:
        assert status != 0
        for p in expected:
            assert f"{src / p.path}:{p.line}: ERROR: {p.text}" in build.warnings, p
    else:
        assert build.warnings == "", build.warnings
        assert status == 0
    found = injections(build.outdir, MARK)
    if any(p.code == "html.script" for p in expected):  # reported, and the build fails
        found = [f for f in found if not f.startswith("raw.html:")]
    assert found == []
    assert not [p for p in work.rglob("*") if p.is_file() and src not in p.parents
                and work / "out" not in p.parents], "a file was written outside the build"
    shutil.rmtree(work)

