"""Instructions per intake call, counted by callgrind: a figure that does not move with the VM.

    .venv/bin/python bench/instructions.py [--requests 200] [--tree NAME=PATH ...] [--launch NAME=CODE ...]

On this shared VM the same code's CPU time per request moves by 20-40 %
from one run to the next, so a change worth a few percent cannot be timed.
``valgrind --tool=callgrind`` counts the instructions a process executes,
every thread of it, whatever else the machine is doing: two runs of the
same code agree within about 0.6 % (what the gateway does by the clock
weighs more on each request the slower the machine serves it). This
starts one stand-in tax bureau (natively) and, one after another under
callgrind, the bare forwarder and each tree's gateway with the sample
district (SQLite, as bench/gateway.py starts it). Each target gets 30 requests to warm up, then
counting is switched on (``callgrind_control -i on``) for ``--requests``
POSTs of the README's envelope, one at a time on one kept-alive
connection, and the count is dumped and read. Each target runs with
Python's hash seed fixed (``PYTHONHASHSEED=0``), and the gateway signs its
audit checkpoints every 1,000 entries, as under load, and not also every
10 s: under callgrind it serves about 7 requests a second, and a
checkpoint by the clock would cover fewer entries and fall at moments that
differ from run to run. Prints, per target, the
instructions per request in all and by where they ran: Python's
interpreter, cryptography's native code (the seal's signature, and the
audit checkpoints' Ed25519 signatures), hashing
(the system's OpenSSL, through hashlib), SQLite, the C library (memory,
strings, locks), the HTTP stack's C parts (aiohttp, uvloop, multidict,
yarl), JSON (orjson, ``_json``), and the rest; then each against the
forwarder.

Instructions are not time: a cache miss, a system call's wait and the disk
are not counted, and a library may take other code under valgrind than on
the bare machine (the ECDSA signature is about a quarter of the gateway's
instructions and about an eighth of its time). Use the figures to compare
code, one tree against another, never to predict requests a second.
valgrind comes from the system packages (installed when missing and we are
root). A target under callgrind takes about half a minute to start and
serves about 7 requests a second. ``--requests`` is a multiple of 200 up
to 1,000: a request writes five audit entries and the sample district
signs a checkpoint every 1,000, so every such window holds the same share
of checkpoints, whatever its start.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_procs import API_KEY, FORWARDER, Process, bench_script, drain, start_agency, start_gateway
from side_by_side import launcher, named

BENCH = bench_script("gateway")
WARM_UP = 30
PER_CHECKPOINT = 200  # requests: 1,000 audit entries at five a request
# What would make one run's count differ from the next: Python's per-process hash seed (the order of sets,
# collisions in dicts), and a signed checkpoint due every 10 s besides every 1,000 entries, which would
# fall at moments that differ from run to run (under callgrind a gateway serves about 7 requests a second).
SAME_EVERY_RUN = {"PYTHONHASHSEED": "0"}
GATEWAY_ENV = {**SAME_EVERY_RUN, "ONEWINDOW_AUDIT__CHECKPOINT_INTERVAL_S": "3600"}
# Where an instruction ran, by the file of the code that ran it (callgrind's "ob"): the first match names it.
PARTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Python", re.compile(r"libpython3|/python3\.\d+$")),
    ("cryptography", re.compile(r"cryptography/")),
    ("hashing", re.compile(r"libcrypto\.so|_hashlib")),
    ("SQLite", re.compile(r"libsqlite3|_sqlite3")),
    ("C library", re.compile(r"libc\.so|ld-linux|libm\.so")),
    ("HTTP (C)", re.compile(r"aiohttp/|uvloop/|multidict/|yarl/|propcache/|frozenlist/")),
    ("JSON", re.compile(r"orjson|_json\.")),
)
OTHER = "other"


@dataclass
class Count:
    """What one target executed over the counted requests."""

    name: str
    requests: int
    total: int = 0
    parts: dict[str, int] = field(default_factory=dict)

    def per_request(self, part: str | None = None) -> float:
        return (self.total if part is None else self.parts.get(part, 0)) / self.requests


def ensure_valgrind() -> None:
    """valgrind from the system packages: installed when missing and we are root, else refused."""
    if shutil.which("valgrind") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "-q", "valgrind"], env=env, capture_output=True).returncode:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "valgrind"], env=env, capture_output=True)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("bench/instructions.py: valgrind is missing (apt-get install valgrind)")


def callgrind(out: Path) -> tuple[str, ...]:
    """The command prefix that runs a program under callgrind, counting nothing until switched on."""
    return ("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}.%p")


def by_object(dump: Path) -> tuple[int, dict[str, int]]:
    """The total and the instructions of each part, read from a callgrind dump's cost lines.

    A cost line is ``<position> <instructions>`` (positions may be relative,
    ``+3``, ``-2`` or ``*``), and counts for the current ``ob=``; ``calls=``
    lines are followed by an inclusive cost line, which belongs to the callee
    and is skipped (the callee's own lines count its instructions).
    """
    names: dict[str, str] = {}  # callgrind's compressed names: "(12) /usr/lib/libc.so.6" then "(12)"
    parts: dict[str, int] = {}
    current, skip_next, total = OTHER, False, 0
    cache: dict[str, str] = {}
    with dump.open(errors="replace") as lines:
        for line in lines:
            if line[:1].isdigit() or line[:1] in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                fields = line.split()
                if len(fields) >= 2:
                    parts[current] = parts.get(current, 0) + int(fields[1])
            elif line.startswith("ob="):
                ob = _expand(line[3:].strip(), names)
                if ob not in cache:
                    cache[ob] = next((part for part, pattern in PARTS if pattern.search(ob)), OTHER)
                current = cache[ob]
            elif line.startswith("positions:") and line.split()[1:] != ["line"]:
                raise SystemExit(f"bench/instructions.py: {dump.name}: positions {line.split()[1:]}, not lines")
            elif line.startswith("cob="):
                _expand(line[4:].strip(), names)  # a callee's object may be named here first
            elif line.startswith("calls="):
                skip_next = True
            elif line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    counted = sum(parts.values())
    if not total:
        raise SystemExit(f"bench/instructions.py: {dump.name} has no total: the dump is incomplete")
    if counted != total:
        raise SystemExit(f"bench/instructions.py: {dump.name}: the parts add up to {counted:,}, not {total:,}")
    return counted, parts


def _expand(name: str, names: dict[str, str]) -> str:
    match = re.fullmatch(r"\((\d+)\)(?: (.*))?", name)
    if match is None:
        return name
    if match.group(2) is not None:
        names[match.group(1)] = match.group(2)
    return names.get(match.group(1), name)


def post(connection: http.client.HTTPConnection, key: str) -> None:
    connection.request(
        "POST",
        "/v1/requests",
        body=BENCH.BODY.encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key},
    )
    answer = connection.getresponse()
    body = answer.read()
    if answer.status not in (200, 201):
        raise SystemExit(f"bench/instructions.py: the request was answered {answer.status}: {body[:300]!r}")


def counted(name: str, process: Process, url: str, out: Path, requests: int) -> Count:
    """Warm a target up, count ``requests`` requests one at a time, and read the dump."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    try:
        for n in range(WARM_UP):
            post(connection, f"{name}-warm-{n}")
        subprocess.run(["callgrind_control", "-i", "on", str(process.pid)], check=True, capture_output=True)
        for n in range(requests):
            post(connection, f"{name}-{n}")
        subprocess.run(["callgrind_control", "-d", str(process.pid)], check=True, capture_output=True)
    finally:
        connection.close()
    total, parts = by_object(written(Path(f"{out}.{process.pid}.1")))
    return Count(name, requests, total, parts)


def written(dump: Path, timeout_s: float = 60.0) -> Path:
    """The dump once callgrind has written it whole: its total is its last line."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), dump.open("rb") as data:
            data.seek(max(0, dump.stat().st_size - 512))
            if re.search(rb"\n(?:totals|summary): \d+\s*$", data.read()):
                return dump
        time.sleep(0.2)
    raise SystemExit(f"bench/instructions.py: callgrind wrote no whole {dump.name} within {timeout_s:g} s")


def table(counts: list[Count], base: Count | None) -> list[str]:
    names = [count.name for count in counts]
    seen = [part for part, _ in PARTS] + [OTHER]
    rows = [
        "| instructions per request | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
        "| **in all** | " + " | ".join(f"**{count.per_request() / 1e6:.3f} M**" for count in counts) + " |",
    ]
    for part in seen:
        if any(count.parts.get(part) for count in counts):
            cells = " | ".join(f"{count.per_request(part) / 1e6:.2f} M" for count in counts)
            rows.append(f"| {part} | {cells} |")
    if base is not None:
        rows.append(
            "| against the forwarder | "
            + " | ".join(f"{count.per_request() / base.per_request():.1f}×" for count in counts)
            + " |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", default=[], help="NAME=PATH of a code tree (default: now=.)")
    parser.add_argument("--launch", action="append", default=[], help="NAME=CODE run first in that tree's gateway")
    parser.add_argument(
        "--requests", type=int, default=200, help="requests counted per target: a multiple of 200, at most 1000"
    )
    parser.add_argument("--no-forwarder", action="store_true", help="count the gateways only")
    args = parser.parse_args()
    requests = args.requests
    if requests <= 0 or requests > 1000 or requests % PER_CHECKPOINT:
        raise SystemExit(f"bench/instructions.py: --requests must be 200, 400, 600, 800 or 1000, not {requests}")
    ensure_valgrind()
    trees = named(args.tree, "--tree") or [("now", ".")]
    setups = dict(named(args.launch, "--launch"))
    if unknown := set(setups) - {name for name, _ in trees}:
        raise SystemExit(f"bench/instructions.py: --launch names no tree: {', '.join(sorted(unknown))}")
    counts: list[Count] = []
    base: Count | None = None
    with tempfile.TemporaryDirectory(prefix="onewindow-instructions-") as tmp:
        agency, agency_url = start_agency()
        try:
            drain(agency)
            if not args.no_forwarder:
                out = Path(tmp, "forwarder")
                process = Process(
                    "the bare forwarder",
                    [*callgrind(out), sys.executable, "-c", FORWARDER, agency_url, "20", "asyncio"],
                    env=SAME_EVERY_RUN,
                )
                try:
                    port = process.first_line(timeout=120)
                    drain(process)
                    base = counted("forwarder", process, f"http://127.0.0.1:{port}", out, requests)
                finally:
                    process.stop()
                counts.append(base)
            for index, (name, path) in enumerate(trees):
                out = Path(tmp, f"gateway{index}")
                code = launcher(Path(path).resolve(), setups.get(name, ""))
                process, url = start_gateway(
                    Path(tmp, f"gw{index}"),
                    agency_url,
                    "sqlite:///var/onewindow.db",
                    pool=20,
                    extra=GATEWAY_ENV,
                    command=(*callgrind(out), sys.executable, "-c", code),
                )
                try:
                    drain(process)
                    counts.append(counted(name, process, url, out, requests))
                finally:
                    process.stop()
        finally:
            agency.stop()
    print(f"#### Instructions per intake call ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print(
        f"callgrind, {requests} requests one at a time on one connection after {WARM_UP} to warm up; "
        "every thread of the process counted; Python's hash seed fixed, the audit log's checkpoints "
        "every 1,000 entries.\n"
    )
    print("\n".join(table(counts, base)))


if __name__ == "__main__":
    main()
