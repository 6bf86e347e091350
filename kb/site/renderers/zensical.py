"""The Zensical renderer: kb's work before and after Zensical, which runs no MkDocs plugins.

Per language: *prepare* (kb.site.state) as for MkDocs, then a staging project Zensical builds
(`.kb/zensical/<language>/` beside mkdocs.yml, the preview's in `.kb/zensical-preview/`, kept
between builds so that Zensical's cache serves the next one): `docs/` holds every published article with kb's front matter and its extras (the
breadcrumbs above, related articles and the contact block below) as raw HTML, the pages kb
generates (home, categories), the writers' images and kb's scripts; `theme/` holds kb's theme
layer (kb.site.theme) and the site's own `custom_dir`, merged into the one folder Zensical reads;
`mkdocs.yml` is the site's configuration with what the kb plugin would have changed (the
language's name, URL and interface, kb's `extra` values, the navigation, no `hooks`). Zensical
builds it in its own process; its pages go to the language's folder (the default language at the
site's root, each other at `<code>/`), and kb's *finish* (kb.site.build) follows for every
language at once. Zensical's own search index is removed: kb's engine answers the header's box.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml
import zensical

from kb.articles import RESERVED_FILES, Article, Project, first_h1, load_project
from kb.search.index import SearchError
from kb.site import pages, theme
from kb.site.build import BuildFailed, SiteConfig, SiteError, finish
from kb.site.state import BuildState, Change, PrepareError, prepare

log = logging.getLogger("kb.site")
#: kb's Zensical-only templates: the header's search dialog, answered by kb's engine (kb/assets/search/dialog.js).
ZENSICAL_OVERRIDES = theme.ASSETS / "zensical"
#: Zensical's own search index, written beside the pages; kb's replaces it (search/search_index.json).
ZENSICAL_INDEX = ("search.json", "search.js")


@dataclass
class ZensicalBuild:
    """One language's Zensical build: kb's state, the staging project, and the folder it went to."""

    state: BuildState
    project: Path  # the staging project: mkdocs.yml, docs/, theme/, site/
    config: dict[str, Any]
    site_dir: Path
    outputs: set[str] = field(default_factory=set)  # the files Zensical wrote, relative to site_dir

    @property
    def config_file(self) -> Path:
        return self.project / "mkdocs.yml"


class ZensicalRenderer:
    """Zensical (the makers of Material's successor): `renderer: zensical` or `kb build --renderer zensical`."""

    name = "zensical"

    def build(self, site: SiteConfig, site_dir: Path, *, drafts: bool = False, strict: bool = False,
              livereload: bool = False, load: Callable[..., Project] | None = None) -> list[ZensicalBuild]:
        """Build every language into `site_dir` (prepare, Zensical, finish); the default language first."""
        options = site.options
        options = dataclasses.replace(options, drafts=drafts or options.drafts, strict=strict or options.strict,
                                      livereload=livereload)
        configured = read_config(site.config_file)
        codes = [language.code for language in site.languages] or [""]
        builds = []
        for i, code in enumerate(codes):
            folder = Path(site_dir) / code if i else Path(site_dir)
            try:
                state = prepare(site.settings(folder), options, building=code if i else None, log=log,
                                load=load or load_project)
            except PrepareError as exc:
                raise BuildFailed(f"kb build: {exc}", [str(exc)]) from exc
            staging = site.project_dir / ".kb" / ("zensical-preview" if livereload else "zensical") / (code or "site")
            built = ZensicalBuild(state, staging, configured, folder)
            if i:
                log.info(f"kb: building {state.langs.language.name} ({code}) into {_shown(folder, site.project_dir)}")
            render(built, move=True)
            builds.append(built)
        try:
            finish([b.state for b in builds], log=log)
        except SearchError as exc:
            raise BuildFailed(f"kb build: search index: {exc}", [str(exc)]) from exc
        return builds

    @contextlib.contextmanager
    def errors(self, on_log: Callable[[logging.LogRecord], None] | None = None) -> Iterator[None]:
        """kb's log lines go to `on_log` while the build runs."""
        handler = _Forward(on_log)
        log.addHandler(handler)
        previous = log.level
        log.setLevel(logging.INFO)
        try:
            yield
        finally:
            log.removeHandler(handler)
            log.setLevel(previous)

    def apply(self, built: ZensicalBuild, new: Any) -> Change:
        """The preview's edit of one language: Zensical builds the language again (its cache keeps
        unchanged pages), and what changed is copied into the served folder."""
        edit = built.state.edit(new)
        render(built, move=False)
        return dataclasses.replace(edit.change, rendered=len(edit.again) + len(edit.generated))

    def rerender(self, built: ZensicalBuild, ids: set[str]) -> int:
        """Render the pages of the articles with `ids` again (the whole language, as Zensical builds it)."""
        if not ids:
            return 0
        render(built, move=False)
        return len([i for i in ids if i in built.state.articles])

    def write_sitemap(self, built: ZensicalBuild) -> None:
        """Zensical wrote the language's sitemap with its pages: nothing more to do."""

    def moved(self, built: ZensicalBuild, folder: Path) -> None:
        """The build was swapped into `folder`: the next builds write there."""
        built.site_dir = Path(folder)
        built.state.relocate(folder)


class _Forward(logging.Handler):
    def __init__(self, on_log: Callable[[logging.LogRecord], None] | None) -> None:
        super().__init__(logging.INFO)
        self.on_log = on_log

    def emit(self, record: logging.LogRecord) -> None:
        if self.on_log is not None:
            self.on_log(record)


# -- the staging project ------------------------------------------------------------------------

def render(built: ZensicalBuild, *, move: bool) -> None:
    """Stage the language's project, let Zensical build it, and put its pages into the language's folder."""
    state = built.state
    project = built.project
    docs, output = project / "docs", project / "site"
    for folder in (docs, project / "theme", output):
        shutil.rmtree(folder, ignore_errors=True)
    docs.mkdir(parents=True)
    stage_theme(project / "theme", built.config, state.settings.project_dir)
    stage_docs(state, docs)
    config = zensical_config(state, built.config)
    built.config_file.write_text(_dump(config), encoding="utf-8")
    started = time.perf_counter()
    run_zensical(built.config_file)
    log.info(f"kb: Zensical rendered {len(state.by_src)} articles"
             + (f" ({state.search_language})" if state.langs else "") + f" in {time.perf_counter() - started:.1f} s")
    for name in ZENSICAL_INDEX:
        (output / name).unlink(missing_ok=True)
    if state.building and not state.settings.site_url:
        error_page_in_language(output / "404.html", state.building)
    sitemap = output / "sitemap.xml"
    if sitemap.is_file():  # beside it, compressed, as MkDocs writes it
        (output / "sitemap.xml.gz").write_bytes(gzip.compress(sitemap.read_bytes(), mtime=0))
    built.outputs = deliver(output, built.site_dir, built.outputs, move=move)


def stage_docs(state: BuildState, docs: Path) -> None:
    """The language's pages as Zensical reads them: articles with kb's extras, kb's pages, the rest as is."""
    source = Path(state.settings.docs_dir)
    articles = {a.rel_path: a for a in state.project.articles}
    for folder, dirs, files in os.walk(source):
        rel_folder = Path(folder).relative_to(source)
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        for name in files:
            rel = (rel_folder / name).as_posix()
            if name.startswith((".", "_")) or name in RESERVED_FILES:
                continue
            if name.endswith(".md") and rel not in articles and name != "index.md":
                continue  # a draft left out of this build
            target = docs / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel in articles:
                target.write_text(article_markdown(state, articles[rel]), encoding="utf-8")
            else:
                _link(Path(folder) / name, target)
    existing = {p.relative_to(docs).as_posix() for p in docs.rglob("*.md")}
    for src in state.generated_pages(existing):
        target = docs / src
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(state.generated_markdown(src), encoding="utf-8")
    for url, content in theme.site_files(renderer="zensical").items():
        target = docs / url
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            _link(content, target)
        else:
            target.write_text(content, encoding="utf-8")


def article_markdown(state: BuildState, article: Article) -> str:
    """An article as Zensical reads it: its front matter with kb's keys, its extras around its body."""
    text = article.path.read_text(encoding="utf-8")
    front = ""
    if text.startswith("---\n"):
        lines = text.split("\n")
        end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
        if end is not None:
            front = "\n".join(lines[1:end])
    meta = dict(state.page_meta(article))
    if "title" not in article.meta_lines:
        meta["title"] = article.title
    front += "".join(f"\n{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in meta.items())
    # Zensical resolves every relative link of a page, its raw HTML's too, from the page's source
    # file, as it does Markdown links: kb's links are made relative to that file's folder.
    top, bottom = state.article_extras(article, article.rel_path, with_title=first_h1(article.body) is None)
    return f"---\n{front.strip(chr(10))}\n---\n\n{top}\n\n{article.body}\n\n{bottom}\n"


def stage_theme(folder: Path, configured: dict[str, Any], project_dir: Path) -> None:
    """kb's theme layer and the site's own `custom_dir`, merged into one folder (the highest wins)."""
    ahead, behind = theme.template_dirs()
    own = (configured.get("theme") or {}).get("custom_dir") if isinstance(configured.get("theme"), dict) else None
    layers = [*behind, *reversed(ahead), ZENSICAL_OVERRIDES, *([project_dir / own] if own else [])]
    for layer in layers:
        for path in Path(layer).rglob("*"):
            if path.is_file():
                target = folder / path.relative_to(layer)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.unlink(missing_ok=True)
                _link(path, target)


def zensical_config(state: BuildState, configured: dict[str, Any]) -> dict[str, Any]:
    """The site's configuration for one language's Zensical build: what the kb plugin would change, changed."""
    settings = state.settings
    config = {k: v for k, v in configured.items() if k not in ("hooks", "nav")}
    config.update(docs_dir="docs", site_dir="site", site_name=settings.site_name)
    for key, value in (("site_url", settings.site_url), ("site_description", settings.site_description)):
        if value:
            config[key] = value
        else:
            config.pop(key, None)
    theme_config = configured.get("theme")
    theme_config = dict(theme_config) if isinstance(theme_config, dict) else {"name": theme_config or "material"}
    theme_config.update(custom_dir="theme", language=settings.theme_language,
                        features=[f for f in theme_config.get("features") or [] if f != "search.highlight"])
    config["theme"] = theme_config
    # The header shows its search box only with a search plugin; kb's engine answers it (finish writes the index).
    config["plugins"] = ["search"]
    config["markdown_extensions"] = localized_extensions(state, configured.get("markdown_extensions") or [])
    config["extra"] = theme.theme_extra(state, configured.get("extra") or {}, renderer="zensical")
    config["extra_css"] = [*(configured.get("extra_css") or []), *theme.page_styles(renderer="zensical")]
    config["extra_javascript"] = [*(configured.get("extra_javascript") or []),
                                  *theme.page_scripts(state, renderer="zensical")]
    config["nav"] = navigation(state)
    return config


def localized_extensions(state: BuildState, extensions: list) -> list:
    """The Markdown extensions, the heading anchors' title in the language built (as the plugin does)."""
    if not state.langs:
        return list(extensions)
    language = state.langs.language
    found = []
    for entry in extensions:
        name, options = (entry, {}) if isinstance(entry, str) else next(iter(dict(entry).items()))
        if name == "toc":
            options = dict(options or {})
            if not language.default or "permalink_title" not in options:
                options["permalink_title"] = language.texts["permalink"]
            entry = {"toc": options}
        found.append(entry)
    return found


def navigation(state: BuildState) -> list:
    """Home, then one entry per top-level category holding articles (articles are reached from their category)."""
    groups = pages.articles_by_category(state.project.articles)
    nav: list[Any] = [{state.settings.site_name: "index.md"}]
    for category in pages.sorted_categories(state.project.categories):
        if "/" not in category.id and pages.in_tree(groups, category.id):
            nav.append({category.title: f"{category.id}/index.md"})
    return nav


def run_zensical(config_file: Path) -> None:
    """Zensical's build of the staging project, in its own process; BuildFailed with what it said.

    (kb's `strict` is about the articles' front matter, which prepare has checked; Zensical's own
    strict mode, which stops on its warnings, is not what it asks for.)
    """
    command = [sys.executable, "-m", "zensical", "build", "--config-file", str(config_file)]
    env = dict(os.environ, NO_COLOR="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=config_file.parent, check=False)
    said = _plain(done.stdout + done.stderr)
    warnings = [block for block in re.split(r"\n(?=\S)", said) if block.lower().startswith(("warning", "error"))]
    for warning in warnings:
        log.warning("zensical: " + " ".join(warning.split()))
    if done.returncode != 0:
        raise BuildFailed(f"kb build: Zensical {zensical.version()} stopped (exit {done.returncode})",
                          [line for line in said.splitlines() if line.strip()][-20:])


def error_page_in_language(path: Path, code: str) -> None:
    """A language's 404 page links from its own site's root, `/<code>/`, not the server's.

    It is served for any missing address under `/<code>/`, so its links are absolute; Zensical
    makes them from the site's root (as MkDocs does without site_url, where the plugin moves them).
    """
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r'((?:href|src)="|"base":"|new URL\(")/(?!/)', rf"\g<1>/{code}/", text), encoding="utf-8")


def deliver(output: Path, site_dir: Path, before: set[str], *, move: bool) -> set[str]:
    """Put Zensical's pages into the language's folder: moved (a full build), else only what changed is
    copied and what it no longer writes is removed (the preview); returns the files written."""
    written: set[str] = set()
    site_dir.mkdir(parents=True, exist_ok=True)
    for path in output.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(output).as_posix()
        written.add(rel)
        target = site_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if move:
            os.replace(path, target)
        elif not target.is_file() or target.read_bytes() != path.read_bytes():
            shutil.copyfile(path, target.with_name(target.name + ".kb-new"))
            os.replace(target.with_name(target.name + ".kb-new"), target)
    for rel in before - written:
        (site_dir / rel).unlink(missing_ok=True)
    return written


def read_config(config_file: Path) -> dict[str, Any]:
    """The site's mkdocs.yml as data, its `!!python/name:` and `!ENV` tags kept to be written back,
    and the file it names in `INHERIT` under it (as MkDocs merges them: mappings key by key)."""
    try:
        data = yaml.load(Path(config_file).read_text(encoding="utf-8"), Loader=_KeepTags) or {}
    except yaml.YAMLError as exc:
        raise SiteError(f"{config_file}: not valid YAML: {exc}") from exc
    data = data if isinstance(data, dict) else {}
    parent = data.pop("INHERIT", None)
    if isinstance(parent, str):
        data = _merged(read_config(Path(config_file).parent / parent), data)
    return data


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merged(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


@dataclass(frozen=True)
class _Tagged:
    tag: str
    value: Any


class _KeepTags(yaml.SafeLoader):
    """Reads mkdocs.yml keeping the tags Zensical resolves itself (`!!python/name:`, `!ENV`)."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node, prefix: str) -> _Tagged:
    value = loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else node.value
    return _Tagged(prefix + suffix, value)


_KeepTags.add_multi_constructor("tag:yaml.org,2002:python/", lambda l, s, n: _tagged(l, s, n, "tag:yaml.org,2002:python/"))
_KeepTags.add_multi_constructor("!", lambda l, s, n: _tagged(l, s, n, "!"))


class _Dumper(yaml.SafeDumper):
    pass


def _represent_tagged(dumper: yaml.SafeDumper, data: _Tagged) -> yaml.Node:
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    return dumper.represent_scalar(data.tag, str(data.value))


_Dumper.add_representer(_Tagged, _represent_tagged)


def _dump(config: dict[str, Any]) -> str:
    return yaml.dump(config, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1 << 16)


def _link(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` where the file system allows, else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _plain(text: str) -> str:
    """Zensical's output without terminal colours."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _shown(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)
