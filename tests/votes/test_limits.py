"""The collector's smaller limits: the search API's `limit`, wrong admin tokens, connections per
client address, and slow clients that try to hold every connection."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from support import LiveServer, free_port, write_search_index, write_site

from kb.cli.services import collector_services
from kb.votes.collector import create_app

UA = "Mozilla/5.0 (X11; Linux x86_64) kb-limits-tests"
KB = [sys.executable, "-c", "import kb.cli.votes; from kb.cli import main; main(prog_name='kb')"]


@pytest.fixture
def sqlite_store(tmp_path):
    from kb.votes.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/votes.db")
    store.migrate()
    yield store
    store.close()


@pytest.mark.parametrize("limit", ["²", "٣", "9" * 5000, "-1", "0", "51", " 5", "5.0", ""])
def test_a_limit_that_is_not_1_to_50_in_ascii_digits_is_422(sqlite_store, tmp_path, limit):
    site = write_search_index(write_site(tmp_path / "site"))
    with LiveServer(create_app(site, sqlite_store, rate_limit=0, **collector_services())) as server:
        r = httpx.get(f"{server.url}/api/search", params={"q": "password", "limit": limit}, timeout=10)
        assert (r.status_code, r.json()["field"]) == (422, "limit")
        assert r.json()["error"].startswith("must be a whole number from 1 to 50, got ")
        assert len(r.text) < 200  # a 5,000-digit limit is not echoed whole
        assert httpx.get(f"{server.url}/api/search", params={"q": "password", "limit": "50"}).status_code == 200


def test_wrong_admin_tokens_are_throttled_per_address(sqlite_store, tmp_path):
    site = write_site(tmp_path / "site")
    with LiveServer(create_app(site, sqlite_store, rate_limit=0, admin_token="right-token",
                               **collector_services())) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            def report(token: str, address: str = "203.0.113.9") -> httpx.Response:
                # The test's peer, 127.0.0.1, is the trusted proxy: it names the client.
                return client.get("/api/report", headers={"Authorization": f"Bearer {token}",
                                                          "X-Forwarded-For": address})

            codes = [report(f"guess-{i}").status_code for i in range(300)]
            assert codes == [403] * 10 + [429] * 290
            throttled = report("right-token")  # while throttled, the right token is no different
            assert (throttled.status_code, throttled.headers["retry-after"], throttled.json()) == (
                429, "6", {"error": "too many wrong tokens from this address; try again later", "field": None})
            assert client.get("/api/report", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 401
            assert report("right-token", "198.51.100.4").status_code == 200  # another address


def test_wrong_admin_tokens_naming_a_new_address_each_are_throttled_at_their_proxy(sqlite_store, tmp_path):
    """The address behind a trusted proxy is what X-Forwarded-For says: anyone who reaches the
    collector through the proxy (or from the proxy's own machine, where the operator reads the
    report) can name a new one with every guess. The proxy's clients together get 100 a minute."""
    site = write_site(tmp_path / "site")
    with LiveServer(create_app(site, sqlite_store, rate_limit=0, admin_token="right-token",
                               **collector_services())) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            codes = [client.get("/api/report", headers={"Authorization": f"Bearer guess-{i}",
                                                        "X-Forwarded-For": f"203.0.{i // 256}.{i % 256}"}).status_code
                     for i in range(300)]
            # The budget refills evenly (100 a minute): of the 200 after it, one may slip in now and then.
            assert codes[:100] == [403] * 100 and codes[100] == 429 and codes.count(403) < 110
            # Another collector's peer, not a proxy it trusts, is its own address: not throttled.
            other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=10)
            assert other.get(f"{server.url}/api/report", headers={"Authorization": "Bearer right-token"}).status_code == 200


def _connect_from(address: str, port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(address, 0))


