"""The processes the gateway benchmark drives: a stand-in agency, a bare forwarder, the gateway.

Each runs in its own process on loopback, started with ``sys.executable`` and
stopped by the benchmark (SIGTERM, then SIGKILL after a bound). What a
process uses is read from ``/proc``: CPU time (user + system, every thread
and child), resident memory, and the ids of its worker processes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
API_KEY = "sample-fangzhen-window-key"


def bench_script(name: str) -> Any:
    """Another benchmark script of bench/ as a module (``gateway.py``'s name is the gateway package's,
    which comes first on the path), loaded once."""
    key = f"bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[key]


# The tax bureau's sandbox (plugins/tax/sandbox.py) in a process of its own: it answers in constant
# time (HMAC check, sample data), so it is never what limits a run. Prints its port.
AGENCY = textwrap.dedent(
    """
    import asyncio, sys
    from gateway.agencies.plugin_manager import plugin_manager
    from gateway.agencies.sandboxes import sandbox_specs
    from gateway.sandbox import start_sandbox

    async def main():
        spec = next(s for s in sandbox_specs(plugin_manager()) if s.agency == "tax")
        sandbox = await start_sandbox(spec, port=0)
        print(sandbox.url.rsplit(":", 1)[1].strip("/"), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)

# The bare forwarder: what an intake call costs without the gateway -- parse the envelope, check the
# API key, make the same signed call to the same bureau, answer with its data. No store, no seal.
FORWARDER = textwrap.dedent(
    """
    import asyncio, json, secrets, sys, time
    from urllib.parse import urlsplit
    import aiohttp
    from aiohttp import web
    from gateway.api import event_loop
    from plugins.tax.client import signature
    from gateway.agencies.plugin_manager import plugin_manager
    from gateway.agencies.sandboxes import sandbox_specs

    agency, pool = sys.argv[1].rstrip("/"), int(sys.argv[2])
    spec = next(s for s in sandbox_specs(plugin_manager()) if s.agency == "tax")
    key, secret = spec.config["secrets"]["app_key"], spec.config["secrets"]["app_secret"]
    URL = agency + "/api/v2/payment-records/query"
    PATH = urlsplit(URL).path

    async def forward(request):
        if request.headers.get("Authorization") != "Bearer sample-fangzhen-window-key":
            return web.json_response({"title": "unauthorised"}, status=401)
        envelope = await request.json()
        applicant = envelope["applicant"]
        body = json.dumps(
            {"taxpayer": {"id": applicant["id_number"], "name": applicant["name"], "kind": applicant["kind"]},
             "params": envelope["materials"]}, ensure_ascii=False).encode()
        stamp, nonce = str(int(time.time() * 1000)), secrets.token_hex(12)
        headers = {"X-App-Key": key, "X-Timestamp": stamp, "X-Nonce": nonce, "Content-Type": "application/json",
                   "X-Signature": signature(secret, "POST", PATH, stamp, nonce, body)}
        async with request.app["session"].post(URL, data=body, headers=headers) as answer:
            data = json.loads(await answer.read())
        return web.json_response({"status": "completed", "result": data["data"]}, status=201)

    async def main():
        app = web.Application()
        app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=pool))
        app.router.add_post("/v1/requests", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    event_loop.run(main(), event_loop=sys.argv[3])
    """
)


