"""The server's ranking: kb's BM25F (words) fused with the embedding model's similarity (meaning).

Where a server runs (the collector's GET /api/search, `kb mcp`, `kb search`, the report), every
article gets a *meaning* score: how close the query's vector is to the article's parts (its title,
questions and passages, kb.search.embeddings), pooled by a soft maximum,

    meaning = 1 + TAU * log(sum over the article's parts of exp((cosine - 1) / TAU))

which is the best part's cosine when one part stands out, and a little more when several of the
article's ways of saying it come close (an article whose question variants all resemble the query
is a safer bet than one whose single passage happens to). The article as a whole adds its say
twice: the cosine of the article read whole by the model (`whole`: its title, questions and text
as one text of up to 256 tokens, each part read in the light of the others) and the cosine of the
mean of its parts' vectors (`mean`: what they have in common). The words add their evidence:
BM25F's share of the query's best possible score (kb.search.ranker),

    sense = meaning + MEAN_WEIGHT * mean + WHOLE_WEIGHT * whole
    score = sense + WORDS_WEIGHTS[language] * share

over every article (a paraphrase that shares no word with the article still ranks it).

How the weights were chosen: on the four public evaluation sets (clincbank, stackfaq, banking77 in
English, plhelp in Polish), each set's queries split in two halves by a hash of the query; every
combination of TAU 0.01-0.03, MEAN_WEIGHT 0-1, WHOLE_WEIGHT 0-1.5 (alone or pooled with the
parts) and a words weight 0.05-0.5 was ranked by the mean MRR@10 of the four sets on one half, and
the chosen one measured on the other half. One words weight for both languages is a poor fit: the
model reads English better than Polish (meaning alone: 0.78 MRR@10 on plhelp, 0.84-0.95 on the
English sets), so Polish leans more on the words (0.4, chosen on plhelp's half) and English less
(0.1, chosen on the English sets' halves); a language with no weight of its own takes English's.
The article read whole raised plhelp's MRR@10 from 0.82 to 0.85 and banking77's from 0.85 to
0.86, on the half left out as on the whole. TAU 0.02 rather than the 0.01 the halves chose (within
0.002 MRR@10 on every set): it answered fewer out-of-scope questions. 256 tokens rather than the
model's 512: as good by meaning alone on plhelp (0.78), at less than half the cost per article.
`kb bench hybrid` (kb/bench/hybrid.py) prints each ranking's figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kb.search.ranker import Hit, search
from kb.search.vectors import ArticleVectors

TAU = 0.02
MEAN_WEIGHT = 0.5
WHOLE_WEIGHT = 1.0
WORDS_WEIGHTS = {"en": 0.1, "pl": 0.4}  # by language: the model reads English better than Polish
LEXICAL_CANDIDATES = 200  # BM25F results whose word evidence is added (the rest have too little to matter)


@dataclass(frozen=True)
class HybridHit:
    """One result of the hybrid ranking."""

    id: str
    title: str
    url: str
    score: float  # sense + the language's words weight * share (see the module docstring)
    meaning: float  # the soft maximum of the cosines of the article's parts
    above_mean: float  # meaning minus the mean meaning of all the site's articles for this query
    gap: float  # meaning minus the highest meaning of any other article
    mean: float  # the cosine of the article's mean part vector
    whole: float  # the cosine of the article read whole (0 where the vectors have none)
    sense: float  # meaning + MEAN_WEIGHT * mean + WHOLE_WEIGHT * whole: all the meaning evidence
    sense_above_mean: float  # sense minus the mean sense of all the site's articles for this query
    sense_gap: float  # sense minus the highest sense of any other article
    share: float  # BM25F's share of the query's best possible score (0: no word matched)
    words_rank: int  # the article's place in the words-only ranking, from 1 (0: not in it)
    unit: int  # the row (in ArticleVectors) of the article's unit closest to the query
    hit: Hit | None  # the words-only result, with the terms it matched


def words_weight(language: str | None) -> float:
    """The words' weight in a language (its primary subtag), English's where it has none."""
    return WORDS_WEIGHTS.get((language or "en").split("-")[0].lower(), WORDS_WEIGHTS["en"])


def pooled(vectors: ArticleVectors, query_vector: np.ndarray, tau: float = TAU) -> tuple[np.ndarray, np.ndarray]:
    """Per article of `vectors`: the soft maximum of its units' cosines, and its closest unit's row."""
    count = len(vectors.ids)
    if not len(vectors.article):
        return np.full(count, -1.0, np.float32), np.full(count, -1, np.int64)
    cosines = np.where(vectors.parts, vectors.matrix @ query_vector, -np.inf)  # the parts only (not WHOLE)
    weights = np.exp((cosines.astype(np.float64) - 1.0) / tau)
    sums = np.bincount(vectors.article, weights=weights, minlength=count)
    meaning = np.where(sums > 0, 1.0 + tau * np.log(np.maximum(sums, 1e-300)), -1.0)
    # each article's closest unit: its rows are contiguous, so a maximum per run of rows
    starts = vectors.starts
    best = np.full(count, np.inf, dtype=cosines.dtype)
    best[vectors.article[starts]] = np.maximum.reduceat(cosines, starts)
    holders = np.flatnonzero(cosines == best[vectors.article])
    first = np.ones(len(holders), dtype=bool)
    first[1:] = vectors.article[holders[1:]] != vectors.article[holders[:-1]]
    rows = np.full(count, -1, np.int64)
    rows[vectors.article[holders[first]]] = holders[first]  # the first unit of each article at its best
    return meaning, rows


def hybrid_search(index: dict, vectors: ArticleVectors, query: str, query_vector: np.ndarray,
                  limit: int = 10) -> list[HybridHit]:
    """Rank the index's articles for `query` by meaning and words (see the module docstring), best first."""
    docs = index["docs"]
    meaning_of, unit_of = pooled(vectors, query_vector)
    mean_of = vectors.means @ query_vector
    whole_of = vectors.wholes @ query_vector
    # the vectors' articles in the index's order (a site's two files are written from the same list)
    order = np.array([vectors.position.get(d[0], -1) for d in docs], dtype=np.int64)
    meaning = np.where(order >= 0, meaning_of[np.maximum(order, 0)], -1.0)
    mean_cosine = np.where(order >= 0, mean_of[np.maximum(order, 0)], 0.0)
    whole = np.where(order >= 0, whole_of[np.maximum(order, 0)], 0.0)
    units = np.where(order >= 0, unit_of[np.maximum(order, 0)], -1)
    share = np.zeros(len(docs))
    words_rank = np.zeros(len(docs), dtype=np.int64)
    lexical: dict[int, Hit] = {}
    number = {d[0]: i for i, d in enumerate(docs)}
    for rank, hit in enumerate(search(index, query, limit=LEXICAL_CANDIDATES), 1):
        i = number[hit.id]
        share[i], words_rank[i], lexical[i] = hit.share, rank, hit
    sense = meaning + MEAN_WEIGHT * mean_cosine + WHOLE_WEIGHT * whole
    score = sense + words_weight(index.get("language")) * share
    known = order >= 0
    meaning_above, meaning_gap = _standing(meaning, known)
    sense_above, sense_gap = _standing(sense, known)
    count = min(limit, len(docs))
    top = np.argpartition(-score, count - 1)[:count] if count < len(docs) else np.arange(len(docs))
    top = top[np.lexsort((top, -score[top]))]
    return [HybridHit(docs[i][0], docs[i][1], docs[i][2], float(score[i]), float(meaning[i]), float(meaning_above[i]),
                      float(meaning_gap[i]), float(mean_cosine[i]), float(whole[i]), float(sense[i]),
                      float(sense_above[i]), float(sense_gap[i]), float(share[i]), int(words_rank[i]), int(units[i]),
                      lexical.get(i)) for i in top.tolist()]


