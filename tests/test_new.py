"""``labhandbook new person|area``: a valid page from a template, never an overwrite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import sphinx_build
from test_check import make_handbook, tree_digest

from labhandbook import cli
from labhandbook.check import check_handbook
from labhandbook.schema import Area, Person


def new(root: Path, *args: str) -> int:
    return cli.main(["new", *args, "--root", str(root)])


def front_matter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text.split("\n---\n", 1)[0].removeprefix("---\n"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_handbook(None, tmp_path)


@pytest.mark.parametrize(("name", "slug"), [
    ("Ada Byron", "ada-byron"),
    ("Zoë O'Brien", "zoe-obrien"),
    ("José Núñez-García", "jose-nunez-garcia"),
    ("Jörg Müßig", "jorg-mussig"),
    ("Łukasz Søndergård", "lukasz-sondergard"),
    ("  Grace   Hopper ", "grace-hopper"),
])
def test_new_person_is_valid_as_written(root: Path, name: str, slug: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert new(root, "person", name, "--area", "language-models", "--area", "ai-for-science",
               "--role", "postdoc") == 0
    out = capsys.readouterr().out
    rel = f"people/{slug}.md"
    assert out.startswith(f"Created {rel}\n")
    assert "Next steps" in out and "make check" in out and "pull request" in out
    data = front_matter(root / rel)
    person = Person.model_validate(data)
    assert person.name == " ".join(name.split())
    assert person.role == "postdoc"
    assert person.areas == ["language-models", "ai-for-science"]
    assert check_handbook(root) == []


def test_new_person_documents_every_field_in_place(root: Path) -> None:
    assert new(root, "person", "Ada Byron") == 0
    text = (root / "people/ada-byron.md").read_text(encoding="utf-8")
    front = text.split("\n---\n", 1)[0]
    for fld in Person.model_fields.values():
        key = fld.alias or next(k for k, v in Person.model_fields.items() if v is fld)
        assert f"\n{key}:" in front or f"\n# {key}:" in front, f"`{key}` is not in the template"
    for key in ("homepage", "scholar", "github", "orcid", "email"):
        assert f"#   {key}:" in front
    # every optional block, uncommented, is valid too
    uncommented = "\n".join(line.removeprefix("# ") if line.startswith(("# links", "#   ",
                                                                        "# photo", "# left",
                                                                        "# title", "# bib_names",
                                                                        "# affiliations",
                                                                        "# education",
                                                                        "# awards", "# service",
                                                                        "# news", "# openings"))
                            else line for line in front.splitlines())
    data = yaml.safe_load(uncommented.removeprefix("---\n"))
    data["status"] = "alumni"
    data["photo"] = "x.jpg"
    Person.model_validate(data)


def test_new_person_without_areas_and_with_default_role(root: Path) -> None:
    assert new(root, "person", "Ada Byron") == 0
    data = front_matter(root / "people/ada-byron.md")
    assert data["role"] == "phd" and data["areas"] == []
    assert check_handbook(root) == []


def test_new_person_refuses_to_overwrite(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(root)
    assert new(root, "person", "Ada Lovelace") == 1
    err = capsys.readouterr().err
    assert "people/ada-lovelace.md already exists" in err and "Traceback" not in err
    assert tree_digest(root) == before


def test_new_person_refuses_an_unknown_area(root: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(root)
    assert new(root, "person", "Ada Byron", "--area", "language-model") == 1
    err = capsys.readouterr().err
    assert "there is no research area `language-model`" in err
    assert "did you mean `language-models`?" in err
    assert new(root, "person", "Ada Byron", "--area", "quantum") == 1
    assert "ai-for-science, language-models" in capsys.readouterr().err
    assert tree_digest(root) == before


def test_new_person_refuses_a_name_that_is_taken(root: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(root)
    assert new(root, "person", "Ada Lovelace", "--slug", "ada-lovelace-2") == 1
    assert "is already used by people/ada-lovelace.md" in capsys.readouterr().err
    assert tree_digest(root) == before


@pytest.mark.parametrize(("args", "message"), [
    (["王小明"], "cannot make a file name from the name '王小明' — pass one with --slug"),
    (["Ada Byron", "--slug", "Ada_Byron"], "is not a file name the handbook accepts"),
    (["   "], "the name is empty"),
])
def test_new_person_refuses_bad_input(root: Path, args: list[str], message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(root)
    assert new(root, "person", *args) == 1
    assert message in capsys.readouterr().err
    assert tree_digest(root) == before


def test_new_person_with_a_name_that_needs_quoting(root: Path) -> None:
    assert new(root, "person", "王小明", "--slug", "wang-xiaoming") == 0
    assert new(root, "person", 'Yes: "No" #1', "--slug", "yes-no") == 0
    assert front_matter(root / "people/wang-xiaoming.md")["name"] == "王小明"
    assert front_matter(root / "people/yes-no.md")["name"] == 'Yes: "No" #1'
    assert check_handbook(root) == []


def test_unknown_role_is_a_usage_error(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        new(root, "person", "Ada Byron", "--role", "professor")
    assert exit_info.value.code == 2
    assert "invalid choice: 'professor'" in capsys.readouterr().err


def test_new_area_is_valid_as_written(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert new(root, "area", "Graph Neural Networks: Theory & Practice", "--lead",
               "ada-lovelace", "--keyword", "gnn,graphs") == 0
    out = capsys.readouterr().out
    rel = "research/graph-neural-networks-theory-practice.md"
    assert out.startswith(f"Created {rel}\n") and "keywords = {gnn}" in out
    area = Area.model_validate(front_matter(root / rel))
    assert area.title == "Graph Neural Networks: Theory & Practice"
    assert area.keywords == ["gnn", "graphs"] and area.leads == ["ada-lovelace"]
    assert check_handbook(root) == []


def test_new_area_defaults(root: Path) -> None:
    assert new(root, "area", "Quantum chemistry") == 0
    area = Area.model_validate(front_matter(root / "research/quantum-chemistry.md"))
    assert area.keywords == ["quantum-chemistry"] and area.status == "active"
    assert area.leads == []
    # members can now name the area, and papers can use its keyword
    assert new(root, "person", "Ada Byron", "--area", "quantum-chemistry") == 0
    assert check_handbook(root) == []


def test_new_area_refuses_to_overwrite_and_unknown_leads(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(root)
    assert new(root, "area", "Language models") == 1
    assert "research/language-models.md already exists" in capsys.readouterr().err
    assert new(root, "area", "Optics", "--lead", "nobody") == 1
    assert "there is no person `nobody`" in capsys.readouterr().err
    assert tree_digest(root) == before


def test_new_without_a_kind_prints_help(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["new"]) == 2
    assert "person" in capsys.readouterr().out


def test_new_pages_build_without_warnings(root: Path, tmp_path: Path) -> None:
    assert new(root, "area", "Quantum chemistry", "--lead", "ada-lovelace") == 0
    assert new(root, "person", "Zoë O'Brien", "--area", "quantum-chemistry,language-models",
               "--role", "postdoc") == 0
    build = sphinx_build(root, tmp_path / "out")
    assert build.warnings == ""
    directory = build.soup("people/index.html")
    links = [a for a in directory.find_all("a") if a.get("href") == "zoe-obrien.html"]
    assert links and "Zoë O" in links[0].get_text()
    page = build.soup("people/zoe-obrien.html")
    assert page.find("h1") and "Zoë O" in page.find("h1").get_text()
    assert any(a.get("href", "").endswith("quantum-chemistry.html") for a in page.find_all("a"))
    area = build.soup("research/quantum-chemistry.html")
    assert any(a.get("href", "").endswith("zoe-obrien.html") for a in area.find_all("a"))
