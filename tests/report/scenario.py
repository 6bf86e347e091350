"""Small fixed data for the report tests: a manifest, votes, searches and contacts, a fixed clock."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from pathlib import Path

from kb.votes.store import open_store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def at(day: int, hour: int = 12, minute: int = 0, month: int = 11) -> datetime:
    """A UTC time in 2026 (November unless told)."""
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


def article(aid: str, *, version: str = "cur00000", title: str | None = None, category: str = "help",
            owner: str | None = "@team", reviewed: str | None = "2026-11-01", review_every: int | None = 365) -> dict:
    """One manifest entry."""
    return {"id": aid, "version": version, "title": title or aid.replace("-", " ").capitalize(),
            "url": f"{category}/{aid}/", "category": category, "owner": owner,
            "reviewed": reviewed, "review_every": review_every}


def manifest(*articles: dict, site_name: str = "Test Help") -> dict:
    """A site manifest holding `articles`."""
    return {"version": 1, "site_name": site_name, "generated_at": "2026-11-23T00:00:00Z",
            "articles": list(articles)}


class Votes:
    """Builds vote rows with sequential ids (v0001, v0002, ...) and fresh visitors unless told."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self._ids = itertools.count(1)

    def add(self, aid: str, helpful: bool, when: datetime, *, visitor: str | None = None,
            version: str = "cur00000", reason: str | None = None, comment: str | None = None) -> dict:
        n = next(self._ids)
        row = {"vote_id": f"v{n:04d}", "article": aid, "version": version, "helpful": helpful,
               "reason": reason, "comment": comment, "visitor": visitor or f"visitor-{n}",
               "created_at": when}
        self.rows.append(row)
        return row

    def many(self, aid: str, helpful: int, unhelpful: int, *, day: int = 10, version: str = "cur00000",
             reason: str | None = None) -> None:
        """`helpful` yes votes and `unhelpful` no votes by different visitors on one day."""
        for i in range(helpful + unhelpful):
            self.add(aid, i < helpful, at(day, 8, i % 60), version=version,
                     reason=None if i < helpful else reason)


def search(query: str, when: datetime, *, results: int = 0, visitor: str = "s1", n: list = [0]) -> dict:  # noqa: B006
    """One reported search."""
    n[0] += 1
    return {"event_id": f"s{n[0]:04d}", "query": query, "results": results, "article": None,
            "visitor": visitor, "created_at": when}


def contact(aid: str | None, when: datetime, *, visitor: str = "c1", channel: str = "chat", n: list = [0]) -> dict:  # noqa: B006
    """One click on a contact channel."""
    n[0] += 1
    return {"event_id": f"c{n[0]:04d}", "channel": channel, "article": aid, "query": None,
            "visitor": visitor, "created_at": when}


def sqlite_store(path: Path, votes=(), searches=(), contacts=()):
    """A real SQLite store at `path` holding the rows (migrated, written, ready to read)."""
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    store.add_votes(list(votes))
    store.add_searches(list(searches))
    store.add_contacts(list(contacts))
    return store


def review_scenario() -> tuple[dict, list[dict], list[dict], list[dict]]:
    """The small help center whose report the format tests compare character for character.

    track-order: 1 of 6 helpful, overdue, two contacts, comments with a formula and a script tag.
    reset-password: edited; the old version 1 of 5, the current one 4 of 4.
    refunds: never reviewed, no votes.
    """
    m = manifest(
        article("track-order", version="trk22222", title="Where is my order?", category="shipping",
                owner="@ship", reviewed="2026-01-01", review_every=90),
        article("reset-password", version="new22222", title="How do I reset my password?", category="account",
                owner="@web", reviewed="2026-11-10", review_every=180),
        article("refunds", version="ref22222", title="Refunds | when & how", category="refunds",
                owner=None, reviewed=None, review_every=None),
    )
    v = Votes()
    v.add("track-order", True, at(2), version="trk22222")
    v.add("track-order", False, at(3), version="trk22222", reason="outdated",
          comment="=HYPERLINK(\"http://evil.example\",\"click\")")
    v.add("track-order", False, at(4), version="trk22222", reason="outdated")
    v.add("track-order", False, at(5), version="trk22222", reason="outdated",
          comment="<script>alert(1)</script> the map | is *wrong*")
    v.add("track-order", False, at(6), version="trk22222", reason="unclear")
    v.add("track-order", False, at(7), version="trk22222", reason="unclear", visitor="same")
    # The same visitor again that day: only the last vote of the day counts (so 6 counted of 7).
    v.add("track-order", False, at(7, 13), version="trk22222", reason="unclear", visitor="same",
          comment="Still lost.")
    for day in (2, 3, 4, 5):
        v.add("reset-password", False, at(day), version="old11111", reason="outdated")
    v.add("reset-password", True, at(6), version="old11111")
    for day in (16, 17, 18, 19):
        v.add("reset-password", True, at(day), version="new22222")
    searches = [
        search("gift wrap", at(3), visitor="a"),
        search("Gift  wrap", at(4), visitor="b"),
        search("gift wrapping", at(5), visitor="c"),
        search("@SUM(A1)", at(5), visitor="d"),
        search("track", at(5), visitor="e", results=3),
    ]
    contacts = [
        contact("track-order", at(3, 13), visitor="x"),
        contact("track-order", at(3, 14), visitor="x"),  # same visitor, same day: once
        contact("track-order", at(4, 13), visitor="y"),
        contact(None, at(4, 13), visitor="z"),
    ]
    return m, v.rows, searches, contacts


