"""Front-matter schemas of person and research-area pages.

The structured facts about a person or an area live in that page's YAML front matter and
nowhere else. These pydantic models are the single definition of what may be written there:
unknown keys are errors (a typo must not be silently ignored), and every message says what to
write instead.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

#: Roles in the order the people directory shows them, with their section headings.
ROLES: dict[str, tuple[str, str]] = {
    "pi": ("Principal investigator", "Principal investigators"),
    "faculty": ("Faculty", "Faculty"),
    "researcher": ("Researcher", "Researchers"),
    "postdoc": ("Postdoctoral researcher", "Postdoctoral researchers"),
    "phd": ("PhD student", "PhD students"),
    "masters": ("Master's student", "Master's students"),
    "undergrad": ("Undergraduate student", "Undergraduate students"),
    "intern": ("Intern", "Interns"),
    "staff": ("Staff", "Staff"),
    "visitor": ("Visitor", "Visitors"),
}
Role = Literal[
    "pi", "faculty", "researcher", "postdoc", "phd", "masters", "undergrad", "intern", "staff",
    "visitor",
]
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PARTIAL_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
#: Dot-separated labels after the "@": no two parts of the pattern can match the same
#: characters, so it runs in linear time (the former one backtracked quadratically).
EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"'.]+(?:\.[^@\s<>\"'.]+)+$")
#: Longest one-line text of a front-matter field, longest list, longest e-mail address.
MAX_TEXT = 2_000
MAX_ITEMS = 1_000
MAX_EMAIL = 254
SAFE_URL_RE = re.compile(r"^https?://[^\s<>\"']+$")


def _partial_date(value: Any) -> str:
    """Accept 2024, "2024", "2024-05", "2024-05-17" or a YAML date; keep the precision given."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        match = PARTIAL_DATE_RE.match(value.strip())
        if match:
            year, month, day = match.groups()
            if month and not 1 <= int(month) <= 12:
                raise ValueError(f"month {month} is not 01-12")
            if day:
                date(int(year), int(month), int(day))  # raises on 2024-02-31
            return value.strip()
    raise ValueError("write a date as YYYY, YYYY-MM or YYYY-MM-DD, e.g. 2024-05")


PartialDate = Annotated[str, BeforeValidator(_partial_date)]


def _safe_url(value: Any) -> str:
    if not isinstance(value, str) or not SAFE_URL_RE.match(value.strip()):
        raise ValueError("write a full web address starting with https:// (or http://)")
    return value.strip()


SafeUrl = Annotated[str, BeforeValidator(_safe_url)]


def _slug(value: Any) -> str:
    if not isinstance(value, str) or not SLUG_RE.match(value):
        raise ValueError(
            "write a slug: the page's file name without .md, lowercase words joined by '-', "
            "e.g. large-language-models"
        )
    return value


Slug = Annotated[str, BeforeValidator(_slug)]


def _text(value: Any) -> str:
    """Plain one-line text: numbers are accepted as text, lists and mappings are not."""
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise ValueError("write plain text here")
    text = str(value).strip()
    if not text:
        raise ValueError("this may not be empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"this is {len(text):,} characters long; keep it under {MAX_TEXT:,} "
                         "(longer prose goes into the page below the second `---`)")
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in text):
        raise ValueError("remove the control characters from this text")
    return text


Text = Annotated[str, BeforeValidator(_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _bounded_list(cls, value: Any) -> Any:
        """No list of a page (news, awards, ...) is longer than :data:`MAX_ITEMS`."""
        if isinstance(value, list) and len(value) > MAX_ITEMS:
            raise ValueError(f"this list has {len(value):,} items; keep it under {MAX_ITEMS:,}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        """``links:`` with nothing under it means "no links", not an error."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items()
                    if v is not None or (k in cls.model_fields and
                                         cls.model_fields[k].is_required())}
        return data


class Span(_Strict):
    """Something with a start and an optional end (``to`` omitted means: until now)."""

    start: PartialDate | None = Field(default=None, alias="from")
    end: PartialDate | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"`to` ({self.end}) is before `from` ({self.start})")
        return self


class Affiliation(Span):
    organisation: Text
    position: Text
    url: SafeUrl | None = None


class Education(Span):
    degree: Text
    institution: Text
    field: Text | None = None
    advisors: list[Text] = []
    note: Text | None = None


class Award(_Strict):
    year: int = Field(ge=1900, le=2200)
    title: Text
    url: SafeUrl | None = None


class Service(_Strict):
    year: int = Field(ge=1900, le=2200)
    role: Text


class NewsItem(_Strict):
    date: PartialDate
    text: Text
    url: SafeUrl | None = None
    papers: list[Text] = []  # BibTeX keys of the papers the item is about


class Opening(_Strict):
    """A position the lab or a member is hiring for."""

    title: Text
    text: Text | None = None
    url: SafeUrl | None = None


class Institution(_Strict):
    name: Text
    url: SafeUrl | None = None


def _email_address(value: Any) -> str:
    if not isinstance(value, str) or not EMAIL_RE.match(value):
        raise ValueError("write an e-mail address like name@example.org")
    return value


EmailAddress = Annotated[str, BeforeValidator(_email_address)]


class LabProfile(_Strict):
    """Who the lab is and how to reach it: the lab-level keys of the ``labhandbook`` setting
    in ``conf.py``. Everything is optional and nothing unset is shown."""

    leaders: tuple[Slug, ...] = ()
    institutions: tuple[Institution, ...] = ()
    location: Text | None = None
    email: EmailAddress | None = None
    contact_url: SafeUrl | None = None
    openings: tuple[Opening, ...] = ()


class Links(_Strict):
    """Where else a person is on the web. Every link is optional."""

    homepage: SafeUrl | None = None
    scholar: SafeUrl | None = None
    github: SafeUrl | None = None
    orcid: SafeUrl | None = None
    dblp: SafeUrl | None = None
    openreview: SafeUrl | None = None
    semantic_scholar: SafeUrl | None = None
    linkedin: SafeUrl | None = None
    twitter: SafeUrl | None = None
    blog: SafeUrl | None = None
    cv: SafeUrl | None = None
    email: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and len(value) > MAX_EMAIL:
            raise ValueError(f"an e-mail address has at most {MAX_EMAIL} characters")
        if value is not None and not EMAIL_RE.match(value):
            raise ValueError("write an e-mail address like name@example.org")
        return value


class Person(_Strict):
    """Front matter of ``people/<slug>.md``."""

    name: Text
    role: Role
    status: Literal["current", "alumni"] = "current"
    joined: PartialDate | None = None
    left: PartialDate | None = None
    title: Text | None = None  # the position shown under the name
    affiliations: list[Affiliation] = []
    education: list[Education] = []
    areas: list[Slug] = []
    links: Links = Links()
    photo: Text | None = None
    photo_alt: Text | None = None
    bib_names: list[Text] = []  #: spellings confirmed as this person's
    not_names: list[Text] = []  #: spellings that fit the name but are someone else
    awards: list[Award] = []
    service: list[Service] = []
    news: list[NewsItem] = []
    openings: list[Opening] = []  #: positions this person is hiring for
    #: BibTeX keys of the papers shown first on the page, in this order; unset: the newest
    #: first-author papers (see :func:`labhandbook.publications.selected_keys`); ``[]``: none
    selected: list[Text] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Person:
        if self.status == "alumni" and not self.left:
            raise ValueError("`status`: alumni need the date they left — add `left: YYYY-MM`")
        if self.joined and self.left and self.left < self.joined:
            raise ValueError(f"`left`: {self.left} is before `joined` ({self.joined}) — "
                             "swap or correct the dates")
        if self.photo and not self.photo_alt:
            raise ValueError("`photo`: a photo needs alternative text — add `photo_alt:` "
                             "describing the picture for screen readers")
        if len(set(self.areas)) != len(self.areas):
            raise ValueError("`areas`: an area is listed twice — keep one of them")
        if self.selected and len(set(self.selected)) != len(self.selected):
            raise ValueError("`selected`: a paper is listed twice — keep one of them")
        return self

    @property
    def role_label(self) -> str:
        return ROLES[self.role][0]

    @property
    def position(self) -> str:
        """What the directory shows under the name."""
        return self.title or self.role_label

    @property
    def current_affiliation(self) -> Affiliation | None:
        current = [a for a in self.affiliations if a.end is None]
        return current[0] if current else None


class Area(_Strict):
    """Front matter of ``research/<slug>.md``."""

    title: Text
    summary: Text
    keywords: list[Text] = Field(min_length=1)
    leads: list[Slug] = []
    status: Literal["active", "past"] = "active"


def default_bib_names(name: str) -> list[str]:
    """The spellings of ``name`` as BibTeX writes it: "Lijun Wu" -> ["Wu, Lijun"]."""
    parts = name.split()
    if len(parts) < 2:
        return [name]
    return [f"{parts[-1]}, {' '.join(parts[:-1])}"]
