"""The site: read the project's mkdocs.yml, check its articles, build it aside and swap it in.

This is the one place outside the plugin that drives MkDocs; the command line calls it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import yaml

from kb.articles import Problem, Project, load_project
from kb.manifest import carry_history
from kb.search.index import build_index, load_synonyms
from kb.search.ranker import check_golden
from kb.search.site_index import GOLDEN, SYNONYMS, separator_of, write_site_index
from kb.site.compress import compress_assets
from kb.site.languages import (Language, LanguageError, combined, load_languages, load_projects, stray_articles,
                               translation_problems)
from kb.site.live import LiveSite, swap
from kb.site.render import run_build
from kb.site.unfinished import REQUIRABLE_KEYS, unfinished

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # MkDocs' banner about its future, printed on import


class SiteError(Exception):
    """The site cannot be checked or built; the message says why and where."""


class BuildFailed(SiteError):
    """MkDocs stopped; `messages` holds what it logged as warnings and errors."""

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
    )
    site.languages  # noqa: B018 - checked now, so a wrong `languages` stops every command with its line
    require = site.plugin.get("require") or []
    if not isinstance(require, list) or any(key not in REQUIRABLE_KEYS for key in require):
        raise SiteError(f"{config_file}: the kb plugin's require: must be a list of any of "
                        f"{', '.join(REQUIRABLE_KEYS)}; got {require!r}")
    return site


def check_site(site: SiteConfig, *, strict: bool = False, golden: bool = True) -> Project:
    """Load and check every article, drafts included, and (with `golden`) the golden queries.

    The golden queries are a quality gate for `kb check` in a writer's CI; a build or a preview
    does not stop for a search miss. With languages, each is checked on its own, then translations.
    """
    require = site.plugin.get("require") or []
    languages = site.languages
    if languages:
        strict = strict or bool(site.plugin.get("strict"))
        projects = load_projects(site.docs_dir, languages, strict=strict, display_root=site.project_dir)
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
    project = load_project(site.docs_dir, strict=strict or bool(site.plugin.get("strict")), drafts=True,
                           display_root=site.project_dir)
    if project.articles:
        project.problems.extend(unfinished(project.articles, require, site.project_dir))
        project.problems.sort(key=lambda p: p.sort_key)
    if golden and not project.errors:
        project.problems.extend(_golden_problems(site, project))
    return project


def build_site(
    site: SiteConfig, site_dir: Path | None = None, *, drafts: bool = False, strict: bool = False,
    livereload: bool = False, on_log: Callable[[logging.LogRecord], None] | None = None,
) -> Path:
    """Build the site into a folder beside `site_dir`, then swap it in; on failure nothing changes."""
    target = Path(site_dir or site.site_dir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    aside.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; a site is read by the web server's user
    try:
        with mkdocs_errors(on_log):
            run_build(mkdocs_config(site, aside, drafts=drafts, strict=strict, livereload=livereload))
    except BaseException:
        shutil.rmtree(aside, ignore_errors=True)
        raise
    carry_history(target, aside)  # votes from pages cached before this build stay valid
    swap(aside, target)
    return target


def mkdocs_config(site: SiteConfig, site_dir: Path | str, *, drafts: bool = False, strict: bool = False,
                  livereload: bool = False):  # noqa: ANN201 - MkDocsConfig, imported late
    """MkDocs' configuration of the site, building into `site_dir`, with the kb plugin's options set."""
    from mkdocs.config import load_config

    config = load_config(config_file=str(site.config_file), site_dir=str(site_dir))
    if "kb" not in config.plugins:
        raise SiteError(f"{site.config_file}: the kb plugin is not enabled; add  - kb  under plugins:")
    options = config.plugins["kb"].config
    options["drafts"] = drafts or options["drafts"]
    options["strict"] = strict or options["strict"]
    options["livereload"] = livereload
    return config


@contextlib.contextmanager
def mkdocs_errors(on_log: Callable[[logging.LogRecord], None] | None = None) -> Iterator[None]:
    """Collect what MkDocs logs; turn its exceptions into BuildFailed carrying those messages."""
    from mkdocs.exceptions import Abort, ConfigurationError, MkDocsException

    messages: list[str] = []
    with _capture_logs(messages, on_log):
        try:
            yield
        except (Abort, ConfigurationError, MkDocsException) as exc:
            raise BuildFailed(f"kb build: MkDocs stopped: {exc}", messages) from exc


def live_site(site: SiteConfig, site_dir: Path, *, livereload: bool = True) -> LiveSite:
    """The preview's site (drafts shown): built once, then updated edit by edit (see kb.site.live)."""
    return LiveSite(lambda folder: mkdocs_config(site, folder, drafts=True, livereload=livereload), site_dir)


def _umask() -> int:
    """The process's umask (read by setting it back at once), as `mkdocs build` applies it."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _capture_logs(messages: list[str], on_log: Callable[[logging.LogRecord], None] | None) -> Iterator[None]:
    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                messages.append(record.getMessage())
            if on_log is not None:
                on_log(record)

    handler = Collect(logging.INFO)
    logger = logging.getLogger("mkdocs")
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # MkDocs' own console handler would print everything again; keep it quiet while we collect.
    quieted = [(h, h.level) for h in logger.handlers if h is not handler]
    for h, _ in quieted:
        h.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        for h, level in quieted:
            h.setLevel(level)


def _golden_problems(site: SiteConfig, project: Project) -> list[Problem]:
    """Misses of the writers' golden queries against an index built from these articles."""
    golden = site.docs_dir / GOLDEN
    if not golden.is_file():
        return []
    synonyms_path = site.docs_dir / SYNONYMS
    synonyms = load_synonyms(synonyms_path) if synonyms_path.is_file() else None
    index = build_index([a for a in project.articles if not a.draft], synonyms, language=site.search_language)
    problems = check_golden(index, golden)
    for problem in problems:
        problem.path = _relative(Path(problem.path), site.project_dir)
    return problems


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
    index = write_site_index(project.articles, site.docs_dir, site.site_dir, separator_of(site.plugins),
                             language=site.search_language, highlight=site.search_highlight)
    compress_assets(site.site_dir, ("search",))  # its .gz follow the index, as the build left them
    return index, project.problems


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
