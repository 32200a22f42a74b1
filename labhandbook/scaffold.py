"""Writing new content from templates: a person or area page, many person pages from a table,
and a whole new lab's repository.

Everything here renders first and writes last: a page is validated against the schema before
it is written, a table with one bad row writes nothing, and nothing is ever overwritten.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from . import __version__
from .schema import ROLES, SLUG_RE, default_bib_names

#: Where the engine comes from in a new lab's pyproject.toml (a pip requirement's URL part).
ENGINE_URL = "https://github.com/labhandbook/labhandbook"
DEFAULT_ENGINE = f"@ git+{ENGINE_URL}@v{__version__}"


class Refusal(Exception):
    """A command cannot do what was asked; the message says why and what to do instead."""


# --- values as YAML and file names ----------------------------------------------------------------

_FOLD = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
         "ı": "i", "'": "", "’": ""}


def slugify(text: str) -> str:
    """A file name from a name or title: "Zoë O'Brien" -> "zoe-obrien" (accents folded)."""
    text = "".join(_FOLD.get(ch, ch) for ch in text.casefold())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def yaml_text(value: str) -> str:
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


def one_line(value: str, what: str) -> str:
    """``value`` with its white space folded; refused when empty or with control characters."""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in value):
        raise Refusal(f"the {what} contains control characters — type it again")
    value = " ".join(value.split())
    if not value:
        raise Refusal(f"the {what} is empty — write it in quotes, e.g. \"Ada Lovelace\"")
    return value


def flow_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _initials(spelling: str) -> str:
    """ "Lovelace, Ada Augusta" -> "Lovelace, A. A." (an example of another spelling)."""
    last, _, first = spelling.partition(", ")
    if not first:
        return spelling
    return f"{last}, " + " ".join(f"{word[0]}." for word in first.split())


def _template(*parts: str) -> str:
    return resources.files("labhandbook").joinpath("templates", *parts).read_text(
        encoding="utf-8")


def check_slug(slug: str, option: str = "--slug") -> str:
    if not SLUG_RE.match(slug):
        raise Refusal(f"{option} {slug!r} is not a file name the handbook accepts — use "
                      "lowercase letters and digits joined by '-', e.g. ada-lovelace")
    return slug


def slug_for(given: str | None, text: str, what: str) -> str:
    slug = given if given else slugify(text)
    if not slug:
        raise Refusal(f"cannot make a file name from the {what} {text!r} — pass one with "
                      "--slug, e.g. --slug wang-xiaoming")
    return check_slug(slug)


def validate_page(text: str, model: type, rel: str) -> None:
    """A page just rendered must pass the schema; otherwise it is not written."""
    import yaml
    from pydantic import ValidationError

    front = text.split("\n---\n", 1)[0].removeprefix("---\n")
    try:
        model.model_validate(yaml.safe_load(front) or {})
    except (yaml.YAMLError, ValidationError) as err:  # a bug in the template, not the user's
        raise RuntimeError(f"the template for {rel} does not validate: {err}") from None


def write_new(path: Path, text: str, rel: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8", newline="\n") as out:
            out.write(text)
    except FileExistsError:
        raise Refusal(f"{rel} already exists — edit that page instead, or choose another file "
                      "name with --slug") from None
    except OSError as err:
        raise Refusal(f"cannot write {rel} ({err.strerror})") from None


# --- person and area pages ----------------------------------------------------------------------


@dataclass
class PersonFacts:
    """What a new person page is written from (the rest stays commented out in the page)."""

    name: str
    role: str = "phd"
    areas: list[str] = field(default_factory=list)
    status: str = "current"
    joined: str = ""
    left: str = ""
    bib_names: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)


def person_page(facts: PersonFacts, slug: str, people_dir: str, research_dir: str,
                known_areas: Iterable[str]) -> str:
    """The text of a person page from the template, with ``facts`` filled in."""
    spelling = default_bib_names(facts.name)[0]
    text = Template(_template("person.md")).substitute(
        name=yaml_text(facts.name), heading=facts.name, role=facts.role,
        joined=facts.joined or date.today().strftime("%Y-%m"), areas=flow_list(facts.areas),
        slug=slug, bib_name=json.dumps(spelling, ensure_ascii=False),
        bib_initials=json.dumps(_initials(spelling), ensure_ascii=False),
        known_areas=", ".join(known_areas) or "(none yet)", roles=", ".join(ROLES),
        people_dir=people_dir, research_dir=research_dir,
    )
    if facts.status != "current":
        text = text.replace("\nstatus: current\n", f"\nstatus: {facts.status}\n", 1)
    if facts.left:
        text = text.replace("\n# left: 2028-06\n", f"\nleft: {yaml_text(facts.left)}\n", 1)
    if facts.bib_names:
        text = re.sub(r"\n# bib_names: .*\n",
                      "\nbib_names: " + flow_list([json.dumps(n, ensure_ascii=False)
                                                   for n in facts.bib_names]) + "\n",
                      text, count=1)
    if facts.links:
        lines = "".join(f"  {k}: {yaml_text(v)}\n" for k, v in facts.links.items())
        text = text.replace("\n# links:\n", f"\nlinks:\n{lines}", 1)
    return text


def area_page(title: str, slug: str, summary: str, keywords: list[str], leads: list[str],
              people_dir: str, research_dir: str, bib_dir: str) -> str:
    """The text of an area page from the template."""
    return Template(_template("area.md")).substitute(
        title=yaml_text(title), heading=title, summary=yaml_text(summary),
        keywords=flow_list([yaml_text(k) for k in keywords]), leads=flow_list(leads), slug=slug,
        people_dir=people_dir, research_dir=research_dir, bib_dir=bib_dir,
        first_keyword=keywords[0],
    )


# --- many people from a table -------------------------------------------------------------------

#: Columns of an import-people table; lists are separated by ";" in CSV.
PERSON_COLUMNS = ("name", "role", "status", "joined", "left", "areas", "bib_names", "slug")
LINK_COLUMNS = ("email", "homepage", "scholar", "github", "orcid", "dblp", "openreview",
                "semantic_scholar", "linkedin", "twitter", "blog", "cv")


@dataclass
class Row:
    line: int
    values: dict[str, Any]


def read_table(path: Path, rel: str) -> list[Row]:
    """Rows of a CSV (header line first) or YAML (a list of mappings) file, with their lines."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise Refusal(f"cannot read {rel} ({getattr(err, 'strerror', None) or err}) — give a "
                      "UTF-8 CSV or YAML file") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        return _yaml_rows(text, rel)
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "name" not in [f.strip() for f in reader.fieldnames]:
        raise Refusal(f"{rel}:1: the first line must name the columns, with at least `name` — "
                      f"known columns: {', '.join(PERSON_COLUMNS + LINK_COLUMNS)}")
    rows = []
    for record in reader:
        values = {(k or "").strip(): (v or "").strip() for k, v in record.items() if k}
        rows.append(Row(reader.line_num, values))
    return rows


