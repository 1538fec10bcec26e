"""Admitting an authenticated caller's request under its limits, or refusing it with 429.

* ``rate_limit`` counts every authenticated request of the caller (intake
  calls and reads alike): past it, ``429 caller-rate-limited`` with
  ``Retry-After`` -- the whole seconds until the oldest request in the window
  leaves it.
* ``max_concurrent`` counts intake calls (``POST /v1/requests``) being
  served: past it, ``429 caller-concurrency-limited`` with ``Retry-After: 1``.
  429 rather than 503: the gateway is fine, this caller is asking for more
  at once than the district gave it, and only the caller can fix that.

A refused request was not counted, is audited as ``caller.limited`` (the
caller, which limit, its value: nothing of the request) and counted in
``onewindow_caller_limited``. The counts live in the store
(:mod:`gateway.limits.counters`), shared by every instance and worker.
"""

from __future__ import annotations

import contextlib
import math
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

from prometheus_client import Counter

from gateway.config import CallerConfig
from gateway.limits.counters import LimitCounters, counters_for
from gateway.problems import CALLER_CONCURRENCY_LIMITED, CALLER_RATE_LIMITED, ProblemError

LEASE_MARGIN_S = 60.0  # beyond the longest an intake call can take, before a dead instance's place frees


class CallerLimits:
    """The limits of every configured caller, applied through counters in the store."""

    def __init__(self, gateway: Any, counters: LimitCounters | None = None) -> None:
        self._gateway = gateway  # settings change on SIGHUP: each caller's limits are read per request
        self._counters = counters
        self._configs: tuple[object, Mapping[str, CallerConfig]] | None = None
        self.limited = Counter(
            "onewindow_caller_limited",
            "Requests refused with 429 for a caller's own limit, by caller and limit (rate, concurrency)",
            ["caller", "limit"],
            registry=gateway.metrics.registry,
        )

    @property
    def counters(self) -> LimitCounters:
        if self._counters is None:  # the store is made before it is opened; the counters when first used
            self._counters = counters_for(self._gateway.store)
        return self._counters

    def config(self, caller_id: str) -> CallerConfig | None:
        """The caller's configuration as the gateway holds it now."""
        settings = self._gateway.settings
        if self._configs is None or self._configs[0] is not settings:
            self._configs = (settings, {c.id: c for c in settings.callers})
        return self._configs[1].get(caller_id)

    @property
    def lease_s(self) -> float:
        """How long one call's place counts at most: the longest a call can be served, and a margin."""
        settings = self._gateway.settings
        return settings.http.body_timeout_s + settings.request_deadline_s + LEASE_MARGIN_S

    async def take(self, caller_id: str) -> None:
        """Count one request of ``caller_id`` against its rate limit, or raise the 429 problem."""
        config = self.config(caller_id)
        rate = config.rate_limit if config is not None else None
        if rate is None:
            return
        wait = await self.counters.take(caller_id, rate.count, rate.window_s)
        if wait is None:
            return
        retry_after = max(1, math.ceil(wait))
        await self._refused(caller_id, "rate", rate.count, window_s=rate.window_s, retry_after_s=retry_after)
        raise ProblemError(
            CALLER_RATE_LIMITED,
            f"This caller may make {rate.count} requests in {rate.window_s} seconds ({rate}); "
            f"retry in {retry_after} seconds.",
            f"该调用方每 {rate.window_s} 秒最多调用 {rate.count} 次，请 {retry_after} 秒后重试。",
            headers={"Retry-After": str(retry_after)},
            limit="rate_limit",
            limit_value=str(rate),
            retry_after_s=retry_after,
        )

    @contextlib.asynccontextmanager
    async def in_flight(self, caller_id: str) -> AsyncIterator[None]:
        """Hold one of the caller's places for an intake call while it is served, or raise the 429 problem."""
        config = self.config(caller_id)
        limit = config.max_concurrent if config is not None else 0
        if not limit:
            yield
            return
        holder = secrets.token_hex(12)
        if not await self.counters.enter(caller_id, limit, holder, self._gateway.instance, self.lease_s):
            await self._refused(caller_id, "concurrency", limit, retry_after_s=1)
            raise ProblemError(
                CALLER_CONCURRENCY_LIMITED,
                f"This caller already has {limit} intake calls in flight, the most it may have at once.",
                f"该调用方已有 {limit} 个办理请求正在处理，达到并发上限。",
                headers={"Retry-After": "1"},
                limit="max_concurrent",
                limit_value=limit,
            )
        try:
            yield
        finally:
            await self.counters.leave(holder)

    @contextlib.asynccontextmanager
    async def admit(self, caller_id: str) -> AsyncIterator[None]:
        """An intake call: its place in flight first, then its count in the rate window (neither if refused)."""
        async with self.in_flight(caller_id):
            await self.take(caller_id)
            yield

    async def stop(self) -> None:
        """This instance stops: the places its calls still hold are given back."""
        if self._counters is not None:
            with contextlib.suppress(Exception):
                await self._counters.leave_instance(self._gateway.instance)

    async def _refused(self, caller_id: str, limit: str, value: int, **fields: Any) -> None:
        self.limited.labels(caller_id, limit).inc()
        await self._gateway.events.emit("caller.limited", caller=caller_id, limit=limit, limit_value=value, **fields)
