"""Every incremental build equals a clean build (issue #16), tested differentially.

A seeded random sequence of ordinary edits (``editlab.EDITS``) is applied to a small lab; after
each step the lab is built incrementally into one folder (a new process, as ``make html``) and
from scratch into another, and every output file is compared byte for byte.

``make test`` runs a short sequence; ``make fuzz`` (``LABHANDBOOK_FUZZ=1``) runs 200 steps with
``-j 1`` and with ``-j 2``. ``LABHANDBOOK_INCREMENTAL_STEPS`` and ``..._SEED`` override both.

Every file of the site is compared byte for byte (sitemap, feeds, ``.buildinfo`` included),
with two exceptions, both Sphinx's own incremental behaviour, neither visible to a reader:

* ``.buildinfo.bak``: Sphinx's copy of the previous build's ``.buildinfo``, kept when the
  settings changed; not part of the site, and a clean build has no previous build.
* ``searchindex.js``: Sphinx's search index, updated in place, keeps a word that no page has
  any more as an entry with an empty page list (``IndexBuilder.prune`` empties the sets and
  ``get_terms`` writes them as ``[]``); such an entry matches nothing. The index is compared
  as data with those empty entries dropped, and must otherwise be equal.
"""

from __future__ import annotations

import json
import os
import posixpath
import random
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from editlab import EDITS, Lab, initial

FUZZ = os.environ.get("LABHANDBOOK_FUZZ") == "1"
STEPS = int(os.environ.get("LABHANDBOOK_INCREMENTAL_STEPS") or (200 if FUZZ else 10))
SEED = int(os.environ.get("LABHANDBOOK_INCREMENTAL_SEED") or 16)


