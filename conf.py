"""Sphinx configuration for the lab handbook.

Settings only: everything a lab changes when it forks the handbook is in ``LAB``.
The logic lives in the ``labhandbook`` extension.
"""

import os

# --- The lab: the one place to edit when you fork ----------------------------------------------
LAB = {
    "name": "LLM & AI for Science Group",
    "tagline": "Large language models, sequence learning and machine learning for science.",
    "repository": "https://github.com/labhandbook/labhandbook",
    "branch": "main",
    # Where the handbook is published; Read the Docs overrides it with the version's own URL.
    "site_url": "https://labhandbook.readthedocs.io/en/latest/",
}

project = LAB["name"]
author = LAB["name"]
copyright = f"the members of the {LAB['name']}"
html_title = f"{LAB['name']} handbook"

extensions = [
    "myst_parser",
    "sphinxcontrib.bibtex",
    "sphinx_design",
    "labhandbook",
]

# --- labhandbook: people, research areas and publications -------------------------------------
labhandbook = {
    "lab_name": LAB["name"],
    "people_dir": "people",
    "research_dir": "research",
    "bib_dir": "bib",  # every *.bib file in it is used; no list to keep in sync
    "publications_page": "publications",
    # Who the lab is and how to reach it, shown on the home page and the Contact / Join us
    # page (contact.md). Set only what is true; what is not set is not shown. E.g.:
    #   "leaders": ["person-slug"],
    #   "institutions": [{"name": "University of ...", "url": "https://..."}],
    #   "location": "City, Country",
    #   "email": "lab@example.org",
    #   "contact_url": "https://...",
    #   "openings": [{"title": "PhD students in ...", "text": "...", "url": "https://..."}],
}

# --- MyST ---------------------------------------------------------------------------------------
myst_enable_extensions = [
    "colon_fence", "deflist", "attrs_inline", "attrs_block", "substitution",
]
myst_substitutions = {"lab_name": LAB["name"]}
myst_heading_anchors = 3

# --- Sources ------------------------------------------------------------------------------------
root_doc = "index"
exclude_patterns = [
    ".venv",
    "_build",
    "tests",
    "benchmarks",
    "labhandbook",
    "_templates",
    ".github",
    ".ci",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
    "build",
    "dist",
    "node_modules",
    "README.md",
    "ARCHITECTURE.md",
    "CONTRIBUTING.md",
    "Thumbs.db",
    ".DS_Store",
]

# --- HTML ---------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_theme_options = {
    "repository_url": LAB["repository"],
    "repository_branch": LAB["branch"],
    "path_to_docs": "",
    "use_repository_button": True,
    "use_edit_page_button": True,
    "use_issues_button": True,
    "show_toc_level": 2,
    # The sidebar has the search field: no second one in a bar above the page.
    "navbar_persistent": [],
}
html_last_updated_fmt = None
# Read the Docs sets the canonical URL of the version being built.
html_baseurl = os.environ.get("READTHEDOCS_CANONICAL_URL", LAB["site_url"])

