"""The review by channel: searches, answered rate, the funnel per channel and article, gaps' channels."""

from __future__ import annotations

from scenario import NOW, Votes, article, at, contact, manifest, search, sqlite_store

from kb.report.formats import format_html, format_markdown, format_text
from kb.report.review import build_report


def bot(query: str, when, *, channel: str, visitor: str, article_id: str | None) -> dict:
    row = search(query, when, visitor=visitor, results=1 if article_id else 0)
    return {**row, "article": article_id, "channel": channel, "language": "en"}


def test_searches_by_channel_answered_rate_funnel_and_gap_channels(tmp_path):
    m = manifest(article("track-order"), article("refunds"))
    v = Votes()
    v.add("track-order", True, at(5, 13), visitor="w1")       # the web visitor who opened it found it helpful
    v.add("refunds", True, at(6, 13), visitor="someone-else")
    searches = [
        {**search("gift wrap", at(5), visitor="w2"), "channel": "web"},
        {**search("where is my parcel", at(5), visitor="w1", results=3), "article": "track-order", "channel": "web"},
        bot("where is my parcel", at(5), channel="whatsapp", visitor="b1", article_id="track-order"),
        bot("where is my parcel", at(5, 13), channel="whatsapp", visitor="b1", article_id="track-order"),  # same day: once
        bot("refund status", at(6), channel="whatsapp", visitor="b1", article_id="refunds"),
        bot("gift wrapping", at(6), channel="whatsapp", visitor="b1", article_id=None),
        bot("gift wrap", at(6), channel="mcp", visitor="m1", article_id=None),
    ]
    contacts = [contact("refunds", at(6, 14), visitor="b1")]
    store = sqlite_store(tmp_path / "v.db", v.rows, searches, contacts)
    try:
        report = build_report(store, m, now=NOW)
    finally:
        store.close()
    assert report["channels"]["by_channel"] == [
        {"channel": "whatsapp", "searched": 3, "answered": 2, "answered_rate": 0.6667, "opened": 2, "helpful": 0,
         "contacted": 1},
        {"channel": "web", "searched": 2, "answered": None, "answered_rate": None, "opened": 1, "helpful": 1,
         "contacted": 0},
        {"channel": "mcp", "searched": 1, "answered": 0, "answered_rate": 0.0, "opened": 0, "helpful": 0,
         "contacted": 0},
    ]
    assert report["channels"]["by_article"] == [
        {"article": "refunds", "channel": "whatsapp", "opened": 1, "helpful": 0, "contacted": 1},
        {"article": "track-order", "channel": "web", "opened": 1, "helpful": 1, "contacted": 0},
        {"article": "track-order", "channel": "whatsapp", "opened": 1, "helpful": 0, "contacted": 0},
    ]
    assert [(g["query"], g["count"], g["channels"]) for g in report["gaps"]] == [
        ("gift wrap", 3, {"mcp": 1, "web": 1, "whatsapp": 1})]
    text = format_text(report)
    assert text.endswith(
        "Searches by channel (searched -> opened -> helpful -> contacted)\n"
        "CHANNEL          SEARCHED ANSWERED OPENED HELPFUL CONTACTED\n"
        "whatsapp                3      67%      2       0         1\n"
        "web                     2        -      1       1         0\n"
        "mcp                     1       0%      0       0         0\n"
        "\n"
        "By article (opened -> helpful -> contacted)\n"
        "ARTICLE                      CHANNEL          OPENED HELPFUL CONTACTED\n"
        "refunds                      whatsapp              1       0         1\n"
        "track-order                  web                   1       1         0\n"
        "track-order                  whatsapp              1       0         0\n"
        "\n"
        "Content gaps by channel\n"
        "  gift wrap                                mcp 1, web 1, whatsapp 1\n")
    markdown = format_markdown(report)
    assert "| whatsapp | 3 | 2 (67%) | 2 | 0 | 1 |" in markdown
    assert "| `refunds` | whatsapp | 1 | 0 | 1 |" in markdown
    assert "| gift wrap | mcp 1, web 1, whatsapp 1 |" in markdown
    page = format_html(report)
    assert '<h2 id="channels">Searches by channel</h2>' in page
    assert ('<tr><td>whatsapp</td><td class="n">3</td><td class="n">2 (67%)</td><td class="n">2</td>'
            '<td class="n">0</td><td class="n">1</td></tr>') in page
    assert ('<tr><td>web</td><td class="n">2</td><td class="n">-</td><td class="n">1</td>'
            '<td class="n">1</td><td class="n">0</td></tr>') in page
    assert ('<tr><td><code>refunds</code></td><td>whatsapp</td><td class="n">1</td><td class="n">0</td>'
            '<td class="n">1</td></tr>') in page
    assert "<th>Channels</th>" in page and "<td>mcp 1, web 1, whatsapp 1</td></tr>" in page


def test_a_site_without_bots_keeps_its_report_as_it_was(tmp_path):
    m = manifest(article("track-order"))
    store = sqlite_store(tmp_path / "v.db", [], [search("gift wrap", at(5), visitor="a")], [])
    try:
        report = build_report(store, m, now=NOW)
    finally:
        store.close()
    assert "channels" not in report and "channels" not in report["gaps"][0]
    page = format_html(report)
    assert 'id="channels"' not in page and "<th>Channels</th>" not in page


def test_a_bots_customers_words_are_inert_in_every_formats_channels(tmp_path):
    m = manifest(article("track-order"))
    words = "\x1b[2J<img src=x onerror=alert(1)> [win](http://evil.example) @team"  # ESC [2J clears a terminal
    store = sqlite_store(tmp_path / "v.db", [], [bot(words, at(6), channel="whatsapp", visitor="b1", article_id=None)], [])
    try:
        report = build_report(store, m, now=NOW)
    finally:
        store.close()
    assert report["gaps"][0]["channels"] == {"whatsapp": 1}
    text = format_text(report)
    assert "\x1b" not in text
    assert text.endswith("Content gaps by channel\n  [2J<img src=x onerror=alert(1)> [win](ht whatsapp 1\n")
    markdown = format_markdown(report)
    assert markdown.endswith("| Gap | Channels |\n| --- | --- |\n"
                             "| \\[2J&lt;img src=x onerror=alert(1)&gt; \\[win\\](http\u200d://evil.example) @\u200dteam | "
                             "whatsapp 1 |\n")
    assert "<img" not in markdown
    page = format_html(report)
    assert "<img" not in page and "\x1b" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<td>whatsapp 1</td>" in page


def test_the_text_report_shows_the_most_opened_articles_and_says_how_many_more(tmp_path):
    ids = [f"article-{n:02d}" for n in range(12)]
    m = manifest(*(article(i) for i in ids))
    searches = [bot(f"question {n}", at(5), channel="api", visitor=f"v{n}-{k}", article_id=i)
                for n, i in enumerate(ids) for k in range(12 - n)]  # article-00 opened 12 times, article-11 once
    store = sqlite_store(tmp_path / "v.db", [], searches, [])
    try:
        report = build_report(store, m, now=NOW)
    finally:
        store.close()
    assert len(report["channels"]["by_article"]) == 12
    text = format_text(report)
    assert "By article (opened -> helpful -> contacted), the 10 most opened\n" in text
    assert "article-00                   api                  12       0         0\n" in text
    funnel = text[text.index("By article"):]
    assert "article-09" in funnel and "article-10" not in funnel
    assert "  ... 2 more in --format json, markdown or html\n" in text
