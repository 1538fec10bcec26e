"""``onewindow sandbox run``: agency sandboxes on loopback, with fault knobs.

For plugin authors and integrators who want an agency to misbehave on
purpose: ``--latency-ms 800 --error-rate 0.2`` makes it slow and flaky,
``--maintenance`` takes it down, and the knobs can be changed while it runs
with ``PUT /_sandbox/faults``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from gateway.sandbox import FaultKnobs, RunningSandbox, start_sandbox


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agencies", nargs="*", metavar="AGENCY", help="agency codes (default: every installed one)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port of the first sandbox, the next ones follow (default: each sandbox's own port)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of calls answered 'system down'")
    parser.add_argument("--maintenance", action="store_true", help="answer every call with a maintenance 503")
    parser.add_argument("--reset-rate", type=float, default=0.0, help="share of connections reset (TCP RST)")
    parser.add_argument("--stall-rate", type=float, default=0.0, help="share of calls that never answer")
    parser.add_argument("--malformed-rate", type=float, default=0.0, help="share of calls answered with garbage")
    parser.add_argument(
        "--flap-period", type=float, default=0.0, metavar="SECONDS", help="alternate up and down every SECONDS"
    )
    parser.add_argument("--seed", type=int, default=20210924, help="seed of the fault dice")


def _knobs(args: argparse.Namespace) -> FaultKnobs:
    for name in ("error_rate", "reset_rate", "stall_rate", "malformed_rate"):
        value = getattr(args, name)
        if not 0 <= value <= 1:
            raise SystemExit(f"onewindow: --{name.replace('_', '-')} must be between 0 and 1")
    return FaultKnobs(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        maintenance=args.maintenance,
        reset_rate=args.reset_rate,
        stall_rate=args.stall_rate,
        malformed_rate=args.malformed_rate,
        flap_period_s=args.flap_period,
        seed=args.seed,
    )


async def run_sandboxes(args: argparse.Namespace, *, ready: Any = None) -> int:
    """Start the chosen sandboxes and wait for Ctrl-C or SIGTERM."""
    from gateway.core import sandbox_specs
    from gateway.plugins import plugin_manager

    specs = {spec.agency: spec for spec in sandbox_specs(plugin_manager())}
    unknown = [a for a in args.agencies if a not in specs]
    if unknown:
        raise SystemExit(f"onewindow: no sandbox for {', '.join(unknown)}; installed: {', '.join(sorted(specs))}")
    chosen = [specs[a] for a in (args.agencies or sorted(specs))]
    running: list[RunningSandbox] = []
    try:
        for offset, spec in enumerate(chosen):
            port = spec.default_port if args.port is None else args.port + offset
            try:
                running.append(await start_sandbox(spec, host=args.host, port=port, knobs=_knobs(args)))
            except OSError as exc:
                raise SystemExit(
                    f"onewindow: cannot start the {spec.agency} sandbox on port {port}: {exc.strerror}"
                ) from None
            print(f"{spec.agency:<16} {running[-1].url}   {spec.name}", flush=True)
        print(
            "Fault knobs: GET/PUT <url>/_sandbox/faults; counters: GET <url>/_sandbox/stats. Ctrl-C stops.", flush=True
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        for sandbox in running:
            await sandbox.stop()
    return 0
