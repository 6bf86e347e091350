"""Driving MkDocs page by page: a full build that lets go of each page once written, and updates.

`mkdocs build` reads and renders every page before it writes the first one, so a 10,000-article
site holds all its Markdown and HTML at once. `run_build` follows MkDocs' own steps and events
in the same order, but renders the navigation's pages (home, categories) first and then each
article in turn, written and released before the next: memory stays flat as the site grows.

`LiveSite` keeps what a build learnt (configuration, files, navigation, templates, the kb
plugin's state) so that `kb serve` can re-render only what an edit affects: the article, the home
and category pages listing it, the articles whose "related" lists name it, the search index and
the manifest. Anything else (mkdocs.yml, a category's `_category.yml`, templates, index pages,
images) means a full build.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kb.articles import Article, Problem, Project, last_updated, load_project
from kb.manifest import build_manifest, write_manifest
from kb.search.index import build_index, load_synonyms, write_index
from kb.search.site_index import SYNONYMS
from kb.search.text import analyzer_for
from kb.site import pages

log = logging.getLogger("mkdocs.plugins.kb")
#: Endings of the files editors write beside the one being saved (vim, emacs, others).
EDITOR_LEFTOVERS = ("~", ".swp", ".swx", ".tmp", ".bak")


@dataclass
class BuildState:
    """What one build leaves behind for the next update."""

    config: Any
    files: Any
    nav: Any
    env: Any


def run_build(config: Any, keep: bool = False) -> BuildState:
    """Build the whole site like `mkdocs build`, writing and releasing one article page at a time."""
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
        in_nav = {id(page) for page in nav.pages}
        for page in nav.pages:
            _populate_page(page, config, files)
        env = config.plugins.on_env(env, config=config, files=files)
        files.copy_static_files(inclusion=InclusionLevel.is_included)
        for template in config.theme.static_templates:
            _build_theme_template(template, env, files, config, nav)
        for template in config.extra_templates:
            _build_extra_template(template, files, config, nav)
        for file in docs:
            if id(file.page) not in in_nav:
                _populate_page(file.page, config, files)
            _build_page(file.page, config, docs, nav, env)
            if id(file.page) not in in_nav:
                release(file.page)
        for file in docs:
            file.page.validate_anchor_links(files=files, log_level=config.validation.links.anchors)
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
    return BuildState(config, files, nav, env)


def release(page: Any) -> None:
    """Drop a written page's Markdown and HTML; its anchors stay for link checks."""
    page.markdown = None
    page.content = None
    page.toc = []


class ArticleCache:
    """Articles parsed once and reused until their file changes (time, size, inode): load_project's `cache`.

    `fresh` lists the articles read afresh during one load; with `quick`, load_project checks only
    their links and leaves near-duplicate titles to the full check that follows.
    """

    def __init__(self) -> None:
        self.entries: dict[Path, tuple] = {}
        self.fresh: list[Article] = []

    def load(self, path: Path, key: tuple, read: Callable[[list], Article | None], problems: list) -> Article | None:
        """The article of `path` (with its problems added to `problems`), read again only if it changed."""
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino, key)
        entry = self.entries.get(path)
        if entry is None or entry[0] != stamp:
            found: list[Problem] = []
            entry = self.entries[path] = (stamp, read(found), found)
            if entry[1] is not None:
                self.fresh.append(entry[1])
        problems.extend(entry[2])
        return entry[1]

    def copy(self) -> ArticleCache:
        """A cache with the same entries, for a load on another thread."""
        other = ArticleCache()
        other.entries = dict(self.entries)
        return other


@dataclass
class Update:
    """What one update did."""

    rendered: int = 0
    articles: int = 0
    problems: list[Problem] = field(default_factory=list)
    full: bool = False
    settle: Project | None = None  # the project whose index and full check are still to do


