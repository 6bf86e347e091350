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
  nearest articles: by the hybrid ranking where the site has its vectors (the GAP_MEANING_GROUPS
  biggest gaps), by the words' ranking where it has its index, else by title.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from kb.articles import parse_duration
from kb.manifest import NAME as MANIFEST_NAME
from kb.manifest import ManifestError, validate_manifest
from kb.report import sql
from kb.report.channels import add_channel_views
from kb.report.tally import (COUNTING_RULE, PRIOR_FALLBACK, PRIOR_STRENGTH, Z, Addresses, Cell, Tallies,
                             bayesian_mean, count_contacts, iso, rounded, tally_votes, utc, wilson_interval)
from kb.search.meanings import Reading
from kb.search.text import Analyzer, analyzer_for
from kb.votes.schema import REASONS

GAP_SIMILARITY = 80
"""rapidfuzz token_set_ratio (0-100) at or above which two failed searches are one gap.

token_set_ratio scores "price match" and "do you price match" 100 and "gift wrap" and "gift
wrapping" 82, yet "cancel order" and "cancel subscription" only 67: wordings of one need merge,
different needs stay apart."""
GAP_MEANING = 0.7
"""Cosine at or above which two groups of failed searches mean the same and are one gap, their
vectors taken relative to the site's own texts (the mean of its articles' vectors subtracted, so
what every text of the help center shares does not count). Measured with `kb bench gaps` on the
public sets' questions: of pairs of questions at 0.7 or more, 75% (banking77), 82% (clincbank, its
out-of-scope questions included) and 95% (stackfaq) ask for the same article; but it finds only
11-19% of the pairs that do."""
GAP_AGREEMENT = 0.35
"""`agreement` at or above which two groups of failed searches are one gap though their names'
vectors are not that close: the hybrid ranking answers both with the same article, or the same
few ("nie dostałem pieniędzy" and "kiedy oddacie kasę", 0.19 apart in meaning, both with the
refund articles: 0.38). Chosen with `kb bench gaps` on the public sets' questions as the lowest
threshold (in steps of 0.05) at which, on every set with questions that ask for the same article,
a joined pair more often asks for the same article than not: precision 0.53 (banking77), 0.57
(stackfaq), 0.61 (clincbank, its out-of-scope questions included), finding 63%, 90% and 75% of
the pairs that do (GAP_MEANING alone: 11-19%). The pairs it joins wrongly mostly ask for
neighbouring articles: on plhelp, where nearly every question has an article of its own (917 of
its articles measured), it joins 0.22% of all pairs, and 11 of 15 of them drawn at random ask
about the same thing in two articles (making a mail template and finding one, sharing a folder
and stopping sharing it)."""
GAP_MEANING_GROUPS = 200
"""The biggest groups read by meaning: compared by meaning, and given their nearest articles by the
hybrid ranking (each one's name is embedded once: a report stays quick; the smaller ones get their
nearest articles from the words' ranking)."""
Meaning = Callable[[Sequence[str]], "list[Reading]"]
"""A site's reading of texts (kb.search.meanings.SiteMeanings): one Reading per text, in order."""
NEAREST_CUTOFF = 65
"""rapidfuzz token_set_ratio (over a title's content words) below which it is no near match."""
NEAREST_LIMIT = 3
"""How many nearest articles each gap names."""
TIMELINE_ARTICLES = 12
"""How many articles get a week-by-week timeline ("weeks"): the first ones in report order (weakest
first) that have votes and a flag or an edit. The HTML page charts exactly these."""
FLAGS = ("weak", "overdue", "unrated")
WEAK_ADDRESSES = 2
"""Client addresses an article's counted votes must come from before it can be flagged weak: the
per-address cap still lets one address give 3 votes a day, and 0 of 3 is below the target."""


class ReportError(ValueError):
    """Input the report cannot use (a bad manifest, a bad date); the message says which."""


# --- content gaps ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Casefold, drop diacritics (ł too) and collapse spaces: the key two searches share."""
    if text.isascii():  # most searches: nothing to strip, casefold is lower
        return " ".join(text.lower().split())
    text = text.replace("ł", "l").replace("Ł", "L")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text.casefold()).strip()


def manifest_language(manifest: dict) -> str:
    """The language of the manifest's articles (its default language's on a site with languages)."""
    return next((a.get("language") for a in manifest.get("articles") or [] if a.get("language")), None) or "en"


