"""`kb bench search --api`: the collector's GET /api/search timed over HTTP at a large help center.

The data set is grown to `scale` articles, its index and answers file written into a site folder
as the build writes them, and the real collector (`kb votes serve`, rate limit off) started in
its own process; the timings are the whole HTTP round trip on 127.0.0.1 from one kept-alive
connection, so the collector's own share is below them.

No query is sent before the timed ones. The collector parses and prepares the site in the
background from its start (kb/channels/answers.py, `prepare_site`); the bench waits until that is
done (the collector's CPU time stops growing) and reports how long it took, so the timings are
those of a collector that has been running for that long, whatever it was asked before.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

from kb.bench.datasets import Dataset
from kb.channels.llms import SiteInfo, write_bot_files
from kb.manifest import build_manifest, write_manifest
from kb.search.index import build_index, write_index

QUIET_S = 1.0  # the collector counts as prepared once its CPU time grew by under IDLE_CPU_S in this long
IDLE_CPU_S = 0.03
PREPARE_TIMEOUT_S = 300


class ApiBenchError(Exception):
    """The collector did not start or answered with an error."""


def bench_api(ds: Dataset, log: Callable[[str], None], queries: int = 1000, language: str = "en") -> dict[str, float]:
    """p50/p95/p99 ms of GET /api/search over `queries` of the set's queries, and the article count."""
    with tempfile.TemporaryDirectory(prefix="kb-bench-api-") as tmp:
        site = Path(tmp) / "site"
        log(f"{ds.name}: writing the index and answers file of {len(ds.articles)} articles")
        write_index(build_index(ds.articles, language=language), site)
        write_bot_files(site, ds.articles, {}, {a.id: a.url for a in ds.articles},
                        SiteInfo(name=ds.name, contact=({"name": "Chat", "url": "https://example.com/chat"},)))
        write_manifest(site, build_manifest(ds.articles, ds.name))
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "kb", "votes", "serve", "--site", str(site),
                                   "--db", f"sqlite:///{tmp}/votes.db", "--port", str(port), "--rate-limit", "0"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            started = time.monotonic()
            _connect(port, server).close()
            ready_s = _wait_until_idle(server.pid, started)
            connection = _connect(port, server)  # a new one: the collector closes connections idle for 5 s
            log(f"{ds.name}: the collector prepared the site in the background in {ready_s:.1f} s from its start; "
                f"timing now, with no query sent before")
            asked = [q.query for q in ds.queries][:queries] or [a.title for a in ds.articles[:queries]]
            times = []
            for q in asked:
                start = time.perf_counter()
                _get(connection, q)
                times.append((time.perf_counter() - start) * 1000)
        finally:
            server.terminate()
            server.wait(10)
    times.sort()
    pick = lambda share: times[min(len(times) - 1, int(share * len(times)))]  # noqa: E731
    return {"articles": len(ds.articles), "queries": len(times), "p50_ms": round(pick(0.5), 3),
            "p95_ms": round(pick(0.95), 3), "p99_ms": round(pick(0.99), 3), "prepared_after_s": round(ready_s, 1),
            "warm_up": "none: timed once the collector had prepared the site by itself after its start"}


def _cpu_seconds(pid: int) -> float | None:
    """The process's user + system CPU time so far (Linux /proc), or None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_idle(pid: int, started: float) -> float:
    """Wait until the process's CPU time grew by under IDLE_CPU_S in QUIET_S (it has finished what it
    does by itself at start); seconds since `started`. Without /proc, waits PREPARE_TIMEOUT_S / 10."""
    if _cpu_seconds(pid) is None:
        time.sleep(PREPARE_TIMEOUT_S / 10)
        return time.monotonic() - started
    seen: list[tuple[float, float]] = []
    while time.monotonic() - started < PREPARE_TIMEOUT_S:
        now, cpu = time.monotonic(), _cpu_seconds(pid)
        if cpu is None:
            raise ApiBenchError("the collector exited while preparing the site")
        seen.append((now, cpu))
        past = [c for t, c in seen if now - t >= QUIET_S]
        if past and cpu - past[-1] < IDLE_CPU_S:
            return now - QUIET_S - started
        time.sleep(0.1)
    raise ApiBenchError(f"the collector was still busy {PREPARE_TIMEOUT_S} s after its start")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _connect(port: int, server: subprocess.Popen) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ApiBenchError(f"the collector exited: {server.stderr.read() if server.stderr else ''}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return connection
        except OSError:
            time.sleep(0.1)
    raise ApiBenchError("the collector did not start within 60 s")


def _get(connection: http.client.HTTPConnection, query: str) -> dict:
    connection.request("GET", "/api/search?" + urlencode({"q": query[:200], "channel": "bench"}),
                       headers={"User-Agent": "kb-bench"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise ApiBenchError(f"GET /api/search answered {response.status}: {body[:300]!r}")
    return json.loads(body)
