"""Counting rules: votes from the store become tallies per article, version and week.

Pure data in, plain data out. The numbers follow a few documented rules:

* **Counting.** One vote per visitor per article per UTC day. When a visitor votes more than
  once on the same article on the same day, their *last* vote that day counts (it is their
  settled opinion: a "no" after a "yes" usually means they read on and found it lacking).
  And at most ``CAP_PER_ADDRESS`` counted votes per client address per article per UTC day
  (the latest), whatever user agents it sends: one person cannot outvote a page's readers.
  Contacts are counted the same way. Comments and reasons are taken from counted votes only.
* **Helpful rate.** ``mean`` is a Bayesian mean shrunk toward the site's average helpful rate
  in the period: ``(helpful + M * site) / (votes + M)`` with ``M = PRIOR_STRENGTH`` pseudo-votes,
  so an article with two votes is not ranked above one with two hundred.
* **Uncertainty.** ``low`` and ``high`` are the 95% Wilson score interval (``Z = 1.96``) of the
  raw rate ``helpful / votes``; ``votes`` is n.
* **Addresses.** How many client addresses an article's counted votes came from, as far as the
  review's flags need it (none, one, two or more); a vote stored before addresses were kept counts
  as an address of its own, as it escapes the cap."""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Iterator


PRIOR_STRENGTH = 5
"""Pseudo-votes at the site's average that every article's mean starts from."""
PRIOR_FALLBACK = 0.5
"""The prior mean when the period holds no vote at all."""
Z = 1.96
"""Normal quantile for the 95% Wilson interval."""
CAP_PER_ADDRESS = 3
"""Counted votes one client address may give one article in one UTC day."""
LATEST_COMMENTS = 5
"""How many of an article's latest comments the report keeps."""
_SEQ = itertools.count()  # heap tie-breaker, so two equal comments never compare their dicts
COUNTING_RULE = ("one vote per visitor per article per UTC day; the visitor's last vote that day counts; "
                 f"at most {CAP_PER_ADDRESS} per client address per article per UTC day")


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


def rounded(x: float | None) -> float | None:
    """Round for output: four decimals keep JSON small and exact to compare."""
    return None if x is None else round(x, 4)


def week_of(d: date) -> date:
    """The Monday that starts `d`'s ISO week."""
    return d - timedelta(days=d.weekday())


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


# --- tallies: counted votes, aggregated -----------------------------------------------------


@dataclass
class Cell:
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
class Addresses:
    """The client addresses of one article's counted votes: their smallest and largest hash, how many
    votes had one, and how many had none (rows from before addresses were kept)."""

    low: str | None = None
    high: str | None = None
    known: int = 0
    unknown: int = 0

    def add(self, address: str | None) -> None:
        """Count one vote's address (None: unknown, its own)."""
        if address is None:
            self.unknown += 1
        else:
            self.merge(address, address, 1, 0)

    def merge(self, low: str | None, high: str | None, known: int, unknown: int) -> None:
        """Add a group of votes: their smallest and largest address, votes with one and without."""
        if known:
            self.low = low if self.low is None or low < self.low else self.low
            self.high = high if self.high is None or high > self.high else self.high
        self.known += known
        self.unknown += unknown

    def distinct(self) -> int:
        """How many addresses the votes came from: 0, 1, or 2 meaning two or more."""
        return min(2, (0 if not self.known else 1 if self.low == self.high else 2) + self.unknown)


@dataclass
class Tallies:
    """Counted votes aggregated per article: by version, by week, by reason; latest comments."""

    raw_votes: int = 0
    versions: dict[str, dict[str, Cell]] = field(default_factory=lambda: defaultdict(dict))
    weeks: dict[str, dict[date, Cell]] = field(default_factory=lambda: defaultdict(dict))
    reasons: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    comments: dict[str, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    addresses: dict[str, Addresses] = field(default_factory=lambda: defaultdict(Addresses))

    def weeks_of(self, article_ids: list[str]) -> dict[str, dict[date, Cell]]:
        """Week-by-week cells of these articles (the SQL tally fetches them only when asked)."""
        return {aid: self.weeks.get(aid, {}) for aid in article_ids}

    def add_counted(self, vote: dict) -> None:
        """Add one counted vote (already deduplicated)."""
        article, at = vote["article"], utc(vote["created_at"])
        helpful = bool(vote["helpful"])
        self.versions[article].setdefault(vote["version"], Cell()).add(helpful, at)
        self.weeks[article].setdefault(week_of(at.date()), Cell()).add(helpful, at)
        self.addresses[article].add(vote.get("address"))
        if not helpful and vote.get("reason"):
            self.reasons[article][vote["reason"]] += 1
        if vote.get("comment"):
            self.add_comment(article, vote)

    def add_comment(self, article: str, vote: dict) -> None:
        """Keep the article's LATEST_COMMENTS newest comments (a bounded heap)."""
        item = (utc(vote["created_at"]), vote.get("vote_id") or "", next(_SEQ), vote)
        heap = self.comments[article]
        if len(heap) < LATEST_COMMENTS:
            heapq.heappush(heap, item)
        elif item[:2] > heap[0][:2]:
            heapq.heapreplace(heap, item)


def count_votes(votes: Iterable[dict]) -> Iterator[dict]:
    """Apply the counting rule: one vote per visitor per article per UTC day, the last one;
    then at most CAP_PER_ADDRESS of those per client address per article per day, the latest."""
    kept: dict[tuple, dict] = {}
    for vote in votes:
        at = utc(vote["created_at"])
        key = (vote["visitor"], vote["article"], at.date())
        old = kept.get(key)
        if old is None or (at, vote.get("vote_id") or "") > (utc(old["created_at"]), old.get("vote_id") or ""):
            kept[key] = vote
    counted: list[dict] = []
    by_address: dict[tuple, list[dict]] = defaultdict(list)
    for vote in kept.values():
        if vote.get("address") is None:
            counted.append(vote)  # rows from before addresses were kept: not capped
        else:
            by_address[(vote["address"], vote["article"], utc(vote["created_at"]).date())].append(vote)
    for group in by_address.values():
        if len(group) > CAP_PER_ADDRESS:
            group = sorted(group, key=lambda v: (utc(v["created_at"]), v.get("vote_id") or ""),
                           reverse=True)[:CAP_PER_ADDRESS]
        counted.extend(group)
    return iter(counted)


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
        key = (row["visitor"], row["article"], utc(row["created_at"]).date())
        if key not in seen:
            seen.add(key)
            counts[row["article"]] += 1
    return counts
