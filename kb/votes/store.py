"""Votes storage: append-only tables on SQLite (one machine) or PostgreSQL (many collectors).

Both stores run the same SQL (only the placeholder and the timestamp type differ). SQLite
writes go through one writer thread that commits every waiting batch in one transaction
(group commit), so a returned count means the rows are on disk without paying one fsync per
vote. PostgreSQL writes go through a psycopg 3 connection pool and commit per batch.
"""

from __future__ import annotations

import concurrent.futures
import functools
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from kb.votes.tables import (FOLLOWUP_SQL, HEALTH_PROBE_SQL, SCHEMA_VERSION_DDL, TABLES, VOTES_JOINED,
                             as_utc, migration_sql, row_of)
from kb.votes.writer import GroupWriter, RecordRefused, StoreError

__all__ = ["PROBE_TIMEOUT", "RecordRefused", "Store", "StoreError", "TABLES", "open_store"]

PROBE_TIMEOUT = 2.0
"""Seconds the health probe waits for the store's read, then for its write, before calling it failing."""


def open_store(url: str) -> Store:
    """Open the store named by `url`: sqlite:///PATH (or a bare path) or postgresql://..."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
    elif "://" in url:
        raise StoreError(f"unsupported store URL {url!r}: expected sqlite:///PATH or postgresql://...")
    else:
        path = url
    if not path or path == ":memory:":
        raise StoreError(f"store URL {url!r} names no file: expected sqlite:///PATH")
    return SQLiteStore(Path(path))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Store:
    """An append-only store of votes, searches and contact clicks."""

    dialect = ""
    placeholder = "?"

    _writer: GroupWriter | None = None

    # -- writes ---------------------------------------------------------------------------
    def submit(self, table: str, records: list[dict]) -> concurrent.futures.Future[int]:
        """Queue `records` for `table`; the future resolves to the number newly stored."""
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}: expected one of {', '.join(TABLES)}")
        rows = [row_of(TABLES[table], r) for r in records]
        if not rows:
            future: concurrent.futures.Future[int] = concurrent.futures.Future()
            future.set_result(0)
            return future
        if self._writer is None:
            raise StoreError("store is closed")
        return self._writer.submit(table, rows)

    def submit_later(self, table: str, records: list[dict]) -> concurrent.futures.Future[int]:
        """Queue `records` nobody waits for: committed with the next commit, within a second, or at
        `close` (see GroupWriter.submit_later)."""
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}: expected one of {', '.join(TABLES)}")
        if self._writer is None:
            raise StoreError("store is closed")
        return self._writer.submit_later(table, [row_of(TABLES[table], r) for r in records])

    def _commit_batch(self, work: list[tuple[str, list[dict]]]) -> list[int]:
        """Append every (table, rows) of `work` in one transaction; rows newly stored per item."""
        raise NotImplementedError

    def submit_all(self, work: list[tuple[str, list[dict]]]) -> concurrent.futures.Future[list[int]]:
        """Append every (table, records) of `work` in ONE transaction: all stored, or none."""
        rows = [(table, [row_of(TABLES[table], r) for r in records]) for table, records in work]
        if self._writer is None:
            raise StoreError("store is closed")
        return self._writer.submit_unit(rows)

    @staticmethod
    def _followups(rows: list[dict]) -> list[tuple]:
        """FOLLOWUP_SQL's parameters for the votes of `rows` that carry a reason or a comment."""
        return [(r["vote_id"], r["reason"], r["comment"], r["visitor"], r["created_at"],
                 r["vote_id"], r["visitor"], r["helpful"], r["created_at"])
                for r in rows if r["reason"] is not None or r["comment"] is not None]

    def add_votes(self, votes: list[dict]) -> int:
        """Append votes; a vote_id already stored is skipped. Returns rows newly stored."""
        return self.submit("votes", votes).result()

    def add_searches(self, rows: list[dict]) -> int:
        """Append failed searches; a repeated event_id is skipped."""
        return self.submit("searches", rows).result()

    def add_contacts(self, rows: list[dict]) -> int:
        """Append contact-channel clicks; a repeated event_id is skipped."""
        return self.submit("contacts", rows).result()

    # -- reads ----------------------------------------------------------------------------
    def votes(self, since: datetime | None = None) -> Iterator[dict]:
        """Every vote (since `since`, if given) in arrival order."""
        return self._select("votes", since)

    def searches(self, since: datetime | None = None) -> Iterator[dict]:
        """Every reported search in arrival order."""
        return self._select("searches", since)

    def contacts(self, since: datetime | None = None) -> Iterator[dict]:
        """Every contact click in arrival order."""
        return self._select("contacts", since)

    def rows(self, table: str, since: datetime | None = None) -> Iterator[dict]:
        """Rows of `table` by name (votes, searches or contacts)."""
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}: expected one of {', '.join(TABLES)}")
        return self._select(table, since)

    def _select(self, table: str, since: datetime | None) -> Iterator[dict]:
        raise NotImplementedError

    def _select_sql(self, table: str, since: datetime | None) -> str:
        columns = ", ".join(TABLES[table].columns)
        where = f" WHERE created_at >= {self.placeholder}" if since is not None else ""
        source = f"({VOTES_JOINED}) AS votes" if table == "votes" else table
        return f"SELECT {columns} FROM {source}{where} ORDER BY created_at, {TABLES[table].key}"

    def _insert_sql(self, table: str) -> str:
        t = TABLES[table]
        marks = ", ".join([self.placeholder] * len(t.columns))
        return (f"INSERT INTO {t.name} ({', '.join(t.columns)}) VALUES ({marks}) "
                f"ON CONFLICT ({t.key}) DO NOTHING")

    # -- housekeeping ---------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest version; safe to run again and concurrently."""
        raise NotImplementedError

    def schema_version(self) -> int:
        """The newest migration applied (0 for an empty store)."""
        raise NotImplementedError

    def check(self) -> str:
        """'ok', or what is wrong with the stored data."""
        raise NotImplementedError

    def ping(self) -> None:
        """Raise when the store cannot answer a trivial query (cheap; for /healthz)."""
        raise NotImplementedError

    _probe_pending: concurrent.futures.Future | None = None

    def probe(self, timeout: float = PROBE_TIMEOUT) -> tuple[str, str | None]:
        """("ok", None), or ("cannot read" | "cannot write", why): a read, then a write committed
        by the writer thread the way a vote is, each given `timeout` seconds.

        The write is the health_probe table's one row, written again. While a probe's write is
        still waiting (the store hangs), the next probe waits for that one instead of queueing
        another behind it.
        """
        try:
            self.ping()
        except Exception as exc:  # noqa: BLE001 - the answer is what is wrong
            return "cannot read", _first_line(exc)
        if self._writer is None:
            return "cannot write", "store is closed"
        pending = self._probe_pending
        if pending is None or pending.done():
            pending = self._probe_pending = self._writer.submit_call(self._write_probe)
        try:
            pending.result(timeout)
        except concurrent.futures.TimeoutError:
            return "cannot write", f"no commit within {timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - the answer is what is wrong
            return "cannot write", _first_line(exc)
        return "ok", None

    def _write_probe(self) -> None:
        """Commit the health probe's row (on the writer thread)."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish pending writes and release connections."""
        raise NotImplementedError

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------------------
# SQLite
# ----------------------------------------------------------------------------------------


