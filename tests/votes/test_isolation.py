"""One bad request never fails another customer's: text no store can hold is refused at the edge,
and a record the store itself refuses fails alone, never the group it was committed with."""

from __future__ import annotations

import json
import logging
import threading
import uuid

import httpx
import pytest
from support import LiveServer, vote, write_search_index, write_site

from kb.cli.services import collector_services
from kb.votes.collector import create_app
from kb.votes.schema import Invalid, check_text, clean_text, text_problem
from kb.votes.store import RecordRefused, StoreError, open_store

UA = "Mozilla/5.0 (X11; Linux x86_64) kb-isolation-tests"


@pytest.fixture
def live(store, tmp_path):
    site = write_search_index(write_site(tmp_path / "site"))
    with LiveServer(create_app(site, store, rate_limit=0, **collector_services())) as server:
        server.client = httpx.Client(base_url=server.url, headers={"User-Agent": UA}, timeout=15)
        yield server
        server.client.close()


def stored(store_url: str, table: str) -> list[dict]:
    """The rows of `table`, read by a store of its own (the test's store was closed to commit
    the search API's records, which wait up to a second otherwise)."""
    reader = open_store(store_url)
    try:
        return list(reader.rows(table))
    finally:
        reader.close()


def post_vote(client: httpx.Client, body: dict) -> httpx.Response:
    return client.post("/api/votes", content=json.dumps(body).encode(), headers={"Content-Type": "text/plain"})


def test_the_text_rule():
    assert [text_problem(t) for t in ("zwrot pieniędzy 💸", "", "a\x00b", "a\ud800b", "\ufffe\U0010ffff")] == [
        None, None, "must not contain NUL characters", "must be valid Unicode text (lone surrogate)", None]
    assert [clean_text(t) for t in ("refund\x00", "a\udfffb", "ok")] == ["refund", "a\ufffdb", "ok"]
    with pytest.raises(Invalid) as caught:
        check_text("comment", "x\x00")
    assert (caught.value.field, caught.value.message) == ("comment", "must not contain NUL characters")


def test_a_nul_in_a_search_query_is_refused_and_the_next_vote_stored(live, store, store_url):
    r = live.client.get("/api/search", params={"q": "refund\x00"})
    assert (r.status_code, r.json()) == (422, {"error": "must not contain NUL characters", "field": "q"})
    body = vote()
    assert post_vote(live.client, body).status_code == 204
    store.close()  # commits the search API's pending records, if any had been kept
    assert [v["vote_id"] for v in stored(store_url, "votes")] == [body["vote_id"]]
    assert stored(store_url, "searches") == []


def test_a_lone_surrogate_in_a_field_name_is_refused_with_json(live, store):
    r = post_vote(live.client, {**vote(), "\ud800": 1})
    assert (r.status_code, r.json()) == (422, {"error": "unknown field", "field": "\ufffd"})


def test_the_stores_take_nothing_the_rule_refuses(store):
    row = {"vote_id": "v1", "article": "reset-password", "version": "3f2a9c1b", "helpful": False,
           "reason": None, "comment": "a\x00b", "visitor": "aa", "created_at": "2026-11-20T08:00:00+00:00"}
    with pytest.raises(StoreError, match="^votes: comment: must not contain NUL characters$"):
        store.add_votes([row])
    assert list(store.votes()) == []


def _refuse(store, store_url: str, table: str, column: str, value: str) -> None:
    """A rule of the database's own, which the collector's checks do not know: it refuses rows of
    `table` whose `column` is `value`."""
    if store_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(store.path)
        conn.execute(f"CREATE TRIGGER kb_test_refuse_{table} BEFORE INSERT ON {table} "
                     f"WHEN NEW.{column} = '{value}' BEGIN SELECT RAISE(ABORT, 'refused by a test rule'); END")
        conn.commit()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT kb_test_refuse_{table} "
                         f"CHECK ({column} IS DISTINCT FROM '{value}') NOT VALID")


def test_a_record_the_store_refuses_fails_alone(live, store, store_url, caplog):
    """40 customers vote while one vote and one search API query carry what a database rule
    refuses: the refused vote gets 500 (its sender keeps it), the query's record is dropped and
    logged, and every other vote, committed in the same groups, is stored."""
    _refuse(store, store_url, "votes", "comment", "refuse me")
    _refuse(store, store_url, "searches", "query", "poison")
    codes: dict[str, int] = {}
    searches: list[int] = []
    lock = threading.Lock()
    innocent = [vote(comment=f"customer {i}") for i in range(40)]
    refused = vote(comment="refuse me")

    def send(bodies: list[dict]) -> None:
        with httpx.Client(base_url=live.url, headers={"User-Agent": UA}, timeout=15) as client:
            for body in bodies:
                r = post_vote(client, body)
                with lock:
                    codes[body["vote_id"]] = r.status_code

    def ask() -> None:
        with httpx.Client(base_url=live.url, headers={"User-Agent": UA}, timeout=15) as client:
            for q in ("poison", "password", "poison", "order"):
                searches.append(client.get("/api/search", params={"q": q}).status_code)

    caplog.set_level(logging.ERROR, logger="kb.votes")
    threads = [threading.Thread(target=send, args=(innocent[i::8] + ([refused] if i == 3 else []),))
               for i in range(8)] + [threading.Thread(target=ask)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert searches == [200, 200, 200, 200]
    assert {vote_id: code for vote_id, code in codes.items() if code != 204} == {refused["vote_id"]: 500}
    assert live.client.get("/healthz").json()["status"] == "ok"  # one refused record is no failing store
    store.close()  # the search API's records are committed by now
    assert sorted(v["vote_id"] for v in stored(store_url, "votes")) == sorted(b["vote_id"] for b in innocent)
    assert sorted(s["query"] for s in stored(store_url, "searches")) == ["order", "password"]
    dropped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dropped 1 searches record ")]
    assert len(dropped) == 2 and all("refused a searches record" in m for m in dropped)


def test_grouped_requests_learn_which_one_was_refused(store, store_url):
    """Sixty requests reach the writer while it commits, so they go in grouped; one is refused."""
    _refuse(store, store_url, "votes", "comment", "refuse me")
    rows = [{"vote_id": str(uuid.uuid4()), "article": "reset-password", "version": "3f2a9c1b", "helpful": False,
             "reason": None, "comment": "refuse me" if i == 37 else f"c{i}", "visitor": "aa",
             "created_at": "2026-11-20T08:00:00+00:00"} for i in range(60)]
    futures = [store.submit("votes", [row]) for row in rows]
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(30))
        except RecordRefused as exc:
            outcomes.append(str(exc))
    assert [i for i, outcome in enumerate(outcomes) if outcome != 1] == [37]
    assert outcomes[37].split(": write failed: ")[1].startswith("refused a votes record: ")
    assert len(list(store.votes())) == 59
