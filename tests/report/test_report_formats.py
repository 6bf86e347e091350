"""The report's formats, character for character, on a small fixed help center and a fixed clock."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from kb.report.review import build_report
from kb.report.formats import CSS, format_csv, format_html, format_json, format_markdown, format_text, render, safe_cell
from scenario import TEXT, NOW, Votes, article, at, manifest, review_scenario, search, sqlite_store


@pytest.fixture
def scenario_report(tmp_path):
    """The report of test_report_data.review_scenario at NOW."""
    m, votes, searches, contacts = review_scenario()
    store = sqlite_store(tmp_path / "v.db", votes, searches, contacts)
    try:
        return build_report(store, m, now=NOW)
    finally:
        store.close()




MARKDOWN = """\
## Help center review: Test Help

Period all time until 2026-11-23 (UTC); target 60% helpful; 15 votes counted (one per visitor per article per day) of 16 received; site average 40% helpful.

**1 weak, 2 overdue, 1 unrated, 2 content gaps**

| Article | Votes | Rate | Mean | 95% CI | Contacts | Flags |
| --- | ---: | ---: | ---: | ---: | ---: | --- |
| Where is my order? (`track-order`) | 6 | 17% | 27% | 3-56% | 2 | **weak**, overdue |
| How do I reset my password? (`reset-password`) | 9 | 56% | 50% | 27-81% | 0 |  |
| Refunds \\| when &amp; how (`refunds`) | 0 | - | - | - | 0 | overdue, unrated |

### Worth a closer look

#### `track-order`: Where is my order?

- Owner: @\u200dship
- Versions, oldest first: `trk22222` (current) 1/6 17% (3-56%)
- Reasons: out of date or wrong 3, hard to follow 2
- Went on to contact us: 2
- Latest comments:
  - 2026-11-07: Still lost.
  - 2026-11-05: &lt;script&gt;alert(1)&lt;/script&gt; the map \\| is \\*wrong\\*
  - 2026-11-03: =HYPERLINK("http\u200d://evil.example","click")

#### `reset-password`: How do I reset my password?

- Owner: @\u200dweb
- Versions, oldest first: `old11111` 1/5 20% (4-62%) → `new22222` (current) 4/4 100% (51-100%)
- Reasons: out of date or wrong 4

### Overdue for review

| Article | Owner | Due |
| --- | --- | --- |
| `track-order` | @\u200dship | 2026-04-01 |
| `refunds` |  | never reviewed |

### Searches that found nothing

