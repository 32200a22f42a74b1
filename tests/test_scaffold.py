"""``labhandbook init``, ``import-people`` and ``upgrade`` without building: what they write,
what they refuse (located, exit 1, nothing written) and that running them twice is harmless."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOTS

from labhandbook.cli import main
from labhandbook.config import LabConfig
from labhandbook.registry import load_registry
from labhandbook.scaffold import lab_files


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    root = tmp_path / "lab"
    shutil.copytree(ROOTS / "test-people", root)
    return root


# --- init ---------------------------------------------------------------------------------------


def test_init_writes_a_complete_lab_with_the_given_settings(tmp_path: Path, capsys) -> None:
    dest = tmp_path / "new"
    assert main(["init", str(dest), "--name", "Robot Learning Lab", "--email", "lab@example.org",
                 "--repository", "https://github.com/example/robot-lab"]) == 0
    files = snapshot(dest)
    for expected in ("conf.py", "index.md", "people/index.md", "research/index.md",
                     "bib/example.bib",
                     "_static/.gitkeep", "pyproject.toml", "tests/test_site.py", "Makefile",
                     ".readthedocs.yaml", ".github/workflows/ci.yml",
                     ".github/pull_request_template.md", "CONTRIBUTING.md", "README.md",
                     ".gitignore"):
        assert expected in files, expected
    conf = files["conf.py"].decode()
    namespace: dict = {}
    exec(compile(conf, "conf.py", "exec"), namespace)  # the settings are valid Python
    assert namespace["LAB"]["name"] == "Robot Learning Lab"
    assert namespace["html_theme_options"]["repository_url"] == \
        "https://github.com/example/robot-lab"
    # The example content is valid and marked as an example.
    registry, problems = load_registry(dest, LabConfig())
    assert problems == []
    assert list(registry.people) == ["example-person"] and list(registry.areas) == ["example-area"]
    for page in ("people/example-person.md", "research/example-area.md"):
        assert "EXAMPLE" in files[page].decode()
    out = capsys.readouterr().out
    assert "make html" in out and "make test" in out


def test_init_fills_every_placeholder() -> None:
    from labhandbook.scaffold import LabSettings

    files = lab_files(LabSettings(name='The "Quoted" Lab', tagline="Robots.",
                                  institution="Somewhere"))
    leftovers = {rel for rel, text in files.items()
                 if any(marker in text for marker in ("@NAME", "@TAGLINE", "@ENGINE",
                                                       "@REPOSITORY", "@DIST", "@LABHANDBOOK"))}
    assert not leftovers
    assert yaml.safe_load(files[".readthedocs.yaml"])["sphinx"]["configuration"] == "conf.py"


def test_init_never_writes_into_a_folder_with_files(tmp_path: Path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["init", str(tmp_path), "--name", "Lab"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_init_without_a_name_and_no_terminal_says_how(tmp_path: Path, capsys, monkeypatch
                                                      ) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["init", str(tmp_path / "x")]) == 1
    assert "--name" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# --- import-people --------------------------------------------------------------------------------

CSV = """name,role,areas,bib_names,email,joined
Émilie du Châtelet,postdoc,engines,"Châtelet, Émilie du;du Châtelet, É.",emilie@example.org,2024-09
Alan Turing,phd,,,,2025
"""


def test_import_people_writes_one_valid_page_per_row(lab: Path, capsys) -> None:
    (lab / "people.csv").write_text(CSV, encoding="utf-8")
    assert main(["import-people", "--root", str(lab), str(lab / "people.csv")]) == 0
    registry, problems = load_registry(lab, LabConfig())
    assert problems == []
    emilie = registry.people["emilie-du-chatelet"]
    assert emilie.role == "postdoc" and emilie.areas == ["engines"]
    assert emilie.bib_names == ["Châtelet, Émilie du", "du Châtelet, É."]
    assert emilie.links.email == "emilie@example.org" and emilie.joined == "2024-09"
    assert registry.people["alan-turing"].role == "phd"
    assert "2 pages written" in capsys.readouterr().out


def test_import_people_reads_yaml_too(lab: Path) -> None:
    (lab / "people.yaml").write_text(
        "- name: Alan Turing\n  role: phd\n  areas: [engines]\n- name: Kurt Gödel\n",
        encoding="utf-8")
    assert main(["import-people", "--root", str(lab), str(lab / "people.yaml")]) == 0
    registry, _ = load_registry(lab, LabConfig())
    assert registry.people["alan-turing"].areas == ["engines"]
    assert "kurt-godel" in registry.people


@pytest.mark.parametrize(("table", "line", "words"), [
    ("name,role\nAlan Turing,phd\nAda Lovelace,phd\n", 3, "already has a page"),
    ("name,role\nAlan Turing,phd\nAlan Turing,postdoc\n", 3, "also on line 2"),
    ("name,areas\nAlan Turing,engines;time-travel\n", 2, "no research area `time-travel`"),
    ("name,role\nAlan Turing,wizard\n", 2, "unknown role 'wizard'"),
    ("name,colour\nAlan Turing,blue\n", 2, "unknown column(s) 'colour'"),
    ("name,role\n,phd\n", 2, "has no name"),
    ("role\nphd\n", 1, "must name the columns"),
    ("name,joined\nAlan Turing,last spring\n", 2, "`joined`"),
])
def test_import_people_refuses_with_a_located_message_and_writes_nothing(
        lab: Path, capsys, table: str, line: int, words: str) -> None:
    (lab / "people.csv").write_text(table, encoding="utf-8")
    before = snapshot(lab)
    assert main(["import-people", "--root", str(lab), str(lab / "people.csv")]) == 1
    err = capsys.readouterr().err
    assert f"people.csv:{line}:" in err and words in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert snapshot(lab) == before


def test_import_people_dry_run_writes_nothing(lab: Path, capsys) -> None:
    (lab / "people.csv").write_text(CSV, encoding="utf-8")
    before = snapshot(lab)
    assert main(["import-people", "--root", str(lab), "--dry-run", str(lab / "people.csv")]) == 0
    assert "Would create people/alan-turing.md" in capsys.readouterr().out
    assert snapshot(lab) == before


# --- upgrade ------------------------------------------------------------------------------------

DUPLICATED = """---
name: Alan Turing
role: phd
# the areas, first try
areas: [engines]
joined: 2025
links:
  github: https://github.com/old
  github: https://github.com/new
