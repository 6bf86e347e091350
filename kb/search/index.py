"""The search index: built in Python at build time, written into the site, read back.

The index is plain JSON the browser downloads and only parses. Ranking is BM25F over weighted
fields (title, questions, tags, headings, body), with per-term impacts computed here and stored
as integers, so the browser engine (kb/assets/search/worker.js) and this module add up the very
same numbers and agree on the order of results.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from array import array
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Protocol

import yaml

from kb.search.confidence import model_for
from kb.search.sections import article_sections
from kb.search.text import Analyzer, analyzer_for, strip_markdown

FORMAT = "kb-search/1"
INDEX_PATH = "search/search_index.json"

# Field weights for BM25F: a word in the title says more than one in the body.
FIELD_WEIGHTS = {"title": 4.0, "questions": 2.0, "tags": 2.0, "headings": 1.5, "body": 1.0}
FIELD_B = {"title": 0.5, "questions": 0.75, "tags": 0.3, "headings": 0.5, "body": 0.9}
# Field weights add up into one term frequency, so saturation (BM25's k1) comes late: each
# language's analyzer carries its own (kb.search.text.Analyzer.k1).
IMPACT_SCALE = 10  # impacts are stored as round(score * IMPACT_SCALE)

SNIPPET_CHARS = 200
# Past this many gzip bytes the index is split: the browser fetches only the shards a query needs.
SPLIT_AT = 256_000
SHARD_BYTES = 64_000  # about this much JSON of postings per shard
DOC_CHUNK = 500  # article details (title, url, snippet) per shard
DEFAULT_SEPARATOR = r"[\s\-]+"


class SearchError(Exception):
    """The index cannot be built or read; the message says why."""


class ArticleLike(Protocol):
    id: str
    title: str
    url: str
    body: str
    questions: list[str]
    tags: list[str]
    headings: list[str]


# ---------------------------------------------------------------------------------------------
# Building


def build_index(articles: Iterable[ArticleLike], synonyms: dict[str, list[str]] | None = None,
                language: str = "en", fields: dict | None = None) -> dict:
    """Build the JSON-able index the browser downloads, analysed as `language` (BCP 47).

    Raises SearchError when it would be empty. `fields`, a dict the caller keeps, holds each
    article's words by (language, id, version) between builds, and its snippet and sections by
    (language, id, version, "details").
    """
    articles = list(articles)
    if not articles:
        raise SearchError("no articles to index: the search index would be empty")
    analyzer = analyzer_for(language)
    if fields is None:
        fields_per_doc = [_doc_fields(a, analyzer) for a in articles]
    else:
        fields_per_doc = [fields.get(key) or fields.setdefault(key, _doc_fields(a, analyzer))
                          for a in articles for key in [(analyzer.language, a.id, a.version)]]
    n = len(articles)
    avg = {f: (sum(len(d[f]) for d in fields_per_doc) / n) or 1.0 for f in FIELD_WEIGHTS}

    # term -> the docs it occurs in (ascending) and their weighted, length-normalised term frequencies;
    # arrays, not a dict per term: a 10,000-article site has millions of (term, doc) pairs.
    docs_of: dict[str, array] = {}
    tfs_of: dict[str, array] = {}
    for doc, doc_fields in enumerate(fields_per_doc):
        acc: dict[str, float] = defaultdict(float)
        for name, tokens in doc_fields.items():
            if not tokens:
                continue
            norm = 1 - FIELD_B[name] + FIELD_B[name] * len(tokens) / avg[name]
            w = FIELD_WEIGHTS[name] / norm
            for term, tf in Counter(tokens).items():
                acc[term] += w * tf
        if fields is None:
            fields_per_doc[doc] = {}  # its words are counted: let them go
        for term, tf in acc.items():
            if term not in docs_of:
                docs_of[term], tfs_of[term] = array("l"), array("d")
            docs_of[term].append(doc)
            tfs_of[term].append(tf)
    if not docs_of:
        raise SearchError(f"{n} articles but not one searchable word: the search index would be empty")

    terms = sorted(docs_of)
    k1 = analyzer.k1
    postings = []
    for term in terms:
        docs = docs_of[term]
        idf = math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
        row: list[int] = []
        last = 0
        for doc, tf in zip(docs, tfs_of[term]):
            impact = max(1, round(idf * tf * (k1 + 1) / (tf + k1) * IMPACT_SCALE))
            row += [doc - last, impact]
            last = doc
        postings.append(row)
    return {
        "format": FORMAT,
        "language": analyzer.language,
        "docs": [[a.id, a.title, a.url, *_details(a, analyzer, fields)] for a in articles],
        "terms": terms,
        "postings": postings,
        "synonyms": _expand_synonyms(synonyms or {}, {t: len(docs_of[t]) for t in terms}, analyzer),
        "forms": analyzer.find_forms(text for a in articles for text in _texts(a)),
        "confidence": model_for(analyzer.language),  # the browser's model: kb/search/confidence.py
    }


def _details(a: ArticleLike, analyzer: Analyzer, cache: dict | None) -> tuple[str, list[list[str]]]:
    """The snippet and section heads of an article's entry, from `cache` when it has them."""
    if cache is None:
        return _snippet(a), section_heads(a)
    key = (analyzer.language, a.id, a.version, "details")
    found = cache.get(key)
    if found is None:
        found = cache[key] = (_snippet(a), section_heads(a))
    return found