def _iso(dt: datetime) -> str:
    # Fixed width (always microseconds, always +00:00) so text order is time order.
    return dt.isoformat(timespec="microseconds")


class SQLiteStore(Store):
    """SQLite in WAL mode, synchronous=FULL, one writer thread with group commit."""

    dialect = "sqlite"
    placeholder = "?"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._conn: sqlite3.Connection | None = None  # the writer thread's own connection
        self._statements = {name: self._insert_sql(name) for name in TABLES}
        self._followup_sql = FOLLOWUP_SQL.format(p="?")
        self._writer = GroupWriter("kb-store-writer", self._commit_batch, str(path), refused=_sqlite_refused)

    def _connect(self) -> sqlite3.Connection:
        if not self.path.parent.exists():
            raise StoreError(f"{self.path.parent}: no such directory for the votes database")
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    # writes (called on the writer thread only)
    def _commit_batch(self, work: list[tuple[str, list[dict]]]) -> list[int]:
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        counts = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for table, rows in work:
                cur = conn.executemany(self._statements[table], [self._params(table, r) for r in rows])
                counts.append(cur.rowcount)
                if table == "votes":
                    followups = [tuple(_iso(v) if isinstance(v, datetime) else v for v in params)
                                 for params in self._followups(rows)]
                    if followups:
                        conn.executemany(self._followup_sql, followups)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return counts

    @staticmethod
    def _params(table: str, row: dict) -> tuple:
        values = []
        for name in TABLES[table].columns:
            value = row[name]
            if name == "created_at":
                value = _iso(value)
            elif name == "helpful":
                value = 1 if value else 0
            values.append(value)
        return tuple(values)

    # reads
    def _select(self, table: str, since: datetime | None) -> Iterator[dict]:
        conn = self._connect()
        try:
            params = (_iso(as_utc(since, "since")),) if since is not None else ()
            cur = conn.execute(self._select_sql(table, since), params)
            columns = TABLES[table].columns
            fromiso = datetime.fromisoformat
            is_votes = table == "votes"
            while True:
                chunk = cur.fetchmany(2000)
                if not chunk:
                    break
                for values in chunk:
                    row = dict(zip(columns, values))
                    row["created_at"] = fromiso(row["created_at"])
                    if is_votes:
                        row["helpful"] = bool(row["helpful"])
                    yield row
        finally:
            conn.close()

    # housekeeping
    def migrate(self) -> None:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(SCHEMA_VERSION_DDL)
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            for version, statements in migration_sql("TEXT"):
                if version <= current:
                    continue
                for sql in statements:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                             (version, _iso(datetime.now(timezone.utc))))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def schema_version(self) -> int:
        conn = self._connect()
        try:
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'").fetchone()
            if not exists:
                return 0
            return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
        finally:
            conn.close()

    def check(self) -> str:
        try:
            conn = self._connect()
        except sqlite3.DatabaseError as exc:
            return f"{self.path}: {exc}"
        try:
            found = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            return "ok" if found == ["ok"] else "; ".join(found)
        except sqlite3.DatabaseError as exc:
            return f"{self.path}: {exc}"
        finally:
            conn.close()

    def ping(self) -> None:
        conn = self._connect()
        try:
            conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()
        finally:
            conn.close()

    def _write_probe(self) -> None:
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(HEALTH_PROBE_SQL.format(p="?"), (_iso(datetime.now(timezone.utc)),))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _sqlite_refused(exc: BaseException) -> bool:
    """A failure of the rows, not of the store: a constraint or a value SQLite cannot take (a
    locked, read-only, full or broken database is an OperationalError or a DatabaseError)."""
    return isinstance(exc, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, ValueError,
                            OverflowError))


