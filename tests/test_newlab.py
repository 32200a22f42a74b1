"""A new lab, end to end, as its members would make it: ``labhandbook init``, then the new
repository's own ``make html`` and ``make test`` (with the engine of this checkout, installed as a
package into the lab's own virtual environment), then the example content replaced by a lab of
20 people and 200 BibTeX entries through ``labhandbook import-people`` and .bib files, then a
content change that breaks a link, which the lab's ``make test`` must catch.

Slow (it installs the engine and its dependencies into a new virtual environment, a minute or
two from pip's cache): ``-m "not newlab"`` deselects it.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import synthlab  # noqa: E402

pytestmark = pytest.mark.newlab
NAME = "Robot Learning Lab"
#: The files `labhandbook init` wrote (from the checkout's templates), before the first build.
init_files: list[str] = []


def run(args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    env["NO_COLOR"] = "1"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files of this checkout, as pip would get them from the repository."""
    dest = tmp_path_factory.mktemp("engine")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for rel in filter(None, (f.decode() for f in files)):
        source = REPO / rel
        if source.is_file() and not rel.startswith(("tests/", "benchmarks/")):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    return dest


@pytest.fixture(scope="module")
def lab(engine: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("newlab") / "robot-lab"
    labhandbook = Path(sys.executable).parent / "labhandbook"
    out = ok(run([str(labhandbook), "init", str(root), "--name", NAME,
                  "--engine", f"@ file://{engine}"], cwd=root.parent))
    assert "make html" in out and "make test" in out
    init_files[:] = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return root


def test_a_new_lab_builds_and_passes_its_tests(lab: Path) -> None:
    ok(run(["make", "html"], lab))
    html = (lab / "_build/html/index.html").read_text(encoding="utf-8")
    assert NAME in html
    assert (lab / "requirements.lock").is_file(), "the first build must pin the versions"
    lock = (lab / "requirements.lock").read_text(encoding="utf-8")
    assert "sphinx==" in lock.casefold() and "labhandbook @ file://" in lock
    out = ok(run(["make", "test"], lab))
    assert " passed" in out and "failed" not in out
    # The engine installed as a package (not from a checkout, byte-compiled by pip) writes the
    # same lab.
    again = lab.parent / "again"
    ok(run([str(lab / ".venv/bin/labhandbook"), "init", str(again), "--name", NAME,
            "--engine", "@ file:///nowhere"], lab.parent))
    made = sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file())
    assert made == sorted(init_files), made
    # Nothing in the new lab points at the example lab of the engine's repository.
    for path in lab.rglob("*"):
        if path.is_file() and ".venv" not in path.parts and "_build" not in path.parts \
                and path.suffix in (".md", ".py", ".toml", ".yaml", ".yml", ".bib"):
            text = path.read_text(encoding="utf-8")
            assert "readthedocs.io" not in text, path
            assert "Lijun" not in text and "LLM & AI" not in text, path


def test_the_lab_replaced_by_its_own_people_and_papers(lab: Path) -> None:
    synthetic = synthlab.generate(20, 4, 200, seed=3)
    bin_dir = lab / ".venv" / "bin"
    for path in [*lab.glob("people/example-*.md"), *lab.glob("research/example-*.md"),
                 lab / "bib/example.bib"]:
        path.unlink()
    for area in synthetic.areas:
        ok(run([str(bin_dir / "labhandbook"), "new", "area", area.title, "--slug", area.slug,
                "--summary", area.summary, "--keyword", ",".join(area.keywords)], lab))
    table = lab / "people.csv"
    with table.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "role", "status", "joined", "left", "areas", "bib_names",
                         "slug"])
        for p in synthetic.people:
            writer.writerow([p.name, p.role, p.status, p.joined or "", p.left or "",
                             ";".join(p.areas), ";".join(p.bib_names), p.slug])
    out = ok(run([str(bin_dir / "labhandbook"), "import-people", "people.csv"], lab))
    assert "20 pages written" in out
    table.unlink()
    for name in synthlab.BIBFILES:
        chunk = [e for e in synthetic.entries if e.bibfile == name]
        (lab / "bib" / name).write_text(synthlab.bibtex(chunk), encoding="utf-8")
    index = (lab / "index.md").read_text(encoding="utf-8")
    assert "example" not in index.casefold(), "the home page must not name example content"
    ok(run(["make", "check"], lab))
    out = ok(run(["make", "test"], lab))
    assert " passed" in out and "failed" not in out
    ok(run(["make", "clean", "html"], lab))  # a clean build: what Read the Docs publishes
    people = {p.stem for p in (lab / "_build/html/people").glob("*.html")} - {"index"}
    assert people == {p.slug for p in synthetic.people}
    papers = list((lab / "_build/html/papers").glob("*.html"))
    assert len(papers) == len(synthetic.entries) == 200


def test_a_broken_link_fails_the_labs_tests_with_a_clear_message(lab: Path) -> None:
    page = next(p for p in sorted((lab / "people").glob("*.md")) if p.name != "index.md")
    original = page.read_text(encoding="utf-8")
    page.write_text(original + "\nSee <a href=\"../research/no-such-area.html\">our new "
                    "area</a>.\n", encoding="utf-8")
    try:
        result = run(["make", "test"], lab)
    finally:
        page.write_text(original, encoding="utf-8")
    assert result.returncode != 0
    report = result.stdout
    assert "test_every_internal_link_and_anchor_resolves" in report
    assert f"people/{page.stem}.html" in report and "research/no-such-area.html does not exist" \
        in report
