"""Shared fixtures: tiny help centers in tmp dirs, the demo site built once, a real browser, ports, and
the services (PostgreSQL, axe-core) found or set up where the machine has them."""

from __future__ import annotations

import os
import shutil
import tempfile
import subprocess
import textwrap
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from kb.site.state import RENDERERS
from support import (CHROMIUM, CHROMIUM_ARGS, MKDOCS_YML, POSTGRES_ENV, POSTGRES_HINT, ROOT, free_port,
                     missing_service, run_kb, scratch_schema)

def pytest_configure(config: pytest.Config) -> None:
    """One embeddings cache for the whole session (every build and `kb` subprocess shares it), so the
    same article text is embedded once per run however many sites the tests build."""
    if "KB_CACHE_DIR" not in os.environ:
        os.environ["KB_CACHE_DIR"] = _session_cache.setdefault("dir", tempfile.mkdtemp(prefix="kb-test-embeddings-"))


_session_cache: dict[str, str] = {}  # the embeddings cache this session made (removed at its end)


@pytest.fixture
def kb_project(tmp_path: Path) -> Callable[..., Path]:
    """Write a small help center (mkdocs.yml + articles/...) into tmp_path and return its root."""

    def make(files: dict[str, str], mkdocs_yml: str = MKDOCS_YML) -> Path:
        root = tmp_path / "project"
        root.mkdir(exist_ok=True)
        (root / "mkdocs.yml").write_text(mkdocs_yml, encoding="utf-8")
        (root / "articles").mkdir(exist_ok=True)
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return root

    return make


@pytest.fixture(scope="session")
def built_demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's demo help center, built once with `kb build` into a tmp dir."""
    return _build_demo(tmp_path_factory, "mkdocs")


@pytest.fixture(scope="session")
def zensical_demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo help center built once with `kb build --renderer zensical`."""
    return _build_demo(tmp_path_factory, "zensical")


@pytest.fixture(scope="session", params=RENDERERS)
def rendered_demo_site(request: pytest.FixtureRequest) -> Path:
    """The demo help center as each renderer builds it (each built once): the site's browser suite
    runs against both."""
    return request.getfixturevalue("built_demo_site" if request.param == "mkdocs" else f"{request.param}_demo_site")


def _build_demo(tmp_path_factory: pytest.TempPathFactory, renderer: str) -> Path:
    work = tmp_path_factory.mktemp(f"demo-{renderer}")
    # A copy, so the build never touches the working tree (and git dates still come from the repo).
    shutil.copy(ROOT / "mkdocs.yml", work / "mkdocs.yml")
    shutil.copytree(ROOT / "articles", work / "articles")
    # cold, it embeds every article of both languages: minutes on a busy machine
    run_kb("build", "--site-dir", str(work / "site"), "--renderer", renderer, cwd=work, check=True, timeout=900)
    return work / "site"


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """The `free_port` function, as a fixture."""
    return free_port


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """A headless Chromium driven by Playwright, shared by the session's browser tests."""
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()




#: Where a developer's PostgreSQL usually answers: Debian's and the official image's defaults.
LOCAL_POSTGRES = ("postgresql://postgres@127.0.0.1:5432/postgres",
                  "postgresql://postgres:postgres@127.0.0.1:5432/postgres")
AXE = ROOT / "tests" / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
_scratch_database: list[tuple[str, str]] = []  # (server, database) made for this session, dropped at its end


def pytest_sessionstart(session: pytest.Session) -> None:
    """Without KB_TEST_POSTGRES_URL, use a local PostgreSQL that lets postgres in: a scratch database
    for this session (dropped at its end) becomes KB_TEST_POSTGRES_URL, so the PostgreSQL tests run."""
    if os.environ.get(POSTGRES_ENV):
        return
    import psycopg

    for server in LOCAL_POSTGRES:
        try:
            with psycopg.connect(server, autocommit=True, connect_timeout=2) as conn:
                name = "kb_test_" + uuid.uuid4().hex[:12]
                conn.execute(f"CREATE DATABASE {name}")
        except psycopg.Error:
            continue
        _scratch_database.append((server, name))
        os.environ[POSTGRES_ENV] = server.rsplit("/", 1)[0] + "/" + name
        return


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the scratch database pytest_sessionstart made."""
    import psycopg

    for server, name in _scratch_database:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        os.environ.pop(POSTGRES_ENV, None)
    if "dir" in _session_cache:
        shutil.rmtree(_session_cache["dir"], ignore_errors=True)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """Install axe-core (npm, tests/a11y's lock file) when browser tests are to run, npm is here and it
    is missing, so the accessibility tests run rather than skip; where that fails they skip as before."""
    if AXE.is_file() or not shutil.which("npm") or not any(item.get_closest_marker("browser") for item in items):
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("conftest: installing axe-core for the accessibility tests (npm install --prefix tests/a11y)")
    subprocess.run(["npm", "install", "--prefix", str(ROOT / "tests" / "a11y"), "--no-audit", "--no-fund", "--silent"],
                   capture_output=True, timeout=300, check=False)


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL server tests may use (KB_TEST_POSTGRES_URL); skipped where none is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        _missing(POSTGRES_HINT)
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    with scratch_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store: a SQLite file, then (marked postgres) a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/votes.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[object]:
    """An empty, migrated store at `store_url`, closed afterwards."""
    from kb.votes.store import open_store

    s = open_store(store_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()


_missing = missing_service


@pytest.fixture
def serve_app() -> Iterator[Callable[[object], str]]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread; returns its base URL. Stopped after the test."""
    import threading
    import time

    import uvicorn

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: object) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test server on port {port} did not start")
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=5)
