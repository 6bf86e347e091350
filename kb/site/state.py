"""The one typed build state: what *prepare* learnt about one language's site.

A site build is one pipeline: **prepare** (this module: load and check the articles once, the
languages, the interface texts, the pages kb generates) -> **render** (a renderer turns the
Markdown pages into HTML, kb.site.renderers) -> **finish** (kb.site.build: search index, bot
files, manifest, sitemaps, language merges). `BuildState` carries everything between the steps;
every renderer reads it, only its own methods change it (the preview's `adopt`). Nothing here
knows which renderer runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from kb.articles import Article, Project, load_project
from kb.channels.answers import DEFAULT_THRESHOLD
from kb.search.index import DEFAULT_SEPARATOR
from kb.site import pages
from kb.site.dates import last_updated
from kb.site.languages import LanguageError, LanguageSite, article_urls
from kb.site.unfinished import REQUIRABLE_KEYS

PROGRESS_EVERY = 1000  # articles between progress lines on large builds
#: The renderers a site can name (`renderer:` in the kb plugin's options); the first is the default.
RENDERERS = ("mkdocs", "zensical")


class PrepareError(Exception):
    """The articles or the options cannot be built; the message says how many problems and where."""


@dataclass(frozen=True)
class Options:
    """The kb plugin's options (kb.site.plugin.KbPluginConfig documents each), as every renderer reads them."""

    drafts: bool = False
    strict: bool = False
    related: int = 3
    home_heading: str = "How can we help?"
    search_prompt: str = "Search for answers"
    contact_title: str = "Still need help?"
    contact: tuple[Mapping[str, str], ...] = ()
    require: tuple[str, ...] = ()
    livereload: bool = False
    answer_threshold: float = DEFAULT_THRESHOLD
    semantic: bool = True
    languages: tuple[Any, ...] = ()
    renderer: str = RENDERERS[0]

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any], where: str = "mkdocs.yml") -> Options:
        """Options from the plugin's entry in mkdocs.yml; PrepareError names a wrong key and what it expects."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in (options or {}).items():
            if key not in fields:
                raise PrepareError(f"{where}: the kb plugin has no option '{key}'; "
                                   f"it knows {', '.join(sorted(fields))}")
            default = fields[key].default
            if isinstance(default, bool) and not isinstance(value, bool):
                raise PrepareError(f"{where}: kb option '{key}' must be true or false, got {value!r}")
            if isinstance(default, (int, float)) and not isinstance(default, bool) and (
                    isinstance(value, bool) or not isinstance(value, (int, float))):
                raise PrepareError(f"{where}: kb option '{key}' must be a number, got {value!r}")
            if isinstance(default, str) and not isinstance(value, str):
                raise PrepareError(f"{where}: kb option '{key}' must be text, got {value!r}")
            if isinstance(default, tuple):
                if not isinstance(value, (list, tuple)):
                    raise PrepareError(f"{where}: kb option '{key}' must be a list, got {value!r}")
                value = tuple(dict(v) if isinstance(v, Mapping) else v for v in value)
            values[key] = value
        made = cls(**values)
        for channel in made.contact:
            if not isinstance(channel, Mapping) or not channel.get("name") or not channel.get("url"):
                raise PrepareError(f"{where}: each kb contact channel needs a name and a url, got {channel!r}")
        made = dataclasses.replace(made, contact=tuple({"hours": "", "description": "", **c} for c in made.contact))
        if any(key not in REQUIRABLE_KEYS for key in made.require):
            raise PrepareError(f"{where}: the kb plugin's require: must be a list of any of "
                               f"{', '.join(REQUIRABLE_KEYS)}; got {list(made.require)!r}")
        if made.renderer not in RENDERERS:
            raise PrepareError(f"{where}: kb option 'renderer' must be one of {', '.join(RENDERERS)}, "
                               f"got {made.renderer!r}")
        return made


@dataclass(frozen=True)
class SiteSettings:
    """What the renderer's configuration says of the site, for the language being built."""

    docs_dir: Path
    site_dir: Path
    site_name: str
    config_file: Path | None = None
    site_description: str = ""
    site_url: str = ""
    use_directory_urls: bool = True
    theme_language: str = "en"
    highlight: bool = False  # the page marks what search matched (theme feature search.highlight, taken over)
    search_separator: str = DEFAULT_SEPARATOR

    @property
    def project_dir(self) -> Path:
        """The folder of the site's configuration: problems name paths from here."""
        return Path(self.config_file).parent if self.config_file else Path(self.docs_dir).parent