| Searches | Query | Also typed | Nearest articles |
| ---: | --- | --- | --- |
| 3 | gift wrap | gift wrapping |  |
| 1 | @\u200dSUM(A1) |  |  |
"""


def test_text(scenario_report):
    assert format_text(scenario_report) == TEXT
    assert max(len(line) for line in TEXT.splitlines()) <= 80


def test_text_stays_within_80_columns_on_a_busy_site(tmp_path):
    from kb.votes.simulate import simulate_history

    m = manifest(*(article(f"a-rather-long-article-identifier-{i}", title="A title " * 12) for i in range(15)))
    history = simulate_history(m, days=60, seed=3, now=NOW)
    store = sqlite_store(tmp_path / "v.db", history.votes, history.searches, history.contacts)
    try:
        text = format_text(build_report(store, m, now=NOW))
    finally:
        store.close()
    assert max(len(line) for line in text.splitlines()) <= 80


def test_text_colours_only_when_asked(scenario_report):
    coloured = format_text(scenario_report, color=True)
    assert "\x1b[1mHelp center review: Test Help\x1b[0m\n" in coloured
    assert "track-order                      6   17%   27%     3-56%    2  \x1b[31;1mweak overdue\x1b[0m\n" in coloured
    assert "\x1b[33mrefunds                          0     -     -         -    0  overdue unrated\x1b[0m\n" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured).splitlines() == [line for line in TEXT.splitlines()]


def test_markdown(scenario_report):
    assert format_markdown(scenario_report) == MARKDOWN


CSV_LINES = [
    "id,title,category,owner,version,votes,helpful,rate,mean,low,high,flags,contacts,not_answered,unclear,"
    "outdated,incomplete,reviewed,due,versions,latest_comment,url",
    "track-order,Where is my order?,shipping,'@ship,trk22222,6,1,0.1667,0.2727,0.0301,0.5635,weak overdue,2,0,2,3,0,"
    "2026-01-01,2026-04-01,trk22222:1/6,Still lost.,shipping/track-order/",
    "reset-password,How do I reset my password?,account,'@web,new22222,9,5,0.5556,0.5,0.2666,0.8112,,0,0,0,4,0,"
    "2026-11-10,2027-05-09,old11111:1/5;new22222:4/4,,account/reset-password/",
    "refunds,Refunds | when & how,refunds,,ref22222,0,0,,,,,overdue unrated,0,0,0,0,0,,,,,refunds/refunds/",
]


def test_csv(scenario_report):
    assert format_csv(scenario_report) == "\r\n".join(CSV_LINES) + "\r\n"


@pytest.mark.parametrize("cell, safe", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\nx"), ("plain", "plain"), ("a=b", "a=b"), ("", ""),
    (None, ""), (3, 3), (0.25, 0.25),
    # shown as every format shows customer text: no terminal escape, no bidirectional control, and
    # a formula behind one is still a formula
    ("\x1b]8;;https://x.example\x1b\\link", "]8;;https://x.example\\link"), ("\u202e=1+1", "'=1+1"),
    ("a\u2066b\u2069\u200dc", "ab\u200dc"),
])
def test_csv_cells_that_start_like_a_formula_get_a_quote(cell, safe):
    assert safe_cell(cell) == safe


def test_csv_comment_and_title_formulas_are_defused(tmp_path):
    m = manifest(article("a", title="=cmd|' /C calc'!A0", owner="-team"))
    v = Votes()
    v.add("a", False, at(20), reason="unclear", comment='=HYPERLINK("http://evil.example","click")')
    store = sqlite_store(tmp_path / "v.db", v.rows)
    try:
        report = build_report(store, m, now=NOW)
    finally:
        store.close()
    rows = list(csv.DictReader(io.StringIO(format_csv(report))))
    assert rows[0]["title"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["owner"] == "'-team"
    assert rows[0]["latest_comment"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"


JSON = """\
{
  "report": "kb",
  "version": 1,
  "site_name": "Test Help",
  "generated_at": "2026-11-23T12:00:00Z",
  "period": {
    "since": "2026-11-01T12:00:00Z",
    "until": "2026-11-23T12:00:00Z"
  },
  "filters": {
    "category": null,
    "owner": null
  },
  "target": 0.6,
  "method": {
    "counting": "one vote per visitor per article per UTC day; the visitor's last vote that day counts; at most 3 per client address per article per UTC day",
    "mean": "Bayesian mean shrunk toward the site's average with 5 pseudo-votes",
    "interval": "95% Wilson score interval (z = 1.96)",
    "weak": "the interval's upper bound below the target, with votes from at least 2 client addresses"
  },
  "site": {
    "votes": 2,
    "helpful": 1,
    "rate": 0.5,
    "prior": 0.5,
    "prior_strength": 5,
    "raw_votes": 2
  },
  "totals": {
    "articles": 1,
    "votes": 2,
    "helpful": 1,
    "contacts": 0,
    "weak": 0,
    "overdue": 0,
    "unrated": 0,
    "gaps": 1,
    "failed_searches": 1
  },
  "articles": [
    {
      "id": "a",
      "title": "Pay = later?",
      "url": "help/a/",
      "category": "help",
      "owner": "@pay",
      "version": "v2",
      "reviewed": "2026-11-01",
      "review_every": 30,
      "due": "2026-12-01",
      "votes": 2,
      "helpful": 1,
      "rate": 0.5,
      "mean": 0.5,
      "low": 0.0945,
      "high": 0.9055,
      "flags": [],
      "reasons": {
        "not_answered": 0,
        "unclear": 0,
        "outdated": 0,
        "incomplete": 1
      },
      "comments": [
        {
          "text": "-1 star",
          "helpful": false,
          "reason": "incomplete",
          "version": "v1",
          "created_at": "2026-11-20T12:00:00Z"
        }
      ],
      "contacts": 0,
      "versions": [
        {
          "version": "v1",
          "current": false,
          "votes": 1,
          "helpful": 0,
          "rate": 0.0,
          "low": 0.0,
          "high": 0.7935,
          "first": "2026-11-20T12:00:00Z",
          "last": "2026-11-20T12:00:00Z"
        },
        {
          "version": "v2",
          "current": true,
          "votes": 1,
          "helpful": 1,
          "rate": 1.0,
          "low": 0.2065,
          "high": 1.0,
          "first": "2026-11-21T12:00:00Z",
          "last": "2026-11-21T12:00:00Z"
        }
      ],
      "weeks": [
        {
          "week": "2026-11-16",
          "votes": 2,
          "helpful": 1,
          "rate": 0.5,
          "low": 0.0945,
          "high": 0.9055
        }
      ]
    }
  ],
  "gaps": [
    {
      "query": "klarna",
      "count": 1,
      "variants": [
        "klarna"
      ],
      "nearest": []
    }
  ]
}
"""


def test_json(tmp_path):
    m = manifest(article("a", version="v2", title="Pay = later?", owner="@pay", reviewed="2026-11-01", review_every=30))
    v = Votes()
    v.add("a", False, at(20), version="v1", reason="incomplete", comment="-1 star")
    v.add("a", True, at(21), version="v2")
    store = sqlite_store(tmp_path / "v.db", v.rows, [search("klarna", at(21), visitor="q")])
    try:
        report = build_report(store, m, now=NOW, since=at(1))
    finally:
        store.close()
    assert format_json(report) == JSON
    assert json.loads(JSON) == report


def test_html_escapes_every_comment_and_allows_nothing_from_outside(scenario_report):
    page = format_html(scenario_report)
    assert page.startswith("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    assert (f'<meta http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;; '
            f"style-src &#x27;sha256-{digest}&#x27;; base-uri &#x27;none&#x27;; "
            "form-action &#x27;none&#x27;\">") in page
    assert "<script" not in page
    assert ("<blockquote>&lt;script&gt;alert(1)&lt;/script&gt; the map | is *wrong*<br>"
            '<span class="muted">2026-11-05, version trk22222</span></blockquote>') in page
    assert ("<blockquote>=HYPERLINK(&quot;http://evil.example&quot;,&quot;click&quot;)<br>"
            '<span class="muted">2026-11-03, version trk22222</span></blockquote>') in page
    assert "<td>Refunds | when &amp; how<br><code>refunds</code></td>" in page
    # No outside assets: no src or href attributes, no url() in the style, no @import.
    assert not re.search(r"\s(src|href)=", page)
    assert "url(" not in page and "@import" not in page
    # Charts: the weak article and the edited one get two charts each, plus the gaps bars.
    assert page.count("<svg ") == 5
    assert '<h3 id="chart-track-order">' in page and '<h3 id="chart-reset-password">' in page
    assert '<text x="214" y="20" text-anchor="end">gift wrap</text>' in page


def test_render_knows_every_format(scenario_report):
    assert render(scenario_report, "text") == TEXT
    with pytest.raises(ValueError):
        render(scenario_report, "xml")


HOSTILE = ("Read https://evil.example/login or WWW.evil.example, (www.evil.example), mailto:x@evil.example, "
           "xmpp:x@evil.example, FTP://evil.example and @someone; \u202eexe.txt\u202c \u2066hidden\u2069 "
           "\u200eleft\u200f line\u2028break; fixes #12, torvalds/linux#1 and GH-7\x1b[2J")
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_no_format_shows_a_live_link_a_mention_or_a_bidi_control_from_customer_text(tmp_path):
    """Rendered by GitHub's own Markdown parser (cmark-gfm, with its autolink extension), the
    Markdown report holds no link, and no issue reference GitHub would link after it; no format
    keeps a bidirectional control or a terminal escape."""
    import cmarkgfm

    v = Votes()
    for i in range(5):
        v.add("a", False, at(20, 9, i), reason="outdated", comment=HOSTILE if i == 4 else None)
    store = sqlite_store(tmp_path / "v.db", v.rows, [search(HOSTILE, at(21), visitor="q")])
    try:
        report = build_report(store, manifest(article("a", title="Pay later")), now=NOW)
    finally:
        store.close()
    assert report["articles"][0]["flags"] == ["weak"] and report["articles"][0]["comments"][0]["text"] == HOSTILE
    markdown = format_markdown(report)
    assert markdown.count("evil.example") == 2 * 6  # the comment and the gap, each naming it 6 times
    page = cmarkgfm.github_flavored_markdown_to_html(markdown)
    assert "<a " not in page and "evil.example" in page
    assert "https\u200d://evil.example/login or WWW\u200d.evil.example, (www\u200d.evil.example), " \
           "mailto\u200d:x@\u200devil.example, xmpp\u200d:x@\u200devil.example, FTP\u200d://evil.example and " \
           "@\u200dsomeone; exe.txt hidden left line break; fixes #\u200d12, torvalds/linux#\u200d1 and " \
           "GH-\u200d7\\[2J" in markdown
    html_page = format_html(report)
    assert "Read https://evil.example/login or WWW.evil.example" in html_page
    csv_file = format_csv(report)
    assert "line\nbreak; fixes #12, torvalds/linux#1 and GH-7[2J" in csv_file
    for rendered in (markdown, html_page, format_text(report), page, csv_file):
        assert not set(BIDI + "\x1b") & set(rendered)
    assert "exe.txt hidden left line\nbreak" in html_page  # a line separator is a line break
