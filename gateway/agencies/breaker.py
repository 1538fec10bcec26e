"""A circuit breaker per agency: fail fast while an agency is down.

When an agency's system is down for the night, waiting out a timeout on
every request only ties up the kiosk; after ``failure_threshold``
consecutive unavailable answers the breaker opens and calls fail at once
(into store-and-forward), then after ``reset_after`` seconds one probe call
at a time is let through (half-open) to find out whether it is back.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from gateway.contract import AgencyUnavailable


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(AgencyUnavailable):
    """Raised instead of calling an agency whose breaker is open."""


class CircuitBreaker:
    """Counts consecutive failures of one agency and decides whether to call it."""

    def __init__(
        self,
        agency: str,
        *,
        failure_threshold: int = 5,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agency = agency
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.listeners: list[Callable[[str, BreakerState], None]] = []

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose wait is over reports half-open."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_after:
            return BreakerState.HALF_OPEN
        return self._state

    def _set(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            for listener in self.listeners:
                listener(self.agency, state)

    def before_call(self) -> None:
        """Raise :class:`CircuitOpen` unless a call may go to the agency now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._set(BreakerState.HALF_OPEN)
            self._probe_in_flight = True
            return
        wait = max(0.0, self.reset_after - (self._clock() - self._opened_at))
        raise CircuitOpen(f"circuit for agency {self.agency!r} is open", retry_after=wait or self.reset_after)

    def record_success(self) -> None:
        """The agency answered: close the breaker."""
        self._failures = 0
        self._probe_in_flight = False
        self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        """The agency was unavailable: count it, open the breaker at the threshold."""
        self._failures += 1
        was_probe = self._probe_in_flight
        self._probe_in_flight = False
        if was_probe or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)

    def record_neutral(self) -> None:
        """The call ended without telling us about availability (e.g. cancelled)."""
        self._probe_in_flight = False
