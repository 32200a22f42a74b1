"""What a first view of a page costs a reader: bytes over the wire and requests.

Shared by ``test_weight.py`` (the budget) and ``benchmarks/run.py`` (the figures). Needs only a
Playwright browser; the site must be served compressed (``labhandbook.serve.serving``), as
Read the Docs serves it, so that the bytes are the ones a reader downloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The budget for a first view: the issue (#20) asks for at most 500 KB; the example lab's
#: pages weigh 148-164 KB since the icon fonts are subsets (labhandbook/icons.py), so more
#: than 250 KB means something heavy came back...
BUDGET_BYTES = 250_000
#: ... in at most this many requests (the theme's page: HTML, 8 stylesheets, 11 scripts,
#: 2 icon fonts and the favicon; a new one should be a decision, not an accident).
BUDGET_REQUESTS = 22
#: The issue's limit for a first view of any page (#20), at any scale: what the publications
#: page of a department (5,000 entries) is held to (``test_weight.py`` projects it).
FIRST_VIEW_LIMIT = 500_000
#: A mid-range phone, as Lighthouse's mobile run emulates it.
MOBILE = {"viewport": {"width": 412, "height": 823}, "device_scale_factor": 1.75,
          "is_mobile": True, "has_touch": True}


@dataclass
class Weight:
    url: str
    bytes: int = 0  #: bodies as sent (compressed) plus response headers
    requests: int = 0
    files: list[tuple[str, int]] = field(default_factory=list)

    def heaviest(self, n: int = 5) -> str:
        return ", ".join(f"{u.rsplit('/', 1)[-1].split('?')[0]} {b // 1000} KB"
                         for u, b in sorted(self.files, key=lambda f: -f[1])[:n])


def weigh(browser: Any, url: str) -> Weight:
    """Load ``url`` in a new context (empty cache: a first view) on a phone-sized screen and
    add up every response until the network is idle (fonts the stylesheets ask for included)."""
    context = browser.new_context(**MOBILE)
    try:
        tab = context.new_page()
        seen: list[Any] = []
        tab.on("requestfinished", lambda request: seen.append(request))
        tab.goto(url, wait_until="networkidle")
        weight = Weight(url)
        for request in seen:
            sizes = request.sizes()
            size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
            weight.bytes += size
            weight.requests += 1
            weight.files.append((request.url, size))
        return weight
    finally:
        context.close()
