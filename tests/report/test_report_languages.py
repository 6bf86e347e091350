"""The report on a two-language help center (the demo's English and Polish): counting per language
in SQL and row by row alike, and the languages section in every format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

import kb.cli.report as report_cli
from kb.cli import main
from kb.report import sql as report_sql
from kb.report.formats import pct
from kb.report.languages import LANGUAGE_GAPS, build_language_report, languages_side_by_side
from scenario import NOW, at, search, sqlite_store, two_language_rows


class RowsOnly:
    """A store seen through its rows alone (no SQL dialect), so the report counts row by row."""

    def __init__(self, store: object) -> None:
        self.store = store

    def votes(self, since=None):
        return self.store.votes(since=since)

    def searches(self, since=None):
        return self.store.searches(since=since)

    def contacts(self, since=None):
        return self.store.contacts(since=since)


@pytest.fixture(scope="module")
def built_demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with one outdated translation (its Polish contact page made from an older version of
    the English one), built once: the languages section has all three states to show."""
    import shutil

    from support import ROOT, run_kb

    work = tmp_path_factory.mktemp("demo-outdated")
    shutil.copy(ROOT / "mkdocs.yml", work / "mkdocs.yml")
    shutil.copytree(ROOT / "articles", work / "articles")
    contact = work / "articles" / "pl" / "kontakt" / "kontakt.md"
    text = contact.read_text(encoding="utf-8")
    contact.write_text(text.replace(text.split("translated_from: ", 1)[1].split("\n", 1)[0], '"a8056733"', 1),
                       encoding="utf-8")
    run_kb("build", "--site-dir", str(work / "site"), cwd=work, check=True)
    return work / "site"


def manifest_of(site: Path) -> dict:
    return json.loads((site / "kb-manifest.json").read_text(encoding="utf-8"))


def article_ids(manifest: dict, code: str) -> set[str]:
    articles = manifest["articles"] if code == "en" else manifest["languages"][code]["articles"]
    return {a["id"] for a in articles}


def version_of(report: dict, article: str, version: str) -> dict:
    row = next(r for r in report["articles"] if r["id"] == article)
    return next(v for v in row["versions"] if v["version"] == version)


# --- counting: SQL and row by row give the same report --------------------------------------------


@pytest.mark.parametrize("addresses", [False, True], ids=["plain", "capped"])
def test_sql_counting_per_language_agrees_with_row_by_row(built_demo_site, store, addresses):
    """On SQLite and PostgreSQL, with and without client addresses (the plain and the capped SQL)."""
    m = manifest_of(built_demo_site)
    votes, searches, contacts = two_language_rows(m, addresses=addresses)
    store.add_votes(votes)
    store.add_searches(searches)
    store.add_contacts(contacts)
    # the SQL path is the one taken on this store
    assert report_sql.tally(store, None, report_sql.Language("pl")) is not None
    assert report_sql.language_totals(store, None, "en") is not None
    for since in (None, at(20)):
        for code in ("en", "pl"):
            fast = build_language_report(store, m, code, since=since, now=NOW)
            slow = build_language_report(RowsOnly(store), m, code, since=since, now=NOW)
            assert fast == slow
        fast_rows = languages_side_by_side(store, m, since=since)
        assert fast_rows == languages_side_by_side(RowsOnly(store), m, since=since)
        assert [r["language"] for r in fast_rows] == ["en", "pl"] and all(r["votes"] for r in fast_rows)

    en = build_language_report(store, m, "en", now=NOW)
    pl = build_language_report(store, m, "pl", now=NOW)
    # en: edge-old's yes (its none-language no replaced), edge-both, edge-cross, two behind the address
    assert (version_of(en, "track-order", "edge-en")["votes"], version_of(en, "track-order", "edge-en")["helpful"]) == (5, 5)
    # pl: edge-both's no, edge-cross's no, and the readers behind one address: 3 of 5 when capped
    shared = 3 if addresses else 5
    assert (version_of(pl, "track-order", "edge-pl")["votes"], version_of(pl, "track-order", "edge-pl")["helpful"]) == (
        2 + shared, shared)
    en_comments = [c["text"] for r in en["articles"] for c in r["comments"]]
    pl_track = next(r for r in pl["articles"] if r["id"] == "track-order")
    assert "Nie działa link do śledzenia." in [c["text"] for c in pl_track["comments"]]
    assert "old comment, replaced the same day" not in en_comments
    # a search stored before languages is the default language's
    assert "loyalty points" in [g["query"] for g in en["gaps"]]
    assert "loyalty points" not in [g["query"] for g in pl["gaps"]]
    assert [g["query"] for g in pl["gaps"]][:2] == ["paczkomat", "kiedy dostanę zwrot pieniędzy"]