def _standing(values: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each article's value above the mean of the articles with vectors (`known`), and above the
    highest of any other such article (negative below the top)."""
    among = values[known] if known.any() else np.zeros(1)
    first, second = (np.partition(among, len(among) - 2)[-2:][::-1] if len(among) > 1
                     else (float(among[0]), float(among[0])))
    return values - float(among.mean()), values - np.where(values >= first, second, first)


# ---------------------------------------------------------------------------------------------
# Confidence: the probability that a result answers the query


# P(answers) = 1 / (1 + exp(-(intercept + sum(weight * feature)))), one set of weights for every
# language, an intercept per language (English's for a language without its own). Fitted on in-scope
# and out-of-scope questions together by `kb bench hybrid ../shared/eval/stackfaq ../shared/eval/banking77
# ../shared/eval/clincbank ../shared/eval/plhelp --language plhelp=pl` (kb/bench/hybrid.py: logistic
# regression, cross-validated; label: the result is one of the query's relevant articles, never for
# a question the help center does not answer).
FEATURES = ("above_mean", "gap", "share", "words_first")
COEFFICIENTS = {
    "en": {"intercept": -3.6619, "above_mean": 17.1684, "gap": 34.1297, "share": 1.5431, "words_first": 0.9844},
    "pl": {"intercept": -3.7833, "above_mean": 17.1684, "gap": 34.1297, "share": 1.5431, "words_first": 0.9844},
}


def features(hits: list[HybridHit], number: int) -> dict[str, float]:
    """The confidence model's inputs for result `number` of `hits`.

    above_mean: how much closer in meaning (its `sense`) it is than the site's average article (cosines run
    higher for some queries and some kinds of text than for others: what counts is how far the
    result stands above the rest of this help center); gap: how far it stands above the closest
    other article (negative below the top); share: the words' evidence, BM25F's share of the
    query's best possible score; words_first: 1 when the words alone rank it first too (two kinds
    of evidence agree). Chosen among others for how well a model fitted without a set did on it
    (`kb bench hybrid` prints that too): absolute cosines did worse on a set left out.
    """
    hit = hits[number]
    return {"above_mean": hit.sense_above_mean, "gap": hit.sense_gap, "share": hit.share,
            "words_first": 1.0 if hit.words_rank == 1 else 0.0}


def coefficients_for(language: str | None) -> dict[str, float]:
    """The confidence model of a language (its primary subtag), English's where it has none."""
    return COEFFICIENTS.get((language or "en").split("-")[0].lower(), COEFFICIENTS["en"])


