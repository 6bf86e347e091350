"""The pages customers see, in headless Chromium at phone and desktop width: a person one tap away
(home, article, 404), tap targets of 44x44 px, the channels once after a "No", the header and the
home page's top, and the "Back to top" pill after a vote."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from support import LiveServer

from kb.site.languages import TEXTS
from kb.site.preview.server import create_preview_app
from kb.votes.collector import collector_routes
from kb.votes.store import open_store

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LANGUAGES = {
    "en": {"prefix": "", "site_name": "Northwind Outfitters Help Center", "category": "returns/",
           "article": "returns/return-item/", "query": "refund", "channels": ["Chat with us", "E-mail help@northwind-outfitters.example",
                                                           "Call +31 20 555 0142"]},
    "pl": {"prefix": "pl/", "site_name": "Centrum pomocy Northwind Outfitters", "category": "pl/zwroty/",
           "article": "pl/zwroty/jak-zwrocic/", "query": "zwrot", "channels": ["Czat z konsultantem",
                                                             "E-mail pomoc@northwind-outfitters.example",
                                                             "Zadzwoń +48 22 555 01 40"]},
}

#: Every visible tap target smaller than 44x44 CSS px (WCAG 2.5.5). A link inside a sentence is
#: exempt, as the guideline says; a radio button's target is its label, a text field's label's its field.
SMALL_TARGETS = """() => {
  const found = [];
  for (const el of document.querySelectorAll(
      "a[href], button, input:not([type=hidden]), select, textarea, label[for], summary, [role=button]")) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || r.right <= 0 || r.left >= innerWidth) continue;
    let hidden = false;
    for (let n = el; n && n.nodeType === 1; n = n.parentNode) {
      const s = getComputedStyle(n);
      if (s.visibility === "hidden" || s.display === "none" || parseFloat(s.opacity) === 0) { hidden = true; break; }
    }
    if (hidden) continue;
    if (el.matches("input[type=radio], input[type=checkbox]") && el.labels && el.labels.length) continue;
    if (el.matches("label[for]")) {  // a text field's label: the field itself is the target
      const field = document.getElementById(el.htmlFor);
      if (field && !field.matches("input[type=radio], input[type=checkbox]")) continue;
    }
    if (el.tagName === "A") {
      const around = [...el.parentNode.childNodes].filter(n => n !== el).map(n => n.textContent).join("").trim();
      if (around && !el.parentNode.matches(".kb-contact__channel, .kb-no-answer li")) continue;  // inside a sentence
    }
    if (r.width < 43.5 || r.height < 43.5)
      found.push(`${el.tagName.toLowerCase()}.${[...el.classList].join(".")} "${(el.textContent || "").trim().slice(0, 40)}" `
                 + `${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  return found;
}"""


@pytest.fixture(scope="module")
def server(rendered_demo_site: Path, tmp_path_factory: pytest.TempPathFactory):
    """The built demo as `kb serve` serves it: each language's 404 page, the collector on the same origin."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('votes')}/votes.db")
    store.migrate()
    app = create_preview_app(rendered_demo_site, None, collector_routes(rendered_demo_site, store, rate_limit=0))
    with LiveServer(app) as live:
        yield live
    store.close()


@pytest.fixture
def open_page(chromium):
    contexts = []

    def make(viewport: dict):
        context = chromium.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        # (the 404 pages' own status is no problem: the tests ask for them)
        page.on("console", lambda message: message.type == "error" and "status of 404" not in message.text
                and page.problems.append(message.text))
        return page

    yield make
    for context in contexts:
        context.close()


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("code", ["en", "pl"])
def test_the_home_page_shows_a_person_above_the_fold(server, open_page, viewport, code):
    lang = LANGUAGES[code]
    page = open_page(viewport)
    page.goto(f"{server.url}/{lang['prefix']}")
    assert page.title() == lang["site_name"]  # once, not "name - name"
    links = page.locator(".kb-hero .kb-contact-strip a[data-kb-channel]")
    assert links.all_inner_texts() == lang["channels"]
    assert page.inner_text(".kb-contact-strip__title") == TEXTS[code]["contact_home"]
    for i in range(links.count()):
        where = links.nth(i).bounding_box()
        assert where["y"] + where["height"] <= viewport["height"], f"{lang['channels'][i]} is below the fold"
    # the heading sits right under the header, not 100 px below it
    header, heading = box(page, ".md-header"), box(page, ".kb-hero__title")
    assert heading["y"] - (header["y"] + header["height"]) <= 40
    # the site's name in the header is whole, on one line or two
    assert page.evaluate("""() => { const t = document.querySelector('.md-header__topic .md-ellipsis');
                                    return t.scrollWidth <= t.clientWidth && t.scrollHeight <= t.clientHeight; }""")
    assert page.problems == []


@pytest.mark.parametrize("code", ["en", "pl"])
def test_every_tap_target_is_44_px_or_more_on_a_phone(server, open_page, code):
    lang = LANGUAGES[code]
    page = open_page(PHONE)
    small = {}
    for name, path in [("home", lang["prefix"]), ("category", lang["category"]), ("article", lang["article"]),
                       ("404", lang["prefix"] + "no-such-page/")]:
        page.goto(f"{server.url}/{path}")
        page.wait_for_selector(".md-content")
        small[name] = page.evaluate(SMALL_TARGETS)
    page.goto(f"{server.url}/{lang['article']}")
    page.click('form.md-feedback button[data-md-value="0"]')
    page.wait_for_selector(".kb-feedback legend")
    small["reasons"] = page.evaluate(SMALL_TARGETS)
    page.click(".kb-feedback button[type=submit]")
    page.wait_for_selector(".kb-feedback__thanks")
    small["thanks"] = page.evaluate(SMALL_TARGETS)
    # the full-screen search: its back arrow and clear button, the results, the no-results state
    page.goto(f"{server.url}/{lang['prefix']}")
    page.click("[data-kb-search-input]")
    page.keyboard.type(lang["query"], delay=20)
    page.locator(".md-search-result__item").first.wait_for()
    page.wait_for_timeout(300)  # the clear button fades in
    small["search results"] = page.evaluate(SMALL_TARGETS)
    page.keyboard.press("Control+A")
    page.keyboard.type("zzqxv", delay=20)
    page.locator(".kb-no-answer a[data-kb-channel]").first.wait_for()
    small["no results"] = page.evaluate(SMALL_TARGETS)
    assert {name: found for name, found in small.items() if found} == {}


def test_an_article_has_a_person_one_tap_from_its_top(server, open_page):
    page = open_page(PHONE)
    page.goto(f"{server.url}/{LANGUAGES['en']['article']}")
    jump = page.locator(".kb-article-bar a.kb-contact-jump")
    assert jump.inner_text() == "Talk to a person"
    assert box(page, ".kb-contact")["y"] > 2 * PHONE["height"] - 400  # the block itself follows the article
    where = jump.bounding_box()
    assert where["y"] + where["height"] < PHONE["height"] / 3
    jump.click()
    page.wait_for_function("""() => { const r = document.querySelector('.kb-contact').getBoundingClientRect();
                                      return r.top >= 0 && r.top < innerHeight - 100; }""")
    assert page.problems == []


@pytest.mark.parametrize("code", ["en", "pl"])
def test_after_no_the_channels_follow_the_thanks_once_and_the_mail_names_the_article(server, open_page, code):
    lang = LANGUAGES[code]
    page = open_page(PHONE)
    page.goto(f"{server.url}/{lang['prefix']}")
    page.evaluate("sessionStorage.setItem('kb:last-search', 'zwrot paczki')")
    page.goto(f"{server.url}/{lang['article']}?h=zwrot")  # as a search result opens it
    title = page.inner_text(".md-content h1")
    page.click('form.md-feedback button[data-md-value="0"]')
    page.click(".kb-feedback button[type=submit]")
    page.wait_for_selector(".kb-feedback__thanks")
    assert page.locator(".kb-contact").count() == 1
    assert page.locator(".kb-feedback__thanks + .kb-contact").count() == 1
    assert page.locator(".kb-contact a[data-kb-channel]").all_inner_texts() == lang["channels"]
    mail = page.get_attribute(".kb-contact a[href^='mailto:']", "href")
    body = parse_qs(urlsplit(mail).query)["body"][0]
    texts = TEXTS[code]["widget"]
    assert body == (f"{texts['mail_article']} {title} ({server.url}/{lang['article']})\n"
                    f"{texts['mail_search']} zwrot paczki\n\n")
    assert page.problems == []


def test_back_to_top_does_not_cover_the_page_after_a_vote(server, open_page):
    page = open_page(PHONE)
    page.goto(f"{server.url}/{LANGUAGES['en']['article']}")
    for _ in range(30):  # the customer scrolls to the end of the article
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(20)
    page.click('form.md-feedback button[data-md-value="0"]')
    for _ in range(10):
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(20)
    page.click(".kb-feedback button[type=submit]")  # the thank-you is shorter than the form: the page scrolls up
    page.wait_for_timeout(700)
    pill_hidden = "document.querySelector('.md-top').hidden"  # Material fades it out with the attribute
    assert page.evaluate(pill_hidden) is True
    for _ in range(3):  # the customer scrolling up themselves still gets it
        page.mouse.wheel(0, -150)
        page.wait_for_timeout(100)
    assert page.evaluate(pill_hidden) is False
    assert page.problems == []


@pytest.mark.parametrize("code", ["en", "pl"])
def test_a_missing_page_gets_the_404_page_of_its_language(server, open_page, code):
    lang = LANGUAGES[code]
    page = open_page(PHONE)
    response = page.goto(f"{server.url}/{lang['prefix']}no/such/page/")
    assert response.status == 404
    assert page.inner_text(".md-content h1") == TEXTS[code]["not_found_title"]
    assert page.locator(".kb-contact a[data-kb-channel]").all_inner_texts() == lang["channels"]
    assert page.get_attribute("html", "lang") == code
    page.locator(".kb-not-found__topics a").first.click()
    page.wait_for_url(re.compile(rf"{server.url}/{lang['prefix']}[a-z-]+/$"))
    assert page.locator(".md-content h1").count() == 1
    assert page.problems == []
