"""Hardening (#10): a handbook edited by many hands never publishes script, never links to
anything but the web, builds byte for byte the same, and never writes into its sources.

- ``tests/roots/test-hostile`` puts HTML and script into every front-matter and BibTeX field;
  every page, feed and sitemap it builds is parsed and must hold no injected element,
  attribute or script, while the hostile text is shown (escaped) where it belongs.
- Raw HTML with ``<script>``, ``on...=`` handlers or ``javascript:`` addresses in any page is
  reported by ``check`` and the build, located to the line (the whole policy and its hostile
  corpus: ``test_safety.py``).
- Only ``http(s)`` addresses (and DOI/arXiv/... ids turned into https links) become links.
- Two clean builds of the real handbook, ``-j 1`` and ``-j 2``, in different folders and with
  different hash seeds, are identical; ``make html`` leaves the source tree as it was.

:func:`injections` is shared with the property-based tests (``test_fuzz.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup
from conftest import REPO, ROOTS, Build, copy_project, sphinx_build
from test_check import make_handbook, tree_digest

from labhandbook.check import check_handbook, run_check
from labhandbook.library import link_targets

HOSTILE = ROOTS / "test-hostile"

# The hostile values of tests/roots/test-hostile, as the pages must show them (as text).
LAB = "Lab <script>alert('lab')</script> & co"
NAME = "Eve <script>alert('name')</script> Evil"
TITLE = "</script><!--<script>alert('title')</script>"
ORG = "<img src=x onerror=alert('org')>"
AREA = "<script>alert('area')</script> Area"
SUMMARY = "</script><img src=x onerror=alert('summary')>"
PAPER = "<img src=x onerror=alert('title')> and </script><script>alert('ld')</script>"
JOURNAL = "<script>alert('journal')</script>"
NEWS = "<script>alert('news')</script> and </script><script>alert(2)</script>"

# --- what counts as injected ----------------------------------------------------------------

#: Inline event handlers the theme itself writes (sphinx-book-theme's buttons).
THEME_HANDLERS = {"toggleFullScreen()", "window.print()"}
#: Attributes whose value is text, never markup or an address.
TEXT_ATTRIBUTES = {"title", "alt", "content", "data-bibtex", "aria-label", "value", "id",
                   "class", "name", "property"}
LINK_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "data"}
#: Elements no page of the handbook has; a payload would bring them.
FOREIGN = {"iframe", "object", "embed", "marquee", "frame", "frameset", "applet", "base"}
SAFE_SCHEMES = {"", "http", "https", "mailto"}


def injections(outdir: Path, marker: str = "alert(") -> list[str]:
    """Everything in the built site that a payload containing ``marker`` could have injected:
    script elements, event handlers, foreign elements, non-web links, broken JSON-LD, raw
    markup in feeds and the sitemap. Empty for a safe site."""
    found = []
    for path in sorted(outdir.rglob("*")):
        rel = path.relative_to(outdir).as_posix()
        if not path.is_file() or rel.startswith(("_static/", "_sources/", "_images/")):
            continue
        if path.suffix == ".html":
            found += [f"{rel}: {what}" for what in _html_injections(path, marker)]
        elif path.suffix in (".atom", ".xml"):
            data = path.read_bytes()
            try:
                tree = ET.fromstring(data)
            except ET.ParseError as err:
                found.append(f"{rel}: not well-formed XML ({err})")
                continue
            for element in tree.iter():
                if element.tag.rpartition("}")[2].lower() in {"script", *FOREIGN}:
                    found.append(f"{rel}: <{element.tag}> element")
                if element.get("type") in ("html", "xhtml") and marker in (element.text or ""):
                    found.append(f"{rel}: {element.tag} holds HTML with the payload")
            if b"<script" in data.lower():
                found.append(f"{rel}: unescaped <script")
        elif path.name == "searchindex.js":
            text = path.read_text(encoding="utf-8")
            try:
                json.loads(text[text.index("(") + 1 : text.rindex(")")])
            except ValueError as err:
                found.append(f"{rel}: the search index is not one JSON value ({err})")
    return found


def _html_injections(path: Path, marker: str) -> list[str]:
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    found = []
    for script in soup.find_all("script"):
        text = script.string or ""
        if script.get("type") == "application/ld+json":
            try:
                json.loads(text)
            except ValueError as err:
                found.append(f"JSON-LD does not parse ({err}): {text[:80]!r}")
        elif script.get("src") is None and marker in text:
            found.append(f"inline script with the payload: {text[:80]!r}")
        elif script.get("src") is not None and marker in script["src"]:
            found.append(f"script src with the payload: {script['src'][:80]!r}")
    for tag in soup.find_all(True):
        if tag.name in FOREIGN:
            found.append(f"<{tag.name}> element")
        if tag.name == "style" and marker in (tag.string or ""):
            found.append("<style> with the payload")
        for attr, value in tag.attrs.items():
            value = " ".join(value) if isinstance(value, list) else str(value)
            if attr.lower().startswith("on") and value not in THEME_HANDLERS:
                found.append(f"<{tag.name} {attr}={value[:60]!r}>")
            elif attr.lower() in LINK_ATTRIBUTES:
                scheme = urlsplit(value.strip()).scheme.lower() if "://" in value or \
                    ":" in value.split("/")[0] else ""
                if scheme not in SAFE_SCHEMES:
                    found.append(f"<{tag.name} {attr}={value[:60]!r}>: not a web address")
            elif marker in value and attr.lower() not in TEXT_ATTRIBUTES and \
                    not attr.lower().startswith(("aria-", "data-")):
                found.append(f"<{tag.name} {attr}={value[:60]!r}> carries the payload")
    return found


def test_the_injection_detector_sees_injections(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.html").write_text(
        "<p>ok</p><script>alert(1)</script><img src=x onerror=alert(2)>"
        "<a href=\"javascript:alert(3)\">x</a><iframe src=x></iframe>"
        "<script type=\"application/ld+json\">{\"a\": \"</script>\"}</script>", encoding="utf-8")
    (site / "f.atom").write_text("<feed><title>x<script>alert(1)</script></title></feed>",
                                 encoding="utf-8")
    found = "\n".join(injections(site))
    for what in ("inline script", "onerror", "not a web address", "<iframe>",
                 "JSON-LD does not parse", "f.atom: <script> element"):
        assert what in found, (what, found)
    (site / "a.html").write_text("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
                                 "<a href=\"https://x.org/?a=alert(1)\" title=\"alert(1)\">x</a>",
                                 encoding="utf-8")
    (site / "f.atom").write_text("<feed><title>&lt;script&gt;</title></feed>", encoding="utf-8")
    assert injections(site) == []


# --- the hostile handbook ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Build:
    src = copy_project(HOSTILE, tmp_path_factory.mktemp("hostile") / "src")
    return sphinx_build(src, src.parent / "out")


def test_hostile_values_are_valid_front_matter_and_bibtex(hostile: Build) -> None:
    """Everything hostile reaches the pages: only the addresses are refused, and the build says
    where, like check (the people and areas themselves are valid)."""
    problems = check_handbook(hostile.srcdir)
    assert {p.path for p in problems if p.severity == "error"} == {"bib/lab.bib"}
    assert {p.code for p in problems if p.severity == "error"} == {
        "bib.url", "bib.eprint", "bib.openreview", "bib.acl"}
    # a `doi` that is no DOI is shown as written, without a link
    assert "bib.doi" in {p.code for p in problems if p.severity == "warning"}
    for p in problems:
        if p.severity == "error":
            assert f"{hostile.srcdir / p.path}:{p.line}: ERROR: {p.text}" in hostile.warnings
    assert "Traceback" not in hostile.warnings + hostile.status


def test_no_page_feed_or_sitemap_holds_injected_markup(hostile: Build) -> None:
    pages = sorted(p.relative_to(hostile.outdir).as_posix()
                   for p in hostile.outdir.rglob("*.html"))
    assert {"index.html", "people/evil.html", "papers/evil2024.html", "news.html",
            "research/evil-area.html", "publications.html", "guide.html"} <= set(pages)
    assert (hostile.outdir / "news.atom").is_file()
    assert (hostile.outdir / "sitemap.xml").is_file()
    assert injections(hostile.outdir) == []


def straight(text: str) -> str:
    """Text with Sphinx's smart quotes and dashes undone (‘name’ -> 'name', <!– -> <!--)."""
    return text.translate({ord("‘"): "'", ord("’"): "'", ord("“"): '"', ord("”"): '"',
                           ord("–"): "--"})


