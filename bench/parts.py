"""What each part costs inside the whole gateway: the gateway beside itself with one part switched off.

    .venv/bin/python bench/parts.py [--rounds 3] [--seconds 5] [--parts logs,audit,checkpoints,digests,metrics]

bench/floor.py times each part alone; a profiler splits the whole by its
samples, and neither says what a part costs where it runs: py-spy counts a
call into C (the signature, SQLite) at about twice its time, cProfile
slows every Python call, and a part alone writes to ``/dev/null`` where the
gateway writes to a pipe. This starts the stand-in tax bureau and several
gateways with the sample district (SQLite), as bench/gateway.py does: one
as configured, and one for each part with that part switched off, then
drives them in alternating wrk rounds. The difference in CPU per request is
what the part costs there. The parts:

* ``logs``: the info log lines (``[logging] level = "warning"``);
* ``audit``: the audit log (``[audit] enabled = false``), its entries,
  keyed digests and signed checkpoints;
* ``checkpoints``: the audit log's signed checkpoints only (one per 10^8
  entries or hour, instead of per 1,000 entries or 10 s);
* ``digests``: the keyed payload digests events carry (made to return
  nothing, in this benchmark only);
* ``metrics``: the Prometheus counters', gauges' and histograms' updates
  (made no-ops, in this benchmark only).

A gateway with a part off keeps fewer promises: these figures say where
time goes, never a configuration to run. With six gateways a round takes
about a minute and a half, and on a shared VM a difference under about
0.05 ms is within what rounds of the same gateway spread by: run more
rounds, or fewer parts, for the small ones. Bounded: at most 10 rounds of
at most 60 s per target.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_procs import ROOT, bench_script

BENCH = bench_script("gateway")
SIDE_BY_SIDE = bench_script("side_by_side")

NO_METRICS = """
import prometheus_client.metrics as metrics
def _nothing(*args, **kwargs):
    return None
for kind, names in ((metrics.Counter, "inc"), (metrics.Gauge, "set inc dec"), (metrics.Histogram, "observe")):
    for name in names.split():
        setattr(kind, name, _nothing)
"""
NO_DIGESTS = """
from gateway.observability import events
events.PayloadDigests.__call__ = lambda self, payload, *, request_id=None: None
"""
#: Each part: what it is called in the table, the environment that switches it off, the launcher's set-up.
PARTS: dict[str, tuple[str, dict[str, str], str]] = {
    "logs": ("info log lines off", {"ONEWINDOW_LOGGING__LEVEL": "warning"}, ""),
    "audit": ("audit log off", {"ONEWINDOW_AUDIT__ENABLED": "false"}, ""),
    "checkpoints": (
        "signed checkpoints rare",
        {"ONEWINDOW_AUDIT__CHECKPOINT_EVERY": "100000000", "ONEWINDOW_AUDIT__CHECKPOINT_INTERVAL_S": "3600"},
        "",
    ),
    "digests": ("keyed digests off", {}, NO_DIGESTS),
    "metrics": ("metric updates off", {}, NO_METRICS),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (1 to 10)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per wrk run at 32 connections (1 to 60)")
    parser.add_argument("--parts", default=",".join(PARTS), help="which parts to switch off, one gateway each")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.parts.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in PARTS]
    if unknown or not chosen:
        raise SystemExit(f"bench/parts.py: unknown part(s) {unknown or chosen}; known: {', '.join(PARTS)}")
    BENCH.ensure_tools()
    rounds, seconds = max(1, min(args.rounds, 10)), max(1.0, min(args.seconds, 60.0))
    # This tree's ``onewindow``, each part switched off by its environment or by replacing what does it.
    gateways = [("as configured", SIDE_BY_SIDE.launcher(ROOT), {})]
    gateways += [(label, SIDE_BY_SIDE.launcher(ROOT, setup), env) for label, env, setup in (PARTS[n] for n in chosen)]
    targets = SIDE_BY_SIDE.alternate(gateways, rounds, seconds, who="bench/parts.py")
    base = targets[0]
    base_cpu = base.median("loaded", "cpu_ms")
    print(f"#### What each part costs inside the gateway ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print(f"wrk, 32 connections, {rounds} alternating rounds of {seconds:g} s, then {max(2, seconds / 2):g} s on one")
    print("connection; medians. The part's cost: CPU per request as configured, less CPU per request without it.\n")
    print("| gateway | req/s | CPU / request (event loop) | the part's cost | p50, 1 connection |")
    print("|---|---:|---:|---:|---:|")
    for target in targets:
        cpu = target.median("loaded", "cpu_ms")
        cost = "—" if target is base else f"{base_cpu - cpu:.2f} ms"
        print(
            f"| {target.name} | {target.median('loaded', 'rps'):,.0f} | {cpu:.2f} ms "
            f"({target.median('loaded', 'loop_ms'):.2f} ms) | {cost} | {target.median('alone', 'p50_ms'):.2f} ms |"
        )


if __name__ == "__main__":
    main()
