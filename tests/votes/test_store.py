"""The votes store on real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
from support import utc

from kb.votes.store import StoreError, open_store


def _vote(vote_id: str, **fields) -> dict:
    row = {"vote_id": vote_id, "article": "reset-password", "version": "3f2a9c1b",
           "helpful": False, "reason": "outdated", "comment": "Menu moved.",
           "visitor": "9f86d081884c7d65", "created_at": utc(2026, 11, 23, 9, 30, 0, 123456)}
    row.update(fields)
    return row


def test_migrate_is_idempotent_and_versioned(store):
    assert store.schema_version() == 4
    store.migrate()
    store.migrate()
    assert store.schema_version() == 4
    assert list(store.votes()) == []


def test_votes_round_trip_exactly(store):
    assert store.add_votes([_vote("v1"), _vote("v2", helpful=True, reason=None, comment=None)]) == 2
    assert list(store.votes()) == [
        {"vote_id": "v1", "article": "reset-password", "version": "3f2a9c1b", "helpful": False,
         "reason": "outdated", "comment": "Menu moved.", "visitor": "9f86d081884c7d65",
         "created_at": utc(2026, 11, 23, 9, 30, 0, 123456), "language": None, "address": None},
        {"vote_id": "v2", "article": "reset-password", "version": "3f2a9c1b", "helpful": True,
         "reason": None, "comment": None, "visitor": "9f86d081884c7d65",
         "created_at": utc(2026, 11, 23, 9, 30, 0, 123456), "language": None, "address": None},
    ]
    assert list(store.votes())[0]["created_at"].tzinfo == timezone.utc


def test_a_version_1_store_gains_the_language_and_channel_columns(tmp_path):
    import sqlite3

    from kb.votes.tables import MIGRATIONS, SCHEMA_VERSION_DDL

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(SCHEMA_VERSION_DDL)
    for statement in MIGRATIONS[0][1]:
        conn.execute(statement.replace("{ts}", "TEXT"))
    conn.execute("INSERT INTO schema_version VALUES (1, '2026-11-01T00:00:00+00:00')")
    conn.execute("INSERT INTO votes VALUES ('v0', 'reset-password', '3f2a9c1b', 1, NULL, NULL, 'aa', "
                 "'2026-11-01T08:00:00.000000+00:00')")
    conn.commit()
    conn.close()
    store = open_store(f"sqlite:///{path}")
    try:
        store.migrate()
        assert store.schema_version() == 4
        assert [(v["vote_id"], v["language"]) for v in store.votes()] == [("v0", None)]
        store.add_votes([_vote("v1", language="pl")])
        assert [(v["vote_id"], v["language"]) for v in store.votes()] == [("v0", None), ("v1", "pl")]
    finally:
        store.close()


def test_repeated_vote_id_is_stored_once(store):
    assert store.add_votes([_vote("v1")]) == 1
    assert store.add_votes([_vote("v1", comment="changed")]) == 0
    assert store.add_votes([_vote("v2"), _vote("v2"), _vote("v1")]) == 1
    assert [(v["vote_id"], v["comment"]) for v in store.votes()] == [
        ("v1", "Menu moved."), ("v2", "Menu moved.")]


def test_requests_committed_together_each_learn_their_own_count(store):
    # submit() does not wait: these reach the writer while it commits, and go in grouped.
    futures = [store.submit("votes", [_vote(f"g{i % 30}", reason=None, comment=None)]) for i in range(60)]
    assert [f.result() for f in futures] == [1] * 30 + [0] * 30
    assert len(list(store.votes())) == 30


def test_a_reason_following_its_vote_in_the_same_batch_is_joined(store):
    no = _vote("f1", reason=None, comment=None, created_at=utc(2026, 11, 23, 9, 30))
    why = _vote("f1", reason="unclear", comment="Step 3?", created_at=utc(2026, 11, 23, 9, 31))
    assert store.add_votes([no, why]) == 1
    assert [(v["vote_id"], v["reason"], v["comment"]) for v in store.votes()] == [("f1", "unclear", "Step 3?")]


def test_since_and_order(store):
    store.add_votes([_vote("late", created_at=utc(2026, 11, 23, 12)),
                     _vote("early", created_at=utc(2026, 11, 22, 12))])
    assert [v["vote_id"] for v in store.votes()] == ["early", "late"]
    assert [v["vote_id"] for v in store.votes(since=utc(2026, 11, 23))] == ["late"]
    # A time in another zone means the same instant.
    cet = timezone(timedelta(hours=1))
    assert [v["vote_id"] for v in store.votes(since=datetime(2026, 11, 23, 12, 30, tzinfo=cet))] == ["late"]


def _search(event_id: str) -> dict:
    return {"event_id": event_id, "query": "refund to card", "results": 1, "article": "refunds",
            "visitor": "v", "created_at": utc(2026, 11, 23, 10), "channel": "api"}


def test_rows_submitted_for_later_are_committed_within_the_delay(store, monkeypatch):
    import kb.votes.writer as writer

    monkeypatch.setattr(writer, "LATER_SECONDS", 1.5)
    first = store.submit_later("searches", [_search("s1")])
    second = store.submit_later("searches", [_search("s2"), _search("s1")])
    assert not first.done() and list(store.searches()) == []  # nothing committed them yet
    assert (first.result(timeout=10), second.result(timeout=10)) == (1, 1)
    assert [r["event_id"] for r in store.searches()] == ["s1", "s2"]


def test_rows_submitted_for_later_go_with_the_next_commit_or_at_close(store_url):
    store = open_store(store_url)
    store.migrate()
    try:
        later = store.submit_later("searches", [_search("s1")])
        assert store.add_votes([_vote("v1")]) == 1  # the vote's commit takes the waiting search along
        assert later.done() and later.result() == 1
        assert [r["event_id"] for r in store.searches()] == ["s1"]
        at_close = store.submit_later("searches", [_search("s2")])
    finally:
        store.close()
    assert at_close.result() == 1
    reopened = open_store(store_url)
    try:
        assert [r["event_id"] for r in reopened.searches()] == ["s1", "s2"]
    finally:
        reopened.close()
    with pytest.raises(StoreError, match="store is closed"):
        store.submit_later("searches", [_search("s3")])


def test_searches_and_contacts_round_trip(store):
    when = utc(2026, 11, 23, 10, 0, 0, 5)
    assert store.add_searches([
        {"event_id": "s1", "query": "refund to card", "results": 0, "article": None,
         "visitor": "v", "created_at": when, "language": "pl", "channel": "mcp"},
        {"event_id": "s1", "query": "again", "results": 3, "article": None, "visitor": "v",
         "created_at": when},
    ]) == 1
    assert store.add_contacts([
        {"event_id": "c1", "channel": "chat", "article": "track-order", "query": "parcel late",
         "visitor": "v", "created_at": when},
    ]) == 1
    assert list(store.searches()) == [{"event_id": "s1", "query": "refund to card", "results": 0,
                                       "article": None, "visitor": "v", "created_at": when,
                                       "language": "pl", "channel": "mcp", "address": None}]
    assert list(store.contacts()) == [{"event_id": "c1", "channel": "chat",
                                       "article": "track-order", "query": "parcel late",
                                       "visitor": "v", "created_at": when, "language": None, "address": None}]


def test_concurrent_writers_all_stored(store):
    def write(n: int) -> None:
        for i in range(25):
            assert store.add_votes([_vote(f"t{n}-{i}")]) == 1

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(list(store.votes())) == 200
    assert store.check() == "ok"


def test_times_must_carry_a_zone(store):
    with pytest.raises(StoreError, match="created_at: time without a time zone"):
        store.add_votes([_vote("naive", created_at=datetime(2026, 11, 23, 9))])
    assert store.add_votes([_vote("iso", created_at="2026-11-23T09:00:00Z")]) == 1
    assert next(store.votes())["created_at"] == utc(2026, 11, 23, 9)


def test_sqlite_is_wal_and_rows_visible_to_other_connections(tmp_path):
    s = open_store(f"sqlite:///{tmp_path}/votes.db")
    s.migrate()
    s.add_votes([_vote("v1")])
    conn = sqlite3.connect(tmp_path / "votes.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("SELECT vote_id, helpful, created_at FROM votes").fetchall() == [
        ("v1", 0, "2026-11-23T09:30:00.123456+00:00")]
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,), (2,), (3,), (4,)]
    conn.close()
    s.close()


def test_sqlite_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///rel.db")
    relative.migrate()
    relative.close()
    assert (tmp_path / "rel.db").exists()
    bare = open_store("bare.db")
    bare.migrate()
    bare.close()
    assert (tmp_path / "bare.db").exists()
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")
    assert absolute.path == tmp_path / "abs.db"
    absolute.close()
    with pytest.raises(StoreError, match=r"unsupported store URL 'mysql://x': expected sqlite:///PATH or postgresql://\.\.\."):
        open_store("mysql://x")
    with pytest.raises(StoreError, match="no such directory"):
        open_store(f"sqlite:///{tmp_path}/missing/dir/v.db").migrate()


def test_sqlite_check_reports_corruption(tmp_path):
    path = tmp_path / "votes.db"
    s = open_store(f"sqlite:///{path}")
    s.migrate()
    s.add_votes([_vote(f"v{i}", comment="x" * 400) for i in range(200)])
    s.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    data[4096 * 2:4096 * 2 + 2000] = b"\xff" * 2000
    path.write_bytes(bytes(data))
    s = open_store(f"sqlite:///{path}")
    assert s.check() != "ok"
    s.close()
