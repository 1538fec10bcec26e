"""A serving process's log lines: whole, in order, the lines of one turn of the event loop in shared writes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from gateway.observability.line_writer import WRITE_LIMIT, LineLogger, LineWriter
from gateway.observability.logs import configure_logging, flush_lines, get_logger
from tests.procs import ONEWINDOW, serving_config

ROOT = Path(__file__).resolve().parents[1]


class Recorder:
    """A text stream that keeps each write apart."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    @property
    def lines(self) -> list[str]:
        return "".join(self.writes).splitlines()


async def test_the_lines_of_one_turn_share_one_write() -> None:
    stream = Recorder()
    writer = LineWriter(stream, batched=True)  # type: ignore[arg-type]
    for number in range(5):
        writer.write_line(f"line {number}")
    assert stream.writes == []  # they wait for the end of this turn
    await asyncio.sleep(0)
    assert stream.writes == ["line 0\nline 1\nline 2\nline 3\nline 4\n"]
    assert writer.writes == 1


async def test_a_warning_goes_at_once_behind_what_waits() -> None:
    stream = Recorder()
    logger = LineLogger(LineWriter(stream, batched=True))  # type: ignore[arg-type]
    logger.info("first")
    logger.info("second")
    logger.warning("attention")
    assert stream.lines == ["first", "second", "attention"]  # written before any turn ended
    logger.error("and an error")
    assert stream.lines[-1] == "and an error"


def test_without_a_running_loop_each_line_goes_at_once() -> None:
    stream = Recorder()
    writer = LineWriter(stream, batched=True)  # type: ignore[arg-type]
    writer.write_line("a command's line")
    assert stream.writes == ["a command's line\n"]


def test_unbatched_every_line_is_its_own_write() -> None:
    async def log() -> None:
        writer.write_line("one")
        writer.write_line("two")

    stream = Recorder()
    writer = LineWriter(stream, batched=False)  # type: ignore[arg-type]
    asyncio.run(log())
    assert stream.writes == ["one\n", "two\n"]


async def test_a_write_never_carries_more_than_pipe_buf_and_never_splits_a_line() -> None:
    stream = Recorder()
    writer = LineWriter(stream, batched=True)  # type: ignore[arg-type]
    lines = [f"{n:03d} " + "x" * 300 for n in range(40)]
    lines += [f"{n:03d} " + "张三丰" * 150 for n in range(40, 60)]  # three UTF-8 bytes a character
    lines.append("long " + "y" * (3 * WRITE_LIMIT))  # longer than a write may be: alone, whole
    for line in lines:
        writer.write_line(line)
    await asyncio.sleep(0)
    assert stream.lines == lines
    assert len(stream.writes) > 1
    for text in stream.writes:
        assert text.endswith("\n")
        assert len(text.encode()) <= WRITE_LIMIT or text.count("\n") == 1


async def test_a_line_from_another_thread_comes_after_what_the_loop_wrote_before_it() -> None:
    stream = Recorder()
    writer = LineWriter(stream, batched=True)  # type: ignore[arg-type]
    writer.write_line("from the loop")
    thread = threading.Thread(target=writer.write_line, args=("from a thread",))
    thread.start()
    thread.join(timeout=10)
    assert stream.lines == ["from the loop", "from a thread"]
    await asyncio.sleep(0)
    assert stream.lines == ["from the loop", "from a thread"]  # nothing written twice


async def test_the_stdlib_and_structlog_lines_share_one_writer_and_one_order() -> None:
    stream = Recorder()
    writer = configure_logging("info", stream=stream, batched=True)  # type: ignore[arg-type]
    try:
        get_logger().info("gateway.first")
        logging.getLogger("aiohttp.server").info("a library's line")
        get_logger().info("gateway.second")
        await asyncio.sleep(0)
        events = [json.loads(line)["event"] for line in stream.lines]
        assert events == ["gateway.first", "a library's line", "gateway.second"]
        assert writer.writes == 1
    finally:
        configure_logging("warning")


async def test_flush_lines_writes_what_waits_for_the_end_of_the_turn() -> None:
    stream = Recorder()
    configure_logging("info", stream=stream, batched=True)  # type: ignore[arg-type]
    try:
        get_logger().info("gateway.serving")
        assert stream.lines == []  # batched: it waits for the end of this turn
        flush_lines()
        assert [json.loads(line)["event"] for line in stream.lines] == ["gateway.serving"]
        await asyncio.sleep(0)
        assert len(stream.lines) == 1  # nothing written twice
    finally:
        configure_logging("warning")


async def test_a_serving_gateway_logs_its_start_up_before_its_banner(district, tmp_path: Path) -> None:
    # stdout and stderr into one file, as a terminal or journald merges them: the order the gateway wrote in
    # and with stdout block-buffered, as it is to a file or a pipe: each banner line must be flushed as written
    config = serving_config(tmp_path, district)
    merged = tmp_path / "merged.log"
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    with merged.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            ONEWINDOW, "serve", "--config", str(config), stdout=out, stderr=out, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while "District root certificate sha256: " not in (text := merged.read_text(errors="replace")):
            assert proc.returncode is None and time.monotonic() < deadline, text[-3000:]
            await asyncio.sleep(0.05)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    assert '"gateway.serving"' in text, text[-3000:]
    assert text.index('"gateway.serving"') < text.index("Onewindow is serving on"), text[-3000:]


def test_what_waits_is_written_when_the_process_exits(tmp_path: Path) -> None:
    # The coroutine logs and leaves the process before the loop's turn ends: only the exit writes the line.
    script = (
        "import asyncio\n"
        "from gateway.observability.logs import configure_logging, get_logger\n"
        "configure_logging('info', batched=True)\n"
        "async def main():\n"
        "    get_logger().info('last.words', count=3)\n"
        "    raise SystemExit(3)\n"
        "asyncio.new_event_loop().run_until_complete(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 3, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["event"], line["count"]) for line in lines] == [("last.words", 3)]
