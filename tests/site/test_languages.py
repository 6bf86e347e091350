"""Languages: one help center per language from one repository, built by one `kb build`."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from support import MKDOCS_YML, run_kb

LANGUAGES_YML = MKDOCS_YML.replace("site_name: Test Help Center\n",
                                   "site_name: Test Help Center\nsite_url: https://help.example/\n") + """\
      languages:
        - code: en
          name: English
        - code: pl
          name: Polski
          site_name: Centrum pomocy
          contact:
            - name: Czat
              url: https://example.com/pl/czat
              hours: pon.-pt. 9-17
"""

TRACK = """\
---
id: track-order
title: How do I track my parcel?
questions: [where is my parcel]
---
Open the tracking link in your shipping e-mail.
"""
RETURNS = """\
---
id: return-item
title: How do I return something?
---
Start a return in your account.
"""
LOCKERS = """\
---
id: lockers
title: Can I use a parcel locker?
---
Yes, at checkout.
"""


def version(text: str) -> str:
    """An article's version, as kb computes it: the start of the SHA-1 of its file."""
    return hashlib.sha1(textwrap.dedent(text).lstrip("\n").encode()).hexdigest()[:8]


def polish(translated_from: str | None, id: str, title: str, body: str) -> str:
    line = f'translated_from: "{translated_from}"\n' if translated_from else ""
    return f"---\nid: {id}\n{line}title: {title}\n---\n{body}\n"


@pytest.fixture
def project(kb_project):
    return kb_project({
        "articles/en/shipping/_category.yml": "title: Shipping\n",
        "articles/en/shipping/track-order.md": TRACK,
        "articles/en/shipping/lockers.md": LOCKERS,
        "articles/en/returns/return-item.md": RETURNS,
        "articles/pl/dostawa/_category.yml": "title: Dostawa\ndescription: Paczki i kurierzy.\n",
        "articles/pl/dostawa/sledzenie.md": polish(version(TRACK), "track-order", "Jak śledzić paczkę?",
                                                   "Otwórz link do śledzenia z e-maila."),
        "articles/pl/dostawa/blik.md": polish(None, "blik", "Jak zapłacić BLIKIEM?", "Wpisz kod z aplikacji."),
        "articles/pl/zwroty/zwrot.md": polish("0badf00d", "return-item", "Jak zwrócić towar?",
                                              "Zgłoś zwrot na koncie."),
        "articles/pl/synonyms.yml": "paczka: [przesyłka]\n",
    }, mkdocs_yml=LANGUAGES_YML)


@pytest.fixture
def built(project: Path) -> Path:
    run_kb("build", cwd=project, check=True)
    return project / "site"


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def index_ids(site: Path) -> list[str]:
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    return sorted(doc[0] for doc in index["docs"])


def test_each_language_is_its_own_site_with_its_own_interface_and_index(built: Path):
    assert soup(built / "index.html").html["lang"] == "en"
    home = soup(built / "pl" / "index.html")
    assert home.html["lang"] == "pl"
    assert home.select_one(".kb-hero__title").get_text() == "W czym możemy pomóc?"
    assert home.select_one(".kb-hero__search input")["placeholder"] == "Szukaj odpowiedzi"
    assert home.select_one(".md-search__input")["placeholder"] == "Szukaj"  # Material's own, in Polish
    assert [h.get_text(strip=True) for h in home.select(".kb-category__title")] == ["Dostawa", "Zwroty"]
    category = soup(built / "pl" / "dostawa" / "index.html")
    assert category.select_one("h1").get_text() == "Dostawa"
    assert category.select_one(".kb-category__description").get_text() == "Paczki i kurierzy."
    assert [a.get_text() for a in category.select(".kb-breadcrumbs a")] == ["Strona główna"]

    assert index_ids(built) == ["lockers", "return-item", "track-order"]
    assert index_ids(built / "pl") == ["blik", "return-item", "track-order"]

    article = soup(built / "pl" / "dostawa" / "sledzenie" / "index.html")
    assert [a.get_text() for a in article.select(".kb-contact a")] == ["Czat"]
    assert article.select_one("#kb-contact-title").get_text() == "Nadal potrzebujesz pomocy?"
    assert article.select_one(".md-feedback__title").get_text(strip=True) == "Czy ta odpowiedź była pomocna?"
    settings = json.loads(article.select_one("#kb-feedback-config").get_text())
    assert settings["language"] == "pl"
    assert settings["reasons"] == ["not_answered", "unclear", "outdated", "incomplete"]  # codes never change
    assert settings["texts"]["reasons"]["not_answered"] == "Nie odpowiada na moje pytanie"
    assert settings["texts"]["send"] == "Wyślij"
    assert settings["contact"] == [{"name": "Czat", "url": "https://example.com/pl/czat", "hours": "pon.-pt. 9-17",
                                    "description": ""}]
    english = soup(built / "shipping" / "track-order" / "index.html")
    english_settings = json.loads(english.select_one("#kb-feedback-config").get_text())
    assert english_settings["language"] == "en"
    assert english_settings["texts"]["send"] == "Send"
    assert [a.get_text() for a in english.select(".kb-contact a")] == ["Chat with us"]