@dataclass(frozen=True)
class Change:
    """What an edit changed in one language, by article id."""

    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    moved: frozenset[str] = frozenset()  # the URL is new, gone or another
    revised: frozenset[str] = frozenset()  # the version is new, gone or another
    pages_came_or_went: bool = False
    rendered: int = 0


@dataclass(frozen=True)
class Edit:
    """An edit as the pages see it: what changed, and which pages show it (by source path)."""

    change: Change
    added: frozenset[str]  # articles' source paths
    removed: frozenset[str]
    listed: frozenset[str]  # articles whose listing (title, category, ...) other pages show
    again: tuple[str, ...]  # articles to render again, sorted
    generated: tuple[str, ...]  # generated pages to render again (home, categories), if kb writes them


@dataclass
class BuildState:
    """One language's build: what prepare learnt, what renderers read, what finish writes from."""

    settings: SiteSettings
    options: Options
    project: Project
    langs: LanguageSite | None
    texts: dict[str, Any]
    contacts: list[dict[str, Any]]
    related: dict[str, list[str]] = field(default_factory=dict)
    updated: dict[Path, dt.date] = field(default_factory=dict)
    url_of: dict[str, str] = field(default_factory=dict)
    articles: dict[str, Article] = field(default_factory=dict)
    by_src: dict[str, Article] = field(default_factory=dict)
    manifest: dict | None = None  # this language's own manifest, once finish has made it
    rendered: int = 0

    def __post_init__(self) -> None:
        self.articles = {a.id: a for a in self.project.articles}
        self.by_src = {a.rel_path: a for a in self.project.articles}
        if not self.url_of:
            self.url_of = article_urls(self.project.articles, self.settings.use_directory_urls)
        if self.langs:
            self.langs.add_urls(self.url_of)

    @property
    def building(self) -> str | None:
        """The code of the language being built when it is not the default one, else None."""
        return None if not self.langs or self.langs.language.default else self.langs.language.code

    @property
    def search_language(self) -> str:
        """The language this build's search analyses text as: the language being built, else the theme's."""
        return self.langs.language.code if self.langs else self.settings.theme_language

    def set_urls(self, url_of: Mapping[str, str]) -> None:
        """Take the renderer's article URLs (where they differ from kb's own reckoning)."""
        self.url_of.update(url_of)
        if self.langs:
            self.langs.add_urls(self.url_of)

    def generated_pages(self, existing: Iterable[str] = ()) -> list[str]:
        """The pages kb writes (home, then each category holding articles), unless the writers wrote one."""
        existing = set(existing)
        found = [] if "index.md" in existing else ["index.md"]
        groups = pages.articles_by_category(self.project.articles)
        for category in self.project.categories.values():
            src = f"{category.id}/index.md"
            if category.id and src not in existing and pages.in_tree(groups, category.id):
                found.append(src)
        return found

    def generated_markdown(self, src_uri: str) -> str:
        """The Markdown of a page kb writes: the home page (index.md) or a category's (<id>/index.md)."""
        use_directory_urls = self.settings.use_directory_urls
        if src_uri == "index.md":
            body = pages.render_home(
                self.project.categories, self.project.articles, self.url_of, heading=self.texts["home_heading"],
                search_prompt=self.texts["search_prompt"], use_directory_urls=use_directory_urls, texts=self.texts,
                contacts=self.contacts)
            return markdown_page(self.settings.site_name, body, hide=("navigation", "toc"),
                                 meta={"kb_home": True, **self.page_meta(None)})
        category = self.project.categories[src_uri.rsplit("/", 1)[0]]
        body = pages.render_category(category, self.project.categories, self.project.articles, self.url_of,
                                     use_directory_urls=use_directory_urls, texts=self.texts,
                                     home_title=self.texts["home"])
        return markdown_page(category.title, body, meta=self.page_meta(None))

    def page_meta(self, article: Article | None) -> dict[str, Any]:
        """What a page's front matter tells the theme: the article's id and version, its languages."""
        meta: dict[str, Any] = {}
        if article is not None:
            meta.update(kb_id=article.id, kb_version=article.version)
        if self.langs:
            meta["kb_alternate"] = self.alternates(article.id if article else None)
        return meta

    def article_extras(self, article: Article, page_url: str, *, with_title: bool) -> tuple[str, str]:
        """The HTML above an article (breadcrumbs, title, notices) and below it (related, contact)."""
        self.rendered += 1
        related_ids = list(dict.fromkeys([*article.related, *self.related.get(article.id, [])]))
        related = [self.articles[r] for r in related_ids if r in self.articles and r != article.id]
        top = pages.render_article_top(
            article, self.project.categories, page_url, use_directory_urls=self.settings.use_directory_urls,
            with_title=with_title, texts=self.texts, home_title=self.texts["home"],
            notice=self.langs.notice(article, self.texts, page_url) if self.langs else "",
            contact_link=bool(self.contacts))
        bottom = pages.render_article_bottom(
            article, related[: len(article.related) + self.options.related], self.url_of, page_url,
            updated=self.updated.get(article.path.resolve()), contacts=self.contacts,
            contact_title=self.texts["contact_title"], texts=self.texts)
        return top, bottom

    def progress(self) -> str | None:
        """A progress line every PROGRESS_EVERY articles rendered, else None."""
        if self.rendered % PROGRESS_EVERY == 0 and self.rendered:
            return f"kb: {self.rendered}/{len(self.by_src)} articles rendered"
        return None

    def alternates(self, article_id: str | None) -> list[dict[str, str]]:
        """The language menu of a page showing `article_id` (None: home, category...); [] with one language."""
        return self.langs.alternates(article_id) if self.langs else []

    def adopt(self, new: Project, url_of: Mapping[str, str], *, changed: Iterable[Article] = (),
              relisted: Iterable[str] = ()) -> None:
        """The preview's edit: `new` articles (their URLs in `url_of`), as prepare would have found them.

        `changed` are the articles added or edited (their dates are read again); `relisted` the
        categories whose "related" suggestions are worked out again.
        """
        # Articles that went take their dates along; only they are resolved (3,000 resolves cost an edit 0.3 s).
        # Both projects' paths come from the same resolved articles folder, so they compare as they are.
        for path in {a.path for a in self.project.articles} - {a.path for a in new.articles}:
            self.updated.pop(path.resolve(), None)
        self.project = new
        self.articles = {a.id: a for a in new.articles}
        self.by_src = {a.rel_path: a for a in new.articles}
        self.url_of = dict(url_of)
        if self.langs:
            self.langs.add_urls(self.url_of)
        self.updated.update(last_updated(a.path for a in changed))
        relisted = set(relisted)
        if relisted and self.options.related:
            for article_id in [k for k in self.related if k not in self.articles]:
                del self.related[article_id]
            self.related.update(pages.nearest_articles([a for a in new.articles if a.category in relisted],
                                                       self.options.related))

    def edit(self, new: Project) -> Edit:
        """Take `new` articles (the preview's edit) and say which pages show the change."""
        before, after = self.by_src, {a.rel_path: a for a in new.articles}
        changed = {src for src in before.keys() & after.keys() if before[src].version != after[src].version}
        added, removed = after.keys() - before.keys(), before.keys() - after.keys()
        listed = added | removed | {src for src in changed if _listing(before[src]) != _listing(after[src])}
        touched = ({before[s].category for s in (listed | changed) & before.keys()}
                   | {after[s].category for s in (listed | changed) & after.keys()})
        old_urls, old_related = self.url_of, dict(self.related)
        fresh = article_urls(new.articles, self.settings.use_directory_urls)
        urls = {a.id: old_urls[a.id] if a.rel_path in before and before[a.rel_path].id == a.id and a.id in old_urls
                else fresh[a.id] for a in new.articles}
        self.adopt(new, urls, changed=[after[s] for s in added | changed], relisted=touched if listed else ())
        listed_ids = {before[s].id for s in listed & before.keys()} | {after[s].id for s in listed & after.keys()}
        again = set(added | changed)
        for article in new.articles:
            shown = set(article.related) | set(self.related.get(article.id, [])) | set(old_related.get(article.id, []))
            if shown & listed_ids:
                again.add(article.rel_path)
        groups = pages.articles_by_category(new.articles)
        generated = (["index.md"] if listed else []) + [
            f"{category_id}/index.md" for category_id in sorted({c for t in touched for c in _ancestors(t)} - {""})
            if category_id in new.categories and pages.in_tree(groups, category_id)]
        change = Change(
            added=frozenset(after[s].id for s in added), removed=frozenset(before[s].id for s in removed),
            moved=frozenset(k for k in old_urls.keys() | urls.keys() if old_urls.get(k) != urls.get(k)),
            revised=frozenset({after[s].id for s in changed | added} | {before[s].id for s in removed}),
            pages_came_or_went=bool(added or removed))
        return Edit(change, frozenset(added), frozenset(removed), frozenset(listed), tuple(sorted(again)),
                    tuple(generated))

    def relocate(self, site_dir: Path) -> None:
        """The built site was moved to `site_dir` (the preview swaps it in)."""
        self.settings = dataclasses.replace(self.settings, site_dir=Path(site_dir))

    def keep_manifest(self, manifest: dict) -> None:
        """Keep this language's own manifest (the default language's build merges the others')."""
        self.manifest = manifest


