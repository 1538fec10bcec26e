"""Real processes for tests: configuration files, the ``onewindow`` command, gateways and sandboxes.

The fault and supervisor tests run the gateway as a subprocess -- the
same ``onewindow serve --config FILE`` an operator runs -- so that
``kill -9`` and SIGTERM hit a real process. Every wait here is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import aiohttp

from gateway.agencies.plugin_manager import plugin_manager
from gateway.agencies.sandboxes import sandbox_specs
from gateway.config import load_settings

ONEWINDOW = str(Path(sys.executable).with_name("onewindow"))


# Ports free_port() picks from: below the kernel's ephemeral range (32768 up, where any outgoing
# connection may take a port) and below the sandboxes' ports at test offsets (19101 up,
# free_port_offset).
FREE_PORTS = range(12000, 19000)


def _all_free(ports: Iterable[int]) -> bool:
    """Whether every loopback port of ``ports`` can be bound now (each held until all are tried)."""
    with contextlib.ExitStack() as held:
        try:
            for port in ports:
                held.enter_context(socket.socket()).bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _first_free(choose: Callable[[], int], ports: Callable[[int], Iterable[int]], what: str) -> int:
    """The first of up to 200 random choices whose ports are all free now; RuntimeError naming ``what``."""
    for _ in range(200):
        choice = choose()
        if _all_free(ports(choice)):
            return choice
    raise RuntimeError(f"no free {what}")


def free_port() -> int:
    """A loopback port nobody is bound to now, for a process the test starts to listen on.

    Not one the kernel hands out for ``bind(("127.0.0.1", 0))``: that lies in
    the ephemeral range, from which every outgoing connection on the machine
    (another test's client, a load generator) takes its local port, and one
    could take it in the second before the started process binds it. Here
    only another test picking a port at random from the same range could.
    """
    return _first_free(
        lambda: random.choice(FREE_PORTS),
        lambda port: [port],
        f"loopback port in {FREE_PORTS.start}-{FREE_PORTS.stop - 1}",
    )


def free_port_offset(*also: int) -> int:
    """An offset at which every sandbox's port (and ``also``) is free now (test workers run side by side).

    The ports stay below the kernel's ephemeral range (32768 up), where any outgoing connection may take one.
    """
    ports = [getattr(spec, "default_port", 0) for spec in sandbox_specs(plugin_manager(strict=False))] + list(also)
    return _first_free(
        lambda: random.randrange(10000, 23000, 100),
        lambda offset: [port + offset for port in ports],
        "range of sandbox ports",
    )


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses every connection for as long as the block runs.

    The port is bound and never listened on: a connection is refused at
    once, and no other process -- another test of a parallel run -- can take
    the port and answer in its place, as it could once a closed server or
    :func:`free_port` let it go.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_config(path: Path, *, store_url: str, district: tuple[Path, Path], **sections: dict[str, Any]) -> Path:
    """A gateway configuration file: the sample offices and callers, the test district, and ``sections``.

    ``sections`` are TOML tables by name (``server={...}``, ``outbox={...}``);
    ``agencies={"tax": {...}}`` becomes ``[agencies.tax]``, over the sample's agency names and each
    sandbox's demo credentials.
    """
    sample = load_settings(environ={}).raw
    tables: dict[str, dict[str, Any]] = {
        "store": {"url": store_url},
        "pki": {"dir": str(district[0]), "passphrase_file": str(district[1])},
        "logging": {"level": "warning", "format": "json"},
        "sandboxes": {"start": False},
        "authentication": dict(sample["authentication"]),  # the sample callers use their API keys
    }
    for name, values in sections.items():
        if name != "agencies":
            tables[name] = {**tables.get(name, {}), **values}
    lines: list[str] = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
    named = sample.get("agencies", {})  # the sample district's names of its agencies, and the demo credentials
    agencies = {spec.agency: {**named.get(spec.agency, {}), **spec.config} for spec in sandbox_specs(plugin_manager())}
    for code, values in sections.get("agencies", {}).items():
        agencies[code] = {**agencies.get(code, {}), **values}
    for code, values in agencies.items():
        lines.append(f"[agencies.{code}]")
        lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
    for name in ("offices", "callers"):
        for row in sample[name]:
            lines.append(f"[[{name}]]")
            lines += [f"{k} = {_toml(v)}" for k, v in row.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def run_cli(*args: str, timeout: float = 60.0) -> tuple[int, str, str]:
    """Run ``onewindow ARGS`` without blocking the event loop; (status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        ONEWINDOW, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


class Process:
    """One ``onewindow`` subprocess with its output in files (a full pipe would stall it)."""

    def __init__(self, name: str, args: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.args = args
        self.workdir = workdir
        self.env = {**os.environ, **(env or {})}
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def out_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.starts}.out"

    @property
    def err_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.starts}.err"

    async def start(self) -> None:
        self.starts += 1
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                ONEWINDOW, *self.args, stdout=out, stderr=err, env=self.env, start_new_session=True
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") if self.out_path.exists() else ""

    def errors(self) -> str:
        return self.err_path.read_text(errors="replace")[-3000:] if self.err_path.exists() else ""

    async def wait_for_output(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc is not None and self.proc.returncode is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}: {self.errors()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not print {text!r} in {timeout}s: {self.errors()}")
            await asyncio.sleep(0.05)
        return self.output()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited in ``timeout`` seconds."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def wait_http(url: str, timeout: float = 30.0, process: Process | None = None) -> None:
    """Until ``GET url`` answers 200."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if process is not None and process.proc is not None and process.proc.returncode is not None:
                raise AssertionError(f"{process.name} exited {process.proc.returncode}: {process.errors()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer in {timeout}s")
            await asyncio.sleep(0.1)


async def start_sandboxes(workdir: Path, *agencies: str) -> tuple[Process, dict[str, str]]:
    """``onewindow sandbox run AGENCIES --port 0`` as a process of its own; (process, {agency: url})."""
    proc = Process("sandboxes", ["sandbox", "run", *agencies, "--port", "0"], workdir)
    await proc.start()
    text = await proc.wait_for_output("Fault knobs")
    urls = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in agencies and parts[1].startswith("http"):
            urls[parts[0]] = parts[1]
    assert set(urls) == set(agencies), text
    return proc, urls


def serving_config(tmp_path: Path, district: tuple[Path, Path], **server: Any) -> Path:
    """A configuration to serve on SQLite, info lines on, with ``[server]`` settings ``server``; no agency answers."""
    return write_config(
        tmp_path / "onewindow.toml",
        store_url=f"sqlite:///{tmp_path / 'onewindow.db'}",
        district=district,
        logging={"level": "info"},
        server={"host": "127.0.0.1", "port": free_port(), **server},
        agencies={spec.agency: {"base_url": "http://127.0.0.1:9"} for spec in sandbox_specs(plugin_manager())},
    )


async def serving_line(tmp_path: Path, district: tuple[Path, Path], **server: Any) -> dict[str, Any]:
    """``onewindow serve`` on SQLite with ``[server]`` settings ``server``: its ``gateway.serving`` log line."""
    config = serving_config(tmp_path, district, **server)
    gateway = Process("gateway", ["serve", "--config", str(config)], tmp_path)
    try:
        await gateway.start()
        await gateway.wait_for_output("District root certificate sha256: ")
        lines = gateway.err_path.read_text(encoding="utf-8").splitlines()
        serving = [json.loads(line) for line in lines if '"gateway.serving"' in line]
        assert serving, lines[-5:]
        return serving[0]
    finally:
        await gateway.stop()