def test_a_bot_search_in_one_language_shows_in_that_languages_channels(built_demo_site, tmp_path):
    m = manifest_of(built_demo_site)
    answered = {**search("gdzie jest moja paczka", at(20), visitor="b1", results=1), "article": "track-order",
                "channel": "whatsapp", "language": "pl"}
    searches = [answered, {**search("gift wrap", at(20), visitor="w1"), "channel": "web", "language": "en"}]
    store = sqlite_store(tmp_path / "v.db", [], searches, [])
    try:
        pl = build_language_report(store, m, "pl", now=NOW)
        en = build_language_report(store, m, "en", now=NOW)
    finally:
        store.close()
    assert [(c["channel"], c["searched"], c["answered"]) for c in pl["channels"]["by_channel"]] == [("whatsapp", 1, 1)]
    assert "channels" not in en


# --- the languages section in every format --------------------------------------------------------


@pytest.fixture
def demo(built_demo_site, tmp_path, monkeypatch):
    """The built demo site and a SQLite store holding two languages' votes, searches and contacts."""
    monkeypatch.setattr(report_cli, "_now", lambda: NOW)
    votes, searches, contacts = two_language_rows(manifest_of(built_demo_site), addresses=True)
    sqlite_store(tmp_path / "votes.db", votes, searches, contacts).close()
    return built_demo_site, f"sqlite:///{tmp_path / 'votes.db'}"


def report_of(demo, fmt: str, *args: str) -> str:
    site, db = demo
    result = CliRunner().invoke(main, ["report", "--db", db, "--site", str(site), "--format", fmt, *args],
                                catch_exceptions=False)
    assert (result.exit_code, result.stderr) == (0, "")
    return result.stdout


def test_json_has_every_language_side_by_side_with_its_own_gaps(demo):
    m = manifest_of(demo[0])
    report = json.loads(report_of(demo, "json"))
    en, pl = report["languages"]
    assert (en["language"], en["articles"], pl["language"], pl["articles"]) == (
        "en", len(m["articles"]), "pl", len(m["languages"]["pl"]["articles"]))
    status = m["languages"]["pl"]["translations"]
    assert (pl["translated"], pl["outdated"], pl["missing"]) == (status["translated"], status["outdated"], status["missing"])
    assert (en["translated"], en["outdated"], en["missing"]) == (None, [], [])
    # each language's gaps: its own searches, nearest articles from its own help center
    assert en["gaps"] == report["gaps"][:LANGUAGE_GAPS]
    assert len(pl["gaps"]) == min(pl["gap_groups"], LANGUAGE_GAPS) and pl["gap_groups"] == 4
    assert pl["failed_searches"] == 17
    for row in (en, pl):
        assert all(set(g["nearest"]) <= article_ids(m, row["language"]) for g in row["gaps"])
    # "when do I get my money refunded" and the slang "when will you give the cash back" share no word:
    # the Polish help center answers both with its refund-timing article, so they are one gap
    refund = next(g for g in pl["gaps"] if g["query"] == "kiedy dostanę zwrot pieniędzy")
    assert (refund["count"], refund["variants"]) == (5, ["kiedy dostanę zwrot pieniędzy", "kiedy oddacie kasę"])
    assert refund["nearest"][0] == "refund-timing"
    pickup = next(g for g in pl["gaps"] if g["query"] == "paczkomat")  # a parcel locker
    assert (pickup["count"], pickup["variants"]) == (8, ["paczkomat", "paczkomaty"])
    assert pickup["nearest"][0] == "odbior-w-punkcie"  # a Polish article English has not
    # the default language's articles say how each is translated
    states = {a["id"]: a["translations"]["pl"] for a in report["articles"]}
    assert {aid for aid, s in states.items() if s == "missing"} == set(status["missing"])
    assert {aid for aid, s in states.items() if s == "outdated"} == set(status["outdated"])


