"""Shared fixtures: Sphinx testing fixtures, test roots, one build of the real handbook."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sphinx.application import Sphinx
from sphinx.util.console import strip_escape_sequences
from sphinx.util.docutils import docutils_namespace, patch_docutils

pytest_plugins = ("sphinx.testing.fixtures",)

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
ROOTS = TESTS / "roots"


@pytest.fixture(scope="session")
def rootdir() -> Path:
    """Where ``@pytest.mark.sphinx(testroot=...)`` finds ``test-<name>`` projects."""
    return ROOTS


@dataclass
class Build:
    """A finished Sphinx build: its output folder and everything it warned about."""

    srcdir: Path
    outdir: Path
    warnings: str
    status: str
    exit: int = 0

    def html(self, page: str) -> str:
        return (self.outdir / page).read_text(encoding="utf-8")

    def soup(self, page: str) -> BeautifulSoup:
        return BeautifulSoup(self.html(page), "html.parser")


def sphinx_build(
    srcdir: Path, outdir: Path, *, fresh: bool = True, parallel: int = 1, builder: str = "html"
) -> Build:
    """Build ``srcdir`` into ``outdir`` (never into the source tree) as ``make html`` would."""
    warning, status = io.StringIO(), io.StringIO()
    with patch_docutils(srcdir), docutils_namespace():
        return _build(srcdir, outdir, warning, status, fresh, parallel, builder)


def _build(srcdir: Path, outdir: Path, warning: io.StringIO, status: io.StringIO, fresh: bool,
           parallel: int, builder: str) -> Build:
    app = Sphinx(
        srcdir=srcdir,
        confdir=srcdir,
        outdir=outdir / builder,
        doctreedir=outdir / "doctrees",
        buildername=builder,
        status=status,
        warning=warning,
        freshenv=fresh,
        keep_going=True,
        parallel=parallel,
        confoverrides={"nitpicky": True},
    )
    app.build()
    return Build(srcdir, outdir / builder, strip_escape_sequences(warning.getvalue()),
                 strip_escape_sequences(status.getvalue()), app.statuscode)


def cli_build(srcdir: Path, outdir: Path) -> Build:
    """Build like ``make html`` does, in a new process (incremental when ``outdir`` exists).

    Incremental behaviour is tested this way because two Sphinx applications in one process
    share mutable config defaults, which makes Sphinx see a changed configuration.
    """
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n",
         "-d", str(outdir / "doctrees"), str(srcdir), str(outdir / "html")],
        capture_output=True, text=True, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    return Build(srcdir, outdir / "html", run.stderr, run.stdout + f"\nexit {run.returncode}")


def copy_project(src: Path, dest: Path) -> Path:
    """Copy a handbook (the real one or a test root) without build output or the venv."""
    ignore = shutil.ignore_patterns(".venv", "_build", ".git", "tests", "benchmarks", "__pycache__")
    shutil.copytree(src, dest, ignore=ignore)
    return dest


@pytest.fixture(scope="session")
def handbook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    """The real handbook, built once per test session into a temporary folder."""
    out = tmp_path_factory.mktemp("handbook")
    yield sphinx_build(REPO, out)


@dataclass
class CorpusBuild:
    """The hostile corpus (``tests/hostile_corpus.py``) built in one layout of the theme."""

    layout: str
    srcdir: Path
    outdir: Path
    marker: str  #: the secret outside the handbook that no output may contain
    stderr: str
    exit: int


class Corpus(dict):
    """Layout -> :class:`CorpusBuild`, each built when a test first asks for it."""

    def __init__(self, base: pytest.TempPathFactory) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, layout: str) -> CorpusBuild:
        from hostile_corpus import build, make_corpus

        base = self.base.mktemp(f"corpus-{layout}")
        src, marker = make_corpus(base, layout)
        run = build(src, base / "out")
        self[layout] = CorpusBuild(layout, src, base / "out" / "html", marker,
                                   strip_escape_sequences(run.stderr), run.returncode)
        return self[layout]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The corpus built with ``sphinx-build`` in a new process, in layouts "a" (the test
    lab's theme options) and "b" (breadcrumbs, source buttons, deeper tables of contents)."""
    return Corpus(tmp_path_factory)
