"""`kb mcp`: the help center for AI assistants, over the Model Context Protocol."""

from __future__ import annotations

from pathlib import Path

import click

from kb.cli.app import KbError, main
from kb.search.index import SearchError


@main.command("mcp")
@click.option("--site", "site_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("site"),
              show_default=True, help="The built site to answer from (kb build writes it).")
@click.option("--db", default=None, metavar="URL",
              help="Keep every search in this votes store (sqlite:///... or postgresql://...) with channel "
                   "mcp, for the review's gaps; by default nothing is kept.")
def mcp_command(site_dir: Path, db: str | None) -> None:
    """Serve the help center to AI assistants as an MCP server on stdin/stdout."""
    from kb.channels.answers import site_for_language
    from kb.channels.mcp import CHANNEL, search_row, serve_stdio
    from kb.votes.collector import Visitors
    from kb.votes.store import StoreError, open_store

    # Fail now, not at the first question: an MCP client shows only "Connection closed" when the
    # server stops, and logs what it wrote to standard error. It starts the server in a folder of
    # its own choosing, so a relative --site is the usual mistake: name the folder it was read from.
    if not site_dir.is_dir():
        raise KbError(f"kb mcp: no built site at {site_dir.resolve()} (--site {site_dir}, read from the folder "
                      f"{Path.cwd()}); build it with kb build, and give MCP clients its absolute path")
    try:
        site_for_language(site_dir, None)
    except SearchError as exc:
        raise KbError(f"kb mcp: {exc}") from exc
    store = None
    record = None
    if db:
        try:
            store = open_store(db)
            store.migrate()
        except StoreError as exc:
            raise KbError(str(exc)) from exc
        visitors = Visitors()

        def record(result: dict) -> None:
            # one assistant process is one visitor: a daily hash of nothing about the asker. Kept as
            # the search API keeps its records: committed within a second (or when kb mcp ends),
            # never waited for, so an assistant's answer does not wait on a slow or absent database;
            # a record the store refuses is dropped, and the log says so.
            store.submit_later("searches", [search_row(result, CHANNEL, visitors.hash(CHANNEL, "stdio"))])
    try:
        serve_stdio(site_dir, record)
    finally:
        if store is not None:
            store.close()
