"""`kb bench hybrid`: the server's hybrid ranking and its confidence, on evaluation sets.

For each set it ranks every query three ways with the product's own code (words alone, as
kb.search.ranker; meaning alone; the hybrid of kb.search.hybrid), prints hit@1 and MRR@10 of each,
then fits the hybrid confidence model (kb.search.hybrid.COEFFICIENTS) on all sets together, in- and
out-of-scope questions alike (a question with no relevant article is never answered rightly), and
prints, cross-validated (no query is predicted by a model that saw it), per set at the default
threshold: `answered_rate` and `answered_hit@1` on the in-scope questions, `oos_answered` (the share
of out-of-scope questions answered) and the precision of all answers; then the same with each set
left out of the fit altogether (what a help center the model never saw can expect), and the
coefficients to paste.

Embedding a set's articles and queries is the slow part (plhelp's 3,010 articles take tens of
minutes on two busy cores): vectors are cached by text and model (kb.search.embeddings, in
$KB_CACHE_DIR or ./.kb/cache), so a second run takes seconds.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from kb.bench.calibrate import BASE_LANGUAGE, FOLDS, PER_SET, Row, answer_metrics, ece_floor, fit_logistic, per_language
from kb.bench.calibrate import predict as predict_logistic
from kb.bench.datasets import Dataset, Query
from kb.channels.answers import DEFAULT_THRESHOLD
from kb.search import hybrid
from kb.search.embeddings import CACHE_FILE, EmbeddingCache, cache_dir, embed_texts
from kb.search.index import build_index
from kb.search.ranker import search
from kb.search.vectors import ArticleVectors, embed_articles

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9)
RANKED = 10
# Other ways customers ask for a person, none of them among the shipped handover phrases (kb.site.
# languages TEXTS): how far the phrases reach by meaning, in their languages and in three without
# phrases of their own (a site in those languages gets English's, the texts' fallback).
ASKED = {
    "en": ["is there a human I can chat with", "I need to speak with a representative", "let me talk to somebody real",
           "operator please", "get me a customer support agent", "can someone call me"],
    "pl": ["daj mi człowieka", "czy mogę pogadać z kimś na żywo", "potrzebuję kontaktu z pracownikiem",
           "chcę rozmawiać z konsultantem a nie z botem", "proszę o telefon od doradcy"],
    "de": ["Ich möchte mit einem Mitarbeiter sprechen", "Kann ich mit einem Menschen reden?"],
    "fr": ["je veux parler à un conseiller", "puis-je parler à une vraie personne"],
    "es": ["quiero hablar con una persona", "pásame con un agente"],
}


@dataclass
class Ranked:
    """One set ranked three ways, with the hybrid's confidence features of each query's top result."""

    name: str
    language: str
    queries: list[Query]
    words: list[list[str]] = field(default_factory=list)
    meaning: list[list[str]] = field(default_factory=list)
    hybrid: list[list[str]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)  # features of the hybrid's top result, right or not
    query_ms: list[float] = field(default_factory=list)  # the hybrid ranking's time (the query's vector aside)
    in_scope: list[bool] = field(default_factory=list)


def open_cache() -> EmbeddingCache:
    """The embeddings cache the benchmarks share ($KB_CACHE_DIR, else ./.kb/cache)."""
    return EmbeddingCache(cache_dir() / CACHE_FILE)


def set_vectors(ds: Dataset, cache: EmbeddingCache, log: Callable[[str], None]) -> tuple[ArticleVectors, np.ndarray]:
    """The set's article vectors and query vectors, from the cache, embedding what it lacks (with progress)."""
    started = time.monotonic()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] >= 10 or done == total:
            last[0] = time.monotonic()
            log(f"{ds.name}: embedding {done}/{total} texts ({time.monotonic() - started:.0f} s)")

    vectors = embed_articles(ds.articles, cache, progress)
    queries = embed_texts([vectors.as_written(q.query) for q in ds.queries], cache, "query", progress)
    return vectors, queries


def rank_set(ds: Dataset, language: str, cache: EmbeddingCache, log: Callable[[str], None]) -> Ranked:
    """Rank every query of `ds` by words, by meaning and by both (see the module docstring)."""
    vectors, query_vectors = set_vectors(ds, cache, log)
    index = build_index(ds.articles, language=language)
    ranked = Ranked(ds.name, language, ds.queries)
    ids = vectors.ids
    for q, vector in zip(ds.queries, query_vectors):
        ranked.words.append([h.id for h in search(index, q.query, limit=RANKED)])
        meaning, _ = hybrid.pooled(vectors, vector)
        ranked.meaning.append([ids[i] for i in np.argsort(-meaning, kind="stable")[:RANKED]])
        start = time.perf_counter()
        hits = hybrid.hybrid_search(index, vectors, q.query, vector, limit=RANKED)
        ranked.query_ms.append((time.perf_counter() - start) * 1000)
        ranked.hybrid.append([h.id for h in hits])
        relevant = set(q.relevant)
        ranked.rows.append(Row(hybrid.features(hits, 0) if hits else None,
                               bool(hits) and hits[0].id in relevant, language))
        ranked.in_scope.append(bool(relevant))
    return ranked