def group_failed_searches(searches: Iterable[dict], language: str | None = None,
                          meaning: Meaning | None = None) -> list[dict]:
    """Failed searches (no results) grouped by similarity: [{query, count, variants}], biggest first.

    One per visitor per query per UTC day, like votes. Each group is named by its most frequent
    wording; a query joins the first bigger group whose name it matches at GAP_SIMILARITY or more.
    Wordings are compared as the search of `language` sees them: its terms (stems), function
    words aside, so "jak anulować subskrypcję" and "anulowanie subskrypcji" are one gap. With
    `meaning` (the site's reading of texts), the biggest GAP_MEANING_GROUPS groups are then joined
    where their names mean the same (GAP_MEANING) or the hybrid ranking answers both with the same
    articles (GAP_AGREEMENT).
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
        visit = (row["visitor"], key, utc(row["created_at"]).date())
        if visit in seen:
            continue
        seen.add(visit)
        counts[key] += 1
        wording[key][re.sub(r"\s+", " ", query)] += 1

    as_searched = _AsSearched(analyzer_for(language))
    compared = {key: as_searched(key, wording[key]) for key in counts}
    groups: list[dict] = []
    names: list[str] = []
    blocks = _GapBlocks(counts)
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        candidates = blocks.candidates(key)
        match = process.extractOne(
            compared[key], [names[i] for i in candidates], scorer=fuzz.token_set_ratio, processor=None,
            score_cutoff=GAP_SIMILARITY
        ) if candidates else None
        if match is not None:
            group = groups[candidates[match[2]]]
            group["count"] += n
            group["_keys"].append(key)
        else:
            blocks.add(key, len(names))
            names.append(compared[key])
            groups.append({"count": n, "_keys": [key]})
    def wording_of(key: str) -> str:
        # The way most people typed it; on a tie, lower case before capitals, then A-Z.
        return min(wording[key].items(), key=lambda kv: (-kv[1], kv[0] != kv[0].lower(), kv[0]))[0]

    if meaning is not None and len(groups) > 1:
        groups = _join_by_meaning(groups, [wording_of(g["_keys"][0]) for g in groups], meaning)
    out = []
    for group in groups:
        keys = sorted(group["_keys"], key=lambda k: (-counts[k], k))
        variants = [wording_of(k) for k in keys]
        out.append({"query": variants[0], "count": group["count"], "variants": variants})
    out.sort(key=lambda g: (-g["count"], _fold(g["query"])))
    return out


def _join_by_meaning(groups: list[dict], names: list[str], meaning: Meaning) -> list[dict]:
    """The groups, the biggest GAP_MEANING_GROUPS joined into a bigger one that means the same: the
    one whose name's vector is closest, at GAP_MEANING or more, else the one the hybrid ranking
    most agrees with, at GAP_AGREEMENT or more (see `agreement`)."""
    order = sorted(range(len(groups)), key=lambda i: -groups[i]["count"])[:GAP_MEANING_GROUPS]
    readings = meaning([names[i] for i in order])
    vectors = np.stack([r.relative for r in readings])
    kept: list[int] = []  # positions in `order` of the groups that stay
    joined: set[int] = set()
    for position, i in enumerate(order):
        if kept:
            similarity = vectors[kept] @ vectors[position]
            best = int(similarity.argmax())
            if float(similarity[best]) < GAP_MEANING:
                agreeing = [agreement(readings[k].answers, readings[position].answers) for k in kept]
                best = max(range(len(kept)), key=lambda n: agreeing[n])
                if agreeing[best] < GAP_AGREEMENT:
                    best = -1
            if best >= 0:
                target = groups[order[kept[best]]]
                target["count"] += groups[i]["count"]
                target["_keys"] += groups[i]["_keys"]
                joined.add(i)
                continue
        kept.append(position)
    return [g for i, g in enumerate(groups) if i not in joined]


def agreement(first: dict[str, float], second: dict[str, float]) -> float:
    """How many articles are expected to answer both of two texts: over the articles the hybrid
    ranking puts first for either (Reading.answers), the sum of the products of the probabilities
    that each answers one text and the other (near 1 when both go to one article confidently,
    above 1 when they go to two or more together, near 0 when they part or nothing answers them)."""
    if len(second) < len(first):
        first, second = second, first
    return sum(p * second.get(article, 0.0) for article, p in first.items())


class _AsSearched:
    """A failed search as its language's search sees it: the terms of its most frequent wording
    (stems need the letters the customer typed), without function words; the folded key when
    nothing else is left. Each distinct word is analysed once (searches share most of theirs)."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.terms_of: dict[str, list[str]] = {}

    def __call__(self, key: str, wordings: Counter) -> str:
        wording = max(wordings.items(), key=lambda kv: (kv[1], kv[0]))[0]
        terms: list[str] = []
        for chunk in wording.split():
            found = self.terms_of.get(chunk)
            if found is None:
                stopwords = self.analyzer.stopwords
                found = self.terms_of[chunk] = [t for w, t in self.analyzer.pairs(chunk) if w not in stopwords]
            terms += found
        return " ".join(terms) or key


