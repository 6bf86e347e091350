"""`kb bench build` over a tiny help center made from the real Polish corpus: real `mkdocs build`,
`kb build` and `kb build --renderer zensical` runs. No time is asserted, only what was built."""

from __future__ import annotations

import subprocess
import sys

from support import SHARED

CORPUS = SHARED / "corpora" / "alchemy-pl" / "articles"


def test_bench_build_without_the_semantic_layer_times_the_three_builds_and_embeds_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kb", "bench", "build", "-n", "3", "--no-semantic", "--corpus", str(CORPUS),
         "--work-dir", str(tmp_path), "--timeout", "300"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [" ".join(row[1:-4]) for row in rows] == ["mkdocs build (Material)", "kb build", "kb build (Zensical)"]
    assert all(row[0] == "3" and float(row[-4]) > 0 for row in rows)
    folder = tmp_path / "n3"
    assert sorted(p.stem for p in (folder / "articles").rglob("*.md")) == ["a00000", "a00001", "a00002"]
    assert "semantic: false" in (folder / "mkdocs.yml").read_text(encoding="utf-8")
    site = folder / "site"
    assert (site / "search" / "search_index.json").is_file()  # the last build (Zensical) left kb's index
    assert not (site / "search" / "vectors.npz").exists()  # and no vectors: nothing was embedded
    assert not (folder / ".kb" / "cache" / "embeddings.sqlite").exists()
