"""`kb votes serve|export|import` and `kb bench votes`: running the collector and moving its data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from kb.bench.votes import CONNECTIONS_PER_ADDRESS
from kb.cli.app import KbError, bench, main, require_store
from kb.cli.services import collector_services
from kb.manifest import NAME as MANIFEST_NAME
from kb.votes.schema import MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS
from kb.votes.store import TABLES, Store, StoreError, open_store, redact_url

DEFAULT_DB = "sqlite:///votes.db"


def _open(db_url: str, *, migrate: bool) -> Store:
    """Open (and migrate) the store, or stop with one line naming the URL."""
    require_store(db_url)
    try:
        store = open_store(db_url)
        missing = not migrate and store.dialect == "sqlite" and not store.path.is_file()  # reading: never make one
        if migrate:
            store.migrate()
    except StoreError as exc:
        raise KbError(f"--db {redact_url(db_url)}: {exc}") from exc
    except Exception as exc:  # psycopg / sqlite3 errors: connection refused, read-only file, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KbError(f"--db {redact_url(db_url)}: cannot open the votes store: {first}") from exc
    if missing:
        store.close()
        raise KbError(f"{store.path}: no such votes database (start the collector with kb votes serve, "
                      "or run kb votes simulate)")
    return store


@main.group()
def votes() -> None:
    """The vote collector and its store."""


@votes.command("serve")
@click.option("--site", "site_dir", type=click.Path(file_okay=False, readable=False, path_type=Path), default="site",
              show_default=True, help=f"The built site; votes are checked against SITE/{MANIFEST_NAME}.")
@click.option("--db", "db_url", default=DEFAULT_DB, show_default=True, metavar="URL",
              help="sqlite:///PATH or postgresql://user@host/db.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--rate-limit", default=60, show_default=True, type=click.IntRange(0),
              help="Requests per visitor per minute on each public route; 0 turns the limit off.")
@click.option("--origin", "origins", multiple=True, metavar="ORIGIN",
              help="A site origin allowed to send votes cross-origin, e.g. https://help.example.com (repeatable).")
@click.option("--address-rate-limit", default=None, type=click.IntRange(0), metavar="N",
              help="Requests per client address per minute on each public route, whatever its user agents "
                   "[default: 5 x --rate-limit]; 0 turns it off.")
@click.option("--admin-token", envvar="KB_ADMIN_TOKEN", default=None, metavar="TOKEN",
              help="Bearer token for GET /api/report (or env KB_ADMIN_TOKEN); without it admin routes are off.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="Comma-separated proxy addresses or networks (or *) whose X-Forwarded-For, "
                   "X-Forwarded-Host and X-Forwarded-Proto are believed.")
@click.option("--max-connections", default=MAX_CONNECTIONS, show_default=True, type=click.IntRange(1),
              help="Concurrent connections and requests; more are answered 503.")
@click.option("--max-connections-per-address", default=MAX_CONNECTIONS_PER_ADDRESS, show_default=True,
              type=click.IntRange(1),
              help="Concurrent connections from one client address; more are answered 429. The "
                   "--forwarded-allow-ips proxies are exempt (they limit their own clients).")
@click.option("--visitor-secret", envvar="KB_VISITOR_SECRET", default=None, metavar="SECRET",
              help="A secret the collectors behind one proxy share (or env KB_VISITOR_SECRET), so they "
                   "derive the same daily visitor key; without it each keeps a random key in memory.")
def serve_command(site_dir: Path, db_url: str, host: str, port: int, rate_limit: int,
                  origins: tuple[str, ...], address_rate_limit: int | None, admin_token: str | None,
                  forwarded_allow_ips: str, max_connections: int, max_connections_per_address: int,
                  visitor_secret: str | None) -> None:
    """Run the vote collector (POST /api/votes, /api/searches, /api/contacts; GET /healthz)."""
    import ipaddress
    import logging
    import signal

    from kb.manifest import ManifestError, load_manifest
    from kb.votes.collector import create_app
    from kb.votes.server import serve

    for part in forwarded_allow_ips.split(","):
        try:
            if part.strip() != "*":
                ipaddress.ip_network(part.strip(), strict=False)
        except ValueError:
            raise click.BadParameter(f"expected addresses or networks like 127.0.0.1,10.0.0.0/8 or *, "
                                     f"got {part.strip()!r}", param_hint="--forwarded-allow-ips") from None

    for origin in origins:
        if not origin.startswith(("http://", "https://")) or origin.rstrip("/").count("/") != 2:
            raise click.BadParameter(f"expected scheme://host[:port], got {origin!r}", param_hint="--origin")
    manifest = site_dir / MANIFEST_NAME
    try:
        manifest.stat()
    except FileNotFoundError:
        raise KbError(f"{manifest}: no site manifest; build the site first (kb build) or pass --site") from None
    except OSError:
        pass  # load_manifest says what
    try:
        load_manifest(site_dir)
    except ManifestError as exc:  # unreadable (a deploy under umask 077) or not a manifest
        raise KbError(str(exc)) from None
    store = _open(db_url, migrate=True)
    # What the collector logs (a failing store or site, a refused record) reaches standard error
    # (the journal, under systemd) as lines of this command's own.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("kb votes serve: %(levelname)s: %(message)s"))
    collector_log = logging.getLogger("kb.votes")
    collector_log.addHandler(handler)
    collector_log.setLevel(logging.WARNING)
    collector_log.propagate = False
    # psycopg's pool warns at each reconnection attempt of an outage (lines of its own shape, a few
    # a second): the store's own line above says the outage once. Its errors still reach the log.
    driver_log = logging.getLogger("psycopg")
    driver_log.addHandler(handler)
    driver_log.setLevel(logging.ERROR)
    driver_log.propagate = False
    click.echo(f"kb votes serve: http://{host}:{port}/  (store {redact_url(db_url)}, site {site_dir}"
               f"{', admin on' if admin_token else ''}; Ctrl+C to stop)", err=True)
    if store.dialect == "postgresql" and not visitor_secret:
        click.echo("kb votes serve: warning: no --visitor-secret (KB_VISITOR_SECRET) on a PostgreSQL store: "
                   "each collector keeps its own visitor key, so a reason sent after its vote to another "
                   "collector is dropped; give every collector the same secret", err=True)
    app = create_app(site_dir, store, origins=origins, rate_limit=rate_limit,
                     address_rate_limit=address_rate_limit, admin_token=admin_token,
                     forwarded_allow_ips=forwarded_allow_ips.split(","), visitor_secret=visitor_secret,
                     **collector_services())
    try:
        stopped_by = serve(app, host=host, port=port, log_level="warning", limit_concurrency=max_connections,
                           per_address=max_connections_per_address, exempt=app.state.collector.proxies.trusted,
                           on_stop=store.close)
    finally:
        store.close()
    if stopped_by is not None:
        # Every acknowledged record was committed before its answer; the rest (the search API's
        # records) by store.close(), which logs any it could not store.
        click.echo(f"kb votes serve: stopped by {signal.Signals(stopped_by).name}, after finishing its writes",
                   err=True)


@votes.command("export")
@click.option("--db", "db_url", default=DEFAULT_DB, show_default=True, metavar="URL", help="The store to read.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="JSON Lines (one row per line) or CSV with a header row.")
@click.option("--table", type=click.Choice([*TABLES, "all"]), default="votes", show_default=True,
              help="What to export; 'all' (JSON Lines only) moves a whole store.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output (complete or not at all: written aside, then renamed).")
def export_command(db_url: str, fmt: str, table: str, output: Path | None) -> None:
    """Write stored votes (or searches, contacts, everything) as JSON Lines or CSV."""
    from kb.votes.io import atomic_output, export_rows

    if table == "all" and fmt == "csv":
        raise click.BadParameter("CSV holds one table; use --format jsonl with --table all", param_hint="--table")
    store = _open(db_url, migrate=False)
    tables = list(TABLES) if table == "all" else [table]
    target = "standard output" if output is None else str(output)
    try:
        if output is None:
            counts = export_rows(store, tables, fmt, sys.stdout)
            sys.stdout.flush()
        else:
            with atomic_output(output) as out:
                counts = export_rows(store, tables, fmt, out)
    except OSError as exc:  # writing: a full disk, a missing or read-only folder, a closed pipe
        if output is None:  # what is still buffered cannot be written either: drop it quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise KbError(f"cannot write {target}: {_os_reason(exc)}") from None
    except StoreError as exc:
        raise KbError(f"--db {redact_url(db_url)}: {exc}") from exc
    except Exception as exc:  # an unmigrated or foreign database
        raise KbError(f"--db {redact_url(db_url)}: cannot read: {str(exc).strip().splitlines()[0]}") from exc
    finally:
        store.close()
    summary = ", ".join(f"{n} {t}" for t, n in counts.items())
    click.echo(f"kb votes export: {summary}" + (f" to {output}" if output else ""), err=True)


def _os_reason(exc: OSError) -> str:
    """'no space left on device', from an OSError, as a message's tail."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return reason[:1].lower() + reason[1:]


