"""What an edit of articles affects, worked out without reading or rendering the whole site again.

`ArticleCache` keeps every article parsed (load_project's `cache`): a file is read again only when
its time, size or inode changed, and after `expect(paths)`, a watcher's report of what changed,
a load neither lists the folder again nor looks at any other file.

`apply_edit` brings one language's build (kb.site.render.BuildState) in step with its edited
articles, as a full build would have left it: the plugin's view of the project, MkDocs' files and
navigation, and the pages that show what changed, rendered again: the article, the home and
category pages listing it, the articles whose "related" lists name it, the pages next to a page
that came or went. It returns what changed (`Change`) for the other languages and the slow half
(search index, manifest, bot files).
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kb.articles import Article, Category, Problem, Project
from kb.channels.llms import twin_url
from kb.site import pages, render
from kb.site.dates import last_updated


class ArticleCache:
    """Articles parsed once and reused until their file changes (time, size, inode): load_project's `cache`.

    `fresh` lists the articles read afresh during one load; with `quick`, load_project checks only
    their links and leaves near-duplicate titles to the full check that follows.
    """

    def __init__(self) -> None:
        self.entries: dict[Path, tuple] = {}
        self.fresh: list[Article] = []
        self.expected: set[Path] | None = None
        self._listings: dict[Path, tuple[list[Path], dict[str, Category], list[Problem]]] = {}

    def expect(self, paths: set[Path] | None) -> None:
        """Take `paths` (resolved) for everything that changed since the last load, until expect(None)."""
        self.expected = paths

    def listing(self, folder: Path, scan: Callable[[list], tuple[list[Path], dict[str, Category]]],
                problems: list[Problem]) -> tuple[list[Path], dict[str, Category]]:
        """The folder's Markdown files (sorted) and categories: `scan(problems)`'s, or the last ones
        with the expected paths added or taken out."""
        known = self._listings.get(folder)
        if known is None or self.expected is None:
            found: list[Problem] = []
            paths, categories = scan(found)
            known = self._listings[folder] = (paths, categories, found)
        else:
            paths = known[0]
            for path in self.expected:
                if path.suffix != ".md" or not path.is_relative_to(folder):
                    continue
                at = bisect.bisect_left(paths, path)  # Path order: the order of sorted(rglob())
                there = at < len(paths) and paths[at] == path
                if path.is_file() and not there:
                    paths.insert(at, path)
                elif there and not path.is_file():
                    del paths[at]
        problems.extend(known[2])
        return list(known[0]), dict(known[1])

    def load(self, path: Path, key: tuple, read: Callable[[list], Article | None], problems: list) -> Article | None:
        """The article of `path` (with its problems added to `problems`), read again only if it changed."""
        entry = self.entries.get(path)
        if entry is None or entry[0][3] != key or self.expected is None or path in self.expected:
            try:
                stat = path.stat()
            except FileNotFoundError:  # gone since the folder was listed: the watcher reports it next
                self.entries.pop(path, None)
                return None
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino, key)
            if entry is None or entry[0] != stamp:
                found: list[Problem] = []
                entry = self.entries[path] = (stamp, read(found), found)
                if entry[1] is not None:
                    self.fresh.append(entry[1])
        problems.extend(entry[2])
        return entry[1]

    def copy(self) -> ArticleCache:
        """A cache with the same parsed files, for a load on another thread (it lists folders afresh)."""
        other = ArticleCache()
        other.entries = dict(self.entries)
        return other


@dataclass
class Change:
    """What an edit changed in one language, by article id."""

    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    moved: set[str] = field(default_factory=set)  # the URL is new, gone or another
    revised: set[str] = field(default_factory=set)  # the version is new, gone or another
    pages_came_or_went: bool = False
    rendered: int = 0


def apply_edit(state: render.BuildState, new: Project) -> Change:
    """Bring one language's build in step with `new` (see the module's docstring)."""
    from mkdocs.structure.files import File, Files, set_exclusions
    from mkdocs.structure.pages import Page

    plugin, config, files = state.plugin, state.config, state.files
    before, after = plugin.by_src, {a.rel_path: a for a in new.articles}
    changed = {src for src in before.keys() & after.keys() if before[src].version != after[src].version}
    added, removed = after.keys() - before.keys(), before.keys() - after.keys()
    listed = added | removed | {src for src in changed if _listing(before[src]) != _listing(after[src])}
    touched_categories = {before[s].category for s in (listed | changed) & before.keys()} | \
                         {after[s].category for s in (listed | changed) & after.keys()}
    footer = "navigation.footer" in (config.theme.get("features") or [])
    earlier = render.neighbours(state) if added or removed or (footer and listed) else None
    old_urls, old_related = plugin.url_of, dict(plugin.related)

    # MkDocs' files, in the order its walk of the folder gives them (the sitemap lists them so).
    site_dir = Path(config.site_dir)
    for src in removed:
        file = files.get_file_from_path(src)
        if file is not None:
            files.remove(file)
            _remove_outputs([Path(file.abs_dest_path), site_dir / twin_url(file.url)], site_dir)
        plugin.updated.pop(before[src].path.resolve(), None)
    for src in sorted(added, key=_walk_key):
        file = File(src, config.docs_dir, config.site_dir, config.use_directory_urls)
        set_exclusions(Files([file]), config)
        _insert(files, file, config.docs_dir)
        if file.inclusion.is_included():
            Page(None, file, config)
    if added or removed:
        state.files_changed()

    # The plugin's view of the project, as on_config and on_files would have left it.
    plugin.project, plugin.articles, plugin.by_src = new, {a.id: a for a in new.articles}, after
    plugin.url_of = {a.id: old_urls[a.id] if a.rel_path in before and before[a.rel_path].id == a.id
                     and a.id in old_urls else _url(files, a) for a in new.articles}
    if plugin.langs:
        plugin.langs.urls[plugin.langs.language.code] = dict(plugin.url_of)
    if added or changed:
        plugin.updated.update(last_updated(after[s].path for s in added | changed))
    if listed and plugin.config.related:
        for article_id in [k for k in old_related if k not in plugin.articles]:
            plugin.related.pop(article_id, None)
        plugin.related.update(pages.nearest_articles([a for a in new.articles if a.category in touched_categories],
                                                     plugin.config.related))
    listed_ids = {before[s].id for s in listed & before.keys()} | {after[s].id for s in listed & after.keys()}
    again = set(added | changed)
    for article in new.articles:
        shown = set(article.related) | set(plugin.related.get(article.id, [])) | set(old_related.get(article.id, []))
        if shown & listed_ids:
            again.add(article.rel_path)

    # Generated listing pages: home (titles only) and every category above a touched one.
    targets = [files.get_file_from_path("index.md")] if listed else []
    groups = pages.articles_by_category(new.articles)
    targets += [files.get_file_from_path(f"{category_id}/index.md")
                for category_id in sorted({c for t in touched_categories for c in _ancestors(t)} - {""})
                if category_id in new.categories and pages.in_tree(groups, category_id)]
    targets = [f for f in targets if f is not None and f.generated_by]
    targets += [files.get_file_from_path(src) for src in sorted(again)]
    if added or removed:
        render.navigate_again(state)
    first = _pages(plugin, config, targets)
    render.render_pages(state, first)
    rest: list = []
    if earlier is not None:  # pages next to one that came, went or was renamed show it
        done = {id(page) for page in first}
        now = render.neighbours(state)
        rest = _pages(plugin, config, [f for f in state.documentation_pages() if f.page is not None
                                       and id(f.page) not in done and earlier.get(id(f.page)) != now[id(f.page)]])
        render.render_pages(state, rest)

    new_urls = plugin.url_of
    return Change(
        added={after[s].id for s in added}, removed={before[s].id for s in removed},
        moved={k for k in old_urls.keys() | new_urls.keys() if old_urls.get(k) != new_urls.get(k)},
        revised={after[s].id for s in changed} | {after[s].id for s in added} | {before[s].id for s in removed},
        pages_came_or_went=bool(added or removed), rendered=len(first) + len(rest),
    )


def render_articles(state: render.BuildState, ids: set[str]) -> int:
    """Render the pages of the articles with `ids` again (another language's change shows on them)."""
    plugin = state.plugin
    found = [state.files.get_file_from_path(plugin.articles[i].rel_path) for i in sorted(ids) if i in plugin.articles]
    page_list = [f.page for f in found if f is not None and f.page is not None]
    render.render_pages(state, page_list)
    return len(page_list)


def _pages(plugin: Any, config: Any, targets: list) -> list:
    """The pages of `targets` (files, some None), each once; a generated page gets its Markdown afresh."""
    found, seen = [], set()
    for file in targets:
        if file is None or file.page is None or id(file.page) in seen:
            continue
        seen.add(id(file.page))
        if file.generated_by:
            file.content_string = plugin.generated_markdown(file.src_uri, config)
        found.append(file.page)
    return found


def _listing(article: Article) -> tuple:
    """What other pages show of an article: lists, related links, breadcrumbs."""
    return (article.id, article.title, tuple(article.questions), tuple(article.tags), article.category,
            article.draft, tuple(article.related))


def _url(files: Any, article: Article) -> str:
    file = files.get_file_from_path(article.rel_path)
    return file.url if file is not None else article.url


def _walk_key(src_uri: str) -> tuple:
    """Where MkDocs' walk of the docs folder meets a file: a folder's files (index first), then its folders."""
    parts = src_uri.split("/")
    name = parts[-1]
    return (*((1, folder) for folder in parts[:-1]), (0, (os.path.splitext(name)[0] not in ("index", "README"), name)))


def _insert(files: Any, file: Any, docs_dir: str) -> None:
    """Add `file` where MkDocs' walk would have listed it: before the first later walked file,
    else before the theme's and generated files, which come after every walked one."""
    key = _walk_key(file.src_uri)
    later = []
    for other in files:
        walked = other.generated_by is None and other.src_dir == docs_dir
        if later or not walked or _walk_key(other.src_uri) > key:
            later.append(other)
    for other in later:
        files.remove(other)
    files.append(file)
    for other in later:
        files.append(other)


def _ancestors(category: str) -> list[str]:
    parts = category.split("/") if category else []
    return [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _remove_outputs(paths: list[Path], site_dir: Path) -> None:
    """Delete a removed page's files and the folders they leave empty."""
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in {path.parent for path in paths}:
        while folder != site_dir and folder.is_relative_to(site_dir) and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
