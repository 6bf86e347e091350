"""What joins a site's languages into one site: the sitemap and the manifest.

Each language is built on its own (the default at the site's root, each other at `<code>/`);
kb.site.build's finish then calls `merge_manifests` and `merge_sitemaps` on the default one.
Both may run again over their own output (the preview merges after every update).
"""

from __future__ import annotations

import gzip
import html
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from kb.site.languages import Language

#: Where the other languages' entries start in the default site's sitemap, so a merge can be redone.
OTHERS_MARK = "<!-- kb: the other languages -->"


def merge_sitemaps(site_dir: Path, languages: list[Language], urls: Mapping[str, Mapping[str, str]] | None = None,
                   site_url: str | None = None) -> int:
    """Add every other language's sitemap entries to the default site's sitemap; return the URL count.

    With `urls` (each language's article URLs by id) and `site_url`, each article's entry also
    names its translations (`<xhtml:link rel="alternate" hreflang>`), as search engines read them.
    """
    main = Path(site_dir) / "sitemap.xml"
    if not main.is_file():
        return 0
    text = main.read_text(encoding="utf-8")
    if OTHERS_MARK in text:  # merged before: back to the language's own entries
        text = text[:text.index(OTHERS_MARK)].rstrip() + "\n" + text[text.rindex("</urlset>"):]
    text = re.sub(r"\n\s*<xhtml:link [^>]*/>", "", text)
    entries: list[str] = []
    for language in languages[1:]:
        other = Path(site_dir) / language.code / "sitemap.xml"
        if other.is_file():
            entries += re.findall(r"<url>.*?</url>", other.read_text(encoding="utf-8"), flags=re.S)
    if entries:
        text = text.replace("</urlset>", f"    {OTHERS_MARK}" + "".join(f"\n    {e}" for e in entries) + "\n</urlset>")
    if urls and site_url:
        text = _hreflang_links(text, languages, urls, site_url.rstrip("/") + "/")
    main.write_text(text, encoding="utf-8")
    (Path(site_dir) / "sitemap.xml.gz").write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    return len(re.findall(r"<url>", text))


def _hreflang_links(text: str, languages: list[Language], urls: Mapping[str, Mapping[str, str]], root: str) -> str:
    """The sitemap with each translated article's alternates under its <loc>."""
    by_id: dict[str, dict[str, str]] = {}
    for language in languages:
        for article_id, url in urls.get(language.code, {}).items():
            by_id.setdefault(article_id, {})[language.code] = root + language.prefix + url
    alternates_of = {loc: group for group in by_id.values() if len(group) > 1 for loc in group.values()}

    def add(match: re.Match) -> str:
        group = alternates_of.get(html.unescape(match.group(2)))
        if not group:
            return match.group(0)
        links = "".join(f'\n         <xhtml:link rel="alternate" hreflang="{code}" href="{html.escape(loc)}"/>'
                        for code, loc in group.items())
        return match.group(1) + match.group(2) + match.group(3) + links

    text = re.sub(r"(<loc>)(.*?)(</loc>)", add, text)
    if "<xhtml:link" in text and "xmlns:xhtml" not in text:
        text = text.replace('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
                            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                            'xmlns:xhtml="http://www.w3.org/1999/xhtml">', 1)
    return text


def merge_manifests(manifest: dict, others: Mapping[str, dict], default: str,
                    status: Iterable[Mapping[str, Any]] = ()) -> dict:
    """The default site's manifest, each article marked with its language, plus the other languages'.

    `articles` stays the default language's (ids are unique there, as the report and collector
    expect); `languages: {code: {site_name, articles}}` holds the others, URLs from the site root.
    """
    for entry in manifest["articles"]:
        entry["language"] = default
    translations = {row["language"]: {"translated": row["translated"], "outdated": row["outdated_ids"],
                                       "missing": row["missing_ids"]} for row in status}
    manifest["languages"] = {
        code: {"site_name": other["site_name"],
               "articles": [{**entry, "language": code, "url": f"{code}/{entry['url']}"} for entry in other["articles"]],
               "translations": translations.get(code)}
        for code, other in others.items()
    }
    return manifest
