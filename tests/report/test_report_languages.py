"""The report on a two-language help center (the demo's English and Polish): counting per language
in SQL and row by row alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.report import sql as report_sql
from kb.report.languages import build_language_report, languages_side_by_side
from scenario import NOW, at, two_language_rows


class RowsOnly:
    """A store seen through its rows alone (no SQL dialect), so the report counts row by row."""

    def __init__(self, store: object) -> None:
        self.store = store

    def votes(self, since=None):
        return self.store.votes(since=since)

    def searches(self, since=None):
        return self.store.searches(since=since)

    def contacts(self, since=None):
        return self.store.contacts(since=since)


def manifest_of(site: Path) -> dict:
    return json.loads((site / "kb-manifest.json").read_text(encoding="utf-8"))


def article_ids(manifest: dict, code: str) -> set[str]:
    articles = manifest["articles"] if code == "en" else manifest["languages"][code]["articles"]
    return {a["id"] for a in articles}


def version_of(report: dict, article: str, version: str) -> dict:
    row = next(r for r in report["articles"] if r["id"] == article)
    return next(v for v in row["versions"] if v["version"] == version)


# --- counting: SQL and row by row give the same report --------------------------------------------


@pytest.mark.parametrize("addresses", [False, True], ids=["plain", "capped"])
def test_sql_counting_per_language_agrees_with_row_by_row(built_demo_site, store, addresses):
    """On SQLite and PostgreSQL, with and without client addresses (the plain and the capped SQL)."""
    m = manifest_of(built_demo_site)
    votes, searches, contacts = two_language_rows(m, addresses=addresses)
    store.add_votes(votes)
    store.add_searches(searches)
    store.add_contacts(contacts)
    # the SQL path is the one taken on this store
    assert report_sql.tally(store, None, report_sql.Language("pl")) is not None
    assert report_sql.language_totals(store, None, "en") is not None
    for since in (None, at(20)):
        for code in ("en", "pl"):
            fast = build_language_report(store, m, code, since=since, now=NOW)
            slow = build_language_report(RowsOnly(store), m, code, since=since, now=NOW)
            assert fast == slow
        fast_rows = languages_side_by_side(store, m, since=since)
        assert fast_rows == languages_side_by_side(RowsOnly(store), m, since=since)
        assert [r["language"] for r in fast_rows] == ["en", "pl"] and all(r["votes"] for r in fast_rows)

    en = build_language_report(store, m, "en", now=NOW)
    pl = build_language_report(store, m, "pl", now=NOW)
    # en: edge-old's yes (its none-language no replaced), edge-both, edge-cross, two behind the address
    assert (version_of(en, "track-order", "edge-en")["votes"], version_of(en, "track-order", "edge-en")["helpful"]) == (5, 5)
    # pl: edge-both's no, edge-cross's no, and the readers behind one address: 3 of 5 when capped
    shared = 3 if addresses else 5
    assert (version_of(pl, "track-order", "edge-pl")["votes"], version_of(pl, "track-order", "edge-pl")["helpful"]) == (
        2 + shared, shared)
    en_comments = [c["text"] for r in en["articles"] for c in r["comments"]]
    pl_track = next(r for r in pl["articles"] if r["id"] == "track-order")
    assert "Nie działa link do śledzenia." in [c["text"] for c in pl_track["comments"]]
    assert "old comment, replaced the same day" not in en_comments
    # a search stored before languages is the default language's
    assert "loyalty points" in [g["query"] for g in en["gaps"]]
    assert "loyalty points" not in [g["query"] for g in pl["gaps"]]
    assert [g["query"] for g in pl["gaps"]][:2] == ["paczkomat", "odbiór osobisty"]