def build(src: Path, out: Path, jobs: int) -> subprocess.Popen[str]:
    """``make html`` in a new process (incremental when ``out`` holds a previous build)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", "-j",
         str(jobs), "-d", str(out / "doctrees"), str(src), str(out / "html")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=src,
        env={"NO_COLOR": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}},
    )


def finish(proc: subprocess.Popen[str], what: str) -> str:
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0 and not stderr, f"{what} failed:\n{stderr}\n{stdout[-2000:]}"
    return stdout


#: Sphinx's record of the previous build's settings: an incremental build's own, not the site's.
NOT_THE_SITE = {".buildinfo.bak"}


def files(folder: Path) -> dict[str, bytes]:
    out = {p.relative_to(folder).as_posix(): p.read_bytes()
           for p in sorted(folder.rglob("*"))
           if p.is_file() and p.relative_to(folder).as_posix() not in NOT_THE_SITE}
    if "searchindex.js" in out:
        out["searchindex.js"] = search_index_without_empty_words(out["searchindex.js"])
    return out


def search_index_without_empty_words(data: bytes) -> bytes:
    text = data.decode("utf-8")
    start, end = text.index("(") + 1, text.rindex(")")
    index = json.loads(text[start:end])
    for table in ("terms", "titleterms"):
        index[table] = {word: pages for word, pages in index[table].items() if pages != []}
    return json.dumps(index, sort_keys=True, ensure_ascii=False).encode("utf-8")


def differences(incremental: Path, clean: Path) -> list[str]:
    """Files that are missing, extra or different in the incremental build."""
    inc, ref = files(incremental), files(clean)
    out = [f"missing {name}" for name in sorted(set(ref) - set(inc))]
    out += [f"extra {name}" for name in sorted(set(inc) - set(ref))]
    out += [f"differs {name}" for name in sorted(set(inc) & set(ref)) if inc[name] != ref[name]]
    return out


def edit_sequence(rng: random.Random, steps: int) -> list[Any]:
    """Every kind of edit once in a random order, then again: a short run covers most kinds."""
    kinds = sorted(set(EDITS), key=lambda e: e.__name__)
    out: list[Any] = []
    while len(out) < steps:
        out += rng.sample(kinds, len(kinds))
    return out[:steps]


def run_sequence(tmp: Path, steps: int, seed: int, jobs: int) -> list[tuple[int, str, list[str]]]:
    """Apply ``steps`` random edits; the steps whose incremental build differs, with the files."""
    rng = random.Random(seed)
    src, inc = tmp / "src", tmp / "incremental"
    lab: Lab = initial()
    lab.write(src)
    finish(build(src, inc, jobs), "first build")
    failures = []
    for step, edit in enumerate(edit_sequence(rng, steps), 1):
        what = edit(lab, rng)
        lab.write(src)
        clean = tmp / "clean"
        shutil.rmtree(clean, ignore_errors=True)
        procs = build(src, inc, jobs), build(src, clean, jobs)  # side by side: 2 cores
        finish(procs[0], f"step {step} ({what}), incremental build")
        finish(procs[1], f"step {step} ({what}), clean build")
        diff = differences(inc / "html", clean / "html")
        if diff:  # record it, and go on from the clean state: each step is judged alone
            failures.append((step, what, diff))
            (inc / "html").rename(tmp / f"step-{step}-incremental")  # kept to look at
            shutil.rmtree(inc)
            shutil.copytree(clean, inc)
    return failures


def report(failures: list[tuple[int, str, list[str]]], steps: int) -> str:
    lines = [f"{len(failures)} of {steps} incremental builds differ from a clean build:"]
    for step, what, diff in failures:
        lines.append(f"  step {step} ({what}): {len(diff)} files: {', '.join(diff[:8])}")
    return "\n".join(lines)


def test_incremental_builds_equal_clean_builds(tmp_path: Path) -> None:
    failures = run_sequence(tmp_path, STEPS, SEED, 1)
    assert not failures, report(failures, STEPS)


@pytest.mark.fuzz
@pytest.mark.skipif(not FUZZ, reason="long sequence: `make fuzz`")
@pytest.mark.parametrize("jobs", [1, 2])
def test_long_sequence_of_edits(tmp_path: Path, jobs: int) -> None:
    failures = run_sequence(tmp_path, STEPS, SEED + jobs, jobs)
    assert not failures, report(failures, STEPS)


def test_the_edit_sequence_covers_every_kind_of_edit() -> None:
    """The short sequence of ``make test`` exercises most kinds of edit (seeded, so fixed)."""
    kinds = {edit.__name__ for edit in edit_sequence(random.Random(SEED), STEPS)}
    assert len(kinds) >= min(STEPS, len(set(EDITS))), kinds


# --- one test per way an incremental build used to differ (each seen failing before #16) ---------


def two_builds(tmp: Path, edit: Any, root: str = "test-publications", jobs: int = 1,
               prepare: Any = None) -> tuple[Path, Path, str]:
    """Build a copy of a test root (after ``prepare(src)``), apply ``edit(src)``, build again
    incrementally and from scratch; the two output folders and the incremental build's log."""
    from conftest import ROOTS, copy_project

    src = copy_project(ROOTS / root, tmp / "src")
    if prepare is not None:
        prepare(src)
    finish(build(src, tmp / "inc", jobs), "first build")
    edit(src)
    procs = build(src, tmp / "inc", jobs), build(src, tmp / "clean", jobs)
    log = finish(procs[0], "incremental build")
    finish(procs[1], "clean build")
    return tmp / "inc/html", tmp / "clean/html", log


NEW_ENTRY = ("@inproceedings{zz2030new,\n  author = {Wu, Lijun},\n  title = {A Newest Paper},\n"
             "  booktitle = {Conference on Examples},\n  year = {2030},\n  keywords = {nmt},\n}\n")


def test_cite_links_on_unchanged_pages_follow_a_new_entry(tmp_path: Path) -> None:
    """One added entry renumbers sphinxcontrib-bibtex's ``publications.html#idNN`` anchors:
    an unchanged area page that cites an entry is written again with the new anchor."""
    def prepare(src: Path) -> None:
        page = src / "research/molecules.md"
        page.write_text(page.read_text(encoding="utf-8") + "\nSee {cite:p}`wu2019ws`.\n",
                        encoding="utf-8")

    def edit(src: Path) -> None:  # first in the first file: the anchors after it move
        bib = src / "bib/a.bib"
        bib.write_text(NEW_ENTRY + bib.read_text(encoding="utf-8"), encoding="utf-8")

    inc, clean, _ = two_builds(tmp_path, edit, prepare=prepare)
    links = cite_links(clean / "research/molecules.html")
    assert links
    assert cite_links(inc / "research/molecules.html") == links
    assert differences(inc, clean) == []


