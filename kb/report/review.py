"""The support lead's review: which articles fail customers, why, and what customers did not find.

Tallies (kb.report.tally) in, a plain JSON-ready dict out, under a few documented rules:

* **Flags.** ``weak`` only when confidently so: the interval's upper bound is below the target
  (0 of 2 is not weak, 0 of 5 is), and the votes came from at least ``WEAK_ADDRESSES`` client
  addresses (one person, whatever browsers they use, cannot mark an article weak in a day: the
  address hashes' key changes daily, so a day apart one address is two). ``overdue`` when ``reviewed + review_every`` is before today,
  or the article was never reviewed. ``unrated`` when no vote was counted in the period.
  "Went on to contact us" (``contacts``) is shown beside every article rather than flagged: a
  contact after reading is a signal to weigh with the rate, not a verdict on its own.
* **Gaps.** Searches that found nothing, one per visitor per query per UTC day, grouped by
  similarity (their words' stems; and where the site has its vectors, their meaning and the articles
  the hybrid ranking answers them with) and named by their most frequent wording, each with the
  nearest articles (kb.report.gaps says how).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable

from kb.articles import parse_duration
from kb.manifest import NAME as MANIFEST_NAME
from kb.manifest import ManifestError, validate_manifest
from kb.report import sql
from kb.report.channels import add_channel_views
from kb.report.tally import (COUNTING_RULE, PRIOR_FALLBACK, PRIOR_STRENGTH, Z, Addresses, Cell, Tallies,
                             bayesian_mean, count_contacts, iso, rounded, tally_votes, utc, wilson_interval)
from kb.report.gaps import Meaning, add_nearest, folded, group_failed_searches
from kb.votes.schema import REASONS

TIMELINE_ARTICLES = 12
"""How many articles get a week-by-week timeline ("weeks"): the first ones in report order (weakest
first) that have votes and a flag or an edit. The HTML page charts exactly these."""
FLAGS = ("weak", "overdue", "unrated")
WEAK_ADDRESSES = 2
"""Client addresses an article's counted votes must come from before it can be flagged weak: the
per-address cap still lets one address give 3 votes a day, and 0 of 3 is below the target."""


class ReportError(ValueError):
    """Input the report cannot use (a bad manifest, a bad date); the message says which."""


def manifest_language(manifest: dict) -> str:
    """The language of the manifest's articles (its default language's on a site with languages)."""
    return next((a.get("language") for a in manifest.get("articles") or [] if a.get("language")), None) or "en"


# --- the report -----------------------------------------------------------------------------


def parse_since(text: str, now: datetime) -> datetime:
    """`2026-09-01` (UTC midnight), an ISO timestamp, or a duration before `now` like review_every's
    (`30d`, `4w`, `6m`, `1y`)."""
    text = text.strip()
    days = parse_duration(text) if re.fullmatch(r"\d+\s*[dwmy]", text) else None
    if days is not None:
        return utc(now) - timedelta(days=days)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(), timezone.utc)
        return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ReportError(f"--since: expected a date like 2026-09-01 or a duration like 30d, 4w, 6m or 1y, "
                          f"got {text!r}") from None


def _overdue(article: dict, today: date) -> tuple[bool, str | None]:
    """(overdue?, due date) by the manifest's reviewed and review_every."""
    reviewed, every = article.get("reviewed"), article.get("review_every")
    if not reviewed:
        return True, None
    try:
        reviewed_on = date.fromisoformat(str(reviewed)[:10])
    except ValueError:
        raise ReportError(f"{MANIFEST_NAME}: article {article.get('id')!r}: 'reviewed' must be an ISO date, "
                          f"got {reviewed!r}") from None
    if not every:
        return False, None
    due = reviewed_on + timedelta(days=int(every))
    return due < today, due.isoformat()


def _cell_json(cell: Cell) -> dict:
    low, high = wilson_interval(cell.helpful, cell.votes)
    return {
        "votes": cell.votes,
        "helpful": cell.helpful,
        "rate": rounded(cell.helpful / cell.votes) if cell.votes else None,
        "low": rounded(low),
        "high": rounded(high),
    }


