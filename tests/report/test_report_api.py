"""GET /api/report on the real collector: the JSON report, for a bearer token only."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest

from kb.report.review import build_report
from kb.cli.services import collector_services
from kb.votes.collector import create_app
from scenario import review_scenario, sqlite_store

TOKEN = "s3cret-admin-token"


def _without_clock(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("generated_at", "period")}


@pytest.fixture
def collector(tmp_path, serve_app):
    """The collector over the review scenario's store, with an admin token; (base URL, store, manifest)."""
    m, votes, searches, contacts = review_scenario()
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "kb-manifest.json").write_text(json.dumps(m), encoding="utf-8")
    store = sqlite_store(tmp_path / "v.db", votes, searches, contacts)
    try:
        yield serve_app(create_app(site_dir, store, admin_token=TOKEN, **collector_services())), store, m
    finally:
        store.close()


def test_report_for_the_right_token(collector):
    base, store, m = collector
    response = httpx.get(f"{base}/api/report", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    expected = build_report(store, m, now=datetime.now(timezone.utc))
    assert _without_clock(response.json()) == _without_clock(expected)
    first = response.json()["articles"][0]
    assert {k: first[k] for k in ("id", "votes", "helpful", "mean", "low", "high", "flags")} == {
        "id": "track-order", "votes": 6, "helpful": 1, "mean": 0.2727, "low": 0.0301, "high": 0.5635,
        "flags": ["weak", "overdue"]}
    assert response.json()["gaps"][0] == {"query": "gift wrap", "count": 3, "variants": ["gift wrap", "gift wrapping"],
                                          "nearest": []}


def test_report_since(collector):
    base, store, m = collector
    response = httpx.get(f"{base}/api/report", params={"since": "2026-11-15"},
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.json()["period"]["since"] == "2026-11-15T00:00:00Z"
    assert response.json()["totals"]["votes"] == 4


def test_no_token_is_401_wrong_token_is_403(collector):
    base, _, _ = collector
    response = httpx.get(f"{base}/api/report")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "articles" not in response.text
    response = httpx.get(f"{base}/api/report", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 403
    assert "articles" not in response.text
    response = httpx.get(f"{base}/api/report", headers={"Authorization": f"Basic {TOKEN}"})
    assert response.status_code == 401


def test_no_admin_route_without_a_configured_token(tmp_path, serve_app):
    m, votes, searches, contacts = review_scenario()
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "kb-manifest.json").write_text(json.dumps(m), encoding="utf-8")
    store = sqlite_store(tmp_path / "v.db", votes, searches, contacts)
    try:
        base = serve_app(create_app(site_dir, store, **collector_services()))
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer anything"}):
            response = httpx.get(f"{base}/api/report", headers=headers)
            assert response.status_code == 404
            assert response.json() == {"error": "admin routes are off (no admin token configured)", "field": None}
    finally:
        store.close()


def test_report_of_a_site_with_languages_counts_each_language_apart(built_demo_site, tmp_path, serve_app):
    from kb.channels.answers import SiteCache
    from kb.cli.services import ReportSites
    from kb.report.languages import site_report
    from kb.search.meanings import QueryVectors
    from scenario import two_language_rows

    # the gaps as the site ranks and reads them (by meaning and the hybrid ranking: it has vectors)
    sites = ReportSites(built_demo_site, QueryVectors(), SiteCache(background=False))
    ranked = {"rank_of": sites.rank_of, "meaning_of": sites.meaning_of}

    m = json.loads((built_demo_site / "kb-manifest.json").read_text(encoding="utf-8"))
    store = sqlite_store(tmp_path / "v.db", *two_language_rows(m, addresses=True))
    try:
        base = serve_app(create_app(built_demo_site, store, admin_token=TOKEN, **collector_services()))
        auth = {"Authorization": f"Bearer {TOKEN}"}
        whole = httpx.get(f"{base}/api/report", headers=auth)
        assert whole.status_code == 200
        assert whole.json()["language"] == "en"
        assert [row["language"] for row in whole.json()["languages"]] == ["en", "pl"]
        assert _without_clock(whole.json()) == _without_clock(site_report(store, m, now=datetime.now(timezone.utc), **ranked))
        polish = httpx.get(f"{base}/api/report", params={"language": "pl"}, headers=auth)
        assert polish.status_code == 200
        assert polish.json()["language"] == "pl" and "languages" not in polish.json()
        assert _without_clock(polish.json()) == _without_clock(site_report(store, m, "pl", now=datetime.now(timezone.utc), **ranked))
        # the Polish votes on track-order are not counted against the English article
        en_votes = next(r for r in whole.json()["articles"] if r["id"] == "track-order")["votes"]
        pl_votes = next(r for r in polish.json()["articles"] if r["id"] == "track-order")["votes"]
        every_language = next(r for r in build_report(store, m)["articles"] if r["id"] == "track-order")["votes"]
        assert pl_votes > 0 and en_votes < every_language
        unknown = httpx.get(f"{base}/api/report", params={"language": "de"}, headers=auth)
        assert unknown.status_code == 422
        assert unknown.json()["field"] == "language" and "'de'" in unknown.json()["error"]
    finally:
        store.close()
