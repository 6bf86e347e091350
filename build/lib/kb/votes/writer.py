"""The store's writer thread: group commit, and the failure of the last commit for /healthz."""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from typing import Callable

__all__ = ["GroupWriter", "StoreError"]


class StoreError(Exception):
    """The store URL or the stored data is not what kb expects."""


_STOP = object()
_DUE = object()  # wakes the writer when rows submitted for later are due

LATER_SECONDS = 1.0
"""How long rows submitted with `submit_later` may wait for a commit (they go with any commit sooner)."""


class GroupWriter:
    """One thread that commits everything waiting in its queue as one transaction.

    While a commit is syncing to disk, new batches queue up; the next commit takes them all,
    so one fsync acknowledges many votes and throughput grows with concurrency.
    """

    def __init__(self, name: str, commit: Callable[[list[tuple[str, list[dict]]]], list[int]],
                 describe: str, commit_unit: Callable[[list[tuple[str, list[dict]]]], list[int]] | None = None) -> None:
        # `commit` takes the grouped requests (each must be stored whole, the group need not be);
        # `commit_unit` a unit that must be stored whole (by default `commit` does both).
        self._commit = commit
        self._commit_unit = commit_unit or commit
        self._describe = describe
        self._name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._later: list[tuple[str, list[dict], concurrent.futures.Future[int]]] = []
        self.last_error: str | None = None  # the last commit's failure, None after a success

    def submit(self, table: str, rows: list[dict]) -> concurrent.futures.Future[int]:
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._put((table, rows, future))
        return future

    def submit_later(self, table: str, rows: list[dict]) -> concurrent.futures.Future[int]:
        """Like `submit`, for rows nobody waits for (a search API's record of a query): they are
        committed with the next commit of anything, or within LATER_SECONDS, or at `close`, so a
        busy server pays one commit for many of them instead of one each."""
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise StoreError("store is closed")
            self._start()
            self._later.append((table, rows, future))
            if len(self._later) == 1:
                timer = threading.Timer(LATER_SECONDS, self._queue.put, args=(_DUE,))
                timer.daemon = True
                timer.start()
        return future

    def submit_unit(self, work: list[tuple[str, list[dict]]]) -> concurrent.futures.Future[list[int]]:
        """Commit `work` as a transaction of its own (not grouped with others): all or nothing."""
        future: concurrent.futures.Future[list[int]] = concurrent.futures.Future()
        self._put((None, work, future))
        return future

    def _put(self, item: tuple) -> None:
        with self._lock:
            if self._closed:
                raise StoreError("store is closed")
            self._start()
            self._queue.put(item)

    def _start(self) -> None:
        if self._thread is None:  # under self._lock
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def _run(self, work: list[tuple]) -> None:
        try:
            counts = self._commit([(table, rows) for table, rows, _ in work])
        except Exception as exc:  # every waiting caller must hear about the failure
            self.last_error = str(exc)
            for _table, _rows, future in work:
                future.set_exception(StoreError(f"{self._describe}: write failed: {exc}"))
        else:
            self.last_error = None
            for (_table, _rows, future), count in zip(work, counts):
                future.set_result(count)

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
            work = [item for item in batch if item is not _STOP and item is not _DUE]
            grouped = [item for item in work if item[0] is not None] + later
            if grouped:
                self._run(grouped)
            for _, unit, future in (item for item in work if item[0] is None):
                try:
                    counts = self._commit_unit(unit)
                except Exception as exc:  # noqa: BLE001 - handed to the caller
                    self.last_error = str(exc)
                    future.set_exception(StoreError(f"{self._describe}: write failed: {exc}"))
                else:
                    self.last_error = None
                    future.set_result(counts)
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
