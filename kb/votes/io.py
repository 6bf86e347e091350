"""Moving stored rows in and out of a store: JSON Lines and CSV, without loss.

An export goes to a temporary file beside its target, which replaces the target only once it is
complete and on disk (`atomic_output`): a full disk or a crash never leaves a cut file where an
export was expected.

An import checks every record before it stores any: each as the collector checks a body from the
widget (`kb.votes.schema.PARSERS`), plus the fields only the collector sets (`visitor` and
`address`, its pseudonyms, and `created_at`, the time it stored the record, required and with a
time zone), plus what a whole file must hold (every column of its table, CSV rows as long as the
header and ending in a line end, no key twice with different fields). Every bad record is named
as `FILE:LINE: field: what is wrong`; then nothing is stored. A good file is stored in one
transaction: all of it, or none when the database refuses a row.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from kb.votes.schema import PARSERS, Invalid, kind_of
from kb.votes.simulate import SIM_PREFIX
from kb.votes.store import TABLES, Store, StoreError

__all__ = ["FORMATS", "ImportProblem", "atomic_output", "check_record", "export_lines", "export_rows",
           "import_records", "read_records"]

FORMATS = ("jsonl", "csv")

#: Fields only the collector sets; the rest of a record is what the widget (or a bot) sent.
STORED_ONLY = ("visitor", "created_at", "address")
#: The collector's pseudonyms (`Visitors.hash`, `Visitors.address`): 16 hex digits of an HMAC.
_PSEUDONYM = re.compile(r"[0-9a-f]{16}")
#: A simulated visitor (`kb votes simulate`) is labelled instead of hashed.
_SIMULATED = re.compile(re.escape(SIM_PREFIX) + r"[0-9a-f]{1,32}")
_CREATED_EXAMPLE = "2026-11-20T08:00:00.000000+00:00"
_SHOWN = 300  # characters of a message shown; a 100,000-character field is not echoed whole
# Shown escaped in a message: line breaks and other controls (one problem is one line) and the
# bidirectional controls (a message reads as it is).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass
class ImportProblem:
    """One bad record (or line) in an import file, and the field at fault when there is one."""

    path: str
    line: int
    message: str
    field: str | None = None

    def format(self) -> str:
        """`path:line: field: what is wrong` (`path:line: what is wrong` for a whole line)."""
        message = self.message if len(self.message) <= _SHOWN else self.message[:_SHOWN] + "…"
        message = _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), message)
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.field + ': ' if self.field else ''}{message}"


# -- export -------------------------------------------------------------------------------------


def _plain(row: dict) -> dict:
    out = dict(row)
    out["created_at"] = row["created_at"].isoformat(timespec="microseconds")
    return out


def export_lines(store: Store, table: str, fmt: str, since: datetime | None = None) -> Iterator[str]:
    """The rows of one table as text lines (JSON Lines, or CSV with a header row)."""
    if fmt == "jsonl":
        for row in store.rows(table, since):
            yield json.dumps(_plain(row), ensure_ascii=False) + "\n"
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        columns = TABLES[table].columns
        writer.writerow(columns)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        for row in store.rows(table, since):
            plain = _plain(row)
            writer.writerow(["" if plain[c] is None else
                             ("true" if plain[c] is True else "false" if plain[c] is False else plain[c])
                             for c in columns])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    else:
        raise StoreError(f"unknown format {fmt!r}: expected jsonl or csv")


def export_rows(store: Store, tables: Iterable[str], fmt: str, out: IO[str],
                since: datetime | None = None) -> dict[str, int]:
    """Write every row of `tables` to `out`; returns rows written per table."""
    counts: dict[str, int] = {}
    tables = list(tables)
    if fmt == "csv" and len(tables) != 1:
        raise StoreError("CSV holds one table; choose --table votes, searches or contacts")
    for table in tables:
        lines = 0
        for text in export_lines(store, table, fmt, since):
            if text:
                out.write(text)
                lines += 1
        counts[table] = lines - 1 if fmt == "csv" else lines
    return counts


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[IO[str]]:
    """A text file that becomes `path` only when the block ends without an error, flushed to disk.

    It is written under a temporary name in the same folder (so the rename cannot cross file
    systems) and removed on any error: `path` keeps what it held before, or stays absent. The new
    file gets the old one's permissions, or those a plain `open` would give it.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


