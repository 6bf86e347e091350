"""`kb new`, `kb check`, `kb build`, `kb serve`: the writer's commands."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable

import click
import yaml

from kb.articles import Project
from kb.site.unfinished import NEW_ARTICLE_BODY
from kb.cli.app import bench, fail, main, require_store, store_url_problem
from kb.cli.services import collector_services
from kb.cli.translations import new_in_language, print_translations
from kb.search.index import SearchError
from kb.site.build import (BuildFailed, SiteConfig, SiteError, build_site, check_site, read_site_config,
                           rebuild_search_index)
from kb.site.renderers import renderer_for
from kb.site.state import RENDERERS, LoadOnce
from kb.votes.store import redact_url

# What `kb new --id` accepts: a slug, optionally with folders (letters, digits, '-', '_', '/').
ID_SLUG = re.compile(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$")

renderer_option = click.option(
    "--renderer", type=click.Choice(RENDERERS), default=None,
    help="What renders the pages: mkdocs (MkDocs + Material) or zensical (default: the kb plugin's "
         "renderer: option, else mkdocs).",
)

config_option = click.option(
    "--config-file", "-f", type=click.Path(dir_okay=False, path_type=Path), default=Path("mkdocs.yml"),
    show_default=True, help="The site's MkDocs configuration.",
)


def load_site(config_file: Path) -> SiteConfig:
    """Read mkdocs.yml, or stop with its problem as the message."""
    try:
        return read_site_config(config_file)
    except SiteError as exc:
        fail(str(exc), 1)


CHECK_FORMATS = ("text", "github", "json")


def format_problems(project: Project, fmt: str, project_dir: Path) -> str:
    """The problems as GitHub workflow commands (`::error file=...,line=...::...`) or as JSON."""
    def path_of(problem) -> str:  # noqa: ANN001
        return _shown(project_dir / problem.path)

    if fmt == "json":
        import json

        return json.dumps({
            "problems": [{"path": path_of(p), "line": p.line, "severity": p.severity, "message": p.message,
                          "hint": p.hint} for p in project.problems],
            "errors": len(project.errors), "warnings": len(project.problems) - len(project.errors),
            "articles": len(project.articles),
        }, ensure_ascii=False, indent=1)
    lines = []
    for p in project.problems:
        where = f"file={_workflow_escape(path_of(p), True)}" + (f",line={p.line}" if p.line else "")
        text = p.message + (f"\nhint: {p.hint}" if p.hint else "")
        lines.append(f"::{p.severity} {where}::{_workflow_escape(text)}")
    errors = len(project.errors)
    lines.append(f"kb check: {_count(errors, 'error')}, {_count(len(project.problems) - errors, 'warning')} "
                 f"in {_count(len(project.articles), 'article')}")
    return "\n".join(lines)


def _workflow_escape(text: str, property_value: bool = False) -> str:
    """GitHub's escaping of workflow command data (and, for properties, also ':' and ',')."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def report_problems(project: Project, command: str) -> int:
    """Print every problem, then a one-line summary; return the number of errors."""
    for problem in project.problems:
        click.echo(problem.format(), err=True)
    errors = len(project.errors)
    warnings = len(project.problems) - errors
    summary = f"{command}: {_count(errors, 'error')}, {_count(warnings, 'warning')} in {_count(len(project.articles), 'article')}"
    click.echo(summary, err=True)
    return errors


@main.command()
@config_option
@click.option("--strict", is_flag=True, help="Also name front-matter keys the schema does not know.")
@click.option("--translations", is_flag=True,
              help="Also print, per language, how many articles are translated, outdated and missing.")
@click.option("--format", "fmt", type=click.Choice(CHECK_FORMATS), default="text", show_default=True,
              help="text (path:line: lines), github (workflow commands that annotate a pull request) or json.")
def check(config_file: Path, strict: bool, translations: bool, fmt: str) -> None:
    """Check every article (drafts too) and the golden queries; exit 1 on any error."""
    site = load_site(config_file)
    project = check_site(site, strict=strict)
    if translations:
        print_translations(site)
    if fmt == "text":
        errors = report_problems(project, "kb check")
    else:
        click.echo(format_problems(project, fmt, site.project_dir))
        errors = len(project.errors)
    if errors:
        raise SystemExit(1)


