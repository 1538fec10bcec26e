"""Python calls and SQLite statements per intake call: a count, for changes too small to time.

    .venv/bin/python bench/calls.py [--seconds 5] [--connections 32] [--top 20]

On a shared 2-core VM the same code's CPU per request moves by 20-40 % from
one run to the next, so a change worth 1-2 % cannot be timed. What a
request does can be counted: this starts the stand-in tax bureau and the
gateway with the sample district (SQLite), as bench/gateway.py does, with
the gateway's main thread under cProfile (every Python call and every call
into C counted), switched on by ``SIGUSR1`` after a warm-up and off by
``SIGUSR2`` after a bounded wrk run. It prints, per request: calls in all,
by area (each gateway subpackage, plugins, signing, each library, the
standard library's modules; a call into C counts for the area that made
it), SQLite statements (``execute`` and ``executemany`` on the store's
connections), and the functions called most. Under load requests share
commits and audit batches, so the counts move by a percent or two between
runs; the profiler slows the gateway several-fold, so no time is shown.
"""

from __future__ import annotations

import argparse
import collections
import os
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_procs import API_KEY, ROOT, bench_script, drain, start_agency, start_gateway

BENCH = bench_script("gateway")
PROFILE_ENV = "BENCH_CALLS_PROFILE"  # not ONEWINDOW_*: the gateway refuses names it does not read
# ``onewindow`` with cProfile on the main thread (the event loop's), toggled by signals.
LAUNCHER = f"""
import cProfile, os, signal, sys
profile = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
def _off(*_):
    profile.disable()
    profile.dump_stats(os.environ[{PROFILE_ENV!r}])
signal.signal(signal.SIGUSR2, _off)
from gateway.cli.main import main
sys.exit(main(sys.argv[1:]))
"""
SQLITE_STATEMENTS = ("<method 'execute' of 'sqlite3.Connection' objects>",
                     "<method 'executemany' of 'sqlite3.Connection' objects>")  # fmt: skip
_STDLIB = str(Path(os.__file__).parent) + "/"


def area(filename: str) -> str:
    """Where a function lives: a subpackage (or top module) of the project, a library or a standard module."""
    path = Path(filename)
    with_root = str(ROOT) + "/"
    if filename.startswith(with_root) and "site-packages" not in filename:
        return "/".join(path.relative_to(ROOT).parts[:2])  # gateway/audit, signing/jose, gateway/core.py
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if filename.startswith(_STDLIB):
        return "stdlib " + filename[len(_STDLIB) :].split("/", 1)[0].removesuffix(".py")
    return filename


def counts(stats: pstats.Stats) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """Calls by area (a call into C counted for its caller's area), calls by function, SQLite statements."""
    by_area: collections.Counter[str] = collections.Counter()
    by_function: collections.Counter[str] = collections.Counter()
    statements = 0
    for (filename, line, name), (_, calls, _, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if filename == "~":  # C: a built-in function or method
            for (caller_file, _, _), caller in callers.items():
                by_area[area(caller_file)] += caller[1]  # (primitive calls, calls, ...)
            if name in SQLITE_STATEMENTS:
                statements += calls
            by_function[name] += calls
        else:
            by_area[area(filename)] += calls
            by_function[f"{name} ({area(filename)}:{line})"] += calls
    return by_area, by_function, statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="the counted wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--top", type=int, default=20, help="areas and functions listed")
    args = parser.parse_args()
    BENCH.ensure_tools()
    seconds, connections = max(1.0, min(args.seconds, 60.0)), max(1, min(args.connections, 256))
    with tempfile.TemporaryDirectory(prefix="onewindow-calls-") as tmp:
        script, profile = Path(tmp, "post.lua"), Path(tmp, "gateway.prof")
        script.write_text(BENCH.LUA % {"body": BENCH.BODY, "key": API_KEY})
        processes = []
        try:
            agency, agency_url = start_agency()
            processes.append(agency)
            gateway, url = start_gateway(
                Path(tmp, "gw"),
                agency_url,
                "sqlite:///var/onewindow.db",
                pool=20,
                extra={PROFILE_ENV: str(profile)},
                command=(sys.executable, "-c", LAUNCHER),
            )
            processes.append(gateway)
            for process in processes:
                drain(process)
            BENCH.wrk(url, script, connections=8, seconds=3)  # warm-up: connections, caches, the first seals
            os.kill(gateway.popen.pid, signal.SIGUSR1)
            run = BENCH.wrk(url, script, connections=connections, seconds=seconds)
            os.kill(gateway.popen.pid, signal.SIGUSR2)
            deadline = time.monotonic() + 30
            while not profile.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(0.5)  # the dump is written whole before the next request is served
            stats = pstats.Stats(str(profile))
        finally:
            for process in processes:
                process.stop()
    if run.requests == 0 or run.errors:
        raise SystemExit(f"bench/calls.py: {run.requests} requests, {run.errors} errors: no counts from this run")
    by_area, by_function, statements = counts(stats)
    n = run.requests
    print(f"#### Calls per intake call ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print(f"wrk, {connections} connections, {seconds:g} s under cProfile: {n:,} requests, 0 errors.\n")
    print(f"**{sum(by_area.values()) / n:,.0f} calls per request**, {statements / n:.1f} SQLite statements.\n")
    print("| area | calls per request |\n|---|---:|")
    for name, calls in by_area.most_common(args.top):
        print(f"| {name} | {calls / n:,.1f} |")
    print("\n| function | calls per request |\n|---|---:|")
    for name, calls in by_function.most_common(args.top):
        print(f"| `{name}` | {calls / n:,.1f} |")


if __name__ == "__main__":
    main()
