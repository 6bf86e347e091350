"""Shared fixtures: tiny help centers in tmp dirs, the demo site built once, a real browser, ports."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, Iterator

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


def run_kb(*args: str, cwd: Path, check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `kb` command line in a subprocess, as a writer would."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-m", "kb", *args], cwd=cwd, capture_output=True, text=True,
                            env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"kb {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def built_demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's demo help center, built once with `kb build` into a tmp dir."""
    work = tmp_path_factory.mktemp("demo")
    # A copy, so the build never touches the working tree (and git dates still come from the repo).
    shutil.copy(ROOT / "mkdocs.yml", work / "mkdocs.yml")
    shutil.copytree(ROOT / "articles", work / "articles")
    run_kb("build", "--site-dir", str(work / "site"), cwd=work, check=True)
    return work / "site"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL server tests may use (KB_TEST_POSTGRES_URL); skipped where none is configured."""
    url = os.environ.get("KB_TEST_POSTGRES_URL")
    if not url:
        _missing("KB_TEST_POSTGRES_URL is not set (bash .ci/run sets it)")
    return url


def _missing(why: str) -> None:
    """Skip on a developer's machine without the service; fail in CI, where .ci/run installs it."""
    if os.environ.get("KB_REQUIRE_SERVICES"):
        pytest.fail(why)
    pytest.skip(why)


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
