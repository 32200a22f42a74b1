"""Who wrote what: the one name model (:mod:`labhandbook.names`) on both sides.

Every form a BibTeX export writes a name in must reach the right member, co-authors who share
a member's family name must not, and a spelling that fits two members (or fits only by
initial) must be said once per person, never silently given to one of them.
"""

from __future__ import annotations

import pytest
from pybtex.database import Entry, Person
from pybtex.database.input.bibtex import Parser

from labhandbook.names import Member, Roster, attribution_notes, fold, read

#: The lab: names as a member writes them in `name:` (and nothing else).
LAB = Roster.of([
    Member("sebastien-bubeck", "Sébastien Bubeck"),
    Member("siddhartha-srinivasa", "Siddhartha S. Srinivasa"),
    Member("sanjiban-choudhury", "Sanjiban Choudhury"),
    Member("shushman-choudhury", "Shushman Choudhury"),
    Member("lijun-wu", "Lijun Wu"),
    Member("falaah-arif-khan", "Falaah Arif Khan"),
    Member("rodrigo-kreis-de-paula", "Rodrigo Kreis de Paula"),
    Member("ian-solano-kamaiko", "Ian Solano-Kamaiko"),
    Member("ludwig-van-beethoven", "Ludwig van Beethoven"),
    Member("sammy-davis", "Sammy Davis Jr."),
    Member("jorg-muller", "Jörg Müller"),
    Member("francois-fleuret", "François Fleuret"),
    Member("kim-jorgensen", "Kim Jørgensen"),
    Member("hyunseung-hwang", "Hyunseung (Daniel) Hwang"),
    Member("jean-luc-picard", "Jean-Luc Picard"),
])

#: (as an export writes it, the member it is)
SAME_PERSON = [
    # "Family, Given" and "Given Family"
    ("Wu, Lijun", "lijun-wu"), ("Lijun Wu", "lijun-wu"),
    # case
    ("WU, LIJUN", "lijun-wu"), ("lijun wu", "lijun-wu"), ("Wu, lijun", "lijun-wu"),
    # LaTeX accents in every form, Unicode, and accents dropped
    (r"S{\'{e}}bastien Bubeck", "sebastien-bubeck"), (r"Bubeck, S\'ebastien", "sebastien-bubeck"),
    (r"S{\'e}bastien Bubeck", "sebastien-bubeck"), ("Sébastien Bubeck", "sebastien-bubeck"),
    ("Sebastien Bubeck", "sebastien-bubeck"), ("SÉBASTIEN BUBECK", "sebastien-bubeck"),
    (r"M{\"u}ller, J{\"o}rg", "jorg-muller"), (r"J\"{o}rg M\"{u}ller", "jorg-muller"),
    ("Muller, Jorg", "jorg-muller"), (r"Fran\c{c}ois Fleuret", "francois-fleuret"),
    (r"Fran{\c c}ois Fleuret", "francois-fleuret"), ("Francois Fleuret", "francois-fleuret"),
    (r"J{\o}rgensen, Kim", "kim-jorgensen"), ("Jorgensen, Kim", "kim-jorgensen"),
    ("Jørgensen, Kim", "kim-jorgensen"),
    # initials with and without dots and spaces, and a full first name with a middle initial
    ("Srinivasa, S.S.", "siddhartha-srinivasa"), ("Srinivasa, S. S.", "siddhartha-srinivasa"),
    ("S S Srinivasa", "siddhartha-srinivasa"), ("Srinivasa, Siddhartha S.", "siddhartha-srinivasa"),
    ("Siddhartha Srinivasa", "siddhartha-srinivasa"), ("Srinivasa SS", "siddhartha-srinivasa"),
    ("Siddhartha S Srinivasa", "siddhartha-srinivasa"),
    # given names joined, spaced or hyphenated
    ("Li-Jun Wu", "lijun-wu"), ("Wu, Li Jun", "lijun-wu"), ("Picard, Jean Luc", "jean-luc-picard"),
    ("Jean-Luc Picard", "jean-luc-picard"), ("Picard, J.-L.", "jean-luc-picard"),
    # compound and hyphenated family names
    ("Falaah {Arif Khan}", "falaah-arif-khan"), ("Arif Khan, Falaah", "falaah-arif-khan"),
    ("Falaah Arif Khan", "falaah-arif-khan"), ("Arif-Khan, Falaah", "falaah-arif-khan"),
    ("Kreis de Paula, Rodrigo", "rodrigo-kreis-de-paula"),
    ("de Paula, Rodrigo Kreis", "rodrigo-kreis-de-paula"),
    ("Solano Kamaiko, Ian", "ian-solano-kamaiko"), ("Ian Solano-Kamaiko", "ian-solano-kamaiko"),
    # von and Jr parts
    ("van Beethoven, Ludwig", "ludwig-van-beethoven"),
    ("Beethoven, Ludwig van", "ludwig-van-beethoven"),
    ("Ludwig van Beethoven", "ludwig-van-beethoven"), ("Davis, Jr., Sammy", "sammy-davis"),
    ("Sammy Davis, Jr.", "sammy-davis"), ("Davis, Sammy", "sammy-davis"),
    # a nickname in parentheses on the member's page
    ("Hwang, Hyunseung", "hyunseung-hwang"), ("Daniel Hwang", "hyunseung-hwang"),
    # equal-contribution marks attached to a name
    ("Lijun Wu$^{*}$", "lijun-wu"), ("Lijun Wu $^*$", "lijun-wu"), ("Wu*, Lijun", "lijun-wu"),
    ("Wu, Lijun$^\\dagger$", "lijun-wu"), ("Lijun Wu\\textsuperscript{*}", "lijun-wu"),
    ("Lijun Wu†", "lijun-wu"),
]

