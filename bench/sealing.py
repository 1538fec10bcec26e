"""Sealing benchmark: raw ECDSA versus seal_document / verify_document, per key type.

Run: ``.venv/bin/python bench/sealing.py [--seconds 1.2]``.  For ES384 (the
default key type) and ES256 it measures the raw signature and verification
over the exact signing input a seal produces, ``seal_document`` and
``verify_document``, and their ratios against the goals (sealing >= 80 % of
raw signing, verification >= 70 % of raw verification); then the JCS fast
path against the ``rfc8785`` package and the verifier's header cache; then
where an ES384 signature can run beside other work (:func:`measure_threads`).

Each rate is the best of five bounded runs (``--seconds / 5`` and at most
20 000 iterations each).  The runs of one key type are interleaved round by
round, and each ratio is the median over the rounds of the ratio within a
round, so that other load on a shared machine hits a raw figure and the seal
figure it is compared with alike.  The whole benchmark takes about 20
seconds.  Prints Markdown tables for bench/README.md and one JSON line.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from signing.jose.header_cache import HeaderCache
from signing.jose.jcs import canonicalize
from signing.jose.jws import parse_detached, signing_input
from signing.keys.algorithms import ES256, ES384, KeyType
from signing.keys.passphrase import PASSPHRASE_ENV
from signing.registry.sample import create_sample_district
from signing.sealing import DYNAMIC_MARKER, seal_document
from signing.verify.trust import TrustBundle
from signing.verify.verifier import verify_document

MAX_ITERATIONS = 20_000
ROUNDS = 5
ITEM = "tax.payment-record"
GOALS = {"seal": 0.80, "verify": 0.70}


def result_document() -> dict[str, Any]:
    """A typical ~1.5 KB result: a year of tax payments with amounts as numbers."""
    return {
        "item": ITEM,
        "request_id": "01J9Z8Q4C8W3V1N6T5R2X7Y0AB",
        "office": "370303100000",
        "applicant": {"name": "张三", "id_number": "370303********1234"},
        "issuer": "国家税务总局淄博市张店区税务局",
        "records": [
            {"month": f"2024-{m:02d}", "tax_type": "个人所得税", "amount": 123.45 + m, "paid": True}
            for m in range(1, 13)
        ],
        "total": 1559.4,
        "currency": "CNY",
        "period": {"from": "2024-01-01", "to": "2024-12-31"},
        "issued_by_window": {"office": "淄博市张店区马尚街道便民服务中心", "operator": "W-0231"},
        "remarks": None,
    }


def run_rate(func: Callable[[], object], seconds: float) -> float:
    """Operations per second of one run bounded by time and count."""
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while count < MAX_ITERATIONS:
        func()
        count += 1
        if count % 25 == 0 and time.perf_counter() >= deadline:
            break
    return count / (time.perf_counter() - start)


def round_rates(cases: dict[str, Callable[[], object]], seconds: float) -> list[dict[str, float]]:
    """ROUNDS rounds; each runs every case once, in order, for ``seconds / ROUNDS``."""
    return [{name: run_rate(func, seconds / ROUNDS) for name, func in cases.items()} for _ in range(ROUNDS)]


def best(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {name: max(r[name] for r in rounds) for name in rounds[0]}


def paired_ratio(rounds: list[dict[str, float]], numerator: str, denominator: str) -> float:
    """Median over rounds of numerator/denominator measured side by side."""
    return statistics.median(r[numerator] / r[denominator] for r in rounds)


def measure_key_type(key_type: KeyType, workdir: Path, seconds: float) -> dict[str, Any]:
    """Raw sign/verify, seal_document and verify_document for one key type."""
    registry = create_sample_district(workdir / key_type.name, key_type=key_type)
    seal = registry.seal_for("370303100000", "service_centre", ITEM)
    assert seal is not None and seal.key_type is key_type
    signer = registry.signer_for(seal)
    exported = registry.export_trust_bundle()
    trust = TrustBundle.from_dict(exported, root_fingerprint=exported["root_sha256"])
    doc = result_document()
    sealed = seal_document(doc, signer, seal, item=ITEM, request_id="R-1")
    header_b64 = sealed["seal"]["jws"].split(".")[0]
    message = signing_input(header_b64, canonicalize(doc))  # the bytes seal_document signs
    key = key_type.generate()
    der_signature = key.sign(message, key_type.ecdsa)
    public = key.public_key()
    assert verify_document(sealed, trust).passed
    rounds = round_rates(
        {
            "raw sign": lambda: key.sign(message, key_type.ecdsa),
            "seal_document": lambda: seal_document(doc, signer, seal, item=ITEM, request_id="R-1"),
            "raw verify": lambda: public.verify(der_signature, message, key_type.ecdsa),
            "verify_document": lambda: verify_document(sealed, trust),
        },
        seconds,
    )
    registry.close()
    return {
        "rates": best(rounds),
        "signing_input_bytes": len(message),
        "header_bytes": len(header_b64) * 3 // 4,
        "seal_ratio": paired_ratio(rounds, "seal_document", "raw sign"),
        "verify_ratio": paired_ratio(rounds, "verify_document", "raw verify"),
        "sealed": sealed,
        "trust": trust,
    }


def measure_formats(sealed: dict[str, Any], trust: TrustBundle, seconds: float) -> dict[str, float]:
    """JCS fast path versus rfc8785; header parse and verify_document with/without the cache."""
    import rfc8785

    doc = {k: v for k, v in sealed.items() if k != "seal"}
    token = sealed["seal"]["jws"]
    cache = HeaderCache(DYNAMIC_MARKER)
    cache.parse(token.split(".")[0])
    uncached = TrustBundle.from_dict(trust.to_dict(), root_fingerprint=trust.root_fingerprint)
    uncached.header_cache = HeaderCache(DYNAMIC_MARKER, max_entries=0)
    return best(
        round_rates(
            {
                "JCS fast path (signing.jose.jcs)": lambda: canonicalize(doc),
                "JCS rfc8785 package": lambda: rfc8785.dumps(doc),
                "header parse, no cache": lambda: parse_detached(token),
                "header parse, cached": lambda: parse_detached(token, cache),
                "verify_document, no header cache": lambda: verify_document(sealed, uncached),
                "verify_document, header cache": lambda: verify_document(sealed, trust),
            },
            seconds,
        )
    )


def _sign_in_threads(sign: Callable[[], object], threads: int, count: int, spin: bool) -> tuple[float, float]:
    """``threads`` threads making ``count`` signatures each (beside a main thread running Python when
    ``spin``): signatures a second made by the threads, and the process's CPU seconds per wall second."""

    def signing() -> None:
        for _ in range(count):
            sign()

    workers = [threading.Thread(target=signing) for _ in range(threads)]
    wall, cpu = time.perf_counter(), time.process_time()
    for worker in workers:
        worker.start()
    if spin:  # Python bytecode on the main thread, as an event loop busy with requests runs it
        spun = 0
        while any(worker.is_alive() for worker in workers) and spun < 50_000_000:
            for _ in range(10_000):
                spun += 1
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - wall
    return threads * count / elapsed, (time.process_time() - cpu) / elapsed


