"""Everything a visitor or a bot reads on a non-default language's site comes from that language's
texts: every built page, bot file and answers file of /pl/ is scanned for the default language's."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from support import MKDOCS_YML, ROOT, run_kb

from kb.site.languages import TEXTS

#: What MkDocs and Material write in English themselves, which kb replaces with the language's text.
THEIR_ENGLISH = ["404 - Not found", "Permanent link", "Made with", "Breadcrumb"]


def strings(value: Any) -> Iterator[str]:
    """Every text in a (nested) texts mapping."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def default_language_phrases(default: dict, other: dict) -> set[str]:
    """The default language's texts that are not also the other's, cut at placeholders and markup."""
    valid = set(strings(other))
    phrases = set()
    for text in strings(default):
        if text in valid:
            continue
        for part in re.split(r"\{[a-z_]+\}|<[^>]+>", text):
            if len(part.strip()) >= 3:
                phrases.add(part.strip())
    return phrases | set(THEIR_ENGLISH)


def json_values(value: Any) -> Iterator[str]:
    """The texts of a JSON document, without its keys (a key is no visitor's text)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_values(item)


def found_in(site: Path, phrases: set[str]) -> list[str]:
    """Each phrase found as a whole word or words in a page, bot file or JSON file of `site`
    (Material's own scripts and stylesheets under assets/ are the theme's, not text a visitor reads)."""
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(p)}(?!\w)" for p in sorted(phrases, key=len, reverse=True)))
    hits = []
    for path in sorted(site.rglob("*")):
        if not path.is_file() or "assets" in path.relative_to(site).parts:
            continue
        if path.suffix == ".json":
            texts = list(json_values(json.loads(path.read_text(encoding="utf-8"))))
        elif path.suffix in (".html", ".txt", ".md", ".xml"):
            texts = [path.read_text(encoding="utf-8")]
        else:
            continue
        for text in texts:
            for match in pattern.finditer(text):
                context = text[max(0, match.start() - 50):match.end() + 30].replace("\n", " ")
                hits.append(f"{path.relative_to(site)}: {match.group(0)!r} in ...{context}...")
    return hits


def demo_english_phrases() -> set[str]:
    """What the demo's own configuration says in English: the site's name and summary, its contact
    channels, its categories' titles and descriptions (none of it may reach /pl/ either)."""
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    [kb] = [plugin["kb"] for plugin in config["plugins"] if isinstance(plugin, dict) and "kb" in plugin]
    phrases = {config["site_name"], config["site_description"]}
    phrases |= {value for channel in kb["contact"] for key, value in channel.items() if key != "url"}
    for path in (ROOT / "articles" / "en").rglob("_category.yml"):
        category = yaml.safe_load(path.read_text(encoding="utf-8"))
        phrases |= {category[key] for key in ("title", "description") if category.get(key)}
    return phrases


def test_every_page_of_the_polish_demo_is_polish(built_demo_site: Path):
    site = built_demo_site / "pl"
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20 and (site / "404.html") in pages
    english = default_language_phrases(TEXTS["en"], TEXTS["pl"]) | demo_english_phrases()
    assert found_in(site, english) == []
    # and the scan does find English where there is some: the English site's own pages
    assert found_in(built_demo_site / "returns", default_language_phrases(TEXTS["en"], TEXTS["pl"]))


def test_a_third_language_speaks_only_its_own_texts(kb_project):
    """A language kb ships no texts for gets every visible string from its `texts:`, and nothing English."""
    german = copy.deepcopy(TEXTS["pl"])  # any language's full set; given here as German's own
    german_texts = json.dumps({k: v for k, v in german.items()}, ensure_ascii=False)
    yml = MKDOCS_YML.replace("theme:\n", "markdown_extensions:\n  - toc:\n      permalink: true\ntheme:\n") + f"""\
      languages:
        - code: en
          name: English
        - code: de
          name: Deutsch
          site_name: Hilfe-Center
          site_description: Antworten zu Bestellungen.
          contact:
            - name: Chat
              url: https://example.com/de/chat
              hours: Mo-Fr 9-17
          texts: {german_texts}
"""
    root = kb_project({
        "articles/en/orders/cancel.md": "---\nid: cancel\ntitle: How do I cancel?\n---\nOpen your orders.\n\n## Steps\n\nOne.\n",
        "articles/de/bestellungen/stornieren.md": (
            "---\nid: cancel\ntitle: Wie storniere ich?\nquestions: [Bestellung stornieren]\n---\n"
            "Öffnen Sie Ihre Bestellungen und wählen Sie die Bestellung aus.\n\n## Schritte\n\nEins.\n"),
    }, mkdocs_yml=yml)
    run_kb("build", cwd=root, check=True)
    site = root / "site" / "de"
    assert (site / "404.html").is_file() and (site / "llms.txt").is_file()
    assert found_in(site, default_language_phrases(TEXTS["en"], german)) == []


@pytest.mark.parametrize("prefix,texts", [("", TEXTS["en"]), ("pl/", TEXTS["pl"])], ids=["en", "pl"])
def test_the_404_page_is_in_the_sites_language_with_a_person_and_the_topics(built_demo_site: Path, prefix, texts):
    from bs4 import BeautifulSoup

    page = BeautifulSoup((built_demo_site / prefix / "404.html").read_text(encoding="utf-8"), "html.parser")
    assert page.title.get_text() == texts["not_found_title"] + " - " + (
        "Northwind Outfitters Help Center" if not prefix else "Centrum pomocy Northwind Outfitters")
    assert page.select_one(".md-content h1").get_text() == texts["not_found_title"]
    channels = [a.get_text() for a in page.select(".kb-contact a[data-kb-channel]")]
    assert len(channels) == 3 and channels[0] == ("Chat with us" if not prefix else "Czat z konsultantem")
    topics = [(a.get_text(), a["href"]) for a in page.select(".kb-not-found__topics a")]
    assert topics[0] == (("Orders", "/orders/") if not prefix else ("Dostawa", "/pl/dostawa/"))
    # A 404 page is served for any missing address, so its links are absolute: into its own site
    assert all(link["href"].startswith(f"/{prefix}") for link in page.select("link[rel=stylesheet]")
               if not link["href"].startswith("http"))
