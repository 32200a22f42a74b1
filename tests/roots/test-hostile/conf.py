# A handbook where every value a lab member writes is hostile: the build must show it as text.
project = "Hostile lab"
extensions = ["labhandbook"]
labhandbook = {"lab_name": "Lab <script>alert('lab')</script> & co"}
html_theme = "sphinx_book_theme"
html_baseurl = "https://example.org/lab/"
exclude_patterns = ["_build"]
# As the real handbook: attribute syntax must not let `{onclick=...}` through.
myst_enable_extensions = ["colon_fence", "deflist", "attrs_inline", "attrs_block", "substitution"]
