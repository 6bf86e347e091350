"""The two-language demo in headless Chromium: the switcher, the Polish interface, votes carrying
their language, and axe-core's WCAG 2.1 A/AA rules on the pages customers see, in both languages."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from support import ROOT, LiveServer

from kb.site.languages import TEXTS
from kb.votes.collector import collector_routes
from kb.votes.store import open_store

pytestmark = pytest.mark.browser

AXE = ROOT / "tests" / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(rendered_demo_site: Path, tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path}/votes.db")
    store.migrate()
    app = Starlette(routes=[*collector_routes(rendered_demo_site, store, rate_limit=0),
                            Mount("/", app=StaticFiles(directory=str(rendered_demo_site), html=True))])
    with LiveServer(app) as live:
        live.store = store
        yield live
    store.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"{error}\n{error.stack}"))
    # Console errors too: a request that fails (such as a sitemap.xml Material looks for beside
    # every <link rel="alternate">) is one.
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    yield page
    context.close()


def polish_article(built: Path, article_id: str) -> dict:
    manifest = json.loads((built / "kb-manifest.json").read_text(encoding="utf-8"))
    return next(a for a in manifest["languages"]["pl"]["articles"] if a["id"] == article_id)


def test_a_polish_vote_is_asked_in_polish_and_stored_with_its_language(rendered_demo_site, server, page):
    article = polish_article(rendered_demo_site, "return-item")
    page.goto(f"{server.url}/{article['url']}")
    assert page.get_attribute("html", "lang") == "pl"
    assert page.get_attribute(".md-search__input", "placeholder") == "Szukaj"
    page.click('form.md-feedback button[data-md-value="0"]')
    page.wait_for_selector(".kb-feedback legend")
    assert page.inner_text(".kb-feedback legend") == "Co poszło nie tak?"
    assert page.locator(".kb-feedback__reason label").all_inner_texts() == [
        "Nie odpowiada na moje pytanie", "Trudno było to zrozumieć", "Informacje są nieaktualne lub błędne",
        "Czegoś brakuje albo link nie działa"]
    page.check(".kb-feedback input[value=unclear]")
    page.click(".kb-feedback button[type=submit]")
    assert page.inner_text(".kb-feedback__thanks") == "Dziękujemy! To pomoże nam poprawić artykuł."
    deadline = time.monotonic() + 8
    while not list(server.store.votes()) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert [(v["article"], v["version"], v["helpful"], v["reason"], v["language"])
            for v in server.store.votes()] == [("return-item", article["version"], False, "unclear", "pl")]
    assert page.problems == []


def test_the_switcher_follows_the_article_even_after_instant_navigation(rendered_demo_site, server, page):
    page.goto(f"{server.url}/returns/return-item/")
    page.hover(".md-header .md-select")
    page.click('.md-select__link[hreflang="pl"]')
    page.wait_for_url(f"{server.url}/pl/zwroty/jak-zwrocic/")
    assert page.get_attribute("html", "lang") == "pl"

    page.goto(f"{server.url}/returns/return-item/")
    page.click('.kb-related a[href*="exchange-size"]')  # Material's instant navigation: no page load
    page.wait_for_url(f"{server.url}/returns/exchange-size/")
    page.wait_for_function("""() => document.querySelector('.md-select__link[hreflang="pl"]').href
                                      .endsWith('/pl/zwroty/wymiana-rozmiaru/')""")
    page.hover(".md-header .md-select")
    page.click('.md-select__link[hreflang="pl"]')
    page.wait_for_url(f"{server.url}/pl/zwroty/wymiana-rozmiaru/")

    page.goto(f"{server.url}/orders/gift-order/")  # not translated: the Polish home
    page.hover(".md-header .md-select")
    page.click('.md-select__link[hreflang="pl"]')
    page.wait_for_url(f"{server.url}/pl/")
    assert page.problems == []


def axe_violations(page) -> list[str]:
    """axe-core's serious and critical violations of WCAG 2.1 A and AA (and its best practices) on
    the page once it settles:
    colours measured halfway through a transition (the phone's search overlay fades in) are not
    the colours the reader sees."""
    page.wait_for_function("""() => document.getAnimations().every(a =>
        a.playState !== 'running' || a.effect.getComputedTiming().endTime === Infinity)""")
    page.add_script_tag(path=str(AXE))
    # with axe's best practices too: a dialog without a name or a role an element may not have
    # is no WCAG failure by itself, but a screen reader user meets it all the same
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                           [*WCAG_21_AA, "best-practice"])
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("prefix,category,article,query", [
    ("", "returns/", "returns/return-item/", "refund"),
    ("pl/", "pl/zwroty/", "pl/zwroty/jak-zwrocic/", "zwrot"),
], ids=["en", "pl"])
def test_no_serious_accessibility_violations(server, chromium, viewport, prefix, category, article, query):
    if not AXE.is_file():
        if os.environ.get("KB_REQUIRE_SERVICES"):
            pytest.fail("axe-core is not installed: npm install --prefix tests/a11y")
        pytest.skip("axe-core is not installed: npm install --prefix tests/a11y")
    context = chromium.new_context(viewport=viewport)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        for name, path in [("home", prefix), ("category", category), ("404", prefix + "no-such-page/"),
                           ("article", article)]:
            page.goto(f"{server.url}/{path}")
            page.wait_for_selector(".md-content")
            if name == "article":
                assert page.locator(".kb-contact").count() == 1 and page.locator("form.md-feedback").count() == 1
            found[name] = axe_violations(page)
        page.click('form.md-feedback button[data-md-value="0"]')  # the reason form, open
        page.wait_for_selector(".kb-feedback legend")
        found["reasons"] = axe_violations(page)
        page.goto(f"{server.url}/{prefix}")
        page.click("[data-kb-search-input]")  # the home page's search box: typing shows the header's results
        page.keyboard.type(query, delay=20)
        page.locator(".md-search-result__item").first.wait_for()
        found["search results"] = axe_violations(page)
        page.keyboard.press("Control+A")
        page.keyboard.type("zzqxv", delay=20)  # the no-results state, with the contact channels
        page.locator(".kb-no-answer").wait_for()
        # said in the site's language, with its own contact channels
        language = "pl" if prefix else "en"
        assert page.locator(".kb-no-answer__title").inner_text() == TEXTS[language]["search"]["no_results"]
        assert page.locator(".md-search-result__meta").inner_text() == TEXTS[language]["search"]["none"]
        channels = page.locator(".kb-no-answer a[data-kb-channel]").all_inner_texts()
        assert channels and all(name.startswith(("Czat", "E-mail pomoc", "Zadzwoń")) == bool(prefix) for name in channels)
        found["no results"] = axe_violations(page)
    finally:
        context.close()
    assert {name: v for name, v in found.items() if v} == {}
