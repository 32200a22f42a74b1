"""``labhandbook serve`` (#20): builds in one warm process, the same output as a clean build,
errors shown with file and line and survived, the page served with its reload script and gzip,
events for every build, and 127.0.0.1 only."""

from __future__ import annotations

import filecmp
import gzip
import http.client
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import ROOTS, copy_project, sphinx_build

from labhandbook.serve import (
    CLIENT,
    EVENTS,
    LASTING,
    REVALIDATE,
    Broadcaster,
    Builder,
    BuildResult,
    Problem,
    _checksum,
    changes,
    connect,
    make_server,
    parse_problems,
    serving,
    snapshot,
    watch,
)

PERSON = "people/lijun-wu.md"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(ROOTS / "test-publications", tmp_path / "src")


def _search_terms(path: Path) -> dict:
    """Sphinx's search index without terms that no page has any more (an incremental build
    of Sphinx, ``make html`` as well, keeps them as empty lists: same search results)."""
    text = path.read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1:text.rindex(")")])
    for key in ("terms", "titleterms"):
        index[key] = {t: d for t, d in index[key].items() if d != []}
    return index


def _differences(a: Path, b: Path) -> list[str]:
    """HTML files (and the search index) that differ between two output folders."""
    out = []
    for path in sorted(a.rglob("*.html")):
        other = b / path.relative_to(a)
        if not other.is_file() or not filecmp.cmp(path, other, shallow=False):
            out.append(str(path.relative_to(a)))
    if _search_terms(a / "searchindex.js") != _search_terms(b / "searchindex.js"):
        out.append("searchindex.js")
    missing = {p.relative_to(b) for p in b.rglob("*.html")} - {
        p.relative_to(a) for p in a.rglob("*.html")}
    return out + sorted(str(m) for m in missing)


