"""Plain helpers the tests share (fixtures live in conftest.py): paths, the kb command, ports, servers."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CHROMIUM = os.environ.get("KB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")

#: The mkdocs.yml of a tiny test project: Material, the kb plugin, one contact channel.
MKDOCS_YML = textwrap.dedent("""\
    site_name: Test Help Center
    docs_dir: articles
    site_dir: site
    theme:
      name: material
      font: false
      features: [navigation.instant]
    plugins:
      - search
      - kb:
          contact:
            - name: Chat with us
              url: https://example.com/chat
              hours: Mon-Fri 9-17
    """)


def run_kb(*args: str, cwd: Path, check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `kb` command line in a subprocess, as a writer would."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-m", "kb", *args], cwd=cwd, capture_output=True, text=True,
                            env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"kb {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]



POSTGRES_ENV = "KB_TEST_POSTGRES_URL"
POSTGRES_HINT = (f"{POSTGRES_ENV} is not set and no PostgreSQL on 127.0.0.1:5432 lets postgres in: to run the "
                 f"PostgreSQL tests, start one, or point {POSTGRES_ENV} at a server, e.g. "
                 f"{POSTGRES_ENV}=postgresql://postgres@127.0.0.1:5432/postgres (bash .ci/run sets it)")
NODE_HINT = "node is not on PATH: to run the tests of the browser engine, install Node.js (apt-get install nodejs)"


@contextlib.contextmanager
def scratch_schema() -> Iterator[str]:
    """A PostgreSQL URL (from KB_TEST_POSTGRES_URL) whose search_path is a fresh schema, dropped
    afterwards; a missing server skips, or fails where KB_REQUIRE_SERVICES is set."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        missing_service(POSTGRES_HINT)
    import psycopg

    schema = "kb_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def missing_service(why: str) -> None:
    """Skip on a developer's machine without the service; fail where KB_REQUIRE_SERVICES is set (CI).

    `why` says what is missing and how to get it, so a skipped run tells how to run the test.
    """
    if os.environ.get("KB_REQUIRE_SERVICES"):
        pytest.fail(f"{why} (KB_REQUIRE_SERVICES is set)")
    pytest.skip(why)

MANIFEST = {
    "version": 1,
    "site_name": "Test help",
    "generated_at": "2026-11-23T09:00:00+00:00",
    "articles": [
        {"id": "reset-password", "version": "3f2a9c1b", "title": "How do I reset my password?",
         "url": "account/reset-password/", "category": "account", "owner": None,
         "reviewed": None, "review_every": None},
        {"id": "track-order", "version": "aa11bb22", "title": "Where is my order?",
         "url": "shipping/track-order/", "category": "shipping", "owner": None,
         "reviewed": None, "review_every": None},
    ],
}


def write_site(site: Path, manifest: dict = MANIFEST) -> Path:
    """A stand-in built site: just its manifest."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "kb-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return site


def write_search_index(site: Path) -> Path:
    """A search index of MANIFEST's articles in `site` (for GET /api/search), without a build."""
    from types import SimpleNamespace

    from kb.search.index import build_index, write_index

    articles = [SimpleNamespace(id=a["id"], title=a["title"], url=a["url"], body=f"About {a['title']}",
                                questions=[], tags=[], headings=[]) for a in MANIFEST["articles"]]
    write_index(build_index(articles), site)
    return site


class LiveServer:
    """The collector under uvicorn (with kb's slow-client protection) in a thread."""

    def __init__(self, app, port: int | None = None, **options) -> None:
        import uvicorn

        from kb.votes.server import server_config

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(server_config(app, host="127.0.0.1", port=self.port,
                                                   log_level="warning", **options))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("collector did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def vote(**fields) -> dict:
    """A valid vote body, with `fields` changed."""
    body = {"vote_id": str(uuid.uuid4()), "article": "reset-password", "version": "3f2a9c1b",
            "helpful": False, "reason": "outdated", "comment": "The Settings menu has moved.",
            "website": ""}
    body.update(fields)
    return body


def utc(*args) -> datetime:
    """datetime(*args) in UTC."""
    return datetime(*args, tzinfo=timezone.utc)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve_static(site: Path) -> Iterator[str]:
    """A static site served over HTTP on a free local port (workers need http://)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def start_kb_serve(cwd: Path, port: int, timeout: float = 60, separate_stderr: bool = False) -> subprocess.Popen:
    """`kb serve --port PORT` in `cwd`, once its preview answers /_kb/build; stop it with terminate().

    Its standard error joins its output unless `separate_stderr` (for a test of what it prints there)."""
    import urllib.error
    import urllib.request

    server = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port)], cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE if separate_stderr else subprocess.STDOUT,
                              text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_kb/build", timeout=2):
                return server
        except (OSError, urllib.error.URLError):
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                shown = server.stdout.read() + (server.stderr.read() if separate_stderr else "")
                raise AssertionError(f"kb serve did not start:\n{shown}") from None
            time.sleep(0.2)
