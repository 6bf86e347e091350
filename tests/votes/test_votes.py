"""The vote collector over HTTP: every rule's exact status code and stored rows, on both stores."""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import httpx
import pytest
from support import MANIFEST, LiveServer, utc, vote, write_site

import kb.votes.collector
from kb.cli.services import collector_services
from kb.votes.collector import create_app

UA = "Mozilla/5.0 (X11; Linux x86_64) kb-tests"
ORIGIN = "https://help.example.com"
NOW = utc(2026, 11, 23, 10, 15, 0, 250000)


@pytest.fixture
def clock(monkeypatch):
    """The collector's clock, fixed at NOW; `clock.set(dt)` moves it."""
    class Clock:
        value = NOW

        def set(self, value):
            self.value = value

    c = Clock()
    monkeypatch.setattr(kb.votes.collector, "now", lambda: c.value)
    return c


@pytest.fixture
def make_server(store, tmp_path):
    servers = []

    def make(**options):
        options.setdefault("rate_limit", 0)
        options.setdefault("origins", (ORIGIN,))
        site = write_site(tmp_path / "site")
        server = LiveServer(create_app(site, store, **{**collector_services(), **options})).__enter__()
        servers.append(server)
        server.site = site
        server.client = httpx.Client(base_url=server.url, headers={"User-Agent": UA}, timeout=15)
        return server

    yield make
    for server in servers:
        server.client.close()
        server.__exit__(None, None, None)


@pytest.fixture
def server(make_server):
    return make_server()


def post(server, path, body, **headers):
    content = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False).encode()
    headers.setdefault("Content-Type", "text/plain;charset=UTF-8")
    return server.client.post(path, content=content, headers=headers)


def test_vote_is_stored_exactly(server, store, clock):
    body = vote(vote_id="8C1F6F0E-5B7A-4C3E-9A57-2F1D0C9B8E71")
    r = post(server, "/api/votes", body)
    assert (r.status_code, r.content) == (204, b"")
    [row] = list(store.votes())
    visitor, address = row.pop("visitor"), row.pop("address")
    assert re.fullmatch(r"[0-9a-f]{16}", visitor) and re.fullmatch(r"[0-9a-f]{16}", address)
    assert address != visitor
    assert row == {"vote_id": "8c1f6f0e-5b7a-4c3e-9a57-2f1d0c9b8e71", "article": "reset-password",
                   "version": "3f2a9c1b", "helpful": False, "reason": "outdated",
                   "comment": "The Settings menu has moved.", "created_at": NOW, "language": None}


def test_json_content_type_and_helpful_yes(server, store, clock):
    r = server.client.post("/api/votes", json=vote(helpful=True, reason=None, comment=None))
    assert r.status_code == 204
    assert [(v["helpful"], v["reason"], v["comment"]) for v in store.votes()] == [(True, None, None)]


def test_repeated_vote_id_is_stored_once(server, store):
    body = vote()
    assert [post(server, "/api/votes", body).status_code for _ in range(3)] == [204, 204, 204]
    assert [v["vote_id"] for v in store.votes()] == [body["vote_id"]]