def test_the_switcher_leads_to_the_same_article_else_to_the_languages_home(built: Path):
    def links(page: BeautifulSoup) -> tuple[dict[str, str], dict[str, str]]:
        menu = {a["hreflang"]: a["href"] for a in page.select("a.md-select__link")}
        meta = {m["data-hreflang"]: m["content"] for m in page.select('head meta[name="kb:alternate"]')}
        assert meta == menu  # what kb.js sets the menu to after instant navigation
        head = {link["hreflang"]: link["href"] for link in page.select('head link[rel="alternate"][hreflang]')}
        return menu, head

    menu, head = links(soup(built / "shipping" / "track-order" / "index.html"))
    assert menu == {"en": "./", "pl": "../../pl/dostawa/sledzenie/"}
    assert head == {"en": "../../", "pl": "../../pl/"}  # each language's home: its sitemap.xml is there
    menu, head = links(soup(built / "pl" / "dostawa" / "sledzenie" / "index.html"))
    assert menu == {"en": "../../../shipping/track-order/", "pl": "../../../pl/dostawa/sledzenie/"}
    assert head == {"en": "../../../", "pl": "../../../pl/"}
    menu, _ = links(soup(built / "shipping" / "lockers" / "index.html"))
    assert menu["pl"] == "../../pl/"  # no Polish article with its id: the Polish home
    menu, _ = links(soup(built / "pl" / "dostawa" / "blik" / "index.html"))
    assert menu["en"] == "../../../"
    menu, _ = links(soup(built / "pl" / "index.html"))
    assert menu == {"en": ".././", "pl": "../pl/"}  # MkDocs' url filter keeps the "./" of the English root
    page = soup(built / "pl" / "dostawa" / "sledzenie" / "index.html")
    assert [a["target"] for a in page.select("a.md-select__link")] == ["_self", "_self"]


def test_the_sitemap_and_the_manifest_list_every_language(built: Path):
    sitemap = (built / "sitemap.xml").read_text(encoding="utf-8")
    locations = re.findall(r"<loc>(.*?)</loc>", sitemap)
    assert "https://help.example/shipping/track-order/" in locations
    assert "https://help.example/pl/dostawa/sledzenie/" in locations
    assert "https://help.example/pl/" in locations
    assert ("<loc>https://help.example/shipping/track-order/</loc>\n"
            '         <xhtml:link rel="alternate" hreflang="en" href="https://help.example/shipping/track-order/"/>\n'
            '         <xhtml:link rel="alternate" hreflang="pl" href="https://help.example/pl/dostawa/sledzenie/"/>'
            ) in sitemap
    assert sitemap.count('hreflang="pl"') == 4  # track-order and return-item, on each language's entry
    manifest = json.loads((built / "kb-manifest.json").read_text(encoding="utf-8"))
    assert sorted((a["id"], a["language"]) for a in manifest["articles"]) == [
        ("lockers", "en"), ("return-item", "en"), ("track-order", "en")]
    assert manifest["languages"]["pl"]["site_name"] == "Centrum pomocy"
    assert sorted((a["id"], a["language"], a["url"]) for a in manifest["languages"]["pl"]["articles"]) == [
        ("blik", "pl", "pl/dostawa/blik/"), ("return-item", "pl", "pl/zwroty/zwrot/"),
        ("track-order", "pl", "pl/dostawa/sledzenie/")]


