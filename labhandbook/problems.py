"""One shape for every mistake a lab member can make: ``path:line: what is wrong — what to do``.

The build and ``labhandbook check`` report the same :class:`Problem` objects, so the wording
is identical wherever a mistake is found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: A note is no mistake: something the build decided that a person may want to confirm.
Severity = Literal["error", "warning", "note"]
#: Characters that would break the one-line message (or drive a terminal): shown escaped.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


@dataclass(frozen=True, order=True)
class Problem:
    """A mistake in a source file, located to the line."""

    path: str  #: relative to the handbook root, with forward slashes
    line: int  #: 1-based line in that file
    message: str  #: what is wrong
    hint: str  #: what to do about it
    severity: Severity = "error"
    code: str = "labhandbook"  #: stable identifier, e.g. ``frontmatter.unknown-key``

    def __post_init__(self) -> None:
        # Messages quote what was written (a YAML key, a value); a newline or an escape
        # sequence in it would break the `path:line: ...` line of the output.
        for name in ("message", "hint"):
            value = getattr(self, name)
            if _CONTROL.search(value):
                escaped = _CONTROL.sub(lambda m: repr(m.group())[1:-1], value)
                object.__setattr__(self, name, escaped)

    @property
    def text(self) -> str:
        """The message without the location (the build adds its own location prefix)."""
        return f"{self.message} — {self.hint}" if self.hint else self.message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


class ProblemsFound(Exception):
    """Raised where a caller cannot go on; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems
