"""The ``labhandbook`` setting of ``conf.py``, validated once into a typed dataclass."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sphinx.errors import ConfigError

from .schema import LabProfile

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config

CONFIG_NAME = "labhandbook"


@dataclass(frozen=True)
class LabConfig:
    """Where the handbook's content lives and what the lab is called."""

    lab_name: str = "Our lab"
    people_dir: str = "people"
    research_dir: str = "research"
    bib_dir: str = "bib"
    publications_page: str = "publications"
    news_page: str = "news"
    #: Embeds (``<iframe>``) that raw HTML in pages may hold, by name: ``youtube``, ``vimeo``,
    #: ``openstreetmap``, ``google-maps`` (see :mod:`labhandbook.safety`). None by default.
    allow_embeds: tuple[str, ...] = ()
    #: Keep the loaded environment out of the garbage collector's passes during the build and
    #: at exit (see :mod:`labhandbook.process`).
    gc_freeze: bool = True
    #: The page (docname) with the lab's contact details and openings (``{lab-contact}``).
    contact_page: str = "contact"
    #: Who the lab is and how to reach it: ``leaders`` (person slugs), ``institutions``
    #: (``name``, ``url``), ``location``, ``email``, ``contact_url``, ``openings`` (``title``,
    #: ``text``, ``url``). Every field is optional; unset fields are not shown.
    profile: LabProfile = LabProfile()
    #: At most this many entries on the publications page: older years, newest first, get a
    #: page each (``publications-2019.html``), so the page's first view stays under 500 KB
    #: at department scale (5,000 entries). The default fits about 160 bytes of compressed
    #: HTML per reference plus the theme's assets.
    publications_per_page: int = 2000

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LabConfig:
        """Build from ``conf.py``; unknown keys are a typo and stop the build."""
        known = {f.name for f in fields(cls)} | set(LabProfile.model_fields)
        unknown = sorted(set(raw) - known)
        if "allow_raw_html_scripts" in unknown:
            raise ConfigError(
                f"conf.py: `{CONFIG_NAME}['allow_raw_html_scripts']` is gone: pages may not run "
                "script — remove it; a video or map is allowed by name with `allow_embeds`")
        if unknown:
            raise ConfigError(
                f"conf.py: unknown key(s) in `{CONFIG_NAME}`: {', '.join(unknown)} — "
                f"use one of: {', '.join(sorted(known))}"
            )
        profile_keys = set(LabProfile.model_fields)
        try:
            profile = LabProfile.model_validate({k: v for k, v in raw.items()
                                                 if k in profile_keys})
        except ValidationError as error:
            first = error.errors()[0]
            where = "".join(f"[{p!r}]" for p in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            raise ConfigError(f"conf.py: `{CONFIG_NAME}{where}`: {message}") from None
        settings = cls._settings({k: v for k, v in raw.items() if k not in profile_keys})
        return cls(**settings, profile=profile)

    @classmethod
    def _settings(cls, raw: dict[str, Any]) -> dict[str, Any]:
        types = {f.name: f.type for f in fields(cls)}
        raw = dict(raw)
        for key, value in raw.items():
            if key == "allow_embeds":
                raw[key] = _embeds(value)
            elif types[key] in (int, "int"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(
                        f"conf.py: `{CONFIG_NAME}[{key!r}]` must be a whole number of at least 1"
                    )
            elif types[key] in (bool, "bool"):
                if not isinstance(value, bool):
                    raise ConfigError(
                        f"conf.py: `{CONFIG_NAME}[{key!r}]` must be True or False"
                    )
            elif not isinstance(value, str) or not value.strip():
                raise ConfigError(
                    f"conf.py: `{CONFIG_NAME}[{key!r}]` must be a non-empty string"
                )
        return raw

    def bib_files(self, root: Path) -> list[str]:
        """Every ``*.bib`` file of the bib folder, relative to the project root, sorted."""
        from .safety import content_file

        return sorted(p.relative_to(root).as_posix() for p in (root / self.bib_dir).glob("*.bib")
                      if content_file(root, p) is not None)  # a link elsewhere is reported


def _embeds(value: Any) -> tuple[str, ...]:
    from .safety import EMBEDS

    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names) or \
            any(n not in EMBEDS for n in names):
        raise ConfigError(
            f"conf.py: `{CONFIG_NAME}['allow_embeds']` must be a list of embed names — "
            f"use some of: {', '.join(sorted(EMBEDS))}")
    return tuple(sorted(set(names)))


def get_config(app: Sphinx) -> LabConfig:
    """The validated configuration of this build."""
    return app.config._labhandbook  # type: ignore[attr-defined]


def _on_config_inited(app: Sphinx, config: Config) -> None:
    lab = LabConfig.from_dict(dict(config[CONFIG_NAME]))
    config._labhandbook = lab  # type: ignore[attr-defined]
    # Without a default colour mode the theme logs an error in every visitor's console.
    if "default_mode" not in config.html_context:
        config.html_context = {**config.html_context, "default_mode": "auto"}


def _decide_sources(app: Sphinx, config: Config) -> None:
    """Which .bib files and pages the build uses (see :mod:`labhandbook.sources`)."""
    from .sources import apply

    bib_files = config.bibtex_bibfiles
    if bib_files is None:
        bib_files = get_config(app).bib_files(Path(app.confdir))
    apply(app, config, list(bib_files))


def setup_config(app: Sphinx) -> None:
    app.add_config_value(CONFIG_NAME, {}, "env", types=frozenset({dict}))
    app.connect("config-inited", _on_config_inited)
    # After Sphinx has merged the source suffixes of extensions (800): pages are found as
    # Sphinx will find them.
    app.connect("config-inited", _decide_sources, priority=850)
    from .sources import setup_sources

    setup_sources(app)
