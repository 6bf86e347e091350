"""The preview behind `kb serve`: the built site and the vote collector on one local origin.

Article edits are picked up by a file watcher and update only what they affect (kb.site.preview.live;
anything else is built in full aside and swapped in), and open pages reload themselves (they
poll `/_kb/build`, which changes with every update).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kb.articles import Problem
from kb.site.build import BuildFailed, SiteConfig, SiteError
from kb.site.preview.live import LiveSite
from kb.votes.collector import admin_token_from_env, collector_routes
from kb.votes.server import serve
from kb.votes.store import open_store, redact_url

SETTLE = 0.05  # seconds to let an editor finish its writes before updating

class Rebuilder:
    """Updates the preview when articles or mkdocs.yml change, one update at a time.

    An edit re-renders only what it affects (kb.site.preview.live); the build number the pages poll
    changes as soon as the pages are written. Problems are printed, and a broken edit leaves the
    last good pages in place.
    """

    def __init__(self, live: LiveSite, echo: Callable[[str], None]) -> None:
        self.live = live
        self.echo = echo
        self.build_number = 1
        self._pending: set[Path] = set()
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._settle_wanted = threading.Event()
        self._to_settle: Any = None
        self.settled = 0  # updates whose search index and manifest are written
        self.errors: list[str] = []  # the errors the pages show (path:line: error: ...), until fixed

    def changed(self, path: Path | str) -> None:
        """Note a changed path; the worker updates once things are quiet for a moment."""
        with self._lock:
            self._pending.add(Path(path))
        self._dirty.set()

    def run(self) -> None:
        """The worker loop: wait for a change, let edits settle, update, repeat."""
        while not self._stop.is_set():
            if not self._dirty.wait(timeout=0.5):
                continue
            time.sleep(SETTLE)  # an editor's save is often several writes
            with self._lock:
                paths, self._pending = self._pending, set()
                self._dirty.clear()
            self.rebuild(paths)

    def rebuild(self, paths: set[Path]) -> bool:
        """Update for `paths` now; on problems, print them and keep serving the last good pages."""
        started = time.perf_counter()
        try:
            with self.live.renderer.errors():
                update = self.live.update(paths, on_pages=self._next_build)
        except (BuildFailed, SiteError) as exc:
            for message in getattr(exc, "messages", []):
                self.echo(message)
            self.echo(f"{exc}; still showing the last good build")
            self.errors = [*getattr(exc, "messages", []), str(exc)]
            return False
        except Exception as exc:  # noqa: BLE001 - a page that fails to render must not end the preview
            self.live.forget()  # half-applied: the next change builds everything afresh
            self.echo(f"kb serve: {type(exc).__name__}: {exc}; still showing the last good build")
            return False
        errors = [p for p in update.problems if p.severity == "error"]
        self._print_new(update.problems, errors)
        self.errors = [p.format() for p in errors]
        if errors:
            self.echo(f"kb serve: {len(errors)} error(s); still showing the last good build")
            return False
        what = "rebuilt" if update.full else f"updated {update.rendered} page{'' if update.rendered == 1 else 's'}"
        self.echo(f"kb serve: {what} ({update.articles} articles) in {time.perf_counter() - started:.2f} s")
        if update.settle is not None:
            with self._lock:
                self._to_settle = update.settle
            self._settle_wanted.set()
        else:
            self.live.shown_problems(update.problems)
        return True

    def settle_loop(self) -> None:
        """The second worker: after each update, the full check, the search index and the manifest."""
        self.live.warm()  # every article's search words, before the first edit needs them
        while not self._stop.is_set():
            if not self._settle_wanted.wait(timeout=0.5):
                continue
            with self._lock:
                update, self._to_settle = self._to_settle, None
                self._settle_wanted.clear()
            if update is None or self.live.state is None:
                continue
            try:
                problems = self.live.settle(update)
            except Exception as exc:  # noqa: BLE001 - e.g. an index with no words: say so, keep serving
                self.echo(f"kb serve: search index and manifest not updated: {exc}")
                continue
            if problems is None:
                continue  # a later update's settle follows
            self._print_new(problems, [])
            self.live.shown_problems(problems)
            self.errors = [p.format() for p in problems if p.severity == "error"]
            self.settled += 1
            for path in self.live.take_missed():  # changed without the watcher saying so: update them like any edit
                self.changed(path)

    def _print_new(self, problems: list, always: list) -> None:
        for problem in self.live.new_problems(problems, always):
            self.echo(problem.format())

    def _next_build(self) -> None:
        self.build_number += 1

    def stop(self) -> None:
        """End the worker loop."""
        self._stop.set()


def port_problem(host: str, port: int) -> str | None:
    """Why the preview could not listen on host:port (checked before the build), or None."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is in use; stop what uses it, or pass another, e.g. --port {port + 1}"
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