class LoadOnce:
    """`load_project` for one command: each articles folder read and checked once (drafts included),
    then handed out as asked (drafts left out for a published build). `kb build` checks every
    article before it builds; its prepare step then takes them from here instead of reading and
    checking them again (about a second at 3,000 articles), and each language's build reads the
    other languages once in all. Each caller gets its own lists: what one adds (the check's golden
    queries) the next does not see. `cache` is load_project's (kb.site.preview.cache.ArticleCache):
    `kb serve` keeps the articles read for its check and first build parsed for its later edits."""

    def __init__(self, cache: Any = None) -> None:
        self.cache = cache
        self._read: dict[tuple[Path, bool, Path | None], Project] = {}

    def __call__(self, folder: Path, *, strict: bool = False, drafts: bool = True,
                 display_root: Path | None = None) -> Project:
        key = (Path(folder).resolve(), strict, Path(display_root).resolve() if display_root is not None else None)
        project = self._read.get(key)
        if project is None:
            project = self._read[key] = load_project(folder, strict=strict, drafts=True, display_root=display_root,
                                                     cache=self.cache)
        articles = project.articles if drafts else [a for a in project.articles if not a.draft]
        return dataclasses.replace(project, articles=list(articles), categories=dict(project.categories),
                                   problems=list(project.problems), unreadable=dict(project.unreadable))