def test_an_outdated_translation_is_warned_about_and_says_so_on_its_page(project: Path, built: Path):
    result = run_kb("check", cwd=project)
    assert result.returncode == 0
    assert result.stderr == (
        "articles/pl/zwroty/zwrot.md:3: warning: outdated translation: translated from version 0badf00d of "
        f"articles/en/returns/return-item.md, which is now at version {version(RETURNS)}\n"
        f"    hint: update the translation, then write  translated_from: {version(RETURNS)}\n"
        "kb check: 0 errors, 1 warning in 6 articles\n")
    notice = soup(built / "pl" / "zwroty" / "zwrot" / "index.html").select_one(".kb-outdated")
    assert notice.get_text() == ("To tłumaczenie jest starsze niż artykuł źródłowy, z którego powstało; "
                                 "oryginał mógł się od tego czasu zmienić.")
    assert notice.a["href"] == "../../../returns/return-item/"
    assert notice.a["hreflang"] == "en"
    assert soup(built / "pl" / "dostawa" / "sledzenie" / "index.html").select(".kb-outdated") == []

    result = run_kb("check", "--translations", cwd=project)
    assert result.stdout == ("language   translated  outdated  missing   own\n"
                             "pl                  1         1        1     1\n"
                             "  outdated: return-item\n"
                             "  missing: lockers\n")


def test_kb_new_translate_starts_a_translation_from_the_source(project: Path):
    result = run_kb("new", "--translate", "lockers", "--language", "pl", "--category", "dostawa", cwd=project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "articles/pl/dostawa/lockers.md\n", "")
    text = (project / "articles/pl/dostawa/lockers.md").read_text(encoding="utf-8")
    assert text == (f"---\nid: lockers\ntranslated_from: {version(LOCKERS)}  # the version of shipping/lockers.md "
                    "this translates; update it with the translation\ntitle: Can I use a parcel locker?\n"
                    "draft: true  # remove when translated: a draft is not published\n---\nYes, at checkout.\n")
    assert run_kb("check", "--translations", cwd=project).stdout.splitlines()[1] == "pl                  2         1        0     1"

    again = run_kb("new", "--translate", "lockers", "--language", "pl", cwd=project)
    assert (again.returncode, again.stderr) == (1, "articles/pl/dostawa/lockers.md: already translates 'lockers' into pl\n")
    unknown = run_kb("new", "--translate", "nope", "--language", "pl", cwd=project)
    assert (unknown.returncode, unknown.stderr) == (1, "kb new: no en article has id 'nope'; see the ids with  kb check\n")
    wrong = run_kb("new", "--translate", "lockers", "--language", "de", cwd=project)
    assert (wrong.returncode, wrong.stderr) == (
        2, "kb new: --language must be one of en, pl (from mkdocs.yml), got 'de'\n")
    default = run_kb("new", "--translate", "lockers", "--language", "en", cwd=project)
    assert default.returncode == 2


def test_a_wrong_languages_option_names_its_line(kb_project):
    yml = LANGUAGES_YML.replace("code: pl", "code: Polish")
    root = kb_project({"articles/en/a.md": "# A\n"}, mkdocs_yml=yml)
    line = yml.splitlines().index("        - code: Polish") + 1
    expected = (f"mkdocs.yml:{line}: languages[1]: 'code' must be a BCP 47 language tag such as en, pl or pt-BR, "
                "got 'Polish'\n")
    result = run_kb("check", cwd=root)
    assert (result.returncode, result.stderr) == (1, expected)
    result = run_kb("build", cwd=root)
    assert (result.returncode, result.stderr) == (1, expected)
    assert not (root / "site").exists()
    mkdocs = subprocess.run([sys.executable, "-m", "mkdocs", "build"], cwd=root, capture_output=True, text=True)
    assert mkdocs.returncode == 1
    assert expected.strip() in mkdocs.stderr


