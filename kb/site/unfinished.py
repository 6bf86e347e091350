"""Unfinished articles: `kb new`'s placeholder text left in, front-matter keys the site requires left out.

Content checks over loaded articles, like those in kb.articles; `kb check` adds them to its problems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from kb.articles import Article, Problem
from kb.site.languages import TEXTS

#: The body `kb new` writes (in a site's language: its texts' `new_article_body`); an article still
#: holding it is not finished (kb check warns).
NEW_ARTICLE_BODY = TEXTS["en"]["new_article_body"]
#: Front-matter keys a site may require of every article (the kb plugin's `require:` option).
REQUIRABLE_KEYS = ("owner", "reviewed", "review_every", "questions", "tags")


def unfinished(articles: Iterable[Article], require: Iterable[str] = (), shown: Path | None = None,
               placeholder: str = NEW_ARTICLE_BODY) -> list[Problem]:
    """Warnings about unfinished articles: `kb new`'s placeholder text (`placeholder`, in the
    articles' language), and required keys left out."""
    problems = []
    placeholder = placeholder.strip()
    for article in articles:
        where = _shown(article.path, shown) if shown else article.rel_path
        lines = article.body.split("\n")
        at = next((i for i, line in enumerate(lines) if placeholder in line), None)
        if at is not None:
            problems.append(Problem(where, article.body_line + at, "warning", "still holds kb new's placeholder text",
                                    "replace it with the answer: first paragraph, then the steps"))
        for key in require:
            if getattr(article, key, None) in (None, [], ""):
                problems.append(Problem(where, 1, "warning", f"no '{key}' (this site requires it of every article)",
                                        f"add  {key}: ...  to the front matter (see require: in mkdocs.yml)"))
    return problems


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
