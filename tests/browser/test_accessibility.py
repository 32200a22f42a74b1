"""Accessibility: axe-core finds no serious or critical violation on the pages readers use most.

axe-core comes from the npm registry (``tests/browser/package.json``; the ``axe_source`` fixture
installs it into ``tests/browser/node_modules`` when it is missing) and is injected into the
page served by the local HTTP server.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Site

KINDS = ("home", "people", "person", "area", "publications")
BLOCKING = {"serious", "critical"}


def describe(violation: dict[str, Any]) -> str:
    targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
    more = len(violation["nodes"]) - len(targets)
    return (f"[{violation['impact']}] {violation['id']}: {violation['help']} — "
            f"{'; '.join(targets)}{f' (+{more} more)' if more > 0 else ''}")


@pytest.mark.parametrize("kind", KINDS)
def test_no_serious_accessibility_violations(page: Any, site: Site, axe_source: str,
                                             page_of: dict[str, str], kind: str) -> None:
    page.goto(site.url(page_of[kind]))
    page.wait_for_load_state("networkidle")
    page.add_script_tag(content=axe_source)
    report = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
        ".then(r => ({violations: r.violations, passes: r.passes.length,"
        " version: axe.version}))")
    assert report["version"], "axe-core did not load"
    blocking = [v for v in report["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"{page_of[kind]}:\n" + "\n".join(map(describe, blocking))
