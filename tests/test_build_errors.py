"""Every broken input of the check table, through a real Sphinx build.

`make html` must fail on the same mistakes as `labhandbook check`, naming the same file and
line in the same words, without a traceback and without touching a source file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import sphinx_build
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
