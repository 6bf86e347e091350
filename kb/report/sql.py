"""Counting votes inside the database, for stores too big to read row by row in time.

`kb.report.tally.tally_votes` reads every vote through `Store.votes()`; at a million votes that is
many seconds of Python. This module applies the same counting rule in SQL (one vote per visitor
per article per UTC day, the last one) on connections of its own, read-only, opened from the
store's public `path` (SQLite) or `url` (PostgreSQL), against the votes table of kb.votes.store's
schema (version 3: follow-up reasons joined, at most CAP_PER_ADDRESS counted votes per client
address, article and day; the addresses' span per article, for the weak flag's rule). A test holds
both ways to the same report. Unknown stores fall back to row by row.

A store with follow-ups or client addresses (every store since schema 3) is counted once: the
per-version cells and the counted votes' comments (as a JSON array per version) come from one
query. Counting it twice, once for the cells and once for the comments, took 14.5 s of CPU on a
million votes with addresses instead of 8.5 s.

One language's report counts only the votes made in that language (rows stored before languages,
with none, count as the default language's), as if the other languages' votes were not there: the
condition applies before the counting rule, in Python and here alike. The languages side by side
(`language_totals`) are one more count, with the language in the counting rule's keys.

On SQLite the counting is a GROUP BY whose bare columns come from the row holding MAX(created_at)
(documented SQLite behaviour), sorted by SQLite's multi-threaded sorter (`PRAGMA threads`) while
(on older stores) the comments are found by index on a second connection in a thread of ours:
SQLite releases the GIL while it works, so every core helps. (Splitting the votes in halves over two connections was slower than
one sorter with helper threads: the halves contend for SQLite's allocator.) Two votes by one
visitor on one article in the same microsecond would be told apart arbitrarily there (by vote id
in Python and on PostgreSQL); one collector stamps times to the microsecond, so this does not
happen in practice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import quote

from kb.report.tally import CAP_PER_ADDRESS, Cell, Tallies
from kb.votes.schema import REASONS

_SORTER_THREADS = max(1, min(4, os.cpu_count() or 1))  # helper threads SQLite's sorter may start
_EPOCH_MONDAY = date(2000, 1, 3)  # a Monday: week numbers count from it

# {counted}: the counted votes (one row per visitor, article and UTC day), per dialect below.
_REASON_SUMS = ", ".join(f"SUM(CASE WHEN NOT helpful AND reason = '{r}' THEN 1 ELSE 0 END)" for r in REASONS)
_BY_VERSION = f"""
SELECT article, version, COUNT(*), SUM(CASE WHEN helpful THEN 1 ELSE 0 END), {_REASON_SUMS},
       SUM(CASE WHEN NOT helpful AND reason IS NOT NULL AND reason NOT IN ({", ".join(f"'{r}'" for r in REASONS)})
           THEN 1 ELSE 0 END),
       MIN(created_at), MAX(created_at),
       MIN(address), MAX(address), COUNT(address), SUM(CASE WHEN address IS NULL THEN 1 ELSE 0 END),
       {{comments}}
FROM ({{counted}}) AS counted GROUP BY article, version
"""
# The counted votes' comments beside their cells, so one count answers both (comments count only
# from counted votes): a JSON array of [vote_id, helpful, reason, comment, created_at] per version.
_SQLITE_COMMENTS_ARRAY = """json_group_array(json_array(vote_id, helpful, reason, comment, created_at))
           FILTER (WHERE comment IS NOT NULL AND comment <> '')"""
_PG_COMMENTS_ARRAY = """json_agg(json_build_array(vote_id, helpful, reason, comment, created_at))
           FILTER (WHERE comment IS NOT NULL AND comment <> '')"""
_BY_WEEK = """
SELECT article, week, COUNT(*), SUM(CASE WHEN helpful THEN 1 ELSE 0 END), MIN(created_at), MAX(created_at)
FROM ({counted}) AS counted GROUP BY article, week
"""
# Every vote with its follow-up (a reason or comment sent after it) joined, as kb.votes.store reads
# them; {hint} is SQLite's NOT INDEXED for full scans (a sort beats the article index there).
_JOINED = """SELECT v.vote_id, v.article, v.version, v.helpful, COALESCE(v.reason, f.reason) AS reason,
       COALESCE(v.comment, f.comment) AS comment, v.visitor, v.created_at, v.address, v.language
