"""``labhandbook upgrade``: bring a lab's pages to the content format of this version.

Each change of the content format that a release makes is a :class:`Migration`: it finds the
old form in a page's front matter and rewrites only those lines, keeping comments, order and
everything else. Migrations are idempotent (they look for the old form, not at a version
number), so running ``upgrade`` twice changes nothing the second time, and a lab can skip
releases. What a migration cannot rewrite safely it reports, located, and leaves alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from .registry import FENCE


@dataclass(frozen=True)
class Change:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


@dataclass(frozen=True)
class Migration:
    """One change of the content format: ``rewrite(front matter lines, path)`` returns the new
    lines and what it changed (nothing when the page is already in the new form)."""

    since: str  #: the first version whose format this is
    title: str
    rewrite: Callable[[list[str], str, int], tuple[list[str], list[Change]]]


def _mappings(node: yaml.Node) -> Iterator[yaml.MappingNode]:
    if isinstance(node, yaml.MappingNode):
        yield node
        for _, value in node.value:
            yield from _mappings(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _mappings(item)


def _drop_duplicate_keys(lines: list[str], path: str, offset: int
                         ) -> tuple[list[str], list[Change]]:
    """Before 0.2 a key written twice in one mapping was accepted and the last one was used;
    now it is an error. Remove the earlier ones: the page then says what the site showed."""
    text = "".join(lines)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines, []  # `labhandbook check` reports the page
    if root is None:
        return lines, []
    drop: set[int] = set()
    changes: list[Change] = []
    for mapping in _mappings(root):
        if mapping.flow_style:
            continue
        last: dict[str, int] = {}
        for i, (key, _) in enumerate(mapping.value):
            if isinstance(key, yaml.ScalarNode):
                last[key.value] = i
        for i, (key, value) in enumerate(mapping.value):
            if not isinstance(key, yaml.ScalarNode) or last[key.value] == i:
                continue
            kept = mapping.value[last[key.value]][0]
            start = key.start_mark.line
            end = value.end_mark.line + (1 if value.end_mark.column > 0 else 0)
            end = max(end, start + 1)
            drop.update(range(start, end))
            changes.append(Change(path, start + offset, (
                f"removed `{key.value}` (a duplicate: line {kept.start_mark.line + offset} "
                "sets it again, and that value is the one the site showed)")))
    if not drop:
        return lines, []
    return [line for n, line in enumerate(lines) if n not in drop], changes


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0.2.0", "duplicate front-matter keys are errors", _drop_duplicate_keys),
)


def _split_page(text: str) -> tuple[str, list[str], str] | None:
    """``(opening fence, front matter lines, rest)`` or ``None`` without front matter."""
    if not text.startswith("---"):
        return None
    first = FENCE.match(text)
    if first is None:
        return None
    closing = FENCE.search(text, first.end())
    if closing is None:
        return None
    front = text[first.end():closing.start()]
    lines = front.splitlines(keepends=True)
    if lines and lines[0] in ("\n", "\r\n"):
        return text[:first.end() + len(lines[0])], lines[1:], text[closing.start():]
    return text[:first.end()], lines, text[closing.start():]


def upgrade_pages(root: Path, folders: list[str], write: bool,
                  migrations: tuple[Migration, ...] = MIGRATIONS) -> list[Change]:
    """Apply ``migrations`` to every page of ``folders``; write only when ``write``."""
    changes: list[Change] = []
    for folder in folders:
        for page in sorted((root / folder).glob("*.md")):
            rel = page.relative_to(root).as_posix()
            try:
                text = page.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue  # `labhandbook check` reports the page
            parts = _split_page(text)
            if parts is None:
                continue
            head, lines, rest = parts
            offset = head.count("\n") + 1
            page_changes: list[Change] = []
            for migration in migrations:
                lines, found = migration.rewrite(lines, rel, offset)
                page_changes.extend(found)
            if page_changes and write:
                page.write_text(head + "".join(lines) + rest, encoding="utf-8", newline="")
            changes.extend(page_changes)
    return changes
