"""`kb bench votes`: load over loopback, then SIGKILL the collector under load and count losses.

The load generator is plain asyncio over raw keep-alive sockets (no HTTP library), so on a
2-core machine it leaves the server as much CPU as it can. The collector runs in its own
process, as `kb votes serve` runs it (its per-address connection cap included; only the rate
limit is off). With a proxy, nginx runs with the configuration the README shows
(kb/assets/deploy/nginx.conf) in front of several collectors on one database.

Both refuse more than a few connections from one client address (the collector 50, nginx 20 at
once to the API), so load from one address measures the limit, not the throughput: above 20
connections through nginx, votes were answered 429. Customers come from many addresses,
so the load generator binds its connections to loopback addresses from 127.0.0.2 on, a few
connections each, as browsers hold them. (127.0.0.1 is the proxy's address, which the collector
trusts and exempts from its cap.) A 429 is counted apart: a refusal, never an acknowledged vote.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb.manifest import write_manifest
from kb.votes.schema import MAX_CONNECTIONS_PER_ADDRESS
from kb.votes.store import open_store

ARTICLES = 50
#: Connections the load generator opens from one client address by default: a browser holds at
#: most 6 to one host.
CONNECTIONS_PER_ADDRESS = 6
#: The first loopback address clients send from (127.0.0.1 is the proxy's, trusted and exempt).
FIRST_CLIENT_ADDRESS = ipaddress.IPv4Address("127.0.0.2")


@dataclass
class LoadResult:
    """What one load run saw from the client side."""

    acknowledged: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    refused: int = 0  # answered 429 (a per-address limit): not acknowledged
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def bench_manifest() -> dict:
    """A synthetic site manifest the bench votes refer to."""
    return {"version": 1, "site_name": "kb bench", "generated_at": "2026-01-01T00:00:00Z",
            "articles": [{"id": f"bench-{i}", "version": f"{i:08x}", "title": f"Bench {i}",
                          "url": f"bench-{i}/", "category": "", "owner": None, "reviewed": None,
                          "review_every": None} for i in range(ARTICLES)]}


def _request(port: int, n: int) -> tuple[str, bytes]:
    vote_id = str(uuid.uuid4())
    body = json.dumps({"vote_id": vote_id, "article": f"bench-{n % ARTICLES}",
                       "version": f"{n % ARTICLES:08x}", "helpful": n % 3 != 0,
                       "reason": "unclear" if n % 3 == 0 else None, "comment": None,
                       "website": ""}).encode()
    head = (f"POST /api/votes HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"User-Agent: Mozilla/5.0 (kb bench {n % 97})\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return vote_id, head + body


def client_addresses(connections: int, per_address: int = CONNECTIONS_PER_ADDRESS) -> list[str]:
    """The loopback address each of `connections` sends from: `per_address` to an address, from
    127.0.0.2 on."""
    return [str(FIRST_CLIENT_ADDRESS + i // per_address) for i in range(connections)]


def check_addresses(addresses: list[str]) -> None:
    """RuntimeError naming the first of `addresses` this machine cannot send from."""
    for address in sorted(set(addresses), key=ipaddress.IPv4Address):
        try:
            with socket.socket() as s:
                s.bind((address, 0))
        except OSError as exc:
            raise RuntimeError(
                f"cannot send from {address} ({exc.strerror}): the load comes from loopback addresses "
                f"{addresses[0]} to {addresses[-1]}, which Linux routes to the loopback interface; "
                "elsewhere add them to it (macOS: sudo ifconfig lo0 alias 127.0.0.2 up, and so on)") from None


def _retry_after(head: bytes) -> float:
    """Seconds a 429's Retry-After asks for (1 when it says nothing usable)."""
    for line in head.split(b"\r\n"):
        if line[:12].lower() == b"retry-after:":
            try:
                return max(0.0, float(line[12:]))
            except ValueError:
                break
    return 1.0


async def _wait(seconds: float, stop_at: float) -> None:
    """Sleep `seconds`, or until `stop_at` if that comes first."""
    await asyncio.sleep(min(seconds, max(0.0, stop_at - time.perf_counter())))


