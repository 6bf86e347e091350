"""The MkDocs plugin: a thin adapter that hands every event to `kb.articles` and `kb.pages`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page

from kb.channels.answers import DEFAULT_THRESHOLD
from kb.channels.llms import write_site_bot_files
from kb.articles import RESERVED_FILES, Article, Project, load_project
from kb.manifest import build_manifest, write_manifest
from kb.search import site_index as search_site
from kb.search.index import SearchError
from kb.site import pages
from kb.site.compress import compress_assets
from kb.site.dates import last_updated
from kb.site.languages import LanguageError, LanguageSite
from kb.site.multisite import build_languages, merge_manifests, merge_sitemaps
from kb.site.unfinished import REQUIRABLE_KEYS
from kb.votes.widget import configure_widget

log = logging.getLogger("mkdocs.plugins.kb")
ASSETS = Path(__file__).parent.parent / "assets"
PROGRESS_EVERY = 1000  # articles between progress lines on large builds


class ContactChannel(base.Config):
    """One way to reach a person, shown under "Still need help?" and after a "No" vote."""

    name = c.Type(str)
    """What the customer sees, e.g. "Chat with us"."""
    url = c.Type(str)
    """Where it leads: https://..., mailto:..., tel:..."""
    hours = c.Type(str, default="")
    """When someone answers, e.g. "Mon-Fri 8:00-20:00 CET"."""
    description = c.Type(str, default="")
    """One line on what to expect, e.g. "Usually answers within 2 minutes"."""


class KbPluginConfig(base.Config):
    """Options of the `kb` plugin in mkdocs.yml."""

    drafts = c.Type(bool, default=False)
    """Build articles marked `draft: true` too (`kb serve` turns this on)."""
    strict = c.Type(bool, default=False)
    """Treat unknown front-matter keys as errors."""
    related = c.Type(int, default=3)
    """How many nearest articles to suggest under each article, besides its own `related:`."""
    home_heading = c.Type(str, default="How can we help?")
    """The home page's heading, above the search box."""
    search_prompt = c.Type(str, default="Search for answers")
    """The text in the home page's search box."""
    contact_title = c.Type(str, default="Still need help?")
    """The heading of the contact block under each article."""
    contact = c.ListOfItems(c.SubConfig(ContactChannel), default=[])
    """The contact channels: name, url, hours, description."""
    require = c.ListOfItems(c.Choice(REQUIRABLE_KEYS), default=[])
    """Front-matter keys every article must have, e.g. [owner, reviewed]; `kb check` warns about the rest."""
    livereload = c.Type(bool, default=False)
    """Reload open pages when the preview rebuilds (`kb serve` turns this on)."""
    answer_threshold = c.Type(float, default=DEFAULT_THRESHOLD)
    """The confidence at which the search API and the MCP server call a query answered."""
    languages = c.Type(list, default=[])
    """The help center's languages, default first: `[{code: en, name: English}, {code: pl, name: Polski}]`;
    articles then live in `articles/<code>/` (see kb.site.languages)."""