def measure_threads(seconds: float) -> dict[str, tuple[float, float]]:
    """Does a signing thread run beside Python's lock? Three bounded runs of ES384 signatures.

    ``cryptography`` lets go of the lock while OpenSSL signs, so two signing
    threads use two cores. A thread beside a main thread that runs Python
    must take the lock back after every signature, and waits for the
    interpreter's switch interval (5 ms) to get it: what the event loop's
    neighbour would make of a signing thread.
    """
    key = ES384.generate()
    digest = bytes(48)
    sign = functools.partial(ES384.sign_digest, key, digest)  # the gateway's own call
    alone = max(2, min(MAX_ITERATIONS, int(run_rate(sign, seconds / 4) * seconds / 4)))
    return {
        "one thread signing": _sign_in_threads(sign, 1, alone, spin=False),
        "two threads signing": _sign_in_threads(sign, 2, alone, spin=False),
        "one thread signing beside a main thread running Python": _sign_in_threads(
            sign, 1, max(2, alone // 20), spin=True
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per figure")
    seconds = parser.parse_args().seconds
    os.environ.setdefault(PASSPHRASE_ENV, "benchmark passphrase, not a secret")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = {kt.alg: measure_key_type(kt, Path(tmp), seconds) for kt in (ES384, ES256)}
    formats = measure_formats(results["ES384"]["sealed"], results["ES384"]["trust"], seconds)
    threads = measure_threads(seconds)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {time.perf_counter() - started:.0f} s"
    )
    print(f"document: {len(canonicalize(result_document()))} bytes JCS")
    print()
    print("| key type | operation | per second | µs each |")
    print("|---|---|---:|---:|")
    for alg, result in results.items():
        for name, value in result["rates"].items():
            print(f"| {alg} | {name} | {value:,.0f} | {1e6 / value:.1f} |")
    print()
    print("| key type | signing input | seal / raw sign (median) | verify / raw verify (median) |")
    print("|---|---:|---:|---:|")
    for alg, result in results.items():
        marks = {goal: "met" if result[f"{goal}_ratio"] >= GOALS[goal] else "not met" for goal in GOALS}
        print(
            f"| {alg} | {result['signing_input_bytes']:,} B | "
            f"{result['seal_ratio']:.0%} (goal 80 %: {marks['seal']}) | "
            f"{result['verify_ratio']:.0%} (goal 70 %: {marks['verify']}) |"
        )
    print()
    print("| format step (ES384 document) | per second | µs each |")
    print("|---|---:|---:|")
    for name, value in formats.items():
        print(f"| {name} | {value:,.0f} | {1e6 / value:.1f} |")
    jcs = formats["JCS fast path (signing.jose.jcs)"] / formats["JCS rfc8785 package"]
    print(f"\nJCS fast path / rfc8785: {jcs:.1f}x faster")
    print()
    print("| where ES384 signatures run | signatures per second | CPU seconds per second |")
    print("|---|---:|---:|")
    for name, (rate, cpu) in threads.items():
        print(f"| {name} | {rate:,.0f} | {cpu:.2f} |")
    print()
    summary = {
        alg: {
            **{k: round(v) for k, v in r["rates"].items()},
            "seal_ratio": round(r["seal_ratio"], 3),
            "verify_ratio": round(r["verify_ratio"], 3),
        }
        for alg, r in results.items()
    }
    summary["formats"] = {k: round(v) for k, v in formats.items()}
    summary["threads"] = {
        k: {"per_second": round(rate), "cpu_per_second": round(cpu, 2)} for k, (rate, cpu) in threads.items()
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
