"""The preview's updates (kb.site.preview.live): real MkDocs builds, then edits that re-render only what they affect."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from kb.search.index import load_index
from kb.site.build import read_site_config
from kb.site.preview.live import LiveSite
from kb.site.renderers.mkdocs import MkDocsRenderer, mkdocs_config
from kb.site.renderers.mkdocs.pagewise import run_build
from support import MKDOCS_YML

ARTICLES = {
    "articles/shipping/_category.yml": "title: Shipping\norder: 1\n",
    "articles/shipping/track-order.md": "---\nid: track-order\ntitle: Where is my parcel?\ntags: [parcel]\n---\n"
                                        "Open the tracking link.\n",
    "articles/shipping/late-parcel.md": "---\nid: late-parcel\ntitle: My parcel is late\ntags: [parcel]\n---\n"
                                        "Most late parcels arrive within 2 days.\n",
    "articles/shipping/lost-parcel.md": "---\nid: lost-parcel\ntitle: My parcel is lost\ntags: [parcel]\n---\n"
                                        "Tell us and we send another.\n",
    "articles/returns/_category.yml": "title: Returns\norder: 2\n",
    "articles/returns/exchange.md": "---\nid: exchange\ntitle: How do I exchange a jacket?\n---\nSend it back.\n",
}


@pytest.fixture
def live(kb_project):
    root = kb_project(ARTICLES)
    site = LiveSite(read_site_config(root / "mkdocs.yml"), MkDocsRenderer(), root / ".kb" / "preview")
    update = site.build()
    assert update.full and update.articles == 4
    return site


def page(live, url: str) -> BeautifulSoup:
    return BeautifulSoup((live.site_dir / url / "index.html").read_text(encoding="utf-8"), "html.parser")


def write(live, rel: str, text: str) -> Path:
    path = Path(live.state.settings.docs_dir) / rel
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def settle(live, update) -> list:
    assert update.settle is not None
    return live.settle(update.settle)


def test_a_body_edit_renders_the_article_and_its_category_page_only(live):
    home_before = (live.site_dir / "index.html").stat().st_mtime_ns
    other_before = (live.site_dir / "shipping/late-parcel/index.html").stat().st_mtime_ns
    path = write(live, "shipping/track-order.md", "---\nid: track-order\ntitle: Where is my parcel?\n"
                 "tags: [parcel]\n---\nThe link is in the e-mail.\n")
    pages_written = []
    update = live.update({path}, on_pages=lambda: pages_written.append(True))
    assert (update.full, update.rendered, update.problems, pages_written) == (False, 2, [], [True])
    assert "The link is in the e-mail." in page(live, "shipping/track-order").select_one("article").text
    assert "The link is in the e-mail." in page(live, "shipping").select_one("article").text  # the summary
    assert (live.site_dir / "index.html").stat().st_mtime_ns == home_before
    assert (live.site_dir / "shipping/late-parcel/index.html").stat().st_mtime_ns == other_before
    settle(live, update)
    manifest = json.loads((live.site_dir / "kb-manifest.json").read_text(encoding="utf-8"))
    assert {a["id"]: a["version"] for a in manifest["articles"]}["track-order"] == live.state.articles["track-order"].version


def test_a_title_edit_reaches_the_home_and_category_pages_and_the_related_lists(live):
    path = write(live, "shipping/late-parcel.md", "---\nid: late-parcel\ntitle: My parcel is very late\n"
                 "tags: [parcel]\n---\nMost late parcels arrive within 2 days.\n")
    update = live.update({path})
    assert (update.full, update.rendered) == (False, 5)  # home, shipping, and the three parcel articles
    assert "My parcel is very late" in page(live, ".").select_one("article").text
    assert "My parcel is very late" in page(live, "shipping").select_one("article").text
    related = [a.text for a in page(live, "shipping/track-order").select(".kb-related a")]
    assert "My parcel is very late" in related
    assert "My parcel is very late" in page(live, "shipping/late-parcel").select_one("h1").text


def test_a_new_and_a_deleted_article_come_and_go_with_their_search_entries(live):
    path = write(live, "returns/refund.md", "---\nid: refund\ntitle: When do I get my money back?\n---\n"
                 "Within five days.\n")
    update = live.update({path})
    assert not update.full
    assert "Within five days." in page(live, "returns/refund").select_one("article").text
    assert "When do I get my money back?" in page(live, "returns").select_one("article").text
    settle(live, update)
    assert "refund" in [doc[0] for doc in load_index(live.site_dir)["docs"]]

    path.unlink()
    update = live.update({path})
    assert not (live.site_dir / "returns/refund").exists()
    assert "When do I get my money back?" not in page(live, "returns").select_one("article").text
    settle(live, update)
    assert "refund" not in [doc[0] for doc in load_index(live.site_dir)["docs"]]
    manifest = json.loads((live.site_dir / "kb-manifest.json").read_text(encoding="utf-8"))
    assert sorted(a["id"] for a in manifest["articles"]) == ["exchange", "late-parcel", "lost-parcel", "track-order"]


def test_a_broken_edit_keeps_the_last_good_page_and_returns_the_problem(live):
    before = (live.site_dir / "shipping/track-order/index.html").read_bytes()
    path = write(live, "shipping/track-order.md", "---\ntitle: [unclosed\n---\nBroken.\n")
    update = live.update({path})
    assert [p.format() for p in update.problems if p.severity == "error"] == [
        "articles/shipping/track-order.md:3: error: front matter is not valid YAML: did not find expected ',' or ']'"
        "\n    hint: check indentation and quote values holding ':' or '#'"]
    assert update.rendered == 0 and update.settle is None
    assert (live.site_dir / "shipping/track-order/index.html").read_bytes() == before


def test_a_category_change_builds_everything(live):
    path = write(live, "shipping/_category.yml", "title: Delivery\norder: 1\n")
    update = live.update({path})
    assert update.full
    assert page(live, "shipping").select_one("h1").text.strip() == "Delivery"


FOOTER_AND_PATH_YML = MKDOCS_YML.replace("site_name: Test Help Center\n",
                                         "site_name: Test Help Center\nsite_url: https://help.example/\n") \
                                .replace("features: [navigation.instant]",
                                         "features: [navigation.instant, navigation.footer, navigation.path]")


@pytest.mark.parametrize("mkdocs_yml", [MKDOCS_YML, FOOTER_AND_PATH_YML], ids=["plain", "footer-path-sitemap"])
def test_the_page_by_page_build_writes_what_mkdocs_build_writes(kb_project, tmp_path, mkdocs_yml):
    """run_build releases each page once written; the site is the same as MkDocs' own build's.

    With Material's footer every page names the next one, which the page-by-page build has not
    rendered yet; with a site_url the sitemap lists every page.
    """
    from mkdocs.commands.build import build

    root = kb_project(ARTICLES, mkdocs_yml=mkdocs_yml)
    site = read_site_config(root / "mkdocs.yml")
    run_build(mkdocs_config(site, tmp_path / "ours"))
    build(mkdocs_config(site, tmp_path / "theirs"))
    ours = sorted(p.relative_to(tmp_path / "ours").as_posix() for p in (tmp_path / "ours").rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(tmp_path / "theirs").as_posix() for p in (tmp_path / "theirs").rglob("*")
                    if p.is_file())
    assert ours == theirs
    different = [rel for rel in ours if rel != "kb-manifest.json"
                 and (tmp_path / "ours" / rel).read_bytes() != (tmp_path / "theirs" / rel).read_bytes()]
    assert different == []