def test_connections_past_the_cap_from_one_address_get_429(sqlite_store, tmp_path):
    site = write_site(tmp_path / "site")
    app = create_app(site, sqlite_store, rate_limit=0)
    with LiveServer(app, per_address=5, exempt=app.state.collector.proxies.trusted) as server:
        held = [_connect_from("127.0.0.2", server.port) for _ in range(5)]
        try:
            refused = _connect_from("127.0.0.2", server.port)
            answer = refused.recv(4096)
            refused.close()
            assert answer.split(b"\r\n")[0] == b"HTTP/1.1 429 Too Many Requests"
            assert answer.endswith(b'{"error":"too many connections from this address; try again","field":null}')
            other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=10)
            assert other.get(f"{server.url}/healthz").status_code == 200  # another address
            # The trusted proxy (127.0.0.1) is not capped: its clients share its address.
            proxy = [_connect_from("127.0.0.1", server.port) for _ in range(8)]
            assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
            for sock in proxy:
                sock.close()
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.2)
        again = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10)
        assert again.get(f"{server.url}/healthz").status_code == 200


def test_1050_slow_connections_from_one_address_lock_nobody_out(tmp_path):
    """The field report: 1,050 connections that trickle their headers, straight to `kb votes
    serve`, made it answer 503 to 21 of 22 normal requests. Now the address's 50 are held and
    the rest refused at once; every normal request from elsewhere is answered."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    site = write_site(tmp_path / "site")
    port = free_port()
    proc = subprocess.Popen([*KB, "votes", "serve", "--site", str(site), "--db", f"sqlite:///{tmp_path}/v.db",
                             "--port", str(port), "--rate-limit", "0"], stderr=subprocess.PIPE, text=True)
    slow: list[socket.socket] = []
    try:
        normal = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15, headers={"User-Agent": UA},
                              transport=httpx.HTTPTransport(local_address="127.0.0.3", retries=0))
        deadline = time.monotonic() + 20
        while True:
            try:
                if normal.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.1)
        for _ in range(1050):
            sock = _connect_from("127.0.0.2", port)
            sock.setblocking(False)
            try:
                sock.send(b"POST /api/votes HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            except OSError:
                pass
            slow.append(sock)
        time.sleep(0.5)
        answers = []
        for i in range(22):
            if i % 2:
                answers.append(normal.get("/healthz").status_code)
            else:
                body = {"vote_id": str(uuid.uuid4()), "article": "track-order", "version": "aa11bb22", "helpful": True}
                answers.append(normal.post("/api/votes", content=json.dumps(body)).status_code)
        assert answers == [204, 200] * 11
    finally:
        for sock in slow:
            sock.close()
        proc.terminate()
        proc.wait(30)


def test_one_ipv6_network_is_one_sender_for_the_per_address_rules(sqlite_store, tmp_path):
    """A home or a phone gets a whole IPv6 /64 and may send from any of its addresses: the budget
    per client address, and the address the report caps votes by, are the /64's."""
    site = write_site(tmp_path / "site")
    with LiveServer(create_app(site, sqlite_store, rate_limit=100, address_rate_limit=5)) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            def vote(address: str, n: int) -> int:
                body = {"vote_id": str(uuid.uuid4()), "article": "track-order", "version": "aa11bb22", "helpful": False}
                return client.post("/api/votes", content=json.dumps(body),
                                   headers={"User-Agent": f"{UA} {n}", "X-Forwarded-For": address}).status_code

            assert [vote(f"2001:db8:7:1::{n:x}", n) for n in range(1, 8)] == [204] * 5 + [429] * 2
            assert vote("2001:db8:7:2::1", 8) == 204  # the next /64 is another sender
            assert [vote(a, 9 + n) for n, a in enumerate(["198.51.100.7", "::ffff:198.51.100.7"] * 3)] == \
                [204] * 5 + [429]  # an IPv4 address written as IPv6 is that address
    addresses = [v["address"] for v in sqlite_store.votes()]
    assert len(addresses) == 11 and len(set(addresses[:5])) == 1 and len(set(addresses)) == 3


def test_the_sender_of_an_address():
    from kb.votes.visitors import sender

    assert [sender(a) for a in ("192.0.2.1", "2001:db8:1:2:3:4:5:6", "2001:DB8:1:2::9", "::ffff:192.0.2.1", "x")] == [
        "192.0.2.1", "2001:db8:1:2::/64", "2001:db8:1:2::/64", "192.0.2.1", "x"]
