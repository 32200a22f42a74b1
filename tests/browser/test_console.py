"""No JavaScript errors: the pages readers use most load without a console error, an uncaught
exception or a failed request."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Console, Site

KINDS = ("home", "people", "person", "area", "publications", "search")


@pytest.mark.parametrize("kind", KINDS)
def test_no_javascript_errors(page: Any, site: Site, console: Console,
                              page_of: dict[str, str], kind: str) -> None:
    path = page_of[kind]
    page.goto(site.url(path + ("?q=lab" if kind == "search" else "")))
    page.wait_for_load_state("networkidle")
    # Let timers scheduled at load (the theme's, the search's) run.
    page.wait_for_timeout(300)
    assert not console.errors, f"{path}:\n" + "\n".join(console.errors)
