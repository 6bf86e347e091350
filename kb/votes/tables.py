"""The votes store's tables: their columns, the versioned schema, and the SQL every store shares.

The one place the stored shape is written; `kb.votes.store` reads and writes through it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FOLLOWUP_SQL", "HEALTH_PROBE_SQL", "MIGRATIONS", "SCHEMA_VERSION_DDL", "TABLES", "Table", "VOTES_JOINED", "migration_sql"]


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
