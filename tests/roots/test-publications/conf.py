project = "Publications lab"
extensions = ["labhandbook"]
labhandbook = {"lab_name": "Publications lab"}
html_theme = "sphinx_book_theme"
exclude_patterns = ["_build"]