def cite_links(page: Path) -> list[str]:
    return re.findall(r'href="((?:\.\./)?publications\.html#[^"]+)"',
                      page.read_text(encoding="utf-8"))


def sidebar_links(page: Path) -> list[str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return [a["href"] for a in soup.select(".bd-sidenav a")]


def test_every_page_gets_the_new_navigation_when_a_page_is_added(tmp_path: Path) -> None:
    def edit(src: Path) -> None:
        (src / "people/ada-new.md").write_text("---\nname: Ada New\nrole: phd\n---\n# Ada New\n",
                                              encoding="utf-8")

    inc, clean, _ = two_builds(tmp_path, edit)
    assert "../people/ada-new.html" in sidebar_links(clean / "research/molecules.html")
    for page in ("research/molecules.html", "news.html", "people/lijun-wu.html"):
        assert sidebar_links(inc / page) == sidebar_links(clean / page)
    assert differences(inc, clean) == []


def test_a_new_section_heading_reaches_every_toctree_that_shows_it(tmp_path: Path) -> None:
    """The home page's toctree shows the section headings of area pages (through the research
    index's toctree): Sphinx writes again only the direct parent of a changed page."""
    lab = initial()
    src, inc, clean = tmp_path / "src", tmp_path / "inc", tmp_path / "clean"
    lab.write(src)
    finish(build(src, inc, 1), "first build")
    lab.headings["research/molecules"] = ["Binding sites"]
    lab.write(src)
    procs = build(src, inc, 1), build(src, clean, 1)
    finish(procs[0], "incremental build")
    finish(procs[1], "clean build")
    assert "research/molecules.html#binding-sites" in (clean / "html/index.html").read_text(
        encoding="utf-8")
    assert differences(inc / "html", clean / "html") == []


def test_every_sidebar_follows_a_new_toctree_caption(tmp_path: Path) -> None:
    """The sidebar of every page shows the captions of the home page's toctree."""
    def edit(src: Path) -> None:
        page = src / "index.md"
        page.write_text(page.read_text(encoding="utf-8").replace(
            "```{toctree}\n", "```{toctree}\n:caption: The lab\n"), encoding="utf-8")

    inc, clean, _ = two_builds(tmp_path, edit)
    assert "The lab" in (clean / "research/molecules.html").read_text(encoding="utf-8")
    assert differences(inc, clean) == []


def test_outputs_of_a_removed_person_are_removed(tmp_path: Path) -> None:
    gone = ["people/jorg-muller.html", "people/jorg-muller.atom",
            "_downloads/bib/jorg-muller.bib", "_sources/people/jorg-muller.md.txt"]

    def edit(src: Path) -> None:
        (src / "people/jorg-muller.md").unlink()
        bib = src / "bib/a.bib"
        bib.write_text(bib.read_text(encoding="utf-8"), encoding="utf-8")

    inc, clean, _ = two_builds(tmp_path, edit)
    assert [name for name in gone if (inc / name).exists()] == []
    assert "../people/jorg-muller.html" not in sidebar_links(inc / "research/molecules.html")
    assert differences(inc, clean) == []


def test_member_filter_follows_a_role_change(tmp_path: Path) -> None:
    """The filter lists members in directory order (role, status): a role change reorders it."""
    def edit(src: Path) -> None:
        page = src / "people/lijun-wu.md"
        page.write_text(page.read_text(encoding="utf-8").replace("role: researcher",
                                                                 "role: masters"),
                        encoding="utf-8")

    inc, clean, _ = two_builds(tmp_path, edit)

    def members(page: Path) -> list[str]:
        return re.findall(r'<option value="([a-z-]+)">', page.read_text(encoding="utf-8")
                          .split('data-lh-filter="member"')[1].split("</select>")[0])

    assert members(clean / "publications.html") == ["jorg-muller", "lijun-wu"]
    assert members(inc / "publications.html") == members(clean / "publications.html")
    assert differences(inc, clean) == []


def test_static_files_are_linked_alike_in_clean_and_incremental_builds(tmp_path: Path) -> None:
    inc, clean, _ = two_builds(tmp_path, lambda src: None)
    assert "labhandbook.css?v=" in (clean / "index.html").read_text(encoding="utf-8")
    assert "labhandbook.css?v=" in (inc / "genindex.html").read_text(encoding="utf-8")
    assert differences(inc, clean) == []


def test_a_bib_error_does_not_make_the_next_build_read_everything(tmp_path: Path) -> None:
    """Which .bib files are used is decided at config-inited from the files: a build after an
    unreadable .bib sees the same configuration and reads nothing again."""
    from conftest import ROOTS, copy_project

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    (src / "bib/broken.bib").write_text("@article{broken,\n  title = {Unclosed\n",
                                        encoding="utf-8")
    for _ in range(2):
        proc = build(src, tmp_path / "out", 1)
        stdout, stderr = proc.communicate()
        assert proc.returncode != 0 and "broken.bib" in stderr and "Traceback" not in stderr
    assert "config changed" not in stdout
    assert "0 added, 0 changed, 0 removed" in stdout


def test_code_version_follows_the_code(tmp_path: Path) -> None:
    """``env_version`` changes with any module, template or static file of the package."""
    import labhandbook
    from labhandbook import code_version

    package = Path(labhandbook.__file__).parent
    copy = tmp_path / "labhandbook"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert code_version(copy) == code_version(package) == code_version()
    (copy / "papers.py").write_text((copy / "papers.py").read_text() + "\n# changed\n")
    assert code_version(copy) != code_version(package)
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "x.pyc").write_bytes(b"\0")  # not code: no change
    assert code_version(copy) == code_version(copy)