def test_without_languages_the_articles_folder_is_one_help_center(kb_project):
    root = kb_project({"articles/shipping/track-order.md": TRACK})
    run_kb("build", cwd=root, check=True)
    page = soup(root / "site" / "shipping" / "track-order" / "index.html")
    assert page.html["lang"] == "en"
    assert page.select("a.md-select__link") == []
    assert not (root / "site" / "pl").exists()
    assert "languages" not in json.loads((root / "site" / "kb-manifest.json").read_text(encoding="utf-8"))


def test_the_report_per_language_and_side_by_side(project: Path, built: Path):
    from datetime import datetime, timedelta, timezone

    from kb.votes.store import open_store

    manifest = json.loads((built / "kb-manifest.json").read_text(encoding="utf-8"))
    pl = {a["id"]: a["version"] for a in manifest["languages"]["pl"]["articles"]}
    en = {a["id"]: a["version"] for a in manifest["articles"]}
    now = datetime.now(timezone.utc) - timedelta(hours=1)
    store = open_store(f"sqlite:///{project / 'votes.db'}")
    store.migrate()
    store.add_votes([
        {"vote_id": f"v{i}", "article": "track-order", "version": pl["track-order"], "helpful": i < 2,
         "reason": None, "comment": None, "visitor": f"p{i}", "created_at": now, "language": "pl"} for i in range(3)
    ] + [{"vote_id": "e1", "article": "track-order", "version": en["track-order"], "helpful": True, "reason": None,
          "comment": None, "visitor": "e1", "created_at": now, "language": "en"}])
    store.add_searches([
        {"event_id": "s1", "query": "paczkomat", "results": 0, "article": None, "visitor": "s1", "created_at": now,
         "language": "pl"},
        {"event_id": "s2", "query": "gift wrap", "results": 0, "article": None, "visitor": "s2", "created_at": now,
         "language": "en"}])
    store.close()

    result = run_kb("report", "--db", f"sqlite:///{project / 'votes.db'}", "--site", "site", "--language", "pl",
                    "--format", "json", cwd=project)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["language"] == "pl" and report["site_name"] == "Centrum pomocy"
    assert sorted(r["id"] for r in report["articles"]) == ["blik", "return-item", "track-order"]
    track = next(r for r in report["articles"] if r["id"] == "track-order")
    assert (track["votes"], track["helpful"], track["url"]) == (3, 2, "pl/dostawa/sledzenie/")
    assert [g["query"] for g in report["gaps"]] == ["paczkomat"]
    assert report["translations"] == {"translated": 1, "outdated": ["return-item"], "missing": ["lockers"]}

    text = run_kb("report", "--db", f"sqlite:///{project / 'votes.db'}", "--site", "site", cwd=project).stdout
    assert text.endswith("Languages\n"
                         "LANG   ARTICLES  VOTES  RATE CONTACTS NOT FOUND OUTDATED MISSING\n"
                         "en            3      1  100%        0         1        -       -\n"
                         "pl            3      3   67%        0         1        1       1\n")
    wrong = run_kb("report", "--db", f"sqlite:///{project / 'votes.db'}", "--site", "site", "--language", "de",
                   cwd=project)
    assert wrong.returncode == 2
    assert "the site has no language 'de' (its languages: en, pl)" in wrong.stderr


def test_build_search_rebuilds_every_languages_index(project: Path, built: Path):
    (built / "pl" / "search" / "search_index.json").unlink()
    (built / "search" / "search_index.json").unlink()
    result = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[2] / "build_search.py")],
                            cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert index_ids(built) == ["lockers", "return-item", "track-order"]
    assert index_ids(built / "pl") == ["blik", "return-item", "track-order"]
