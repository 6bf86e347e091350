"""Simulated history: votes, failed searches and contact clicks a newcomer can report on.

Everything made here is labelled: every visitor id starts with ``sim-`` (real visitors are
hashes), so simulated rows can be told apart from real ones and deleted. The same seed gives
the same ids, so running the simulation twice stores each row once.

Two generators: `simulate_history` (a believable few months on a real site's manifest, for the
demo and the README) and `synthetic_votes` (a million plain votes for `kb bench report`).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator

from kb.votes.schema import REASONS

SIM_PREFIX = "sim-"
"""Every simulated visitor id starts with this."""

# Profiles: (share of helpful votes, votes per 30 days).
GOOD = "good"
WEAK = "weak"
IMPROVED = "improved"
FEW = "few"
QUIET = "quiet"

COMMENTS = {
    "en": {
        "not_answered": [
            "I wanted to know if I can change the delivery address after the order has shipped.",
            "Doesn't say what happens if I'm not home when the courier comes.",
            "My question was about business accounts, this only covers personal ones.",
            "Still no idea how long this takes.",
        ],
        "unclear": [
            "Too many steps, I got lost at step 3.",
            "What does 'pending authorisation' actually mean?",
            "The screenshots don't match what I see in the app.",
        ],
        "outdated": [
            "The Settings menu has moved, there is no 'Security' tab any more.",
            "The price shown here is not what I was charged.",
            "This says 14 days but the returns page says 30.",
        ],
        "incomplete": [
            "The link to the returns form is broken.",
            "Nothing about orders paid with a gift card.",
            "What if I paid in instalments?",
        ],
        "yes": [
            "Quick and clear, thanks!",
            "Exactly what I needed.",
            "Found it in seconds.",
        ],
    },
    "pl": {
        "not_answered": ["Nie ma nic o zwrocie przy płatności za pobraniem.", "Chciałam wiedzieć, ile to potrwa."],
        "unclear": ["Nie rozumiem, gdzie mam wpisać numer zamówienia.", "Za dużo kroków, zgubiłem się."],
        "outdated": ["Link do formularza prowadzi do starej strony.", "Ceny dostawy są inne niż w koszyku."],
        "incomplete": ["Brakuje informacji o paczkomatach.", "Co jeśli kurier nie przyjechał?"],
        "yes": ["Dziękuję, wszystko jasne!", "Super, o to chodziło."],
    },
}

FAILED_SEARCHES = [
    # (weight, wordings customers typed, typos and all): none of these has its own article.
    (24, ["cancel subscription", "cancel my subscription", "cancel subscripton", "stop subscription"]),
    (17, ["price match", "price matching", "do you price match"]),
    (13, ["student discount", "student discunt", "students discount"]),
    (11, ["click and collect", "click & collect", "click and colect"]),
    (9, ["gift wrapping", "gift wrap", "giftwrap"]),
    (7, ["warranty", "warranty repair", "waranty"]),
    (6, ["size guide", "size chart", "sizing guide"]),
    (4, ["odbiór osobisty", "odbior osobisty"]),
    (3, ["klarna"]),
]
FAILED_SEARCHES_BY_LANGUAGE = {
    # A help center per language hears its own customers' words (the list above: one site for all).
    "en": FAILED_SEARCHES[:7] + [(3, ["klarna"])],
    "pl": [(14, ["anulowanie subskrypcji", "anulowac subskrypcje", "jak anulować subskrypcję"]),
           (9, ["odbiór osobisty", "odbior osobisty", "odbiór w sklepie"]),
           (6, ["pakowanie na prezent", "pakowanie prezentu"]),
           (5, ["gwarancja", "naprawa gwarancyjna", "gwarancja naprawa"]),
           (3, ["klarna"])],
}
CHANNELS = ("chat", "email", "phone")


@dataclass
class History:
    """A simulated history ready for Store.add_votes / add_searches / add_contacts."""

    votes: list[dict] = field(default_factory=list)
    searches: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)
    old_versions: dict[str, str] = field(default_factory=dict)


def old_version_of(article: dict) -> str:
    """A made-up earlier version id for `article`, shaped like the real ones (8 hex digits)."""
    digest = hashlib.sha1(f"sim-old:{article['id']}:{article.get('version')}".encode()).hexdigest()
    return digest[: max(8, len(article.get("version") or ""))]


def _profiles(article_ids: list[str], rng: random.Random) -> dict[str, str]:
    """Deal profiles out so that every kind of finding shows: one improved, one tiny, a few weak."""
    ids = sorted(article_ids)
    rng.shuffle(ids)
    profiles: dict[str, str] = {}
    weak = max(1, len(ids) // 7)
    quiet = max(1, len(ids) // 10) if len(ids) >= 5 else 0
    for i, aid in enumerate(ids):
        if i == 0:
            profiles[aid] = IMPROVED
        elif i == 1:
            profiles[aid] = FEW
        elif i < 2 + weak:
            profiles[aid] = WEAK
        elif i < 2 + weak + quiet:
            profiles[aid] = QUIET
        else:
            profiles[aid] = GOOD
    return profiles


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _visitor(rng: random.Random) -> str:
    return f"{SIM_PREFIX}{rng.getrandbits(48):012x}"


def simulate_history(manifest: dict, *, days: int = 90, seed: int = 1, now: datetime | None = None,
                     language: str | None = None) -> History:
    """A believable `days`-long history for the site in `manifest`, ending at `now`.

    With `language`, the manifest is that language's help center: every row carries the language,
    and comments and failed searches are in it where there are some.
    """
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    start = now - timedelta(days=days)
    rng = random.Random(seed)
    articles = sorted(manifest["articles"], key=lambda a: a["id"])
    history = History(profiles=_profiles([a["id"] for a in articles], rng))
    span = days * 86400

    def moment(lo: float = 0.0, hi: float = 1.0) -> datetime:
        return start + timedelta(seconds=int(span * rng.uniform(lo, hi)))

    for article in articles:
        aid = article["id"]
        profile = history.profiles[aid]
        if language is not None:
            lang = language if language in COMMENTS else "en"
        else:
            lang = "pl" if (article.get("category") or "").split("/")[0] == "pl" else "en"
        per_month = {GOOD: rng.randint(8, 30), WEAK: rng.randint(12, 30), IMPROVED: 40, FEW: 0, QUIET: 0}[profile]
        plan: list[tuple[str, float, datetime]] = []  # (version, chance of "yes", when)
        if profile == IMPROVED:
            # Edited 55% of the way in: the old text failed customers, the new one works.
            old = old_version_of(article)
            history.old_versions[aid] = old
            edit = 0.55
            for _ in range(round(per_month * days / 30 * edit)):
                plan.append((old, 0.3, moment(0, edit)))
            for _ in range(round(per_month * days / 30 * (1 - edit))):
                plan.append((article["version"], 0.88, moment(edit, 1)))
        elif profile == FEW:
            plan = [(article["version"], 0.0, moment(0.5, 1)) for _ in range(2)]
        else:
            p = rng.uniform(0.15, 0.35) if profile == WEAK else rng.uniform(0.72, 0.95)
            plan = [(article["version"], p, moment()) for _ in range(round(per_month * days / 30))]

        for version, p_yes, at in plan:
            visitor = _visitor(rng)
            helpful = rng.random() < p_yes
            vote = _vote(rng, aid, version, helpful, visitor, at, lang)
            history.votes.append(vote)
            if profile != FEW and rng.random() < 0.04:
                # The same visitor changes their mind later that day: only the last vote counts.
                later = min(at + timedelta(minutes=rng.randint(1, 120)), now - timedelta(seconds=1))
                if later.date() == at.date() and later > at:
                    history.votes.append(_vote(rng, aid, version, not helpful, visitor, later, lang))
            if not helpful and rng.random() < (0.35 if profile in (WEAK, IMPROVED) else 0.1):
                history.contacts.append({
                    "event_id": _uuid(rng), "channel": rng.choice(CHANNELS), "article": aid,
                    "query": None, "visitor": visitor, "created_at": at + timedelta(seconds=rng.randint(20, 300)),
                })

    failed = FAILED_SEARCHES if language is None else FAILED_SEARCHES_BY_LANGUAGE.get(language, [])
    for weight, wordings in failed:
        for _ in range(weight):
            query = wordings[0] if rng.random() < 0.5 else rng.choice(wordings)
            history.searches.append({
                "event_id": _uuid(rng), "query": query, "results": 0, "article": None,
                "visitor": _visitor(rng), "created_at": moment(),
            })
            if rng.random() < 0.3:
                history.contacts.append({
                    "event_id": _uuid(rng), "channel": rng.choice(CHANNELS), "article": None,
                    "query": query, "visitor": _visitor(rng), "created_at": moment(),
                })
    for rows in (history.votes, history.searches, history.contacts):
        rows.sort(key=lambda r: (r["created_at"], r.get("vote_id") or r.get("event_id")))
        for row in rows:
            row["created_at"] = min(row["created_at"], now)
            if language is not None:
                row["language"] = language
    return history


def _vote(rng: random.Random, aid: str, version: str, helpful: bool, visitor: str, at: datetime, lang: str) -> dict:
    reason = None if helpful else rng.choice(REASONS)
    comment = None
    if rng.random() < (0.3 if not helpful else 0.05):
        comment = rng.choice(COMMENTS[lang]["yes" if helpful else reason])
    return {
        "vote_id": _uuid(rng), "article": aid, "version": version, "helpful": helpful,
        "reason": reason, "comment": comment, "visitor": visitor, "created_at": at,
    }


# --- the bench's synthetic load -------------------------------------------------------------


def synthetic_manifest(articles: int = 10_000, *, now: datetime | None = None) -> dict:
    """A manifest of `articles` made-up articles in 50 categories, some reviewed, some not."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    rows = []
    for i in range(articles):
        reviewed = (now - timedelta(days=(i * 37) % 400)).date().isoformat() if i % 5 else None
        rows.append({
            "id": f"article-{i:05d}", "version": f"{i * 2654435761 % 2**32:08x}",
            "title": f"Synthetic article {i}", "url": f"c{i % 50}/article-{i:05d}/",
            "category": f"c{i % 50}", "owner": f"@team-{i % 7}",
            "reviewed": reviewed, "review_every": 180 if i % 5 else None,
        })
    return {"version": 1, "site_name": "Synthetic bench site", "generated_at": now.isoformat(), "articles": rows}


