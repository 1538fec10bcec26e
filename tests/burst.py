"""A burst of intake clients that behave as the API tells them to, and the books the fault tests keep.

Each client owns one Idempotency-Key and sends the same body until it gets
an answer (201 or 202): on a connection error it waits and tries the next
gateway instance (as a load balancer would), on 409 and 5xx it backs off
and tries again -- bounded in tries and in time. Afterwards
:func:`settle` waits (bounded) until every request the burst created has a
final status, and :class:`Books` checks the three promises: none lost, none
done twice, none created twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gateway.store import RequestStatus, Store
from tests.helpers import ORGANISATION, TOWN, WINDOW_KEY

FINAL = {str(s) for s in RequestStatus if s.final}
REPORTS: list[str] = []  # every fault run's figures, printed again in pytest's terminal summary


def clearance(n: int) -> dict[str, Any]:
    """A tax clearance certificate request (a submission the agency acts on), distinct per ``n``."""
    return {
        "item": "tax.clearance-certificate",
        "applicant": ORGANISATION,
        "materials": {
            "reason": "注销登记",
            "contact_phone": f"1380533{n % 10000:04d}",
            "invoice_cancellation_proof": {"media_type": "application/pdf", "content_base64": "JVBERi0xLjQK"},
        },
        "office": TOWN,
        "operator": "fz-window-01",
        "channel": "window",
    }


@dataclass
class Client:
    """One intake client's story: its key, what it was answered, how often it had to try."""

    key: str
    body: dict[str, Any]
    request_id: str | None = None
    status: int | None = None
    tries: int = 0
    errors: list[str] = field(default_factory=list)


async def submit(
    session: aiohttp.ClientSession,
    urls: list[str],
    client: Client,
    *,
    first: int = 0,
    give_up_s: float = 90.0,
    max_tries: int = 400,
) -> Client:
    """POST until answered (201/202), retrying as an integrator should; never more than the bounds."""
    headers = {"Authorization": f"Bearer {WINDOW_KEY}", "Idempotency-Key": client.key}
    deadline = time.monotonic() + give_up_s
    index, backoff = first, 0.05
    while time.monotonic() < deadline and client.tries < max_tries:
        client.tries += 1
        url = urls[index % len(urls)]
        try:
            async with session.post(f"{url}/v1/requests", json=client.body, headers=headers) as response:
                body = await response.json(content_type=None)
                if response.status in (201, 202):
                    client.request_id, client.status = body["id"], response.status
                    return client
                client.errors.append(str(response.status))
                if response.status != 409 and response.status < 500:
                    return client  # a 4xx other than 409 is the client's fault: retrying cannot help
        except (aiohttp.ClientError, TimeoutError) as exc:
            client.errors.append(type(exc).__name__)
            index += 1  # this instance is gone: try the other one
        await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
        backoff = min(backoff * 2, 1.0)
    return client


async def burst(
    urls: list[str],
    count: int,
    *,
    concurrency: int = 32,
    prefix: str = "k",
    on_progress: Callable[[int], Any] | None = None,
) -> list[Client]:
    """``count`` clients, ``concurrency`` at a time, spread over ``urls``; ``on_progress(answered)`` after each."""
    clients = [Client(f"{prefix}-{n:04d}", clearance(n)) for n in range(count)]
    slots = asyncio.Semaphore(concurrency)
    answered = 0
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(n: int, client: Client) -> None:
            nonlocal answered
            async with slots:
                await submit(session, urls, client, first=n)
            answered += 1
            if on_progress is not None:
                result = on_progress(answered)
                if asyncio.iscoroutine(result):
                    await result

        await asyncio.gather(*(one(n, c) for n, c in enumerate(clients)))
    return clients


async def replay_all(urls: list[str], clients: list[Client]) -> list[str]:
    """Send every key once more: each must be answered with its original request id. Returns mismatches."""
    wrong = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        slots = asyncio.Semaphore(16)

        async def one(n: int, client: Client) -> None:
            async with slots:
                again = await submit(session, urls, Client(client.key, client.body), first=n, give_up_s=30)
            if again.request_id != client.request_id:
                wrong.append(f"{client.key}: {client.request_id} then {again.request_id} {again.errors[-3:]}")

        await asyncio.gather(*(one(n, c) for n, c in enumerate(clients)))
    return wrong


