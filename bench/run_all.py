"""``make bench``: run every benchmark and write their figures into bench/README.md.

    .venv/bin/python bench/run_all.py [--quick] [--soak SECONDS]

Runs bench/sealing.py, bench/merkle.py, bench/audit.py, bench/gateway.py,
bench/floor.py and bench/instructions.py one after another (each bounded
in count and time), prints what each prints, and replaces the "Latest
run" section of bench/README.md (between its two marker comments) with
the machine, the date and every figure.
``--quick`` uses short runs (a smoke test of the harness, not figures).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
README = BENCH / "README.md"
BEGIN = "<!-- make bench: begin (written by bench/run_all.py; edits here are replaced) -->"
END = "<!-- make bench: end -->"


def _under_its_title(text: str) -> str:
    """A benchmark's own Markdown headings, nested under its "###" title in the section."""
    return re.sub(r"^#{1,3} ", "#### ", text, flags=re.M)


def runs(quick: bool, soak: float) -> list[tuple[str, list[str]]]:
    gateway = ["bench/gateway.py"] + (["--rounds", "1", "--seconds", "2", "--skip-slow"] if quick else [])
    if soak:
        gateway += ["--soak", str(soak)]
    return [
        ("Sealing", ["bench/sealing.py"] + (["--seconds", "0.2"] if quick else [])),
        ("Audit Merkle tree", ["bench/merkle.py"] + (["--size", "20000", "--proofs", "200"] if quick else [])),
        (
            "Audit log",
            ["bench/audit.py"]
            + (["--seconds", "0.5", "--entries", "20000", "--skip-gateway"] if quick else ["--skip-gateway"]),
        ),
        ("Gateway against a bare forwarder", gateway),
        (
            "What a request cannot do without",
            ["bench/floor.py"] + (["--rounds", "1", "--seconds", "2", "--requests", "300"] if quick else []),
        ),
        ("Instructions per request", ["bench/instructions.py"]),
    ]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), {platform.machine()}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average at the start {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--soak", type=float, default=0.0)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sections = [BEGIN, f"## Latest run: `make bench`, {started}", "", f"Machine: {machine()}.", ""]
    sections.append(
        "The machine is shared (2 cores, other work running): throughput and latency move by ±30 % "
        "from run to run; the gateway benchmark alternates its targets round by round and reports "
        "medians, and CPU per request is the steadiest figure."
    )
    failed = []
    for title, command in runs(args.quick, args.soak):
        print(f"== {title}: {' '.join(command)}", flush=True)
        done = subprocess.run([sys.executable, *command], cwd=BENCH.parent, capture_output=True, text=True)
        print(done.stdout, end="", flush=True)
        sections += ["", f"### {title}", "", f"`.venv/bin/python {' '.join(command)}`", ""]
        if done.returncode:
            failed.append(title)
            sections.append(f"failed (exit {done.returncode}): `{done.stderr.strip().splitlines()[-1:]}`")
            print(done.stderr, file=sys.stderr)
        else:
            sections.append(_under_its_title(done.stdout.strip()))
    sections += ["", END]
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    block = "\n".join(sections)
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    README.write_text(text)
    print(f"figures written to {README.relative_to(BENCH.parent)}")
    if failed:
        raise SystemExit(f"bench: {', '.join(failed)} failed")


if __name__ == "__main__":
    main()
