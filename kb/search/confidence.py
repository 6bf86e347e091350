"""The browser engine's confidence: how likely a result is to answer the query, from its ranking alone.

The help site's worker (kb/assets/search/worker.js) has only its own ranking to go by, so this model
uses nothing else; it is the twin of the worker's `confidence`, and a test holds both equal on the
public sets, per language. The site (the "no good answer" state), `kb bench search` (the `kb`
engine) and the search API of a site without vectors use it.

P(answers) = 1 / (1 + exp(-(intercept + sum(weight * feature)))), over four features that mean the
same in any language and do not grow with the help center or the query's length:

- `share`: the result's score over the best score the query's words could reach (capped at 1);
- `lead`: its share less the best other result's, which is at least the floor any listed result
  reaches (MIN_SHARE): a lone result leads only by what it has above that floor, since the others
  fell somewhere under it; below the top, negative;
- `title_words`: the share of the query's words found in its title;
- `log_matched`: the log of how many of the query's words it matched (0 for one word): evidence
  grows with the words that matched, never with the words typed.

The build writes the model into the index (`index["confidence"]`: weights, the threshold below
which the site says it found no good answer, and where its list of results stops), so the worker
never carries coefficients of its own.
`kb bench calibrate` fits them (kb/bench/calibrate.py).
"""

from __future__ import annotations

import functools
import math
from typing import Mapping, Protocol, Sequence

from kb.search.text import analyzer_for

FEATURES = ("share", "lead", "title_words", "log_matched")
# Results must reach this share of the query's best possible score to be listed at all (the ranking,
# kb.search.ranker, drops the others: no noise for off-topic queries).
MIN_SHARE = 0.12
BASE_LANGUAGE = "en"  # the model of languages without one of their own
# One set of weights for every language, an intercept per language (Polish stems make longer,
# looser matches). Fitted by `kb bench calibrate ../shared/eval/stackfaq ../shared/eval/banking77
# ../shared/eval/clincbank ../shared/eval/plhelp --language plhelp=pl` (in-scope and out-of-scope
# queries together; README "How the browser knows it has no good answer").
COEFFICIENTS = {
    "en": {"intercept": -5.7535, "share": 1.6997, "lead": 10.1575, "title_words": 4.7515, "log_matched": 1.7223},
    "pl": {"intercept": -5.0273, "share": 1.6997, "lead": 10.1575, "title_words": 4.7515, "log_matched": 1.7223},
}
# Below this confidence the site says it found no good answer: the threshold at which the site's
# decision (a confident answer, or "no good answer") is right most often, cross-validated, each
# public set counting alike (`kb bench calibrate` prints the table).
THRESHOLD = 0.55
# The results' list stops where a result scores under this share of the top result's: on the
# public sets, 0.5 keeps 97.5-99.7% of the relevant articles found in the first 20 results, and
# lists 4-13 results on average instead of 12-20; 0.6 would lose 5% on banking77 (`kb bench
# calibrate` prints the table).
CUT = 0.5


class Ranked(Protocol):
    """What the model reads of a ranked result (kb.search.ranker.Hit)."""

    title: str
    score: float
    share: float
    terms: tuple[str, ...]
    words: int


def features(hits: Sequence[Ranked], number: int, language: str | None = BASE_LANGUAGE) -> dict[str, float]:
    """The model's inputs for result `number` of `hits` (ranked with `language`'s analyzer)."""
    hit = hits[number]
    share = min(1.0, hit.share)
    others = [min(1.0, h.share) for i, h in enumerate(hits) if i != number]
    words = max(1, hit.words)
    matched = len(hit.terms)
    title = title_terms(hit.title, language)
    return {"share": share, "lead": share - max([*others, MIN_SHARE]),
            "title_words": sum(1 for term in hit.terms if term in title) / words,
            "log_matched": math.log(matched) if matched else 0.0}


@functools.lru_cache(maxsize=100_000)
def title_terms(title: str, language: str | None) -> frozenset[str]:
    """The index terms of an article's title, in `language` (kept: the same articles come up often)."""
    return frozenset(analyzer_for(language).terms(title))


def model_for(language: str | None) -> dict:
    """The model the build ships with an index in `language` (its primary subtag; English's where it
    has none): {"weights": {intercept, feature...}, "threshold", "cut"}."""
    primary = (language or BASE_LANGUAGE).split("-")[0].lower()
    return {"weights": dict(COEFFICIENTS.get(primary, COEFFICIENTS[BASE_LANGUAGE])), "threshold": THRESHOLD,
            "cut": CUT}


def model_of(index: Mapping) -> dict:
    """The model shipped with `index` (one built before models shipped gets its language's)."""
    return index.get("confidence") or model_for(index.get("language"))


def probability(weights: Mapping[str, float], x: Mapping[str, float]) -> float:
    """The model's probability for features `x`, summed in FEATURES' order (as the worker sums)."""
    z = weights["intercept"]
    for name in FEATURES:
        z += weights[name] * x[name]
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def confidence(hits: Sequence[Ranked], number: int, index: Mapping) -> float:
    """The estimated probability that result `number` of `hits`, ranked over `index`, answers the query."""
    return probability(model_of(index)["weights"], features(hits, number, index.get("language")))


def confident(hits: Sequence[Ranked], index: Mapping) -> bool:
    """True when the top result is a good answer by the index's model and threshold."""
    return bool(hits) and confidence(hits, 0, index) >= model_of(index)["threshold"]
