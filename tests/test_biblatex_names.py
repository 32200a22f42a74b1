# ruff: noqa: E501  (an export's lines, as Better BibLaTeX writes them)
"""Names in biblatex's extended format, as Zotero's Better BibLaTeX exports them, in a build.

pybtex reads ``family=Oord, given=Aäron, prefix=van den, useprefix=true`` as a name with too
many commas; the build must still read the file, show the name as the person writes it and
give the paper to the member (``labhandbook.names.person``, ``labhandbook.sources``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import sphinx_build

from labhandbook.check import run_check

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from lab import make_lab  # noqa: E402

#: Written the way Better BibLaTeX writes an entry (field order, `date`, extended names).
BIB = r"""
@online{oordWaveNetGenerativeModel2016,
  title = {{{WaveNet}}: {{A Generative Model}} for {{Raw Audio}}},
  author = {family=Oord, given=Aäron, prefix=van den, useprefix=true and Dieleman, Sander and Zen, Heiga and Simonyan, Karen and Vinyals, Oriol and Graves, Alex and Kalchbrenner, Nal and Senior, Andrew and Kavukcuoglu, Koray},
  date = {2016-09-12},
  eprint = {1609.03499},
  eprinttype = {arXiv},
  pubstate = {prepublished}
}

@article{oordPixelRecurrentNeural2016,
  title = {Pixel {{Recurrent Neural Networks}}},
  author = {family=Oord, given=Aaron, prefix=van den, useprefix=true and Kalchbrenner, Nal and Kavukcuoglu, Koray},
  date = {2016},
  journaltitle = {Proceedings of the 33rd International Conference on Machine Learning},
  eprint = {1601.06759},
  eprinttype = {arXiv}
}
"""


def test_a_better_biblatex_export_builds_and_names_its_member(tmp_path: Path) -> None:
    source = tmp_path / "zotero.bib"
    source.write_text(BIB, encoding="utf-8")
    root = make_lab(source, tmp_path / "lab", member="Aäron van den Oord")
    assert [p for p in run_check(root).problems if p.severity == "error"] == []
    build = sphinx_build(root, tmp_path / "out")
    assert build.exit == 0, build.warnings
    assert "WARNING" not in build.warnings and "ERROR" not in build.warnings, build.warnings
    listing = build.soup("publications.html").get_text(" ")
    assert "WaveNet" in listing and "Pixel Recurrent Neural Networks" in listing
    assert "family=" not in listing and "Aäron van den Oord" in listing
    person = build.soup("people/aaron-van-den-oord.html").get_text(" ")
    assert "WaveNet" in person and "Pixel Recurrent Neural Networks" in person


def test_import_writes_extended_names_the_classic_way_and_reads_them_back(tmp_path: Path
                                                                           ) -> None:
    from pybtex.database import parse_file

    from labhandbook import cli

    source = tmp_path / "zotero.bib"
    source.write_text(BIB, encoding="utf-8")
    root = make_lab(source, tmp_path / "lab", member="Aäron van den Oord")
    (root / "bib" / "zotero.bib").rename(root / "bib" / "library.bib")
    new = tmp_path / "more.bib"
    new.write_text(BIB.replace("oordWaveNet", "other").replace("WaveNet", "ByteNet")
                   .replace("1609.03499", "1610.10099").split("@article")[0], encoding="utf-8")
    # the library file has extended names too: import reads it, finds the duplicate
    assert cli.main(["import", "--root", str(root), str(source)]) == 0
    assert cli.main(["import", "--root", str(root), str(new), "--into", "bib/new.bib",
                     "--write"]) == 0
    written = parse_file(str(root / "bib" / "new.bib"))
    assert [str(p) for p in written.entries["otherGenerativeModel2016"].persons["author"][:2]] == [
        "van den Oord, Aäron", "Dieleman, Sander"]
