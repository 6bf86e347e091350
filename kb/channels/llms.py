"""What bots read from a built site: llms.txt, a Markdown twin of every article, and the answers file.

- `llms.txt` (https://llmstxt.org): the help center's name as the H1, its summary as the block
  quote, then one H2 per category listing its articles as links to their Markdown twins, each with
  a one-line description. Each language's build writes its own at the root of its site.
- The Markdown twin of an article is its source without front matter, under its title, at
  `<article url>index.md` (`<page>.md` for sites without directory URLs).
- `search/kb-answers.json` holds what the answer API needs beside the search index: the site's
  name, language, answer threshold and contact channels, and each article's version, source
  Markdown and sections (heading, anchor, text) for passages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from kb.search.sections import article_sections

LLMS_TXT = "llms.txt"
ANSWERS_PATH = "search/kb-answers.json"
ANSWERS_FORMAT = "kb-answers/1"
DESCRIPTION_CHARS = 160


@dataclass(frozen=True)
class SiteInfo:
    """The help center as bots see it: name, summary, language, threshold, contact channels."""

    name: str
    summary: str = ""
    language: str = "en"
    answer_threshold: float = 0.8
    contact: tuple[Mapping[str, Any], ...] = ()
    site_url: str = ""
    #: The sentence before the contact channels, in the site's language.
    handover: str = "When an article does not answer, hand over to a person:"
    #: What the search API's mailto: hand-over writes before the customer's query.
    mail_search: str = "Last search:"


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
    for a in articles:
        path = site_dir / twin_url(url_of.get(a.id, a.url))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article_markdown(a), encoding="utf-8")
    (site_dir / LLMS_TXT).write_text(llms_txt(articles, categories, url_of, info), encoding="utf-8")
    answers = {
        "format": ANSWERS_FORMAT,
        "site": {"name": info.name, "language": info.language, "answer_threshold": info.answer_threshold,
                 "contact": [dict(c) for c in info.contact], "mail_search": info.mail_search},
        "articles": {a.id: {"title": a.title, "url": url_of.get(a.id, a.url), "version": a.version,
                            "markdown": twin_url(url_of.get(a.id, a.url)),
                            "sections": [[s.heading, s.anchor, s.text] for s in article_sections(a.body)]}
                     for a in articles},
    }
    path = site_dir / ANSWERS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(answers, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return {"articles": len(articles)}


def article_markdown(article: Any) -> str:
    """The article as a bot reads it: its title as the H1, then its Markdown without front matter."""
    body = article.body.strip("\n")
    if re.match(r"#\s", body):
        return body + "\n"
    return f"# {article.title}\n\n{body}\n"


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
    return "\n".join(lines)


def _title(categories: Mapping[str, Any], key: str) -> str:
    category = categories.get(key)
    if category is not None and getattr(category, "title", ""):
        return category.title
    return key.rsplit("/", 1)[-1].replace("-", " ").capitalize() if key else "General"


def describe(article: Any) -> str:
    """One line about the article: its first sentence, at most 160 characters."""
    sections = article_sections(article.body)
    text = next((s.text for s in sections if s.text), "")
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0] if text else ""
    if len(sentence) > DESCRIPTION_CHARS:
        sentence = sentence[:DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return sentence


def write_site_bot_files(config: Any, project: Any, url_of: Mapping[str, str], threshold: float) -> dict[str, int]:
    """write_bot_files from an MkDocs config (duck-typed: no mkdocs import here) and the kb project."""
    extra = config.extra if isinstance(config.extra, Mapping) else {}
    theme = getattr(config, "theme", None)
    theme_language = theme.get("language") if isinstance(theme, Mapping) else getattr(theme, "language", None)
    texts = extra.get("kb_texts") or {}
    info = SiteInfo(name=config.site_name or "Help Center", summary=config.site_description or "",
                    language=str(theme_language or "en"), answer_threshold=float(threshold),
                    contact=tuple(extra.get("kb_contact", [])), site_url=config.site_url or "",
                    handover=texts.get("handover") or SiteInfo.handover,
                    mail_search=(texts.get("widget") or {}).get("mail_search") or SiteInfo.mail_search)
    return write_bot_files(Path(config.site_dir), project.articles, project.categories, url_of, info)
