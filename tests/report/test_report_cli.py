"""`kb report` and `kb votes simulate` on real SQLite files: exact output, messages and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import kb.cli.report as report_cli
from kb.cli import main
from kb.report.formats import format_json
from kb.votes.store import open_store
from scenario import NOW, article, manifest, review_scenario, sqlite_store
from scenario import TEXT


@pytest.fixture
def site(tmp_path: Path, monkeypatch) -> tuple[Path, str]:
    """A site dir holding the review scenario's manifest, and a SQLite URL holding its rows."""
    monkeypatch.setattr(report_cli, "_now", lambda: NOW)
    m, votes, searches, contacts = review_scenario()
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "kb-manifest.json").write_text(json.dumps(m), encoding="utf-8")
    sqlite_store(tmp_path / "votes.db", votes, searches, contacts).close()
    return site_dir, f"sqlite:///{tmp_path / 'votes.db'}"


def kb(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_report_text_by_default(site):
    site_dir, db = site
    result = kb("report", "--db", db, "--site", str(site_dir))
    assert (result.exit_code, result.stdout, result.stderr) == (0, TEXT, "")


def test_report_to_a_file(site, tmp_path):
    site_dir, db = site
    out = tmp_path / "report.json"
    result = kb("report", "--db", db, "--site", str(site_dir), "--format", "json", "--output", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == (f"kb report: wrote {out} (3 articles, 1 weak, 2 overdue, 1 unrated, 2 content gaps)\n")
    report = json.loads(out.read_text(encoding="utf-8"))
    assert out.read_text(encoding="utf-8") == format_json(report)
    assert [(a["id"], a["flags"]) for a in report["articles"]] == [
        ("track-order", ["weak", "overdue"]), ("reset-password", []), ("refunds", ["overdue", "unrated"])]


@pytest.mark.parametrize("fmt, start", [
    ("csv", "id,title,category,owner,"), ("markdown", "## Help center review: Test Help\n"),
    ("html", "<!doctype html>\n"),
])
def test_report_formats_from_the_command_line(site, fmt, start):
    site_dir, db = site
    result = kb("report", "--db", db, "--site", str(site_dir), "--format", fmt)
    assert result.exit_code == 0 and result.stdout.startswith(start)


def test_filters_from_the_command_line(site):
    site_dir, db = site
    result = kb("report", "--db", db, "--site", str(site_dir), "--format", "json",
                "--since", "2026-11-10", "--category", "account", "--owner", "web", "--target", "0.5")
    report = json.loads(result.stdout)
    assert report["period"]["since"] == "2026-11-10T00:00:00Z"
    assert report["filters"] == {"category": "account", "owner": "web"}
    assert report["target"] == 0.5
    assert [(a["id"], a["votes"], a["helpful"]) for a in report["articles"]] == [("reset-password", 4, 4)]
    result = kb("report", "--db", db, "--site", str(site_dir), "--format", "json", "--since", "5d")
    assert json.loads(result.stdout)["period"]["since"] == "2026-11-18T12:00:00Z"


@pytest.mark.parametrize("fail_on, code, hits", [
    ("weak", 1, "weak"), ("overdue", 1, "overdue"), ("gaps", 1, "gaps"), ("any", 1, "any"),
])
def test_fail_on_exits_1_when_flagged(site, fail_on, code, hits):
    site_dir, db = site
    result = kb("report", "--db", db, "--site", str(site_dir), "--format", "json", "--fail-on", fail_on)
    assert result.exit_code == code
    assert result.stderr == f"kb report: failing on {hits}\n"


def test_fail_on_exits_0_when_nothing_of_that_kind(site, tmp_path):
    site_dir, db = site
    # Only reset-password: neither weak nor overdue; the gaps are site-wide and still there.
    args = ["report", "--db", db, "--site", str(site_dir), "--category", "account", "--format", "json"]
    assert kb(*args, "--fail-on", "weak").exit_code == 0
    assert kb(*args, "--fail-on", "overdue", "--fail-on", "weak").exit_code == 0
    assert kb(*args, "--fail-on", "gaps").exit_code == 1
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "kb-manifest.json").write_text(json.dumps(manifest(article("a", reviewed="2026-11-01"))), encoding="utf-8")
    sqlite_store(tmp_path / "empty.db").close()
    result = kb("report", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--site", str(clean), "--fail-on", "gaps",
                "--fail-on", "weak", "--fail-on", "overdue")
    assert (result.exit_code, result.stderr) == (0, "")
    assert kb("report", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--site", str(clean),
              "--fail-on", "any").exit_code == 1  # the article is unrated


@pytest.mark.parametrize("args, message", [
    (["--format", "xml"], "Invalid value for '--format'"),
    (["--fail-on", "slow"], "Invalid value for '--fail-on'"),
    (["--target", "1.5"], "Invalid value for '--target'"),
    (["--since", "last week"], "Invalid value for --since: expected a date like 2026-09-01 or a duration like 30d, 4w, 6m or 1y, got 'last week'"),
])
def test_usage_errors_exit_2(site, args, message):
    site_dir, db = site
    result = kb("report", "--db", db, "--site", str(site_dir), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_manifest_is_one_line_exit_1(tmp_path):
    result = kb("report", "--db", f"sqlite:///{tmp_path / 'v.db'}", "--site", str(tmp_path))
    assert (result.exit_code, result.stderr) == (
        1, f"{tmp_path / 'kb-manifest.json'}: no such file; build the site first (kb build)\n")


def test_broken_manifest_names_its_line(tmp_path):
    (tmp_path / "kb-manifest.json").write_text('{"articles": [\n  {"id": "a",}\n]}', encoding="utf-8")
    result = kb("report", "--db", f"sqlite:///{tmp_path / 'v.db'}", "--site", str(tmp_path))
    assert (result.exit_code, result.stderr) == (
        1, f"{tmp_path / 'kb-manifest.json'}:2: not valid JSON: Expecting property name enclosed in double quotes\n")


def test_bad_database_urls_are_one_line_exit_1(site, tmp_path):
    site_dir, _ = site
    result = kb("report", "--db", "mysql://localhost/kb", "--site", str(site_dir))
    assert (result.exit_code, result.stderr) == (
        1, "--db: unsupported store URL 'mysql://localhost/kb': expected sqlite:///PATH or postgresql://...\n")
    missing = tmp_path / "nothing.db"
    result = kb("report", "--db", f"sqlite:///{missing}", "--site", str(site_dir))
    assert (result.exit_code, result.stderr) == (
        1, f"{missing}: no such votes database (start the collector with kb votes serve, or run kb votes simulate)\n")
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    result = kb("report", "--db", f"sqlite:///{empty}", "--site", str(site_dir))
    assert (result.exit_code, result.stderr) == (1, f"sqlite:///{empty}: cannot read votes: no such table: votes\n")


def test_postgres_server_down_is_one_line_exit_1(site):
    site_dir, _ = site
    result = kb("report", "--db", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", "--site", str(site_dir))
    assert result.exit_code == 1
    assert result.stderr == ("--db postgresql://nobody@127.0.0.1:1/none?connect_timeout=2: cannot connect to PostgreSQL: "
                             "connection failed: connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n")


def test_a_store_url_is_printed_without_its_password(site):
    site_dir, _ = site
    result = kb("report", "--db", "postgresql://kb:s3cret@127.0.0.1:1/none?connect_timeout=2&password=zz",
                "--site", str(site_dir))
    assert result.exit_code == 1
    assert "s3cret" not in result.stderr and "zz" not in result.stderr
    assert "postgresql://kb:***@127.0.0.1:1/none?connect_timeout=2&password=***" in result.stderr


def test_simulate_then_report_shows_every_finding(tmp_path, monkeypatch):
    monkeypatch.setattr(report_cli, "_now", lambda: NOW)
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    m = manifest(*(article(f"art-{i:02d}", version=f"{i:08x}", reviewed=None if i == 0 else "2026-11-01")
                   for i in range(16)))
    (site_dir / "kb-manifest.json").write_text(json.dumps(m), encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'sim.db'}"
    result = kb("votes", "simulate", "--db", db, "--site", str(site_dir), "--days", "60", "--seed", "2")
    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    assert lines[0].startswith("kb votes simulate: stored ")
    assert lines[0].endswith(" over 60 days (simulated: visitor ids start with 'sim-')")
    assert lines[1].startswith("  weak by design: ")
    assert lines[2].startswith("  improved by an edit: ")
    assert lines[3] == f"  next: kb report --db {db} --site {site_dir}"
    again = kb("votes", "simulate", "--db", db, "--site", str(site_dir), "--days", "60", "--seed", "2")
    assert again.stderr.startswith("kb votes simulate: stored 0 votes, 0 failed searches and 0 contacts")
    result = kb("report", "--db", db, "--site", str(site_dir), "--format", "json", "--fail-on", "weak")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert {f for a in report["articles"] for f in a["flags"]} == {"weak", "overdue", "unrated"}
    assert report["gaps"][0]["query"] == "cancel subscription"
    assert any(len(a["versions"]) == 2 for a in report["articles"])
    assert report["totals"]["contacts"] > 0


def test_simulate_on_a_site_with_languages_gives_each_its_own_history(built_demo_site, tmp_path, monkeypatch):
    monkeypatch.setattr(report_cli, "_now", lambda: NOW)
    db = f"sqlite:///{tmp_path / 'sim.db'}"
    result = kb("votes", "simulate", "--db", db, "--site", str(built_demo_site), "--days", "30")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[1] == "  languages: en, pl (the weak and improved articles below are en's)"
    store = open_store(db)
    try:
        votes, searches = list(store.votes()), list(store.searches())
    finally:
        store.close()
    pl_ids = {a["id"] for a in json.loads((built_demo_site / "kb-manifest.json").read_text())["languages"]["pl"]["articles"]}
    assert {v["language"] for v in votes} == {"en", "pl"}
    assert {v["article"] for v in votes if v["language"] == "pl"} <= pl_ids
    assert "anulowanie subskrypcji" in {s["query"] for s in searches if s["language"] == "pl"}
    assert "anulowanie subskrypcji" not in {s["query"] for s in searches if s["language"] == "en"}
    result = kb("report", "--db", db, "--site", str(built_demo_site), "--language", "pl", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["totals"]["votes"] > 0


def test_simulate_needs_a_built_site(tmp_path):
    result = kb("votes", "simulate", "--db", f"sqlite:///{tmp_path / 'v.db'}", "--site", str(tmp_path))
    assert (result.exit_code, result.stderr) == (
        1, f"{tmp_path / 'kb-manifest.json'}: no such file; build the site first (kb build)\n")


@pytest.mark.parametrize("option, shape", [
    ([], "each with a client address"),
    (["--no-addresses"], "without client addresses (a store from before schema 3)")])
def test_bench_report_runs_small(option, shape):
    result = kb("bench", "report", "--votes", "3000", "--articles", "40", *option)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == (f"kb bench report: 3,000 votes over 40 articles, 90 days, {shape} "
                        "(target: report in at most 5 s on SQLite)")
    assert lines[1].startswith("sqlite: loaded 3,000 votes in ")
    assert lines[2].startswith("sqlite:   ") and " counted of 3,000 received; " in lines[2]


def test_bench_report_gives_each_visitor_one_address_like_the_collectors():
    from kb.bench.report import synthetic_address

    assert re.fullmatch(r"[0-9a-f]{16}", synthetic_address("sim-00ab12cd34"))
    assert synthetic_address("sim-00ab12cd34") == synthetic_address("sim-00ab12cd34")
    assert synthetic_address("sim-00ab12cd34") != synthetic_address("sim-00ab12cd35")


def test_simulate_and_report_on_the_demo_help_center(built_demo_site, tmp_path):
    """A newcomer's first run: every kind of finding, and gaps matched by the site's own search."""
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    assert kb("votes", "simulate", "--db", db, "--site", str(built_demo_site)).exit_code == 0
    result = kb("report", "--db", db, "--site", str(built_demo_site), "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    manifest_ids = {a["id"] for a in json.loads((built_demo_site / "kb-manifest.json").read_text())["articles"]}
    assert {a["id"] for a in report["articles"]} == manifest_ids
    assert {f for a in report["articles"] for f in a["flags"]} == {"weak", "overdue", "unrated"}
    edited = [a for a in report["articles"] if len(a["versions"]) == 2]
    assert len(edited) == 1 and edited[0]["versions"][0]["high"] < 0.6 < edited[0]["versions"][1]["low"]
    gap = report["gaps"][0]
    assert (gap["query"], gap["nearest"][0]) == ("cancel subscription", "cancel-order")
    html = kb("report", "--db", db, "--site", str(built_demo_site), "--format", "html")
    assert html.exit_code == 0 and "<svg " in html.stdout