def _texts(a: ArticleLike) -> list[str]:
    return [a.title, *a.questions, *a.tags, *a.headings, strip_markdown(a.body)]


def _doc_fields(a: ArticleLike, analyzer: Analyzer) -> dict[str, list[str]]:
    return {
        "title": analyzer.terms(a.title),
        "questions": analyzer.terms(" \n ".join(a.questions)),
        "tags": analyzer.terms(" ".join(a.tags)),
        "headings": analyzer.terms(" \n ".join(a.headings)),
        "body": analyzer.terms(strip_markdown(a.body)),
    }


def _snippet(a: ArticleLike) -> str:
    lines = []
    for line in strip_markdown(a.body).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        lines.append(re.sub(r"[*_`>~|]+", "", line).strip())
        if sum(map(len, lines)) >= SNIPPET_CHARS:
            break
    text = re.sub(r"\s+", " ", " ".join(lines)).strip()
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"


def section_heads(a: ArticleLike) -> list[list[str]]:
    """The article's h2/h3 sections as [heading, anchor, first sentence] (the browser shows the one
    that holds the customer's words under its article, with the sentence that answers)."""
    return [[s.heading, s.anchor, first_sentence(s.text)] for s in article_sections(a.body) if s.anchor]


SENTENCE_CHARS = 160
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=\S)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE_RULE = re.compile(r"(?:^|\s):?-{3,}:?(?:\s|$)")


def first_sentence(text: str) -> str:
    """The first sentence of a section's plain text (a list's first item), at most SENTENCE_CHARS."""
    text = _LIST_MARK.sub("", re.sub(r"\s+", " ", re.sub(r"[*_`>~|]+", "", text)).strip())
    item = re.split(r"\s(?:[-*+]|\d+[.)])\s", text, maxsplit=1)[0]
    sentence = _SENTENCE_END.split(item, maxsplit=1)[0].strip()
    if _TABLE_RULE.search(sentence):
        return ""  # a table's cells, run together, read as no sentence: the heading stands alone
    if len(sentence) <= SENTENCE_CHARS:
        return sentence
    return sentence[:SENTENCE_CHARS].rsplit(" ", 1)[0] + "…"


def _expand_synonyms(synonyms: dict[str, list[str]], df: dict[str, int], analyzer: Analyzer) -> dict[str, list[str]]:
    """Stemmed, two-way synonym table: stem -> alternative stems.

    A phrase stands for its rarest indexed word ("promo code" -> "promo"): that word carries the
    meaning, where "code" alone would match every article about any code.
    """
    table: dict[str, list[str]] = defaultdict(list)
    for word, alternatives in synonyms.items():
        group = [analyzer.terms(w) for w in [word, *alternatives]]
        carriers = [_rarest(g, df) for g in group]
        for member, carrier in zip(group, carriers):
            if len(member) != 1:
                continue  # a phrase is reached through the single words of its group
            for other in carriers:
                if other and other != member[0] and other not in table[member[0]]:
                    table[member[0]].append(other)
    return {k: v for k, v in sorted(table.items()) if v}


def _rarest(stems: list[str], df: dict[str, int]) -> str | None:
    if len(stems) == 1:
        return stems[0]
    if not stems or any(s not in df for s in stems):
        return None  # a phrase with a word no article uses occurs nowhere
    return min(stems, key=lambda s: (df[s], stems.index(s)))


