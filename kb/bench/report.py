"""`kb bench report`: time the review report on a million synthetic votes, SQLite and PostgreSQL,
and the grouping of 100,000 distinct failed searches.

Every vote the collector has stored since schema 3 carries its client address's pseudonym, and a
store with addresses is counted in full (follow-ups joined, the per-address cap, the addresses
behind the weak flag); so by default each synthetic vote gets one too, derived from its visitor
(one address per visitor, as most customers have their own). Without addresses the report takes
the plain counting of stores from before schema 3.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

from kb.report.formats import render
from kb.report.gaps import group_failed_searches
from kb.report.review import build_report
from kb.votes.simulate import synthetic_manifest, synthetic_votes
from kb.votes.store import open_store, redact_url


class BenchError(RuntimeError):
    """The bench cannot run (a database it cannot reach); the message says which."""


def bench_report(db_url: str | None, n_votes: int, n_articles: int, now: datetime,
                 echo: Callable[[str], None], progress: Callable[[str, bool], None], *, addresses: bool = True) -> None:
    """Load `n_votes` synthetic votes (with client addresses, unless not `addresses`) into a scratch
    SQLite (and PostgreSQL) store and time the report.

    `echo` gets the figures; `progress(line, redraw)` the loading progress.
    """
    manifest = synthetic_manifest(n_articles, now=now)
    shape = "each with a client address" if addresses else "without client addresses (a store from before schema 3)"
    echo(f"kb bench report: {n_votes:,} votes over {n_articles:,} articles, 90 days, {shape} "
         "(target: report in at most 5 s on SQLite)")
    with tempfile.TemporaryDirectory(prefix="kb-bench-report-") as tmp:
        _bench_one("sqlite", f"sqlite:///{Path(tmp) / 'votes.db'}", manifest, n_votes, now, echo, progress, addresses)
    if db_url:
        _bench_postgres(db_url, manifest, n_votes, now, echo, progress, addresses)
    bench_gaps(GAP_SEARCHES, now, echo)


def synthetic_address(visitor: str) -> str:
    """A synthetic vote's client address pseudonym (16 hex digits, as the collector's), one per visitor."""
    return hashlib.blake2b(visitor.encode(), digest_size=8).hexdigest()


GAP_SEARCHES = 100_000


def synthetic_failed_searches(n: int, now: datetime, seed: int = 11) -> list[dict]:
    """`n` distinct failed searches: a few common help-desk words and rare made-up ones (product names)."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "po", "ru", "sa", "te", "vi", "zo", "bre", "dan", "fel", "gor",
                 "hil", "jum", "kor", "lin", "mar", "nor", "pel", "qui", "ros", "sul", "tam", "ver", "wil", "yan"]
    rare = sorted({"".join(rng.choice(syllables) for _ in range(rng.randrange(2, 4))) for _ in range(20_000)})
    common = ["how", "to", "my", "order", "refund", "cancel", "account", "card", "login", "password", "change",
              "delivery", "invoice", "not", "working", "where", "is"]
    seen: set[str] = set()
    rows = []
    while len(rows) < n:
        words = ([rng.choice(common) for _ in range(rng.randrange(0, 3))]
                 + [rng.choice(rare) for _ in range(rng.randrange(1, 3))])
        query = " ".join(words)
        if query not in seen:
            seen.add(query)
            rows.append({"query": query, "results": 0, "visitor": f"sim-{len(rows)}", "created_at": now})
    return rows


def bench_gaps(n: int, now: datetime, echo: Callable[[str], None]) -> None:
    """Time grouping `n` distinct failed searches (the report's gaps)."""
    rows = synthetic_failed_searches(n, now)
    load_avg = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    groups = group_failed_searches(rows)
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    echo(f"gaps: {n:,} distinct failed searches grouped into {len(groups):,} in {took:.2f} s "
         f"({cpu:.2f} s CPU; target: under 10 s; load average {load_avg:.1f} on {os.cpu_count()} cores)")


def _bench_one(name: str, url: str, manifest: dict, n_votes: int, now: datetime,
               echo: Callable[[str], None], progress: Callable[[str, bool], None], addresses: bool) -> None:
    store = open_store(url)
    try:
        store.migrate()
        t0 = time.perf_counter()
        stored = 0
        live = sys.stderr.isatty()  # a terminal redraws one line; a log gets a line per tenth
        step = max(1, n_votes // 10)
        for batch in synthetic_votes(manifest, n_votes, now=now):
            if addresses:
                for vote in batch:
                    vote["address"] = synthetic_address(vote["visitor"])
            before, stored = stored, stored + store.add_votes(batch)
            if live:
                progress(f"\r  {name}: loading {stored:,}/{n_votes:,}", True)
            elif stored // step > before // step:
                progress(f"  {name}: loading {stored:,}/{n_votes:,}", False)
        if live:
            progress("", False)
        load = time.perf_counter() - t0
        load_avg = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        report = build_report(store, manifest, now=now)
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        t0 = time.perf_counter()
        render(report, "json")
        render(report, "html")
        fmt = time.perf_counter() - t0
    finally:
        store.close()
    t = report["totals"]
    echo(f"{name}: loaded {stored:,} votes in {load:.1f} s; report in {took:.2f} s "
         f"({cpu:.2f} s CPU in this process; load average {load_avg:.1f} on {os.cpu_count()} cores); "
         f"json+html written in {fmt:.2f} s")
    echo(f"{name}:   {t['votes']:,} counted of {report['site']['raw_votes']:,} received; "
         f"{t['weak']:,} weak, {t['overdue']:,} overdue, {t['unrated']:,} unrated")


def _bench_postgres(db_url: str, manifest: dict, n_votes: int, now: datetime, echo: Callable[[str], None],
                    progress: Callable[[str, bool], None], addresses: bool) -> None:
    """Run the bench in a scratch database of its own on the server, then drop it."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    scratch = f"kb_bench_report_{os.getpid()}"
    try:
        admin = psycopg.connect(db_url, autocommit=True)
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BenchError(f"--db: cannot connect to {redact_url(db_url)!r}: {first}") from None
    with admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
        try:
            params = conninfo_to_dict(make_conninfo(db_url, dbname=scratch))
            url = "postgresql://?" + urlencode({k: v for k, v in params.items() if v is not None})
            _bench_one("postgresql", url, manifest, n_votes, now, echo, progress, addresses)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
