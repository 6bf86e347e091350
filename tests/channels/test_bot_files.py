"""What `kb build` and `mkdocs build` write for bots: llms.txt, Markdown twins, sections with anchors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from support import ROOT

from kb.channels.answers import DEFAULT_THRESHOLD
from kb.search.sections import article_sections, passage
from kb.site.languages import TEXTS

ARTICLES = {
    "articles/shipping/_category.yml": "title: Shipping\norder: 1\n",
    "articles/shipping/track-order.md": """\
        ---
        id: track-order
        title: How do I track my parcel?
        ---
        As soon as your order ships, we e-mail you a tracking link. More text follows here.

        ## Find your **tracking** link

        Open the e-mail "Your order is on its way".

        ### Find your tracking link

        The same heading twice gets its own anchor.
        """,
    "articles/billing/refunds.md": """\
        ---
        id: refunds
        title: When do I get my refund?
        ---
        Refunds take 5 working days.
        """,
}


def test_mkdocs_build_writes_llms_txt_and_a_markdown_twin_of_every_article(kb_project):
    root = kb_project(ARTICLES)
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q"], cwd=root, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"})
    site = root / "site"
    assert (site / "llms.txt").read_text(encoding="utf-8") == (
        "# Test Help Center\n\n"
        "When an article does not answer, hand over to a person: Chat with us (https://example.com/chat).\n\n"
        "## Shipping\n\n"
        "- [How do I track my parcel?](shipping/track-order/index.md): As soon as your order ships, "
        "we e-mail you a tracking link.\n\n"
        "## Billing\n\n"
        "- [When do I get my refund?](billing/refunds/index.md): Refunds take 5 working days.\n")
    twin = (site / "shipping" / "track-order" / "index.md").read_text(encoding="utf-8")
    assert twin.startswith("# How do I track my parcel?\n\nAs soon as your order ships")
    assert "id: track-order" not in twin
    answers = json.loads((site / "search" / "kb-answers.json").read_text(encoding="utf-8"))
    assert answers["site"] == {"name": "Test Help Center", "language": "en", "answer_threshold": DEFAULT_THRESHOLD,
                               "contact": [{"name": "Chat with us", "url": "https://example.com/chat",
                                            "hours": "Mon-Fri 9-17", "description": ""}],
                               "mail_search": "Last search:", "site_url": "",
                               "handover": TEXTS["en"]["handover_phrases"]}
    sections = answers["articles"]["track-order"]["sections"]
    assert [s[:2] for s in sections] == [["", ""], ["Find your tracking link", "find-your-tracking-link"],
                                         ["Find your tracking link", "find-your-tracking-link_1"]]
    # the anchors are the ones the built page has
    html = (site / "shipping" / "track-order" / "index.html").read_text(encoding="utf-8")
    ids = [i for i in re.findall(r'<h[23] id="([^"]*)"', html) if not i.startswith("kb-")]
    assert ids == ["find-your-tracking-link", "find-your-tracking-link_1"]


def test_kb_build_writes_them_too_and_the_threshold_comes_from_the_plugin_config(kb_project):
    from support import MKDOCS_YML, run_kb

    root = kb_project(ARTICLES, MKDOCS_YML.replace("  - kb:\n", "  - kb:\n      answer_threshold: 0.9\n"))
    run_kb("build", cwd=root, check=True)
    site = root / "site"
    assert (site / "llms.txt").is_file() and (site / "billing" / "refunds" / "index.md").is_file()
    answers = json.loads((site / "search" / "kb-answers.json").read_text(encoding="utf-8"))
    assert answers["site"]["answer_threshold"] == 0.9


def test_every_section_anchor_of_the_demo_site_is_on_its_built_page(built_demo_site: Path):
    answers = json.loads((built_demo_site / "search" / "kb-answers.json").read_text(encoding="utf-8"))
    assert len(answers["articles"]) >= 40
    for article in answers["articles"].values():
        html = (built_demo_site / article["url"] / "index.html").read_text(encoding="utf-8")
        ids = [i for i in re.findall(r'<h[23] id="([^"]*)"', html) if not i.startswith("kb-")]
        assert [s[1] for s in article["sections"] if s[1]] == ids, article["url"]


def test_a_passage_is_at_most_300_characters_around_the_matched_words():
    text = " ".join(f"filler{i}" for i in range(100)) + " the refund arrives in five days " + \
        " ".join(f"more{i}" for i in range(100))
    found = passage(text, {"refund", "day"})
    assert len(found) <= 300 and found.startswith("…") and found.endswith("…")
    assert "the refund arrives in five days" in found
    assert passage("Short text.", {"refund"}) == "Short text."
    [opening] = article_sections("Just one paragraph, no headings.")
    assert (opening.heading, opening.anchor, opening.text) == ("", "", "Just one paragraph, no headings.")


def test_a_passage_cut_short_ends_at_a_sentences_end_where_one_is_near():
    def filler(n: int, name: str = "word") -> str:
        return " ".join(f"{name}{i}" for i in range(n))

    text = f"{filler(30)} the refund arrives in five days, {filler(25, 'step')} once it reaches us. {filler(40)}"
    found = passage(text, {"refund"})
    assert found.startswith("…") and found.endswith("once it reaches us.")  # the sentence whole, no ellipsis
    assert len(found) <= 300
    # a list's number is no sentence's end: cut at a word, with an ellipsis
    listed = f"{filler(30)} the refund arrives in five days, {filler(25, 'step')} 3. {filler(40)}"
    cut = passage(listed, {"refund"})
    assert cut.endswith("…") and "step24 3." in cut and len(cut) <= 300


LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")


def test_every_link_in_the_demos_markdown_twins_leads_to_a_page_of_the_site(built_demo_site: Path):
    """A bot following a twin's link lands where a reader of the page would: the articles' links are
    site URLs, never the writers' source paths (../returns/return-item.md)."""
    from urllib.parse import unquote

    twins = [p for p in built_demo_site.rglob("index.md")]
    checked, broken = 0, []
    for twin in twins:
        for target in LINK.findall(twin.read_text(encoding="utf-8")):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            path = unquote(target.split("#", 1)[0])
            landing = (twin.parent / path).resolve()
            if not (landing / "index.html").is_file() and not landing.is_file():
                broken.append(f"{twin.relative_to(built_demo_site)}: {target}")
            checked += 1
    assert len(twins) > 60 and checked > 90
    assert broken == []


