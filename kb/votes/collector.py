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
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kb.manifest import SiteManifest
from kb.votes.openapi import openapi_schema
from kb.votes.io import export_lines
from kb.votes.schema import MAX_BODY, PARSERS, Invalid, honeypot_filled, kind_of, search_options
from kb.votes.store import TABLES, Store


BODY_TIMEOUT = 10.0         # seconds to receive a whole body (the server also bounds headers)

# Crawlers and scripted clients that execute JavaScript or replay forms; their "votes" are noise.
# A missing user agent counts too: every browser sends one.
_BOTS = re.compile(
    r"bot\b|bot/|crawler|spider|slurp|facebookexternalhit|embedly|preview|curl/|wget/|"
    r"python-requests|python-urllib|go-http-client|java/|scrapy|httpclient|phantomjs|lighthouse",
    re.IGNORECASE,
)


# What the app's maker hands in: the review report of (store, manifest, since), and the site's
# search of (site_dir, query) -> results as JSON objects.
ReportFn = Callable[[Store, dict, "datetime | None"], dict]
SearchFn = Callable[..., "list | dict"]  # (site_dir, query, *, lang, limit, channel) -> answer JSON


def now() -> datetime:
    """The current UTC time (the one clock the collector reads; tests move it)."""
    return datetime.now(timezone.utc)


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


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# -------------------------------------------------------------------------------------------
# The collector


class Collector:
    """Request handling shared by the standalone collector and `kb serve`."""

    def __init__(self, site_dir: Path, store: Store, *, origins: Iterable[str] = (),
                 rate_limit: int = 60, admin_token: str | None = None,
                 report: ReportFn | None = None, search: SearchFn | None = None) -> None:
        self.site_dir = Path(site_dir)
        self.store = store
        self.manifest = SiteManifest(self.site_dir)
        self.origins = {o.rstrip("/") for o in origins}
        self.limiter = RateLimiter(rate_limit)
        self.admin_token = admin_token or None
        self.report = report
        self.search = search
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
            return _refusal(422, f"must be a JSON object, got {kind_of(body)}", "body", cors)
        try:
            row = PARSERS[kind](body)
            if honeypot_filled(body):
                return 204, None, cors
            versions = self.manifest.versions()
            if versions is None:
                return _refusal(503, f"no site manifest at {self.manifest.path}", None, cors)
            _check_article(row, versions, required=kind == "votes", others=self.manifest.other_versions())
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
        return JSONResponse(openapi_schema())

    async def get_search(self, request: Request) -> Response:
        unknown = _unknown_params(request, {"q", "lang", "limit", "channel"})
        if unknown:
            return unknown
        query = request.query_params.get("q", "")
        if not query.strip() or len(query) > 200:
            return _error(422, "must be 1 to 200 characters", "q", {})
        try:
            options = search_options(request.query_params)
        except Invalid as exc:
            return _error(422, exc.message, exc.field, {})
        if self.search is None:
            return _error(501, "search is not configured on this collector", None, {})
        try:
            hits = await run_in_threadpool(self.search, self.site_dir, query, **options)
        except ValueError as exc:  # the site has no help center in that language
            return _error(422, str(exc), "lang", {})
        except Exception as exc:  # noqa: BLE001 - a missing or bad index is the site's problem
            return _error(503, str(exc), None, {})
        allowed, cors = self._origin_verdict(request.headers.get("origin"), request.headers.get("host", ""))
        if isinstance(hits, dict):
            self._record_search(request, hits, options["channel"])
            return JSONResponse(hits, headers=cors)
        return JSONResponse({"query": query, "results": hits}, headers=cors)

    def _record_search(self, request: Request, answer: dict, channel: str) -> None:
        """Keep the query for the review: answered (results 1, the top article) or handed over (0).

        Not awaited: the answer does not wait for the disk, and a lost record loses no vote.
        """
        client = request.client.host if request.client else ""
        top = answer["results"][0]["id"] if answer.get("answered") and answer.get("results") else None
        row = {"event_id": str(uuid.uuid4()), "query": answer.get("query", ""), "results": 1 if top else 0,
               "article": top, "language": answer.get("language"), "channel": channel,
               "visitor": self.visitors.hash(client, request.headers.get("user-agent", "")),
               "created_at": now()}
        self.store.submit("searches", [row])

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
        if self.report is None:
            return _error(501, "the report is not configured on this collector", None, {})
        report = await run_in_threadpool(self.report, self.store, manifest, since)
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
        if table not in TABLES:
            return _error(422, "must be votes, searches or contacts", "table", {})
        if fmt not in _EXPORT_TYPES:
            return _error(422, "must be jsonl or csv", "format", {})
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


def _check_article(row: dict, versions: dict[str, str], *, required: bool,
                   others: dict[str, set[str]] | None = None) -> None:
    article = row.get("article")
    if article is None:
        return
    also = (others or {}).get(article, set())  # the article in the site's other languages
    if article not in versions and not also:
        raise Invalid("article", f"unknown article id {article!r} (not in the site manifest)")
    if required and row["version"] != versions.get(article) and row["version"] not in also:
        raise Invalid("version", f"unknown version {row['version']!r} of {article!r} "
                                 f"(the site has {versions.get(article) or sorted(also)[0]!r})")


def _error(status: int, message: str, field: str | None, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status, headers=headers)


def collector_routes(site_dir: Path, store: Store, **options: Any) -> list[Route]:
    """The collector's routes (for mounting into another Starlette app on the same origin).

    `options` are Collector's: origins, rate_limit, admin_token, and the `report` and `search`
    functions handed in by whoever makes the app (the collector imports neither).
    """
    return Collector(site_dir, store, **options).routes()


def create_app(site_dir: Path, store: Store, **options: Any) -> Starlette:
    """The collector as an ASGI app over `store`, checking votes against the site manifest."""
    collector = Collector(site_dir, store, **options)
    app = Starlette(routes=collector.routes())
    app.state.collector = collector
    return app


def admin_token_from_env() -> str | None:
    """The admin token from KB_ADMIN_TOKEN, if set and not empty."""
    return os.environ.get("KB_ADMIN_TOKEN") or None
