"""`kb bench build`: kb build (MkDocs + Material, and Zensical) beside a plain Material `mkdocs build`
on the same real Markdown.

Help centers of N articles are made from a corpus of real articles (by default the Polish
Microsoft 365 help in ../shared/corpora/alchemy-pl), 100 to a category, each build timed in its
own process, with that process's peak memory read from the kernel (wait4's ru_maxrss).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kb.articles import fold_title, split_front_matter

PER_CATEGORY = 100
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)]*)\)")
_INCLUDE = re.compile(r"\[!INCLUDE[^\n]*")
_ANCHOR = re.compile(r"<a name=\"[^\"]*\"></a>")

MKDOCS_YML = """\
site_name: Bench Help Center
docs_dir: articles
site_dir: site
theme:
  name: material
  language: pl
  features: [navigation.instant, navigation.sections, navigation.indexes, navigation.prune]
plugins:
  - search
{kb}"""


def kb_plugin(semantic: bool = True) -> str:
    """The kb plugin's lines in the bench's mkdocs.yml; `semantic=False` builds no vectors (the renderers alone)."""
    return "  - kb\n" if semantic else "  - kb:\n      semantic: false\n"


@dataclass
class Run:
    """One timed build."""

    tool: str
    articles: int
    seconds: float
    peak_mb: float
    ok: bool
    error: str = ""


def make_corpus(source: Path, count: int, dest: Path) -> int:
    """Write `count` articles made from the corpus's texts into dest/articles; return how many texts fed them.

    Texts are reused round-robin past the corpus's size, with a numbered title so every article
    stays distinct. Links to files the corpus does not carry (DocFX includes, other repos) keep
    their text and lose their target, so both builds see the same, valid Markdown.
    """
    texts, seen = [], set()
    for path in sorted(source.rglob("*.md")):
        meta, _, body, _ = split_front_matter(path.read_text(encoding="utf-8-sig").replace("\r\n", "\n"),
                                               str(path), [])
        title = (meta or {}).get("title")
        if not isinstance(title, str) or not title.strip():
            heading = re.search(r"^# (.+)$", body, re.M)
            title = _ANCHOR.sub("", heading.group(1)).strip() if heading else path.stem
        if fold_title(title) in seen:
            continue  # the corpus repeats some titles; kb check would rightly stop on them
        seen.add(fold_title(title))
        body = _INCLUDE.sub("", body)
        body = _LINK.sub(lambda m: "" if m.group(1) else (m.group(2) if not m.group(3).startswith("http")
                                                           else m.group(0)), body)
        body = re.sub(r"^# .*$", "", _ANCHOR.sub("", body), count=1, flags=re.M)
        texts.append((title.strip(), body))
    if not texts:
        raise ValueError(f"{source}: no Markdown articles to build from")
    articles = dest / "articles"
    for i in range(count):
        title, body = texts[i % len(texts)]
        round_ = i // len(texts)
        folder = articles / f"c{i // PER_CATEGORY:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        shown = title if round_ == 0 else f"{title} (wydanie {round_ + 1})"
        (folder / f"a{i:05d}.md").write_text(
            f"---\nid: a{i:05d}\ntitle: {json.dumps(shown, ensure_ascii=False)}\n---\n{body}\n", encoding="utf-8")
    return min(count, len(texts))


def timed(command: list[str], cwd: Path, timeout: float) -> tuple[float, float, int, str]:
    """Run a command; return (seconds, its peak resident MB, exit code, stderr tail). Killed past `timeout`."""
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr,
                                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        stderr.seek(0)
        tail = stderr.read()[-4000:].decode(errors="replace")
    if time.perf_counter() - started >= timeout:
        tail += f"\nstopped after {timeout:.0f} s"
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    return seconds, usage.ru_maxrss / 1024, process.returncode, tail


def bench_build(source: Path, counts: list[int], work: Path, echo: Callable[[str], None],
                timeout: float = 3600, semantic: bool = True) -> list[Run]:
    """Build each size with plain MkDocs + Material, then kb with each renderer; return the runs.

    With `semantic=False` the kb builds embed nothing: the renderers and kb's own steps alone.
    """
    runs = []
    for count in counts:
        folder = work / f"n{count}"
        echo(f"bench build: making {count} articles in {folder} ...")
        make_corpus(source, count, folder)
        for tool, plugin, command in (
            ("mkdocs build (Material)", "", [sys.executable, "-m", "mkdocs", "build", "-q"]),
            ("kb build", kb_plugin(semantic), [sys.executable, "-m", "kb", "build"]),
            ("kb build (Zensical)", kb_plugin(semantic), [sys.executable, "-m", "kb", "build", "--renderer", "zensical"]),
        ):
            (folder / "mkdocs.yml").write_text(MKDOCS_YML.format(kb=plugin), encoding="utf-8")
            echo(f"bench build: {tool} over {count} articles ...")
            seconds, peak, code, tail = timed(command, folder, timeout)
            runs.append(Run(tool, count, seconds, peak, code == 0, "" if code == 0 else tail.strip()[-400:]))
            echo(f"bench build: {tool}: {seconds:.1f} s, {peak:.0f} MB" + ("" if code == 0 else f", FAILED ({code})"))
    return runs
