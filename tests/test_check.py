"""``labhandbook check``: every mistake a lab member can make, located to its file and line.

Each :class:`Case` is one broken handbook: ``tests/roots/test-check`` copied to a temporary
folder and changed by the case (``apply``). The same table can drive other tests, e.g. a Sphinx
build that must report the same problem::

    from test_check import CASES, make_handbook

    root = make_handbook(case, tmp_path)   # the broken copy
    # ... build root and look for f"{case.path}:{case.line}" and case.message
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import REPO, ROOTS

from labhandbook import cli
from labhandbook.bibcheck import check_library
from labhandbook.check import check_handbook, run_check
from labhandbook.config import LabConfig
from labhandbook.registry import load_registry

TEST_ROOT = ROOTS / "test-check"


@dataclass(frozen=True)
class Case:
    """One broken input and the problem it must produce."""

    id: str
    path: str  #: the file the problem is reported in
    line: int  #: ... and its line
    message: str  #: a substring of ``Problem.message``
    severity: str = "error"
    #: (file, old, new): replace ``old`` (which must occur exactly once) by ``new``
    edits: tuple[tuple[str, str, str], ...] = ()
    #: file -> new content (text or bytes), or None to delete the file
    files: dict[str, str | bytes | None] = field(default_factory=dict)
    code: str | None = None  #: the problem's ``code``, when the case pins it

    def apply(self, root: Path) -> None:
        for rel, old, new in self.edits:
            target = root / rel
            text = target.read_text(encoding="utf-8")
            assert text.count(old) == 1, f"{self.id}: {old!r} is not once in {rel}"
            target.write_text(text.replace(old, new), encoding="utf-8")
        for rel, content in self.files.items():
            target = root / rel
            if content is None:
                target.unlink()
            elif isinstance(content, bytes):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")

    @property
    def exit_code(self) -> int:
        return 1 if self.severity == "error" else 0


def make_handbook(case: Case | None, tmp_path: Path) -> Path:
    """A copy of the test handbook with ``case`` applied."""
    root = tmp_path / "handbook"
    shutil.copytree(TEST_ROOT, root)
    if case is not None:
        case.apply(root)
    return root


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content hash (to prove nothing was written)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


PAPERS, PREPRINTS = "bib/papers.bib", "bib/preprints.bib"
ADA, LIJUN, LLM = "people/ada-lovelace.md", "people/lijun-wu.md", "research/language-models.md"
GOOD_ENTRY = """
@misc{extra2025,
  author = {Wu, Lijun},
  title = {Extra},
  year = {2025},
}
"""

CASES: list[Case] = [
    # --- front matter of people and research pages (the registry) ---------------------------
    Case("yaml-syntax", LIJUN, 4, "not valid YAML",
         edits=((LIJUN, "joined: 2021-09", "joined: [2021-09"),), code="frontmatter.yaml"),
    Case("yaml-tab-indent", ADA, 9, "not valid YAML",
         edits=((ADA, "  homepage:", "\thomepage:"),)),
    Case("front-matter-unclosed", ADA, 1, "front matter is not closed",
         edits=((ADA, "---\n\n# Ada", "\n# Ada"),)),
    Case("no-front-matter", "people/grace-hopper.md", 1, "no front matter",
         files={"people/grace-hopper.md": "# Grace Hopper\n\nNo facts.\n"}),
    Case("wrong-type-list", LIJUN, 5, "`areas` is not valid",
         edits=((LIJUN, "areas:\n  - language-models", "areas: language-models"),)),
    Case("wrong-type-mapping", ADA, 8, "`links` is not valid",
         edits=((ADA, "links:\n  homepage: https://example.org/ada",
                 "links: https://example.org/ada"),)),
    Case("unknown-key", ADA, 4, "unknown key `joind`",
         edits=((ADA, "joined: 2019-09", "joind: 2019-09"),), code="frontmatter.unknown-key"),
    Case("unknown-nested-key", ADA, 9, "unknown key `links.homepag`",
         edits=((ADA, "  homepage:", "  homepag:"),)),
    Case("bad-role", ADA, 3, "`role` cannot be 'professor'",
         edits=((ADA, "role: pi", "role: professor"),)),
    Case("bad-date", LIJUN, 4, "`joined` is not valid",
         edits=((LIJUN, "joined: 2021-09", "joined: 2021-13"),)),
    Case("alumni-without-left", LIJUN, 4, "alumni need the date they left",
         edits=((LIJUN, "role: phd", "role: phd\nstatus: alumni"),)),
    Case("javascript-link", ADA, 9, "`links.homepage` is not valid",
         edits=((ADA, "https://example.org/ada", "javascript:alert(1)"),)),
    Case("missing-name", LIJUN, 2, "`name` is missing",
         edits=((LIJUN, "name: Lijun Wu\n", ""),)),
    Case("unknown-area", LIJUN, 6, "unknown research area `language-model`",
         edits=((LIJUN, "  - language-models", "  - language-model"),),
         code="registry.unknown-area"),
    Case("unknown-lead", LLM, 5, "unknown person `ada-lovelac`",
         edits=((LLM, "leads: [ada-lovelace]", "leads: [ada-lovelac]"),)),
    Case("area-without-keywords", LLM, 2, "`keywords` is missing",
         edits=((LLM, "keywords: [llm, reasoning]\n", ""),)),
    Case("duplicate-name-variant", "people/augusta-ada.md", 2,
         "the name spelling 'Lovelace, Ada' also belongs to `ada-lovelace`",
         files={"people/augusta-ada.md": "---\nname: Ada Lovelace\nrole: phd\n---\n# Ada\n"},
         code="registry.duplicate-name"),
    Case("missing-alt-text", ADA, 6, "a photo needs alternative text",
         edits=((ADA, "photo_alt: Ada Lovelace smiling in front of a whiteboard\n", ""),)),
    Case("missing-photo", ADA, 6, "the photo `ada-lovelace.png` does not exist",
         files={"people/ada-lovelace.png": None}, code="registry.missing-photo"),
    Case("file-name-not-slug", "people/Grace_Hopper.md", 1, "is not a slug",
         files={"people/Grace_Hopper.md": "---\nname: Grace Hopper\nrole: phd\n---\n# G\n"}),
    Case("page-not-utf8", ADA, 14, "not UTF-8",
         edits=(), files={ADA: (TEST_ROOT / ADA).read_bytes().replace(b"leads", b"l\xe9ads")}),
    Case("news-unknown-paper", LIJUN, 12, "names `wu2024scalling`",
         edits=((LIJUN, "papers: [wu2024scaling]", "papers: [wu2024scalling]"),),
         code="bib.unknown-paper"),
    Case("selected-unknown-paper", LIJUN, 9, "`selected` names `wu2024scalling`",
         edits=((LIJUN, "bib_names:\n", "selected:\n  - wu2024scaling\n  - wu2024scalling\n"
                 "bib_names:\n"),), code="bib.unknown-paper"),
    Case("selected-twice", LIJUN, 7, "a paper is listed twice",
         edits=((LIJUN, "bib_names:\n", "selected: [wu2024scaling, wu2024scaling]\n"
                 "bib_names:\n"),)),
    # --- conf.py ---------------------------------------------------------------------------
    Case("conf-syntax", "conf.py", 3, "conf.py is not valid Python",
         edits=(("conf.py", '{"lab_name": "Check lab"}', '{"lab_name": "Check lab"'),)),
    Case("conf-unknown-setting", "conf.py", 3, "unknown key(s) in `labhandbook`: lab_nme",
         edits=(("conf.py", '"lab_name"', '"lab_nme"'),)),
    # --- the BibTeX library -----------------------------------------------------------------
    Case("bib-missing-close-brace", PAPERS, 3, "has a `{` without its `}`",
         edits=((PAPERS, "{Notes on the Analytical Engine}", "{Notes on the Analytical Engine"),),
         code="bib.braces"),
    Case("bib-extra-close-brace", PAPERS, 12, "has a `}` too many",
         edits=((PAPERS, "{Scaling Laws for Reasoning}", "{Scaling Laws for Reasoning}}"),)),
    Case("bib-entry-not-closed", PREPRINTS, 8, "the entry `wu2025proteins` is not closed",
         edits=((PREPRINTS, "pubtype = {preprint},\n}", "pubtype = {preprint},\n"),)),
    Case("bib-missing-comma", PAPERS, 4, "BibTeX syntax error in `lovelace2023engines`",
         edits=((PAPERS, "Analytical Engine},", "Analytical Engine}"),)),
    Case("bib-undefined-macro", PAPERS, 4, "`journal` of `lovelace2023engines` uses `Nature`",
         edits=((PAPERS, "journal = {Journal of Engines}", "journal = Nature"),)),
    Case("bib-duplicate-key-across-files", PREPRINTS, 1,
         "the key `wu2024scaling` is already used (bib/papers.bib:10)",
         edits=((PREPRINTS, "@misc{wu2025proteins,", "@misc{wu2024scaling,"),),
         code="bib.duplicate-key"),
    Case("bib-duplicate-key-case", "bib/zz.bib", 3, "the key `WU2024Scaling` is already used",
         files={"bib/zz.bib": "\n" + GOOD_ENTRY.replace("extra2025", "WU2024Scaling")}),
    Case("bib-duplicate-key-same-file", PAPERS, 21, "already used (line 10)",
         edits=((PAPERS, "{1,2},\n}\n",
                 "{1,2},\n}\n" + GOOD_ENTRY.replace("extra2025", "wu2024scaling")),)),
    Case("bib-duplicate-field", PAPERS, 5, "has the field `title` twice",
         edits=((PAPERS, "  year = {2023},\n", "  title = {Again},\n"),)),
    Case("bib-missing-title", PAPERS, 10, "`wu2024scaling` has no `title`", "warning",
         edits=((PAPERS, "  title = {Scaling Laws for Reasoning},\n", ""),),
         code="bib.missing-field"),
    Case("bib-empty-title", PAPERS, 3, "has an empty `title`", "warning",
         edits=((PAPERS, "{Notes on the Analytical Engine}", "{ }"),)),
    Case("bib-article-without-journal", PAPERS, 1, "`lovelace2023engines` has no `journal`",
         "warning",
         edits=((PAPERS, "  journal = {Journal of Engines},\n", ""),)),
    Case("bib-unpublished-without-author", PREPRINTS, 1, "`wu2025proteins` has no `author`",
         "warning", edits=((PREPRINTS, "  author = {Wu, Lijun and Turing, Alan},\n", ""),
                           (PREPRINTS, "@misc{", "@unpublished{"))),
    Case("bib-bad-year", PAPERS, 14, "is not a date: 'forthcoming'", "warning",
         edits=((PAPERS, "year = {2024}", "year = {forthcoming}"),)),
    Case("bib-unknown-type", PAPERS, 1, "unknown entry type `@journal`", "warning",
         edits=((PAPERS, "@article{", "@journal{"),)),
    Case("bib-bad-doi", PAPERS, 6, "is not a DOI: 'doi.10.1234'; it is shown without a link",
         "warning", edits=((PAPERS, "10.1234/engines.2023.1", "doi.10.1234"),),
         code="bib.doi"),
    Case("bib-doi-as-link", PAPERS, 6, "is a link, not a DOI", "warning",
         edits=((PAPERS, "{10.1234/engines", "{https://doi.org/10.1234/engines"),)),
    Case("bib-javascript-url", PAPERS, 15, "`url` of `wu2024scaling` is not a web address",
         edits=((PAPERS, "https://example.org/scaling.pdf", "javascript:alert(1)"),),
         code="bib.url"),
    Case("bib-code-not-a-url", PAPERS, 16, "`code` of `wu2024scaling` is not a web address",
         edits=((PAPERS, "https://github.com/example/scaling", "github.com/example/scaling"),)),
    Case("bib-http-url", PAPERS, 15, "`url` of `wu2024scaling` is not https", "warning",
         edits=((PAPERS, "https://example.org/scaling.pdf", "http://example.org/scaling.pdf"),)),
    Case("bib-bad-arxiv-id", PREPRINTS, 5, "is not an arXiv id: '2501.123'",
         edits=((PREPRINTS, "{2501.01234}", "{2501.123}"),), code="bib.eprint"),
    Case("bib-arxiv-prefix", PREPRINTS, 5, "is not a bare arXiv id", "warning",
         edits=((PREPRINTS, "{2501.01234}", "{arXiv:2501.01234}"),)),
    Case("bib-unknown-keyword", PREPRINTS, 7, "unknown keyword `protein`", "warning",
         edits=((PREPRINTS, "{proteins}", "{protein}"),), code="bib.unknown-keyword"),
    Case("bib-keyword-wrong-case", PAPERS, 17, "unknown keyword `LLM`", "warning",
         edits=((PAPERS, "{llm, reasoning}", "{LLM, reasoning}"),)),
    Case("bib-bad-pubtype", PREPRINTS, 8, "`pubtype` of `wu2025proteins` cannot be 'poster'",
         edits=((PREPRINTS, "{preprint}", "{poster}"),)),
    Case("bib-bad-equalcontrib", PAPERS, 18, "`equalcontrib` of `wu2024scaling` is not valid",
         edits=((PAPERS, "{1,2}", "{1,3}"),)),
    Case("bib-initials-only", LIJUN, 2,
         "Lijun Wu: 'Wu, L.' fits only loosely (initial or short form) and is given to Lijun "
         "Wu (1 paper: wu2024scaling)", "note",
         edits=((PAPERS, "{Wu, Lijun and Lovelace", "{Wu, L. and Lovelace"),
                (LIJUN, "bib_names:\n  - Wu, Lijun\n", "")),
         code="names.unsure"),
    Case("bib-names-swapped", PREPRINTS, 2, "with first and last name swapped", "warning",
         edits=((PREPRINTS, "{Wu, Lijun and Turing", "{Lijun, Wu and Turing"),)),
    Case("bib-authors-separated-by-commas", PREPRINTS, 2, "looks like two names", "warning",
         edits=((PREPRINTS, "{Wu, Lijun and Turing, Alan}", "{Lijun Wu, Alan Turing}"),)),
    Case("bib-no-lab-member", PREPRINTS, 1, "no author of `wu2025proteins` is a lab member",
         "warning", edits=((PREPRINTS, "{Wu, Lijun and Turing", "{Hopper, Grace and Turing"),),
         code="bib.no-member"),
    Case("bib-not-utf8", PREPRINTS, 3, "the file is not UTF-8 text",
         files={PREPRINTS: (TEST_ROOT / PREPRINTS).read_bytes().replace(b"Protein", b"Prot\xe9in")},
         code="bib.encoding"),
    Case("bib-empty-file", "bib/empty.bib", 1, "the file holds no BibTeX entries", "warning",
         files={"bib/empty.bib": "% nothing here yet\n"}, code="bib.empty"),
]


def _problem_matches(problems, case: Case):  # noqa: ANN001, ANN202
    return [p for p in problems if p.path == case.path and p.line == case.line
            and case.message in p.message and p.severity == case.severity
            and (case.code is None or p.code == case.code)]


def test_the_table_is_large_and_unique() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_unchanged_handbook_is_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    root = make_handbook(None, tmp_path)
    assert check_handbook(root) == []
    assert cli.main(["check", "--strict", "--root", str(root)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("labhandbook check: no problems (")
    assert "2 person pages, 2 research areas, 3 BibTeX entries in 2 files" in out[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_check_reports_the_mistake(case: Case, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = make_handbook(case, tmp_path)
    before = tree_digest(root)

    problems = check_handbook(root)
    found = _problem_matches(problems, case)
    assert found, f"expected {case.path}:{case.line}: {case.message!r} ({case.severity}); got:\n" \
        + "\n".join(f"{p} [{p.severity}, {p.code}]" for p in problems)
    assert all(p.hint for p in problems), "every problem says what to do"

    code = cli.main(["check", "--root", str(root)])
    out, err = capsys.readouterr()
    assert code == case.exit_code
    prefix = f"{case.path}:{case.line}: " + ("warning: " if case.severity == "warning" else "")
    assert any(line.startswith(prefix) and case.message in line and " — " in line
               for line in out.splitlines()), out
    assert "Traceback" not in out + err
    assert out.strip().splitlines()[-1].startswith("labhandbook check: ")
    if case.severity == "warning":
        assert cli.main(["check", "--strict", "--root", str(root)]) == 1
        capsys.readouterr()

    assert tree_digest(root) == before, "check must not write to the handbook"


# A few cases through the installed command, as CI runs it: exit status and no traceback.
@pytest.mark.parametrize("case", [c for c in CASES if c.id in {
    "yaml-syntax", "bib-missing-close-brace", "bib-not-utf8", "bib-initials-only",
    "conf-syntax"}], ids=lambda c: c.id)
def test_command_line(case: Case, tmp_path: Path) -> None:
    root = make_handbook(case, tmp_path)
    run = subprocess.run([sys.executable, "-m", "labhandbook", "check"], cwd=root,
                         capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert run.returncode == case.exit_code
    assert f"{case.path}:{case.line}: " in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert run.stderr == ""


def test_problems_of_broken_pages_are_not_repeated_for_the_library(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A YAML error hides the area's keywords; the entries tagged with them are not reported.
    case = Case("x", LLM, 4, "not valid YAML", edits=((LLM, "reasoning]", "reasoning"),))
    root = make_handbook(case, tmp_path)
    problems = check_handbook(root)
    assert [p.code for p in problems] == ["frontmatter.yaml"]
    assert cli.main(["check", "--root", str(root)]) == 1
    assert "more problems may only follow from the pages above" in capsys.readouterr().out


def test_every_problem_of_a_file_is_reported_in_one_run(tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    for case in CASES:
        if case.id in {"bib-missing-title", "bib-bad-doi", "bib-javascript-url"}:
            case.apply(root)
    problems = {(p.path, p.line, p.code) for p in check_handbook(root)}
    assert {(PAPERS, 10, "bib.missing-field"), (PAPERS, 6, "bib.doi"),
            (PAPERS, 14, "bib.url")} <= problems


def test_valid_spellings_are_accepted(tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    (root / "bib" / "more.bib").write_text("""
@misc{a2020, author = {Lijun Wu}, title = {A}, year = 2020,
  eprint = {hep-th/9901001v2}, archiveprefix = {arXiv}, month = may}