FROM votes AS v {hint} LEFT JOIN vote_followups AS f ON f.vote_id = v.vote_id"""
# The per-address cap: of the counted votes of one client address on one article in one UTC day,
# the CAP_PER_ADDRESS latest (rows from before addresses were kept have none and are not capped).
_CAPPED = """
SELECT article, version, helpful, reason, comment, vote_id, address, created_at{week} FROM (
    SELECT deduped.*, ROW_NUMBER() OVER (PARTITION BY address, article, {day}
                                         ORDER BY created_at DESC, vote_id {collate} DESC) AS nth
    FROM ({deduped}) AS deduped) AS ranked
WHERE address IS NULL OR nth <= """ + str(CAP_PER_ADDRESS)
_SQLITE_COUNTED = """
SELECT article, version, helpful, reason, comment, vote_id, address, MAX(created_at) AS created_at
FROM ({joined}) AS votes {where}
GROUP BY visitor, article, substr(created_at, 1, 10)
"""
_SQLITE_WEEK = """,
       CAST((julianday(substr(created_at, 1, 10)) - julianday('2000-01-03')) / 7 AS INTEGER) AS week"""
# COLLATE "C": the grouping needs equal keys together, not a language's order, and byte order
# sorts faster than the database's default collation. Vote ids compare by code point, as in Python.
_PG_COUNTED = """
SELECT DISTINCT ON (visitor COLLATE "C", article COLLATE "C", (created_at AT TIME ZONE 'UTC')::date)
       article, version, helpful, reason, comment, vote_id, address, created_at
FROM ({joined}) AS votes {where}
ORDER BY visitor COLLATE "C", article COLLATE "C", (created_at AT TIME ZONE 'UTC')::date,
         created_at DESC, vote_id COLLATE "C" DESC
"""
_PG_WEEK = """, ((created_at AT TIME ZONE 'UTC')::date - DATE '2000-01-03') / 7 AS week"""

# The plain counting, for stores with neither follow-ups nor client addresses (rows from before
# schema 3): no join, no cap, and comments found by index instead of a second full count.
_SQLITE_PLAIN = """
SELECT article, version, helpful, reason, NULL AS address, MAX(created_at) AS created_at{week}
FROM votes NOT INDEXED {where}
GROUP BY visitor, article, substr(created_at, 1, 10)
"""
_PG_PLAIN = """
SELECT DISTINCT ON (visitor COLLATE "C", article COLLATE "C", (created_at AT TIME ZONE 'UTC')::date)
       article, version, helpful, reason, CAST(NULL AS TEXT) AS address, created_at,
       ((created_at AT TIME ZONE 'UTC')::date - DATE '2000-01-03') / 7 AS week
FROM votes {where}
ORDER BY visitor COLLATE "C", article COLLATE "C", (created_at AT TIME ZONE 'UTC')::date,
         created_at DESC, vote_id COLLATE "C" DESC
"""
# A comment counts when no later vote by the same visitor on the same article that UTC day exists.
_SQLITE_PLAIN_COMMENTS = """
SELECT v.article, v.vote_id, v.version, v.helpful, v.reason, v.comment, v.created_at FROM votes AS v
WHERE v.comment IS NOT NULL AND v.comment <> '' {where}
AND NOT EXISTS (
    SELECT 1 FROM votes AS w
    WHERE w.article = v.article AND w.visitor = v.visitor
      AND w.created_at >= v.created_at
      AND w.created_at < substr(v.created_at, 1, 10) || 'U'   -- 'T' < 'U': the rest of that day
      AND (w.created_at > v.created_at OR w.vote_id > v.vote_id){same}
      )
