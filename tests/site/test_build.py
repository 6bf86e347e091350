"""kb build and mkdocs build: real builds into tmp dirs, the HTML checked with selectors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from support import MKDOCS_YML, ROOT, free_port, run_kb, start_kb_serve

from kb.site.languages import TEXTS
from kb.votes.schema import MAX_COMMENT, REASONS

ARTICLES = {
    "articles/shipping/_category.yml": "title: Shipping & delivery\ndescription: Where your parcel is.\norder: 1\n",
    "articles/shipping/track-order.md": """
        ---
        id: track-order
        title: Where is my parcel?
        questions: [track my order, where is my package]
        tags: [shipping, tracking]
        owner: "@support-shipping"
        reviewed: 2026-01-10
        review_every: 90d
        related: [late-parcel]
        ---
        Open the tracking link in your confirmation e-mail.

        ## If the link does not work
        See [late parcels](late-parcel.md).
        """,
    "articles/shipping/late-parcel.md": """
        ---
        id: late-parcel
        title: My parcel is late
        ---
        Sorry! Most late parcels arrive within 2 days.
        """,
    "articles/shipping/new-policy.md": """
        ---
        id: new-policy
        title: The new delivery policy
        draft: true
        ---
        Not ready yet.
        """,
    "articles/returns/_category.yml": "title: Returns\norder: 2\n",
    "articles/returns/exchange-size.md": """
        ---
        id: exchange-size
        title: How do I exchange a jacket for another size?
        questions: [the jacket is too small]
        ---
        Send it back with the return label and pick the new size.
        """,
    "articles/pl/_category.yml": "title: Pomoc po polsku\norder: 3\n",
    "articles/pl/dostawa.md": """
        ---
        id: dostawa
        title: Ile trwa dostawa?
        questions: [gdzie jest moja paczka]
        ---
        Zwykle 1–2 dni robocze. Żółta łódź przywiezie przesyłkę.
        """,
}


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@pytest.fixture
def built(kb_project) -> Path:
    root = kb_project(ARTICLES)
    result = run_kb("build", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1].startswith("kb build: 4 articles -> site in ")
    return root / "site"


def test_home_page_has_search_and_categories(built: Path):
    home = soup(built / "index.html")
    assert home.select_one(".kb-hero h1").get_text() == "How can we help?"
    # a real search box the customer types into (no label pretending to be a button)
    hero = home.select_one("form.kb-hero__search[role=search] input[type=search][data-kb-search-input]")
    assert hero is not None and hero["aria-label"] == "Search for answers"
    assert home.select_one(".kb-hero [role=button]") is None
    categories = home.select(".kb-category")
    assert [c.select_one(".kb-category__title").get_text() for c in categories] == [
        "Shipping & delivery", "Returns", "Pomoc po polsku"]
    assert [(a.get_text(), a["href"]) for a in categories[0].select(".kb-category__articles a")] == [
        ("My parcel is late", "shipping/late-parcel/"), ("Where is my parcel?", "shipping/track-order/")]
    assert categories[0].select_one(".kb-category__title a")["href"] == "shipping/"


def test_category_page_lists_articles_with_breadcrumbs(built: Path):
    page = soup(built / "shipping" / "index.html")
    assert page.select_one("article h1").get_text() == "Shipping & delivery"
    assert [a.get_text() for a in page.select(".kb-breadcrumbs a")] == ["Home"]
    assert [(a.get_text(), a["href"]) for a in page.select(".kb-article-list a")] == [
        ("My parcel is late", "late-parcel/"), ("Where is my parcel?", "track-order/")]
    assert page.select(".kb-article-list p")[0].get_text() == "Sorry! Most late parcels arrive within 2 days."


def test_article_page_has_also_answers_related_and_contact(built: Path):
    page = soup(built / "shipping" / "track-order" / "index.html")
    assert [(a.get_text(), a["href"]) for a in page.select(".kb-breadcrumbs a")] == [
        ("Home", "../../"), ("Shipping & delivery", "../")]
    assert [h.get_text() for h in page.select("article h1")] == ["Where is my parcel?"]
    assert [li.get_text() for li in page.select(".kb-also li")] == ["track my order", "where is my package"]
    assert page.select(".kb-related a")[0].get_text() == "My parcel is late"
    assert page.select(".kb-related a")[0]["href"] == "../late-parcel/"
    assert page.select_one(".kb-updated time")["datetime"]
    channel = page.select_one(".kb-contact .kb-contact__channel")
    assert page.select_one(".kb-contact h2").get_text() == "Still need help?"
    assert channel.select_one("a")["href"] == "https://example.com/chat"
    assert channel.select_one(".kb-contact__hours").get_text() == "Mon-Fri 9-17"
    assert page.select_one('meta[name="kb:article"]')["content"] == "track-order"
    assert len(page.select_one('meta[name="kb:version"]')["content"]) == 8


def test_the_widget_gets_the_collectors_vocabulary_from_the_page(built: Path):
    page = soup(built / "shipping" / "track-order" / "index.html")
    settings = json.loads(page.select_one("#kb-feedback-config").get_text())
    assert (settings["reasons"], settings["max_comment"]) == (list(REASONS), MAX_COMMENT)
    sender = (ROOT / "kb/assets/feedback/overrides/assets/kb-feedback/feedback.js").read_text(encoding="utf-8")
    assert not any(f'"{reason}"' in sender for reason in REASONS)  # no copy of the list in the script


def test_polish_text_renders(built: Path):
    page = soup(built / "pl" / "dostawa" / "index.html")
    assert "Żółta łódź przywiezie przesyłkę." in page.select_one("article").get_text()
    assert [li.get_text() for li in page.select(".kb-also li")] == ["gdzie jest moja paczka"]


def test_drafts_and_config_files_are_left_out(built: Path):
    assert not (built / "shipping" / "new-policy").exists()
    assert not (built / "shipping" / "_category.yml").exists()


def test_manifest_lists_published_articles(built: Path):
    manifest = json.loads((built / "kb-manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == 1
    assert manifest["site_name"] == "Test Help Center"
    by_id = {a["id"]: a for a in manifest["articles"]}
    assert sorted(by_id) == ["dostawa", "exchange-size", "late-parcel", "track-order"]
    track = by_id["track-order"]
    assert {k: track[k] for k in ("title", "url", "category", "owner", "reviewed", "review_every")} == {
        "title": "Where is my parcel?", "url": "shipping/track-order/", "category": "shipping",
        "owner": "@support-shipping", "reviewed": "2026-01-10", "review_every": 90}
    assert len(track["version"]) == 8


def test_failed_build_keeps_the_previous_site(kb_project):
    root = kb_project(ARTICLES)
    assert run_kb("build", cwd=root).returncode == 0
    before = (root / "site" / "index.html").read_bytes()
    (root / "articles" / "shipping" / "late-parcel.md").write_text("---\ntitle: [broken\n---\n", encoding="utf-8")
    result = run_kb("build", cwd=root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith("articles/shipping/late-parcel.md:3: error: front matter")
    assert (root / "site" / "index.html").read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == ["articles", "mkdocs.yml", "site"]


def test_plain_mkdocs_build_builds_the_whole_site(kb_project):
    root = kb_project(ARTICLES)
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q"], cwd=root, capture_output=True,
                            text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr
    assert (root / "site" / "shipping" / "track-order" / "index.html").is_file()
    assert (root / "site" / "kb-manifest.json").is_file()


def test_plain_mkdocs_build_aborts_on_content_errors(kb_project):
    root = kb_project({"articles/a.md": "---\ntitle: A\nrelated: [nope]\n---\n"})
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build"], cwd=root, capture_output=True, text=True,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 1
    assert "articles/a.md:3: error: related id 'nope' does not exist" in result.stderr
    assert "kb: 1 error(s) in articles; run `kb check` to see them all" in result.stderr


def test_missing_config_is_a_clear_error(tmp_path: Path):
    result = run_kb("build", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == ("mkdocs.yml: no such file; run kb in a project folder (one with mkdocs.yml), "
                             "or pass --config-file\n")


def test_new_scaffolds_an_article_that_checks(kb_project):
    root = kb_project(ARTICLES)
    result = run_kb("new", "Can I pay with BLIK?", "--category", "payments", cwd=root)
    assert result.returncode == 0
    assert result.stdout == "articles/payments/can-i-pay-with-blik.md\n"
    text = (root / "articles" / "payments" / "can-i-pay-with-blik.md").read_text(encoding="utf-8")
    assert text.startswith("---\nid: can-i-pay-with-blik\ntitle: Can I pay with BLIK?\n")
    assert "draft: true" in text
    assert run_kb("check", cwd=root).returncode == 0
    again = run_kb("new", "Can I pay with BLIK?", "--category", "payments", cwd=root)
    assert again.returncode == 1
    assert again.stderr == "articles/payments/can-i-pay-with-blik.md: already exists; choose another title or --id\n"


def test_new_writes_any_title_as_valid_yaml_and_checks_the_id(kb_project):
    root = kb_project(ARTICLES)
    result = run_kb("new", "Where is C:\\Users\\me? It's: #1", "--category", "help", cwd=root)
    assert result.returncode == 0, result.stderr
    path = root / "articles" / "help" / "where-is-c-users-me-it-s-1.md"
    assert path.read_text(encoding="utf-8").startswith(
        "---\nid: where-is-c-users-me-it-s-1\ntitle: 'Where is C:\\Users\\me? It''s: #1'\n")
    checked = run_kb("check", cwd=root)
    assert checked.returncode == 0, checked.stderr
    bad = run_kb("new", "Refunds", "--id", "refunds and more", cwd=root)
    assert (bad.returncode, bad.stderr) == (
        2, "kb new: --id must be a slug of letters, digits, '-', '_' and '/', got 'refunds and more'\n")
    good = run_kb("new", "Refunds", "--id", "billing/refund_policy-2", cwd=root)
    assert (good.returncode, good.stdout) == (0, "articles/refund_policy-2.md\n")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode("utf-8")


def test_serve_previews_drafts_and_reloads_on_edit(kb_project):
    root = kb_project(ARTICLES)
    port = free_port()
    server = start_kb_serve(root, port)
    try:
        base = f"http://127.0.0.1:{port}"
        build = _get(f"{base}/_kb/build")
        assert "Not ready yet." in _get(f"{base}/shipping/new-policy/")
        assert "assets/kb/livereload.js" in _get(f"{base}/")
        (root / "articles" / "shipping" / "late-parcel.md").write_text(
            "---\nid: late-parcel\ntitle: My parcel is late\n---\nEdited while serving.\n", encoding="utf-8")
        deadline = time.monotonic() + 30
        while _get(f"{base}/_kb/build") == build:
            assert time.monotonic() < deadline, "no rebuild after an edit"
            time.sleep(0.2)
        assert "Edited while serving." in _get(f"{base}/shipping/late-parcel/")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_demo_help_center_builds(built_demo_site: Path):
    manifest = json.loads((built_demo_site / "kb-manifest.json").read_text(encoding="utf-8"))
    categories = {a["category"] for a in manifest["articles"]}
    assert len(manifest["articles"]) >= 30
    assert len(categories) >= 5
    polish = manifest["languages"]["pl"]["articles"]
    assert len(polish) >= 20
    assert len({a["category"] for a in polish}) >= 5
    home = soup(built_demo_site / "index.html")
    assert len(home.select(".kb-category")) >= 5
    assert len(soup(built_demo_site / "pl" / "index.html").select(".kb-category")) >= 5


def test_the_demo_help_center_checks_clean():
    result = run_kb("check", cwd=ROOT)
    assert (result.returncode, result.stdout) == (0, "")
    assert re.fullmatch(r"kb check: 0 errors, 0 warnings in \d+ articles\n", result.stderr), result.stderr


def test_navigation_lists_categories_not_every_article(built: Path):
    page = soup(built / "returns" / "exchange-size" / "index.html")
    assert [a.get_text(" ", strip=True) for a in page.select(".md-nav--primary > .md-nav__list > li > a")] == [
        "Test Help Center", "Shipping & delivery", "Returns", "Pomoc po polsku"]


def test_real_content_from_another_system_gets_located_problems_not_a_traceback(tmp_path: Path):
    corpus = ROOT.parent / "shared" / "corpora" / "alchemy-pl" / "articles"
    if not corpus.is_dir():
        pytest.skip(f"{corpus} is not here")
    shutil.copytree(corpus, tmp_path / "articles")
    (tmp_path / "mkdocs.yml").write_text("site_name: Alchemy\ndocs_dir: articles\ntheme:\n  name: material\n"
                                         "plugins:\n  - search\n  - kb\n", encoding="utf-8")
    result = run_kb("build", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert re.fullmatch(r"kb build: \d+ errors, \d+ warnings in 3010 articles", lines[-1])
    located = re.compile(r"articles/[^:]+\.md:\d+: (error|warning): .+")
    assert all(located.fullmatch(line) or line.startswith("    hint: ") for line in lines[:-1])
    assert "articles/includes/alchemyinsights-content-updates.md:1: error: no title" in lines
    assert not (tmp_path / "site").exists()


def test_a_one_language_polish_site_speaks_polish_in_kbs_own_texts(kb_project):
    """Without `languages`, the theme's language picks kb's texts (search box, home page, contact
    block, widget), as each language of a multilingual site gets its own; English where kb has none."""
    root = kb_project({"articles/dostawa/paczka.md": "---\ntitle: Gdzie jest moja paczka\n---\nŚledź przesyłkę.\n"},
                      mkdocs_yml=MKDOCS_YML.replace("  features:", "  language: pl\n  features:"))
    result = run_kb("build", cwd=root)
    assert result.returncode == 0, result.stderr
    home = soup(root / "site" / "index.html")
    assert "W czym możemy pomóc?" in home.get_text()
    search = json.loads(home.select_one("#kb-search-config").get_text())
    assert (search["language"], search["texts"]["placeholder"]) == ("pl", TEXTS["pl"]["search"]["placeholder"])
    page = soup(root / "site" / "dostawa" / "paczka" / "index.html")
    assert page.select_one(".kb-contact h2").get_text() == "Nadal potrzebujesz pomocy?"
    widget = json.loads(page.select_one("#kb-feedback-config").get_text())
    assert widget["texts"] and widget["texts"] == {**widget["texts"], **TEXTS["pl"]["widget"]}
    assert page.select_one(".md-feedback__title").get_text(strip=True) == TEXTS["pl"]["feedback_title"]
