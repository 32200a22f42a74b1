"""Benchmark the handbook's build against plain Sphinx (the floor) and the naive design.

``make bench SCALE=lab`` runs ``python benchmarks/run.py --scale lab``: it generates the same
synthetic lab in three variants (see ``synthlab.py``), builds each with sphinx-build in a child
process, and for every variant measures a clean build, a no-change rebuild, a rebuild after a
one-word edit, after adding one BibTeX entry and after changing one person's ``areas``, plus
the peak resident memory. It prints medians over ``--runs`` runs, the ratios handbook/floor and
naive/handbook, and writes them to ``_build/bench/<scale>.json``.

``--parallel`` also builds the handbook with ``-j 1`` and ``-j auto`` into two folders and
compares the HTML byte for byte. ``--profile`` profiles one clean and one incremental handbook
build with pyinstrument (install it into .venv yourself; it is not a dependency).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthlab  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "bench"
PYTHON = sys.executable
FIGURES = ("clean_s", "noop_s", "edit_s", "bib_add_s", "areas_edit_s", "peak_mib")
STEPS = ("clean", "noop", "edit", "bib_add", "areas_edit")
READ_RE = re.compile(r"^reading sources\.\.\. \[\s*\d+%\] (\S+)", re.MULTILINE)
WRITE_RE = re.compile(r"^writing output\.\.\. \[\s*\d+%\] (\S+)", re.MULTILINE)
UPDATED_RE = re.compile(r"updating environment: (?:\[[^\]]*\] )?(\d+) added, (\d+) changed")
PROBLEM_RE = re.compile(r"^.*(?:WARNING|ERROR|CRITICAL|Exception|Error):.*$", re.MULTILINE)
# What the targets of issue #8 ask for, as ratios of the same run.
TARGETS = {"clean_s": 1.3, "noop_s": 1.5, "edit_s": 1.5, "peak_mib": 1.5}
#: Optional variants (``--only``), reported as extra columns and ratios of the handbook to them.
EXTRAS = ("floor-papers", "floor-gcfreeze")


class VariantFailed(Exception):
    pass


@dataclass
class Build:
    seconds: float
    cpu_seconds: float  #: user + system time of the build and its workers
    peak_mib: float
    returncode: int
    read: list[str]
    written: list[str]
    log: str
    html_touched: int = 0

    @property
    def problems(self) -> list[str]:
        return [re.sub(r"^[a-z ]+\.\.\. ", "", line) for line in PROBLEM_RE.findall(self.log)]

    def summary(self, src: Path) -> str:
        """The problems grouped by kind (the trailing ``[type]``): one example and a count."""
        kinds: dict[str, list[str]] = {}
        for line in self.problems:
            line = line.replace(f"{src}/", "")
            kind = re.search(r"\[([\w.-]+)\]$", line)
            kinds.setdefault(kind.group(1) if kind else line, []).append(line)
        if not kinds:
            return " | ".join(self.log.strip().splitlines()[-5:])
        return " | ".join(f"{lines[0]}" + (f" (x{len(lines)})" if len(lines) > 1 else "")
                          for lines in list(kinds.values())[:6])


def sphinx_build(src: Path, out: Path, doctrees: Path, log: Path, *, jobs: str = "1",
                 strict: bool = True) -> Build:
    """One sphinx-build in a child process: wall time and the child's peak RSS (wait4)."""
    # No -q: the per-document "reading sources... [ n%] doc" lines are what we count.
    cmd = [PYTHON, "-m", "sphinx", "-b", "html", "-d", str(doctrees), "-N", "-j", jobs]
    if strict:
        cmd += ["-W", "--keep-going", "-n"]
    cmd += [str(src), str(out)]
    env = dict(os.environ, SOURCE_DATE_EPOCH="1735689600", PYTHONHASHSEED="0")
    log.parent.mkdir(parents=True, exist_ok=True)
    wall_start = time.time()
    with log.open("w", encoding="utf-8") as fh:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=src, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(encoding="utf-8", errors="replace")
    # ru_maxrss is in KiB on Linux; wait4 folds in the child's own children (-j workers).
    cpu = usage.ru_utime + usage.ru_stime
    # Every HTML file written, including pages an extension renders without a source document
    # (sphinx-build does not list those): files modified since the build started.
    touched = sum(1 for p in out.rglob("*.html") if p.stat().st_mtime >= wall_start - 0.01)
    return Build(seconds, cpu, usage.ru_maxrss / 1024, proc.returncode, READ_RE.findall(text),
                 WRITE_RE.findall(text), text, touched)


# --- one run of one variant ---------------------------------------------------------------------


