"""Material's sidebar, rendered once per category folder, is byte for byte the one Material renders on
every page: with folder URLs and with file URLs, nested categories, pruned navigation, and after
the preview renders pages again with a category renamed. Real MkDocs builds."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import MKDOCS_YML

import kb.site.plugin
from kb.site.build import read_site_config
from kb.site.preview.live import LiveSite
from kb.site.renderers.mkdocs import MkDocsRenderer

FEATURES = "features: [navigation.instant, navigation.sections, navigation.indexes, navigation.prune]"
FILES = {
    "articles/shipping/_category.yml": "title: Shipping\norder: 1\n",
    "articles/shipping/track.md": "---\ntitle: Where is my parcel?\n---\nOpen the tracking link.\n",
    "articles/shipping/late.md": "---\ntitle: My parcel is late\n---\nMost arrive within 2 days.\n",
    "articles/returns/_category.yml": "title: Returns\norder: 2\n",
    "articles/returns/exchange.md": "---\ntitle: How do I exchange a jacket?\n---\nSend it back.\n",
    "articles/returns/refund.md": "---\ntitle: When is my refund paid?\n---\nWithin 5 days.\n",
    "articles/returns/sizes/chart.md": "---\ntitle: Which size fits me?\n---\nSee the chart.\n",
    "articles/returns/sizes/swap.md": "---\ntitle: Can I swap a size?\n---\nYes, for free.\n",
}


def sidebar(page: Path) -> str:
    html = page.read_text(encoding="utf-8")
    start = html.index('<nav class="md-nav md-nav--primary"')
    return html[start:html.index("</nav>", start)]


def pages(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*.html"))}


def build(root: Path, folder: str) -> tuple[dict[str, bytes], object]:
    built = MkDocsRenderer().build(read_site_config(root / "mkdocs.yml"), root / folder)
    return pages(root / folder), built[0].env


@pytest.mark.parametrize("urls", ["folders", "files"])
def test_every_page_shows_the_sidebar_material_renders_for_it(kb_project, monkeypatch, urls):
    yml = MKDOCS_YML.replace("features: [navigation.instant]", FEATURES)
    if urls == "files":
        yml = yml.replace("site_dir: site\n", "site_dir: site\nuse_directory_urls: false\n")
    root = kb_project(FILES, mkdocs_yml=yml)
    ours, env = build(root, "ours")
    kept = getattr(env, "_kb_navigation")
    # one rendering per folder of articles (shipping, returns, returns/sizes), not one per article
    assert len(kept) == 3
    assert all('class="md-nav md-nav--primary' in html for html in kept.values())
    monkeypatch.setattr(kb.site.plugin, "remember_navigation", lambda env: None)  # Material's own, every page
    material, env = build(root, "material")
    assert getattr(env, "_kb_navigation", None) is None
    assert sorted(ours) == sorted(material) and len(ours) > 10
    assert [name for name in ours if ours[name] != material[name]] == []
    # each article's sidebar links its categories from where it is
    sizes = ours["returns/sizes/chart/index.html" if urls == "folders" else "returns/sizes/chart.html"].decode()
    assert ('href="../../../shipping/"' if urls == "folders" else 'href="../../shipping/index.html"') in sizes


def test_the_preview_shows_a_renamed_category_in_every_sidebar(kb_project, tmp_path):
    root = kb_project(FILES, mkdocs_yml=MKDOCS_YML)
    site = read_site_config(root / "mkdocs.yml")
    live = LiveSite(site, MkDocsRenderer(), root / ".kb" / "preview", livereload=False)
    live.build()
    article = live.site_dir / "shipping/track/index.html"
    assert "\n    Returns\n" in sidebar(article)
    (root / "articles/returns/_category.yml").write_text("title: Returns and refunds\norder: 2\n", encoding="utf-8")
    update = live.update({root / "articles/returns/_category.yml"})
    live.settle(update.settle)
    for page in (article, live.site_dir / "returns/sizes/swap/index.html"):
        assert "\n    Returns and refunds\n" in sidebar(page) and "\n    Returns\n" not in sidebar(page)
    full = LiveSite(site, MkDocsRenderer(), tmp_path / "full", livereload=False)
    full.build()
    assert pages(live.site_dir) == pages(full.site_dir)


def test_a_sites_own_navigation_template_is_rendered_for_each_page(kb_project):
    yml = MKDOCS_YML.replace("  font: false\n", "  font: false\n  custom_dir: overrides\n")
    root = kb_project({**FILES, "overrides/partials/nav-item.html": (
        '{% macro render(nav_item, path, level) %}<i>{{ nav_item.title }} seen from {{ page.title }}</i>'
        '{% endmacro %}\n')}, mkdocs_yml=yml)
    ours, env = build(root, "site")
    assert getattr(env, "_kb_navigation", None) is None
    for name, title in (("shipping/track/index.html", "Where is my parcel?"),
                        ("shipping/late/index.html", "My parcel is late")):
        assert f"<i>Returns seen from {title}</i>" in ours[name].decode()
