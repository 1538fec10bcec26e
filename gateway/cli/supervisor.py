"""``onewindow serve --workers N``: N gateway processes on one port, under one supervisor.

One Python process keeps one core busy at most (JSON, sealing, TLS); on
PostgreSQL several processes share the database safely -- outbox rows are
claimed with ``FOR UPDATE SKIP LOCKED``, idempotency keys under row locks --
and the kernel spreads new connections over every process listening on the
port with ``SO_REUSEPORT``. This module is the small supervisor around them:

- it prepares what must happen once: the agency sandboxes of the sample
  configuration, which it runs itself and routes every worker to (N workers
  must not start N sets of sandboxes), and the start-up checks every worker
  runs (:mod:`gateway.startup`), which create the sample district's seals;
- it starts the workers (``python -m gateway.cli.supervisor --worker``) with a
  shared ``PROMETHEUS_MULTIPROC_DIR`` so any worker's ``/metrics`` reports
  all of them;
- it forwards SIGTERM/SIGINT to every worker, waits for them to drain
  (``[outbox] shutdown_grace_s`` and a margin, then SIGKILL) and exits;
- it restarts a worker that dies on its own once it had been serving; a
  worker that dies before it is serving stops them all (that is a
  configuration problem, and restarting would only repeat it). Each worker
  reports "serving" by writing one byte to a pipe the supervisor gave it.

Workers run in their own session, so a terminal's Ctrl-C reaches them only
through the supervisor (once), and each worker stops by itself when the
supervisor disappears.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence

from gateway.api import event_loop
from gateway.config import Settings, load_settings
from gateway.errors import OperatorError
from gateway.observability.logs import configure_logging, get_logger

SANDBOXES_ENV = "ONEWINDOW_WORKER_SANDBOXES"  # JSON {agency: base URL} of sandboxes the supervisor runs
STOP_MARGIN_S = 8.0  # beyond the grace period, before stragglers are killed
RESTART_DELAY_S = 1.0
TOLD_WAIT_S = 5.0  # for the read of an exited worker's ready pipe


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind (without listening) to learn the port when it is 0 and keep it ours across worker restarts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"onewindow: cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


class Supervisor:
    """Runs and watches the worker processes of one ``serve --workers N``."""

    def __init__(self, settings: Settings, *, config: str | None, workers: int) -> None:
        self.settings = settings
        self.config = config
        self.workers = workers
        self.log = get_logger(component="supervisor")
        self.stopping = asyncio.Event()
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.started_at: dict[int, float] = {}
        self.serving: dict[int, asyncio.Future[bytes]] = {}
        self.failed: int | None = None
        self.metrics_dir = tempfile.mkdtemp(prefix="onewindow-metrics-")
        self.sandbox_urls: dict[str, str] = {}
        self._sandboxes: list = []

    async def _start_sandboxes(self) -> None:
        from gateway.agencies.plugin_manager import plugin_manager
        from gateway.agencies.sandboxes import sandbox_specs
        from gateway.sandbox import start_sandbox

        host = self.settings.sandboxes_host
        for spec in sandbox_specs(plugin_manager(disabled=self.settings.plugins_disabled)):
            try:
                running = await start_sandbox(spec, host=host, port=spec.default_port)
            except OSError:
                running = await start_sandbox(spec, host=host, port=0)
                self.log.warning("sandbox.port_taken", agency=spec.agency, port=spec.default_port, url=running.url)
            self._sandboxes.append(running)
            self.sandbox_urls[spec.agency] = running.url

    def _check_start(self) -> None:
        """Every start-up check a worker runs (:mod:`gateway.startup`), once, here, before any worker starts.

        A mistake is then one line from the supervisor instead of N workers dying, and the sample
        district's seals and audit key are created once, not by N workers at once.
        """
        from gateway.agencies.plugin_manager import plugin_manager
        from gateway.agencies.sandboxes import sandbox_specs, with_sandbox_config
        from gateway.sealing.coverage import check_coverage
        from gateway.startup import check_start

        pm = plugin_manager(disabled=self.settings.plugins_disabled)
        settings = self.settings
        if self.sandbox_urls:
            settings = with_sandbox_config(settings, sandbox_specs(pm), self.sandbox_urls)
        try:
            checked = check_start(settings, pm, creating=True)
            try:  # the sample district's seals for new items are issued once, here, not by N workers at once
                if checked.sealer is not None:
                    check_coverage(checked.sealer, checked.registry.catalogue, settings)
            finally:
                checked.close()
        except OperatorError as exc:
            raise SystemExit(f"onewindow: {exc}") from None

    async def _check_store(self) -> None:
        """An instance whose audit key or secret is not the store's stops here, in one line, before any worker."""
        from gateway.audit.setup import check_store_keys

        try:
            await check_store_keys(self.settings)
        except OperatorError as exc:
            raise SystemExit(f"onewindow: {exc}") from None

    async def _spawn(self, index: int, port: int) -> None:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir}
        if self.sandbox_urls:
            env[SANDBOXES_ENV] = json.dumps(self.sandbox_urls)
        argv = [
            sys.executable,
            "-m",
            "gateway.cli.supervisor",
            "--worker",
            "--host",
            self.settings.host,
            "--port",
            str(port),
        ]
        if self.config:
            argv += ["--config", self.config]
        read_end, write_end = os.pipe()
        argv += ["--ready-fd", str(write_end)]
        try:
            proc = await asyncio.create_subprocess_exec(*argv, env=env, start_new_session=True, pass_fds=(write_end,))
        finally:
            os.close(write_end)
        # b"R" once it serves; b"" (end of file) if it dies first. Read in a thread: it blocks until then.
        self.serving[index] = asyncio.get_running_loop().run_in_executor(None, _read_and_close, read_end)
        self.procs[index] = proc
        self.started_at[index] = time.monotonic()
        self.log.info("worker.started", worker=index, pid=proc.pid)

    async def _watch(self, index: int, port: int) -> None:
        while True:
            proc = self.procs[index]
            code = await proc.wait()
            self._mark_dead(proc.pid)
            was_serving = await asyncio.shield(self.serving[index]) == b"R"  # stop() cancels this task, not it
            if self.stopping.is_set():
                return
            ran = time.monotonic() - self.started_at[index]
            if not was_serving:
                print(f"onewindow: worker {index} exited with status {code} during start-up", file=sys.stderr)
                self.failed = code or 1
                self.stopping.set()
                return
            self.log.error("worker.died", worker=index, pid=proc.pid, status=code, ran_s=round(ran, 1))
            await asyncio.sleep(RESTART_DELAY_S)
            if self.stopping.is_set():
                return
            await self._spawn(index, port)

    def _mark_dead(self, pid: int) -> None:
        from prometheus_client import multiprocess

        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(pid, self.metrics_dir)

    async def _stop_workers(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = self.settings.outbox.shutdown_grace_s + STOP_MARGIN_S
        waiting = [proc.wait() for proc in self.procs.values()]
        try:
            async with asyncio.timeout(deadline):
                await asyncio.gather(*waiting)
        except TimeoutError:
            for proc in self.procs.values():
                if proc.returncode is None:
                    self.log.error("worker.killed", pid=proc.pid, after_s=deadline)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            await asyncio.gather(*(proc.wait() for proc in self.procs.values()))

    def _reload_workers(self) -> None:
        """SIGHUP: every worker reads the callers and offices again (each checks the file itself)."""
        for proc in self.procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGHUP)
        self.log.info("supervisor.reload", workers=len(self.procs))

    async def run(self) -> int:
        """Start everything, wait for a signal (or a failed start), stop everything; the exit status."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload_workers)
        reserved = reserve_port(self.settings.host, self.settings.port)
        port = reserved.getsockname()[1]
        watchers: list[asyncio.Task[None]] = []
        try:
            if self.settings.sandboxes_start:
                await self._start_sandboxes()
            self._check_start()
            await self._check_store()
            if self.sandbox_urls:
                print("Agency sandboxes: " + ", ".join(f"{a}={u}" for a, u in self.sandbox_urls.items()), flush=True)
            for index in range(self.workers):
                await self._spawn(index, port)
            scheme = "https" if self.settings.tls.enabled else "http"
            print(
                f"Onewindow supervisor: {self.workers} workers on {scheme}://{self.settings.host}:{port} "
                f"(pids {', '.join(str(p.pid) for p in self.procs.values())}).",
                flush=True,
            )
            watchers = [asyncio.create_task(self._watch(i, port)) for i in range(self.workers)]
            await self.stopping.wait()
            self.log.info("supervisor.stopping", workers=len(self.procs))
            await self._stop_workers()
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            for sandbox in self._sandboxes:
                await sandbox.stop()
            reserved.close()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
        statuses = [proc.returncode for proc in self.procs.values()]
        self.log.info("supervisor.stopped", statuses=statuses)
        if self.failed is not None:
            return self.failed
        clean = [stopped_cleanly(proc.returncode, await self._told(i)) for i, proc in self.procs.items()]
        return 0 if all(clean) else 1

    async def _told(self, index: int) -> bytes:
        """What worker ``index`` wrote to its ready pipe; it has exited, so the read ends with it (bounded all
        the same: a process it started could hold the pipe open)."""
        try:
            return await asyncio.wait_for(asyncio.shield(self.serving[index]), TOLD_WAIT_S)
        except TimeoutError:
            return b""


def stopped_cleanly(status: int | None, told: bytes) -> bool:
    """Whether a worker's exit status is a clean stop, ``told`` being what it wrote to its ready pipe.

    A worker that was serving drains and exits 0 on SIGTERM. One still starting (a restart, say) has no
    handler yet, so the signal ends it at once; there was nothing to drain, and that is a clean stop too.
    """
    return status == 0 or (told != b"R" and status == -signal.SIGTERM)


def _read_and_close(fd: int) -> bytes:
    try:
        return os.read(fd, 1)
    finally:
        os.close(fd)


def run_supervisor(settings: Settings, *, config: str | None, workers: int) -> int:
    """``onewindow serve --workers N`` (N > 1, PostgreSQL store)."""
    return asyncio.run(Supervisor(settings, config=config, workers=workers).run())


# -- one worker ---------------------------------------------------------------------


async def _leave_with_parent(parent: int) -> None:
    """Drain and stop (as on SIGTERM) when the supervisor is gone, e.g. killed with SIGKILL."""
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


async def _tell_serving(ready: asyncio.Event, fd: int) -> None:
    await ready.wait()
    os.write(fd, b"R")
    os.close(fd)


async def _run_worker(settings: Settings, ready_fd: int | None) -> None:
    from gateway.api.server import serve

    ready = asyncio.Event()
    helpers = [asyncio.create_task(_leave_with_parent(os.getppid()))]
    if ready_fd is not None:
        helpers.append(asyncio.create_task(_tell_serving(ready, ready_fd)))
    try:
        await serve(settings, ready=ready, reuse_port=True)
    finally:
        for task in helpers:
            task.cancel()


def worker_settings(settings: Settings, environ: dict[str, str] | os._Environ[str]) -> Settings:
    """A worker's settings: routed to the supervisor's sandboxes instead of starting its own."""
    urls = environ.get(SANDBOXES_ENV)
    if not urls:
        return settings
    from gateway.agencies.plugin_manager import plugin_manager
    from gateway.agencies.sandboxes import sandbox_specs, with_sandbox_config

    routed = with_sandbox_config(
        settings, sandbox_specs(plugin_manager(disabled=settings.plugins_disabled)), json.loads(urls)
    )
    return dataclasses.replace(routed, sandboxes_start=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of one worker process (started by :class:`Supervisor`)."""
    parser = argparse.ArgumentParser(prog="onewindow-worker")
    parser.add_argument("--worker", action="store_true", required=True)
    parser.add_argument("--config")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ready-fd", type=int, help="write one byte here once serving")
    args = parser.parse_args(argv)
    settings = worker_settings(load_settings(args.config), os.environ)
    settings = dataclasses.replace(settings, host=args.host, port=args.port)
    configure_logging(settings.log_level, json=settings.log_format == "json", batched=True)
    try:
        event_loop.run(_run_worker(settings, args.ready_fd), event_loop=settings.event_loop)
    except OperatorError as exc:  # a refused start (the supervisor's checks missed it): one line, as serve says it
        print(f"onewindow: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
