"""A department-scale lab (benchmarks/synthlab.py: 200 people, 15 areas, 5,000 papers), built once.

A clean build takes minutes on a loaded 2-core machine, so the output is kept in
``_build/browser-dept/`` and reused while the generated sources and the extension's code are
the same (a stamp file holds their fingerprint). ``python -m tests.browser.dept`` builds it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "_build" / "browser-dept"
sys.path.insert(0, str(REPO / "benchmarks"))
import synthlab  # noqa: E402


def generate() -> synthlab.Lab:
    return synthlab.generate(*synthlab.SCALES["dept"], seed=synthlab.DEFAULT_SEED)


def _code_digest() -> str:
    """The extension's Python code and templates (static files are copied on reuse)."""
    h = hashlib.blake2b(digest_size=8)
    for path in sorted((REPO / "labhandbook").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".html"):
            h.update(path.relative_to(REPO).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def build(lab: synthlab.Lab | None = None) -> Path:
    """The built site of the department-scale lab (built now unless a current one exists)."""
    lab = lab or generate()
    src, html, doctrees = FOLDER / "src", FOLDER / "html", FOLDER / "doctrees"
    files = synthlab.render(lab, "handbook")
    h = hashlib.blake2b(digest_size=8)
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + files[rel].encode())
    stamp = f"{h.hexdigest()}-{_code_digest()}"
    stamp_file = FOLDER / "stamp"
    if (stamp_file.is_file() and stamp_file.read_text() == stamp
            and (html / "pagefind" / "pagefind.js").is_file()):
        for asset in (REPO / "labhandbook" / "static").iterdir():
            shutil.copyfile(asset, html / "_static" / asset.name)
        return html
    for path in (src, html, doctrees):
        shutil.rmtree(path, ignore_errors=True)
    synthlab.write(lab, "handbook", src)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "auto", "-W", "--keep-going",
           "-d", str(doctrees), str(src), str(html)]
    run = subprocess.run(cmd, cwd=src, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONHASHSEED="0"))
    if run.returncode != 0:
        raise RuntimeError(f"the department-scale build failed:\n{run.stderr[-3000:]}")
    stamp_file.write_text(stamp)
    return html


if __name__ == "__main__":
    print(build())
