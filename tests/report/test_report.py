"""The review report's numbers: counting rule, Bayesian mean, Wilson interval, flags, gaps, filters."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from kb.report import sql as report_sql
from kb.report.gaps import group_failed_searches
from kb.report.review import ReportError, assemble_report, build_report, flagged, parse_since
from kb.report.tally import LATEST_COMMENTS, PRIOR_STRENGTH, count_contacts, tally_votes, wilson_interval
from kb.votes.simulate import simulate_history
from kb.votes.store import open_store
from scenario import NOW, Votes, article, at, manifest, review_scenario, search, sqlite_store

Z = 1.96


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    """The Wilson score interval written out from its textbook form, independently of kb.report."""
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = (Z / (1 + Z**2 / n)) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return round(centre - half, 4), round(centre + half, 4)


@pytest.fixture
def store_of(tmp_path):
    """Open real SQLite stores holding given rows; closed after the test."""
    stores = []

    def make(votes=(), searches=(), contacts=()):
        store = sqlite_store(tmp_path / f"votes-{len(stores)}.db", votes, searches, contacts)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


# --- the interval on the issue's own cases ------------------------------------------------------


def test_wilson_upper_bound_of_zero_successes_is_z2_over_n_plus_z2():
    # With no helpful vote the upper bound simplifies to z^2 / (n + z^2).
    assert round(wilson_interval(0, 2)[1], 4) == round(3.8416 / 5.8416, 4) == 0.6576
    assert round(wilson_interval(0, 5)[1], 4) == round(3.8416 / 8.8416, 4) == 0.4345
    assert wilson_interval(0, 5)[0] == 0.0


def test_wilson_thirty_of_a_hundred():
    # p = 0.3, n = 100: centre (0.3 + 0.019208) / 1.038416 = 0.30740,
    # half-width 1.96 * sqrt(0.0021 + 0.00009604) / 1.038416 = 0.08845.
    low, high = wilson_interval(30, 100)
    assert (round(low, 4), round(high, 4)) == (0.2189, 0.3959) == wilson_by_hand(30, 100)


def test_wilson_without_votes_is_the_whole_range():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_weak_only_when_the_upper_bound_is_below_the_target(store_of):
    v = Votes()
    v.many("zero-of-two", 0, 2)
    v.many("zero-of-five", 0, 5)
    v.many("thirty-of-hundred", 30, 70)
    v.many("nine-of-ten", 9, 1)
    m = manifest(*(article(a) for a in ("zero-of-two", "zero-of-five", "thirty-of-hundred", "nine-of-ten")))
    report = build_report(store_of(v.rows), m, now=NOW)
    rows = {r["id"]: r for r in report["articles"]}
    assert rows["zero-of-two"]["flags"] == []
    assert rows["zero-of-five"]["flags"] == ["weak"]
    assert rows["thirty-of-hundred"]["flags"] == ["weak"]
    assert rows["nine-of-ten"]["flags"] == []
    # The same 30 of 100 clears a lower target: its upper bound is 0.3959.
    report = build_report(store_of(v.rows), m, now=NOW, target=0.39)
    assert {r["id"]: r["flags"] for r in report["articles"]}["thirty-of-hundred"] == []


@pytest.mark.parametrize("addresses", ["kept", "none"], ids=["with addresses", "rows from before addresses"])
def test_one_client_address_cannot_flag_an_article_weak(store, addresses):
    """0 of 3 from one address has an upper bound of 0.56, below the target: it takes a second
    address to flag the article. Row by row and counted in the database (SQLite, PostgreSQL) alike."""
    v = Votes()

    def no(aid: str, address: str | None, day: int = 10) -> None:
        v.add(aid, False, at(day, 9, len(v.rows) % 60))["address"] = address if addresses == "kept" else None

    for _ in range(3):
        no("one-address", "addr-a")
        no("one-address-two-days", "addr-a", day=10)
        no("one-address-two-days", "addr-a", day=11)
        no("two-addresses", "addr-a")
    for _ in range(2):
        no("two-addresses", "addr-b")
        no("an-address-and-rows-without", None)
    no("an-address-and-rows-without", "addr-c")
    no("an-address-and-rows-without", "addr-c")
    ids = ("one-address", "one-address-two-days", "two-addresses", "an-address-and-rows-without")
    m = manifest(*(article(a) for a in ids))
    store.add_votes(v.rows)
    fast = report_sql.tally(store, None)
    slow = tally_votes(store.votes())
    assert fast is not None
    flags = [{r["id"]: (r["votes"], round(r["high"], 2), r["flags"]) for r in
              assemble_report(m, t, count_contacts([]), [], since=None, category=None, owner=None, target=0.6,
                              now=NOW)["articles"]} for t in (fast, slow)]
    assert flags[0] == flags[1]
    if addresses == "kept":
        assert flags[0] == {"one-address": (3, 0.56, []), "one-address-two-days": (6, 0.39, []),
                            "two-addresses": (5, 0.43, ["weak"]), "an-address-and-rows-without": (4, 0.49, ["weak"])}
    else:  # each vote without an address counts as an address of its own, as it escapes the cap
        assert flags[0] == {"one-address": (3, 0.56, ["weak"]), "one-address-two-days": (6, 0.39, ["weak"]),
                            "two-addresses": (5, 0.43, ["weak"]), "an-address-and-rows-without": (4, 0.49, ["weak"])}


def test_mean_is_shrunk_toward_the_site_average_and_interval_is_wilson(store_of):
    v = Votes()
    v.many("zero-of-two", 0, 2)
    v.many("zero-of-five", 0, 5)
    v.many("thirty-of-hundred", 30, 70)
    v.many("nine-of-ten", 9, 1)
    m = manifest(*(article(a) for a in ("zero-of-two", "zero-of-five", "thirty-of-hundred", "nine-of-ten")))
    report = build_report(store_of(v.rows), m, now=NOW)
    # Site: 39 helpful of 117 counted votes -> prior 1/3, with 5 pseudo-votes.
    assert PRIOR_STRENGTH == 5
    assert report["site"] == {"votes": 117, "helpful": 39, "rate": 0.3333, "prior": 0.3333,
                              "prior_strength": 5, "raw_votes": 117}
    rows = {r["id"]: r for r in report["articles"]}
    prior = 39 / 117
    assert rows["zero-of-two"]["mean"] == round((0 + 5 * prior) / (2 + 5), 4) == 0.2381
    assert rows["thirty-of-hundred"]["mean"] == round((30 + 5 * prior) / (100 + 5), 4) == 0.3016
    assert rows["nine-of-ten"]["mean"] == round((9 + 5 * prior) / (10 + 5), 4) == 0.7111
    nine = rows["nine-of-ten"]
    assert (nine["votes"], nine["helpful"], nine["rate"]) == (10, 9, 0.9)
    assert (nine["low"], nine["high"]) == wilson_by_hand(9, 10) == (0.5958, 0.9821)
    assert (rows["zero-of-two"]["low"], rows["zero-of-two"]["high"]) == (0.0, 0.6576)
    # Weakest first (by upper bound), then by mean.
    assert [r["id"] for r in report["articles"]] == ["thirty-of-hundred", "zero-of-five", "zero-of-two", "nine-of-ten"]


def test_one_vote_per_visitor_per_article_per_utc_day_the_last_counts():
    v = Votes()
    v.add("a", True, at(10, 9), visitor="x")
    v.add("a", False, at(10, 23, 59), visitor="x", reason="unclear")   # same UTC day: replaces the yes
    v.add("a", True, at(11, 0, 1), visitor="x")                         # next UTC day: counts again
    v.add("b", True, at(10, 9), visitor="x")                            # another article: counts
    v.add("a", True, at(10, 9), visitor="y")                            # another visitor: counts
    tallies = tally_votes(v.rows)
    assert tallies.raw_votes == 5
    cell = tallies.versions["a"]["cur00000"]
    assert (cell.votes, cell.helpful) == (3, 2)
    assert tallies.reasons["a"] == {"unclear": 1}
    assert (tallies.versions["b"]["cur00000"].votes, tallies.versions["b"]["cur00000"].helpful) == (1, 1)


def test_a_day_is_a_utc_day_whatever_the_offset_of_the_time():
    v = Votes()
    plus2 = timezone(timedelta(hours=2))
    # 01:00 at +02:00 is 23:00 UTC the day before: two UTC days, so both votes count.
    v.add("a", True, datetime(2026, 11, 10, 1, 0, tzinfo=plus2), visitor="x")
    v.add("a", False, datetime(2026, 11, 10, 3, 0, tzinfo=plus2), visitor="x")
    assert tally_votes(v.rows).versions["a"]["cur00000"].votes == 2


def test_rate_per_version_in_time_order_reasons_comments_and_contacts(store_of):
    m, votes, searches, contacts = review_scenario()
    report = build_report(store_of(votes, searches, contacts), m, now=NOW)
    rows = {r["id"]: r for r in report["articles"]}
    reset = rows["reset-password"]
    assert reset["versions"] == [
        {"version": "old11111", "current": False, "votes": 5, "helpful": 1, "rate": 0.2,
         "low": wilson_by_hand(1, 5)[0], "high": wilson_by_hand(1, 5)[1],
         "first": "2026-11-02T12:00:00Z", "last": "2026-11-06T12:00:00Z"},
        {"version": "new22222", "current": True, "votes": 4, "helpful": 4, "rate": 1.0,
         "low": 0.5101, "high": 1.0, "first": "2026-11-16T12:00:00Z", "last": "2026-11-19T12:00:00Z"},
    ]
    assert wilson_by_hand(1, 5) == (0.0362, 0.6245)
    track = rows["track-order"]
    assert (track["votes"], track["helpful"]) == (6, 1)  # 7 received, the visitor's earlier vote replaced
    assert track["reasons"] == {"not_answered": 0, "unclear": 2, "outdated": 3, "incomplete": 0}
    assert [c["text"] for c in track["comments"]] == [
        "Still lost.",
        "<script>alert(1)</script> the map | is *wrong*",
        '=HYPERLINK("http://evil.example","click")',
    ]
    assert track["comments"][0] == {"text": "Still lost.", "helpful": False, "reason": "unclear",
                                    "version": "trk22222", "created_at": "2026-11-07T13:00:00Z"}
    assert track["contacts"] == 2  # visitor x twice the same day counts once, y once; no-article contact ignored
    assert report["totals"] == {"articles": 3, "votes": 15, "helpful": 6, "contacts": 2, "weak": 1,
                                "overdue": 2, "unrated": 1, "gaps": 2, "failed_searches": 4}


def test_only_the_latest_comments_are_kept():
    v = Votes()
    for day in range(1, 9):
        v.add("a", False, at(day), reason="unclear", comment=f"comment {day}")
    v.add("a", False, at(9), reason="unclear", comment="")
    tallies = tally_votes(v.rows)
    m = manifest(article("a"))
    report = assemble_report(m, tallies, count_contacts([]), [], since=None, category=None, owner=None,
                             target=0.6, now=NOW)
    assert LATEST_COMMENTS == 5
    assert [c["text"] for c in report["articles"][0]["comments"]] == [f"comment {d}" for d in (8, 7, 6, 5, 4)]


def test_overdue_and_unrated(store_of):
    m = manifest(
        article("due-yesterday", reviewed="2026-05-26", review_every=180),   # due 2026-11-22
        article("due-today", reviewed="2026-05-27", review_every=180),       # due 2026-11-23: not yet
        article("never-reviewed", reviewed=None, review_every=90),
        article("no-schedule", reviewed="2020-01-01", review_every=None),
    )
    v = Votes()
    v.add("due-today", True, at(10))
    report = build_report(store_of(v.rows), m, now=NOW)
    rows = {r["id"]: (r["flags"], r["due"]) for r in report["articles"]}
    assert rows == {
        "due-yesterday": (["overdue", "unrated"], "2026-11-22"),
        "due-today": ([], "2026-11-23"),
        "never-reviewed": (["overdue", "unrated"], None),
        "no-schedule": (["unrated"], None),
    }


def test_since_category_and_owner_filters(store_of):
    m = manifest(
        article("a", category="shipping", owner="@ship"),
        article("b", category="shipping/abroad", owner="@ship"),
        article("c", category="shipping-costs", owner="@pay"),
    )
    v = Votes()
    v.add("a", False, at(1), reason="unclear")
    v.add("a", True, at(20))
    v.add("b", True, at(20))
    v.add("c", False, at(20))
    store = store_of(v.rows, [search("old gap", at(1)), search("new gap", at(20))])
    report = build_report(store, m, now=NOW, since=at(15))
    assert [(r["id"], r["votes"]) for r in report["articles"]] == [("c", 1), ("a", 1), ("b", 1)]
    assert [g["query"] for g in report["gaps"]] == ["new gap"]
    report = build_report(store, m, now=NOW, category="shipping")
    assert sorted(r["id"] for r in report["articles"]) == ["a", "b"]
    # The site average (the prior) stays the whole site's: 2 helpful of 4.
    assert report["site"]["prior"] == 0.5
    report = build_report(store, m, now=NOW, owner="pay")
    assert [r["id"] for r in report["articles"]] == ["c"]
    report = build_report(store, m, now=NOW, owner="@ship", category="shipping/abroad")
    assert [r["id"] for r in report["articles"]] == ["b"]


def test_parse_since():
    assert parse_since("2026-09-01", NOW) == datetime(2026, 9, 1, tzinfo=timezone.utc)
    assert parse_since("30d", NOW) == NOW - timedelta(days=30)
    assert parse_since("4w", NOW) == NOW - timedelta(weeks=4)
    assert parse_since("6m", NOW) == NOW - timedelta(days=180)
    assert parse_since("1y", NOW) == NOW - timedelta(days=365)
    assert parse_since("2026-09-01T10:00:00+02:00", NOW) == datetime(2026, 9, 1, 8, tzinfo=timezone.utc)
    with pytest.raises(ReportError) as exc:
        parse_since("last week", NOW)
    assert str(exc.value) == "--since: expected a date like 2026-09-01 or a duration like 30d, 4w, 6m or 1y, got 'last week'"


def test_failed_searches_grouped_by_similarity():
    rows = [
        search("cancel subscription", at(1), visitor="a"),
        search("Cancel  subscription", at(1), visitor="b"),
        search("cancel subscripton", at(2), visitor="c"),
        search("cancel subscription", at(2), visitor="a"),    # the next day: counts again
        search("cancel subscription", at(2), visitor="a"),    # same visitor, query and day: once
        search("do you price match", at(3), visitor="d"),
        search("price match", at(3), visitor="e"),
        search("price match", at(4), visitor="f"),
        search("cancel order", at(4), visitor="g"),            # a different need: its own gap
        search("track order", at(4), visitor="h", results=4),  # found something: not a gap
        search("   ", at(4), visitor="i"),
    ]
    assert group_failed_searches(rows) == [
        {"query": "cancel subscription", "count": 4, "variants": ["cancel subscription", "cancel subscripton"]},
        {"query": "price match", "count": 3, "variants": ["price match", "do you price match"]},
        {"query": "cancel order", "count": 1, "variants": ["cancel order"]},
    ]


def test_polish_failed_searches_are_grouped_by_their_words_stems():
    rows = [search(q, at(1), visitor=str(i)) for i, q in enumerate([
        "zmiana hasła", "zmiana hasła", "jak zmienić hasło", "nie pamiętam hasła",
        "anulowanie subskrypcji", "jak anulować subskrypcję", "anulować zamówienie"])]
    polish = group_failed_searches(rows, "pl")
    assert [(g["query"], g["count"], g["variants"]) for g in polish] == [
        ("zmiana hasła", 3, ["zmiana hasła", "jak zmienić hasło"]),
        ("anulowanie subskrypcji", 2, ["anulowanie subskrypcji", "jak anulować subskrypcję"]),
        ("anulować zamówienie", 1, ["anulować zamówienie"]),   # another need: its own gap
        ("nie pamiętam hasła", 1, ["nie pamiętam hasła"]),     # forgot, not changed: its own
    ]
    # spelled letter by letter, the noun and the verb of "change" stay two gaps
    assert ["zmiana hasła", "jak zmienić hasło"] not in [g["variants"] for g in group_failed_searches(rows, "en")]


def test_gaps_name_the_nearest_articles_by_title(store_of):
    m = manifest(
        article("gift-cards", title="Gift cards and vouchers"),
        article("gift-order", title="Sending an order as a gift"),
        article("reset-password", title="How do I reset my password?"),
    )
    store = store_of([], [search("gift card balance", at(2), visitor="a"), search("zzzz", at(2), visitor="b")])
    report = build_report(store, m, now=NOW)
    assert report["gaps"] == [
        {"query": "gift card balance", "count": 1, "variants": ["gift card balance"], "nearest": ["gift-cards"]},
        {"query": "zzzz", "count": 1, "variants": ["zzzz"], "nearest": []},
    ]


def test_flagged_is_the_ci_gate(store_of):
    m, votes, searches, contacts = review_scenario()
    report = build_report(store_of(votes, searches, contacts), m, now=NOW)
    assert [flagged(report, k) for k in ("weak", "overdue", "unrated", "gaps", "any")] == [True] * 5
    clean = build_report(store_of(), manifest(article("a", reviewed="2026-11-01")), now=NOW)
    assert [flagged(clean, k) for k in ("weak", "overdue", "gaps")] == [False, False, False]
    assert flagged(clean, "any") is True  # unrated is a finding too


def test_bad_manifest_and_target_are_named(store_of):
    with pytest.raises(ReportError) as exc:
        build_report(store_of(), {"articles": [{"title": "no id"}]}, now=NOW)
    assert str(exc.value) == "kb-manifest.json: articles[0]: expected an object with a string 'id'"
    with pytest.raises(ReportError) as exc:
        build_report(store_of(), manifest(), now=NOW, target=1.5)
    assert str(exc.value) == "--target: expected a rate between 0 and 1, got 1.5"


def _without_time(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("generated_at", "period")}


def test_sql_counting_agrees_with_row_by_row(tmp_path):
    """The in-database counting (used for speed) gives exactly the row-by-row answer."""
    m, votes, searches, contacts = review_scenario()
    extra = [article(f"art-{i}", version=f"{i:08x}") for i in range(12)]
    m = manifest(*m["articles"], *extra)
    history = simulate_history(manifest(*extra), days=30, seed=7, now=NOW)
    store = sqlite_store(tmp_path / "v.db", votes + history.votes, searches, contacts)
    try:
        for since in (None, at(5), at(18)):
            fast = report_sql.tally(store, since)
            slow = tally_votes(store.votes(since=since))
            assert fast is not None and fast.raw_votes == slow.raw_votes
            fast_report, slow_report = (
                assemble_report(m, t, count_contacts([]), [], since=since, category=None, owner=None,
                                target=0.6, now=NOW)
                for t in (fast, slow)
            )
            assert fast_report == slow_report
    finally:
        store.close()


@pytest.mark.postgres
def test_report_on_postgresql_matches_sqlite(tmp_path, postgres_url):
    """The same rows give the same report on PostgreSQL as on SQLite."""
    import psycopg

    m, votes, searches, contacts = review_scenario()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS kb_test_report WITH (FORCE)")
        conn.execute("CREATE DATABASE kb_test_report")
    url = postgres_url.rsplit("/", 1)[0] + "/kb_test_report"
    pg = open_store(url)
    try:
        pg.migrate()
        pg.add_votes(votes)
        pg.add_searches(searches)
        pg.add_contacts(contacts)
        lite = sqlite_store(tmp_path / "v.db", votes, searches, contacts)
        try:
            for since in (None, at(4)):
                assert _without_time(build_report(pg, m, now=NOW, since=since)) == \
                    _without_time(build_report(lite, m, now=NOW, since=since))
            assert report_sql.tally(pg, None) is not None
        finally:
            lite.close()
    finally:
        pg.close()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS kb_test_report WITH (FORCE)")


def test_simulated_history_shows_every_kind_of_finding(tmp_path):
    m = manifest(*(article(f"art-{i:02d}", version=f"{i:08x}", reviewed=None if i == 3 else "2026-11-01")
                   for i in range(20)))
    history = simulate_history(m, days=90, seed=1, now=NOW)
    assert all(v["visitor"].startswith("sim-") for v in history.votes + history.searches + history.contacts)
    assert all(v["created_at"] <= NOW for v in history.votes)
    store = sqlite_store(tmp_path / "v.db", history.votes, history.searches, history.contacts)
    try:
        report = build_report(store, m, now=NOW)
        again = simulate_history(m, days=90, seed=1, now=NOW)
        assert store.add_votes(again.votes) == 0  # the same seed stores nothing new
    finally:
        store.close()
    flags = {f for r in report["articles"] for f in r["flags"]}
    assert flags == {"weak", "overdue", "unrated"}
    assert report["gaps"] and report["totals"]["contacts"] > 0
    improved = next(a for a, p in history.profiles.items() if p == "improved")
    row = next(r for r in report["articles"] if r["id"] == improved)
    old, new = row["versions"]
    assert old["version"] == history.old_versions[improved] and not old["current"] and new["current"]
    assert old["high"] < 0.6 < new["low"]  # bad before the edit, good after, both confidently
    few = next(a for a, p in history.profiles.items() if p == "few")
    row = next(r for r in report["articles"] if r["id"] == few)
    assert (row["votes"], row["helpful"], row["flags"]) == (2, 0, [])  # 0 of 2: not enough to call it weak
