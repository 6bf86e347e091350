"""Command line: thin adapters over the core modules; only this package prints."""

from __future__ import annotations

from kb.cli.app import bench, main

# Importing each module registers its commands on `main` and `bench`.
from kb.cli import site, search, votes, report, channels  # noqa: E402,F401  isort:skip  (report adds to votes)

__all__ = ["bench", "main"]