def quality(ranking: list[list[str]], queries: list[Query]) -> dict[str, float]:
    """hit@1 and MRR@10 over the in-scope queries."""
    hit1 = mrr = 0.0
    count = 0
    for ids, q in zip(ranking, queries):
        if not q.relevant:
            continue
        count += 1
        for rank, found in enumerate(ids[:10], 1):
            if found in q.relevant:
                hit1 += rank == 1
                mrr += 1 / rank
                break
    return {"hit@1": round(hit1 / max(count, 1), 4), "mrr@10": round(mrr / max(count, 1), 4), "in_scope": count}


def answers(probabilities: list[float], right: list[bool], in_scope: list[bool], threshold: float) -> dict:
    """answer_metrics with the set's out-of-scope queries marked: answered_rate and answered_hit@1 of
    the in-scope ones, `oos_answered` and `answered_precision` (of all answers) where it has any."""
    out = answer_metrics(probabilities, right, threshold, [not s for s in in_scope])
    if not all(in_scope):
        out["out_of_scope"] = in_scope.count(False)
    return out


def shipped_answers(ranked: Ranked, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """`answers` of the shipped model at `threshold`, with the ece_floor of its confidences."""
    model = hybrid.coefficients_for(ranked.language)
    probabilities = [predict_logistic(model, row.features, hybrid.FEATURES) for row in ranked.rows]
    right = [row.right for row in ranked.rows]
    return {**answers(probabilities, right, ranked.in_scope, threshold), "ece_floor": ece_floor(probabilities)}


def fit(sets: list[Ranked], log: Callable[[str], None], seed: int = 0) -> dict:
    """The hybrid confidence model fitted on every set, cross-validated and with each set left out."""
    others = tuple(sorted({r.language for r in sets} - {BASE_LANGUAGE}))
    rng = random.Random(seed)
    training = {r.name: (rng.sample(r.rows, PER_SET) if len(r.rows) > PER_SET else list(r.rows)) for r in sets}
    fold_of = {id(row): i % FOLDS for r in sets for i, row in enumerate(r.rows)}
    predicted = {r.name: [0.0] * len(r.rows) for r in sets}
    for fold in range(FOLDS):
        log(f"fitting fold {fold + 1} of {FOLDS}")
        models = per_language(fit_logistic([row for rows in training.values() for row in rows
                                            if fold_of[id(row)] != fold], languages=others, names=hybrid.FEATURES),
                              others, hybrid.FEATURES)
        for r in sets:
            for i, row in enumerate(r.rows):
                if fold_of[id(row)] == fold:
                    predicted[r.name][i] = predict_logistic(models[row.language], row.features, hybrid.FEATURES)
    left_out = {}
    for r in sets:
        rest = tuple(sorted({s.language for s in sets if s is not r} - {BASE_LANGUAGE}))
        models = per_language(fit_logistic([row for name, rows in training.items() if name != r.name for row in rows],
                                           languages=rest, names=hybrid.FEATURES), rest, hybrid.FEATURES)
        model = models.get(r.language, models[BASE_LANGUAGE])
        left_out[r.name] = [predict_logistic(model, row.features, hybrid.FEATURES) for row in r.rows]
    fitted = fit_logistic([row for rows in training.values() for row in rows], languages=others, names=hybrid.FEATURES)
    coefficients = {code: {k: round(v, 4) for k, v in model.items()}
                    for code, model in per_language(fitted, others, hybrid.FEATURES).items()}
    table = {}
    for r in sets:
        right = [row.right for row in r.rows]
        table[r.name] = {
            "cross_validated": {f"{t:.2f}": answers(predicted[r.name], right, r.in_scope, t) for t in THRESHOLDS},
            "left_out": answers(left_out[r.name], right, r.in_scope, DEFAULT_THRESHOLD),
            "ece_floor": ece_floor([p for p, s in zip(predicted[r.name], r.in_scope) if s])}
    return {"coefficients": coefficients, "shipped": hybrid.COEFFICIENTS, "sets": table}


def handover_table(sets: list[Ranked], datasets: dict[str, Dataset], phrases: list[str],
                   asked: dict[str, list[str]], cache: EmbeddingCache) -> dict:
    """How the handover rule (kb.search.hybrid.asks_for_person) separates: per set, how much closer to
    the phrases than to the set's closest article its in-scope queries come at most, how close to one
    phrase word for word, and how many are handed over (none of them asks for a person); and which of
    `asked`, other ways to ask for a person (not among the phrases), are."""
    as_passages = embed_texts(phrases, cache, "passage")
    as_asked = embed_texts(phrases, cache, "query")
    out: dict = {"margin": hybrid.HANDOVER_MARGIN, "says": hybrid.HANDOVER_SAYS, "queries": {}, "asked": {}}

    def judged(vectors: ArticleVectors, texts: list[str]) -> list[tuple[float, float, bool]]:
        found = []
        for vector in embed_texts([vectors.as_written(t) for t in texts], cache, "query"):
            meaning, _ = hybrid.pooled(vectors, vector)
            margin = hybrid.person_meaning(vector, as_passages) - float(meaning.max())
            says = float(np.max(as_asked @ vector))
            found.append((margin, says, margin >= hybrid.HANDOVER_MARGIN or says >= hybrid.HANDOVER_SAYS))
        return found

    for r in sets:
        ds = datasets[r.name]
        vectors = embed_articles(ds.articles, cache)
        inside = judged(vectors, [q.query for q in ds.queries if q.relevant])
        out["queries"][r.name] = {"margin": round(max(m for m, _, _ in inside), 4),
                                  "says": round(max(s for _, s, _ in inside), 4),
                                  "handed_over": sum(1 for *_, h in inside if h), "in_scope": len(inside)}
        out["asked"][r.name] = {code: [h for *_, h in judged(vectors, wordings)] for code, wordings in asked.items()}
    return out


def bench_hybrid(datasets: list[Dataset], languages: dict[str, str], log: Callable[[str], None],
                 phrases: dict[str, list[str]], asked: dict[str, list[str]]) -> dict:
    """Rank, fit and measure (see the module docstring); returns the figures `format_hybrid` prints."""
    cache = open_cache()
    try:
        sets = []
        for ds in datasets:
            log(f"{ds.name}: ranking {len(ds.queries)} queries ({languages.get(ds.name, BASE_LANGUAGE)})")
            sets.append(rank_set(ds, languages.get(ds.name, BASE_LANGUAGE), cache, log))
        result = fit(sets, log)
        result["ranking"] = {r.name: {"words": quality(r.words, r.queries), "meaning": quality(r.meaning, r.queries),
                                      "hybrid": quality(r.hybrid, r.queries),
                                      "p95_ms": round(float(np.percentile(r.query_ms, 95)), 2)} for r in sets}
        result["handover"] = handover_table(sets, {ds.name: ds for ds in datasets},
                                            [p for wordings in phrases.values() for p in wordings], asked, cache)
    finally:
        cache.close()
    return result


def format_hybrid(result: dict) -> str:
    """The figures as Markdown tables, then the coefficients to paste."""
    lines = ["| set | words MRR@10 | meaning MRR@10 | hybrid MRR@10 | hybrid hit@1 | hybrid p95 ms |",
             "|---|---|---|---|---|---|"]
    for name, r in result["ranking"].items():
        lines.append(f"| {name} | {r['words']['mrr@10']:.3f} | {r['meaning']['mrr@10']:.3f} | {r['hybrid']['mrr@10']:.3f} "
                     f"| {r['hybrid']['hit@1']:.3f} | {r['p95_ms']:.2f} |")
    lines += ["", "Cross-validated (5 folds; in-scope queries: answered_rate, answered_hit@1; out-of-scope: "
                  "oos_answered; precision: of all answers):", "",
              "| set | threshold | answered_rate | answered_hit@1 | 95% interval | oos_answered | precision | ece | ece floor |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, r in result["sets"].items():
        for t, m in r["cross_validated"].items():
            low, high = m["answered_hit@1_interval"]
            lines.append(f"| {name} | {t} | {m['answered_rate']:.3f} | {m['answered_hit@1']:.3f} | {low:.2f}-{high:.2f} "
                         f"| {_optional(m, 'oos_answered')} | {_optional(m, 'answered_precision')} | {m['ece']:.3f} "
                         f"| {r['ece_floor']:.3f} |")
    lines += ["", f"Each set left out of the fit (threshold {DEFAULT_THRESHOLD}):", "",
              "| set | answered_rate | answered_hit@1 | oos_answered | precision |", "|---|---|---|---|---|"]
    for name, r in result["sets"].items():
        m = r["left_out"]
        lines.append(f"| {name} | {m['answered_rate']:.3f} | {m['answered_hit@1']:.3f} | {_optional(m, 'oos_answered')} "
                     f"| {_optional(m, 'answered_precision')} |")
    handover = result.get("handover")
    if handover:
        lines += ["", f"Asking for a person (handed over when the handover phrases come closer in meaning than the "
                      f"closest article by {handover['margin']} or more, or one is said nearly word for word, cosine "
                      f">= {handover['says']}): in-scope queries, the highest of each and how many were handed over; "
                      "other wordings of asking for a person (not among the phrases, in five languages), how many "
                      "were handed over:", "",
                  "| set | in-scope: margin | word for word | handed over | other wordings handed over |",
                  "|---|---|---|---|---|"]
        for name, m in handover["queries"].items():
            asked = [x for values in handover["asked"][name].values() for x in values]
            lines.append(f"| {name} | {m['margin']:.3f} | {m['says']:.3f} | {m['handed_over']} of {m['in_scope']} "
                         f"| {sum(asked)} of {len(asked)} |")
    lines += ["", "COEFFICIENTS = " + repr(result["coefficients"])]
    return "\n".join(lines)


def _optional(m: dict, key: str) -> str:
    return f"{m[key]:.3f}" if key in m else "-"
