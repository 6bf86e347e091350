"""The browser's engine (kb/assets/search/worker.js in node) and kb.search rank alike, per language.

Every eval set with its language's analyzer, clean and with one typo per query, plus half-typed
queries (prefix matching). banking77 runs on a seeded sample of 1,000 of its 9,386 queries to keep
the suite fast.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kb.bench.datasets import load_dataset, sample, with_typos
from kb.search.index import build_index
from kb.search.confidence import confidence, model_for, model_of
from kb.search.ranker import search
from support import NODE_HINT, missing_service

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT.parent / "shared" / "eval"
WORKER = ROOT / "kb" / "assets" / "search" / "worker.js"
RUN_JS = """
const kb = require(process.argv[1]);
const data = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const p = kb.prepare(data.index);
process.stdout.write(JSON.stringify(data.queries.map((q) => kb.search(p, q, 5).map((h) => h.id))));
"""


@pytest.mark.parametrize("name, size, language", [("stackfaq", None, "en"), ("banking77", 1000, "en"),
                                                  ("plhelp", None, "pl")])
def test_python_and_javascript_agree_on_the_top_five(name: str, size: int | None, language: str,
                                                      tmp_path: Path) -> None:
    if not (EVAL / name).is_dir():
        pytest.skip(f"no eval data at {EVAL / name}")
    if shutil.which("node") is None:
        missing_service(NODE_HINT)
    ds = load_dataset(EVAL / name)
    synonyms = {"en": {"parcel": ["package", "shipment"], "card": ["debit card"]},
                "pl": {"paczka": ["przesyłka"], "hasło": ["kod dostępu"]}}[language]
    index = build_index(ds.articles, synonyms, language=language)
    assert index["language"] == language
    clean = sample(ds.queries, size, seed=3)
    queries = [q.query for q in clean] + [q.query for q in with_typos(clean, 11)]
    queries += [q.query[: len(q.query) * 2 // 3] for q in clean[:200]]  # still typing
    data = tmp_path / "queries.json"
    data.write_text(json.dumps({"index": index, "queries": queries}), encoding="utf-8")
    done = subprocess.run(["node", "-e", RUN_JS, str(WORKER), str(data)], capture_output=True, text=True,
                          check=True)
    javascript = json.loads(done.stdout)
    python = [[h.id for h in search(index, q, limit=5)] for q in queries]
    differ = [(q, p, j) for q, p, j in zip(queries, python, javascript) if p != j]
    assert len(differ) <= len(queries) // 100, differ[:5]


CONFIDENCE_JS = """
const kb = require(process.argv[1]);
const data = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const p = kb.prepare(data.index);
process.stdout.write(JSON.stringify(data.queries.map((q) => kb.assess(p, q))));
"""


@pytest.mark.parametrize("name, size, language", [("stackfaq", None, "en"), ("clincbank", None, "en"),
                                                  ("banking77", 1000, "en"), ("plhelp", None, "pl")])
def test_python_and_javascript_agree_on_the_confidence_and_the_no_good_answer_decision(
        name: str, size: int | None, language: str, tmp_path: Path) -> None:
    if not (EVAL / name).is_dir():
        pytest.skip(f"no eval data at {EVAL / name}")
    if shutil.which("node") is None:
        missing_service(NODE_HINT)
    ds = load_dataset(EVAL / name)
    index = build_index(ds.articles, language=language)
    assert index["confidence"] == model_of(index) == model_for(language)  # the worker reads it from the index
    clean = sample(ds.queries, size, seed=3)
    queries = [q.query for q in clean] + [q.query for q in with_typos(clean, 11)]
    data = tmp_path / "queries.json"
    data.write_text(json.dumps({"index": index, "queries": queries}), encoding="utf-8")
    done = subprocess.run(["node", "-e", CONFIDENCE_JS, str(WORKER), str(data)], capture_output=True, text=True,
                          check=True)
    javascript = json.loads(done.stdout)
    compared, differ = 0, []
    threshold = model_of(index)["threshold"]
    for query, js in zip(queries, javascript):
        hits = search(index, query, limit=2)
        if not hits or js is None:
            assert not hits and js is None, query
            continue
        if hits[0].id != js["id"]:
            continue  # the rankings' own rare differences are the test above's
        compared += 1
        python = confidence(hits, 0, index)
        if abs(python - js["confidence"]) > 1e-9 or (python >= threshold) != js["confident"]:
            differ.append((query, python, js))
    assert compared >= len(queries) * 0.95
    assert differ == []