#: `kb report` as text on review_scenario() at NOW (test_report_formats and test_report_cli).
TEXT = """\
Help center review: Test Help
Period all time until 2026-11-23 (UTC), target 60% helpful
15 votes counted of 16 received, site average 40% helpful
one vote per visitor per article per day; mean shrunk toward the site average
1 weak, 2 overdue, 1 unrated, 2 content gaps

ARTICLE                      VOTES  RATE  MEAN    95% CI CONT  FLAGS
track-order                      6   17%   27%     3-56%    2  weak overdue
reset-password                   9   56%   50%    27-81%    0
refunds                          0     -     -         -    0  overdue unrated

Worth a closer look

track-order: Where is my order?
  owner: @ship
  versions, oldest first:
    trk22222 (current): 1/6 helpful, 17% (3-56%), 2026-11-02 to 2026-11-07
  reasons: out of date or wrong 3, hard to follow 2
  went on to contact us: 2
  2026-11-07 "Still lost."
  2026-11-05 "<script>alert(1)</script> the map | is *wrong*"
  2026-11-03 "=HYPERLINK("http://evil.example","click")"

reset-password: How do I reset my password?
  owner: @web
  versions, oldest first:
    old11111: 1/5 helpful, 20% (4-62%), 2026-11-02 to 2026-11-06
    new22222 (current): 4/4 helpful, 100% (51-100%), 2026-11-16 to 2026-11-19
  reasons: out of date or wrong 4

Overdue for review (2)
  track-order                          due 2026-04-01   @ship
  refunds                              never reviewed   (no owner)

Searches that found nothing (4 in 2 groups)
COUNT  QUERY                          NEAREST ARTICLES
    3  gift wrap                      (none)
    1  @SUM(A1)                       (none)
"""


def two_language_rows(site_manifest: dict, *, addresses: bool) -> tuple[list[dict], list[dict], list[dict]]:
    """Votes, failed searches and contacts on a two-language site (the demo's en and pl) until NOW.

    A simulated history per language (its rows carry the language), and by hand on `track-order`
    (in both languages), on 2026-11-20, versions `edge-en`/`edge-pl`:
    - en: rows stored before languages (none) count as en's: edge-old's none-language "no" at 9:00
      is replaced by its "yes" in en at 10:00, and its comment goes with it;
    - edge-both votes in both languages that day: each counts in its own;
    - edge-cross comments in pl at 9:00, then votes in en at 10:00: the pl vote and comment still count;
    - with `addresses`, five pl readers and two en readers behind one client address: 3 (the cap)
      and 2 count; without, all five.
    Searches: Polish wordings in pl (one with markup), "loyalty points" stored before languages.
    """
    from kb.report.languages import language_manifest
    from kb.votes.simulate import simulate_history

    votes: list[dict] = []
    searches: list[dict] = []
    contacts: list[dict] = []
    for code, seed in (("en", 3), ("pl", 4)):
        history = simulate_history(language_manifest(site_manifest, code), days=60, seed=seed, now=NOW)
        for rows, into in ((history.votes, votes), (history.searches, searches), (history.contacts, contacts)):
            into += [{**row, "language": code} for row in rows]
    searches = [s for s in searches if s["language"] == "en"]  # pl gets Polish wordings below

    n = itertools.count(1)

    def vote(language: str | None, visitor: str, helpful: bool, hour: int, *, comment: str | None = None,
             address: str | None = None) -> dict:
        return {"vote_id": f"edge-{next(n):03d}", "article": "track-order", "helpful": helpful,
                "version": f"edge-{language or 'en'}", "reason": None if helpful else "unclear", "comment": comment,
                "visitor": visitor, "created_at": at(20, hour), "language": language, "address": address}

    votes += [
        vote(None, "edge-old", False, 9, comment="old comment, replaced the same day"),
        vote("en", "edge-old", True, 10),
        vote("en", "edge-both", True, 11),
        vote("pl", "edge-both", False, 11),
        vote("pl", "edge-cross", False, 9, comment="Nie działa link do śledzenia."),
        vote("en", "edge-cross", True, 10),
    ]
    votes += [vote("pl", f"edge-shared-{i}", True, 12, address="addr-1" if addresses else None) for i in range(5)]
    votes += [vote("en", f"edge-shared-en-{i}", True, 12, address="addr-1" if addresses else None) for i in range(2)]

    for i, (query, times) in enumerate((("paczkomat", 6), ("paczkomaty", 2), ("kiedy dostanę zwrot pieniędzy", 4),
                                        ("kiedy oddacie kasę", 1), ("raty zero procent", 3),
                                        ("<script>alert(1)</script> | *faktura*", 1))):
        searches += [{**search(query, at(10 + k % 10, 9), visitor=f"pl-{i}-{k}"), "language": "pl"}
                     for k in range(times)]
    searches.append({**search("loyalty points", at(12), visitor="legacy"), "language": None})
    contacts.append({**contact("track-order", at(20, 13), visitor="edge-old"), "language": None})
    return votes, searches, contacts
