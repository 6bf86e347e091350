"""What a help center makes of a customer's words, for the review: read once, used twice.

The report's content gaps need two things of each failed search's wording, where the site has its
vectors: its meaning, to group wordings that mean the same (kb.report.review), and the hybrid
ranking (kb.search.hybrid), for the articles nearest to it. A `Reading` holds both, and
`SiteMeanings` makes each text's reading once: its vector comes from `QueryVectors` (an in-process
memo, and the embeddings cache where one is at hand), so a report embeds each gap's name once, and a
collector asked for its report again embeds only the names it has not seen.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from kb.search import hybrid
from kb.search.embeddings import EmbeddingCache, embed_texts, model
from kb.search.vectors import ArticleVectors

ANSWERS_PER_TEXT = 5
"""How many of a text's hybrid results get an answer probability (the rest are close to 0)."""
RANKED_PER_TEXT = 10
"""How many of a text's hybrid results a reading keeps (the report names 3 nearest articles)."""
REMEMBERED = 20_000
"""Texts whose vectors (1.5 KB each) and readings a process keeps: every gap name a collector's
reports name, many times over."""


@dataclass(frozen=True)
class Reading:
    """One text as the site reads it."""

    text: str
    relative: np.ndarray  # its unit vector relative to the site's texts (their mean taken away), made unit again
    ranked: tuple[str, ...]  # the hybrid ranking's article ids, best first (RANKED_PER_TEXT)
    answers: dict[str, float]  # article id -> the probability that it answers the text (hybrid.confidence)


class QueryVectors:
    """Texts embedded as a customer's words, each once: remembered in the process (the last
    REMEMBERED), and kept in the embeddings cache when one is given (another process reuses them)."""

    def __init__(self, cache: EmbeddingCache | None = None) -> None:
        self.cache = cache
        self._known: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.embedded = 0  # texts this object had to have embedded (from the cache or the model)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' unit vectors, one row each."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._known))
            if missing:
                rows = (embed_texts(missing, self.cache, "query") if self.cache is not None
                        else np.stack([model().query(t) for t in missing]))
                self.embedded += len(missing)
                for text, row in zip(missing, rows):
                    self._known[text] = row
            for text in texts:
                self._known.move_to_end(text)
            rows = [self._known[t] for t in texts]
            while len(self._known) > REMEMBERED:
                self._known.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, 0), np.float32)


class SiteMeanings:
    """One language's help center (its index and vectors) reading customers' texts: see `Reading`."""

    def __init__(self, index: dict, vectors: ArticleVectors, language: str, embed: QueryVectors) -> None:
        self.index = index
        self.vectors = vectors
        self.language = language
        self.embed = embed
        self.centre = vectors.matrix.mean(axis=0) if len(vectors.matrix) else np.zeros(vectors.matrix.shape[1:])
        self._read: OrderedDict[str, Reading] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> list[Reading]:
        """The readings of `texts`, in order (each text embedded and ranked once)."""
        with self._lock:
            found = {t: self._read[t] for t in texts if t in self._read}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            vectors = self.embed([self.vectors.as_written(text) for text in missing])  # letters typed without, given back
            found.update((text, self.read(text, vector)) for text, vector in zip(missing, vectors))
            with self._lock:
                for text in missing:
                    self._read[text] = found[text]
                while len(self._read) > REMEMBERED:
                    self._read.popitem(last=False)
        return [found[t] for t in texts]

    def read(self, text: str, vector: np.ndarray) -> Reading:
        """The reading of `text` whose query vector is `vector`."""
        hits = hybrid.hybrid_search(self.index, self.vectors, text, vector, limit=RANKED_PER_TEXT)
        answers = {hit.id: hybrid.confidence(hits, number, self.language)
                   for number, hit in enumerate(hits[:ANSWERS_PER_TEXT])}
        return Reading(text, relative_to(self.centre, vector), tuple(hit.id for hit in hits), answers)


def relative_to(centre: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """`vector` with `centre` (the mean of a site's unit vectors) taken away, made a unit vector again:
    what every text of the help center shares does not make two texts alike."""
    row = np.asarray(vector, dtype=np.float32) - centre
    norm = float(np.linalg.norm(row))
    return row / norm if norm > 0 else row
