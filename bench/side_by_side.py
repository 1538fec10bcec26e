"""Two or more code trees' gateways side by side on SQLite: the figures a change is judged by.

    .venv/bin/python bench/side_by_side.py --tree before=/tmp/before --tree now=. [--rounds 6] [--seconds 5]

On a shared VM the same code's throughput moves by 20-40 % between runs,
so a change is measured against the tree before it in one run: each tree's
``onewindow serve`` with the sample district (SQLite, as bench/gateway.py
starts it) in front of one constant-time stand-in tax bureau, driven by
wrk in alternating rounds (32 connections for ``--seconds``, then one
connection for half as long), so that load from elsewhere on the machine
hits each alike. A tree is a checkout of another commit (``git worktree
add --detach /tmp/before <commit>``, or ``git archive <commit> | tar -x -C
/tmp/before``); its code is imported ahead of this one's, with this
checkout's installed packages. ``--launch NAME=CODE`` runs Python code in
that tree's gateway before it starts: a trial of a library's setting is
``--tree plain=. --tree tried=. --launch "tried=import gc; gc.set_threshold(20000)"``.
Prints, per tree, the medians and the rounds in which it served
more requests a second than the first tree. Bounded: at most 10 rounds of
at most 60 s per tree.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_procs import API_KEY, bench_script, drain, start_agency, start_gateway

BENCH = bench_script("gateway")
# ``onewindow`` from one tree: its code first on the path, then ``--launch``'s set-up.
LAUNCHER = (
    "import sys\nsys.path.insert(0, {tree!r})\n{setup}\n"
    "from gateway.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
)


def launcher(tree: Path, setup: str = "") -> str:
    """The code that runs ``onewindow`` from ``tree`` after ``setup`` (a trial's set-up, or nothing)."""
    return LAUNCHER.format(tree=str(tree), setup=setup)


def named(values: list[str], what: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` arguments as pairs; a missing ``=`` is a one-line error."""
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise SystemExit(f"bench/side_by_side.py: {what} must be NAME=VALUE, not {value!r}")
        pairs.append((name, rest))
    return pairs


def alternate(
    gateways: Sequence[tuple[str, str, dict[str, str]]], rounds: int, seconds: float, *, who: str
) -> list[Any]:
    """Gateways (name, launcher code, environment) with the sample district on SQLite, in front of one
    stand-in bureau, in alternating wrk rounds: their ``Target`` figures; ``who`` refuses a run with errors."""
    with tempfile.TemporaryDirectory(prefix="onewindow-side-by-side-") as tmp:
        script = Path(tmp, "post.lua")
        script.write_text(BENCH.LUA % {"body": BENCH.BODY, "key": API_KEY})
        processes, targets = [], []
        try:
            agency, agency_url = start_agency()
            processes.append(agency)
            for index, (name, code, env) in enumerate(gateways):
                process, url = start_gateway(
                    Path(tmp, f"gateway{index}"),
                    agency_url,
                    "sqlite:///var/onewindow.db",
                    pool=20,
                    extra=env,
                    command=(sys.executable, "-c", code),
                )
                processes.append(process)
                targets.append(BENCH.Target(name, process, url))
            for process in processes:
                drain(process)
            BENCH.round_robin(targets, script, rounds, seconds, 32)
        finally:
            for process in processes:
                process.stop()
    for target in targets:
        if any(run.errors for run in target.loaded + target.alone):
            raise SystemExit(f"{who}: errors against '{target.name}': no figures from this run")
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", default=[], help="NAME=PATH of a code tree (two or more)")
    parser.add_argument("--launch", action="append", default=[], help="NAME=CODE run first in that tree's gateway")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds (1 to 10)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per run at 32 connections (1 to 60)")
    args = parser.parse_args()
    trees = [(name, Path(path).resolve()) for name, path in named(args.tree, "--tree")]
    setups = dict(named(args.launch, "--launch"))
    if len(trees) < 2 or len({name for name, _ in trees}) < len(trees):
        raise SystemExit("bench/side_by_side.py: two trees or more, each named: --tree before=PATH --tree now=.")
    for name, path in trees:
        if not (path / "gateway" / "cli" / "main.py").is_file():
            raise SystemExit(f"bench/side_by_side.py: {path} ({name}) holds no gateway/cli/main.py")
    unknown = set(setups) - {name for name, _ in trees}
    if unknown:
        raise SystemExit(f"bench/side_by_side.py: --launch for no tree: {', '.join(sorted(unknown))}")
    BENCH.ensure_tools()
    rounds, seconds = max(1, min(args.rounds, 10)), max(1.0, min(args.seconds, 60.0))
    gateways = [(name, launcher(path, setups.get(name, "")), {}) for name, path in trees]
    targets = alternate(gateways, rounds, seconds, who="bench/side_by_side.py")
    first = targets[0]
    print(f"#### Side by side ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    alone = max(2, seconds / 2)
    print(f"SQLite, wrk: {rounds} alternating rounds of {seconds:g} s at 32 connections, then {alone:g} s on one;")
    print("medians.\n")
    print("| tree | req/s | CPU / request (event loop) | p50, 1 connection | rounds ahead of the first |")
    print("|---|---:|---:|---:|---:|")
    for target in targets:
        ahead = (
            "—"
            if target is first
            else f"{sum(t.rps > f.rps for t, f in zip(target.loaded, first.loaded, strict=True))} of {rounds}"
        )
        print(
            f"| {target.name} | {statistics.median(r.rps for r in target.loaded):,.0f} | "
            f"{target.median('loaded', 'cpu_ms'):.3f} ms ({target.median('loaded', 'loop_ms'):.3f} ms) | "
            f"{target.median('alone', 'p50_ms'):.2f} ms | {ahead} |"
        )


if __name__ == "__main__":
    main()
