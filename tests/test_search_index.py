"""The Pagefind index (``labhandbook.search``) is made from each indexed page's kept content, not
from the written site: tested differentially against Pagefind run over the written HTML, and
for when it runs again.

The kept content is the page's ``data-pagefind-body`` element as written (plus its language
and ``<title>``); Pagefind over it must write the same bundle, byte for byte, as Pagefind over
the whole site. That the index of an incremental build equals a clean build's is part of
``tests/test_incremental.py`` (every output file, ``pagefind/`` included).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import ROOTS, Build, cli_build, copy_project

from labhandbook.search import BUNDLE, PAGES, pagefind_command


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_index_equals_pagefind_over_the_written_site(handbook: Build,
                                                          tmp_path: Path) -> None:
    """Every page of the example lab (people, areas, papers, news, guides): the bundle
    the build wrote from the kept content is the one Pagefind writes from the HTML files."""
    cmd = pagefind_command(handbook.outdir, tmp_path / "bundle")
    assert cmd is not None, "the pagefind binary is missing"
    subprocess.run(cmd, check=True, capture_output=True)
    from_site, built = tree(tmp_path / "bundle"), tree(handbook.outdir / BUNDLE)
    assert any(name.startswith("fragment/") for name in built), "nothing was indexed"
    assert sorted(built) == sorted(from_site)
    assert [name for name in built if built[name] != from_site[name]] == []


def indexed(build: Build) -> bool:
    return "indexing the site for search (pagefind)" in build.status


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