def _yaml_rows(text: str, rel: str) -> list[Row]:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise Refusal(f"{rel}:{line}: not valid YAML ({getattr(err, 'problem', err)}) — "
                      "write a list of people, one `- name: ...` block each") from None
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        raise Refusal(f"{rel}:1: expected a list of people (`- name: ...` blocks)")
    return [Row(item.start_mark.line + 1, value if isinstance(value, dict) else {"": value})
            for item, value in zip(node.value, data, strict=True)]


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(";") if v.strip()]


def facts_from_row(row: Row, rel: str) -> tuple[PersonFacts, str | None]:
    """The facts of one row, and the slug it asks for; a mistake is a located refusal."""
    where = f"{rel}:{row.line}"
    unknown = sorted(set(row.values) - set(PERSON_COLUMNS) - set(LINK_COLUMNS))
    if unknown:
        raise Refusal(f"{where}: unknown column(s) {', '.join(map(repr, unknown))} — use "
                      f"{', '.join(PERSON_COLUMNS + LINK_COLUMNS)}")
    raw_name = row.values.get("name")
    if not raw_name or not str(raw_name).strip():
        raise Refusal(f"{where}: the row has no name — every person needs `name`")
    try:
        name = one_line(str(raw_name), "name")
    except Refusal as err:
        raise Refusal(f"{where}: {err}") from None
    role = str(row.values.get("role") or "phd").strip()
    if role not in ROLES:
        raise Refusal(f"{where}: unknown role {role!r} for {name} — use one of "
                      f"{', '.join(ROLES)}")
    status = str(row.values.get("status") or "current").strip()
    links = {k: str(row.values[k]).strip() for k in LINK_COLUMNS
             if str(row.values.get(k) or "").strip()}
    facts = PersonFacts(
        name=name, role=role, status=status, areas=_as_list(row.values.get("areas")),
        joined=str(row.values.get("joined") or "").strip(),
        left=str(row.values.get("left") or "").strip(),
        bib_names=_as_list(row.values.get("bib_names")), links=links)
    slug = str(row.values.get("slug") or "").strip() or None
    return facts, slug