@main.command()
@config_option
@click.option("--site-dir", "-d", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to put the site (default: site_dir of mkdocs.yml, usually site/).")
@click.option("--strict", is_flag=True, help="Also fail on front-matter keys the schema does not know.")
@renderer_option
def build(config_file: Path, site_dir: Path | None, strict: bool, renderer: str | None = None) -> None:
    """Check, then build the static site aside and swap it in only when it is complete."""
    site = load_site(config_file)
    engine = renderer_for(renderer or site.renderer)
    load = LoadOnce()  # the build's prepare takes the articles checked here: read once
    project = check_site(site, strict=strict, golden=False, load=load)
    if project.errors:
        report_problems(project, "kb build")
        raise SystemExit(1)
    for problem in project.problems:
        click.echo(problem.format(), err=True)
    started = time.perf_counter()
    published = sum(not a.draft for a in project.articles)
    click.echo(f"kb build: building {_count(published, 'article')}"
               + (f" with {engine.name}" if engine.name != RENDERERS[0] else "") + "...", err=True)
    target = _build(site, engine, site_dir, strict=strict, load=load)
    seconds = time.perf_counter() - started
    click.echo(f"kb build: {_count(published, 'article')} -> {_shown(target)} in {seconds:.1f} s", err=True)


@main.command()
@click.argument("title", required=False)
@click.option("--category", "-c", default="", help="Category folder under the articles folder, e.g. shipping.")
@click.option("--id", "article_id", default=None, help="Article id (default: made from the title).")
@click.option("--translate", "translate_id", default=None, metavar="ID",
              help="Start a translation of the default language's article ID (TITLE is then its file name).")
@click.option("--language", default=None, help="The language of the new article (a code from `languages`).")
@config_option
def new(title: str | None, category: str, article_id: str | None, translate_id: str | None, language: str | None,
        config_file: Path) -> None:
    """Write a new article with its front matter, ready to fill in."""
    site = load_site(config_file)
    if article_id is not None and not ID_SLUG.match(article_id):
        fail(f"kb new: --id must be a slug of letters, digits, '-', '_' and '/', got {article_id!r}", 2)
    if translate_id is not None or language is not None or site.languages:
        new_in_language(site, title, category, article_id, translate_id, language,
                        new_article_text=new_article_text, slugify=slugify)
        return
    if title is None:
        fail("kb new: give the new article's TITLE (or --translate ID --language CODE)", 2)
    if article_id is not None and not ID_SLUG.match(article_id):
        fail(f"kb new: --id must be a slug of letters, digits, '-', '_' and '/', got {article_id!r}", 2)
    slug = article_id or slugify(title)
    if not slug:
        fail(f"kb new: cannot make a file name from {title!r}; pass --id", 2)
    if category and (category.startswith(("/", ".")) or ".." in category.split("/")):
        fail(f"kb new: --category must be a folder inside {_shown(site.docs_dir)}, got {category!r}", 2)
    folder = site.docs_dir / category
    path = folder / f"{slug.rsplit('/', 1)[-1]}.md"
    if path.exists():
        fail(f"{_shown(path)}: already exists; choose another title or --id", 1)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(new_article_text(slug, title, dt.date.today()), encoding="utf-8")
    click.echo(_shown(path))


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", "-p", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--db", default=None, help="Votes store for the preview (default: sqlite:///.kb/votes.db).")
@renderer_option
def serve(config_file: Path, host: str, port: int, db: str | None, renderer: str | None = None) -> None:
    """Build with drafts and serve the site and the vote collector on one local origin, updating on edits."""
    from kb.site.preview.cache import ArticleCache
    from kb.site.preview.live import LiveSite
    from kb.site.preview.server import port_problem, serve_preview

    site = load_site(config_file)
    engine = renderer_for(renderer or site.renderer)
    db_url = db or f"sqlite:///{(site.project_dir / '.kb' / 'votes.db').as_posix()}"
    store_problem = store_url_problem(db_url)
    if store_problem:
        fail(f"kb serve: --db {redact_url(db_url)}: {store_problem}", 2)
    require_store(db_url)
    store_problem = _store_problem(db_url)  # before the build: a store it cannot write is one line, at once
    if store_problem:
        fail(f"kb serve: --db {redact_url(db_url)}: {store_problem}", 1)
    problem = port_problem(host, port)
    if problem:
        fail(f"kb serve: {problem}", 2)
    try:
        load = LoadOnce(ArticleCache())  # the check's reading serves the first build and the edits after it
        project = check_site(site, golden=False, load=load)
        if project.errors:  # the preview starts all the same, with the errors shown in its pages
            report_problems(project, "kb serve")
        live = LiveSite(site, engine, site.project_dir / ".kb" / "preview")
        _build(site, engine, None, run=lambda: live.build(load))
        serve_preview(site, live, host=host, port=port, db_url=db_url,
                      echo=lambda message: click.echo(message, err=True), collector_options=collector_services(),
                      problems=project.errors)
    except KeyboardInterrupt:
        raise SystemExit(0) from None


@bench.command("build")
@click.option("--articles", "-n", "counts", type=click.IntRange(1), multiple=True, default=(1000, 10000),
              show_default=True, help="Help-center sizes to build (repeatable).")
