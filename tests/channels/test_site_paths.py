"""The search API and the index reader read only the site: a language folder or a shard that resolves
outside it (a symlink, a `..` or absolute name) is refused, never read. (The MCP server's side of
the same rule: tests/channels/test_mcp.py.)"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import httpx
import pytest

from kb.channels.answers import SiteCache, get_article
from kb.cli.services import collector_services
from kb.search.index import INDEX_PATH, SearchError, load_index, write_index
from kb.votes.collector import create_app
from kb.votes.store import open_store

UA = "Mozilla/5.0 (X11; Linux x86_64) kb-tests"


def test_the_api_refuses_a_language_folder_that_resolves_outside_the_site(built_demo_site: Path, tmp_path: Path,
                                                                         serve_app, caplog):
    site = tmp_path / "site"
    shutil.copytree(built_demo_site, site)
    outside = tmp_path / "outside"
    shutil.move(site / "pl", outside)
    (site / "pl").symlink_to(outside, target_is_directory=True)
    store = open_store(f"sqlite:///{tmp_path}/votes.db")
    store.migrate()
    try:
        base = serve_app(create_app(site, store, rate_limit=0, **collector_services()))
        with caplog.at_level(logging.ERROR, logger="kb.votes"):
            r = httpx.get(f"{base}/api/search", params={"q": "zwrot", "lang": "pl"}, headers={"User-Agent": UA})
        assert (r.status_code, r.json()) == (503, {"error": "search is unavailable; try again later", "field": None})
        assert "pl: resolves outside the site folder; not read" in caplog.text
        r = httpx.get(f"{base}/api/search", params={"q": "zwrot", "lang": "../outside"}, headers={"User-Agent": UA})
        assert (r.status_code, r.json()["field"]) == (422, "lang")
        r = httpx.get(f"{base}/api/search", params={"q": "refund"}, headers={"User-Agent": UA})
        assert r.status_code == 200 and r.json()["results"]  # the default language is untouched
    finally:
        store.close()


@pytest.mark.parametrize("name", ["../../secret.json", "/{outside}/secret.json", "link.json"])
def test_a_split_index_reads_no_shard_outside_its_folder(built_demo_site: Path, tmp_path: Path, name: str):
    site = tmp_path / "site"
    shutil.copytree(built_demo_site, site)
    write_index(load_index(built_demo_site), site, split_at=1)  # split into shards
    head_path = site / INDEX_PATH
    head = json.loads(head_path.read_text(encoding="utf-8"))
    secret = tmp_path / "secret.json"
    secret.write_text("[]", encoding="utf-8")
    (site / "search" / "link.json").symlink_to(secret)
    head["docs"]["split"]["docs_files"][0] = name.format(outside=str(tmp_path).strip("/"))
    head_path.write_text(json.dumps(head), encoding="utf-8")
    with pytest.raises(SearchError) as raised:
        load_index(site)
    assert str(raised.value) == (f"{head_path}: a shard of the split index is missing or broken: "
                                 f"{head['docs']['split']['docs_files'][0]!r} is not a file beside the index")


def test_get_article_refuses_markdown_outside_the_site_and_reads_inside(built_demo_site: Path, tmp_path: Path):
    site = tmp_path / "site"
    shutil.copytree(built_demo_site, site)
    cache = SiteCache(background=False)
    assert get_article(site, "blik", "pl", cache)["markdown"].startswith("# ")
    answers_file = site / "pl" / "search" / "kb-answers.json"
    answers = json.loads(answers_file.read_text(encoding="utf-8"))
    answers["articles"]["blik"]["markdown"] = "../kb-manifest.json"  # elsewhere in the site: allowed
    answers["articles"]["blik-refund"]["markdown"] = "../../secret"
    answers_file.write_text(json.dumps(answers), encoding="utf-8")
    assert get_article(site, "blik", "pl", cache)["markdown"].startswith("{")
    with pytest.raises(SearchError, match=r"^pl/\.\./\.\./secret: resolves outside the site folder; not read$"):
        get_article(site, "blik-refund", "pl", cache)
