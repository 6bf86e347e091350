"""What an operator relies on around the collector: imports are all or nothing, the preview
answers only its own host names."""

from __future__ import annotations

import json

import httpx
import pytest
from support import free_port, run_kb, start_kb_serve

from kb.votes.store import open_store


@pytest.mark.postgres
def test_import_is_all_or_nothing_when_the_database_refuses_a_row(tmp_path, pg_url):
    import psycopg

    good = [{"vote_id": f"0c7e4f1a-3b2d-4e5f-8a9b-1c2d3e4f5a6{i}", "article": "reset-password", "version": "3f2a9c1b",
             "helpful": True, "reason": None, "comment": None, "visitor": "aaaaaaaaaaaaaaaa",
             "created_at": "2026-11-20T08:00:00+00:00"} for i in range(3)]
    # Every record passes the checks; the database itself refuses the fourth (a trigger of the
    # operator's), after the first three are inserted in the same transaction.
    bad = {**good[0], "vote_id": "0c7e4f1a-3b2d-4e5f-8a9b-1c2d3e4f5a69", "article": "refused-by-the-database"}
    store = open_store(pg_url)
    store.migrate()
    store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                     "IF NEW.article = 'refused-by-the-database' THEN RAISE EXCEPTION 'refused'; END IF; "
                     "RETURN NEW; END $$ LANGUAGE plpgsql")
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON votes FOR EACH ROW EXECUTE FUNCTION refuse()")
    path = tmp_path / "votes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*good, bad]), encoding="utf-8")
    result = run_kb("votes", "import", "--db", pg_url, str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert "write failed" in result.stderr and "Traceback" not in result.stderr
    store = open_store(pg_url)
    try:
        assert list(store.votes()) == []
    finally:
        store.close()
    path.write_text("".join(json.dumps(r) + "\n" for r in good), encoding="utf-8")
    result = run_kb("votes", "import", "--db", pg_url, str(path), cwd=tmp_path, check=True)
    assert result.stderr == "kb votes import: stored 3 of 3 votes (the rest were already stored)\n"


def test_kb_serve_answers_only_the_hosts_it_serves(kb_project):
    root = kb_project({"articles/account/reset-password.md": """
        ---
        id: reset-password
        title: How do I reset my password?
        ---
        Open Settings.
        """})
    port = free_port()
    server = start_kb_serve(root, port)
    try:
        base = f"http://127.0.0.1:{port}"
        answers = {host: httpx.get(f"{base}/account/reset-password/", headers={"Host": host}, timeout=10)
                   for host in (f"127.0.0.1:{port}", f"localhost:{port}", "evil.example", f"evil.example:{port}")}
        assert {h: r.status_code for h, r in answers.items()} == {
            f"127.0.0.1:{port}": 200, f"localhost:{port}": 200, "evil.example": 403, f"evil.example:{port}": 403}
        assert answers["evil.example"].text == "kb serve: this preview answers only 127.0.0.1, ::1, localhost"
        r = httpx.post(f"{base}/api/votes", headers={"Host": "evil.example"}, content=b"{}", timeout=10)
        assert r.status_code == 403
    finally:
        server.terminate()
        server.wait(timeout=10)