def text_of(build: Build, page: str, selector: str) -> str:
    """The text of the first element matching ``selector``, quotes straightened."""
    node = build.soup(page).select_one(selector)
    assert node is not None, f"{page}: nothing matches {selector}"
    return straight(node.get_text())


def test_hostile_text_is_shown_as_text_everywhere(hostile: Build) -> None:
    # directory cards and person header
    cards = [straight(c.get_text())
             for c in hostile.soup("people/index.html").select(".lh-person-card")]
    assert any(NAME in card and TITLE in card and AREA in card for card in cards)
    header = text_of(hostile, "people/evil.html", ".lh-person-header")
    assert TITLE in header and ORG in header and AREA in header
    assert "<b onmouseover=alert('pos')>Boss</b>" in header
    sections = text_of(hostile, "people/evil.html", "article")
    for value in ("<script>alert('degree')</script>", "<iframe src=javascript:alert('inst')>",
                  "<svg onload=alert('field')>", "<a href=javascript:alert('adv')>Adv</a>",
                  "</p><script>alert('note')</script>", "<script>alert('award')</script>",
                  "<marquee onstart=alert('service')>Chair</marquee>", NEWS):
        assert value in sections, value
    # area header and cards
    assert text_of(hostile, "research/evil-area.html", ".lh-summary") == SUMMARY
    assert NAME in text_of(hostile, "research/evil-area.html", ".lh-leads")
    assert AREA in text_of(hostile, "research/index.html", "article")
    # publication lists and the paper page
    assert PAPER in text_of(hostile, "publications.html", "article")
    assert PAPER in text_of(hostile, "people/evil.html", "section#publications")
    assert text_of(hostile, "papers/evil2024.html", "article h1").strip() == PAPER
    assert JOURNAL in text_of(hostile, "papers/evil2024.html", ".lh-paper-venue")
    # charts: SVG titles and labels
    person_chart = hostile.soup("people/evil.html").select_one("svg.lh-chart title")
    assert straight(person_chart.get_text()) == f"Publications of {NAME} per year"
    labels = [straight(t.get_text())
              for t in hostile.soup("index.html").select("svg.lh-collab text")]
    assert NAME in labels
    # news
    assert NEWS in text_of(hostile, "news.html", "ul.lh-news")
    # code is shown as code
    code = text_of(hostile, "guide.html", "article")
    assert "<script>alert('code block')</script>" in code
    assert "javascript:alert('markdown link')" in code


