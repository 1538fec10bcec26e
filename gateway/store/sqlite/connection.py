"""The writer's connection, driven from the event loop, and the group commit that makes writes durable.

A statement on a warm SQLite file takes microseconds; what took the time was
handing each one to a thread and back, a commit per step (each writes its
pages to the log again) and a disk flush (``fdatasync``) at every commit --
about ten per intake call, one after another. So:

* statements run at once, in the loop's thread, on one ``sqlite3``
  connection (:class:`Connection`: the shape of an async driver, nothing
  awaited inside): a unit of work never spans a turn of the loop in which
  another coroutine could write;
* each unit of work is a savepoint inside one open transaction that the
  :class:`Writer` commits when someone needs durability, or after
  ``COALESCE_S`` -- so the steps of many requests share a commit;
* commits are written to the write-ahead log without a flush
  (``synchronous=NORMAL``), and :class:`WalFlush` flushes the log in a
  thread of its own; every caller waiting at the same moment shares one
  flush.

Nothing leaves the gateway before the flush that covers it: an answer to a
caller, a call to an agency, a callback, a checkpoint handed to a witness
each wait for :meth:`Writer.durable` (the store's ``durable()``), which
returns only when every unit of work done so far is committed and on disk.
The log is written in order and a crash keeps a prefix of it, so what a
``kill -9`` or a power cut takes is only work nobody outside has heard of --
the promise of a flush per commit, at a fraction of the commits and flushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from gateway.errors import StoreError
from gateway.store.shared_run import SharedRun

BUSY_WAIT_S = 10.0  # as the busy_timeout the other connections keep
COALESCE_S = 0.01  # an open transaction is committed at the latest this long after it began
CHECKPOINT_BYTES = 4 << 20  # copy the log into the database once it is this long ...
CHECKPOINT_EVERY_S = 0.5  # ... at most this often (a checkpoint that cannot finish is tried again)
# journal_size_limit: the log file is cut back to this when it starts over. Above the checkpoint's mark, so
# the file keeps its working size: a commit then overwrites blocks the file has, and its flush writes the
# data alone (a file that grows makes every flush commit the file system's journal too, about 3x the time).
WAL_KEEP_BYTES = 4 * CHECKPOINT_BYTES
WAL_FRAME_HEADER = 24
T = TypeVar("T")
C = TypeVar("C")
_GENERATIONS = itertools.count(1)  # Writer.generation: never the same twice in a process


class Cursor:
    """The finished result of one statement (rows fetched from it, the rows it changed)."""

    __slots__ = ("_cursor", "lastrowid", "rowcount")

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


class Connection:
    """A ``sqlite3`` connection with an awaitable face whose awaits never suspend.

    The store's methods read as with any async driver, but a transaction
    written with it runs whole in one step of the loop: no other coroutine's
    statement lands in the middle of it, and no thread hand-off is paid.
    """

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        return Cursor(self.raw.execute(sql, params))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor:
        return Cursor(self.raw.executemany(sql, rows))

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.raw.execute(sql, params).fetchall()


def is_busy(exc: sqlite3.Error) -> bool:
    """Another process holds the write lock (an administrative command, say)."""
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


async def begin_immediate(raw: sqlite3.Connection) -> None:
    """Take the database's write lock without blocking the loop while another process holds it.

    The loop's connection has no busy timeout (a wait there would stop every
    request); a busy lock is tried again with short sleeps for as long as the
    other connections would wait.
    """
    deadline = time.monotonic() + BUSY_WAIT_S
    pause = 0.001
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)


class WalFlush:
    """Makes committed transactions durable, many at a time: one ``fdatasync`` of the write-ahead log.

    ``committed()`` counts each commit as the store makes it; ``durable()``
    waits until a flush that began after the latest commit has finished. A
    flush that fails leaves the file's state on disk unknown (Linux may drop
    the dirty pages), so the store is closed for writing from then on: every
    later ``durable()`` raises, as a database server stops after a failed
    flush rather than acknowledge what may not be there.
    """

    def __init__(self, wal_path: str) -> None:
        self.wal_path = wal_path
        self.commits = 0  # commits made by this process
        self.flushed = 0  # of which known to be on disk
        self.flushes = 0  # fdatasync calls made
        self.failure: StoreError | None = None
        self._fd: int | None = None
        self._flushes = SharedRun(self._flush)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onewindow-wal-flush")
        self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onewindow-wal-checkpoint")
        self._checkpoint_db: sqlite3.Connection | None = None
        self._checkpointed_at = 0.0
        self._wal_bytes = 0  # of log written since it last started over (not the file's size, which stays)
        self._shm: int | None = None

    def committed(self) -> None:
        self.commits += 1

    async def durable(self) -> None:
        """Return once every commit made so far is on disk (at once, if it already is)."""
        target = self.commits
        while self.flushed < target:
            if self.failure is not None:
                raise self.failure
            await self._flushes.join()
        if self.failure is not None and self.flushed < self.commits:
            raise self.failure

    async def _flush(self) -> None:
        upto = self.commits  # every commit made before the flush starts is covered by it
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._fdatasync)
        except OSError as exc:
            self.failure = StoreError(f"the SQLite write-ahead log could not be flushed to disk: {exc}")
            raise self.failure from exc
        self.flushes += 1
        self.flushed = max(self.flushed, upto)

    def checkpoint_due(self) -> bool:
        """The log has grown long, and the last checkpoint is not too recent."""
        return self._wal_bytes > CHECKPOINT_BYTES and time.monotonic() - self._checkpointed_at >= CHECKPOINT_EVERY_S

    async def checkpoint(self) -> None:
        """Copy the log into the database in the checkpoint thread (the caller keeps writers out meanwhile)."""
        self._checkpointed_at = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(self._checkpointer, self._checkpoint)

    def _fdatasync(self) -> None:
        """In the flush thread: the log file's data to disk (reopened if SQLite made a new file)."""
        try:
            current = os.stat(self.wal_path).st_ino
        except FileNotFoundError:
            return  # no log (nothing written since the last connection closed): nothing to flush
        if self._fd is not None and os.fstat(self._fd).st_ino != current:
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self._fd = os.open(self.wal_path, os.O_RDONLY)
        os.fdatasync(self._fd)
        self._wal_bytes = self._log_length()

    def _log_length(self) -> int:
        """Bytes of log in use: the last valid frame's number, from the wal-index header SQLite keeps in the
        ``-shm`` file (https://www.sqlite.org/walformat.html: ``szPage`` at byte 14, ``mxFrame`` at 16, in
        the machine's byte order), times the frame's size. The file's size says nothing once it is kept;
        without the index file it is all there is to go by (never fewer checkpoints than needed)."""
        shm_path = self.wal_path.removesuffix("-wal") + "-shm"
        try:
            current = os.stat(shm_path).st_ino
        except FileNotFoundError:
            return os.fstat(self._fd).st_size if self._fd is not None else 0
        if self._shm is not None and os.fstat(self._shm).st_ino != current:
            os.close(self._shm)
            self._shm = None
        if self._shm is None:
            self._shm = os.open(shm_path, os.O_RDONLY)
        header = os.pread(self._shm, 20, 0)
        if len(header) < 20:
            return 0
        page = int.from_bytes(header[14:16], sys.byteorder)
        frames = int.from_bytes(header[16:20], sys.byteorder)
        return frames * (WAL_FRAME_HEADER + (65536 if page == 1 else page))

    def _checkpoint(self) -> None:
        """In the checkpoint thread: copy the log into the database, so the log starts over.

        The writer's connection does not do it itself (``wal_autocheckpoint=0``):
        a checkpoint flushes twice and copies megabytes, which would stop the
        loop. The :class:`Writer` holds its units back meanwhile, so the copy
        catches up with the end of the log and the next transaction starts the
        log over, from the file's start: the file keeps its size (up to
        ``journal_size_limit``). Failures are left to the next one (the log
        only grows meanwhile).
        """
        database = self.wal_path.removesuffix("-wal")
        with contextlib.suppress(sqlite3.Error):
            if self._checkpoint_db is None:
                self._checkpoint_db = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
                self._checkpoint_db.execute("PRAGMA busy_timeout=10000")
            self._checkpoint_db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._checkpointer.shutdown(wait=True)
        if self._checkpoint_db is not None:
            self._checkpoint_db.close()
            self._checkpoint_db = None
        for fd in (self._fd, self._shm):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._shm = None


