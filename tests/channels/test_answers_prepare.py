"""A server prepares its site at start, in the background: the same answers before and after, and
a rebuilt site replaces the one being prepared."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest
import yaml
from support import ROOT, SHARED

from kb.bench.answers_api import bench_api
from kb.bench.datasets import load_dataset
from kb.channels import answers
from kb.channels.answers import DEFAULT_THRESHOLD, SiteCache, answer, prepare_site, site_ready
from kb.search.vectors import VECTORS_PATH
from kb.cli.services import collector_services
from kb.votes.collector import create_app
from kb.votes.store import open_store


@pytest.fixture
def site(built_demo_site: Path, tmp_path: Path) -> Path:
    """A copy of the demo site: a folder no cache has seen yet."""
    copy = tmp_path / "site"
    shutil.copytree(built_demo_site, copy)
    return copy


def golden_queries() -> list[str]:
    return [entry["query"] for entry in yaml.safe_load((ROOT / "articles" / "en" / "golden-queries.yml").read_text())]


def wait_prepared(cache: SiteCache, site_dir: Path, seconds: float = 30) -> answers.AnswerSite:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        loaded = cache.loaded(site_dir)
        if loaded is not None and loaded.ready.wait(0.05):
            return loaded
        time.sleep(0.05)
    raise AssertionError(f"{site_dir} was not prepared within {seconds} s")


def test_answers_are_the_same_before_and_after_the_site_is_prepared(site: Path):
    queries = golden_queries() + ["where is my parcel", "refund", "zebra saxophone lessons", "how long does a refnud take"]
    lazy = SiteCache(background=False)
    before = [answer(site, q, limit=5, cache=lazy) for q in queries]
    ready = SiteCache(background=False)
    figures = ready.get(site).prepare()
    assert ready.get(site).ready.is_set()
    assert figures["articles"] == len(ready.get(site).articles) > 40 and figures["section_bytes"] > 0
    assert [answer(site, q, limit=5, cache=ready) for q in queries] == before
    assert sum(1 for a in before if a["answered"]) > len(queries) / 2  # real answers were compared
    assert sum(1 for a in before for r in a["results"] if r["section"]) > len(queries)


def test_the_collector_prepares_its_site_at_start_without_a_query(site: Path, tmp_path: Path, serve_app):
    store = open_store(f"sqlite:///{tmp_path}/votes.db")
    store.migrate()
    try:
        base = serve_app(create_app(site, store, rate_limit=0, **collector_services()))
        prepared = wait_prepared(answers._CACHE, site)
        assert len(prepared.prepared) == len(prepared.articles)
        body = httpx.get(f"{base}/api/search", params={"q": "how do I reset my password"}).json()
        assert body["answered"] is True and body["results"][0]["id"] == "reset-password"
        assert answers._CACHE.loaded(site) is prepared  # answered from the prepared site, not parsed again
    finally:
        store.close()


def test_a_site_with_vectors_is_answered_in_a_thread_since_each_query_is_embedded(site: Path):
    cache = SiteCache(background=False)
    cache.get(site).prepare()
    cache.get(site / "pl").prepare()
    assert not site_ready(site, cache=cache) and not site_ready(site, "en", cache=cache)


def test_a_site_is_ready_to_answer_at_once_only_when_prepared_and_unchanged(site: Path):
    for language in (site, site / "pl"):  # ranked by words alone: no query to embed
        (language / VECTORS_PATH).unlink()
    cache = SiteCache(background=False)
    assert not site_ready(site, cache=cache)  # not parsed yet
    cache.get(site)
    assert not site_ready(site, cache=cache)  # parsed, not prepared
    cache.get(site).prepare()
    assert site_ready(site, "en", cache=cache)
    assert not site_ready(site, "pl", cache=cache)  # the Polish help center is parsed on its own
    assert not site_ready(site, cache=cache)  # and without lang, a query may be Polish
    cache.get(site / "pl").prepare()
    assert site_ready(site, "pl", cache=cache) and site_ready(site, cache=cache)
    answers_file = site / "search" / "kb-answers.json"
    answers_file.write_text(answers_file.read_text(encoding="utf-8").replace(
        f'"answer_threshold":{DEFAULT_THRESHOLD}', '"answer_threshold":0.9'), encoding="utf-8")
    assert not site_ready(site, cache=cache)  # rebuilt: the next query parses it (in a thread)
    assert answer(site, "refund", cache=cache)["results"]


def test_prepare_site_leaves_a_folder_without_a_built_site_to_the_first_query(tmp_path: Path):
    cache = SiteCache()
    prepare_site(tmp_path / "not-built", cache).join(10)
    assert cache.loaded(tmp_path / "not-built") is None


def test_a_rebuilt_site_stops_the_preparation_of_the_old_one(site: Path):
    cache = SiteCache(background=False)
    old = cache.get(site)
    answers_file = site / "search" / "kb-answers.json"
    answers_file.write_text(answers_file.read_text(encoding="utf-8").replace(
        f'"answer_threshold":{DEFAULT_THRESHOLD}', '"answer_threshold":0.9'), encoding="utf-8")
    new = cache.get(site)
    assert new is not old and old.stopped.is_set() and not new.stopped.is_set()
    assert old.prepare()["articles"] == 0 and not old.ready.is_set()
    new.prepare()
    assert new.ready.is_set() and new.threshold == 0.9


def test_kb_bench_search_api_times_a_collector_that_prepared_itself_and_says_so():
    if not (SHARED / "eval" / "stackfaq").is_dir():
        pytest.skip("no eval data")
    said: list[str] = []
    figures = bench_api(load_dataset(SHARED / "eval" / "stackfaq", scale=300), said.append, queries=40)
    assert figures["articles"] == 300 and figures["queries"] == 40
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"]
    assert figures["prepared_after_s"] > 0 and figures["warm_up"].startswith("none")
    assert any("prepared the site in the background" in line and "no query sent before" in line for line in said)
