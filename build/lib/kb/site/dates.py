"""When each article last changed, as its page says ("Last updated"): from git, else the file's time."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path
from typing import Iterable

from kb.articles import git_toplevel


def last_updated(paths: Iterable[Path]) -> dict[Path, dt.date]:
    """Date of the last commit touching each file, from one `git log`; file time where git has none."""
    paths = [Path(p).resolve() for p in paths]
    dates: dict[Path, dt.date] = {}
    if paths:
        top = git_toplevel(paths[0].parent)
        if top is not None:
            log = subprocess.run(
                ["git", "-C", str(top), "log", "--format=%x00%ct", "--name-only", "--no-renames", "--",
                 str(paths[0].parent if len(paths) == 1 else _common_parent(paths))],
                capture_output=True, text=True, check=False,
            )
            when: dt.date | None = None
            for line in log.stdout.splitlines():
                if line.startswith("\x00"):
                    when = dt.datetime.fromtimestamp(int(line[1:]), dt.timezone.utc).date()
                elif line and when is not None:
                    dates.setdefault((top / line).resolve(), when)
    return {
        p: dates.get(p) or dt.datetime.fromtimestamp(p.stat().st_mtime, dt.timezone.utc).date()
        for p in paths if p.exists()
    }


def _common_parent(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([str(p.parent) for p in paths]))
