"""Caches that make ``labhandbook serve``'s warm builds fast at department scale (#20), each
checked against the work it spares: the same answer as computing afresh, and the work done
only once (counted, never timed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_check import CASES, GOOD_ENTRY, make_handbook

from labhandbook.bibcheck import ReadCache, check_library, read_library
from labhandbook.config import LabConfig
from labhandbook.registry import load_registry

LAB = LabConfig.from_dict({"lab_name": "Check lab"})


@pytest.mark.parametrize("case", [c for c in CASES
                                  if any(p.startswith("bib/") for p in c.files)
                                  or any(e[0].startswith("bib/") for e in c.edits)
                                  or c.path.startswith("bib/")], ids=lambda c: c.id)
def test_a_kept_read_of_the_library_checks_like_a_fresh_one(case, tmp_path: Path) -> None:
    """Each broken .bib of ``check``'s table, checked after the correct library was read into
    the cache: the same problems as a check without the cache."""
    root = make_handbook(None, tmp_path)
    cache = ReadCache()
    registry, _ = load_registry(root, LAB)
    assert check_library(root, LAB, registry, cache) == check_library(root, LAB, registry)
    case.apply(root)
    registry, _ = load_registry(root, LAB)
    assert check_library(root, LAB, registry, cache) == check_library(root, LAB, registry)
    # and back: the kept read of the broken file is not reused for the fixed one
    fixed = make_handbook(None, tmp_path / "fixed")
    registry, _ = load_registry(fixed, LAB)
    assert check_library(fixed, LAB, registry, cache) == check_library(fixed, LAB, registry)


def test_only_the_files_that_changed_are_read_again(tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    bib = root / "bib"
    (bib / "a-strings.bib").write_text('@string{venue = "Journal of Tests"}\n', encoding="utf-8")
    papers = bib / "papers.bib"
    papers.write_text(papers.read_text(encoding="utf-8").replace(
        "@", "@article{usesmacro, author = {Doe, Jane}, title = {T}, journal = venue, "
        "year = {2020}}\n\n@", 1), encoding="utf-8")
    files = LAB.bib_files(root)
    assert files[0] == "bib/a-strings.bib" and len(files) == 3
    registry, _ = load_registry(root, LAB)
    cache = ReadCache()
    check_library(root, LAB, registry, cache)
    assert cache.reads == 3
    check_library(root, LAB, registry, cache)
    assert cache.reads == 3  # nothing changed: nothing read
    last = root / files[-1]
    last.write_text(last.read_text(encoding="utf-8") + "\n% a comment\n", encoding="utf-8")
    check_library(root, LAB, registry, cache)
    assert cache.reads == 4  # the saved file only
    # a macro a later file uses: that file is read again too, and sees the new value
    (bib / "a-strings.bib").write_text('@string{venue = "Tests Letters"}\n', encoding="utf-8")
    entries = read_library(root, LAB, cache).entries
    assert entries == read_library(root, LAB).entries
    assert next(e for e in entries if e.key == "usesmacro").fields["journal"] == "Tests Letters"
    assert cache.reads == 4 + len(files)
    (bib / "a-strings.bib").unlink()
    check_library(root, LAB, registry, cache)
    assert "bib/a-strings.bib" not in cache.files


def test_kept_entry_checks_follow_the_registry(tmp_path: Path) -> None:
    """Each entry's checks are kept by the entry's text and lines and done again when the
    registry facts they read change: a ``bib_names`` that makes an author a member, an area
    keyword an entry nearly names. A save of one entry checks that entry only."""
    root = make_handbook(None, tmp_path)
    papers, ada = root / "bib/papers.bib", root / "people/ada-lovelace.md"
    papers.write_text(papers.read_text(encoding="utf-8") + (
        "\n@misc{stranger2024, author = {Nobody, Somebody}, title = {T}, year = {2024},"
        " keywords = {Reasonings}}\n"), encoding="utf-8")
    cache = ReadCache()

    def same() -> list[object]:
        registry, _ = load_registry(root, LAB)
        kept = check_library(root, LAB, registry, cache)
        assert kept == check_library(root, LAB, registry)
        return [p.code for p in kept if "stranger2024" in p.text]

    assert same() == ["bib.unknown-keyword", "bib.no-member"]
    entries = cache.checked
    assert same() == ["bib.unknown-keyword", "bib.no-member"] and cache.checked == entries
    ada.write_text(ada.read_text(encoding="utf-8").replace(
        "role: pi", "role: pi\nbib_names: [Somebody Nobody]"), encoding="utf-8")
    assert same() == ["bib.unknown-keyword"]
    assert cache.checked == 2 * entries  # other names: every entry again
    area = root / "research/language-models.md"
    area.write_text(area.read_text(encoding="utf-8").replace("[llm, reasoning]", "[llm]"),
                    encoding="utf-8")
    assert same() == []
    papers.write_text(papers.read_text(encoding="utf-8") + "\n" + GOOD_ENTRY.replace(
        "extra2025", "extra2026"), encoding="utf-8")
    checked = cache.checked
    same()
    assert cache.checked == checked + 1


def test_authors_are_attributed_once_per_author_list_and_spellings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The attribution notes ask who the authors of every entry are; a kept check asks only
    for author lists it has not seen with the same name spellings: none when nothing changed,
    the saved entry's after a save, every list after a ``bib_names`` change. The notes are
    a fresh check's."""
    from labhandbook.names import Roster

    root = make_handbook(None, tmp_path)
    papers, ada = root / "bib/papers.bib", root / "people/ada-lovelace.md"
    papers.write_text(papers.read_text(encoding="utf-8") + (
        "\n@misc{loose2024, author = {Lovelace, A. and Nobody, Somebody}, title = {T},"
        " year = {2024}}\n"), encoding="utf-8")
    asked: list[object] = []
    attribute = Roster.attribute

    def counted(self, persons):  # type: ignore[no-untyped-def]
        asked.append(tuple(persons))
        return attribute(self, persons)

    monkeypatch.setattr(Roster, "attribute", counted)
    cache = ReadCache()

    def check() -> tuple[int, list[str]]:
        registry, _ = load_registry(root, LAB)
        asked.clear()
        kept = check_library(root, LAB, registry, cache)
        count = len(asked)
        assert kept == check_library(root, LAB, registry)
        return count, [p.text for p in kept if p.code == "names.unsure"]

    lists, notes = check()
    assert lists > 3 and any("loose2024" in n for n in notes)
    assert check() == (0, notes)
    papers.write_text(papers.read_text(encoding="utf-8") + "\n" + GOOD_ENTRY.replace(
        "extra2025", "extra2026"), encoding="utf-8")
    assert check()[0] == 1
    ada.write_text(ada.read_text(encoding="utf-8").replace(
        'role: pi', 'role: pi\nbib_names: ["Lovelace, A."]'), encoding="utf-8")
    count, notes = check()
    assert count == lists + 1 and not any("loose2024" in n for n in notes)


