"""GET /api/search over HTTP on the real collector, over the demo site `kb build` wrote."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest


from kb.channels.answers import DEFAULT_THRESHOLD, SiteCache, answer
from kb.search.sections import PASSAGE_CHARS
from kb.cli.services import collector_services
from kb.votes.collector import create_app
from kb.votes.store import open_store


class Kept:
    """The searches the collector kept. It does not wait for the disk before answering, so read
    them after closing its store (closing drains the writer's queue)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.store = open_store(url)
        self.store.migrate()

    def searches(self) -> list[dict]:
        self.store.close()
        reader = open_store(self.url)
        try:
            return list(reader.searches())
        finally:
            reader.close()


@pytest.fixture
def api(built_demo_site: Path, tmp_path: Path, serve_app):
    kept = Kept(f"sqlite:///{tmp_path}/votes.db")
    base = serve_app(create_app(built_demo_site, kept.store, rate_limit=0, **collector_services()))
    yield base, kept


UA = "Mozilla/5.0 (X11; Linux x86_64) kb-tests"


def get(base: str, **params) -> httpx.Response:
    return httpx.get(f"{base}/api/search", params=params, headers={"User-Agent": UA})


def test_an_answered_query_gets_the_section_passage_and_confidence(api, built_demo_site: Path):
    base, store = api
    r = get(base, q="how do I reset my password", limit="2", channel="whatsapp")
    assert r.status_code == 200
    body = r.json()
    assert (body["query"], body["language"], body["answered"], body["contact"]) == (
        "how do I reset my password", "en", True, [])
    assert len(body["results"]) == 2
    top = body["results"][0]
    assert set(top) == {"id", "title", "url", "version", "section", "passage", "score", "confidence"}
    assert (top["id"], top["title"]) == ("reset-password", "How do I reset my password?")
    manifest = json.loads((built_demo_site / "kb-manifest.json").read_text(encoding="utf-8"))
    assert top["version"] == next(a["version"] for a in manifest["articles"] if a["id"] == "reset-password")
    assert top["section"] == {"heading": "Reset your password", "anchor": "reset-your-password"}
    assert top["url"] == "account/reset-password/#reset-your-password"
    assert top["passage"].startswith("1. Select Sign in, then Forgot password? 2. Enter the e-mail address")
    assert len(top["passage"]) <= PASSAGE_CHARS
    assert top["confidence"] >= DEFAULT_THRESHOLD > body["results"][1]["confidence"]
    [row] = store.searches()
    assert (row["query"], row["results"], row["article"], row["channel"], row["language"]) == (
        "how do I reset my password", 1, "reset-password", "whatsapp", "en")
    assert re.fullmatch(r"[0-9a-f]{16}", row["visitor"])


def test_an_unanswered_query_hands_over_with_the_query_carried_and_is_kept_for_the_gaps(api):
    base, store = api
    body = get(base, q="zebra saxophone lessons").json()
    assert body["answered"] is False
    assert body["contact"] == [
        {"name": "Chat with us", "url": "https://northwind-outfitters.example/chat?search=zebra+saxophone+lessons",
         "hours": "Mon-Fri 8:00-20:00, Sat-Sun 10:00-16:00 CET",
         "description": "A person usually answers within 2 minutes."},
        {"name": "E-mail help@northwind-outfitters.example",
         "url": "mailto:help@northwind-outfitters.example?body=Last%20search%3A%20zebra%20saxophone%20lessons%0A%0A",
         "hours": "We reply within 24 hours", "description": ""},
        {"name": "Call +31 20 555 0142", "url": "tel:+31205550142", "hours": "Mon-Fri 9:00-17:00 CET",
         "description": ""}]
    [row] = store.searches()
    assert (row["query"], row["results"], row["article"], row["channel"]) == ("zebra saxophone lessons", 0, None, "api")


@pytest.mark.parametrize("params, field, error", [
    ({"q": "refund", "limit": "0"}, "limit", 'must be a whole number from 1 to 50, got "0"'),
    ({"q": "refund", "limit": "ten"}, "limit", 'must be a whole number from 1 to 50, got "ten"'),
    ({"q": "refund", "channel": "Web!"}, "channel", 'must look like web, api or mcp, got "Web!"'),
    ({"q": "refund", "lang": "polish"}, "lang", 'must look like en or pt-BR, got "polish"'),
    ({"q": "refund", "lang": "de"}, "lang", "no help center in language 'de' (this site's languages are 'en', 'pl')"),
    ({"q": "refund", "page": "2"}, "page", "unknown query parameter"),
])
def test_bad_parameters_are_refused_with_the_field_named(api, params, field, error):
    base, store = api
    r = get(base, **params)
    assert (r.status_code, r.json()) == (422, {"error": error, "field": field})
    assert store.searches() == []


def test_the_parsed_site_is_reused_until_its_files_change(built_demo_site: Path, tmp_path: Path):
    import shutil

    site = tmp_path / "site"
    shutil.copytree(built_demo_site, site)
    cache = SiteCache()
    first = cache.get(site)
    assert answer(site, "zebra saxophone lessons", cache=cache)["answered"] is False
    assert cache.get(site) is first
    answers = site / "search" / "kb-answers.json"
    answers.write_text(answers.read_text(encoding="utf-8").replace(f'"answer_threshold":{DEFAULT_THRESHOLD}',
                                                                   '"answer_threshold":0.0'), encoding="utf-8")
    again = cache.get(site)
    assert again is not first and again.threshold == 0.0
    assert answer(site, "zebra saxophone lessons", cache=cache)["answered"] is True
