"""Pre-compressed assets: `kb build` writes a .gz beside what a first visit fetches, and keeps it current."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

from support import ROOT, run_kb

ARTICLES = {
    "articles/orders/_category.yml": "title: Orders\n",
    "articles/orders/cancel.md": "---\ntitle: How do I cancel my order?\n---\nOpen Account, then Orders.\n",
    "articles/orders/change.md": "---\ntitle: Can I change my order?\n---\n" + " ".join(
        f"Step {i}: open the order and change line {i}." for i in range(40)) + "\n",
}


def compressed(site: Path) -> dict[str, Path]:
    return {p.relative_to(site).as_posix(): p for p in site.rglob("*.gz") if p.name != "sitemap.xml.gz"}


def test_kb_build_writes_a_gz_beside_every_asset_and_search_file(kb_project):
    root = kb_project(ARTICLES)
    run_kb("build", cwd=root, check=True)
    site = root / "site"
    gz = compressed(site)
    stylesheet = next(site.glob("assets/stylesheets/main.*.min.css"))
    bundle = next(site.glob("assets/javascripts/bundle.*.min.js"))
    for wanted in (stylesheet, bundle, site / "assets/kb/search/worker.js", site / "search/search_index.json"):
        packed = gz[wanted.relative_to(site).as_posix() + ".gz"]
        assert gzip.decompress(packed.read_bytes()) == wanted.read_bytes()
        assert packed.stat().st_size < wanted.stat().st_size / 2
    # only assets/ and search/: pages are compressed by the server as it sends them
    assert {name.split("/")[0] for name in gz} == {"assets", "search"}
    assert not any(name.endswith((".map.gz", ".png.gz")) for name in gz)
    # the answers file is read from disk by the collector, never fetched by a browser
    assert (site / "search" / "kb-answers.json").is_file() and "search/kb-answers.json.gz" not in gz


def test_rebuilding_the_index_compresses_it_again(kb_project):
    root = kb_project(ARTICLES)
    run_kb("build", cwd=root, check=True)
    index = root / "site" / "search" / "search_index.json"
    (root / "articles" / "orders" / "return.md").write_text(
        "---\ntitle: How do I return an item?\n---\n" + "Start a return in Account. " * 60 + "\n", encoding="utf-8")
    subprocess.run([sys.executable, str(ROOT / "build_search.py")], cwd=root, check=True, capture_output=True)
    assert b"How do I return an item?" in index.read_bytes()
    assert gzip.decompress((index.parent / "search_index.json.gz").read_bytes()) == index.read_bytes()
