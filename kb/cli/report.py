"""`kb report`, `kb votes simulate` and `kb bench report`: the support lead's commands."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from kb.cli.app import KbError, bench, main, require_store
from kb.manifest import NAME as MANIFEST_NAME
from kb.manifest import ManifestError, load_manifest
from kb.report.formats import FORMATS, render
from kb.report.languages import check_language, language_codes, language_manifest, site_report
from kb.report.review import ReportError, flagged, parse_since
from kb.channels.answers import SiteCache
from kb.cli.services import ReportSites
from kb.search.embeddings import CACHE_FILE, EmbeddingCache, EmbeddingError, cache_dir
from kb.search.meanings import QueryVectors
from kb.votes.simulate import SIM_PREFIX, simulate_history
from kb.votes.store import StoreError, open_store, redact_url

FAIL_ON = ("weak", "overdue", "gaps", "any")


def _now() -> datetime:
    """The report's clock (UTC)."""
    return datetime.now(timezone.utc)


def _open(db_url: str, *, must_exist: bool = True):
    """Open the votes store, or stop with a one-line error naming the URL."""
    if must_exist and not db_url.startswith(("postgresql://", "postgres://")):
        if db_url.startswith("sqlite:///"):
            path = db_url[len("sqlite:///"):]
        elif "://" in db_url:
            raise KbError(f"--db: unsupported store URL {db_url!r}: expected sqlite:///PATH or postgresql://...")
        else:
            path = db_url
        if not path or not Path(path).is_file():
            raise KbError(f"{path or redact_url(db_url)}: no such votes database (start the collector with kb votes serve, "
                          "or run kb votes simulate)")
    require_store(db_url)
    try:
        return open_store(db_url)
    except StoreError as exc:
        raise KbError(f"--db: {exc}") from None
    except Exception as exc:  # psycopg's pool raises its own errors on a bad URL or a down server
        raise KbError(f"--db: cannot open {redact_url(db_url)!r}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _database_error(exc: BaseException, db_url: str) -> KbError:
    return KbError(f"{redact_url(db_url)}: cannot read votes: {_first_line(exc)}")


@main.command("report")
@click.option("--db", "db_url", required=True, metavar="URL",
              help="The votes store: sqlite:///PATH or postgresql://...")
@click.option("--site", "site_dir", default=Path("site"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help=f"The built site (its {MANIFEST_NAME} names the articles, versions and review dates).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text (a table for the terminal), json, csv (one row per article), markdown or html.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@click.option("--since", default=None, metavar="DATE|DURATION",
              help="Only votes, searches and contacts from this UTC date (2026-09-01) or the last 30d, 4w, 6m or 1y.")
@click.option("--category", default=None, help="Only articles in this category (and its sub-folders).")
@click.option("--owner", default=None, help="Only articles this owner reviews (@ optional).")
@click.option("--target", type=click.FloatRange(0, 1, min_open=True), default=0.6, show_default=True,
              help="Helpful rate an article must be able to reach: weak when the 95% interval's upper bound is below it.")
@click.option("--fail-on", "fail_on", type=click.Choice(FAIL_ON), multiple=True,
              help="Exit 1 when anything of this kind is found (repeatable; any = weak, overdue, unrated or gaps).")
@click.option("--language", default=None, metavar="CODE",
              help="Only this language's articles, votes, searches and contacts (a site with languages).")
@click.option("--color/--no-color", default=None,
              help="Colour the text table (default: when writing to a terminal and NO_COLOR is unset).")
def report_command(db_url: str, site_dir: Path, fmt: str, output: Path | None, since: str | None,
                   category: str | None, owner: str | None, target: float, fail_on: tuple[str, ...],
                   color: bool | None, language: str | None) -> None:
    """Which articles fail customers, why, and what they searched for and did not find."""
    now = _now()
    try:
        since_at = parse_since(since, now) if since else None
    except ReportError as exc:
        raise click.BadParameter(str(exc).removeprefix("--since: "), param_hint="--since") from None
    try:
        manifest = load_manifest(site_dir)
    except ManifestError as exc:
        raise KbError(str(exc)) from None
    try:
        check_language(manifest, language)
    except ReportError as exc:
        raise click.BadParameter(str(exc), param_hint="--language") from None
    store = _open(db_url)
    cache = _embeddings_cache()
    sites = ReportSites(site_dir, QueryVectors(cache), SiteCache(background=False))
    try:
        report = site_report(store, manifest, language, since=since_at, category=category, owner=owner,
                             target=target, now=now, rank_of=sites.rank_of, meaning_of=sites.meaning_of)
    except (ReportError, ManifestError) as exc:
        raise KbError(str(exc)) from None
    except (sqlite3.Error, StoreError) as exc:
        raise _database_error(exc, db_url) from None
    except Exception as exc:
        if type(exc).__module__.startswith("psycopg"):
            raise _database_error(exc, db_url) from None
        raise
    finally:
        store.close()
        if cache is not None:
            cache.close()
    if color is None:
        color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    text = render(report, fmt, color=bool(color) and fmt == "text")
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            raise KbError(f"{output}: cannot write: {exc.strerror}") from None
        t = report["totals"]
        click.echo(f"kb report: wrote {output} ({t['articles']} articles, {t['weak']} weak, "
                   f"{t['overdue']} overdue, {t['unrated']} unrated, {t['gaps']} content gaps)", err=True)
    else:
        click.echo(text, nl=False)
    hits = [kind for kind in fail_on if flagged(report, kind)]
    if hits:
        click.echo(f"kb report: failing on {', '.join(hits)}", err=True)
        raise SystemExit(1)


def _embeddings_cache() -> EmbeddingCache | None:
    """The embeddings cache `kb build` keeps here ($KB_CACHE_DIR, else ./.kb/cache), if there is one:
    the gaps' names are kept there too, so the next report does not embed them again. None when
    there is none (the report does not start one), or it cannot be opened or written."""
    path = cache_dir() / CACHE_FILE
    if not path.is_file() or not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return None  # (one the report could read but not add to would fail it half-way)
    try:
        return EmbeddingCache(path)
    except EmbeddingError:
        return None


@click.command("simulate")
@click.option("--db", "db_url", required=True, metavar="URL", help="The votes store to write to: sqlite:///PATH or postgresql://...")
@click.option("--site", "site_dir", default=Path("site"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The built site whose articles get the simulated history.")
@click.option("--days", type=click.IntRange(1, 3650), default=90, show_default=True, help="How many days of history, ending now.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed; the same seed stores the same rows once.")
def simulate_command(db_url: str, site_dir: Path, days: int, seed: int) -> None:
    """Write a simulated history of votes, failed searches and contacts (visitors named sim-...)."""
    try:
        manifest = load_manifest(site_dir)
    except ManifestError as exc:
        raise KbError(str(exc)) from None
    if not manifest["articles"]:
        raise KbError(f"{Path(site_dir) / MANIFEST_NAME}: the site has no articles to simulate votes for")
    codes = language_codes(manifest)
    if len(codes) < 2:
        history = simulate_history(manifest, days=days, seed=seed, now=_now())
        histories = [history]
    else:  # a history per language, each its own help center's, its rows carrying the language
        histories = [simulate_history(language_manifest(manifest, code), days=days, now=_now(), language=code,
                                      seed=seed if i == 0 else _language_seed(seed, code))
                     for i, code in enumerate(codes)]
        history = histories[0]
    store = _open(db_url, must_exist=False)
    try:
        store.migrate()
        votes = sum(store.add_votes(h.votes) for h in histories)
        searches = sum(store.add_searches(h.searches) for h in histories)
        contacts = sum(store.add_contacts(h.contacts) for h in histories)
    except (sqlite3.Error, StoreError) as exc:
        raise _database_error(exc, db_url) from None
    finally:
        store.close()
    improved = next((a for a, p in history.profiles.items() if p == "improved"), None)
    weak = sorted(a for a, p in history.profiles.items() if p == "weak")
    click.echo(f"kb votes simulate: stored {votes} votes, {searches} failed searches and {contacts} contacts "
               f"over {days} days (simulated: visitor ids start with {SIM_PREFIX!r})", err=True)
    if len(histories) > 1:
        click.echo(f"  languages: {', '.join(codes)} (the weak and improved articles below are {codes[0]}'s)", err=True)
    click.echo(f"  weak by design: {', '.join(weak)}", err=True)
    if improved:
        click.echo(f"  improved by an edit: {improved} (old version {history.old_versions[improved]})", err=True)
    click.echo(f"  next: kb report --db {redact_url(db_url)} --site {site_dir}", err=True)


def _language_seed(seed: int, code: str) -> int:
    """Another language's seed: its own ids, never another seed's in another language."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{code}".encode()).digest()[:8], "big")


def _register_simulate() -> None:
    """`kb votes simulate` lives on the votes group that kb.cli.votes defines."""
    from kb.cli.votes import votes

    votes.add_command(simulate_command)


_register_simulate()


@bench.command("report")
@click.option("--db", "db_url", default=None, metavar="URL",
              help="Also time PostgreSQL: a server URL; the bench creates and drops its own scratch database there.")
@click.option("--votes", "n_votes", type=click.IntRange(1), default=1_000_000, show_default=True, help="Votes to generate.")
@click.option("--articles", "n_articles", type=click.IntRange(1), default=10_000, show_default=True, help="Articles in the synthetic site.")
@click.option("--addresses/--no-addresses", default=True, show_default=True,
              help="Give each vote a client address, as the collector stores them (the report then counts "
                   "with the per-address cap); --no-addresses times a store from before schema 3.")
def bench_report_command(db_url: str | None, n_votes: int, n_articles: int, addresses: bool) -> None:
    """Time `kb report` on a million synthetic votes: SQLite always, PostgreSQL with --db."""
    from kb.bench.report import BenchError, bench_report

    def progress(line: str, redraw: bool) -> None:
        click.echo(line, err=True, nl=not redraw)

    try:
        bench_report(db_url, n_votes, n_articles, _now(), click.echo, progress, addresses=addresses)
    except BenchError as exc:
        raise KbError(str(exc)) from None


@bench.command("gaps")
@click.argument("datasets", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--language", "languages", multiple=True, metavar="[SET=]CODE",
              help="The language of the sets' articles (all, or one set by its folder name: plhelp=pl). Default en.")
@click.option("--queries", type=click.IntRange(2), default=None, metavar="N",
              help="A seeded sample of N questions per set (default: all; every pair of them is compared).")
@click.option("--articles", type=click.IntRange(1), default=None, metavar="N",
              help="At most N articles per set: those the questions name, and a seeded sample of the others.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Write the figures as JSON to FILE.")
def bench_gaps_command(datasets: tuple[Path, ...], languages: tuple[str, ...], queries: int | None,
                       articles: int | None, json_path: Path | None) -> None:
    """How the report's gaps join failed searches by meaning: precision and recall of joined pairs of DATASET questions."""
    from kb.bench.datasets import DatasetError
    from kb.bench.gaps import bench_gaps, format_gaps, trim
    from kb.bench.search import stderr_log
    from kb.cli.search import _datasets, _write_figures

    loaded, language_of = _datasets(datasets, languages, lambda ds: trim(ds, queries, articles))
    try:
        result = bench_gaps(loaded, language_of, stderr_log)
    except (DatasetError, EmbeddingError) as exc:
        raise KbError(str(exc)) from exc
    click.echo(format_gaps(result))
    _write_figures(json_path, result)
