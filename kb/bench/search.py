"""`kb bench search`: our engine and the anchors, on the same data sets, in one run.

Every browser engine runs in node (kb/bench/runner.mjs); ours (`kb`) through the shipped worker
script over the index the real builder wrote. Pagefind runs as its real CLI over a generated HTML
site. The server's hybrid ranking (`kb-hybrid`: words and meaning, kb.search.hybrid) runs in Python
with the product's own code (kb.bench.hybrid); its query times leave out the query's embedding
(about 20-40 ms on a busy core, the same for every query of a length), cached between runs.
"""

from __future__ import annotations

import dataclasses
import html
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kb.bench import hybrid as hybrid_bench
from kb.bench.calibrate import shipped_metrics
from kb.bench.datasets import Dataset, Query, sample, with_typos
from kb.search.index import build_index, write_index
from kb.search.text import strip_markdown

HERE = Path(__file__).parent
# kb and kb-hybrid only: the answers' confidence (oos_answered and precision where a set has
# out-of-scope queries)
ANSWER_KEYS = ["answered_rate", "answered_hit@1", "answered_hit@1_interval", "ece", "ece_floor", "oos_answered",
               "answered_precision"]
ENGINES = ["kb", "kb-hybrid", "lunr", "minisearch", "fuse", "flexsearch", "orama", "pagefind"]
PYTHON_ENGINES = ("kb-hybrid",)  # not run in node
PACKAGES = ["lunr", "minisearch", "fuse.js", "flexsearch", "@orama/orama", "pagefind"]
# Fuse.js scans every document for every query (hundreds of ms each): it always gets a sample.
FUSE_SAMPLE = 200


class BenchError(Exception):
    """The benchmark cannot run (no node, npm failed, an engine crashed)."""


@dataclass
class EngineRun:
    engine: str
    build_ms: float
    index_gzip_bytes: int
    metrics: dict[str, dict[str, float]]  # variant -> metrics


def ensure_packages(log: Callable[[str], None], engines: list[str] = ENGINES) -> None:
    """Install the anchor engines into kb/bench/node_modules on first use."""
    if shutil.which("node") is None:
        raise BenchError("node is not installed; the benchmark runs every engine in node (Node 18+)")
    if set(engines) <= {"kb", *PYTHON_ENGINES}:
        return  # ours ships with kb
    missing = [p for p in PACKAGES if not (HERE / "node_modules" / p / "package.json").exists()]
    if not missing:
        return
    log(f"installing the anchor engines into {HERE / 'node_modules'} (first run only): {', '.join(missing)}")
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm is not installed; it is needed once to install the anchor engines")
    done = subprocess.run([npm, "install", "--prefix", str(HERE), "--no-audit", "--no-fund"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"npm install failed:\n{done.stderr.strip()}")


def plain_docs(articles: list) -> list[dict]:
    """Articles as the anchors see them: title, questions, tags, headings and plain text."""
    return [{"id": a.id, "title": a.title, "url": a.url, "questions": list(a.questions),
             "tags": list(a.tags), "headings": list(a.headings), "text": strip_markdown(a.body)}
            for a in articles]


def write_pagefind_site(docs: list[dict], root: Path) -> None:
    """A minimal HTML page per article, the way the built site shows it, for pagefind to index."""
    for d in docs:
        page = root / d["id"] / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        questions = "".join(f"<li>{html.escape(q)}</li>" for q in d["questions"])
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in d["text"].split("\n\n") if p.strip())
        page.write_text(
            f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(d['title'])}</title></head><body><main>"
            f"<h1>{html.escape(d['title'])}</h1><ul>{questions}</ul>{paragraphs}</main></body></html>",
            encoding="utf-8")