# -- import -------------------------------------------------------------------------------------


def table_of(record: dict) -> str | None:
    """Which table a record belongs to, judged by its fields."""
    if "vote_id" in record:
        return "votes"
    if "results" in record:  # searches carry a channel too, contacts never results
        return "searches"
    if "channel" in record:
        return "contacts"
    return None


def _created_at(value: Any) -> datetime:
    if value is None:
        raise Invalid("created_at", "is required: the time the collector stored the record")
    if not isinstance(value, str):
        raise Invalid("created_at", f"must be an ISO 8601 time like {_CREATED_EXAMPLE}, got {kind_of(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("created_at", f"must be an ISO 8601 time like {_CREATED_EXAMPLE}, "
                                    f"got {json.dumps(value[:60])}") from None
    if moment.tzinfo is None:
        raise Invalid("created_at", f"has no time zone: {json.dumps(value)}; expected UTC, like {_CREATED_EXAMPLE}")
    return moment.astimezone(timezone.utc)


def _pseudonym(record: dict, name: str, required: bool) -> str | None:
    value = record.get(name)
    if value is None:
        if required:
            raise Invalid(name, "is required: the collector's pseudonym of the visitor")
        return None
    if not isinstance(value, str):
        raise Invalid(name, f"must be 16 hex digits, got {kind_of(value)}")
    if not (_PSEUDONYM.fullmatch(value) or (name == "visitor" and _SIMULATED.fullmatch(value))):
        raise Invalid(name, f"must be 16 hex digits (the collector's pseudonym), got {json.dumps(value[:40])}")
    return value


def check_record(table: str, record: dict) -> tuple[dict | None, list[Invalid]]:
    """The row to store for one exported record of `table`, or what is wrong with it.

    The record passes the checks of a body from the widget (the parser of its table) and the
    checks of the fields only the collector sets; a column every export has must be there.
    """
    columns = TABLES[table]
    problems = [Invalid(name, f"unknown field (a {table} record has {', '.join(columns.columns)})")
                for name in record if name not in columns.columns]
    missing = [name for name in columns.columns if name not in record and name not in columns.added_later]
    problems += [Invalid(name, "is missing; every export has it (null when empty)") for name in missing]
    stored: dict[str, Any] = {}
    for name, check in (("visitor", lambda: _pseudonym(record, "visitor", True)),
                        ("address", lambda: _pseudonym(record, "address", False)),
                        ("created_at", lambda: _created_at(record.get("created_at")))):
        try:
            stored[name] = check()
        except Invalid as exc:
            if name not in missing:
                problems.append(exc)
    body = {k: v for k, v in record.items() if k in columns.columns and k not in STORED_ONLY}
    try:
        row = PARSERS[table](body)
    except Invalid as exc:
        if exc.field not in missing:
            problems.append(exc)
        row = None
    if problems or row is None:
        return None, problems
    if table == "searches" and record.get("channel") is None:
        row["channel"] = None  # a search stored before channels were: kept as it was
    return {**row, **stored}, []


def _typed_csv(record: dict) -> dict:
    """A CSV record's text as the JSON export would type it: null for empty, booleans, whole numbers."""
    out: dict[Any, Any] = {}
    for key, value in record.items():
        if value == "":
            value = None
        elif key == "helpful" and value in ("true", "false"):
            value = value == "true"
        elif key == "results" and isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        out[key] = value
    return out


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ImportFileError(ImportProblem(str(path), line, f"not UTF-8 text (byte 0x{data[exc.start]:02x}): "
                                                          "a kb export is UTF-8")) from None


class ImportFileError(StoreError):
    """A file that cannot be read as an export at all; carries the one problem."""

    def __init__(self, problem: ImportProblem) -> None:
        super().__init__(problem.format())
        self.problem = problem


def _is_csv(path: Path, text: str) -> bool:
    first = text.split("\n", 1)[0].strip()
    return path.suffix.lower() == ".csv" or first.startswith(("vote_id,", "event_id,"))


