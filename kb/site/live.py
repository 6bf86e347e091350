"""The preview's site: built once, then updated edit by edit, each language on its own.

`LiveSite` keeps what a build learnt (each language's configuration, files, navigation, templates
and kb plugin state, see kb.site.render) so that `kb serve` can re-render only what an edit
affects (kb.site.reload): the article, the home and category pages listing it, the articles
whose "related" lists name it, its neighbours, and in the other languages the same article's
page (its language menu, an outdated translation's notice). The search index, the bot files and
the manifest follow in a second, slower step (`settle`). Anything else (mkdocs.yml, a category's
`_category.yml`, templates, index pages, images) means a full build.
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

from kb.articles import Problem, Project, load_project
from kb.channels.llms import write_site_bot_files
from kb.manifest import build_manifest, write_manifest
from kb.search.index import build_index, load_synonyms, write_index
from kb.search.site_index import GOLDEN, SYNONYMS
from kb.search.vectors import log_progress, write_site_vectors
from kb.search.text import analyzer_for
from kb.site.languages import article_urls, translation_problems
from kb.site.multisite import merge_manifests, merge_sitemaps
from kb.site.reload import ArticleCache, Change, apply_edit, render_articles
from kb.site.render import BuildState, run_build, write_sitemap

log = logging.getLogger("mkdocs.plugins.kb")
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

    def __init__(self, load_config: Callable[[str], Any], site_dir: Path, drafts: bool = True) -> None:
        self._load_config = load_config  # site_dir -> a configured MkDocsConfig with the kb plugin
        self.site_dir = Path(site_dir).resolve()
        self.drafts = drafts
        self.states: dict[str, BuildState] = {}  # by language code, the default first; "" with one language
        self.known_problems: set[str] = set()  # problems already printed, as formatted
        self.missed: set[Path] = set()  # changes the watcher did not report, found by a full check
        self._cache = ArticleCache()
        self._fields: dict[tuple, Any] = {}
        self._checked: dict[str, list[Problem]] = {}  # each language's problems at its last full check
        self._unsettled: set[str] = set()
        self._updates = 0
        self._lock = threading.Lock()  # the update's worker and the settling one share the builds and the cache

    @property
    def state(self) -> BuildState | None:
        """The default language's build (None before the first build, or after `forget`)."""
        return next(iter(self.states.values()), None)

    @property
    def plugin(self) -> Any:
        """The default language's kb plugin."""
        assert self.state is not None
        return self.state.plugin

    def forget(self) -> None:
        """Drop what the builds learnt: the next change builds everything afresh."""
        self.states = {}

    def build(self) -> Update:
        """A full build into a folder beside the site, swapped in when complete."""
        self.site_dir.parent.mkdir(parents=True, exist_ok=True)
        aside = Path(tempfile.mkdtemp(prefix=f".{self.site_dir.name}.building-", dir=self.site_dir.parent))
        try:
            config = self._load_config(str(aside))
            config.plugins["kb"].keep_builds = True
            state = run_build(config)
        except BaseException:
            shutil.rmtree(aside, ignore_errors=True)
            raise
        swap(aside, self.site_dir)
        langs = state.plugin.langs
        states = {langs.language.code if langs else "": state, **state.plugin.language_states}
        state.plugin.language_states = {}
        for code, each in states.items():
            folder = self.site_dir / code if code and each is not state else self.site_dir
            each.config["site_dir"] = str(folder)
            for file in each.files:
                file.dest_dir = str(folder)
                file.__dict__.pop("abs_dest_path", None)  # a cached property: worked out again from dest_dir
        with self._lock:
            self.states = states
            self._updates += 1  # a settle still under way for the site before stops
            self._cache = ArticleCache()
            self._checked = {code: self._load(code, self._cache).problems for code in states}  # every file parsed
            self._unsettled = set()
            self.known_problems = {p.format() for p in self._all_problems()}
        return Update(rendered=sum(len(s.files.documentation_pages()) for s in states.values()),
                      articles=sum(len(s.plugin.project.articles) for s in states.values()), full=True)

    def changed_articles(self, paths: set[Path]) -> dict[str, set[Path]] | None:
        """The changed articles by language, or None when a change needs a full build.

        Editors' swap and backup files, hidden folders, synonyms.yml (the search index follows
        anyway) and golden-queries.yml (only `kb check` reads it) need nothing more.
        """
        if not self.states:
            return None
        langs = self.plugin.langs
        root = Path(langs.docs_root if langs else self.state.config.docs_dir).resolve()
        found: dict[str, set[Path]] = {}
        for path in paths:
            path = Path(path).resolve()
            if path.name.startswith(".") or path.name.endswith(EDITOR_LEFTOVERS) or path.name == "4913":
                continue  # an editor's swap, backup or test file
            if not path.is_relative_to(root):
                return None
            parts, code = path.relative_to(root).parts, ""
            if langs:
                if len(parts) < 2 or parts[0] not in self.states:
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
                self._cache.fresh = []
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
                for project in projects.values():
                    project.articles = [a for a in project.articles if not a.draft]
            full = any(project.categories != self.states[code].plugin.project.categories
                       or _shown(project) != _shown(self.states[code].plugin.project)
                       for code, project in projects.items())
            if not full:
                changes = {code: apply_edit(self.states[code], project) for code, project in projects.items()}
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
                    write_sitemap(self.states[code])
            if self.plugin.langs and any(c.pages_came_or_went or c.moved for c in changes.values()):
                self._merge_sitemaps()
        return Update(rendered=rendered, problems=problems, settle=self._updates,
                      articles=sum(len(s.plugin.project.articles) for s in self.states.values()))

    def settle(self, update: int) -> list[Problem] | None:
        """The slow half of an update: the whole check, the bot files, the manifest, the search index.

        Returns the problems of the whole check (near-duplicate titles, every article's links,
        translations); None when a later update or build has superseded this one (the languages
        it did not finish stay for the next settle). Files the check finds changed that the
        watcher never reported go to `missed`.
        """
        with self._lock:
            if update != self._updates or not self.states:
                return None
            codes = [c for c in self.states if c in self._unsettled]
            cache = self._cache.copy()
            views = {code: (self.states[code], self.states[code].plugin.project, self.states[code].plugin.url_of)
                     for code in codes}
        for code, (state, project, url_of) in views.items():
            full = self._load(code, cache)
            self._checked[code] = full.problems
            shown = {a.path: a.version for a in project.articles}
            found = {a.path: a.version for a in full.articles if self.drafts or not a.draft}
            self.missed |= {path for path in shown.keys() | found.keys() if shown.get(path) != found.get(path)}
            if update != self._updates:
                return None
            self._write_slow_half(state, project, url_of)
        if self.plugin.langs and codes and update == self._updates:
            self._write_languages_manifest()
        for code, (state, project, _) in views.items():
            if update != self._updates:
                return None
            self._write_index(state, project)  # last: a new index says the update is complete
            with self._lock:
                if update != self._updates:
                    return None
                self._unsettled.discard(code)
        return self._all_problems()

    def warm(self) -> None:
        """Compute every article's search fields now, so the first edit does not pay for them."""
        for state in list(self.states.values()):
            build_index(state.plugin.project.articles, None, language=state.plugin.search_language(state.config),
                        fields=self._fields)

    def _load(self, code: str, cache: ArticleCache, quick: bool = False) -> Project:
        state = self.states[code]
        return load_project(Path(state.config.docs_dir), strict=state.plugin.config.strict, drafts=True,
                            display_root=Path(state.config.config_file_path).parent, cache=cache, quick=quick)

    def _all_problems(self) -> list[Problem]:
        problems = [p for code in self.states for p in self._checked.get(code, [])]
        langs = self.state.plugin.langs if self.state is not None else None
        if langs:
            projects = {code: state.plugin.project for code, state in self.states.items()}
            problems += translation_problems(projects, langs.languages, Path(self.state.config.config_file_path).parent)
        return problems

    def _follow_languages(self, changes: dict[str, Change]) -> int:
        """Show one language's change in the others: their language menus, outdated notices, links."""
        if not self.plugin.langs:
            return 0
        default = next(iter(self.states))
        rendered = 0
        for code, state in self.states.items():
            langs, again = state.plugin.langs, set()
            for other, change in changes.items():
                if other == code:
                    continue
                project = self.states[other].plugin.project
                langs.projects[other] = project
                langs.urls[other] = article_urls(project.articles, state.config.use_directory_urls)
                again |= change.moved  # the language menu leads to that language's article, else its home
                if other == default:
                    langs.sources = project.by_id()
                    again |= {i for i in change.revised if (a := state.plugin.articles.get(i)) and a.translated_from}
            rendered += render_articles(state, again)
        return rendered

    def _merge_sitemaps(self) -> None:
        """The default language's sitemap written again with every language's pages (kb.site.multisite)."""
        state = self.state
        assert state is not None
        write_sitemap(state)
        langs = state.plugin.langs
        merge_sitemaps(self.site_dir, langs.languages, langs.urls, state.config.site_url)

    def _write_slow_half(self, state: BuildState, project: Project, url_of: dict) -> None:
        """One language's bot files and own manifest, as its build writes them."""
        plugin = state.plugin
        articles = [a for a in project.articles if not a.draft or plugin.config.drafts]
        write_site_bot_files(state.config, project, url_of, plugin.config.answer_threshold,
                             plugin.texts.get("handover", ()))
        manifest = build_manifest(articles, state.config.site_name)
        for entry in manifest["articles"]:
            entry["url"] = url_of.get(entry["id"], entry["url"])
        plugin.manifest = manifest
        if state is not self.state or not plugin.langs:
            write_manifest(Path(state.config.site_dir), manifest)

    def _write_languages_manifest(self) -> None:
        """The default site's manifest: its articles, then every other language's (kb.site.multisite)."""
        state = self.state
        assert state is not None
        plugin = state.plugin
        manifest = build_manifest([a for a in plugin.project.articles if not a.draft or plugin.config.drafts],
                                  state.config.site_name)
        for entry in manifest["articles"]:
            entry["url"] = plugin.url_of.get(entry["id"], entry["url"])
        others = {code: s.plugin.manifest for code, s in self.states.items() if s is not state}
        merge_manifests(manifest, others, plugin.langs.language.code, plugin.langs.status(plugin.project))
        write_manifest(self.site_dir, manifest)

    def _write_index(self, state: BuildState, project: Project) -> None:
        plugin = state.plugin
        articles = [a for a in project.articles if not a.draft or plugin.config.drafts]
        language = plugin.search_language(state.config)
        analysed = analyzer_for(language).language
        known = {(analysed, a.id, a.version) for a in articles}
        for key in [k for k in list(self._fields) if k[0] == analysed and k[:3] not in known]:
            del self._fields[key]
        index = build_index(articles, load_synonyms(Path(state.config.docs_dir) / SYNONYMS), language=language,
                            fields=self._fields)
        write_site_vectors(articles, Path(state.config.site_dir), Path(state.config.config_file_path).parent,
                           semantic=plugin.config.semantic, progress=log_progress(log))
        write_index(index, Path(state.config.site_dir), plugin.search_separator, highlight=plugin.highlight)


def _shown(project: Project) -> set[str]:
    """The categories with a page: those holding an article, and the ones above them."""
    folders = {a.category for a in project.articles}
    return {"/".join(parts[:i]) for folder in folders for parts in [folder.split("/")] for i in range(len(parts) + 1)}


def swap(new: Path, target: Path) -> None:
    """Put `new` where `target` is, keeping the old site until the new one is in place."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