@click.option("--corpus", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("../shared/corpora/alchemy-pl/articles"), show_default=True,
              help="Folder of real Markdown articles to make the help centers from.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the generated help centers (default: a temporary folder, removed after).")
@click.option("--timeout", type=click.FloatRange(1), default=3600, show_default=True,
              help="Seconds after which one build is stopped and reported as failed.")
@click.option("--no-semantic", "no_semantic", is_flag=True,
              help="Build no vectors (as with semantic: false): time the site without the semantic layer.")
def bench_build_command(counts: tuple[int, ...], corpus: Path, work_dir: Path | None, timeout: float,
                        no_semantic: bool) -> None:
    """Time kb build (MkDocs + Material, and Zensical) beside a plain Material mkdocs build on the same articles:
    wall time, peak memory, ratio."""
    import shutil
    import tempfile

    from kb.bench.build import bench_build

    work = work_dir or Path(tempfile.mkdtemp(prefix="kb-bench-build-"))
    try:
        runs = bench_build(corpus, list(counts), work, lambda message: click.echo(message, err=True), timeout,
                           not no_semantic)
    finally:
        if work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    click.echo(f"{'articles':>8}  {'tool':<24} {'wall s':>8} {'peak MB':>8} {'time x':>7} {'mem x':>6}")
    for count in counts:
        pair = [r for r in runs if r.articles == count]
        plain = next(r for r in pair if r.tool.startswith("mkdocs"))
        for run in pair:
            ratio_t = run.seconds / plain.seconds if plain.seconds else 0
            ratio_m = run.peak_mb / plain.peak_mb if plain.peak_mb else 0
            status = "" if run.ok else "  FAILED: " + run.error.splitlines()[-1] if run.error else "  FAILED"
            click.echo(f"{count:>8}  {run.tool:<24} {run.seconds:>8.1f} {run.peak_mb:>8.0f} "
                       f"{ratio_t:>7.2f} {ratio_m:>6.2f}{status}")
    if not all(r.ok for r in runs):
        raise SystemExit(1)


@bench.command("serve")
@click.option("--articles", "-n", "counts", type=click.IntRange(1), multiple=True, default=(3000, 10000),
              show_default=True, help="Help-center sizes to preview (repeatable).")
@click.option("--corpus", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("../shared/corpora/alchemy-pl/articles"), show_default=True,
              help="Folder of real Markdown articles to make the help centers from.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to keep the generated help centers (default: a temporary folder, removed after).")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the figures here as JSON.")
@click.option("--timeout", type=click.FloatRange(1), default=600, show_default=True,
              help="Seconds a server may take to start or an edit to show; past it, mkdocs serve is left out.")
@click.option("--repeat", type=click.IntRange(1), default=3, show_default=True,
              help="Rounds of the five edits per size and server.")
@click.option("--no-semantic", "no_semantic", is_flag=True,
              help="Build no vectors (as with semantic: false): time the site without the semantic layer.")
def bench_serve_command(counts: tuple[int, ...], corpus: Path, work_dir: Path | None, json_file: Path | None,
                        timeout: float, repeat: int, no_semantic: bool) -> None:
    """Time edit-to-reload under kb serve (MkDocs, and Zensical) beside mkdocs serve (Material): body, title, new,
    deleted, broken."""
    import json
    import shutil
    import tempfile

    from kb.bench.serve import BenchFailed, bench_serve

    work = work_dir or Path(tempfile.mkdtemp(prefix="kb-bench-serve-"))
    try:
        figures = bench_serve(corpus, list(counts), work, lambda message: click.echo(message, err=True), timeout,
                              repeat, not no_semantic)
    except BenchFailed as exc:
        fail(f"kb bench serve: {exc}", 1)
    finally:
        if work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    click.echo(f"{'articles':>8}  {'server':<22} {'p50 s':>7} {'max s':>7}  per kind (worst s)")
    for count, tools in figures["sizes"].items():
        for tool, label in (("kb", "kb serve"), ("zensical", "kb serve (Zensical)"),
                            ("mkdocs", "mkdocs serve (Material)")):
            result = tools.get(tool)
            if result is None:
                click.echo(f"{count:>8}  {label:<22} {'-':>7} {'-':>7}  did not finish within --timeout")
                continue
            kinds = {}
            for edit in result["edits"]:
                kinds[edit["kind"]] = max(kinds.get(edit["kind"], 0), edit["seconds"])
            click.echo(f"{count:>8}  {label:<22} {result['p50_s']:>7.2f} {result['max_s']:>7.2f}  "
                       + ", ".join(f"{k} {v:.2f}" for k, v in kinds.items()))
    if json_file is not None:
        json_file.write_text(json.dumps(figures, indent=1), encoding="utf-8")