def read_records(path: Path) -> Iterator[tuple[int, dict | ImportProblem]]:
    """(line, record) pairs from a JSON Lines or CSV export (CSV when the name ends in .csv or it
    starts with a CSV header); a line that is not a record comes as an ImportProblem instead."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(ImportProblem(str(path), 0, f"cannot read: {exc.strerror or exc}")) from None
    text = _decode(path, data)
    if _is_csv(path, text):
        yield from _csv_records(path, text)
        return
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield number, ImportProblem(str(path), number, f"not valid JSON: {exc}")
            continue
        except RecursionError:
            yield number, ImportProblem(str(path), number, "not valid JSON: nested too deeply")
            continue
        if not isinstance(record, dict):
            yield number, ImportProblem(str(path), number, f"not a record: expected a JSON object, got {kind_of(record)}")
            continue
        yield number, record


def _csv_records(path: Path, text: str) -> Iterator[tuple[int, dict | ImportProblem]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        yield 1, ImportProblem(str(path), 1, f"not a CSV header: {exc}")
        return
    if header is None:
        return
    tables = [t for t in TABLES.values() if set(header) <= set(t.columns) and t.key in header]
    if not tables or len(set(header)) != len(header):
        yield 1, ImportProblem(str(path), 1, "not the header of a kb export: expected the columns of "
                                             f"{', '.join(TABLES)} (got {', '.join(header)[:200]})")
        return
    rows: list[tuple[int, list[str]]] = []
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a quoted field never closed: the file is cut inside it
            yield start, ImportProblem(str(path), start, f"not a CSV row: {exc}")
            return
        if values:
            rows.append((start, values))
        start = reader.line_num + 1
    for number, (line, values) in enumerate(rows, 1):
        if len(values) != len(header):
            yield line, ImportProblem(str(path), line, f"the row has {len(values)} fields, the header {len(header)}")
        elif number == len(rows) and not text.endswith(("\n", "\r")):
            # a cut after a comma still has every field: only the missing line end tells
            yield line, ImportProblem(str(path), line, "the row is cut: it does not end with a line end, "
                                                       "as every row of a kb export does")
        else:
            yield line, _typed_csv(dict(zip(header, values)))


def import_records(store: Store, path: Path, batch: int = 1000) -> tuple[dict[str, int], dict[str, int], list[ImportProblem]]:
    """Check every record of `path`, then append them all: (read, newly stored, problems).

    Nothing is stored when any record is bad, so a fixed file can simply be imported again.
    """
    grouped: dict[str, list[dict]] = {name: [] for name in TABLES}
    problems: list[ImportProblem] = []
    seen: dict[tuple[str, str], tuple[int, dict]] = {}
    try:
        records = list(read_records(path))
    except ImportFileError as exc:
        return {t: 0 for t in TABLES}, {t: 0 for t in TABLES}, [exc.problem]
    for line, record in records:
        if isinstance(record, ImportProblem):
            problems.append(record)
            continue
        table = table_of(record)
        if table is None:
            problems.append(ImportProblem(str(path), line, "not a vote, search or contact "
                                                           "(no vote_id, or an event_id with results or channel)"))
            continue
        row, bad = check_record(table, record)
        problems += [ImportProblem(str(path), line, exc.message, exc.field) for exc in bad]
        if row is None:
            continue
        key = (table, row[TABLES[table].key])
        if key in seen:
            first_line, first = seen[key]
            if first != row:
                problems.append(ImportProblem(str(path), line, f"{key[1]} is on line {first_line} too, "
                                                               "with other fields", TABLES[table].key))
            continue
        seen[key] = (line, row)
        grouped[table].append(row)
    read = {t: len(rows) for t, rows in grouped.items()}
    stored = {t: 0 for t in TABLES}
    if problems:
        return read, stored, problems
    # One transaction for the whole file: a failure part way (a lost connection, a full disk)
    # stores nothing, so the same file can be imported again.
    work = [(table, rows[start:start + batch]) for table, rows in grouped.items()
            for start in range(0, len(rows), batch)]
    if work:
        for (table, _rows), count in zip(work, store.submit_all(work).result()):
            stored[table] += count
    return read, stored, problems
