"""What the handbook keeps in Sphinx's pickled environment for the next ``make html``.

Each page's part of the navigation and headings digests (``incremental._toc_part``) is kept
with the environment, so a ``make html`` after a prose edit serialises the table of contents
of the re-read page only (at department scale all 219 pages' took 0.25 s of every build), and
a page read again gets its part worked out afresh. Each person and area page's reading
(``registry.PageCache``) is kept too: only a page whose bytes changed is read and validated
again."""

from __future__ import annotations

import pickle
from pathlib import Path

from conftest import ROOTS, cli_build, copy_project

from labhandbook import incremental
from labhandbook.registry import fingerprint


def _env(out: Path):  # noqa: ANN202 (Sphinx's BuildEnvironment, unpickled)
    with (out / "doctrees" / "environment.pickle").open("rb") as f:
        return pickle.load(f)  # noqa: S301 (the build's own file)


def test_the_toc_parts_are_kept_across_builds_until_a_page_is_read_again(
        tmp_path: Path) -> None:
    src = copy_project(ROOTS / "test-people", tmp_path / "src")
    out = tmp_path / "out"
    assert "exit 0" in cli_build(src, out).status
    env = _env(out)
    parts = getattr(env, incremental.TOC_PARTS_ATTR)
    assert set(parts) == set(env.tocs)
    # A part the next build must take as it is (it reads neither page): marked, written back.
    kept, edited = "people/ada-lovelace", "people/grace-hopper"
    parts[kept] = (*parts[kept][:2], "marked", parts[kept][3])
    with (out / "doctrees" / "environment.pickle").open("wb") as f:
        pickle.dump(env, f, pickle.HIGHEST_PROTOCOL)

    page = src / f"{edited}.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n## A new heading\n\nWords.\n",
                    encoding="utf-8")
    again = cli_build(src, out)
    assert "exit 0" in again.status, again.status + again.warnings
    env2 = _env(out)
    parts2 = getattr(env2, incremental.TOC_PARTS_ATTR)
    assert env2.all_docs[kept] == env.all_docs[kept]
    assert parts2[kept][2] == "marked" == getattr(env2, incremental.HEADINGS_ATTR)[kept]
    assert env2.all_docs[edited] != env.all_docs[edited]
    assert parts2[edited][0] == env2.all_docs[edited]
    assert parts2[edited][2] == fingerprint(str(env2.tocs[edited])) != parts[edited][2]


def test_the_pages_readings_are_kept_across_builds(tmp_path: Path) -> None:
    """The next process reads again only the saved person page; a broken page is reported
    from the kept reading as from a fresh one."""
    from labhandbook.environment import PAGES_ATTR

    src = copy_project(ROOTS / "test-people", tmp_path / "src")
    out = tmp_path / "out"
    assert "exit 0" in cli_build(src, out).status
    pages = len(list((src / "people").glob("*.md")) + list((src / "research").glob("*.md")))
    pages -= 2  # the two index pages are not people or areas
    first = getattr(_env(out), PAGES_ATTR)
    assert first.reads == pages == len(first.pages)
    person = src / "people" / "grace-hopper.md"
    person.write_text(person.read_text(encoding="utf-8") + "\nOne more sentence.\n",
                      encoding="utf-8")
    assert "exit 0" in cli_build(src, out).status
    assert getattr(_env(out), PAGES_ATTR).reads == pages + 1

    text = person.read_text(encoding="utf-8")
    person.write_text(text.replace("---\n", "---\nrole: wizard\n", 1), encoding="utf-8")
    broken = cli_build(src, out)
    assert "exit 0" not in broken.status and "grace-hopper.md" in broken.warnings
    assert "role" in broken.warnings
