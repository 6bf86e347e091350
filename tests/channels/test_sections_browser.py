"""The section result under its article in Material's header search, answered by our worker."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from support import serve_static as serve


@pytest.mark.browser
def test_the_best_matching_section_is_listed_under_its_article_with_its_anchor_and_sentence(chromium, rendered_demo_site: Path) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    with serve(rendered_demo_site) as url:
        try:
            page.goto(url)
            page.locator("input[data-md-component=search-query]").click()
            page.keyboard.type("tracking link ", delay=20)
            item = page.locator(".md-search-result__item", has=page.locator("h1", has_text="How do I track my parcel?"))
            item.first.wait_for()
            links = [urlparse(a.get_attribute("href")) for a in item.first.locator("a").all()]
            assert {link.path for link in links} == {"/shipping/track-order/"}
            # the section that best holds the words, with its first sentence: not a bare sub-heading
            assert [link.fragment for link in links] == ["", "find-your-tracking-link"]
            assert item.first.locator("h2").first.inner_text() == "Find your tracking link"
            assert item.first.locator("article p").last.inner_text() == (
                'Open the "Your order is on its way" e-mail and select Track parcel, or')
            assert errors == []
        finally:
            page.close()
