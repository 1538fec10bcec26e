"""The extranet client: every call to an agency goes through here.

The government extranet (电子政务外网) is slow, sometimes down, and
reached through a proxy with client certificates. The core handles that
once, the same way for every agency: a pooled session per agency with its
proxy and TLS settings, per-attempt timeouts inside the request's overall
deadline, retries with exponential backoff and jitter (tenacity) for
"agency unavailable" only, and a circuit breaker per agency. Plugins get an
:class:`~gateway.contract.AgencyCall` and never build sessions or loops.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from xml.etree import ElementTree

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from gateway.agencies.breaker import CircuitBreaker, CircuitOpen
from gateway.agencies.guard import PluginWatch
from gateway.config import AgencySettings, Settings
from gateway.contract import (
    AgencyCall,
    AgencyError,
    AgencyProtocolError,
    AgencyTimeout,
    AgencyUnavailable,
    IntakeRequest,
)
from gateway.errors import ConfigError
from gateway.observability.logs import get_logger

T = TypeVar("T")


@dataclass(frozen=True)
class Attempt:
    """What one attempt to reach an agency did, for metrics and the audit log."""

    agency: str
    operation: str
    dedupe_key: str
    number: int
    latency_s: float
    outcome: str  # "ok" or the error class name
    error: str | None = None
    will_retry: bool = False


AttemptObserver = Callable[[Attempt], Awaitable[None] | None]


def ssl_context(settings: AgencySettings) -> ssl.SSLContext | None:
    """The TLS context of one agency: its extranet CA and our client certificate (mTLS), if configured.

    Raises :class:`ConfigError` naming the setting and file, so a wrong path
    stops the start instead of failing the first applicant's request.
    """
    if not (settings.ca_file or settings.client_cert):
        return None
    where = f"agencies.{settings.code}"
    try:
        context = ssl.create_default_context(cafile=settings.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}.ca_file: cannot load CA certificates from {settings.ca_file}: {exc}") from None
    if settings.client_cert:
        try:
            context.load_cert_chain(settings.client_cert, settings.client_key or None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{where}.client_cert/client_key: cannot load the client certificate {settings.client_cert} "
                f"with key {settings.client_key or '(in the same file)'}: {exc}"
            ) from None
    return context


def _translate(exc: BaseException) -> AgencyError | None:
    """Map transport and parsing failures onto the contract's error tree."""
    if isinstance(exc, AgencyError):
        return exc
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return AgencyTimeout("the agency did not answer in time")
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ContentTypeError):
        return AgencyProtocolError(f"unreadable answer: {exc}")
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientOSError | ConnectionError):
        return AgencyUnavailable(f"cannot reach the agency: {type(exc).__name__}: {exc}")
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError | ElementTree.ParseError):
        return AgencyProtocolError(f"the agency's answer does not decode: {type(exc).__name__}: {exc}")
    return None  # anything else is a bug in the plugin, not the agency's fault


