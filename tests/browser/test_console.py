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
    # networkidle: nothing loaded for 500 ms, so the scripts run at load have run.
    page.wait_for_load_state("networkidle")
    assert not console.errors, f"{path}:\n" + "\n".join(console.errors)