def prepare(settings: SiteSettings, options: Options, *, building: str | None = None,
            log: logging.Logger | None = None,
            load: Callable[..., Project] = load_project) -> BuildState:
    """Load and check one language's articles, and everything its pages need; PrepareError on errors.

    With `languages`, `settings` are the site's as configured and `building` the language built
    (None: the default one); the state's settings are that language's (its articles folder,
    name, theme language and URL).
    """
    log = log or logging.getLogger("kb.site")
    try:
        langs = LanguageSite.configure(settings.config_file, list(options.languages), building, settings.docs_dir,
                                       settings.use_directory_urls,
                                       lambda folder: load(folder, strict=options.strict, drafts=options.drafts,
                                                           display_root=settings.project_dir))
    except LanguageError as exc:
        raise PrepareError(str(exc)) from exc
    if langs:
        language = langs.language
        site_url = settings.site_url
        if site_url and not language.default:
            site_url = site_url.rstrip("/") + f"/{language.code}/"
        # Another language never shows the default language's summary (meta description, llms.txt).
        description = language.site_description or ("" if not language.default else settings.site_description)
        settings = dataclasses.replace(settings, docs_dir=Path(settings.docs_dir) / language.code,
                                       site_name=language.site_name or settings.site_name,
                                       site_description=description,
                                       theme_language=language.code, site_url=site_url)
        texts = langs.texts(dataclasses.asdict(options))
        contacts = langs.contacts([dict(c) for c in options.contact])
    else:
        texts = pages.default_texts(dataclasses.asdict(options), settings.theme_language)
        contacts = [dict(c) for c in options.contact]
    project = load(Path(settings.docs_dir), strict=options.strict, drafts=options.drafts,
                   display_root=settings.project_dir)
    for problem in project.problems:
        (log.error if problem.severity == "error" else log.warning)(problem.format())
    if project.errors and not options.livereload:  # the preview shows them in its pages instead
        raise PrepareError(f"kb: {len(project.errors)} error(s) in articles; run `kb check` to see them all")
    log.info(f"kb: {len(project.articles)} articles in {len([k for k in project.categories if k])} categories")
    return BuildState(
        settings=settings, options=options, project=project, langs=langs, texts=texts, contacts=contacts,
        related=pages.nearest_articles(project.articles, options.related) if options.related else {},
        updated=last_updated(a.path for a in project.articles),
    )


def _listing(article: Article) -> tuple:
    """What other pages show of an article: lists, related links, breadcrumbs."""
    return (article.id, article.title, tuple(article.questions), tuple(article.tags), article.category,
            article.draft, tuple(article.related))


def _ancestors(category: str) -> list[str]:
    parts = category.split("/") if category else []
    return [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]


def markdown_page(title: str, html: str, hide: tuple[str, ...] = ("toc",), meta: Mapping[str, Any] | None = None) -> str:
    """A generated page: front matter for the theme, then the HTML as one raw block."""
    lines = [f"title: {json.dumps(title, ensure_ascii=False)}", f"hide: [{', '.join(hide)}]"]
    lines += [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in (meta or {}).items()]
    return "---\n" + "\n".join(lines) + "\n---\n\n" + html + "\n"