def test_hostile_text_in_meta_tags_and_json_ld(hostile: Build) -> None:
    paper = hostile.soup("papers/evil2024.html")
    metas = {m["name"]: m["content"] for m in paper.find_all("meta", attrs={"name": True})}
    assert metas["citation_title"] == PAPER
    assert metas["citation_journal_title"] == JOURNAL
    og = {m["property"]: m["content"] for m in paper.find_all("meta", property=True)}
    assert og["og:title"] == PAPER and og["og:site_name"] == LAB
    article = json.loads(paper.find("script", type="application/ld+json").string)
    assert article["headline"] == PAPER
    assert article["author"][0]["name"] == NAME
    person = json.loads(hostile.soup("people/evil.html")
                        .find("script", type="application/ld+json").string)
    assert (person["name"], person["jobTitle"], person["affiliation"]["name"]) == (NAME, TITLE,
                                                                                   ORG)


def test_hostile_text_in_feeds(hostile: Build) -> None:
    feed = feedparser.parse((hostile.outdir / "news.atom").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == f"{LAB}: news"
    raw = ET.fromstring((hostile.outdir / "people/evil.atom").read_bytes())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in raw.findall("a:entry", ns)]
    assert NEWS in titles
    contents = raw.findall("a:entry/a:content", ns)
    assert contents and all(c.get("type") == "text" for c in contents)
    assert any(PAPER in (c.text or "") for c in contents)
    assert [a.findtext("a:name", namespaces=ns) for a in raw.findall("a:entry/a:author", ns)
            ][0] == NAME


