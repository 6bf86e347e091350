"""The header search box (Material's, or kb's own on Zensical), answered by our worker, in headless Chromium
on the demo site as each renderer builds it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from support import serve_static

from kb.search.index import load_index, write_index


@pytest.fixture
def site_url(rendered_demo_site: Path) -> Iterator[str]:
    with serve_static(rendered_demo_site) as url:
        yield url


def test_the_site_ships_our_index_and_worker(rendered_demo_site: Path) -> None:
    data = json.loads((rendered_demo_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert data["docs"]["format"] == "kb-search/1"
    assert (rendered_demo_site / "assets" / "kb" / "search" / "worker.js").is_file()
    page = (rendered_demo_site / "index.html").read_text(encoding="utf-8")
    config = json.loads(re.search(r'<script id="__config" type="application/json">(.*?)</script>', page, re.S)[1])
    # the worker's URL names the page's language and, with kb's feedback sender on, the collector's
    # API, and whether the collector may store the queries it is asked (the demo records searches)
    worker = urlparse(config["search"])
    assert worker.path.removeprefix("./") == "assets/kb/search/worker.js"
    assert parse_qs(worker.query) == {"lang": ["en"], "api": ["/api/search"], "record": ["1"]}


@pytest.mark.browser
def test_a_typo_in_the_header_search_finds_the_article_and_enter_opens_it(chromium, site_url: str) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []

    def on_console(message) -> None:  # noqa: ANN001 - Playwright's ConsoleMessage
        if message.type != "error":
            return
        host = urlparse(message.location.get("url", "")).hostname
        if host and host != "127.0.0.1":
            return  # the sandbox has no internet: web fonts and the like fail to load, not our code
        errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(site_url)
        query = page.locator("input[data-md-component=search-query]")
        query.click()
        page.keyboard.type("retrun lable", delay=20)
        first = page.locator(".md-search-result__item").first
        first.wait_for()
        assert first.locator("h1").inner_text() == "Where do I get a return label?"
        assert first.locator("h1 mark").all_inner_texts() == ["return", "label"]
        page.keyboard.press("Enter")
        page.wait_for_url("**/returns/return-label/?h=*")
        page.locator("mark[data-md-highlight]").first.wait_for()
        marked = {t.lower() for t in page.locator("mark[data-md-highlight]").all_inner_texts()}
        assert {"return", "label"} <= marked
        assert errors == []
    finally:
        page.close()


@pytest.mark.browser
def test_a_split_index_loads_its_shards_in_the_browser(chromium, rendered_demo_site: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(rendered_demo_site, site)
    write_index(load_index(site), site, split_at=0)
    assert list((site / "search").glob("kb-p*.json"))
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    with serve_static(site) as url:
        try:
            page.goto(url)
            page.locator("input[data-md-component=search-query]").click()
            page.keyboard.type("damagd parcel", delay=20)
            first = page.locator(".md-search-result__item").first
            first.wait_for()
            assert first.locator("h1").inner_text() == "My parcel or item arrived damaged"
            assert errors == []
        finally:
            page.close()


@pytest.mark.browser
@pytest.mark.parametrize("prefix,query,forms", [
    ("", "when do I get my money back", ("money", "back")),  # a synonym of "refund": "refund" is not marked
    ("", "how do I get a refund for my package", ("refund", "packag")),  # nor "parcel", "for", "how", "my"
    ("pl/", "nie dostałem paczki", ("dosta", "paczk")),  # nor "nie", nor "przesyłka"
], ids=["synonym", "function-words", "pl"])
def test_the_results_mark_only_the_customers_own_words_and_their_forms(chromium, site_url: str, prefix: str,
                                                                       query: str, forms: tuple) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{site_url}/{prefix}")
        page.locator("input[data-md-component=search-query]").click()
        page.keyboard.type(query, delay=10)
        page.wait_for_function("q => document.querySelector('.md-search-result__item')"
                               " && document.querySelector('[data-md-component=search-query]').value === q", arg=query)
        page.wait_for_timeout(300)  # the last word's answer
        marks = [m.lower() for m in page.locator(".md-search-result mark").all_inner_texts()]
        assert marks and all(m.startswith(forms) for m in marks), marks
        assert all(any(m.startswith(form) for m in marks) for form in forms), marks  # each word typed
    finally:
        page.close()
