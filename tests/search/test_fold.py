"""Folding, Python's (kb.search.text.fold) and the browser's (kb/assets/search/fold.js, which the
search worker and the page's highlighting share), equal on every word of the real data sets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kb.search.text import fold
from support import NODE_HINT, missing_service

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
FOLD_JS = ROOT / "kb" / "assets" / "search" / "fold.js"
# words as customers and writers typed them: any case, diacritics, apostrophes inside
RAW_WORD = re.compile(r"[^\W_]+(?:['\u2019\u02bc][^\W_]+)*")
NODE_SCRIPT = """
const { fold } = require(process.argv[1]);
const words = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
process.stdout.write(JSON.stringify(words.map(fold)));
"""


def data_set_words() -> list[str]:
    """Every distinct word of the eval sets' articles and queries and of the Polish corpus."""
    folders = [SHARED / "eval" / name for name in ("stackfaq", "banking77", "plhelp")] + [SHARED / "corpora"]
    missing = [folder for folder in folders if not folder.exists()]
    if missing:
        pytest.skip(f"data sets not found: {', '.join(map(str, missing))}")
    seen: set[str] = set()
    for folder in folders:
        for path in [*folder.rglob("*.md"), *folder.rglob("queries.jsonl")]:
            seen.update(RAW_WORD.findall(path.read_text(encoding="utf-8")))
    return sorted(seen)


def test_fold_js_folds_every_data_set_word_as_python_does(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        missing_service(NODE_HINT)
    words = data_set_words()
    assert len(words) > 50_000, f"only {len(words)} distinct words; are the data sets complete?"
    (tmp_path / "words.json").write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    run = subprocess.run([node, "-e", NODE_SCRIPT, str(FOLD_JS), str(tmp_path / "words.json")],
                         capture_output=True, text=True, encoding="utf-8", check=False)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    differing = [f"{w!r}: python {fold(w)!r}, js {g!r}" for w, g in zip(words, got) if fold(w) != g]
    assert len(got) == len(words)
    assert not differing, f"{len(differing)} of {len(words)} words differ, first 20:\n" + "\n".join(differing[:20])
