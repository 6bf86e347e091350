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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kb")
def main() -> None:
    """kb: build a self-service help center from Markdown articles."""


@main.group()
def bench() -> None:
    """Benchmarks that print our figures beside the anchors' in one run."""