# --- only web addresses become links -----------------------------------------------------------


BAD_ADDRESSES = ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
                 "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
                 "file:///etc/passwd", "ftp://example.org/x", "//evil.example.org/x",
                 "example.org/x", "https://example.org/\"onmouseover=\"alert(1)",
                 "https://example.org/<script>", "https://exa mple.org/"]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_check_refuses_addresses_that_are_not_web_links(address: str, tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    ada = root / "people/ada-lovelace.md"
    ada.write_text(ada.read_text().replace("https://example.org/ada", json.dumps(address)))
    bib = root / "bib/papers.bib"
    bib.write_text(bib.read_text().replace("{https://example.org/scaling.pdf}",
                                           "{" + address.replace("{", "").replace("}", "") + "}")
                   .replace("{https://github.com/example/scaling}", "{" + address + "}"))
    problems = [(p.path, p.line, p.code) for p in check_handbook(root) if p.severity == "error"]
    assert ("people/ada-lovelace.md", 9, "frontmatter.invalid") in problems
    assert ("bib/papers.bib", 15, "bib.url") in problems
    assert ("bib/papers.bib", 16, "bib.url") in problems


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_only_web_addresses_become_links(address: str) -> None:
    fields = {"url": address, "code": address}
    assert link_targets(fields) == [] or all(
        u.startswith(("https://", "http://")) for _, u in link_targets(fields))
    for name in ("doi", "eprint", "openreview", "acl"):
        for _, url in link_targets({name: address}):
            assert url.startswith(("https://doi.org/", "https://arxiv.org/abs/",
                                   "https://openreview.net/", "https://aclanthology.org/"))


# --- raw HTML that runs script -----------------------------------------------------------------


RAW_HTML = """\
# Raw HTML

<div onclick="steal()">hi</div>

A paragraph with <img src=x onerror=steal()> inline
and a <a href="jav&#x09;ascript:steal()">link</a> on its second line.

```html
<script>shown, not run</script>
```

    <script>an indented code block</script>

Prose about onclick= handlers and `<script>` in inline code is fine, so is <b>bold</b>.

:::{note}
Nested in a directive:

<script>steal()</script>
:::

```{raw} html
<b onmouseover=steal()>x</b>
```

```{eval-rst}
Some reStructuredText.

.. raw:: html

   <SCRIPT src="https://evil.example.org/x.js"></SCRIPT>
```

<iframe srcdoc="&lt;script&gt;steal()&lt;/script&gt;"></iframe>
"""
#: (line, message) that check reports for RAW_HTML.
#: Inline HTML is located at its own line, a raw directive at its first line.
RAW_HTML_PROBLEMS = [
    (3, "the event handler `onclick=`"),
    (5, "the event handler `onerror=`"),
    (6, "a `javascript:` address"),
    (19, "a `<script>` element"),
    (22, "the event handler `onmouseover=`"),
    (29, "a `<script>` element"),
    (34, "a `<iframe>` element"),
]


def _raw_html_handbook(tmp_path: Path, conf_extra: str = "") -> Path:
    root = make_handbook(None, tmp_path)
    (root / "guides").mkdir()
    (root / "guides/raw.md").write_text(RAW_HTML, encoding="utf-8")
    index = root / "index.md"
    index.write_text(index.read_text().replace("publications\n", "publications\nguides/raw\n"))
    if conf_extra:
        conf = root / "conf.py"
        conf.write_text(conf.read_text().replace('{"lab_name": "Check lab"}',
                                                 '{"lab_name": "Check lab", ' + conf_extra + "}"))
    return root


def test_check_reports_raw_html_that_runs_script(tmp_path: Path) -> None:
    root = _raw_html_handbook(tmp_path)
    problems = [p for p in check_handbook(root) if p.path == "guides/raw.md"]
    assert [(p.line, p.severity, p.code) for p in problems] == [
        (line, "error", "html.not-allowed") for line, _ in RAW_HTML_PROBLEMS]
    for problem, (_, message) in zip(problems, RAW_HTML_PROBLEMS, strict=True):
        assert message in problem.message


def test_build_reports_raw_html_like_check(tmp_path: Path) -> None:
    root = _raw_html_handbook(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-d", str(tmp_path / "doctrees"),
         str(root), str(tmp_path / "html")],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if "guides/raw.md" in line]
    assert [int(re.search(r"raw\.md:(\d+): ERROR: ", e).group(1)) for e in errors] == [
        line for line, _ in RAW_HTML_PROBLEMS]
    assert "Traceback" not in run.stderr