RECORDER = '''
import json, pathlib

def _seen(app, pagename, templatename, context, doctree):
    app.__dict__.setdefault("_seen", {})[pagename] = str(context.get("title"))

def _dump(app, exception):
    pathlib.Path(app.outdir, "seen.json").write_text(json.dumps(app.__dict__.get("_seen", {})))

def setup(app):
    app.connect("html-page-context", _seen)
    app.connect("build-finished", _dump)
'''


def test_paper_pages_go_through_other_extensions_and_titles_are_escaped(tmp_path: Path) -> None:
    """With ``-j 2`` every paper page passes another extension's ``html-page-context`` handler
    in the main process, and the title handed to the theme is escaped text."""
    from conftest import ROOTS, copy_project

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    entries = "".join(
        f"@misc{{bulk{i:02d},\n  author = {{Wu, Lijun}},\n  title = {{Study {i} of <b>x</b> & y}},"
        f"\n  year = {{2020}},\n  keywords = {{nmt}},\n}}\n" for i in range(30))
    (src / "bib/c.bib").write_text(entries, encoding="utf-8")
    conf = src / "conf.py"
    conf.write_text(conf.read_text() + 'templates_path = ["_templates"]\n' + RECORDER,
                    encoding="utf-8")
    (src / "_templates").mkdir()  # a lab's layout with breadcrumbs: prints the title as given
    (src / "_templates/layout.html").write_text(
        '{% extends "!layout.html" %}\n{% block docs_body %}'
        '<p class="crumb">{{ title }}</p>{{ super() }}{% endblock %}\n', encoding="utf-8")
    finish(build(src, tmp_path / "out", 2), "build")
    page = (tmp_path / "out/html/papers/bulk07.html").read_text(encoding="utf-8")
    assert '<p class="crumb">Study 7 of &lt;b&gt;x&lt;/b&gt; &amp; y</p>' in page
    assert "<b>x</b>" not in page
    seen = json.loads((tmp_path / "out/html/seen.json").read_text())
    papers = {k: v for k, v in seen.items() if k.startswith("papers/")}
    assert papers["papers/bulk07"] == "Study 7 of &lt;b&gt;x&lt;/b&gt; &amp; y"
    assert len(papers) == len(list((tmp_path / "out/html/papers").glob("*.html"))) == 35


