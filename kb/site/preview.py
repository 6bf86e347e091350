"""The preview behind `kb serve`: the built site and the vote collector on one local origin.

Article edits are picked up by a file watcher, the site is rebuilt aside and swapped in, and
open pages reload themselves (they poll `/_kb/build`, which changes with every rebuild).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kb.site.build import BuildFailed, SiteConfig, SiteError, build_site, check_site
from kb.votes.collector import admin_token_from_env, collector_routes
from kb.votes.server import server_config
from kb.votes.store import open_store, redact_url

class Rebuilder:
    """Rebuilds the preview when articles or mkdocs.yml change, one build at a time."""

    def __init__(self, site: SiteConfig, preview_dir: Path, echo: Callable[[str], None]) -> None:
        self.site = site
        self.preview_dir = preview_dir
        self.echo = echo
        self.build_number = 1
        self._dirty = threading.Event()
        self._stop = threading.Event()

    def changed(self) -> None:
        """Note a change; the worker rebuilds once things are quiet for a moment."""
        self._dirty.set()

    def run(self) -> None:
        """The worker loop: wait for a change, let edits settle, rebuild, repeat."""
        while not self._stop.is_set():
            if not self._dirty.wait(timeout=0.5):
                continue
            time.sleep(0.3)  # an editor's save is often several writes
            self._dirty.clear()
            self.rebuild()

    def rebuild(self) -> bool:
        """Check and rebuild now; on problems, print them and keep serving the last good site."""
        project = check_site(self.site, golden=False)
        for problem in project.problems:
            self.echo(problem.format())
        if project.errors:
            self.echo(f"kb serve: {len(project.errors)} error(s); still showing the last good build")
            return False
        try:
            build_site(self.site, self.preview_dir, drafts=True, livereload=True)
        except (BuildFailed, SiteError) as exc:
            for message in getattr(exc, "messages", []):
                self.echo(message)
            self.echo(f"{exc}; still showing the last good build")
            return False
        self.build_number += 1
        self.echo(f"kb serve: rebuilt ({len(project.articles)} articles)")
        return True

    def stop(self) -> None:
        """End the worker loop."""
        self._stop.set()


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

    middleware = [Middleware(_OnlyHosts, hosts=hosts)] if hosts else []
    return Starlette(routes=[
        Route("/_kb/build", build_number),
        *collector_routes,
        Mount("/", app=StaticFiles(directory=str(preview_dir), html=True, check_dir=False)),
    ], middleware=middleware)


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
    site: SiteConfig, preview_dir: Path, *, host: str, port: int, db_url: str, echo: Callable[[str], None],
    collector_options: dict[str, Any] | None = None,
) -> None:
    """Serve until interrupted, rebuilding on every change under the articles folder or mkdocs.yml.

    `collector_options` go to the collector as they are (its `report` and `search` functions).
    """
    import uvicorn
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    rebuilder = Rebuilder(site, preview_dir, echo)
    if db_url.startswith("sqlite:///"):
        Path(db_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(db_url)
    store.migrate()
    routes = collector_routes(preview_dir, store, admin_token=admin_token_from_env(), **(collector_options or {}))

    class OnChange(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            path = str(getattr(event, "dest_path", "") or event.src_path)
            if path.startswith(str(site.docs_dir)) or path == str(site.config_file):
                rebuilder.changed()

    observer = Observer()
    observer.schedule(OnChange(), str(site.docs_dir), recursive=True)
    observer.schedule(OnChange(), str(site.project_dir), recursive=False)
    observer.start()
    worker = threading.Thread(target=rebuilder.run, name="kb-rebuild", daemon=True)
    worker.start()
    echo(f"kb serve: http://{host}:{port}/  (votes: {redact_url(db_url)}; Ctrl+C to stop)")
    try:
        app = create_preview_app(preview_dir, rebuilder, routes, serving_hosts(host))
        uvicorn.Server(server_config(app, host=host, port=port,
                                     log_level="warning")).run()
    finally:
        rebuilder.stop()
        observer.stop()
        observer.join(timeout=2)
        store.close()
