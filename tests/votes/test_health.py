"""/healthz tells the truth both ways: red while the store or the site cannot be used, green again
within seconds of their coming back, with no vote needed to find out. Each failure is a real one,
made on a real `kb votes serve`: a PostgreSQL role that may no longer log in (its sessions ended),
a SQLite collector that may not grow its files (the size limit a full disk amounts to), a site
deployed under umask 077 by another user."""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from support import POSTGRES_ENV, free_port, write_search_index, write_site

from kb.votes.collector import MANIFEST_RECHECK

UA = "Mozilla/5.0 (X11; Linux x86_64) kb-health-tests"
KB = [sys.executable, "-c", "import kb.cli.votes; from kb.cli import main; main(prog_name='kb')"]
RECOVERY = 5.0  # seconds: the promise, from the store's (or the site's) return to a green /healthz


def _without_dac_override() -> None:
    """In the collector's process before exec: when it runs as root, take away root's power to read
    and write files regardless of their modes, so it meets file modes as the `kb` user would."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP; refused (and needless) when not root


class Collector:
    """`kb votes serve` in its own process, its standard error kept for the test to read."""

    def __init__(self, site: Path, db: str, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # A pipe, not a file: a file could not grow either while the test keeps files from growing.
        self.proc = subprocess.Popen([*KB, "votes", "serve", "--site", str(site), "--db", db, "--port",
                                      str(self.port), "--rate-limit", "0", "--visitor-secret", "s"],
                                     stderr=subprocess.PIPE, text=True, preexec_fn=_without_dac_override)
        self.client = httpx.Client(base_url=self.url, headers={"User-Agent": UA}, timeout=20)
        deadline = time.monotonic() + 30
        while self.health(quiet=True) != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"kb votes serve did not start:\n{self.stop()}")
            time.sleep(0.1)

    def health(self, quiet: bool = False) -> int | None:
        try:
            return self.client.get("/healthz").status_code
        except httpx.TransportError:
            if quiet:
                return None
            raise

    def vote(self) -> int:
        body = {"vote_id": str(uuid.uuid4()), "article": "track-order", "version": "aa11bb22", "helpful": True}
        return self.client.post("/api/votes", content=json.dumps(body)).status_code

    def wait_for(self, status: int, within: float) -> float:
        """Seconds until /healthz answers `status` (asked 5 times a second), or fail after `within`."""
        started = time.monotonic()
        while self.health() != status:
            assert time.monotonic() - started < within, f"/healthz not {status} within {within} s"
            time.sleep(0.2)
        return time.monotonic() - started

    def stop(self) -> str:
        """Stop it; what it wrote to standard error."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.communicate(timeout=30)[1]


