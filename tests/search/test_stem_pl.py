"""The JavaScript Polish stemmer gives snowballstemmer's stem for every word of the Polish corpora."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import snowballstemmer
from support import NODE_HINT, missing_service

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
STEM_PL_JS = ROOT / "kb" / "assets" / "search" / "stem_pl.js"
ARTICLE_DIRS = [SHARED / "corpora" / "alchemy-pl" / "articles", SHARED / "eval" / "plhelp" / "articles"]
QUERIES = SHARED / "eval" / "plhelp" / "queries.jsonl"

#: A word: a run of letters (no digits, no underscore), diacritics kept.
WORD = re.compile(r"[^\W\d_]+")

#: Reads the word list named in argv and prints the JS stem of each as a JSON list.
NODE_SCRIPT = """
const [stemPl, wordsPath] = process.argv.slice(1);
const { stem } = require(require("node:path").resolve(stemPl));
const words = JSON.parse(require("node:fs").readFileSync(wordsPath, "utf8"));
process.stdout.write(JSON.stringify(words.map(stem)));
"""


def node_or_skip() -> str:
    """Return the path of node, or skip (fail when KB_REQUIRE_SERVICES=1) if it is missing."""
    node = shutil.which("node")
    if node is None:
        missing_service(NODE_HINT)
    return node


def js_stems(words: list[str], tmp_path: Path) -> list[str]:
    """Stem words with stem_pl.js in one node process."""
    words_json = tmp_path / "words.json"
    words_json.write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    run = subprocess.run([node_or_skip(), "-e", NODE_SCRIPT, str(STEM_PL_JS), str(words_json)],
                         capture_output=True, text=True, encoding="utf-8", check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def py_stems(words: list[str]) -> list[str]:
    """Stem words with the reference Python library."""
    return snowballstemmer.stemmer("polish").stemWords(words)


def corpus_words() -> list[str]:
    """Every distinct lower-cased word of the Polish articles and eval queries, sorted."""
    missing = [path for path in [*ARTICLE_DIRS, QUERIES] if not path.exists()]
    if missing:
        pytest.skip(f"Polish corpora not found: {', '.join(map(str, missing))}")
    texts = [path.read_text(encoding="utf-8") for folder in ARTICLE_DIRS for path in folder.rglob("*.md")]
    with QUERIES.open(encoding="utf-8") as lines:
        texts += [json.loads(line)["query"] for line in lines if line.strip()]
    return sorted({word for text in texts for word in WORD.findall(text.lower())})


def test_js_stems_every_corpus_word_like_snowballstemmer(tmp_path: Path) -> None:
    words = corpus_words()
    assert len(words) > 10_000, f"only {len(words)} distinct words; are the corpora complete?"
    expected, got = py_stems(words), js_stems(words, tmp_path)
    assert len(got) == len(words)
    differing = [f"{w!r}: python {e!r}, js {g!r}" for w, e, g in zip(words, expected, got) if e != g]
    assert not differing, f"{len(differing)} of {len(words)} words differ, first 20:\n" + "\n".join(differing[:20])


def test_forms_of_haslo(tmp_path: Path) -> None:
    # The genitive plural's inserted e (haseł) is not undone, so it keeps a stem of its own.
    words = ["hasło", "hasła", "haseł"]
    expected = ["hasł", "hasł", "haseł"]
    assert py_stems(words) == expected
    assert js_stems(words, tmp_path) == expected


def test_rules_that_rewrite_rather_than_cut(tmp_path: Path) -> None:
    # Not every stem is a prefix of its word: -liśmy becomes ł, a final ć loses its accent.
    words = ["byliśmy", "byłem", "miłość", "noszę", "ś", "by"]
    expected = ["był", "był", "miłośc", "nos", "ś", "by"]
    assert py_stems(words) == expected
    assert js_stems(words, tmp_path) == expected
