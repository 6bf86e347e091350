"""An article's sections (its h2 and h3 headings with their anchors) and passages from them.

Anchors are made the way MkDocs makes them: Python-Markdown's `toc` slugify, made unique within
the page with `_1`, `_2`, and an explicit `{#id}` (attr_list) kept as written. The text before the
first heading is the article's opening section, with no heading and no anchor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

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
    matched = [(start, end) for start, end, terms in (spans if spans is not None else word_spans(text))
               if terms & stems]
    width = limit - 2  # room for an ellipsis at each end
    start = 0
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
    end = min(len(text), start + width)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    out = text[start:end].strip()
    return ("…" if start > 0 else "") + out + ("…" if end < len(text) else "")


def _word_start(text: str, at: int) -> int:
    if at == 0:
        return 0
    space = text.rfind(" ", 0, at)
    return space + 1 if space >= 0 else 0