def test_excluded_files_and_code_are_not_scanned(tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    (root / "_build").mkdir()
    (root / "_build/notes.md").write_text("<script>x</script>\n", encoding="utf-8")
    (root / "safe.md").write_text(
        "# Safe\n\n```\n<script>x</script>\n```\n\n~~~\n<img onerror=x>\n~~~\n\n"
        "`<b onclick=x>` and <b>bold</b> and <a href=\"https://example.org/\">a link</a>\n",
        encoding="utf-8")
    assert check_handbook(root) == []


# --- unsafe BibTeX keys and page names -----------------------------------------------------


def test_unsafe_keys_are_refused_and_get_no_page(tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    keys = ["../../../escaped", "x'+alert(1)+'", "\"><img_src=x_onerror=alert(1)>", "a#b?c"]
    for i, key in enumerate(keys):
        (root / f"bib/k{i}.bib").write_text(
            f"@misc{{{key},\n  author = {{Wu, Lijun}},\n  title = {{Key {i}}},\n"
            "  year = {2020},\n}\n", encoding="utf-8")
    # a safe key with ':' (BibDesk, DBLP): links between paper pages do not read as a scheme;
    # an apostrophe (JabRef's keys from family names) is written `-` in the page's address,
    # and a key whose page address is another key's is refused
    (root / "bib/safe.bib").write_text(
        "@misc{Wu:2024,\n  author = {Wu, Lijun},\n  title = {Colon},\n  year = {2024},\n"
        "  keywords = {llm},\n}\n@misc{O'Wu_2024,\n  author = {Wu, Lijun},\n  title = "
        "{Apostrophe},\n  year = {2024},\n}\n@misc{O-Wu_2024,\n  author = {Wu, Lijun},\n"
        "  title = {Same page},\n  year = {2024},\n}\n", encoding="utf-8")
    problems = [p for p in check_handbook(root) if p.code == "html.unsafe-key"]
    assert sorted((p.path, p.line) for p in problems) == [
        *((f"bib/k{i}.bib", 1) for i in range(len(keys))), ("bib/safe.bib", 12)]
    assert "same page address as `O'Wu_2024` (line 7)" in problems[-1].message
    out = tmp_path / "a" / "b" / "out"
    build = sphinx_build(root, out)
    assert "html.unsafe-key" in build.warnings
    outside = [p for p in tmp_path.rglob("*.html") if out not in p.parents]
    assert outside == []
    papers = {p.relative_to(build.outdir / "papers").as_posix()
              for p in (build.outdir / "papers").rglob("*.html")}
    assert papers == {"lovelace2023engines.html", "wu2024scaling.html", "wu2025proteins.html",
                      "Wu:2024.html", "O-Wu_2024.html"}
    listed = build.soup("publications.html").select("li.lh-citation a[href*='Wu_2024']")
    assert listed and all(a["href"].endswith("papers/O-Wu_2024.html") for a in listed)
    related = [a["href"] for a in build.soup("papers/wu2024scaling.html").select("#related a")]
    assert "Wu%3A2024.html" in related  # Sphinx quotes the ':'
    # related papers link to pages that exist: never to a refused key's (missing) page
    assert {unquote(h) for h in related} <= papers
    assert injections(build.outdir) == []


def test_a_photo_outside_the_handbook_is_refused_and_never_published(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the build machine's secret\n", encoding="utf-8")
    root = make_handbook(None, tmp_path)
    ada = root / "people/ada-lovelace.md"
    ada.write_text(ada.read_text().replace("photo: ada-lovelace.png",
                                           "photo: ../../secret.txt"))
    [problem] = check_handbook(root)
    assert (problem.path, problem.line, problem.code) == ("people/ada-lovelace.md", 6,
                                                           "registry.missing-photo")
    assert "outside the handbook" in problem.message
    build = sphinx_build(root, tmp_path / "out")
    assert "outside the handbook" in build.warnings
    published = [p for p in build.outdir.rglob("*") if p.is_file()
                 and p.read_bytes() == secret.read_bytes()]
    assert published == []


def test_unsafe_page_names_are_refused(tmp_path: Path) -> None:
    root = make_handbook(None, tmp_path)
    (root / "x'+alert(1)+'.md").write_text("# X\n", encoding="utf-8")
    [problem] = check_handbook(root)
    assert (problem.path, problem.line, problem.code) == ("x'+alert(1)+'.md", 1,
                                                           "html.unsafe-name")


# --- reproducible builds, nothing written into the sources -----------------------------------


#: Build output that may differ between two clean builds, with the reason. Nothing is
#: excluded today: two builds are identical byte for byte (the doctrees are not compared).
VOLATILE: dict[str, str] = {}


def _snapshot(root: Path) -> dict[str, str]:
    digest = tree_digest(root)
    return {path: h for path, h in digest.items()
            if not path.startswith(("_build/", ".venv/")) and "/__pycache__/" not in f"/{path}"}


def _make_html(src: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    venv = REPO / ".venv"
    stamp = f"{venv}/.installed-from-pyproject"
    return subprocess.run(
        ["make", "-C", str(src), "-f", str(REPO / "Makefile"), "-o", stamp, "html",
         f"VENV={venv}", "BUILDDIR=_build"],
        capture_output=True, text=True, env=env)


def test_two_clean_builds_are_identical_and_leave_the_sources_alone(tmp_path: Path) -> None:
    """``make html`` (-j 1) in one copy and ``sphinx-build -j 2`` in another, with different
    hash seeds (set and dict ordering) and folders: the same bytes in every output file."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED", "SPHINXOPTS")}
    base["NO_COLOR"] = "1"
    a = copy_project(REPO, tmp_path / "a")
    before = _snapshot(a)
    run = _make_html(a, {**base, "PYTHONHASHSEED": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert _snapshot(a) == before, "make html changed the source tree"
    b = copy_project(REPO, tmp_path / "elsewhere" / "b")
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-j", "2", "-d",
         str(tmp_path / "b-doctrees"), str(b), str(tmp_path / "b-html")],
        capture_output=True, text=True, env={**base, "PYTHONHASHSEED": "2"})
    assert run.returncode == 0, run.stderr[-3000:]
    one, two = a / "_build" / "html", tmp_path / "b-html"
    files_one = {p.relative_to(one).as_posix() for p in one.rglob("*") if p.is_file()}
    files_two = {p.relative_to(two).as_posix() for p in two.rglob("*") if p.is_file()}
    assert files_one == files_two
    assert {"searchindex.js", "sitemap.xml", "news.atom", "objects.inv"} <= files_one
    different = sorted(f for f in files_one - set(VOLATILE)
                       if (one / f).read_bytes() != (two / f).read_bytes())
    assert different == [], different[:20]


def test_check_writes_nothing(tmp_path: Path) -> None:
    root = copy_project(REPO, tmp_path / "src")
    before = _snapshot(root)
    assert run_check(root).errors == []
    assert _snapshot(root) == before
    shutil.rmtree(root)