def tally_store(store: Any, since: datetime | None) -> Tallies:
    """Counted votes from the store: in SQL when the store's database allows, else row by row."""
    tallies = sql.tally(store, since)
    if tallies is not None:
        return tallies
    return tally_votes(store.votes(since=since))


def build_report(
    store: Any,
    manifest: dict,
    *,
    since: datetime | None = None,
    category: str | None = None,
    owner: str | None = None,
    target: float = 0.6,
    now: datetime | None = None,
    rank: Callable[[str, int], list[str]] | None = None,
    meaning: Meaning | None = None,
) -> dict:
    """The review report of `store`'s votes, searches and contacts against the site `manifest`
    (`rank`: the site's words' ranking, `meaning`: its reading by meaning and the hybrid ranking,
    for the gaps' grouping and nearest articles: see group_failed_searches and add_nearest)."""
    now = utc(now or datetime.now(timezone.utc))
    since = utc(since) if since is not None else None
    if not 0 < target <= 1:
        raise ReportError(f"--target: expected a rate between 0 and 1, got {target}")
    _articles_of(manifest)  # a clear ReportError before any counting
    tallies = tally_store(store, since)
    contacts = count_contacts(store.contacts(since=since))
    searches = list(store.searches(since=since))
    gaps = group_failed_searches(searches, manifest_language(manifest), meaning)
    report = assemble_report(
        manifest, tallies, contacts, gaps,
        since=since, category=category, owner=owner, target=target, now=now, rank=rank, meaning=meaning,
    )
    add_channel_views(report, searches, store.votes(since=since), store.contacts(since=since))
    return report


def assemble_report(
    manifest: dict,
    tallies: Tallies,
    contacts: Counter,
    gaps: list[dict],
    *,
    since: datetime | None,
    category: str | None,
    owner: str | None,
    target: float,
    now: datetime,
    rank: Callable[[str, int], list[str]] | None = None,
    meaning: Meaning | None = None,
) -> dict:
    """Turn tallies into the report dict (the JSON `kb report` and `GET /api/report` share)."""
    articles = _articles_of(manifest)
    known = {a["id"] for a in articles}

    # The prior is the whole site's average in the period, whatever the filters, so that an
    # article's mean does not change when the lead narrows the view.
    site_votes = site_helpful = 0
    for article_id, by_version in tallies.versions.items():
        if article_id in known:
            for cell in by_version.values():
                site_votes += cell.votes
                site_helpful += cell.helpful
    prior = site_helpful / site_votes if site_votes else PRIOR_FALLBACK

    rows = []
    for article in articles:
        if category is not None and not _in_category(article.get("category") or "", category):
            continue
        if owner is not None and folded(article.get("owner") or "").lstrip("@") != folded(owner).lstrip("@"):
            continue
        rows.append(_article_row(article, tallies, contacts, prior, target, now.date()))
    rows.sort(key=_row_order)
    timeline = [r["id"] for r in rows if r["votes"] and (r["flags"] or len(r["versions"]) > 1)][:TIMELINE_ARTICLES]
    by_id = {r["id"]: r for r in rows}
    for aid, weeks in tallies.weeks_of(timeline).items():
        by_id[aid]["weeks"] = [{"week": week.isoformat(), **_cell_json(cell)} for week, cell in sorted(weeks.items())]

    add_nearest(gaps, articles, rank, meaning)

    counted = sum(r["votes"] for r in rows)
    return {
        "report": "kb",
        "version": 1,
        "site_name": manifest.get("site_name") or "",
        "generated_at": iso(now),
        "period": {"since": iso(since), "until": iso(now)},
        "filters": {"category": category, "owner": owner},
        "target": target,
        "method": {
            "counting": COUNTING_RULE,
            "mean": f"Bayesian mean shrunk toward the site's average with {PRIOR_STRENGTH} pseudo-votes",
            "interval": f"95% Wilson score interval (z = {Z})",
            "weak": f"the interval's upper bound below the target, with votes from at least {WEAK_ADDRESSES} "
                    "client addresses",
        },
        "site": {"votes": site_votes, "helpful": site_helpful, "rate": rounded(prior if site_votes else None),
                 "prior": rounded(prior), "prior_strength": PRIOR_STRENGTH, "raw_votes": tallies.raw_votes},
        "totals": {
            "articles": len(rows),
            "votes": counted,
            "helpful": sum(r["helpful"] for r in rows),
            "contacts": sum(r["contacts"] for r in rows),
            "weak": sum("weak" in r["flags"] for r in rows),
            "overdue": sum("overdue" in r["flags"] for r in rows),
            "unrated": sum("unrated" in r["flags"] for r in rows),
            "gaps": len(gaps),
            "failed_searches": sum(g["count"] for g in gaps),
        },
        "articles": rows,
        "gaps": gaps,
    }


