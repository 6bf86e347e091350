"""The site build: read mkdocs.yml, check the articles, then prepare -> render -> finish, aside then swap.

The pipeline's three steps: **prepare** (kb.site.state: load and check the articles once,
languages, texts, generated pages) -> **render** (a renderer of kb.site.renderers turns the
Markdown pages into HTML) -> **finish** (`finish` here: the search index, the bot files, the
manifest, and on a site with languages the merged manifest and sitemap). `kb build`, a plain
`mkdocs build` (the plugin) and the preview's updates all end in `finish`. A build goes into a
folder beside the site and is swapped in only when complete (`build_site`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, MutableMapping, Protocol

import yaml

from kb.articles import Article, Problem, Project, load_project
from kb.channels.llms import SiteInfo, write_bot_files
from kb.manifest import build_manifest, carry_history, write_manifest
from kb.search.index import build_index, load_synonyms, write_index
from kb.search.ranker import check_golden
from kb.search.site_index import GOLDEN, SYNONYMS, separator_of
from kb.search.text import analyzer_for
from kb.search.vectors import log_progress, write_site_vectors
from kb.site.compress import compress_assets
from kb.site.languages import (Language, LanguageError, combined, load_languages, load_projects, site_link,
                               stray_articles, translation_problems)
from kb.site.multisite import merge_manifests, merge_sitemaps
from kb.site.state import RENDERERS, BuildState, Options, PrepareError, SiteSettings
from kb.site.unfinished import REQUIRABLE_KEYS, unfinished

VECTORS_LOG = logging.getLogger("kb.site")  # the embedding's progress where no logger is handed in

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # MkDocs' banner about its future, printed on import


class SiteError(Exception):
    """The site cannot be checked or built; the message says why and where."""


class BuildFailed(SiteError):
    """The renderer stopped; `messages` holds what it reported as warnings and errors."""

    def __init__(self, message: str, messages: list[str]) -> None:
        super().__init__(message)
        self.messages = messages


@dataclass
class SiteConfig:
    """What kb needs to know from mkdocs.yml before MkDocs itself loads it."""

    config_file: Path
    project_dir: Path
    docs_dir: Path
    site_dir: Path
    site_name: str
    plugins: list = field(default_factory=list)  # the `plugins:` entries as written
    language: str | None = None  # set on one language's view of a site with languages (language_site)
    theme_language: str = "en"   # theme.language: a one-language site's language
    search_highlight: bool = False  # theme.features has search.highlight (see kb.search.site_index)
    site_url: str = ""
    site_description: str = ""
    use_directory_urls: bool = True

    @property
    def search_language(self) -> str:
        """The language its search analyses text as: this view's, else the theme's."""
        return self.language or self.theme_language

    @property
    def languages(self) -> list[Language]:
        """The help center's languages (default first), or [] for one language; SiteError when malformed."""
        if self.language is not None:
            return []  # one language's view: its folders are already that language's
        try:
            return load_languages(self.config_file, self.plugin.get("languages"))
        except LanguageError as exc:
            raise SiteError(str(exc)) from exc

    def language_site(self, code: str) -> SiteConfig:
        """This site as seen by one language: its articles folder and its built site's folder."""
        prefix = "" if self.languages and self.languages[0].code == code else code
        return dataclasses.replace(self, docs_dir=self.docs_dir / code, site_dir=self.site_dir / prefix,
                                   language=code)

    @property
    def options(self) -> Options:
        """The kb plugin's options, checked; SiteError names a wrong one."""
        try:
            return Options.from_mapping(self.plugin, str(self.config_file))
        except PrepareError as exc:
            raise SiteError(str(exc)) from exc

    @property
    def renderer(self) -> str:
        """The renderer the kb plugin's options name (`renderer:`), else the default."""
        return str(self.plugin.get("renderer") or RENDERERS[0])

    def settings(self, site_dir: Path | None = None) -> SiteSettings:
        """What prepare needs to know of the site, building into `site_dir` (default: its site_dir)."""
        return SiteSettings(docs_dir=self.docs_dir, site_dir=Path(site_dir or self.site_dir), site_name=self.site_name,
                            config_file=self.config_file, site_description=self.site_description,
                            site_url=self.site_url, use_directory_urls=self.use_directory_urls,
                            theme_language=self.theme_language, highlight=self.search_highlight,
                            search_separator=separator_of(self.plugins))

    @property
    def plugin(self) -> dict:
        """The kb plugin's options (the last `kb` entry), or {}."""
        options: dict = {}
        for entry in self.plugins:
            if isinstance(entry, dict) and "kb" in entry:
                options = entry["kb"] or {}
        return options