async def _client(port: int, stop_at: float, result: LoadResult, offset: int, address: str) -> None:
    """One client sending votes one after another on a keep-alive connection from `address`,
    until `stop_at`.

    Like a browser, it opens a new connection when the server closes its own (nginx does after
    `keepalive_requests`, 1,000 by default, saying "Connection: close"). A vote whose answer never
    came is not acknowledged; the client then connects again while time is left, and stops when
    nothing accepts its connection (the collector it talks to was killed). A 429 is a refusal:
    the client waits as its Retry-After says (1 s without one), as the widget waits, and goes on
    with the next vote.
    """
    n = offset
    while time.perf_counter() < stop_at:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
        except OSError:
            result.errors += 1
            return
        pause = 0.0
        try:
            while time.perf_counter() < stop_at:
                vote_id, request = _request(port, n)
                n += 1
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = head[9:12]
                length = 0
                closing = False
                for line in head.split(b"\r\n"):
                    lower = line.lower()
                    if lower[:15] == b"content-length:":
                        length = int(line[15:])
                    elif lower[:11] == b"connection:" and b"close" in lower:
                        closing = True
                if length:
                    await reader.readexactly(length)
                if status == b"204":
                    result.latencies.append(time.perf_counter() - started)
                    result.acknowledged.append(vote_id)
                elif status == b"429":
                    result.refused += 1
                    pause = _retry_after(head)
                else:
                    result.errors += 1
                if closing:
                    break
                if pause:
                    await _wait(pause, stop_at)
                    pause = 0.0
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            result.errors += 1  # the connection went away mid-request: this vote was never acknowledged
        finally:
            writer.close()
        if pause:  # refused and closed (the collector's cap): wait before connecting again
            await _wait(pause, stop_at)


async def _load(port: int, seconds: float, connections: int, per_address: int = CONNECTIONS_PER_ADDRESS) -> LoadResult:
    result = LoadResult()
    started = time.perf_counter()
    stop_at = started + seconds
    addresses = client_addresses(connections, per_address)
    tasks = [asyncio.create_task(_client(port, stop_at, result, i * 1_000_000, address))
             for i, address in enumerate(addresses)]
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    return result


