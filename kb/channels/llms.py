"""What bots read from a built site: llms.txt, a Markdown twin of every article, and the answers file.

- `llms.txt` (https://llmstxt.org): the help center's name as the H1, its summary as the block
  quote, how to hand over to a person, then one H2 per category listing its articles as links to
  their Markdown twins, each with a one-line description, and the other languages' llms.txt. Each
  language's build writes its own at the root of its site, in its own words.
- The Markdown twin of an article is its source without front matter, under its title, at
  `<article url>index.md` (`<page>.md` for sites without directory URLs). Its links lead where
  the page's do: a link to another article's `.md` file becomes that article's page URL, and an
  image's path the image's place in the site.
- `search/kb-answers.json` holds what the answer API needs beside the search index: the site's
  name, language, answer threshold, contact channels, `site_url` and the phrases customers use to
  ask for a person, and each article's version, source Markdown and sections (heading, anchor,
  text) for passages.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import unquote, urljoin

from kb.search.sections import article_sections

LLMS_TXT = "llms.txt"
ANSWERS_PATH = "search/kb-answers.json"
ANSWERS_FORMAT = "kb-answers/1"
# The site's default `answer_threshold`: the confidence (the estimated probability that the top result
# answers, from the hybrid model or the words-only one, so it means the same for both) at which the
# search API and `kb mcp` call a query answered. Cross-validated (`kb bench hybrid`), 0.85 is the lowest
# threshold, in steps of 0.05, at which every answer target holds on the public sets: at 0.80
# banking77's answers were right 93.8% of the time (target 95%), at 0.85 95.3% on 58.1% answered.
DEFAULT_THRESHOLD = 0.85
DESCRIPTION_CHARS = 160
#: A link note is the opening sentences up to at least this many words: "Yes." or "Tak." alone
#: says nothing to a bot choosing among links.
DESCRIPTION_WORDS = 8
#: Opening sentences shorter than this are replies to the title ("Yes.", "Sorry about that."),
#: left out of the note.
REPLY_WORDS = 4
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
# [text](target "title") and ![alt](target), as kb.articles finds them.
_MD_LINK = re.compile(r"(!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?)([^)\s>]+)(>?(?:\s+[\"'][^)]*[\"'])?\s*\))")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class SiteInfo:
    """The help center as bots see it: name, summary, language, threshold, contact channels."""

    name: str
    summary: str = ""
    language: str = "en"
    answer_threshold: float = DEFAULT_THRESHOLD
    contact: tuple[Mapping[str, Any], ...] = ()
    site_url: str = ""
    #: The sentence before the contact channels, in the site's language.
    handover: str = "When an article does not answer, hand over to a person:"
    #: The other languages' sites: (name, code, link from this site's root), for their llms.txt.
    languages: tuple[tuple[str, str, str], ...] = ()
    other_languages: str = "Other languages"
    #: What the search API's mailto: hand-over writes before the customer's query.
    mail_search: str = "Last search:"
    #: What customers say to ask for a person (the language's texts), for the search API's hand-over.
    handover_phrases: tuple[str, ...] = ()


def twin_url(url: str) -> str:
    """The URL of an article's Markdown twin, given the article page's URL."""
    if not url or url.endswith("/"):
        return url + "index.md"
    return re.sub(r"\.html?$", "", url) + ".md"


def write_bot_files(site_dir: Path, articles: Iterable[Any], categories: Mapping[str, Any],
                    url_of: Mapping[str, str], info: SiteInfo) -> dict[str, int]:
    """Write llms.txt, the Markdown twins and the answers file into `site_dir`; return counts."""
    site_dir = Path(site_dir)
    articles = [a for a in articles]
    page_of = {a.rel_path: url_of.get(a.id, a.url) for a in articles}
    for a in articles:
        url = url_of.get(a.id, a.url)
        path = site_dir / twin_url(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article_markdown(a, page_of, url, info.site_url), encoding="utf-8")
    (site_dir / LLMS_TXT).write_text(llms_txt(articles, categories, url_of, info), encoding="utf-8")
    answers = {
        "format": ANSWERS_FORMAT,
        "site": {"name": info.name, "language": info.language, "answer_threshold": info.answer_threshold,
                 "contact": [dict(c) for c in info.contact], "mail_search": info.mail_search,
                 "site_url": info.site_url, "handover": list(info.handover_phrases)},
        "articles": {a.id: {"title": a.title, "url": url_of.get(a.id, a.url), "version": a.version,
                            "markdown": twin_url(url_of.get(a.id, a.url)),
                            "sections": [[s.heading, s.anchor, s.text] for s in article_sections(a.body)]}
                     for a in articles},
    }
    path = site_dir / ANSWERS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(answers, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return {"articles": len(articles)}


def article_markdown(article: Any, page_of: Mapping[str, str] | None = None, url: str | None = None,
                     site_url: str = "") -> str:
    """The article as a bot reads it: its title as the H1, then its Markdown without front matter.

    With `page_of` (each article's page URL by its source path) and `url` (this article's page
    URL), relative links lead where the page's do (see site_links).
    """
    body = article.body.strip("\n")
    if page_of is not None and url is not None:
        body = site_links(body, article.rel_path, page_of, url, site_url)
    if re.match(r"#\s", body):
        return body + "\n"
    return f"# {article.title}\n\n{body}\n"


def site_links(body: str, rel_path: str, page_of: Mapping[str, str], url: str, site_url: str = "") -> str:
    """`body` with each relative link written as the site has it, for the twin at `url`'s folder.

    A link to an article's source (`../returns/return-item.md#label`) becomes its page URL
    (`../../returns/return-item/#label`); any other relative path (an image beside the article, a
    category's index.md) the place MkDocs puts it. With `site_url` the links are absolute, so a
    twin read on its own still leads somewhere.
    """
    source_dir = posixpath.dirname(rel_path)
    twin_dir = posixpath.dirname(twin_url(url))

    def rewrite(target: str) -> str:
        if _SCHEME.match(target) or target.startswith(("#", "/", "//")):
            return target
        path, rest = re.match(r"([^#?]*)(.*)", target, re.S).groups()
        if not path:
            return target
        resolved = posixpath.normpath(posixpath.join(source_dir, path))
        if resolved.startswith("../"):
            return target  # outside the articles folder: not ours to move
        source = unquote(resolved)
        if source in page_of:
            site_path = page_of[source]
        elif source == "index.md" or source.endswith("/index.md"):
            site_path = resolved[: -len("index.md")]
        else:
            site_path = resolved
        if site_url:
            link = site_url.rstrip("/") + "/" + site_path
        else:
            link = posixpath.relpath(site_path or ".", twin_dir or ".")
            if (site_path == "" or site_path.endswith("/")) and not link.endswith("/"):
                link += "/"
        return link + rest

    lines, in_fence = [], False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and not line.startswith("    "):
            line = _MD_LINK.sub(lambda m: m.group(1) + rewrite(m.group(2)) + m.group(3), line)
        lines.append(line)
    return "\n".join(lines)


def llms_txt(articles: list[Any], categories: Mapping[str, Any], url_of: Mapping[str, str],
             info: SiteInfo) -> str:
    """The llms.txt of one language's help center."""
    lines = [f"# {info.name}", ""]
    if info.summary:
        lines += [f"> {info.summary}", ""]
    if info.contact:
        lines.append(f"{info.handover} " + "; ".join(f"{c['name']} ({c['url']})" for c in info.contact) + ".")
        lines.append("")
    groups: dict[str, list[Any]] = {}
    for a in articles:
        groups.setdefault(a.category, []).append(a)
    base = info.site_url.rstrip("/") + "/" if info.site_url else ""

    def order(key: str) -> tuple:
        category = categories.get(key)
        position = getattr(category, "order", None)
        return (position is None, position if position is not None else 0, _title(categories, key))

    for key in sorted(groups, key=order):
        lines += [f"## {_title(categories, key)}", ""]
        for a in sorted(groups[key], key=lambda a: a.title.casefold()):
            link = base + twin_url(url_of.get(a.id, a.url))
            description = describe(a)
            lines.append(f"- [{a.title}]({link})" + (f": {description}" if description else ""))
        lines.append("")
    if info.languages:
        lines += [f"## {info.other_languages}", ""]
        lines += [f"- [{name}]({_absolute(base, link) + LLMS_TXT})" for name, _, link in info.languages]
        lines.append("")
    return "\n".join(lines)


def _absolute(base: str, link: str) -> str:
    """`link` (relative to this site's root) under `base` (the site's URL, or '' to keep it relative)."""
    link = "" if link in (".", "./") else link
    return urljoin(base, link) if base else link


def _title(categories: Mapping[str, Any], key: str) -> str:
    category = categories.get(key)
    if category is not None and getattr(category, "title", ""):
        return category.title
    return key.rsplit("/", 1)[-1].replace("-", " ").capitalize() if key else "General"


def describe(article: Any) -> str:
    """One line about the article, at most 160 characters: its first sentences that say something.

    A short reply to the title ("Yes.", "Tak.", "Sorry about that.") is left out, and sentences
    are taken until they hold DESCRIPTION_WORDS words, so the note carries the answer's facts.
    """
    sections = article_sections(article.body)
    text = next((s.text for s in sections if s.text), "")
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s] if text else []
    while len(sentences) > 1 and len(_WORD.findall(sentences[0])) < REPLY_WORDS:
        sentences.pop(0)
    taken: list[str] = []
    for sentence in sentences:
        taken.append(sentence)
        if sum(len(_WORD.findall(s)) for s in taken) >= DESCRIPTION_WORDS:
            break
    note = " ".join(taken)
    if len(note) > DESCRIPTION_CHARS:
        note = note[:DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return note
