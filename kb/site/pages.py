"""Pages: the HTML the help site adds around articles (home, category pages, article extras).

Plain functions over article records, rendered with Jinja templates from `kb/assets/templates`;
the MkDocs plugin decides where the HTML goes, so another site generator could use these too.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import jinja2

from rapidfuzz import fuzz, process, utils

from kb.articles import Article, Category
from kb.site.languages import TEXTS, format_date, plugin_texts, texts_for

#: Nearest articles shown as "related" must be at least this similar (token_set_ratio, 0..100).
RELATED_CUTOFF = 40.0
TEMPLATES = Path(__file__).parent.parent / "assets" / "templates"
#: The theme layer's templates: its partials (the contact channels) serve kb's pages and Material's alike.
OVERRIDES = Path(__file__).parent.parent / "assets" / "overrides"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader([str(TEMPLATES), str(OVERRIDES)]), autoescape=True, keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass
class Link:
    """A title and a URL relative to the page it appears on."""

    title: str
    url: str
    summary: str = ""


def default_texts(options: Mapping[str, Any], language: str = "en") -> dict[str, Any]:
    """The interface texts of a one-language site: its theme language's where kb ships them (English's
    otherwise), with the plugin's text options where they are set (as on a site with languages)."""
    return texts_for(language, plugin_texts(options))


def relative_url(target: str, base: str) -> str:
    """URL of site-relative `target` as seen from the page at site-relative `base`."""
    base_dir = base if base.endswith("/") or not base else posixpath.dirname(base) + "/"
    if target in ("", "."):
        target_path = "."
    else:
        target_path = target
    rel = posixpath.relpath("/" + target_path, "/" + (base_dir or ""))
    if (target == "" or target.endswith("/")) and not rel.endswith("/"):
        rel += "/"
    return "./" if rel in (".", "./") else rel


def category_url(category_id: str, use_directory_urls: bool = True) -> str:
    """Site-relative URL of a category's landing page."""
    if not category_id:
        return "" if use_directory_urls else "index.html"
    return f"{category_id}/" if use_directory_urls else f"{category_id}/index.html"


def sorted_categories(categories: Mapping[str, Category]) -> list[Category]:
    """Categories in display order: by `order`, then title."""
    return sorted(
        (c for c in categories.values() if c.id),
        key=lambda c: (c.order if c.order is not None else 10_000, c.title.lower()),
    )


def articles_by_category(articles: Iterable[Article]) -> dict[str, list[Article]]:
    """Articles grouped by their category id, each group sorted by title."""
    groups: dict[str, list[Article]] = {}
    for article in articles:
        groups.setdefault(article.category, []).append(article)
    for group in groups.values():
        group.sort(key=lambda a: a.title.lower())
    return groups


def render_home(
    categories: Mapping[str, Category], articles: Iterable[Article], url_of: Mapping[str, str],
    *, heading: str = "How can we help?", search_prompt: str = "Search for answers", limit: int = 5,
    use_directory_urls: bool = True, texts: Mapping[str, Any] = TEXTS["en"],
    contacts: Iterable[Mapping[str, Any]] = (),
) -> str:
    """The home page body: the search box front and centre, a person one tap away, then the categories."""
    groups = articles_by_category(articles)
    items = []
    for category in sorted_categories(categories):
        members = in_tree(groups, category.id)
        if not members or "/" in category.id:
            continue
        items.append({
            "category": category,
            "url": relative_url(category_url(category.id, use_directory_urls), ""),
            "articles": _HomeLinks(members, url_of),
        })
    loose = groups.get("", [])
    if loose:
        items.append({
            "category": Category("", texts["more_answers"]), "url": "./",
            "articles": _HomeLinks(loose, url_of),
        })
    return _env.get_template("home.html").render(
        heading=heading, search_prompt=search_prompt, categories=items, limit=limit, texts=texts,
        contacts=list(contacts),
    )


class _HomeLinks(Sequence):
    """A category's articles as links from the home page, each made when the page shows it: the
    home page shows the first few of each category and counts the rest."""

    def __init__(self, articles: list[Article], url_of: Mapping[str, str]) -> None:
        self.articles, self.url_of = articles, url_of

    def __len__(self) -> int:
        return len(self.articles)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._link(a) for a in self.articles[index]]
        return self._link(self.articles[index])

    def _link(self, article: Article) -> Link:
        return Link(article.title, relative_url(self.url_of[article.id], ""))


