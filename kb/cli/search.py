"""`kb search` and `kb bench search`: thin adapters over kb.search and kb.bench."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import click

from kb.channels.answers import SiteCache, UnknownLanguage, answer_from, language_folder
from kb.cli.app import KbError, bench, main
from kb.search.index import SearchError
from kb.search.ranker import search


@main.command("search")
@click.argument("query")
@click.option("--site", "site_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("site"),
              show_default=True, help="The built site whose search index to use.")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="How many results to show.")
@click.option("--words", is_flag=True,
              help="Rank by words alone, as the site's search box in the browser does (default: by meaning and "
                   "words, as the search API, kb mcp and the report do, where the site has its vectors).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--language", default=None, metavar="CODE",
              help="The help center's language on a site with languages (pl searches SITE/pl/); default the site's own.")
def search_command(query: str, site_dir: Path, limit: int, words: bool, as_json: bool, language: str | None) -> None:
    """Show what customers find for QUERY, ranked as the search API ranks it (--words: as the search box)."""
    cache = SiteCache(background=False)
    try:
        folder = language_folder(site_dir, language, cache)
        site = cache.get(folder, site_dir)
    except SearchError as exc:
        raise KbError(str(exc)) from exc
    except UnknownLanguage as exc:
        raise KbError(f"{site_dir}: {exc}") from exc
    # URLs as paths from the site's root ("pl/..." for another language), whatever its site_url
    prefix = "" if folder == site_dir else f"{folder.name}/"
    if words:
        hits = [(h.id, h.title, prefix + h.url, h.score, None) for h in search(site.index, query, limit=limit)]
    else:
        answered = answer_from(site, query, limit)
        hits = [(r["id"], r["title"], prefix + r["url"].removeprefix(site.base), r["score"], r["confidence"])
                for r in answered["results"]]
    if as_json:
        click.echo(json.dumps({"query": query, "results": [
            {"rank": rank, "id": i, "title": t, "url": u, "score": round(s, 3),
             **({"confidence": c} if c is not None else {})}
            for rank, (i, t, u, s, c) in enumerate(hits, 1)]}, ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo(f"no results for '{query}'")
        return
    width = len(str(len(hits)))
    for rank, (article_id, title, url, score, _) in enumerate(hits, 1):
        click.echo(f"{rank:>{width}}. {title}  [{article_id}]  {score:.2f}")
        click.echo(f"{'':>{width}}  /{url.split('#')[0]}")


@bench.command("search")
@click.argument("datasets", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--typos", "typo_seed", type=int, default=None, metavar="SEED",
              help="Also run every query with one realistic typo, reproducible from SEED.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="Write the figures as JSON to FILE.")
@click.option("--sample", "sample_size", type=click.IntRange(1), default=None, metavar="N",
              help="Run the anchors on a seeded sample of N queries (ours still runs on all).")
@click.option("--scale", type=click.IntRange(1), default=None, metavar="N",
              help="Grow each data set to N articles (varied copies) to measure a large help center; "
                   "a folder without queries.jsonl gets known-item queries from its titles.")
@click.option("--engine", "engines", multiple=True, metavar="NAME",
              help="Only these engines (repeatable): kb (the browser's and the server's hybrid, kb-hybrid), "
                   "kb-hybrid, lunr, minisearch, fuse, flexsearch, orama, pagefind.")
@click.option("--language", default="en", show_default=True, metavar="CODE",
              help="The language of the data sets' articles and queries: ours runs with its analyzer (en, pl).")
@click.option("--api", "api", is_flag=True,
              help="Instead of the engines, time GET /api/search in the real collector over HTTP, at "
                   "10,000 articles unless --scale says otherwise (p50/p95/p99 ms of 1,000 queries).")
def bench_search(datasets: tuple[Path, ...], typo_seed: int | None, json_path: Path | None,
                 sample_size: int | None, scale: int | None, engines: tuple[str, ...], language: str,
                 api: bool) -> None:
    """Measure our search beside the anchors on DATASET folders (articles/*.md + queries.jsonl)."""
    if api:
        _bench_api(datasets, scale or 10_000, json_path, language)
        return
    from kb.bench.datasets import DatasetError, load_dataset
    from kb.bench.search import (ENGINES, BenchError, bench_dataset, ensure_packages, format_table,
                                 results_json, stderr_log)

    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise click.UsageError(f"unknown engine {unknown[0]!r}; choose from {', '.join(ENGINES)}")
    # `kb` names both engines the product ships: the browser's and the server's hybrid
    chosen = [e for e in ENGINES if not engines or e in engines or (e == "kb-hybrid" and "kb" in engines)]
    try:
        ensure_packages(stderr_log, chosen)
        results = {}
        for folder in datasets:
            stderr_log(f"loading {folder}")
            ds = load_dataset(folder, scale=scale)
            results[ds.name] = bench_dataset(ds, typos=typo_seed, sample_size=sample_size,
                                             engines=chosen, log=stderr_log, language=language)
    except (BenchError, DatasetError, SearchError) as exc:
        raise KbError(str(exc)) from exc
    click.echo(format_table(results))
    if json_path:
        json_path.write_text(json.dumps(results_json(results), indent=2) + "\n", encoding="utf-8")
        stderr_log(f"wrote {json_path}")


@bench.command("calibrate")
@click.argument("datasets", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="Write the coefficients and the cross-validated figures as JSON to FILE.")
@click.option("--language", "languages", multiple=True, metavar="[SET=]CODE",
              help="The language of the sets' articles (all, or one set by its folder name: plhelp=pl); "
                   "our engine ranks each with that language's analyzer. Default en.")
@click.option("--splits", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Cross-validate over N splits into folds (the first as without, the others random) and "
                   "print each figure's mean and range: how much of a small set's figures is one split's luck.")
def bench_calibrate(datasets: tuple[Path, ...], json_path: Path | None, languages: tuple[str, ...],
                    splits: int) -> None:
    """Fit the answers' confidence model on DATASET folders; print cross-validated figures and coefficients."""
    from kb.bench.calibrate import calibrate, format_calibration
    from kb.bench.datasets import DatasetError
    from kb.bench.search import stderr_log

    loaded, language_of = _datasets(datasets, languages)
    try:
        result = calibrate(loaded, stderr_log, languages=language_of, splits=splits)
    except (DatasetError, SearchError) as exc:
        raise KbError(str(exc)) from exc
    click.echo(format_calibration(result))
    _write_figures(json_path, result)


@bench.command("hybrid")
@click.argument("datasets", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="Write the figures and the coefficients as JSON to FILE.")
@click.option("--language", "languages", multiple=True, metavar="[SET=]CODE",
              help="The language of the sets' articles (all, or one set by its folder name: plhelp=pl). Default en.")
def bench_hybrid_command(datasets: tuple[Path, ...], json_path: Path | None, languages: tuple[str, ...]) -> None:
    """Rank DATASET folders by words, meaning and both; fit the hybrid confidence; print cross-validated figures."""
    from kb.bench.datasets import DatasetError
    from kb.bench.hybrid import ASKED, bench_hybrid, format_hybrid
    from kb.bench.search import stderr_log
    from kb.site.languages import TEXTS

    loaded, language_of = _datasets(datasets, languages)
    try:
        result = bench_hybrid(loaded, language_of, stderr_log,
                              phrases={code: texts["handover_phrases"] for code, texts in TEXTS.items()}, asked=ASKED)
    except (DatasetError, SearchError) as exc:
        raise KbError(str(exc)) from exc
    click.echo(format_hybrid(result))
    _write_figures(json_path, result)


@bench.command("embedders")
@click.argument("datasets", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--language", "languages", multiple=True, metavar="[SET=]CODE",
              help="The language of the sets' articles (all, or one set by its folder name: plhelp=pl). Default en.")
def bench_embedders_command(datasets: tuple[Path, ...], languages: tuple[str, ...]) -> None:
    """kb's embedding model beside an alternative that ships its weights, on DATASET folders."""
    from kb.bench.datasets import DatasetError
    from kb.bench.embedders import BenchSetupError, bench_embedders, format_embedders
    from kb.bench.search import stderr_log

    loaded, language_of = _datasets(datasets, languages)
    try:
        result = bench_embedders(loaded, language_of, stderr_log)
    except (DatasetError, SearchError, BenchSetupError) as exc:
        raise KbError(str(exc)) from exc
    click.echo(format_embedders(result))


def _write_figures(json_path: Path | None, result: dict) -> None:
    """A bench command's figures as JSON into `json_path` (--json), where one was given."""
    from kb.bench.search import stderr_log

    if json_path:
        json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        stderr_log(f"wrote {json_path}")


def _datasets(folders: tuple[Path, ...], languages: tuple[str, ...],
              prepare: Callable[[Any], Any] | None = None) -> tuple[list, dict[str, str]]:
    """The DATASET folders loaded (each passed through `prepare`, where given) and each set's
    language by its name, from the --language values (see `_languages`)."""
    from kb.bench.datasets import DatasetError, load_dataset

    default, per_set = _languages(languages)
    try:
        loaded = [load_dataset(folder) for folder in folders]
    except DatasetError as exc:
        raise KbError(str(exc)) from exc
    if prepare is not None:
        loaded = [prepare(ds) for ds in loaded]
    return loaded, {ds.name: per_set.get(ds.name, default) for ds in loaded}


def _languages(values: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """--language values: the default language and the per-set ones (SET=CODE)."""
    default, per_set = "en", {}
    for value in values:
        name, _, code = value.rpartition("=")
        if not code:
            raise click.BadParameter(f"expected CODE or SET=CODE, got {value!r}", param_hint="--language")
        if name:
            per_set[name] = code
        else:
            default = code
    return default, per_set


def _bench_api(datasets: tuple[Path, ...], scale: int, json_path: Path | None, language: str) -> None:
    from kb.bench.answers_api import ApiBenchError, bench_api
    from kb.bench.datasets import DatasetError, load_dataset
    from kb.bench.search import stderr_log

    results = {}
    try:
        for folder in datasets:
            stderr_log(f"loading {folder} at {scale} articles")
            ds = load_dataset(folder, scale=scale)
            results[ds.name] = bench_api(ds, stderr_log, language=language)
    except (ApiBenchError, DatasetError, SearchError) as exc:
        raise KbError(str(exc)) from exc
    click.echo("| set | articles | queries | p50 ms | p95 ms | p99 ms | target p95 |")
    click.echo("|---|---|---|---|---|---|---|")
    for name, m in results.items():
        click.echo(f"| {name} | {m['articles']} | {m['queries']} | {m['p50_ms']:.2f} | {m['p95_ms']:.2f} "
                   f"| {m['p99_ms']:.2f} | < 5 |")
    if json_path:
        json_path.write_text(json.dumps({"api": results}, indent=2) + "\n", encoding="utf-8")
        stderr_log(f"wrote {json_path}")