class _CountingPeople(dict):  # type: ignore[type-arg]
    reads = 0

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        type(self).reads += 1
        return super().__getitem__(key)


def test_the_directory_order_is_sorted_once_per_registry(tmp_path: Path) -> None:
    """Pages ask for the directory order once per token they record: the registry sorts once
    (a new registry, read by each build, sorts again, so an edit of a role is seen)."""
    root = make_handbook(None, tmp_path)
    registry, _ = load_registry(root, LAB)
    registry.people = _CountingPeople(registry.people)
    order = registry.ordered_people()
    after_first = _CountingPeople.reads
    for _ in range(5):
        assert registry.ordered_people() == order
    assert _CountingPeople.reads == after_first
    registry.ordered_people().reverse()  # a caller's copy: the order stays
    assert registry.ordered_people() == order
    page = root / "people" / f"{order[0]}.md"
    text = page.read_text(encoding="utf-8")
    role = next(line for line in text.splitlines() if line.startswith("role:"))
    page.write_text(text.replace(role, "role: visitor"), encoding="utf-8")
    assert load_registry(root, LAB)[0].ordered_people() == [*order[1:], order[0]]


def test_cite_links_follow_a_year_that_moves_between_warm_builds(tmp_path: Path) -> None:
    """Where each ``{cite}`` points (the publications page or an earlier year's page) is worked
    out once per build: in ``labhandbook serve``'s warm application, a new 2030 entry that
    moves 2021 onto a page of its own moves the link of a page citing a 2021 entry, and a
    second save that moves it back moves the link back, as clean builds have them."""
    from conftest import ROOTS, copy_project, sphinx_build
    from test_incremental import NEW_ENTRY
    from test_serve import _differences as differences
    from test_year_pages import per_page

    from labhandbook.serve import Builder

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    per_page(src, 2)  # 2021 (1 entry) fits beside nothing newer
    page = src / "research/molecules.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee {cite:p}`wu2021drop`.\n",
                    encoding="utf-8")
    bib = src / "bib/b.bib"
    before = bib.read_text(encoding="utf-8")
    out = tmp_path / "serve"
    links = []
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        for text in (before + "\n" + NEW_ENTRY + "\n" + NEW_ENTRY.replace("zz2030new", "zz2030b"),
                     before):
            bib.write_text(text, encoding="utf-8")
            result = builder.build([str(bib)])
            assert result.ok, result.problems
            builder.wait_saved()
            clean = sphinx_build(src, tmp_path / f"clean{len(links)}")
            assert differences(out / "html", clean.outdir) == []
            links.append(re.findall(r'href="(\.\./publications[^"#]*)#',
                                    (out / "html/research/molecules.html").read_text()))
        assert builder.warm_builds == 2
    assert links == [["../publications-2021.html"], ["../publications.html"]]


