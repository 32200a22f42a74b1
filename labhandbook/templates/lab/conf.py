"""Sphinx configuration of the @NAME@ handbook.

Settings only: the code is the `labhandbook` package, pinned in pyproject.toml. Upgrading it
(`pip install -U labhandbook`, or a new version in pyproject.toml) never needs edits here.
"""

import os

# --- The lab -------------------------------------------------------------------------------------
LAB = {
    "name": @NAME_PY@,
    "tagline": @TAGLINE_PY@,
    "repository": @REPOSITORY_PY@,
    "branch": "main",
    # Where the handbook is published; Read the Docs overrides it with the version's own URL.
    "site_url": @SITE_URL_PY@,
}

project = LAB["name"]
author = LAB["name"]
copyright = f"the members of the {LAB['name']}"
html_title = f"{LAB['name']} handbook"

extensions = ["labhandbook"]

# --- labhandbook: people, research areas and publications -------------------------------------
labhandbook = {
@LABHANDBOOK_SETTINGS@}

# --- MyST ---------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "attrs_inline", "attrs_block", "substitution"]
myst_substitutions = {"lab_name": LAB["name"]}
myst_heading_anchors = 3

# --- Sources ------------------------------------------------------------------------------------
root_doc = "index"
exclude_patterns = [
    ".venv", "_build", "tests", ".github", ".pytest_cache", "README.md", "CONTRIBUTING.md",
    "requirements.lock", "*.egg-info", "build", "Thumbs.db", ".DS_Store",
]

# --- HTML ---------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_theme_options = {
    "repository_url": LAB["repository"],
    "repository_branch": LAB["branch"],
    "path_to_docs": "",
    "use_repository_button": bool(LAB["repository"]),
    "use_edit_page_button": bool(LAB["repository"]),
    "use_issues_button": bool(LAB["repository"]),
    "show_toc_level": 2,
    # The sidebar has the search field: no second one in a bar above the page.
    "navbar_persistent": [],
}
html_last_updated_fmt = None
html_baseurl = os.environ.get("READTHEDOCS_CANONICAL_URL", LAB["site_url"])