areas:
  - notes
---

# Alan Turing

Prose stays.
"""


def test_upgrade_removes_duplicate_keys_keeping_what_the_site_showed(lab: Path, capsys) -> None:
    page = lab / "people/alan-turing.md"
    page.write_text(DUPLICATED, encoding="utf-8")
    before = yaml.safe_load(DUPLICATED.split("---")[1])  # PyYAML: the last value wins
    assert main(["upgrade", "--root", str(lab)]) == 0
    out = capsys.readouterr().out
    assert "people/alan-turing.md:5: removed `areas`" in out
    assert "people/alan-turing.md:8: removed `github`" in out
    text = page.read_text(encoding="utf-8")
    assert yaml.safe_load(text.split("---")[1]) == before
    assert "# the areas, first try" in text and text.endswith("Prose stays.\n")
    assert text.count("areas:") == 1 and text.count("github:") == 1
    # Twice changes nothing.
    again = snapshot(lab)
    assert main(["upgrade", "--root", str(lab)]) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert snapshot(lab) == again


def test_upgrade_dry_run_writes_nothing(lab: Path, capsys) -> None:
    (lab / "people/alan-turing.md").write_text(DUPLICATED, encoding="utf-8")
    before = snapshot(lab)
    assert main(["upgrade", "--root", str(lab), "--dry-run"]) == 0
    assert "2 changes to make" in capsys.readouterr().out
    assert snapshot(lab) == before


def test_init_asks_for_the_settings_in_a_terminal(tmp_path: Path, capsys, monkeypatch) -> None:
    answers = iter(["Robot Learning Lab", "We teach robots.", "", "Springfield",
                    "lab@example.org", "", ""])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    assert main(["init", str(tmp_path / "lab")]) == 0
    conf = (tmp_path / "lab/conf.py").read_text(encoding="utf-8")
    assert '"name": "Robot Learning Lab"' in conf and '"tagline": "We teach robots."' in conf
    assert '"location": "Springfield"' in conf and '"email": "lab@example.org"' in conf
    assert "institutions" not in conf  # left empty: not written, never invented


def test_a_lab_made_with_every_option_builds_and_shows_them(tmp_path: Path) -> None:
    """The settings init writes are the engine's lab settings: the build accepts them (zero
    warnings) and the home and contact pages show them."""
    from conftest import sphinx_build

    dest = tmp_path / "lab"
    assert main(["init", str(dest), "--name", "Robot Learning Lab", "--tagline", "Robots.",
                 "--institution", "Example University", "--location", "Springfield",
                 "--email", "lab@example.org"]) == 0
    built = sphinx_build(dest, tmp_path / "out")
    assert built.exit == 0 and not built.warnings.strip(), built.warnings
    home = built.soup("index.html").get_text(" ", strip=True)
    assert "Example University" in home and "Springfield" in home
    contact = built.html("contact.html")
    assert "Example University" in contact
    assert 'data-user="lab"' in contact and 'data-domain="example.org"' in contact


def test_no_template_file_is_a_dotfile() -> None:
    """The wheel's package-data globs skip names that start with a dot, so a new lab made by
    an installed engine would miss them: they are shipped as dot-NAME."""
    from conftest import REPO

    hidden = [p.relative_to(REPO).as_posix()
              for p in (REPO / "labhandbook/templates").rglob(".*")]
    assert not hidden, f"name these dot-NAME: {hidden}"