def test_sitemap_lists_only_pages_that_exist(tmp_path: Path) -> None:
    from conftest import ROOTS, copy_project

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    conf = src / "conf.py"
    conf.write_text(conf.read_text() + 'html_baseurl = "https://lab.example.org/"\n')
    with (src / "bib/b.bib").open("a", encoding="utf-8") as f:  # a key `check` refuses
        f.write(NEW_ENTRY.replace("zz2030new", "bad'key"))
    proc = build(src, tmp_path / "out", 1)
    proc.communicate()
    out = tmp_path / "out/html"
    sitemap = (out / "sitemap.xml").read_text(encoding="utf-8")
    for url in re.findall(r"<loc>https://lab.example.org/([^<]*)</loc>", sitemap):
        assert (out / url).is_file(), url


def test_the_shared_sidebar_adapter_matches_the_theme(handbook) -> None:
    """Paper pages share one rendering of the theme's navigation component; the theme still
    has that component in its default sidebars, and a paper page's navigation is the same
    HTML as on another page outside the toctree (links compared from the site's root)."""
    from bs4 import BeautifulSoup

    from labhandbook.papers import THEME_NAV, theme_sidebars

    items = theme_sidebars()
    assert items is not None and THEME_NAV in items
    paper = next((handbook.outdir / "papers").glob("*.html"))
    other = handbook.outdir / "genindex.html"  # in no toctree either: nothing marked current

    def nav(path: Path) -> list[tuple[str, str]]:
        """The navigation's links, as paths from the site's root."""
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        folder = path.parent.relative_to(handbook.outdir).as_posix()
        return [(a.get_text(strip=True), posixpath.normpath(posixpath.join(folder, a["href"])))
                for a in soup.select(".bd-sidenav a.reference")]

    assert nav(paper) and nav(paper) == nav(other)


def test_a_failing_later_handler_leaves_the_collector_unfrozen(tmp_path: Path) -> None:
    """``gc_freeze`` freezes inside the build, where ``build-finished`` always follows: an
    extension failing at ``builder-inited`` after the handbook's handlers leaves nothing frozen;
    the collector, off while the environment loads, is on again with the next application."""
    import gc

    from conftest import ROOTS, copy_project, sphinx_build

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    sphinx_build(src, tmp_path / "out")  # so that the failing build loads an environment
    conf = src / "conf.py"
    conf.write_text(conf.read_text() + "\n\ndef _boom(app):\n    raise RuntimeError('boom')\n\n"
                    "def setup(app):\n    app.connect('builder-inited', _boom, priority=900)\n")
    # A known state: objects that earlier tests' builds left frozen may be freed by reference
    # counting during this build, which lowers the count whatever the handbook does.
    gc.unfreeze()
    with pytest.raises(Exception, match="boom"):
        sphinx_build(src, tmp_path / "out", fresh=False)
    assert gc.get_freeze_count() == 0
    # The environment loads with the collector off (labhandbook.process); the failed
    # application never reached its build, so the next application switches it back on.
    assert not gc.isenabled()
    sphinx_build(copy_project(ROOTS / "test-basic", tmp_path / "src2"), tmp_path / "next")
    assert gc.isenabled()


GC_PROBE = """

def _probe(app, *args):
    import gc, json, pathlib
    path = pathlib.Path(app.outdir).parent / "gc-probe.json"
    seen = json.loads(path.read_text()) if path.exists() else {}
    seen[args[-1]] = gc.isenabled()
    path.write_text(json.dumps(seen))

def setup(app):
    app.connect("builder-inited", lambda app: _probe(app, "builder-inited"), priority=900)
    app.connect("env-before-read-docs", lambda app, env, docs: _probe(app, "reading"),
                priority=900)
    app.connect("build-finished", lambda app, exc: _probe(app, "finished"))
"""