#: Co-authors who share a family name (or more) with a member but are someone else.
SOMEONE_ELSE = [
    "Wu, Lingfei", "Zhen Wu", "Wu, Yuxiang", "Choudhury, Pratik", "Srinivasa, Kumar",
    "Müller, Klaus-Robert", "Jörg Schmidt", "Wu, K.", "Picard, Rosalind W.",
    "Paula, Ana", "Khan, Salman", "Davis, Miles", "Hwang, Sung Ju", "Kim, Jorgensen",
    "Wu Lijun Xi Zhang Extra",
]


@pytest.mark.parametrize(("written", "slug"), SAME_PERSON)
def test_every_form_of_a_name_reaches_its_member(written: str, slug: str) -> None:
    match = LAB.match(written)
    assert match.slug == slug, (written, match)
    assert match.level == "full", (written, match)
    # the same through pybtex's own split (how the build hands authors over)
    person = Parser().parse_string(f"@misc{{k, author = {{{written}}}}}").entries["k"] \
        .persons["author"][0]
    assert LAB.match(person).slug == slug, (written, str(person))


@pytest.mark.parametrize("written", SOMEONE_ELSE)
def test_co_authors_sharing_a_family_name_are_not_members(written: str) -> None:
    match = LAB.match(written)
    assert match.slug is None and match.level == "none", (written, match)


def test_a_spelling_that_fits_two_members_is_given_to_neither() -> None:
    for written in ("Choudhury, S.", "S. Choudhury", "Choudhury, S", "Choudhury"):
        match = LAB.match(written)
        assert match.slug is None, written
        assert match.level == "ambiguous"
        assert match.candidates == ("sanjiban-choudhury", "shushman-choudhury")
    assert LAB.match("Choudhury, Sanjiban").slug == "sanjiban-choudhury"
    assert LAB.match("Shushman Choudhury").slug == "shushman-choudhury"


def test_two_members_with_one_name_are_ambiguous() -> None:
    roster = Roster.of([Member("wei-wang", "Wei Wang"), Member("wei-wang-2", "Wei Wang")])
    assert roster.match("Wang, Wei").level == "ambiguous"
    assert roster.match("Wang, Wei").slug is None


def test_loose_fits_count_unless_a_co_author_shares_the_family_name() -> None:
    assert LAB.match("Wu, L.").level == "loose"
    assert [m.slug for m in LAB.attribute(["Wu, L.", "Turing, Alan"])] == ["lijun-wu", None]
    assert LAB.slugs(["Wu, L.", "Bubeck, Sébastien"]) == ["lijun-wu", "sebastien-bubeck"]
    # "Wu, Zhen" on the same paper: the family is not Lijun's alone there; given to no one
    shared = LAB.attribute(["Wu, Zhen", "Müller, Jörg", "Wu, L."])
    assert [m.slug for m in shared] == [None, "jorg-muller", None]
    assert shared[2].level == "loose"
    # a full fit is never undone by a namesake co-author
    assert LAB.slugs(["Wu, Zhen", "Wu, Lijun"]) == [None, "lijun-wu"]


