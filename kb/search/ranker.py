"""The Python twin of the browser's ranking: BM25F impacts summed over each query word's best match.

kb `search`, the collector's search API, golden queries and the report's near-miss suggestions all
rank with this module; kb/assets/search/worker.js ranks the same way in the browser, and a test
keeps both in agreement.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import yaml
from rapidfuzz import process
from rapidfuzz.distance import OSA

from kb.articles import Problem
from kb.search.confidence import MIN_SHARE
from kb.search.index import FORMAT, IMPACT_SCALE, SearchError, load_index
from kb.search.text import analyzer_for, fold, typo_budget

# Match factors (integers, so both engines compute identical sums): an exact word beats a
# synonym, which beats a completion of the word being typed, which beats a typo correction.
FACTOR_EXACT = 8
FACTOR_SYNONYM = 7
FACTOR_PREFIX = 6
FACTOR_FUZZY = (8, 6, 4)  # by edit distance 0, 1, 2
PREFIX_LIMIT = 32  # completions considered for a short prefix
SUFFIX_CUT = 3  # letters a typo in a word's ending may hide
PREFIX_MIN = 3  # letters typed before completing (two match too much to mean anything)
# What a query word that matches nothing adds to the query's best possible score.
UNKNOWN_WORD = 2 * IMPACT_SCALE * FACTOR_EXACT


@dataclass(frozen=True)
class Hit:
    """One ranked result."""

    id: str
    title: str
    url: str
    score: float
    share: float = 0.0  # score / the query's best possible score (a confidence feature)
    terms: tuple[str, ...] = ()  # the index terms that matched, one per matched query word
    words: int = 0  # query words (after removing repeats)


class _Prepared:
    """Lookup structures derived once per index (the browser does the same at setup)."""

    def __init__(self, index: dict) -> None:
        self.terms: list[str] = index["terms"]
        self.ids = {t: i for i, t in enumerate(self.terms)}
        self.postings: list[list[int]] = index["postings"]
        self.synonyms: dict[str, list[str]] = index.get("synonyms", {})
        self.docs = index["docs"]
        self.analyzer = analyzer_for(index.get("language"))
        self.forms: dict[str, str] = index.get("forms", {})
        self.by_length: dict[int, list[str]] = defaultdict(list)
        for t in self.terms:
            self.by_length[len(t)].append(t)
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def row(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """A term's postings as (document numbers, impacts), decoded once."""
        decoded = self._rows.get(term)
        if decoded is None:
            flat = np.asarray(self.postings[term], dtype=np.int64)
            decoded = self._rows[term] = (np.cumsum(flat[0::2]), flat[1::2])
        return decoded

    def decode_all(self) -> None:
        """Decode every term's postings at once (what a server does at start, not at its first queries)."""
        lengths = np.fromiter(map(len, self.postings), dtype=np.int64, count=len(self.postings)) // 2
        flat = np.fromiter(chain.from_iterable(self.postings), dtype=np.int64, count=int(2 * lengths.sum()))
        docs = np.cumsum(flat[0::2])
        impacts = flat[1::2].copy()
        del flat
        ends = np.cumsum(lengths)
        starts = ends - lengths
        # each row's document numbers restart from its own first delta
        docs -= np.repeat(np.concatenate(([0], docs))[starts], lengths)
        for term, (start, end) in enumerate(zip(starts.tolist(), ends.tolist())):
            if term not in self._rows:
                self._rows[term] = (docs[start:end], impacts[start:end])


_prepared: dict[int, tuple[dict, _Prepared]] = {}
PREPARED_KEPT = 8  # indexes kept prepared at once: a server answers for every language's site


def prepare(index: dict) -> None:
    """Make every lookup structure of `index` now, so no query pays for its first touch of a term."""
    _prepare(index).decode_all()


def _prepare(index: dict) -> _Prepared:
    cached = _prepared.get(id(index))
    if cached is None or cached[0] is not index:
        if index.get("format") != FORMAT or not index.get("docs"):
            raise SearchError("the search index is empty or not a kb search index")
        cached = (index, _Prepared(index))
        if len(_prepared) >= PREPARED_KEPT:
            _prepared.pop(next(iter(_prepared)))
    _prepared.pop(id(index), None)
    _prepared[id(index)] = cached  # most recently used last
    return cached[1]


