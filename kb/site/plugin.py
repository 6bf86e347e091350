"""The MkDocs plugin: the MkDocs renderer's adapter, each event a few lines over kb's build state.

on_config runs *prepare* (kb.site.state) and wires kb's theme layer into MkDocs' config;
on_files and on_nav add the pages kb generates and keep articles out of the sidebar; the page
events put kb's extras around each article; on_post_build builds the other languages and runs
*finish* (kb.site.build). Everything else that knows MkDocs is in kb.site.renderers.mkdocs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page

from kb.articles import RESERVED_FILES, Project, load_project
from kb.channels.answers import DEFAULT_THRESHOLD
from kb.search import site_index as search_site
from kb.search.index import SearchError
from kb.site import pages, theme
from kb.site.build import finish
from kb.site.languages import localize_markdown
from kb.site.renderers.mkdocs import LOG, build_languages
from kb.site.renderers.mkdocs.pagewise import MkDocsBuild
from kb.site.renderers.mkdocs.sidebar import remember_navigation
from kb.site.state import RENDERERS, BuildState, Options, PrepareError, SiteSettings, prepare
from kb.site.unfinished import REQUIRABLE_KEYS

log = logging.getLogger(LOG)


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
    semantic = c.Type(bool, default=True)
    """Embed the articles at build time (cached) so that servers rank by meaning too (kb.search.vectors);
    false: the search API, `kb mcp`, `kb search` and the report rank by words alone."""
    renderer = c.Choice(RENDERERS, default=RENDERERS[0])
    """What `kb build` and `kb serve` render the pages with: mkdocs (MkDocs + Material) or zensical; a plain
    `mkdocs build` is MkDocs' own build, whatever this says."""
    languages = c.Type(list, default=[])
    """The help center's languages, default first: `[{code: en, name: English}, {code: pl, name: Polski}]`;
    articles then live in `articles/<code>/` (see kb.site.languages)."""


