"""The feedback widget in headless Chromium on the built demo site, with the real collector."""

from __future__ import annotations

import json
import time

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from support import MKDOCS_YML
from support import LiveServer, free_port

from kb.votes.store import open_store
from kb.votes.collector import collector_routes

pytestmark = pytest.mark.browser


def site_app(site, store):
    """The static site and the collector on one origin (what `kb serve` does)."""
    return Starlette(routes=[*collector_routes(site, store, rate_limit=0),
                             Mount("/", app=StaticFiles(directory=str(site), html=True))])


@pytest.fixture
def votes_db(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/votes.db")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def article(rendered_demo_site):
    manifest = json.loads((rendered_demo_site / "kb-manifest.json").read_text(encoding="utf-8"))
    first, second = manifest["articles"][0], manifest["articles"][1]
    return first, second


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.problems = []

    def console(message):
        # Not the widget's: web fonts from Google (no internet here) and Material's own search
        # worker (the search part replaces it); both belong to other parts of the site.
        if message.type == "error" and "fonts.googleapis.com" not in (message.location or {}).get("url", ""):
            page.problems.append(message.text)

    def page_error(error):
        if "/workers/search." not in (error.stack or ""):
            page.problems.append(f"{error}\n{error.stack}")

    page.on("console", console)
    page.on("pageerror", page_error)
    yield page
    context.close()


def wait_rows(store, n, page, timeout=8.0):
    """The stored votes once there are n of them (or the timeout passed). It waits through the page,
    so that Playwright keeps serving the browser meanwhile (routes, events)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(store.votes())
        if len(rows) >= n:
            page.wait_for_timeout(500)  # and nothing more arrives
            return list(store.votes())
        page.wait_for_timeout(100)
    return list(store.votes())


def test_no_with_reason_and_comment_by_keyboard(rendered_demo_site, votes_db, article, page):
    first, _ = article
    with LiveServer(site_app(rendered_demo_site, votes_db)) as server:
        page.goto(f"{server.url}/{first['url']}")
        page.wait_for_selector("form.md-feedback:not([hidden])")
        page.locator('form.md-feedback button[data-md-value="0"]').focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(".kb-feedback legend")
        assert page.evaluate("document.activeElement.tagName") == "LEGEND"
        page.keyboard.press("Tab")            # first reason
        page.keyboard.press("ArrowDown")      # unclear
        page.keyboard.press("ArrowDown")      # outdated
        page.keyboard.press("Tab")            # the comment
        page.keyboard.type("Menu moved ✓")
        assert page.text_content(".kb-feedback__counter") == "12 / 500"
        page.keyboard.press("Tab")            # Send
        page.keyboard.press("Enter")
        page.wait_for_selector(".kb-feedback__thanks")
        rows = wait_rows(votes_db, 1, page)
        assert [(r["article"], r["version"], r["helpful"], r["reason"], r["comment"]) for r in rows] == [
            (first["id"], first["version"], False, "outdated", "Menu moved ✓")]
        # the article's contact block follows the thank-you, its links carrying the article
        links = page.eval_on_selector_all(".kb-feedback__thanks ~ .kb-contact a", "els => els.map(a => a.href)")
        assert links and links[0].endswith(f"article={first['id']}")
        assert page.evaluate("localStorage.getItem('kb:queue')") == "[]"
    assert page.problems == []


def test_comment_is_capped_at_500_characters(rendered_demo_site, votes_db, article, page):
    first, _ = article
    with LiveServer(site_app(rendered_demo_site, votes_db)) as server:
        page.goto(f"{server.url}/{first['url']}")
        page.click('form.md-feedback button[data-md-value="0"]')
        page.fill(".kb-feedback textarea", "ą" * 520)
        page.dispatch_event(".kb-feedback textarea", "input")
        assert page.text_content(".kb-feedback__counter") == "500 / 500"
        page.click(".kb-feedback button[type=submit]")
        rows = wait_rows(votes_db, 1, page)
        assert [(r["reason"], r["comment"]) for r in rows] == [(None, "ą" * 500)]
    assert page.problems == []


def test_yes_is_stored_at_once(rendered_demo_site, votes_db, article, page):
    first, _ = article
    with LiveServer(site_app(rendered_demo_site, votes_db)) as server:
        page.goto(f"{server.url}/{first['url']}")
        page.click('form.md-feedback button[data-md-value="1"]')
        rows = wait_rows(votes_db, 1, page)
        assert [(r["article"], r["helpful"], r["reason"]) for r in rows] == [(first["id"], True, None)]
        assert page.locator(".kb-feedback").count() == 0
    assert page.problems == []


def test_leaving_right_after_the_click_still_stores_the_vote(rendered_demo_site, votes_db, article, page):
    first, second = article
    with LiveServer(site_app(rendered_demo_site, votes_db)) as server:
        page.goto(f"{server.url}/{first['url']}")
        page.click('form.md-feedback button[data-md-value="0"]')
        page.goto(f"{server.url}/{second['url']}")  # a full navigation: pagehide
        rows = wait_rows(votes_db, 1, page)
        assert [(r["article"], r["helpful"], r["reason"], r["comment"]) for r in rows] == [
            (first["id"], False, None, None)]
        # Instant navigation swaps the page without unloading it; the held vote goes too.
        page.click('form.md-feedback button[data-md-value="0"]')
        page.evaluate("document.querySelector('.md-header__button.md-logo').click()")
        rows = wait_rows(votes_db, 2, page)
        assert [(r["article"], r["helpful"], r["reason"]) for r in rows if r["article"] == second["id"]] == [
            (second["id"], False, None)]
        assert len(rows) == 2
    assert page.problems == []


def test_vote_waits_while_the_collector_is_down(rendered_demo_site, votes_db, article, page):
    first, _ = article
    port = free_port()
    app = site_app(rendered_demo_site, votes_db)
    with LiveServer(app, port=port) as server:
        page.goto(f"{server.url}/{first['url']}")
        page.wait_for_selector("form.md-feedback:not([hidden])")
    # The collector is down now; the page is still open.
    page.click('form.md-feedback button[data-md-value="0"]')
    page.click(".kb-feedback .md-button:not([type=submit])")  # Skip
    page.wait_for_timeout(500)
    queued = json.loads(page.evaluate("localStorage.getItem('kb:queue')"))
    assert [(q["kind"], q["body"]["article"], q["hold"]) for q in queued] == [("votes", first["id"], None)]
    assert list(votes_db.votes()) == []
    with LiveServer(app, port=port) as server:
        page.goto(f"{server.url}/{first['url']}")  # the next page load sends the queue
        rows = wait_rows(votes_db, 1, page)
        page.reload()
        page.wait_for_timeout(1000)
        rows = list(votes_db.votes())
        assert [(r["vote_id"], r["article"], r["helpful"]) for r in rows] == [
            (queued[0]["body"]["vote_id"], first["id"], False)]
        assert page.evaluate("localStorage.getItem('kb:queue')") == "[]"
    # Only the refused connections while the collector was down may be logged.
    assert [p for p in page.problems if "ERR_CONNECTION_REFUSED" not in p] == []


# The test project's mkdocs.yml with failed searches and contact clicks reported (one text in Polish).
SEARCH_AND_CONTACT_YML = MKDOCS_YML.replace("https://example.com/chat", "https://chat.example.com/start") + """\
extra:
  kb_feedback:
    searches: true
    contacts: true
    reasons_title: Co poszło nie tak?
"""


def test_failed_search_and_contact_click_are_reported(kb_project, votes_db, page):
    from support import run_kb

    root = kb_project({"articles/shipping/track-order.md": """
        ---
        id: track-order
        title: Where is my order?
        ---
        Open **Orders** and pick the order to see where the parcel is.
        """}, mkdocs_yml=SEARCH_AND_CONTACT_YML)
    run_kb("build", cwd=root, check=True)
    site = root / "site"
    page.route("https://chat.example.com/**", lambda route: route.fulfill(status=200, body="chat"))
    with LiveServer(site_app(site, votes_db)) as server:
        page.goto(f"{server.url}/shipping/track-order/")
        page.click('form.md-feedback button[data-md-value="0"]')
        assert page.text_content(".kb-feedback legend") == "Co poszło nie tak?"
        page.click(".kb-feedback .md-button:not([type=submit])")
        page.click("label.md-search__icon, .md-search__input")
        page.fill(".md-search__input", "zzqxv")
        page.wait_for_timeout(2200)
        deadline = time.monotonic() + 8
        while not list(votes_db.searches()) and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        page.keyboard.press("Escape")
        page.click(".kb-contact a[data-kb-channel]")
        page.wait_for_url("https://chat.example.com/**")
        assert page.url == "https://chat.example.com/start?article=track-order&search=zzqxv"
        deadline = time.monotonic() + 8
        while not list(votes_db.contacts()) and time.monotonic() < deadline:
            page.wait_for_timeout(100)
    searches = [(s["query"], s["results"], s["article"]) for s in votes_db.searches()]
    contacts = [(c["channel"], c["article"], c["query"]) for c in votes_db.contacts()]
    assert searches == [("zzqxv", 0, "track-order")]
    assert contacts == [("Chat with us", "track-order", "zzqxv")]
    assert [(v["article"], v["helpful"]) for v in votes_db.votes()] == [("track-order", False)]
    assert page.problems == []


def queue_of(page):
    return json.loads(page.evaluate("localStorage.getItem('kb:queue')") or "[]")


def answer(status):
    """A route handler answering every request with `status`."""
    return lambda route: route.fulfill(status=status, body='{"error": "no", "field": null}',
                                       content_type="application/json")


def test_only_a_422_drops_a_vote(rendered_demo_site, votes_db, article, page):
    """403/404/405/413/5xx (a proxy, a static host, an outage) keep the vote queued with a backoff."""
    first, _ = article
    with LiveServer(site_app(rendered_demo_site, votes_db)) as server:
        kept = {}
        for status in (403, 404, 405, 413, 500, 502, 503, 422):
            page.route("**/api/votes", answer(status))
            page.goto(f"{server.url}/{first['url']}")
            page.evaluate("localStorage.removeItem('kb:queue')")
            page.wait_for_selector("form.md-feedback:not([hidden])")
            page.click('form.md-feedback button[data-md-value="1"]')
            page.wait_for_function("JSON.parse(localStorage.getItem('kb:queue') || '[]')"
                                   ".every(item => item.tries || false) || localStorage.getItem('kb:queue') === '[]'")
            kept[status] = [(q["body"]["helpful"], q["tries"], q["retryAt"] > 0) for q in queue_of(page)]
            page.unroute("**/api/votes")
        assert kept == {403: [(True, 1, True)], 404: [(True, 1, True)], 405: [(True, 1, True)],
                        413: [(True, 1, True)], 500: [(True, 1, True)], 502: [(True, 1, True)],
                        503: [(True, 1, True)], 422: []}
        assert list(votes_db.votes()) == []
    assert [p for p in page.problems if "status of" not in p] == []


def test_a_retry_after_an_outage_is_stored(rendered_demo_site, votes_db, article, page):
    first, _ = article
    with LiveServer(site_app(rendered_demo_site, votes_db)) as server:
        page.route("**/api/votes", lambda route: route.fulfill(status=502, body="Bad Gateway"))
        page.goto(f"{server.url}/{first['url']}")
        page.click('form.md-feedback button[data-md-value="1"]')
        page.wait_for_function("(JSON.parse(localStorage.getItem('kb:queue') || '[]')[0] || {}).tries === 1")
        page.unroute("**/api/votes")
        rows = wait_rows(votes_db, 1, page)  # the backoff timer (about 1-2 s) sends it again on this page
        assert [(r["article"], r["helpful"]) for r in rows] == [(first["id"], True)]
        page.wait_for_function("localStorage.getItem('kb:queue') === '[]'")
    assert [p for p in page.problems if "502" not in p] == []


def test_a_comment_too_long_in_bytes_is_cut_not_the_vote(rendered_demo_site, votes_db, article, page):
    first, _ = article
    bodies = []
    page.on("request", lambda r: bodies.append(r.post_data_buffer) if r.url.endswith("/api/votes") else None)
    with LiveServer(site_app(rendered_demo_site, votes_db)) as server:
        page.goto(f"{server.url}/{first['url']}")
        page.click('form.md-feedback button[data-md-value="0"]')
        page.fill(".kb-feedback textarea", "😀" * 500)  # 500 characters, 2,000 bytes
        page.dispatch_event(".kb-feedback textarea", "input")
        page.click(".kb-feedback button[type=submit]")
        rows = wait_rows(votes_db, 1, page)
    [body] = bodies
    assert 2048 - 4 < len(body) <= 2048  # as much of the comment as fits, by whole characters
    sent = json.loads(body)
    assert [(r["helpful"], r["comment"]) for r in rows] == [(False, sent["comment"])]
    assert sent["comment"] == "😀" * len(sent["comment"]) and 450 < len(sent["comment"]) < 500
    assert page.problems == []


def test_a_reason_picked_after_the_vote_went_out_is_joined_to_it(rendered_demo_site, votes_db, article, page):
    first, _ = article
    with LiveServer(site_app(rendered_demo_site, votes_db)) as server:
        page.goto(f"{server.url}/{first['url']}")
        page.click('form.md-feedback button[data-md-value="0"]')
        # The tab is hidden while the reasons are open: the held vote goes out without one.
        page.evaluate("""() => {
            Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
            delete document.visibilityState;
        }""")
        rows = wait_rows(votes_db, 1, page)
        assert [(r["helpful"], r["reason"], r["comment"]) for r in rows] == [(False, None, None)]
        page.wait_for_function("localStorage.getItem('kb:queue') === '[]'")
        page.check(".kb-feedback input[value=unclear]")
        page.fill(".kb-feedback textarea", "Step 3 is missing")
        page.click(".kb-feedback button[type=submit]")
        page.wait_for_function("localStorage.getItem('kb:queue') === '[]'")
        page.wait_for_timeout(500)
        rows = list(votes_db.votes())
        assert [(r["helpful"], r["reason"], r["comment"]) for r in rows] == [(False, "unclear", "Step 3 is missing")]
    assert page.problems == []
