"""`kb votes serve|export|import`: real stores, real files, the real server in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from click.testing import CliRunner
from support import free_port, utc, write_search_index, write_site

import kb.cli.votes  # noqa: F401  (registers the commands until kb.cli imports it)
from kb.cli import main
from kb.votes.store import open_store

KB = [sys.executable, "-c", "import kb.cli.votes; from kb.cli import main; main(prog_name='kb')"]
# The same, with every thread's stack written to stderr on SIGUSR1: what a collector that does not stop is doing.
KB_TRACED = [*KB[:2], "import faulthandler, signal; faulthandler.register(signal.SIGUSR1, all_threads=True); " + KB[2]]
# Ids and pseudonyms as the collector makes them (an import checks them as it does).
V1, V2 = "0c7e4f1a-3b2d-4e5f-8a9b-1c2d3e4f5a61", "0c7e4f1a-3b2d-4e5f-8a9b-1c2d3e4f5a62"
S1, C1 = "5e1f0c2a-7b3d-4c8e-9f01-23456789abc1", "5e1f0c2a-7b3d-4c8e-9f01-23456789abc2"
AA, BB = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"


def _fill(url: str) -> None:
    s = open_store(url)
    s.migrate()
    s.add_votes([
        {"vote_id": V1, "article": "reset-password", "version": "3f2a9c1b", "helpful": False,
         "reason": "outdated", "comment": 'Line one\nline "two", =SUM(A1)', "visitor": AA,
         "created_at": utc(2026, 11, 20, 8, 0, 0, 1)},
        {"vote_id": V2, "article": "track-order", "version": "aa11bb22", "helpful": True,
         "reason": None, "comment": None, "visitor": BB, "created_at": utc(2026, 11, 21, 9, 30)},
    ])
    s.add_searches([{"event_id": S1, "query": "zwrot", "results": 0, "article": None, "visitor": AA,
                     "created_at": utc(2026, 11, 20, 8, 1)}])
    s.add_contacts([{"event_id": C1, "channel": "Chat with us", "article": "track-order", "query": None,
                     "visitor": BB, "created_at": utc(2026, 11, 21, 9, 31)}])
    s.close()


def _dump(url: str) -> dict:
    s = open_store(url)
    try:
        return {"votes": list(s.votes()), "searches": list(s.searches()), "contacts": list(s.contacts())}
    finally:
        s.close()


def test_export_jsonl_has_one_vote_per_line(tmp_path):
    url = f"sqlite:///{tmp_path}/a.db"
    _fill(url)
    result = CliRunner().invoke(main, ["votes", "export", "--db", url])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [
        {"vote_id": V1, "article": "reset-password", "version": "3f2a9c1b", "helpful": False,
         "reason": "outdated", "comment": 'Line one\nline "two", =SUM(A1)', "visitor": AA,
         "created_at": "2026-11-20T08:00:00.000001+00:00", "language": None, "address": None},
        {"vote_id": V2, "article": "track-order", "version": "aa11bb22", "helpful": True,
         "reason": None, "comment": None, "visitor": BB, "created_at": "2026-11-21T09:30:00.000000+00:00",
         "language": None, "address": None},
    ]
    assert result.stderr == "kb votes export: 2 votes\n"


@pytest.mark.parametrize("fmt, table", [("jsonl", "all"), ("csv", "votes")])
def test_export_then_import_loses_nothing(tmp_path, fmt, table):
    source, target = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    _fill(source)
    out = tmp_path / f"export.{fmt}"
    runner = CliRunner()
    r = runner.invoke(main, ["votes", "export", "--db", source, "--format", fmt, "--table", table, "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["votes", "import", "--db", target, str(out)])
    assert r.exit_code == 0, r.output
    expected = _dump(source) if table == "all" else {**_dump(source), "searches": [], "contacts": []}
    assert _dump(target) == expected
    # Importing again stores nothing twice.
    r = runner.invoke(main, ["votes", "import", "--db", target, str(out)])
    assert r.exit_code == 0
    assert r.stderr.startswith("kb votes import: stored 0 of 2 votes")
    assert _dump(target) == expected


@pytest.mark.postgres
def test_sqlite_to_postgres_and_back(tmp_path, pg_url):
    source, back = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/back.db"
    _fill(source)
    runner = CliRunner()
    out, again = tmp_path / "all.jsonl", tmp_path / "again.jsonl"
    assert runner.invoke(main, ["votes", "export", "--db", source, "--table", "all", "-o", str(out)]).exit_code == 0
    assert runner.invoke(main, ["votes", "import", "--db", pg_url, str(out)]).exit_code == 0
    assert _dump(pg_url) == _dump(source)
    assert runner.invoke(main, ["votes", "export", "--db", pg_url, "--table", "all", "-o", str(again)]).exit_code == 0
    assert again.read_text() == out.read_text()
    assert runner.invoke(main, ["votes", "import", "--db", back, str(again)]).exit_code == 0
    assert _dump(back) == _dump(source)


def test_export_of_a_database_that_is_not_there_says_so_and_makes_none(tmp_path):
    result = subprocess.run([*KB, "votes", "export", "--db", "sqlite:///typo.db"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "typo.db: no such votes database (start the collector with kb votes serve, or run kb votes simulate)\n")
    assert list(tmp_path.iterdir()) == []


def test_import_names_every_bad_line_and_stores_nothing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = {"vote_id": V1, "article": "a", "version": "1", "helpful": True, "reason": None, "comment": None,
            "visitor": AA, "created_at": "2026-11-20T08:00:00+00:00"}
    bad.write_text("\n".join([
        json.dumps(good),
        json.dumps({**good, "vote_id": V2, "created_at": "2026-11-20T08:00:00"}),
        json.dumps({"hello": 1}),
        json.dumps({k: v for k, v in good.items() if k != "visitor"}),
    ]) + "\n")
    db = f"sqlite:///{tmp_path}/t.db"
    r = CliRunner().invoke(main, ["votes", "import", "--db", db, str(bad)])
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f'{bad}:2: created_at: has no time zone: "2026-11-20T08:00:00"; expected UTC, like 2026-11-20T08:00:00.000000+00:00',
        f"{bad}:3: not a vote, search or contact (no vote_id, or an event_id with results or channel)",
        f"{bad}:4: visitor: is missing; every export has it (null when empty)",
        f"kb votes import: 3 bad record(s) in {bad}; nothing imported",
    ]
    assert _dump(db)["votes"] == []


def test_serve_needs_a_built_site(tmp_path):
    r = CliRunner().invoke(main, ["votes", "serve", "--site", str(tmp_path / "nosite")])
    assert r.exit_code == 1
    assert r.stderr == f"{tmp_path / 'nosite' / 'kb-manifest.json'}: no site manifest; build the site first (kb build) or pass --site\n"
    r = CliRunner().invoke(main, ["votes", "serve", "--site", str(tmp_path), "--origin", "help.example.com"])
    assert r.exit_code == 2
    assert "expected scheme://host[:port], got 'help.example.com'" in r.stderr
    r = CliRunner().invoke(main, ["votes", "export", "--db", "mysql://x"])
    assert (r.exit_code, r.stderr) == (
        1, "--db mysql://x: unsupported store URL 'mysql://x': expected sqlite:///PATH or postgresql://...\n")


def test_votes_serve_stores_a_vote_and_export_shows_it(tmp_path):
    site = write_site(tmp_path / "site")
    port = free_port()
    env = {**os.environ, "KB_ADMIN_TOKEN": "tok"}
    proc = subprocess.Popen([*KB, "votes", "serve", "--site", str(site), "--db", "sqlite:///votes.db",
                             "--port", str(port), "--origin", "https://help.example.com"],
                            cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.1)
        vote_id = str(uuid.uuid4())
        r = httpx.post(f"{base}/api/votes", headers={"Content-Type": "text/plain", "User-Agent": "Mozilla/5.0",
                                                      "Origin": "https://help.example.com"},
                       content=json.dumps({"vote_id": vote_id, "article": "track-order", "version": "aa11bb22",
                                           "helpful": True}))
        assert (r.status_code, r.headers["access-control-allow-origin"]) == (204, "https://help.example.com")
        assert httpx.get(f"{base}/api/report", headers={"Authorization": "Bearer tok"}).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    assert proc.stderr.read().startswith(f"kb votes serve: http://127.0.0.1:{port}/  (store sqlite:///votes.db, "
                                         f"site {site}, admin on; Ctrl+C to stop)")
    exported = subprocess.run([*KB, "votes", "export"], cwd=tmp_path, capture_output=True, text=True)
    assert [json.loads(line)["vote_id"] for line in exported.stdout.splitlines()] == [vote_id]


def _start_serve(site, db: str, port: int, *args: str, cwd=None) -> subprocess.Popen:
    """`kb votes serve` in its own process, once /healthz answers 200."""
    proc = subprocess.Popen([*KB_TRACED, "votes", "serve", "--site", str(site), "--db", db, "--port", str(port), *args],
                            cwd=cwd, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"kb votes serve did not start:\n{proc.stderr.read()}")
        time.sleep(0.1)


def _exit_code(proc: subprocess.Popen, timeout: float) -> int:
    """The collector's exit code once it stops; if it has not within `timeout`, the test fails with
    what each of its threads was doing (started by `_start_serve`, it writes its stacks on SIGUSR1)."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1)
        proc.kill()
        raise AssertionError(f"kb votes serve did not stop within {timeout} s:\n{proc.stderr.read()}") from None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stopped_collector_stores_everything_it_accepted(tmp_path, store_url, sig):
    """`systemctl stop` sends SIGTERM right after the last request (Ctrl+C SIGINT, a closed
    terminal SIGHUP): the search API's records, which wait up to a second for a group commit, are
    committed before the process ends."""
    site = write_search_index(write_site(tmp_path / "site"))
    port = free_port()
    proc = _start_serve(site, store_url, port, "--rate-limit", "0", "--visitor-secret", "s")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"User-Agent": "Mozilla/5.0"}) as client:
            vote_id = str(uuid.uuid4())
            r = client.post("/api/votes", content=json.dumps({"vote_id": vote_id, "article": "track-order",
                                                              "version": "aa11bb22", "helpful": True}))
            # The last commit was the vote's: these 50 wait for the next one (at most a second).
            answered = [client.get("/api/search", params={"q": f"password {i}"}).status_code for i in range(50)]
        proc.send_signal(sig)
        assert (r.status_code, answered) == (204, [200] * 50)
        assert _exit_code(proc, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr.read().splitlines()[-1] == f"kb votes serve: stopped by {sig.name}, after finishing its writes"
    stored = _dump(store_url)
    assert (len(stored["searches"]), [v["vote_id"] for v in stored["votes"]]) == (50, [vote_id])


def test_a_collector_started_with_nohup_outlives_its_terminal(tmp_path):
    """`nohup` ignores SIGHUP so that a collector outlives the terminal it was started from: it
    keeps serving then, and still stops on SIGTERM."""
    site = write_site(tmp_path / "site")
    port = free_port()
    proc = subprocess.Popen([*KB, "votes", "serve", "--site", str(site), "--db", f"sqlite:///{tmp_path}/v.db",
                             "--port", str(port)], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.1)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr.read().splitlines()[-1] == "kb votes serve: stopped by SIGTERM, after finishing its writes"


@pytest.mark.postgres
def test_collectors_on_postgresql_without_a_shared_visitor_secret_are_warned(tmp_path, pg_url):
    site = write_site(tmp_path / "site")
    port = free_port()
    proc = _start_serve(site, pg_url, port)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert proc.stderr.read().splitlines()[1] == (
        "kb votes serve: warning: no --visitor-secret (KB_VISITOR_SECRET) on a PostgreSQL store: each collector "
        "keeps its own visitor key, so a reason sent after its vote to another collector is dropped; give every "
        "collector the same secret")