@votes.command("import")
@click.option("--db", "db_url", default=DEFAULT_DB, show_default=True, metavar="URL", help="The store to append to.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(db_url: str, file: Path) -> None:
    """Append rows from a `kb votes export` file (JSON Lines or .csv); rows already stored are skipped.

    Every record is checked first, as the collector checks a vote; one bad record stores nothing."""
    from kb.votes.io import import_records

    store = _open(db_url, migrate=True)
    try:
        read, stored, problems = import_records(store, file)
    except StoreError as exc:
        raise KbError(str(exc)) from exc
    finally:
        store.close()
    if problems:
        for problem in problems:
            click.echo(problem.format(), err=True)
        lines = len({p.line for p in problems})
        raise KbError(f"kb votes import: {lines} bad record(s) in {file}; nothing imported")
    parts = [f"{stored[t]} of {read[t]} {t}" for t in TABLES if read[t]]
    click.echo(f"kb votes import: stored {', '.join(parts) or 'nothing'} (the rest were already stored)", err=True)


@bench.command("votes")
@click.option("--db", "db_url", default=None, metavar="URL",
              help="Also bench this PostgreSQL database (in a scratch schema, dropped afterwards).")
@click.option("--seconds", default=10.0, show_default=True, type=click.FloatRange(1), help="Length of the load run.")
@click.option("--connections", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Concurrent keep-alive connections.")
@click.option("--connections-per-address", "per_address", default=CONNECTIONS_PER_ADDRESS, show_default=True,
              type=click.IntRange(1, 256),
              help="Connections sent from each loopback address (127.0.0.2, 127.0.0.3, ...), as customers send "
                   "from many; the default is what a browser holds to one host.")
@click.option("--proxy", type=click.Choice(["nginx"]), default=None,
              help="Also bench through nginx (the README's configuration) to --instances collectors on --db.")
@click.option("--instances", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Collectors behind the proxy (with --proxy).")
def bench_votes(db_url: str | None, seconds: float, connections: int, per_address: int, proxy: str | None,
                instances: int) -> None:
    """Votes per second, p50/p99 latency, and acknowledged votes lost across 3 SIGKILLs under load."""
    from kb.bench.votes import PostgresScratch, bench_proxy, bench_store, client_addresses

    def progress(message: str) -> None:
        click.echo(f"kb bench votes: {message}", err=True)

    runs = [("sqlite", None)]
    if db_url:
        if not db_url.startswith(("postgresql://", "postgres://")):
            raise click.BadParameter("expected postgresql://... (SQLite is always benched)", param_hint="--db")
        runs.append(("postgresql", db_url))
    if proxy and not db_url:
        raise click.BadParameter("several collectors share one PostgreSQL database: give --db postgresql://...",
                                 param_hint="--proxy")
    if proxy:
        runs.append((f"{proxy} x{instances}", db_url))
    click.echo(f"{'store':<11} {'stored/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'429':>5} "
               f"{'kills':>5} {'acked':>6} {'missing':>7} {'load':>5}  integrity")
    refusals = []
    for name, url in runs:
        progress(f"{name}: starting")
        options = {"seconds": seconds, "connections": connections, "per_address": per_address, "progress": progress}
        try:
            if url is None:
                figures = bench_store("sqlite", **options)
            elif name.startswith("nginx"):
                with PostgresScratch(url) as scratch:
                    figures = bench_proxy(scratch, instances=instances, **options)
            else:
                with PostgresScratch(url) as scratch:
                    figures = bench_store(scratch, **options)
        except RuntimeError as exc:
            raise KbError(f"kb bench votes: {name}: {exc}") from exc
        click.echo(f"{name:<11} {figures.stored_per_s:>9.0f} {figures.p50_ms:>7.1f} {figures.p99_ms:>7.1f} "
                   f"{figures.errors:>6} {figures.refused:>5} {figures.kills:>5} {figures.acknowledged_in_kills:>6} "
                   f"{figures.missing:>7} {figures.load_average:>5.1f}  {figures.integrity}")
        if figures.refused or figures.refused_in_kills:
            refusals.append(f"{name}: {figures.refused + figures.refused_in_kills:,} votes answered 429 "
                            f"({figures.refused:,} in the load run, {figures.refused_in_kills:,} in the kill runs): "
                            "refused by a per-address connection limit, none counted as acknowledged")
    for line in refusals:
        click.echo(line)
    addresses = len(set(client_addresses(connections, per_address)))
    click.echo(f"targets: >= 1000 stored/s (SQLite), >= 2500 through nginx, p99 < 50 ms at 8 connections, "
               f"0 missing ({connections} connections from {addresses} address{'es' if addresses > 1 else ''}, "
               f"{seconds:g} s; load: the 1-minute load average as each load run started, "
               f"{os.getloadavg()[0]:.1f} now, on {os.cpu_count()} cores)")
