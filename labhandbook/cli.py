"""The ``labhandbook`` command line: checks and page scaffolding for lab members.

``labhandbook check`` finds every mistake the build would reject, without building.
``labhandbook new person|area`` writes a new page from a template and never overwrites a file.
``labhandbook import FILE.bib`` brings an export into ``bib/`` (:mod:`labhandbook.importer`);
it writes only with ``--write``.

No command shows a Python traceback: mistakes in the handbook are reported as
``path:line: what is wrong — what to do``, and an unexpected failure as one line to report.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import unicodedata
from collections.abc import Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from string import Template

from . import __version__
from .problems import Problem
from .schema import ROLES, SLUG_RE, default_bib_names

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class Refusal(Exception):
    """A command cannot do what was asked; the message says why and what to do instead."""


# --- output -------------------------------------------------------------------------------------


def _prepare_streams() -> None:
    """Never fail on a terminal that cannot show "—" or "é"."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass


def format_problem(problem: Problem) -> str:
    """One line: ``path:line: what is wrong — what to do`` (warnings say so)."""
    if problem.severity in ("warning", "note"):
        return f"{problem.path}:{problem.line}: {problem.severity}: {problem.text}"
    return str(problem)


def _github_annotation(problem: Problem, root: Path) -> str:
    """A GitHub Actions workflow command, so that the problem shows on the pull request's diff."""
    try:
        path = (root / problem.path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        path = problem.path

    def esc(text: str, prop: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if prop else text

    kind = {"warning": "warning", "note": "notice"}.get(problem.severity, "error")
    return (f"::{kind} file={esc(path, True)},line={problem.line},"
            f"title={esc('labhandbook check', True)}::{esc(problem.text)}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- check --------------------------------------------------------------------------------------


def find_root(start: Path) -> Path:
    """The folder holding ``conf.py``: ``start`` or the nearest parent that has one."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "conf.py").is_file():
            return folder
    return start


def cmd_check(args: argparse.Namespace) -> int:
    from .check import run_check

    started = time.perf_counter()
    root = find_root(args.root)
    result = run_check(root)
    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    for problem in result.problems:
        print(format_problem(problem))
        if annotate:
            print(_github_annotation(problem, root))
    errors, warnings = len(result.errors), len(result.warnings)
    failed = errors > 0 or (args.strict and warnings > 0)
    seconds = time.perf_counter() - started
    read = (f"{_plural(result.people, 'person page')}, {_plural(result.areas, 'research area')}, "
            f"{_plural(result.entries, 'BibTeX entry').replace('entrys', 'entries')} in "
            f"{_plural(result.bib_files, 'file')}")
    if result.hidden:
        print(f"({_plural(result.hidden, 'more problem')} may only follow from the pages above "
              "that could not be read; fix those first and run the check again)")
    notes = len(result.problems) - errors - warnings
    if notes:
        read += f"; {_plural(notes, 'note')} on who wrote what"
    if not errors and not warnings:
        print(f"labhandbook check: no problems ({read}; {seconds:.2f} s)")
    elif not failed:
        print(f"labhandbook check: {_plural(warnings, 'warning')}, no errors ({read}; "
              f"{seconds:.2f} s)")
    else:
        counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        strict = " (warnings count as errors with --strict)" if args.strict and warnings else ""
        print(f"labhandbook check: {counts}{strict} — fix them and run the check again; "
              "CONTRIBUTING.md explains each message")
    return EXIT_PROBLEMS if failed else EXIT_OK


# --- new ----------------------------------------------------------------------------------------

_FOLD = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
         "ı": "i", "'": "", "’": ""}


def slugify(text: str) -> str:
    """A file name from a name or title: "Zoë O'Brien" -> "zoe-obrien" (accents folded)."""
    text = "".join(_FOLD.get(ch, ch) for ch in text.casefold())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _yaml_text(value: str) -> str:
    """``value`` as a YAML scalar: plain when that reads back the same, else double-quoted."""
    import yaml

    plain = re.fullmatch(r"[^\s\-?:,\[\]{}#&*!|>'\"%@`][^:#]*", value) and not value.endswith(" ")
    if plain:
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def _one_line(value: str, what: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise Refusal(f"the {what} is empty — write it in quotes, e.g. \"Ada Lovelace\"")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise Refusal(f"the {what} contains control characters — type it again")
    return value


def _template(name: str) -> Template:
    text = resources.files("labhandbook").joinpath("templates", name).read_text(encoding="utf-8")
    return Template(text)


def _initials(spelling: str) -> str:
    """ "Lovelace, Ada Augusta" -> "Lovelace, A. A." (an example of another spelling)."""
    last, _, first = spelling.partition(", ")
    if not first:
        return spelling
    return f"{last}, " + " ".join(f"{word[0]}." for word in first.split())


def _flow_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _load(root: Path):  # noqa: ANN202 - (LabConfig, Registry)
    from .check import ConfError, read_lab_config
    from .registry import load_registry

    try:
        lab = read_lab_config(root)
    except ConfError as err:
        raise Refusal(str(err.problem)) from None
    registry, _ = load_registry(root, lab)
    return lab, registry


def _validate(text: str, model: type, rel: str) -> None:
    """The page just rendered must pass the schema; otherwise it is not written."""
    import yaml
    from pydantic import ValidationError

    front = text.split("\n---\n", 1)[0].removeprefix("---\n")
    try:
        model.model_validate(yaml.safe_load(front) or {})
    except (yaml.YAMLError, ValidationError) as err:  # a bug in the template, not the user's
        raise RuntimeError(f"the template for {rel} does not validate: {err}") from None


def _write_new(path: Path, text: str, rel: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8", newline="\n") as out:
            out.write(text)
    except FileExistsError:
        raise Refusal(f"{rel} already exists — edit that page instead, or choose another file "
                      "name with --slug") from None
    except OSError as err:
        raise Refusal(f"cannot write {rel} ({err.strerror})") from None


def _slug_for(args: argparse.Namespace, text: str, what: str) -> str:
    slug = args.slug if args.slug else slugify(text)
    if not slug:
        raise Refusal(f"cannot make a file name from the {what} {text!r} — pass one with "
                      "--slug, e.g. --slug wang-xiaoming")
    if not SLUG_RE.match(slug):
        raise Refusal(f"--slug {slug!r} is not a file name the handbook accepts — use "
                      "lowercase letters and digits joined by '-', e.g. ada-lovelace")
    return slug


def _split(values: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return list(dict.fromkeys(out))


def cmd_new_person(args: argparse.Namespace) -> int:
    from .schema import Person

    root = find_root(args.root)
    name = _one_line(args.name, "name")
    slug = _slug_for(args, name, "name")
    lab, registry = _load(root)
    rel = f"{lab.people_dir}/{slug}.md"
    path = root / rel
    if path.exists():
        raise Refusal(f"{rel} already exists — edit that page instead, or choose another file "
                      "name with --slug")
    areas = _split(args.area)
    known = sorted(registry.areas)
    for area in areas:
        if area not in registry.areas:
            import difflib

            close = difflib.get_close_matches(area, known, n=1)
            raise Refusal(
                f"there is no research area `{area}` — " +
                (f"did you mean `{close[0]}`?" if close else
                 f"use the file name (without .md) of a page in {lab.research_dir}/: "
                 + (", ".join(known) or "there are none yet; create one with "
                    "`labhandbook new area \"Title\"`")))
    spelling = default_bib_names(name)[0]
    match = registry.names.match(name)
    owner = match.slug if match.level in ("full", "confirmed") else None
    if owner:
        raise Refusal(f"the name {name!r} is already used by {lab.people_dir}/{owner}.md — edit "
                      "that page, or, for a different person with the same name, create the "
                      "page with --slug and add a distinguishing middle name or initial")
    text = _template("person.md").substitute(
        name=_yaml_text(name), heading=name, role=args.role, joined=date.today().strftime("%Y-%m"),
        areas=_flow_list(areas), slug=slug, bib_name=json.dumps(spelling, ensure_ascii=False),
        bib_initials=json.dumps(_initials(spelling), ensure_ascii=False),
        known_areas=", ".join(known) or "(none yet)", roles=", ".join(ROLES),
        people_dir=lab.people_dir, research_dir=lab.research_dir,
    )
    _validate(text, Person, rel)
    _write_new(path, text, rel)
    print(f"Created {rel}")
    print("Next steps:")
    print(f"  1. Open {rel}: every field is explained in the file. Check `role` ({args.role}) "
          "and `areas`, and write a few sentences about your work below the second `---`.")
    print(f"  2. Optional photo: put a square image next to the page (e.g. {lab.people_dir}/"
          f"{slug}.jpg), then uncomment `photo` and `photo_alt`.")
    print(f"  3. Your papers are found through your name as BibTeX writes it, {spelling!r}; "
          "list other spellings under `bib_names`.")
    print("  4. Run `make check`, then `make livehtml` to preview the site at "
          f"http://127.0.0.1:8000/{lab.people_dir}/{slug}.html")
    print("  5. Commit the page on a branch and open a pull request (see CONTRIBUTING.md).")
    return EXIT_OK


def cmd_new_area(args: argparse.Namespace) -> int:
    from .schema import Area

    root = find_root(args.root)
    title = _one_line(args.title, "title")
    slug = _slug_for(args, title, "title")
    lab, registry = _load(root)
    rel = f"{lab.research_dir}/{slug}.md"
    path = root / rel
    if path.exists():
        raise Refusal(f"{rel} already exists — edit that page instead, or choose another file "
                      "name with --slug")
    leads = _split(args.lead)
    for lead in leads:
        if lead not in registry.people:
            raise Refusal(f"there is no person `{lead}` — use the file name (without .md) of a "
                          f"page in {lab.people_dir}/")
    keywords = _split(args.keyword) or [slug]
    summary = _one_line(args.summary, "summary") if args.summary else \
        f"One sentence about {title}, shown on the research overview."
    text = _template("area.md").substitute(
        title=_yaml_text(title), heading=title, summary=_yaml_text(summary),
        keywords=_flow_list([_yaml_text(k) for k in keywords]),
        leads=_flow_list(leads), slug=slug, people_dir=lab.people_dir,
        research_dir=lab.research_dir, bib_dir=lab.bib_dir, first_keyword=keywords[0],
    )
    _validate(text, Area, rel)
    _write_new(path, text, rel)
    print(f"Created {rel}")
    print("Next steps:")
    print(f"  1. Open {rel}: replace the summary and describe the area below the second `---`.")
    print(f"  2. Tag the area's papers in {lab.bib_dir}/*.bib with `keywords = "
          f"{{{keywords[0]}}}` (the page lists every entry with one of its `keywords`).")
    print(f"  3. Members add `{slug}` to `areas` in their page in {lab.people_dir}/.")
    print("  4. Run `make check`, then `make livehtml` to preview the site at "
          f"http://127.0.0.1:8000/{lab.research_dir}/{slug}.html")
    print("  5. Commit the page on a branch and open a pull request (see CONTRIBUTING.md).")
    return EXIT_OK


# --- import -------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from .importer import ImportRefused, apply, library_entries, plan, read_export

    root = find_root(args.root)
    lab, registry = _load(root)
    source: Path = args.file
    into = args.into or f"{lab.bib_dir}/{slugify(source.stem) or 'imported'}.bib"
    into = Path(into).as_posix()
    if not into.endswith(".bib") or not into.startswith(f"{lab.bib_dir}/") or ".." in into:
        raise Refusal(f"--into {into!r} is not a .bib file in {lab.bib_dir}/ — write e.g. "
                      f"--into {lab.bib_dir}/imported.bib")
    try:
        entries = read_export(source, str(source))
        known = library_entries(root, lab.bib_files(root))
    except ImportRefused as err:
        for problem in err.problems:
            print(format_problem(problem), file=sys.stderr)
        print(f"labhandbook import: nothing imported — fix {source} (or the library) and run "
              "the import again", file=sys.stderr)
        return EXIT_PROBLEMS
    keywords = {kw for area in registry.areas.values() for kw in area.keywords}
    result = plan(entries, known, into, keywords)
    labels = {"new": "new", "merge": "same paper, completed", "duplicate": "already there",
              "conflict": "conflict"}
    for outcome in result.outcomes:
        print(f"{labels[outcome.kind]:>22}: {outcome.key} — {outcome.detail}")
    counts = {kind: len(result.of(kind)) for kind in labels}
    summary = (f"{len(entries)} entries read: {counts['new']} new, {counts['merge']} completing "
               f"an entry, {counts['duplicate']} already there, {counts['conflict']} "
               "conflicting")
    if counts["conflict"]:
        summary += " (left out: decide by hand which record is right)"
    if not args.write:
        print(f"labhandbook import: {summary}. Nothing written; run again with --write to "
              f"add the new entries to {into} and complete the others in place.")
        return EXIT_OK
    try:
        written = apply(root, result)
    except OSError as err:
        raise Refusal(f"cannot write ({err.strerror}); nothing was lost: the library files "
                      "are written one at a time, check them with `git diff`") from None
    print(f"labhandbook import: {summary}. Written: {', '.join(written) or 'nothing'}. "
          "Run `labhandbook check` and review `git diff` before committing.")
    return EXIT_OK


# --- the parser ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=argparse.SUPPRESS,
                        help="handbook folder (holds conf.py); default: the current folder or "
                             "the nearest parent with a conf.py")
    parser = argparse.ArgumentParser(
        prog="labhandbook", parents=[common],
        description="Check and extend a lab handbook (people, research areas, BibTeX).",
    )
    parser.add_argument("--version", action="version", version=f"labhandbook {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser("check", parents=[common],
                           help="find every mistake the build would reject, fast",
                           description="Check front matter, cross references and the BibTeX "
                                       "library without building. Exit status 1 on errors.")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.set_defaults(func=cmd_check)

    new = sub.add_parser("new", help="create a page from a template (person or area)",
                         description="Create a new page from a template. Never overwrites.")
    kinds = new.add_subparsers(dest="kind", metavar="KIND")
    person = kinds.add_parser("person", parents=[common], help="a page for a lab member",
                              description="Create people/<slug>.md for a lab member.")
    person.add_argument("name", help='full name, e.g. "Ada Lovelace"')
    person.add_argument("--role", choices=list(ROLES), default="phd",
                        help="role in the lab (default: phd)")
    person.add_argument("--area", action="append", metavar="SLUG",
                        help="research area (file name in research/ without .md); repeat or "
                             "separate with commas")
    person.add_argument("--slug", help="file name without .md (default: from the name)")
    person.set_defaults(func=cmd_new_person)

    area = kinds.add_parser("area", parents=[common], help="a page for a research area",
                            description="Create research/<slug>.md for a research area.")
    area.add_argument("title", help='title, e.g. "Large language models"')
    area.add_argument("--summary", help="one sentence shown on the research overview")
    area.add_argument("--keyword", action="append", metavar="TAG",
                      help="BibTeX keyword of the area's papers (default: the slug); repeat or "
                           "separate with commas")
    area.add_argument("--lead", action="append", metavar="SLUG",
                      help="person leading the area (file name in people/ without .md)")
    area.add_argument("--slug", help="file name without .md (default: from the title)")
    area.set_defaults(func=cmd_new_area)
    new.set_defaults(func=None, new_parser=new)

    imp = sub.add_parser("import", parents=[common], help="bring a BibTeX export into bib/",
                         description="Read a BibTeX export (DBLP, Google Scholar, Zotero, ORCID, "
                                     "...), normalise it, find the papers already in bib/ and "
                                     "report what is new. Writes nothing without --write.")
    imp.add_argument("file", type=Path, help="the exported .bib file")
    imp.add_argument("--into", metavar="bib/NAME.bib",
                     help="where new entries go (default: bib/<file name>.bib)")
    imp.add_argument("--write", action="store_true",
                     help="write the new entries and complete the matched ones")
    imp.set_defaults(func=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _prepare_streams()
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "root"):
        args.root = Path(".")
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    if getattr(args, "func", None) is None:
        args.new_parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except Refusal as err:
        print(f"labhandbook {args.command}: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - never show a traceback to a lab member
        where = ""
        tb = err.__traceback__
        while tb is not None:
            where = f" ({Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno})"
            tb = tb.tb_next
        print(f"labhandbook {args.command}: internal error: {type(err).__name__}: {err}{where} — "
              "this is a bug in labhandbook, not in your change; please report it with the "
              "command you ran", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