def query_terms(index: dict, query: str) -> list[dict[int, int]]:
    """The query as groups of index terms, each term with its match factor."""
    p = _prepare(index)
    pairs = p.analyzer.pairs(query, p.forms)
    typing = bool(query) and fold(query[-1]).isalnum()
    # Stop words count only in a query of nothing else; a word still being typed may yet become
    # another ("jak" -> "jakość"), so it stays.
    if any(word not in p.analyzer.stopwords for word, _ in pairs):
        pairs = [pair for i, pair in enumerate(pairs)
                 if pair[0] not in p.analyzer.stopwords or (typing and i == len(pairs) - 1)]
    groups: list[dict[int, int]] = []
    seen: set[str] = set()
    for pos, (word, s) in enumerate(pairs):
        if s in seen:
            continue
        seen.add(s)
        variants: dict[int, int] = {}

        def offer(term: str, factor: int) -> None:
            i = p.ids.get(term)
            if i is not None and variants.get(i, 0) < factor:
                variants[i] = factor

        offer(s, FACTOR_EXACT)
        for alternative in p.synonyms.get(s, []):
            offer(alternative, FACTOR_SYNONYM)
        if typing and pos == len(pairs) - 1 and len(word) >= PREFIX_MIN and s not in p.ids:
            for t in _completions(p.terms, word):
                offer(t, FACTOR_PREFIX)
            # stems shorter than the typed part: "shippi" is on its way to "shipping" -> "ship"
            for cut in range(max(PREFIX_MIN, len(word) - 2), len(word)):
                offer(word[:cut], FACTOR_PREFIX)
        if p.analyzer.family_prefix and len(s) >= p.analyzer.family_prefix:
            # other forms of the word: Polish stems of one word can differ in their endings
            # ("przenieść" -> "przeni", "przeniesienie" -> "przeniesien")
            for t in _completions(p.terms, s[:p.analyzer.family_prefix]):
                offer(t, FACTOR_PREFIX)
        budget = typo_budget(len(s))
        if budget and s not in p.ids:
            for t, distance in _near(p, s, budget):
                offer(t, FACTOR_FUZZY[distance])
            # a slip in the ending ("trackign") hides the stem: the word less its last letters,
            # counted as one edit more
            for cut in range(1, SUFFIX_CUT + 1):
                if len(word) - cut >= PREFIX_MIN + 1:
                    for t, distance in _near(p, word[:-cut], budget - 1, exact=True):
                        offer(t, FACTOR_FUZZY[distance + 1])
        groups.append(variants)
    return groups


def _completions(terms: list[str], prefix: str) -> list[str]:
    start = bisect.bisect_left(terms, prefix)
    out = []
    for t in terms[start:start + PREFIX_LIMIT]:
        if not t.startswith(prefix):
            break
        out.append(t)
    return out


def _near(p: _Prepared, s: str, budget: int, exact: bool = False) -> list[tuple[str, int]]:
    """Index terms within `budget` OSA edits of `s` (a swapped pair counts as one edit)."""
    out: list[tuple[str, int]] = []
    if exact and s in p.ids:
        out.append((s, 0))
    for length in range(len(s) - budget, len(s) + budget + 1):
        choices = p.by_length.get(length)
        if not choices:
            continue
        for t, distance, _ in process.extract(
            s, choices, scorer=OSA.distance, processor=None, score_cutoff=budget, limit=None
        ):
            if distance > 0:
                out.append((t, int(distance)))
    return out


