"""The vote collector: a small ASGI app that checks votes, searches and contact clicks and stores them.

Every public route follows the same path: size limit, bot filter, JSON and field checks, honeypot,
site manifest, per-visitor rate limit, then one append to the store. A 204 is sent only after the
store has the row on disk (SQLite commits before the future resolves; PostgreSQL commits too).
Visitors are told apart by an HMAC of IP and user agent under a key that changes every UTC day
(random and in memory only, or derived from a secret the collectors share), so neither is ever
written anywhere; the client address alone is kept the same way, hashed, for the per-address rate
limit and the report's per-address cap.

Behind a proxy, the peer is the proxy: `forwarded_allow_ips` names the proxies whose
X-Forwarded-For (the client), X-Forwarded-Host (the site's host) and X-Forwarded-Proto (its scheme)
are believed. Errors a visitor can see never carry file paths or connection strings; the detail
goes to the log.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kb.manifest import SiteManifest
from kb.votes.visitors import Proxies, RateLimiter, Visitors
from kb.votes.openapi import openapi_schema
from kb.votes.io import export_lines
from kb.votes.schema import (MAX_BODY, PARSERS, TEST_CHANNEL, Invalid, clean_text, honeypot_filled, kind_of,
                             search_options, search_query)
from kb.votes.store import TABLES, RecordRefused, Store, StoreError


log = logging.getLogger("kb.votes")

BODY_TIMEOUT = 10.0         # seconds to receive a whole body (the server also bounds headers)
MANIFEST_RECHECK = 1.0      # seconds the intake trusts the manifest it read (a miss reads it again)
PROBE_INTERVAL = 1.0        # seconds /healthz reuses its last probe of the store (a probe writes)
ADMIN_FAILURES_PER_MINUTE = 10  # wrong admin tokens one client address may send; then 429
#: Wrong admin tokens all the clients behind one trusted proxy may send together: a client's address
#: behind a proxy is what its X-Forwarded-For says, which anyone who can reach the collector's port
#: through the proxy (or straight, from the proxy's own machine) may choose afresh for every guess.
ADMIN_FAILURES_PER_PROXY = 10 * ADMIN_FAILURES_PER_MINUTE

# Crawlers and scripted clients that execute JavaScript or replay forms; their "votes" are noise.
# A missing user agent counts too: every browser sends one.
_BOTS = re.compile(
    r"bot\b|bot/|crawler|spider|slurp|facebookexternalhit|embedly|preview|curl/|wget/|"
    r"python-requests|python-urllib|go-http-client|java/|scrapy|httpclient|phantomjs|lighthouse",
    re.IGNORECASE,
)


# What the app's maker hands in: the review report of (store, manifest, since, language, site_dir)
# (ValueError for a language the site does not have; the site ranks the content gaps' nearest
# articles), and the site's search of (site_dir, query) -> results as
# JSON objects.
ReportFn = Callable[[Store, dict, "datetime | None", "str | None", Path], dict]
SearchFn = Callable[..., "list | dict"]  # (site_dir, query, *, lang, limit, channel) -> answer JSON


def now() -> datetime:
    """The current UTC time (the one clock the collector reads; tests move it)."""
    return datetime.now(timezone.utc)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# -------------------------------------------------------------------------------------------
# The collector


class Collector:
    """Request handling shared by the standalone collector and `kb serve`."""

    def __init__(self, site_dir: Path, store: Store, *, origins: Iterable[str] = (),
                 rate_limit: int = 60, address_rate_limit: int | None = None, admin_token: str | None = None,
                 report: ReportFn | None = None, search: SearchFn | None = None,
                 forwarded_allow_ips: Iterable[str] = ("127.0.0.1",), visitor_secret: str | None = None) -> None:
        self.site_dir = Path(site_dir)
        self.store = store
        self.manifest = SiteManifest(self.site_dir)
        self._known_cache: tuple[dict[str, str] | None, dict[str, frozenset[str]]] = (None, {})
        self._known_at: float | None = None
        self.origins = {o.rstrip("/") for o in origins}
        self.limiter = RateLimiter(rate_limit)
        # Many user agents from one address are still one sender: 5 visitors' worth by default.
        self.address_limiter = RateLimiter(5 * rate_limit if address_rate_limit is None else address_rate_limit)
        self.admin_token = admin_token or None
        self.report = report
        self.search = search
        if hasattr(search, "prepare"):  # the answers: parse and prepare the site now, not at the first query
            search.prepare(self.site_dir)
        self.proxies = Proxies(forwarded_allow_ips)
        self.visitors = Visitors(lambda: now(), visitor_secret)
        # Guessing the admin token: each wrong one takes a token from its address's bucket, and from
        # its proxy's when it came through one (the address it names could be made up).
        self.admin_failures = RateLimiter(ADMIN_FAILURES_PER_MINUTE)
        self.admin_failures_by_proxy = RateLimiter(ADMIN_FAILURES_PER_PROXY)
        self._probe: asyncio.Future | None = None
        self._probe_at = 0.0
        self._said: dict[str, str | None] = {"store": None, "site": None}  # what the log last said

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
    def _origin_verdict(self, origin: str | None, host: str,
                        scheme: str | None = None) -> tuple[bool, dict[str, str]]:
        """(allowed, CORS headers): same-host requests and configured origins only.

        `scheme` is the site's as a trusted proxy told it (X-Forwarded-Proto); None when not told.
        """
        if origin is None:
            return True, {}
        if origin.rstrip("/") in self.origins:
            return True, {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        parts = urlsplit(origin)
        if parts.netloc == host and (scheme is None or parts.scheme == scheme):
            return True, {}
        return False, {"Vary": "Origin"}

    def _allow(self, kind: str, visitor: str, address: str) -> bool:
        """Both budgets: the visitor's and the client address's (whatever its user agents)."""
        return self.limiter.allow(kind, visitor) and self.address_limiter.allow(kind, address)

    def _retry_after(self) -> str:
        return str(max(self.limiter.retry_after(), self.address_limiter.retry_after()))

    # -- public writes --------------------------------------------------------------------
    def _known(self, fresh: bool) -> tuple[dict[str, str] | None, dict[str, frozenset[str]]]:
        """The manifest's (current versions, published versions): as read at most
        MANIFEST_RECHECK seconds ago, or read now when `fresh`."""
        at = time.monotonic()
        if fresh or self._known_at is None or at - self._known_at >= MANIFEST_RECHECK:
            self._known_cache = (self.manifest.versions(), self.manifest.published())
            self._known_at = at
        return self._known_cache

    def _check_known(self, row: dict, *, required: bool) -> bool:
        """Raise Invalid for an article or version the site never published; False when there is
        no manifest. What the cached manifest does not know is looked up again in the file before
        it is refused: a vote from a page just rebuilt is never turned away."""
        versions, published = self._known(fresh=False)
        if versions is not None:
            try:
                _check_article(row, versions, published, required=required)
                return True
            except Invalid:
                pass
        versions, published = self._known(fresh=True)
        if versions is None:
            return False
        _check_article(row, versions, published, required=required)
        return True

    def intake(self, kind: str) -> _Intake:
        """The raw ASGI endpoint of POST /api/{kind}.

        This is the hot path, so it skips Starlette's Request and Response objects.
        """

        return _Intake(self, kind)

    async def _accept(self, kind: str, method: str, headers: dict[bytes, bytes], receive: Callable[..., Any],
                      peer: str, scheme: str = "http") -> tuple[int, dict | None, dict[str, str]]:
        client, host, told_scheme = self.proxies.peer(peer, headers, scheme)
        origin = headers.get(b"origin")
        allowed, cors = self._origin_verdict(origin.decode("latin-1") if origin is not None else None,
                                             host, told_scheme)
        if method == "OPTIONS":
            if not allowed or not cors:
                return _refusal(403, "origin not allowed", "Origin", cors)
            return 204, None, {**cors, "Access-Control-Allow-Methods": "POST",
                               "Access-Control-Allow-Headers": "Content-Type",
                               "Access-Control-Max-Age": "86400"}
        if not allowed:
            return _refusal(403, "origin not allowed", "Origin", cors)

        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and (len(declared) > 9 or int(declared) > MAX_BODY):
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
        except RecursionError:
            return _refusal(422, "not valid JSON: nested too deeply", "body", cors)
        if not isinstance(body, dict):
            return _refusal(422, f"must be a JSON object, got {kind_of(body)}", "body", cors)
        try:
            row = PARSERS[kind](body)
            if honeypot_filled(body):
                return 204, None, cors
            if not self._check_known(row, required=kind == "votes"):
                self._note("site", self.manifest.problem())
                return _refusal(503, "the site has no manifest yet; try again later", None, cors)
        except Invalid as exc:
            return _refusal(422, exc.message, exc.field, cors)

        row["visitor"] = self.visitors.hash(client, user_agent)
        row["address"] = self.visitors.address(client)
        if not self._allow(kind, row["visitor"], row["address"]):
            return _refusal(429, "too many requests; try again later", None,
                            {**cors, "Retry-After": self._retry_after()})
        row["created_at"] = now()
        try:
            await asyncio.wrap_future(self.store.submit(kind, [row]))
        except RecordRefused as exc:
            # This record alone (the requests grouped with it were stored): a rule of the
            # database the checks above do not know. The sender keeps it and retries.
            log.error("store refused a %s record (%s): %s", kind, row.get("vote_id") or row.get("event_id"), exc)
            return _refusal(500, "the store refused this record; try again later", None, cors)
        except Exception as exc:  # noqa: BLE001 - the sender keeps the vote and retries
            # Said once for the outage, not once per vote: an outage meets many.
            self._note("store", f"cannot write: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}")
            return _refusal(503, "store unavailable; try again later", None, cors)
        if self._said["store"] is not None:
            self._note("store", None)
        return 204, None, cors

    # -- public reads ---------------------------------------------------------------------
    async def healthz(self, request: Request) -> Response:
        """200 when the store takes a read and a write now and the site's manifest is read."""
        store, why = await self._probe_store()
        self._note("store", None if store == "ok" else f"{store}: {why}")
        problem = self.manifest.problem()
        self._note("site", problem)
        site = "ok" if problem is None else "no manifest" if problem == "no manifest" else "cannot read"
        versions = self.manifest.versions()
        ok = store == "ok" and site == "ok"
        return JSONResponse({"status": "ok" if ok else "failing", "store": store, "site": site,
                             "articles": len(versions) if versions is not None else None},
                            status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})

    async def _probe_store(self) -> tuple[str, str | None]:
        """The store's probe (a read and a committed write, Store.probe): run at most once per
        PROBE_INTERVAL, however often a load balancer asks, and shared by the asks meanwhile. No
        failure is remembered longer: a store back up is healthy at the next probe."""
        at = time.monotonic()
        if self._probe is None or (self._probe.done() and at - self._probe_at >= PROBE_INTERVAL):
            self._probe_at = at
            self._probe = asyncio.ensure_future(run_in_threadpool(self.store.probe))
        return await asyncio.shield(self._probe)

    def _note(self, what: str, problem: str | None, fails: str = "votes get") -> None:
        """Log what is wrong with the store, the site or its search once when it starts, and once
        when it ends (a load balancer's checks and every refused request would otherwise repeat it).
        `fails` names what gets 503 meanwhile."""
        said = self._said.get(what)
        if (problem is None) == (said is None):
            return  # still fine, or still failing (the first failure's words were logged)
        if problem is not None:
            log.error("%s: %s; %s 503 until it is fixed", what, problem, fails)
        else:
            log.warning("%s: ok again", what)
        self._said[what] = problem

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_schema())

    async def get_search(self, request: Request) -> Response:
        unknown = _unknown_params(request, {"q", "lang", "limit", "channel"})
        if unknown:
            return unknown
        try:
            query = search_query(request.query_params)
            options = search_options(request.query_params)
        except Invalid as exc:
            return _error(422, exc.message, exc.field, {})
        if self.search is None:
            return _error(501, "search is not configured on this collector", None, {})
        client, host, scheme = self._peer(request)
        user_agent = request.headers.get("user-agent", "")
        visitor, address = self.visitors.hash(client, user_agent), self.visitors.address(client)
        if not self._allow("search", visitor, address):
            return _error(429, "too many requests; try again later", None, {"Retry-After": self._retry_after()})
        ready = getattr(self.search, "ready", None)
        try:
            if ready is not None and ready(self.site_dir, options.get("lang")):
                # parsed and prepared: a few milliseconds of CPU, quicker here than via a thread
                hits = self.search(self.site_dir, query, **options)
            else:  # parsing a site takes seconds: not on the event loop
                hits = await run_in_threadpool(self.search, self.site_dir, query, **options)
        except ValueError as exc:  # the site has no help center in that language
            return _error(422, str(exc), "lang", {})
        except Exception as exc:  # noqa: BLE001 - a missing or bad index is the site's problem
            problem = self.manifest.problem()
            if problem is not None and problem != "no manifest":
                self._note("site", problem)  # an unreadable site: said once, not per query
            else:  # its search files alone (an index deployed unreadable, or broken): once too
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self._note(_search_topic(options["lang"]), f"cannot answer: {first}", "GET /api/search gets")
            return _error(503, "search is unavailable; try again later", None, {})
        self._note(_search_topic(options["lang"]), None)
        allowed, cors = self._origin_verdict(request.headers.get("origin"), host, scheme)
        if isinstance(hits, dict):
            if options["channel"] != TEST_CHANNEL:  # a bot's own tests leave no trace in the review
                self._record_search(visitor, address, hits, options["channel"])
            return JSONResponse(hits, headers=cors)
        return JSONResponse({"query": query, "results": hits}, headers=cors)

    def _record_search(self, visitor: str, address: str, answer: dict, channel: str) -> None:
        """Keep the query for the review: answered (results 1, the top article) or handed over (0).

        Not awaited: the answer does not wait for the disk, and a lost record loses no vote. The
        store commits these records in groups, within a second (Store.submit_later), and at its
        close. The asker is kept as the daily visitor and address hashes only, like every row.
        """
        top = answer["results"][0]["id"] if answer.get("answered") and answer.get("results") else None
        language = answer.get("language")
        # Cleaned, not refused: the query passed check_text at the edge, but the article and
        # language come from the site's files, and nobody is there to hear a refusal.
        row = {"event_id": str(uuid.uuid4()), "query": clean_text(answer.get("query", "")),
               "results": 1 if top else 0, "article": clean_text(top) if top else None,
               "language": clean_text(language) if language else None, "channel": channel,
               "visitor": visitor, "address": address, "created_at": now()}
        try:
            self.store.submit_later("searches", [row])
        except StoreError as exc:  # closing: the answer is sent all the same
            log.error("dropped a searches record: %s", exc)

    def _peer(self, request: Request) -> tuple[str, str, str | None]:
        """(client address, host, scheme or None) of a request, through the trusted proxies."""
        peer = request.scope.get("client")
        return self.proxies.peer(peer[0] if peer else "", dict(request.scope["headers"]), request.url.scheme)

    # -- admin ----------------------------------------------------------------------------
    def _admin(self, request: Request) -> Response | None:
        """None when the bearer token is right, else the refusal."""
        if self.admin_token is None:
            return _error(404, "admin routes are off (no admin token configured)", None, {})
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "bearer token required", "Authorization", {"WWW-Authenticate": "Bearer"})
        peer = request.scope.get("client")
        peer = peer[0] if peer else ""
        address = self.visitors.address(self._peer(request)[0])
        proxy = self.visitors.address(peer) if self.proxies.trusted(peer) else None
        for limiter, key in ((self.admin_failures, address), (self.admin_failures_by_proxy, proxy)):
            if key is not None and limiter.exhausted("admin", key):
                # Checked before the token: while throttled, the right token is no different.
                return _error(429, "too many wrong tokens from this address; try again later", None,
                              {"Retry-After": str(limiter.retry_after())})
        if not hmac.compare_digest(token.strip().encode("utf-8", "replace"), self.admin_token.encode()):
            self.admin_failures.allow("admin", address)
            if proxy is not None:
                self.admin_failures_by_proxy.allow("admin", proxy)
            log.warning("wrong admin token from address %s", address)
            return _error(403, "wrong token", "Authorization", {})
        return None

    async def get_report(self, request: Request) -> Response:
        refused = self._admin(request)
        if refused is not None:
            return refused
        unknown = _unknown_params(request, {"since", "language"})
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
            return _error(503, "the site has no manifest yet; try again later", None, {})
        if self.report is None:
            return _error(501, "the report is not configured on this collector", None, {})
        language = request.query_params.get("language")
        try:
            report = await run_in_threadpool(self.report, self.store, manifest, since, language, self.site_dir)
        except ValueError as exc:  # the site has no such language
            return _error(422, str(exc), "language", {})
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
                                                              client[0] if client else "",
                                                              scope.get("scheme", "http"))
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
        # ASCII: a refusal may quote what was sent, and a lone surrogate has no UTF-8 form.
        body = json.dumps(payload, separators=(",", ":")).encode("ascii")
        raw += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _search_topic(language: str | None) -> str:
    """What the log calls the search of one language, which fails and recovers on its own."""
    return "search" if language is None else f"search ({language.lower()})"


