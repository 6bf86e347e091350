"""`kb bench gaps`: how the report joins failed searches by meaning, measured on evaluation sets.

The report's content gaps are joined where two wordings mean the same (kb.report.gaps:
GAP_MEANING, the cosine of their vectors relative to the site's texts) or where the hybrid ranking
answers both with the same articles (GAP_AGREEMENT, `agreement`). On a set's questions, a pair of
questions *should* be joined when they share a relevant article, and never when either is one the
help center does not answer (`relevant_ids: []`). For every pair of a set's questions (read by the
product's own code, kb.search.meanings, over the set's articles as a site), this prints, per rule
and threshold: the pairs joined, the precision of the joined pairs (the share that ask for the same
article), the recall (the share of same-article pairs joined), and how many joined pairs hold an
out-of-scope question. The shipped rule, either at its shipped threshold, is printed last.

Vectors are cached by text (kb.search.embeddings, $KB_CACHE_DIR or ./.kb/cache): a second run takes
seconds.
"""

from __future__ import annotations

import random
from typing import Callable

import numpy as np

from kb.bench.datasets import Dataset, sample
from kb.bench.hybrid import open_cache, set_vectors
from kb.report.gaps import GAP_AGREEMENT, GAP_MEANING
from kb.search.index import build_index
from kb.search.meanings import QueryVectors, SiteMeanings

COSINES = (0.5, 0.6, 0.7, 0.8)
AGREEMENTS = (0.05, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7)


def trim(ds: Dataset, queries: int | None, articles: int | None, seed: int = 0) -> Dataset:
    """The set with a seeded sample of its queries, and of its articles: every article a kept query
    names, and others drawn at random up to `articles` (a large help center measured in less time)."""
    kept = sample(ds.queries, queries, seed) if queries else ds.queries
    chosen = ds.articles
    if articles and articles < len(ds.articles):
        named = {r for q in kept for r in q.relevant}
        others = [a for a in ds.articles if a.id not in named]
        extra = max(0, articles - len(named))
        picked = named | {a.id for a in random.Random(seed).sample(others, min(extra, len(others)))}
        chosen = [a for a in ds.articles if a.id in picked]
    return Dataset(ds.name, ds.root, chosen, kept)


def pair_matrices(ds: Dataset, language: str, log: Callable[[str], None]) -> dict[str, np.ndarray]:
    """For every pair of the set's questions: cosine, agreement, same (they share a relevant article)
    and outside (either is out of scope), as upper-triangle vectors."""
    cache = open_cache()
    try:
        vectors, _ = set_vectors(ds, cache, log)
        meanings = SiteMeanings(build_index(ds.articles, language=language), vectors, language, QueryVectors(cache))
        readings = meanings([q.query for q in ds.queries])
    finally:
        cache.close()
    relative = np.stack([r.relative for r in readings])
    column = {aid: i for i, aid in enumerate(vectors.ids)}
    answers = np.zeros((len(readings), len(vectors.ids)))
    for row, reading in enumerate(readings):
        for aid, p in reading.answers.items():
            answers[row, column[aid]] = p
    relevant = np.zeros((len(ds.queries), len(vectors.ids)))
    for row, q in enumerate(ds.queries):
        for aid in q.relevant:
            if aid in column:
                relevant[row, column[aid]] = 1
    upper = np.triu_indices(len(ds.queries), k=1)
    in_scope = np.array([bool(q.relevant) for q in ds.queries])
    return {"cosine": (relative @ relative.T)[upper], "agreement": (answers @ answers.T)[upper],
            "same": (relevant @ relevant.T)[upper] > 0,
            "outside": ~(in_scope[upper[0]] & in_scope[upper[1]])}


def joined(pairs: dict[str, np.ndarray], mask: np.ndarray) -> dict:
    """Figures of the pairs `mask` joins."""
    count = int(mask.sum())
    right = int((mask & pairs["same"]).sum())
    return {"joined": count, "precision": round(right / count, 4) if count else None,
            "recall": round(right / max(int(pairs["same"].sum()), 1), 4),
            "out_of_scope": int((mask & pairs["outside"]).sum())}


def bench_gaps(datasets: list[Dataset], languages: dict[str, str], log: Callable[[str], None]) -> dict:
    """The figures (see the module docstring), per set."""
    out: dict = {"shipped": {"cosine": GAP_MEANING, "agreement": GAP_AGREEMENT}, "sets": {}}
    for ds in datasets:
        language = languages.get(ds.name, "en")
        log(f"{ds.name}: {len(ds.queries)} questions over {len(ds.articles)} articles ({language})")
        pairs = pair_matrices(ds, language, log)
        rows = [{"rule": "cosine", "threshold": t, **joined(pairs, pairs["cosine"] >= t)} for t in COSINES]
        rows += [{"rule": "agreement", "threshold": t, **joined(pairs, pairs["agreement"] >= t)} for t in AGREEMENTS]
        shipped = (pairs["cosine"] >= GAP_MEANING) | (pairs["agreement"] >= GAP_AGREEMENT)
        rows.append({"rule": "shipped", "threshold": f"{GAP_MEANING} / {GAP_AGREEMENT}", **joined(pairs, shipped)})
        out["sets"][ds.name] = {"questions": len(ds.queries), "articles": len(ds.articles),
                                "pairs": int(len(pairs["same"])), "same_pairs": int(pairs["same"].sum()),
                                "rows": rows}
    return out


def format_gaps(result: dict) -> str:
    """The figures as a Markdown table."""
    lines = ["| set | rule | threshold | pairs joined | precision | recall | with an out-of-scope question |",
             "|---|---|---|---|---|---|---|"]
    for name, figures in result["sets"].items():
        for row in figures["rows"]:
            precision = "-" if row["precision"] is None else f"{row['precision']:.3f}"
            lines.append(f"| {name} | {row['rule']} | {row['threshold']} | {row['joined']} | {precision} "
                         f"| {row['recall']:.3f} | {row['out_of_scope']} |")
    lines.append("")
    lines += [f"{name}: {f['questions']} questions over {f['articles']} articles, {f['pairs']} pairs, "
              f"{f['same_pairs']} of them asking for the same article" for name, f in result["sets"].items()]
    return "\n".join(lines)
