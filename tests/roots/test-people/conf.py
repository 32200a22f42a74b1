project = "People lab"
extensions = ["myst_parser", "sphinxcontrib.bibtex", "sphinx_design", "labhandbook"]
labhandbook = {"lab_name": "People lab"}
html_theme = "sphinx_book_theme"
exclude_patterns = ["_build"]
