"""`kb build` and `kb serve` read and check each language's articles once: the check before the build
and the build itself (each language's, which reads the others for translations) share one reading."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from support import MKDOCS_YML

import kb.articles
import kb.site.plugin
import kb.site.state
from kb.articles import Project
from kb.cli.app import main
from kb.site.build import check_site, read_site_config
from kb.site.preview.cache import ArticleCache
from kb.site.preview.live import LiveSite
from kb.site.renderers.mkdocs import MkDocsRenderer
from kb.site.state import LoadOnce

TWO_LANGUAGES = MKDOCS_YML.replace(
    "  - kb:\n", "  - kb:\n      semantic: false\n      languages: [{code: en, name: English}, {code: pl, name: Polski}]\n")
FILES = {
    "articles/en/shipping/track.md": "---\ntitle: Where is my parcel?\n---\nOpen the tracking link.\n",
    "articles/en/shipping/soon.md": "---\ntitle: Parcel lockers\ndraft: true\n---\nComing soon.\n",
    "articles/pl/dostawa/paczka.md": "---\ntitle: Gdzie jest moja paczka?\n---\nOtwórz link do śledzenia.\n",
}


def test_kb_build_reads_each_languages_articles_once(kb_project, monkeypatch):
    root = kb_project(FILES, mkdocs_yml=TWO_LANGUAGES)
    read: list[str] = []
    real = kb.articles.load_project

    def counted(folder, **options) -> Project:  # noqa: ANN001
        read.append(Path(folder).name)
        return real(folder, **options)

    for module in (kb.articles, kb.site.state, kb.site.plugin):  # every name the build may read them by
        monkeypatch.setattr(module, "load_project", counted)
    monkeypatch.chdir(root)
    result = CliRunner().invoke(main, ["build"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(read) == ["en", "pl"]
    assert (root / "site" / "shipping" / "track" / "index.html").is_file()
    assert (root / "site" / "pl" / "dostawa" / "paczka" / "index.html").is_file()
    assert not (root / "site" / "shipping" / "soon").exists()  # a draft: read for the check, not published


def test_each_caller_gets_its_own_lists_and_a_published_build_has_no_drafts(kb_project):
    root = kb_project(FILES, mkdocs_yml=TWO_LANGUAGES)
    load = LoadOnce()
    checked = load(root / "articles" / "en", display_root=root)
    checked.problems.append("the check's own finding")  # as kb check adds its golden queries' misses
    published = load(root / "articles" / "en", drafts=False, display_root=root)
    assert sorted(a.id for a in checked.articles) == ["shipping/soon", "shipping/track"]
    assert [a.id for a in published.articles] == ["shipping/track"]
    assert "the check's own finding" not in published.problems
    assert published.articles[0] is checked.articles[1]  # the same article, read once


def test_the_preview_parses_each_file_once_at_start_and_only_the_edited_one_after(kb_project, monkeypatch):
    # as `kb serve` starts: the check, then the first build and its full check, all through one reading
    root = kb_project(FILES, mkdocs_yml=TWO_LANGUAGES)
    parsed: list[str] = []
    real = kb.articles._load_article

    def counted(path, *args):  # noqa: ANN001, ANN202
        parsed.append(Path(path).name)
        return real(path, *args)

    monkeypatch.setattr(kb.articles, "_load_article", counted)
    site = read_site_config(root / "mkdocs.yml")
    load = LoadOnce(ArticleCache())
    assert not check_site(site, golden=False, load=load).errors
    live = LiveSite(site, MkDocsRenderer(), root / ".kb" / "preview")
    assert live.build(load).articles == 3  # the draft too: the preview shows drafts
    assert sorted(parsed) == ["paczka.md", "soon.md", "track.md"]
    edited = root / "articles/en/shipping/track.md"
    edited.write_text("---\ntitle: Where is my parcel?\n---\nThe link is in the e-mail.\n", encoding="utf-8")
    parsed.clear()
    update = live.update({edited})
    assert (update.full, update.problems, parsed) == (False, [], ["track.md"])
    assert "The link is in the e-mail." in (live.site_dir / "shipping/track/index.html").read_text(encoding="utf-8")
    assert live.settle(update.settle) == []
    assert parsed == ["track.md"]  # the full check after it parsed nothing again
    parsed.clear()
    assert live.update({root / "mkdocs.yml"}).full  # a full build: each file read once more, build and check
    assert sorted(parsed) == ["paczka.md", "soon.md", "track.md"]