def _same_person_key(name: str) -> str:
    return slugify(name)


def plan_people(root: Path, table: Path, lab: Any, registry: Any) -> list[tuple[str, str]]:
    """Every page an import-people table would write, as ``(path relative to root, text)``;
    the first mistake of any row is a located refusal and nothing is planned."""
    from .schema import Person

    rel = table.name if not table.is_absolute() else table.as_posix()
    try:
        rel = table.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        pass
    rows = read_table(table, rel)
    if not rows:
        raise Refusal(f"{rel}: no people in the file — one row (or `- name:` block) per person")
    known_areas = sorted(registry.areas)
    existing = {_same_person_key(p.name): slug for slug, p in registry.people.items()}
    planned: list[tuple[str, str]] = []
    seen_slugs: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for row in rows:
        facts, asked = facts_from_row(row, rel)
        where = f"{rel}:{row.line}"
        try:
            slug = slug_for(asked, facts.name, "name")
        except Refusal as err:
            raise Refusal(f"{where}: {err}") from None
        for area in facts.areas:
            if area not in registry.areas:
                raise Refusal(f"{where}: {facts.name}: there is no research area `{area}` — use "
                              f"the file name (without .md) of a page in {lab.research_dir}/: "
                              + (", ".join(known_areas) or "there are none yet; create them "
                                 "first with `labhandbook new area`"))
        key = _same_person_key(facts.name)
        if key in existing:
            raise Refusal(f"{where}: {facts.name} already has a page, "
                          f"{lab.people_dir}/{existing[key]}.md — remove the row, or edit "
                          "that page")
        if key in seen_names:
            raise Refusal(f"{where}: {facts.name} is also on line {seen_names[key]} — keep "
                          "one row per person")
        page_rel = f"{lab.people_dir}/{slug}.md"
        if slug in seen_slugs or (root / page_rel).exists():
            other = (f"line {seen_slugs[slug]}" if slug in seen_slugs else page_rel)
            raise Refusal(f"{where}: the file name {slug!r} is taken by {other} — add a `slug` "
                          "column with another file name for this person")
        seen_names[key], seen_slugs[slug] = row.line, row.line
        text = person_page(facts, slug, lab.people_dir, lab.research_dir, known_areas)
        _validate_row(text, Person, where, facts.name)
        planned.append((page_rel, text))
    return planned


def _validate_row(text: str, model: type, where: str, name: str) -> None:
    """A row's values must make a valid page; the schema's own words say what is wrong."""
    import yaml
    from pydantic import ValidationError

    front = text.split("\n---\n", 1)[0].removeprefix("---\n")
    try:
        model.model_validate(yaml.safe_load(front) or {})
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise Refusal(f"{where}: {name}: `{loc}`: {first['msg']} — correct the row") from None


# --- a new lab's repository ---------------------------------------------------------------------


