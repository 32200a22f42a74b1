"""The Pagefind index (``labhandbook.search``) is made from each indexed page's kept content, not
from the written site: tested differentially against Pagefind run over the written HTML, and
for when it runs again.

The kept content is the page's ``data-pagefind-body`` element as written (plus its language
and ``<title>``); Pagefind over it must write the same bundles, byte for byte, as Pagefind over
the written site: ``pagefind/`` over every page but the paper pages, ``pagefind/papers/`` over
the paper pages (two indexes, so that a prose edit does not index the library's pages again).
That the indexes of an incremental build equal a clean build's is part of
``tests/test_incremental.py`` (every output file, ``pagefind/`` and ``pagefind/papers/``
included).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from conftest import ROOTS, Build, cli_build, copy_project

from labhandbook.papers import PAPERS_DIR
from labhandbook.search import (
    EXCLUDE,
    PAGES,
    PAPERS,
    SITE,
    UNKEPT,
    pagefind_command,
    pagefind_env,
    without_unkept,
)


def tree(folder: Path, without: str = "") -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, but those under ``without``."""
    files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}
    return {rel: p.read_bytes() for rel, p in files.items()
            if not (without and rel.startswith(without))}


def test_the_indexes_equal_pagefind_over_the_written_site(handbook: Build,
                                                          tmp_path: Path) -> None:
    """Every page of the example lab (people, areas, papers, news, guides): each bundle
    the build wrote from the kept content is the one Pagefind writes from the HTML files:
    the paper pages' from ``papers/*.html``, the other from every other page."""
    site = tmp_path / "site"  # the written pages but the paper pages
    shutil.copytree(handbook.outdir, site, ignore=lambda folder, names: [
        n for n in names if Path(folder) == handbook.outdir and n in (PAPERS_DIR, SITE.bundle)])
    for part, folder, extra in ((SITE, site, []),
                                (PAPERS, handbook.outdir, ["--glob", f"{PAPERS_DIR}/*.html"])):
        cmd = pagefind_command(folder, tmp_path / f"bundle-{part.name}")
        assert cmd is not None, "the pagefind binary is missing"
        subprocess.run(cmd + extra, check=True, capture_output=True, env=pagefind_env())
        nested = f"{PAPERS.bundle.removeprefix(SITE.bundle + '/')}/" if part is SITE else ""
        from_site = tree(tmp_path / f"bundle-{part.name}")
        built = tree(handbook.outdir / part.bundle, without=nested)
        assert any(name.startswith("fragment/") for name in built), f"{part.name}: no pages"
        assert sorted(built) == sorted(from_site), part.name
        assert [name for name in built if built[name] != from_site[name]] == [], part.name


def test_the_excluded_lists_are_not_kept_for_pagefind(handbook: Build) -> None:
    """The publication lists (excluded from the index) are left out of the kept content that
    Pagefind reads, so it does not parse them on every build; the bundle stays the one of
    the written site (the test above)."""
    assert {f".{name}" for name in UNKEPT} <= set(EXCLUDE)
    pages = handbook.outdir.parent / "doctrees" / SITE.pages
    written = kept = 0
    for path in pages.rglob("*.html"):
        page = (handbook.outdir / path.relative_to(pages)).read_text(encoding="utf-8")
        text = path.read_text(encoding="utf-8")
        written += sum(page.count(f'class="{name}') for name in UNKEPT)
        kept += sum(text.count(f'class="{name}') for name in UNKEPT)
    assert written > 0 and kept == 0, (written, kept)


def test_without_unkept_balances_nested_elements() -> None:
    body = ('<p>a</p><ul class="x lh-pubs"><li><ul><li>b</li></ul></li></ul><p>c</p>'
            '<ul data-class="lh-pubs"><li>d</li></ul>'
            '<div class="lh-pub-group"><div>e</div></div>')
    assert without_unkept(body) == ('<p>a</p><p>c</p><ul data-class="lh-pubs"><li>d</li></ul>')
    assert without_unkept('<ul class="lh-pubs"><li>open') == '<ul class="lh-pubs"><li>open'


