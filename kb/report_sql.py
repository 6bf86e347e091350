"""Counting votes inside the database, for stores too big to read row by row in time.

`kb.report.tally_votes` reads every vote through `Store.votes()`; at a million votes that is
several seconds of Python. This module applies the same counting rule (one vote per visitor per
article per UTC day, the last one, ties broken by the higher vote id) with a window function
on a connection of its own, read-only, opened from the store's public `path` (SQLite) or `url`
(PostgreSQL), against the votes table of kb.store's schema (version 1). A test holds both ways
to the same answer. Stores it does not know fall back to row by row.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import quote

from kb.report import LATEST_COMMENTS, Tallies, _Cell

_SEQ = itertools.count()

# `{day}` is the vote's UTC day, `{week}` the Monday that starts its week, `{p}` a placeholder.
_COUNTED = """
CREATE TEMP TABLE kb_counted AS
SELECT article, version, helpful, reason, comment, vote_id, created_at, {day} AS day, {week} AS week
FROM (
    SELECT article, version, helpful, reason, comment, vote_id, created_at,
           ROW_NUMBER() OVER (PARTITION BY visitor, article, {day}
                              ORDER BY created_at DESC, vote_id DESC) AS rn
    FROM votes {where}
) AS ranked
WHERE rn = 1
"""
_BY_VERSION = ("SELECT article, version, COUNT(*), SUM({int_helpful}), MIN(created_at), MAX(created_at) "
               "FROM kb_counted GROUP BY article, version")
_BY_WEEK = ("SELECT article, week, COUNT(*), SUM({int_helpful}), MIN(created_at), MAX(created_at) "
            "FROM kb_counted GROUP BY article, week")
_BY_REASON = ("SELECT article, reason, COUNT(*) FROM kb_counted "
              "WHERE NOT helpful AND reason IS NOT NULL GROUP BY article, reason")
_COMMENTS = f"""
SELECT article, vote_id, version, helpful, reason, comment, created_at FROM (
    SELECT article, vote_id, version, helpful, reason, comment, created_at,
           ROW_NUMBER() OVER (PARTITION BY article ORDER BY created_at DESC, vote_id DESC) AS rn
    FROM kb_counted WHERE comment IS NOT NULL AND comment <> ''
) AS latest WHERE rn <= {LATEST_COMMENTS}
"""
_RAW = "SELECT COUNT(*) FROM votes {where}"

_DIALECTS = {
    "sqlite": {
        # created_at is fixed-width ISO 8601 text in UTC, so text order is time order.
        "day": "substr(created_at, 1, 10)",
        "week": "date(substr(created_at, 1, 10), '-6 days', 'weekday 1')",
        "int_helpful": "helpful",
        "p": "?",
    },
    "postgresql": {
        "day": "(created_at AT TIME ZONE 'UTC')::date",
        "week": "date_trunc('week', created_at AT TIME ZONE 'UTC')::date",
        "int_helpful": "helpful::int",
        "p": "%s",
    },
}


def tally(store: Any, since: datetime | None) -> Tallies | None:
    """The store's counted votes aggregated in SQL, or None when this store's database is not known."""
    dialect = getattr(store, "dialect", None)
    if dialect == "sqlite" and getattr(store, "path", None) is not None:
        conn = sqlite3.connect(f"file:{quote(str(store.path))}?mode=ro", uri=True)
        try:
            params = (since.astimezone(timezone.utc).isoformat(timespec="microseconds"),) if since else ()
            return _tally(conn, "sqlite", params, _sqlite_time)
        finally:
            conn.close()
    if dialect == "postgresql" and getattr(store, "url", None):
        import psycopg

        with psycopg.connect(store.url, options="-c timezone=UTC") as conn:
            return _tally(conn, "postgresql", (since,) if since else (), lambda v: v.astimezone(timezone.utc))
    return None


def _sqlite_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(timezone.utc)


def _tally(conn: Any, dialect: str, params: tuple, to_time: Any) -> Tallies:
    d = _DIALECTS[dialect]
    where = f"WHERE created_at >= {d['p']}" if params else ""
    cur = conn.cursor()
    cur.execute(_COUNTED.format(day=d["day"], week=d["week"], where=where), params)
    tallies = Tallies()
    cur.execute(_RAW.format(where=where), params)
    tallies.raw_votes = cur.fetchone()[0]
    cur.execute(_BY_VERSION.format(int_helpful=d["int_helpful"]))
    for article, version, n, k, first, last in cur.fetchall():
        tallies.versions[article][version] = _Cell(n, int(k), to_time(first), to_time(last))
    cur.execute(_BY_WEEK.format(int_helpful=d["int_helpful"]))
    for article, week, n, k, first, last in cur.fetchall():
        week = week if isinstance(week, date) else date.fromisoformat(week)
        tallies.weeks[article][week] = _Cell(n, int(k), to_time(first), to_time(last))
    cur.execute(_BY_REASON)
    for article, reason, n in cur.fetchall():
        tallies.reasons.setdefault(article, Counter())[reason] = n
    cur.execute(_COMMENTS)
    for article, vote_id, version, helpful, reason, comment, created_at in cur.fetchall():
        at = to_time(created_at)
        vote = {"vote_id": vote_id, "article": article, "version": version, "helpful": bool(helpful),
                "reason": reason, "comment": comment, "created_at": at}
        tallies.comments[article].append((at, vote_id, next(_SEQ), vote))
    cur.execute("DROP TABLE kb_counted")
    return tallies