def test_body_over_2_kib_is_413(server, store):
    body = json.dumps(vote(comment="x" * 400))
    big = body[:-1] + ", " + json.dumps("p") + ": " + json.dumps("y" * (2049 - len(body))) + "}"
    assert len(big.encode()) > 2048
    r = post(server, "/api/votes", big)
    assert (r.status_code, r.json()) == (413, {"error": "body larger than 2048 bytes", "field": "body"})

    def chunks():  # no Content-Length: counted while it streams in
        for _ in range(5):
            yield b"x" * 500
    r = server.client.post("/api/votes", content=chunks(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 413
    assert list(store.votes()) == []


def test_500_characters_of_polish_fit(server, store):
    assert post(server, "/api/votes", vote(comment="ż" * 500)).status_code == 204
    assert next(store.votes())["comment"] == "ż" * 500


@pytest.mark.parametrize("body, field, error", [
    ("{not json", "body", None),
    ("[1, 2]", "body", "must be a JSON object, got array"),
    (vote(vote_id=None), "vote_id", "must be a string, got null"),
    ({k: v for k, v in vote().items() if k != "vote_id"}, "vote_id", "is required"),
    (vote(vote_id="12345"), "vote_id", "must be a UUID like 8c1f6f0e-5b7a-4c3e-9a57-2f1d0c9b8e71, got '12345'"),
    (vote(article="no-such-article"), "article", "unknown article id 'no-such-article' (not in the site manifest)"),
    (vote(version="00000000"), "version", "unknown version '00000000' of 'reset-password' (the site has '3f2a9c1b')"),
    (vote(reason="boring"), "reason", 'must be one of not_answered, unclear, outdated, incomplete, got "boring"'),
    (vote(helpful=True), "reason", "is only given with helpful: false"),
    (vote(helpful="no"), "helpful", "must be true or false, got string"),
    (vote(helpful=0), "helpful", "must be true or false, got integer"),
    (vote(comment="c" * 501), "comment", "must be at most 500 characters, got 501"),
    (vote(comment="nul\u0000"), "comment", "must not contain NUL characters"),
    (vote(comment=["a"]), "comment", "must be a string, got array"),
    (vote(rating=5), "rating", "unknown field"),
    (vote(website=1), "website", "must be a string, got integer"),
    ('{"vote_id": NaN}', "body", None),
])
def test_bad_fields_are_422_naming_the_field(server, store, body, field, error):
    r = post(server, "/api/votes", body)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/json"
    assert r.json()["field"] == field
    if error is not None:
        assert r.json()["error"] == error
    assert list(store.votes()) == []


def test_lone_surrogate_is_422(server, store):
    r = post(server, "/api/votes", json.dumps(vote(comment="\ud800")))
    assert (r.status_code, r.json()["field"]) == (422, "comment")


def test_honeypot_and_bots_get_204_and_nothing_stored(server, store):
    assert post(server, "/api/votes", vote(website="http://spam.example")).status_code == 204
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert post(server, "/api/votes", vote(), **{"User-Agent": bot}).status_code == 204
    assert post(server, "/api/votes", vote(), **{"User-Agent": ""}).status_code == 204
    assert post(server, "/api/searches", {"event_id": vote()["vote_id"], "query": "x", "results": 0,
                                          "website": "filled"}).status_code == 204
    assert list(store.votes()) == [] and list(store.searches()) == []


def test_rate_limit_per_visitor(make_server, store):
    server = make_server(rate_limit=3)
    codes = [post(server, "/api/votes", vote()).status_code for _ in range(4)]
    assert codes == [204, 204, 204, 429]
    r = post(server, "/api/votes", vote())
    assert (r.status_code, r.headers["retry-after"], r.json()) == (
        429, "20", {"error": "too many requests; try again later", "field": None})
    # Another browser on the same address is another visitor.
    assert post(server, "/api/votes", vote(), **{"User-Agent": UA + " other"}).status_code == 204
    # Each route has its own budget.
    assert post(server, "/api/searches", {"event_id": vote()["vote_id"], "query": "refund",
                                          "results": 0}).status_code == 204
    assert len(list(store.votes())) == 4


def test_visitor_hash_rotates_daily_and_never_stores_ip_or_agent(server, store, clock, store_url, tmp_path):
    probe = "Mozilla/5.0 kb-privacy-probe-7d1e"
    sent = [vote() for _ in range(4)]
    clock.set(utc(2026, 11, 23, 23, 59))
    post(server, "/api/votes", sent[0], **{"User-Agent": probe})
    post(server, "/api/votes", sent[1], **{"User-Agent": probe})
    post(server, "/api/votes", sent[2], **{"User-Agent": probe + "-b"})
    clock.set(utc(2026, 11, 24, 0, 1))
    post(server, "/api/votes", sent[3], **{"User-Agent": probe})
    by_id = {v["vote_id"]: v["visitor"] for v in store.votes()}
    visitors = [by_id[v["vote_id"]] for v in sent]
    assert visitors[0] == visitors[1]
    assert len({visitors[0], visitors[2], visitors[3]}) == 3
    for row in store.votes():
        assert probe not in json.dumps(row, default=str) and "127.0.0.1" not in json.dumps(row, default=str)
    if store_url.startswith("sqlite"):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("votes.db*"))
        assert b"kb-privacy-probe" not in raw and b"127.0.0.1" not in raw


def test_cors_only_for_configured_origins(server, store):
    r = post(server, "/api/votes", vote(), Origin=ORIGIN)
    assert (r.status_code, r.headers["access-control-allow-origin"], r.headers["vary"]) == (204, ORIGIN, "Origin")
    r = server.client.options("/api/votes", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                     "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 204
    assert (r.headers["access-control-allow-origin"], r.headers["access-control-allow-methods"],
            r.headers["access-control-allow-headers"]) == (ORIGIN, "POST", "Content-Type")
    r = post(server, "/api/votes", vote(), Origin="https://evil.example")
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    assert r.json() == {"error": "origin not allowed", "field": "Origin"}
    r = server.client.options("/api/votes", headers={"Origin": "https://evil.example",
                                                     "Access-Control-Request-Method": "POST"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    # The site served by the collector's own host (kb serve) needs no CORS at all.
    r = post(server, "/api/votes", vote(), Origin=server.url)
    assert r.status_code == 204 and "access-control-allow-origin" not in r.headers
    assert len(list(store.votes())) == 2


def test_votes_searches_and_contacts_carry_language_and_channel(server, store, clock):
    assert post(server, "/api/votes", vote(language="pl")).status_code == 204
    sid, cid = vote()["vote_id"], vote()["vote_id"]
    assert post(server, "/api/searches", {"event_id": sid, "query": "zwrot", "results": 0, "language": "pl",
                                          "channel": "mcp"}).status_code == 204
    assert post(server, "/api/contacts", {"event_id": cid, "channel": "Czat", "language": "pl"}).status_code == 204
    assert [v["language"] for v in store.votes()] == ["pl"]
    assert [(s["language"], s["channel"]) for s in store.searches()] == [("pl", "mcp")]
    assert [c["language"] for c in store.contacts()] == ["pl"]
    r = post(server, "/api/votes", vote(language="polish language"))
    assert (r.status_code, r.json()) == (422, {"error": 'must look like en or pt-BR, got "polish language"',
                                               "field": "language"})
    r = post(server, "/api/searches", {"event_id": vote()["vote_id"], "query": "x", "results": 0, "channel": "Web!"})
    assert (r.status_code, r.json()["field"]) == (422, "channel")


def test_searches_and_contacts(server, store, clock):
    sid, cid = vote()["vote_id"], vote()["vote_id"]
    assert post(server, "/api/searches", {"event_id": sid, "query": "zwrot pieniędzy", "results": 0,
                                          "article": None}).status_code == 204
    assert post(server, "/api/contacts", {"event_id": cid, "channel": "Chat with us",
                                          "article": "track-order", "query": "parcel late"}).status_code == 204
    r = post(server, "/api/contacts", {"event_id": cid, "channel": "Chat", "article": "nope"})
    assert (r.status_code, r.json()["field"]) == (422, "article")
    r = post(server, "/api/searches", {"event_id": sid, "query": "x", "results": -1})
    assert (r.status_code, r.json()) == (422, {"error": "must be between 0 and 1000000, got -1", "field": "results"})
    [s] = list(store.searches())
    [c] = list(store.contacts())
    s.pop("visitor"), c.pop("visitor")
    assert s.pop("address") == c.pop("address")  # one client address, hashed under the day's key
    assert s == {"event_id": sid, "query": "zwrot pieniędzy", "results": 0, "article": None, "created_at": NOW,
                 "language": None, "channel": "web"}
    assert c == {"event_id": cid, "channel": "Chat with us", "article": "track-order", "query": "parcel late",
                 "created_at": NOW, "language": None}


def test_manifest_is_reloaded_when_the_site_is_rebuilt(server, store, monkeypatch):
    assert post(server, "/api/votes", vote(version="3f2a9c1b")).status_code == 204
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["articles"][0]["version"] = "99990000"
    write_site(server.site, manifest)
    # A version the intake has not seen yet makes it read the manifest at once.
    assert post(server, "/api/votes", vote(version="99990000")).status_code == 204
    assert post(server, "/api/votes", vote(version="3f2a9c1b")).status_code == 422
    # What it knows it trusts for MANIFEST_RECHECK seconds; here that time has passed.
    monkeypatch.setattr("kb.votes.collector.MANIFEST_RECHECK", 0.0)
    (server.site / "kb-manifest.json").unlink()
    r = post(server, "/api/votes", vote(version="99990000"))
    assert r.status_code == 503
    assert server.client.get("/healthz").json() == {"status": "failing", "store": "ok", "site": "no manifest",
                                                    "articles": None}
    assert len(list(store.votes())) == 2


def test_healthz_and_openapi(server):
    r = server.client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok", "store": "ok", "site": "ok", "articles": 2})
    spec = server.client.get("/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    assert sorted(spec["paths"]) == ["/api/contacts", "/api/export", "/api/report", "/api/search",
                                     "/api/searches", "/api/votes", "/healthz"]


def test_admin_routes_need_a_configured_token(make_server):
    off = make_server()
    assert off.client.get("/api/report").status_code == 404
    assert off.client.get("/api/report", headers={"Authorization": "Bearer anything"}).status_code == 404
    on = make_server(admin_token="s3cret-token")
    r = on.client.get("/api/report")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    assert on.client.get("/api/report", headers={"Authorization": "Basic czNjcmV0"}).status_code == 401
    assert on.client.get("/api/report", headers={"Authorization": "Bearer wrong"}).status_code == 403
    r = on.client.get("/api/report", headers={"Authorization": "Bearer s3cret-token"})
    assert r.status_code == 200
    assert sorted(a["id"] for a in r.json()["articles"]) == ["reset-password", "track-order"]


def _slow(port: int, payload: bytes, delay: float, out: dict, key: str) -> None:
    started = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(30)
    try:
        for i in range(40):
            if i < len(payload):
                s.sendall(payload[i:i + 1])
            time.sleep(delay)
            # A closed connection shows up as a failed send or an empty read.
            s.setblocking(False)
            try:
                if s.recv(4096) == b"":
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            finally:
                s.setblocking(True)
    except OSError:
        pass
    finally:
        out[key] = time.monotonic() - started
        s.close()


@pytest.fixture(params=["httptools", "h11"])
def sqlite_server(request, tmp_path):
    """A collector on SQLite only (for rules that live in the server), under each HTTP parser."""
    from kb.votes.store import open_store
    from kb.votes.server import DeadlineH11Protocol, DeadlineHttpToolsProtocol

    protocol = DeadlineHttpToolsProtocol if request.param == "httptools" else DeadlineH11Protocol
    if protocol is None:
        pytest.skip("httptools is not installed")
    s = open_store(f"sqlite:///{tmp_path}/votes.db")
    s.migrate()
    with LiveServer(create_app(write_site(tmp_path / "site"), s, rate_limit=0), http=protocol) as server:
        server.client = httpx.Client(base_url=server.url, headers={"User-Agent": UA}, timeout=15)
        yield server
        server.client.close()
    s.close()


def test_slow_clients_are_cut_off_within_10_seconds(sqlite_server):
    """Slowloris: a body byte per second, headers a byte per second, and a silent connection."""
    server = sqlite_server
    body = json.dumps(vote()).encode()
    head = (f"POST /api/votes HTTP/1.1\r\nHost: x\r\nUser-Agent: {UA}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    out: dict = {}
    threads = [
        threading.Thread(target=_slow, args=(server.port, b"", 1.0, out, "silent")),
        threading.Thread(target=_slow, args=(server.port, head * 2, 1.0, out, "headers")),
    ]

    def slow_body() -> None:
        started = time.monotonic()
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(head)
        try:
            for i in range(40):
                s.sendall(body[i:i + 1])
                time.sleep(1.0)
        except OSError:
            pass
        out["body"] = time.monotonic() - started
        s.close()

    threads.append(threading.Thread(target=slow_body))
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    assert set(out) == {"silent", "headers", "body"}
    assert all(seconds < 12.5 for seconds in out.values()), out
    # A normal client is unaffected afterwards.
    assert post(server, "/api/votes", vote()).status_code == 204


def test_admin_export_streams_rows(make_server, store, clock):
    server = make_server(admin_token="s3cret-token")
    body = vote(vote_id="8c1f6f0e-5b7a-4c3e-9a57-2f1d0c9b8e71")
    assert post(server, "/api/votes", body).status_code == 204
    assert server.client.get("/api/export").status_code == 401
    assert server.client.get("/api/export", headers={"Authorization": "Bearer nope"}).status_code == 403
    auth = {"Authorization": "Bearer s3cret-token"}
    r = server.client.get("/api/export", headers=auth)
    assert (r.status_code, r.headers["content-type"]) == (200, "application/x-ndjson; charset=utf-8")
    [line] = [json.loads(x) for x in r.text.splitlines()]
    assert {k: v for k, v in line.items() if k not in ("visitor", "address")} == {
        "vote_id": "8c1f6f0e-5b7a-4c3e-9a57-2f1d0c9b8e71", "article": "reset-password", "version": "3f2a9c1b",
        "helpful": False, "reason": "outdated", "comment": "The Settings menu has moved.",
        "created_at": "2026-11-23T10:15:00.250000+00:00", "language": None}
    r = server.client.get("/api/export?table=searches&format=csv", headers=auth)
    assert (r.status_code, r.text) == (200, "event_id,query,results,article,visitor,created_at,language,channel,address\r\n")
    r = server.client.get("/api/export?table=passwords", headers=auth)
    assert (r.status_code, r.json()) == (422, {"error": "must be votes, searches or contacts", "field": "table"})


def test_connections_over_the_cap_get_503(store, tmp_path):
    from kb.votes.server import MAX_CONNECTIONS

    assert MAX_CONNECTIONS == 1000
    with LiveServer(create_app(write_site(tmp_path / "site"), store, rate_limit=0), limit_concurrency=2) as server:
        port = int(server.url.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            time.sleep(0.2)
            r = httpx.get(f"{server.url}/healthz", timeout=10)
            assert (r.status_code, r.text) == (503, "Service Unavailable")
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.2)
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
