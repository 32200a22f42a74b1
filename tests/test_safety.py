"""Safe by construction for pull-request content (#18).

- The hostile corpus (``tests/hostile_corpus.py``: one minimal page or file per attack) built in
  two layouts of the theme: every attack ends as the located errors it lists or as inert
  output, ``check`` reports exactly what the build reports, no output holds injected markup,
  and a secret outside the handbook (and in its ``.git/``) never reaches ``_build``.
- The allow-list itself (nh3 on the raw nodes), embeds allowed by name, fragments.
- Denial of service: each hostile input ends within a generous time with a located error.
- Duplicate YAML keys, long fields, the e-mail pattern, ``new area --keyword`` with a newline.

``tests/browser/test_hostile.py`` loads the corpus in chromium.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CorpusBuild
from hostile_corpus import ATTACKS, Attack
from test_check import make_handbook
from test_hardening import injections

from labhandbook.check import run_check
from labhandbook.config import LabConfig
from labhandbook.safety import HtmlPolicy, judge_html

_REPORTED = re.compile(r"^(?P<path>/\S+?):(?P<line>\d+): (?P<level>ERROR|CRITICAL): .*?"
                       r"(?: \[(?P<type>[\w.-]+)\])?$")


def build_errors(build: CorpusBuild) -> set[tuple[str, int, str]]:
    """(path, line, code) of every error the build reported (``missing``: docutils' own)."""
    found = set()
    for line in build.stderr.splitlines():
        m = _REPORTED.match(line)
        if m:
            code = (m["type"] or "").removeprefix("labhandbook.")
            found.add((Path(os.path.relpath(m["path"], build.srcdir)).as_posix(),
                       int(m["line"]), "missing" if code in ("docutils", "") else code))
    return found


EXPECTED = {e for attack in ATTACKS for e in attack.expect}


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_every_attack_ends_as_its_located_errors_or_inert(corpus: dict[str, CorpusBuild],
                                                          attack: Attack) -> None:
    build = corpus["a"]
    assert build.exit != 0
    assert "Traceback" not in build.stderr
    errors = build_errors(build)
    mine = {e for e in errors if e[0] == attack.path}
    assert set(attack.expect) <= errors, build.stderr
    assert mine <= set(attack.expect), f"{attack.name} is refused more than expected: {mine}"


def test_nothing_else_is_refused(corpus: dict[str, CorpusBuild]) -> None:
    """No false alarm: allowed markup, the lab's own pages and charts pass untouched."""
    for layout in ("a", "b"):
        assert build_errors(corpus[layout]) == EXPECTED, layout


def test_check_reports_what_the_build_reports(corpus: dict[str, CorpusBuild]) -> None:
    result = run_check(corpus["a"].srcdir)
    found = {(p.path, p.line, p.code) for p in result.errors}
    assert found == {e for e in EXPECTED if e[2] != "missing"}
    build = corpus["a"]
    for p in result.errors:  # the same words
        assert f"{build.srcdir / p.path}:{p.line}: ERROR: {p.text}" in build.stderr, p


@pytest.mark.parametrize("layout", ["a", "b"])
def test_no_secret_and_no_injected_markup_reaches_the_site(corpus: dict[str, CorpusBuild],
                                                           layout: str) -> None:
    build = corpus[layout]
    leaked = [p.relative_to(build.outdir.parent).as_posix()
              for p in build.outdir.parent.rglob("*") if p.is_file() and
              (build.marker.encode() in p.read_bytes() or b"root:x:0:0" in p.read_bytes())]
    assert leaked == []
    assert not list(build.srcdir.rglob("PWNED-BY-JINJA")), "a substitution ran a command"
    assert str(build.srcdir) not in "".join(
        p.read_text(encoding="utf-8") for p in (build.outdir / "hostile").glob("*.html"))
    assert injections(build.outdir) == []


def test_the_two_layouts_print_different_things(corpus: dict[str, CorpusBuild]) -> None:
    """Layout "b" prints breadcrumbs and source links that layout "a" does not."""
    a = (corpus["a"].outdir / "hostile/script.html").read_text(encoding="utf-8")
    b = (corpus["b"].outdir / "hostile/script.html").read_text(encoding="utf-8")
    assert "breadcrumb" in b and "breadcrumb" not in a


def test_allowed_markup_is_kept(corpus: dict[str, CorpusBuild]) -> None:
    html = (corpus["a"].outdir / "hostile/allowed-markup.html").read_text(encoding="utf-8")
    assert "<b>bold</b>" in html
    assert ('<a href="https://example.org/" target="_blank" rel="noopener noreferrer">'
            "a link</a>") in html
    assert re.search(r"<details><summary>More</summary>\s*<p>Markdown <em>inside</em>.</p>\s*"
                     r"</details>", html)


# --- the allow-list -------------------------------------------------------------------------


@pytest.mark.parametrize("markup", [
    "<script>x</script>", "<SCRIPT src=x>", "<img src=x onerror=y>", "<svg/onload=y>",
    "<a href='javascript:y'>", "<a href=\"&#x6A;avascript:y\">", "<a href=\"java\nscript:y\">",
    "<iframe src=\"https://www.youtube.com/embed/x\"></iframe>", "<base href=//evil.example/>",
    "<meta http-equiv=refresh content=0>", "<form action=x>", "<object data=x>",
    "<img src=\"https://evil.example/x.png\">", "<img src=\"//evil.example/x.png\">",
    "<img src=\"data:image/svg+xml,x\">", "<div style=\"color:red\">", "<link rel=stylesheet>",
    "<!--><script>x</script>-->", "<a target=\"top\" href=\"/\">", "<math><mi>x</mi></math>"])
def test_the_policy_refuses(markup: str) -> None:
    clean, found = judge_html(markup)
    assert found, markup
    assert "script" not in clean.lower() and "on" not in re.sub(r"\w+=\"[^\"]*\"", "", clean)


@pytest.mark.parametrize(("markup", "clean"), [
    ("<b>bold</b>", "<b>bold</b>"),
    ("<span class=\"x\">", "<span class=\"x\">"),  # an inline fragment stays open
    ("</span>", "</span>"),
    ("<div class=\"note\">\n", "<div class=\"note\">\n"),
    ("<img src=\"photo.png\" alt=\"A\">", "<img src=\"photo.png\" alt=\"A\">"),
    ("<a href=\"mailto:a@example.org\">", "<a href=\"mailto:a@example.org\" "
                                          "rel=\"noopener noreferrer\">"),
    ("<p>5 &lt; 6</p>", "<p>5 &lt; 6</p>"),
])
def test_the_policy_keeps(markup: str, clean: str) -> None:
    assert judge_html(markup) == (clean, [])


def test_embeds_are_allowed_by_name() -> None:
    video = '<iframe src="https://www.youtube-nocookie.com/embed/abc" title="Talk"></iframe>'
    assert judge_html(video)[1]
    assert judge_html(video, HtmlPolicy(("youtube",))) == (video, [])
    other = '<iframe src="https://evil.example/embed/abc"></iframe>'
    assert "not an allowed embed" in judge_html(other, HtmlPolicy(("youtube",)))[1][0][1]
    srcdoc = '<iframe src="https://www.youtube.com/embed/x" srcdoc="&lt;script&gt;"></iframe>'
    assert judge_html(srcdoc, HtmlPolicy(("youtube",)))[1]
    assert LabConfig.from_dict({"allow_embeds": ["youtube"]}).allow_embeds == ("youtube",)


@pytest.mark.parametrize(("setting", "words"), [
    ('"allow_embeds": ["tiktok"]', "use some of: google-maps, openstreetmap, vimeo, youtube"),
    ('"allow_embeds": "youtube, vimeo"', "must be a list of embed names"),
    ('"allow_raw_html_scripts": True', "pages may not run script"),
])
def test_the_setting_is_checked(tmp_path: Path, setting: str, words: str) -> None:
    root = make_handbook(None, tmp_path)
    conf = root / "conf.py"
    conf.write_text(conf.read_text().replace('{"lab_name": "Check lab"}',
                                             '{"lab_name": "Check lab", ' + setting + "}"))
    [problem] = run_check(root).problems
    assert (problem.path, problem.code) == ("conf.py", "conf.invalid")
    assert words in problem.text


def test_a_lab_embeds_a_video_it_allowed(tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    conf = root / "conf.py"
    conf.write_text(conf.read_text().replace(
        '{"lab_name": "Check lab"}', '{"lab_name": "Check lab", "allow_embeds": ["youtube"]}'))
    (root / "talk.md").write_text(
        "# Talk\n\n<iframe src=\"https://www.youtube-nocookie.com/embed/abc\" title=\"Talk\">"
        "</iframe>\n\n<iframe src=\"https://player.vimeo.com/video/1\"></iframe>\n")
    [problem] = run_check(root).problems
    assert (problem.path, problem.line, problem.code) == ("talk.md", 5, "html.not-allowed")


LINES_PAGE = """---
myst:
  html_meta:
    description: A page
    "http-equiv=refresh": "0;url=https://evil.example/"
---
# Lines

First line of a paragraph,
second line with <img src=x.png onerror=alert(1)> inline,
third line, and <a href="javascript:alert(2)">a link</a>.

<div class="note">
<p>fine</p>
<img src=y.png onerror=alert(3)>
</div>

1. one
2. two <b onclick=alert(4)>x</b>
   continued <i onclick=alert(5)>y</i>

> Quoted,
> <span onclick=alert(6)>quoted</span>.

```{eval-rst}
.. meta::
   :keywords: fine
   :http-equiv=refresh: 0;url=https://evil.example/
```
"""


def test_problems_in_inline_html_and_meta_are_at_their_own_line(tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    (root / "lines.md").write_text(LINES_PAGE, encoding="utf-8")
    found = [(p.path, p.line, p.code) for p in run_check(root).problems if p.severity == "error"]
    assert found == [("lines.md", line, code) for line, code in (
        (5, "html.meta"), (10, "html.not-allowed"), (11, "html.not-allowed"),
        (15, "html.not-allowed"), (19, "html.not-allowed"), (20, "html.not-allowed"),
        (23, "html.not-allowed"), (28, "html.meta"))]


# --- denial of service ----------------------------------------------------------------------


#: Generous: the machine is shared and loaded; the point is "finishes", not "is fast".
BOUND_S = 60
DOS: dict[str, tuple[dict[str, str | bytes], dict[str, str], tuple[str, int, str]]] = {
    # name: (files to write, symlinks, the located error)
    "email-200kb": ({"people/ada-lovelace.md": "---\nname: Ada Lovelace\nrole: pi\n"
                     "joined: 2019-09\nlinks:\n  email: \"a@" + "b" * 200_000 + "\"\n---\n\n"
                     "# Ada Lovelace\n"}, {}, ("people/ada-lovelace.md", 6, "frontmatter.invalid")),
    "include-dev-zero": ({"zero.md": "# Zero\n\n```{include} " + "../" * 40 + "dev/zero\n```\n"},
                         {}, ("zero.md", 3, "safety.outside")),
    "symlink-to-dev-zero": ({"zero.md": "# Zero\n\n```{include} z.md\n```\n"},
                            {"z.md": "/dev/zero"}, ("z.md", 1, "safety.outside")),
    "title-10mb": ({"bib/huge.bib": "@misc{huge2024,\n  author = {Wu, Lijun},\n  title = {"
                    + "A" * 10_000_000 + "},\n  year = {2024},\n}\n"}, {},
                   ("bib/huge.bib", 3, "bib.too-long")),
    "bib-20mb": ({"bib/big.bib": "".join(
        f"@misc{{k{i},\n  author = {{Wu, Lijun}},\n  title = {{T{i} {'x' * 200}}},\n"
        f"  year = {{2024}},\n}}\n" for i in range(80_000))}, {},
                 ("bib/big.bib", 1, "bib.too-large")),
    "name-500kb": ({"people/ada-lovelace.md": "---\nname: " + "A" * 500_000 + "\nrole: pi\n"
                    "---\n\n# Ada\n"}, {}, ("people/ada-lovelace.md", 2, "frontmatter.invalid")),
    "bibliography-regex": ({
        "bib/regex.bib": "@misc{regex2024,\n  author = {Wu, Lijun},\n  title = {"
                         + "a" * 5_000 + "!},\n  year = {2024},\n}\n",
        "regex.md": "# Regex\n\n```{bibliography}\n:filter: title % \"(a+)+$\"\n```\n"}, {},
        ("regex.md", 3, "safety.filter")),
    "guide-10mb": ({"big.md": "# Big\n\n" + "word " * 2_000_000}, {},
                   ("big.md", 1, "page.too-large")),
    "index-10mb": ({"index.md": "# Index\n\n" + "word " * 2_000_000}, {},
                   ("index.md", 1, "page.too-large")),
    # 20,000 raw HTML nodes and 10,000 refused links in one paragraph: each replaced on its
    # own took minutes (docutils looks a node up in its parent's list to replace it).
    "inline-html-10k": ({"tags.md": "# Tags\n\n<b onclick=alert(1)>y</b>\n"
                         + "<b>x</b> " * 10_000 + "\n"}, {}, ("tags.md", 3, "html.not-allowed")),
    "links-10k": ({"links.md": "# Links\n\n" + "[x](ftp://example.org/) " * 10_000 + "\n"},
                  {}, ("links.md", 3, "html.link")),
    # Dense markup: docutils' nodes, not bytes, cost time (a 900 KB page of tags took 48 s to
    # build, 250 KB of emphasis 21 s): refused before it is parsed.
    "tags-100k": ({"tags.md": "# Tags\n\n<b onclick=alert(1)>y</b>\n" + "<b>x</b> " * 100_000
                   + "\n"}, {}, ("tags.md", 4, "page.too-large")),
    "emphasis-250kb": ({"stars.md": "# Stars\n\n" + "*a* " * 62_000 + "\n"}, {},
                       ("stars.md", 3, "page.too-large")),
    "person-symlink-to-dev-zero": ({}, {"people/zed.md": "/dev/zero"},
                                   ("people/zed.md", 1, "safety.outside")),
    "page-10mb": ({"people/ada-lovelace.md": "---\nname: Ada Lovelace\nrole: pi\n---\n\n"
                   + "word " * 2_000_000}, {}, ("people/ada-lovelace.md", 1, "page.too-large")),
}


@pytest.mark.parametrize("case", sorted(DOS))
def test_hostile_input_ends_in_bounded_time_with_a_located_error(tmp_path: Path,
                                                                 case: str) -> None:
    print(f"{case}: " + check_and_build(tmp_path, *DOS[case]))
    path, _, code = DOS[case][2]
    page = (tmp_path / "html" / path).with_suffix(".html")
    if code == "page.too-large":  # left out, or (the root page) its title only
        assert not page.exists() or page.stat().st_size < 200_000
        assert not (tmp_path / "html/_sources" / path).exists()


def test_a_guide_that_is_not_utf8_is_left_out_with_a_located_error(tmp_path: Path) -> None:
    check_and_build(tmp_path, {"guide.md": "# Guide\n\nCaf\xe9\n".encode("latin-1")}, {},
                    ("guide.md", 3, "page.encoding"))
    assert not (tmp_path / "html/guide.html").exists()


def test_a_root_page_that_is_not_utf8_ends_in_a_located_error_without_a_traceback(
        tmp_path: Path) -> None:
    """Sphinx decodes a page before any event and cannot build without its root page: the
    root is read as a stub (``sources.py``), so the build ends in the located error only."""
    check_and_build(tmp_path, {"index.md": "# Home\n\nCaf\xe9\n".encode("latin-1")}, {},
                    ("index.md", 3, "page.encoding"))
    assert "Caf" not in (tmp_path / "html/index.html").read_text(encoding="utf-8")


def check_and_build(tmp_path: Path, files: dict[str, str | bytes], links: dict[str, str],
                    expected: tuple[str, int, str]) -> str:
    """``check`` and the build of the test handbook with ``files`` and ``links`` added: both
    report ``expected`` (path, line, code) within :data:`BOUND_S`, the build writes at most
    50 MB; returns the times taken."""
    path, line, code = expected
    root = make_handbook(None, tmp_path)
    for rel, text in files.items():
        if isinstance(text, bytes):
            (root / rel).write_bytes(text)
        else:
            (root / rel).write_text(text, encoding="utf-8")
    for rel, target in links.items():
        os.symlink(target, root / rel)
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.monotonic()
    check = subprocess.run([sys.executable, "-m", "labhandbook", "check", "--root", str(root)],
                           capture_output=True, text=True, timeout=BOUND_S, env=env)
    checked = time.monotonic() - start
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"{path}:{line}: " in check.stdout, check.stdout
    start = time.monotonic()
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-d", str(tmp_path / "doctrees"),
         str(root), str(tmp_path / "html")], capture_output=True, text=True, timeout=BOUND_S,
        env=env)
    built = time.monotonic() - start
    assert build.returncode != 0
    assert f"{root / path}:{line}: ERROR: " in build.stderr, build.stderr[-3000:]
    assert f"[labhandbook.{code}]" in build.stderr
    assert "Traceback" not in build.stderr
    size = sum(p.stat().st_size for p in (tmp_path / "html").rglob("*") if p.is_file())
    assert size < 50 * 2**20, f"{size / 2**20:.0f} MB of output"
    return f"check {checked:.1f} s, build {built:.1f} s, output {size / 2**20:.1f} MB"


# --- smaller: duplicate keys, the e-mail pattern, the command line --------------------------


def test_a_key_written_twice_is_an_error(tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    ada = root / "people/ada-lovelace.md"
    ada.write_text(ada.read_text().replace("role: pi\n", "role: pi\nrole: phd\n"))
    [problem] = run_check(root).problems
    assert (problem.path, problem.line, problem.code) == ("people/ada-lovelace.md", 4,
                                                           "frontmatter.duplicate-key")
    assert "`role` is written twice (also on line 3)" in problem.message


def test_the_email_pattern_runs_in_linear_time() -> None:
    from labhandbook.schema import EMAIL_RE

    start = time.monotonic()
    for text in ("a@" + "b" * 200_000, "a@" + "b." * 100_000 + "@", "a" * 200_000 + "@b"):
        assert not EMAIL_RE.match(text)
    assert time.monotonic() - start < 5  # the old pattern took minutes on the first one
    for good in ("ada@example.org", "first.last+tag@mail.example.ac.uk"):
        assert EMAIL_RE.match(good)


def test_an_email_address_is_at_most_254_characters() -> None:
    from pydantic import ValidationError

    from labhandbook.schema import Links

    assert Links(email="a" * 240 + "@example.org").email
    with pytest.raises(ValidationError, match="at most 254 characters"):
        Links(email="a" * 250 + "@example.org")


def test_new_area_refuses_a_keyword_with_a_newline(tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    run = subprocess.run([sys.executable, "-m", "labhandbook", "new", "area", "Graphs",
                          "--keyword", "graphs\nmore", "--root", str(root)],
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "--keyword contains a line break" in run.stderr
    assert "internal error" not in run.stderr and "bug" not in run.stderr
    assert not (root / "research/graphs.md").exists()
