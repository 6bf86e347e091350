"""The site says "no good answer" instead of noise, in headless Chromium on a real built site: alone
(a static host, no collector) and with the real collector of `kb serve` answering GET /api/search."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from support import MKDOCS_YML, free_port, run_kb, serve_static, start_kb_serve

from kb.search.confidence import confidence, model_of
from kb.search.index import load_index
from kb.search.ranker import search
from kb.votes.store import open_store

pytestmark = pytest.mark.browser

ARTICLES = {
    "articles/returns/return-item.md": """
        ---
        id: return-item
        title: How do I return an item?
        questions: [send something back]
        ---
        You can return an item within 30 days of delivery.

        ## Start a return

        Go to **Account → Orders**, pick the order and select **Return items**.

        ## Refund

        We refund the money to your card within 5 days of receiving the parcel.
        """,
    "articles/shipping/track-order.md": """
        ---
        id: track-order
        title: How do I track my parcel?
        ---
        As soon as your order ships, we e-mail you a tracking link.

        ## The tracking link does not work

        The courier scans your parcel within 24 hours of it leaving us.
        """,
    "articles/shipping/delivery-time.md": """
        ---
        id: delivery-time
        title: How long does delivery take?
        ---
        Delivery takes 2 to 4 working days in the EU.
        """,
    "articles/payments/pay-with-card.md": """
        ---
        id: pay-with-card
        title: Which cards can I pay with?
        ---
        We take Visa, Mastercard and American Express. Your card is charged when the order ships.
        """,
}
YML = MKDOCS_YML.replace("https://example.com/chat", "https://chat.example.com/start") + """\
extra:
  kb_feedback:
    searches: true