@pytest.fixture
def pg_role(pg_url):
    """(URL, role): a login role of its own with the scratch schema, so an outage stops it alone."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    base = os.environ[POSTGRES_ENV]
    schema = pg_url.rsplit("search_path%3D", 1)[1]
    role, password = "kb_test_role_" + uuid.uuid4().hex[:10], "kb-test-password"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}")
    info = conninfo_to_dict(base)
    url = (f"postgresql://{role}:{password}@{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}/"
           f"{info['dbname']}?options={quote('-csearch_path=' + schema)}")
    try:
        yield url, role
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"ALTER ROLE {role} LOGIN")
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


@pytest.mark.postgres
def test_healthz_follows_a_postgresql_outage_both_ways(pg_role, tmp_path):
    import psycopg

    url, role = pg_role
    collector = Collector(write_site(tmp_path / "site"), url, tmp_path)
    try:
        assert collector.vote() == 204
        with psycopg.connect(os.environ[POSTGRES_ENV], autocommit=True) as admin:
            admin.execute(f"ALTER ROLE {role} NOLOGIN")
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            collector.wait_for(503, within=RECOVERY)
            body = collector.client.get("/healthz").json()
            assert (body["status"], body["store"], body["site"]) == ("failing", "cannot read", "ok")
            assert collector.vote() == 503
            time.sleep(8)  # long enough for a reconnection delay that doubles to pass 5 s
            admin.execute(f"ALTER ROLE {role} LOGIN")
        # Back: green within seconds, with no vote sent to find out.
        collector.wait_for(200, within=RECOVERY)
        assert collector.vote() == 204
    finally:
        log = collector.stop()
    assert "kb votes serve: ERROR: store: cannot read: " in log and "kb votes serve: WARNING: store: ok again" in log
    # every line the collector's own, once for the outage (not the driver's, per reconnection attempt)
    assert [line for line in log.splitlines() if not line.startswith("kb votes serve: ")] == []
    assert len(log.splitlines()) <= 4, log


def test_healthz_follows_a_sqlite_store_that_cannot_write(tmp_path):
    collector = Collector(write_site(tmp_path / "site"), f"sqlite:///{tmp_path}/votes.db", tmp_path)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        assert collector.vote() == 204
        # No file of the collector's may grow, or be written at all: what a full disk does to it.
        resource.prlimit(collector.proc.pid, resource.RLIMIT_FSIZE, (0, hard))
        try:
            collector.wait_for(503, within=RECOVERY)
            body = collector.client.get("/healthz").json()
            assert (body["status"], body["store"]) == ("failing", "cannot write")
            assert collector.vote() == 503
        finally:
            resource.prlimit(collector.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
        collector.wait_for(200, within=RECOVERY)
        assert collector.vote() == 204
    finally:
        log = collector.stop()
    assert "kb votes serve: ERROR: store: cannot write: " in log


def _unreadable(site: Path) -> None:
    """The site as a deploy by another user under umask 077 leaves it: folders 0700, files 0600."""
    for path in [site, *site.rglob("*")]:
        if os.geteuid() == 0:
            os.chown(path, 65534, 65534)  # nobody
        path.chmod(0o700 if path.is_dir() else 0o600)
    if os.geteuid() != 0:
        site.chmod(0)  # the owner is the collector's user here: keep it out by the mode alone


def test_a_site_the_collector_cannot_read_is_503_and_one_log_line(tmp_path):
    site = write_search_index(write_site(tmp_path / "site"))
    collector = Collector(site, f"sqlite:///{tmp_path}/votes.db", tmp_path)
    try:
        assert collector.vote() == 204
        _unreadable(site)
        answers = [collector.client.get("/healthz") for _ in range(3)]
        assert [(r.status_code, r.json()) for r in answers] == [
            (503, {"status": "failing", "store": "ok", "site": "cannot read", "articles": None})] * 3
        time.sleep(MANIFEST_RECHECK)  # the intake trusts the manifest it read a second ago that long
        assert [collector.vote() for _ in range(3)] == [503] * 3
        r = collector.client.get("/api/search", params={"q": "password"})
        assert (r.status_code, r.json()) == (503, {"error": "search is unavailable; try again later", "field": None})
        assert str(site) not in r.text and str(site) not in answers[0].text
        for path in [site, *site.rglob("*")]:
            if os.geteuid() == 0:
                os.chown(path, 0, 0)
            path.chmod(0o755 if path.is_dir() else 0o644)
        collector.wait_for(200, within=RECOVERY)
        assert collector.vote() == 204
    finally:
        log = collector.stop()
    manifest = site / "kb-manifest.json"
    said = [line for line in log.splitlines() if "site:" in line]
    assert said == [
        f"kb votes serve: ERROR: site: cannot read {manifest}: Permission denied (the site must be readable "
        f"by the user reading it: chmod -R a+rX SITE); votes get 503 until it is fixed",
        "kb votes serve: WARNING: site: ok again"]
    assert "Traceback" not in log and "PermissionError" not in log


def test_kb_votes_serve_names_a_site_it_cannot_read_at_start(tmp_path):
    site = write_site(tmp_path / "site")
    _unreadable(site)
    result = subprocess.run([*KB, "votes", "serve", "--site", str(site), "--db", f"sqlite:///{tmp_path}/v.db"],
                            capture_output=True, text=True, timeout=60, preexec_fn=_without_dac_override)
    assert (result.returncode, result.stderr) == (
        1, f"{site / 'kb-manifest.json'}: cannot read: Permission denied (the site must be readable by the user "
           f"reading it: chmod -R a+rX SITE)\n")


def test_a_search_index_the_collector_cannot_read_is_one_log_line_not_one_per_query(tmp_path):
    """A deploy that leaves the search index alone unreadable (its manifest is fine): each query
    gets 503, the log says it once, and once more when it is readable again."""
    site = write_search_index(write_site(tmp_path / "site"))
    collector = Collector(site, f"sqlite:///{tmp_path}/votes.db", tmp_path)
    index = site / "search" / "search_index.json"
    try:
        assert collector.client.get("/api/search", params={"q": "password"}).status_code == 200
        index.write_bytes(index.read_bytes())  # deployed again (a new file), now unreadable
        _unreadable_file(index)
        answers = [collector.client.get("/api/search", params={"q": f"password {i}"}) for i in range(5)]
        assert [(r.status_code, r.json()) for r in answers] == [
            (503, {"error": "search is unavailable; try again later", "field": None})] * 5
        assert collector.client.get("/healthz").status_code == 200  # votes still work
        assert collector.vote() == 204
        if os.geteuid() == 0:
            os.chown(index, 0, 0)
        index.chmod(0o644)
        assert collector.client.get("/api/search", params={"q": "password"}).status_code == 200
    finally:
        log = collector.stop()
    said = [line for line in log.splitlines() if ": search" in line]
    assert said == [
        f"kb votes serve: ERROR: search: cannot answer: [Errno 13] Permission denied: '{index}'; "
        f"GET /api/search gets 503 until it is fixed",
        "kb votes serve: WARNING: search: ok again"]


def _unreadable_file(path: Path) -> None:
    """One file as a deploy by another user under umask 077 leaves it: 0600, not the reader's."""
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)  # nobody
    path.chmod(0o600 if os.geteuid() == 0 else 0)
