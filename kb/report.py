"""The support lead's review: which articles fail customers, why, and what customers did not find.

Pure data in, plain JSON-ready dict out. The numbers follow a few documented rules:

* **Counting.** One vote per visitor per article per UTC day. When a visitor votes more than
  once on the same article on the same day, their *last* vote that day counts (it is their
  settled opinion: a "no" after a "yes" usually means they read on and found it lacking).
  Contacts are counted the same way. Comments and reasons are taken from counted votes only.
* **Helpful rate.** ``mean`` is a Bayesian mean shrunk toward the site's average helpful rate
  in the period: ``(helpful + M * site) / (votes + M)`` with ``M = PRIOR_STRENGTH`` pseudo-votes,
  so an article with two votes is not ranked above one with two hundred.
* **Uncertainty.** ``low`` and ``high`` are the 95% Wilson score interval (``Z = 1.96``) of the
  raw rate ``helpful / votes``; ``votes`` is n.
* **Flags.** ``weak`` only when confidently so: the interval's upper bound is below the target
  (0 of 2 is not weak, 0 of 5 is). ``overdue`` when ``reviewed + review_every`` is before today,
  or the article was never reviewed. ``unrated`` when no vote was counted in the period.
  "Went on to contact us" (``contacts``) is shown beside every article rather than flagged: a
  contact after reading is a signal to weigh with the rate, not a verdict on its own.
"""

from __future__ import annotations

import heapq
import json
import itertools
import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from rapidfuzz import fuzz, process

PRIOR_STRENGTH = 5
"""Pseudo-votes at the site's average that every article's mean starts from."""
PRIOR_FALLBACK = 0.5
"""The prior mean when the period holds no vote at all."""
Z = 1.96
"""Normal quantile for the 95% Wilson interval."""
LATEST_COMMENTS = 5
"""How many of an article's latest comments the report keeps."""
GAP_SIMILARITY = 80
"""rapidfuzz token_set_ratio (0-100) at or above which two failed searches are one gap.

token_set_ratio scores "price match" and "do you price match" 100 and "gift wrap" and "gift
wrapping" 82, yet "cancel order" and "cancel subscription" only 67: wordings of one need merge,
different needs stay apart."""
NEAREST_CUTOFF = 65
"""rapidfuzz token_set_ratio (over a title's content words) below which it is no near match."""
NEAREST_LIMIT = 3
"""How many nearest articles each gap names."""
MANIFEST_NAME = "kb-manifest.json"
TIMELINE_ARTICLES = 12
"""How many articles get a week-by-week timeline ("weeks"): the first ones in report order (weakest
first) that have votes and a flag or an edit. The HTML page charts exactly these."""
REASONS = ("not_answered", "unclear", "outdated", "incomplete")
FLAGS = ("weak", "overdue", "unrated")
_SEQ = itertools.count()  # heap tie-breaker, so two equal comments never compare their dicts
COUNTING_RULE = "one vote per visitor per article per UTC day; the visitor's last vote that day counts"


class ReportError(ValueError):
    """Input the report cannot use (a bad manifest, a bad date); the message says which."""


# --- statistics -----------------------------------------------------------------------------


def wilson_interval(helpful: int, votes: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of helpful/votes; (0, 1) when there are no votes."""
    if votes <= 0:
        return 0.0, 1.0
    p = helpful / votes
    z2 = z * z
    denom = 1 + z2 / votes
    centre = (p + z2 / (2 * votes)) / denom
    margin = z * math.sqrt(p * (1 - p) / votes + z2 / (4 * votes * votes)) / denom
    return max(0.0, centre - margin), min(1.0, centre + margin)


def bayesian_mean(helpful: int, votes: int, prior: float, strength: float = PRIOR_STRENGTH) -> float:
    """The helpful rate shrunk toward `prior` by `strength` pseudo-votes."""
    return (helpful + strength * prior) / (votes + strength)


def _r(x: float | None) -> float | None:
    """Round for output: four decimals keep JSON small and exact to compare."""
    return None if x is None else round(x, 4)


def _week(d: date) -> date:
    """The Monday that starts `d`'s ISO week."""
    return d - timedelta(days=d.weekday())


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


# --- tallies: counted votes, aggregated -----------------------------------------------------


@dataclass
class _Cell:
    """Counted votes of one article version (or one week): n, helpful, first and last time."""

    votes: int = 0
    helpful: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, helpful: bool, at: datetime, n: int = 1, k: int | None = None, last: datetime | None = None) -> None:
        self.votes += n
        self.helpful += (n if helpful else 0) if k is None else k
        last = last or at
        if self.first is None or at < self.first:
            self.first = at
        if self.last is None or last > self.last:
            self.last = last