def test_a_twins_links_are_absolute_with_a_site_url(kb_project):
    from support import MKDOCS_YML, run_kb

    root = kb_project({**ARTICLES, "articles/billing/late.md": (
        "---\ntitle: My refund is late\n---\nRefunds take 5 days: see [refunds](refunds.md#when) and "
        "[tracking](../shipping/track-order.md), and this ![chart](chart.png).\n"),
        "articles/billing/chart.png": "not really a picture"},
        MKDOCS_YML.replace("site_name: Test Help Center\n", "site_name: Test Help Center\nsite_url: https://help.example/\n"))
    run_kb("build", cwd=root, check=True)
    twin = (root / "site" / "billing" / "late" / "index.md").read_text(encoding="utf-8")
    assert twin == ("# My refund is late\n\nRefunds take 5 days: see [refunds](https://help.example/billing/refunds/#when)"
                    " and [tracking](https://help.example/shipping/track-order/), and this "
                    "![chart](https://help.example/billing/chart.png).\n")


def test_llms_txt_leads_to_each_languages_own_and_its_notes_say_something(built_demo_site: Path):
    english = (built_demo_site / "llms.txt").read_text(encoding="utf-8")
    polish = (built_demo_site / "pl" / "llms.txt").read_text(encoding="utf-8")
    assert english.endswith("## Other languages\n\n- [Polski](pl/llms.txt)\n")
    assert polish.endswith("## Inne języki\n\n- [English](../llms.txt)\n")
    assert polish.startswith("# Centrum pomocy Northwind Outfitters\n\n> Odpowiedzi o zamówieniach")
    notes = dict(re.findall(r"^- \[([^\]]+)\]\([^)]+index\.md\): (.*)$", english + polish, re.M))
    assert len(notes) > 60
    assert notes["Do you ship outside the EU?"] == (
        "Besides every EU country, we deliver to the UK, Switzerland, Norway, the USA and Canada.")
    assert notes["Czy mogę zmienić adres dostawy?"].startswith("Przez 60 minut od złożenia zamówienia")
    assert notes["My parcel or item arrived damaged"].startswith("Take a few photos")
    assert [title for title, note in notes.items() if len(re.findall(r"\w+", note)) < 8] == []
