"""kb check in pull requests, unfinished articles, and the rough edges of a first `kb serve`."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import pytest
from support import MKDOCS_YML, free_port, run_kb, start_kb_serve

ARTICLES = {
    "articles/pay/blik.md": """
        ---
        title: "Can I pay with BLIK, now: 100%?"
        tags: blik
        ---
        Yes.
        """,
    "articles/pay/card.md": """
        ---
        title: Can I pay by card?
        owner: "@payments"
        reviewed: 2026-01-10
        ---
        Yes, Visa and Mastercard.
        """,
}
REQUIRE_YML = MKDOCS_YML.replace("  - kb:\n", "  - kb:\n      require: [owner, reviewed]\n")


def test_check_writes_github_workflow_commands(kb_project):
    root = kb_project(ARTICLES)
    result = run_kb("check", "--format", "github", cwd=root)
    assert result.returncode == 1
    assert result.stdout == (
        "::error file=articles/pay/blik.md,line=3::'tags' must be a list of strings, got 'blik' (str)"
        "%0Ahint: write  tags: [blik]\n"
        "kb check: 1 error, 0 warnings in 2 articles\n")


def test_check_escapes_what_workflow_commands_cannot_hold(kb_project):
    root = kb_project({"articles/a, b: c.md": "---\ntitle: 100% sure\ntags: 50%\n---\nText.\n"})
    result = run_kb("check", "--format", "github", cwd=root)
    assert result.stdout.splitlines()[0] == (
        "::error file=articles/a%2C b%3A c.md,line=3::'tags' must be a list of strings, got '50%25' (str)"
        "%0Ahint: write  tags: [50%25]")


def test_check_writes_json(kb_project):
    root = kb_project(ARTICLES)
    result = run_kb("check", "--format", "json", cwd=root)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "problems": [{"path": "articles/pay/blik.md", "line": 3, "severity": "error",
                      "message": "'tags' must be a list of strings, got 'blik' (str)", "hint": "write  tags: [blik]"}],
        "errors": 1, "warnings": 0, "articles": 2,
    }


def test_check_warns_about_the_placeholder_and_required_keys(kb_project):
    root = kb_project({"articles/pay/card.md": ARTICLES["articles/pay/card.md"]}, mkdocs_yml=REQUIRE_YML)
    run_kb("new", "Can I pay later?", "--category", "pay", cwd=root, check=True)
    (root / "articles" / "pay" / "old.md").write_text("---\ntitle: An old answer\n---\nStill true.\n",
                                                       encoding="utf-8")
    result = run_kb("check", cwd=root)
    assert result.returncode == 0
    assert result.stderr == (
        "articles/pay/can-i-pay-later.md:12: warning: still holds kb new's placeholder text\n"
        "    hint: replace it with the answer: first paragraph, then the steps\n"
        "articles/pay/old.md:1: warning: no 'owner' (this site requires it of every article)\n"
        "    hint: add  owner: ...  to the front matter (see require: in mkdocs.yml)\n"
        "articles/pay/old.md:1: warning: no 'reviewed' (this site requires it of every article)\n"
        "    hint: add  reviewed: ...  to the front matter (see require: in mkdocs.yml)\n"
        "kb check: 0 errors, 3 warnings in 3 articles\n")


def test_require_names_only_keys_it_knows(kb_project):
    root = kb_project(ARTICLES, mkdocs_yml=MKDOCS_YML.replace("  - kb:\n", "  - kb:\n      require: [owners]\n"))
    result = run_kb("check", cwd=root)
    assert (result.returncode, result.stderr) == (1, (
        "mkdocs.yml: the kb plugin's require: must be a list of any of owner, reviewed, "
        "review_every, questions, tags; got ['owners']\n"))


def test_serve_checks_the_store_url_before_building(kb_project):
    root = kb_project({"articles/pay/card.md": ARTICLES["articles/pay/card.md"]})
    result = run_kb("serve", "--db", "nonsense://x", cwd=root)
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", "kb serve: --db nonsense://x: unsupported store URL: expected sqlite:///PATH or postgresql://...\n")
    assert not (root / ".kb" / "preview").exists()


def test_serve_says_the_port_is_in_use_before_building(kb_project):
    root = kb_project({"articles/pay/card.md": ARTICLES["articles/pay/card.md"]})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_kb("serve", "--port", str(port), cwd=root)
    assert (result.returncode, result.stderr) == (
        2, f"kb serve: port {port} on 127.0.0.1 is in use; stop what uses it, or pass another, e.g. --port {port + 1}\n")
    assert not (root / ".kb" / "preview").exists()


@pytest.mark.parametrize("command", [
    ("serve",), ("votes", "serve", "--site", "."), ("votes", "export"), ("report", "--site", "site")])
def test_a_postgresql_that_is_down_is_one_line_at_once(kb_project, command):
    root = kb_project({"articles/pay/card.md": ARTICLES["articles/pay/card.md"]})
    (root / "kb-manifest.json").write_text('{"version": 1, "site_name": "", "articles": []}', encoding="utf-8")
    (root / "site").mkdir()
    (root / "site" / "kb-manifest.json").write_text('{"version": 1, "site_name": "", "articles": []}',
                                                    encoding="utf-8")
    port = free_port()  # nobody listens there
    url = f"postgresql://postgres@127.0.0.1:{port}/kb"
    result = run_kb(*command, "--db", url, cwd=root, timeout=20)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"--db {url}: cannot connect to PostgreSQL: connection failed: connection to server at "
                             f"\"127.0.0.1\", port {port} failed: Connection refused\n")


def test_ctrl_c_ends_serve_quietly(kb_project):
    root = kb_project({"articles/pay/card.md": ARTICLES["articles/pay/card.md"]})
    port = free_port()
    server = start_kb_serve(root, port, timeout=120, separate_stderr=True)
    try:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0
    assert "Aborted" not in err and "Traceback" not in err
    assert err.splitlines()[-1] == (f"kb serve: http://127.0.0.1:{port}/  (votes: sqlite:///{root.resolve()}"
                                    "/.kb/votes.db; Ctrl+C to stop)")


def test_a_stopped_preview_stores_the_searches_it_answered(kb_project):
    """`kb serve` answers the worker's /api/search and records each search in a group commit that
    waits up to a second: stopped by SIGTERM right after, it commits them before it exits."""
    import sqlite3

    import httpx

    root = kb_project({"articles/pay/card.md": ARTICLES["articles/pay/card.md"]})
    port = free_port()
    server = start_kb_serve(root, port, timeout=120, separate_stderr=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"User-Agent": "Mozilla/5.0"}) as client:
            answered = [client.get("/api/search", params={"q": f"pay by card {i}"}).status_code for i in range(20)]
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert (answered, server.returncode) == ([200] * 20, 0)
    assert "Traceback" not in err
    with sqlite3.connect(root / ".kb" / "votes.db") as db:
        assert db.execute("SELECT count(*) FROM searches").fetchone() == (20,)


def test_report_and_simulate_default_to_the_site_folder(built_demo_site: Path):
    work = built_demo_site.parent
    run_kb("votes", "simulate", "--db", "sqlite:///simulated.db", "--days", "3", cwd=work, check=True)
    result = run_kb("report", "--db", "sqlite:///simulated.db", "--format", "json", cwd=work, check=True)
    assert {a["id"] for a in json.loads(result.stdout)["articles"]} == {
        a["id"] for a in json.loads((built_demo_site / "kb-manifest.json").read_text(encoding="utf-8"))["articles"]}
