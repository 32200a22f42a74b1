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
import os
import sys
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .problems import Problem
from .scaffold import (
    DEFAULT_ENGINE,
    LabSettings,
    PersonFacts,
    Refusal,
    area_page,
    one_line,
    person_page,
    slug_for,
    slugify,
    validate_page,
    write_new,
)
from .schema import ROLES, default_bib_names

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


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


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import serve

    return serve(find_root(args.root), args.port, open_browser=args.open)


# --- new ---------------------------------------------------------------------------------------


def _load(root: Path):  # noqa: ANN202 - (LabConfig, Registry)
    from .check import ConfError, read_lab_config
    from .registry import load_registry

    try:
        lab = read_lab_config(root)
    except ConfError as err:
        raise Refusal(str(err.problem)) from None
    registry, _ = load_registry(root, lab)
    return lab, registry


def _split(values: Sequence[str] | None, option: str) -> list[str]:
    out: list[str] = []
    for value in values or []:
        if any(unicodedata.category(ch) == "Cc" for ch in value.strip()):
            raise Refusal(f"a value of --{option} contains a line break or a control character "
                          f"— repeat --{option} for each value, or separate them with commas")
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return list(dict.fromkeys(out))


def cmd_new_person(args: argparse.Namespace) -> int:
    from .schema import Person

    root = find_root(args.root)
    name = one_line(args.name, "name")
    slug = slug_for(args.slug, name, "name")
    lab, registry = _load(root)
    rel = f"{lab.people_dir}/{slug}.md"
    path = root / rel
    if path.exists():
        raise Refusal(f"{rel} already exists — edit that page instead, or choose another file "
                      "name with --slug")
    areas = _split(args.area, "area")
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
    text = person_page(PersonFacts(name, role=args.role, areas=areas), slug, lab.people_dir,
                       lab.research_dir, known)
    validate_page(text, Person, rel)
    write_new(path, text, rel)
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
    title = one_line(args.title, "title")
    slug = slug_for(args.slug, title, "title")
    lab, registry = _load(root)
    rel = f"{lab.research_dir}/{slug}.md"
    path = root / rel
    if path.exists():
        raise Refusal(f"{rel} already exists — edit that page instead, or choose another file "
                      "name with --slug")
    leads = _split(args.lead, "lead")
    for lead in leads:
        if lead not in registry.people:
            raise Refusal(f"there is no person `{lead}` — use the file name (without .md) of a "
                          f"page in {lab.people_dir}/")
    keywords = _split(args.keyword, "keyword") or [slug]
    summary = one_line(args.summary, "summary") if args.summary else \
        f"One sentence about {title}, shown on the research overview."
    text = area_page(title, slug, summary, keywords, leads, lab.people_dir, lab.research_dir,
                     lab.bib_dir)
    validate_page(text, Area, rel)
    write_new(path, text, rel)
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
    left_out: list[Problem] = []  # entries with an error: reported, the others imported
    try:
        entries = read_export(source, str(source), left_out)
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
    for problem in left_out:
        print(format_problem(problem), file=sys.stderr)
    if left_out:
        print(f"labhandbook import: {len(left_out)} error{'s' if len(left_out) != 1 else ''} "
              f"in {source}: the entries at those lines are not imported (the others are) — "
              "fix them and run the import again", file=sys.stderr)
    status = EXIT_PROBLEMS if left_out else EXIT_OK
    if not args.write:
        print(f"labhandbook import: {summary}. Nothing written; run again with --write to "
              f"add the new entries to {into} and complete the others in place.")
        return status
    try:
        written = apply(root, result)
    except OSError as err:
        raise Refusal(f"cannot write ({err.strerror}); nothing was lost: the library files "
                      "are written one at a time, check them with `git diff`") from None
    print(f"labhandbook import: {summary}. Written: {', '.join(written) or 'nothing'}. "
          "Run `labhandbook check` and review `git diff` before committing.")
    return status


# --- init, import-people, upgrade --------------------------------------------------------------


def _ask(label: str, default: str = "") -> str:
    shown = f" [{default}]" if default else ""
    try:
        answer = input(f"{label}{shown}: ").strip()
    except EOFError:
        answer = ""
    return answer or default


def cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import LAB_SETTING_KEYS, init_lab

    dest = Path(args.directory)
    interactive = args.name is None and sys.stdin.isatty()
    if args.name is None and not interactive:
        raise Refusal("give the lab's name: labhandbook init DIR --name \"Our Lab\" (the other "
                      "settings are optional; see labhandbook init --help)")
    values = {key: getattr(args, key) or "" for key in
              ("name", "tagline", "repository", "site_url", *LAB_SETTING_KEYS)}
    if interactive:
        print("A new lab handbook. Leave a question empty to skip it (it can be set in "
              "conf.py later).")
        values["name"] = _ask("Lab name")
        for key, label in (("tagline", "One sentence about the lab"),
                           ("institution", "Host institution"), ("location", "Location (city)"),
                           ("email", "Contact e-mail"),
                           ("repository", "Repository URL (https://github.com/...)"),
                           ("site_url", "Web address of the published handbook")):
            if not values[key]:
                values[key] = _ask(label)
    values = {k: one_line(v, k.replace("_", " ")) if v else "" for k, v in values.items()}
    if not values["name"]:
        raise Refusal("the lab's name is empty — give it with --name")
    for key in ("repository", "site_url"):
        if values[key] and not values[key].startswith("https://"):
            raise Refusal(f"--{key.replace('_', '-')} must start with https://")
    settings = LabSettings(engine=args.engine, **values)
    written = init_lab(dest, settings)
    print(f"Created the handbook of the {settings.name} in {dest} ({len(written)} files).")
    print("Next steps:")
    print(f"  cd {dest}")
    print("  make html    # the first run installs everything into .venv and writes "
          "requirements.lock")
    print("  make test")
    print("Then replace the EXAMPLE person, area and paper with the lab's own: "
          "`labhandbook import-people people.csv`, `labhandbook new area`, and your .bib "
          "files in bib/ (CONTRIBUTING.md explains each step).")
    return EXIT_OK


def cmd_import_people(args: argparse.Namespace) -> int:
    from .scaffold import plan_people

    root = find_root(args.root)
    lab, registry = _load(root)
    planned = plan_people(root, Path(args.file), lab, registry)
    if args.dry_run:
        for rel, _ in planned:
            print(f"Would create {rel}")
        print(f"labhandbook import-people: {_plural(len(planned), 'page')} to write; nothing "
              "written (--dry-run)")
        return EXIT_OK
    written = []
    try:
        for rel, text in planned:
            write_new(root / rel, text, rel)
            written.append(rel)
    except Refusal:
        for rel in written:  # all or nothing: a page appeared while writing
            (root / rel).unlink(missing_ok=True)
        raise
    for rel in written:
        print(f"Created {rel}")
    print(f"labhandbook import-people: {_plural(len(written), 'page')} written; run "
          "`make check`, then look at the pages")
    return EXIT_OK


def cmd_upgrade(args: argparse.Namespace) -> int:
    from .upgrade import upgrade_pages

    root = find_root(args.root)
    lab, _ = _load(root)
    changes = upgrade_pages(root, [lab.people_dir, lab.research_dir], write=not args.dry_run)
    for change in changes:
        print(change)
    if not changes:
        print(f"labhandbook upgrade: the pages are in the content format of labhandbook "
              f"{__version__}; nothing to change")
    elif args.dry_run:
        print(f"labhandbook upgrade: {_plural(len(changes), 'change')} to make; nothing "
              "written (--dry-run)")
    else:
        print(f"labhandbook upgrade: {_plural(len(changes), 'change')} made; review them with "
              "`git diff`, then run `make check`")
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

    serve = sub.add_parser("serve", parents=[common],
                           help="live preview on 127.0.0.1: rebuilds and reloads on every save",
                           description="Build the handbook, serve it on 127.0.0.1 and rebuild "
                                       "on every save, keeping the build warm; the browser "
                                       "reloads itself and shows build errors in the page.")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--open", action="store_true", help="open the preview in a browser")
    serve.set_defaults(func=cmd_serve)

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

    init = sub.add_parser("init", help="start a new lab's handbook in a new folder",
                          description="Write a new lab's handbook repository (settings, an "
                                      "example person, area and paper, Makefile, tests, Read the "
                                      "Docs and CI configuration). Asks for the settings when "
                                      "run in a terminal without --name.")
    init.add_argument("directory", nargs="?", default=".",
                      help="new or empty folder (default: the current one)")
    init.add_argument("--name", help='the lab\'s name, e.g. "Robot Learning Lab"')
    init.add_argument("--tagline", help="one sentence about the lab, for the home page")
    init.add_argument("--institution", help="host institution")
    init.add_argument("--location", help="where the lab is, e.g. a city")
    init.add_argument("--email", help="contact e-mail address")
    init.add_argument("--repository", help="URL of the lab's repository (edit buttons)")
    init.add_argument("--site-url", dest="site_url", help="where the handbook is published")
    init.add_argument("--engine", default=DEFAULT_ENGINE,
                      help="where pip gets labhandbook, as the part of a requirement after the "
                           "name: a version ('>=0.2') or '@ URL' (default: %(default)s)")
    init.set_defaults(func=cmd_init)

    people = sub.add_parser("import-people", parents=[common],
                            help="write one page per person from a CSV or YAML table",
                            description="Write people/<slug>.md for every row of a CSV (first "
                                        "line: column names) or YAML (a list) file. Refuses "
                                        "duplicates and unknown areas; writes nothing on error.")
    people.add_argument("file", help="CSV or YAML file, one person per row")
    people.add_argument("--dry-run", action="store_true", help="say what would be written")
    people.set_defaults(func=cmd_import_people)

    upgrade = sub.add_parser("upgrade", parents=[common],
                             help="bring the pages to this version's content format",
                             description="Rewrite front matter that an older version accepted "
                                         "into this version's format, saying what changed.")
    upgrade.add_argument("--dry-run", action="store_true", help="say what would change")
    upgrade.set_defaults(func=cmd_upgrade)
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