def load_synonyms(path: Path) -> dict[str, list[str]]:
    """Read articles/synonyms.yml (word: [word or phrase, ...]); a missing file means none."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else None
        raise SearchError(f"{path}:{line or 1}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SearchError(f"{path}:1: expected a mapping of word -> list of words, got {type(data).__name__}")
    result: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            raise SearchError(f"{path}: synonyms of '{key}' must be a list of words or phrases, "
                              f"got {value!r}")
        result[str(key)] = [str(v) for v in value]
    return result


def write_index(index: dict, site_dir: Path, separator: str = DEFAULT_SEPARATOR,
                split_at: int = SPLIT_AT, highlight: bool = False) -> Path:
    """Write the index where Material's page script fetches it (search/search_index.json).

    `highlight` tells the worker to link results with the terms they matched, for the page to mark.

    Past `split_at` gzip bytes, that file keeps only the vocabulary and the shard table, and the
    postings and article details go to content-named shards the browser fetches per query.
    """
    if not index.get("docs"):
        raise SearchError("refusing to write an empty search index")
    path = Path(site_dir) / INDEX_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob("kb-[pd][0-9]*.json"):  # the shards of an earlier index, not other kb files
        stale.unlink()
    data = _dumps(index).encode("utf-8")  # one copy: at 10,000 articles each is over 10 MB
    if len(gzip.compress(data)) > split_at:
        index = _split(index, path.parent, hashlib.sha1(data).hexdigest()[:10])
    del data
    # Material's bundle fetches this file and hands {config, docs} to the worker.
    wrapper = {"config": {"lang": [index.get("language", "en")], "separator": separator, "pipeline": [],
                          "fields": {}, "highlight": highlight},
               "docs": index}
    path.write_text(_dumps(wrapper), encoding="utf-8")
    return path


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _split(index: dict, folder: Path, tag: str) -> dict:
    """Write postings and docs to shards; return the head that names them."""
    starts, files = [], []
    shard: list[list[int]] = []
    size = 0

    def flush() -> None:
        name = f"kb-p{len(files)}.{tag}.json"
        (folder / name).write_text(_dumps(shard), encoding="utf-8")
        files.append(name)

    for number, row in enumerate(index["postings"]):
        if shard and size + 4 * len(row) > SHARD_BYTES:
            flush()
            shard, size = [], 0
        if not shard:
            starts.append(number)
        shard.append(row)
        size += 4 * len(row)
    flush()
    docs = index["docs"]
    doc_files = []
    for first in range(0, len(docs), DOC_CHUNK):
        name = f"kb-d{len(doc_files)}.{tag}.json"
        (folder / name).write_text(_dumps(docs[first:first + DOC_CHUNK]), encoding="utf-8")
        doc_files.append(name)
    head = {k: v for k, v in index.items() if k not in ("docs", "postings")}
    head["split"] = {"n_docs": len(docs), "postings": starts, "postings_files": files,
                     "doc_chunk": DOC_CHUNK, "docs_files": doc_files}
    return head


def load_index(site_dir: Path) -> dict:
    """Read the index written by write_index (joining its shards), or raise SearchError naming the file."""
    path = Path(site_dir) / INDEX_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SearchError(f"{path}: no search index; build the site first (kb build)") from exc
    except json.JSONDecodeError as exc:
        raise SearchError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    index = data.get("docs") if isinstance(data, dict) else None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise SearchError(f"{path}: not a kb search index (was it built by Material's own search?)")
    split = index.pop("split", None)
    if split:
        folder = path.parent.resolve()

        def shard(name: str) -> list:
            # a shard is a file beside the index, never a path elsewhere (symlinks resolved)
            found = (path.parent / name).resolve()
            if found.parent != folder:
                raise OSError(f"{name!r} is not a file beside the index")
            return json.loads(found.read_text(encoding="utf-8"))

        try:
            index["postings"] = [row for name in split["postings_files"] for row in shard(name)]
            index["docs"] = [doc for name in split["docs_files"] for doc in shard(name)]
        except (OSError, TypeError, json.JSONDecodeError) as exc:
            raise SearchError(f"{path}: a shard of the split index is missing or broken: {exc}") from exc
    if not index.get("docs"):
        raise SearchError(f"{path}: the search index is empty")
    return index