@dataclass
class Tallies:
    """Counted votes aggregated per article: by version, by week, by reason; latest comments."""

    raw_votes: int = 0
    versions: dict[str, dict[str, _Cell]] = field(default_factory=lambda: defaultdict(dict))
    weeks: dict[str, dict[date, _Cell]] = field(default_factory=lambda: defaultdict(dict))
    reasons: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    comments: dict[str, list[tuple]] = field(default_factory=lambda: defaultdict(list))

    def weeks_of(self, article_ids: list[str]) -> dict[str, dict[date, _Cell]]:
        """Week-by-week cells of these articles (the SQL tally fetches them only when asked)."""
        return {aid: self.weeks.get(aid, {}) for aid in article_ids}

    def add_counted(self, vote: dict) -> None:
        """Add one counted vote (already deduplicated)."""
        article, at = vote["article"], _utc(vote["created_at"])
        helpful = bool(vote["helpful"])
        self.versions[article].setdefault(vote["version"], _Cell()).add(helpful, at)
        self.weeks[article].setdefault(_week(at.date()), _Cell()).add(helpful, at)
        if not helpful and vote.get("reason"):
            self.reasons[article][vote["reason"]] += 1
        if vote.get("comment"):
            self.add_comment(article, vote)

    def add_comment(self, article: str, vote: dict) -> None:
        """Keep the article's LATEST_COMMENTS newest comments (a bounded heap)."""
        item = (_utc(vote["created_at"]), vote.get("vote_id") or "", next(_SEQ), vote)
        heap = self.comments[article]
        if len(heap) < LATEST_COMMENTS:
            heapq.heappush(heap, item)
        elif item[:2] > heap[0][:2]:
            heapq.heapreplace(heap, item)


def count_votes(votes: Iterable[dict]) -> Iterator[dict]:
    """Apply the counting rule: one vote per visitor per article per UTC day, the last one."""
    kept: dict[tuple, dict] = {}
    for vote in votes:
        at = _utc(vote["created_at"])
        key = (vote["visitor"], vote["article"], at.date())
        old = kept.get(key)
        if old is None or (at, vote.get("vote_id") or "") > (_utc(old["created_at"]), old.get("vote_id") or ""):
            kept[key] = vote
    return iter(kept.values())


def tally_votes(votes: Iterable[dict]) -> Tallies:
    """Count `votes` (store rows) by the counting rule and aggregate them."""
    tallies = Tallies()

    def raw() -> Iterator[dict]:
        for vote in votes:
            tallies.raw_votes += 1
            yield vote

    for vote in count_votes(raw()):
        tallies.add_counted(vote)
    return tallies


def count_contacts(contacts: Iterable[dict]) -> Counter:
    """Contacts per article, one per visitor per article per UTC day ("read it, still contacted us")."""
    seen: set[tuple] = set()
    counts: Counter = Counter()
    for row in contacts:
        if not row.get("article"):
            continue
        key = (row["visitor"], row["article"], _utc(row["created_at"]).date())
        if key not in seen:
            seen.add(key)
            counts[row["article"]] += 1
    return counts


# --- content gaps ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Casefold, drop diacritics (ł too) and collapse spaces: the key two searches share."""
    text = text.replace("ł", "l").replace("Ł", "L")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text.casefold()).strip()


