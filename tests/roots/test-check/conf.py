project = "Check lab"
extensions = ["myst_parser", "sphinxcontrib.bibtex", "sphinx_design", "labhandbook"]
labhandbook = {"lab_name": "Check lab"}
html_theme = "sphinx_book_theme"
exclude_patterns = ["_build"]
html_theme_options = {}
html_static_path = []
