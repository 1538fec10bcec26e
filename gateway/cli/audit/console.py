"""What the ``onewindow audit`` commands print and how they end: exit codes, progress, JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_PROBLEM, EXIT_BAD_INPUT = 0, 1, 2


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total, self.stream, self._last = max(total, 1), stream or sys.stderr, 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        share = min(done / self.total, 1.0)
        bar = "#" * int(share * 30)
        self.stream.write(f"\rverifying [{bar:<30}] {share:4.0%} {done:,}/{self.total:,} entries")
        self.stream.flush()

    def done(self) -> None:
        self(self.total)
        self.stream.write("\n")


def write_json(doc: Any, out: str | None) -> None:
    """Pretty JSON to a file or stdout."""
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
