"""The `kb` command group and the helpers every command shares."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


class KbError(click.ClickException):
    """An error the user can fix; printed as one line without a traceback, exit 1."""

    exit_code = 1

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(self.format_message(), err=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` to stderr and exit with `code` (1 content/data, 2 usage)."""
    click.echo(message, err=True)
    sys.exit(code)


def require_store(db_url: str, option: str = "--db") -> None:
    """Stop at once, with one line, when a PostgreSQL store cannot be reached.

    Without this, the connection pool retries for half a minute and logs every failed attempt.
    """
    if not db_url.startswith(("postgresql://", "postgres://")):
        return
    import psycopg

    from kb.votes.store import redact_url

    try:
        psycopg.connect(db_url, connect_timeout=STORE_CONNECT_TIMEOUT).close()
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise KbError(f"{option} {redact_url(db_url)}: cannot connect to PostgreSQL: {first}") from None


def store_url_problem(db_url: str) -> str | None:
    """What is wrong with a votes store URL's form (nothing is opened), or None."""
    if db_url.startswith(("postgresql://", "postgres://")):
        return None
    if db_url.startswith("sqlite:///"):
        path = db_url[len("sqlite:///"):]
    elif "://" in db_url:
        return "unsupported store URL: expected sqlite:///PATH or postgresql://..."
    else:
        path = db_url
    if not path or path == ":memory:":
        return "names no file: expected sqlite:///PATH"
    return None


STORE_CONNECT_TIMEOUT = 5  # seconds to wait for PostgreSQL to answer before giving up


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kb")
def main() -> None:
    """kb: build a self-service help center from Markdown articles."""


@main.group()
def bench() -> None:
    """Benchmarks that print our figures beside the anchors' in one run."""