class Unit(Generic[C]):
    """:meth:`Writer.unit` as a plain context manager: a dozen of them per request, a generator's cost each.

    Entered, it holds the writer's lock and a savepoint (unless ``single``)
    and gives ``gives`` (the raw connection, or the store's awaitable face
    of it); left, it releases the savepoint, or rolls back to it when the
    block raised, and lets the lock go whatever happens.
    """

    __slots__ = ("gives", "single", "writer")

    def __init__(self, writer: Writer, single: bool, gives: C) -> None:
        self.writer, self.single, self.gives = writer, single, gives

    async def __aenter__(self) -> C:
        writer = self.writer
        await writer.lock.acquire()
        try:
            await writer._begin_unit(self.single)
        except BaseException:
            writer.lock.release()
            raise
        writer.holder = asyncio.current_task()
        return self.gives

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        writer = self.writer
        try:
            writer.holder = None
            if kind is None:
                writer._end_unit(self.single)
            else:
                writer._undo(self.single)
        finally:
            writer.lock.release()


class Writer:
    """The one writing connection of a process: units of work coalesced into shared commits.

    A commit or a flush that fails leaves units that were already reported
    done uncommitted, or the file's state on disk unknown: the writer then
    refuses every later unit and every ``durable()`` (the store is closed for
    writing until the gateway restarts), rather than acknowledge what may not
    be there.
    """

    def __init__(self, raw: sqlite3.Connection, flush: WalFlush | None) -> None:
        self.raw = raw
        self.conn = Connection(raw)
        self.flush = flush
        self.lock = asyncio.Lock()
        self.failure: StoreError | None = None
        self.units = 0  # units of work done (released savepoints)
        self.durable_units = 0  # of which committed and flushed
        self._syncs = SharedRun(self._commit_and_flush)
        self._checkpointing: asyncio.Future[None] | None = None
        self.holder: asyncio.Task[Any] | None = None  # the task whose unit of work is under way
        self._timer: asyncio.TimerHandle | None = None
        self.generation = next(_GENERATIONS)  # see :meth:`moved_on`

    def moved_on(self) -> None:
        """Whatever a unit of work remembered of the open transaction (the audit log's head) may be stale now.

        A value read inside one transaction may be trusted without reading it
        again only until that transaction ends: it holds the database's write
        lock, so no other process writes meanwhile, but between two
        transactions anyone may. So the generation moves on as each
        transaction begins (however the last one ended: commit, rollback, a
        failure), and whoever changes what others remember calls this too (a
        checkpoint moves the audit head). A cache is valid while
        :attr:`generation` is the one it was made in; generations are unique
        in the process, so one made on a connection since closed never
        matches its successor's.
        """
        self.generation = next(_GENERATIONS)

    def unit(self, *, single: bool = False) -> Unit[sqlite3.Connection]:
        """One unit of work: a savepoint in the open transaction (begun here when none is open).

        A ``single`` unit runs one statement, or statements after each of
        which the store is whole (a write, then reads): SQLite undoes a failed
        statement by itself and keeps the transaction, so it needs no
        savepoint (two statements fewer, and no copy of the changed pages).
        """
        return Unit(self, single, self.raw)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """One unit of work done whole by ``work(connection)``, which awaits nothing (the audit log's batches)."""
        async with self.unit() as raw:
            return work(raw)

    async def _begin_unit(self, single: bool) -> sqlite3.Connection:
        """Under the lock: a new unit in the open transaction (begun here when none is open), its savepoint unless
        ``single``."""
        self.refuse()
        raw = self.raw
        if not raw.in_transaction:
            await begin_immediate(raw)
            self.moved_on()
            self._timer = asyncio.get_running_loop().call_later(COALESCE_S, self._commit_soon)
        if not single:
            raw.execute("SAVEPOINT unit")
        return raw

    def _end_unit(self, single: bool) -> None:
        if not single:
            self.raw.execute("RELEASE unit")
        self.units += 1

    async def between_units(self) -> None:
        """Wait until no other task's unit of work is half done (a unit that awaits something real)."""
        while self.lock.locked() and self.holder is not None and self.holder is not asyncio.current_task():
            async with self.lock:
                pass

    def _undo(self, single: bool) -> None:
        """Roll the failed unit back; if SQLite rolled the whole transaction back, earlier units are lost."""
        if self.raw.in_transaction:
            if single:  # the statement that failed was undone by SQLite; what came before it stands whole
                return
            self.raw.execute("ROLLBACK TO unit")
            self.raw.execute("RELEASE unit")
            return
        self._fail("SQLite rolled back the open transaction")

    def _fail(self, why: str) -> None:
        self.failure = StoreError(f"the SQLite store is closed for writing: {why}; restart the gateway")
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def refuse(self) -> None:
        """Raise the failure that closed the store for writing, if one did."""
        if self.failure is not None:
            raise self.failure
        if self.flush is not None and self.flush.failure is not None:
            raise self.flush.failure

    def commit(self) -> None:
        """Commit the open transaction (if any) to the log; call between units (no await in between)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.raw.in_transaction:
            return
        try:
            self.raw.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.raw.in_transaction:
                self.raw.execute("ROLLBACK")
            self._fail(f"a commit failed ({exc})")
            raise self.failure from exc  # type: ignore[misc]
        if self.flush is not None:
            self.flush.committed()

    def _commit_soon(self) -> None:
        """The timer: commit now unless a unit is under way (then as soon as it is done)."""
        self._timer = None
        if self.lock.locked():
            self._timer = asyncio.get_running_loop().call_later(0.001, self._commit_soon)
            return
        with contextlib.suppress(StoreError):  # recorded in self.failure; every later durable() raises it
            self.commit()

    async def settle(self) -> None:
        """Commit what is open, so that other connections (the reader, other processes) see it."""
        if self.raw.in_transaction:
            async with self.lock:
                self.commit()
        self.refuse()

    async def durable(self) -> None:
        """Return once every unit of work done so far is committed and on disk.

        Group commit: the first waiter starts a commit-and-flush on the next
        turn of the loop, so the units of every task that runs meanwhile join
        it; whoever arrives while it runs is served by the next one.
        """
        target = self.units
        while self.durable_units < target:
            self.refuse()
            await self._syncs.join()
        self.refuse()

    async def _commit_and_flush(self) -> None:
        async with self.lock:
            upto = self.units
            self.commit()
        if self.flush is not None:
            await self.flush.durable()
        self.durable_units = max(self.durable_units, upto)
        if self.flush is not None and self.flush.checkpoint_due() and self._checkpointing is None:
            self._checkpointing = asyncio.ensure_future(self._checkpoint())

    async def finish(self) -> None:
        """Before closing: everything done committed and flushed (unless the store failed), the checkpoint done."""
        with contextlib.suppress(StoreError):  # a failed store has said so already; nothing more is kept
            await self.durable()
        if self._checkpointing is not None:
            await asyncio.shield(self._checkpointing)
        if self.raw.in_transaction:
            self.raw.execute("ROLLBACK")

    async def _checkpoint(self) -> None:
        """Hold units of work back while the log is copied into the database (reads go on)."""
        assert self.flush is not None
        try:
            async with self.lock:
                self.commit()
                await self.flush.checkpoint()
        finally:
            self._checkpointing = None