BLOCK_LIMIT = 32
"""Group names one failed search is compared with at most (see _GapBlocks)."""


class _GapBlocks:
    """Which group names a failed search may join: at most BLOCK_LIMIT sharing a word start with it.

    Comparing every search with every group is quadratic (40,000 distinct searches: minutes).
    Two wordings that token_set_ratio scores 80 or more have words in common, or near (a typo:
    "passwrd", "password"; run together: "giftwrap", "gift wrap"), and near words nearly always
    begin alike. So every group name is filed under its words' first 3 letters (stop words
    aside) and the first 4 of all its letters, and a search is compared with the names filed
    under its own starts, rarest start first ("ref" of "refund" says more than "ord" of
    "order"), biggest group first within one, at most BLOCK_LIMIT names: O(n log n) in all.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self.index: dict[str, list[int]] = {}
        self.blocks = {key: self._keys(key) for key in keys}
        df: Counter = Counter(b for blocks in self.blocks.values() for b in blocks)
        for key, blocks in self.blocks.items():
            self.blocks[key] = sorted(blocks, key=lambda b: (df[b], b))  # rarest first

    @staticmethod
    def _keys(key: str) -> set[str]:
        words = [w for w in key.split() if w not in _STOPWORDS] or key.split()
        return {word[:3] for word in words} | {"\0" + key.replace(" ", "")[:4]}

    def add(self, key: str, position: int) -> None:
        index = self.index
        for block in self.blocks[key]:
            postings = index.get(block)
            if postings is None:
                index[block] = [position]
            elif len(postings) < BLOCK_LIMIT:
                postings.append(position)

    def candidates(self, key: str) -> list[int]:
        found: set[int] = set()
        index = self.index
        for block in self.blocks[key]:
            postings = index.get(block)
            if not postings:
                continue
            if len(found) + len(postings) < BLOCK_LIMIT:
                found.update(postings)
            else:
                for position in postings:
                    found.add(position)
                    if len(found) >= BLOCK_LIMIT:
                        return sorted(found)
        return sorted(found)


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


def nearest_by_search(rank: Callable[[str, int], list[str]], known: set[str]) -> Callable[[str], list[str]]:
    """A nearest-articles finder that asks the site's own search (`rank(query, limit)` -> ids)."""

    def nearest(query: str) -> list[str]:
        return _first_known(rank(query, NEAREST_LIMIT * 2), known)

    return nearest


def _first_known(ids: Iterable[str], known: set[str]) -> list[str]:
    found: list[str] = []
    for hid in ids:
        if hid in known and hid not in found:
            found.append(hid)
            if len(found) == NEAREST_LIMIT:
                break
    return found


def add_nearest(gaps: list[dict], articles: list[dict], rank: Callable[[str, int], list[str]] | None = None,
                meaning: Meaning | None = None) -> None:
    """Give each gap its `nearest` articles among `articles`: the hybrid ranking's (`meaning`) for the
    GAP_MEANING_GROUPS biggest, the words' ranking's (`rank`) for the others, titles without either."""
    if not gaps:
        return
    known = {a["id"] for a in articles}
    nearest = nearest_by_search(rank, known) if rank is not None else nearest_by_title(articles)
    head = gaps[:GAP_MEANING_GROUPS] if meaning is not None else []
    if head:
        for gap, reading in zip(head, meaning([g["query"] for g in head])):
            gap["nearest"] = _first_known(reading.ranked, known)
    for gap in gaps[len(head):]:
        gap["nearest"] = nearest(gap["query"])


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
        if owner is not None and _fold(article.get("owner") or "").lstrip("@") != _fold(owner).lstrip("@"):
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