class KbPlugin(BasePlugin[KbPluginConfig]):
    """Builds the help center: articles from front matter, generated home and category pages."""

    def __init__(self) -> None:
        self.project: Project | None = None
        self.articles: dict[str, Article] = {}
        self.by_src: dict[str, Article] = {}
        self.related: dict[str, list[str]] = {}
        self.updated: dict[Path, Any] = {}
        self.url_of: dict[str, str] = {}
        self.rendered = 0
        self.highlight = False  # the page marks what search matched (Material's search.highlight)
        self.building: str | None = None  # a non-default language, when build_languages runs this build
        self.langs: LanguageSite | None = None
        self.texts: dict[str, Any] = {}
        self.manifest: dict | None = None
        self.keep_builds = False  # keep the other languages' builds in language_states (kb serve updates them)
        self.language_states: dict[str, Any] = {}  # code -> kb.site.render.BuildState

    def on_config(self, config: Any) -> Any:
        load = lambda folder: load_project(folder, drafts=self.config.drafts)  # noqa: E731
        try:
            self.langs = LanguageSite.configure(config, self.config, self.building, load)
        except LanguageError as exc:
            raise PluginError(str(exc)) from exc
        self.texts = self.langs.texts(self.config) if self.langs else pages.default_texts(self.config)
        config.extra["kb_texts"] = self.texts  # for kb's theme templates (404 page, footer, title)
        docs_dir = Path(config.docs_dir)
        project = load_project(docs_dir, strict=self.config.strict, drafts=self.config.drafts,
                               display_root=Path(config.config_file_path or docs_dir).parent)
        for problem in project.problems:
            (log.error if problem.severity == "error" else log.warning)(problem.format())
        if project.errors and not self.config.livereload:  # the preview shows them in its pages instead
            raise PluginError(f"kb: {len(project.errors)} error(s) in articles; run `kb check` to see them all")
        log.info(f"kb: {len(project.articles)} articles in {len([k for k in project.categories if k])} categories")
        self.project = project
        self.articles = {a.id: a for a in project.articles}
        self.by_src = {a.rel_path: a for a in project.articles}
        self.related = pages.nearest_articles(project.articles, self.config.related) if self.config.related else {}
        self.updated = last_updated(a.path for a in project.articles)
        self.rendered = 0

        overrides = str(ASSETS / "overrides")
        config.theme.dirs.insert(1 if config.theme.custom_dir else 0, overrides)
        config.extra_css.append("assets/kb/kb.css")
        config.extra_javascript.append("assets/kb/kb.js")
        self.highlight = False
        if search_site.take_over_highlighting(config.theme):
            self.highlight = True
            config.extra_javascript += [search_site.FOLD_URL, "assets/kb/highlight.js"]
        if self.config.livereload:
            config.extra_javascript.append("assets/kb/livereload.js")
        config.extra["kb_contact"] = [dict(channel) for channel in self.config.contact]
        if self.langs:
            config.extra["kb_contact"] = self.langs.contacts(config.extra["kb_contact"])
        # Articles are left out of the navigation on purpose (see on_nav): do not list them all.
        config.validation.nav.omitted_files = logging.DEBUG
        config.theme.dirs.append(str(search_site.TEMPLATES))
        self.search_separator = search_site.quiet_material_search(config.plugins)
        configure_widget(config.theme.dirs, config.extra, after=overrides, texts=self.texts if self.langs else None,
                         default_language=not self.building)
        return config

    def on_files(self, files: Files, *, config: Any) -> Files:
        assert self.project is not None
        for file in list(files):
            name = file.src_uri.rsplit("/", 1)[-1]
            if name in RESERVED_FILES:
                files.remove(file)
            elif file.src_uri.endswith(".md") and file.src_uri not in self.by_src and not _is_index(file.src_uri):
                files.remove(file)  # a draft left out of this build, or a file under _/. folders
        for name in ("kb.css", "kb.js", "livereload.js", "highlight.js"):
            files.append(File.generated(config, f"assets/kb/{name}", abs_src_path=str(ASSETS / name)))
        files.append(File.generated(config, search_site.WORKER_URL, content=search_site.worker_source()))
        files.append(File.generated(config, search_site.FOLD_URL, abs_src_path=str(search_site.FOLD)))

        self.url_of = {a.id: a.url for a in self.project.articles}
        for article in self.project.articles:
            file = files.get_file_from_path(article.rel_path)
            if file is not None:
                self.url_of[article.id] = file.url
        if self.langs:
            self.langs.urls[self.langs.language.code] = dict(self.url_of)
        if files.get_file_from_path("index.md") is None:
            files.append(File.generated(config, "index.md", content=self._home_markdown(config)))
        groups = pages.articles_by_category(self.project.articles)
        for category in self.project.categories.values():
            src = f"{category.id}/index.md"
            if category.id and files.get_file_from_path(src) is None and pages.in_tree(groups, category.id):
                files.append(File.generated(config, src, content=self.generated_markdown(src, config)))
        return files

    def on_nav(self, nav: Navigation, *, config: Any, files: Files) -> Navigation:
        """Home, then one entry per top-level category; articles are reached from their category page.

        A help center's sidebar lists topics, not every article: and since every page renders the
        whole navigation, listing 10,000 articles would make each page 10,000 links long.
        """
        assert self.project is not None
        pages_by_src = {page.file.src_uri: page for page in nav.pages}
        items: list[Any] = []
        home = pages_by_src.get("index.md")
        if home is not None:
            home.title = home.title or config.site_name
            items.append(home)
        for category in pages.sorted_categories(self.project.categories):
            page = pages_by_src.get(f"{category.id}/index.md")
            if page is not None and "/" not in category.id:
                page.title = category.title
                items.append(page)
        for item in items:
            item.parent = None
        nav.items = items
        nav.pages = [p for p in items if isinstance(p, Page)]
        for previous, following in zip(nav.pages, nav.pages[1:]):
            previous.next_page, following.previous_page = following, previous
        return nav

    def on_page_markdown(self, markdown: str, *, page: Page, config: Any, files: Files) -> str:
        article = self.by_src.get(page.file.src_uri)
        if article is not None:
            page.meta["kb_id"] = article.id
            page.meta["kb_version"] = article.version
            if "title" not in page.meta:
                page.meta["title"] = article.title
        return markdown

    def on_page_content(self, html: str, *, page: Page, config: Any, files: Files) -> str:
        assert self.project is not None
        article = self.by_src.get(page.file.src_uri)
        if article is None:
            return html
        self.rendered += 1
        if self.rendered % PROGRESS_EVERY == 0:
            log.info(f"kb: {self.rendered}/{len(self.by_src)} articles rendered")
        related_ids = list(dict.fromkeys([*article.related, *self.related.get(article.id, [])]))
        related = [self.articles[r] for r in related_ids if r in self.articles and r != article.id]
        top = pages.render_article_top(article, self.project.categories, page.url,
                                       use_directory_urls=config.use_directory_urls, with_title="<h1" not in html,
                                       texts=self.texts, home_title=self.texts["home"],
                                       notice=self.langs.notice(article, self.texts, page.url) if self.langs else "",
                                       contact_link=bool(config.extra.get("kb_contact")))
        bottom = pages.render_article_bottom(
            article, related[: len(article.related) + self.config.related], self.url_of, page.url,
            updated=self.updated.get(article.path.resolve()), contacts=config.extra.get("kb_contact", []),
            contact_title=self.texts["contact_title"], texts=self.texts,
        )
        return top + html + bottom

    def on_page_context(self, context: Any, *, page: Page, config: Any, nav: Navigation) -> Any:
        if self.langs:  # the language menu leads to this very article; <link rel=alternate> to each home
            article = self.by_src.get(page.file.src_uri)
            config.extra["alternate"] = self.langs.alternates(None)
            config.extra["kb_alternate"] = self.langs.alternates(article.id if article else None)
        return context

    def on_template_context(self, context: Any, *, template_name: str, config: Any) -> Any:
        # MkDocs links an error page from site_url's path, "/" without one; a language's 404 page,
        # served for any missing page under /pl/, must link into /pl/.
        if template_name == "404.html" and self.building and not config.site_url:
            old, new = context["base_url"], f"/{self.building}/"
            context["base_url"] = new
            for key in ("extra_css", "extra_javascript"):
                context[key] = [new + str(u)[len(old):] if str(u).startswith(old) and not str(u).startswith("//")
                                else u for u in context[key]]
        return context

    @event_priority(-50)
    def on_post_build(self, *, config: Any) -> None:
        assert self.project is not None
        try:
            index = search_site.write_site_index(self.project.articles, Path(config.docs_dir), Path(config.site_dir),
                                                 self.search_separator, language=self.search_language(config),
                                                 highlight=self.highlight)
        except SearchError as exc:
            raise PluginError(f"kb: search index: {exc}") from exc
        log.info(f"kb: search index: {len(index['docs'])} articles, {len(index['terms'])} terms")
        del index  # let it go before the bot files are made: a 10,000-article index is tens of MB
        others = {}
        if self.langs and not self.building:  # `mkdocs build` alone builds every language
            states = build_languages(config, self.langs.languages, dict(self.config), self.langs.docs_root, log)
            others = {code: state.plugin.manifest for code, state in states.items()}
            self.language_states = states if self.keep_builds else {}
        write_site_bot_files(config, self.project, self.url_of, self.config.answer_threshold)
        manifest = build_manifest(self.project.articles, config.site_name)  # after the bot files: their peak
        for entry in manifest["articles"]:
            entry["url"] = self.url_of.get(entry["id"], entry["url"])
        self.manifest = manifest
        if self.langs and not self.building:
            merge_manifests(manifest, others, self.langs.language.code, self.langs.status(self.project))
            merge_sitemaps(Path(config.site_dir), self.langs.languages, self.langs.urls, config.site_url)
        write_manifest(Path(config.site_dir), manifest)
        if not self.config.drafts:  # published only: the preview's files change with every edit, sent as they are
            packed = compress_assets(Path(config.site_dir))
            log.info(f"kb: {packed.files} assets compressed beside themselves (.gz): "
                     f"{packed.before // 1024} KB -> {packed.after // 1024} KB")

    def search_language(self, config: Any) -> str:
        """The language this build's search analyses text as: the language being built, else the theme's."""
        return self.langs.language.code if self.langs else str(config.theme.get("language") or "en")

    def generated_markdown(self, src_uri: str, config: Any) -> str:
        """The Markdown of a page kb writes: the home page (index.md) or a category's (<id>/index.md)."""
        assert self.project is not None
        if src_uri == "index.md":
            return self._home_markdown(config)
        category = self.project.categories[src_uri.rsplit("/", 1)[0]]
        body = pages.render_category(category, self.project.categories, self.project.articles, self.url_of,
                                     use_directory_urls=config.use_directory_urls, texts=self.texts,
                                     home_title=self.texts["home"])
        return _markdown_page(category.title, body)

    def _home_markdown(self, config: Any) -> str:
        assert self.project is not None
        body = pages.render_home(
            self.project.categories, self.project.articles, self.url_of,
            heading=self.texts["home_heading"], search_prompt=self.texts["search_prompt"],
            use_directory_urls=config.use_directory_urls, texts=self.texts, contacts=config.extra.get("kb_contact", []),
        )
        return _markdown_page(config.site_name, body, hide=("navigation", "toc"), extra_meta="kb_home: true\n")


def _markdown_page(title: str, html: str, hide: tuple[str, ...] = ("toc",), extra_meta: str = "") -> str:
    """A generated page: front matter for Material, then the HTML as one raw block."""
    quoted = json.dumps(title, ensure_ascii=False)
    return f"---\ntitle: {quoted}\nhide: [{', '.join(hide)}]\n{extra_meta}---\n\n{html}\n"


def _is_index(src_uri: str) -> bool:
    return src_uri == "index.md" or src_uri.endswith("/index.md")
