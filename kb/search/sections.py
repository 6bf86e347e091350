"""An article's sections (its h2 and h3 headings with their anchors) and passages from them.

Anchors are made the way MkDocs makes them: Python-Markdown's `toc` slugify, made unique within
the page with `_1`, `_2`, and an explicit `{#id}` (attr_list) kept as written. The text before the
first heading is the article's opening section, with no heading and no anchor.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from itertools import chain
from typing import Iterable

import numpy as np
from markdown.extensions.toc import slugify, unique

from kb.search.text import Analyzer, analyzer_for, strip_markdown

PASSAGE_CHARS = 300  # at most this many characters in a passage, ellipses included
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ATTR_ID = re.compile(r"\s*\{[^}]*#([\w-]+)[^}]*\}\s*$")
_ATTRS = re.compile(r"\s*\{[:#.][^}]*\}\s*$")
_INLINE = re.compile(r"[*_`]")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_WORD_SPAN = re.compile(r"[^\W_]+(?:['\u2019\u02bc][^\W_]+)*")


@dataclass(frozen=True)
class Section:
    """One part of an article: its heading (empty for the opening), anchor, level and plain text."""

    heading: str
    anchor: str
    level: int
    text: str


def article_sections(body: str) -> list[Section]:
    """The article's opening text, then one Section per h2/h3 heading, in order."""
    used: set[str] = set()
    sections: list[Section] = []
    heading, anchor, level = "", "", 1
    lines: list[str] = []
    in_fence = False

    def close() -> None:
        text = _plain(lines)
        if heading or text:
            sections.append(Section(heading, anchor, level, text))

    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            lines.append(line)
            continue
        raw = match.group(2)
        explicit = _ATTR_ID.search(raw)
        title = _INLINE.sub("", _LINK.sub(r"\1", _ATTRS.sub("", raw))).strip()
        slug = explicit.group(1) if explicit else unique(slugify(title, "-"), used)
        used.add(slug)
        if len(match.group(1)) not in (2, 3):
            lines.append(title)  # h1 and h4+ stay inside the section around them
            continue
        close()
        heading, anchor, level, lines = title, slug, len(match.group(1)), []
    close()
    return sections


