"""The Zensical renderer chosen in mkdocs.yml (`renderer: zensical`): the real `kb build`, the real
Zensical, on a small help center; the demo in both renderers is the browser suite's
(`rendered_demo_site`)."""

from __future__ import annotations

import json
import re

from support import MKDOCS_YML, run_kb

ARTICLES = {
    "articles/returns/_category.yml": "title: Returns\n",
    "articles/returns/return-item.md": """\
        ---
        id: return-item
        title: How do I return something?
        related: [exchange]
        ---

        Start a return in your account. To swap a size, see [exchanges](exchange.md).
        """,
    "articles/returns/exchange.md": """\
        ---
        id: exchange
        title: How do I exchange a size?
        ---

        Choose **Exchange** when you start a return.
        """,
    "articles/returns/draft.md": """\
        ---
        title: Not ready yet
        draft: true
        ---

        Half written.
        """,
}


def with_options(*lines: str) -> str:
    """The tests' mkdocs.yml with more kb plugin options."""
    assert "  - kb:\n" in MKDOCS_YML
    return MKDOCS_YML.replace("  - kb:\n", "  - kb:\n" + "".join(f"      {line}\n" for line in lines))


def test_renderer_zensical_in_mkdocs_yml_builds_kbs_site(kb_project):
    root = kb_project(ARTICLES, with_options("renderer: zensical", "semantic: false"))
    result = run_kb("build", cwd=root, check=True)
    site = root / "site"
    assert "articles" in result.stderr
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "kb-hero" in home and 'href="returns/"' in home
    assert "<title>Test Help Center</title>" in home  # the site's name once, as on MkDocs
    article = (site / "returns" / "return-item" / "index.html").read_text(encoding="utf-8")
    assert '<meta name="kb:article" content="return-item">' in article
    assert 'class="kb-contact' in article and "Chat with us" in article
    assert "kb-breadcrumbs" in article and "md-feedback" in article
    # the body's Markdown link and kb's own related link lead to the same page
    assert set(re.findall(r'href="([^"]*exchange[^"]*)"', article)) == {"../exchange/"}
    assert 'href="https://zensical.org/"' in article  # the footer names what rendered the site
    assert not (site / "returns" / "draft").exists()  # drafts stay out of a build
    assert not (site / "search.json").exists()  # Zensical's own index: kb's engine answers the search box
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert index["docs"]["format"] == "kb-search/1"
    manifest = json.loads((site / "kb-manifest.json").read_text(encoding="utf-8"))
    assert sorted(a["id"] for a in manifest["articles"]) == ["exchange", "return-item"]
    assert "How do I return something?" in (site / "llms.txt").read_text(encoding="utf-8")
    assert (site / "returns" / "return-item" / "index.md").read_text(encoding="utf-8").startswith("# How do I return")
    assert "_category.yml" not in {p.name for p in site.rglob("*")}


def test_an_unknown_renderer_is_named_without_a_traceback(kb_project):
    root = kb_project(ARTICLES, with_options("renderer: hugo"))
    result = run_kb("build", cwd=root)
    assert result.returncode != 0
    assert "renderer: must be one of mkdocs, zensical; got 'hugo'" in result.stderr
    assert "Traceback" not in result.stderr


def test_inherited_settings_and_python_tags_reach_zensical(kb_project):
    """mkdocs.yml's INHERIT and its `!!python/name:` tags (resolved by Zensical itself) are kept."""
    root = kb_project({**ARTICLES, "articles/returns/exchange.md": """\
        ---
        id: exchange
        title: How do I exchange a size?
        ---

        !!! note "Sizes"
            Exchanges are free :smile:
        """}, with_options("renderer: zensical", "semantic: false") + "INHERIT: base.yml\n")
    (root / "base.yml").write_text(
        "markdown_extensions:\n  - admonition\n  - pymdownx.emoji:\n"
        "      emoji_index: !!python/name:material.extensions.emoji.twemoji\n"
        "      emoji_generator: !!python/name:material.extensions.emoji.to_svg\n", encoding="utf-8")
    run_kb("build", cwd=root, check=True)
    page = (root / "site" / "returns" / "exchange" / "index.html").read_text(encoding="utf-8")
    assert 'class="admonition note"' in page
    assert "twemoji" in page


def test_the_preview_on_zensical_shows_an_edit_a_new_and_a_deleted_article(kb_project):
    from kb.site.build import read_site_config
    from kb.site.preview.live import LiveSite
    from kb.site.renderers.zensical import ZensicalRenderer

    root = kb_project(ARTICLES, with_options("semantic: false"))
    live = LiveSite(read_site_config(root / "mkdocs.yml"), ZensicalRenderer(), root / ".kb" / "preview")
    assert live.build().full
    assert "Half written." in (live.site_dir / "returns" / "draft" / "index.html").read_text(encoding="utf-8")

    edited = root / "articles" / "returns" / "exchange.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("Choose **Exchange**", "Bring it to a shop"),
                      encoding="utf-8")
    update = live.update({edited})
    assert not update.full and update.problems == []
    assert "Bring it to a shop" in (live.site_dir / "returns" / "exchange" / "index.html").read_text(encoding="utf-8")
    assert live.settle(update.settle) is not None

    new = root / "articles" / "returns" / "refund.md"
    new.write_text("---\nid: refund\ntitle: When do I get my money back?\n---\n\nWithin five days.\n", encoding="utf-8")
    update = live.update({new})
    assert "Within five days." in (live.site_dir / "returns" / "refund" / "index.html").read_text(encoding="utf-8")
    assert "When do I get my money back?" in (live.site_dir / "returns" / "index.html").read_text(encoding="utf-8")
    new.unlink()
    update = live.update({new})
    assert not (live.site_dir / "returns" / "refund" / "index.html").exists()
    assert "When do I get my money back?" not in (live.site_dir / "returns" / "index.html").read_text(encoding="utf-8")
    live.settle(update.settle)
    manifest = json.loads((live.site_dir / "kb-manifest.json").read_text(encoding="utf-8"))
    assert sorted(a["id"] for a in manifest["articles"]) == ["exchange", "return-item", "returns/draft"]