class KbPlugin(BasePlugin[KbPluginConfig]):
    """Builds the help center: articles from front matter, generated home and category pages."""

    def __init__(self) -> None:
        self._state: BuildState | None = None
        self._building: str | None = None  # a non-default language, when build_languages runs this build
        self._language_builds: list[MkDocsBuild] = []
        self._load: Callable[..., Project] = load_project  # how prepare reads an articles folder

    @property
    def state(self) -> BuildState:
        """kb's state of this build (after on_config)."""
        assert self._state is not None, "the kb plugin has not been configured"
        return self._state

    @property
    def language_builds(self) -> list[MkDocsBuild]:
        """The other languages' builds, made by the default language's build (kb serve updates them)."""
        return list(self._language_builds)

    def build_language(self, code: str) -> None:
        """Build the language `code` (not the default one): its articles, interface and site folder."""
        self._building = code

    def read_articles_with(self, load: Callable[..., Project]) -> None:
        """Read the articles folders with `load` (kb.site.state.LoadOnce: what `kb build` has checked)."""
        self._load = load

    def on_config(self, config: Any) -> Any:
        settings = SiteSettings(
            docs_dir=Path(config.docs_dir), site_dir=Path(config.site_dir), site_name=config.site_name,
            config_file=Path(config.config_file_path) if config.config_file_path else None,
            site_description=config.site_description or "", site_url=config.site_url or "",
            use_directory_urls=config.use_directory_urls, theme_language=str(config.theme.get("language") or "en"),
            highlight=search_site.take_over_highlighting(config.theme),
            search_separator=search_site.quiet_material_search(config.plugins))
        try:
            self._state = state = prepare(settings, Options.from_mapping(dict(self.config)), building=self._building,
                                          load=self._load,
                                          log=log)
        except PrepareError as exc:
            raise PluginError(str(exc)) from exc
        config.docs_dir, config.site_name = str(state.settings.docs_dir), state.settings.site_name
        config.site_url = state.settings.site_url or None
        config.site_description = state.settings.site_description or None
        config.theme["language"] = state.settings.theme_language
        if state.langs:
            localize_markdown(config, state.langs.language)
        ahead, behind = theme.template_dirs()
        first = 1 if config.theme.custom_dir else 0
        config.theme.dirs[first:first] = [str(d) for d in ahead]
        config.theme.dirs += [str(d) for d in behind]
        config.extra_css += theme.page_styles()
        config.extra_javascript += theme.page_scripts(state)
        config.extra.update(theme.theme_extra(state, config.extra))
        # Articles are left out of the navigation on purpose (see on_nav): do not list them all.
        config.validation.nav.omitted_files = logging.DEBUG
        return config

    def on_files(self, files: Files, *, config: Any) -> Files:
        state = self.state
        for file in list(files):
            name = file.src_uri.rsplit("/", 1)[-1]
            if name in RESERVED_FILES:
                files.remove(file)
            elif file.src_uri.endswith(".md") and file.src_uri not in state.by_src and not _is_index(file.src_uri):
                files.remove(file)  # a draft left out of this build, or a file under _/. folders
        for url, source in theme.site_files().items():
            files.append(File.generated(config, url, abs_src_path=str(source)) if isinstance(source, Path)
                         else File.generated(config, url, content=source))
        state.set_urls({a.id: file.url for a in state.project.articles
                        if (file := files.get_file_from_path(a.rel_path)) is not None})
        for src in state.generated_pages(file.src_uri for file in files):
            files.append(File.generated(config, src, content=state.generated_markdown(src)))
        return files

    def on_nav(self, nav: Navigation, *, config: Any, files: Files) -> Navigation:
        """Home, then one entry per top-level category; articles are reached from their category page.

        A help center's sidebar lists topics, not every article: and since every page renders the
        whole navigation, listing 10,000 articles would make each page 10,000 links long.
        """
        project = self.state.project
        pages_by_src = {page.file.src_uri: page for page in nav.pages}
        items: list[Any] = []
        home = pages_by_src.get("index.md")
        if home is not None:
            home.title = home.title or config.site_name
            items.append(home)
        for category in pages.sorted_categories(project.categories):
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

    def on_env(self, env: Any, *, config: Any, files: Files) -> Any:
        remember_navigation(env)  # the articles of a folder share one sidebar: rendered once for them
        return env

    def on_page_markdown(self, markdown: str, *, page: Page, config: Any, files: Files) -> str:
        article = self.state.by_src.get(page.file.src_uri)
        if article is not None:
            page.meta.update(self.state.page_meta(article))
            page.meta.setdefault("title", article.title)
        return markdown

    def on_page_content(self, html: str, *, page: Page, config: Any, files: Files) -> str:
        article = self.state.by_src.get(page.file.src_uri)
        if article is None:
            return html
        top, bottom = self.state.article_extras(article, page.url, with_title="<h1" not in html)
        if progress := self.state.progress():
            log.info(progress)
        return top + html + bottom

    def on_template_context(self, context: Any, *, template_name: str, config: Any) -> Any:
        # MkDocs links an error page from site_url's path, "/" without one; a language's 404 page,
        # served for any missing page under /pl/, must link into /pl/.
        if template_name == "404.html" and self._building and not config.site_url:
            old, new = context["base_url"], f"/{self._building}/"
            context["base_url"] = new
            for key in ("extra_css", "extra_javascript"):
                context[key] = [new + str(u)[len(old):] if str(u).startswith(old) and not str(u).startswith("//")
                                else u for u in context[key]]
        return context

    @event_priority(-50)
    def on_post_build(self, *, config: Any) -> None:
        if self._building:
            return  # the default language's build finishes every language
        state = self.state
        self._language_builds = build_languages(config, state, dict(self.config), log,
                                                self._load) if state.langs else []
        try:
            finish([state, *(built.state for built in self._language_builds)], log=log)
        except SearchError as exc:
            raise PluginError(f"kb: search index: {exc}") from exc


def _is_index(src_uri: str) -> bool:
    return src_uri == "index.md" or src_uri.endswith("/index.md")
