"""A generated lab around one corpus file: the file unchanged in ``bib/``, its most frequent
author as the one member, and the pages every handbook has."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pybtex.errors
from pybtex.database import parse_file

from labhandbook.names import fold

CONF = """project = "Corpus lab"
extensions = ["labhandbook"]
labhandbook = {"lab_name": "Corpus lab"}
html_theme = "sphinx_book_theme"
exclude_patterns = ["_build"]
"""
PAGES = {
    "index.md": "# Corpus lab\n\n```{toctree}\npeople/index\nresearch/index\npublications\n```\n",
    "publications.md": "# Publications\n\n```{publication-index}\n```\n",
    "people/index.md": "# People\n\n```{people-directory}\n```\n\n```{toctree}\n:hidden:\n:glob:"
                       "\n\n*\n```\n",
    "research/index.md": "# Research\n\n```{research-areas}\n```\n",
}


def main_author(bib: Path) -> str:
    """The author named most often in ``bib`` ("First Last", as a member page writes it)."""
    with pybtex.errors.capture():  # a repeated key is reported by the check, not here
        data = parse_file(str(bib))
    counts = Counter(
        " ".join([*p.first_names, *p.middle_names, *p.prelast_names, *p.last_names])
        for e in data.entries.values() for p in e.persons.get("author", []))
    name, _ = counts.most_common(1)[0]
    return name.replace("{", "").replace("}", "")


def make_lab(bib: Path, folder: Path, member: str | None = None) -> Path:
    """Write the lab into ``folder`` (which must not exist) and return it."""
    folder.mkdir(parents=True)
    (folder / "conf.py").write_text(CONF, encoding="utf-8")
    for rel, text in PAGES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    (folder / "bib").mkdir()
    (folder / "bib" / bib.name).write_bytes(bib.read_bytes())
    name = member or main_author(bib)
    slug = "-".join(fold(w) for w in name.split() if fold(w)) or "m"  # "Aäron" -> aaron
    (folder / "people" / f"{slug}.md").write_text(
        f"---\nname: {name}\nrole: researcher\n---\n# {name}\n\nMember.\n", encoding="utf-8")
    return folder
