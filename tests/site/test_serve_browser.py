"""`kb serve`, the newcomer's first command: a vote clicked in the page is stored and exported."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from support import ROOT, free_port, run_kb, start_kb_serve

pytestmark = pytest.mark.browser


def test_a_vote_in_the_preview_is_stored_and_exported(tmp_path: Path, chromium):
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "articles", tmp_path / "articles")
    port = free_port()
    server = start_kb_serve(tmp_path, port, timeout=90)
    base = f"http://127.0.0.1:{port}"
    try:
        manifest = json.loads(urllib.request.urlopen(f"{base}/kb-manifest.json", timeout=5).read())
        article = next(a for a in manifest["articles"] if a["id"] == "exchange-size")

        context = chromium.new_context()
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
        page.goto(f"{base}/{article['url']}")
        page.click('form.md-feedback button[data-md-value="0"]')
        page.check(".kb-feedback input[value=incomplete]")
        page.fill(".kb-feedback textarea", "Which sizes are in stock?")
        page.click(".kb-feedback button[type=submit]")
        page.wait_for_selector(".kb-feedback__thanks")
        context.close()
        assert errors == []

        db = f"sqlite:///{(tmp_path / '.kb' / 'votes.db').as_posix()}"
        deadline = time.monotonic() + 10
        while True:
            exported = run_kb("votes", "export", "--db", db, "--format", "jsonl", cwd=tmp_path, check=True)
            rows = [json.loads(line) for line in exported.stdout.splitlines()]
            if rows or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [(r["article"], r["version"], r["helpful"], r["reason"], r["comment"]) for r in rows] == [
            ("exchange-size", article["version"], False, "incomplete", "Which sizes are in stock?")]
    finally:
        server.terminate()
        server.wait(timeout=10)