def synthetic_votes(manifest: dict, votes: int = 1_000_000, *, days: int = 90, seed: int = 1,
                    now: datetime | None = None, batch: int = 20_000) -> Iterator[list[dict]]:
    """`votes` simulated votes spread over the manifest's articles, in batches for the store.

    One vote in 20 repeats a visitor's vote on the same article the same day, so the counting
    rule has work to do; one article in 10 has an older version.
    """
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    rng = random.Random(seed)
    articles = manifest["articles"]
    quality = [rng.betavariate(6, 2) for _ in articles]
    start = now - timedelta(days=days)
    span = days * 86400
    out: list[dict] = []
    last: dict | None = None
    for n in range(votes):
        if last is not None and rng.random() < 0.05:
            i = last["_i"]
            at = last["created_at"]
            visitor = last["visitor"]
        else:
            i = rng.randrange(len(articles))
            at = start + timedelta(seconds=rng.randrange(span))
            visitor = f"{SIM_PREFIX}{rng.getrandbits(40):010x}"
        article = articles[i]
        version = article["version"]
        if i % 10 == 0 and at < start + timedelta(days=days // 2):
            version = old_version_of(article)
        helpful = rng.random() < quality[i]
        vote = {
            "vote_id": f"{SIM_PREFIX}{seed}-{n}", "article": article["id"], "version": version,
            "helpful": helpful, "reason": None if helpful else REASONS[n % len(REASONS)],
            "comment": "Simulated comment." if not helpful and n % 50 == 0 else None,
            "visitor": visitor, "created_at": at + timedelta(seconds=1 if last is not None and visitor == last["visitor"] else 0),
            "_i": i,
        }
        last = vote
        out.append({k: v for k, v in vote.items() if k != "_i"})
        if len(out) >= batch:
            yield out
            out = []
    if out:
        yield out