@pytest.mark.parametrize("gc_freeze", [True, False])
def test_the_environment_loads_with_the_collector_off(tmp_path: Path, gc_freeze: bool) -> None:
    """``gc_freeze``: the collector is off from ``config-inited`` (the pickled environment is
    loaded next) until the loaded heap is frozen, and on again for the build."""
    from conftest import ROOTS, cli_build, copy_project

    src = copy_project(ROOTS / "test-basic", tmp_path / "src")
    conf = src / "conf.py"
    conf.write_text(conf.read_text() + f'labhandbook["gc_freeze"] = {gc_freeze}\n' + GC_PROBE)
    for loaded in (False, True):  # clean (on again at builder-inited), then loading the pickle
        assert "exit 0" in cli_build(src, tmp_path / "out").status
        seen = json.loads((tmp_path / "out" / "gc-probe.json").read_text())
        assert seen == {"builder-inited": not (gc_freeze and loaded), "reading": True,
                        "finished": True}


def test_paper_pages_keep_the_themes_components(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Paper pages after the first of a build take the theme's component lists from the
    first (``papers._hold_theme_sections``) and the stylesheet and script tags too
    (``papers._shared_asset_tags``): the pages are the same, byte for byte, as the theme and
    Sphinx working them out on every page."""
    from conftest import ROOTS, copy_project, sphinx_build

    import labhandbook.papers as papers

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    held: list[str] = []
    hold = papers._hold_theme_sections

    def counted(app, pagename, templatename, context, doctree):  # type: ignore[no-untyped-def]
        hold(app, pagename, templatename, context, doctree)
        if papers.HELD_KEY in context:
            held.append(pagename)

    made: list[str] = []  # tags of files made by Sphinx's own functions on paper pages
    memo_tag = papers._memo_tag

    def counting_memo(memo, tag):  # type: ignore[no-untyped-def]
        def counted_tag(asset):  # type: ignore[no-untyped-def]
            if isinstance(asset, str) or getattr(asset, "filename", None):
                made.append(str(asset))
            return tag(asset)
        return memo_tag(memo, counted_tag)

    monkeypatch.setattr(papers, "_hold_theme_sections", counted)
    monkeypatch.setattr(papers, "_memo_tag", counting_memo)
    adapted = sphinx_build(src, tmp_path / "adapted")
    monkeypatch.setattr(papers, "_hold_theme_sections", lambda *args: None)
    monkeypatch.setattr(papers, "_shared_asset_tags", lambda *args: None)
    plain = sphinx_build(src, tmp_path / "plain")
    pages = sorted(p.name for p in (adapted.outdir / "papers").glob("*.html"))
    assert len(pages) > 3 and len(held) == len(pages) - 1
    # each stylesheet and script of paper pages made once per build, not once per page
    assert made and len(made) == len(set(made)), made
    assert sorted(p.name for p in (plain.outdir / "papers").glob("*.html")) == pages
    for name in pages:
        assert (adapted.outdir / "papers" / name).read_text(encoding="utf-8") == \
            (plain.outdir / "papers" / name).read_text(encoding="utf-8"), name


def test_the_themes_sidebar_components_are_shared_and_the_same(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """Every default sidebar component of the theme is wrapped (``papers.SHARED_COMPONENTS``):
    paper pages render each once per build, and every page of the site is the same, byte for
    byte, as with the theme's own sidebar list."""
    from conftest import ROOTS, copy_project, sphinx_build

    import labhandbook.papers as papers

    items = papers.theme_sidebars()
    assert items and set(items) <= set(papers.SHARED_COMPONENTS), items
    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    rendered: list[str] = []
    asked = count_shared_renders(monkeypatch, rendered)
    wrapped = sphinx_build(src, tmp_path / "wrapped")
    # the navigation's wrapper names it "sidebar-nav"; the others by the theme's file name
    assert set(asked) == {"sidebar-nav" if i == papers.THEME_NAV else i for i in items}, asked
    pages = sorted(p.relative_to(wrapped.outdir).as_posix() for p in wrapped.outdir.rglob("*.html"))
    paper_pages = [p for p in pages if p.startswith("papers/")]
    # once per build for all paper pages, once per page for the others
    assert len(rendered) <= (len(pages) - len(paper_pages) + 1) * len(items), len(rendered)
    monkeypatch.setattr(papers, "_paper_sidebars", lambda *args: None)
    plain = sphinx_build(src, tmp_path / "plain")
    assert pages == sorted(p.relative_to(plain.outdir).as_posix()
                           for p in plain.outdir.rglob("*.html"))
    for page in pages:
        assert (wrapped.outdir / page).read_text(encoding="utf-8") == \
            (plain.outdir / page).read_text(encoding="utf-8"), page


def test_paper_pages_memos_stay_the_size_of_one_page(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The build's memo of tags that paper pages carry in their template context
    (``papers._shared_asset_tags``) holds what every page shares, never a page's own: the
    theme adds an inline script naming the page to each one, and memoised it grew the memo by
    an entry a page. Sphinx formats ``repr`` of the whole context at every
    ``html-page-context`` (a debug message, shown or not), so that memo cost time in proportion
    to the pages squared (1.6 s of a lab-scale clean build, 1000 paper pages); a memo's
    ``repr`` is short."""
    from conftest import ROOTS, copy_project, sphinx_build

    import labhandbook.papers as papers

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    seen: list[tuple[str, dict[str, int], int, bool]] = []
    shared_tags = papers._shared_asset_tags

    def recorded(app, pagename, templatename, context, doctree):  # type: ignore[no-untyped-def]
        shared_tags(app, pagename, templatename, context, doctree)
        memos = context.get(papers.TAGS_KEY)
        if memos is not None:  # what the pages before this one left in the memos
            seen.append((pagename, {n: len(m) for n, m in memos.items()},
                         max(map(len, map(repr, memos.values())), default=0),
                         all(key[1] for m in memos.values() for key in m if key[0] != "str")))

    monkeypatch.setattr(papers, "_shared_asset_tags", recorded)
    build = sphinx_build(src, tmp_path / "out")
    pages = sorted(p.name for p in (build.outdir / "papers").glob("*.html"))
    assert len(seen) == len(pages) > 3
    assert seen[1][1] and set(seen[1][1]) == set(papers.TAG_FUNCTIONS)
    assert all(files for *_, files in seen), seen  # only assets with a file are kept
    assert all(sizes == seen[1][1] for _, sizes, *_ in seen[1:]), seen
    assert all(length < 100 for _, _, length, _ in seen), seen


def count_shared_renders(monkeypatch: pytest.MonkeyPatch,
                         rendered: list[str] | None = None) -> list[str]:
    """The keys ``papers._shared_renderer``'s ``lh_shared`` is asked for, as asked (and those
    it rendered, into ``rendered``)."""
    import labhandbook.papers as papers

    renders: list[str] = []
    shared = papers._shared_renderer
    made = rendered if rendered is not None else []

    def counted(memo):  # type: ignore[no-untyped-def]
        render = shared(memo)

        def inner(key, macro):  # type: ignore[no-untyped-def]
            renders.append(key)
            return render(key, lambda: made.append(key) or macro())
        return inner

    monkeypatch.setattr(papers, "_shared_renderer", counted)
    return renders


def test_each_pages_navigation_is_rendered_once_and_the_same(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """The theme's navigation renders once per page (``papers._page_navigation``: its check
    for empty components and the page share the rendering): every page is the same, byte for
    byte, as with the navigation rendered twice, and each page's own (the current page marked)."""
    from conftest import ROOTS, copy_project, sphinx_build

    import labhandbook.papers as papers

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    renders = count_shared_renders(monkeypatch)
    once = sphinx_build(src, tmp_path / "once")
    monkeypatch.setattr(papers, "_page_navigation", lambda *args: None)
    twice = sphinx_build(src, tmp_path / "twice")
    pages = sorted(p.relative_to(once.outdir).as_posix() for p in once.outdir.rglob("*.html"))
    assert pages == sorted(p.relative_to(twice.outdir).as_posix()
                           for p in twice.outdir.rglob("*.html"))
    for page in pages:
        assert (once.outdir / page).read_text(encoding="utf-8") == \
            (twice.outdir / page).read_text(encoding="utf-8"), page
    written = [p for p in pages if not p.startswith(("papers/", "_"))]
    assert len(written) > 5 and len(renders) >= 2 * len(written)  # the check and the page