def score(ranks: list[list[str]], queries: list[Query], times: list[float]) -> dict[str, float]:
    """hit@1, hit@5, MRR@10 (over the queries the set answers), share with no result, p50/p95 latency."""
    hit1 = hit5 = mrr = zero = 0.0
    for ids, q in zip(ranks, queries):
        if not ids:
            zero += 1
        for rank, found in enumerate(ids[:10] if q.relevant else [], 1):
            if found in q.relevant:
                hit1 += rank == 1
                hit5 += rank <= 5
                mrr += 1 / rank
                break
    n = sum(1 for q in queries if q.relevant) or 1
    ordered = sorted(times) or [0.0]
    pick = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))]  # noqa: E731
    return {"hit@1": round(hit1 / n, 4), "hit@5": round(hit5 / n, 4), "mrr@10": round(mrr / n, 4),
            "zero": round(zero / (len(queries) or 1), 4), "p50_ms": round(pick(0.50), 3), "p95_ms": round(pick(0.95), 3),
            "queries": len(queries)}


def bench_dataset(ds: Dataset, *, typos: int | None, sample_size: int | None, engines: list[str],
                  log: Callable[[str], None], language: str = "en") -> list[EngineRun]:
    """Run every engine over one data set (ours with `language`'s analyzer); one EngineRun per engine."""
    variants = {"clean": ds.queries}
    if typos is not None:
        variants["typos"] = with_typos(ds.queries, typos)
    picks: dict[str, list[int]] = {}
    numbers = list(range(len(ds.queries)))
    sampled = [numbers.index(i) for i in _sample_numbers(len(ds.queries), sample_size)]
    for engine in engines:
        if engine == "fuse":
            picks[engine] = _sample_numbers(len(ds.queries), min(sample_size or FUSE_SAMPLE, FUSE_SAMPLE))
        elif engine != "kb" and sample_size is not None:
            picks[engine] = sampled
    runs = []
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        work = Path(tmp)
        docs = plain_docs(ds.articles)
        (work / "docs.json").write_text(json.dumps(docs), encoding="utf-8")
        (work / "queries.json").write_text(
            json.dumps({v: [q.query for q in qs] for v, qs in variants.items()}), encoding="utf-8")
        (work / "picks.json").write_text(json.dumps(picks), encoding="utf-8")
        build_ms: dict[str, float] = {}
        if "kb" in engines:
            start = time.perf_counter()
            kb_index = build_index(ds.articles, language=language)
            write_index(kb_index, work / "kb")
            build_ms["kb"] = (time.perf_counter() - start) * 1000
        if "pagefind" in engines:
            write_pagefind_site(docs, work / "pagefind")
            start = time.perf_counter()
            done = subprocess.run([str(HERE / "node_modules" / ".bin" / "pagefind"), "--site",
                                   str(work / "pagefind")], capture_output=True, text=True)
            if done.returncode != 0:
                raise BenchError(f"pagefind failed:\n{done.stdout}\n{done.stderr}")
            build_ms["pagefind"] = (time.perf_counter() - start) * 1000
        for engine in engines:
            if engine == "kb-hybrid":
                runs.append(_hybrid_run(ds, variants, language, log))
                continue
            count = len(picks.get(engine, numbers))
            log(f"{ds.name}: {engine} on {count} queries x {len(variants)}")
            done = subprocess.run(["node", str(HERE / "runner.mjs"), engine, str(work)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise BenchError(f"{engine} failed on {ds.name}:\n{done.stderr.strip()[-2000:]}")
            out = json.loads(done.stdout)
            metrics = {}
            for variant, run in out["runs"].items():
                qs = [variants[variant][i] for i in run["numbers"]]
                metrics[variant] = score(run["ranks"], qs, run["times"])
            if engine == "kb":
                for variant, qs in variants.items():
                    metrics[variant].update(_browser_answers(kb_index, qs))
            runs.append(EngineRun(engine, build_ms.get(engine, out["build_ms"]),
                                  out["index_gzip_bytes"], metrics))
    return runs


def _browser_answers(index: dict, queries: list[Query]) -> dict:
    """The browser engine's shipped answers: on the in-scope queries, and where the set has out-of-scope
    ones, the share of those answered and the precision of all answers."""
    return shipped_metrics(index, queries)


def _hybrid_run(ds: Dataset, variants: dict[str, list[Query]], language: str, log: Callable[[str], None]) -> EngineRun:
    """kb-hybrid over every variant of the set's queries: ranking figures and the shipped confidence's."""
    start = time.perf_counter()
    cache = hybrid_bench.open_cache()
    try:
        vectors = hybrid_bench.set_vectors(ds, cache, log)[0]
        build_ms = (time.perf_counter() - start) * 1000
        metrics = {}
        for variant, qs in variants.items():
            log(f"{ds.name}: kb-hybrid on {len(qs)} queries ({variant})")
            ranked = hybrid_bench.rank_set(dataclasses.replace(ds, queries=qs), language, cache, log)
            metrics[variant] = {**score(ranked.hybrid, qs, ranked.query_ms), **hybrid_bench.shipped_answers(ranked)}
    finally:
        cache.close()
    return EngineRun("kb-hybrid", build_ms, 0, metrics)


def _sample_numbers(total: int, n: int | None) -> list[int]:
    items = sample([Query(str(i), "", []) for i in range(total)], n, seed=0)
    return [int(q.qid) for q in items]


def results_json(results: dict[str, list[EngineRun]]) -> dict:
    """The shape issue 3 names: {"datasets": {NAME: {"clean"|"typos": {ENGINE: {...}}}}}."""
    keys = ["hit@1", "hit@5", "mrr@10", "zero", "p50_ms", "p95_ms"]
    out: dict = {"datasets": {}}
    for name, runs in results.items():
        by_variant: dict = {}
        for run in runs:
            for variant, m in run.metrics.items():
                entry = {k: m[k] for k in keys + ANSWER_KEYS if k in m}
                entry["index_gzip_bytes"] = run.index_gzip_bytes
                by_variant.setdefault(variant, {})[run.engine] = entry
        out["datasets"][name] = by_variant
    return out


def format_table(results: dict[str, list[EngineRun]]) -> str:
    """A Markdown table, one row per data set, variant and engine."""
    lines = ["| set | queries | engine | hit@1 | hit@5 | MRR@10 | zero | p50 ms | p95 ms | index KB gz | build ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, runs in results.items():
        for variant in ("clean", "typos"):
            for run in runs:
                m = run.metrics.get(variant)
                if m is None:
                    continue
                label = name if variant == "clean" else f"{name} (typos)"
                lines.append(f"| {label} | {m['queries']} | {run.engine} | {m['hit@1']:.3f} | {m['hit@5']:.3f} "
                             f"| {m['mrr@10']:.3f} | {m['zero']:.3f} | {m['p50_ms']:.2f} | {m['p95_ms']:.2f} "
                             f"| {run.index_gzip_bytes / 1000:.1f} | {run.build_ms:.0f} |")
    answers = [f"| {name if variant == 'clean' else name + ' (typos)'} | {run.engine} | {m['answered_rate']:.3f} "
               f"| {m['answered_hit@1']:.3f} | {m['answered_hit@1_interval'][0]:.2f}-{m['answered_hit@1_interval'][1]:.2f} "
               f"| {_figure(m, 'oos_answered')} | {_figure(m, 'answered_precision')} | {m['ece']:.3f} | {m['ece_floor']:.3f} |"
               for name, runs in results.items() for run in runs if run.engine in ("kb", "kb-hybrid")
               for variant, m in run.metrics.items() if "ece" in m]
    if answers:
        lines += ["", "Answers (threshold and confidence as shipped; answered_rate and answered_hit@1 over the in-scope "
                      "queries; oos_answered: the share of out-of-scope queries answered; precision: of all answers; "
                      "targets: answered_hit@1 >= 0.95 with answered_rate >= 0.50, oos_answered <= 0.03 with precision "
                      ">= 0.95; ece floor: what a perfectly calibrated model with the same confidences shows on average "
                      "on that many queries; 95% interval: where answered_hit@1 may truly lie, given how many queries "
                      "were answered):", "",
                  "| set | engine | answered_rate | answered_hit@1 | 95% interval | oos_answered | precision | ece | ece floor |",
                  "|---|---|---|---|---|---|---|---|---|", *answers]
    return "\n".join(lines)


def _figure(m: dict, key: str) -> str:
    return f"{m[key]:.3f}" if key in m else "-"


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
