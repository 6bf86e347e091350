"""Driving MkDocs page by page: a full build that lets go of each page once written, and re-renders.

`mkdocs build` reads and renders every page before it writes the first one, so a 10,000-article
site holds all its Markdown and HTML at once. `run_build` follows MkDocs' own steps and events
in the same order, but renders the navigation's pages (home, categories) first and then each
page in turn, written and released before the next: memory stays flat as the site grows.

What a build leaves behind (`MkDocsBuild`) lets `kb serve` render single pages again
(`render_pages`), work the navigation out again after pages come or go (`navigate_again`), see
which pages show other neighbours since (`neighbours`) and write the sitemap again
(`write_sitemap`), each as the full build does it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kb.site.renderers.mkdocs.sidebar import forget_navigation
from kb.site.state import BuildState

SITEMAP = "sitemap.xml"


@dataclass
class MkDocsBuild:
    """What one language's MkDocs build leaves behind for the next update: MkDocs' own objects."""

    config: Any
    files: Any
    nav: Any
    env: Any
    _docs: list | None = None

    @property
    def state(self) -> BuildState:
        """kb's state of this build (the kb plugin's)."""
        return self.config.plugins["kb"].state

    def documentation_pages(self) -> list:
        """MkDocs' documentation pages, kept until `files_changed`."""
        if self._docs is None:
            self._docs = self.files.documentation_pages()
        return self._docs

    def files_changed(self) -> None:
        """Files came or went: the documentation pages are listed afresh when next asked for."""
        self._docs = None


def run_build(config: Any) -> MkDocsBuild:
    """Build the whole site like `mkdocs build`, writing and releasing one page at a time."""
    from mkdocs import utils
    from mkdocs.commands.build import _build_extra_template, _build_page, _build_theme_template, _populate_page
    from mkdocs.exceptions import Abort, BuildError
    from mkdocs.structure.files import InclusionLevel, get_files, set_exclusions
    from mkdocs.structure.nav import get_navigation
    from mkdocs.structure.pages import Page

    counter = utils.CountHandler()
    counter.setLevel(logging.WARNING)
    if config.strict:
        logging.getLogger("mkdocs").addHandler(counter)
    try:
        config = config.plugins.on_config(config)
        config.plugins.on_pre_build(config=config)
        utils.clean_directory(config.site_dir)
        files = get_files(config)
        env = config.theme.get_env()
        files.add_files_from_theme(env, config)
        files = config.plugins.on_files(files, config=config)
        set_exclusions(files, config)
        nav = get_navigation(files, config)
        nav = config.plugins.on_nav(nav, config=config, files=files)
        docs = files.documentation_pages(inclusion=InclusionLevel.is_included)
        for file in docs:
            if file.page is None:
                Page(None, file, config)
        # The navigation's pages first: every page shows their titles.
        early = {id(page) for page in nav.pages}
        for page in nav.pages:
            _populate_page(page, config, files)
        if "navigation.footer" in (config.theme.get("features") or []):
            early |= _read_titles([f.page for f in docs if id(f.page) not in early], config, files)
        env = config.plugins.on_env(env, config=config, files=files)
        files.copy_static_files(inclusion=InclusionLevel.is_included)
        for template in config.theme.static_templates:
            _build_theme_template(template, env, files, config, nav)
        for template in config.extra_templates:
            _build_extra_template(template, files, config, nav)
        for file in docs:
            if id(file.page) not in early:
                _populate_page(file.page, config, files)
            _build_page(file.page, config, docs, nav, env)
            release(file.page)  # later pages need a navigation page's title only, which stays
        for file in docs:
            file.page.validate_anchor_links(files=files, log_level=config.validation.links.anchors)
        for file in docs:  # checked: the anchors are of no more use (an update checks none)
            file.page.present_anchor_ids = file.page.links_to_anchors = None
        config.plugins.on_post_build(config=config)
        if counts := counter.get_counts():
            raise Abort(f"Aborted with {', '.join(f'{v} {k.lower()}s' for k, v in counts)} in strict mode!")
    except Exception as exc:
        config.plugins.on_build_error(error=exc)
        if isinstance(exc, BuildError):
            raise Abort("Aborted with a BuildError!") from exc
        raise
    finally:
        logging.getLogger("mkdocs").removeHandler(counter)
    return MkDocsBuild(config, files, nav, env)


def _read_titles(page_list: list, config: Any, files: Any) -> set[int]:
    """Read each page's title before any is rendered: Material's footer names the previous and next
    pages. A page whose title is not in its front matter (nor set by a plugin) is rendered now, for the
    title its first heading gives; returns those pages, by id."""
    from mkdocs.commands.build import _populate_page

    rendered = set()
    for page in page_list:
        page = config.plugins.on_pre_page(page, config=config, files=files)
        page.read_source(config)
        page.markdown = config.plugins.on_page_markdown(page.markdown, page=page, config=config, files=files)
        if "title" in page.meta:
            page.markdown = ""  # read again when rendered
        else:
            _populate_page(page, config, files)
            rendered.add(id(page))
    return rendered


def release(page: Any) -> None:
    """Drop a written page's Markdown and HTML; its title and anchors stay (links, link checks).

    The Markdown becomes "" rather than None: MkDocs takes a page with no Markdown for one never
    read, and gives it no title. A generated page's source goes too: whoever renders it again
    makes it afresh (kb.site.reload).
    """
    page.markdown = ""
    page.content = None
    page.toc = []
    if page.file.generated_by:
        page.file.content_string = ""


def render_pages(build: MkDocsBuild, pages: list) -> None:
    """Render and write `pages` again (all read first, as a build does), then release them."""
    from mkdocs.commands.build import _build_page, _populate_page

    docs = build.documentation_pages()
    forget_navigation(build.env)  # what it showed before these changes
    for page in pages:
        _populate_page(page, build.config, build.files)
    for page in pages:
        _build_page(page, build.config, docs, build.nav, build.env)
        release(page)


def neighbours(build: MkDocsBuild, page_list: list | None = None) -> dict[int, tuple]:
    """What each page (default: every page) shows of the pages around it, keyed by id(page): the
    previous and next page (their titles too with the footer), the sections above it (with
    `navigation.path`)."""
    features = build.config.theme.get("features") or []
    footer, path = "navigation.footer" in features, "navigation.path" in features

    def about(page: Any) -> tuple:
        if page is None:
            return ()
        return (page.url, page.title) if footer else (page.url,)

    if page_list is None:
        page_list = [file.page for file in build.documentation_pages() if file.page is not None]
    return {id(page): (about(page.previous_page), about(page.next_page),
                       tuple((s.title, _first_url(s)) for s in page.ancestors) if path else ())
            for page in page_list}


def navigate_again(build: MkDocsBuild) -> None:
    """Work the navigation out again after pages came or went, as the build does."""
    from mkdocs.structure.nav import get_navigation

    nav = get_navigation(build.files, build.config)
    build.nav = build.config.plugins.on_nav(nav, config=build.config, files=build.files)


def write_sitemap(build: MkDocsBuild) -> None:
    """Write the theme's sitemap again (it lists every page), as the build writes it."""
    from mkdocs.commands.build import _build_theme_template

    if SITEMAP in build.config.theme.static_templates:
        _build_theme_template(SITEMAP, build.env, build.files, build.config, build.nav)


def _first_url(section: Any) -> str | None:
    """The URL a section links to in Material's path: its first child's, depth first."""
    first = section.children[0] if section.children else None
    while first is not None and first.children:
        first = first.children[0]
    return getattr(first, "url", None)
