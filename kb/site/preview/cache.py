"""Articles parsed once for the preview, and read again only when their file changes.

`ArticleCache` is load_project's `cache`: a file is read again only when its time, size or inode
changed, and after `expect(paths)`, a watcher's report of what changed, a load neither lists the
folder again nor looks at any other file.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Callable

from kb.articles import Article, Category, Problem


class ArticleCache:
    """Articles parsed once and reused until their file changes (time, size, inode): load_project's `cache`.

    `fresh` lists the articles read afresh during one load; with `quick`, load_project checks only
    their links and leaves near-duplicate titles to the full check that follows.
    """

    def __init__(self) -> None:
        self.entries: dict[Path, tuple] = {}
        self.fresh: list[Article] = []
        self.expected: set[Path] | None = None
        self._listings: dict[Path, tuple[list[Path], dict[str, Category], list[Problem]]] = {}

    def expect(self, paths: set[Path] | None) -> None:
        """Take `paths` (resolved) for everything that changed since the last load, until expect(None);
        `fresh` starts empty for that load."""
        self.expected = paths
        if paths is not None:
            self.fresh = []

    def listing(self, folder: Path, scan: Callable[[list], tuple[list[Path], dict[str, Category]]],
                problems: list[Problem]) -> tuple[list[Path], dict[str, Category]]:
        """The folder's Markdown files (sorted) and categories: `scan(problems)`'s, or the last ones
        with the expected paths added or taken out."""
        known = self._listings.get(folder)
        if known is None or self.expected is None:
            found: list[Problem] = []
            paths, categories = scan(found)
            known = self._listings[folder] = (paths, categories, found)
        else:
            paths = known[0]
            for path in self.expected:
                if path.suffix != ".md" or not path.is_relative_to(folder):
                    continue
                at = bisect.bisect_left(paths, path)  # Path order: the order of sorted(rglob())
                there = at < len(paths) and paths[at] == path
                if path.is_file() and not there:
                    paths.insert(at, path)
                elif there and not path.is_file():
                    del paths[at]
        problems.extend(known[2])
        return list(known[0]), dict(known[1])

    def load(self, path: Path, key: tuple, read: Callable[[list], Article | None], problems: list) -> Article | None:
        """The article of `path` (with its problems added to `problems`), read again only if it changed."""
        entry = self.entries.get(path)
        if entry is None or entry[0][3] != key or self.expected is None or path in self.expected:
            try:
                stat = path.stat()
            except FileNotFoundError:  # gone since the folder was listed: the watcher reports it next
                self.entries.pop(path, None)
                return None
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino, key)
            if entry is None or entry[0] != stamp:
                found: list[Problem] = []
                entry = self.entries[path] = (stamp, read(found), found)
                if entry[1] is not None:
                    self.fresh.append(entry[1])
        problems.extend(entry[2])
        return entry[1]

    def copy(self) -> ArticleCache:
        """A cache with the same parsed files, for a load on another thread (it lists folders afresh)."""
        other = ArticleCache()
        other.entries = dict(self.entries)
        return other
