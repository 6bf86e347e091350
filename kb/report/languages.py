"""The review per language: one language's report, and every language side by side.

A site built with `languages` writes the default language's articles under the manifest's
`articles` and each other language's under `languages.<code>` (with its translation status:
outdated and missing ids). Votes, searches and contacts carry the page's `language`; rows stored
before languages (no language) count as the default language's. A language's votes are counted
as if the other languages' were not there (the counting rule applies within the language): in
SQL when the store's database allows (kb.report.sql), else row by row, to the same numbers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

from kb.report import sql
from kb.report.review import ReportError, assemble_report, group_failed_searches
from kb.report.tally import Cell, Tallies, count_contacts, rounded, tally_votes, utc


def language_codes(manifest: dict) -> list[str]:
    """The manifest's languages, default first; [] for a one-language site."""
    languages = manifest.get("languages") or {}
    if not languages:
        return []
    default = next((a.get("language") for a in manifest["articles"] if a.get("language")), None) or "en"
    return [default, *languages]


def language_manifest(manifest: dict, code: str) -> dict:
    """The manifest as one language's site: its name and its articles (URLs from the whole site's root)."""
    codes = language_codes(manifest)
    if code not in codes:
        known = ", ".join(codes) or "none: the site has one language"
        raise ReportError(f"--language: the site has no language {code!r} (its languages: {known})")
    if code == codes[0]:
        return {**manifest, "languages": {}}
    other = manifest["languages"][code]
    return {**manifest, "site_name": other.get("site_name") or manifest.get("site_name"),
            "articles": other["articles"], "languages": {}}


def in_language(rows: Iterable[dict], code: str, default: str) -> Iterator[dict]:
    """The rows made in language `code` (rows without a language are the `default` language's)."""
    return (r for r in rows if (r.get("language") or default) == code)


def tally_language(store: Any, since: datetime | None, code: str, default: str) -> Tallies:
    """One language's counted votes: in SQL when the store's database allows, else row by row."""
    tallies = sql.tally(store, since, sql.Language(code, default=code == default))
    if tallies is not None:
        return tallies
    return tally_votes(in_language(store.votes(since=since), code, default))


def build_language_report(store: Any, manifest: dict, code: str, *, since: datetime | None = None,
                          category: str | None = None, owner: str | None = None, target: float = 0.6,
                          now: datetime | None = None, rank: Callable[[str, int], list[str]] | None = None) -> dict:
    """The review of one language: its articles, and only the votes, searches and contacts made in it."""
    now = utc(now or datetime.now(timezone.utc))
    since = utc(since) if since is not None else None
    if not 0 < target <= 1:
        raise ReportError(f"--target: expected a rate between 0 and 1, got {target}")
    codes = language_codes(manifest)
    one = language_manifest(manifest, code)
    tallies = tally_language(store, since, code, codes[0])
    contacts = count_contacts(in_language(store.contacts(since=since), code, codes[0]))
    gaps = group_failed_searches(in_language(store.searches(since=since), code, codes[0]))
    report = assemble_report(one, tallies, contacts, gaps, since=since, category=category, owner=owner,
                             target=target, now=now, rank=rank)
    report["language"] = code
    report["translations"] = _translations(manifest, code)
    return report


def _translations(manifest: dict, code: str) -> dict | None:
    other = (manifest.get("languages") or {}).get(code)
    return other.get("translations") if other else None


def languages_side_by_side(store: Any, manifest: dict, *, since: datetime | None = None) -> list[dict]:
    """Per language: articles, counted votes, helpful rate, contacts, failed searches, translations."""
    codes = language_codes(manifest)
    if not codes:
        return []
    totals = sql.language_totals(store, since, codes[0])
    if totals is None:
        votes = list(store.votes(since=since))
        totals = {}
        for code in codes:
            tallies = tally_votes(in_language(votes, code, codes[0]))
            cells = [c for by_version in tallies.versions.values() for c in by_version.values()]
            totals[code] = Cell(sum(c.votes for c in cells), sum(c.helpful for c in cells))
    searches = list(store.searches(since=since))
    contacts = list(store.contacts(since=since))
    rows = []
    for code in codes:
        counted = totals.get(code, Cell())
        translations = _translations(manifest, code) or {}
        rows.append({
            "language": code,
            "articles": len(language_manifest(manifest, code)["articles"]),
            "votes": counted.votes,
            "rate": rounded(counted.helpful / counted.votes) if counted.votes else None,
            "contacts": sum(count_contacts(in_language(contacts, code, codes[0])).values()),
            "failed_searches": sum(g["count"] for g in group_failed_searches(in_language(searches, code, codes[0]))),
            "translated": translations.get("translated"),
            "outdated": translations.get("outdated", []),
            "missing": translations.get("missing", []),
        })
    return rows


def format_languages_text(rows: list[dict], translations: dict | None = None) -> str:
    """The languages side by side (and one language's translation status) for the text report."""
    out: list[str] = []
    if rows:
        out += ["", "Languages", f"{'LANG':<6} {'ARTICLES':>8} {'VOTES':>6} {'RATE':>5} {'CONTACTS':>8} "
                                 f"{'NOT FOUND':>9} {'OUTDATED':>8} {'MISSING':>7}"]
        for r in rows:
            rate = f"{round(r['rate'] * 100)}%" if r["rate"] is not None else "-"
            outdated = len(r["outdated"]) if r["translated"] is not None else "-"
            missing = len(r["missing"]) if r["translated"] is not None else "-"
            out.append(f"{r['language']:<6} {r['articles']:>8} {r['votes']:>6} {rate:>5} {r['contacts']:>8} "
                       f"{r['failed_searches']:>9} {outdated:>8} {missing:>7}")
    if translations:
        out += ["", f"Translations: {translations['translated']} current, {len(translations['outdated'])} outdated, "
                    f"{len(translations['missing'])} missing"]
        if translations["outdated"]:
            out.append("  outdated: " + ", ".join(translations["outdated"]))
        if translations["missing"]:
            out.append("  missing: " + ", ".join(translations["missing"]))
    return "\n".join(out) + ("\n" if out else "")

