"""Every broken input of the check table, through a real Sphinx build.

`make html` must fail on the same mistakes as `labhandbook check`, naming the same file and
line in the same words, without a traceback and without touching a source file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import cli_build, sphinx_build
from test_check import CASES, Case, make_handbook, tree_digest

#: conf.py mistakes stop Sphinx before any extension runs; `check` covers them.
BUILD_CASES = [c for c in CASES if c.severity == "error" and not c.id.startswith("conf-")]


def test_table_has_enough_build_cases() -> None:
    assert len(BUILD_CASES) >= 25


@pytest.mark.parametrize("case", BUILD_CASES, ids=lambda c: c.id)
def test_build_reports_the_mistake(case: Case, tmp_path: Path) -> None:
    root = make_handbook(case, tmp_path)
    before = tree_digest(root)
    build = sphinx_build(root, tmp_path / "out")
    assert build.exit == 1
    lines = [line for line in build.warnings.splitlines() if ": ERROR: " in line]
    located = [line for line in lines
               if line.startswith(f"{root / case.path}:{case.line}: ERROR: ")]
    assert any(case.message in line for line in located), "\n".join(lines)
    assert "Traceback" not in build.warnings + build.status
    assert tree_digest(root) == before


def test_build_says_once_per_person_who_is_unsure_and_stays_green(tmp_path: Path) -> None:
    """Loose and ambiguous spellings: one note per person in the build, never a warning."""
    import shutil

    from test_check import LIJUN, PAPERS, TEST_ROOT

    root = tmp_path / "lab"
    shutil.copytree(TEST_ROOT, root)
    papers = root / PAPERS
    text = papers.read_text(encoding="utf-8").replace("{Wu, Lijun and Lovelace", "{Wu, L. and "
                                                      "Lovelace")
    papers.write_text(text + "\n@misc{wu2025notes,\n  author = {L. Wu and Wu, Zhen},\n"
                      "  title = {Notes},\n  year = {2025},\n}\n", encoding="utf-8")
    lijun = root / LIJUN
    lijun.write_text(lijun.read_text(encoding="utf-8").replace("bib_names:\n  - Wu, Lijun\n",
                                                               ""), encoding="utf-8")
    build = cli_build(root, tmp_path / "out")
    assert "exit 0" in build.status, build.warnings
    notes = [line for line in build.status.splitlines() if ": note: " in line]
    assert len(notes) == 1, notes  # one person, two spellings' worth of papers, one note
    assert notes[0].startswith(f"{root / LIJUN}:2: note: Lijun Wu: ")
    assert "given to Lijun Wu (1 paper: wu2024scaling)" in notes[0]
    assert "given to no one (1 paper: wu2025notes)" in notes[0]
    page = (build.outdir / "people/lijun-wu.html").read_text(encoding="utf-8")
    assert "Scaling Laws for Reasoning" in page and "wu2025notes" not in page
