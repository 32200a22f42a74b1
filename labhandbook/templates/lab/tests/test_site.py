"""The handbook's checks: zero warnings, every page and paper built, links and anchors,
reachability, alternative text. They come with the labhandbook package (upgrading it improves
them) and read what to expect from this lab's own pages and BibTeX files."""

from labhandbook.sitetests import *  # noqa: F401,F403
