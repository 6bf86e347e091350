"""The store's writer thread: group commit, and a refused record failing alone."""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from collections import Counter
from typing import Any, Callable

__all__ = ["GroupWriter", "RecordRefused", "StoreError"]

log = logging.getLogger("kb.votes")


class StoreError(Exception):
    """The store URL or the stored data is not what kb expects."""


class RecordRefused(StoreError):
    """The store refused this request's own rows (a constraint, a value it cannot hold); the
    store itself is fine, and the requests committed beside it were stored."""


_STOP = object()
_DUE = object()  # wakes the writer when rows submitted for later are due

LATER_SECONDS = 1.0
"""How long rows submitted with `submit_later` may wait for a commit (they go with any commit sooner)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Request:
    """One caller's rows for one table, waiting in a group."""

    __slots__ = ("table", "rows", "future", "later")

    def __init__(self, table: str, rows: list[dict], later: bool) -> None:
        self.table = table
        self.rows = rows
        self.future: concurrent.futures.Future[int] = concurrent.futures.Future()
        self.later = later


class GroupWriter:
    """One thread that commits everything waiting in its queue as one transaction.

    While a commit is syncing to disk, new batches queue up; the next commit takes them all,
    so one fsync acknowledges many votes and throughput grows with concurrency.

    A group is stored whole or not at all, so one request the store refuses (a value a database
    constraint forbids, say) would fail every request beside it. When `refused(exc)` says a
    failure was about the data, not the store (the store answers it for its own driver's
    errors), the writer splits the group in halves and commits each, down to the one request at
    fault: it alone fails (with RecordRefused), at a cost of about 2 log2(n) commits. A failure
    of the store itself (down, disk full, read-only) fails the whole group at once: splitting
    it would only fail each part again.
    """

    def __init__(self, name: str, commit: Callable[[list[tuple[str, list[dict]]]], list[int]],
                 describe: str, commit_unit: Callable[[list[tuple[str, list[dict]]]], list[int]] | None = None,
                 refused: Callable[[BaseException], bool] = lambda exc: False) -> None:
        # `commit` takes the grouped requests (each must be stored whole, the group need not be);
        # `commit_unit` a unit that must be stored whole (by default `commit` does both).
        self._commit = commit
        self._commit_unit = commit_unit or commit
        self._refused = refused
        self._describe = describe
        self._name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._later: list[_Request] = []

    def submit(self, table: str, rows: list[dict]) -> concurrent.futures.Future[int]:
        request = _Request(table, rows, later=False)
        self._put(request)
        return request.future

    def submit_later(self, table: str, rows: list[dict]) -> concurrent.futures.Future[int]:
        """Like `submit`, for rows nobody waits for (a search API's record of a query): they are
        committed with the next commit of anything, or within LATER_SECONDS, or at `close`, so a
        busy server pays one commit for many of them instead of one each. Rows the store refuses
        are dropped, and the log says so."""
        request = _Request(table, rows, later=True)
        with self._lock:
            if self._closed:
                raise StoreError("store is closed")
            self._start()
            self._later.append(request)
            if len(self._later) == 1:
                timer = threading.Timer(LATER_SECONDS, self._queue.put, args=(_DUE,))
                timer.daemon = True
                timer.start()
        return request.future

    def submit_unit(self, work: list[tuple[str, list[dict]]]) -> concurrent.futures.Future[list[int]]:
        """Commit `work` as a transaction of its own (not grouped with others): all or nothing."""
        future: concurrent.futures.Future[list[int]] = concurrent.futures.Future()
        self._put((lambda: self._commit_unit(work), future))
        return future

    def submit_call(self, call: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        """Run `call` on the writer thread, after what is queued before it (a health probe's write
        goes the way every vote goes); a failure counts as the store's, like any commit's."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._put((call, future))
        return future

    def _put(self, item: Any) -> None:
        with self._lock:
            if self._closed:
                raise StoreError("store is closed")
            self._start()
            self._queue.put(item)

    def _start(self) -> None:
        if self._thread is None:  # under self._lock
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def _run(self, group: list[_Request]) -> None:
        """Commit `group`; when the store refuses part of it, find the requests at fault."""
        try:
            counts = self._commit([(r.table, r.rows) for r in group])
        except Exception as exc:  # every waiting caller must hear about the failure
            # The first line only: PostgreSQL's DETAIL may quote a row, a customer's comment too.
            if not self._refused(exc):
                self._fail(group, StoreError(f"{self._describe}: write failed: {_first_line(exc)}"))
            elif len(group) == 1:
                self._fail(group, RecordRefused(f"{self._describe}: write failed: refused a {group[0].table} "
                                                f"record: {_first_line(exc)}"))
            else:
                half = len(group) // 2
                self._run(group[:half])
                self._run(group[half:])
        else:
            for request, count in zip(group, counts):
                request.future.set_result(count)

    @staticmethod
    def _fail(group: list[_Request], exc: StoreError) -> None:
        """Fail every request of `group` with `exc`; those nobody waits for are dropped, and the log
        says so (one line for the group), or they would be lost in silence."""
        dropped = Counter(request.table for request in group if request.later)
        for table, n in dropped.items():
            log.error("dropped %s %s record%s nobody waits for: %s", n, table, "" if n == 1 else "s", exc)
        for request in group:
            request.future.set_exception(exc)

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            with self._lock:
                later, self._later = self._later, []
            grouped = [item for item in batch if isinstance(item, _Request)] + later
            if grouped:
                self._run(grouped)
            for call, future in (item for item in batch if isinstance(item, tuple)):
                try:
                    result = call()
                except Exception as exc:  # noqa: BLE001 - handed to the caller
                    if self._refused(exc):
                        future.set_exception(RecordRefused(f"{self._describe}: write failed: refused: "
                                                           f"{_first_line(exc)}"))
                    else:
                        future.set_exception(StoreError(f"{self._describe}: write failed: {exc}"))
                else:
                    future.set_result(result)
            if any(item is _STOP for item in batch):
                return

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join()