@dataclass
class Step:
    seconds: float
    cpu_seconds: float
    peak_mib: float
    read: int
    written: int
    changed: list[str]
    read_docs: list[str] = field(default_factory=list)
    html_touched: int = 0
    html_mib: float = 0.0  #: size of the HTML pages after the clean build
    search_index_s: float | None = None  #: Pagefind's run in the build (labhandbook.search)
    search_cpu_s: float = 0.0  #: Pagefind's CPU time in this step (0 when it did not run)


def run_variant(variant: str, base: synthlab.Lab, folder: Path, strict: bool) -> dict[str, Step]:
    """Clean build, then the no-change rebuild and the three edits, one after the other."""
    return dict(variant_steps(variant, base, folder, strict))


def interleaved(variants: list[str], lab: synthlab.Lab, base: Path, strict: bool,
                first: int = 0) -> Iterator[tuple[str, dict[str, Step] | VariantFailed]]:
    """One run of every variant, step by step: each variant's clean build, then each one's
    no-change build, and so on, starting with ``variants[first]``. Variants compared by a
    ratio thus build the same step within seconds of each other, under the same load of a
    shared machine (one variant's five steps after the other's put minutes between them).
    Yields each variant's steps when it is done, or the failure that stopped it."""
    order = variants[first:] + variants[:first]
    runs = {v: variant_steps(v, lab, base / v, strict) for v in order}
    done: dict[str, dict[str, Step]] = {v: {} for v in order}
    while runs:
        for v in list(runs):
            try:
                step, result = next(runs[v])
            except StopIteration:
                del runs[v]
                yield v, done[v]
            except VariantFailed as err:
                del runs[v]
                yield v, err
            else:
                done[v][step] = result


def variant_steps(variant: str, base: synthlab.Lab, folder: Path,
                  strict: bool) -> Iterator[tuple[str, Step]]:
    """:func:`run_variant` one step at a time (for :func:`interleaved`)."""
    src, html, doctrees, logs = (folder / "src", folder / "html", folder / "doctrees",
                                 folder / "logs")
    synthlab.write(base, variant, src)  # restores whatever the previous run edited
    for path in (html, doctrees):
        shutil.rmtree(path, ignore_errors=True)
    lab = base
    edits = {"clean": None, "noop": None, "edit": "edit_word", "bib_add": "add_entry",
             "areas_edit": "edit_areas"}
    for step, edit in edits.items():
        changed: list[str] = []
        if edit:
            lab, _ = getattr(lab, edit)()
            changed = synthlab.write(lab, variant, src)
        searched = search_state(doctrees)
        b = sphinx_build(src, html, doctrees, logs / f"{step}.log", strict=strict)
        if b.returncode != 0:
            log = (logs / f"{step}.log").relative_to(ROOT)
            raise VariantFailed(f"{step} build exited with {b.returncode}: {b.summary(src)} "
                                f"(log: {log})")
        done = Step(b.seconds, b.cpu_seconds, b.peak_mib, len(b.read), len(b.written),
                    changed, b.read, b.html_touched)
        after = search_state(doctrees)
        # Pagefind's runs in this build: the indexes whose record changed
        done.search_cpu_s = sum(float(after[name].get("cpu_seconds") or 0.0)
                                for name in after if after[name] != searched.get(name))
        if step == "clean":
            done.html_mib = sum(p.stat().st_size for p in html.rglob("*.html")) / 2**20
            done.search_index_s = search_index_seconds(doctrees)
        yield step, done


def search_index_seconds(doctrees: Path) -> float | None:
    """How long Pagefind indexed the site in the last build (labhandbook.search records each
    index's run; their sum)."""
    try:
        return sum(float(run["seconds"]) for run in search_state(doctrees).values()) or None
    except (KeyError, ValueError, TypeError):
        return None


def search_state(doctrees: Path) -> dict[str, dict]:
    """What labhandbook.search recorded of the last Pagefind run of each index (digest,
    seconds, CPU) and when: an index whose record a build leaves unchanged was not run."""
    from labhandbook.search import PARTS

    state = {}
    for part in PARTS:
        path = doctrees / part.state
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            state[part.name] = {**data, "mtime_ns": path.stat().st_mtime_ns}
    return state


def search_queries(lab: synthlab.Lab, n: int = 2) -> list[str]:
    """Queries a reader types: names (also without accents), an area title, paper titles, an
    author's family name with a year, an acronym."""
    people = [p for p in lab.people if p.name != synthlab.ascii_fold(p.name)][:n] or lab.people[:n]
    queries = [p.name for p in people] + [synthlab.ascii_fold(p.name) for p in people]
    queries += [a.title for a in lab.areas[:n]]
    titles = [e.title.replace("{", "").replace("}", "") for e in lab.entries]
    unique = [t for t in titles if titles.count(t) == 1]
    queries += unique[:n]
    queries += [f"{e.authors[0].family.split()[-1]} {e.year}" for e in lab.entries[:n]]
    acronyms = [m.group(1) for t in unique if (m := re.match(r"([A-Za-z]+): ", t))]
    queries += acronyms[:1]
    return list(dict.fromkeys(queries))


