"""`kb votes import` checks every record as the collector checks a vote, and stores a file whole or
not at all; `kb votes export` leaves a complete file or none. Real SQLite files, the real CLI, a
real full file system."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import missing_service, utc

import kb.cli.votes  # noqa: F401  (registers the commands until kb.cli imports it)
from kb.cli import main
from kb.votes.store import TABLES, open_store

VISITOR, ADDRESS = "3f9a0c1d2e4b5a69", "a1b2c3d4e5f60718"
GOOD = {"vote_id": "8c1f6f0e-5b7a-4c3e-9a57-2f1d0c9b8e71", "article": "reset-password", "version": "3f2a9c1b",
        "helpful": False, "reason": "outdated", "comment": "The Settings menu has moved.", "visitor": VISITOR,
        "created_at": "2026-11-20T08:00:00.000000+00:00", "language": "en", "address": ADDRESS}
UUIDS = [f"8c1f6f0e-5b7a-4c3e-9a57-2f1d0c9b8e{n:02x}" for n in range(256)]
# The fuzz tests' stores: real SQLite files, in memory-backed /dev/shm where there is one (the
# hundreds of imports there pay no fsync).
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _source(path: Path) -> str:
    """A store with rows of every table whose text is hard to carry: quotes, commas, line breaks of
    every kind, a formula, emoji, right-to-left text, an empty and a missing optional field."""
    url = f"sqlite:///{path}"
    store = open_store(url)
    store.migrate()
    comments = ['Line one\nline "two", =SUM(A1)', "tab\there\r\nand CRLF", "sep\u2028ara\u2029tors\x85 too",
                "émoji 👍🏽 and עברית", None]
    store.add_votes([{"vote_id": UUIDS[i], "article": "reset-password" if i % 2 else "track-order",
                      "version": "3f2a9c1b", "helpful": i % 3 == 0, "reason": None if i % 3 == 0 else "unclear",
                      "comment": None if i % 3 == 0 else comments[i % len(comments)], "visitor": VISITOR,
                      "created_at": utc(2026, 11, 20, 8, i), "language": "pl" if i % 2 else "en",
                      "address": ADDRESS if i % 4 else None} for i in range(8)])
    store.add_searches([{"event_id": UUIDS[100 + i], "query": ["zwrot kasy", "where, is \"it\"", "a\nb"][i],
                         "results": i, "article": None if i else "reset-password", "visitor": VISITOR,
                         "created_at": utc(2026, 11, 21, 9, i), "language": "en",
                         "channel": [None, "web", "mcp"][i], "address": ADDRESS} for i in range(3)])
    store.add_contacts([{"event_id": UUIDS[200 + i], "channel": "Chat with us", "article": "track-order",
                         "query": [None, "zwrot"][i], "visitor": VISITOR, "created_at": utc(2026, 11, 22, 10, i),
                         "language": None, "address": None} for i in range(2)])
    store.close()
    return url


def _dump(url: str) -> dict[str, list[dict]]:
    store = open_store(url)
    try:
        return {table: list(store.rows(table)) for table in TABLES}
    finally:
        store.close()


def _import(file: Path, db: str):
    result = CliRunner().invoke(main, ["votes", "import", "--db", db, str(file)])
    # never a traceback: every failure is a message and an exit code
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, bytes]:
    """The source store exported as JSON Lines (every table) and as CSV (each table)."""
    tmp = tmp_path_factory.mktemp("exports")
    url = _source(tmp / "source.db")
    out: dict[str, bytes] = {"source": url.encode()}
    runner = CliRunner()
    for name, args in [("all.jsonl", ["--table", "all"]), *[(f"{t}.csv", ["--format", "csv", "--table", t])
                                                            for t in TABLES]]:
        result = runner.invoke(main, ["votes", "export", "--db", url, *args, "-o", str(tmp / name)])
        assert result.exit_code == 0, result.output
        out[name] = (tmp / name).read_bytes()
    return out


# -- every record checked as the collector checks a vote ------------------------------------------

BAD = [
    ({"reason": "bogus-reason"}, 'reason: must be one of not_answered, unclear, outdated, incomplete, got "bogus-reason"'),
    ({"comment": "x" * 100_000}, "comment: must be at most 500 characters, got 100000"),
    ({"vote_id": "not-a-uuid"}, "vote_id: must be a UUID like 8c1f6f0e-5b7a-4c3e-9a57-2f1d0c9b8e71, got 'not-a-uuid'"),
    ({"language": "../../etc"}, 'language: must look like en or pt-BR, got "../../etc"'),
    ({"created_at": None}, "created_at: is required: the time the collector stored the record"),
    ({"created_at": "2026-11-20T08:00:00"},
     'created_at: has no time zone: "2026-11-20T08:00:00"; expected UTC, like 2026-11-20T08:00:00.000000+00:00'),
    ({"created_at": "yesterday"},
     'created_at: must be an ISO 8601 time like 2026-11-20T08:00:00.000000+00:00, got "yesterday"'),
    ({"created_at": 1763625600}, "created_at: must be an ISO 8601 time like 2026-11-20T08:00:00.000000+00:00, got integer"),
    ({"visitor": "3f9a0c1"}, 'visitor: must be 16 hex digits (the collector\'s pseudonym), got "3f9a0c1"'),
    ({"visitor": None}, "visitor: is required: the collector's pseudonym of the visitor"),
    ({"address": "10.0.0.7"}, 'address: must be 16 hex digits (the collector\'s pseudonym), got "10.0.0.7"'),
    ({"helpful": "false"}, "helpful: must be true or false, got string"),
    ({"helpful": True}, "reason: is only given with helpful: false"),
    ({"article": None}, "article: must be a string, got null"),
    ({"version": "v" * 65}, "version: must be at most 64 characters, got 65"),
    ({"website": "spam"}, "website: unknown field (a votes record has vote_id, article, version, helpful, reason, "
                          "comment, visitor, created_at, language, address)"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m.split(":")[0] + "-" + str(i) for i, (_, m) in enumerate(BAD)])
def test_a_record_the_collector_would_refuse_is_named_and_nothing_is_imported(tmp_path, change, message):
    path = tmp_path / "votes.jsonl"
    records = [GOOD, {**GOOD, "vote_id": UUIDS[1], **change}, {**GOOD, "vote_id": UUIDS[2]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    db = f"sqlite:///{tmp_path}/votes.db"
    result = _import(path, db)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"{path}:2: {message}\nkb votes import: 1 bad record(s) in {path}; nothing imported\n"
    assert _dump(db)["votes"] == []


def test_every_bad_record_of_every_table_is_named_before_anything_is_stored(tmp_path):
    search = {"event_id": UUIDS[100], "query": "zwrot", "results": 0, "article": None, "visitor": VISITOR,
              "created_at": "2026-11-21T09:00:00+00:00", "language": "pl", "channel": "web", "address": None}
    contact = {"event_id": UUIDS[200], "channel": "Chat with us", "article": None, "query": None, "visitor": VISITOR,
               "created_at": "2026-11-21T09:00:00+00:00", "language": "pl", "address": None}
    lines = [json.dumps(GOOD), json.dumps({**search, "results": -1, "channel": "Web!"}), "",
             json.dumps({**contact, "channel": "c" * 101, "created_at": None}), '{"vote_id": "8c1f6f0e-',
             "[1, 2]", json.dumps({**GOOD, "comment": "another comment"}), json.dumps(search), json.dumps(contact)]
    path = tmp_path / "all.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path}/votes.db"
    result = _import(path, db)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:2: results: must be between 0 and 1000000, got -1",
        f"{path}:4: created_at: is required: the time the collector stored the record",
        f"{path}:4: channel: must be at most 100 characters, got 101",
        f"{path}:5: not valid JSON: Unterminated string starting at: line 1 column 13 (char 12)",
        f"{path}:6: not a record: expected a JSON object, got array",
        f"{path}:7: vote_id: {GOOD['vote_id']} is on line 1 too, with other fields",
        f"kb votes import: 5 bad record(s) in {path}; nothing imported",
    ]
    assert _dump(db) == {"votes": [], "searches": [], "contacts": []}


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    path = tmp_path / "votes.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + json.dumps({**GOOD, "vote_id": UUIDS[1], "comment": "café"},
                                                                            ensure_ascii=False).encode("latin-1") + b"\n")
    result = _import(path, f"sqlite:///{tmp_path}/votes.db")
    assert (result.exit_code, result.stderr) == (1, f"{path}:2: not UTF-8 text (byte 0xe9): a kb export is UTF-8\n"
                                                    f"kb votes import: 1 bad record(s) in {path}; nothing imported\n")


def test_an_export_of_every_table_moves_whole_text_and_all(exports, tmp_path):
    source = exports["source"].decode()
    (tmp_path / "all.jsonl").write_bytes(exports["all.jsonl"])
    db = f"sqlite:///{tmp_path}/all.db"
    result = _import(tmp_path / "all.jsonl", db)
    assert (result.exit_code, result.stderr) == (0, "kb votes import: stored 8 of 8 votes, 3 of 3 searches, "
                                                    "2 of 2 contacts (the rest were already stored)\n")
    assert _dump(db) == _dump(source)
    for table in TABLES:
        (tmp_path / f"{table}.csv").write_bytes(exports[f"{table}.csv"])
        db = f"sqlite:///{tmp_path}/{table}.db"
        assert _import(tmp_path / f"{table}.csv", db).exit_code == 0
        assert _dump(db)[table] == _dump(source)[table]


# -- cut files: the complete records are the whole file, or the import fails naming the cut ---------


def _jsonl_records(data: bytes, cut: int) -> tuple[list[str], bool]:
    """Keys of the records wholly within data[:cut], and whether the cut leaves one part way."""
    keys, offset = [], 0
    for line in data.split(b"\n"):
        end = offset + len(line)
        if line and cut >= end:
            record = json.loads(line)
            keys.append(record.get("vote_id") or record["event_id"])
        elif line and cut > offset:
            return keys, True
        offset = end + 1
    return keys, False


def _csv_records(data: bytes, cut: int) -> tuple[list[str], bool]:
    """The same for CSV, where a row is whole once its line end has begun. Each row here starts with
    its UUID, which no quoted line break inside a row is followed by. A cut in the header leaves no
    record: such a file may be refused or import nothing."""
    header, *rows = re.split(rb"\r\n(?=[0-9a-f]{8}-|$)", data)
    keys, offset = [], len(header) + 2
    if cut < offset:
        return [], False
    for row in rows:
        end = offset + len(row)
        if cut > end:
            keys.append(row[:36].decode())
        elif cut > offset:
            return keys, True
        offset = end + 2
    return keys, False


def _check_cut(name: str, data: bytes, cut: int) -> None:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        path = Path(tmp) / name
        path.write_bytes(data[:cut])
        db = f"sqlite:///{tmp}/target.db"
        result = _import(path, db)
        stored = _dump(db)
        keys = sorted(r.get("vote_id") or r["event_id"] for rows in stored.values() for r in rows)
        if name.endswith(".csv"):
            whole, partial = _csv_records(data, cut)
        else:
            whole, partial = _jsonl_records(data, cut)
        if result.exit_code == 0:
            assert not partial, f"cut at {cut} of {len(data)} imported a cut record"
            assert keys == sorted(whole)
        else:
            assert partial or (name.endswith(".csv") and cut < data.index(b"\r\n") + 2), \
                f"cut at {cut}: {result.stderr}"
            assert keys == []
            *problems, summary = result.stderr.splitlines()
            assert problems and all(line.startswith(f"{path}:") and re.match(r"\d+: ", line[len(str(path)) + 1:])
                                    for line in problems), result.stderr
            assert summary.endswith(f"bad record(s) in {path}; nothing imported")


@pytest.mark.parametrize("name", ["all.jsonl", "votes.csv"])
def test_every_cut_in_the_last_record_is_refused_or_loses_nothing(exports, name):
    data = exports[name]
    last = data.rstrip(b"\r\n").rfind(b"\n") + 1
    for cut in range(last, len(data) + 1):
        _check_cut(name, data, cut)


def _fuzz(examples: int) -> settings:
    # derandomized: CI runs the same examples every time, and a failure names its example
    return settings(max_examples=examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_fuzz(100)
@given(name=st.sampled_from(["all.jsonl", "votes.csv", "searches.csv", "contacts.csv"]), where=st.floats(0, 1))
def test_a_file_cut_anywhere_imports_its_whole_records_or_nothing(exports, name, where):
    data = exports[name]
    _check_cut(name, data, int(where * len(data)))


@_fuzz(200)
@given(name=st.sampled_from(["all.jsonl", "votes.csv", "searches.csv", "contacts.csv"]),
       edits=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(["delete", "insert", "replace", "repeat line"]),
                                st.binary(min_size=1, max_size=4)), min_size=1, max_size=3))
def test_a_corrupted_file_is_imported_whole_or_refused_with_its_lines_named(exports, name, edits):
    data = bytearray(exports[name])
    for where, how, payload in edits:
        at = int(where * len(data))
        if how == "delete":
            del data[at:at + len(payload)]
        elif how == "insert":
            data[at:at] = payload
        elif how == "replace":
            data[at:at + len(payload)] = payload
        else:
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            data[start:start] = data[start:(len(data) if end < 0 else end + 1)]
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        path = Path(tmp) / name
        path.write_bytes(bytes(data))
        db = f"sqlite:///{tmp}/target.db"
        result = _import(path, db)
        stored = _dump(db)
        if result.exit_code == 0:
            # every record the file holds is stored: as many rows as the file has records
            read = re.search(r"stored (.*) \(the rest", result.stderr)
            assert read, result.stderr
            counts = {t: (int(n), int(total)) for n, total, t in re.findall(r"(\d+) of (\d+) (\w+)", read.group(1))}
            assert counts == {t: (len(rows), len(rows)) for t, rows in stored.items() if rows}
        else:
            assert result.exit_code == 1
            assert stored == {"votes": [], "searches": [], "contacts": []}
            *problems, summary = result.stderr.splitlines()
            assert problems and all(line.startswith(f"{path}:") for line in problems), result.stderr
            assert summary.endswith(f"bad record(s) in {path}; nothing imported")


# -- exports are complete or absent -------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A real file system of 64 KiB (tmpfs), mounted for the test and unmounted after it."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        missing_service(f"cannot mount a small tmpfs to fill ({done.stderr.strip()}); run the tests as root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _big_store(path: Path, votes: int = 2000) -> str:
    url = f"sqlite:///{path}"
    store = open_store(url)
    store.migrate()
    store.add_votes([{**GOOD, "vote_id": f"8c1f6f0e-5b7a-4c3e-9a57-{n:012x}", "created_at": utc(2026, 11, 20, 8, 0, n % 60, n)}
                     for n in range(votes)])
    store.close()
    return url


def test_an_export_to_a_full_disk_says_so_and_leaves_the_old_file_whole(tmp_path, tiny_disk):
    db = _big_store(tmp_path / "votes.db")
    target = tiny_disk / "votes.jsonl"
    target.write_text("the export of yesterday\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["votes", "export", "--db", db, "-o", str(target)])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"cannot write {target}: no space left on device\n"
    assert target.read_text(encoding="utf-8") == "the export of yesterday\n"
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["votes.jsonl"]  # no temporary file left behind
    target.unlink()
    result = CliRunner().invoke(main, ["votes", "export", "--db", db, "--format", "csv", "-o", str(target)])
    assert (result.exit_code, result.stderr) == (1, f"cannot write {target}: no space left on device\n")
    assert list(tiny_disk.iterdir()) == []
    small = _big_store(tmp_path / "small.db", votes=10)  # what fits is written whole
    result = CliRunner().invoke(main, ["votes", "export", "--db", small, "-o", str(target)])
    assert (result.exit_code, result.stderr) == (0, f"kb votes export: 10 votes to {target}\n")
    assert len(target.read_text(encoding="utf-8").splitlines()) == 10


def test_an_export_to_a_full_standard_output_says_so_without_a_traceback(tmp_path):
    db = _big_store(tmp_path / "votes.db", votes=50)
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "kb", "votes", "export", "--db", db], stdout=full,
                                stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "cannot write standard output: no space left on device\n")


def test_an_export_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    db = _big_store(tmp_path / "votes.db", votes=3)
    target = tmp_path / "votes.jsonl"
    old = os.umask(0o022)
    try:
        assert CliRunner().invoke(main, ["votes", "export", "--db", db, "-o", str(target)]).exit_code == 0
        assert target.stat().st_mode & 0o777 == 0o644
        target.chmod(0o600)
        assert CliRunner().invoke(main, ["votes", "export", "--db", db, "-o", str(target)]).exit_code == 0
        assert target.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
    result = CliRunner().invoke(main, ["votes", "export", "--db", db, "-o", str(tmp_path / "no" / "such.jsonl")])
    assert (result.exit_code, result.stderr) == (1, f"cannot write {tmp_path / 'no' / 'such.jsonl'}: "
                                                    "no such file or directory\n")
