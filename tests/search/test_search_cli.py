"""`kb search` and `kb bench search` as a writer runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import kb.cli.search  # noqa: F401  registers the commands
from kb.cli import main
from kb.search.index import build_index, load_index, write_index
from kb.search.ranker import search


class Doc:
    def __init__(self, id: str, title: str, body: str = "", questions: list[str] | None = None) -> None:
        self.id, self.title, self.url, self.body = id, title, f"{id}/", body
        self.questions, self.tags, self.headings = questions or [], [], []


@pytest.fixture
def site(tmp_path: Path) -> Path:
    docs = [Doc("reset-password", "How do I reset my password?", "Use the Forgot password link."),
            Doc("track-order", "How do I track my parcel?", "Open the tracking link.")]
    write_index(build_index(docs), tmp_path / "site")
    return tmp_path / "site"


def test_kb_search_prints_a_ranked_list(site: Path) -> None:
    result = CliRunner().invoke(main, ["search", "pasword", "--site", str(site)])
    assert result.exit_code == 0, result.output
    assert result.output == "1. How do I reset my password?  [reset-password]  1.57\n   /reset-password/\n"


def test_kb_search_json(site: Path) -> None:
    result = CliRunner().invoke(main, ["search", "track parcel", "--site", str(site), "--json", "--limit", "1"])
    assert result.exit_code == 0, result.output
    top = json.loads(result.output)["results"][0]
    assert json.loads(result.output) == {"query": "track parcel", "results": [
        {"rank": 1, "id": "track-order", "title": "How do I track my parcel?", "url": "track-order/",
         "score": top["score"], "confidence": top["confidence"]}]}
    assert 0.0 <= top["confidence"] <= 1.0


def test_kb_search_says_when_nothing_matches(site: Path) -> None:
    result = CliRunner().invoke(main, ["search", "chocolate cake", "--site", str(site)])
    assert result.exit_code == 0
    assert result.output == "no results for 'chocolate cake'\n"


def test_kb_search_without_a_built_site_fails_with_the_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["search", "x", "--site", str(tmp_path / "site")])
    assert result.exit_code == 1
    assert result.output == (f"{tmp_path / 'site' / 'search' / 'search_index.json'}: "
                             "no search index; build the site first (kb build)\n")


def test_kb_bench_search_writes_the_json_shape(tmp_path: Path) -> None:
    data = tmp_path / "tiny"
    (data / "articles").mkdir(parents=True)
    for id, title in [("reset-password", "How do I reset my password?"), ("track-order", "How do I track my parcel?")]:
        (data / "articles" / f"{id}.md").write_text(f"---\nid: {id}\ntitle: {title}\n---\nText.\n", encoding="utf-8")
    (data / "queries.jsonl").write_text(textwrap.dedent("""\
        {"qid": "1", "query": "forgotten password", "relevant_ids": ["reset-password"]}
        {"qid": "2", "query": "where is my parcel", "relevant_ids": ["track-order"]}
        """), encoding="utf-8")
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", "search", str(data), "--engine", "kb", "--typos", "1",
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert list(figures["datasets"]["tiny"]) == ["clean", "typos"]
    kb = figures["datasets"]["tiny"]["clean"]["kb"]
    assert sorted(kb) == ["answered_hit@1", "answered_hit@1_interval", "answered_rate", "ece", "ece_floor", "hit@1",
                          "hit@5", "index_gzip_bytes", "mrr@10", "p50_ms", "p95_ms", "zero"]
    # `--engine kb` runs both engines the product ships: the server's hybrid too, in Python
    hybrid = figures["datasets"]["tiny"]["clean"]["kb-hybrid"]
    assert sorted(hybrid) == sorted(kb)
    assert (hybrid["hit@1"], hybrid["mrr@10"]) == (1.0, 1.0)
    low, high = kb["answered_hit@1_interval"]
    assert 0.0 <= low <= kb["answered_hit@1"] <= high <= 1.0
    assert (kb["hit@1"], kb["mrr@10"], kb["zero"]) == (1.0, 1.0, 0.0)
    assert "| tiny | 2 | kb | 1.000 |" in result.output


def test_kb_bench_search_runs_ours_with_the_language_analyzer(tmp_path: Path) -> None:
    data = tmp_path / "tiny-pl"
    (data / "articles").mkdir(parents=True)
    for id, title in [("zmiana-hasla", "Jak zmienić hasło?"), ("paczka", "Gdzie jest moja przesyłka?")]:
        (data / "articles" / f"{id}.md").write_text(f"---\nid: {id}\ntitle: {title}\n---\nTekst.\n", encoding="utf-8")
    # "hasłami" meets "hasło" and "przesylkami" (no Polish letters) "przesyłka" only through the
    # Polish stemmer: three letters apart, too far for typo tolerance
    (data / "queries.jsonl").write_text(textwrap.dedent("""\
        {"qid": "1", "query": "problem z hasłami", "relevant_ids": ["zmiana-hasla"]}
        {"qid": "2", "query": "co z moimi przesylkami", "relevant_ids": ["paczka"]}
        """), encoding="utf-8")
    figures = {}
    for language in ("en", "pl"):
        out = tmp_path / f"{language}.json"
        result = CliRunner().invoke(main, ["bench", "search", str(data), "--engine", "kb", "--language", language,
                                           "--json", str(out)])
        assert result.exit_code == 0, result.output
        figures[language] = json.loads(out.read_text(encoding="utf-8"))["datasets"]["tiny-pl"]["clean"]["kb"]["hit@1"]
    assert figures["pl"] == 1.0 and figures["en"] < 1.0


def test_kb_bench_search_rejects_an_unknown_engine(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bench", "search", str(tmp_path), "--engine", "google"])
    assert result.exit_code == 2
    assert "unknown engine 'google'" in result.output


def test_build_search_rebuilds_the_index_of_a_built_site(kb_project, capsys) -> None:
    from kb.cli.site import build_search_main as build_search

    root = kb_project({
        "articles/track-order.md": "---\nid: track-order\ntitle: How do I track my parcel?\n---\nUse the link.\n",
        "articles/draft.md": "---\nid: draft\ntitle: Not yet\ndraft: true\n---\nSoon.\n",
        "articles/synonyms.yml": "parcel: [package]\n",
    })
    config = str(root / "mkdocs.yml")
    assert build_search([config]) == 1
    assert capsys.readouterr().err == f"{root / 'site'}: no built site; run `kb build` (or `mkdocs build`) first\n"
    (root / "site").mkdir()
    assert build_search([config]) == 0
    assert capsys.readouterr().err == (f"search index: 1 articles, 9 terms -> "
                                       f"{root / 'site' / 'search' / 'search_index.json'}\n")
    index = load_index(root / "site")
    assert [h.id for h in search(index, "package")] == ["track-order"]


def test_build_search_keeps_the_search_plugins_separator_and_reports_bad_yaml(kb_project, capsys) -> None:
    from kb.cli.site import build_search_main as build_search

    mkdocs_yml = ("site_name: Help\ndocs_dir: articles\ntheme:\n  name: material\n"
                  "plugins:\n  - search:\n      separator: '[\\s\\-\\.]+'\n  - kb\n")
    root = kb_project({"articles/track-order.md": "---\nid: track-order\ntitle: Track a parcel\n---\nUse the link.\n"},
                      mkdocs_yml=mkdocs_yml)
    (root / "site").mkdir()
    # As writers run it: the script, from another folder, with the path to mkdocs.yml.
    script = Path(__file__).resolve().parents[2] / "build_search.py"
    result = subprocess.run([sys.executable, str(script), str(root / "mkdocs.yml")], cwd=root.parent,
                            capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    assert result.stderr.startswith("search index: 1 articles, ")
    data = json.loads((root / "site" / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert data["config"]["separator"] == r"[\s\-\.]+"

    (root / "mkdocs.yml").write_text("site_name: Help\nplugins: [search\n", encoding="utf-8")
    assert build_search([str(root / "mkdocs.yml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{root / 'mkdocs.yml'}:3: not valid YAML: ")
    assert "Traceback" not in err
