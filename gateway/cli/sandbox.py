"""``onewindow sandbox run``: agency sandboxes on loopback, with fault knobs.

For plugin authors and integrators who want an agency to misbehave on
purpose: ``--latency-ms 800 --error-rate 0.2`` makes it slow and flaky,
``--maintenance`` takes it down, and the knobs can be changed while it runs
with ``PUT /_sandbox/faults``. ``--option AGENCY.KEY=VALUE`` sets one of a
sandbox's own options (``SandboxSpec.options``), e.g.
``--option property.decision_delay_s=0.5`` for registrations decided at once.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.sandbox import FaultKnobs, RunningSandbox, SandboxSpec, sandbox_options, start_sandbox

_OPTION = re.compile(r"^(?P<agency>[a-z][a-z0-9_]*)\.(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.S)


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
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="AGENCY.KEY=VALUE",
        help="set a sandbox option, VALUE a TOML literal (e.g. property.decision_delay_s=0.5); repeatable",
    )


def _literal(text: str) -> Any:
    """A TOML literal (``0.5``, ``true``, ``"x"``); anything else is taken as a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_options(pairs: Sequence[str], specs: Mapping[str, SandboxSpec]) -> dict[str, dict[str, Any]]:
    """``AGENCY.KEY=VALUE`` arguments as checked options per agency; a mistake is one line of SystemExit."""
    chosen: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        found = _OPTION.match(pair)
        if found is None:
            raise SystemExit(
                f"onewindow: --option {pair!r} is not AGENCY.KEY=VALUE (e.g. property.decision_delay_s=0.5)"
            )
        agency = found["agency"]
        if agency not in specs:
            installed = ", ".join(sorted(specs))
            raise SystemExit(f"onewindow: --option {pair!r}: no sandbox for {agency}; installed: {installed}")
        chosen.setdefault(agency, {})[found["key"]] = _literal(found["value"])
    for agency, changes in chosen.items():
        try:
            sandbox_options(specs[agency], changes)
        except ValueError as exc:
            raise SystemExit(f"onewindow: --option: {exc}") from None
    return chosen


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
    from gateway.agencies.plugin_manager import plugin_manager
    from gateway.agencies.sandboxes import sandbox_specs

    specs = {spec.agency: spec for spec in sandbox_specs(plugin_manager())}
    unknown = [a for a in args.agencies if a not in specs]
    if unknown:
        raise SystemExit(f"onewindow: no sandbox for {', '.join(unknown)}; installed: {', '.join(sorted(specs))}")
    chosen = [specs[a] for a in (args.agencies or sorted(specs))]
    options = parse_options(args.option, specs)
    running: list[RunningSandbox] = []
    try:
        for offset, spec in enumerate(chosen):
            port = spec.default_port if args.port is None else args.port + offset if args.port else 0
            try:
                running.append(
                    await start_sandbox(
                        spec, host=args.host, port=port, knobs=_knobs(args), options=options.get(spec.agency)
                    )
                )
            except OSError as exc:
                raise SystemExit(
                    f"onewindow: cannot start the {spec.agency} sandbox on port {port}: {exc.strerror}"
                ) from None
            shown = running[-1].options
            extra = "   " + " ".join(f"{k}={v!r}" for k, v in sorted(shown.items())) if shown else ""
            print(f"{spec.agency:<16} {running[-1].url}   {spec.name}{extra}", flush=True)
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


def cmd_sandbox_run(args: argparse.Namespace) -> int:
    """``onewindow sandbox run``."""
    return asyncio.run(run_sandboxes(args))


def register(sub: Any) -> None:
    """Add ``sandbox run`` to the ``onewindow`` command."""
    sandbox = sub.add_parser("sandbox", help="agency sandboxes for development and tests")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="COMMAND")
    run = sandbox_sub.add_parser(
        "run", help="start agency sandboxes on loopback", description="Start agency sandboxes until Ctrl-C."
    )
    add_arguments(run)
    run.set_defaults(func=cmd_sandbox_run)