def test_templates_are_checked_once_per_build(tmp_path: Path) -> None:
    """Jinja does not look at a template's file again each time a page includes it
    (``papers._templates_checked_once``), and an edited template still shows in the next
    build (a new application, as ``make html`` and ``labhandbook serve`` start for it)."""
    from conftest import ROOTS, cli_build, copy_project

    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    conf = src / "conf.py"
    conf.write_text(conf.read_text(encoding="utf-8") + """
templates_path = ["_templates"]

def _probe(app):
    from pathlib import Path
    Path(app.outdir).parent.joinpath("auto-reload").write_text(
        str(app.builder.templates.environment.auto_reload))

def setup(app):
    app.connect("builder-inited", _probe, priority=900)
""", encoding="utf-8")
    (src / "_templates").mkdir(exist_ok=True)
    page = src / "_templates" / "page.html"
    page.write_text('{% extends "!page.html" %}\n', encoding="utf-8")
    built = cli_build(src, tmp_path / "out")
    assert built.status.endswith("exit 0"), built.warnings
    assert (tmp_path / "out" / "auto-reload").read_text() == "False"
    page.write_text('{% extends "!page.html" %}{% block body %}lh-template-mark {{ super() }}'
                    "{% endblock %}\n", encoding="utf-8")
    again = cli_build(src, tmp_path / "out")
    assert "lh-template-mark" in again.html("index.html")
