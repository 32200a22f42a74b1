"""The normalised record's reading of fields exporters write (unit level; the corpus tests
show the same on whole real files)."""

from __future__ import annotations

import pytest

from labhandbook.library import entry_date, eprint_of, latex_text, latex_url, link_targets


@pytest.mark.parametrize(("written", "shown"), [
    (r"S{\'{e}}bastien and M{\"u}ller, \c{C}etinkaya, {\o}stergaard",
     "Sébastien and Müller, Çetinkaya, østergaard"),
    (r"\emph{Deep} \textbf{nets} \textit{now}", "Deep nets now"),
    (r"Smith$^{*}$ and Doe$^\dagger$", "Smith* and Doe†"),
    (r"$\alpha$-Nets for {DBLP} -- 50\% \& more", "α-Nets for DBLP – 50% & more"),
    (r"See \url{https://x.org/a\_b} or \href{https://x.org}{the site}",
     "See https://x.org/a_b or the site"),
    (r"The {\TeX book} in \texttt{code}", "The TeXbook in code"),
    (r"{\noopsort{1973a}}{1977}", "1977"),
    # JabRef library of a physics group (tests/corpus): chemical formulas and units in math
    (r"Thin Film Using {Cu$_2$O} and Cu$_{2}$O$_{x}$", "Thin Film Using Cu₂O and Cu₂Oₓ"),
    (r"$T^{-1}$ at 10$^{15}$ cm$^{-3}$, $x_{ij}$", "T⁻¹ at 10¹⁵ cm⁻³, x_ij"),
    ("Plain UTF-8 — Müller", "Plain UTF-8 — Müller"),
])
def test_latex_becomes_clean_text(written: str, shown: str) -> None:
    assert latex_text(written) == shown


def test_identifiers_as_exporters_write_them() -> None:
    assert latex_url(r"10.1007/978-3-642-60831-5\_34") == "10.1007/978-3-642-60831-5_34"
    # DBLP: ECCC is no arXiv; shown as its identifier, never linked to arXiv
    eccc = {"eprint": "TR09-001", "eprinttype": "ECCC"}
    assert eprint_of(eccc) == ("ECCC", "TR09-001", "")
    assert all("arxiv" not in url for _, url in link_targets(eccc))
    assert eprint_of({"eprint": "2106.14448", "archiveprefix": "arXiv"})[2] == \
        "https://arxiv.org/abs/2106.14448"
    assert eprint_of({"eprint": "2106.14448"})[0] == "arXiv"  # no type: an arXiv-looking id
    assert eprint_of({"eprint": "12345678"})[2] == ""  # no type, not arXiv: not linked
    assert eprint_of({"eprint": "31415926", "eprinttype": "pubmed"})[2] == \
        "https://pubmed.ncbi.nlm.nih.gov/31415926/"


@pytest.mark.parametrize(("fields", "expected"), [
    ({"year": "2024"}, (2024, 0, "2024")),
    ({"year": "2024", "month": "March"}, (2024, 3, "2024")),
    ({"date": "2024-03-14"}, (2024, 3, "2024")),
    ({"date": "2024-03"}, (2024, 3, "2024")),
    ({"date": "2019/2021"}, (2019, 0, "2019–2021")),
    ({"date": "2019-05/2019-06"}, (2019, 5, "2019")),
    ({}, (0, 0, "")),
    ({"year": "forthcoming"}, (0, 0, "")),
])
def test_dates(fields: dict[str, str], expected: tuple[int, int, str]) -> None:
    assert entry_date(fields) == expected