@pytest.mark.parametrize(("member", "written"), [
    ("Max Pace", "Pace, Maximus Adrian"),  # a short form written on the member's page
    ("Will Huey", "Huey, William"),
    ("William Huey", "Will Huey"),
    ("Gonzalo Gonzalez", "Gonzalez-Pumariega, Gonzalo"),  # a family name shortened
    ("Gonzalo Gonzalez-Pumariega", "Gonzalo Gonzalez"),
    ("Lijun Wu", "L. Wu"),
])
def test_short_forms_fit_loosely(member: str, written: str) -> None:
    roster = Roster.of([Member("m", member)])
    assert (roster.match(written).slug, roster.match(written).level) == ("m", "loose")


@pytest.mark.parametrize(("member", "written"), [
    ("Dan Smith", "Smith, Do"), ("Max Pace", "Pace, Mia"), ("Li Wu", "Wu, Lijun"),
    ("Gonzalo Gonzalez", "Pumariega, Gonzalo"),
])
def test_other_given_names_do_not_fit(member: str, written: str) -> None:
    assert Roster.of([Member("m", member)]).match(written).slug is None


def test_bib_names_confirm_and_not_names_refuse() -> None:
    roster = Roster.of([
        Member("sanjiban", "Sanjiban Choudhury", bib_names=("Choudhury, S.",)),
        Member("shushman", "Shushman Choudhury"),
        Member("lijun", "Lijun Wu", not_names=("Wu, L.",)),
    ])
    # confirmed, in every way of writing the same spelling
    for written in ("Choudhury, S.", "S. Choudhury", "Choudhury, S", "S Choudhury"):
        assert roster.match(written).slug == "sanjiban", written
        assert roster.match(written).level == "confirmed"
    assert roster.match("Choudhury, Shushman").slug == "shushman"
    # refused: the spelling is someone else's, the member keeps the full name
    for written in ("Wu, L.", "L. Wu", "Wu, L"):
        assert roster.match(written).slug is None, written
        assert roster.attribute([written])[0].slug is None
    assert roster.match("Wu, Lijun").slug == "lijun"


def test_a_refused_spelling_leaves_the_other_member() -> None:
    roster = Roster.of([Member("sanjiban", "Sanjiban Choudhury", not_names=("Choudhury, S.",)),
                        Member("shushman", "Shushman Choudhury")])
    match = roster.match("S. Choudhury")
    assert (match.slug, match.level) == ("shushman", "loose")


def test_notes_are_one_per_person_with_every_spelling_and_paper() -> None:
    entries = [
        ("a2019", ["Choudhury, S.", "Srinivasa, Siddhartha"]),
        ("b2020", ["S. Choudhury", "Dey, Debadeepta"]),
        ("c2021", ["Choudhury, S.", "Wu, L."]),
        ("d2022", ["Wu, L.", "Fleuret, François"]),
        ("e2023", ["Wu, Lijun", "Choudhury, Sanjiban"]),
        ("f2024", ["Wu, L.", "Wu, Zhen"]),
    ]
    locate = {"sanjiban-choudhury": ("people/sanjiban-choudhury.md", 2),
              "shushman-choudhury": ("people/shushman-choudhury.md", 2),
              "lijun-wu": ("people/lijun-wu.md", 3)}
    notes = attribution_notes(LAB, entries, locate)
    assert [(n.path, n.line) for n in notes] == [
        ("people/lijun-wu.md", 3), ("people/sanjiban-choudhury.md", 2),
        ("people/shushman-choudhury.md", 2)]
    assert all(n.severity == "note" and n.code == "names.unsure" for n in notes)
    sanjiban = notes[1].message
    assert sanjiban.startswith("Sanjiban Choudhury: ")
    # "S. Choudhury" is the same spelling, written another way: listed once
    assert "'Choudhury, S.' also fits Shushman Choudhury, so it is given to no one " \
           "(3 papers: a2019, b2020, c2021)" in sanjiban
    lijun = notes[0].message
    assert "'Wu, L.' fits only loosely (initial or short form) and is given to Lijun Wu " \
           "(2 papers: c2021, d2022)" in lijun
    assert "'Wu, L.' fits only loosely and another author has the same family name, so it " \
           "is given to no one (1 paper: f2024)" in lijun
    assert "`bib_names:`" in notes[0].hint and "`not_names:`" in notes[0].hint
    # confirmed spellings are not mentioned again
    confirmed = Roster.of([Member("lijun-wu", "Lijun Wu", bib_names=("Wu, L.",))])
    assert attribution_notes(confirmed, entries, locate) == []


