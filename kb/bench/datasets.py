"""Evaluation data sets (articles/*.md + queries.jsonl) and the typo variant of their queries."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from kb.articles import Article, load_project

# Neighbouring keys on a QWERTY keyboard, for realistic slips of the finger.
_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_ADJACENT: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _c, _ch in enumerate(_row):
        near = [_row[i] for i in (_c - 1, _c + 1) if 0 <= i < len(_row)]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_ROWS):
                near += [_ROWS[_other][i] for i in (_c - 1, _c, _c + 1) if 0 <= i < len(_ROWS[_other])]
        _ADJACENT[_ch] = "".join(near)


@dataclass
class Query:
    qid: str
    query: str
    relevant: list[str]


@dataclass
class Dataset:
    name: str
    root: Path
    articles: list[Article]
    queries: list[Query]


class DatasetError(Exception):
    """A data set folder is not of the expected shape."""


def load_dataset(root: Path) -> Dataset:
    """Load a folder with articles/*.md and queries.jsonl."""
    root = Path(root)
    if not (root / "articles").is_dir():
        raise DatasetError(f"{root}: no articles/ folder (expected articles/*.md and queries.jsonl)")
    project = load_project(root / "articles")
    queries = []
    path = root / "queries.jsonl"
    if not path.exists():
        raise DatasetError(f"{path}: no such file (one JSON query a line)")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            queries.append(Query(str(row["qid"]), row["query"], list(row["relevant_ids"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}:{number}: expected {{qid, query, relevant_ids}}: {exc}") from exc
    return Dataset(root.name, root, project.articles, queries)


def sample(queries: list[Query], n: int | None, seed: int = 0) -> list[Query]:
    """A seeded random sample of n queries (all of them when n is None or large enough)."""
    if n is None or n >= len(queries):
        return list(queries)
    picked = sorted(random.Random(seed).sample(range(len(queries)), n))
    return [queries[i] for i in picked]


def add_typo(text: str, rng: random.Random) -> str:
    """One realistic typo in one word of five or more letters (unchanged when there is none)."""
    spans = []
    start = None
    for i, ch in enumerate(text + " "):
        if ch.isalpha():
            start = i if start is None else start
        elif start is not None:
            if i - start >= 5:
                spans.append((start, i))
            start = None
    if not spans:
        return text
    a, b = rng.choice(spans)
    word = text[a:b]
    kind = rng.choice(["adjacent", "transpose", "drop", "double"])
    i = rng.randrange(1, len(word) - 1)  # keep the first letter, as people mostly do
    if kind == "adjacent" and word[i].lower() in _ADJACENT:
        new = rng.choice(_ADJACENT[word[i].lower()])
        word = word[:i] + (new.upper() if word[i].isupper() else new) + word[i + 1:]
    elif kind == "transpose" and word[i] != word[i + 1]:
        word = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    elif kind == "double":
        word = word[:i] + word[i] + word[i:]
    else:
        word = word[:i] + word[i + 1:]
    return text[:a] + word + text[b:]


def with_typos(queries: list[Query], seed: int) -> list[Query]:
    """The same queries, each with one typo, reproducible from `seed`."""
    rng = random.Random(seed)
    return [Query(q.qid, add_typo(q.query, rng), q.relevant) for q in queries]