def _bibtex_renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The formatted texts sphinxcontrib-bibtex's post-transform renders into docutils nodes
    from now on."""
    from sphinxcontrib.bibtex.transforms import BibliographyTransform

    from labhandbook.style import PackedText

    rendered: list[str] = []
    inside: list[bool] = []
    run, render = BibliographyTransform.run, PackedText.render

    def counted_run(self, **kwargs):  # type: ignore[no-untyped-def]
        inside.append(True)
        try:
            return run(self, **kwargs)
        finally:
            inside.pop()

    def counted_render(self, backend):  # type: ignore[no-untyped-def]
        if inside and getattr(backend, "name", None) == "docutils":
            rendered.append(self.packed)
        return render(self, backend)

    monkeypatch.setattr(BibliographyTransform, "run", counted_run)
    monkeypatch.setattr(PackedText, "render", counted_render)
    return rendered


def test_the_publications_page_renders_only_the_entries_it_shows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sphinxcontrib-bibtex renders every citation of the canonical list into the page; the
    entries of earlier years (on their years' pages) are dropped again: they are not rendered
    (counted in its post-transform), and the pages are those of a build that renders them."""
    from conftest import ROOTS, copy_project, sphinx_build
    from test_year_pages import listed, per_page

    rendered = _bibtex_renders(monkeypatch)
    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    per_page(src, 2)
    page = src / "research/molecules.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee {cite:p}`wu2018rl`.\n",
                    encoding="utf-8")
    build = sphinx_build(src, tmp_path / "out")
    assert build.exit == 0, build.warnings
    pages = listed(build.outdir)
    assert len(pages["publications.html"]) == 1 and sum(map(len, pages.values())) == 5
    assert len(rendered) == 1
    # the tooltip of a {cite} of an earlier year's entry is still its whole reference
    cite = re.search(r'<a [^>]*href="\.\./publications-2018\.html#ref-wu2018rl"[^>]*>',
                     (build.outdir / "research/molecules.html").read_text(encoding="utf-8"))
    assert cite and 'title="' in cite.group(0) and "2018" in cite.group(0), cite


def _bib_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Files pybtex's ``Parser`` parses from now on (sphinxcontrib-bibtex's and the adapter's
    parses; ``check``'s located reader is counted by its :class:`ReadCache`)."""
    from pybtex.database.input.bibtex import Parser

    parsed: list[str] = []
    parse_file = Parser.parse_file

    def counted(self, filename, *args, **kwargs):  # type: ignore[no-untyped-def]
        parsed.append(Path(filename).name)
        return parse_file(self, filename, *args, **kwargs)

    monkeypatch.setattr(Parser, "parse_file", counted)
    return parsed


