"""The search box with a keyboard, in headless Chromium on the built demo site: where the customer
types, where Tab goes at phone width, and that Tab stays in the open search."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from support import serve_static

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
FOCUSED = """() => {
    const e = document.activeElement, r = e.getBoundingClientRect();
    return {tag: e.tagName, cls: String(e.className), text: (e.textContent || '').trim().slice(0, 40),
            visible: r.width > 0 && r.height > 0 && r.right > 0 && r.left < innerWidth
                     && getComputedStyle(e).visibility !== 'hidden',
            inSearch: !!e.closest('.md-search__inner')};
}"""


@pytest.fixture
def site_url(rendered_demo_site: Path) -> Iterator[str]:
    with serve_static(rendered_demo_site) as url:
        yield url


def _search_from_home(page, site_url: str, text: str) -> None:
    """Type `text` into the home page's search box, as a customer does; return once results show."""
    page.goto(site_url)
    page.locator("[data-kb-search-input]").click()
    page.keyboard.type(text, delay=20)
    page.locator(".md-search-result__item").first.wait_for()


def test_on_a_desktop_the_home_search_box_keeps_what_the_customer_types(chromium, site_url):
    page = chromium.new_page(viewport=DESKTOP)
    try:
        _search_from_home(page, site_url, "retrun lable")
        assert page.locator("[data-kb-search-input]").input_value() == "retrun lable"
        assert page.evaluate("document.activeElement.hasAttribute('data-kb-search-input')")
        assert page.locator(".md-search-result__item h1").first.inner_text() == "Where do I get a return label?"
        page.keyboard.press("Enter")
        page.wait_for_url("**/returns/return-label/**")
    finally:
        page.close()


def test_on_a_phone_the_home_search_box_opens_the_search_with_the_keyboard_in_it(chromium, site_url):
    page = chromium.new_page(viewport=PHONE)
    try:
        _search_from_home(page, site_url, "refund")
        assert page.locator("input[data-md-component=search-query]").input_value() == "refund"
        assert page.evaluate(FOCUSED)["inSearch"]
    finally:
        page.close()


@pytest.mark.parametrize("path", ["", "returns/return-item/"], ids=["home", "article"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_tab_reaches_only_what_can_be_seen(chromium, site_url, viewport, path):
    page = chromium.new_page(viewport=viewport)
    try:
        page.goto(f"{site_url}/{path}")
        page.wait_for_selector(".md-content")
        hidden = []
        for _ in range(12):
            page.keyboard.press("Tab")
            page.wait_for_timeout(50)
            focused = page.evaluate(FOCUSED)
            if not focused["visible"]:
                hidden.append(focused)
        # neither the closed menu's links nor the closed search's results area
        assert hidden == []
        if viewport is PHONE:  # the menu, open, is walked
            page.keyboard.press("Escape")
            page.locator("label.md-header__button[for=__drawer]").click()
            page.wait_for_timeout(400)
            page.locator(".md-sidebar--primary .md-nav__link").nth(1).focus()
            assert page.evaluate(FOCUSED)["visible"]
    finally:
        page.close()


def test_on_a_desktop_tab_from_the_home_search_box_walks_its_results_and_comes_back(chromium, site_url):
    page = chromium.new_page(viewport=DESKTOP)
    try:
        _search_from_home(page, site_url, "refund")
        page.wait_for_timeout(500)
        seen = []
        for _ in range(30):
            page.keyboard.press("Tab")
            seen.append(page.evaluate(FOCUSED))
            if page.evaluate("document.activeElement.hasAttribute('data-kb-search-input')"):
                break
        # into the results under the header, not the page behind them, then back to the box typed in
        assert page.evaluate("document.activeElement.hasAttribute('data-kb-search-input')"), seen
        assert all(f["inSearch"] and f["visible"] for f in seen[:-1]), seen
        assert any(f["cls"].startswith("md-search-result__link") for f in seen)
        assert page.locator("[data-kb-search-input]").input_value() == "refund"
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")  # one step back each time
        assert page.evaluate(FOCUSED) == seen[-3]
        assert page.evaluate("document.querySelector('[data-md-toggle=search]').checked")
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_tab_stays_in_the_open_search_and_escape_closes_it(chromium, site_url, viewport):
    page = chromium.new_page(viewport=viewport)
    try:
        page.goto(site_url)
        box = page.locator("input[data-md-component=search-query]")
        page.locator("label.md-header__button[for=__search]" if viewport is PHONE else "input.md-search__input").first.click()
        box.fill("refund")
        page.keyboard.press("End")
        page.locator(".md-search-result__item").first.wait_for()
        seen = []
        for _ in range(8):
            page.keyboard.press("Tab")
            seen.append(page.evaluate(FOCUSED))
        assert all(f["inSearch"] and f["visible"] for f in seen), seen
        assert any(f["cls"].startswith("md-search-result__link") for f in seen)
        page.keyboard.press("Shift+Tab")  # back one step, not to the last result
        assert page.evaluate(FOCUSED) == seen[-2]
        assert page.evaluate("document.querySelector('[data-md-toggle=search]').checked")
        page.keyboard.press("Escape")
        assert not page.evaluate("document.querySelector('[data-md-toggle=search]').checked")
    finally:
        page.close()
