"""Evaluation data sets (articles/*.md + queries.jsonl) and the typo variant of their queries."""

from __future__ import annotations

import dataclasses
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


def load_dataset(root: Path, scale: int | None = None, generated_queries: int = 1000) -> Dataset:
    """Load a folder with articles/*.md and queries.jsonl.

    `scale` grows the articles to that many (varied copies) to measure a large help center; a
    folder without queries.jsonl (a corpus) gets known-item queries made from its titles.
    """
    root = Path(root)
    if not (root / "articles").is_dir():
        raise DatasetError(f"{root}: no articles/ folder (expected articles/*.md and queries.jsonl)")
    project = load_project(root / "articles")
    articles = [a for a in project.articles if a.title.strip()]
    if scale:
        articles = scale_articles(articles, scale)
    path = root / "queries.jsonl"
    if not path.exists():
        if not articles:
            raise DatasetError(f"{root / 'articles'}: no articles")
        name = f"{root.name}-{len(articles)}" if scale else root.name
        return Dataset(name, root, articles, title_queries(articles, generated_queries))
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            queries.append(Query(str(row["qid"]), row["query"], list(row["relevant_ids"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}:{number}: expected {{qid, query, relevant_ids}}: {exc}") from exc
    return Dataset(root.name, root, articles, queries)


def scale_articles(articles: list[Article], n: int, seed: int = 0) -> list[Article]:
    """`n` articles: the originals, then copies that each borrow a paragraph from another article."""
    rng = random.Random(seed)
    out = list(articles[:n])
    copy = 1
    while len(out) < n:
        for a in articles:
            if len(out) >= n:
                break
            other = rng.choice(articles)
            paragraphs = [p for p in other.body.split("\n\n") if p.strip()]
            extra = rng.choice(paragraphs) if paragraphs else ""
            out.append(dataclasses.replace(a, id=f"{a.id}~{copy}", url=f"{a.url.rstrip('/')}-{copy}/",
                                           body=a.body + "\n\n" + extra))
        copy += 1
    return out


def title_queries(articles: list[Article], count: int, seed: int = 0) -> list[Query]:
    """Known-item queries: two to four consecutive words of a random article's title.

    Every article with that same title counts as relevant (scaled copies share titles).
    """
    rng = random.Random(seed)
    by_title: dict[str, list[str]] = {}
    for a in articles:
        by_title.setdefault(a.title, []).append(a.id)
    queries = []
    for number in range(count):
        a = rng.choice(articles)
        title = a.title.split()
        size = min(len(title), rng.randint(2, 4))
        start = rng.randrange(0, len(title) - size + 1)
        queries.append(Query(f"title-{number}", " ".join(title[start:start + size]), by_title[a.title]))
    return queries


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