def group_failed_searches(searches: Iterable[dict]) -> list[dict]:
    """Failed searches (no results) grouped by similarity: [{query, count, variants}], biggest first.

    One per visitor per query per UTC day, like votes. Each group is named by its most frequent
    wording; a query joins the first bigger group whose name it matches at GAP_SIMILARITY or more.
    """
    seen: set[tuple] = set()
    counts: Counter = Counter()
    wording: dict[str, Counter] = defaultdict(Counter)
    for row in searches:
        if row.get("results"):
            continue
        query = (row.get("query") or "").strip()
        key = _fold(query)
        if not key:
            continue
        visit = (row["visitor"], key, _utc(row["created_at"]).date())
        if visit in seen:
            continue
        seen.add(visit)
        counts[key] += 1
        wording[key][re.sub(r"\s+", " ", query)] += 1

    groups: list[dict] = []
    names: list[str] = []
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        match = process.extractOne(
            key, names, scorer=fuzz.token_set_ratio, processor=None, score_cutoff=GAP_SIMILARITY
        )
        if match is not None:
            group = groups[match[2]]
            group["count"] += n
            group["_keys"].append(key)
        else:
            names.append(key)
            groups.append({"count": n, "_keys": [key]})
    def wording_of(key: str) -> str:
        # The way most people typed it; on a tie, lower case before capitals, then A-Z.
        return min(wording[key].items(), key=lambda kv: (-kv[1], kv[0] != kv[0].lower(), kv[0]))[0]

    out = []
    for group in groups:
        keys = sorted(group["_keys"], key=lambda k: (-counts[k], k))
        variants = [wording_of(k) for k in keys]
        out.append({"query": variants[0], "count": group["count"], "variants": variants})
    out.sort(key=lambda g: (-g["count"], _fold(g["query"])))
    return out


_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from get got has hasnt have how i if in is it its me my "
    "not of on or our the to was what when where which who why will with you your "
    "czy do i jak jest na nie o po sie w z za".split()
)


def _content_words(text: str) -> str:
    """Folded words without stop words and with a plural -s dropped: what a title is about."""
    out = []
    for word in re.findall(r"\w+", _fold(text)):
        if word in _STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return " ".join(out)


def nearest_by_title(articles: list[dict]) -> Callable[[str], list[str]]:
    """A nearest-articles finder over titles with rapidfuzz, for when no search index is at hand."""
    choices = {a["id"]: _content_words(a.get("title") or a["id"]) for a in articles}

    def nearest(query: str) -> list[str]:
        hits = process.extract(
            _content_words(query), choices, scorer=fuzz.token_set_ratio, processor=None,
            score_cutoff=NEAREST_CUTOFF, limit=NEAREST_LIMIT,
        )
        return [key for _, _, key in sorted(hits, key=lambda h: (-h[1], h[2]))]

    return nearest


def nearest_by_index(index: Any, known: set[str]) -> Callable[[str], list[str]]:
    """A nearest-articles finder that asks the site's own search engine (kb.search)."""
    from kb import search as kb_search

    def nearest(query: str) -> list[str]:
        ids: list[str] = []
        for hit in kb_search.search(index, query, NEAREST_LIMIT * 2):
            hid = hit.get("id") if isinstance(hit, dict) else getattr(hit, "id", None)
            if hid in known and hid not in ids:
                ids.append(hid)
        return ids[:NEAREST_LIMIT]

    return nearest


# --- the report -----------------------------------------------------------------------------


def parse_since(text: str, now: datetime) -> datetime:
    """`2026-09-01` (UTC midnight), an ISO timestamp, or `30d` (days before `now`)."""
    text = text.strip()
    m = re.fullmatch(r"(\d+)d", text)
    if m:
        return _utc(now) - timedelta(days=int(m.group(1)))
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(), timezone.utc)
        return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ReportError(f"--since: expected a date like 2026-09-01 or a number of days like 30d, got {text!r}") from None


def _overdue(article: dict, today: date) -> tuple[bool, str | None]:
    """(overdue?, due date) by the manifest's reviewed and review_every."""
    reviewed, every = article.get("reviewed"), article.get("review_every")
    if not reviewed:
        return True, None
    try:
        reviewed_on = date.fromisoformat(str(reviewed)[:10])
    except ValueError:
        raise ReportError(f"kb-manifest.json: article {article.get('id')!r}: 'reviewed' must be an ISO date, got {reviewed!r}") from None
    if not every:
        return False, None
    due = reviewed_on + timedelta(days=int(every))
    return due < today, due.isoformat()


def _cell_json(cell: _Cell) -> dict:
    low, high = wilson_interval(cell.helpful, cell.votes)
    return {
        "votes": cell.votes,
        "helpful": cell.helpful,
        "rate": _r(cell.helpful / cell.votes) if cell.votes else None,
        "low": _r(low),
        "high": _r(high),
    }


