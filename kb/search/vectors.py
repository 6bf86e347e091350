"""The site's vectors: every article's units embedded at build time, written beside the search index.

`write_site_vectors` is what a build calls after writing the index: it reads each article's units
and their vectors from the embeddings cache (kb.search.embeddings), embeds only what the cache
lacks (with progress), and writes `search/vectors.npz` into the site. A server (the collector,
`kb mcp`, `kb search`, the report) loads it with `load_vectors`; a site without it, or built with
the semantic layer off, still answers by words alone.

The file is a NumPy `.npz` (a zip of arrays, read without pickling): one row per unit, each a
unit vector stored as int8 with a float32 scale per row (a 384-number vector in 388 bytes;
cosines move by less than 0.002), the row's article (a number into `ids`), its kind (title,
question, passage, or the article read whole) and section, and a `meta` string naming the model and format. Rows of one
article are contiguous, in the order of `ids`. Beside them, the site's *spelling*: the words its
articles write with letters that folding takes away, by their folded form ("haslo" -> "hasło"),
as UTF-8 JSON bytes.

Customers often type without their language's letters (a third of plhelp's Polish questions:
"jak zmienic haslo"). The words' ranking folds them away anyway, but the model reads "haslo"
worse than "hasło": a query typed wholly without such letters is given them back from the site's
own words before it is embedded (`ArticleVectors.as_written`), which raised plhelp's MRR@10 by
meaning alone from 0.689 to 0.755 (the articles' parts; with their mean and the article read whole,
from 0.768 to 0.796), and left the English sets as they were (`kb bench hybrid`).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from kb.search.embeddings import (CACHE_FILE, DIM, MODEL, WHOLE, ArticleText, EmbeddingCache, EmbeddingError,
                                  Model, cache_dir, embed_texts, units_of)
from kb.search.text import WORD, fold

FORMAT = "kb-vectors/1"
VECTORS_PATH = "search/vectors.npz"

Progress = Callable[[int, int], None]  # (units embedded so far, units to embed)
PROGRESS_SECONDS = 2.0  # between progress records while embedding


@dataclass
class ArticleVectors:
    """Every unit vector of a site's articles (see the module docstring), ready for dot products."""

    ids: list[str]
    article: np.ndarray  # int32, one per row: the row's article, a number into `ids`
    kinds: np.ndarray  # int8, one per row: TITLE, QUESTION, PASSAGE or WHOLE (kb.search.embeddings)
    sections: np.ndarray  # int16, one per row: a passage's section number, else -1
    matrix: np.ndarray  # float32 (rows, DIM): unit vectors
    model: str = MODEL
    spelling: dict[str, str] = field(default_factory=dict)  # folded word -> as the site writes it (`written_forms`)

    def __post_init__(self) -> None:
        self.position = {aid: i for i, aid in enumerate(self.ids)}
        # where each article's run of rows starts (rows are grouped by article, in order)
        change = np.ones(len(self.article), dtype=bool)
        change[1:] = self.article[1:] != self.article[:-1]
        self.starts = np.flatnonzero(change)
        # the parts (title, questions, passages) are pooled; the article read whole stands apart
        self.parts = self.kinds != WHOLE
        dim = self.matrix.shape[1] if self.matrix.ndim == 2 else DIM
        # each article's mean part vector, made a unit vector again: its parts' common ground
        sums = np.zeros((len(self.ids), dim), np.float32)
        np.add.at(sums, self.article[self.parts], self.matrix[self.parts])
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        self.means = sums / np.where(norms > 0, norms, 1.0)
        # each article read whole (zero for an article without that row: it adds nothing)
        self.wholes = np.zeros((len(self.ids), dim), np.float32)
        self.wholes[self.article[~self.parts]] = self.matrix[~self.parts]

    def as_written(self, text: str) -> str:
        """`text` as the model should read it: when it has no letter beyond ASCII, each word the
        site writes with letters that folding takes away gets them back ("jak zmienic haslo" ->
        "jak zmienić hasło"); a text with any such letter is left as typed (its writer has them)."""
        if not self.spelling or not text.isascii():
            return text
        return WORD.sub(lambda m: _written(m.group(0), self.spelling), text)


def _written(word: str, spelling: dict[str, str]) -> str:
    found = spelling.get(word.lower())
    if found is None:
        return word
    return found[:1].upper() + found[1:] if word[:1].isupper() else found


def written_forms(articles: Iterable[ArticleText]) -> dict[str, str]:
    """The articles' words that folding changes beyond their case, by folded form: the form they
    write most often, where it is written so more often than the folded form itself ("hasło" for
    "haslo"; "się" for "sie")."""
    counts: Counter = Counter()
    for article in articles:
        for text in (article.title, *article.questions, article.body):
            counts.update(WORD.findall(text.lower()))
    best: dict[str, tuple[str, int]] = {}
    for word, count in counts.items():
        if word.isascii():
            continue
        folded = fold(word)
        if folded != word and count > counts.get(folded, 0) and count > best.get(folded, ("", 0))[1]:
            best[folded] = (word, count)
    return {folded: word for folded, (word, _) in sorted(best.items())}


