"""Moving stored rows in and out of a store: JSON Lines and CSV, without loss."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Iterable, Iterator

from kb.votes.store import TABLES, Store, StoreError, row_of

__all__ = ["FORMATS", "ImportProblem", "export_lines", "export_rows", "read_records", "import_records"]

FORMATS = ("jsonl", "csv")


@dataclass
class ImportProblem:
    """One bad record in an import file."""

    path: str
    line: int
    message: str

    def format(self) -> str:
        """`path:line: error: message`"""
        return f"{self.path}:{self.line}: error: {self.message}"


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


def table_of(record: dict) -> str | None:
    """Which table a record belongs to, judged by its fields."""
    if "vote_id" in record:
        return "votes"
    if "results" in record:  # searches carry a channel too, contacts never results
        return "searches"
    if "channel" in record:
        return "contacts"
    return None


def read_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line, record) pairs from a JSON Lines or CSV export (CSV when the name ends in .csv)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv" or (text and not text.lstrip().startswith("{")):
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for record in reader:
            yield reader.line_num, {k: (v if v != "" else None) for k, v in record.items()}
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise StoreError(f"{path}:{number}: not a JSON object: {exc}") from exc
        yield number, record


def import_records(store: Store, path: Path, batch: int = 1000) -> tuple[dict[str, int], dict[str, int], list[ImportProblem]]:
    """Check every record of `path`, then append them all: (read, newly stored, problems).

    Nothing is stored when any record is bad, so a fixed file can simply be imported again.
    """
    grouped: dict[str, list[dict]] = {name: [] for name in TABLES}
    problems: list[ImportProblem] = []
    try:
        for line, record in read_records(path):
            if not isinstance(record, dict):
                problems.append(ImportProblem(str(path), line, "not a JSON object"))
                continue
            table = table_of(record)
            if table is None:
                problems.append(ImportProblem(str(path), line,
                                              "not a vote, search or contact (no vote_id, channel or results)"))
                continue
            missing = [c for c in TABLES[table].columns if c not in record and c not in TABLES[table].added_later]
            if missing:
                problems.append(ImportProblem(str(path), line, f"{table}: missing {', '.join(missing)}"))
                continue
            try:
                grouped[table].append(row_of(TABLES[table], record))
            except (StoreError, ValueError, TypeError) as exc:
                problems.append(ImportProblem(str(path), line, str(exc)))
    except UnicodeDecodeError as exc:
        raise StoreError(f"{path}: not UTF-8 text: {exc}") from exc
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
