"""The preview's updates leave the very site a full build of the edited articles makes, file for file.

Real MkDocs builds: a site is built, edited through kb.site.preview.live (the quick half, then the slow
one), and compared byte for byte with a fresh full build of the same articles, one language and
several, with the Material features that show a page's neighbours (footer, path) and a site_url
(the sitemap then lists every page).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from support import MKDOCS_YML

from kb.site.build import read_site_config
from kb.site.preview.live import LiveSite
from kb.site.renderers.mkdocs import MkDocsRenderer

FEATURES = "features: [navigation.instant, navigation.footer, navigation.path]"
ONE_LANGUAGE_YML = MKDOCS_YML.replace("site_name: Test Help Center\n",
                                      "site_name: Test Help Center\nsite_url: https://help.example/\n") \
                             .replace("features: [navigation.instant]", FEATURES)
LANGUAGES_YML = ONE_LANGUAGE_YML + """\
      languages:
        - code: en
          name: English
        - code: pl
          name: Polski
          site_name: Centrum pomocy
"""


def article(id_: str, title: str, body: str, **meta: str) -> str:
    extra = "".join(f"{key}: {value}\n" for key, value in meta.items())
    return f"---\nid: {id_}\ntitle: {title}\n{extra}---\n{body}\n"


ONE_LANGUAGE = {
    "articles/shipping/_category.yml": "title: Shipping\norder: 1\n",
    "articles/shipping/track-order.md": article("track-order", "Where is my parcel?", "Open the tracking link.",
                                                tags="[parcel]"),
    "articles/shipping/late-parcel.md": article("late-parcel", "My parcel is late", "Most arrive within 2 days.",
                                                tags="[parcel]"),
    "articles/shipping/lost-parcel.md": article("lost-parcel", "My parcel is lost", "We send another.",
                                                tags="[parcel]"),
    "articles/returns/_category.yml": "title: Returns\norder: 2\n",
    "articles/returns/exchange.md": article("exchange", "How do I exchange a jacket?", "Send it back."),
    "articles/returns/sizes/size-chart.md": article("size-chart", "Which size fits me?", "See the chart."),
    "articles/synonyms.yml": "parcel: [package]\n",
    "articles/gifts/_category.yml": "title: Gifts\norder: 3\n",
    "articles/gifts/gift-card.md": article("gift-card", "How do I use a gift card?", "Enter its code."),
}


def site_files(folder: Path) -> dict[str, bytes]:
    """Every file of a built site; the manifest without the moment it was written."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "kb-manifest.json":
                manifest = json.loads(data)
                manifest.pop("generated_at")
                data = json.dumps(manifest, indent=1).encode()
            found[path.relative_to(folder).as_posix()] = data
    return found


