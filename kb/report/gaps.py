"""The review's content gaps: failed searches grouped into what customers did not find, each with
the articles nearest to it.

Failed searches (no results) count one per visitor per query per UTC day, like votes. They are
grouped by their words as the site's search sees them (stems, function words aside), then, where
the site has its vectors, the biggest groups by meaning: their names' vectors close
(GAP_MEANING), or the hybrid ranking answering both with the same articles (GAP_AGREEMENT). Each
gap is named by its most frequent wording, and given its nearest articles: by the hybrid ranking
where the site has its vectors (the GAP_MEANING_GROUPS biggest gaps), by the words' ranking where
it has its index, else by title. `kb bench gaps` measures both joining rules on public sets.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from typing import Callable, Iterable, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from kb.report.tally import utc
from kb.search.meanings import Reading
from kb.search.text import Analyzer, analyzer_for

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
few ("kiedy oddacie kasę" and "kiedy dostanę zwrot pieniędzy", 0.43 apart in meaning, both with
the refund-timing article: 0.74 on the demo).
Measured with `kb bench gaps` on the public sets' questions: at 0.35, 69% (stackfaq), 64%
(banking77) and 69% (clincbank, its out-of-scope questions included) of the pairs it joins ask for
the same article, and it finds 86%, 61% and 73% of the pairs that do (GAP_MEANING alone: 10-17%).
Lower, more of the pairs it adds ask for two articles than for one (0.2: 52% precision); higher,
it finds fewer than two in three on banking77 and clincbank for a few points of precision (0.5:
77%, finding 52-80%). On plhelp, where nearly every question has an article of its own (917 of
its articles measured), it joins 0.11% of all pairs."""
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



def folded(text: str) -> str:
    """Casefold, drop diacritics (ł too) and collapse spaces: the key two searches share."""
    if text.isascii():  # most searches: nothing to strip, casefold is lower
        return " ".join(text.lower().split())
    text = text.replace("ł", "l").replace("Ł", "L")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text.casefold()).strip()


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
        key = folded(query)
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
    out.sort(key=lambda g: (-g["count"], folded(g["query"])))
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
    for word in re.findall(r"\w+", folded(text)):
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
