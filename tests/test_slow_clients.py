"""Slow and half-open clients are cut off in time, one address cannot hold every connection,
and a client that hangs up mid-body is not the gateway's error -- over real sockets on loopback."""

from __future__ import annotations

import asyncio
import json
import time

from gateway.config import HttpLimits
from tests.burst import REPORTS
from tests.guarded import closed_after, parse_answer, problem, served, trickle
from tests.helpers import PAYMENT_RECORD, WINDOW_KEY

FAST = HttpLimits(header_timeout_s=1.0, body_timeout_s=1.0, max_connections_per_address=0)
BODY = json.dumps(PAYMENT_RECORD).encode()


def head(content_length: int) -> bytes:
    return (
        "POST /v1/requests HTTP/1.1\r\nHost: gateway\r\n"
        f"Authorization: Bearer {WINDOW_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()


async def test_two_hundred_slow_or_half_open_clients_are_all_closed_within_the_timeouts(start_gateway) -> None:
    rg = await start_gateway(http=FAST)
    async with served(rg.gateway) as gw:
        stop = asyncio.Event()
        kinds = ["slow_head", "slow_body", "short_body", "silent"] * 50  # 200 connections

        async def one(kind: str) -> tuple[str, float, bytes]:
            reader, writer = await gw.connect()
            started = time.monotonic()
            sender = None
            if kind == "slow_head":
                sender = asyncio.create_task(trickle(writer, head(len(BODY)) + BODY, every_s=0.2, stop=stop))
            elif kind == "slow_body":
                writer.write(head(len(BODY)))
                sender = asyncio.create_task(trickle(writer, BODY, every_s=0.2, stop=stop))
            elif kind == "short_body":  # announces more than it ever sends
                writer.write(head(len(BODY) + 500) + BODY)
            try:
                elapsed, received = await closed_after(reader, started, limit_s=10.0)
            finally:
                writer.close()
                if sender is not None:
                    sender.cancel()
            return kind, elapsed, received

        results = await asyncio.gather(*(one(kind) for kind in kinds))
        stop.set()
    assert len(results) == 200
    slowest = max(elapsed for _, elapsed, _ in results)
    by_kind = {kind: max(e for k, e, _ in results if k == kind) for kind in sorted(set(kinds))}
    REPORTS.append(
        "[edge] 200 slow or half-open connections (header and body timeouts 1 s): all closed, slowest per kind "
        + " ".join(f"{kind}={seconds:.2f}s" for kind, seconds in by_kind.items())
    )
    # head: 1 s; body: 1 s after the head, then at most 1 s draining what is left of it
    assert slowest < 4.5, f"a connection was held {slowest:.1f} s"
    for kind, _, received in results:
        if kind in ("slow_body", "short_body"):
            answer = problem(parse_answer(received))
            assert answer["status"] == 408 and answer["limit"] == "server.body_timeout_s", answer
        else:  # the request never arrived: closed without an answer
            assert received == b"", (kind, received[:100])
    assert await rg.gateway.store.list_requests() == []  # nothing half-read was acted on


async def test_an_idle_keep_alive_connection_is_closed_after_the_header_timeout(start_gateway) -> None:
    rg = await start_gateway(http=FAST)
    async with served(rg.gateway) as gw:
        reader, writer = await gw.connect()
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        first = await reader.readuntil(b'"ok"}')
        assert first.startswith(b"HTTP/1.1 200")
        elapsed, rest = await closed_after(reader, time.monotonic(), limit_s=5.0)
        writer.close()
    assert rest == b"" and 0.5 < elapsed < 2.5


async def test_connections_over_the_per_address_cap_get_429_problem_json_and_a_slot_frees_on_close(
    start_gateway,
) -> None:
    rg = await start_gateway(http=HttpLimits(header_timeout_s=5.0, max_connections_per_address=3))
    async with served(rg.gateway) as gw:
        held = [await gw.connect() for _ in range(3)]
        for _ in range(50):  # the server counts a connection once it has accepted it
            if gw.server.open_connections("127.0.0.1") == 3:
                break
            await asyncio.sleep(0.02)
        refused = problem(await gw.exchange(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n"))
        assert refused["status"] == 429 and refused["type"] == "/problems/too-many-connections"
        assert refused["limit"] == "server.max_connections_per_address" and refused["limit_value"] == 3
        held[0][1].close()
        for _ in range(100):
            if gw.server.open_connections("127.0.0.1") < 3:
                break
            await asyncio.sleep(0.02)
        status, _, body = await gw.exchange(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
        for _, writer in held[1:]:
            writer.close()
    assert status == 200 and json.loads(body) == {"status": "ok"}


async def test_a_client_that_drops_mid_body_is_logged_as_gone_not_as_a_500(start_gateway, capfd) -> None:
    rg = await start_gateway(http=FAST)
    async with served(rg.gateway) as gw:
        _reader, writer = await gw.connect()
        writer.write(head(len(BODY)) + BODY[:20])
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        logged = ""
        for _ in range(100):
            out, err = capfd.readouterr()
            logged += out + err
            if "http.client_disconnected" in logged:
                break
            await asyncio.sleep(0.02)
    logged += "".join(capfd.readouterr())
    assert "http.client_disconnected" in logged
    for sign_of_a_fault in ("http.unhandled_error", "status=500", "Error handling request", "Traceback"):
        assert sign_of_a_fault not in logged, logged
    assert "response.sent" not in logged  # nothing was answered, so nothing is recorded as answered
    assert await rg.gateway.store.list_requests() == []