def run_load(port: int, seconds: float, connections: int, per_address: int = CONNECTIONS_PER_ADDRESS) -> LoadResult:
    """Send votes over `connections` keep-alive sockets for `seconds`, `per_address` of them from
    each loopback address (127.0.0.2 on)."""
    return asyncio.run(_load(port, seconds, connections, per_address))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_collector(site: Path, db_url: str, port: int) -> subprocess.Popen:
    """The collector in its own process, as `kb votes serve` runs it; waits until it answers."""
    code = ("import sys; from kb.bench.votes import serve_for_bench; "
            "serve_for_bench(sys.argv[1], sys.argv[2], int(sys.argv[3]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(site), db_url, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return _answering(proc, port, "collector")


def _answering(proc: subprocess.Popen, port: int, name: str) -> subprocess.Popen:
    """`proc` once it accepts connections on `port` (20 s at most); RuntimeError with its stderr else."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {proc.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{name} did not start within 20 s")


NGINX_CONF = Path(__file__).resolve().parent.parent / "assets" / "deploy" / "nginx.conf"


def nginx_config(site: Path, listen: int, collectors: list[int], run_dir: Path, template: str | None = None) -> str:
    """The shipped nginx.conf with its marked lines (listen, site, upstreams, run paths) changed."""
    text = NGINX_CONF.read_text(encoding="utf-8") if template is None else template
    upstreams = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in collectors)
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if "server 127.0.0.1:8001 " in line)
    second = next(i for i, line in enumerate(lines) if "server 127.0.0.1:8002 " in line)
    text = "\n".join(lines[:first] + [upstreams] + lines[second + 1:]) + "\n"
    for old, new in {
        "listen 80;": f"listen 127.0.0.1:{listen};",
        "alias /srv/help/site/;": f"alias {site}/;",
        "pid /run/nginx.pid;": f"pid {run_dir}/nginx.pid;",
        "error_log /var/log/nginx/error.log warn;": f"error_log {run_dir}/error.log warn;",
        "client_body_temp_path /var/lib/nginx/body;": f"client_body_temp_path {run_dir}/body;",
        "proxy_temp_path /var/lib/nginx/proxy;": f"proxy_temp_path {run_dir}/proxy;",
    }.items():
        if text.count(old) != 1:
            raise RuntimeError(f"{NGINX_CONF}: expected the line {old!r} once")
        text = text.replace(old, new)
    return text


def start_nginx(conf: Path, run_dir: Path, port: int) -> subprocess.Popen:
    """nginx in the foreground with `conf`; waits until it answers on `port`."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(run_dir), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return _answering(proc, port, "nginx")


def _sources(connections: int, per_address: int) -> str:
    """'8 connections from 2 addresses (127.0.0.2-127.0.0.3)', for the progress lines."""
    addresses = client_addresses(connections, per_address)
    count = len(set(addresses))
    span = addresses[0] if count == 1 else f"{addresses[0]}-{addresses[-1]}"
    return f"{connections} connections from {count} address{'es' if count > 1 else ''} ({span})"


def bench_proxy(db_url: str, *, instances: int, seconds: float, connections: int,
                per_address: int = CONNECTIONS_PER_ADDRESS, kills: int = 3,
                progress: Callable[[str], None] = lambda _: None) -> BenchFigures:
    """As bench_store, through nginx to `instances` collectors on one database; each kill takes
    down one collector (restarted afterwards) while nginx sends its votes to the others."""
    check_addresses(client_addresses(connections, per_address))
    with tempfile.TemporaryDirectory(prefix="kb-bench-proxy-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx's workers (www-data) read nothing here but must not be refused
        site = root / "site"
        site.mkdir(mode=0o755)
        write_manifest(site, bench_manifest())
        store = open_store(db_url)
        store.migrate()
        ports = [_free_port() for _ in range(instances)]
        procs = [start_collector(site, db_url, port) for port in ports]
        run_dir = root / "nginx"
        run_dir.mkdir()
        listen = _free_port()
        (run_dir / "nginx.conf").write_text(nginx_config(site, listen, ports, run_dir), encoding="utf-8")
        proxy = start_nginx(run_dir / "nginx.conf", run_dir, listen)
        try:
            run_load(listen, 1.0, connections, per_address)  # warm up
            mid = sum(1 for _ in store.votes())
            progress(f"through nginx to {instances} collectors: {_sources(connections, per_address)} "
                     f"for {seconds:g} s")
            load_average = os.getloadavg()[0]
            load = run_load(listen, seconds, connections, per_address)
            stored = sum(1 for _ in store.votes()) - mid
            stored_ids = {v["vote_id"] for v in store.votes()}
            missing = sum(1 for i in load.acknowledged if i not in stored_ids)
            acknowledged = refused = 0
            for k in range(kills):
                victim = k % instances
                kill_after = 1.0 + 0.37 * k
                progress(f"kill {k + 1}/{kills}: SIGKILL of collector {victim + 1} after {kill_after:.2f} s under load")

                async def crash(pid: int = procs[victim].pid) -> LoadResult:
                    loop = asyncio.get_running_loop()
                    loop.call_later(kill_after, lambda: os.kill(pid, signal.SIGKILL))
                    return await _load(listen, kill_after + 1.0, connections, per_address)

                result = asyncio.run(crash())
                procs[victim].wait(30)
                stored_ids = {v["vote_id"] for v in store.votes()}
                acknowledged += len(result.acknowledged)
                refused += result.refused
                missing += sum(1 for i in result.acknowledged if i not in stored_ids)
                procs[victim] = start_collector(site, db_url, ports[victim])
        finally:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(30)
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(30)
        integrity = store.check()
        store.close()
        return BenchFigures(
            store=f"nginx x{instances}", sent_per_s=len(load.acknowledged) / load.seconds,
            stored_per_s=stored / load.seconds, p50_ms=load.percentile(50), p99_ms=load.percentile(99),
            errors=load.errors, refused=load.refused, kills=kills, acknowledged_in_kills=acknowledged,
            refused_in_kills=refused, missing=missing, integrity=integrity, load_average=load_average)


def serve_for_bench(site: str, db_url: str, port: int) -> None:
    """Entry point of the collector process the bench starts: as `kb votes serve` with its
    defaults (connections per address capped, the proxy on 127.0.0.1 exempt), the rate limit off."""
    from kb.votes.collector import create_app
    from kb.votes.server import serve

    store = open_store(db_url)
    store.migrate()
    try:
        app = create_app(Path(site), store, rate_limit=0)
        serve(app, host="127.0.0.1", port=port, log_level="error", per_address=MAX_CONNECTIONS_PER_ADDRESS,
              exempt=app.state.collector.proxies.trusted, on_stop=store.close)
    finally:
        store.close()


@dataclass
class BenchFigures:
    """The printed figures of one store."""

    store: str
    sent_per_s: float
    stored_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    kills: int
    acknowledged_in_kills: int
    missing: int
    integrity: str
    refused: int = 0           # 429s in the load run
    refused_in_kills: int = 0  # 429s in the runs with a SIGKILL
    load_average: float = 0.0  # the machine's 1-minute load average as the load run started


def bench_store(db_url: str, *, seconds: float, connections: int, per_address: int = CONNECTIONS_PER_ADDRESS,
                kills: int = 3, progress: Callable[[str], None] = lambda _: None) -> BenchFigures:
    """Throughput and latency, then `kills` SIGKILLs under load with a durability check."""
    check_addresses(client_addresses(connections, per_address))
    with tempfile.TemporaryDirectory(prefix="kb-bench-votes-") as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        write_manifest(site, bench_manifest())
        if db_url == "sqlite":
            db_url = f"sqlite:///{Path(tmp) / 'votes.db'}"
        store = open_store(db_url)
        store.migrate()

        port = _free_port()
        proc = start_collector(site, db_url, port)
        try:
            run_load(port, 1.0, connections, per_address)  # warm up: imports, page cache, pool
            mid = sum(1 for _ in store.votes())
            progress(f"load: {_sources(connections, per_address)} for {seconds:g} s")
            load_average = os.getloadavg()[0]
            load = run_load(port, seconds, connections, per_address)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        stored = sum(1 for _ in store.votes()) - mid
        stored_ids = {v["vote_id"] for v in store.votes()}
        lost_in_load = sum(1 for i in load.acknowledged if i not in stored_ids)

        acknowledged = refused = 0
        missing = lost_in_load
        for k in range(kills):
            port = _free_port()
            proc = start_collector(site, db_url, port)
            kill_after = 1.0 + 0.37 * k
            progress(f"kill {k + 1}/{kills}: SIGKILL after {kill_after:.2f} s under load")

            async def crash() -> LoadResult:
                loop = asyncio.get_running_loop()
                loop.call_later(kill_after, lambda: os.kill(proc.pid, signal.SIGKILL))
                return await _load(port, kill_after + 1.0, connections, per_address)

            result = asyncio.run(crash())
            proc.wait(30)
            stored_ids = {v["vote_id"] for v in store.votes()}
            acknowledged += len(result.acknowledged)
            refused += result.refused
            missing += sum(1 for i in result.acknowledged if i not in stored_ids)
        integrity = store.check()
        store.close()
        return BenchFigures(
            store=db_url.split(":", 1)[0], sent_per_s=len(load.acknowledged) / load.seconds,
            stored_per_s=stored / load.seconds, p50_ms=load.percentile(50), p99_ms=load.percentile(99),
            errors=load.errors, refused=load.refused, kills=kills, acknowledged_in_kills=acknowledged,
            refused_in_kills=refused, missing=missing, integrity=integrity, load_average=load_average)


class PostgresScratch:
    """A fresh schema in the given PostgreSQL database, dropped afterwards (bench data stays out)."""

    def __init__(self, url: str) -> None:
        self.base = url
        self.schema = "kb_bench_" + uuid.uuid4().hex[:10]

    def __enter__(self) -> str:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
        sep = "&" if "?" in self.base else "?"
        return f"{self.base}{sep}options=-csearch_path%3D{self.schema}"

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {self.schema} CASCADE")
