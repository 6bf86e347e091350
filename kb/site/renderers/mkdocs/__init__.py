"""The MkDocs + Material renderer: the kb plugin (kb.site.plugin) inside MkDocs' own build.

Everything that knows MkDocs lives here and in the plugin: loading mkdocs.yml as MkDocs does,
turning what MkDocs logs and raises into kb's errors, the page-by-page build (`pagewise`), the
other languages' builds, and the preview's edits (`edit`). A plain `mkdocs build` runs the same
plugin, so it builds the same site as `kb build`.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Callable, Iterator

from kb.articles import Project
from kb.site.build import BuildFailed, SiteConfig, SiteError
from kb.site.renderers.mkdocs import edit, pagewise
from kb.site.renderers.mkdocs.pagewise import MkDocsBuild, run_build
from kb.site.state import BuildState, Change

LOG = "mkdocs.plugins.kb"  # the plugin's logger: MkDocs shows it, kb's commands print its progress


class MkDocsRenderer:
    """MkDocs + Material, with the kb plugin: the default renderer."""

    name = "mkdocs"

    def build(self, site: SiteConfig, site_dir: Path, *, drafts: bool = False, strict: bool = False,
              livereload: bool = False, load: Callable[..., Project] | None = None) -> list[MkDocsBuild]:
        """Build every language into `site_dir` (the default language's build builds the others, then
        finishes); returns each language's build, the default first."""
        config = mkdocs_config(site, site_dir, drafts=drafts, strict=strict, livereload=livereload)
        if load is not None:
            config.plugins["kb"].read_articles_with(load)
        with mkdocs_errors():
            built = run_build(config)
        return [built, *config.plugins["kb"].language_builds]

    @contextlib.contextmanager
    def errors(self, on_log: Callable[[logging.LogRecord], None] | None = None) -> Iterator[None]:
        """What MkDocs logs goes to `on_log`; what it raises becomes BuildFailed with its warnings and errors."""
        with mkdocs_errors(on_log):
            yield

    def apply(self, built: MkDocsBuild, new: Any) -> Change:
        """The preview's edit of one language: its pages re-rendered (kb.site.renderers.mkdocs.edit)."""
        return edit.apply_edit(built, new)

    def rerender(self, built: MkDocsBuild, ids: set[str]) -> int:
        """Render the pages of the articles with `ids` again; returns how many."""
        return edit.render_articles(built, ids)

    def write_sitemap(self, built: MkDocsBuild) -> None:
        """Write the language's sitemap again (pages came or went)."""
        pagewise.write_sitemap(built)

    def moved(self, built: MkDocsBuild, folder: Path) -> None:
        """The build was swapped into `folder`: MkDocs' files and kb's state write there from now on."""
        built.config["site_dir"] = str(folder)
        for file in built.files:
            file.dest_dir = str(folder)
            file.__dict__.pop("abs_dest_path", None)  # a cached property: worked out again from dest_dir
        built.state.relocate(folder)


def mkdocs_config(site: SiteConfig, site_dir: Path | str, *, drafts: bool = False, strict: bool = False,
                  livereload: bool = False) -> Any:
    """MkDocs' configuration of the site, building into `site_dir`, with the kb plugin's options set."""
    from mkdocs.config import load_config

    with mkdocs_errors():
        config = load_config(config_file=str(site.config_file), site_dir=str(site_dir))
    if "kb" not in config.plugins:
        raise SiteError(f"{site.config_file}: the kb plugin is not enabled; add  - kb  under plugins:")
    options = config.plugins["kb"].config
    options["drafts"] = drafts or options["drafts"]
    options["strict"] = strict or options["strict"]
    options["livereload"] = livereload
    return config


def build_languages(parent: Any, state: BuildState, options: dict[str, Any], log: Any,
                    load: Callable[..., Project] | None = None) -> list[MkDocsBuild]:
    """Build each non-default language into `<site_dir>/<code>/` with a config derived from `parent`.

    `parent` is the default language's MkDocs config, `state` its kb state; `options` the kb
    plugin's options to carry over (drafts, livereload...); `load` how its prepare read the articles.
    """
    from mkdocs.config import load_config

    assert state.langs is not None
    builds = []
    root = Path(parent.config_file_path).parent
    for language in state.langs.languages[1:]:
        site_dir = Path(parent.site_dir) / language.code
        config = load_config(config_file=parent.config_file_path, site_dir=str(site_dir),
                             docs_dir=str(state.langs.docs_root), use_directory_urls=parent.use_directory_urls)
        plugin = config.plugins["kb"]
        for key, value in options.items():
            if key in plugin.config and key != "languages":
                plugin.config[key] = value
        plugin.build_language(language.code)
        if load is not None:
            plugin.read_articles_with(load)
        log.info(f"kb: building {language.name} ({language.code}) into {_shown(site_dir, root)}")
        builds.append(run_build(config))
    return builds


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


class _Collect(logging.Handler):
    """Keeps MkDocs' warnings and errors, and hands every record to `on_log`."""

    def __init__(self, messages: list[str], on_log: Callable[[logging.LogRecord], None] | None) -> None:
        super().__init__(logging.INFO)
        self.messages, self.on_log = messages, on_log

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage())
        if self.on_log is not None:
            self.on_log(record)


@contextlib.contextmanager
def _capture_logs(messages: list[str], on_log: Callable[[logging.LogRecord], None] | None) -> Iterator[None]:
    handler = _Collect(messages, on_log)
    logger = logging.getLogger("mkdocs")
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # MkDocs' own console handler would print everything again; keep it quiet while we collect
    # (another collection around this one keeps listening).
    quieted = [(h, h.level) for h in logger.handlers if not isinstance(h, _Collect)]
    for h, _ in quieted:
        h.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        for h, level in quieted:
            h.setLevel(level)


def _shown(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)