# ----------------------------------------------------------------------------------------
# PostgreSQL
# ----------------------------------------------------------------------------------------


def _configure_utc(conn: Any) -> None:
    # Set per connection (not via the URL's `options`, which a deployment may use itself).
    conn.execute("SET TIME ZONE 'UTC'")


_PG_ARRAYS = {"helpful": "boolean[]", "results": "integer[]", "created_at": "timestamptz[]"}
"""Array types of the columns that are not TEXT, for _pg_insert_rows_sql."""


@functools.lru_cache(maxsize=None)
def _pg_insert_rows_sql(table: str) -> str:
    """INSERT of any number of rows into `table`, a column an array parameter, that skips stored
    keys and returns the new ones. The text is the same for one row or a thousand, so psycopg
    parses it once and the server prepares it once."""
    t = TABLES[table]
    arrays = ", ".join(f"%s::{_PG_ARRAYS.get(c, 'text[]')}" for c in t.columns)
    return (f"INSERT INTO {t.name} ({', '.join(t.columns)}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT ({t.key}) DO NOTHING RETURNING {t.key}")


class PostgresStore(Store):
    """PostgreSQL through psycopg 3 and a connection pool; same SQL as SQLite."""

    dialect = "postgresql"
    placeholder = "%s"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        import psycopg_pool  # imported here so SQLite users never need libpq

        self.url = url
        # After an outage the pool reconnects in the background with a growing delay; giving up
        # on a slot after RECONNECT_SECONDS (and growing again when asked for a connection)
        # keeps that delay short, so the store is back within seconds of the database. A caller
        # waits at most CONNECT_WAIT for a connection: a vote fails fast (503, retried by the
        # browser or sent by the proxy to another collector) rather than hanging.
        self._pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=pool_size, open=True, timeout=self.CONNECT_WAIT,
            reconnect_timeout=self.RECONNECT_SECONDS,
            kwargs={"autocommit": True, "client_encoding": "UTF8", "connect_timeout": 5},
            configure=_configure_utc,
        )
        self._followup_sql = FOLLOWUP_SQL.format(p="%s")
        # Group commit here too: one commit (one WAL flush on the server) for many votes.
        self._writer = GroupWriter("kb-store-pg-writer", self._commit_group, redact_url(url),
                                   commit_unit=self._commit_batch, refused=_postgres_refused)

    CONNECT_WAIT = 5.0
    RECONNECT_SECONDS = 3.0

    def _commit_batch(self, work: list[tuple[str, list[dict]]]) -> list[int]:
        """All of `work` in one transaction: a unit (an import)."""
        return self._in_transaction(self._by_table(work), len(work))

    def _in_transaction(self, entries: dict[str, list[tuple[int, dict]]], n: int) -> list[int]:
        with self._pool.connection() as conn:
            # Pipeline mode: BEGIN travels with the first INSERT and COMMIT with the follow-ups.
            with conn.pipeline(), conn.transaction():
                return self._insert(conn.cursor(), entries, n)

    def _commit_group(self, work: list[tuple[str, list[dict]]]) -> list[int]:
        """The requests the writer grouped. Each request is one table's rows, and one INSERT of
        a table's rows is atomic on its own: a group of one table (nearly every group) needs no
        transaction around it, so it costs one round trip and no BEGIN or COMMIT."""
        entries = self._by_table(work)
        # A vote with a reason or a comment may bring a follow-up, a second statement: then the
        # group is a transaction too, so a failure leaves nothing half stored (and a retry of
        # part of the group, see GroupWriter, counts each request's rows right).
        followups = any(r["reason"] is not None or r["comment"] is not None
                        for _, r in entries.get("votes", ()))
        if (len(entries) > 1 or followups
                or any(len(items) > self.ROWS_PER_STATEMENT for items in entries.values())):
            return self._in_transaction(entries, len(work))
        with self._pool.connection() as conn:
            return self._insert(conn.cursor(), entries, len(work))

    @staticmethod
    def _by_table(work: list[tuple[str, list[dict]]]) -> dict[str, list[tuple[int, dict]]]:
        entries: dict[str, list[tuple[int, dict]]] = {}
        for i, (table, rows) in enumerate(work):
            entries.setdefault(table, []).extend((i, r) for r in rows)
        return entries

    def _insert(self, cur: Any, entries: dict[str, list[tuple[int, dict]]], n: int) -> list[int]:
        # The rows of one table, from every request, go to the server as one statement: a round
        # trip per table, not per request. RETURNING names the keys that were new, so each
        # request still learns how many of its own rows were stored.
        counts = [0] * n
        for table, items in entries.items():
            t = TABLES[table]
            followups = []
            for start in range(0, len(items), self.ROWS_PER_STATEMENT):
                chunk = items[start:start + self.ROWS_PER_STATEMENT]
                cur.execute(_pg_insert_rows_sql(table), [[r[c] for _, r in chunk] for c in t.columns])
                new = {key for key, in cur.fetchall()}
                for i, r in chunk:
                    if r[t.key] in new:
                        new.discard(r[t.key])  # a key twice in the batch: its first row is stored
                        counts[i] += 1
                    elif table == "votes":
                        followups.append(r)  # an id stored before: its reason may follow up
            params = self._followups(followups)
            if params:
                # After its own INSERT: a failure here fails the requests, whose retries are
                # no-ops for the votes and bring the follow-ups again.
                cur.executemany(self._followup_sql, params)
        return counts

    ROWS_PER_STATEMENT = 1000
    """Rows in one INSERT at most (an import's transaction sends several)."""

    def _select(self, table: str, since: datetime | None) -> Iterator[dict]:
        columns = TABLES[table].columns
        params = (as_utc(since, "since"),) if since is not None else ()
        with self._pool.connection() as conn:
            with conn.transaction():
                # A server-side cursor streams a million rows without holding them all.
                with conn.cursor(name="kb_select") as cur:
                    cur.itersize = 5000
                    cur.execute(self._select_sql(table, since), params)
                    utc = timezone.utc
                    for values in cur:
                        row = dict(zip(columns, values))
                        row["created_at"] = row["created_at"].astimezone(utc)
                        yield row

    def migrate(self) -> None:
        with self._pool.connection() as conn:
            encoding = conn.execute("SHOW server_encoding").fetchone()[0]
            if encoding.upper() not in ("UTF8", "UTF-8"):
                # Text another encoding cannot hold would be refused vote by vote, where SQLite
                # takes it: the same rule on both stores needs UTF8.
                raise StoreError(f"the database's encoding is {encoding}; kb stores text as UTF8: create "
                                 f"the database with ENCODING 'UTF8' (and TEMPLATE template0)")
            with conn.transaction():
                # Several collectors may start together: one migrates, the others wait.
                conn.execute("SELECT pg_advisory_xact_lock(727100)")
                conn.execute(SCHEMA_VERSION_DDL)
                current = conn.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
                for version, statements in migration_sql("TIMESTAMPTZ"):
                    if version <= current:
                        continue
                    for sql in statements:
                        conn.execute(sql)
                    conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)",
                                 (version, _iso(datetime.now(timezone.utc))))

    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            exists = conn.execute("SELECT to_regclass('schema_version')").fetchone()[0]
            if exists is None:
                return 0
            return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]

    def check(self) -> str:
        try:
            with self._pool.connection() as conn:
                problems = []
                for table in TABLES.values():
                    dupes = conn.execute(
                        f"SELECT COUNT(*) - COUNT(DISTINCT {table.key}) FROM {table.name}").fetchone()[0]
                    if dupes:
                        problems.append(f"{table.name}: {dupes} repeated {table.key}")
                return "; ".join(problems) or "ok"
        except Exception as exc:  # noqa: BLE001 - the answer is the text of what is wrong
            return f"{self.url}: {exc}"

    def ping(self) -> None:
        with self._pool.connection(timeout=PROBE_TIMEOUT) as conn:
            conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()

    def _write_probe(self) -> None:
        with self._pool.connection() as conn:
            conn.execute(HEALTH_PROBE_SQL.format(p="%s"), (datetime.now(timezone.utc),))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._pool.close()


def _postgres_refused(exc: BaseException) -> bool:
    """A failure of the rows, not of the store: a constraint (class 23) or a value the database
    cannot take (class 22, a NUL), found by the server or by psycopg before sending. A refused
    connection, a read-only or full database, missing privileges are not."""
    import psycopg

    return isinstance(exc, (psycopg.DataError, psycopg.IntegrityError, ValueError, OverflowError))


def redact_url(url: str) -> str:
    """The store URL without its password (user:***@ and password=***), for anything printed."""
    url = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)
    return re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", url)