def test_an_edited_stylesheet_is_linked_with_its_new_checksum(tmp_path: Path) -> None:
    """Sphinx links a lab's stylesheet with a ``?v=`` checksum of its content but writes no
    page again when only the file changed: every page and paper page must follow it, in a
    new process (``make html``) and in a long-lived one (Sphinx caches checksums)."""
    def css(color: str) -> str:
        return f".lh-lab {{ color: {color}; }}\n"

    def prepare(src: Path) -> None:
        (src / "_static").mkdir(exist_ok=True)
        (src / "_static/lab.css").write_text(css("#111"), encoding="utf-8")
        with (src / "conf.py").open("a", encoding="utf-8") as conf:
            conf.write('\nhtml_static_path = ["_static"]\nhtml_css_files = ["lab.css"]\n')

    def edit(src: Path) -> None:
        (src / "_static/lab.css").write_text(css("#222"), encoding="utf-8")

    def link(page: Path) -> str | None:
        found = re.search(r"lab\.css\?v=\w+", page.read_text(encoding="utf-8"))
        return found[0] if found else None

    inc, clean, _ = two_builds(tmp_path, edit, prepare=prepare)
    paper = next((clean / "papers").glob("*.html")).relative_to(clean).as_posix()
    expected = f"lab.css?v={zlib.crc32(css('#222').encode()):08x}"
    for page in ("index.html", "people/lijun-wu.html", paper):
        assert link(clean / page) == expected
        assert link(inc / page) == expected, page
    assert differences(inc, clean) == []

    # One process, two builds of one output: the second links the new checksum.
    from conftest import sphinx_build

    src, out = tmp_path / "src", tmp_path / "inproc"
    for color in ("#333", "#444"):
        (src / "_static/lab.css").write_text(css(color), encoding="utf-8")
        done = sphinx_build(src, out, fresh=False)
        assert done.exit == 0 and not done.warnings, done.warnings
        assert link(done.outdir / "index.html") == (
            f"lab.css?v={zlib.crc32(css(color).encode()):08x}")