def _unknown_params(request: Request, known: set[str]) -> Response | None:
    for name in request.query_params:
        if name not in known:
            return _error(422, "unknown query parameter", name, {})
    return None


def _check_article(row: dict, versions: dict[str, str], published: dict[str, frozenset[str]], *,
                   required: bool) -> None:
    article = row.get("article")
    if article is None:
        return
    known = published.get(article, frozenset())
    if article not in versions and not known:
        raise Invalid("article", f"unknown article id {article!r} (not in the site manifest)")
    # A page cached before a rebuild votes for the version it shows: any version ever published, in
    # any language (a translation keeps its source's id).
    if required and row["version"] != versions.get(article) and row["version"] not in known:
        raise Invalid("version", f"unknown version {row['version']!r} of {article!r} "
                                 f"(the site has {versions.get(article) or sorted(known)[0]!r})")


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
    app = _CollectorApp(collector)
    app.state.collector = collector
    return app


class _CollectorApp(Starlette):
    """The collector's Starlette app, with the intake routes (nearly every request it gets)
    answered before Starlette's middleware and router, which they do not use."""

    def __init__(self, collector: Collector) -> None:
        super().__init__(routes=collector.routes())
        self._intakes = {f"/api/{kind}": collector.intake(kind) for kind in ("votes", "searches", "contacts")}

    async def __call__(self, scope: dict, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "OPTIONS"):
            intake = self._intakes.get(scope["path"])
            if intake is not None:
                await intake(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def admin_token_from_env() -> str | None:
    """The admin token from KB_ADMIN_TOKEN, if set and not empty."""
    return os.environ.get("KB_ADMIN_TOKEN") or None