@dataclass
class LabSettings:
    """What ``labhandbook init`` asks for."""

    name: str
    tagline: str = ""
    repository: str = ""
    site_url: str = ""
    institution: str = ""
    location: str = ""
    email: str = ""
    engine: str = DEFAULT_ENGINE


#: Options of ``init`` that become keys of the ``labhandbook`` setting of conf.py.
LAB_SETTING_KEYS = ("institution", "location", "email")
EXAMPLE_AREA = ("example-area", "Example research area")
EXAMPLE_PERSON = "Example Person"
EXAMPLE_MARK = ("# EXAMPLE page that came with the new handbook: replace it with the lab's own "
                "pages, then delete it.\n")


def _py(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def lab_files(settings: LabSettings) -> dict[str, str]:
    """Every file of a new lab's repository: path -> text."""
    name = settings.name
    lab_settings = ['    "lab_name": LAB["name"],\n']
    if settings.institution:
        lab_settings.append(f'    "institutions": [{{"name": {_py(settings.institution)}}}],\n')
    for key in ("location", "email"):
        value = getattr(settings, key)
        if value:
            lab_settings.append(f"    {_py(key)}: {_py(value)},\n")
    tagline = settings.tagline or f"The handbook of the {name}."
    values = {
        "@NAME@": name, "@NAME_PY@": _py(name), "@NAME_TOML@": name.replace('"', "'"),
        "@TAGLINE@": tagline, "@TAGLINE_PY@": _py(tagline),
        "@REPOSITORY_PY@": _py(settings.repository), "@SITE_URL_PY@": _py(settings.site_url),
        "@LABHANDBOOK_SETTINGS@": "".join(lab_settings),
        "@ENGINE@": settings.engine, "@DIST_NAME@": (slugify(name) or "lab") + "-handbook",
        "@AREA_KEYWORD@": EXAMPLE_AREA[0],
    }
    pattern = re.compile("|".join(re.escape(k) for k in values))
    base = resources.files("labhandbook").joinpath("templates", "lab")
    files: dict[str, str] = {}

    def walk(folder: Any, prefix: str) -> None:
        for item in folder.iterdir():
            # pip byte-compiles the templates' .py files when it installs the package.
            if item.name == "__pycache__" or item.name.endswith(".pyc"):
                continue
            # Files whose name starts with a dot are shipped as dot-NAME (package data globs
            # and some tools skip dotfiles).
            rel = prefix + re.sub(r"^dot-", ".", item.name)
            if item.is_dir():
                walk(item, rel + "/")
            else:
                text = item.read_text(encoding="utf-8")
                files[rel] = pattern.sub(lambda m: values[m.group(0)], text)

    walk(base, "")
    slug = slugify(EXAMPLE_PERSON)
    person = person_page(PersonFacts(EXAMPLE_PERSON, role="pi", areas=[EXAMPLE_AREA[0]]), slug,
                         "people", "research", [EXAMPLE_AREA[0]])
    files[f"people/{slug}.md"] = person.replace("---\n", "---\n" + EXAMPLE_MARK, 1)
    area = area_page(EXAMPLE_AREA[1], EXAMPLE_AREA[0],
                     "An example area: replace this page with one of the lab's own.",
                     [EXAMPLE_AREA[0]], [slug], "people", "research", "bib")
    files[f"research/{EXAMPLE_AREA[0]}.md"] = area.replace("---\n", "---\n" + EXAMPLE_MARK, 1)
    return files


def init_lab(dest: Path, settings: LabSettings) -> list[str]:
    """Write a new lab's repository into ``dest`` (missing or empty); return the files."""
    if dest.exists() and not dest.is_dir():
        raise Refusal(f"{dest} is a file — give the name of a new or empty folder")
    if dest.is_dir() and any(p.name != ".git" for p in dest.iterdir()):
        raise Refusal(f"{dest} is not empty — give a new or empty folder; init never "
                      "overwrites a file")
    files = lab_files(settings)
    for rel in sorted(files):
        write_new(dest / rel, files[rel], rel)
    return sorted(files)