@pytest.mark.parametrize("macro", [False, True], ids=["plain", "with-string"])
def test_a_warm_build_parses_only_the_saved_bib_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, macro: bool) -> None:
    """A clean build parses each .bib file once with pybtex (sources.py's verdict, handed to
    sphinxcontrib-bibtex); after a save of one file, ``labhandbook serve``'s warm build reads
    that file once with the located reader of the checks and no file with pybtex (only the
    new entry's text, see the next test), and sphinxcontrib-bibtex's data equal its own parse
    of every file. With an ``@string`` in the library the files are parsed together, as
    sphinxcontrib-bibtex does."""
    from conftest import ROOTS, copy_project
    from sphinxcontrib.bibtex.bibfile import parse_bibdata
    from test_incremental import NEW_ENTRY

    from labhandbook.environment import READS_ATTR
    from labhandbook.serve import Builder

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    first, last = sorted((src / "bib").glob("*.bib"))
    if macro:
        first.write_text('@string{conf = "Conference on Examples"}\n'
                         + first.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    parsed = _bib_parses(monkeypatch)
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        # the clean build: each file once (sources.py's verdict), twice when they share macros
        assert parsed == [first.name, last.name] * (2 if macro else 1)
        parsed.clear()
        reads = builder._app.__dict__[READS_ATTR].reads
        for step, entry in enumerate([NEW_ENTRY, NEW_ENTRY.replace("zz2030new", "zz2030b")]):
            last.write_text(last.read_text(encoding="utf-8") + "\n" + entry, encoding="utf-8")
            result = builder.build([str(last)])
            assert result.ok, result.problems
            assert parsed == ([first.name, last.name] if macro else [])
            assert builder.warm_builds == step + 1
            app = builder._app
            assert app.__dict__[READS_ATTR].reads == reads + step + 1
            bibdata = app.env.get_domain("cite").bibdata
            fresh = parse_bibdata(list(bibdata.bibfiles), bibdata.encoding)
            assert bibdata.bibfiles == fresh.bibfiles
            assert bibdata.data.to_string("bibtex") == fresh.data.to_string("bibtex")
            parsed.clear()
            builder.wait_saved()


def _registry_view(root: Path, cache: object = None) -> tuple[object, ...]:
    registry, problems = load_registry(root, LAB, cache)  # type: ignore[arg-type]
    return (problems, registry.people, registry.areas, registry.docnames,
            {d: (p.path, p.data, p.text) for d, p in registry.pages.items()})


@pytest.mark.parametrize("case", [c for c in CASES
                                  if c.path.startswith(("people/", "research/"))
                                  or any(p.startswith(("people/", "research/")) for p in c.files)
                                  or any(e[0].startswith(("people/", "research/"))
                                         for e in c.edits)], ids=lambda c: c.id)
def test_a_kept_reading_of_the_pages_loads_like_a_fresh_one(case, tmp_path: Path) -> None:
    """Each broken person or area page of ``check``'s table, loaded after the correct pages
    were read into the cache: the same registry and problems as a load without the cache,
    and only the pages that changed are read again."""
    from labhandbook.registry import PageCache

    root = make_handbook(None, tmp_path)
    cache = PageCache()
    assert _registry_view(root, cache) == _registry_view(root)
    pages = cache.reads
    assert _registry_view(root, cache) == _registry_view(root) and cache.reads == pages
    before = {p: p.read_bytes() for p in root.rglob("*.md")}
    case.apply(root)
    changed = [p for p in root.rglob("*.md") if before.get(p) != p.read_bytes()
               and p.parent.name in ("people", "research")]
    assert _registry_view(root, cache) == _registry_view(root)
    assert cache.reads == pages + len(changed)
    fixed = make_handbook(None, tmp_path / "fixed")
    assert _registry_view(fixed, cache) == _registry_view(fixed)


def test_publication_token_digests_are_worked_out_once_per_library(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page that records ``pubs:all`` (or an area's list) asks for its fingerprint at
    each build: worked out once per library, and anew for the library of a changed .bib."""
    from conftest import ROOTS, copy_project
    from test_incremental import NEW_ENTRY

    from labhandbook.environment import current_digest, get_library, get_registry
    from labhandbook.library import Library
    from labhandbook.serve import Builder

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    out = tmp_path / "out"
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        env = builder._app.env
        counted: list[int] = []
        digest_of = Library.digest_of

        def counting(self, keys):  # type: ignore[no-untyped-def]
            counted.append(len(keys))
            return digest_of(self, keys)

        monkeypatch.setattr(Library, "digest_of", counting)
        area = sorted(get_registry(env).areas)[0]
        tokens = ["pubs:all", f"pubs:area:{area}", "pubs:person:lijun-wu"]
        first = [current_digest(env, t) for t in tokens]
        assert [current_digest(env, t) for t in tokens * 3] == first * 3
        assert len(counted) <= len(tokens)  # at most once each (the build may have asked)
        old = get_library(env)
        bib = sorted((src / "bib").glob("*.bib"))[-1]
        bib.write_text(bib.read_text(encoding="utf-8") + "\n" + NEW_ENTRY, encoding="utf-8")
        assert builder.build([str(bib)]).ok
        env = builder._app.env
        assert get_library(env) is not old
        assert current_digest(env, "pubs:all") != first[0]
        assert current_digest(env, "pubs:person:lijun-wu") != first[2]  # the entry is hers


def _pybtex_keys(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys of the entries pybtex's ``Parser`` parses from now on (files and texts)."""
    from pybtex.database.input.bibtex import Parser

    keys: list[str] = []
    parse_string = Parser.parse_string

    def counted(self, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        keys.extend(re.findall(r"^@\w+\{([^,\s]+),", text, re.MULTILINE))
        return parse_string(self, text, *args, **kwargs)

    monkeypatch.setattr(Parser, "parse_string", counted)
    return keys


def test_a_warm_build_parses_only_the_entries_whose_text_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a save of a .bib file, pybtex parses only the entries whose text is new (an
    added entry, an edited one); entries moved, kept or next to a deleted one come from the
    last parse, and sphinxcontrib-bibtex's data equal its own parse of every file, in order.
    Reusing an entry by its key rather than by its text fails the edit step."""
    from conftest import ROOTS, copy_project
    from sphinxcontrib.bibtex.bibfile import parse_bibdata
    from test_incremental import NEW_ENTRY

    from labhandbook.environment import get_library
    from labhandbook.serve import Builder

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    bib = src / "bib" / "b.bib"
    out = tmp_path / "out"
    parsed = _pybtex_keys(monkeypatch)

    def entries(text: str) -> list[str]:
        first, *rest = text.split("\n@")
        return [first, *("@" + part for part in rest)]

    def append(text: str) -> str:
        return text + "\n" + NEW_ENTRY

    def edit(text: str) -> str:
        return text.replace("A Workshop Paper on Molecules", "A Workshop Paper on Crystals")

    def insert(text: str) -> str:
        parts = text.split("\n@")
        return "\n@".join(parts[:1] + [NEW_ENTRY.replace("zz2030new", "zz2030mid").strip()
                                       .lstrip("@") + "\n% a comment between entries"]
                          + parts[1:])

    def swap(text: str) -> str:
        parts = [p.strip("\n") for p in entries(text)]
        parts[0], parts[-1] = parts[-1], parts[0]
        return "\n".join(parts) + "\n"

    def delete(text: str) -> str:
        parts = entries(text)
        return "\n".join(p.strip("\n") for p in parts[:1] + parts[2:]) + "\n"

    steps = [(append, ["zz2030new"]), (edit, ["wu2019ws"]), (insert, ["zz2030mid"]),
             (swap, []), (delete, [])]
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        # the first save of the file in this application: its entries' texts are known
        # from the clean build's checks
        for change, keys in steps:
            bib.write_text(change(bib.read_text(encoding="utf-8")), encoding="utf-8")
            parsed.clear()
            result = builder.build([str(bib)])
            assert result.ok, result.problems
            assert builder._app is not None and builder.warm_builds
            by_the_build = list(parsed)
            bibdata = builder._app.env.get_domain("cite").bibdata
            fresh = parse_bibdata(list(bibdata.bibfiles), bibdata.encoding)
            assert bibdata.bibfiles == fresh.bibfiles
            assert bibdata.data.to_string("bibtex") == fresh.data.to_string("bibtex"), \
                change.__name__
            assert by_the_build == keys, change.__name__
            # the library examines only the entries that are new objects of the parse
            assert get_library(builder._app.env).examined_count == len(keys), change.__name__
            builder.wait_saved()


def test_a_kept_record_is_matched_again_when_the_names_change(tmp_path: Path) -> None:
    """The library keeps the records of entries that are the same parsed objects, but not
    across a change of the members' name spellings: after ``bib_names`` of a person names an
    author of an unchanged entry, the entry is that person's (as in a clean build)."""
    from conftest import ROOTS, copy_project

    from labhandbook.environment import get_library
    from labhandbook.serve import Builder

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    page = src / "people" / "lijun-wu.md"
    out = tmp_path / "out"
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        assert "lijun-wu" not in get_library(builder._app.env).pubs["other2019none"].members
        page.write_text(page.read_text(encoding="utf-8").replace(
            "role: researcher", "role: researcher\nbib_names: [Somebody Nobody]"),
            encoding="utf-8")
        result = builder.build([str(page)])
        assert result.ok, result.problems
        assert builder.warm_builds == 1
        assert "lijun-wu" in get_library(builder._app.env).pubs["other2019none"].members


def test_a_saved_file_is_read_again_from_its_last_reading(tmp_path: Path) -> None:
    """A seeded sequence of saves of a generated library's file (entries added, deleted,
    edited, moved; text between entries; a brace too many or too few; an ``@`` at the start
    of a line inside a value; a ``@string``): reading it again from its last reading gives
    the entries (with their lines) and the problems of reading it afresh, and a save of one
    entry parses that entry only."""
    import random
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import synthlab

    root = tmp_path / "lab"
    synthlab.write(synthlab.generate(10, 3, 120, seed=11), "handbook", root)
    rel = LAB.bib_files(root)[-1]
    path = root / rel
    rng = random.Random(20)

    def entries_of(text: str) -> list[str]:
        first, *rest = text.split("\n@")
        return [first, *("@" + part for part in rest)]

    def save(parts: list[str]) -> None:
        path.write_text("\n".join(p.rstrip("\n") for p in parts) + "\n", encoding="utf-8")

    save(entries_of(path.read_text(encoding="utf-8")))
    cache = ReadCache()
    read_library(root, LAB, cache)

    new = ("@misc{added{n}, author = {Doe, Jane}, title = {Added {n}},\n"
           "  abstract = {A line\n@article{x, that is no entry}, year = {2024}}")
    for step in range(60):
        parts = entries_of(path.read_text(encoding="utf-8"))
        i = rng.randrange(1, len(parts))
        kind = rng.choice(["add", "delete", "edit", "move", "gap", "brace", "unbrace",
                           "string", "same"])
        if kind == "add":
            parts.insert(i, new.replace("{n}", str(step)))
        elif kind == "delete" and len(parts) > 2:
            del parts[i]
        elif kind == "edit":
            parts[i] = parts[i].replace("title = {", f"title = {{Edited {step} ", 1)
        elif kind == "move":
            parts.insert(rng.randrange(1, len(parts)), parts.pop(i))
        elif kind == "gap":
            parts[i] += rng.choice(["\n% a comment", "\n  note = {outside},", "\n\n"])
        elif kind == "brace":
            parts[i] = parts[i].replace("title = {", "title = {{", 1)
        elif kind == "unbrace":
            parts[i] = parts[i].replace("}", "", 1)
        elif kind == "string":
            parts.insert(i, '@string{venue = "Venue"}')
        save(parts)
        before = cache.entries_read
        kept = read_library(root, LAB, cache)
        fresh = read_library(root, LAB)
        assert kept.entries == fresh.entries, (step, kind)
        assert kept.problems == fresh.problems, (step, kind)
        if fresh.problems or kind == "string":  # back to a clean file for the next step
            parts = [p for p in entries_of(path.read_text(encoding="utf-8"))
                     if "@string" not in p]
            save([p.replace("title = {{", "title = {") for p in parts if p.count("{")
                  == p.count("}")])
            read_library(root, LAB, cache)
        elif kind in ("add", "edit"):
            assert cache.entries_read - before == 1, (step, kind)


def test_list_digests_are_worked_out_once_per_list_and_library(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Library.digest_of`` fingerprints a list once per library; a library updated after
    an entry changed gives the list's new fingerprint; the memo is not pickled."""
    import pickle

    from pybtex.database import parse_string

    from labhandbook import library
    from labhandbook.library import update_library
    from labhandbook.style import format_entry_packed

    root = make_handbook(None, tmp_path)
    registry, _ = load_registry(root, LAB)
    text = (root / "bib/papers.bib").read_text(encoding="utf-8")
    lib = update_library(None, parse_string(text, "bibtex").entries, registry,
                         format_entry_packed)
    calls: list[int] = []
    fingerprint = library.fingerprint
    monkeypatch.setattr(library, "fingerprint", lambda *a: calls.append(1) or fingerprint(*a))
    keys = lib.ordered()
    first = lib.digest_of(keys)
    assert lib.digest_of(list(keys)) == first and len(calls) == 1
    assert pickle.loads(pickle.dumps(lib)).digest_of(keys) == first and len(calls) == 2
    edited = text.replace("title = {", "title = {Edited ", 1)
    newer = update_library(lib, parse_string(edited, "bibtex").entries, registry,
                           format_entry_packed)
    assert newer.digest_of(newer.ordered()) != first


def test_paper_pages_are_fingerprinted_by_the_lists_that_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm save that edits one entry's title fingerprints only the paper pages in that
    entry's area and member lists (their related papers may show it), and every paper page
    is then a clean build's: the pages that show the new title as a related paper too."""
    import filecmp
    import sys

    from conftest import sphinx_build

    from labhandbook import papers
    from labhandbook.environment import get_library
    from labhandbook.serve import Builder

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import synthlab

    src = tmp_path / "src"
    synthlab.write(synthlab.generate(12, 3, 150, seed=7), "handbook", src)
    out = tmp_path / "out"
    fingerprinted: list[str] = []
    digest = papers.PaperRenderer.digest
    monkeypatch.setattr(papers.PaperRenderer, "digest",
                        lambda self, key: fingerprinted.append(key) or digest(self, key))
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        total = len(fingerprinted)
        lib = get_library(builder._app.env)
        key = next(k for k in lib.ordered() if lib.pubs[k].members and lib.pubs[k].keywords)
        bib = next(p for p in (src / "bib").glob("*.bib") if f"{{{key}," in p.read_text())
        text = bib.read_text(encoding="utf-8")
        start = text.index(f"{{{key},")
        at = text.index("title = {", start) + len("title = {")
        bib.write_text(text[:at] + "Retitled " + text[at:], encoding="utf-8")
        fingerprinted.clear()
        result = builder.build([str(bib)])
        assert result.ok, result.problems
        assert builder.warm_builds == 1
        assert key in fingerprinted and 0 < len(fingerprinted) < total
    clean = sphinx_build(src, tmp_path / "clean")
    assert clean.exit == 0, clean.warnings
    showing = [p.name for p in (clean.outdir / "papers").glob("*.html")
               if "Retitled" in p.read_text(encoding="utf-8")]
    assert len(showing) > 1  # the paper's own page and a page it is related to
    differ = [p.name for p in (clean.outdir / "papers").glob("*.html")
              if not filecmp.cmp(p, out / "html/papers" / p.name, shallow=False)]
    assert differ == []


@pytest.mark.parametrize("freeze", [True, False], ids=["gc_freeze", "no-freeze"])
def test_the_warm_heap_is_frozen_while_the_sources_are_read_again(
        tmp_path: Path, freeze: bool) -> None:
    """A warm build's source readers (registry, BibTeX checks and parse, library) run with
    the application's heap frozen out of the collector's passes, as the build after them
    does; it is given back when the build has finished (also the build of a new application
    after a reader failed). With
    ``gc_freeze: False`` nothing is frozen."""
    import gc

    from conftest import ROOTS, copy_project

    from labhandbook.serve import Builder

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    if not freeze:
        conf = src / "conf.py"
        text = conf.read_text(encoding="utf-8")
        assert "labhandbook = {" in text, text
        conf.write_text(text.replace("labhandbook = {", 'labhandbook = {"gc_freeze": False, ',
                                     1), encoding="utf-8")
    page = src / "people" / "lijun-wu.md"
    out = tmp_path / "out"
    seen: list[int] = []

    def frozen(app: object) -> None:
        seen.append(gc.get_freeze_count())

    def failing(app: object) -> None:
        raise RuntimeError("a reader fails")

    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        builder._readers.insert(0, frozen)
        page.write_text(page.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
        assert builder.build([str(page)]).ok and builder.warm_builds == 1
        assert (seen[0] > 0) == freeze
        assert gc.get_freeze_count() == 0
        builder._readers[:0] = [frozen]  # (each good build makes its list anew)
        builder._readers.append(failing)
        page.write_text(page.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
        builder.build([str(page)])  # the warm build fails; a new application builds
        assert builder.warm_builds == 2 and len(seen) == 2
        assert gc.get_freeze_count() == 0


def test_the_publications_pages_entries_are_written_once_per_application(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In ``labhandbook serve``'s warm application, the canonical list's entries that the
    publications page showed before with the same text, anchor, label, classes and BibTeX are
    its last writing's HTML (one node each for every later transform and the writer); every
    other entry is written afresh. Each page (and Sphinx's search index) equals a clean
    build's: after a new entry (which renumbers every anchor after it), a retitled entry, an
    entry whose author becomes a member (its classes and links), and a second application
    started from the first one's pickled environment (which keeps no HTML). Sphinx's search
    feed finds the same words in the page as in a build that writes every entry afresh."""
    from conftest import ROOTS, cli_build, copy_project
    from docutils import nodes
    from sphinx.search import IndexBuilder, WordCollector
    from test_incremental import NEW_ENTRY
    from test_serve import _differences as differences

    from labhandbook import publications
    from labhandbook.serve import Builder

    kept: list[int] = []
    fresh: list[int] = []
    run = publications.PlaceKeptEntries.run

    def counted(self, **kwargs):  # type: ignore[no-untyped-def]
        run(self, **kwargs)
        if self.env.docname == "publications":
            items = list(self.document.findall(nodes.list_item))
            kept.append(sum(isinstance(i[0], nodes.substitution_definition) for i in items))
            fresh.append(sum(isinstance(i[0], publications.entry_mark) for i in items))

    # The words Sphinx's search feed finds on the page (its index keeps a page's old words
    # when the page is written again, so the index alone would not show a word lost).
    words: list[list[str]] = []
    feed = IndexBuilder.feed

    def fed(self, docname, filename, title, doctree):  # type: ignore[no-untyped-def]
        if docname == "publications":
            collector = WordCollector(doctree, self.lang)
            doctree.walk(collector)
            words.append(sorted(collector.found_words))
        return feed(self, docname, filename, title, doctree)

    monkeypatch.setattr(publications.PlaceKeptEntries, "run", counted)
    monkeypatch.setattr(IndexBuilder, "feed", fed)
    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    bib = src / "bib/b.bib"
    original = bib.read_text(encoding="utf-8")
    people = src / "people/lijun-wu.md"
    edits = [
        (bib, original.replace("{Unrelated Journal Paper}", "{A Retitled Journal Paper}")),
        (bib, original + "\n" + NEW_ENTRY),
        (people, people.read_text(encoding="utf-8").replace(
            "role: researcher\n", 'role: researcher\nbib_names: ["Nobody, Somebody"]\n', 1)),
    ]
    assert edits[2][1] != people.read_text(encoding="utf-8")
    edits.append((people, people.read_text(encoding="utf-8")))  # back to the first build's
    out = tmp_path / "serve"
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        total = fresh[-1]
        assert kept[-1] == 0 and total > 3
        for step, (path, text) in enumerate(edits):
            path.write_text(text, encoding="utf-8")
            result = builder.build([str(path)])
            assert result.ok, result.problems
            builder.wait_saved()
            assert builder.warm_builds == step + 1
            assert kept[-1] > 0 and 0 < fresh[-1] < kept[-1] + fresh[-1], (step, kept, fresh)
            # (in a process of its own: one in this process would unregister the warm
            # application's node classes from docutils' visitors when it ends)
            clean = cli_build(src, tmp_path / f"clean{step}")
            assert "exit 0" in clean.status, clean.warnings
            assert differences(out / "html", clean.outdir) == [], step
            shown = (out / "html/publications.html").read_text(encoding="utf-8")
            assert ("A Retitled Journal Paper" in shown) == (step == 0)
        warm_words = words[-1]
    with Builder(src, tmp_path / "cold/html", tmp_path / "cold/doctrees") as builder:
        assert builder.build().ok and kept[-1] == 0
    assert warm_words == words[-1] and len(warm_words) > 50
    # a new application, from the pickled environment: everything is written afresh
    bib.write_text(original, encoding="utf-8")
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        assert kept[-1] == 0
    clean = cli_build(src, tmp_path / "clean-last")
    assert differences(out / "html", clean.outdir) == []


def test_paper_pages_share_their_navigation_between_warm_builds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paper pages share one navigation (rendered once per build); ``labhandbook serve``'s
    warm application keeps it between builds while the navigation is the same: a retitled
    entry writes its paper page without rendering it, a retitled page renders it again, and
    every page equals a clean build's."""
    from conftest import ROOTS, cli_build, copy_project
    from test_incremental import count_shared_renders
    from test_serve import _differences as differences

    from labhandbook.serve import Builder

    rendered = count_shared_renders(monkeypatch)
    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    bib = src / "bib/b.bib"
    person = src / "people/lijun-wu.md"
    edits = [(bib, "{Unrelated Journal Paper}", "{A Retitled Journal Paper}", False),
             (person, "# Lijun Wu", "# Lijun Wu (retitled)", True)]
    out = tmp_path / "serve"
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok and rendered
        for step, (path, old, new, renders) in enumerate(edits):
            text = path.read_text(encoding="utf-8")
            assert old in text
            path.write_text(text.replace(old, new), encoding="utf-8")
            rendered.clear()
            stamp = (out / "html/papers/other2019none.html").stat().st_mtime_ns
            result = builder.build([str(path)])
            assert result.ok, result.problems
            builder.wait_saved()
            assert builder.warm_builds == step + 1
            assert (out / "html/papers/other2019none.html").stat().st_mtime_ns != stamp
            assert bool(rendered) == renders, (step, rendered)
            clean = cli_build(src, tmp_path / f"clean{step}")
            assert "exit 0" in clean.status, clean.warnings
            assert differences(out / "html", clean.outdir) == [], step


def test_sphinxcontrib_bibtexs_pass_is_kept_while_what_it_reads_is_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sphinxcontrib-bibtex works out every citation at ``env-updated``; in ``labhandbook
    serve``'s warm application a build whose bibliographies, ``{cite}``\\s, entries and library
    are the last pass's keeps that pass (a prose save), and any of them changed runs it again
    (a new ``{cite}``, a new entry, a retitled entry, a member's new spelling); a new
    application runs it. Each build's pages equal a clean build's."""
    from conftest import ROOTS, cli_build, copy_project
    from sphinxcontrib.bibtex.domain import BibtexDomain
    from test_incremental import NEW_ENTRY
    from test_serve import _differences as differences

    from labhandbook.citations import KeptCitations
    from labhandbook.serve import Builder

    passes: list[str] = []
    formatted = BibtexDomain.get_formatted_entries

    def counted(self, key, *args):  # type: ignore[no-untyped-def]
        passes.append(key.docname)
        return formatted(self, key, *args)

    monkeypatch.setattr(BibtexDomain, "get_formatted_entries", counted)
    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    bib, page = src / "bib/b.bib", src / "research/molecules.md"
    person = src / "people/lijun-wu.md"
    original = bib.read_text(encoding="utf-8")
    edits = [  # (file, new text, whether the pass runs again)
        (person, person.read_text(encoding="utf-8") + "\nA new sentence.\n", False),
        (page, page.read_text(encoding="utf-8") + "\nSee {cite:p}`wu2021drop`.\n", True),
        (person, person.read_text(encoding="utf-8") + "\nAnother sentence.\n", False),
        (bib, original + "\n" + NEW_ENTRY, True),
        (bib, original.replace("{Unrelated Journal Paper}", "{A Retitled Journal Paper}"), True),
        (person, person.read_text(encoding="utf-8").replace(
            "role: researcher\n", 'role: researcher\nbib_names: ["Nobody, Somebody"]\n', 1),
         True),
        (page, page.read_text(encoding="utf-8"), True),
    ]
    out = tmp_path / "serve"
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok and passes == ["publications"]
        assert isinstance(builder._app.env.get_domain("cite"), KeptCitations)
        for step, (path, text, again) in enumerate(edits):
            passes.clear()
            path.write_text(text, encoding="utf-8")
            result = builder.build([str(path)])
            assert result.ok, result.problems
            builder.wait_saved()
            assert builder.warm_builds == step + 1
            assert passes == (["publications"] if again else []), step
            clean = cli_build(src, tmp_path / f"clean{step}")
            assert "exit 0" in clean.status, clean.warnings
            assert differences(out / "html", clean.outdir) == [], step
    passes.clear()
    with Builder(src, out / "html", out / "doctrees") as builder:  # from the pickle
        person.write_text(person.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
        assert builder.build([str(person)]).ok
        assert passes == ["publications"]


def test_entries_whose_html_is_kept_are_not_rendered_by_sphinxcontrib_bibtex(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sphinxcontrib-bibtex's post-transform renders every citation of the canonical list;
    those whose HTML the publications page's last writing kept are replaced by that HTML, so
    they are not rendered (counted): after a retitle only the retitled entry. When the page
    does not use the kept HTML after all (here: no label counts as plain text), it renders the
    entries itself. Each build equals a clean build."""
    from conftest import ROOTS, cli_build, copy_project
    from test_incremental import NEW_ENTRY
    from test_serve import _differences as differences

    from labhandbook import publications
    from labhandbook.serve import Builder

    rendered = _bibtex_renders(monkeypatch)
    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    bib = src / "bib/b.bib"
    original = bib.read_text(encoding="utf-8")
    out = tmp_path / "serve"
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        total = len(rendered)
        assert total > 3
        retitled = original.replace("{Unrelated Journal Paper}", "{A Retitled Journal Paper}")
        steps = [retitled, retitled + "\n" + NEW_ENTRY]
        for step, text in enumerate(steps):
            if step == 1:  # the kept HTML is not used: every entry is rendered by the page
                monkeypatch.setattr(publications, "_plain", lambda text: False)
            rendered.clear()
            bib.write_text(text, encoding="utf-8")
            result = builder.build([str(bib)])
            assert result.ok, result.problems
            builder.wait_saved()
            assert len(rendered) == 1, (step, len(rendered))
            assert ("Retitled" in rendered[0]) == (step == 0)
            clean = cli_build(src, tmp_path / f"clean{step}")
            assert "exit 0" in clean.status, clean.warnings
            assert differences(out / "html", clean.outdir) == [], step


def test_each_word_is_stemmed_once_per_application(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sphinx's search feed stems every word of each page it is fed; ``labhandbook serve``'s
    warm application keeps the stems: a retitled entry, which writes the publications page
    again, stems only its new word (counted), and the search index equals a clean build's."""
    from conftest import ROOTS, cli_build, copy_project
    from sphinx.search.en import SearchEnglish
    from test_serve import _differences as differences

    from labhandbook.serve import Builder

    stemmed: list[str] = []
    stem = SearchEnglish.stem

    def counted(self, word):  # type: ignore[no-untyped-def]
        stemmed.append(word.lower())
        return stem(self, word)

    monkeypatch.setattr(SearchEnglish, "stem", counted)
    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    bib = src / "bib/b.bib"
    out = tmp_path / "serve"
    with Builder(src, out / "html", out / "doctrees") as builder:
        assert builder.build().ok
        assert "paper" in stemmed
        stemmed.clear()
        bib.write_text(bib.read_text(encoding="utf-8").replace(
            "{Unrelated Journal Paper}", "{Zymurgical Journal Paper}"), encoding="utf-8")
        result = builder.build([str(bib)])
        assert result.ok, result.problems
        builder.wait_saved()
        assert builder.warm_builds == 1
        assert stemmed == ["zymurgical"]
    clean = cli_build(src, tmp_path / "clean")
    assert "exit 0" in clean.status, clean.warnings
    assert differences(out / "html", clean.outdir) == []
    assert "zymurg" in (out / "html/searchindex.js").read_text(encoding="utf-8")