def probability(weights: dict[str, float], x: dict[str, float]) -> float:
    """The logistic model `weights` at features `x`."""
    z = weights["intercept"] + sum(weights[name] * x[name] for name in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def confidence(hits: list[HybridHit], number: int, language: str | None = "en") -> float:
    """The estimated probability that result `number` of `hits` answers the query."""
    return probability(coefficients_for(language), features(hits, number))


# ---------------------------------------------------------------------------------------------
# Asking for a person

HANDOVER_MARGIN = 0.02
"""How much closer in meaning the site's handover phrases ("talk to a person") must come than its
closest article for a query to ask for a person. The phrases are pooled like an article's units
(`pooled`), so a query is compared with what the help center itself says: "give me a refund" comes
close to "call me back" in absolute terms (cosine 0.91), but closer still to the refund article.
Chosen by `kb bench hybrid` (its handover table): no in-scope query of the public sets comes closer
to the phrases than to its site's articles by more than 0.018, and 50 of 51 other ways of asking
for a person (in five languages, on three sites) do by 0.02 or more."""


def person_meaning(query_vector: np.ndarray, phrase_vectors: np.ndarray, tau: float = TAU) -> float:
    """The handover phrases pooled like an article's units (`pooled`); -1 without phrases."""
    if not len(phrase_vectors):
        return -1.0
    cosines = (phrase_vectors @ query_vector).astype(np.float64)
    return float(1.0 + tau * np.log(np.exp((cosines - 1.0) / tau).sum()))


HANDOVER_SAYS = 0.95
"""The cosine between a query and one handover phrase, both embedded as a customer's words, at which
the query says that phrase nearly word for word: handed over even when an article answers "talk
to a person" (a contact article listing it among its questions). The highest any in-scope query
of the public sets reaches is 0.913 ("Give me a refund", to "call me back")."""


def asks_for_person(query_vector: np.ndarray, phrases: np.ndarray, phrases_as_asked: np.ndarray,
                    hits: list[HybridHit]) -> bool:
    """Whether the query asks for a person: it says one of the handover phrases nearly word for word,
    or means what they say more than anything the articles say.

    `phrases`: the phrases embedded as passages, as articles' units are; `phrases_as_asked`: embedded
    as a customer's words, as the query is; `hits`: the query's hybrid ranking (its top result knows
    the highest meaning of any article)."""
    if len(phrases_as_asked) and float(np.max(phrases_as_asked @ query_vector)) >= HANDOVER_SAYS:
        return True
    closest = (hits[0].meaning - min(0.0, hits[0].gap)) if hits else -1.0
    return person_meaning(query_vector, phrases) - closest >= HANDOVER_MARGIN