"""
OFF_TOPIC = "do you sell bicycles"


def _type(page, query: str) -> None:
    box = page.locator("input[data-md-component=search-query]")
    box.click()
    box.fill("")
    page.keyboard.type(query, delay=15)


def _project(kb_project) -> Path:
    root = kb_project(ARTICLES, mkdocs_yml=YML)
    run_kb("build", cwd=root, check=True)
    return root


def test_without_a_collector_the_site_says_it_found_no_good_answer_and_offers_a_person(chromium, kb_project):
    root = _project(kb_project)
    index = load_index(root / "site")
    hits = search(index, OFF_TOPIC, limit=2)
    assert hits and confidence(hits, 0, index) < model_of(index)["threshold"]  # results, none a good answer
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.route("https://chat.example.com/**", lambda route: route.fulfill(status=200, body="chat"))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        with serve_static(root / "site") as url:
            page.goto(url)
            _type(page, OFF_TOPIC)
            notice = page.locator(".md-search-result .kb-no-answer")
            notice.wait_for()
            assert notice.locator(".kb-no-answer__title").inner_text() == "We could not find a good answer"
            # the contact channels first, then at most a few results, as "maybe"
            assert notice.locator("a[data-kb-channel]").all_inner_texts() == ["Chat with us"]
            assert notice.locator(".kb-no-answer__maybe").inner_text() == "Maybe one of these helps:"
            assert page.evaluate("""() => {
                const notice = document.querySelector('.kb-no-answer');
                const list = document.querySelector('.md-search-result__list');
                return !!(notice.compareDocumentPosition(list) & Node.DOCUMENT_POSITION_FOLLOWING);
            }""")
            assert 1 <= page.locator(".md-search-result__item").count() <= 3
            assert page.locator(".md-search-result__terms").count() == 0  # no struck-through "Missing:"

            # a good answer: no notice, the results as they are
            _type(page, "track parcel")
            page.locator(".md-search-result__item h1", has_text="How do I track my parcel?").wait_for()
            page.wait_for_timeout(300)
            assert notice.count() == 0
            assert page.locator(".md-search-result__meta").inner_text() == "1 article found"

            # nothing at all: the contact channels, in the site's language
            _type(page, "zzqxv")
            notice.wait_for()
            assert notice.locator(".kb-no-answer__title").inner_text() == (
                "Nothing matches your question. Ask a person: we will help.")
            assert page.locator(".md-search-result__meta").inner_text() == "No articles found"

            # the channel carries the query the customer typed
            _type(page, OFF_TOPIC)
            link = notice.locator("a[data-kb-channel]")
            link.wait_for()
            link.click()
            page.wait_for_url("https://chat.example.com/**")
            assert parse_qs(urlparse(page.url).query)["search"] == [OFF_TOPIC]

            # typed in the home page's big box, which keeps the focus, and clicked at once: carried too
            page.goto(url)
            page.locator("[data-kb-search-input]").click()
            page.keyboard.type("do you sell kayaks", delay=15)
            page.wait_for_function("() => (document.querySelector('[data-md-component=search-query]') || {}).value"
                                   " === 'do you sell kayaks'")
            link = page.locator(".kb-no-answer a[data-kb-channel]")
            link.wait_for()
            link.click()
            page.wait_for_url("https://chat.example.com/**")
            assert parse_qs(urlparse(page.url).query)["search"] == ["do you sell kayaks"]
            assert errors == []
    finally:
        page.close()


def test_with_a_collector_the_hybrid_answer_follows_the_instant_one_and_the_failed_search_is_kept(chromium,
                                                                                                    kb_project):
    root = _project(kb_project)
    index = load_index(root / "site")
    query = "track delivery"
    hits = search(index, query, limit=2)
    # the browser's model calls it a good answer; the collector's (its answer_threshold, 0.8) does not
    assert model_of(index)["threshold"] <= confidence(hits, 0, index) < 0.8
    port = free_port()
    server = start_kb_serve(root, port)
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    held: list = []
    page.route("**/api/search?*", lambda route: held.append(route))
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        _type(page, query)
        # the instant results show while the collector's answer is still on its way
        deadline = time.monotonic() + 10
        while not held and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert len(held) == 1
        asked = parse_qs(urlparse(held[0].request.url).query)
        assert asked["q"] == [query] and asked["lang"] == ["en"] and asked["channel"] == ["web"]
        assert page.locator(".md-search-result__item h1").first.inner_text() == "How do I track my parcel?"
        assert page.locator(".kb-no-answer").count() == 0
        held[0].continue_()  # on to the real collector
        page.locator(".kb-no-answer").wait_for()
        assert page.locator(".md-search-result").get_attribute("data-kb-recorded") == ""

        # the collector kept the query as a failed search, once: the page does not post it again
        page.wait_for_timeout(2000)  # past the feedback sender's settling time
        store = open_store(f"sqlite:///{(root / '.kb' / 'votes.db').as_posix()}")
        try:
            deadline = time.monotonic() + 10
            rows = []
            while time.monotonic() < deadline:
                rows = [(s["query"], s["results"], s["channel"]) for s in store.searches()]
                if rows:
                    break
                time.sleep(0.2)
        finally:
            store.close()
        assert rows == [(query, 0, "web")]
    finally:
        page.close()
        server.terminate()
        server.wait(timeout=30)


def test_a_site_that_does_not_record_searches_asks_the_collector_without_storing_the_query(chromium, kb_project):
    """`kb_feedback.searches` off (the default): the worker's question to the collector is channel
    `test`, answered and never stored, so no customer's query is kept."""
    root = kb_project(ARTICLES, mkdocs_yml=YML.replace("searches: true", "searches: false"))
    run_kb("build", cwd=root, check=True)
    port = free_port()
    server = start_kb_serve(root, port)
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    asked: list[dict] = []
    page.on("request", lambda request: asked.append(parse_qs(urlparse(request.url).query))
            if "/api/search?" in request.url else None)
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        with page.expect_response("**/api/search?*") as answer:
            _type(page, OFF_TOPIC)
        assert answer.value.status == 200
        page.locator(".kb-no-answer").wait_for()
        assert [(a["q"], a["channel"]) for a in asked] == [([OFF_TOPIC], ["test"])]
    finally:
        page.close()
        server.terminate()
        server.wait(timeout=30)
    store = open_store(f"sqlite:///{(root / '.kb' / 'votes.db').as_posix()}")
    try:
        assert list(store.searches()) == []
    finally:
        store.close()