def search(index: dict, query: str, limit: int = 10) -> list[Hit]:
    """Rank the index's articles for `query`, best first.

    Each query word adds, per article, the best of its terms' impacts times their match factors;
    the sums are integers, as in the browser, so both order results identically (score
    descending, then article order). Postings are summed as arrays: a large help center stays fast.
    """
    p = _prepare(index)
    groups = query_terms(index, query)
    n = len(p.docs)
    totals = np.zeros(n, dtype=np.int64)
    best = np.zeros(n, dtype=np.int64)
    best_possible = 0
    for variants in groups:
        if len(variants) == 1:  # most words match one term: its values go straight into the sums
            [(term, factor)] = variants.items()
            docs, impacts = p.row(term)
            values = impacts * factor
            totals[docs] += values  # a term's documents are distinct
            best_possible += int(values.max()) if len(values) else 0
            continue
        best[:] = 0
        for term, factor in variants.items():
            docs, impacts = p.row(term)
            _raise(best, docs, impacts * factor)
        totals += best
        # a word the index does not know at all still counts: it raises the bar for the others
        best_possible += int(best.max()) if variants else UNKNOWN_WORD
    candidates = np.flatnonzero((totals > 0) & (totals >= best_possible * MIN_SHARE))
    if not len(candidates):
        return []
    if len(candidates) > limit:  # the best `limit` (ties included at the edge), then sorted exactly
        edge = np.partition(totals[candidates], len(candidates) - limit)[len(candidates) - limit]
        candidates = candidates[totals[candidates] >= edge]
    ranked = candidates[np.lexsort((candidates, -totals[candidates]))][:limit]
    scale = IMPACT_SCALE * FACTOR_EXACT
    winners = np.array([_winners(p, variants, ranked) for variants in groups]).T.tolist() if groups \
        else [[] for _ in ranked]
    hits = []
    for d, total, won in zip(ranked.tolist(), totals[ranked].tolist(), winners):
        hits.append(Hit(p.docs[d][0], p.docs[d][1], p.docs[d][2], total / scale, total / best_possible,
                        tuple(p.terms[w] for w in won if w >= 0), len(groups)))
    return hits


def _raise(best: np.ndarray, docs: np.ndarray, values: np.ndarray) -> None:
    """best[docs] = max(best[docs], values); a term's documents are distinct, so plain indexing does."""
    np.maximum(best[docs], values, out=values)
    best[docs] = values


def _winners(p: _Prepared, variants: dict[int, int], ranked: np.ndarray) -> np.ndarray:
    """For each ranked document, the term of `variants` that gave it its value for this query word
    (the first to reach it, as in the sums), or -1."""
    if len(variants) == 1:
        [term] = variants
        docs, _ = p.row(term)
        at = np.minimum(np.searchsorted(docs, ranked), len(docs) - 1)
        return np.where(docs[at] == ranked, term, -1)
    winner = np.full(len(ranked), -1, dtype=np.int64)
    value = np.zeros(len(ranked), dtype=np.int64)
    for term, factor in variants.items():
        docs, impacts = p.row(term)
        at = np.minimum(np.searchsorted(docs, ranked), len(docs) - 1)
        here = docs[at] == ranked
        gain = np.where(here, impacts[at] * factor, 0)
        better = gain > value
        winner[better], value[better] = term, gain[better]
    return winner


def search_site(site_dir: Path, query: str, limit: int = 10) -> list[dict]:
    """The built site's ranking for `query` as JSON objects (the collector's GET /api/search)."""
    index = load_index(site_dir)
    return [{"id": h.id, "title": h.title, "url": h.url, "score": round(h.score, 4)}
            for h in search(index, query, limit)]


# ---------------------------------------------------------------------------------------------
# Golden queries


def check_golden(index: dict, golden_path: Path, display: str | None = None) -> list[Problem]:
    """Run articles/golden-queries.yml against the index; one Problem per query that misses.

    `display` is the path to show in problems (e.g. relative to the project); default as given.
    """
    golden_path = Path(golden_path)
    shown = display or str(golden_path)
    try:
        node = yaml.compose(golden_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [Problem(shown, mark.line + 1 if mark else None, "error",
                        f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        return [Problem(shown, node.start_mark.line + 1, "error",
                        "expected a list of {query, expect} entries")]
    problems = []
    ids = {d[0] for d in index["docs"]}
    for item in node.value:
        line = item.start_mark.line + 1
        entry = yaml.safe_load(yaml.serialize(item)) if isinstance(item, yaml.MappingNode) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("query"), str) \
                or not isinstance(entry.get("expect"), str):
            problems.append(Problem(shown, line, "error", "expected {query: '...', expect: article-id}",
                                    "write  - query: where is my parcel\n          expect: track-order"))
            continue
        query, expect = entry["query"], entry["expect"]
        if expect not in ids:
            problems.append(Problem(shown, line, "error",
                                    f"query '{query}' expects '{expect}', which is not an article id"))
            continue
        hits = search(index, query, limit=1)
        if not hits:
            problems.append(Problem(shown, line, "error", f"query '{query}' finds nothing, expected '{expect}'",
                                    "add the customer's words to the article's questions: or to synonyms.yml"))
        elif hits[0].id != expect:
            problems.append(Problem(shown, line, "error",
                                    f"query '{query}' ranks '{hits[0].id}' first, expected '{expect}'",
                                    "add the customer's words to the article's questions: or to synonyms.yml"))
    return problems
