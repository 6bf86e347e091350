"""`kb bench votes`'s plumbing: the load comes from several loopback addresses, within the
collector's and nginx's per-address limits, and a 429 is counted as a refusal, never as a vote.
The real collector (and nginx, and PostgreSQL) run; no figure is asserted, only what was counted."""

from __future__ import annotations

import concurrent.futures
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import missing_service

from kb.bench.votes import (bench_manifest, bench_proxy, client_addresses, run_load, start_collector)
from kb.manifest import write_manifest
from kb.votes.schema import MAX_CONNECTIONS_PER_ADDRESS
from kb.votes.store import open_store

KB = [sys.executable, "-c", "import kb.cli.votes; from kb.cli import main; main(prog_name='kb')"]


def test_connections_are_spread_over_loopback_addresses_from_127_0_0_2():
    assert client_addresses(13, 6) == ["127.0.0.2"] * 6 + ["127.0.0.3"] * 6 + ["127.0.0.4"]
    assert client_addresses(3, 1) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert client_addresses(300, 1)[-1] == "127.0.1.45"  # past 255 the next octet counts on


def _in_a_thread(function, *args, **kwargs):
    """`function`'s result, called in a thread of its own: the bench runs its own event loop, as in
    `kb bench votes`, and the session's browser may hold one running in this thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def _stored(url: str) -> list[dict]:
    store = open_store(url)
    try:
        return list(store.votes())
    finally:
        store.close()


def test_the_load_comes_from_several_addresses_and_every_acknowledged_vote_is_stored(tmp_path, free_port):
    site = tmp_path / "site"
    site.mkdir()
    write_manifest(site, bench_manifest())
    url = f"sqlite:///{tmp_path}/votes.db"
    port = free_port()
    proc = start_collector(site, url, port)
    try:
        result = _in_a_thread(run_load, port, 1.0, 12, per_address=6)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    stored = _stored(url)
    assert (result.refused, result.errors) == (0, 0)
    assert result.acknowledged and {v["vote_id"] for v in stored} == set(result.acknowledged)
    assert len({v["address"] for v in stored}) == 2  # the collector saw 127.0.0.2 and 127.0.0.3


def test_past_the_collectors_cap_on_one_address_the_cli_counts_429s_apart(tmp_path):
    # Three connections more than the collector allows one address: each is answered 429 when it
    # connects, waits the second its Retry-After asks, and the run is over.
    connections = MAX_CONNECTIONS_PER_ADDRESS + 3
    run = subprocess.run([*KB, "bench", "votes", "--seconds", "1", "--connections", str(connections),
                          "--connections-per-address", str(connections)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["store", "stored/s", "p50", "ms", "p99", "ms", "errors", "429", "kills", "acked",
                                "missing", "load", "integrity"]
    row = lines[1].split()
    assert row[0] == "sqlite"
    errors, refused, kills, acked, missing = (int(x) for x in row[4:9])
    assert (errors, refused, kills, missing, row[10]) == (0, 3, 3, 0, "ok")
    assert re.fullmatch(r"\d+\.\d", row[9])
    assert acked > 0
    summary = re.fullmatch(r"sqlite: (\d+) votes answered 429 \(3 in the load run, (\d+) in the kill runs\): "
                           r"refused by a per-address connection limit, none counted as acknowledged", lines[2])
    assert summary and int(summary[1]) == 3 + int(summary[2])
    assert lines[3].startswith(f"targets: >= 1000 stored/s (SQLite), >= 2500 through nginx, p99 < 50 ms at 8 "
                               f"connections, 0 missing ({connections} connections from 1 address, 1 s; load: the "
                               "1-minute load average as each load run started, ")
    assert len(lines) == 4
    assert "kb bench votes: load: 53 connections from 1 address (127.0.0.2) for 1 s" in run.stderr


def test_through_nginx_more_connections_than_its_api_limit_get_no_429_from_several_addresses(pg_url):
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        missing_service("nginx is not installed (.ci/run installs nginx-light)")
    # 24 connections: above nginx's 20 at once per address on /api/, 6 from each of 4 addresses.
    progress: list[str] = []
    figures = _in_a_thread(bench_proxy, pg_url, instances=2, seconds=1.0, connections=24, kills=1,
                           progress=progress.append)
    assert (figures.refused, figures.refused_in_kills, figures.errors) == (0, 0, 0)
    assert (figures.missing, figures.integrity) == (0, "ok")
    assert figures.stored_per_s > 0 and figures.acknowledged_in_kills > 0
    assert progress[0] == ("through nginx to 2 collectors: 24 connections from 4 addresses "
                           "(127.0.0.2-127.0.0.5) for 1 s")
