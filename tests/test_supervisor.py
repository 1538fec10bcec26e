"""``onewindow serve --workers N``: one port, N processes, sandboxes once, metrics of all, clean stop."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.cli.supervisor import Supervisor, stopped_cleanly
from gateway.config import load_settings
from tests.burst import Client, clearance, submit
from tests.procs import Process, free_port, run_cli, wait_http, write_config

GRACE_S = 1.0


def listeners(port: int) -> int:
    """How many sockets listen on ``port`` (IPv4), from /proc/net/tcp."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # 0A = LISTEN
            count += 1
    return count


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # Z: a zombie
    except OSError:
        return False


async def completed_count(url: str) -> float:
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "onewindow_requests_total" and sample.labels.get("outcome") == "completed":
                return sample.value
    return 0.0


async def test_several_workers_refuse_a_sqlite_store_in_one_line(district, tmp_path) -> None:
    config = write_config(tmp_path / "c.toml", store_url=f"sqlite:///{tmp_path}/x.db", district=district)
    code, _, err = await run_cli("serve", "--config", str(config), "--workers", "2", timeout=30)
    assert code == 2 and err.count("\n") == 1 and "needs a PostgreSQL store" in err, err


@pytest.mark.slow
@pytest.mark.postgres
async def test_two_workers_share_one_port_one_set_of_sandboxes_and_their_metrics(district, tmp_path, pg_url) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "c.toml",
        store_url=pg_url,
        district=district,
        server={"host": "127.0.0.1", "port": port},
        sandboxes={"start": True},
        outbox={"shutdown_grace_s": GRACE_S},
        logging={"level": "info"},
    )
    supervisor = Process("supervisor", ["serve", "--config", str(config), "--workers", "2"], tmp_path)
    await supervisor.start()
    url = f"http://127.0.0.1:{port}"
    try:
        out = await supervisor.wait_for_output("Onewindow supervisor: 2 workers")
        await wait_http(f"{url}/healthz", process=supervisor)
        deadline = time.monotonic() + 30
        while out.count("Onewindow is serving on") < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            out = supervisor.output()
        assert listeners(port) == 2, "both workers listen on the one port (SO_REUSEPORT)"
        assert out.count("Agency sandboxes:") == 1 and out.count("Onewindow is serving on") == 2, out
        logged = supervisor.err_path.read_text(encoding="utf-8").splitlines()
        serving = [json.loads(line) for line in logged if '"gateway.serving"' in line]
        assert [line["event_loop"] for line in serving] == ["uvloop", "uvloop"], "each worker on server.event_loop"
        tax_url = out.split("tax=", 1)[1].split(",")[0].split()[0]
        workers = children(supervisor.pid)
        assert len(workers) == 2

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            answers = await asyncio.gather(
                *(submit(session, [url], Client(f"w-{n}", clearance(n)), give_up_s=30) for n in range(40))
            )
        assert {a.status for a in answers} == {201}, [a.errors for a in answers if a.status != 201][:3]
        async with aiohttp.ClientSession() as session, session.get(f"{tax_url}/_sandbox/stats") as response:
            stats = await response.json()
        assert stats["effective_submissions"] == 40  # both workers used the supervisor's one sandbox
        for _ in range(6):  # whichever worker answers, the counts are the instance's
            assert await completed_count(url) == 40

        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = children(supervisor.pid)
            if len(now) == 2 and victim not in now and listeners(port) == 2:
                break
            await asyncio.sleep(0.2)
        assert len(children(supervisor.pid)) == 2 and victim not in children(supervisor.pid), "restarted"
        assert await completed_count(url) == 40  # the dead worker's counts are kept

        workers = children(supervisor.pid)
        started = time.monotonic()
        supervisor.signal(signal.SIGTERM)
        assert await supervisor.wait(GRACE_S + 15) == 0
        assert time.monotonic() - started < GRACE_S + 10
        assert not any(alive(pid) for pid in workers)
        assert listeners(port) == 0
    finally:
        await supervisor.stop()


def test_a_worker_ended_by_sigterm_is_a_clean_stop_only_if_it_was_not_yet_serving() -> None:
    assert stopped_cleanly(0, b"R") and stopped_cleanly(0, b"")
    assert stopped_cleanly(-signal.SIGTERM, b"")  # still starting: nothing to drain
    assert not stopped_cleanly(-signal.SIGTERM, b"R")  # serving, yet it did not drain
    assert not stopped_cleanly(-signal.SIGKILL, b"") and not stopped_cleanly(1, b"") and not stopped_cleanly(None, b"")


@pytest.mark.slow
@pytest.mark.postgres
async def test_sigterm_while_the_workers_are_still_starting_is_a_clean_stop(district, tmp_path, pg_url) -> None:
    """The stop an operator sends right after starting (or during a worker's restart) exits 0, not 1."""
    config = write_config(
        tmp_path / "c.toml",
        store_url=pg_url,
        district=district,
        server={"host": "127.0.0.1", "port": free_port()},
        outbox={"shutdown_grace_s": GRACE_S},
        agencies={
            code: {"base_url": "http://127.0.0.1:9"}
            for code in ("tax", "social_security", "medical", "housing_fund", "property")
        },
    )
    supervisor = Process("supervisor", ["serve", "--config", str(config), "--workers", "2"], tmp_path)
    await supervisor.start()
    try:
        await supervisor.wait_for_output("Onewindow supervisor: 2 workers")
        workers = children(supervisor.pid)
        supervisor.signal(signal.SIGTERM)  # the workers are still importing: neither serves yet
        assert await supervisor.wait(GRACE_S + 15) == 0, supervisor.errors()
        assert "Onewindow is serving on" not in supervisor.output()  # the case meant: stopped before serving
        assert not any(alive(pid) for pid in workers)
    finally:
        await supervisor.stop()


async def test_stopping_a_watcher_leaves_the_read_of_its_workers_ready_pipe(tmp_path) -> None:
    """The supervisor cancels its watchers as it stops; the read they were awaiting is what it then asks
    (a fresh clone's run failed with CancelledError there: the watcher's cancel had cancelled the read)."""

    class Exited:
        pid, returncode = 2**22 + 1, -signal.SIGTERM

        async def wait(self) -> int:
            return self.returncode

    supervisor = Supervisor(load_settings(), config=None, workers=1)
    try:
        supervisor.procs[0] = Exited()  # type: ignore[assignment]
        supervisor.serving[0] = asyncio.get_running_loop().create_future()  # the pipe's read, not back yet
        supervisor.stopping.set()
        watcher = asyncio.create_task(supervisor._watch(0, 0))
        await asyncio.sleep(0.05)  # the watcher now awaits the read
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        assert not supervisor.serving[0].cancelled()
        supervisor.serving[0].set_result(b"")  # end of file: it never served
        assert stopped_cleanly(Exited.returncode, await supervisor._told(0))
    finally:
        shutil.rmtree(supervisor.metrics_dir, ignore_errors=True)