def _articles_of(manifest: dict) -> list[dict]:
    """The manifest's articles, or ReportError saying what is wrong with it."""
    try:
        return validate_manifest(manifest)
    except ManifestError as exc:
        raise ReportError(str(exc)) from None


def _in_category(article_category: str, wanted: str) -> bool:
    """A category filter takes the category and its sub-folders."""
    wanted = wanted.strip("/")
    return article_category == wanted or article_category.startswith(wanted + "/")


def _row_order(row: dict) -> tuple:
    """Weakest first (by upper bound), then rated by mean, then unrated; ties by id."""
    if "weak" in row["flags"]:
        return (0, row["high"], row["id"])
    if row["votes"]:
        return (1, row["mean"], row["id"])
    return (2, 0.0, row["id"])


def _article_row(article: dict, tallies: Tallies, contacts: Counter, prior: float, target: float, today: date) -> dict:
    aid = article["id"]
    by_version = tallies.versions.get(aid, {})
    votes = sum(c.votes for c in by_version.values())
    helpful = sum(c.helpful for c in by_version.values())
    low, high = wilson_interval(helpful, votes)
    overdue, due = _overdue(article, today)
    flags = []
    if votes and high < target and tallies.addresses.get(aid, Addresses()).distinct() >= WEAK_ADDRESSES:
        flags.append("weak")
    if overdue:
        flags.append("overdue")
    if not votes:
        flags.append("unrated")

    versions = []
    for version, cell in sorted(by_version.items(), key=lambda kv: (kv[1].first, kv[0])):
        versions.append({
            "version": version,
            "current": version == article.get("version"),
            **_cell_json(cell),
            "first": iso(cell.first),
            "last": iso(cell.last),
        })
    counted_reasons = tallies.reasons.get(aid) or {}
    reasons = {reason: counted_reasons.get(reason, 0) for reason in REASONS}
    other = sum(n for r, n in counted_reasons.items() if r not in REASONS)
    if other:
        reasons["other"] = other
    comments = [
        {"text": v["comment"], "helpful": bool(v["helpful"]), "reason": v.get("reason"),
         "version": v["version"], "created_at": iso(at)}
        for at, _, _, v in sorted(tallies.comments.get(aid, []), key=lambda c: c[:3], reverse=True)
    ]
    return {
        "id": aid,
        "title": article.get("title") or aid,
        "url": article.get("url") or "",
        "category": article.get("category") or "",
        "owner": article.get("owner"),
        "version": article.get("version"),
        "reviewed": article.get("reviewed"),
        "review_every": article.get("review_every"),
        "due": due,
        "votes": votes,
        "helpful": helpful,
        "rate": rounded(helpful / votes) if votes else None,
        "mean": rounded(bayesian_mean(helpful, votes, prior)) if votes else None,
        "low": rounded(low) if votes else None,
        "high": rounded(high) if votes else None,
        "flags": flags,
        "reasons": reasons,
        "comments": comments,
        "contacts": contacts.get(aid, 0),
        "versions": versions,
        "weeks": [],
    }


def flagged(report: dict, kind: str) -> bool:
    """Whether `report` holds a finding of `kind` (weak, overdue, unrated, gaps or any): the CI gate."""
    if kind == "gaps":
        return bool(report["gaps"])
    if kind == "any":
        return bool(report["gaps"]) or any(a["flags"] for a in report["articles"])
    return any(kind in a["flags"] for a in report["articles"])
