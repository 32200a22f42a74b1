"""The foundation: the extension loads, the real handbook builds cleanly, RTD config is sound."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from conftest import REPO

import labhandbook


@pytest.mark.sphinx("html", testroot="basic")
def test_extension_registers_and_builds_cleanly(app) -> None:
    app.build()
    assert "labhandbook" in app.extensions
    assert app.extensions["labhandbook"].parallel_read_safe
    assert app.extensions["labhandbook"].parallel_write_safe
    assert app.warning.getvalue() == ""
    assert (app.outdir / "index.html").exists()


@pytest.mark.sphinx("html", testroot="basic", confoverrides={"labhandbook": {"lab_nme": "x"}})
def test_unknown_setting_is_reported(make_app, app_params) -> None:
    from sphinx.errors import ConfigError

    args, kwargs = app_params
    with pytest.raises(ConfigError, match="unknown key.*lab_nme.*lab_name"):
        make_app(*args, **kwargs)


def test_real_handbook_builds_without_warnings(handbook) -> None:
    assert handbook.warnings == ""
    soup = handbook.soup("index.html")
    hrefs = {a.get("href") for a in soup.find_all("a")}
    for section in ("people/index.html", "research/index.html", "publications.html"):
        assert section in hrefs, f"index.html does not link to {section}"


def test_real_handbook_buttons_point_at_the_repository(handbook) -> None:
    page = handbook.html("people/index.html")
    assert "/edit/main/people/index.md" in page
    assert "/issues/new" in page


def test_readthedocs_config_points_at_existing_files() -> None:
    cfg = yaml.safe_load((REPO / ".readthedocs.yaml").read_text())
    assert cfg["version"] == 2
    assert cfg["build"]["os"] == "ubuntu-24.04"
    assert (REPO / cfg["sphinx"]["configuration"]).is_file()
    assert cfg["sphinx"]["fail_on_warning"] is True
    lock, install = cfg["python"]["install"]
    assert (REPO / lock["requirements"]).is_file()
    assert install == {"method": "pip", "path": "."}
    assert (REPO / install["path"] / "pyproject.toml").is_file()


def test_the_lock_pins_every_dependency_exactly() -> None:
    """requirements.lock pins what pyproject.toml asks for (make lock refreshes it): every
    line is ``name==version``, and every direct dependency is in it."""
    import tomllib
    from packaging.requirements import Requirement

    lines = [line for line in (REPO / "requirements.lock").read_text().splitlines()
             if line and not line.startswith("#")]
    pinned = {}
    for line in lines:
        name, sep, version = line.partition("==")
        assert sep and version, f"requirements.lock: {line!r} is not pinned exactly"
        pinned[name.casefold().replace("_", "-")] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *[d for extra in project["optional-dependencies"].values()
                                          for d in extra]]
    for spec in wanted:
        req = Requirement(spec)
        if req.name == "labhandbook":
            continue
        name = req.name.casefold().replace("_", "-")
        assert name in pinned, f"{req.name} is missing from requirements.lock: run make lock"
        assert req.specifier.contains(pinned[name]), \
            f"requirements.lock pins {req.name}=={pinned[name]}, outside {req.specifier}"


def test_the_package_version_is_the_project_version() -> None:
    """New labs pin the engine by this version (scaffold.DEFAULT_ENGINE); migrations name it."""
    import tomllib
    from packaging.version import Version

    from labhandbook.scaffold import DEFAULT_ENGINE
    from labhandbook.upgrade import MIGRATIONS

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert labhandbook.__version__ == version
    assert DEFAULT_ENGINE.endswith(f"@v{version}")
    assert all(Version(m.since) <= Version(version) for m in MIGRATIONS)


def test_console_script_version_and_help() -> None:
    run = [sys.executable, "-m", "labhandbook"]
    out = subprocess.run([*run, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"labhandbook {labhandbook.__version__}"
    out = subprocess.run([*run, "--help"], capture_output=True, text=True, check=True)
    assert "check" in out.stdout


FREEZE_PROBE = """
import atexit, gc, sys
from pathlib import Path
from sphinx.cmd.build import build_main
status = build_main(["-b", "html", "-q", "-W", "-d", sys.argv[2] + "/doctrees", sys.argv[1],
                     sys.argv[2] + "/html"])
