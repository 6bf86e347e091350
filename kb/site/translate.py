"""Starting a translation (`kb new --translate`): the source's front matter and text, made to check
clean in the target language at once.

What the target language does not have yet (related articles, linked articles) is left out and
named, images are copied beside the translation, and the translation goes to the category where
the language keeps the translations of its source's category: never a new category named in the
source's language.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import unquote

import yaml

from kb.articles import Article, Problem, split_front_matter


@dataclass
class TranslationStart:
    """What `kb new --translate` writes: the file's text, the images to copy beside it, and what
    the language does not have yet (left out of `related:`, links left as their text)."""

    text: str
    images: list[tuple[Path, Path]] = field(default_factory=list)  # (source image, its copy)
    left_out: list[str] = field(default_factory=list)


_BODY_LINK = re.compile(r"(!?)\[((?:[^\]\[]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def start_translation(source: Article, source_text: str, target: Path, code: str,
                      sources: Mapping[Path, Article], translated: Mapping[str, Article]) -> TranslationStart:
    """A translation of `source` into language `code`, to be written at `target`, that checks clean.

    The front matter keeps the source's keys, with `translated_from:` set and `draft: true` until
    it is translated (a draft is not published). `related:` keeps the ids the language has
    (`translated`, by id); a link to another article leads to its translation, or is left as its
    text when the language has none; an image is copied beside the translation. What was left out
    is named in a comment at the end of the front matter. `sources` are the default language's
    articles by their resolved path.
    """
    found: list[Problem] = []
    meta, _, body, _ = split_front_matter(source_text.replace("\r\n", "\n"), source.rel_path, found)
    meta = meta or {}
    start = TranslationStart("")
    related = [rid for rid in source.related if rid in translated]
    missing = [rid for rid in source.related if rid not in translated]
    fields: list[tuple[str, Any, str]] = [
        ("id", source.id, ""),
        ("translated_from", source.version, f"the version of {source.rel_path} this translates; update it with "
                                            "the translation"),
    ]
    for key, value in meta.items():
        if key in ("id", "translated_from", "draft"):
            continue
        if key == "related":
            if related:
                fields.append((key, related, f"not yet in {code}: {', '.join(missing)}" if missing else ""))
            continue
        fields.append((key, value, ""))
    fields.append(("draft", True, "remove when translated: a draft is not published"))
    if missing:
        start.left_out += [f"related {rid}" for rid in missing]

    def relink(match: re.Match) -> str:
        image, text, url = match.group(1), match.group(2), match.group(3)
        if _SCHEME.match(url) or url.startswith(("#", "/")):
            return match.group(0)
        path, rest = re.match(r"([^#?]*)(.*)", url, re.S).groups()
        if not path:
            return match.group(0)
        resolved = (source.path.parent / unquote(path)).resolve()
        if image:
            start.images.append((resolved, (target.parent / unquote(path)).resolve()))
            return match.group(0)
        linked = sources.get(resolved)
        if not path.endswith(".md") or linked is None:
            return match.group(0)
        there = translated.get(linked.id)
        if there is None:
            start.left_out.append(f"link {linked.id}")
            return text
        return match.group(0).replace(url, os.path.relpath(there.path, target.parent).replace(os.sep, "/") + rest, 1)

    lines, in_fence = [], False
    for line in body.split("\n"):
        if re.match(r"^\s*(```|~~~)", line):
            in_fence = not in_fence
        elif not in_fence:
            line = _BODY_LINK.sub(relink, line)
        lines.append(line)
    front = []
    for key, value, comment in fields:
        dumped = yaml.safe_dump({key: value}, allow_unicode=True, default_flow_style=False, width=1 << 16,
                                sort_keys=False).rstrip("\n")
        front.append(f"{dumped}  # {comment}" if comment and "\n" not in dumped else
                     (f"# {comment}\n{dumped}" if comment else dumped))
    links = [item[5:] for item in start.left_out if item.startswith("link ")]
    if links:
        front.append(f"# links left as their text, no {code} article yet: {', '.join(dict.fromkeys(links))}")
    start.text = "---\n" + "\n".join(front) + "\n---\n" + "\n".join(lines)
    return start


def translation_folder(source: Article, sources: Iterable[Article], translated: Mapping[str, Article]) -> str | None:
    """The language's category for a translation of `source`: where the translations of the other
    articles of its category went (the most of them), or None when none has been translated yet."""
    places = Counter(translated[a.id].category for a in sources
                     if a.category == source.category and a.id != source.id and a.id in translated)
    return places.most_common(1)[0][0] if places else None
