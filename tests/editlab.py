"""A small lab kept as data, edited at random, written to disk: the differential build test's input.

``Lab`` holds people, areas, BibTeX files and settings; ``write`` turns it into a handbook and
touches only the files whose text changed (so Sphinx sees exactly the edit). ``EDITS`` are the
ordinary contributions of a lab: person fields, people and areas added and removed, area titles,
section headings, BibTeX entries added, moved between files, removed and retitled, a .bib file
deleted, news items, ``conf.py`` settings and the lab's own stylesheet. Every edit keeps the lab
valid: the builds must not warn.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROLES = ["pi", "faculty", "researcher", "postdoc", "phd", "masters", "staff"]
#: Real name spellings with accents, von parts and hyphens (as the benchmark lab has).
NAMES = ["Jörg Müller", "Lijun Wu", "Sigríður Jónsdóttir", "Łukasz Wójcik", "Jan van der Berg",
         "Anne-Marie Dubois", "Nguyễn Thảo", "Xinyu Zhao", "Yifei Shen", "Zoë O'Neil",
         "Mateus Araújo", "Fatma Yılmaz"]
OUTSIDERS = ["Tian, Fei", "Liang, Xiaobo", "Smith, Jane", "García, Pilar", "Kim, Minji"]
TOPICS = ["Dropout", "Molecules", "Translation", "Graphs", "Proteins", "Speech", "Umlauts",
          "Retrieval", "Agents", "Vision"]


@dataclass
class Entry:
    key: str
    kind: str  # article, inproceedings, misc
    title: str
    year: int
    authors: list[str]
    keywords: list[str]

    def bibtex(self) -> str:
        venue = {"article": "journal = {Journal of Examples}",
                 "inproceedings": "booktitle = {Conference on Examples}",
                 "misc": f"eprint = {{2101.{sum(map(ord, self.key)) % 10000:05d}}},\n"
                         "  archiveprefix = {arXiv}"}[self.kind]
        keywords = f"  keywords = {{{', '.join(self.keywords)}}},\n" if self.keywords else ""
        return (f"@{self.kind}{{{self.key},\n  author = {{{' and '.join(self.authors)}}},\n"
                f"  title = {{{self.title}}},\n  {venue},\n  year = {{{self.year}}},\n"
                f"{keywords}}}\n")


@dataclass
class Lab:
    people: dict[str, dict] = field(default_factory=dict)  #: slug -> front matter
    cites: dict[str, list[str]] = field(default_factory=dict)  #: person slug -> cited keys
    areas: dict[str, dict] = field(default_factory=dict)
    bibs: dict[str, list[Entry]] = field(default_factory=dict)  #: file name -> entries
    settings: dict[str, str] = field(default_factory=dict)  #: conf.py assignments
    index_cites: list[str] = field(default_factory=list)
    #: ``_static/lab.css``, linked from every page (``html_css_files``)
    stylesheet: str = ".lh-lab { color: #123456; }\n"
    #: page ("people/x", "research/y") -> its section headings (``##``)
    headings: dict[str, list[str]] = field(default_factory=dict)
    counter: int = 0

    # --- queries ---------------------------------------------------------------------------
    def entries(self) -> dict[str, Entry]:
        return {e.key: e for entries in self.bibs.values() for e in entries}

    def spelling(self, slug: str) -> str:
        from labhandbook.schema import default_bib_names

        return default_bib_names(self.people[slug]["name"])[0]

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # --- files -----------------------------------------------------------------------------
    def files(self) -> dict[str, str]:
        out = {
            "conf.py": "".join(f"{k} = {v}\n" for k, v in sorted(self.settings.items())),
            "index.md": ("# Edit lab\n\n"
                         + "".join(f"We cite {{cite:p}}`{k}`.\n" for k in self.index_cites)
                         + "\n```{toctree}\npeople/index\nresearch/index\npublications\nnews\n"
                         "```\n"),
            "publications.md": "# Publications\n\n```{publication-index}\n```\n",
            "_static/lab.css": self.stylesheet,
            "news.md": "# News\n\n```{news}\n```\n",
            "people/index.md": ("# People\n\n```{people-directory}\n```\n\n```{toctree}\n"
                                ":hidden:\n:glob:\n\n*\n```\n"),
            # Not hidden: the home page's toctree shows the areas' section headings too.
            "research/index.md": ("# Research\n\n```{research-areas}\n```\n\n```{toctree}\n"
                                  ":glob:\n\n*\n```\n"),
        }
        for slug, fm in self.people.items():
            body = "".join(f"See {{cite:t}}`{k}`.\n" for k in self.cites.get(slug, []))
            out[f"people/{slug}.md"] = (f"---\n{json.dumps(fm, ensure_ascii=False)}\n---\n"
                                        f"# {fm['name']}\n\nProse about {slug}.\n{body}"
                                        f"{self.sections(f'people/{slug}')}")
        for slug, fm in self.areas.items():
            out[f"research/{slug}.md"] = (f"---\n{json.dumps(fm, ensure_ascii=False)}\n---\n"
                                          f"# {fm['title']}\n\nArea prose.\n"
                                          f"{self.sections(f'research/{slug}')}")
        for name, entries in self.bibs.items():
            out[f"bib/{name}"] = "\n".join(e.bibtex() for e in entries)
        return out

    def sections(self, page: str) -> str:
        return "".join(f"\n## {h}\n\nMore prose.\n" for h in self.headings.get(page, []))

    def write(self, root: Path) -> None:
        """Write the lab under ``root``: changed files rewritten, vanished files deleted."""
        wanted = self.files()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if rel not in wanted:
                path.unlink()
        for rel, text in wanted.items():
            path = root / rel
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")


def initial() -> Lab:
    lab = Lab(settings={"project": '"Edit lab"', "extensions": '["labhandbook"]',
                        "html_theme": '"sphinx_book_theme"',
                        "html_baseurl": '"https://lab.example.org/"',
                        "html_static_path": '["_static"]', "html_css_files": '["lab.css"]',
                        # Few entries a page: earlier years get pages of their own, and
                        # entries move between them as years fill up.
                        "labhandbook": '{"lab_name": "Edit lab", "publications_per_page": 2}'})
    lab.areas = {"molecules": {"title": "Molecules", "summary": "About molecules.",
                               "keywords": ["molecules", "drugs"]},
                 "translation": {"title": "Machine translation", "summary": "Translating.",
                                 "keywords": ["nmt"]}}
    lab.people = {"jorg-muller": {"name": "Jörg Müller", "role": "phd", "areas": ["molecules"]},
                  "lijun-wu": {"name": "Lijun Wu", "role": "researcher",
                               "areas": ["translation"],
                               "news": [{"date": "2021-09-30", "text": "Dropout Twice accepted.",
                                         "papers": ["wu2021drop"]}]}}
    lab.bibs = {
        "a.bib": [Entry("wu2021drop", "inproceedings", "Dropout Twice", 2021,
                        ["Liang, Xiaobo", "Wu, Lijun"], ["nmt"]),
                  Entry("wu2018rl", "article", "A Study of Reinforcement Learning", 2018,
                        ["Wu, Lijun", "Tian, Fei"], ["nmt"])],
        "b.bib": [Entry("mueller2019umlaut", "misc", "Umlauts in Molecules", 2019,
                        ["Müller, Jörg", "Kim, Minji"], ["drugs"]),
                  Entry("wu2019ws", "inproceedings", "A Workshop Paper on Molecules", 2019,
                        ["Müller, Jörg", "Wu, Lijun"], ["molecules"])],
    }
    lab.cites = {"jorg-muller": ["wu2021drop"], "lijun-wu": ["mueller2019umlaut", "wu2018rl"]}
    lab.index_cites = ["wu2019ws"]
    return lab


# --- edits: each takes the lab and a random source, changes the lab, says what it did ------------

Edit = Callable[[Lab, random.Random], str]


def _forget_key(lab: Lab, key: str) -> None:
    """A removed entry is no longer cited or named by news (else the build warns)."""
    for slug in lab.cites:
        lab.cites[slug] = [k for k in lab.cites[slug] if k != key]
    lab.index_cites = [k for k in lab.index_cites if k != key]
    for fm in lab.people.values():
        for item in fm.get("news", []):
            if key in item.get("papers", []):
                item["papers"].remove(key)
                if not item["papers"]:
                    del item["papers"]


def person_field(lab: Lab, rng: random.Random) -> str:
    slug = rng.choice(sorted(lab.people))
    fm = lab.people[slug]
    what = rng.choice(["role", "status", "title", "areas"])
    if what == "role":
        fm["role"] = rng.choice(ROLES)
    elif what == "status":
        if fm.get("status") == "alumni":
            fm.pop("status"), fm.pop("left", None)
        else:
            fm["status"], fm["left"] = "alumni", f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}"
    elif what == "title":
        fm["title"] = rng.choice(["Senior researcher", "Lab manager", "Visiting scholar"])
    else:
        fm["areas"] = sorted(rng.sample(sorted(lab.areas), rng.randint(0, len(lab.areas))))
    return f"person {slug}: {what}"


def add_person(lab: Lab, rng: random.Random) -> str:
    free = [n for n in NAMES if n not in {p["name"] for p in lab.people.values()}]
    if not free:
        return remove_person(lab, rng)
    name = rng.choice(free)
    slug = name.casefold().replace(" ", "-").replace("'", "")
    slug = "".join(c for c in slug if c.isascii() and (c.isalnum() or c == "-")).strip("-")
    lab.people[slug] = {"name": name, "role": rng.choice(ROLES),
                        "areas": sorted(rng.sample(sorted(lab.areas), min(1, len(lab.areas))))}
    return f"add person {slug}"


def remove_person(lab: Lab, rng: random.Random) -> str:
    if len(lab.people) <= 1:
        return add_person(lab, rng)
    slug = rng.choice(sorted(lab.people))
    del lab.people[slug]
    lab.cites.pop(slug, None)
    lab.headings.pop(f"people/{slug}", None)
    return f"remove person {slug}"


def add_area(lab: Lab, rng: random.Random) -> str:
    topic = rng.choice(TOPICS)
    slug = lab.fresh(topic.lower())
    lab.areas[slug] = {"title": f"{topic} research", "summary": f"About {topic.lower()}.",
                       "keywords": [slug]}
    return f"add area {slug}"


def remove_area(lab: Lab, rng: random.Random) -> str:
    if len(lab.areas) <= 1:
        return add_area(lab, rng)
    slug = rng.choice(sorted(lab.areas))
    gone = set(lab.areas.pop(slug)["keywords"])
    lab.headings.pop(f"research/{slug}", None)
    for entries in lab.bibs.values():  # an entry's keywords must belong to an area
        for entry in entries:
            entry.keywords = [k for k in entry.keywords if k not in gone]
    for fm in lab.people.values():
        if slug in fm.get("areas", []):
            fm["areas"].remove(slug)
    return f"remove area {slug}"


def area_title(lab: Lab, rng: random.Random) -> str:
    slug = rng.choice(sorted(lab.areas))
    lab.areas[slug]["title"] = f"{rng.choice(TOPICS)} and {rng.choice(TOPICS)}"
    return f"area {slug}: title"


def section_heading(lab: Lab, rng: random.Random) -> str:
    """A section heading added, renamed or removed on a person or area page (toctrees that
    reach the page show it; the theme's sidebar shows page titles only)."""
    page = rng.choice([f"research/{s}" for s in sorted(lab.areas)]
                      + [f"people/{s}" for s in sorted(lab.people)])
    headings = lab.headings.setdefault(page, [])
    what = rng.choice(["add", "rename", "remove"] if headings else ["add"])
    text = f"{rng.choice(TOPICS)} {rng.choice(['methods', 'results', 'data', 'history'])}"
    if what == "add":
        headings.insert(rng.randint(0, len(headings)), lab.fresh(text + " "))
    elif what == "rename":
        headings[rng.randrange(len(headings))] = lab.fresh(text + " ")
    else:
        headings.pop(rng.randrange(len(headings)))
    return f"{page}: heading {what}"


def add_entry(lab: Lab, rng: random.Random) -> str:
    topic = rng.choice(TOPICS)
    members = rng.sample(sorted(lab.people), min(len(lab.people), rng.randint(1, 2)))
    authors = [lab.spelling(m) for m in members] + rng.sample(OUTSIDERS, rng.randint(0, 2))
    rng.shuffle(authors)
    keywords = sorted({kw for a in lab.areas.values() for kw in a["keywords"]})
    entry = Entry(lab.fresh(topic.lower()), rng.choice(["article", "inproceedings", "misc"]),
                  f"{topic} {rng.choice(['Revisited', 'at Scale', 'Without Labels'])}",
                  rng.randint(2015, 2025), authors,
                  rng.sample(keywords, min(len(keywords), rng.randint(1, 2))))
    name = rng.choice(sorted(lab.bibs) + ["c.bib"])
    entries = lab.bibs.setdefault(name, [])
    entries.insert(rng.randint(0, len(entries)), entry)
    if rng.random() < 0.3:  # a newly cited paper on an existing page
        lab.cites.setdefault(rng.choice(sorted(lab.people)), []).append(entry.key)
    return f"add entry {entry.key} to {name}"


def _pick_entry(lab: Lab, rng: random.Random) -> tuple[str, int] | None:
    spots = [(n, i) for n, es in sorted(lab.bibs.items()) for i in range(len(es))]
    return rng.choice(spots) if spots else None


def remove_entry(lab: Lab, rng: random.Random) -> str:
    spot = _pick_entry(lab, rng)
    if spot is None or len(lab.entries()) <= 2:
        return add_entry(lab, rng)
    entry = lab.bibs[spot[0]].pop(spot[1])
    if not lab.bibs[spot[0]]:
        del lab.bibs[spot[0]]
    _forget_key(lab, entry.key)
    return f"remove entry {entry.key}"


def move_entry(lab: Lab, rng: random.Random) -> str:
    spot = _pick_entry(lab, rng)
    if spot is None:
        return add_entry(lab, rng)
    entry = lab.bibs[spot[0]].pop(spot[1])
    if not lab.bibs[spot[0]]:
        del lab.bibs[spot[0]]
    name = rng.choice(sorted(lab.bibs) + ["c.bib", "d.bib"])
    entries = lab.bibs.setdefault(name, [])
    entries.insert(rng.randint(0, len(entries)), entry)
    return f"move entry {entry.key} to {name}"


def retitle_entry(lab: Lab, rng: random.Random) -> str:
    spot = _pick_entry(lab, rng)
    if spot is None:
        return add_entry(lab, rng)
    entry = lab.bibs[spot[0]][spot[1]]
    entry.title = f"{rng.choice(TOPICS)} {rng.choice(['Again', 'Reconsidered', 'in Practice'])}"
    if rng.random() < 0.3:
        entry.year = rng.randint(2015, 2025)
    return f"retitle entry {entry.key}"


def delete_bib(lab: Lab, rng: random.Random) -> str:
    if len(lab.bibs) <= 1:
        return add_entry(lab, rng)
    name = rng.choice(sorted(lab.bibs))
    for entry in lab.bibs.pop(name):
        _forget_key(lab, entry.key)
    return f"delete {name}"


def news_item(lab: Lab, rng: random.Random) -> str:
    slug = rng.choice(sorted(lab.people))
    news = lab.people[slug].setdefault("news", [])
    if news and rng.random() < 0.3:
        news.pop(rng.randrange(len(news)))
        if not news:
            del lab.people[slug]["news"]
        return f"person {slug}: news removed"
    item = {"date": f"20{rng.randint(15, 25)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "text": f"{rng.choice(TOPICS)} news."}
    keys = sorted(lab.entries())
    if keys and rng.random() < 0.5:
        item["papers"] = [rng.choice(keys)]
    news.append(item)
    return f"person {slug}: news added"


def setting(lab: Lab, rng: random.Random) -> str:
    what = rng.choice(["html_title", "lab_name", "html_baseurl"])
    if what == "html_title":
        lab.settings["html_title"] = json.dumps(rng.choice(["Edit lab", "The Edit Lab"]))
    elif what == "lab_name":
        lab.settings["labhandbook"] = repr({"lab_name": rng.choice(["Edit lab", "Lab of Edits"]),
                                            "publications_per_page": rng.choice([1, 2, 4])})
    else:
        lab.settings["html_baseurl"] = json.dumps(rng.choice(["https://lab.example.org/",
                                                              "https://edits.example.net/"]))
    return f"conf.py: {what}"


def stylesheet(lab: Lab, rng: random.Random) -> str:
    """The lab's own stylesheet edited: every page links it with a checksum of its content."""
    lab.stylesheet = f".lh-lab {{ color: #{rng.randrange(1 << 24):06x}; }}\n"
    return "_static/lab.css edited"


EDITS: list[Edit] = [person_field, person_field, add_person, remove_person, add_area,
                     remove_area, area_title, section_heading, add_entry, add_entry, remove_entry,
                     move_entry, retitle_entry, delete_bib, news_item, setting, stylesheet]
