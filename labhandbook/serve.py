"""``labhandbook serve``: a live preview that keeps the build warm between saves.

``make livehtml`` with sphinx-autobuild starts a new ``sphinx-build`` for every save: Python
starts, imports Sphinx, docutils, MyST, pybtex and the theme, and loads the pickled environment
before one page is rendered. Here one process does all of that once:

* **Builds** use Sphinx's documented application API: one :class:`~sphinx.application.Sphinx`
  per build (``Sphinx(...).build()``, exactly what ``sphinx-build`` runs, with the same
  settings as ``make html``: same output and doctree folders, ``-n``), in this process, so
  imports, templates and the theme are loaded once. The output is what ``make html`` writes.
* **Saves** are noticed by polling the sources' modification times (standard library only;
  a few hundred files stat in about a millisecond).
* **The browser reloads itself**: pages are served with a small script added on the fly (the
  files on disk are untouched) that listens to ``/__labhandbook__/events`` (server-sent events)
  and reloads when a build succeeded, or shows the build's errors over the page, with file and
  line, when it failed. The next good build removes them; the server never stops on an error.
* It listens on 127.0.0.1 only, and serves text compressed with gzip as Read the Docs does.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import io
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PREFIX = "/__labhandbook__/"
EVENTS = PREFIX + "events"
CLIENT = PREFIX + "reload.js"
#: Folders never watched: build output, environments, tool caches, version control.
IGNORED_DIRS = frozenset({"_build", ".venv", "venv", "node_modules", "__pycache__", ".git",
                          ".pytest_cache", ".ruff_cache", "tests", "benchmarks", "build",
                          "dist"})
WATCHED_SUFFIXES = frozenset({".md", ".rst", ".bib", ".py", ".css", ".js", ".html", ".png",
                              ".jpg", ".jpeg", ".svg", ".webp", ".gif", ".txt", ".yml",
                              ".yaml", ".json"})
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml",
                "application/xml", "application/atom+xml")
#: A Sphinx warning line: ``path:line: WARNING: message`` (line optional).
PROBLEM = re.compile(r"^(?P<path>[^\s:][^:]*?)(?::(?P<line>\d+))?: (?:\(?(?P<kind>WARNING|ERROR|"
                     r"CRITICAL|SEVERE)\)?[:/]?\s*)(?P<message>.*)$")

CLIENT_JS = """\
// labhandbook serve: reload when a build has finished, show its errors when it failed.
(() => {
  const seen = document.documentElement.dataset.lhBuild;
  const source = new EventSource("%(events)s");
  const box = () => {
    let el = document.getElementById("lh-preview-errors");
    if (!el) {
      el = document.createElement("div");
      el.id = "lh-preview-errors";
      el.setAttribute("role", "alert");
      el.style.cssText = "position:fixed;inset:auto 0 0 0;max-height:60vh;overflow:auto;" +
        "z-index:10000;margin:0;padding:1rem;background:#3b0d0d;color:#fff;" +
        "font:14px/1.4 monospace;white-space:pre-wrap;border-top:4px solid #e33";
      document.body.append(el);
    }
    return el;
  };
  source.addEventListener("build", (event) => {
    const build = JSON.parse(event.data);
    if (build.problems.length) {
      const el = box();
      el.textContent = "The preview could not be built " +
        "(the page shows the last good build):\\n\\n" +
        build.problems.map((p) => (p.path ? p.path + (p.line ? ":" + p.line : "") + ": " : "") +
          p.message).join("\\n");
    } else if (String(build.id) !== seen) {
      window.location.reload();
    } else {
      document.getElementById("lh-preview-errors")?.remove();
    }
  });
})();
"""


# --- building -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass
class BuildResult:
    id: int
    ok: bool
    seconds: float
    problems: list[Problem] = field(default_factory=list)
    cpu_seconds: float = 0.0  #: this process's CPU time during the build


def parse_problems(text: str, srcdir: Path) -> list[Problem]:
    """Sphinx's warnings (``path:line: WARNING: ...``) as problems, paths relative to the
    sources; lines that continue a message are appended to it."""
    problems: list[Problem] = []
    root = str(srcdir).rstrip(os.sep) + os.sep
    for raw in text.splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", raw).rstrip()
        if not line:
            continue
        m = PROBLEM.match(line)
        if m:
            path = m["path"].removeprefix(root)
            problems.append(Problem(path, int(m["line"]) if m["line"] else None,
                                    f"{m['kind']}: {m['message']}"))
        elif re.match(r"^(WARNING|ERROR|CRITICAL)[:/ ]", line):
            problems.append(Problem("", None, line))
        elif problems:
            last = problems[-1]
            problems[-1] = Problem(last.path, last.line, f"{last.message}\n{line}")
    return problems


class TemplateCache:
    """Compiled Jinja templates kept between builds (Jinja's documented ``BytecodeCache``,
    in memory). Each build makes a new template environment, which would compile the theme's
    templates again (about a second on a loaded 2-core machine); a template is looked up by
    name and a checksum of its source, so an edited template is compiled again.

    Adapter: it reaches the builder's Jinja environment as ``app.builder.templates.environment``
    (Sphinx's ``BuiltinTemplateLoader``); when that is missing, builds simply compile as usual.
    """

    def __init__(self) -> None:
        from jinja2 import BytecodeCache

        store: dict[str, bytes] = {}

        class _Memory(BytecodeCache):
            def load_bytecode(self, bucket: Any) -> None:
                if bucket.key in store:
                    bucket.bytecode_from_string(store[bucket.key])

            def dump_bytecode(self, bucket: Any) -> None:
                store[bucket.key] = bucket.bytecode_to_string()

        self.cache = _Memory()

    def attach(self, app: Any) -> None:
        environment = getattr(getattr(app.builder, "templates", None), "environment", None)
        if environment is not None and getattr(environment, "bytecode_cache", None) is None:
            environment.bytecode_cache = self.cache


class Builder:
    """Builds the handbook in this process, as ``make html`` does, one build at a time."""

    def __init__(self, srcdir: Path, outdir: Path, doctreedir: Path, *,
                 nitpicky: bool = True, log: Callable[[str], None] = print) -> None:
        self.srcdir, self.outdir, self.doctreedir = srcdir, outdir, doctreedir
        self.overrides = {"nitpicky": True} if nitpicky else {}
        self.log = log
        self.count = 0
        self.lock = threading.Lock()
        self.templates = TemplateCache()

    def build(self) -> BuildResult:
        from sphinx.application import Sphinx
        from sphinx.util.docutils import docutils_namespace, patch_docutils

        with self.lock:
            self.count += 1
            status, warnings = io.StringIO(), io.StringIO()
            start, cpu = time.perf_counter(), time.process_time()
            problems: list[Problem] = []
            try:
                with patch_docutils(self.srcdir), docutils_namespace():
                    app = Sphinx(self.srcdir, self.srcdir, self.outdir, self.doctreedir, "html",
                                 confoverrides=dict(self.overrides), status=status,
                                 warning=warnings, freshenv=False, keep_going=True,
                                 verbosity=0)
                    self.templates.attach(app)
                    app.build()
                    failed = app.statuscode != 0
            except Exception as err:  # noqa: BLE001 - any failure is shown, the server goes on
                failed = True
                # A failure before ``build-finished`` leaves the heap that process.py froze at
                # ``builder-inited`` frozen; this process lives on, so give it back.
                gc.unfreeze()
                where = _location(err, self.srcdir)
                problems.append(Problem(where[0], where[1], f"{type(err).__name__}: {err}"))
            problems = parse_problems(warnings.getvalue(), self.srcdir) + problems
            seconds = time.perf_counter() - start
            ok = not failed and not problems
            return BuildResult(self.count, ok, seconds, problems, time.process_time() - cpu)


def _location(err: BaseException, srcdir: Path) -> tuple[str, int | None]:
    """The source file and line an exception names, if any (docutils and Sphinx errors)."""
    text = str(err)
    m = re.search(r"(?P<path>[^\s:'\"]+\.(?:md|rst|bib|py))(?::(?P<line>\d+))?", text)
    if not m:
        return "", None
    path = m["path"].removeprefix(str(srcdir).rstrip(os.sep) + os.sep)
    return path, int(m["line"]) if m["line"] else None


# --- watching -----------------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every watched file under ``root`` with its (mtime in ns, size)."""
    found: dict[str, tuple[int, int]] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if name not in IGNORED_DIRS and not name.startswith("."):
                    stack.append(Path(entry.path))
            elif Path(name).suffix.lower() in WATCHED_SUFFIXES:
                with contextlib.suppress(OSError):
                    st = entry.stat()
                    found[entry.path] = (st.st_mtime_ns, st.st_size)
    return found


def changes(before: dict[str, tuple[int, int]],
            after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


# --- serving ------------------------------------------------------------------------------------


class Broadcaster:
    """The latest build, and a condition that wakes every event stream when it changes."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.latest: BuildResult | None = None
        self.good_id = 0
        self.closed = False

    def publish(self, result: BuildResult) -> None:
        with self.cond:
            self.latest = result
            if result.ok:
                self.good_id = result.id
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait(self, after: int | None, timeout: float) -> BuildResult | None:
        """The latest build once it is not ``after`` (``None``: whatever is latest)."""
        with self.cond:
            self.cond.wait_for(lambda: self.closed or (
                self.latest is not None and self.latest.id != after), timeout)
            if self.closed or self.latest is None or self.latest.id == after:
                return None
            return self.latest


def _event(result: BuildResult) -> bytes:
    data = {"id": result.id, "good": result.ok, "seconds": round(result.seconds, 3),
            "problems": [p.as_dict() for p in result.problems]}
    return f"event: build\nid: {result.id}\ndata: {json.dumps(data)}\n\n".encode()


class PreviewHandler(SimpleHTTPRequestHandler):
    """Static files of the build (gzip when the client accepts it), the reload script and the
    event stream. HTML pages get the reload script and the build id added as they are sent."""

    broadcaster: Broadcaster | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?", 1)[0]
        if self.broadcaster is not None and path == EVENTS:
            self._events()
        elif self.broadcaster is not None and path == CLIENT:
            self._send(CLIENT_JS.replace("%(events)s", EVENTS).encode(),
                       "application/javascript")
        else:
            super().do_GET()

    def send_head(self) -> Any:
        """Files as ``SimpleHTTPRequestHandler`` finds them; text compressed on the fly."""
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            if not self.path.split("?", 1)[0].endswith("/"):
                return super().send_head()  # the redirect to "folder/"
            path = os.path.join(path, "index.html")
        ctype = self.guess_type(path)
        if not os.path.isfile(path):
            return super().send_head()
        try:
            data = Path(path).read_bytes()
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        if ctype == "text/html" and self.broadcaster is not None:
            data = self._with_client(data)
        return self._body(data, ctype)

    def _with_client(self, html: bytes) -> bytes:
        assert self.broadcaster is not None
        tag = (f'<script data-lh-build="{self.broadcaster.good_id}">'
               f'document.documentElement.dataset.lhBuild="{self.broadcaster.good_id}";'
               f'</script><script src="{CLIENT}" defer></script>').encode()
        at = html.rfind(b"</body>")
        return html[:at] + tag + html[at:] if at >= 0 else html + tag

    def _body(self, data: bytes, ctype: str) -> io.BytesIO:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        if ctype.startswith(COMPRESSIBLE) and "gzip" in self.headers.get("Accept-Encoding", ""):
            data = gzip.compress(data, compresslevel=6, mtime=0)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        return io.BytesIO(data)

    def _send(self, data: bytes, ctype: str) -> None:
        body = self._body(data, ctype)
        self.wfile.write(body.getvalue())

    def _events(self) -> None:
        assert self.broadcaster is not None
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        last: int | None = None
        try:
            # The latest build at once (a page loaded while a build failed shows its errors).
            while True:
                result = self.broadcaster.wait(last, timeout=15)
                if self.broadcaster.closed:
                    return
                self.wfile.write(_event(result) if result else b": keep-alive\n\n")
                self.wfile.flush()
                if result:
                    last = result.id
        except (BrokenPipeError, ConnectionResetError):
            return


def make_server(root: Path, port: int, broadcaster: Broadcaster | None = None,
                host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server of ``root`` on ``host`` (127.0.0.1: never another interface); ``port`` 0
    picks a free one."""
    handler = type("Handler", (PreviewHandler,), {"broadcaster": broadcaster})
    server = ThreadingHTTPServer((host, port), partial(handler, directory=str(root)))
    server.daemon_threads = True
    return server


@contextlib.contextmanager
def serving(root: Path, broadcaster: Broadcaster | None = None,
            port: int = 0) -> Iterator[str]:
    """Serve ``root`` in a background thread; yields the base URL."""
    server = make_server(root, port, broadcaster)
    thread = threading.Thread(target=server.serve_forever, name="labhandbook-serve",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        if broadcaster is not None:
            broadcaster.close()
        server.shutdown()
        server.server_close()


# --- the command --------------------------------------------------------------------------------


def describe(result: BuildResult) -> str:
    if result.ok:
        return f"build {result.id}: ok in {result.seconds:.2f}s"
    lines = [f"build {result.id}: FAILED in {result.seconds:.2f}s — shown in the page; "
             "fix and save, the preview goes on"]
    lines += [f"  {p.path}{':' + str(p.line) if p.line else ''}: {p.message}"
              for p in result.problems[:20]]
    return "\n".join(lines)


def serve(root: Path, port: int = 8000, *, builddir: str = "_build", poll: float = 0.05,
          open_browser: bool = False, log: Callable[[str], None] = print,
          stop: threading.Event | None = None) -> int:
    """Build, serve on 127.0.0.1 and rebuild on every save until interrupted."""
    root = root.resolve()
    outdir, doctreedir = root / builddir / "html", root / builddir / "doctrees"
    builder = Builder(root, outdir, doctreedir, log=log)
    broadcaster = Broadcaster()
    before = snapshot(root)
    log("labhandbook serve: building...")
    result = builder.build()
    log(describe(result))
    broadcaster.publish(result)
    stop = stop or threading.Event()
    with serving(outdir, broadcaster, port) as url:
        log(f"Serving {url} (127.0.0.1 only); Ctrl+C stops.")
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        try:
            while not stop.wait(poll):
                after = snapshot(root)
                changed = changes(before, after)
                if not changed:
                    continue
                before = after
                log("changed: " + ", ".join(os.path.relpath(c, root) for c in changed[:5])
                    + (f" and {len(changed) - 5} more" if len(changed) > 5 else ""))
                result = builder.build()
                log(describe(result))
                broadcaster.publish(result)
                # Files saved during the build are picked up by the next comparison.
        except KeyboardInterrupt:
            log("stopped")
    return 0