def test_text_ends_with_the_languages_side_by_side(demo):
    m = manifest_of(demo[0])
    report = json.loads(report_of(demo, "json"))
    text = report_of(demo, "text")
    pl = report["languages"][1]
    status = m["languages"]["pl"]["translations"]
    assert max(len(line) for line in text.splitlines()) <= 80
    table = [f"{r['language']:<6} {r['articles']:>8} {r['votes']:>6} {pct(r['rate']):>5} {r['contacts']:>8} "
             f"{r['failed_searches']:>9} {len(r['outdated']) if r['translated'] is not None else '-':>8} "
             f"{len(r['missing']) if r['translated'] is not None else '-':>7}" for r in report["languages"]]
    assert text.endswith("\nLanguages\nLANG   ARTICLES  VOTES  RATE CONTACTS NOT FOUND OUTDATED MISSING\n"
                         + "\n".join(table) + "\n")
    assert table[1] == (f"pl     {len(m['languages']['pl']['articles']):>8} {pl['votes']:>6} {pct(pl['rate']):>5} "
                        f"{pl['contacts']:>8}        17        1      {len(status['missing']):>2}")
    assert (f"\nSearches that found nothing in pl (17 in 4 groups)\nCOUNT  QUERY                          NEAREST ARTICLES\n"
            f"    8  paczkomat                      {', '.join(pl['gaps'][0]['nearest']) or '(none)'}\n") in text
    block = text.split(f"\nTranslations into pl: {status['translated']} current, 1 outdated, "
                       f"{len(status['missing'])} missing\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block[0] == f"  outdated: {status['outdated'][0]}"
    assert block[1].startswith("  missing: ") and all(line.startswith("    ") for line in block[2:])
    assert " ".join(line.strip() for line in block[1:]) == "missing: " + ", ".join(status["missing"])
    assert "Searches that found nothing in en" not in text  # the report's own language: listed in full above


def test_markdown_has_the_languages_table_and_each_other_languages_gaps(demo):
    m = manifest_of(demo[0])
    report = json.loads(report_of(demo, "json"))
    markdown = report_of(demo, "markdown")
    en, pl = report["languages"]
    status = m["languages"]["pl"]["translations"]
    section = markdown.split("\n### Languages\n", 1)[1]
    assert section.startswith(
        "\n| Language | Articles | Votes | Rate | Contacts | Not found | Translated | Outdated | Missing |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        f"| en | {en['articles']} | {en['votes']} | {pct(en['rate'])} | {en['contacts']} | {en['failed_searches']} "
        "| - | - | - |\n"
        f"| pl | {pl['articles']} | {pl['votes']} | {pct(pl['rate'])} | {pl['contacts']} | 17 "
        f"| {status['translated']} | 1 | {len(status['missing'])} |\n"
        "\n#### pl\n\n"
        f"- Translations: {status['translated']} current, 1 outdated, {len(status['missing'])} missing\n"
        f"- Outdated: `{status['outdated'][0]}`\n"
        "- Missing: " + ", ".join(f"`{aid}`" for aid in status["missing"]) + "\n"
        "- Searches that found nothing: 17 in 4 groups\n\n"
        "| Searches | Query | Also typed | Nearest articles |\n| ---: | --- | --- | --- |\n"
        f"| 8 | paczkomat | paczkomaty | {', '.join(f'`{n}`' for n in pl['gaps'][0]['nearest'])} |\n")
    # a customer's markup is inert
    assert "| 1 | &lt;script&gt;alert(1)&lt;/script&gt; \\| \\*faktura\\* |" in section
    assert "#### en" not in section


def test_csv_rows_carry_their_language_and_translation_state(demo):
    m = manifest_of(demo[0])
    status = m["languages"]["pl"]["translations"]
    rows = list(csv.DictReader(io.StringIO(report_of(demo, "csv"))))
    assert list(rows[0])[-3:] == ["url", "language", "translation_pl"]
    expected = {a["id"]: "missing" if a["id"] in status["missing"] else
                "outdated" if a["id"] in status["outdated"] else "current" for a in m["articles"]}
    assert {r["id"]: (r["language"], r["translation_pl"]) for r in rows} == {
        aid: ("en", state) for aid, state in expected.items()}

    rows = list(csv.DictReader(io.StringIO(report_of(demo, "csv", "--language", "pl"))))
    assert list(rows[0])[-2:] == ["language", "translation_pl"]
    own = article_ids(m, "pl") - article_ids(m, "en")
    assert {r["id"]: (r["language"], r["translation_pl"]) for r in rows} == {
        aid: ("pl", "outdated" if aid in status["outdated"] else "own" if aid in own else "current")
        for aid in article_ids(m, "pl")}


def test_html_has_the_languages_table_and_each_other_languages_gaps(demo):
    m = manifest_of(demo[0])
    report = json.loads(report_of(demo, "json"))
    page = report_of(demo, "html")
    en, pl = report["languages"]
    status = m["languages"]["pl"]["translations"]
    soup = BeautifulSoup(page, "html.parser")
    table = soup.find("h2", id="languages").find_next_sibling("table")
    assert [[td.get_text() for td in tr.find_all("td")] for tr in table.tbody.find_all("tr")] == [
        ["en", str(en["articles"]), str(en["votes"]), pct(en["rate"]), str(en["contacts"]), str(en["failed_searches"]),
         "-", "-", "-"],
        ["pl", str(pl["articles"]), str(pl["votes"]), pct(pl["rate"]), str(pl["contacts"]), "17",
         str(status["translated"]), "1", str(len(status["missing"]))],
    ]
    heading = soup.find("h3", id="language-pl")
    paragraphs = [p.get_text() for p in heading.find_next_siblings("p", limit=4)]
    assert paragraphs == [
        f"Translations: {status['translated']} current, 1 outdated, {len(status['missing'])} missing.",
        f"Outdated: {status['outdated'][0]}", "Missing: " + ", ".join(status["missing"]),
        "Searches that found nothing: 17 in 4 groups.",
    ]
    gaps = heading.find_next_sibling("table")
    assert [[td.get_text() for td in tr.find_all("td")] for tr in gaps.tbody.find_all("tr")] == [
        [str(g["count"]), g["query"], "; ".join(g["variants"][1:4]), ", ".join(g["nearest"])] for g in pl["gaps"]]
    assert {td["lang"] for td in gaps.find_all("td", lang=True)} == {"pl"}
    assert soup.find("h3", id="language-en") is None
    # customer text stays text, and the page still allows nothing but its own style
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; | *faktura*" in page
    assert page.count("Content-Security-Policy") == 1 and "default-src &#x27;none&#x27;" in page


def test_one_languages_report_shows_its_translations_in_every_format(demo):
    m = manifest_of(demo[0])
    status = m["languages"]["pl"]["translations"]
    summary = f"{status['translated']} current, 1 outdated, {len(status['missing'])} missing"
    report = json.loads(report_of(demo, "json", "--language", "pl"))
    assert (report["language"], report["translations"], "languages" in report) == ("pl", status, False)
    assert set(g["nearest"][0] for g in report["gaps"] if g["nearest"]) <= article_ids(m, "pl")
    text = report_of(demo, "text", "--language", "pl")
    assert f"\nTranslations: {summary}\n  outdated: {status['outdated'][0]}\n" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    markdown = report_of(demo, "markdown", "--language", "pl")
    assert markdown.endswith(f"\n### Translations\n\n- Translations: {summary}\n- Outdated: `{status['outdated'][0]}`\n"
                             "- Missing: " + ", ".join(f"`{aid}`" for aid in status["missing"]) + "\n")
    soup = BeautifulSoup(report_of(demo, "html", "--language", "pl"), "html.parser")
    heading = soup.find("h2", id="translations")
    assert heading.find_next_sibling("p").get_text() == f"Translations: {summary}."
    assert soup.find("h2", id="languages") is None
    assert {td["lang"] for td in soup.find_all("td", lang=True)} == {"pl"}  # the gaps' wordings are Polish
