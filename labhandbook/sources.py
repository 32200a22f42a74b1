"""Which sources a build uses, decided once at ``config-inited``.

A .bib file pybtex cannot read stops sphinxcontrib-bibtex with a traceback, and so does a page
that is not UTF-8 for Sphinx; both are left out of the build (their errors are reported with
file and line by :mod:`labhandbook.environment`, and the build fails cleanly). The decision
changes ``bibtex_bibfiles``, ``exclude_patterns`` and ``suppress_warnings``; made here, from
the files alone, every build of the same sources makes the same one, so Sphinx sees the same
configuration and does not re-read everything (editing the configuration later, at
``builder-inited``, looked like a new configuration to every next build).

Each file is examined once per change of its size or modification time; the verdicts are kept
in the doctree folder (build state, not source).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pybtex.errors

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config

CACHE_FILE = "labhandbook-sources.json"
#: .bib files the verdicts parsed in this process (path -> mtime, pybtex's data), handed to
#: sphinxcontrib-bibtex at ``builder-inited`` (:func:`_parse_changed_bib_files`) and dropped.
PARSED_ATTR = "_labhandbook_parsed_bibs"
SOURCES_ATTR = "_labhandbook_sources"
#: bumped when a verdict changes meaning (2: extended names read, 3: entries without a key)
VERDICT_VERSION = 3


@dataclass(frozen=True)
class Sources:
    """The decision: files left out and whether pybtex will report data errors."""

    left_out_bibs: frozenset[str] = frozenset()
    unreadable_pages: frozenset[str] = frozenset()
    bib_data_errors: bool = False
    extended_names: bool = False  #: a .bib used writes names in biblatex's extended format
    keyless_entries: bool = False  #: a .bib used has an entry without a key (left out)
    #: The root page is too large or not UTF-8: Sphinx cannot build without it, so it is read
    #: as a stub (its title only, at ``source-read``) instead of being left out.
    stub_root: bool = False


def get_sources(config: Config) -> Sources:
    return getattr(config, SOURCES_ATTR, Sources())


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_mtime_ns, st.st_size]


def _bib_verdict(path: Path, encoding: str,
                 parsed: dict[Path, tuple[float, Any]] | None = None) -> dict[str, Any]:
    """Whether pybtex, as sphinxcontrib-bibtex runs it, reads ``path`` (and its keys). A file
    read without any error is kept in ``parsed`` (its mtime and pybtex's data), for
    :func:`_parse_changed_bib_files` to hand to sphinxcontrib-bibtex instead of parsing it
    again."""
    from pybtex.database import BibliographyDataError
    from pybtex.database.input.bibtex import Parser

    from .bibreader import keyless_error
    from .names import extended_name_error
    from .safety import MAX_BIB_BYTES, MAX_FIELD_CHARS

    if path.stat().st_size > MAX_BIB_BYTES:  # check reports bib.too-large
        return {"bad": True, "data_error": False, "keys": []}
    parser = Parser(encoding)
    mtime = path.lstat().st_mtime  # as sphinxcontrib-bibtex stamps its parse
    try:
        with pybtex.errors.capture() as captured:
            parser.parse_file(str(path))
        if any(len(value) > MAX_FIELD_CHARS for entry in parser.data.entries.values()
               for value in entry.fields.values()):  # check reports bib.too-long
            return {"bad": True, "data_error": False, "keys": []}
    except Exception:  # noqa: BLE001  (any failure: the file is left out, never a traceback)
        return {"bad": True, "data_error": False, "keys": []}
    extended = [e for e in captured if extended_name_error(e)]
    keyless = [e for e in captured if keyless_error(e)]
    others = [e for e in captured if not extended_name_error(e) and not keyless_error(e)]
    if any(not isinstance(e, BibliographyDataError) for e in others):
        return {"bad": True, "data_error": False, "keys": []}
    # an entry without a key is kept by pybtex as an empty `unnamed-N`: not listed (library)
    keys = [k for k, e in parser.data.entries.items() if e.fields or e.persons]
    tolerated = {"extended": bool(extended), "keyless": bool(keyless)}
    if others:  # in strict mode pybtex stops at the first: the keys after it are not read
        return {"bad": False, "data_error": True, "keys": keys, **tolerated}
    if parsed is not None and not captured:
        parsed[path.resolve()] = (mtime, parser.data)
    return {"bad": False, "data_error": False, "keys": keys, **tolerated}


def _page_verdict(root: Path, path: Path) -> dict[str, Any]:
    from .registry import PageError, page_text

    try:  # the same reading as ``check``'s: page.too-large, page.encoding
        page_text(root, path)
    except PageError as err:
        return {"bad": True, "large": err.problem.code == "page.too-large"}
    return {"bad": False}


def decide(app: Sphinx, config: Config, bib_files: list[str]) -> Sources:
    """Examine the .bib files and source pages that changed since the last decision."""
    from sphinx.project import Project

    root = Path(app.srcdir)
    cache_path = Path(app.doctreedir, CACHE_FILE)
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
        assert isinstance(cache, dict)
    except (OSError, ValueError, AssertionError):
        cache = {}
    fresh: dict[str, Any] = {}

    def verdict(kind: str, rel: str, judge: Any) -> dict[str, Any]:
        path = root / rel
        stamp = [kind, VERDICT_VERSION, *_stat(path)]
        old = cache.get(rel)
        result = old if isinstance(old, dict) and old.get("stamp") == stamp else {
            **judge(path), "stamp": stamp}
        fresh[rel] = result
        return result

    encoding = config.bibtex_encoding
    parsed = app.__dict__.setdefault(PARSED_ATTR, {})
    bibs = {rel: verdict("bib", rel, lambda p: _bib_verdict(p, encoding, parsed))
            for rel in bib_files if (root / rel).is_file()}
    seen: set[str] = set()
    data_errors = False
    for result in bibs.values():
        if result["bad"]:
            continue
        data_errors |= result["data_error"] or bool(seen & set(result["keys"]))
        seen.update(result["keys"])
    project = Project(root, config.source_suffix)
    docs = project.discover(config.exclude_patterns, config.include_patterns)
    pages = {}
    stub_root = False
    for doc in docs:
        rel = Path(project.doc2path(doc, absolute=True)).relative_to(root).as_posix()
        pages[rel] = verdict("page-v3", rel, lambda p: _page_verdict(root, p))
        if doc == config.root_doc and pages[rel]["bad"]:
            stub_root = True
            del pages[rel]
    if fresh != cache:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(fresh, sort_keys=True), encoding="utf-8")
    return Sources(left_out_bibs=frozenset(r for r, v in bibs.items() if v["bad"]),
                   unreadable_pages=frozenset(r for r, v in pages.items() if v["bad"]),
                   bib_data_errors=data_errors, stub_root=stub_root,
                   extended_names=any(v.get("extended") and not v["bad"] for v in bibs.values()),
                   keyless_entries=any(v.get("keyless") and not v["bad"] for v in bibs.values()))


def stub_root(app: Sphinx, docname: str, source: list[str]) -> None:
    """``source-read``: the root page when it is too large or not UTF-8 (reported as
    page.too-large or page.encoding)."""
    if docname == app.config.root_doc and get_sources(app.config).stub_root:
        source[0] = f"# {app.config.project}\n"


def no_source_copy(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                   doctree: Any) -> None:
    """``html-page-context``: no "show source" copy of a stubbed root page (10 MB of it)."""
    if pagename == app.config.root_doc and get_sources(app.config).stub_root:
        context["sourcename"] = ""


def apply(app: Sphinx, config: Config, bib_files: list[str]) -> None:
    """Decide, and set the configuration accordingly (at ``config-inited`` only)."""
    sources = decide(app, config, bib_files)
    setattr(config, SOURCES_ATTR, sources)
    config.bibtex_bibfiles = [f for f in bib_files if f not in sources.left_out_bibs]
    suppress = []
    if sources.bib_data_errors:
        # sphinxcontrib-bibtex repeats duplicate keys and fields without a line;
        # `check`'s located error (reported by the build) says it.
        suppress.append("bibtex.bibfile_data_error")
    if sources.left_out_bibs:
        suppress.append("bibtex.key_not_found")  # citations of the left-out file's entries
    if suppress:
        config.suppress_warnings = [*config.suppress_warnings, *suppress]
    if sources.unreadable_pages:
        config.exclude_patterns = [*config.exclude_patterns, *sorted(sources.unreadable_pages)]
    if sources.stub_root:
        # Sphinx decodes a page before ``source-read`` and stops with a traceback on a root
        # page that is not UTF-8; every other page it reads is valid UTF-8 (the others are
        # left out above), so decoding with replacement changes nothing but the root, whose
        # text the stub replaces anyway.
        config.source_encoding = LENIENT_ENCODING


# --- adapter: names in biblatex's extended format through sphinxcontrib-bibtex's parse ---------

CAPTURE_ATTR = "_labhandbook_pybtex_capture"


def _tolerate_extended_names(app: Sphinx) -> None:
    """sphinxcontrib-bibtex parses the .bib files at ``builder-inited`` (its handler has the
    default priority, 500) with pybtex in strict mode, where a name in biblatex's extended
    format (``family=Dijk, given=Marten, prefix=van, useprefix=true``, four commas) raises
    "too many commas" and stops the build. When a file used has such names, pybtex's errors
    are captured (``pybtex.errors.capture``) around that parse only: handlers at 499 and 501.
    Every other error of those files was ruled out above, and ``check`` reports it anyway.
    On an upgrade of sphinxcontrib-bibtex that parses elsewhere, the build stops with pybtex's
    error again; ``tests/test_names_corpus.py`` builds a lab with such names.
    The same holds for an entry without a key (JabRef's ``@Article{,`` of an entry left
    empty): strict pybtex stops at it, lenient pybtex keeps it as an empty ``unnamed-N``,
    which the library does not list; ``tests/test_corpus.py`` builds such a file."""
    sources = get_sources(app.config)
    if (sources.extended_names or sources.keyless_entries) and CAPTURE_ATTR not in app.__dict__:
        capture = pybtex.errors.capture()
        capture.__enter__()
        app.__dict__[CAPTURE_ATTR] = capture


def _end_tolerance(app: Sphinx, *_: Any) -> None:
    capture = app.__dict__.pop(CAPTURE_ATTR, None)
    if capture is not None:
        capture.__exit__(None, None, None)


# --- adapter: sphinxcontrib-bibtex's parse of the .bib files that changed only -----------------

#: ``@string`` and ``@preamble`` carry from one file to the next in sphinxcontrib-bibtex's one
#: parser: where a file has one, the files are parsed together as it parses them.
_SHARED_COMMANDS = re.compile(rb"@\s*(?:string|preamble)\s*[{(]", re.IGNORECASE)


def _parse_changed_bib_files(app: Sphinx) -> None:
    """sphinxcontrib-bibtex parses every .bib file again when any of them changed (its cache,
    ``bibfile.process_bibdata``, is one parse of all files, checked by their mtimes): one
    saved entry in a department's library (3 MB in three files) was 27 % of a warm build.
    Before its ``builder-inited`` handler (500), the domain's ``bibdata`` is made up to date
    here: each file from the parse it holds when its mtime is unchanged, else from the parse
    the verdict made at ``config-inited`` in this process (:func:`_bib_verdict`), else parsed
    here (with pybtex's ``Parser``, as it does), so its handler finds nothing to do. A clean
    build parses each file once with pybtex (and once with ``check``'s located reader), a warm
    build after a save only the saved file.

    Adapter over sphinxcontrib-bibtex's documented ``bibfile`` API (``BibData``, ``BibFile``,
    ``get_mtime``, ``is_bibdata_outdated``) and the domain data key it keeps it under
    (``data["bibdata"]``, what its handler assigns). It steps aside (its handler parses
    everything) whenever the result could differ from that one parse: the file list or
    encoding changed, a file defines ``@string`` or ``@preamble`` (they carry over between
    files), pybtex's errors are being tolerated (``_tolerate_extended_names``) or a file has
    data errors, a key repeats, or anything fails. On an upgrade that renames these, the
    adapter steps aside and builds parse as before; ``tests/test_warm_caches.py`` compares
    the result with sphinxcontrib-bibtex's own parse."""
    parsed: dict[Path, tuple[float, Any]] = app.__dict__.pop(PARSED_ATTR, {})
    if get_sources(app.config) != Sources():
        return
    try:
        from pybtex.database import BibliographyData
        from pybtex.database.input.bibtex import Parser
        from sphinxcontrib.bibtex.bibfile import BibData, BibFile, get_mtime, is_bibdata_outdated

        domain = app.env.get_domain("cite")
        old = domain.data["bibdata"]
        encoding = app.config.bibtex_encoding
        files = [(Path(app.confdir) / f).resolve() for f in app.config.bibtex_bibfiles]
        if not isinstance(old, BibData) or not is_bibdata_outdated(old, files, encoding):
            return
        stamps = {path: get_mtime(path) for path in files}
        raws = {path: path.read_bytes() for path in files}
        if any(_SHARED_COMMANDS.search(raw) for raw in raws.values()):
            return
        data = BibliographyData()
        bibfiles = {}
        texts = _entry_texts(app, files, raws, encoding)
        recorded: dict[str, tuple[float, dict[bytes, str]]] = getattr(app.env, TEXTS_ATTR, {})
        with pybtex.errors.capture() as captured:  # any error: its parse reports it
            for path in files:
                kept = old.bibfiles.get(path) if old.encoding == encoding else None
                if kept is not None and kept.mtime == stamps[path]:
                    entries = [(key, old.data.entries[key]) for key in kept.keys]
                elif path in parsed and parsed[path][0] == stamps[path]:
                    entries = list(parsed[path][1].entries.items())  # read at config-inited
                else:
                    entries = _changed_entries(encoding, old, kept, recorded.get(str(path)),
                                               texts.get(path))
                    if entries is None:
                        parser = Parser(encoding)
                        parser.parse_file(path)
                        entries = list(parser.data.entries.items())
                keys = {}
                for key, entry in entries:
                    if key in data.entries:
                        return  # a repeated key: reported by sphinxcontrib-bibtex's parse
                    data.add_entry(key, entry)
                    keys[entry.key] = None
                bibfiles[path] = BibFile(mtime=stamps[path], keys=keys)
        if captured or any(get_mtime(path) != stamp for path, stamp in stamps.items()):
            return  # saved again meanwhile
        domain.data["bibdata"] = BibData(encoding=encoding, bibfiles=bibfiles, data=data)
        # what the next save's parse can reuse: each entry's text, for the data just made
        setattr(app.env, TEXTS_ATTR, {
            str(path): (stamps[path], {_text_digest(text): key for key, text in texts[path]})
            for path in files if path in texts})
    except Exception:  # noqa: BLE001  (sphinxcontrib-bibtex's own parse follows, and reports)
        return


#: The environment's record of which entry text gave which entry of sphinxcontrib-bibtex's
#: data, per file: ``path -> (the file's mtime in that data, {digest of an entry's text: key})``.
TEXTS_ATTR = "labhandbook_bib_texts"


def _text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _entry_texts(app: Sphinx, files: list[Path], raws: dict[Path, bytes],
                 encoding: str) -> dict[Path, list[tuple[str, str]]]:
    """Each file's entries as ``check``'s located reader read them in this build (the
    checks run at ``builder-inited`` before this adapter), for the files whose bytes it read
    are the bytes here. Its text is what pybtex parses only for UTF-8."""
    from .bibcheck import ReadCache
    from .environment import READS_ATTR

    reads = app.__dict__.get(READS_ATTR)
    if not isinstance(reads, ReadCache) or codecs.lookup(encoding).name not in (
            "utf-8", "utf-8-sig"):
        return {}
    root = Path(app.srcdir)
    found = {}
    for path in files:
        try:
            rel = path.relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
        kept = reads.texts.get(rel)
        if kept is not None and kept[0] == hashlib.sha256(raws[path]).hexdigest():
            text = kept[1]
            found[path] = [(key, text[start:end]) for key, start, end in kept[2]]
    return found


def _changed_entries(encoding: str, old: Any, kept: Any,
                     recorded: tuple[float, dict[bytes, str]] | None,
                     texts: list[tuple[str, str]] | None) -> list[tuple[str, Any]] | None:
    """A saved file's entries: those whose text is as it was when the data in ``old`` were
    made (``recorded``) are taken from there, the others parsed with pybtex's ``Parser``
    (all of them in one text, so that a key repeated among them is its error). An entry
    parses alone as in its file: ``texts`` is given only for a file read without any error,
    ``@string`` or ``@preamble`` (:class:`labhandbook.bibcheck.ReadCache`). ``None`` when
    nothing can be reused."""
    from pybtex.database.input.bibtex import Parser

    if texts is None or recorded is None or kept is None or recorded[0] != kept.mtime:
        return None
    digests = recorded[1]
    reused: dict[int, Any] = {}
    for i, (key, text) in enumerate(texts):
        if digests.get(_text_digest(text)) == key and key in kept.keys:
            reused[i] = old.data.entries[key]
    if not reused:
        return None
    parser = Parser(encoding)
    parser.parse_string("\n".join(text for i, (_, text) in enumerate(texts) if i not in reused))
    new = iter(parser.data.entries.items())
    entries = [(key, reused[i]) if i in reused else next(new) for i, (key, _) in enumerate(texts)]
    if next(new, None) is not None or any(
            e.key != key for (key, e) in entries):  # the reader and pybtex disagree
        return None
    return entries


LENIENT_ENCODING = "labhandbook_utf_8_sig_replace"
_SIG = codecs.lookup("utf-8-sig")


class _ReplacingDecoder(_SIG.incrementaldecoder):  # type: ignore[name-defined,misc]
    def __init__(self, errors: str = "strict") -> None:
        super().__init__("replace")


def _find_lenient(name: str) -> codecs.CodecInfo | None:
    """UTF-8 (with or without a byte-order mark), undecodable bytes replaced: the encoding
    Sphinx reads with while the root page is stubbed (``codecs.register``)."""
    if name != LENIENT_ENCODING:
        return None
    return codecs.CodecInfo(
        name=LENIENT_ENCODING, encode=_SIG.encode,
        decode=lambda data, errors="strict": _SIG.decode(data, "replace"),
        incrementalencoder=_SIG.incrementalencoder, incrementaldecoder=_ReplacingDecoder,
        streamreader=_SIG.streamreader, streamwriter=_SIG.streamwriter)


def setup_sources(app: Sphinx) -> None:
    try:
        codecs.lookup(LENIENT_ENCODING)
    except LookupError:
        codecs.register(_find_lenient)
    app.connect("builder-inited", _parse_changed_bib_files, priority=498)
    app.connect("builder-inited", _tolerate_extended_names, priority=499)
    app.connect("builder-inited", _end_tolerance, priority=501)
    app.connect("build-finished", _end_tolerance)
    app.connect("source-read", stub_root)
    app.connect("html-page-context", no_source_copy)
