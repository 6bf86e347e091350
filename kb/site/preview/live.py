"""The preview's site: built once, then updated edit by edit, each language on its own.

`LiveSite` keeps each language's build (the renderer's handle on it, and kb's state, see
kb.site.state) so that `kb serve` can re-render only what an edit affects: the article, the home
and category pages listing it, the articles whose "related" lists name it, its neighbours, and
in the other languages the same article's page (its language menu, an outdated translation's
notice). The renderer does the rendering (kb.site.renderers); the rest of the build, the search
index, the bot files and the manifest, follows in a second, slower step (`settle`) through the
build's own finish step (kb.site.build). Anything else (mkdocs.yml, a category's
`_category.yml`, templates, index pages, images) means a full build.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kb.articles import Problem, Project, load_project
from kb.search.index import build_index
from kb.site.build import SiteConfig, finish, merge_language_sitemaps, swap
from kb.site.languages import translation_problems
from kb.site.preview.cache import ArticleCache
from kb.search.site_index import GOLDEN, SYNONYMS
from kb.site.state import BuildState, Change, LoadOnce

#: Endings of the files editors write beside the one being saved (vim, emacs, others).
EDITOR_LEFTOVERS = ("~", ".swp", ".swx", ".tmp", ".bak")


@dataclass
class Update:
    """What one update did."""

    rendered: int = 0
    articles: int = 0
    problems: list[Problem] = field(default_factory=list)
    full: bool = False
    settle: int | None = None  # the update whose search index, manifest and full check are still to do


class LiveSite:
    """A site built once, then updated edit by edit (see the module's docstring)."""

    def __init__(self, site: SiteConfig, renderer: Any, site_dir: Path, *, drafts: bool = True,
                 livereload: bool = True) -> None:
        self.site = site
        self.renderer = renderer  # kb.site.build.Renderer, with the preview's apply, rerender, write_sitemap, moved
        self.site_dir = Path(site_dir).resolve()
        self.drafts = drafts
        self.livereload = livereload
        self.builds: dict[str, Any] = {}  # the renderer's builds by language code, the default first; "" with one
        self.known_problems: set[str] = set()  # problems already printed, as formatted
        self.missed: set[Path] = set()  # changes the watcher did not report, found by a full check
        self._cache = ArticleCache()
        self._fields: dict[tuple, Any] = {}
        self._checked: dict[str, list[Problem]] = {}  # each language's problems at its last full check
        self._unsettled: set[str] = set()
        self._updates = 0
        self._lock = threading.Lock()  # the update's worker and the settling one share the builds and the cache

    @property
    def states(self) -> dict[str, BuildState]:
        """kb's state of each language's build, by code (the default first; "" with one language)."""
        return {code: built.state for code, built in self.builds.items()}

    @property
    def state(self) -> BuildState | None:
        """The default language's state (None before the first build, or after `forget`)."""
        return next(iter(self.states.values()), None)

    def forget(self) -> None:
        """Drop what the builds learnt: the next change builds everything afresh."""
        self.builds = {}

    def build(self, load: LoadOnce | None = None) -> Update:
        """A full build into a folder beside the site, swapped in when complete.

        Each articles folder is read once for the build and its full check: through `load` (the
        one `kb serve` checked the site with before; it holds the preview's ArticleCache), else a
        new one. Every file parsed stays in that cache for the edits that follow.
        """
        load = load or LoadOnce(ArticleCache())
        self.site_dir.parent.mkdir(parents=True, exist_ok=True)
        aside = Path(tempfile.mkdtemp(prefix=f".{self.site_dir.name}.building-", dir=self.site_dir.parent))
        try:
            built = self.renderer.build(self.site, aside, drafts=self.drafts, livereload=self.livereload, load=load)
        except BaseException:
            shutil.rmtree(aside, ignore_errors=True)
            raise
        swap(aside, self.site_dir)
        default = built[0].state
        builds = {(b.state.search_language if default.langs else ""): b for b in built}
        for code, each in builds.items():
            self.renderer.moved(each, self.site_dir / code if each is not built[0] else self.site_dir)
        with self._lock:
            self.builds = builds
            self._updates += 1  # a settle still under way for the site before stops
            self._cache = load.cache
            self._checked = {code: self._read(code, load).problems for code in builds}  # as read for the build
            self._unsettled = set()
            self.known_problems = {p.format() for p in self._all_problems()}
        states = self.states.values()
        return Update(rendered=sum(len(s.by_src) + len(s.generated_pages()) for s in states),
                      articles=sum(len(s.project.articles) for s in states), full=True)

    def changed_articles(self, paths: set[Path]) -> dict[str, set[Path]] | None:
        """The changed articles by language, or None when a change needs a full build.

        Editors' swap and backup files, hidden folders, synonyms.yml (the search index follows
        anyway) and golden-queries.yml (only `kb check` reads it) need nothing more.
        """
        state = self.state
        if state is None:
            return None
        langs = state.langs
        root = Path(langs.docs_root if langs else state.settings.docs_dir).resolve()
        found: dict[str, set[Path]] = {}
        for path in paths:
            path = Path(path).resolve()
            if path.name.startswith(".") or path.name.endswith(EDITOR_LEFTOVERS) or path.name == "4913":
                continue  # an editor's swap, backup or test file
            if not path.is_relative_to(root):
                return None
            parts, code = path.relative_to(root).parts, ""
            if langs:
                if len(parts) < 2 or parts[0] not in self.builds:
                    return None
                code, parts = parts[0], parts[1:]
            if any(part.startswith((".", "_")) for part in parts[:-1]):
                continue  # hidden folders hold no articles
            if len(parts) == 1 and path.name in (SYNONYMS, GOLDEN):
                found.setdefault(code, set())
            elif path.suffix != ".md" or path.name == "index.md" or path.name.startswith((".", "_")):
                return None
            else:
                found.setdefault(code, set()).add(path)
        return found

    def new_problems(self, problems: list[Problem], always: list[Problem] = ()) -> list[Problem]:
        """The `problems` not shown yet (and those in `always`), now counted as shown."""
        found = []
        for problem in problems:
            text = problem.format()
            if problem in always or text not in self.known_problems:
                found.append(problem)
                self.known_problems.add(text)
        return found

    def shown_problems(self, problems: list[Problem]) -> None:
        """`problems` are what the writer sees now: only those count as shown."""
        self.known_problems = {p.format() for p in problems}

    def take_missed(self) -> set[Path]:
        """The changed files the watcher never reported (found by the last full check), once."""
        missed, self.missed = self.missed, set()
        return missed

    def needs_full_build(self, paths: set[Path]) -> bool:
        """True unless every changed path is an article (or synonyms.yml) in an articles folder."""
        return self.changed_articles(paths) is None

    def update(self, paths: set[Path], on_pages: Callable[[], None] = lambda: None) -> Update:
        """Re-render what the changed `paths` affect; full build when they are not just articles.

        The quick half: the changed files are read and checked (with the checks that are cheap
        across the whole project: ids, titles, related ids), the affected pages written, then
        `on_pages` runs. With errors nothing is written. The slow half, `settle`, is left to the
        caller: the full check, the search index, the bot files and the manifest.
        """
        groups = self.changed_articles(paths)
        if groups is None:
            update = self.build()
            on_pages()
            return update
        with self._lock:
            projects: dict[str, Project] = {}
            for code, changed in groups.items():
                self._cache.expect(changed)
                try:
                    projects[code] = self._load(code, self._cache, quick=True)
                finally:
                    self._cache.expect(None)
            problems = sorted((p for project in projects.values() for p in project.problems),
                              key=lambda p: (p.path, p.line or 0))
            if any(project.errors for project in projects.values()):
                return Update(problems=problems)
            if not self.drafts:
                projects = {code: dataclasses.replace(project, articles=[a for a in project.articles if not a.draft])
                            for code, project in projects.items()}
            states = self.states
            full = any(project.categories != states[code].project.categories
                       or _shown(project) != _shown(states[code].project)
                       for code, project in projects.items())
            if not full:
                changes = {code: self.renderer.apply(self.builds[code], project) for code, project in projects.items()}
                rendered = sum(change.rendered for change in changes.values()) + self._follow_languages(changes)
                self._unsettled |= changes.keys()
                self._updates += 1
        if full:
            update = self.build()
            update.problems = problems
            on_pages()
            return update
        if rendered:
            on_pages()
        with self._lock:  # the sitemap lists every page: written after the pages are up
            for code, change in changes.items():
                if change.pages_came_or_went:
                    self.renderer.write_sitemap(self.builds[code])
            default = self.state
            if default is not None and default.langs and any(c.pages_came_or_went or c.moved
                                                             for c in changes.values()):
                self.renderer.write_sitemap(self.builds[next(iter(self.builds))])
                merge_language_sitemaps(default)
        return Update(rendered=rendered, problems=problems, settle=self._updates,
                      articles=sum(len(s.project.articles) for s in self.states.values()))

    def settle(self, update: int) -> list[Problem] | None:
        """The slow half of an update: the whole check, then the build's finish step (bot files,
        manifests, the search index last).

        Returns the problems of the whole check (near-duplicate titles, every article's links,
        translations); None when a later update or build has superseded this one (the languages
        it did not finish stay for the next settle). Files the check finds changed that the
        watcher never reported go to `missed`.
        """
        with self._lock:
            if update != self._updates or not self.builds:
                return None
            codes = [c for c in self.builds if c in self._unsettled]
            cache = self._cache.copy()
            states = self.states
        for code in codes:
            full = self._load(code, cache)
            self._checked[code] = full.problems
            shown = {a.path: a.version for a in states[code].project.articles}
            found = {a.path: a.version for a in full.articles if self.drafts or not a.draft}
            self.missed |= {path for path in shown.keys() | found.keys() if shown.get(path) != found.get(path)}
            if update != self._updates:
                return None
        if not finish(list(states.values()), only=codes, fields=self._fields,
                      current=lambda: update == self._updates):
            return None
        with self._lock:
            if update != self._updates:
                return None
            self._unsettled -= set(codes)
        return self._all_problems()

    def warm(self) -> None:
        """Compute every article's search fields now, so the first edit does not pay for them."""
        for state in list(self.states.values()):
            build_index(state.project.articles, None, language=state.search_language, fields=self._fields)

    def _load(self, code: str, cache: ArticleCache, quick: bool = False) -> Project:
        state = self.builds[code].state
        return load_project(Path(state.settings.docs_dir), strict=state.options.strict, drafts=True,
                            display_root=state.settings.project_dir, cache=cache, quick=quick)

    def _read(self, code: str, load: LoadOnce) -> Project:
        """The language's articles, drafts included, as `load` read them for the build."""
        state = self.builds[code].state
        return load(Path(state.settings.docs_dir), strict=state.options.strict, drafts=True,
                    display_root=state.settings.project_dir)

    def _all_problems(self) -> list[Problem]:
        problems = [p for code in self.builds for p in self._checked.get(code, [])]
        state = self.state
        if state is not None and state.langs:
            projects = {code: each.project for code, each in self.states.items()}
            problems += translation_problems(projects, state.langs.languages, state.settings.project_dir)
        return problems

    def _follow_languages(self, changes: dict[str, Change]) -> int:
        """Show one language's change in the others: their language menus, outdated notices, links."""
        states = self.states
        default = next(iter(states))
        if not states[default].langs:
            return 0
        rendered = 0
        for code, state in states.items():
            assert state.langs is not None
            again: set[str] = set()
            for other, change in changes.items():
                if other == code:
                    continue
                state.langs.follow(other, states[other].project, state.settings.use_directory_urls)
                again |= change.moved  # the language menu leads to that language's article, else its home
                if other == default:
                    again |= {i for i in change.revised if (a := state.articles.get(i)) and a.translated_from}
            if again:
                rendered += self.renderer.rerender(self.builds[code], again)
        return rendered


def _shown(project: Project) -> set[str]:
    """The categories with a page: those holding an article, and the ones above them."""
    folders = {a.category for a in project.articles}
    return {"/".join(parts[:i]) for folder in folders for parts in [folder.split("/")] for i in range(len(parts) + 1)}