def free_port() -> int:
    """A free loopback port (the gateway is given its port, as ``serve --port`` is)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """One process the benchmark started, stopped when the benchmark ends."""

    def __init__(self, name: str, args: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def first_line(self, timeout: float = 30.0) -> str:
        """The first line the process prints (its port), or fail with what it said."""
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline().decode().strip()
        if not line:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {self.popen.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        return line

    def tree(self) -> list[int]:
        """This process and every descendant (``serve --workers N`` runs N workers under a supervisor)."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
        found, frontier = [self.pid], [self.pid]
        while frontier:
            children = [pid for pid, parent in parents.items() if parent in frontier]
            found += children
            frontier = children
        return found

    def workers(self) -> list[int]:
        """The processes that serve requests: the descendants when there are any, else this one."""
        return self.tree()[1:] or [self.pid]

    def cpu_seconds(self) -> float:
        """User + system CPU of the whole tree so far."""
        total = 0
        for pid in self.tree():
            with contextlib.suppress(OSError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / TICKS

    def loop_seconds(self) -> float:
        """User + system CPU of each serving process's main thread (its event loop), summed.

        The loop runs every request's Python; other threads (the flush, the
        sealing thread) work beside it. A loop near one core per process is
        the bound on throughput, whatever the rest of the machine does.
        """
        total = 0
        for pid in self.workers():
            with contextlib.suppress(OSError, ValueError):
                fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / TICKS

    def rss_mb(self) -> float:
        """Resident memory of the serving processes, in MB (the largest one: the target is per process)."""
        sizes = [0.0]
        for pid in self.workers():
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
        return max(sizes)

    def stop(self, grace: float = 20.0) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


def start_agency() -> tuple[Process, str]:
    process = Process("the stand-in tax bureau", [sys.executable, "-c", AGENCY])
    return process, f"http://127.0.0.1:{process.first_line()}"


def start_forwarder(agency_url: str, pool: int, *, event_loop: str = "asyncio") -> tuple[Process, str]:
    """The bare forwarder, on asyncio's own loop as issue #12 defines it (``event_loop="uvloop"``: the gateway's)."""
    process = Process("the bare forwarder", [sys.executable, "-c", FORWARDER, agency_url, str(pool), event_loop])
    return process, f"http://127.0.0.1:{process.first_line()}"


def gateway_env(agency_url: str, store_url: str, *, pool: int) -> dict[str, str]:
    """The sample district, its sandboxes replaced: the tax bureau is the stand-in, the rest unused."""
    from gateway.agencies.plugin_manager import plugin_manager
    from gateway.agencies.sandboxes import sandbox_specs

    env = {"ONEWINDOW_SANDBOXES__START": "false", "ONEWINDOW_STORE__URL": store_url}
    for spec in sandbox_specs(plugin_manager()):
        prefix = f"ONEWINDOW_AGENCIES__{spec.agency.upper()}__"
        env[prefix + "BASE_URL"] = agency_url if spec.agency == "tax" else "http://127.0.0.1:9"
        for key, value in spec.config.get("secrets", {}).items():
            env[prefix + "SECRETS__" + key.upper()] = str(value)
        for key, value in spec.config.get("options", {}).items():
            env[prefix + "OPTIONS__" + key.upper()] = str(value)
    env["ONEWINDOW_AGENCIES__TAX__POOL_SIZE"] = str(pool)
    return env


def start_gateway(
    workdir: Path,
    agency_url: str,
    store_url: str,
    *,
    pool: int,
    workers: int = 1,
    extra: dict[str, str] | None = None,
    command: tuple[str, ...] = (sys.executable, "-m", "gateway.cli"),
) -> tuple[Process, str]:
    """``onewindow serve`` with the sample configuration, in ``workdir`` (its ``var/``: PKI, witness, SQLite).

    ``command`` runs ``onewindow`` (a launcher that wraps it, for a profiler).
    """
    import urllib.request

    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = Process(
        "the gateway",
        [*command, "serve", "--port", str(port), "--workers", str(workers)],
        cwd=workdir,
        env={**gateway_env(agency_url, store_url, pool=pool), **(extra or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"the gateway did not start: {process.popen.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
            if answer.status == 200:
                return process, url
        time.sleep(0.2)
    process.stop()
    raise RuntimeError("the gateway did not answer /healthz within 120 s")


def drain(process: Process) -> None:
    """Read and drop what a process prints, so a full pipe never stalls it (log lines at info level)."""
    import threading

    def pump(stream: Any) -> None:
        for _ in iter(lambda: stream.read(65536), b""):
            pass

    for stream in (process.popen.stdout, process.popen.stderr):
        if stream is not None:
            threading.Thread(target=pump, args=(stream,), daemon=True).start()