@misc{b2020, author = {{Wu}, Lijun and others}, title = {B}, year = {2020},
  eprint = {1501.00001v3}, doi = {10.1145/3292500.3330701}, pubtype = {Other}}
@string{eng = "Journal of Engines"}
@article{c2020, author = "Lovelace, Ada", title = "C", journal = eng, year = 2020,
  keywords = {llm,reasoning , ai4science}, url = {https://example.org/a?b=c&d=e}}
@comment{ anything { goes } here }
@Comment{jabref-meta: databaseType:bibtex;}
@comment{an old version:
  title = {Old},
}
% year = 2000,
""", encoding="utf-8")
    assert check_handbook(root) == []


def test_check_library_alone_matches_the_handbook_check(tmp_path: Path) -> None:
    """The build calls check_library with its own registry; the wording is the same."""
    case = next(c for c in CASES if c.id == "bib-javascript-url")
    root = make_handbook(case, tmp_path)
    lab = LabConfig.from_dict({"lab_name": "Check lab"})
    registry, _ = load_registry(root, lab)
    assert check_library(root, lab, registry) == [p for p in check_handbook(root)
                                                  if p.path.startswith("bib/")]


def test_no_traceback_on_an_internal_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import labhandbook.check

    def boom(root: Path) -> None:
        raise KeyError("unexpected")

    monkeypatch.setattr(labhandbook.check, "run_check", boom)
    assert cli.main(["check", "--root", str(make_handbook(None, tmp_path))]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.startswith("labhandbook check: internal error: KeyError")
    assert len(err.strip().splitlines()) == 1


def test_missing_conf_py_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--root", str(tmp_path)]) == 1
    assert "conf.py:1: there is no conf.py" in capsys.readouterr().out


def test_github_annotations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in CASES if c.id == "bib-javascript-url")
    root = make_handbook(case, tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.chdir(tmp_path)
    cli.main(["check", "--root", str(root)])
    out = capsys.readouterr().out
    assert "::error file=handbook/bib/papers.bib,line=15,title=labhandbook check::the `url`" in out


def test_thousands_of_entries_are_read_without_problems(tmp_path: Path) -> None:
    """Correctness at scale; the speed is measured by `make bench`, not asserted here."""
    root = make_handbook(None, tmp_path)
    entries = []
    for i in range(3000):
        entries.append(f"""@inproceedings{{paper{i},
  author = {{Wu, Lijun and Lovelace, Ada and Person{i}, Some and Other, Name}},
  title = {{A {{Study}} of Things, Part {i}}},
  booktitle = {{Proceedings of the Conference on Things}},
  year = {{{2000 + i % 25}}},
  pages = {{1--10}},
  doi = {{10.1234/things.{i}}},
  url = {{https://example.org/{i}.pdf}},
  eprint = {{2401.{i:05d}}},
  archiveprefix = {{arXiv}},
  keywords = {{llm, reasoning}},
}}
""")
    (root / "bib" / "big.bib").write_text("\n".join(entries), encoding="utf-8")
    lab = LabConfig.from_dict({"lab_name": "Check lab"})
    registry, _ = load_registry(root, lab)
    problems = check_library(root, lab, registry)
    assert problems == []
    result = run_check(root)
    assert result.entries == 3003


# --- tricky syntax and names: the located reader and the name split equal pybtex's ------------

TRICKY_BIB = r"""
Text before the first entry is a comment, even with = signs.
@String{jeng = "Journal of " # "Engines"}
@STRING{ conf = {Conference} }
@preamble{ "\newcommand{\x}{y}" }
@comment{ @misc{notreal, title = {x}} }
@Article{ Key:2020/a-b,
  AUTHOR = "Lovelace, Ada and {Babbage}, Charles and de la Vallée Poussin, Charles-Jean",
  Title = "A {"}quoted{"} and {nested {braces}} title",
  journal = jeng,
  year = 2020, month = jan,
  note = conf # { of } # "Things" # {2020},
  pages = "1--10",
}
@misc{trailing, title={No trailing comma},
  author = {Ludwig van Beethoven and Jr., Sammy Davis and others}, year={1999}}
@misc{empty_value, title = {}, author = {}, year = {2000},
  url = {https://example.org/a%20b?c={d}},}
"""


def _bib_texts() -> list[tuple[str, str]]:
    texts = [("tricky", TRICKY_BIB)]
    for path in sorted(set(REPO.glob("bib/*.bib")) | set(ROOTS.glob("*/bib/*.bib"))):
        texts.append((str(path.relative_to(REPO)), path.read_text(encoding="utf-8-sig")))
    return texts


TRICKY_NAMES = [
    "Lovelace, Ada", "Ada Lovelace", "Ada King Lovelace", "de la Vallée Poussin, Charles",
    "Charles de la Vallée Poussin", "Ludwig van Beethoven", "Davis, Jr., Sammy",
    "van der Berg, Jan Piet", "Jean-Luc Picard", "Wu, L.", "L. Wu", "Wu", "wu lijun",
    "Garcia de la Cruz, Maria", "Lijun Wu, Alan Turing", "'t Hooft, Gerard", "Gerard 't Hooft",
    "O'Brien, Zoë", "Zoë O'Brien", "Müller, Jörg", "  Spaces   Around  ", "Aristotle",
    "von Neumann, John", "John von Neumann", "Li, Xiao-Ming", "Ng, Andrew Y.",
    "Andrew Y. Ng", "ALL CAPS NAME", "Name with 42 digit", "Jr., Sammy",
]


def test_fast_name_split_equals_pybtex() -> None:
    from pybtex.bibtex.utils import split_name_list
    from pybtex.database import Person
    from pybtex.database.input.bibtex import Parser

    from labhandbook.names import Name, parse_name

    names = list(TRICKY_NAMES)
    for _, text in _bib_texts():
        data = Parser().parse_string(text)
        for entry in data.entries.values():
            for role in ("author", "editor"):
                names.extend(split_name_list(entry.fields.get(role, "")))
                names.extend(str(p) for p in entry.persons.get(role, []))
    for name in names:
        fast = parse_name(name)
        if fast is not None:
            assert fast == Name.of(Person(name)), name
            assert str(fast) == str(Person(name)), name


# --- the contributor workflow around the checks ----------------------------------------------


def test_contributing_explains_every_check() -> None:
    import re

    from labhandbook.bibcheck import REQUIRED_FIELDS
    from labhandbook.schema import ROLES

    guide = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    sources = "".join((REPO / "labhandbook" / name).read_text(encoding="utf-8")
                      for name in ("registry.py", "bibcheck.py", "check.py"))
    kinds = "bib|conf|frontmatter|page|registry|html"
    codes = set(re.findall(rf"\"((?:{kinds})\.[a-z-]+)\"", sources))
    codes.discard("conf.py")
    codes |= {"bib.openreview", "bib.acl"}  # f"bib.{name}"
    assert len(codes) > 40
    undocumented = sorted(c for c in codes if f"`[{c}]`" not in guide)
    assert not undocumented, f"CONTRIBUTING.md does not explain {undocumented}"
    for kind, required in REQUIRED_FIELDS.items():
        row = ", ".join(r if isinstance(r, str) else " or ".join(r) for r in required)
        assert f"| `@{kind}` | {row} |" in guide
    for role in ROLES:
        assert f"`{role}`" in guide


def test_github_workflow_and_templates() -> None:
    import yaml

    ci = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text(encoding="utf-8"))
    assert "pull_request" in ci[True]  # YAML reads the key `on` as True
    steps = [s for job in ci["jobs"].values() for s in job["steps"]]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/checkout@") for u in uses)
    assert any(u.startswith("actions/setup-python@") for u in uses)
    runs = [s.get("run", "") for s in steps]
    assert runs.index("make check") < runs.index("make test")
    forms = sorted((REPO / ".github/ISSUE_TEMPLATE").glob("*.yml"))
    names = set()
    for form in forms:
        data = yaml.safe_load(form.read_text(encoding="utf-8"))
        if form.name == "config.yml":
            continue
        assert data["name"] and data["description"] and data["body"]
        names.add(data["name"])
        ids = [item["id"] for item in data["body"] if "id" in item]
        assert len(ids) == len(set(ids))
    assert names == {"Join the lab", "Leave the lab", "Fix a page"}
    checklist = (REPO / ".github/pull_request_template.md").read_text(encoding="utf-8")
    assert "- [ ] `make check`" in checklist