"""
_PG_PLAIN_COMMENTS = """
SELECT v.article, v.vote_id, v.version, v.helpful, v.reason, v.comment, v.created_at FROM votes AS v
WHERE v.comment IS NOT NULL AND v.comment <> '' {where}
AND NOT EXISTS (
    SELECT 1 FROM votes AS w
    WHERE w.article = v.article AND w.visitor = v.visitor
      AND w.created_at >= v.created_at
      AND w.created_at < date_trunc('day', v.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + INTERVAL '1 day'
      AND (w.created_at > v.created_at OR w.vote_id COLLATE "C" > v.vote_id COLLATE "C"){same}
      )
"""
# Counted votes and helpful ones per language, rows without one as the default's (the first
# parameter): the counting rule as above with the language in its keys, then (on stores with client
# addresses) the cap, with the language in its keys too.
_LANGUAGE_SUMS = """
SELECT lang, COUNT(*), SUM(CASE WHEN helpful THEN 1 ELSE 0 END) FROM ({counted}) AS counted GROUP BY lang
"""
_LANGUAGE_CAPPED = """
SELECT lang, helpful FROM (
    SELECT deduped.*, ROW_NUMBER() OVER (PARTITION BY address, article, {day}, lang
                                         ORDER BY created_at DESC, vote_id {collate} DESC) AS nth
    FROM ({deduped}) AS deduped) AS ranked
WHERE address IS NULL OR nth <= """ + str(CAP_PER_ADDRESS)
_SQLITE_LANGUAGE_COUNTED = """
SELECT COALESCE(language, ?) AS lang, article, helpful, vote_id{address}, MAX(created_at) AS created_at
FROM votes NOT INDEXED {where}
GROUP BY visitor, article, substr(created_at, 1, 10), lang
"""
_PG_LANGUAGE_COUNTED = """
SELECT DISTINCT ON (visitor COLLATE "C", article COLLATE "C", (created_at AT TIME ZONE 'UTC')::date, lang)
       lang, article, helpful, vote_id{address}, created_at
FROM (SELECT COALESCE(language, %s) AS lang, * FROM votes {where}) AS votes
ORDER BY visitor COLLATE "C", article COLLATE "C", (created_at AT TIME ZONE 'UTC')::date, lang,
         created_at DESC, vote_id COLLATE "C" DESC
"""
# Whether the store has rows that need the join or the cap (any follow-up, any client address).
_NEEDS_FULL = ("SELECT EXISTS (SELECT 1 FROM vote_followups) "
               "OR EXISTS (SELECT 1 FROM votes WHERE address IS NOT NULL)")


def _sqlite_counted(where: str, *, week: bool = False, hint: str = "NOT INDEXED") -> str:
    deduped = _SQLITE_COUNTED.format(joined=_JOINED.format(hint=hint), where=where)
    return _CAPPED.format(week=_SQLITE_WEEK if week else "", day="substr(created_at, 1, 10)", collate="",
                          deduped=deduped)


def _pg_counted(where: str) -> str:
    deduped = _PG_COUNTED.format(joined=_JOINED.format(hint=""), where=where)
    return _CAPPED.format(week=_PG_WEEK, day="(created_at AT TIME ZONE 'UTC')::date", collate='COLLATE "C"',
                          deduped=deduped)


@dataclass(frozen=True)
class Language:
    """Only the votes made in language `code`; with `default`, rows stored without a language too."""

    code: str
    default: bool = False


def _conditions(since: object, language: Language | None, mark: str, alias: str = "") -> tuple[list[str], list]:
    """SQL conditions (and their parameters, in order) for the period and the language."""
    conds: list[str] = []
    params: list = []
    if since is not None:
        conds.append(f"{alias}created_at >= {mark}")
        params.append(since)
    if language is not None:
        column = f"{alias}language"
        conds.append(f"({column} = {mark} OR {column} IS NULL)" if language.default else f"{column} = {mark}")
        params.append(language.code)
    return conds, params


def _where(since: object, language: Language | None, mark: str, *conditions: str) -> tuple[str, tuple]:
    """A WHERE clause: `conditions` (their parameters come first), then the period's and the language's."""
    conds, params = _conditions(since, language, mark)
    conds = [*conditions, *conds]
    return ("WHERE " + " AND ".join(conds)) if conds else "", tuple(params)


def _plain_comments(template: str, since: object, language: Language | None, mark: str) -> tuple[str, tuple]:
    """The plain comments query: the period and the language on the vote, the language on a later one."""
    outer, params = _conditions(since, language, mark, "v.")
    same, more = _conditions(None, language, mark, "w.")  # a later vote is later than `since` anyway
    sql = template.format(where="".join(f" AND {c}" for c in outer), same="".join(f" AND {c}" for c in same))
    return sql, (*params, *more)


def _language_sums(counted: str, where: str, full: bool, day: str, collate: str) -> str:
    """Counted votes per language (`counted`: a dialect's counting rule), capped on `full` stores."""
    if not full:  # no client address anywhere: nothing to cap, no window to sort
        return _LANGUAGE_SUMS.format(counted=counted.format(where=where, address=""))
    deduped = counted.format(where=where, address=", address")
    return _LANGUAGE_SUMS.format(counted=_LANGUAGE_CAPPED.format(deduped=deduped, day=day, collate=collate))


def _reader(store: Any, since: datetime | None, language: Language | None) -> _SQLite | _Postgres | None:
    dialect = getattr(store, "dialect", None)
    if dialect == "sqlite" and getattr(store, "path", None) is not None:
        uri = f"file:{quote(str(store.path))}?mode=ro"
        return _SQLite(lambda: sqlite3.connect(uri, uri=True, check_same_thread=False), since, language)
    if dialect == "postgresql" and getattr(store, "url", None):
        return _Postgres(store.url, since, language)
    return None


def tally(store: Any, since: datetime | None, language: Language | None = None) -> Tallies | None:
    """The store's counted votes (of `language` only, if given) aggregated in SQL, or None when
    this store's database is not known."""
    reader = _reader(store, since, language)
    return reader.tally() if reader is not None else None


def language_totals(store: Any, since: datetime | None, default: str) -> dict[str, Cell] | None:
    """Counted votes per language ({code: Cell(votes, helpful)}; rows without a language count as
    `default`'s), or None when this store's database is not known."""
    reader = _reader(store, since, None)
    return reader.language_totals(default) if reader is not None else None


def _needs_full(query: Callable[[str, tuple], list[tuple]]) -> bool:
    """True when follow-ups or client addresses exist (schema 3 rows); False on older stores."""
    try:
        return bool(query(_NEEDS_FULL, ())[0][0])
    except Exception:  # noqa: BLE001 - a store from before schema 3 has neither table nor column
        return False


class _SqlTallies(Tallies):
    """Tallies whose week-by-week cells are fetched from the database only for the articles asked."""

    def __init__(self, fetch_weeks: Callable[[list[str]], list[tuple]]) -> None:
        super().__init__()
        self._fetch_weeks = fetch_weeks

    def weeks_of(self, article_ids: list[str]) -> dict[str, dict[date, Cell]]:
        out: dict[str, dict[date, Cell]] = {aid: {} for aid in article_ids}
        if article_ids:
            for article, week, n, k, first, last in self._fetch_weeks(article_ids):
                out[article][_EPOCH_MONDAY + timedelta(weeks=int(week))] = Cell(n, int(k), first, last)
        return out


def _fill(tallies: Tallies, by_version: list[tuple], comments: list[tuple], to_time: Callable) -> None:
    """Fill `tallies` from the per-version rows and the comments: the rows of a separate query, or
    (on stores counted in full) each version row's last column, a JSON array with times as ISO text."""
    for article, version, n, k, *reasons, other, first, last, low, high, known, unknown, array in by_version:
        tallies.versions[article][version] = Cell(n, int(k), to_time(first), to_time(last))
        tallies.addresses[article].merge(low, high, int(known), int(unknown))
        counts = Counter({r: int(c) for r, c in zip(REASONS, reasons) if c})
        if other:
            counts["other"] = int(other)
        if counts:
            tallies.reasons.setdefault(article, Counter()).update(counts)
        for vote_id, helpful, reason, comment, created_at in (json.loads(array) if isinstance(array, str)
                                                              else array or ()):
            _add_comment(tallies, article, vote_id, version, helpful, reason, comment, _iso_time(created_at))
    for article, vote_id, version, helpful, reason, comment, created_at in comments:
        _add_comment(tallies, article, vote_id, version, helpful, reason, comment, to_time(created_at))


def _add_comment(tallies: Tallies, article: str, vote_id: str, version: str, helpful: object, reason: str | None,
                 comment: str, at: datetime) -> None:
    tallies.add_comment(article, {"vote_id": vote_id, "article": article, "version": version,
                                  "helpful": bool(helpful), "reason": reason, "comment": comment, "created_at": at})


def _iso_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(timezone.utc)


class _SQLite:
    def __init__(self, connect: Callable[[], sqlite3.Connection], since: datetime | None,
                 language: Language | None = None) -> None:
        self.connect = connect
        self.full = True
        self.since = since.astimezone(timezone.utc).isoformat(timespec="microseconds") if since else None
        self.language = language

    def _query(self, sql: str, params: tuple) -> list[tuple]:
        conn = self.connect()
        try:
            conn.execute(f"PRAGMA threads = {_SORTER_THREADS}")
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def _where(self, *conditions: str) -> tuple[str, tuple]:
        return _where(self.since, self.language, "?", *conditions)

    def language_totals(self, default: str) -> dict[str, Cell]:
        where, params = self._where()
        sql = _language_sums(_SQLITE_LANGUAGE_COUNTED, where, _needs_full(self._query), "substr(created_at, 1, 10)", "")
        return {lang: Cell(n, int(k)) for lang, n, k in self._query(sql, (default, *params))}

    def tally(self) -> Tallies:
        where, params = self._where()
        raw = self._query(f"SELECT COUNT(*) FROM votes {where}", params)[0][0]
        self.full = _needs_full(self._query)
        if self.full:  # one count: the comments come with the cells
            jobs = [(_BY_VERSION.format(counted=_sqlite_counted(where), comments=_SQLITE_COMMENTS_ARRAY), params)]
        else:
            jobs = [(_BY_VERSION.format(counted=_SQLITE_PLAIN.format(week="", where=where), comments="NULL"), params),
                    _plain_comments(_SQLITE_PLAIN_COMMENTS, self.since, self.language, "?")]
        results: list[list[tuple] | BaseException] = [[] for _ in jobs]

        def run(i: int) -> None:
            try:
                results[i] = self._query(*jobs[i])
            except BaseException as exc:  # re-raised in the calling thread below
                results[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(1, len(jobs))]
        for t in threads:
            t.start()
        run(0)
        for t in threads:
            t.join()
        for r in results:
            if isinstance(r, BaseException):
                raise r
        by_version, comments = results if len(results) == 2 else (results[0], [])
        tallies = _SqlTallies(self._weeks)
        tallies.raw_votes = raw
        _fill(tallies, by_version, comments, _iso_time)
        return tallies

    def _weeks(self, article_ids: list[str]) -> list[tuple]:
        rows = []
        for i in range(0, len(article_ids), 500):
            chunk = article_ids[i:i + 500]
            where, params = self._where(f"article IN ({', '.join('?' * len(chunk))})")
            if self.full:
                sql = _BY_WEEK.format(counted=_sqlite_counted(where, week=True, hint=""))
            else:
                counted = _SQLITE_PLAIN.format(week=_SQLITE_WEEK, where=where).replace("NOT INDEXED", "")
                sql = _BY_WEEK.format(counted=counted)
            rows += self._query(sql, tuple(chunk) + params)
        return [(a, w, n, k, _iso_time(f), _iso_time(l)) for a, w, n, k, f, l in rows]


class _Postgres:
    def __init__(self, url: str, since: datetime | None, language: Language | None = None) -> None:
        self.url = url
        self.since = since
        self.language = language
        self.full = True

    def _query(self, sql: str, params: tuple) -> list[tuple]:
        import psycopg

        # Set after connecting: an `options=` argument would replace the URL's own (a search_path, say).
        # (A bigger work_mem was measured: no faster on a million votes, so the server's default stays.)
        with psycopg.connect(self.url) as conn:
            conn.execute("SET timezone = 'UTC'")
            return conn.execute(sql, params).fetchall()

    def _where(self, *conditions: str) -> tuple[str, tuple]:
        return _where(self.since, self.language, "%s", *conditions)

    def language_totals(self, default: str) -> dict[str, Cell]:
        where, params = self._where()
        sql = _language_sums(_PG_LANGUAGE_COUNTED, where, _needs_full(self._query),
                             "(created_at AT TIME ZONE 'UTC')::date", 'COLLATE "C"')
        return {lang: Cell(n, int(k)) for lang, n, k in self._query(sql, (default, *params))}

    def tally(self) -> Tallies:
        where, params = self._where()
        raw = self._query(f"SELECT COUNT(*) FROM votes {where}", params)[0][0]
        self.full = _needs_full(self._query)
        if self.full:  # one count: the comments come with the cells
            by_version = self._query(_BY_VERSION.format(counted=_pg_counted(where), comments=_PG_COMMENTS_ARRAY),
                                     params)
            comments = []
        else:
            by_version = self._query(_BY_VERSION.format(counted=_PG_PLAIN.format(where=where), comments="NULL"),
                                     params)
            comments = self._query(*_plain_comments(_PG_PLAIN_COMMENTS, self.since, self.language, "%s"))
        tallies = _SqlTallies(self._weeks)
        tallies.raw_votes = raw
        _fill(tallies, by_version, comments, lambda v: v.astimezone(timezone.utc))
        return tallies

    def _weeks(self, article_ids: list[str]) -> list[tuple]:
        where, params = self._where("article = ANY(%s)")
        params = (article_ids, *params)
        counted = _pg_counted(where) if self.full else _PG_PLAIN.format(where=where)
        rows = self._query(_BY_WEEK.format(counted=counted), params)
        return [(a, w, n, k, f.astimezone(timezone.utc), l.astimezone(timezone.utc)) for a, w, n, k, f, l in rows]