async def settle(store: Store, *, timeout_s: float = 60.0) -> tuple[float, dict[str, str]]:
    """Wait until every stored request is final; (seconds it took, {request id: status})."""
    started = time.monotonic()
    while True:
        statuses = {r.id: str(r.status) for r in await store.list_requests(limit=100_000)}
        if statuses and all(s in FINAL for s in statuses.values()):
            return time.monotonic() - started, statuses
        if time.monotonic() - started > timeout_s:
            return time.monotonic() - started, statuses
        await asyncio.sleep(0.1)


@dataclass
class Books:
    """What a fault run counted; ``check()`` asserts none lost, none done twice, none created twice."""

    scenario: str
    clients: list[Client]
    statuses: dict[str, str]
    agency: dict[str, Any]
    reasons: dict[str, str] = field(default_factory=dict)
    kills: int = 0
    recovery_s: float | None = None
    replay_mismatches: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def unanswered(self) -> list[Client]:
        return [c for c in self.clients if c.request_id is None]

    @property
    def lost(self) -> list[str]:
        """Keys whose request has no final status (or no request at all)."""
        return [c.key for c in self.clients if self.statuses.get(c.request_id or "", "") not in FINAL]

    @property
    def duplicates(self) -> list[str]:
        """Everything done twice: keys the agency acted on more than once, requests created twice for
        one client key, and agency actions beyond one per completed request (e.g. under a fresh key)."""
        found = [f"agency acted twice on {key}" for key in self.agency["acted_more_than_once"]]
        extra_requests = len(self.statuses) - len({c.request_id for c in self.clients if c.request_id})
        found += [f"a second request for one client key ({n + 1})" for n in range(max(0, extra_requests))]
        extra_acts = self.agency["effective_submissions"] - self.count("completed")
        found += [f"an agency action beyond the completed requests ({n + 1})" for n in range(max(0, extra_acts))]
        return found

    def count(self, status: str) -> int:
        return sum(1 for s in self.statuses.values() if s == status)

    def report(self) -> str:
        parts = [
            f"requests={len(self.clients)}",
            f"kills={self.kills}",
            f"duplicates={len(self.duplicates)}",
            f"lost={len(self.lost)}",
            f"completed={self.count('completed')}",
            f"dead_letters={self.count('dead_letter')}",
            f"agency_effective={self.agency['effective_submissions']}",
            f"agency_deduplicated_resends={self.agency['duplicate_submissions']}",
            f"client_retries={sum(c.tries - 1 for c in self.clients)}",
        ]
        if self.recovery_s is not None:
            parts.append(f"recovery_s={self.recovery_s:.1f}")
        parts += [f"{k}={v}" for k, v in self.extra.items()]
        line = f"[fault] {self.scenario}: " + " ".join(parts)
        print(line, flush=True)
        REPORTS.append(line)
        return line

    def check(self) -> None:
        self.report()
        assert not self.unanswered, [(c.key, c.errors[-5:]) for c in self.unanswered[:5]]
        assert self.lost == [], f"lost: {self.lost[:10]}"
        assert self.duplicates == [], f"done twice: {self.duplicates[:10]}"
        assert self.replay_mismatches == [], self.replay_mismatches[:5]
        dead = [rid for rid, s in self.statuses.items() if s == "dead_letter"]
        assert all(self.reasons.get(rid) for rid in dead), "a dead letter without its reason"
        # exactly once at the agency: every completed request acted on once, nothing else acted on
        assert self.agency["effective_submissions"] == self.count("completed"), self.agency
        assert self.agency["distinct_keys"] == self.agency["effective_submissions"], self.agency


async def dead_letter_reasons(store: Store, statuses: dict[str, str]) -> dict[str, str]:
    reasons = {}
    for request_id, status in statuses.items():
        if status == "dead_letter":
            record = await store.get_request(request_id)
            reasons[request_id] = str((record.error or {}).get("reason", "")) if record else ""
    return reasons