assert status == 0, status
during = Path(sys.argv[2], "frozen-during-build").read_text()
after = gc.get_freeze_count()  # the build has finished: nothing may stay frozen
atexit._run_exitfuncs()
print(during, after, gc.get_freeze_count())
"""

RECORD_FREEZE = """
import gc
from pathlib import Path

def _record(app, env, docnames):
    Path(app.outdir).parent.joinpath("frozen-during-build").write_text(
        str(gc.get_freeze_count()))

def setup(app):
    app.connect("env-before-read-docs", _record, priority=900)
"""


def gc_probe(tmp_path, gc_freeze: bool, record: str, probe: str) -> str:
    """Build a copy of ``test-basic`` whose ``conf.py`` sets ``gc_freeze`` and adds ``record``
    (an extension noting the collector's state), in a new process running ``probe``; its
    output."""
    from conftest import ROOTS, copy_project

    src = copy_project(ROOTS / "test-basic", tmp_path / "src")
    conf = src / "conf.py"
    conf.write_text(conf.read_text() + f'labhandbook["gc_freeze"] = {gc_freeze}\n' + record)
    return subprocess.run([sys.executable, "-c", probe, str(src), str(tmp_path / "out")],
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("gc_freeze", [True, False])
def test_the_loaded_heap_is_frozen_during_the_build_and_at_exit_only(tmp_path,
                                                                   gc_freeze) -> None:
    """``gc_freeze`` (labhandbook.process): frozen once the environment is loaded, unfrozen
    when the build has finished (a long-lived process gets its collector back), frozen again
    by the exit hook; switched off, never frozen."""
    during, after, at_exit = map(int, gc_probe(tmp_path, gc_freeze, RECORD_FREEZE,
                                               FREEZE_PROBE).split()[-3:])
    assert after == 0
    if gc_freeze:
        assert during > 10_000 and at_exit > 10_000
    else:
        assert during == 0 and at_exit == 0


RECORD_PHASES = """
import gc, json
from pathlib import Path
_seen = {}

def _note(name):
    def note(app, *args):
        _seen.setdefault(name, [gc.get_freeze_count(), list(gc.get_threshold())])
        Path(app.outdir).parent.joinpath("gc-phases").write_text(json.dumps(_seen))
    return note

def setup(app):
    app.connect("env-before-read-docs", _note("read-start"), priority=900)
    app.connect("doctree-read", _note("reading"))
    app.connect("html-page-context", _note("writing"))
"""

PHASES_PROBE = """
import gc, json, sys
from sphinx.cmd.build import build_main
before = list(gc.get_threshold())
status = build_main(["-b", "html", "-q", "-W", "-d", sys.argv[2] + "/doctrees", sys.argv[1],
                     sys.argv[2] + "/html"])
assert status == 0, status
print(json.dumps([before, list(gc.get_threshold())]))
"""


@pytest.mark.parametrize("gc_freeze", [True, False])
def test_reading_makes_no_full_collection_and_writing_starts_frozen(tmp_path, gc_freeze) -> None:
    """``gc_freeze`` (labhandbook.process): while pages are read the collector makes young
    collections only (its third threshold held), and writing begins with what reading made
    frozen too; after the build the thresholds are what they were."""
    import json

    out = gc_probe(tmp_path, gc_freeze, RECORD_PHASES, PHASES_PROBE)
    before, after = json.loads(out.strip().splitlines()[-1])
    seen = json.loads((tmp_path / "out" / "gc-phases").read_text())
    assert after == before
    if gc_freeze:
        assert seen["reading"][1][2] > 10**6 and seen["reading"][1][:2] == before[:2]
        assert seen["writing"][1] == before
        assert seen["writing"][0] > seen["read-start"][0] > 0
    else:
        assert seen["reading"][1] == before and seen["writing"][1] == before
        assert seen["writing"][0] == 0
