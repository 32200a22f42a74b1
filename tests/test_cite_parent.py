"""``{cite}`` of a crossref parent volume that is not listed: a located warning, not a link
to an anchor that the publications page does not have."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import sphinx_build

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from lab import make_lab  # noqa: E402

#: As DBLP exports a paper with its proceedings (crossref format).
BIB = r"""
@inproceedings{DBLP:conf/icml/WuZ24,
  author    = {Lijun Wu and Xinyu Zhao},
  title     = {A Paper in the Proceedings},
  pages     = {1--10},
  crossref  = {DBLP:conf/icml/2024},
}

@proceedings{DBLP:conf/icml/2024,
  editor    = {Ruslan Salakhutdinov and Zico Kolter},
  title     = {Forty-first International Conference on Machine Learning, {ICML} 2024},
  publisher = {OpenReview.net},
  year      = {2024},
}
"""


def test_citing_an_unlisted_parent_volume_is_a_located_warning(tmp_path: Path) -> None:
    source = tmp_path / "dblp.bib"
    source.write_text(BIB, encoding="utf-8")
    root = make_lab(source, tmp_path / "lab", member="Lijun Wu")
    index = root / "index.md"
    lines = index.read_text(encoding="utf-8").splitlines()
    lines[1:1] = ["", "Our paper {cite}`DBLP:conf/icml/WuZ24`.", "",
                  "The volume {cite}`DBLP:conf/icml/2024`."]
    index.write_text("\n".join(lines) + "\n", encoding="utf-8")
    build = sphinx_build(root, tmp_path / "out")
    warnings = [w for w in build.warnings.splitlines() if "WARNING" in w]
    assert len(warnings) == 1, build.warnings
    assert "index.md:5:" in warnings[0] and "`DBLP:conf/icml/2024`" in warnings[0]
    assert "cite one of the papers in it instead" in warnings[0]
    listing = build.soup("publications.html")
    assert "A Paper in the Proceedings" in listing.get_text(" ")
    assert "Forty-first International Conference" not in " ".join(
        li.get_text(" ") for li in listing.select("li.lh-citation h3, li.lh-citation > p")
        if "A Paper" not in li.get_text(" "))
    # the paper's citation links to its anchor on the publications page
    page = build.soup("index.html")
    anchors = {a["id"] for a in listing.select("[id]")}
    links = [a["href"] for a in page.select("a[href*='publications.html#']")]
    assert links and all(href.split("#")[1] in anchors for href in links[:1]), links