def serving_hosts(host: str) -> list[str]:
    """The Host names the preview answers: the loopback names and `--host` (DNS rebinding gets 403)."""
    hosts = ["127.0.0.1", "localhost", "::1"]
    if host not in ("", "0.0.0.0", "::") and host not in hosts:
        hosts.append(host)
    return hosts


def create_preview_app(preview_dir: Path, rebuilder: Rebuilder | None, collector_routes: list[Any] = (),
                       hosts: list[str] | None = None) -> Starlette:
    """An ASGI app: the build number, the collector's routes, and the static site under them.

    With `hosts`, requests naming any other Host are refused (403).
    """

    async def build_number(request: Any) -> PlainTextResponse:
        return PlainTextResponse(str(rebuilder.build_number if rebuilder else 1),
                                 headers={"Cache-Control": "no-store"})

    async def problems(request: Any) -> JSONResponse:  # the errors the pages show (livereload.js)
        return JSONResponse(rebuilder.errors if rebuilder else [], headers={"Cache-Control": "no-store"})

    middleware = [Middleware(_OnlyHosts, hosts=hosts)] if hosts else []
    return Starlette(routes=[
        Route("/_kb/build", build_number),
        Route("/_kb/problems", problems),
        *collector_routes,
        Mount("/", app=_Site(directory=str(preview_dir), html=True, check_dir=False)),
    ], middleware=middleware)


class _Site(StaticFiles):
    """The built site; a page that is not there gets the 404 page of its language's site (pl/404.html)."""

    async def get_response(self, path: str, scope: Any) -> Any:
        response = await super().get_response(path, scope)
        top = path.split("/", 1)[0]
        if response.status_code == 404 and top and "/" in path:
            own, stat = self.lookup_path(f"{top}/404.html")
            if stat is not None:
                return FileResponse(own, status_code=404, stat_result=stat)
        return response


class _OnlyHosts:
    """Refuse (403) requests whose Host header names another host than the preview's own."""

    def __init__(self, app: Any, hosts: list[str]) -> None:
        self.app = app
        self.hosts = {h.strip("[]").lower() for h in hosts}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            name = host[1:host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
            if name not in self.hosts:
                await PlainTextResponse("kb serve: this preview answers only " + ", ".join(sorted(self.hosts)),
                                        status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def serve_preview(
    site: SiteConfig, live: LiveSite, *, host: str, port: int, db_url: str, echo: Callable[[str], None],
    collector_options: dict[str, Any] | None = None, problems: Iterable[Problem] = (),
) -> None:
    """Serve until interrupted, rebuilding on every change under the articles folder or mkdocs.yml.

    `collector_options` go to the collector as they are (its `report` and `search` functions);
    `problems` are the errors the site was built with, which the pages show until they are fixed.
    """
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    preview_dir = live.site_dir
    rebuilder = Rebuilder(live, echo)
    rebuilder.errors = [p.format() for p in problems if p.severity == "error"]
    if db_url.startswith("sqlite:///"):
        Path(db_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(db_url)
    store.migrate()
    routes = collector_routes(preview_dir, store, admin_token=admin_token_from_env(), **(collector_options or {}))

    class OnChange(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            if event.is_directory and event.event_type == "modified":
                return  # a folder's time changes with its files; the files themselves are reported
            for path in {event.src_path, getattr(event, "dest_path", "")} - {""}:
                if str(path).startswith(str(site.docs_dir)) or str(path) == str(site.config_file):
                    rebuilder.changed(Path(path))

    observer = Observer()
    observer.schedule(OnChange(), str(site.docs_dir), recursive=True)
    observer.schedule(OnChange(), str(site.project_dir), recursive=False)
    observer.start()
    worker = threading.Thread(target=rebuilder.run, name="kb-rebuild", daemon=True)
    worker.start()
    threading.Thread(target=rebuilder.settle_loop, name="kb-settle", daemon=True).start()
    echo(f"kb serve: http://{host}:{port}/  (votes: {redact_url(db_url)}; Ctrl+C to stop)")
    try:
        app = create_preview_app(preview_dir, rebuilder, routes, serving_hosts(host))
        # Stopped by Ctrl+C or SIGTERM, `serve` closes the store (commits the queued search records)
        # before it returns, rather than dying of the signal as uvicorn's own server does.
        serve(app, host=host, port=port, log_level="warning", on_stop=store.close)
    finally:
        rebuilder.stop()
        observer.stop()
        observer.join(timeout=2)
        store.close()
