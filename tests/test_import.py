"""``labhandbook import``: an export comes in normalised, once, without losing or doubling.

The export below is written the way the tools write it (DBLP with ``crossref`` and ``\\_`` in
DOIs, Google Scholar, Zotero with its own tags and file fields, an arXiv preprint of a paper the
library has, the published version of a preprint it has).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOTS
from pybtex.database.input.bibtex import Parser
from test_check import tree_digest

from labhandbook import cli

EXPORT = r"""
@inproceedings{DBLP:conf/x/MullerW24,
  author    = {J{\"{o}}rg M{\"{u}}ller and Lijun Wu},
  title     = {Fast {BibTeX} Imports},
  booktitle = {Proceedings of the Import Conference},
  crossref  = {DBLP:conf/x/2024},
  year      = {2024},
  doi       = {10.1234/import\_2024.7},
  biburl    = {https://dblp.org/rec/conf/x/MullerW24.bib},
  bibsource = {dblp computer science bibliography, https://dblp.org},
}

@proceedings{DBLP:conf/x/2024,
  editor    = {Ada Lovelace},
  title     = {Proceedings of the Import Conference, {IC} 2024},
  publisher = {{ACM}},
  year      = {2024},
}

@article{lovelace2023notes,
  title={Notes on the analytical engine},
  author={Lovelace, Ada and Babbage, Charles},
  journal={Journal of Engines},
  year={2023},
  publisher={Engines Press}
}

@article{wu2024scalingpre,
  title = {Scaling Laws for Reasoning},
  author = {Wu, Lijun and Lovelace, Ada},
  journal = {arXiv preprint arXiv:2402.05678},
  year = {2024},
  url = {https://arxiv.org/abs/2402.05678v2},
}

@inproceedings{wu2025proteinsconf,
  author = {Wu, Lijun and Turing, Alan},
  title = {Protein Language Models},
  booktitle = {Proceedings of the Conference on Learning},
  year = {2026},
  doi = {10.1234/proteins.2026},
  file = {Wu2026.pdf:/home/someone/Zotero/storage/Wu2026.pdf:application/pdf},
  urldate = {2026-01-02},
  keywords = {Computer Science - Machine Learning, proteins},
}

@article{wu2024scaling,
  author = {Wu, Lijun},
  title = {A Different Paper With a Taken Key},
  journal = {Journal of Keys},
  year = {2024},
}

@misc{comic1,
  author = {Lovelace, Ada},
  title = {Comic 1},
  year = {2024},
  note = {A short title and no identifier: found again by its key},
  note = {(and a field written twice, as some exporters do: the first is kept)},
}

@article{engines-again,
  author = {Lovelace, Ada},
  title = {Another Title Entirely},
  journal = {Journal of Engines},
  year = {2023},
  doi = {https://doi.org/10.1234/engines.2023.1},
}
"""


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    root = tmp_path / "lab"
    shutil.copytree(ROOTS / "test-check", root)
    (root / "export.bib").write_text(EXPORT, encoding="utf-8")
    return root


def run(root: Path, *args: str) -> int:
    return cli.main(["import", "--root", str(root), *args])


def entries(path: Path) -> dict:
    return dict(Parser(encoding="utf-8").parse_file(path).entries)


def test_dry_run_reports_every_entry_and_writes_nothing(lab: Path, capsys) -> None:
    before = tree_digest(lab)
    assert run(lab, str(lab / "export.bib"), "--into", "bib/imported.bib") == 0
    out = capsys.readouterr().out
    assert tree_digest(lab) == before
    assert "Nothing written" in out
    # no entry lost: each of the export's 8 entries has exactly one outcome
    lines = [line for line in out.splitlines() if " — " in line and ": " in line]
    assert len(lines) == 8, out
    assert "8 entries read: 3 new, 2 completing an entry, 2 already there, 1 conflicting" in out
    assert "already there: lovelace2023notes — same title and year as `lovelace2023engines` " \
           "(bib/papers.bib:1)" in out
    assert "crossref" in out  # the parent volume is said to be folded in, not listed
    assert "conflict: engines-again — same DOI 10.1234/engines.2023.1" in out
    assert "new: wu2024scalingb — the key `wu2024scaling` is taken by another paper" in out


def test_every_entry_has_one_outcome(lab: Path) -> None:
    from labhandbook.importer import library_entries, plan, read_export

    exported = read_export(lab / "export.bib", "export.bib")
    result = plan(exported, library_entries(lab, ["bib/papers.bib", "bib/preprints.bib"]),
                  "bib/imported.bib", set())
    assert sorted(o.source for o in result.outcomes) == sorted(exported)
    assert {o.source: o.kind for o in result.outcomes}["wu2024scaling"] == "new"


def test_write_normalises_merges_and_is_idempotent(lab: Path, capsys) -> None:
    assert run(lab, str(lab / "export.bib"), "--into", "bib/imported.bib", "--write") == 0
    capsys.readouterr()
    imported = entries(lab / "bib/imported.bib")
    assert sorted(imported) == ["DBLP:conf/x/MullerW24", "comic1", "wu2024scalingb"]
    assert imported["comic1"].fields["note"].startswith("A short title")
    dblp = imported["DBLP:conf/x/MullerW24"]
    # LaTeX decoded, escapes gone, crossref parent's fields inherited, exporter noise dropped
    assert [str(p) for p in dblp.persons["author"]] == ["Müller, Jörg", "Wu, Lijun"]
    assert dblp.fields["doi"] == "10.1234/import_2024.7"
    assert dblp.fields["publisher"] == "{ACM}"
    assert [str(p) for p in dblp.persons["editor"]] == ["Lovelace, Ada"]
    assert "crossref" not in dblp.fields and "biburl" not in dblp.fields
    # the arXiv preprint of a published paper: one entry, both identifiers, the key kept
    papers = entries(lab / "bib/papers.bib")
    scaling = papers["wu2024scaling"]
    assert scaling.type == "inproceedings" and scaling.fields["eprint"] == "2402.05678"
    assert scaling.fields["archiveprefix"] == "arXiv"
    assert scaling.fields["booktitle"] == "Proceedings of the Conference on Learning"
    # the published version of a preprint: one entry, now the published one, with its eprint
    proteins = entries(lab / "bib/preprints.bib")["wu2025proteins"]
    assert proteins.type == "inproceedings"
    assert proteins.fields["doi"] == "10.1234/proteins.2026"
    assert proteins.fields["eprint"] == "2501.01234" and proteins.fields["year"] == "2026"
    assert proteins.fields["keywords"] == "proteins"  # the lab's keyword kept, Zotero's not
    assert "file" not in proteins.fields and "urldate" not in proteins.fields
    # the conflicting entry was left out; the library entry is unchanged
    assert papers["lovelace2023engines"].fields["title"] == "Notes on the Analytical Engine"
    # running it again adds nothing and changes nothing
    after = tree_digest(lab)
    assert run(lab, str(lab / "export.bib"), "--into", "bib/imported.bib", "--write") == 0
    out = capsys.readouterr().out
    assert "0 new, 0 completing an entry, 7 already there, 1 conflicting" in out
    assert tree_digest(lab) == after
    # what was written passes the check (the build's reading of it)
    from labhandbook.check import check_handbook

    errors = [p for p in check_handbook(lab) if p.severity == "error"]
    assert errors == [], errors


@pytest.mark.parametrize(("content", "message"), [
    ("@article{broken,\n  title = {Unclosed,\n  year = {2024},\n}\n", "export.bib:2:"),
    (b"@article{x, title = {Caf\xe9 \x81\x8d}, year = {2024}}\n", "export.bib:1:"),
    ("just some text\n", "holds no BibTeX entries"),
])
def test_bad_input_is_one_located_message_without_traceback(lab: Path, capsys, content,
                                                            message: str) -> None:
    path = lab / "export.bib"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    before = tree_digest(lab)
    assert run(lab, str(path), "--write") == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert "nothing imported" in err
    assert tree_digest(lab) == before


def test_missing_file_and_bad_target_are_refused(lab: Path, capsys) -> None:
    assert run(lab, str(lab / "nowhere.bib")) == 1
    assert "cannot read the file" in capsys.readouterr().err
    assert run(lab, str(lab / "export.bib"), "--into", "../outside.bib") == 1
    assert "is not a .bib file in bib/" in capsys.readouterr().err


def test_normalise_maps_biblatex_and_exporter_habits() -> None:
    from pybtex.database import Entry

    from labhandbook.importer import normalise

    def one(**fields: str) -> dict:
        return dict(normalise(Entry("article", fields=fields), None, {"llm"}).fields)

    assert one(journaltitle="J. Tests", date="2024-05-17") == \
        {"journal": "J. Tests", "year": "2024", "month": "5"}
    assert one(year=r"{\noopsort{1973b}}1981")["year"] == "1981"
    assert one(journal="arXiv preprint arXiv:2401.01234", year="2024")["eprint"] == "2401.01234"
    assert one(eprint="arXiv:2401.01234v2")["archiveprefix"] == "arXiv"
    assert one(doi=r"https://doi.org/10.1/a\_b")["doi"] == "10.1/a_b"
    assert one(keywords="llm, Computer Science - Learning")["keywords"] == "llm"
    assert "keywords" not in one(keywords="Computer Science - Learning")
    # accents decoded; escapes, dashes and math kept (a bare `&` or `%` is LaTeX markup)
    assert one(title=r"Caf{\'e} $\alpha$--beta \& co")["title"] == r"Café $\alpha$--beta \& co"


MARKUP = r"""@article{wu2020markup,
  author = {Wu$^{*}$, Lijun and M{\"u}ller, J{\"o}rg},
  title = {\emph{Deep} Nets at 2\% Cost for {Cu$_2$O}, see \href{https://x.org/a\_b}{the site}
           and \url{https://y.org/c\_d}},
  journal = {Journal of \textbf{Engines} \& Tests},
  year = {2020},
}
"""


def test_import_keeps_markup_and_a_reader_sees_the_same_text(lab: Path, capsys) -> None:
    """What `import` writes keeps the export's markup (links, emphasis, escapes, math), so
    the pages built from it show what the export's own entry shows."""
    from labhandbook.latex import latex_text

    (lab / "markup.bib").write_text(MARKUP, encoding="utf-8")
    assert run(lab, str(lab / "markup.bib"), "--into", "bib/imported.bib", "--write") == 0
    written = entries(lab / "bib/imported.bib")["wu2020markup"]
    exported = entries(lab / "markup.bib")["wu2020markup"]
    title = written.fields["title"]
    for kept in (r"\emph{Deep}", r"2\%", "{Cu$_2$O}", r"\href{https://x.org/a\_b}{the site}",
                 r"\url{https://y.org/c\_d}"):
        assert kept in title, title
    assert written.fields["journal"] == r"Journal of \textbf{Engines} \& Tests"
    assert [str(p) for p in written.persons["author"]] == ["Wu$^{*}$, Lijun", "Müller, Jörg"]
    for name in ("title", "journal"):
        assert latex_text(written.fields[name]) == latex_text(exported.fields[name])
    assert latex_text(title) == ("Deep Nets at 2% Cost for Cu₂O, see the site and "
                                 "https://y.org/c_d")


PARTLY_BAD = r"""@article{good1,
  author = {Lovelace, Ada},
  title = {The First Good Entry of the Export},
  journal = {Journal of Engines},
  year = {2021},
}

@article{bad-macro,
  author = {Lovelace, Ada},
  title = {An Entry With an Undefined Macro},
  journal = jeng,
  year = {2021},
}

@article{bad-name,
  author = {Lovelace, Ada, Jr, Countess},
  title = {An Entry With a Name Of Too Many Commas},
  journal = {Journal of Engines},
  year = {2022},
}

@misc{good2,
  author = {Babbage, Charles},
  title = {The Second Good Entry of the Export},
  year = {2022},
}
"""


def test_good_entries_are_imported_and_each_bad_one_is_located(lab: Path, capsys) -> None:
    path = lab / "export.bib"
    path.write_text(PARTLY_BAD, encoding="utf-8")
    before = tree_digest(lab)
    assert run(lab, str(path), "--into", "bib/imported.bib") == 1
    captured = capsys.readouterr()
    assert tree_digest(lab) == before  # nothing written without --write
    assert "export.bib:11:" in captured.err and "`jeng`" in captured.err, captured.err
    assert "export.bib:16:" in captured.err and "Too many commas" in captured.err
    assert "2 errors" in captured.err and "Traceback" not in captured.err
    assert "new: good1" in captured.out and "new: good2" in captured.out
    assert "bad-macro" not in captured.out and "bad-name" not in captured.out
    assert run(lab, str(path), "--into", "bib/imported.bib", "--write") == 1
    assert sorted(entries(lab / "bib/imported.bib")) == ["good1", "good2"]
    # fixed: the rest comes in, the good ones are not doubled
    path.write_text(PARTLY_BAD.replace("jeng", "{Journal of Engines}")
                    .replace("Ada, Jr, Countess", "Ada"), encoding="utf-8")
    capsys.readouterr()
    assert run(lab, str(path), "--into", "bib/imported.bib", "--write") == 0
    assert sorted(entries(lab / "bib/imported.bib")) == ["bad-macro", "bad-name", "good1",
                                                         "good2"]
