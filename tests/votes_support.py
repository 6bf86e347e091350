"""Fixtures and helpers shared by the votes and store tests (collector on a free port)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

POSTGRES_ENV = "KB_TEST_POSTGRES_URL"


def pick_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    import psycopg

    schema = "kb_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """The URL of an empty store: a SQLite file, then (marked postgres) a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/votes.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url):
    from kb.store import open_store

    s = open_store(store_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()


MANIFEST = {
    "version": 1,
    "site_name": "Test help",
    "generated_at": "2026-11-23T09:00:00+00:00",
    "articles": [
        {"id": "reset-password", "version": "3f2a9c1b", "title": "How do I reset my password?",
         "url": "account/reset-password/", "category": "account", "owner": None,
         "reviewed": None, "review_every": None},
        {"id": "track-order", "version": "aa11bb22", "title": "Where is my order?",
         "url": "shipping/track-order/", "category": "shipping", "owner": None,
         "reviewed": None, "review_every": None},
    ],
}


def write_site(site: Path, manifest: dict = MANIFEST) -> Path:
    site.mkdir(parents=True, exist_ok=True)
    (site / "kb-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return site


class LiveServer:
    """The collector under uvicorn (with kb's slow-client protection) in a thread."""

    def __init__(self, app, port: int | None = None, **options) -> None:
        import uvicorn

        from kb.votes_server import server_config

        self.port = port or pick_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(server_config(app, host="127.0.0.1", port=self.port,
                                                   log_level="warning", **options))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("collector did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def vote(**fields) -> dict:
    body = {"vote_id": str(uuid.uuid4()), "article": "reset-password", "version": "3f2a9c1b",
            "helpful": False, "reason": "outdated", "comment": "The Settings menu has moved.",
            "website": ""}
    body.update(fields)
    return body


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)