def render_category(
    category: Category, categories: Mapping[str, Category], articles: Iterable[Article],
    url_of: Mapping[str, str], *, home_title: str = "Home", use_directory_urls: bool = True,
    texts: Mapping[str, Any] = TEXTS["en"],
) -> str:
    """A category's landing page: breadcrumbs, description, subcategories and every article."""
    page_url = category_url(category.id, use_directory_urls)
    groups = articles_by_category(articles)
    subcategories = [
        {"category": c, "url": relative_url(category_url(c.id, use_directory_urls), page_url)}
        for c in sorted_categories(categories)
        if c.id.rsplit("/", 1)[0] == category.id and "/" in c.id and in_tree(groups, c.id)
    ]
    links = [
        Link(a.title, relative_url(url_of[a.id], page_url), summary(a))
        for a in groups.get(category.id, [])
    ]
    return _env.get_template("category.html").render(
        category=category, subcategories=subcategories, articles=links, texts=texts,
        breadcrumbs=breadcrumbs(category.id, categories, page_url, home_title, use_directory_urls, self_included=False),
    )


def render_article_top(
    article: Article, categories: Mapping[str, Category], page_url: str,
    *, home_title: str = "Home", use_directory_urls: bool = True, with_title: bool = True,
    texts: Mapping[str, Any] = TEXTS["en"], notice: str = "", contact_link: bool = False,
) -> str:
    """What goes above an article: breadcrumbs, a link down to the contact channels (`contact_link`),
    its title (unless the body has one), a banner on drafts."""
    return _env.get_template("article_top.html").render(
        breadcrumbs=breadcrumbs(article.category, categories, page_url, home_title, use_directory_urls),
        contact_link=contact_link,
        draft=article.draft, title=article.title if with_title else None, texts=texts, notice=notice,
    )


def render_article_bottom(
    article: Article, related: Iterable[Article], url_of: Mapping[str, str], page_url: str,
    *, updated: dt.date | None, contacts: Iterable[Mapping[str, Any]], contact_title: str = "Still need help?",
    texts: Mapping[str, Any] = TEXTS["en"],
) -> str:
    """What goes below an article: "Also answers", related articles, last update, contact channels."""
    return _env.get_template("article_bottom.html").render(
        questions=article.questions,
        related=[Link(r.title, relative_url(url_of[r.id], page_url)) for r in related if r.id in url_of],
        updated=updated, updated_text=format_date(updated, texts) if updated else "",
        contacts=list(contacts), contact_title=contact_title, texts=texts,
    )


def breadcrumbs(
    category_id: str, categories: Mapping[str, Category], page_url: str, home_title: str,
    use_directory_urls: bool = True, *, self_included: bool = True,
) -> list[Link]:
    """Home, then each category from the top down to `category_id`."""
    crumbs = [Link(home_title, relative_url(category_url("", use_directory_urls), page_url))]
    parts = category_id.split("/") if category_id else []
    last = len(parts) if self_included else len(parts) - 1
    for i in range(last):
        cid = "/".join(parts[: i + 1])
        title = categories[cid].title if cid in categories else cid
        crumbs.append(Link(title, relative_url(category_url(cid, use_directory_urls), page_url)))
    return crumbs


def summary(article: Article, limit: int = 160) -> str:
    """First sentence or so of the body, as plain text, for article lists."""
    for block in re.split(r"\n\s*\n", article.body):
        text = block.strip()
        if not text or text.startswith(("#", "!!!", "```", "~~~", "<", "|", ">", "-", "*", "1.")):
            continue
        text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
        text = re.sub(r"[*_`]+", "", " ".join(text.split()))
        if len(text) > limit:
            text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
        return text
    return ""


def in_tree(groups: Mapping[str, list[Article]], category_id: str) -> list[Article]:
    """Articles of a category and of every category below it."""
    found: list[Article] = []
    for cid, group in groups.items():
        if cid == category_id or cid.startswith(category_id + "/"):
            found.extend(group)
    return found


def nearest_articles(articles: list[Article], limit: int = 3) -> dict[str, list[str]]:
    """For each article, the ids of the most similar others in its category (rapidfuzz).

    Compared within a category, because that is where a customer's next question lives and
    because comparing every pair of a 10,000-article site would cost minutes.
    """
    by_category: dict[str, list[Article]] = {}
    for article in articles:
        by_category.setdefault(article.category, []).append(article)
    nearest: dict[str, list[str]] = {}
    for group in by_category.values():
        keys = [_similarity_text(a) for a in group]
        for i, article in enumerate(group):
            matches = process.extract(
                keys[i], keys, scorer=fuzz.token_set_ratio, processor=None,
                score_cutoff=RELATED_CUTOFF, limit=limit + 1,
            )
            nearest[article.id] = [group[j].id for _, _, j in matches if j != i][:limit]
    return nearest


def _similarity_text(article: Article) -> str:
    return utils.default_process(" ".join([article.title, *article.questions, *article.tags]))