def search_figures(lab: synthlab.Lab, html: Path, compare: bool) -> dict:
    """Bytes and latency of first queries in chromium (benchmarks/searchprobe.py); with
    ``compare``, the same queries on Sphinx's own index fed with the paper pages."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return {"status": "skipped", "error": "Playwright is not installed (make venv)"}
    if not Path("/usr/bin/chromium").exists():
        return {"status": "skipped", "error": "chromium is not installed"}
    import searchprobe

    queries = search_queries(lab)
    out: dict = {"status": "ok", "queries": queries,
                 "pagefind_size": searchprobe.pagefind_size(html),
                 "pagefind": searchprobe.probe_pagefind(html, queries)}
    pf = out["pagefind"].values()
    out["bytes_median"] = median([q["bytes"] for q in pf])
    out["bytes_max"] = max(q["bytes"] for q in pf)
    out["typed_ms_median"] = median([q["typed_to_results_ms"] for q in pf])
    out["open_ms_median"] = median([q["open_to_results_ms"] for q in pf])
    if compare:
        fed = html.parent / "searchindex-with-papers.js"
        out["sphinx_fed"] = searchprobe.sphinx_index_with_papers(html, fed)
        out["sphinx"] = searchprobe.probe_sphinx(html, fed, queries)
        out["sphinx_open_ms_median"] = median([q["open_to_results_ms"]
                                               for q in out["sphinx"].values()])
    return out


# --- the whole benchmark --------------------------------------------------------------------------


def code_digest() -> str:
    """A fingerprint of the extension's code: the figures of one run must come from one version
    (in a shared working tree the extension may change while the benchmark runs)."""
    h = hashlib.blake2b(digest_size=8)
    for path in sorted((ROOT / "labhandbook").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summarize(runs: list[dict[str, Step]]) -> dict:
    out: dict = {}
    for step in STEPS:
        out[f"{step}_s"] = median([r[step].seconds for r in runs])
    out["peak_mib"] = median([max(s.peak_mib for s in r.values()) for r in runs])
    # CPU time (user + system) is far less sensitive than wall time to other load on the machine.
    out["cpu_s"] = {step: median([r[step].cpu_seconds for r in runs]) for step in STEPS}
    out["search_cpu_s"] = {step: median([r[step].search_cpu_s for r in runs]) for step in STEPS}
    last = runs[-1]
    out["html_mib"] = round(last["clean"].html_mib, 2)
    indexing = [r["clean"].search_index_s for r in runs if r["clean"].search_index_s is not None]
    if indexing:
        out["search_index_s"] = median(indexing)
    out["pages"] = {step: {"read": last[step].read, "written": last[step].written,
                           "html_files_written": last[step].html_touched,
                           "files_changed": len(last[step].changed)} for step in STEPS}
    out["reread_docs"] = {step: last[step].read_docs for step in ("edit", "bib_add",
                                                                  "areas_edit")}
    out["runs"] = {f"{step}_s": [round(r[step].seconds, 3) for r in runs] for step in STEPS}
    out["runs"]["peak_mib"] = [round(max(s.peak_mib for s in r.values()), 1) for r in runs]
    return out


def empty(status: str, error: str | None = None) -> dict:
    d: dict = {k: None for k in FIGURES}
    d["status"] = status
    if error:
        d["error"] = error
    return d


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def expected_pages(lab: synthlab.Lab) -> dict[str, int]:
    """How many pages show each edit: the pages the floor variant has to change."""
    out = {}
    current = lab
    for step, edit in (("edit", "edit_word"), ("bib_add", "add_entry"),
                       ("areas_edit", "edit_areas")):
        new, _ = getattr(current, edit)()
        before, after = synthlab.render(current, "floor"), synthlab.render(new, "floor")
        out[step] = sum(1 for k in after if after[k] != before.get(k) and k.endswith(".md"))
        current = new
    return out


def parallel_check(lab: synthlab.Lab, base: Path, runs: int, strict: bool) -> dict:
    """Build the handbook with -j 1 and -j auto; compare every HTML file byte for byte."""
    folder = base / "parallel"
    src = folder / "src"
    synthlab.write(lab, "handbook", src)
    times: dict[str, list[float]] = {"1": [], "auto": []}
    peaks: dict[str, list[float]] = {"1": [], "auto": []}
    for _ in range(max(1, runs)):
        for jobs in ("1", "auto"):
            html, doctrees = folder / f"html-j{jobs}", folder / f"doctrees-j{jobs}"
            shutil.rmtree(html, ignore_errors=True)
            shutil.rmtree(doctrees, ignore_errors=True)
            b = sphinx_build(src, html, doctrees, folder / f"j{jobs}.log", jobs=jobs,
                             strict=strict)
            if b.returncode != 0:
                return {"status": "failed",
                        "error": f"-j {jobs} exited with {b.returncode}: {b.summary(src)}"}
            times[jobs].append(b.seconds)
            peaks[jobs].append(b.peak_mib)
    one, auto = folder / "html-j1", folder / "html-jauto"
    names = sorted({p.relative_to(one).as_posix() for p in one.rglob("*") if p.is_file()}
                   | {p.relative_to(auto).as_posix() for p in auto.rglob("*") if p.is_file()})
    html_diff, other_diff, details = [], [], []
    for name in names:
        a, b = one / name, auto / name
        if a.is_file() and b.is_file() and a.read_bytes() == b.read_bytes():
            continue
        (html_diff if name.endswith(".html") else other_diff).append(name)
        if name.endswith(".html") and len(details) < 5 and a.is_file() and b.is_file():
            diff = difflib.unified_diff(a.read_text(errors="replace").splitlines(),
                                        b.read_text(errors="replace").splitlines(),
                                        f"j1/{name}", f"jauto/{name}", n=0, lineterm="")
            details.append("\n".join(list(diff)[:12]))
    n_html = sum(1 for n in names if n.endswith(".html"))
    return {"status": "ok", "j1_s": median(times["1"]), "jauto_s": median(times["auto"]),
            "j1_peak_mib": median(peaks["1"]), "jauto_peak_mib": median(peaks["auto"]),
            "html_files": n_html, "html_identical": not html_diff, "html_differences": html_diff,
            "other_differences": other_diff, "diff_excerpts": details,
            "runs": {"j1_s": [round(t, 3) for t in times["1"]],
                     "jauto_s": [round(t, 3) for t in times["auto"]]}}


PROFILE_STEPS = (("clean", None), ("noop", None), ("edit", "edit_word"),
                 ("bib_add", "add_entry"), ("areas_edit", "edit_areas"))


def _package(filename: str) -> str:
    """A readable owner of a source file: labhandbook module, sphinx subpackage, library."""
    path = filename.replace("\\", "/")
    if "/labhandbook/" in path:
        return "labhandbook." + path.rsplit("/", 1)[-1].removesuffix(".py")
    if "site-packages/" in path:
        parts = path.split("site-packages/", 1)[1].split("/")
        if parts[0] in ("sphinx", "docutils", "sphinxcontrib") and len(parts) > 2:
            return f"{parts[0]}.{parts[1]}"
        return parts[0].removesuffix(".py")
    if path.startswith("<") or path == "~":
        return "builtins"
    match = re.search(r"/python3\.\d+/(.+?)(?:/__init__)?\.py$", path)
    return "stdlib." + (match.group(1).split("/")[0] if match else path.rsplit("/", 1)[-1])


def profile_summary(pstats_file: Path, seconds: float, top: int = 12) -> dict:
    """Self time per package and the slowest labhandbook functions (inclusive)."""
    import pstats

    stats = pstats.Stats(str(pstats_file)).stats  # type: ignore[attr-defined]
    by_package: dict[str, float] = {}
    ours: list[tuple[float, str]] = []
    for (filename, _line, func), (_, _, tottime, cumtime, _) in stats.items():
        pkg = _package(filename)
        by_package[pkg] = by_package.get(pkg, 0.0) + tottime
        if pkg.startswith("labhandbook."):
            ours.append((cumtime, f"{pkg}:{func}"))
    ours.sort(reverse=True)
    seen: dict[str, float] = {}
    for cum, name in ours:
        seen.setdefault(name, cum)
    return {
        "total_s": round(seconds, 2),  # wall time under the profiler
        "self_by_package": {k: round(v, 2) for k, v in sorted(
            by_package.items(), key=lambda kv: -kv[1])[:top]},
        "labhandbook_inclusive": {k: round(v, 2) for k, v in list(seen.items())[:top]},
    }


def profile(lab: synthlab.Lab, base: Path, strict: bool) -> dict:
    """Each step of the handbook's benchmark under pyinstrument (a sampling profiler).

    Writes ``<step>.txt`` (call tree) and ``<step>.pstats`` into _build/bench/<scale>/profile/.
    """
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        return {"status": "skipped", "error": "pyinstrument is not installed: "
                ".venv/bin/pip install pyinstrument (not a dependency of the handbook)"}
    folder = base / "profile"
    src, html, doctrees = folder / "src", folder / "html", folder / "doctrees"
    synthlab.write(lab, "handbook", src)
    shutil.rmtree(html, ignore_errors=True)
    shutil.rmtree(doctrees, ignore_errors=True)
    out: dict = {"status": "ok"}
    pyinst = [PYTHON, "-m", "pyinstrument"]
    for step, edit in PROFILE_STEPS:
        if edit:
            lab, _ = getattr(lab, edit)()
            synthlab.write(lab, "handbook", src)
        session = folder / f"{step}.pyisession"
        cmd = [*pyinst, "-o", str(session), "-m", "sphinx", "-b", "html", "-d", str(doctrees),
               "-N", "-q", str(src), str(html)]
        start = time.perf_counter()
        r = subprocess.run(cmd, cwd=src, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if r.returncode != 0:
            return {"status": "failed", "error": (r.stderr or r.stdout)[-2000:]}
        for renderer, ext in (("text", "txt"), ("pstats", "pstats")):
            subprocess.run([*pyinst, "--load", str(session), "-r", renderer,
                            "-o", str(folder / f"{step}.{ext}")], check=True)
        out[step] = profile_summary(folder / f"{step}.pstats", seconds)
        out[step]["tree"] = str((folder / f"{step}.txt").relative_to(ROOT))
    return out


def print_profile(prof: dict) -> None:
    if prof.get("status") != "ok":
        print(f"profile: {prof.get('status')}: {prof.get('error')}")
        return
    for step, _ in PROFILE_STEPS:
        p = prof[step]
        print(f"\nprofile of the handbook's {step} build: {p['total_s']}s ({p['tree']})")
        print("  self time by package: " + ", ".join(
            f"{k} {v}" for k, v in list(p["self_by_package"].items())[:10]))
        print("  labhandbook (inclusive): " + ", ".join(
            f"{k} {v}" for k, v in list(p["labhandbook_inclusive"].items())[:8]))


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def preview_figures(lab: synthlab.Lab, folder: Path, runs: int) -> tuple[dict, dict]:
    """Save-to-reload of the two previews and the page weight, on the handbook's last build
    (``preview.py``)."""
    import preview

    from labhandbook.papers import PAPERS_DIR

    authored = {m for e in lab.entries for m in e.members}
    person = next(p for p in lab.people if p.slug in authored)
    spelling = person.bib_names[0] if person.bib_names else f"{person.family}, {person.given}"
    entry = next(e for e in lab.entries if person.slug in e.members)
    print(f"preview: save-to-reload on people/{person.slug}.md ({runs} runs per edit)...",
          flush=True)
    reload = preview.save_to_reload(folder / "src", folder / "html", folder / "doctrees",
                                    person.slug, spelling, runs)
    pages = {"home": "index.html", "person": f"people/{person.slug}.html",
             "publications": "publications.html", "paper": f"{PAPERS_DIR}/{entry.key}.html"}
    return reload, preview.page_weight(folder / "html", pages)


def preview_report(result: dict) -> list[str]:
    """Save-to-reload beside ``make html``, and the page weight."""
    rel, weight, hb = result.get("preview"), result.get("weight"), result["handbook"]
    if not rel:
        return []
    lines = ["", "Save to reloaded page (seconds, median; a headless chromium shows the person "
             "page and waits for the edit; `make html` is the handbook's build of the same "
             "kind of edit, without a browser); load average "
             f"{result['scale'].get('load_during_preview')} on {result['scale']['cpus']} CPUs:",
             "",
             "| edit | labhandbook serve | sphinx-autobuild | make html (build only) "
             "| serve build CPU | make html CPU |",
             "| --- | --: | --: | --: | --: | --: |"]
    own, auto = rel.get("labhandbook serve", {}), rel.get("sphinx-autobuild", {})
    for kind, label, build in (("prose", "one sentence of a person page", "edit_s"),
                               ("bib", "a new .bib entry", "bib_add_s")):
        step = build.removesuffix("_s")
        lines.append(f"| {label} | {_num(own.get(f'{kind}_s'))} | {_num(auto.get(f'{kind}_s'))}"
                     f" | {_num(hb.get(build))} | {_num(own.get(f'{kind}_cpu_s'))} | "
                     f"{_num((hb.get('cpu_s') or {}).get(step))} |")
    for name, fig in (("labhandbook serve", own), ("sphinx-autobuild", auto)):
        if fig.get("status") != "ok":
            lines.append(f"\n- **{name} {fig.get('status')}**: {fig.get('error')}")
    if weight and weight.get("status") == "ok":
        lines += ["", "Page weight, first view served with gzip (budget "
                  f"{weight['budget_bytes']:,} bytes, {weight['budget_requests']} requests):", "",
                  "| page | bytes | requests | heaviest |", "| --- | --: | --: | --- |"]
        for kind, w in weight["pages"].items():
            lines.append(f"| {kind} (`{w['page']}`) | {w['bytes']:,} | {w['requests']} | "
                         f"{w['heaviest']} |")
    return lines


def report(result: dict) -> str:
    """The results as Markdown tables (printed, and saved next to the JSON)."""
    s = result["scale"]
    extra = tuple(v for v in EXTRAS if v in result)
    cols = ("handbook", "floor", "naive", *extra)
    hb = result["handbook"]
    lines = [f"### {s['name']}: {s['people']} people, {s['areas']} areas, {s['entries']} BibTeX "
             f"entries ({s['pages']} source pages); medians of {s['runs']} runs",
             "",
             f"Measured {s['date']} at commit {s['commit']}"
             + (" + uncommitted labhandbook changes" if s.get("labhandbook_uncommitted_changes")
                else "") + f", Sphinx {s['sphinx']}, Python {s['python']}, {s['cpus']} CPUs."
             + (" Variants interleaved step by step; load average after each run: "
                + ", ".join(map(str, s["load_after_each_run"])) + "."
                if s.get("load_after_each_run") else "")
             + (" **labhandbook/ changed during the run: the figures mix versions.**"
                if s.get("labhandbook_changed_during_run") else ""),
             "",
             "| figure | " + " | ".join(cols) + " | handbook/floor | naive/handbook"
             + "".join(f" | handbook/{e}" for e in extra) + " | target |",
             "| --- |" + " --: |" * (len(cols) + 2 + len(extra)) + " --- |"]
    for k in (*FIGURES, "html_mib"):
        vals = [result[c].get(k) for c in cols]
        hf, nh = ratio(vals[0], vals[1]), ratio(vals[2], vals[0])
        target = TARGETS.get(k)
        mark = f"≤ {target}× floor: {'ok' if hf <= target else '**MISS**'}" \
            if target and hf is not None else ""
        hp = "".join(f" | {_num(ratio(vals[0], v))}" for v in vals[3:])
        lines.append(f"| {k} | " + " | ".join(_num(v) for v in vals)
                     + f" | {_num(hf)} | {_num(nh)}{hp} | {mark} |")
    lines += ["", "CPU time (user + system, seconds; insensitive to other load on the machine;"
              " `Pagefind` is the handbook's search indexing, part of its figure, which the "
              "floor does not have):",
              "", "| step | " + " | ".join(cols) + " | handbook/floor | naive/handbook"
              + "".join(f" | handbook/{e}" for e in extra)
              + " | Pagefind | (handbook − Pagefind)/floor | target |",
              "| --- |" + " --: |" * (len(cols) + 4 + len(extra)) + " --- |"]
    for step in STEPS:
        vals = [(result[c].get("cpu_s") or {}).get(step) for c in cols]
        hf = ratio(vals[0], vals[1])
        pagefind = (hb.get("search_cpu_s") or {}).get(step)
        bare = (ratio(vals[0] - pagefind, vals[1])
                if vals[0] is not None and pagefind is not None else None)
        target = TARGETS.get(f"{step}_s")
        mark = f"≤ {target}× floor: {'ok' if hf <= target else '**MISS**'}" \
            if target and hf is not None else ""
        lines.append(f"| {step} | " + " | ".join(_num(v) for v in vals)
                     + f" | {_num(hf)} | {_num(ratio(vals[2], vals[0]))}"
                     + "".join(f" | {_num(ratio(vals[0], v))}" for v in vals[3:])
                     + f" | {_num(pagefind)} | {_num(bare)} | {mark} |")
    exp = s["expected_pages"]
    lines += ["", "Pages re-read / written by sphinx-build (HTML files written, incl. pages "
              "without a source) in the last run:", "",
              "| step | " + " | ".join(cols) + " | pages that show the change |",
              "| --- |" + " --: |" * (len(cols) + 1)]
    for step in STEPS:
        cells = []
        for c in cols:
            p = (result[c].get("pages") or {}).get(step)
            cells.append(f"{p['read']} / {p['written']} ({p['html_files_written']})" if p
                         else "–")
        shown = s["pages"] if step == "clean" else exp.get(step, 0)
        lines.append(f"| {step} | " + " | ".join(cells) + f" | {shown} |")
    notes = []
    for c in cols:
        if result[c].get("status") == "failed":
            notes.append(f"**{c} FAILED**: {result[c].get('error')}")
    if hb.get("status") == "ok":
        shown, read = exp["bib_add"], hb["pages"]["bib_add"]["read"]
        notes.append(f"Adding one .bib entry: the handbook re-read {read} pages, {shown} show the "
                     f"entry: {'ok' if read <= shown else '**MISS**'} "
                     f"({', '.join(hb['reread_docs']['bib_add'][:12])}).")
        notes.append(f"Changing one person's areas re-read: "
                     f"{', '.join(hb['reread_docs']['areas_edit'][:20])}.")
    search = hb.get("search") or {}
    if hb.get("search_index_s") is not None and hb.get("clean_s"):
        share = hb["search_index_s"] / hb["clean_s"]
        notes.append(f"Search index (Pagefind, in the handbook's clean build): "
                     f"{hb['search_index_s']:.2f}s = {share:.0%} of the clean build "
                     f"(target ≤ 15%: {'ok' if share <= 0.15 else '**MISS**'}).")
    if search.get("status") == "ok":
        size = search["pagefind_size"]
        notes.append(
            f"Search, first query in a fresh browser ({len(search['queries'])} queries): "
            f"{search['bytes_median'] / 1024:.0f} KiB median, {search['bytes_max'] / 1024:.0f} "
            f"KiB max compressed (target ≤ 300 KB: "
            f"{'ok' if search['bytes_max'] <= 300 * 1024 else '**MISS**'}); results "
            f"{search['typed_ms_median']:.0f} ms after the last keystroke (median; target "
            f"≤ 300 ms), {search['open_ms_median']:.0f} ms from opening search.html?q=; index "
            f"{size['index_bytes'] / 2**20:.1f} MiB on disk in {size['files']} files.")
        if "sphinx_fed" in search:
            fed = search["sphinx_fed"]
            notes.append(
                f"Sphinx's own index fed with the {fed['papers_fed']} paper pages: "
                f"{fed['bytes'] / 2**20:.2f} MiB ({fed['gzip_bytes'] / 1024:.0f} KiB gzip) "
                f"downloaded whole by every first query; results "
                f"{search['sphinx_open_ms_median']:.0f} ms from opening search.html?q=.")
    elif search:
        notes.append(f"Search figures {search.get('status')}: {search.get('error')}")
    par = hb.get("parallel")
    if par and par.get("status") != "ok":
        notes.append(f"Parallel check {par.get('status')}: {par.get('error')}")
    elif par:
        same = "identical" if par["html_identical"] else \
            f"**{len(par['html_differences'])} differ**: {', '.join(par['html_differences'][:10])}"
        slower = par["jauto_s"] > par["j1_s"] * 1.02
        notes.append(f"Parallel: clean build -j 1 {par['j1_s']:.2f}s, -j auto "
                     f"{par['jauto_s']:.2f}s ({'**slower**' if slower else 'not slower'}); "
                     f"{par['html_files']} HTML files {same}."
                     + (f" Other files that differ: {', '.join(par['other_differences'][:8])}."
                        if par["other_differences"] else ""))
        for d in par["diff_excerpts"]:
            notes.append("```diff\n" + d + "\n```")
    if notes:
        lines += [""] + [f"- {n}" if not n.startswith("```") else n for n in notes]
    lines += preview_report(result)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small",
                        help="small (3/4/40), lab (50/8/1000), dept (200/15/5000) or N/A/M")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs per variant (median); 0 with --parallel or --profile runs "
                             "only those")
    parser.add_argument("--only", default="handbook,floor,naive,floor-gcfreeze",
                        help="comma-separated variants: handbook, floor, naive, "
                             "floor-gcfreeze (the floor with the handbook's gc.freeze; these four "
                             "by default) and floor-papers (the floor plus one page per "
                             "BibTeX entry)")
    parser.add_argument("--seed", type=int, default=synthlab.DEFAULT_SEED)
    parser.add_argument("--parallel", action="store_true",
                        help="also compare the handbook built with -j 1 and -j auto")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the handbook with pyinstrument")
    parser.add_argument("--no-preview", action="store_true",
                        help="skip save-to-reload (labhandbook serve vs sphinx-autobuild) and "
                             "page weight")
    parser.add_argument("--no-search", action="store_true",
                        help="skip the search figures (bytes and latency of first queries in "
                             "chromium)")
    parser.add_argument("--search-compare", action="store_true",
                        help="also measure Sphinx's own index fed with the paper pages")
    parser.add_argument("--lenient", action="store_true",
                        help="do not treat warnings as errors (drop -W --keep-going -n)")
    args = parser.parse_args(argv)
    only = [v.strip() for v in args.only.split(",") if v.strip()]
    for v in only:
        if v not in synthlab.VARIANTS:
            parser.error(f"unknown variant {v!r}: use {', '.join(synthlab.VARIANTS)}")
    n, a, m = synthlab.scale_sizes(args.scale)
    name = args.scale.replace("/", "-")
    base = OUT / name
    lab = synthlab.generate(n, a, m, seed=args.seed)
    strict = not args.lenient
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or None
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "labhandbook"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip())
    import sphinx

    result: dict = {
        "scale": {"name": name, "people": n, "areas": a, "entries": m, "pages": lab.page_count,
                  "seed": args.seed, "runs": args.runs, "expected_pages": expected_pages(lab),
                  "commit": commit, "labhandbook_uncommitted_changes": dirty,
                  "labhandbook_digest": code_digest(),
                  "python": platform.python_version(),
                  "sphinx": sphinx.__version__, "cpus": os.cpu_count(),
                  "date": time.strftime("%Y-%m-%d %H:%M")},
    }
    runs: dict[str, list[dict[str, Step]]] = {v: [] for v in only}
    failed: dict[str, str] = {}
    loads: list[float] = []  # the 1-minute load average at the end of each run
    for r in range(args.runs):
        t0 = time.perf_counter()
        # step by step, and each run starts with another variant (see interleaved)
        active = [v for v in only if v not in failed]
        for v, got in interleaved(active, lab, base, strict, first=r % max(1, len(active))):
            if isinstance(got, VariantFailed):
                failed[v] = str(got)
                print(f"[run {r + 1}/{args.runs}] {v}: FAILED — {got}", flush=True)
                continue
            runs[v].append(got)
            print(f"[run {r + 1}/{args.runs}] {v}: "
                  + ", ".join(f"{s} {got[s].seconds:.2f}s ({got[s].cpu_seconds:.2f}s CPU)"
                              for s in STEPS)
                  + f", peak {max(s.peak_mib for s in got.values()):.0f} MiB"
                  + f" (run: {time.perf_counter() - t0:.0f}s, load {os.getloadavg()[0]:.1f})",
                  flush=True)
        loads.append(round(os.getloadavg()[0], 1))
    result["scale"]["load_after_each_run"] = loads
    if code_digest() != result["scale"]["labhandbook_digest"]:
        result["scale"]["labhandbook_changed_during_run"] = True
        print("!! labhandbook/ changed while the benchmark ran: the figures mix versions",
              flush=True)
    for v in synthlab.VARIANTS:
        if v not in only:
            if v not in EXTRAS:
                result[v] = empty("skipped")
        elif v in failed:
            result[v] = empty("failed", failed[v])
        elif not runs[v]:  # --runs 0: only --parallel and/or --profile
            result[v] = empty("skipped")
        else:
            result[v] = {"status": "ok", **summarize(runs[v])}
    hb, fl, nv = result["handbook"], result["floor"], result["naive"]
    hb["ratio_to_floor"] = {k: ratio(hb.get(k), fl.get(k)) for k in FIGURES}
    for extra in EXTRAS:
        if extra in result:
            hb[f"ratio_to_{extra.replace('-', '_')}"] = {
                k: ratio(hb.get(k), result[extra].get(k)) for k in FIGURES}
    nv["ratio_to_handbook"] = {k: ratio(nv.get(k), hb.get(k)) for k in FIGURES}
    for d, other, key in ((hb, fl, "cpu_ratio_to_floor"), (nv, hb, "cpu_ratio_to_handbook")):
        mine, theirs = d.get("cpu_s") or {}, other.get("cpu_s") or {}
        d[key] = {f"{s}_s": ratio(mine.get(s), theirs.get(s)) for s in STEPS}
    if hb.get("status") == "ok" and not args.no_preview:
        result["preview"], result["weight"] = preview_figures(lab, base / "handbook",
                                                              max(1, min(args.runs, 3)))
        result["scale"]["load_during_preview"] = round(os.getloadavg()[0], 1)
    if hb.get("status") == "ok" and not args.no_search:
        hb["search"] = search_figures(lab, base / "handbook" / "html", args.search_compare)
    if args.parallel:
        hb["parallel"] = parallel_check(lab, base, args.runs, strict)
    if args.profile:
        hb["profile"] = profile(lab, base, strict)
    OUT.mkdir(parents=True, exist_ok=True)
    # --runs 0 (only --parallel/--profile) must not overwrite the figures of a full run.
    stem = name if args.runs else f"{name}.extra"
    target = OUT / f"{stem}.json"
    target.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    text = report(result)
    (OUT / f"{stem}.md").write_text(text, encoding="utf-8")
    print()
    print(text)
    if args.profile:
        print_profile(hb["profile"])
    print(f"\nwrote {target.relative_to(ROOT)} and {stem}.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