class Extranet:
    """Pooled sessions, deadlines, retries and breakers for every agency.

    ``plugin_of`` names the plugin of each agency code, so that an adapter
    that raises something unexpected, or holds the event loop, is named
    (:class:`~gateway.agencies.guard.PluginWatch`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        watch: PluginWatch | None = None,
        plugin_of: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.watch = watch or PluginWatch(settings.plugins_block_threshold_s)
        self.plugin_of = plugin_of if plugin_of is not None else {}
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._tls = {code: ssl_context(cfg) for code, cfg in settings.agencies.items()}  # checked at start
        self.breakers: dict[str, CircuitBreaker] = {}
        self.observers: list[AttemptObserver] = []

    def agency_settings(self, code: str) -> AgencySettings:
        return self.settings.agency(code)

    def session(self, code: str) -> aiohttp.ClientSession:
        """The pooled session of agency ``code`` (created on first use)."""
        session = self._sessions.get(code)
        if session is None or session.closed:
            cfg = self.agency_settings(code)
            connector = aiohttp.TCPConnector(limit=cfg.pool_size, ssl=self._tls.get(code) or True)
            timeout = aiohttp.ClientTimeout(
                total=cfg.total_timeout_s, sock_connect=cfg.connect_timeout_s, sock_read=cfg.read_timeout_s
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                proxy=cfg.proxy or None,
                headers={"User-Agent": "onewindow-gateway"},
            )
            self._sessions[code] = session
        return session

    def breaker(self, code: str) -> CircuitBreaker:
        """The circuit breaker of agency ``code``."""
        breaker = self.breakers.get(code)
        if breaker is None:
            cfg = self.agency_settings(code)
            breaker = CircuitBreaker(code, failure_threshold=cfg.breaker_failures, reset_after=cfg.breaker_reset_s)
            self.breakers[code] = breaker
        return breaker

    async def close(self) -> None:
        """Close every session."""
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    async def _notify(self, attempt: Attempt) -> None:
        for observer in self.observers:
            result = observer(attempt)
            if result is not None:  # AttemptObserver: an awaitable or nothing
                await result

    async def call(
        self,
        agency: str,
        operation: str,
        work: Callable[[AgencyCall], Awaitable[T]],
        *,
        dedupe_key: str,
        deadline: float,
        item: str | None = None,
        log: Any = None,
        retry: bool = True,
        request: IntakeRequest | None = None,
    ) -> T:
        """Run ``work`` against ``agency`` with timeouts, retries and the breaker.

        ``deadline`` is a ``time.monotonic()`` instant: no attempt and no
        backoff wait goes past it. ``request`` is handed to the plugin as
        ``call.request``. Raises the contract's errors only.
        """
        cfg = self.agency_settings(agency)
        log = log or get_logger(agency=agency)
        per_attempt = cfg.item_timeouts.get(item or "", cfg.total_timeout_s)
        attempts = cfg.max_attempts if retry else 1
        retryable = _retryable_until(deadline)
        async for attempt_state in _retrying(cfg, deadline, attempts, retryable):
            with attempt_state:
                number = attempt_state.retry_state.attempt_number
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AgencyTimeout("the request's deadline passed before the agency answered")
                call = AgencyCall(
                    agency=agency,
                    session=self.session(agency),
                    base_url=cfg.base_url,
                    dedupe_key=dedupe_key,
                    deadline=time.monotonic() + min(remaining, per_attempt),
                    log=log.bind(agency=agency, attempt=number),
                    secrets=cfg.secrets,
                    options=cfg.options,
                    attempt=number,
                    request=request,
                )
                timeout = min(remaining, per_attempt)
                last = number >= attempts
                return await self._attempt(operation, work, call, timeout=timeout, retryable=retryable, last=last)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _attempt(
        self,
        operation: str,
        work: Callable[[AgencyCall], Awaitable[T]],
        call: AgencyCall,
        *,
        timeout: float,
        retryable: Callable[[BaseException], bool],
        last: bool,
    ) -> T:
        """One attempt: through the breaker, under ``timeout``, its outcome told to every observer."""
        breaker = self.breaker(call.agency)
        breaker.before_call()
        started = time.monotonic()
        plugin, hook = self.plugin_of.get(call.agency, call.agency), f"agency {call.agency!r} {operation}"
        try:
            async with asyncio.timeout(timeout):
                result = await self.watch.timed(work(call), plugin, hook)
        except asyncio.CancelledError:  # the gateway is stopping (or the caller left): the attempt is still told
            breaker.record_neutral()
            latency = time.monotonic() - started
            await self._notify(
                Attempt(call.agency, operation, call.dedupe_key, call.attempt, latency, "interrupted", "cancelled")
            )
            raise
        except BaseException as exc:
            error = _translate(exc)
            if error is None:  # a bug in the plugin, not the agency's fault: named, never retried
                breaker.record_neutral()
                if not isinstance(exc, Exception):
                    raise
                error = self.watch.fault(plugin, hook, f"raised {type(exc).__name__}", exc, call.request)
            elif error.retryable:
                breaker.record_failure()
            else:
                breaker.record_success()  # it answered, even if unreadably
            latency, kind, will_retry = time.monotonic() - started, type(error).__name__, retryable(error) and not last
            await self._notify(
                Attempt(call.agency, operation, call.dedupe_key, call.attempt, latency, kind, str(error), will_retry)
            )
            if error is exc:
                raise
            raise error from exc
        breaker.record_success()
        latency = time.monotonic() - started
        await self._notify(Attempt(call.agency, operation, call.dedupe_key, call.attempt, latency, "ok"))
        return result


def _retryable_until(deadline: float) -> Callable[[BaseException], bool]:
    """Whether an error is worth another attempt while ``deadline`` (monotonic) allows one."""

    def retryable(exc: BaseException) -> bool:
        if isinstance(exc, CircuitOpen):
            return False  # fail fast: waiting would only hold the caller
        return isinstance(exc, AgencyError) and exc.retryable and deadline - time.monotonic() > 0.05

    return retryable


def _retrying(
    cfg: AgencySettings, deadline: float, attempts: int, retryable: Callable[[BaseException], bool]
) -> AsyncRetrying:
    """Tenacity's loop: ``attempts`` at most, exponential backoff with jitter, an agency's hint honoured,
    and no wait past ``deadline``."""
    backoff = wait_exponential_jitter(
        multiplier=cfg.backoff_initial_s, max=cfg.backoff_max_s, jitter=cfg.backoff_initial_s
    )

    def wait(state: RetryCallState) -> float:
        base = backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None) or 0.0
        return max(0.0, min(max(base, min(hint, cfg.backoff_max_s)), deadline - time.monotonic() - 0.05))

    return AsyncRetrying(
        stop=stop_after_attempt(attempts), wait=wait, retry=retry_if_exception(retryable), reraise=True
    )
