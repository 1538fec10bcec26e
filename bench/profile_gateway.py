"""Where the gateway's event loop spends its time under load: py-spy over a bounded wrk run.

    .venv/bin/python bench/profile_gateway.py [--seconds 10] [--connections 32] [--rate 200] [--min 1.0]

Starts the stand-in tax bureau and the gateway with the sample district
(SQLite), as bench/gateway.py does, warms it, then samples the serving
process with py-spy (``--rate`` samples a second, native frames off) while
wrk POSTs the README's ``tax.payment-record`` envelope. Prints, for the
event loop's thread only (the bound on throughput): the share of samples in
each callback the loop ran and below it, top-down, down to ``--min`` percent;
then the functions with the most samples of their own. py-spy counts a
thread's wall time while it is not idle, so time spent inside SQLite or a
system call, or waiting for Python's lock, shows in the function that made
the call. py-spy comes from PyPI (installed into this Python when missing),
wrk from the system packages (as for bench/gateway.py).
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_procs import API_KEY, bench_script, drain, start_agency, start_gateway

BENCH = bench_script("gateway")

LOOP_ROOT = "_run_module_as_main"  # the main thread's bottom frame: `python -m gateway.cli serve`
CALLBACK = "Handle._run (asyncio/events.py)"  # each callback asyncio's loop runs starts here
# uvloop runs callbacks from C: a callback's first Python frame follows the runner's directly
RUNNER = "Runner.run (asyncio/runners.py)"
LOOP_ITSELF = "(the loop itself: waiting for events, timers)"
_PATH = re.compile(r" \(/\S*?(?:site-packages/|/(?=gateway/|signing/|plugins/))")
_LINE = re.compile(r":\d+\)$")


@dataclass
class Node:
    samples: int = 0
    children: dict[str, Node] = field(default_factory=dict)


def frame_name(frame: str) -> str:
    """``function (path:line)`` as py-spy writes it, shortened to ``function (module path)``."""
    return _LINE.sub(")", _PATH.sub(" (", frame))


def loop_stacks(raw: str) -> list[tuple[list[str], int]]:
    """The event loop thread's stacks from py-spy's ``--format raw`` output, from the callback down."""
    stacks = []
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [frame_name(f) for f in stack.split(";")]
        if not stack or not count.isdigit() or not frames[0].startswith(LOOP_ROOT):
            continue
        if CALLBACK in frames:
            frames = frames[frames.index(CALLBACK) + 1 :] or [CALLBACK]
        else:  # uvloop runs it from C: the frames after the runner's, unless the loop is waiting
            below = frames[frames.index(RUNNER) + 1 :] if RUNNER in frames else []
            frames = below if below and "(asyncio/base_events)" not in below[0] else [LOOP_ITSELF]
        stacks.append((frames, int(count)))
    return stacks


def tree_of(stacks: list[tuple[list[str], int]]) -> Node:
    root = Node()
    for frames, count in stacks:
        node = root
        node.samples += count
        for frame in frames:
            node = node.children.setdefault(frame, Node())
            node.samples += count
    return root


def tree_lines(node: Node, total: int, least: float, depth: int = 0) -> list[str]:
    lines = []
    for name, child in sorted(node.children.items(), key=lambda kv: -kv[1].samples):
        share = 100 * child.samples / total
        if share < least:
            break
        lines.append(f"{'  ' * depth}{share:5.1f} %  {name}")
        lines += tree_lines(child, total, least, depth + 1)
    return lines


def own_time(stacks: list[tuple[list[str], int]], top: int) -> list[tuple[str, int]]:
    counts: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        counts[frames[-1]] += count
    return counts.most_common(top)


def ensure_py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="of sampling under load (1 to 60)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples a second")
    parser.add_argument("--min", type=float, default=1.0, help="least share (percent) shown in the tree")
    parser.add_argument("--top", type=int, default=25, help="functions listed by their own samples")
    args = parser.parse_args()
    seconds = max(1, min(round(args.seconds), 60))
    BENCH.ensure_tools()
    py_spy = ensure_py_spy()
    with tempfile.TemporaryDirectory(prefix="onewindow-profile-") as tmp:
        script, raw = Path(tmp, "post.lua"), Path(tmp, "samples.txt")
        script.write_text(BENCH.LUA % {"body": BENCH.BODY, "key": API_KEY})
        agency, agency_url = start_agency()
        processes = [agency]
        try:
            gateway, url = start_gateway(Path(tmp, "sqlite"), agency_url, "sqlite:///var/onewindow.db", pool=20)
            processes.append(gateway)
            for process in processes:
                drain(process)
            BENCH.wrk(
                url, script, connections=args.connections, seconds=3
            )  # warm: connections, caches, the first commit
            sampler = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(gateway.pid),
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(seconds + 1),
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            run = BENCH.wrk(url, script, connections=args.connections, seconds=seconds)
            _, said = sampler.communicate(timeout=seconds + 60)
            if sampler.returncode or not raw.exists():
                raise SystemExit(f"bench/profile_gateway.py: py-spy failed: {said.decode()[-500:]}")
        finally:
            for process in reversed(processes):
                process.stop()
        stacks = loop_stacks(raw.read_text())
    total = sum(count for _, count in stacks)
    if not total:
        raise SystemExit("bench/profile_gateway.py: py-spy took no samples of the event loop")
    print(f"# {run.rps:,.0f} req/s at {args.connections} connections, {run.errors} errors; {total:,} samples")
    print("# of the event loop's thread (not idle)\n")
    print("\n".join(tree_lines(tree_of(stacks), total, args.min)))
    print("\n# functions by their own samples\n")
    for name, count in own_time(stacks, args.top):
        print(f"{100 * count / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
