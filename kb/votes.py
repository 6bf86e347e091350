"""The vote collector: a small ASGI app that checks votes, searches and contact clicks and stores them.

Every public route follows the same path: size limit, bot filter, JSON and field checks, honeypot,
site manifest, per-visitor rate limit, then one append to the store. A 204 is sent only after the
store has the row on disk (SQLite commits before the future resolves; PostgreSQL commits too).
Visitors are told apart by an HMAC of IP and user agent under a key that lives only in memory and
changes every UTC day, so neither is ever written anywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kb.store import Store

__all__ = ["REASONS", "MAX_BODY", "Collector", "create_app", "collector_routes", "now"]

REASONS = ("not_answered", "unclear", "outdated", "incomplete")
MAX_BODY = 2048             # bytes; a vote with a 500-character comment fits with room to spare
MAX_COMMENT = 500           # characters (code points), as the widget counts them
BODY_TIMEOUT = 10.0         # seconds to receive a whole body (the server also bounds headers)
MANIFEST_NAME = "kb-manifest.json"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN)

# Crawlers and scripted clients that execute JavaScript or replay forms; their "votes" are noise.
# A missing user agent counts too: every browser sends one.
_BOTS = re.compile(
    r"bot\b|bot/|crawler|spider|slurp|facebookexternalhit|embedly|preview|curl/|wget/|"
    r"python-requests|python-urllib|go-http-client|java/|scrapy|httpclient|phantomjs|lighthouse",
    re.IGNORECASE,
)


def now() -> datetime:
    """The current UTC time (the one clock the collector reads; tests move it)."""
    return datetime.now(timezone.utc)


class Invalid(Exception):
    """A request field the collector refuses; becomes a 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -------------------------------------------------------------------------------------------
# Site manifest


class Manifest:
    """SITE/kb-manifest.json, reloaded whenever the file changes (a rebuild swaps it)."""

    def __init__(self, site_dir: Path) -> None:
        self.path = Path(site_dir) / MANIFEST_NAME
        self._stamp: tuple[int, int] | None = None
        self._data: dict | None = None
        self._versions: dict[str, str] = {}
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._data, self._versions = None, None, {}
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                versions = {a["id"]: a["version"] for a in data["articles"]}
            except (OSError, ValueError, KeyError, TypeError):
                return  # half-written by a rebuild: keep the last good one, retry next request
            self._stamp, self._data, self._versions = stamp, data, versions

    def versions(self) -> dict[str, str] | None:
        """Article id -> current version, or None when the site has no manifest."""
        self._refresh()
        return self._versions if self._data is not None else None

    def data(self) -> dict | None:
        """The whole manifest, or None."""
        self._refresh()
        return self._data


# -------------------------------------------------------------------------------------------
# Visitors and rate limits


class Visitors:
    """Keyed hashes of IP + user agent; the key is random, in memory only, new each UTC day."""

    def __init__(self, clock: Callable[[], datetime] = now) -> None:
        self._clock = clock
        self._day: date | None = None
        self._key = b""

    def hash(self, ip: str, user_agent: str) -> str:
        """The visitor's pseudonym for today (16 hex digits)."""
        today = self._clock().date()
        if today != self._day:
            self._day, self._key = today, secrets.token_bytes(32)
        digest = hmac.new(self._key, f"{ip}\n{user_agent}".encode("utf-8", "replace"), hashlib.sha256)
        return digest.hexdigest()[:16]


