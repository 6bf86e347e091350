"""The votes store's tables: their columns, the versioned schema, and the SQL every store shares.

The one place the stored shape is written; `kb.votes.store` reads and writes through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kb.votes.schema import text_problem
from kb.votes.writer import StoreError

__all__ = ["FOLLOWUP_SQL", "HEALTH_PROBE_SQL", "MIGRATIONS", "SCHEMA_VERSION_DDL", "TABLES", "Table", "VOTES_JOINED",
           "as_utc", "migration_sql", "row_of"]


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    columns: tuple[str, ...]
    added_later: tuple[str, ...] = ()  # columns an export from an older kb may lack


TABLES: dict[str, Table] = {
    "votes": Table("votes", "vote_id", ("vote_id", "article", "version", "helpful", "reason",
                                        "comment", "visitor", "created_at", "language", "address"),
                   ("language", "address")),
    "searches": Table("searches", "event_id", ("event_id", "query", "results", "article",
                                               "visitor", "created_at", "language", "channel", "address"),
                       ("language", "channel", "address")),
    "contacts": Table("contacts", "event_id", ("event_id", "channel", "article", "query",
                                               "visitor", "created_at", "language", "address"),
                      ("language", "address")),
}

# A vote's reason and comment may come after it (the page was hidden before the visitor picked
# one): the same vote_id again, from the same visitor. Rows are never updated; the follow-up is a
# row of its own, kept only when its vote is stored with the same visitor and the same answer,
# first one wins, and every read joins it (the vote's own reason and comment win over it).
FOLLOWUP_SQL = (
    "INSERT INTO vote_followups (vote_id, reason, comment, visitor, created_at) "
    "SELECT {p}, {p}, {p}, {p}, {p} WHERE EXISTS (SELECT 1 FROM votes WHERE vote_id = {p} "
    "AND visitor = {p} AND helpful = {p} AND created_at < {p}) ON CONFLICT (vote_id) DO NOTHING")
#: The votes with their follow-ups joined, as every read sees them (`{cols}`: more columns of v).
VOTES_JOINED = (
    "SELECT v.vote_id, v.article, v.version, v.helpful, COALESCE(v.reason, f.reason) AS reason, "
    "COALESCE(v.comment, f.comment) AS comment, v.visitor, v.created_at, v.language, v.address "
    "FROM votes AS v LEFT JOIN vote_followups AS f ON f.vote_id = v.vote_id")

# Versioned schema. `{ts}` is the timestamp type: TEXT (fixed-width ISO 8601, UTC) on SQLite,
# TIMESTAMPTZ on PostgreSQL. Append new versions; never edit a released one.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE votes (
            vote_id TEXT PRIMARY KEY,
            article TEXT NOT NULL,
            version TEXT NOT NULL,
            helpful BOOLEAN NOT NULL,
            reason TEXT,
            comment TEXT,
            visitor TEXT NOT NULL,
            created_at {ts} NOT NULL)""",
        "CREATE INDEX votes_created_at ON votes (created_at)",
        "CREATE INDEX votes_article ON votes (article, created_at)",
        """CREATE TABLE searches (
            event_id TEXT PRIMARY KEY,
            query TEXT NOT NULL,
            results INTEGER NOT NULL,
            article TEXT,
            visitor TEXT NOT NULL,
            created_at {ts} NOT NULL)""",
        "CREATE INDEX searches_created_at ON searches (created_at)",
        """CREATE TABLE contacts (
            event_id TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            article TEXT,
            query TEXT,
            visitor TEXT NOT NULL,
            created_at {ts} NOT NULL)""",
        "CREATE INDEX contacts_created_at ON contacts (created_at)",
    ]),
    # The help center's language on every row (null before languages), and the channel a search
    # came from (web, api, mcp, or a bot's own name; null for rows from before channels).
    (2, [
        "ALTER TABLE votes ADD COLUMN language TEXT",
        "ALTER TABLE searches ADD COLUMN language TEXT",
        "ALTER TABLE searches ADD COLUMN channel TEXT",
        "ALTER TABLE contacts ADD COLUMN language TEXT",
    ]),
    # The client address's keyed hash (the day's key, like `visitor`; never the address), for the
    # report's per-address cap; and reasons and comments that arrive after their vote.
    (3, [
        "ALTER TABLE votes ADD COLUMN address TEXT",
        "ALTER TABLE searches ADD COLUMN address TEXT",
        "ALTER TABLE contacts ADD COLUMN address TEXT",
        """CREATE TABLE vote_followups (
            vote_id TEXT PRIMARY KEY,
            reason TEXT,
            comment TEXT,
            visitor TEXT NOT NULL,
            created_at {ts} NOT NULL)""",
    ]),
    # The health probe's one row: /healthz proves the store takes a write by committing this
    # row again (never a vote, so no count changes).
    (4, [
        """CREATE TABLE health_probe (
            id INTEGER PRIMARY KEY,
            written_at {ts} NOT NULL)""",
    ]),
]

#: The health probe's write: the one row of health_probe, written again (`{p}`: the placeholder).
HEALTH_PROBE_SQL = ("INSERT INTO health_probe (id, written_at) VALUES (1, {p}) "
                    "ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at")

SCHEMA_VERSION_DDL = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"


def migration_sql(ts_type: str) -> list[tuple[int, list[str]]]:
    """MIGRATIONS with `{ts}` as the given timestamp type."""
    return [(v, [s.replace("{ts}", ts_type) for s in stmts]) for v, stmts in MIGRATIONS]


def as_utc(value: Any, field: str = "created_at") -> datetime:
    """A timezone-aware UTC datetime from a datetime or an ISO 8601 string."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise StoreError(f"{field}: not an ISO 8601 time: {value!r}") from exc
    if not isinstance(value, datetime):
        raise StoreError(f"{field}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        raise StoreError(f"{field}: time without a time zone: {value.isoformat()}")
    return value.astimezone(timezone.utc)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise StoreError(f"helpful: expected true or false, got {value!r}")


def row_of(table: Table, record: dict) -> dict:
    """Normalise one record for insertion; missing optional fields become None."""
    row = {name: record.get(name) for name in table.columns}
    if not row[table.key]:
        raise StoreError(f"{table.name}: record without {table.key}")
    row["created_at"] = as_utc(row["created_at"] if row["created_at"] is not None
                             else datetime.now(timezone.utc))
    if table.name == "votes":
        row["helpful"] = _bool(row["helpful"])
    if table.name == "searches":
        row["results"] = int(row["results"])
    for name, value in row.items():
        # The one rule of what text both stores can hold (kb.votes.schema): nothing it refuses
        # reaches either store, whichever way it came in.
        if isinstance(value, str) and (problem := text_problem(value)) is not None:
            raise StoreError(f"{table.name}: {name}: {problem}")
    for name in ("reason", "comment", "article", "query", "language", "channel"):
        if name in row and row[name] == "":
            row[name] = None
    return row