class Preview:
    """A project with its preview built; `edit` changes files and updates the preview like kb serve."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.site = read_site_config(root / "mkdocs.yml")
        self.live = LiveSite(self.site, MkDocsRenderer(), root / ".kb" / "preview", livereload=False)
        assert self.live.build().full

    def edit(self, files: dict[str, str | None], rendered: int | None = None) -> None:
        paths = set()
        for rel, text in files.items():
            path = self.root / rel
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(textwrap.dedent(text), encoding="utf-8")
            paths.add(path)
        update = self.live.update(paths)
        assert not update.full and [p for p in update.problems if p.severity == "error"] == []
        if rendered is not None:
            assert update.rendered == rendered
        assert self.live.settle(update.settle) is not None

    def assert_same_as_a_full_build(self, tmp: Path) -> None:
        full = LiveSite(self.site, MkDocsRenderer(), tmp / "full", livereload=False)
        full.build()
        ours, theirs = site_files(self.live.site_dir), site_files(full.site_dir)
        assert sorted(ours) == sorted(theirs)
        assert [name for name in ours if ours[name] != theirs[name]] == []


@pytest.fixture
def one_language(kb_project) -> Preview:
    return Preview(kb_project(ONE_LANGUAGE, mkdocs_yml=ONE_LANGUAGE_YML))


def test_body_and_title_edits_leave_what_a_full_build_leaves(one_language, tmp_path):
    one_language.edit({"articles/shipping/track-order.md": article(
        "track-order", "Where is my parcel?", "The link is in the e-mail we sent.", tags="[parcel]")})
    one_language.edit({"articles/shipping/late-parcel.md": article(
        "late-parcel", "My parcel is very late", "Most arrive within 2 days.", tags="[parcel]")})
    one_language.assert_same_as_a_full_build(tmp_path)


def test_new_and_deleted_articles_leave_what_a_full_build_leaves(one_language, tmp_path):
    one_language.edit({"articles/shipping/damaged-parcel.md": article(
        "damaged-parcel", "My parcel arrived damaged", "Send us a photo.", tags="[parcel]")})
    one_language.assert_same_as_a_full_build(tmp_path / "1")
    one_language.edit({"articles/shipping/lost-parcel.md": None, "articles/returns/a-first.md": article(
        "a-first", "Can I return a gift?", "Yes, with the gift receipt.")})
    one_language.assert_same_as_a_full_build(tmp_path / "2")


def test_synonyms_and_a_related_list_follow_like_a_full_build(one_language, tmp_path):
    one_language.edit({"articles/synonyms.yml": "parcel: [package, box]\n"}, rendered=0)
    one_language.edit({"articles/returns/exchange.md": article(
        "exchange", "How do I exchange a jacket?", "Send it back.", related="[lost-parcel]")})
    one_language.assert_same_as_a_full_build(tmp_path)


def test_a_category_losing_its_last_article_builds_everything(one_language, tmp_path):
    path = one_language.root / "articles/gifts/gift-card.md"
    path.unlink()
    assert one_language.live.update({path}).full
    assert not (one_language.live.site_dir / "gifts").exists()
    one_language.assert_same_as_a_full_build(tmp_path)


def test_a_change_the_watcher_missed_is_found_by_the_full_check(one_language, tmp_path):
    missed = one_language.root / "articles/returns/exchange.md"
    missed.write_text(article("exchange", "How do I swap a jacket?", "Send it back."), encoding="utf-8")
    one_language.edit({"articles/shipping/track-order.md": article(
        "track-order", "Where is my parcel?", "The link is in the e-mail.", tags="[parcel]")})
    assert one_language.live.missed == {missed}
    update = one_language.live.update(one_language.live.missed)
    one_language.live.settle(update.settle)
    one_language.assert_same_as_a_full_build(tmp_path)


TRACK = article("track-order", "How do I track my parcel?", "Open the tracking link in your e-mail.")


@pytest.fixture
def languages(kb_project) -> Preview:
    import hashlib

    version = hashlib.sha1(TRACK.encode()).hexdigest()[:8]
    return Preview(kb_project({
        "articles/en/shipping/_category.yml": "title: Shipping\n",
        "articles/en/shipping/track-order.md": TRACK,
        "articles/en/shipping/lockers.md": article("lockers", "Can I use a parcel locker?", "Yes, at checkout."),
        "articles/en/returns/return-item.md": article("return-item", "How do I return something?", "Start a return."),
        "articles/pl/dostawa/_category.yml": "title: Dostawa\n",
        "articles/pl/dostawa/sledzenie.md": article("track-order", "Jak śledzić paczkę?", "Otwórz link.",
                                                    translated_from=f'"{version}"'),
        "articles/pl/dostawa/blik.md": article("blik", "Jak zapłacić BLIKIEM?", "Wpisz kod z aplikacji."),
        "articles/pl/zwroty/zwrot.md": article("return-item", "Jak zwrócić towar?", "Zgłoś zwrot.",
                                               translated_from='"0badf00d"'),
    }, mkdocs_yml=LANGUAGES_YML))


def test_an_edit_in_one_language_reaches_the_others_like_a_full_build(languages, tmp_path):
    # The source of a translation changes: the Polish page now says it is outdated.
    languages.edit({"articles/en/shipping/track-order.md": TRACK.replace("e-mail.", "e-mail we sent.")})
    polish = (languages.live.site_dir / "pl/dostawa/sledzenie/index.html").read_text(encoding="utf-8")
    assert "kb-outdated" in polish
    languages.assert_same_as_a_full_build(tmp_path / "1")
    # A Polish translation comes: the English page's language menu leads to it.
    languages.edit({"articles/pl/dostawa/paczkomat.md": article("lockers", "Czy mogę odebrać w paczkomacie?",
                                                                "Tak.")})
    languages.assert_same_as_a_full_build(tmp_path / "2")
    # The English article goes (the Polish one's menu now leads home), and a Polish title changes.
    languages.edit({"articles/en/shipping/lockers.md": None,
                    "articles/pl/dostawa/blik.md": article("blik", "Jak płacić BLIKIEM?", "Wpisz kod.")})
    languages.assert_same_as_a_full_build(tmp_path / "3")


def test_a_broken_edit_in_one_language_changes_nothing(languages):
    before = site_files(languages.live.site_dir)
    path = languages.root / "articles/pl/dostawa/blik.md"
    path.write_text("---\ntitle: [unclosed\n---\nZepsute.\n", encoding="utf-8")
    update = languages.live.update({path})
    assert [p.format().splitlines()[0] for p in update.problems if p.severity == "error"] == [
        "articles/pl/dostawa/blik.md:3: error: front matter is not valid YAML: did not find expected ',' or ']'"]
    assert update.rendered == 0 and update.settle is None
    assert site_files(languages.live.site_dir) == before
