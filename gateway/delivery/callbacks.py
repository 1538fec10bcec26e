"""Callbacks: telling an intake system that its request reached a final status.

The body is the request resource (as ``GET /v1/requests/{id}`` returns it),
POSTed to the ``callback_url`` the caller gave. It is signed with the
caller's configured callback secret, so the caller can check it came from
the gateway and is fresh::

    Onewindow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

Failed deliveries are retried with backoff until ``callback_max_age_hours``.

The URL is checked again against the caller's configured prefixes before
every attempt (the configuration may have changed since, and a row stored
before a stricter check must not leak), and redirects are not followed: a
result goes to the allowed URL or nowhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import timedelta

import aiohttp
import yarl

from gateway.config import CallbackPrefix, allowed, parse_callback_url
from gateway.delivery.results import request_view
from gateway.errors import UnsafeCallbackUrl
from gateway.observability.events import Events
from gateway.observability.logs import get_logger
from gateway.store import OutboxEntry, RequestRecord, Store, utcnow

SIGNATURE_HEADER = "Onewindow-Signature"
TOLERANCE_S = 300


def sign_callback(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_callback(secret: str, body: bytes, header: str, *, now: float | None = None) -> bool:
    """What an intake system does with a callback: check signature and freshness."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > TOLERANCE_S:
        return False
    expected = sign_callback(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class CallbackSender:
    """POSTs final statuses to callers' callback URLs, signed, with retries."""

    def __init__(
        self,
        *,
        store: Store,
        events: Events,
        secrets: Mapping[str, str],
        prefixes: Mapping[str, tuple[CallbackPrefix, ...]],
        retry_delay: Callable[[int], float],
        timeout_s: float = 10.0,
    ) -> None:
        self.store = store
        self.events = events
        self.secrets = secrets
        self.prefixes = prefixes
        self.retry_delay = retry_delay
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.log = get_logger(component="callbacks")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _refusal(self, record: RequestRecord, secret: str) -> str | None:
        """Why this callback may not be sent now, or None."""
        if not secret:
            return "the caller has no callback secret configured any more"
        try:
            target = parse_callback_url(record.callback_url or "")
        except UnsafeCallbackUrl as exc:
            return f"callback_url {exc}"
        if target.url != record.callback_url or not allowed(target, self.prefixes.get(record.caller_id, ())):
            return "callback_url is not under the caller's configured callback_prefixes"
        return None

    async def send(self, record: RequestRecord, entry: OutboxEntry) -> None:
        """Try once; on failure schedule the next try or give up at the row's expiry."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout, headers={"User-Agent": "onewindow-gateway"})
        body = json.dumps(request_view(record), ensure_ascii=False).encode()
        secret = self.secrets.get(record.caller_id, "")
        refusal = self._refusal(record, secret)
        if refusal is not None:  # never send an unsigned result, nor one anywhere the district did not allow
            await self.store.finish_outbox(record.id, "callback")
            await self.events.emit("callback.abandoned", request_id=record.id, attempts=entry.attempts, reason=refusal)
            return
        headers = {
            "Content-Type": "application/json",
            "Onewindow-Request-Id": record.id,
            SIGNATURE_HEADER: sign_callback(secret, body, int(time.time())),
        }
        error: str | None = None
        try:
            await self.store.durable()  # the caller hears only of what is on disk
            url = yarl.URL(record.callback_url or "", encoded=True)  # already normalised: sent as checked
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    await self.store.finish_outbox(record.id, "callback")
                    await self.events.emit(
                        "callback.delivered",
                        request_id=record.id,
                        status=str(record.status),
                        http_status=response.status,
                        attempt=entry.attempts + 1,
                    )
                    return
                error = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        now = utcnow()
        if now >= entry.expires_at:
            await self.store.finish_outbox(record.id, "callback")
            await self.events.emit(
                "callback.abandoned", request_id=record.id, attempts=entry.attempts + 1, reason=error
            )
            return
        delay = self.retry_delay(entry.attempts + 1)
        await self.store.schedule(
            record.id,
            "callback",
            due_at=now + timedelta(seconds=delay),
            expires_at=entry.expires_at,
            attempts=entry.attempts + 1,
            last_error=error,
        )
        await self.events.emit(
            "callback.failed",
            request_id=record.id,
            attempt=entry.attempts + 1,
            reason=error,
            retry_in_s=round(delay, 1),
        )