def test_warm_builds_match_a_clean_build_and_survive_errors(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Builder(project, out / "html", out / "doctrees") as builder:
        first = builder.build()
        assert first.ok, first.problems

        # A prose edit: one build, the page shows it.
        page = project / PERSON
        text = page.read_text(encoding="utf-8")
        page.write_text(text + "\nA sentence added in the preview.\n", encoding="utf-8")
        second = builder.build([str(page)])  # saved in place: the warm application builds
        assert second.ok and second.id == first.id + 1, second.problems
        assert builder.warm_builds == 1
        assert "A sentence added in the preview." in (out / "html/people/lijun-wu.html").read_text()

        # A broken front matter: the build fails with the file and line, nothing raised.
        broken = text.replace("name:", "name: [unclosed", 1)
        assert broken != text
        page.write_text(broken, encoding="utf-8")
        failed = builder.build([str(page)])  # warm, then again by a new application
        assert not failed.ok
        located = [p for p in failed.problems if p.path == PERSON and p.line]
        assert located, failed.problems

        # The fixing edit: the same builder goes on, and its output is a clean build's.
        page.write_text(text + "\nA sentence added in the preview.\n", encoding="utf-8")
        fixed = builder.build([str(page)])
        assert fixed.ok, fixed.problems
        builder.index_later()
        builder.wait_for_index()
        clean = sphinx_build(project, tmp_path / "clean")
        assert clean.exit == 0, clean.warnings
        assert _differences(out / "html", clean.outdir) == []


def test_a_new_bib_entry_reaches_the_pages(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Builder(project, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        bib = sorted((project / "bib").glob("*.bib"))[0]
        person = (project / PERSON).read_text(encoding="utf-8")
        assert "name: Lijun Wu" in person
        with bib.open("a", encoding="utf-8") as f:
            f.write("\n@misc{previewtest2025,\n  author = {Wu, Lijun and Doe, Jane},\n"
                    "  title = {A Paper Added While Previewing},\n  year = {2025},\n}\n")
        result = builder.build([str(bib)])
        assert result.ok, result.problems
        assert builder.warm_builds == 1
        assert "A Paper Added While Previewing" in (out / "html/people/lijun-wu.html").read_text()

        # A .bib pybtex cannot read: the warm build is done again by a new application, which
        # leaves the file out and reports it at its file, as `make html` does.
        good = bib.read_text(encoding="utf-8")
        bib.write_text(good + "\n@misc{broken,\n  title = {Unclosed\n", encoding="utf-8")
        broken = builder.build([str(bib)])
        assert not broken.ok
        rel = bib.relative_to(project).as_posix()
        assert any(p.path == rel and p.line for p in broken.problems), broken.problems
        bib.write_text(good, encoding="utf-8")
        assert builder.build([str(bib)]).ok
        builder.index_later()
        builder.wait_for_index()
        clean = sphinx_build(project, tmp_path / "clean")
        assert _differences(out / "html", clean.outdir) == []


def test_make_html_after_serve_goes_on_from_its_environment(project: Path,
                                                          tmp_path: Path) -> None:
    """serve's builds do not pickle the environment in the build's process (a forked child
    saves it, ``pickle_in_child``): the file it leaves is a real environment, so a
    ``make html`` afterwards reads no page, and its output is a clean build's."""
    from test_incremental import build, finish

    out = tmp_path / "out"
    with Builder(project, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        page = project / PERSON
        page.write_text(page.read_text(encoding="utf-8") + "\nSaved in the preview.\n",
                        encoding="utf-8")
        assert builder.build([str(page)]).ok
        assert builder.warm_builds == 1
        assert builder.wait_saved()
        builder.index_later()
        builder.wait_for_index()
    log = finish(build(project, out, 1), "make html after serve")
    assert "0 added, 0 changed, 0 removed" in log, log
    assert "failed" not in log, log
    clean = sphinx_build(project, tmp_path / "clean")
    assert _differences(out / "html", clean.outdir) == []


def test_problems_keep_file_and_line(tmp_path: Path) -> None:
    text = (f"{tmp_path}/people/x.md:12: WARNING: unknown document: 'y' [ref.doc]\n"
            f"{tmp_path}/bib/a.bib: ERROR: something\n  more detail\n"
            "WARNING: no location\n")
    problems = parse_problems(text, tmp_path)
    assert [(p.path, p.line) for p in problems] == [
        ("people/x.md", 12), ("bib/a.bib", None), ("", None)]
    assert problems[1].message.endswith("more detail")


def test_watcher_sees_saves_and_skips_build_output(project: Path) -> None:
    before = snapshot(project)
    (project / "_build").mkdir()
    (project / "_build" / "x.html").write_text("out")
    assert changes(before, snapshot(project)) == []
    page = project / PERSON
    page.write_text(page.read_text() + "\nmore\n")
    assert changes(before, snapshot(project)) == [str(page)]


def test_a_file_saved_lately_is_looked_at_between_walks_of_the_tree(project: Path,
                                                                    tmp_path: Path) -> None:
    """The watcher walks the tree every ``poll`` seconds (here an hour, once the first save is
    seen) and looks at the files saved lately every ``HOT_POLL``: a page saved again is built
    at once, with whatever else the walk its save set off finds, while a save of another
    file alone waits for the next walk."""

    class Stop(threading.Event):  # the first save is seen at once: waits cut to 50 ms
        def wait(self, timeout: float | None = None) -> bool:
            return super().wait(0.05 if timeout is None else min(timeout, 0.05))

    out = tmp_path / "out"
    page, other = project / PERSON, project / "research" / "molecules.md"
    results: list[BuildResult] = []
    logged: list[str] = []
    stop = Stop()
    with Builder(project, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        thread = threading.Thread(target=watch, args=(project, builder, Broadcaster(), stop),
                                  kwargs={"poll": 3600.0, "results": results,
                                          "log": logged.append}, daemon=True)
        thread.start()
        try:
            time.sleep(0.2)  # the watcher's first look is taken
            page.write_text(page.read_text(encoding="utf-8") + "\nOne.\n", encoding="utf-8")
            assert _until(lambda: len(results) == 1, 60), logged
            other.write_text(other.read_text(encoding="utf-8") + "\nTwo.\n", encoding="utf-8")
            time.sleep(0.5)
            assert len(results) == 1, logged  # not walked again: no save of a hot file
            page.write_text(page.read_text(encoding="utf-8") + "\nThree.\n", encoding="utf-8")
            assert _until(lambda: len(results) == 2, 60), logged
        finally:
            stop.set()
            thread.join(60)
    assert all(r.ok for r in results), results
    assert [line for line in logged if line.startswith("changed:")] == [
        "changed: people/lijun-wu.md",
        "changed: people/lijun-wu.md, research/molecules.md"]


def _get(base: str, path: str, gzip_ok: bool = True,
         etag: str | None = None) -> http.client.HTTPResponse:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Accept-Encoding": "gzip"} if gzip_ok else {}
    if etag is not None:
        headers["If-None-Match"] = etag
    conn.request("GET", path, headers=headers)
    return conn.getresponse()


def test_a_reload_gets_304_for_files_the_build_did_not_rewrite(tmp_path: Path) -> None:
    """Each response has an ETag (a digest of the bytes, and for pages the build id of their
    reload script); asked again with it, the server answers 304 without a body while the
    bytes are the same, also when the file was written again, and the new bytes once they
    changed (also at the same size)."""
    import os

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body><p>one</p></body></html>")
    css = site / "theme.css"
    css.write_text("body { color: red; }\n" * 50)
    broadcaster = Broadcaster()
    broadcaster.publish(BuildResult(1, True, 0.1))
    with serving(site, broadcaster) as base:
        first = _get(base, "/theme.css")
        etag = first.getheader("ETag")
        assert first.status == 200 and etag and first.getheader("Cache-Control") == REVALIDATE
        assert gzip.decompress(first.read()) == css.read_bytes()
        again = _get(base, "/theme.css", etag=etag)
        assert again.status == 304 and again.read() == b""
        assert again.getheader("ETag") == etag
        plain = _get(base, "/theme.css", gzip_ok=False, etag=etag)  # another representation
        assert plain.status == 200 and plain.read() == css.read_bytes()

        # Written again with the same bytes (as Sphinx writes pygments.css on every build):
        # the browser's copy is current.
        css.write_text(css.read_text())
        stamp = os.stat(css).st_mtime_ns + 1_000_000_000
        os.utime(css, ns=(stamp, stamp))
        assert _get(base, "/theme.css", etag=etag).status == 304

        # Rewritten at the same size (a later time): sent again, the new bytes.
        css.write_text("body { color: red; }\n".replace("red", "tan") * 50)
        stamp = os.stat(css).st_mtime_ns + 2_000_000_000
        os.utime(css, ns=(stamp, stamp))
        changed = _get(base, "/theme.css", etag=etag)
        assert changed.status == 200 and changed.getheader("ETag") != etag
        assert gzip.decompress(changed.read()) == css.read_bytes()

        page = _get(base, "/index.html")
        page_etag = page.getheader("ETag")
        assert 'lhBuild="1"' in gzip.decompress(page.read()).decode()
        assert _get(base, "/index.html", etag=page_etag).status == 304
        # A new build: the same file is sent again, with the new build id in its script.
        broadcaster.publish(BuildResult(2, True, 0.1))
        reloaded = _get(base, "/index.html", etag=page_etag)
        assert reloaded.status == 200
        assert 'lhBuild="2"' in gzip.decompress(reloaded.read()).decode()


def test_files_whose_url_names_their_bytes_are_kept_and_the_others_revalidated(
        tmp_path: Path) -> None:
    """A stylesheet or script linked with Sphinx's ``?v=`` checksum of the bytes served, the
    theme's ``?digest=`` files as the installed theme ships them, and the reload script named
    with its checksum are sent as lasting (a reload does not ask for them); the same file
    under no query, a wrong or stale checksum, another query, or a lab's own file where the
    theme's would be, is revalidated."""
    import re

    import pydata_sphinx_theme
    from sphinx.builders.html._assets import _file_checksum

    site = tmp_path / "site"
    (site / "_static" / "styles").mkdir(parents=True)
    (site / "index.html").write_text("<html><body><p>one</p></body></html>")
    css = site / "_static" / "lab.css"
    css.write_bytes(b"body { color: red; }\r\n" * 50)
    version = _file_checksum(site, "_static/lab.css")  # what Sphinx links
    assert version
    theme = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme"
             / "static")
    digest = re.search(r"\?digest=(\w+)", (theme / "webpack-macros.html").read_text())[1]
    shutil.copy(theme / "styles" / "theme.css", site / "_static" / "styles" / "theme.css")
    (site / "_static" / "styles" / "pydata-sphinx-theme.css").write_text("/* the lab's */\n")
    broadcaster = Broadcaster()
    broadcaster.publish(BuildResult(1, True, 0.1))

    def caching(path: str, etag: str | None = None) -> tuple[int, str]:
        response = _get(base, path, etag=etag)
        response.read()
        return response.status, response.getheader("Cache-Control")

    with serving(site, broadcaster) as base:
        first = _get(base, f"/_static/lab.css?v={version}")
        assert first.getheader("Cache-Control") == LASTING
        etag = first.getheader("ETag")
        first.read()
        assert caching(f"/_static/lab.css?v={version}", etag) == (304, LASTING)
        assert caching("/_static/lab.css") == (200, REVALIDATE)
        assert caching("/_static/lab.css?v=0badc0de") == (200, REVALIDATE)
        assert caching(f"/_static/lab.css?v={version}&x=1") == (200, REVALIDATE)
        assert caching(f"/_static/lab.css?digest={digest}") == (200, REVALIDATE)
        # Edited, still linked with the old checksum (a stale one): revalidated.
        css.write_text("body { color: tan; }\n" * 50)
        stamp = os.stat(css).st_mtime_ns + 1_000_000_000
        os.utime(css, ns=(stamp, stamp))
        assert caching(f"/_static/lab.css?v={version}") == (200, REVALIDATE)

        assert caching(f"/_static/styles/theme.css?digest={digest}") == (200, LASTING)
        assert caching("/_static/styles/theme.css?digest=0123abc") == (200, REVALIDATE)
        assert caching("/_static/styles/theme.css") == (200, REVALIDATE)
        assert caching(f"/_static/styles/pydata-sphinx-theme.css?digest={digest}") == (
            200, REVALIDATE)  # the lab's own file under the theme's name

        page = gzip.decompress(_get(base, "/index.html").read()).decode()
        client = re.search(r'src="([^"]*reload\.js[^"]*)"', page)[1]
        assert client.startswith(CLIENT + "?v=")
        assert caching(client) == (200, LASTING)
        assert caching(CLIENT) == (200, REVALIDATE)
        assert caching(CLIENT + "?v=0badc0de") == (200, REVALIDATE)


def test_pages_get_the_reload_script_and_events(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body><p>hello</p></body></html>")
    shutil.copy(site / "index.html", tmp_path / "on-disk.html")
    broadcaster = Broadcaster()
    broadcaster.publish(BuildResult(1, True, 0.1))
    with serving(site, broadcaster) as base:
        response = _get(base, "/index.html")
        assert response.getheader("Content-Encoding") == "gzip"
        html = gzip.decompress(response.read()).decode()
        assert CLIENT in html and 'lhBuild="1"' in html and "<p>hello</p>" in html
        plain = _get(base, "/index.html", gzip_ok=False)
        assert plain.getheader("Content-Encoding") is None
        assert CLIENT in plain.read().decode()
        assert _get(base, CLIENT).status == 200

        events = _get(base, EVENTS, gzip_ok=False)
        assert events.getheader("Content-Type") == "text/event-stream"

        def next_event() -> dict:
            while True:
                line = events.fp.readline()
                if line.startswith(b"data:"):
                    return json.loads(line[5:])

        assert next_event()["id"] == 1
        assert broadcaster.watched() == set()  # this stream named no page
        shown = _get(base, EVENTS + "?page=%2F", gzip_ok=False)
        assert shown.status == 200
        deadline = time.monotonic() + 10
        while not broadcaster.watched() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert broadcaster.watched() == {os.path.realpath(site / "index.html")}
        broadcaster.publish(BuildResult(2, False, 0.2, [Problem("people/x.md", 3, "bad")]))
        event = next_event()
        assert event["id"] == 2 and event["problems"] == [
            {"path": "people/x.md", "line": 3, "message": "bad"}]
    # The file on disk is what the build wrote: the script is added while serving.
    assert (site / "index.html").read_text() == (tmp_path / "on-disk.html").read_text()


def test_listens_on_localhost_only(tmp_path: Path) -> None:
    server = make_server(tmp_path, 0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_warm_builds_equal_clean_builds_over_random_edits(tmp_path: Path) -> None:
    """The differential test of #16 for the preview: after each random edit of ``editlab``
    (prose, front matter, BibTeX entries added, moved and retitled, pages and .bib files added
    and removed, settings, the lab's stylesheet), the preview's build (warm when the files were
    saved in place, new otherwise, search index in the background) leaves exactly a clean
    build's files."""
    import random

    from editlab import initial, person_field
    from test_incremental import STEPS, build, differences, edit_sequence, finish

    from labhandbook.serve import edited_in_place

    rng = random.Random(20)
    # Two edits in place last: a warm build after a warm build skips copying static files.
    edits = [*edit_sequence(rng, max(STEPS, 12)), person_field, person_field]
    src, out, clean = tmp_path / "src", tmp_path / "serve", tmp_path / "clean"
    lab = initial()
    lab.write(src)
    failures = []
    told: list[int] = []
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        builder.ready = lambda result, pages: told.append(result.id)  # the early path runs
        # Browsers on every person page: those pages are written before the others.
        builder.watched = lambda: {os.path.realpath(p) for p in (out / "html").glob("people/*")}
        before = snapshot(src)
        for step, edit in enumerate(edits, 1):
            what = edit(lab, rng)
            lab.write(src)
            after = snapshot(src)
            edited, before = edited_in_place(before, after), after
            result = builder.build(edited)
            assert result.ok, (step, what, result.problems)
            builder.index_later()
            builder.wait_for_index()
            shutil.rmtree(clean, ignore_errors=True)
            finish(build(src, clean, 1), f"step {step} ({what}), clean build")
            diff = differences(out / "html", clean / "html")
            if diff:
                failures.append((step, what, "warm" if edited else "new", diff[:6]))
        warm, skips = builder.warm_builds, builder.static.skips
    assert not failures, failures
    assert warm >= 3, f"only {warm} builds reused the application: the test misses its point"
    assert told and skips, (told, skips)


def test_a_build_told_early_sends_whole_pages_at_once_and_nothing_half_written(
        tmp_path: Path) -> None:
    """Between a build's early publication and its end, the pages it wrote are sent at once
    (the new bytes), a file the browser holds as on disk gets 304 at once, and any other file
    (one the build may be writing) only once the build has ended: never half of it."""
    site = tmp_path / "site"
    site.mkdir()
    page = site / "index.html"
    page.write_text("<html><body><p>old</p></body></html>")
    other, late = site / "other.css", site / "late.css"
    other.write_text("p { color: red; }\n")
    late.write_text("h1 { color: blue; }\n")
    broadcaster = Broadcaster()
    broadcaster.publish(BuildResult(1, True, 0.1))
    with serving(site, broadcaster) as base:
        other_etag = _get(base, "/other.css").getheader("ETag")
        late_etag = _get(base, "/late.css").getheader("ETag")

        page.write_text("<html><body><p>new</p></body></html>")
        broadcaster.publish_early(BuildResult(2, True, 0.1), [str(page)])
        late.write_text("h1 { col")  # the build is writing it
        assert "<p>new</p>" in gzip.decompress(_get(base, "/index.html").read()).decode()
        assert _get(base, "/other.css", etag=other_etag).status == 304

        finished = threading.Event()
        got: dict[str, object] = {}

        def fetch(name: str, etag: str | None) -> None:
            response = _get(base, "/late.css", etag=etag)
            got[name] = (finished.is_set(), response.status,
                         gzip.decompress(response.read()) if response.status == 200 else b"")

        threads = [threading.Thread(target=fetch, args=args)
                   for args in (("plain", None), ("cached", late_etag))]
        for thread in threads:
            thread.start()
        time.sleep(0.3)  # a server that does not wait sends the half file meanwhile
        late.write_text("h1 { color: green; }\n")
        finished.set()
        broadcaster.publish(BuildResult(2, True, 0.2))
        for thread in threads:
            thread.join(10)
    whole = (True, 200, b"h1 { color: green; }\n")
    assert got == {"plain": whole, "cached": whole}


def _next_event(events: http.client.HTTPResponse) -> dict:
    while True:
        line = events.fp.readline()
        if not line:
            raise EOFError("the event stream ended")
        if line.startswith(b"data:"):
            return json.loads(line[5:])


def _until(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(condition())


def test_the_rest_of_a_build_told_early_waits_for_the_reload(tmp_path: Path) -> None:
    """After an early publication, ``reloaded`` returns once each browser on a page the build
    wrote has opened its page's event stream again (the reloaded page ran its script), or as
    soon as a request waits for the build's end, or after its timeout; at once when no browser
    shows such a page."""
    site = tmp_path / "site"
    site.mkdir()
    page, other = site / "index.html", site / "other.html"
    page.write_text("<html><body><p>one</p></body></html>")
    other.write_text("<html><body><p>other</p></body></html>")
    (site / "late.css").write_text("p { color: red; }\n")
    broadcaster = Broadcaster()
    broadcaster.publish(BuildResult(1, True, 0.1))
    shows = EVENTS + "?page=%2Findex.html"
    with serving(site, broadcaster) as base:
        first = _get(base, shows, gzip_ok=False)
        assert _next_event(first)["id"] == 1
        assert _until(lambda: broadcaster.watched())

        def hold(timeout: float = 60) -> tuple[threading.Thread, list[bool]]:
            got: list[bool] = []
            thread = threading.Thread(target=lambda: got.append(broadcaster.reloaded(timeout)))
            thread.start()
            return thread, got

        page.write_text("<html><body><p>two</p></body></html>")
        broadcaster.publish_early(BuildResult(2, True, 0.1), [str(page)])
        thread, got = hold()
        thread.join(0.5)
        assert thread.is_alive()  # the browser has not reloaded yet
        assert b"two" in gzip.decompress(_get(base, "/index.html").read())  # sent at once
        assert _next_event(first)["id"] == 2
        thread.join(0.3)
        assert thread.is_alive()  # the page is in, its script has not run yet
        second = _get(base, shows, gzip_ok=False)  # the reloaded page's stream
        thread.join(10)
        assert not thread.is_alive() and got == [True]
        broadcaster.publish(BuildResult(2, True, 0.2))
        assert _next_event(second)["id"] == 2

        # The old page's stream was closed by its browser (its thread writes nothing until
        # the next build): the next build waits for the one browser there is.
        first.close()
        broadcaster.publish_early(BuildResult(3, True, 0.1), [str(page)])
        thread, got = hold()
        thread.join(0.3)
        assert thread.is_alive()
        third = _get(base, shows, gzip_ok=False)
        thread.join(10)
        assert not thread.is_alive() and got == [True]
        broadcaster.publish(BuildResult(3, True, 0.2))
        assert _next_event(third)["id"] == 3

        # A request that must wait for the build's end lets the build go on.
        broadcaster.publish_early(BuildResult(4, True, 0.1), [str(page)])
        thread, got = hold()
        thread.join(0.3)
        assert thread.is_alive()
        waiting = threading.Thread(target=lambda: _get(base, "/late.css").read())
        waiting.start()
        thread.join(10)
        assert not thread.is_alive() and got == [True] and waiting.is_alive()
        broadcaster.publish(BuildResult(4, True, 0.2))
        waiting.join(10)
        assert not waiting.is_alive()

        # No browser shows a page the build wrote: no wait; a browser that never comes back:
        # the timeout.
        broadcaster.publish_early(BuildResult(5, True, 0.1), [str(other)])
        assert broadcaster.reloaded(60) is True
        broadcaster.publish(BuildResult(5, True, 0.2))
        broadcaster.publish_early(BuildResult(6, True, 0.1), [str(page)])
        assert broadcaster.reloaded(0.2) is False
        broadcaster.publish(BuildResult(6, True, 0.2))


def test_a_build_holds_its_finish_steps_until_the_page_reloaded(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Told early, a build of ``labhandbook serve`` writes nothing more (Sphinx's finish steps,
    ``build-finished``) until the browser that shows the page has fetched it and opened its
    event stream again; then it finishes, with the page's new text in its output."""
    from labhandbook import serve

    monkeypatch.setattr(serve, "RELOAD_HOLD", 60.0)
    out = tmp_path / "out"
    html = out / "html"
    broadcaster = Broadcaster()
    results: list[BuildResult] = []
    with Builder(project, html, out / "doctrees") as builder:
        first = builder.build()
        assert first.ok, first.problems
        broadcaster.publish(first)
        connect(builder, broadcaster)
        finished: list[bool] = []
        reopened = threading.Event()
        builder._app.connect("build-finished",
                             lambda app, exc: finished.append(reopened.is_set()))
        shows = EVENTS + "?page=%2Fpeople%2Flijun-wu.html"
        with serving(html, broadcaster) as base:
            events = _get(base, shows, gzip_ok=False)
            assert _next_event(events)["id"] == first.id
            assert _until(lambda: broadcaster.watched())
            page = project / PERSON
            page.write_text(page.read_text(encoding="utf-8") + "\nA sentence held for.\n",
                            encoding="utf-8")
            thread = threading.Thread(target=lambda: results.append(builder.build([str(page)])))
            thread.start()
            assert _next_event(events)["id"] == first.id + 1  # told early
            sent = _get(base, "/people/lijun-wu.html")
            assert sent.status == 200
            assert "A sentence held for." in gzip.decompress(sent.read()).decode()
            assert not _until(lambda: finished, 1.5)  # the finish steps wait
            reopened.set()
            again = _get(base, shows, gzip_ok=False)  # the reloaded page's stream
            thread.join(30)
            assert not thread.is_alive()  # went on at the reload, long before the cap
            assert results[0].ok, results[0].problems
            assert finished == [True]
            broadcaster.publish(results[0])
            assert _next_event(again)["id"] == results[0].id
    assert "A sentence held for." in (html / "people/lijun-wu.html").read_text()


def test_the_browsers_are_told_once_every_page_is_written(project: Path,
                                                          tmp_path: Path) -> None:
    """A build is published early, after the documents' pages and before Sphinx's finish
    steps (the search index is fed and written later), with the pages it wrote, or as soon as
    a page a browser shows is written; a build with a problem so far is not."""
    out = tmp_path / "out"
    html = out / "html"
    told: list[tuple[BuildResult, list[str], str, int, bool, list[str]]] = []
    with Builder(project, html, out / "doctrees") as builder:
        assert builder.build().ok
        app = builder._app

        def fed() -> bool:  # whether Sphinx's search index has the new word yet
            return any("zyzzyva" in word for word in app.builder.indexer._mapping)

        def loaded() -> bool:  # whether it holds the other pages (loaded from the last build)
            return bool(app.builder.indexer._titles)

        resolved: list[str] = []
        app.connect("doctree-resolved", lambda app, doctree, doc: resolved.append(doc))
        builder.ready = lambda result, pages: told.append((
            result, pages, (html / "people/lijun-wu.html").read_text(encoding="utf-8"),
            (html / "searchindex.js").stat().st_mtime_ns, fed() or loaded(), list(resolved)))
        index_stamp = (html / "searchindex.js").stat().st_mtime_ns
        page = project / PERSON
        text = page.read_text(encoding="utf-8")
        page.write_text(text + "\nA sentence told early, zyzzyva.\n", encoding="utf-8")
        result = builder.build([str(page)])
        assert result.ok, result.problems
        assert len(told) == 1 and told[0][0].id == result.id and told[0][0].ok
        assert os.path.realpath(html / "people/lijun-wu.html") in told[0][1]
        assert "A sentence told early" in told[0][2]
        assert told[0][3] == index_stamp != (html / "searchindex.js").stat().st_mtime_ns
        # The search index was loaded and fed the page after the browsers were told.
        assert not told[0][4] and fed() and loaded()
        assert "zyzzyva" in (html / "searchindex.js").read_text(encoding="utf-8")

        # A browser shows the people index (written before the person's page, its toctree
        # child): the browsers are told once it is whole, before the person's page is written.
        index = os.path.realpath(html / "people/index.html")
        builder.watched = lambda: {index}
        page.write_text(text + "\nA second sentence.\n", encoding="utf-8")
        second = builder.build([str(page)])
        assert second.ok and len(told) == 2 and told[1][0].id == second.id
        assert told[1][1] == [index]
        assert "A second sentence." not in told[1][2]
        # ... as soon as it is written: the next page is not even resolved yet
        assert told[1][5][-1] == "people/index" and "people/lijun-wu" in resolved
        assert "A second sentence." in (html / "people/lijun-wu.html").read_text()

        # A browser shows the person's page, which Sphinx would write after its toctree
        # parent (people/index, written with it, comes first in name order): it is written
        # first, and the browsers are told before the parent is even resolved.
        shown = os.path.realpath(html / "people/lijun-wu.html")
        builder.watched = lambda: {shown}
        resolved.clear()
        page.write_text(text + "\nA third sentence.\n", encoding="utf-8")
        third = builder.build([str(page)])
        assert third.ok and len(told) == 3 and told[2][0].id == third.id
        assert told[2][1] == [shown] and "A third sentence." in told[2][2]
        assert told[2][5] == ["people/lijun-wu"] and "people/index" in resolved

        page.write_text(text.replace("name:", "name: [unclosed", 1), encoding="utf-8")
        failed = builder.build([str(page)])
        assert not failed.ok and failed.problems
        assert len(told) == 3


def _linked_checksums(page: Path) -> dict[str, tuple[str, str]]:
    """Each ``?v=`` URL of a page: the checksum it names and its file's."""
    import re

    out = {}
    for url, version in re.findall(r'(?:href|src)="([^"?#:]+)\?v=([0-9a-f]+)"',
                                   page.read_text(encoding="utf-8")):
        out[url] = (version, _checksum((page.parent / url).read_bytes()))
    return out


def test_every_checksum_a_page_links_names_its_file_after_a_new_configuration(
        project: Path, tmp_path: Path) -> None:
    """A reload keeps a file whose ``?v=`` is its checksum without asking again, so the
    checksums a page links must be its files' own, also after a new application in the same
    process (a ``conf.py`` save) rewrote a file whose checksum Sphinx had cached:
    ``documentation_options.js`` carries settings."""
    out = tmp_path / "out"
    html = out / "html"
    page = html / "people" / "lijun-wu.html"
    with Builder(project, html, out / "doctrees") as builder:
        assert builder.build().ok
        options = "../_static/documentation_options.js"
        linked = _linked_checksums(page)
        assert linked[options][0] == linked[options][1]
        with (project / "conf.py").open("a", encoding="utf-8") as conf:
            conf.write('html_sourcelink_suffix = ".src.txt"\n')
        result = builder.build()
        assert result.ok, result.problems
        assert ".src.txt" in (html / "_static" / "documentation_options.js").read_text()
        relinked = _linked_checksums(page)
        assert relinked[options][0] == relinked[options][1] != linked[options][1]
        # Every other link as before or its file's own (the theme writes its pygments.css
        # over Sphinx's after the pages: that ?v= never names the file, so it is revalidated).
        assert all(v == c or linked.get(url) == (v, c) for url, (v, c) in relinked.items())


def test_static_files_are_copied_once_until_they_change(project: Path, tmp_path: Path) -> None:
    """Warm builds do not copy the static files again while nothing they are made from, and
    nothing in the output's ``_static/``, changed; a damaged output file is copied again."""
    out = tmp_path / "out"
    static = out / "html" / "_static"
    with Builder(project, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        page = project / PERSON
        text = page.read_text(encoding="utf-8")
        for n in range(3):
            page.write_text(text + f"\nEdit {n}.\n", encoding="utf-8")
            assert builder.build([str(page)]).ok
        assert builder.warm_builds == 3 and builder.static.skips >= 1
        css = static / "basic.css"
        whole = css.read_bytes()
        css.write_text("damaged")
        page.write_text(text + "\nEdit 4.\n", encoding="utf-8")
        assert builder.build([str(page)]).ok
        assert builder.warm_builds == 4
        assert css.read_bytes() == whole


def test_a_child_that_never_saves_is_given_up_and_the_next_build_reads_every_page(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A saving child that hangs (say, on a lock a thread held at the fork) does not hang
    serve: it is killed after the timeout, and what it leaves makes Sphinx start anew."""
    from test_incremental import build, finish

    import labhandbook.serve as serve

    monkeypatch.setattr(serve, "_save_environment", lambda env: time.sleep(3600))
    out = tmp_path / "out"
    with Builder(project, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        assert not builder.wait_saved(timeout=1.0)
        assert builder._children == []
    log = finish(build(project, out, 1), "make html after a lost save")
    assert "0 added, 0 changed, 0 removed" not in log, log


def test_background_work_waits_yields_and_stops_at_the_next_save(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a build leaves to do in the background does not compete with the reload: the
    child saving the environment and the processes of the search index run at a lower
    priority, the index only after the delay, and a save during the delay stops it (the next
    build's run takes its place)."""
    import os
    import subprocess
    import sys

    import labhandbook.serve as serve
    from labhandbook.search import IndexJob

    mine = os.getpriority(os.PRIO_PROCESS, 0)
    lower = min(19, mine + serve.BACKGROUND_NICE)
    saved: list[int] = []
    real_save = serve._save_environment
    niceness = tmp_path / "child-niceness"

    def save(env: object) -> None:
        niceness.write_text(str(os.getpriority(os.PRIO_PROCESS, 0)))
        real_save(env)

    runs: list[tuple[float, int]] = []

    def run(self: IndexJob, started: object = None) -> None:
        out = subprocess.run([sys.executable, "-c",
                              "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"],
                             capture_output=True, text=True, check=True)
        runs.append((time.perf_counter(), int(out.stdout)))

    monkeypatch.setattr(serve, "_save_environment", save)
    monkeypatch.setattr(IndexJob, "run", run)
    out = tmp_path / "out"
    with Builder(project, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        assert builder.wait_saved()
        saved.append(int(niceness.read_text()))

        # A save during the delay: the waiting run is stopped, the new build's run replaces it.
        builder.index_later(delay=30)
        page = project / PERSON
        page.write_text(page.read_text(encoding="utf-8") + "\nSaved again.\n", encoding="utf-8")
        begun = time.perf_counter()
        assert builder.build([str(page)]).ok
        assert time.perf_counter() - begun < 25 and runs == []
        assert builder.wait_saved()
        saved.append(int(niceness.read_text()))

        told = time.perf_counter()
        builder.index_later(delay=0.5)
        builder.wait_for_index()
    assert saved == [lower, lower]
    assert runs and all(t - told >= 0.5 and nice == lower for t, nice in runs), runs


def test_the_navigation_is_kept_between_builds_until_it_changes(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A prose edit's pages take their sidebar from the last build (``ToctreeCache``), and
    ``incremental.py`` works out again only the re-read page's part of the navigation and
    headings digests (the same digests as worked out afresh); a page retitled changes the
    navigation, and every page shows the new title, as a clean build's."""
    from labhandbook import incremental

    seen: list[str] = []
    titles_and_toctrees = incremental._titles_and_toctrees
    monkeypatch.setattr(incremental, "_titles_and_toctrees",
                        lambda toc: seen.append(toc["docname"] if "docname" in toc else "?")
                        or titles_and_toctrees(toc))

    def same_digests(app: Any) -> bool:
        env = app.env
        parts = getattr(env, incremental.TOC_PARTS_ATTR)
        return (incremental.heading_digests(env, parts) == incremental.heading_digests(env)
                and incremental.navigation_digest(env, parts)
                == incremental.navigation_digest(env) == env.labhandbook_nav)

    out = tmp_path / "out"
    with Builder(project, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        assert len(seen) == len(builder._app.env.tocs) and same_digests(builder._app)
        page = project / PERSON
        page.write_text(page.read_text(encoding="utf-8") + "\nA sentence.\n", encoding="utf-8")
        seen.clear()
        assert builder.build([str(page)]).ok
        assert builder.warm_builds == 1 and builder.toctrees.hits >= 2, builder.toctrees.hits
        assert len(seen) == 1 and same_digests(builder._app)  # the re-read page's only
        # the theme's navigation component is among what is kept (also when papers.py names
        # the shared component in html_sidebars itself)
        assert any(str(what).startswith("lh_shared:") for _, what in builder.toctrees.items)

        news = project / "news.md"
        text = news.read_text(encoding="utf-8")
        title = text.splitlines()[0]
        assert title.startswith("# ")
        news.write_text(text.replace(title, "# What the lab did lately", 1), encoding="utf-8")
        assert builder.build([str(news)]).ok
        assert builder.warm_builds == 2 and same_digests(builder._app)
        builder.index_later()
        builder.wait_for_index()
    assert "What the lab did lately" in (out / "html/people/lijun-wu.html").read_text()
    clean = sphinx_build(project, tmp_path / "clean")
    assert clean.exit == 0, clean.warnings
    assert _differences(out / "html", clean.outdir) == []


def test_installed_styles_are_looked_up_once_per_process(project: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm build looks no installed style up in the entry points again (each lookup reads
    every installed distribution's metadata), and every style name resolves to its entry
    point's class, as in ``make html``."""
    from importlib.metadata import entry_points

    import pybtex.plugin
    import sphinxcontrib.bibtex.plugin

    from labhandbook.serve import STYLE_GROUPS

    installed = {(g, p.name) for g in STYLE_GROUPS for p in entry_points(group=g)}
    assert ("pybtex.style.names", "plain") in installed
    out = tmp_path / "out"
    with Builder(project, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        looked_up: list[tuple[str, str]] = []

        def counted(**kwargs: str) -> object:
            looked_up.append((kwargs.get("group", ""), kwargs.get("name", "")))
            return entry_points(**kwargs)

        monkeypatch.setattr(pybtex.plugin, "entry_points", counted)
        monkeypatch.setattr(sphinxcontrib.bibtex.plugin, "entry_points", counted)
        page = project / PERSON
        page.write_text(page.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
        assert builder.build([str(page)]).ok and builder.warm_builds == 1
    assert not installed & set(looked_up), looked_up
    for group, name in installed:
        find = (sphinxcontrib.bibtex.plugin.find_plugin if group.startswith("sphinxcontrib.")
                else pybtex.plugin.find_plugin)
        assert find(group, name) is next(iter(entry_points(group=group, name=name))).load()
    # A later registration without force is refused, as against the installed entry point.
    assert not pybtex.plugin.register_plugin("pybtex.style.names", "plain", object)
