"""The located BibTeX reader: pybtex's own grammar, with the line of every entry and field.

There is one BibTeX grammar in the handbook, pybtex's (the one sphinxcontrib-bibtex builds
with). ``check`` and ``import`` need more than pybtex's public ``parse_string`` gives: the line
of each entry and field, every syntax error (not only the first) with its place, and fields
written twice. This module gets them by subclassing pybtex's ``LowLevelParser``; it is the only
place that touches pybtex internals.

pybtex internals used (checked against pybtex 0.26; ``tests/test_bibreader.py`` compares this
reader with ``pybtex.database.parse_string`` on every file of the corpus and fails when one of
them changes):

- ``LowLevelParser(text, macros=...)``, iterated: yields ``(command, body)``, where an entry's
  body is ``(key, [(field name, [value parts]), ...])``; ``@string`` definitions go into the
  ``macros`` mapping given;
- its methods ``parse_command``, ``parse_field`` (overridden to note lines),
  ``eat_whitespace`` and ``handle_error`` (overridden to collect instead of raise);
- its attributes ``lineno``, ``pos``, ``command_start``, ``current_entry_key`` and
  ``current_field_name``.

On an upgrade that renames any of these, the reader fails loudly (``AttributeError``) or
its lines and fields differ from pybtex's parse, and that test says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from pybtex.database.input.bibtex import LowLevelParser
from pybtex.exceptions import PybtexError
from pybtex.scanner import TokenRequired
from pybtex.utils import CaseInsensitiveDict

#: One syntax error: (pybtex's error, entry key, field name, line, offset of the command).
Error = tuple[PybtexError, "str | None", "str | None", int, int]


def keyless_error(error: Exception) -> bool:
    """Whether ``error`` is pybtex's "entry key expected": an entry written without a key
    (JabRef writes ``@Article{,`` for an entry left empty). pybtex, when it does not stop
    there, keeps it as an entry named ``unnamed-N`` with no fields."""
    return isinstance(error, TokenRequired) and bool(error.args) and str(
        error.args[0]).startswith("entry key")


@dataclass
class Command:
    """One ``@...{...}`` of a file: an entry, ``@string`` or ``@preamble``."""

    kind: str  #: lower case: "article", "string", ...
    key: str | None
    fields: list[tuple[str, str, int]]  #: (name as written, value, line), repeats kept
    start: int  #: offset of the "@"
    line: int
    end: int  #: offset after the closing brace
    failed: bool = False  #: pybtex reported an error inside it
    gap_ok: bool = True  #: no error between its end and the next command


class _Parser(LowLevelParser):
    """pybtex's BibTeX parser, recording lines and collecting (not raising) its errors."""

    def __init__(self, text: str, macros: CaseInsensitiveDict) -> None:
        super().__init__(text, macros=macros)
        self.errors: list[Error] = []
        self.entry_line = 1
        self.entry_end = 0
        self.entry_errors = 0
        self.field_lines: list[tuple[str, int]] = []

    def handle_error(self, error: PybtexError) -> None:  # type: ignore[override]
        self.errors.append((error, self.current_entry_key, self.current_field_name,
                            getattr(error, "lineno", None) or self.lineno,
                            self.command_start or 0))

    def parse_command(self):  # type: ignore[no-untyped-def]
        self.entry_line = self.lineno
        self.field_lines = []
        before = len(self.errors)
        result = super().parse_command()
        self.entry_errors = len(self.errors) - before
        self.entry_end = self.pos
        return result

    def parse_field(self) -> None:
        self.eat_whitespace()
        line = self.lineno
        super().parse_field()
        if self.current_field_name:
            self.field_lines.append((self.current_field_name.lower(), line))


def parse(text: str, macros: CaseInsensitiveDict) -> tuple[list[Command], list[Error]]:
    """Every command of ``text`` with its lines, and every error pybtex reports in it.

    ``text`` has ``\\n`` line ends; ``macros`` (``@string`` names, month names) is read and
    extended, so that definitions carry over from one file to the next as in the build.
    """
    parser = _Parser(text, macros)
    commands: list[Command] = []
    errors_before = 0
    for command, body in parser:
        kind = command.lower()
        start = parser.command_start
        failed = parser.entry_errors > 0
        between = len(parser.errors) - parser.entry_errors > errors_before
        errors_before = len(parser.errors)
        if kind == "string" or kind == "preamble":
            key, fields = None, []
        else:
            key, raw_fields = body
            lines = _non_empty(parser.field_lines, raw_fields)
            fields = [(name, "".join(parts), line)
                      for (name, parts), (_, line) in zip(raw_fields, lines, strict=False)]
        if between and commands:
            commands[-1].gap_ok = False  # an error between two commands: do not judge the gap
        commands.append(Command(kind, key, fields, start, parser.entry_line, parser.entry_end,
                                failed))
    if commands and len(parser.errors) > errors_before:
        commands[-1].gap_ok = False
    return commands, parser.errors


def _non_empty(field_lines: list[tuple[str, int]], raw_fields: list) -> list[tuple[str, int]]:
    """The lines of the fields pybtex kept (it drops fields whose value is missing)."""
    if len(field_lines) == len(raw_fields):
        return field_lines
    out, i = [], 0
    for name, _ in raw_fields:
        while i < len(field_lines) and field_lines[i][0] != name.lower():
            i += 1
        out.append(field_lines[i] if i < len(field_lines) else (name, 0))
        i += 1
    return out
