"""The HTML report in headless Chromium: its style applies under the CSP, nothing errs, nothing loads."""

from __future__ import annotations

import pytest

from kb.report.review import build_report
from kb.report.formats import format_html
from kb.votes.simulate import simulate_history
from scenario import NOW, article, manifest, review_scenario, sqlite_store


def _report(tmp_path, m, votes, searches, contacts) -> dict:
    """The review of these rows against manifest `m`, from a real SQLite store."""
    store = sqlite_store(tmp_path / "v.db", votes, searches, contacts)
    try:
        return build_report(store, m, now=NOW)
    finally:
        store.close()


def _open_report(chromium, tmp_path, report):
    """The report's HTML written to a file and loaded: (page, console errors, other requests)."""
    path = tmp_path / "report.html"
    path.write_text(format_html(report), encoding="utf-8")
    return _open(chromium, path)


def _open(chromium, path):
    """Load `path` in a fresh page; return (page, console errors, requests other than the file)."""
    page = chromium.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: requests.append(req.url) if req.url != path.as_uri() else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


@pytest.mark.browser
def test_html_report_opens_without_console_errors(chromium, tmp_path):
    page, errors, requests = _open_report(chromium, tmp_path, _report(tmp_path, *review_scenario()))
    try:
        assert errors == []
        assert requests == []
        # The inline style ran (its CSP hash matched): the body is capped at 70rem.
        assert page.evaluate("getComputedStyle(document.body).maxWidth") == "1120px"
        assert page.locator("svg").count() == 5
        # The comment is text, not markup: no script element came out of it.
        assert page.locator("script").count() == 0
        assert page.get_by_text("<script>alert(1)</script> the map | is *wrong*").count() == 1
        assert page.locator("h3#chart-track-order .flag.weak").inner_text() == "weak"
    finally:
        page.close()


@pytest.mark.browser
def test_html_report_of_a_simulated_site(chromium, tmp_path):
    m = manifest(*(article(f"art-{i:02d}", version=f"{i:08x}") for i in range(30)))
    history = simulate_history(m, days=90, seed=5, now=NOW)
    report = _report(tmp_path, m, history.votes, history.searches, history.contacts)
    page, errors, requests = _open_report(chromium, tmp_path, report)
    try:
        assert (errors, requests) == ([], [])
        assert page.locator("h2", has_text="Flagged and edited articles").count() == 1
        assert page.locator("svg").count() == 2 * len([a for a in report["articles"] if a["weeks"]]) + 1
        assert len([a for a in report["articles"] if a["weeks"]]) == report["totals"]["weak"] + 1 == 5  # + the edited one
    finally:
        page.close()


@pytest.mark.browser
def test_html_report_with_languages_side_by_side(chromium, built_demo_site, tmp_path):
    import json

    from kb.report.languages import build_language_report, languages_side_by_side
    from scenario import two_language_rows

    m = json.loads((built_demo_site / "kb-manifest.json").read_text(encoding="utf-8"))
    store = sqlite_store(tmp_path / "v.db", *two_language_rows(m, addresses=True))
    try:
        report = build_language_report(store, m, "en", now=NOW)
        report["languages"] = languages_side_by_side(store, m)
    finally:
        store.close()
    page, errors, requests = _open_report(chromium, tmp_path, report)
    try:
        assert (errors, requests) == ([], [])
        assert page.locator("h2#languages + table tbody tr").count() == 2
        # the Polish gaps' wordings are marked Polish, and a customer's markup is text
        assert page.locator("h3#language-pl ~ table td[lang=pl]", has_text="paczkomat").count() == 2  # query, also typed
        assert page.locator("script").count() == 0
        assert page.get_by_text("<script>alert(1)</script> | *faktura*").count() == 1
    finally:
        page.close()


@pytest.mark.browser
def test_html_report_with_channels(chromium, tmp_path):
    from scenario import at, search

    m = manifest(article("track-order"), article("refunds"))
    words = "<img src=x onerror=alert(1)> gift wrap"
    searches = [
        {**search(words, at(5), visitor="w1"), "channel": "web"},
        {**search("where is my parcel", at(5), visitor="b1", results=1), "article": "track-order",
         "channel": "whatsapp"},
        {**search(words, at(6), visitor="b2"), "article": None, "channel": "mcp"},
    ]
    page, errors, requests = _open_report(chromium, tmp_path, _report(tmp_path, m, [], searches, []))
    try:
        assert (errors, requests) == ([], [])
        rows = page.locator("h2#channels + p + table tbody tr")
        assert rows.count() == 3
        assert rows.nth(0).locator("td").all_inner_texts() == ["mcp", "1", "0 (0%)", "0", "0", "0"]
        assert page.locator("h3#channels-articles + table tbody tr").all_inner_texts() == [
            "track-order\twhatsapp\t1\t0\t0"]
        assert page.locator("img").count() == 0  # the customer's markup stayed text
        assert page.get_by_role("cell", name="mcp 1, web 1").count() == 1
    finally:
        page.close()
