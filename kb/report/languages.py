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
from kb.report.channels import add_channel_views
from kb.report.gaps import Meaning, add_nearest, group_failed_searches
from kb.report.review import ReportError, assemble_report, build_report, manifest_language
from kb.report.tally import Cell, Tallies, count_contacts, rounded, tally_votes, utc

LANGUAGE_GAPS = 10
"""The languages side by side name this many of each language's biggest content gaps (all of one
language's are in its own report, `--language CODE`)."""

Rank = Callable[[str, int], list[str]]


def language_codes(manifest: dict) -> list[str]:
    """The manifest's languages, default first; [] for a one-language site."""
    languages = manifest.get("languages") or {}
    if not languages:
        return []
    return [manifest_language(manifest), *languages]


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
                          now: datetime | None = None, rank: Rank | None = None,
                          meaning: Meaning | None = None) -> dict:
    """The review of one language: its articles, and only the votes, searches and contacts made in it."""
    now = utc(now or datetime.now(timezone.utc))
    since = utc(since) if since is not None else None
    if not 0 < target <= 1:
        raise ReportError(f"--target: expected a rate between 0 and 1, got {target}")
    codes = language_codes(manifest)
    one = language_manifest(manifest, code)
    tallies = tally_language(store, since, code, codes[0])
    contacts = count_contacts(in_language(store.contacts(since=since), code, codes[0]))
    searches = list(in_language(store.searches(since=since), code, codes[0]))
    gaps = group_failed_searches(searches, code, meaning)
    report = assemble_report(one, tallies, contacts, gaps, since=since, category=category, owner=owner,
                             target=target, now=now, rank=rank, meaning=meaning)
    # votes and contacts are read again only when a bot's search makes a channel view
    add_channel_views(report, searches, in_language(store.votes(since=since), code, codes[0]),
                      in_language(store.contacts(since=since), code, codes[0]))
    report["language"] = code
    report["translations"] = _translations(manifest, code)
    states = translation_states(manifest, code)
    for row in report["articles"]:
        row["translations"] = states.get(row["id"], {})
    return report


def _translations(manifest: dict, code: str) -> dict | None:
    other = (manifest.get("languages") or {}).get(code)
    return other.get("translations") if other else None


def translation_states(manifest: dict, code: str) -> dict[str, dict[str, str]]:
    """Per article of language `code`: {language: state} from the manifest's translation status.

    In the default language, each other language's state of the article: "current", "outdated" or
    "missing". In another language, the article's own state there: "outdated", "current" (a source
    with its id exists and it is not outdated) or "own" (no source in the default language).
    """
    codes = language_codes(manifest)
    if code not in codes:
        return {}
    sources = {a["id"] for a in manifest["articles"]}
    if code != codes[0]:
        status = _translations(manifest, code) or {}
        outdated = set(status.get("outdated", []))
        return {a["id"]: {code: "outdated" if a["id"] in outdated else "current" if a["id"] in sources else "own"}
                for a in manifest["languages"][code]["articles"]}
    states: dict[str, dict[str, str]] = {aid: {} for aid in sources}
    for other in codes[1:]:
        status = _translations(manifest, other)
        if status is None:
            continue
        outdated, missing = set(status.get("outdated", [])), set(status.get("missing", []))
        for aid in sources:
            states[aid][other] = "missing" if aid in missing else "outdated" if aid in outdated else "current"
    return states


def languages_side_by_side(store: Any, manifest: dict, *, since: datetime | None = None,
                           rank_of: Callable[[str], Rank | None] | None = None,
                           meaning_of: Callable[[str], Meaning | None] | None = None) -> list[dict]:
    """Per language: articles, counted votes, helpful rate, contacts, failed searches, translations,
    and its biggest content gaps with the nearest articles in that language (`rank_of(code)`: that
    language's own words' ranking, `meaning_of(code)`: its reading by meaning and the hybrid ranking;
    titles without either)."""
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
        articles = language_manifest(manifest, code)["articles"]
        counted = totals.get(code, Cell())
        meaning = meaning_of(code) if meaning_of else None
        gaps = group_failed_searches(in_language(searches, code, codes[0]), code, meaning)
        add_nearest(gaps[:LANGUAGE_GAPS], articles, rank_of(code) if rank_of else None, meaning)
        translations = _translations(manifest, code) or {}
        rows.append({
            "language": code,
            "articles": len(articles),
            "votes": counted.votes,
            "rate": rounded(counted.helpful / counted.votes) if counted.votes else None,
            "contacts": sum(count_contacts(in_language(contacts, code, codes[0])).values()),
            "failed_searches": sum(g["count"] for g in gaps),
            "gap_groups": len(gaps),
            "gaps": gaps[:LANGUAGE_GAPS],
            "translated": translations.get("translated"),
            "outdated": translations.get("outdated", []),
            "missing": translations.get("missing", []),
        })
    return rows


def check_language(manifest: dict, language: str | None) -> list[str]:
    """The site's languages (see language_codes), or ReportError when `language` is not one of them."""
    codes = language_codes(manifest)
    if language is not None and language not in codes:
        known = ", ".join(codes) or "none: the site has one language"
        raise ReportError(f"the site has no language {language!r} (its languages: {known})")
    return codes


def site_report(store: Any, manifest: dict, language: str | None = None, *, since: datetime | None = None,
                category: str | None = None, owner: str | None = None, target: float = 0.6,
                now: datetime | None = None, rank_of: Callable[[str | None], Rank | None] | None = None,
                meaning_of: Callable[[str | None], Meaning | None] | None = None) -> dict:
    """The review of a whole site, as `kb report` and `GET /api/report` give it.

    A one-language site's report is `build_report`'s. On a site with languages it is one language's
    (`language`, the default's unless told: other languages' votes apart) and, unless a language was
    asked for, every language side by side. `rank_of(code)`: that language's own words' ranking, and
    `meaning_of(code)`: its reading by meaning (kb.search.meanings), for the gaps' grouping and nearest
    articles (see kb.report.gaps.add_nearest). Raises ReportError for a language the site does not have.
    """
    rank_of = rank_of or (lambda code: None)
    meaning_of = meaning_of or (lambda code: None)
    codes = check_language(manifest, language)
    options = dict(since=since, category=category, owner=owner, target=target, now=now, rank=rank_of(language),
                   meaning=meaning_of(language))
    if not codes:
        return build_report(store, manifest, **options)
    report = build_language_report(store, manifest, language or codes[0], **options)
    if language is None:
        report["languages"] = languages_side_by_side(store, manifest, since=since, rank_of=rank_of,
                                                     meaning_of=meaning_of)
    return report