def _plain(lines: Iterable[str]) -> str:
    text = strip_markdown("\n".join(lines))
    text = re.sub(r"[*_`]+", "", text)
    text = re.sub(r"[>~|#]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def section_stems(section: Section, analyzer: Analyzer | None = None) -> tuple[frozenset[str], frozenset[str]]:
    """The terms of a section's heading and of its text (what best_section compares), by `analyzer`."""
    analyzer = analyzer or analyzer_for("en")
    return frozenset(analyzer.terms(section.heading)), frozenset(analyzer.terms(section.text))


def word_spans(text: str, analyzer: Analyzer | None = None) -> list[tuple[int, int, frozenset[str]]]:
    """(start, end, terms) of every word of `text`: what passage() looks through, worked out once."""
    analyzer = analyzer or analyzer_for("en")
    return [(m.start(), m.end(), frozenset(analyzer.terms(m.group(0)))) for m in _WORD_SPAN.finditer(text)]


def best_section(sections: list[Section], stems: set[str],
                 stem_sets: list[tuple[frozenset[str], frozenset[str]]] | None = None) -> int:
    """The number of the section whose heading and text hold most of `stems` (heading words count twice).

    `stem_sets` are the sections' section_stems, when the caller keeps them.
    """
    stem_sets = stem_sets if stem_sets is not None else [section_stems(s) for s in sections]
    best, best_value = 0, -1
    for number, (heading, text) in enumerate(stem_sets):
        in_heading = heading & stems
        value = 2 * len(in_heading) + len((text & stems) | in_heading)
        if value > best_value:
            best, best_value = number, value
    return best


def passage(text: str, stems: set[str], limit: int = PASSAGE_CHARS,
            spans: list[tuple[int, int, frozenset[str]]] | None = None) -> str:
    """At most `limit` characters of `text` around the densest run of words whose term is in `stems`.

    `spans` are the text's word_spans (English analysis when not given).
    """
    if len(text) <= limit:
        return text
    return window(text, [(start, end) for start, end, terms in (spans if spans is not None else word_spans(text))
                         if terms & stems], limit)


def window(text: str, matched: list[tuple[int, int]], limit: int = PASSAGE_CHARS) -> str:
    """At most `limit` characters of `text` around the densest run of the `matched` words (start, end)."""
    if len(text) <= limit:
        return text
    width = limit - 2  # room for an ellipsis at each end
    start = covered_to = 0
    if matched:
        # the window of `width` characters that starts at a matched word and covers the most others
        best, most, last = 0, 0, 0
        for first in range(len(matched)):
            last = max(last, first)
            while last + 1 < len(matched) and matched[last + 1][1] - matched[first][0] <= width:
                last += 1
            covered = last - first + 1 if matched[last][1] - matched[first][0] <= width else 0
            if covered > most:
                best, most = first, covered
        start = max(0, matched[best][0] - width // 6)
        start = _word_start(text, start)
        covered_to = matched[best + most - 1][1] if most else matched[best][1]
    end = min(len(text), start + width)
    if end < len(text):
        # a sentence's end in the window's last two fifths, past the matched words, ends it whole
        stop = _sentence_end(text, max(start + width * 3 // 5, covered_to), end)
        if stop > 0:
            return ("…" if start > 0 else "") + text[start:stop].strip()
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    out = text[start:end].strip()
    return ("…" if start > 0 else "") + out + ("…" if end < len(text) else "")


_SENTENCE_END = re.compile(r"(?<=[^\W\d_]|[)\"'”])[.!?](?=\s)")  # after a letter, a bracket or a quote: not "3." of a list


def _sentence_end(text: str, after: int, before: int) -> int:
    """Where the last sentence ending between `after` and `before` ends (after its full stop), or 0."""
    found = 0
    for match in _SENTENCE_END.finditer(text, after, before):
        found = match.end()
    return found


def _word_start(text: str, at: int) -> int:
    if at == 0:
        return 0
    space = text.rfind(" ", 0, at)
    return space + 1 if space >= 0 else 0


# ---------------------------------------------------------------------------------------------
# Sections analysed once for a server: compact arrays, every distinct word analysed once

_WORD_SPLIT = re.compile(f"({_WORD_SPAN.pattern})")
_NO_IDS = np.zeros(0, dtype=np.int32)


@dataclass(frozen=True)
class ArticleSections:
    """One article's sections with their terms, as small arrays.

    `vocabulary`: the article's distinct terms (ids of its SectionAnalysis), sorted. For each,
    `in_sections` has bit n set when section n's heading or text has it, `in_headings` when its
    heading has it (unsigned integers as wide as the sections need; Python integers past 64).
    `span_start`/`span_term`: each word of the sections longer than a passage, in order (its offset
    in the section's text), with its term as a position in `vocabulary` (a row per term for the
    rare word with several), rows `span_first[n]` to `span_first[n + 1]` for section n.
    """

    sections: tuple[Section, ...]
    vocabulary: np.ndarray
    in_sections: np.ndarray
    in_headings: np.ndarray
    span_first: np.ndarray
    span_start: np.ndarray
    span_term: np.ndarray

    def nbytes(self) -> int:
        """Bytes held by the arrays (not the sections' text, which the site holds anyway)."""
        return sum(a.nbytes for a in (self.vocabulary, self.in_sections, self.in_headings, self.span_first,
                                      self.span_start, self.span_term))

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions in `vocabulary` of those term ids the article has."""
        at = np.searchsorted(self.vocabulary, ids)
        inside = at < len(self.vocabulary)
        at = at[inside]
        return at[self.vocabulary[at] == ids[inside]]


def _compact(values: np.ndarray) -> np.ndarray:
    """`values` (not negative) in the smallest unsigned type that holds them."""
    top = int(values.max()) if len(values) else 0
    for kind in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(kind).max:
            return values.astype(kind)
    return values.astype(np.uint64)


def _masks(sections: np.ndarray, terms: np.ndarray, width: int, count: int) -> np.ndarray:
    """Per term (0..width-1), the bit mask of the sections it is in, from (section, term) rows."""
    if count <= 64:
        masks = np.zeros(width, dtype=np.uint64)
        np.bitwise_or.at(masks, terms, np.left_shift(np.uint64(1), sections.astype(np.uint64)))
        return _compact(masks)
    big = [0] * width
    for section, term in zip(sections.tolist(), terms.tolist()):
        big[term] |= 1 << section
    out = np.empty(width, dtype=object)
    out[:] = big
    return out


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class SectionAnalysis:
    """Sections analysed by one language's analyzer; every distinct word is analysed once, and its
    terms are kept as integer ids, so an article's sections cost a few small arrays.

    Words are what `word_spans` finds, each analysed alone. Safe to use from several threads: new
    words are analysed under a lock.
    """

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self._words: dict[str, tuple[int, ...]] = {}
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def words_known(self) -> int:
        """Distinct words analysed so far."""
        return len(self._words)

    def term_ids(self, terms: Iterable[str]) -> np.ndarray:
        """The ids of those of `terms` some analysed section has."""
        found = [i for i in map(self._ids.get, terms) if i is not None]
        return np.array(found, dtype=np.int64) if found else _NO_IDS

    def article(self, sections: Iterable[Section], limit: int = PASSAGE_CHARS) -> ArticleSections:
        """The article's sections analysed (words kept only for sections longer than `limit`)."""
        sections = tuple(sections)
        count = len(sections)
        # all texts, then all headings, as one string: one split and one lookup per article
        texts = [s.text for s in sections] + [s.heading for s in sections]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
        offsets = np.cumsum(lengths) - lengths
        starts, terms = self._words_of("\n".join(texts))
        part = np.searchsorted(offsets, starts, side="right") - 1  # texts 0..count-1, then headings
        vocabulary, local = np.unique(terms, return_inverse=True)
        section = part % max(count, 1)
        heading = part >= count
        long = np.zeros(2 * count, dtype=bool)
        long[:count] = lengths[:count] - 1 > limit
        kept = long[part]
        span_first = np.zeros(count + 1, dtype=np.int32)
        np.cumsum(np.bincount(part[kept], minlength=count)[:count], out=span_first[1:])
        return ArticleSections(sections, vocabulary.astype(np.int32),
                               _masks(section, local, len(vocabulary), count),
                               _masks(section[heading], local[heading], len(vocabulary), count),
                               span_first, _compact((starts - offsets[part])[kept]), _compact(local[kept]))

    def best(self, article: ArticleSections, stems: Iterable[str], limit: int = PASSAGE_CHARS,
             number: int | None = None) -> tuple[int, str]:
        """The number of the section holding most of `stems` (as best_section()), or section `number`
        when given, and its passage() around `stems`."""
        at = article.positions(self.term_ids(stems))
        count = len(article.sections)
        if number is not None:
            pass
        elif count > 1 and len(at):
            value = [0] * count
            for mask in article.in_sections[at].tolist():
                for n in _bits(mask):
                    value[n] += 1
            for mask in article.in_headings[at].tolist():
                for n in _bits(mask):
                    value[n] += 2
            number = value.index(max(value))  # the first of equals, as best_section()
        else:
            number = 0
        text = article.sections[number].text if count else ""
        if len(text) <= limit:
            return number, text
        first, last = int(article.span_first[number]), int(article.span_first[number + 1])
        wanted = np.zeros(len(article.vocabulary), dtype=bool)
        wanted[at] = True
        matched = []
        for start in dict.fromkeys(article.span_start[first:last][wanted[article.span_term[first:last]]].tolist()):
            found = _WORD_SPAN.match(text, start)  # once per word, in order
            matched.append((start, found.end() if found else start))
        return number, window(text, matched, limit)

    def _known(self, words: list[str]) -> list[tuple[int, ...]]:
        found = list(map(self._words.get, words))
        if None in found:
            with self._lock:
                for word in words:
                    if word not in self._words:
                        ids = []
                        for term in self.analyzer.terms(word):
                            i = self._ids.get(term)
                            if i is None:
                                i = self._ids[term] = len(self._ids)
                            ids.append(i)
                        self._words[word] = tuple(ids)
            found = list(map(self._words.__getitem__, words))
        return found

    def _words_of(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(start, term) of every word of `text`, a row per term."""
        parts = _WORD_SPLIT.split(text)
        words = parts[1::2]
        found = self._known(words)
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        starts = np.cumsum(lengths)[1::2] - lengths[1::2]
        per_word = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        terms = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=int(per_word.sum()))
        return np.repeat(starts, per_word), terms
