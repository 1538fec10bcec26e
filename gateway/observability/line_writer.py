"""Log lines to one stream, whole and in order, with one write for the lines of one turn of the event loop.

A serving gateway writes about six lines a request. Each line written on
its own is a system call that wakes whoever reads the other end (journald,
a pipe to a collector): measured at about 22 µs of the event loop's time a
line on the development VM, a sixth of a request's log cost. Lines the
event loop's thread writes therefore wait until the end of the loop's
current turn (``call_soon``), and go out together: under load a turn serves
many requests, and their lines share a write.

What a reader can rely on:

* **Whole lines, never split by another writer.** One write carries at most
  ``PIPE_BUF`` bytes of whole lines (a line longer than that goes alone, as
  before): the workers of ``serve --workers N`` share the supervisor's
  stderr, and a pipe keeps a write of up to ``PIPE_BUF`` bytes in one piece.
* **In order.** A line that is written at once -- at warning level or above,
  from a thread other than the loop's, or with no loop running -- first
  writes whatever waits before it. Text the gateway prints on another
  stream (the serving banner on stdout) follows the lines logged before it:
  ``gateway.observability.logs.flush_lines`` writes them first.
* **Nothing left behind on a clean stop.** What waits is written when the
  process exits (``atexit``). A ``kill -9`` can take the lines of the turn it
  interrupts -- microseconds of them -- never a stored record: the store and
  the audit log are written apart from logs.
"""

from __future__ import annotations

import asyncio
import atexit
import select
import threading
from typing import Any, TextIO

#: Bytes one write carries at most: what a pipe keeps in one piece among several writers.
WRITE_LIMIT = getattr(select, "PIPE_BUF", 4096)


class LineWriter:
    """Whole lines to ``stream``; with ``batched``, the event loop's lines of one turn in shared writes."""

    def __init__(self, stream: TextIO, *, batched: bool) -> None:
        self.stream = stream
        self.batched = batched
        self.writes = 0  # writes made to the stream: what the batching saves shows here
        self._waiting: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop a flush is scheduled on
        self._lock = threading.Lock()
        if batched:
            atexit.register(self.flush)

    def write_line(self, line: str, *, urgent: bool = False) -> None:
        """Write ``line`` (without its newline): at the end of this turn of the loop, or at once."""
        if self.batched and not urgent:
            loop = asyncio._get_running_loop()  # None outside a running loop's thread
            if loop is not None:
                with self._lock:
                    if self._loop is None or self._loop is loop:
                        self._waiting.append(line)
                        if self._loop is None:
                            self._loop = loop
                            loop.call_soon(self.flush)
                        return
        with self._lock:
            self._waiting.append(line)
            self._write_waiting()

    def flush(self) -> None:
        """Write every line that waits (the loop's scheduled call, ``atexit``, a test)."""
        with self._lock:
            self._write_waiting()

    def _write_waiting(self) -> None:
        """Under the lock: the waiting lines in writes of at most :data:`WRITE_LIMIT` bytes."""
        lines, self._waiting, self._loop = self._waiting, [], None
        chunk: list[str] = []
        size = 0
        for line in lines:
            length = (len(line) if line.isascii() else 4 * len(line)) + 1  # an upper bound of its UTF-8 bytes
            if chunk and size + length > WRITE_LIMIT:
                self._write(chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += length
        if chunk:
            self._write(chunk)

    def _write(self, lines: list[str]) -> None:
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self.writes += 1


class LineLogger:
    """structlog's logger over a :class:`LineWriter`: each method takes the rendered line."""

    def __init__(self, writer: LineWriter) -> None:
        self._writer = writer

    def msg(self, message: str) -> None:
        self._writer.write_line(message)

    debug = info = log = msg

    def warning(self, message: str) -> None:
        self._writer.write_line(message, urgent=True)  # an operator's attention: never held back

    warn = error = critical = exception = fatal = failure = err = warning

    def __repr__(self) -> str:
        return f"<LineLogger to {self._writer.stream!r}>"


class LineLoggerFactory:
    """structlog's ``logger_factory``: every logger writes through the one :class:`LineWriter`."""

    def __init__(self, writer: LineWriter) -> None:
        self.writer = writer

    def __call__(self, *args: Any) -> LineLogger:
        return LineLogger(self.writer)