_NEW_ARTICLE_COMMENTS = {
    "questions": "how customers ask it, in their own words: [first, second]",
    "draft": "remove when it is ready to publish",
}


def new_article_text(article_id: str, title: str, today: dt.date, body: str = NEW_ARTICLE_BODY) -> str:
    """A new article's text: front matter written by yaml.safe_dump (any title stays valid YAML),
    then `body` (the placeholder in the article's language)."""
    fields = {"id": article_id, "title": title, "questions": [], "tags": [], "owner": "@support",
              "reviewed": today, "review_every": "180d", "draft": True}
    lines = []
    for key, value in fields.items():
        line = yaml.safe_dump({key: value}, allow_unicode=True, default_flow_style=False, width=1 << 16,
                              sort_keys=False).rstrip("\n")
        comment = _NEW_ARTICLE_COMMENTS.get(key)
        lines.append(f"{line:<21} # {comment}" if comment else line)
    return "---\n" + "\n".join(lines) + "\n---\n\n" + body


def build_search_main(argv: list[str]) -> int:
    """`python build_search.py [mkdocs.yml]`: rebuild the index of an already built site."""
    try:
        site = read_site_config(Path(argv[0] if argv else "mkdocs.yml"))
    except SiteError as exc:
        click.echo(str(exc), err=True)
        return 2
    try:
        index, problems = rebuild_search_index(site)
    except SiteError as exc:
        click.echo(str(exc), err=True)
        return 1
    except SearchError as exc:
        click.echo(f"build_search: {exc}", err=True)
        return 1
    for problem in problems:
        click.echo(problem.format(), err=True)
    click.echo(f"search index: {len(index['docs'])} articles, {len(index['terms'])} terms -> "
               f"{site.site_dir / 'search' / 'search_index.json'}", err=True)
    return 0


def slugify(title: str) -> str:
    """A file-name-safe id from a title: ASCII, lower case, words joined by '-'."""
    text = unicodedata.normalize("NFKD", title.replace("ł", "l").replace("Ł", "L"))
    text = text.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")


def _build(site: SiteConfig, renderer, site_dir: Path | None, run: Callable[[], object] | None = None,  # noqa: ANN001
           **options: Any) -> Path:
    """Build with `renderer` (with `run`, that build instead), printing kb's progress; stop with its problems."""
    bar = ProgressBar()

    def progress(record: logging.LogRecord) -> None:
        if record.name in PROGRESS_LOGGERS and record.levelno == logging.INFO:
            counts = getattr(record, "kb_progress", None)
            if counts is not None:
                bar.show(record.getMessage(), *counts)
            else:
                bar.clear()
                click.echo(record.getMessage(), err=True)

    try:
        with renderer.errors(progress):
            if run is not None:
                run()
                return site_dir or site.site_dir
            return build_site(site, renderer, site_dir, **options)
    except BuildFailed as exc:
        for message in exc.messages:
            click.echo(message, err=True)
        fail(str(exc), 1)
    except SiteError as exc:
        fail(str(exc), 1)


class ProgressBar:
    """Long work's progress on standard error: a bar redrawn in place on a terminal, else the lines."""

    WIDTH = 30

    def __init__(self) -> None:
        self.drawn = False
        self.terminal = sys.stderr.isatty()

    def show(self, message: str, done: int, total: int) -> None:
        """Draw `done` of `total` (a terminal), or print `message` (a log or a pipe)."""
        if not self.terminal:
            click.echo(message, err=True)
            return
        filled = self.WIDTH * done // max(total, 1)
        label = message.removeprefix("kb: ").split(":", 1)[0]
        rest = message.rsplit(", ", 1)[-1] if ", about" in message else ""
        click.echo(f"\r{label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} {rest}\033[K",
                   err=True, nl=False)
        self.drawn = done < total
        if not self.drawn:
            click.echo("", err=True)

    def clear(self) -> None:
        """End a bar still drawn before printing a line."""
        if self.drawn:
            click.echo("", err=True)
            self.drawn = False


def _store_problem(db_url: str) -> str | None:
    """Why the preview's votes store cannot be opened and written, or None (it is created if need be)."""
    from kb.votes.store import open_store

    try:
        if db_url.startswith("sqlite:///"):
            Path(db_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        store = open_store(db_url)
        try:
            store.migrate()
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - sqlite3, psycopg and OS errors alike: said in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot open the votes store: {first}"
    return None


#: The loggers whose INFO lines are kb's progress: the MkDocs plugin's, and kb's own site build's.
PROGRESS_LOGGERS = ("mkdocs.plugins.kb", "kb.site")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(path)