def test_the_chunk_size_reaches_pagefind(handbook: Build, tmp_path: Path) -> None:
    """The adapter of ``search.pagefind_env``: Pagefind reads its chunk size from an unstable
    environment variable; with it the example lab's index has more, smaller chunks than with
    Pagefind's default (a Pagefind that ignores it fails here)."""
    pages = handbook.outdir.parent / "doctrees" / SITE.pages
    assert pages.is_dir(), pages
    counts = []
    for env in (pagefind_env(), {k: v for k, v in pagefind_env().items()
                                 if not k.startswith("PAGEFIND_")}):
        out = tmp_path / f"bundle-{len(counts)}"
        cmd = pagefind_command(pages, out)
        assert cmd is not None, "the pagefind binary is missing"
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        counts.append(len(list((out / "index").iterdir())))
    assert counts[0] > counts[1], f"index chunks with and without the setting: {counts}"


def indexed(build: Build, what: str = "the site") -> bool:
    return f"indexing {what} for search (pagefind)" in build.status


def test_an_unchanged_page_written_again_does_not_index_again(tmp_path: Path) -> None:
    """A page Sphinx writes again with the same content (its source touched) leaves the
    index as it is; new content indexes again; a removed page leaves the index."""
    src = copy_project(ROOTS / "test-people", tmp_path / "src")
    out = tmp_path / "out"
    first = cli_build(src, out)
    assert "exit 0" in first.status and indexed(first), first.status + first.warnings
    pages = out / "doctrees" / PAGES
    person = src / "people" / "grace-hopper.md"  # no other page names her
    kept = pages / "people" / f"{person.stem}.html"
    assert kept.is_file()

    os.utime(person)  # same text, newer file: Sphinx reads and writes the page again
    again = cli_build(src, out)
    assert re.search(rf"writing output\.\.\. \[ *\d+%\] people/{person.stem}$", again.status,
                     re.M), again.status
    assert not indexed(again), again.status

    person.write_text(person.read_text(encoding="utf-8") + "\nQuixotically new words.\n",
                      encoding="utf-8")
    edited = cli_build(src, out)
    assert indexed(edited), edited.status
    assert "Quixotically" in kept.read_text(encoding="utf-8")

    person.unlink()
    removed = cli_build(src, out)
    assert "exit 0" in removed.status, removed.status + removed.warnings
    assert indexed(removed) and not kept.exists()


def test_a_prose_edit_leaves_the_paper_index_and_a_bib_edit_writes_it(tmp_path: Path) -> None:
    """The paper pages have an index of their own (``pagefind/papers/``): a prose edit of a
    person page indexes the site's other pages again but not the paper pages (at lab scale
    1000 of 1066 pages, most of Pagefind's time); a changed entry writes the paper index."""
    src = copy_project(ROOTS / "test-people", tmp_path / "src")
    out = tmp_path / "out"
    first = cli_build(src, out)
    assert "exit 0" in first.status, first.status + first.warnings
    assert indexed(first) and indexed(first, "the paper pages"), first.status
    papers = out / "html" / PAPERS.bundle
    entry = papers / "pagefind-entry.json"
    assert entry.is_file(), "no index of the paper pages"
    before = {p: p.stat().st_mtime_ns for p in papers.rglob("*") if p.is_file()}
    kept = out / "doctrees" / PAPERS.pages / PAPERS_DIR
    assert kept.is_dir() and not (out / "doctrees" / PAGES / PAPERS_DIR).exists()

    person = src / "people" / "grace-hopper.md"
    person.write_text(person.read_text(encoding="utf-8") + "\nQuixotically new words.\n",
                      encoding="utf-8")
    edited = cli_build(src, out)
    assert "exit 0" in edited.status, edited.status + edited.warnings
    assert indexed(edited), edited.status
    assert not indexed(edited, "the paper pages"), edited.status
    assert {p: p.stat().st_mtime_ns for p in papers.rglob("*") if p.is_file()} == before

    bib = src / "bib" / "lab.bib"
    bib.write_text(bib.read_text(encoding="utf-8").replace(
        "title = {Engines That Compute}", "title = {Engines That Compute Quixotically}"),
        encoding="utf-8")
    retitled = cli_build(src, out)
    assert "exit 0" in retitled.status, retitled.status + retitled.warnings
    assert indexed(retitled, "the paper pages"), retitled.status
    assert entry.is_file()
    assert any("Quixotically" in p.read_text(encoding="utf-8") for p in kept.glob("*.html"))
