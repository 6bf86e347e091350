"""Pre-compressed assets: a `.gz` beside each text file the browser fetches on a first visit.

Material's stylesheet and script, kb's worker and the search index are most of what a first visit
transfers (about 400 KB on the demo, about 100 KB compressed). Compressed once at build time, at
the highest level, a web server that looks for them (nginx's `gzip_static on`) sends them without
spending CPU on each request. Only `assets/` and `search/` are compressed: they change only when
the site is built (or its index rebuilt, which compresses again); the pages themselves are left
to the server's own on-the-fly compression, so a page written later never sits beside a stale
`.gz`. The answers file the collector reads from disk (kb.channels.llms) is no browser's download:
it gets none (at 3,000 articles it is 3 MB, half a second at the highest level).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from kb.channels.llms import ANSWERS_PATH

#: The folders of a site (each language's) whose text files get a `.gz` beside them.
FOLDERS = ("assets", "search")
#: What is worth compressing: text formats. Images and fonts are compressed already.
SUFFIXES = (".css", ".js", ".json", ".svg", ".txt", ".xml", ".html", ".md")  # no .map: only developer tools load them
#: Smaller files gain nothing a request's headers would not cost back.
MIN_BYTES = 1024
#: Files only servers read, from disk: never sent to a browser, so never compressed.
SERVER_ONLY = (ANSWERS_PATH,)


@dataclass
class Compressed:
    """What `compress_assets` did: files compressed now, and their sizes before and after."""

    files: int = 0
    before: int = 0
    after: int = 0


def compress_assets(site_dir: Path, folders: tuple[str, ...] = FOLDERS) -> Compressed:
    """Write `<file>.gz` beside each text file in `site_dir`'s `folders` whose `.gz` is missing or older."""
    done = Compressed()
    site_dir = Path(site_dir)
    for folder in folders:
        root = site_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix not in SUFFIXES or not path.is_file():
                continue
            if path.relative_to(site_dir).as_posix() in SERVER_ONLY:
                path.with_name(path.name + ".gz").unlink(missing_ok=True)  # one an older build wrote
                continue
            stat = path.stat()
            if stat.st_size < MIN_BYTES:
                continue
            target = path.with_name(path.name + ".gz")
            if target.exists() and target.stat().st_mtime >= stat.st_mtime:
                continue
            data = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
            aside = target.with_name(target.name + ".tmp")
            aside.write_bytes(data)
            aside.replace(target)  # never a half-written .gz that a server would send
            done.files += 1
            done.before += stat.st_size
            done.after += len(data)
    return done