class _TolerantLoader(yaml.SafeLoader):
    """Reads mkdocs.yml without executing its `!!python/name:` and `!ENV` tags."""


_TolerantLoader.add_multi_constructor("", lambda loader, suffix, node: None)
_TolerantLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
_TolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def read_site_config(config_file: Path) -> SiteConfig:
    """Read docs_dir, site_dir, site_name and the kb plugin's options from mkdocs.yml."""
    config_file = Path(config_file)
    if not config_file.is_file():
        raise SiteError(f"{config_file}: no such file; run kb in a project folder (one with mkdocs.yml), "
                        "or pass --config-file")
    try:
        data = yaml.load(config_file.read_text(encoding="utf-8"), Loader=_TolerantLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{config_file}:{mark.line + 1}" if mark else str(config_file)
        raise SiteError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise SiteError(f"{config_file}:1: expected a mapping of settings")
    project = config_file.resolve().parent
    theme = data.get("theme") if isinstance(data.get("theme"), dict) else {}
    site = SiteConfig(
        config_file=config_file.resolve(), project_dir=project,
        docs_dir=(project / str(data.get("docs_dir", "docs"))).resolve(),
        site_dir=(project / str(data.get("site_dir", "site"))).resolve(),
        site_name=str(data.get("site_name", "")), plugins=list(data.get("plugins") or []),
        theme_language=str(theme.get("language") or "en"),
        search_highlight="search.highlight" in (theme.get("features") or []),
        site_url=str(data.get("site_url") or ""), site_description=str(data.get("site_description") or ""),
        use_directory_urls=bool(data.get("use_directory_urls", True)),
    )
    site.languages  # noqa: B018 - checked now, so a wrong `languages` stops every command with its line
    require = site.plugin.get("require") or []
    if not isinstance(require, list) or any(key not in REQUIRABLE_KEYS for key in require):
        raise SiteError(f"{config_file}: the kb plugin's require: must be a list of any of "
                        f"{', '.join(REQUIRABLE_KEYS)}; got {require!r}")
    if site.renderer not in RENDERERS:
        raise SiteError(f"{config_file}: the kb plugin's renderer: must be one of {', '.join(RENDERERS)}; "
                        f"got {site.renderer!r}")
    return site


def check_site(site: SiteConfig, *, strict: bool = False, golden: bool = True,
               load: Callable[..., Project] = load_project) -> Project:
    """Load and check every article, drafts included, and (with `golden`) the golden queries.

    The golden queries are a quality gate for `kb check` in a writer's CI; a build or a preview
    does not stop for a search miss. With languages, each is checked on its own, then translations.
    `load` reads an articles folder (kb.site.state.LoadOnce: the build then reads it from there).
    """
    require = site.plugin.get("require") or []
    languages = site.languages
    if languages:
        strict = strict or bool(site.plugin.get("strict"))
        projects = load_projects(site.docs_dir, languages, strict=strict, display_root=site.project_dir, load=load)
        for language in languages:
            project = projects[language.code]
            if project.articles:
                project.problems.extend(unfinished(project.articles, require, site.project_dir,
                                                   language.texts["new_article_body"]))
                project.problems.sort(key=lambda p: p.sort_key)
            if golden and not project.errors:
                project.problems.extend(_golden_problems(site.language_site(language.code), project))
        everything = combined(projects, site.docs_dir)
        everything.problems[:0] = stray_articles(site.docs_dir, languages, site.project_dir)
        everything.problems.extend(translation_problems(projects, languages, site.project_dir))
        return everything
    project = load(site.docs_dir, strict=strict or bool(site.plugin.get("strict")), drafts=True,
                   display_root=site.project_dir)
    if project.articles:
        project.problems.extend(unfinished(project.articles, require, site.project_dir))
        project.problems.sort(key=lambda p: p.sort_key)
    if golden and not project.errors:
        project.problems.extend(_golden_problems(site, project))
    return project


class Renderer(Protocol):
    """What turns the prepared Markdown pages into HTML (kb.site.renderers): MkDocs + Material, or Zensical."""

    name: str

    def build(self, site: SiteConfig, site_dir: Path, *, drafts: bool = False, strict: bool = False,
              livereload: bool = False, load: Callable[..., Project] | None = None) -> list[Any]:
        """Build every language of `site` into `site_dir` (prepare, render, finish); BuildFailed says why not.
        `load` reads an articles folder for prepare (default: kb.articles.load_project)."""


def build_site(site: SiteConfig, renderer: Renderer, site_dir: Path | None = None, *, drafts: bool = False,
               strict: bool = False, livereload: bool = False, load: Callable[..., Project] | None = None) -> Path:
    """Build the site with `renderer` into a folder beside `site_dir`, then swap it in; on failure nothing changes."""
    target = Path(site_dir or site.site_dir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    aside.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; a site is read by the web server's user
    try:
        renderer.build(site, aside, drafts=drafts, strict=strict, livereload=livereload, load=load)
    except BaseException:
        shutil.rmtree(aside, ignore_errors=True)
        raise
    carry_history(target, aside)  # votes from pages cached before this build stay valid
    swap(aside, target)
    return target


def swap(new: Path, target: Path) -> None:
    """Put `new` where `target` is, keeping the old site until the new one is in place."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# -- finish -------------------------------------------------------------------------------------

def finish(states: list[BuildState], *, only: Iterable[str] | None = None, fields: MutableMapping | None = None,
           current: Callable[[], bool] = lambda: True, log: Any = None) -> bool:
    """The build's last step, the same for every renderer and for the preview's updates.

    `states` are every language of the site (the default one first): each gets its bot files
    (llms.txt, Markdown twins, answers) and manifest; the default site's manifest and sitemap
    then list every language; each search index comes last, since a new index tells the preview
    an update is complete. `only` names the languages whose files are written again (default:
    all; the merges are always redone). `fields` caches the index's analysed articles between
    updates; `current()` false stops before the next step (a newer update follows). Returns
    whether every step ran.
    """
    wanted = None if only is None else set(only)
    chosen = [s for s in states if wanted is None or s.search_language in wanted or (not s.langs and "" in wanted)]
    for state in chosen:
        if not current():
            return False
        write_bot_files_and_manifest(state)
    default = states[0] if states else None
    if default is not None and default.langs and not default.building and chosen:
        if not current():
            return False
        merge_languages(default, states[1:])
    for state in chosen:
        if not current():
            return False
        # The vectors before the index: a new index tells the preview and the collectors to read both.
        figures = write_site_vectors(state.project.articles, state.settings.site_dir, state.settings.project_dir,
                                     semantic=state.options.semantic,
                                     progress=log_progress(log if isinstance(log, logging.Logger) else VECTORS_LOG))
        if log is not None and figures:
            log.info(f"kb: vectors: {figures['units']} texts of {figures['articles']} articles, "
                     f"{figures['embedded']} embedded now, in {figures['seconds']:.1f} s")
        if not current():
            return False
        index = write_search(state.project.articles, state.settings, language=state.search_language, fields=fields)
        if log is not None:
            log.info(f"kb: search index: {len(index['docs'])} articles, {len(index['terms'])} terms"
                     + (f" ({state.search_language})" if state.langs else ""))
        if not state.options.drafts:  # published only: the preview's files change with every edit, sent as they are
            packed = compress_assets(state.settings.site_dir)
            if log is not None:
                log.info(f"kb: {packed.files} assets compressed beside themselves (.gz): "
                         f"{packed.before // 1024} KB -> {packed.after // 1024} KB")
    return True


def write_bot_files_and_manifest(state: BuildState) -> dict:
    """One language's llms.txt, Markdown twins and answers file, then its manifest (kept on the state).

    On a site with languages the default language's manifest is written by `merge_languages`.
    """
    settings, texts, langs = state.settings, state.texts, state.langs
    others = [other for other in langs.languages if other is not langs.language] if langs else []
    info = SiteInfo(name=settings.site_name or "Help Center", summary=settings.site_description,
                    language=state.search_language, answer_threshold=float(state.options.answer_threshold),
                    contact=tuple(state.contacts), site_url=settings.site_url, handover=texts["handover"],
                    handover_phrases=tuple(str(p) for p in texts["handover_phrases"]),
                    other_languages=texts["other_languages"], mail_search=texts["widget"]["mail_search"],
                    languages=tuple((other.name, other.code, site_link(langs.language, other, "")) for other in others))
    write_bot_files(settings.site_dir, state.project.articles, state.project.categories, state.url_of, info)
    manifest = build_manifest(state.project.articles, settings.site_name)  # after the bot files: their peak
    for entry in manifest["articles"]:
        entry["url"] = state.url_of.get(entry["id"], entry["url"])
    state.keep_manifest(manifest)
    if not state.langs or state.building:
        write_manifest(settings.site_dir, manifest)
    return manifest


def merge_languages(default: BuildState, others: Iterable[BuildState]) -> None:
    """The default site's manifest with every language's articles, and its sitemap with every page."""
    assert default.langs is not None and default.manifest is not None
    langs = default.langs
    manifest = dict(default.manifest, articles=[dict(entry) for entry in default.manifest["articles"]])
    merge_manifests(manifest, {s.search_language: s.manifest for s in others if s.manifest is not None},
                    langs.language.code, langs.status(default.project))
    merge_language_sitemaps(default)
    write_manifest(default.settings.site_dir, manifest)


def merge_language_sitemaps(default: BuildState) -> None:
    """The default site's sitemap with every language's pages and their translations (kb.site.multisite)."""
    assert default.langs is not None
    merge_sitemaps(default.settings.site_dir, default.langs.languages, default.langs.urls,
                   default.settings.site_url)


def write_search(articles: list[Article], settings: SiteSettings, *, language: str,
                 fields: MutableMapping | None = None) -> dict:
    """Build the search index of `articles` (synonyms from the articles folder) and write it into the site.

    The one place a site's search files are written: `finish` and `build_search.py` both call it.
    `fields` caches each article's analysed fields by version between calls (the preview's).
    """
    if fields is not None:
        analysed = analyzer_for(language).language
        known = {(analysed, a.id, a.version) for a in articles}
        for key in [k for k in list(fields) if k[0] == analysed and k[:3] not in known]:
            del fields[key]
    index = build_index(articles, load_synonyms(Path(settings.docs_dir) / SYNONYMS), language=language,
                        fields=fields)
    write_index(index, settings.site_dir, settings.search_separator, highlight=settings.highlight)
    return index


def _umask() -> int:
    """The process's umask (read by setting it back at once), as `mkdocs build` applies it."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _golden_problems(site: SiteConfig, project: Project) -> list[Problem]:
    """Misses of the writers' golden queries against an index built from these articles."""
    golden = site.docs_dir / GOLDEN
    if not golden.is_file():
        return []
    synonyms_path = site.docs_dir / SYNONYMS
    synonyms = load_synonyms(synonyms_path) if synonyms_path.is_file() else None
    index = build_index([a for a in project.articles if not a.draft], synonyms, language=site.search_language)
    return [dataclasses.replace(problem, path=_relative(Path(problem.path), site.project_dir))
            for problem in check_golden(index, golden)]


def rebuild_search_index(site: SiteConfig) -> tuple[dict, list[Problem]]:
    """Rebuild the search index of the already built site from the articles `kb build` publishes.

    Returns the index and the articles' problems; SiteError when there is no built site,
    SearchError when the index would be empty.
    """
    if not site.site_dir.is_dir():
        raise SiteError(f"{site.site_dir}: no built site; run `kb build` (or `mkdocs build`) first")
    if site.languages:  # each language's index into its own site (the default's first: it is returned)
        results = [rebuild_search_index(site.language_site(language.code)) for language in site.languages]
        return results[0][0], [problem for _, problems in results for problem in problems]
    project = load_project(site.docs_dir, drafts=False)  # as `kb build` publishes it
    write_site_vectors(project.articles, site.site_dir, site.project_dir, semantic=site.options.semantic,
                       progress=log_progress(VECTORS_LOG))
    index = write_search(project.articles, site.settings(), language=site.search_language)
    compress_assets(site.site_dir, ("search",))  # its .gz follow the index, as the build left them
    return index, project.problems


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