def test_fold_decodes_latex_and_drops_accents() -> None:
    assert fold(r"S{\'{e}}bastien") == fold("Sébastien") == fold("SEBASTIEN") == "sebastien"
    assert fold(r"{\o}") == fold("ø") == "o"
    assert fold(r"{\ss}") == "ss" and fold("Łukasz") == fold(r"\L{}ukasz") == "lukasz"
    assert fold(r"\c{c}") == "c" and fold(r"{\"u}") == fold(r"\"{u}") == "u"
    assert fold("Solano-Kamaiko") == "solanokamaiko"
    assert fold("王小明") == "王小明"  # scripts without case or accents are kept


def test_read_shows_the_name_without_latex_or_marks() -> None:
    assert read(r"S{\'{e}}bastien Bubeck$^{*}$").text == "Bubeck, Sébastien"
    assert read("Lijun Wu $^*$").text == "Wu, Lijun"


def test_name_split_is_pybtex_s() -> None:
    """The model's parts are pybtex's (first, von, last, jr) for every name it splits."""
    from labhandbook.names import Name, split

    for text in ["Ludwig van Beethoven", "Davis, Jr., Sammy", "de la Vallée Poussin, Charles",
                 "Falaah {Arif Khan}", r"J{\"o}rg M{\"u}ller", "Srinivasa, S.S."]:
        assert split(text) == Name.of(Person(text)), text


#: Names as Zotero's Better BibLaTeX writes them (biblatex's extended name format), and the
#: same person written the classic way.
EXTENDED = [
    ("family=Beethoven, given=Ludwig, prefix=van, useprefix=true", "van Beethoven, Ludwig"),
    ("family=Oord, given=Aäron, prefix=van den, useprefix=true", "van den Oord, Aäron"),
    ("family=Beauvoir, given=Simone, prefix=de, useprefix=false", "de Beauvoir, Simone"),
    ("family=Davis, given=Sammy, suffix=Jr., juniorcomma=true", "Davis, Jr., Sammy"),
    ("family=Müller, given=Jörg, given-i=J", "Müller, Jörg"),
    ("family={Arif Khan}, given=Falaah", "Arif Khan, Falaah"),
]


@pytest.mark.parametrize(("written", "classic"), EXTENDED)
def test_biblatex_extended_names_are_read_as_the_name_they_write(written: str,
                                                                  classic: str) -> None:
    import pybtex.errors

    from labhandbook.library import display_name
    from labhandbook.names import Name, person, split

    assert split(written) == Name.of(Person(classic))
    with pybtex.errors.capture():  # four commas: pybtex says "too many" and splits as it can
        parsed = Person(written)
    assert Name.of(parsed) == Name.of(Person(classic))
    assert display_name(person(parsed)) == display_name(Person(classic))
    assert LAB.match(parsed).slug == LAB.match(Person(classic)).slug


def test_extended_names_reach_their_member() -> None:
    assert LAB.slug("family=Beethoven, given=Ludwig, prefix=van, useprefix=true") \
        == "ludwig-van-beethoven"
    assert LAB.slug("family=Davis, given=Sammy, suffix=Jr., juniorcomma=true") == "sammy-davis"
    assert LAB.slug("family=Arif Khan, given=Falaah") == "falaah-arif-khan"
    from labhandbook.names import extended

    for other in ["Smith, John", "a = b", "title=Dr, John Smith", "Wu, Lijun = Li"]:
        assert extended(other) is None, other


def test_one_latex_decoder_for_records_names_and_import() -> None:
    """Names, records and import decode LaTeX with one function (labhandbook.latex)."""
    from pathlib import Path

    import labhandbook
    from labhandbook.importer import normalise
    from labhandbook.latex import latex_text
    from labhandbook.names import clean

    for path in Path(labhandbook.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "latexcodec" not in text and "ulatex" not in text, path.name
    for written in [r"S{\'{e}}bastien", r"J{\o}rgensen", r"M{\"u}ller-L\"udenscheidt",
                    r"\v{S}imon \c{C}etin", r"Erd\H{o}s", r"{\L}ukasz", r"Ca\~{n}ete"]:
        assert clean(written) == latex_text(written), written
        entry = normalise(Entry("misc", fields={"title": written}), None, set())
        assert entry.fields["title"] == latex_text(written), written
    assert fold(r"J{\o}rgensen") == fold("Jørgensen") == "jorgensen"
    assert fold("Straße") == "strasse" and fold("Łukasz") == "lukasz"
