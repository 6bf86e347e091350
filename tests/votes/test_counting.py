"""Votes as the report counts them: follow-up reasons joined, at most 3 per client address; SQL == Python."""

from __future__ import annotations

from datetime import timedelta

from support import utc

from kb.report import sql as report_sql
from kb.report.tally import tally_votes

DAY = utc(2026, 11, 23, 8)


def _vote(vote_id, *, visitor, address, at, helpful=False, reason=None, comment=None, article="reset-password"):
    return {"vote_id": vote_id, "article": article, "version": "3f2a9c1b", "helpful": helpful, "reason": reason,
            "comment": comment, "visitor": visitor, "created_at": at, "address": address}


def _summary(tallies):
    cells = {a: {v: (c.votes, c.helpful) for v, c in vs.items()} for a, vs in tallies.versions.items()}
    reasons = {a: dict(c) for a, c in tallies.reasons.items() if c}
    comments = {a: sorted((item[3]["vote_id"], item[3]["comment"], item[3]["reason"]) for item in heap)
                for a, heap in tallies.comments.items() if heap}
    return cells, reasons, comments


def test_follow_ups_and_the_per_address_cap_count_the_same_in_sql_and_python(store):
    rows = []
    # One address, six user agents (six visitors) on one article in one day: the 3 latest count.
    for i in range(6):
        rows.append(_vote(f"a{i}", visitor=f"ua{i}", address="addr-1", at=DAY + timedelta(minutes=i),
                          comment=f"stuffed {i}"))
    # The same address the next day: a new day, a new budget.
    rows += [_vote(f"b{i}", visitor=f"ua{i}", address="addr-1", at=DAY + timedelta(days=1, minutes=i), helpful=True)
             for i in range(2)]
    # Rows from before addresses were kept are not capped.
    rows += [_vote(f"c{i}", visitor=f"old{i}", address=None, at=DAY + timedelta(minutes=i), helpful=True)
             for i in range(4)]
    # A "No" sent without its reason, then its reason and comment (same vote_id, same visitor).
    rows.append(_vote("d0", visitor="late", address="addr-2", at=DAY))
    assert store.add_votes(rows) == len(rows)
    assert store.add_votes([_vote("d0", visitor="late", address="addr-2", at=DAY + timedelta(seconds=30),
                                  reason="unclear", comment="Step 3 is missing")]) == 0
    # A second follow-up (the first reason wins) and one from another visitor (not kept).
    assert store.add_votes([_vote("d0", visitor="late", address="addr-2", at=DAY + timedelta(seconds=40),
                                  reason="outdated", comment="again")]) == 0
    assert store.add_votes([_vote("e0", visitor="first", address="addr-3", at=DAY)]) == 1
    assert store.add_votes([_vote("e0", visitor="intruder", address="addr-3", at=DAY + timedelta(seconds=5),
                                  reason="outdated", comment="not mine")]) == 0

    joined = {v["vote_id"]: (v["reason"], v["comment"]) for v in store.votes()}
    assert (joined["d0"], joined["e0"]) == (("unclear", "Step 3 is missing"), (None, None))

    slow = _summary(tally_votes(store.votes()))
    fast = _summary(report_sql.tally(store, None))
    assert fast == slow
    assert slow == (
        {"reset-password": {"3f2a9c1b": (3 + 2 + 4 + 1 + 1, 2 + 4)}},
        {"reset-password": {"unclear": 1}},
        {"reset-password": [("a3", "stuffed 3", None), ("a4", "stuffed 4", None), ("a5", "stuffed 5", None),
                            ("d0", "Step 3 is missing", "unclear")]},
    )
    since = DAY + timedelta(hours=12)
    assert _summary(report_sql.tally(store, since)) == _summary(tally_votes(store.votes(since=since)))