def embed_articles(articles: Sequence[ArticleText], cache: EmbeddingCache, progress: Progress | None = None,
                   embedder: Model | None = None) -> ArticleVectors:
    """The units of `articles` and their vectors, from the cache, embedding what it lacks
    (`embedder`: another model, as kb.search.embeddings.embed_texts takes; default kb's)."""
    units = units_of(articles, cache)
    texts = [u.text for article_units in units for u in article_units]
    matrix = (embed_texts(texts, cache, "passage", progress, embedder=embedder) if texts
              else np.zeros((0, DIM), np.float32))
    return ArticleVectors(
        ids=[a.id for a in articles],
        article=np.repeat(np.arange(len(articles), dtype=np.int32), [len(u) for u in units]),
        kinds=np.array([u.kind for us in units for u in us], dtype=np.int8),
        sections=np.array([u.section for us in units for u in us], dtype=np.int16),
        matrix=matrix, spelling=written_forms(articles))


def quantize(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows as int8 and a scale each: row ~ int8 * scale."""
    scales = np.abs(matrix).max(axis=1) / 127.0 if len(matrix) else np.zeros(0, np.float32)
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    return np.round(matrix / scales[:, None]).astype(np.int8), scales


def write_vectors(vectors: ArticleVectors, site_dir: Path) -> Path:
    """Write `vectors` into the site (int8 rows with a scale each), replacing the file whole."""
    path = Path(site_dir) / VECTORS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    quantized, scales = quantize(vectors.matrix)
    meta = json.dumps({"format": FORMAT, "model": vectors.model, "dim": DIM})
    # beside it, then renamed over it: a reader sees the old file or the new one, never half of one
    # (opened as any file is, so it gets the same permissions as the site's other files)
    tmp = path.with_name(f".vectors-{os.getpid()}-{uuid.uuid4().hex}.npz")
    try:
        with open(tmp, "wb") as out:
            np.savez(out, meta=np.array(meta), ids=np.array(vectors.ids, dtype=str), article=vectors.article,
                     kinds=vectors.kinds, sections=vectors.sections, vectors=quantized, scales=scales,
                     spelling=np.frombuffer(json.dumps(vectors.spelling, ensure_ascii=False).encode(), np.uint8))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_vectors(site_dir: Path) -> ArticleVectors | None:
    """The site's vectors, or None when it has none; EmbeddingError when the file is not usable."""
    path = Path(site_dir) / VECTORS_PATH
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(str(arrays["meta"]))
            if meta.get("format") != FORMAT:
                raise EmbeddingError(f"{path}: not a kb vectors file (expected format {FORMAT})")
            quantized, scales = arrays["vectors"], arrays["scales"]
            # a file written before the spelling was kept has none: queries are embedded as typed
            spelling = json.loads(arrays["spelling"].tobytes().decode()) if "spelling" in arrays.files else {}
            if not isinstance(spelling, dict):
                raise ValueError("its spelling is not a mapping of words")
            return ArticleVectors(ids=[str(i) for i in arrays["ids"]], article=arrays["article"].astype(np.int32),
                                  kinds=arrays["kinds"], sections=arrays["sections"],
                                  matrix=quantized.astype(np.float32) * scales[:, None], model=meta.get("model", ""),
                                  spelling={str(k): str(v) for k, v in spelling.items()})
    except (ValueError, KeyError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise EmbeddingError(f"{path}: not a readable kb vectors file ({exc}); build the site again") from exc


def remove_vectors(site_dir: Path) -> None:
    """Delete the site's vectors (a build with the semantic layer off must not leave stale ones)."""
    try:
        (Path(site_dir) / VECTORS_PATH).unlink()
    except FileNotFoundError:
        pass


def write_site_vectors(articles: Iterable[ArticleText], site_dir: Path, project_dir: Path | None,
                       semantic: bool = True, progress: Progress | None = None) -> dict | None:
    """The build's step: embed the published articles (cached) and write their vectors into the site;
    with `semantic` off, remove any old ones. Returns figures (units, embedded, seconds) or None."""
    if not semantic:
        remove_vectors(site_dir)
        return None
    articles = list(articles)
    start = time.perf_counter()
    embedded = [0]

    def counted(done: int, total: int) -> None:
        embedded[0] = total
        if progress is not None:
            progress(done, total)

    cache = EmbeddingCache(cache_dir(project_dir) / CACHE_FILE)
    try:
        vectors = embed_articles(articles, cache, counted)
    finally:
        cache.close()
    write_vectors(vectors, site_dir)
    return {"articles": len(articles), "units": len(vectors.article), "embedded": embedded[0],
            "seconds": round(time.perf_counter() - start, 2)}


def log_progress(logger: logging.Logger) -> Progress:
    """A Progress that logs "kb: embedding ..." at most every PROGRESS_SECONDS (and at the start and
    end), each record carrying `kb_progress` = (done, total) for a command line to draw a bar."""
    started = time.monotonic()
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if 0 < done < total and now - last[0] < PROGRESS_SECONDS:
            return
        last[0] = now
        left = ""
        if 0 < done < total:
            seconds = (now - started) * (total - done) / done
            left = f", about {int(seconds // 60)}:{int(seconds % 60):02d} left"
        logger.info(f"kb: embedding articles for search by meaning: {done}/{total} texts{left}",
                    extra={"kb_progress": (done, total)})

    return report