class RateLimiter:
    """A token bucket per (route, visitor): `per_minute` requests, refilled evenly."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._swept = time.monotonic()

    def allow(self, kind: str, visitor: str) -> bool:
        """Take one token; False when the visitor has none left."""
        if self.per_minute <= 0:
            return True
        t = time.monotonic()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get((kind, visitor), (float(self.per_minute), t))
        tokens = min(float(self.per_minute), tokens + (t - last) * rate)
        allowed = tokens >= 1.0
        self._buckets[(kind, visitor)] = (tokens - 1.0 if allowed else tokens, t)
        if t - self._swept > 60:
            # Buckets idle for a minute are full again; forget them to bound memory.
            self._buckets = {k: v for k, v in self._buckets.items() if t - v[1] < 60}
            self._swept = t
        return allowed

    def retry_after(self) -> int:
        """Seconds until one token is back."""
        return max(1, math.ceil(60 / self.per_minute)) if self.per_minute > 0 else 0


# -------------------------------------------------------------------------------------------
# Field checks (kept in step with kb/votes_openapi.py)


def _text(body: dict, name: str, *, max_len: int, required: bool = False, min_len: int = 1) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(name, "is required" if name not in body else "must be a string, got null")
        return None
    if not isinstance(value, str):
        raise Invalid(name, f"must be a string, got {_kind(value)}")
    if len(value) < min_len:
        raise Invalid(name, "must not be empty")
    if len(value) > max_len:
        raise Invalid(name, f"must be at most {max_len} characters, got {len(value)}")
    if "\x00" in value:
        raise Invalid(name, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Invalid(name, "must be valid Unicode text (lone surrogate)") from exc
    return value


def _uuid(body: dict, name: str) -> str:
    value = _text(body, name, max_len=36, required=True)
    assert value is not None
    if not _UUID.match(value):
        raise Invalid(name, f"must be a UUID like 8c1f6f0e-5b7a-4c3e-9a57-2f1d0c9b8e71, got {value!r}")
    return value.lower()


def _kind(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def _only(body: dict, allowed: Iterable[str]) -> None:
    for key in body:
        if key not in allowed:
            raise Invalid(key, "unknown field")


def _honeypot(body: dict) -> bool:
    value = _text(body, "website", max_len=200, min_len=0)
    return bool(value)


def parse_vote(body: dict) -> dict:
    """The stored fields of a vote body, or Invalid naming the first bad field."""
    _only(body, ("vote_id", "article", "version", "helpful", "reason", "comment", "website"))
    row = {"vote_id": _uuid(body, "vote_id"),
           "article": _text(body, "article", max_len=200, required=True),
           "version": _text(body, "version", max_len=64, required=True)}
    helpful = body.get("helpful")
    if not isinstance(helpful, bool):
        raise Invalid("helpful", "is required" if "helpful" not in body
                      else f"must be true or false, got {_kind(helpful)}")
    row["helpful"] = helpful
    reason = body.get("reason")
    if reason is not None:
        if reason not in REASONS:
            raise Invalid("reason", f"must be one of {', '.join(REASONS)}, got {json.dumps(reason)}")
        if helpful:
            raise Invalid("reason", "is only given with helpful: false")
    row["reason"] = reason
    comment = _text(body, "comment", max_len=MAX_COMMENT, min_len=0)
    row["comment"] = comment if comment and comment.strip() else None
    return row


def parse_search(body: dict) -> dict:
    """The stored fields of a failed-search body."""
    _only(body, ("event_id", "query", "results", "article", "website"))
    row = {"event_id": _uuid(body, "event_id"),
           "query": _text(body, "query", max_len=200, required=True)}
    results = body.get("results")
    if not isinstance(results, int) or isinstance(results, bool):
        raise Invalid("results", "is required" if "results" not in body
                      else f"must be an integer, got {_kind(results)}")
    if not 0 <= results <= 1_000_000:
        raise Invalid("results", f"must be between 0 and 1000000, got {results}")
    row["results"] = results
    row["article"] = _text(body, "article", max_len=200)
    return row


def parse_contact(body: dict) -> dict:
    """The stored fields of a contact-click body."""
    _only(body, ("event_id", "channel", "article", "query", "website"))
    return {"event_id": _uuid(body, "event_id"),
            "channel": _text(body, "channel", max_len=100, required=True),
            "article": _text(body, "article", max_len=200),
            "query": _text(body, "query", max_len=200)}


PARSERS: dict[str, Callable[[dict], dict]] = {
    "votes": parse_vote, "searches": parse_search, "contacts": parse_contact}


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# -------------------------------------------------------------------------------------------
# The collector


class Collector:
    """Request handling shared by the standalone collector and `kb serve`."""

    def __init__(self, site_dir: Path, store: Store, *, origins: Iterable[str] = (),
                 rate_limit: int = 60, admin_token: str | None = None) -> None:
        self.site_dir = Path(site_dir)
        self.store = store
        self.manifest = Manifest(self.site_dir)
        self.origins = {o.rstrip("/") for o in origins}
        self.limiter = RateLimiter(rate_limit)
        self.admin_token = admin_token or None
        self.visitors = Visitors(lambda: now())

    def routes(self) -> list[Route]:
        """The collector's routes, to mount beside a static site on one origin."""
        return [
            Route("/api/votes", self.intake("votes"), methods=["POST", "OPTIONS"]),
            Route("/api/searches", self.intake("searches"), methods=["POST", "OPTIONS"]),
            Route("/api/contacts", self.intake("contacts"), methods=["POST", "OPTIONS"]),
            Route("/api/search", self.get_search, methods=["GET"]),
            Route("/api/report", self.get_report, methods=["GET"]),
            Route("/api/export", self.get_export, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]

    # -- CORS -----------------------------------------------------------------------------
    def _origin_verdict(self, origin: str | None, host: str) -> tuple[bool, dict[str, str]]:
        """(allowed, CORS headers): same-host requests and configured origins only."""
        if origin is None:
            return True, {}
        if origin.rstrip("/") in self.origins:
            return True, {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        if urlsplit(origin).netloc == host:
            return True, {}
        return False, {"Vary": "Origin"}

    # -- public writes --------------------------------------------------------------------
    def intake(self, kind: str) -> _Intake:
        """The raw ASGI endpoint of POST /api/{kind}.

        This is the hot path, so it skips Starlette's Request and Response objects.
        """

        return _Intake(self, kind)

    async def _accept(self, kind: str, method: str, headers: dict[bytes, bytes], receive: Callable[..., Any],
                      client: str) -> tuple[int, dict | None, dict[str, str]]:
        origin = headers.get(b"origin")
        allowed, cors = self._origin_verdict(origin.decode("latin-1") if origin is not None else None,
                                             headers.get(b"host", b"").decode("latin-1"))
        if method == "OPTIONS":
            if not allowed or not cors:
                return _refusal(403, "origin not allowed", "Origin", cors)
            return 204, None, {**cors, "Access-Control-Allow-Methods": "POST",
                               "Access-Control-Allow-Headers": "Content-Type",
                               "Access-Control-Max-Age": "86400"}
        if not allowed:
            return _refusal(403, "origin not allowed", "Origin", cors)

        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return _refusal(413, f"body larger than {MAX_BODY} bytes", "body", cors)
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                raw = await _read_body(receive)
        except _TooLarge:
            return _refusal(413, f"body larger than {MAX_BODY} bytes", "body", cors)
        except (TimeoutError, ClientDisconnect):
            return _refusal(408, "request body too slow", "body", {**cors, "Connection": "close"})

        user_agent = headers.get(b"user-agent", b"").decode("latin-1")
        if not user_agent or _BOTS.search(user_agent):
            return 204, None, cors
        try:
            body = json.loads(raw, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError) as exc:
            return _refusal(422, f"not valid JSON: {exc}", "body", cors)
        if not isinstance(body, dict):
            return _refusal(422, f"must be a JSON object, got {_kind(body)}", "body", cors)
        try:
            row = PARSERS[kind](body)
            if _honeypot(body):
                return 204, None, cors
            versions = self.manifest.versions()
            if versions is None:
                return _refusal(503, f"no site manifest at {self.manifest.path}", None, cors)
            _check_article(row, versions, required=kind == "votes")
        except Invalid as exc:
            return _refusal(422, exc.message, exc.field, cors)

        row["visitor"] = self.visitors.hash(client, user_agent)
        if not self.limiter.allow(kind, row["visitor"]):
            return _refusal(429, "too many requests; try again later", None,
                            {**cors, "Retry-After": str(self.limiter.retry_after())})
        row["created_at"] = now()
        try:
            await asyncio.wrap_future(self.store.submit(kind, [row]))
        except Exception as exc:  # noqa: BLE001 - the sender keeps the vote and retries
            return _refusal(503, f"store unavailable: {exc}", None, cors)
        return 204, None, cors

    # -- public reads ---------------------------------------------------------------------
    async def healthz(self, request: Request) -> Response:
        try:
            await run_in_threadpool(self.store.ping)
            store = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            store = str(exc)
        versions = self.manifest.versions()
        ok = store == "ok" and versions is not None
        return JSONResponse({"status": "ok" if ok else "unavailable", "store": store,
                             "articles": len(versions) if versions is not None else None},
                            status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})

    async def openapi(self, request: Request) -> Response:
        from kb.votes_openapi import openapi_schema

        return JSONResponse(openapi_schema())

    async def get_search(self, request: Request) -> Response:
        unknown = _unknown_params(request, {"q"})
        if unknown:
            return unknown
        query = request.query_params.get("q", "")
        if not query.strip() or len(query) > 200:
            return _error(422, "must be 1 to 200 characters", "q", {})
        try:
            from kb import search as engine
        except ImportError:
            return _error(501, "search is not available in this install", None, {})
        try:
            hits = await run_in_threadpool(_search, engine, self.site_dir, query)
        except Exception as exc:  # noqa: BLE001 - a missing or bad index is the site's problem
            return _error(503, str(exc), None, {})
        allowed, cors = self._origin_verdict(request.headers.get("origin"), request.headers.get("host", ""))
        return JSONResponse({"query": query, "results": hits}, headers=cors)

    # -- admin ----------------------------------------------------------------------------
    def _admin(self, request: Request) -> Response | None:
        """None when the bearer token is right, else the refusal."""
        if self.admin_token is None:
            return _error(404, "admin routes are off (no admin token configured)", None, {})
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "bearer token required", "Authorization", {"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(token.strip().encode(), self.admin_token.encode()):
            return _error(403, "wrong token", "Authorization", {})
        return None

    async def get_report(self, request: Request) -> Response:
        refused = self._admin(request)
        if refused is not None:
            return refused
        unknown = _unknown_params(request, {"since"})
        if unknown:
            return unknown
        since = None
        if "since" in request.query_params:
            try:
                since = datetime.fromisoformat(request.query_params["since"])
            except ValueError:
                return _error(422, "must be an ISO 8601 date or time", "since", {})
            if since.tzinfo is None:
                since = since.replace(tzinfo=timezone.utc)
        manifest = self.manifest.data()
        if manifest is None:
            return _error(503, f"no site manifest at {self.manifest.path}", None, {})
        try:
            from kb.report import build_report
        except ImportError:
            return _error(501, "the report is not available in this install", None, {})
        report = await run_in_threadpool(build_report, self.store, manifest, since=since)
        return JSONResponse(report, headers={"Cache-Control": "no-store"})

    async def get_export(self, request: Request) -> Response:
        refused = self._admin(request)
        if refused is not None:
            return refused
        unknown = _unknown_params(request, {"table", "format"})
        if unknown:
            return unknown
        table = request.query_params.get("table", "votes")
        fmt = request.query_params.get("format", "jsonl")
        if table not in ("votes", "searches", "contacts"):
            return _error(422, "must be votes, searches or contacts", "table", {})
        if fmt not in _EXPORT_TYPES:
            return _error(422, "must be jsonl or csv", "format", {})
        from kb.votes_io import export_lines

        # A sync generator: Starlette iterates it in a worker thread, row by row.
        return StreamingResponse(export_lines(self.store, table, fmt), media_type=_EXPORT_TYPES[fmt],
                                 headers={"Cache-Control": "no-store",
                                          "Content-Disposition": f'attachment; filename="{table}.{fmt}"'})


_EXPORT_TYPES = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}


class _Intake:
    """An ASGI app (not a function, so Starlette passes scope, receive and send through)."""

    def __init__(self, collector: Collector, kind: str) -> None:
        self.collector = collector
        self.kind = kind

    async def __call__(self, scope: dict, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        headers: dict[bytes, bytes] = dict(scope["headers"])
        client = scope.get("client")
        status, payload, extra = await self.collector._accept(self.kind, scope["method"], headers, receive,
                                                              client[0] if client else "")
        await _respond(send, status, payload, extra)


class _TooLarge(Exception):
    pass


async def _read_body(receive: Callable[..., Any]) -> bytes:
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks += message.get("body", b"")
        if len(chunks) > MAX_BODY:
            raise _TooLarge
        if not message.get("more_body", False):
            return bytes(chunks)


def _refusal(status: int, message: str, field: str | None, headers: dict[str, str]) -> tuple[int, dict, dict[str, str]]:
    return status, {"error": message, "field": field}, headers


async def _respond(send: Callable[..., Any], status: int, payload: dict | None, headers: dict[str, str]) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    body = b""
    if payload is not None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        raw += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _unknown_params(request: Request, known: set[str]) -> Response | None:
    for name in request.query_params:
        if name not in known:
            return _error(422, "unknown query parameter", name, {})
    return None


def _check_article(row: dict, versions: dict[str, str], *, required: bool) -> None:
    article = row.get("article")
    if article is None:
        return
    if article not in versions:
        raise Invalid("article", f"unknown article id {article!r} (not in the site manifest)")
    if required and row["version"] != versions[article]:
        raise Invalid("version", f"unknown version {row['version']!r} of {article!r} "
                                 f"(the site has {versions[article]!r})")


def _search(engine: Any, site_dir: Path, query: str) -> list[dict]:
    index = engine.load_index(site_dir)
    return [{"id": h.id, "title": h.title, "url": h.url, "score": round(h.score, 4)}
            for h in engine.search(index, query)]


def _error(status: int, message: str, field: str | None, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status, headers=headers)


def collector_routes(site_dir: Path, store: Store, *, origins: Iterable[str] = (), rate_limit: int = 60,
                     admin_token: str | None = None) -> list[Route]:
    """The collector's routes (for mounting into another Starlette app on the same origin)."""
    return Collector(site_dir, store, origins=origins, rate_limit=rate_limit,
                     admin_token=admin_token).routes()


def create_app(site_dir: Path, store: Store, *, origins: Iterable[str] = (), rate_limit: int = 60,
               admin_token: str | None = None) -> Starlette:
    """The collector as an ASGI app over `store`, checking votes against SITE/kb-manifest.json."""
    collector = Collector(site_dir, store, origins=origins, rate_limit=rate_limit,
                          admin_token=admin_token)
    app = Starlette(routes=collector.routes())
    app.state.collector = collector
    return app


def admin_token_from_env() -> str | None:
    """The admin token from KB_ADMIN_TOKEN, if set and not empty."""
    return os.environ.get("KB_ADMIN_TOKEN") or None
