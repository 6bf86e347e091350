"""`kb bench serve`: edit-to-reload under `kb serve` (MkDocs, then Zensical), beside `mkdocs serve` with Material.

For each size, a help center is made from the corpus (as `kb bench build` makes them, kept in the
work folder), `kb serve` is started on it, and five kinds of edit are made to its articles, each
timed from the save to the moment the page would reload: the build number the preview's pages
poll (`/_kb/build`) changes, or, for a broken article, the problem is printed (the page must keep
its last good build, so the build number must not change). The same edits are then made under a
plain `mkdocs serve` (Material, no kb plugin), timed until the edited page serves its new
content, where that server starts within the timeout.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from kb.bench.build import MKDOCS_YML, PER_CATEGORY, kb_plugin, make_corpus

KINDS = ("body", "title", "new article", "deleted article", "broken article")
POLL = 0.01  # seconds between polls of the build number or the page
SETTLE_CAP = 120.0  # seconds to wait for the preview's search index after an edit
BROKEN = "---\ntitle: [unclosed\n---\nA broken edit.\n"


class BenchFailed(Exception):
    """A server did not start or an edit never showed; the message says which."""


def bench_serve(source: Path, counts: list[int], work: Path, echo: Callable[[str], None], timeout: float,
                repeat: int = 3, semantic: bool = True) -> dict:
    """Run the edits at each size under kb serve and mkdocs serve; return the JSON-able figures.

    With `semantic=False` kb serve embeds nothing (the preview of a site built with `semantic: false`).
    """
    sizes: dict[str, dict] = {}
    for count in counts:
        folder = work / f"n{count}"
        made = len(list((folder / "articles").rglob("*.md"))) if (folder / "articles").is_dir() else 0
        if made != count:
            echo(f"bench serve: making {count} articles in {folder} ...")
            make_corpus(source, count, folder)
        plugin = kb_plugin(semantic)
        sizes[str(count)] = {"kb": _run_kb(folder, count, echo, timeout, repeat, plugin),
                             "zensical": _run_kb(folder, count, echo, timeout, repeat, plugin, renderer="zensical"),
                             "mkdocs": _run_mkdocs(folder, count, echo, timeout, repeat, plugin)}
    return {"sizes": sizes}


def summary(edits: list[dict]) -> dict:
    """The edits with their median and worst seconds."""
    seconds = [e["seconds"] for e in edits]
    return {"edits": edits, "p50_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3)}


def _run_kb(folder: Path, count: int, echo: Callable[[str], None], timeout: float, repeat: int, plugin: str,
            renderer: str = "mkdocs") -> dict:
    (folder / "mkdocs.yml").write_text(MKDOCS_YML.format(kb=plugin), encoding="utf-8")
    port = _free_port()
    log = folder / ".kb" / f"bench-serve-{renderer}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    index = folder / ".kb" / "preview" / "search" / "search_index.json"
    echo(f"bench serve: kb serve ({renderer}) over {count} articles (port {port}) ...")
    started = time.perf_counter()
    with open(log, "wb") as stderr:
        server = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port), "--renderer", renderer,
                                   "--db", f"sqlite:///{folder / '.kb' / 'bench-votes.db'}"],
                                  cwd=folder, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        build = f"http://127.0.0.1:{port}/_kb/build"
        _wait(lambda: _get(build) is not None, timeout, f"kb serve did not answer within {timeout:.0f} s", server)
        echo(f"bench serve: kb serve up in {time.perf_counter() - started:.1f} s")

        def edit(kind: str, change: Callable[[], None], url: str = "", expect: str | None = "") -> float:
            before, index_before, failed_before = _get(build), _mtime(index), _count(log, "last good build")
            saved = time.perf_counter()
            change()
            if kind == "broken article":
                _wait(lambda: _count(log, "last good build") > failed_before, timeout, "the broken edit was not reported",
                      server)
                seconds = time.perf_counter() - saved
                if _get(build) != before:
                    raise BenchFailed("kb serve replaced the last good page after a broken edit")
                return seconds
            _wait(lambda: _get(build) != before, timeout, f"the {kind} edit never reloaded", server)
            seconds = time.perf_counter() - saved
            # Let the search index and manifest follow before the next edit, as a writer pauses.
            _wait(lambda: _mtime(index) != index_before, SETTLE_CAP, "the search index never followed", server)
            return seconds

        edits = _edits(folder, count, repeat, edit, echo, "kb" if renderer == "mkdocs" else f"kb ({renderer})")
    finally:
        _stop(server)
    return summary(edits)


def _run_mkdocs(folder: Path, count: int, echo: Callable[[str], None], timeout: float, repeat: int,
                plugin: str) -> dict | None:
    (folder / "mkdocs.yml").write_text(MKDOCS_YML.format(kb=""), encoding="utf-8")
    port = _free_port()
    echo(f"bench serve: mkdocs serve (Material) over {count} articles (port {port}, up to {timeout:.0f} s) ...")
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-q", "-a", f"127.0.0.1:{port}"],
                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        try:
            _wait(lambda: _get(base) is not None, timeout, "", server)
        except BenchFailed:
            echo(f"bench serve: mkdocs serve did not start within {timeout:.0f} s: left out")
            return None
        echo(f"bench serve: mkdocs serve up in {time.perf_counter() - started:.1f} s")

        def edit(kind: str, change: Callable[[], None], url: str = "", expect: str | None = "") -> float:
            saved = time.perf_counter()
            change()
            page = base + url
            if expect is None:
                _wait(lambda: _get(page) is None, timeout, "", server)
            else:
                _wait(lambda: expect in (_get(page) or ""), timeout, "", server)
            return time.perf_counter() - saved

        try:
            edits = _edits(folder, count, repeat, edit, echo, "mkdocs")
        except BenchFailed:
            echo(f"bench serve: an edit under mkdocs serve took over {timeout:.0f} s: left out")
            return None
    finally:
        _stop(server)
        (folder / "mkdocs.yml").write_text(MKDOCS_YML.format(kb=plugin), encoding="utf-8")
    return summary(edits)


def _edits(folder: Path, count: int, repeat: int, edit: Callable[..., float], echo: Callable[[str], None],
           tool: str) -> list[dict]:
    """Make each kind of edit `repeat` times (plus one untimed first edit); return the timings."""
    articles = folder / "articles"
    marks = iter(range(1, 10_000))

    def article(i: int) -> tuple[Path, str]:
        n = (count // 2 + i * 37) % count
        return articles / f"c{n // PER_CATEGORY:03d}" / f"a{n:05d}.md", f"c{n // PER_CATEGORY:03d}/a{n:05d}/"

    def append(path: Path, text: str) -> Callable[[], None]:
        return lambda: path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    timings = []
    first, first_url = article(0)
    first_text = first.read_text(encoding="utf-8")
    mark = f"bench-warm-{next(marks)}"
    edit("body", append(first, f"\n{mark}\n"), first_url, mark)  # a writer's first save warms the caches
    for round_ in range(repeat):
        path, url = article(round_ + 1)
        original = path.read_text(encoding="utf-8")
        mark = f"bench-body-{next(marks)}"
        timings.append({"kind": "body", "seconds": edit("body", append(path, f"\n{mark}\n"), url, mark)})
        mark = f"Bench title {next(marks)}"
        retitle = original.replace('title: "', f'title: "{mark} ', 1)
        timings.append({"kind": "title", "seconds": edit("title", lambda: path.write_text(retitle, encoding="utf-8"),
                                                          url, mark)})
        mark = f"bench-restored-{next(marks)}"
        edit("body", lambda: path.write_text(original + f"\n{mark}\n", encoding="utf-8"), url, mark)  # untimed
        new = path.with_name(f"bench-new-{round_}.md")
        mark = f"Bench new article {next(marks)}"
        new_url = url.rsplit("/", 2)[0] + f"/bench-new-{round_}/"
        timings.append({"kind": "new article", "seconds": edit(
            "new article", lambda: new.write_text(f"---\ntitle: {mark}\n---\nBench body.\n", encoding="utf-8"),
            new_url, mark)})
        timings.append({"kind": "deleted article", "seconds": edit("deleted article", new.unlink, new_url, None)})
        # kb: until the problem is printed (the page keeps its last good build); MkDocs renders
        # broken front matter as text: until that shows.
        timings.append({"kind": "broken article", "seconds": edit(
            "broken article", lambda: path.write_text(BROKEN, encoding="utf-8"), url, "A broken edit.")})
        mark = f"bench-fixed-{next(marks)}"
        edit("body", lambda: path.write_text(original + f"\n{mark}\n", encoding="utf-8"), url, mark)
        echo(f"bench serve: {tool}: round {round_ + 1}/{repeat}: " +
             ", ".join(f"{t['kind']} {t['seconds']:.2f} s" for t in timings[-5:]))
    path.write_text(original, encoding="utf-8")
    first.write_text(first_text, encoding="utf-8")  # the help center as it was, for the next run
    return [{"kind": t["kind"], "seconds": round(t["seconds"], 3)} for t in timings]


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError):
        return None


def _wait(ready: Callable[[], bool], timeout: float, message: str, server: subprocess.Popen) -> None:
    deadline = time.perf_counter() + timeout
    while not ready():
        if server.poll() is not None:
            raise BenchFailed(f"the server ended (exit {server.returncode}) while waiting: {message}")
        if time.perf_counter() > deadline:
            raise BenchFailed(message)
        time.sleep(POLL)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _count(log: Path, text: str) -> int:
    try:
        return log.read_text(encoding="utf-8", errors="replace").count(text)
    except OSError:
        return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