class LiveSite:
    """A site built once, then updated edit by edit (see the module's docstring)."""

    def __init__(self, load_config: Callable[[str], Any], site_dir: Path, drafts: bool = True) -> None:
        self._load_config = load_config  # site_dir -> a configured MkDocsConfig with the kb plugin
        self.site_dir = Path(site_dir).resolve()
        self.drafts = drafts
        self.state: BuildState | None = None
        self._articles_cache = ArticleCache()
        self._fields: dict[tuple[str, str], dict] = {}
        self.known_problems: set[str] = set()  # problems already printed, as formatted
        self._cache_lock = threading.Lock()  # the update's worker and the settling one share the parse cache

    @property
    def plugin(self) -> Any:
        assert self.state is not None
        return self.state.config.plugins["kb"]

    def build(self) -> Update:
        """A full build into a folder beside the site, swapped in when complete."""
        self.site_dir.parent.mkdir(parents=True, exist_ok=True)
        aside = Path(tempfile.mkdtemp(prefix=f".{self.site_dir.name}.building-", dir=self.site_dir.parent))
        try:
            state = run_build(self._load_config(str(aside)))
        except BaseException:
            shutil.rmtree(aside, ignore_errors=True)
            raise
        swap(aside, self.site_dir)
        state.config["site_dir"] = str(self.site_dir)
        for file in state.files:
            file.dest_dir = str(self.site_dir)
            file.__dict__.pop("abs_dest_path", None)  # a cached property: worked out again from dest_dir
        self.state = state
        project = self.plugin.project
        with self._cache_lock:
            self._articles_cache = ArticleCache()
            self.known_problems = {p.format() for p in load_project(  # remember every file's parse
                project.root, strict=self.plugin.config.strict, drafts=True,
                display_root=Path(state.config.config_file_path).parent, cache=self._articles_cache).problems}
        return Update(rendered=len(state.files.documentation_pages()), articles=len(project.articles), full=True)

    def needs_full_build(self, paths: set[Path]) -> bool:
        """True unless every changed path is an article (or synonyms.yml) in the articles folder."""
        if self.state is None:
            return True
        docs = Path(self.state.config.docs_dir).resolve()
        for path in paths:
            path = Path(path).resolve()
            if path.name.startswith(".") or path.name.endswith(EDITOR_LEFTOVERS) or path.name == "4913":
                continue  # an editor's swap, backup or test file
            if not path.is_relative_to(docs):
                return True
            rel = path.relative_to(docs)
            if rel.as_posix() == SYNONYMS:
                continue
            if any(part.startswith((".", "_")) for part in rel.parts[:-1]):
                continue  # hidden folders hold no articles
            if path.suffix != ".md" or path.name == "index.md" or path.name.startswith((".", "_")):
                return True
        return False

    def update(self, paths: set[Path], on_pages: Callable[[], None] = lambda: None) -> Update:
        """Re-render what the changed `paths` affect; full build when they are not just articles.

        The quick half: the changed files are read and checked (with the checks that are cheap
        across the whole project: ids, titles, related ids), the affected pages written, then
        `on_pages` runs. With errors nothing is written. The slow half, `settle`, is left to the
        caller: the full check, the search index and the manifest.
        """
        if self.needs_full_build(paths):
            update = self.build()
            on_pages()
            return update
        assert self.state is not None
        plugin, config = self.plugin, self.state.config
        old: Project = plugin.project
        with self._cache_lock:
            self._articles_cache.fresh = []
            project = load_project(old.root, strict=plugin.config.strict, drafts=True,
                                   display_root=Path(config.config_file_path).parent, cache=self._articles_cache,
                                   quick=True)
        if project.errors:
            return Update(problems=project.problems)
        if not self.drafts:
            project.articles = [a for a in project.articles if not a.draft]
        if project.categories != old.categories:
            update = self.build()
            update.problems = project.problems
            on_pages()
            return update
        update = Update(problems=project.problems, articles=len(project.articles))
        self._apply(old, project, update)
        on_pages()
        update.settle = project
        return update

    def settle(self, project: Project) -> list[Problem]:
        """The slow half of an update: the whole check, the search index, the manifest.

        Returns the problems of the whole check (near-duplicate titles, every article's links);
        nothing when a later update has superseded `project`.
        """
        assert self.state is not None
        if project is not self.plugin.project:
            return []  # a later update or a full build superseded it; its own index follows
        with self._cache_lock:
            cache = self._articles_cache.copy()
        full = load_project(project.root, strict=self.plugin.config.strict, drafts=True,
                            display_root=Path(self.state.config.config_file_path).parent, cache=cache)
        self._write_index_and_manifest(project)
        return full.problems

    def _apply(self, old: Project, new: Project, update: Update) -> None:
        from mkdocs.structure.files import File
        from mkdocs.structure.pages import Page

        state, plugin = self.state, self.plugin
        assert state is not None
        config, files = state.config, state.files
        before = {a.rel_path: a for a in old.articles}
        after = {a.rel_path: a for a in new.articles}
        changed = {src for src in before.keys() & after.keys() if before[src].version != after[src].version}
        added, removed = after.keys() - before.keys(), before.keys() - after.keys()
        listed = added | removed | {src for src in changed if _listing(before[src]) != _listing(after[src])}

        # The plugin's view of the project, as on_config and on_files would have left it.
        touched_categories = {before[s].category for s in listed | changed if s in before} | \
                             {after[s].category for s in listed | changed if s in after}
        plugin.project = new
        plugin.articles = {a.id: a for a in new.articles}
        plugin.by_src = after
        for src in removed:
            file = files.get_file_from_path(src)
            if file is not None:
                files.remove(file)
                _remove_output(Path(file.abs_dest_path), self.site_dir)
            plugin.url_of.pop(before[src].id, None)
        for src in added:
            file = File(src, config.docs_dir, config.site_dir, config.use_directory_urls)
            files.append(file)
            Page(None, file, config)
        plugin.url_of = {a.id: a.url for a in new.articles}
        for article in new.articles:
            file = files.get_file_from_path(article.rel_path)
            if file is not None:
                plugin.url_of[article.id] = file.url
        if added or changed:
            plugin.updated.update(last_updated(after[s].path for s in added | changed))

        old_related = dict(plugin.related)
        if listed and plugin.config.related:
            in_touched = [a for a in new.articles if a.category in touched_categories]
            for article_id in [k for k in old_related if k not in plugin.articles]:
                plugin.related.pop(article_id, None)
            plugin.related.update(pages.nearest_articles(in_touched, plugin.config.related))
        listed_ids = {before[s].id for s in listed if s in before} | {after[s].id for s in listed if s in after}
        again = set(added | changed)
        for article in new.articles:
            shown = set(article.related) | set(plugin.related.get(article.id, [])) | set(old_related.get(article.id, []))
            if shown & listed_ids:
                again.add(article.rel_path)

        # Generated listing pages: home and every category above a touched one.
        generated = []
        home = files.get_file_from_path("index.md")
        if home is not None and home.generated_by and listed:  # the home page shows titles only
            home.content_string = plugin._home_markdown(config)
            generated.append(home)
        groups = pages.articles_by_category(new.articles)
        from kb.site.plugin import _markdown_page
        for category_id in {c for t in touched_categories for c in _ancestors(t)}:
            file = files.get_file_from_path(f"{category_id}/index.md")
            category = new.categories.get(category_id)
            if file is None or not file.generated_by or category is None or not pages.in_tree(groups, category_id):
                continue
            body = pages.render_category(category, new.categories, new.articles, plugin.url_of,
                                         use_directory_urls=config.use_directory_urls)
            file.content_string = _markdown_page(category.title, body)
            generated.append(file)

        targets = generated + [files.get_file_from_path(src) for src in sorted(again)]
        self._render([f.page for f in targets if f is not None and f.page is not None])
        update.rendered = len(targets)

    def _render(self, page_list: list) -> None:
        from mkdocs.commands.build import _build_page, _populate_page

        state = self.state
        assert state is not None
        in_nav = {id(page) for page in state.nav.pages}
        docs = state.files.documentation_pages()
        for page in page_list:
            _populate_page(page, state.config, state.files)
        for page in page_list:
            _build_page(page, state.config, docs, state.nav, state.env)
            if id(page) not in in_nav:
                release(page)

    def _write_index_and_manifest(self, project: Project) -> None:
        state, plugin = self.state, self.plugin
        assert state is not None
        articles = [a for a in project.articles if not a.draft or plugin.config.drafts]
        manifest = build_manifest(articles, state.config.site_name)
        for entry in manifest["articles"]:
            entry["url"] = plugin.url_of.get(entry["id"], entry["url"])
        write_manifest(self.site_dir, manifest)
        language = plugin.search_language(state.config)
        known = {(analyzer_for(language).language, a.id, a.version) for a in articles}
        for key in [k for k in list(self._fields) if k not in known]:
            del self._fields[key]
        index = build_index(articles, load_synonyms(Path(state.config.docs_dir) / SYNONYMS), language=language,
                            fields=self._fields)
        write_index(index, self.site_dir, plugin.search_separator, highlight=plugin.highlight)

    def warm(self) -> None:
        """Compute every article's search fields now, so the first edit does not pay for them."""
        if self.state is not None:
            build_index(self.plugin.project.articles, None, language=self.plugin.search_language(self.state.config),
                        fields=self._fields)


def _listing(article: Article) -> tuple:
    """What other pages show of an article: lists, related links, breadcrumbs."""
    return (article.id, article.title, tuple(article.questions), tuple(article.tags), article.category,
            article.draft, tuple(article.related))


def _ancestors(category: str) -> list[str]:
    parts = category.split("/") if category else []
    return [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _remove_output(path: Path, site_dir: Path) -> None:
    """Delete a removed page's file and the folders it leaves empty."""
    path.unlink(missing_ok=True)
    folder = path.parent
    while folder != site_dir and folder.is_relative_to(site_dir) and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def swap(new: Path, target: Path) -> None:
    """Put `new` where `target` is, keeping the old site until the new one is in place."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
