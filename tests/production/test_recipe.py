"""The README's production recipe, run as written where a test can: the PostgreSQL role and the
database it owns (PostgreSQL 15 refuses tables in another's `public` schema), and its systemd units
as systemd itself reads them."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from support import ROOT, free_port, missing_service, write_site

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _collector(site: Path, db: str, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kb", "votes", "serve", "--site", str(site), "--db", db,
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@pytest.mark.postgres
def test_the_collectors_role_owns_its_database_and_runs_there(postgres_url, tmp_path):
    """`createuser kb` and `createdb --owner kb help` as the README says (here as SQL, with fresh
    names): a collector connecting as that role creates its tables and stores a vote; on a
    database it does not own it stops at once, naming the reason the README gives."""
    import psycopg

    assert "sudo -u postgres createuser --pwprompt kb " in README
    assert "sudo -u postgres createdb --owner kb help " in README
    role, owned, other = (f"kb_recipe_{uuid.uuid4().hex[:8]}{s}" for s in ("", "_help", "_other"))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'recipe'")
        conn.execute(f"CREATE DATABASE {owned} OWNER {role}")
        conn.execute(f"CREATE DATABASE {other}")
    server = postgres_url.rsplit("/", 1)[0].split("://", 1)[1].split("@", 1)[-1]
    as_role = {name: f"postgresql://{role}:recipe@{server}/{name}" for name in (owned, other)}
    site = write_site(tmp_path / "site")
    proc = None
    try:
        refused = subprocess.run([sys.executable, "-m", "kb", "votes", "serve", "--site", str(site), "--db",
                                  as_role[other], "--port", str(free_port())], capture_output=True, text=True,
                                 timeout=60, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
        assert refused.returncode == 1
        assert refused.stderr.endswith("cannot open the votes store: permission denied for schema public\n")
        assert "recipe@" not in refused.stderr  # the password is not shown
        port = free_port()
        proc = _collector(site, as_role[owned], port)
        vote = {"vote_id": str(uuid.uuid4()), "article": "reset-password", "version": "3f2a9c1b", "helpful": True}
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.post(f"http://127.0.0.1:{port}/api/votes", content=json.dumps(vote),
                               headers={"User-Agent": "Mozilla/5.0 recipe", "Content-Type": "text/plain"})
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=5)[1]
                time.sleep(0.1)
        assert r.status_code == 204
        with psycopg.connect(as_role[owned]) as conn:
            assert conn.execute("SELECT vote_id FROM votes").fetchall() == [(vote["vote_id"],)]
            assert conn.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'").fetchall() \
                == [(role,)]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            for name in (owned, other):
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_systemd_reads_the_readmes_units_without_a_complaint(tmp_path):
    """`systemd-analyze verify` on both units as the README writes them; only the program's path is
    this checkout's, as systemd checks that it exists."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing_service("systemd-analyze is not installed (apt-get install systemd)")
    units = re.findall(r"saved as `/etc/systemd/system/(kb-votes@\.service)`:\n\n```ini\n(.*?)```|"
                       r"\*\*One collector on SQLite\*\*, `/etc/systemd/system/(kb-votes\.service)`.*?```ini\n(.*?)```",
                       README, re.S)
    found = {a or c: b or d for a, b, c, d in units}
    assert sorted(found) == ["kb-votes.service", "kb-votes@.service"]
    kb = Path(sys.executable).with_name("kb")
    assert kb.exists()
    for name, text in found.items():
        assert "ExecStart=/opt/kb/bin/kb votes serve " in text and "ProtectSystem=strict" in text
        (tmp_path / name).write_text(text.replace("/opt/kb/bin/kb", str(kb)), encoding="utf-8")
        result = subprocess.run([analyze, "verify", str(tmp_path / name)], capture_output=True, text=True, timeout=60)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), name
    sqlite = found["kb-votes.service"]
    assert "StateDirectory=kb\n" in sqlite and "--db sqlite:////var/lib/kb/votes.db " in sqlite
