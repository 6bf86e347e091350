"""Answers by meaning and words on the demo site `kb build` wrote (its vectors included): what words
alone miss, what the help center does not answer, asking for a person, and the language a query is
written in, over HTTP on the real collector."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from kb.channels.answers import SiteCache, answer
from kb.cli.services import collector_services
from kb.search.embeddings import WHOLE
from kb.search.index import load_index
from kb.search.vectors import VECTORS_PATH, load_vectors
from kb.votes.collector import create_app
from kb.votes.store import open_store

UA = "Mozilla/5.0 (X11; Linux x86_64) kb-tests"


@pytest.fixture
def api(built_demo_site: Path, tmp_path: Path, serve_app):
    url = f"sqlite:///{tmp_path}/votes.db"
    store = open_store(url)
    store.migrate()
    base = serve_app(create_app(built_demo_site, store, rate_limit=0, **collector_services()))
    yield base, store, url


def get(base: str, **params) -> dict:
    r = httpx.get(f"{base}/api/search", params=params, headers={"User-Agent": UA}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def kept(store, url: str) -> list[tuple]:
    store.close()  # drains the writer's queue
    reader = open_store(url)
    try:
        return sorted((r["query"], r["results"], r["channel"]) for r in reader.searches())
    finally:
        reader.close()


def test_every_language_of_the_demo_has_a_vector_for_every_article(built_demo_site: Path):
    for site in (built_demo_site, built_demo_site / "pl"):
        index = load_index(site)
        vectors = load_vectors(site)
        assert vectors is not None and (site / VECTORS_PATH).is_file()
        assert set(vectors.ids) == {doc[0] for doc in index["docs"]}
        assert set(vectors.article.tolist()) == set(range(len(vectors.ids)))  # no article left without a unit
        assert sorted(vectors.article[vectors.kinds == WHOLE].tolist()) == list(range(len(vectors.ids)))  # each read whole once


def test_a_question_in_other_words_is_answered_and_one_the_help_center_does_not_cover_is_handed_over(api):
    base, store, url = api
    parcel = get(base, q="where is my parcel")
    assert (parcel["answered"], parcel["handover"], parcel["results"][0]["id"]) == (True, False, "track-order")
    bikes = get(base, q="do you sell bicycles")
    assert bikes["answered"] is False and bikes["handover"] is False
    assert bikes["results"][0]["confidence"] < 0.5
    assert [c["name"] for c in bikes["contact"]][0] == "Chat with us"
    assert kept(store, url) == [("do you sell bicycles", 0, "api"), ("where is my parcel", 1, "api")]


@pytest.mark.parametrize("query, language, contact", [
    ("talk to a person", "en", "Chat with us"),
    ("I want to speak with a real human being", "en", "Chat with us"),
    ("chcę porozmawiać z człowiekiem", "pl", "Czat z konsultantem"),
])
def test_asking_for_a_person_is_handed_over_in_the_language_it_is_asked_in(api, query, language, contact):
    base, _, _ = api
    body = get(base, q=query)
    assert (body["language"], body["answered"], body["handover"]) == (language, False, True)
    assert body["contact"][0]["name"] == contact


def test_a_query_without_lang_is_answered_in_the_language_it_is_written_in(api):
    base, _, _ = api
    body = get(base, q="kiedy oddacie kasę")
    assert body["language"] == "pl"
    assert body["results"][0]["url"].startswith("pl/")
    assert get(base, q="how do I reset my password")["language"] == "en"
    assert get(base, q="kiedy oddacie kasę", lang="en")["language"] == "en"  # lang given: as asked


def test_channel_test_is_answered_and_not_kept(api):
    base, store, url = api
    assert get(base, q="where is my parcel", channel="test")["answered"] is True
    assert get(base, q="where is my parcel", channel="whatsapp")["answered"] is True
    assert kept(store, url) == [("where is my parcel", 1, "whatsapp")]


def test_the_same_answers_whether_the_site_is_prepared_or_not(built_demo_site: Path):
    queries = ["my package never arrived", "nie dostałem pieniędzy", "talk to a person"]
    lazy, ready = SiteCache(background=False), SiteCache(background=False)
    ready.get(built_demo_site).prepare()
    assert [answer(built_demo_site, q, cache=lazy) for q in queries] == [answer(built_demo_site, q, cache=ready)
                                                                         for q in queries]