def load_manifest(site_dir: Path) -> dict:
    """SITE_DIR/kb-manifest.json, checked; ReportError names the file and what is wrong."""
    path = Path(site_dir) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file; build the site first (kb build)") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    try:
        validate_manifest(manifest)
    except ReportError as exc:
        raise ReportError(f"{path}: {str(exc).removeprefix(MANIFEST_NAME + ': ')}") from None
    return manifest


def validate_manifest(manifest: Any) -> list[dict]:
    """The manifest's articles, or ReportError naming what is wrong."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("articles"), list):
        raise ReportError("kb-manifest.json: expected an object with an 'articles' list")
    for i, article in enumerate(manifest["articles"]):
        if not isinstance(article, dict) or not isinstance(article.get("id"), str):
            raise ReportError(f"kb-manifest.json: articles[{i}]: expected an object with a string 'id'")
    return manifest["articles"]


def tally_store(store: Any, since: datetime | None) -> Tallies:
    """Counted votes from the store: in SQL when the store's database allows, else row by row."""
    from kb import report_sql

    tallies = report_sql.tally(store, since)
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
    search_index: Any = None,
) -> dict:
    """The review report of `store`'s votes, searches and contacts against the site `manifest`."""
    now = _utc(now or datetime.now(timezone.utc))
    since = _utc(since) if since is not None else None
    if not 0 < target <= 1:
        raise ReportError(f"--target: expected a rate between 0 and 1, got {target}")
    validate_manifest(manifest)  # a clear ReportError before any counting
    tallies = tally_store(store, since)
    contacts = count_contacts(store.contacts(since=since))
    gaps = group_failed_searches(store.searches(since=since))
    return assemble_report(
        manifest, tallies, contacts, gaps,
        since=since, category=category, owner=owner, target=target, now=now, search_index=search_index,
    )


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
    search_index: Any = None,
) -> dict:
    """Turn tallies into the report dict (the JSON `kb report` and `GET /api/report` share)."""
    articles = validate_manifest(manifest)
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
        if owner is not None and _fold(article.get("owner") or "").lstrip("@") != _fold(owner).lstrip("@"):
            continue
        rows.append(_article_row(article, tallies, contacts, prior, target, now.date()))
    rows.sort(key=_row_order)
    timeline = [r["id"] for r in rows if r["votes"] and (r["flags"] or len(r["versions"]) > 1)][:TIMELINE_ARTICLES]
    by_id = {r["id"]: r for r in rows}
    for aid, weeks in tallies.weeks_of(timeline).items():
        by_id[aid]["weeks"] = [{"week": week.isoformat(), **_cell_json(cell)} for week, cell in sorted(weeks.items())]

    if not gaps:
        pass
    elif search_index is not None:
        nearest = nearest_by_index(search_index, known)
    else:
        nearest = nearest_by_title(articles)
    for gap in gaps:
        gap["nearest"] = nearest(gap["query"])

    counted = sum(r["votes"] for r in rows)
    return {
        "report": "kb",
        "version": 1,
        "site_name": manifest.get("site_name") or "",
        "generated_at": _iso(now),
        "period": {"since": _iso(since), "until": _iso(now)},
        "filters": {"category": category, "owner": owner},
        "target": target,
        "method": {
            "counting": COUNTING_RULE,
            "mean": f"Bayesian mean shrunk toward the site's average with {PRIOR_STRENGTH} pseudo-votes",
            "interval": f"95% Wilson score interval (z = {Z})",
        },
        "site": {"votes": site_votes, "helpful": site_helpful, "rate": _r(prior if site_votes else None),
                 "prior": _r(prior), "prior_strength": PRIOR_STRENGTH, "raw_votes": tallies.raw_votes},
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
    if votes and high < target:
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
            "first": _iso(cell.first),
            "last": _iso(cell.last),
        })
    counted_reasons = tallies.reasons.get(aid) or {}
    reasons = {reason: counted_reasons.get(reason, 0) for reason in REASONS}
    other = sum(n for r, n in counted_reasons.items() if r not in REASONS)
    if other:
        reasons["other"] = other
    comments = [
        {"text": v["comment"], "helpful": bool(v["helpful"]), "reason": v.get("reason"),
         "version": v["version"], "created_at": _iso(at)}
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
        "rate": _r(helpful / votes) if votes else None,
        "mean": _r(bayesian_mean(helpful, votes, prior)) if votes else None,
        "low": _r(low) if votes else None,
        "high": _r(high) if votes else None,
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
