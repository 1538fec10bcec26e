"""Fault knobs: how badly a sandbox behaves, changeable while it runs.

Latency, errors, maintenance, connection resets, stalls, garbage and
flapping, each drawn from a seeded generator so a run misbehaves the same
way twice.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from aiohttp import web


@dataclass
class FaultKnobs:
    """How badly a sandbox behaves; every field may be changed at run time.

    Rates are probabilities in [0, 1] drawn from a seeded generator, so a
    run with the same seed and the same calls misbehaves the same way.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    maintenance: bool = False
    reset_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 3600.0
    malformed_rate: float = 0.0
    flap_period_s: float = 0.0
    delay_after_submit_s: float = 0.0
    seed: int = 20210924
    _random: random.Random = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    _started: float = field(default_factory=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def public(self) -> dict[str, Any]:
        """The knobs as JSON, without internal state."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, refusing unknown knobs and wrong types."""
        known = {f.name: f for f in fields(self) if not f.name.startswith("_")}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault knob {name!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, name)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"fault knob {name!r} takes true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"fault knob {name!r} takes a non-negative number")
            setattr(self, name, type(current)(value))
        if "seed" in changes:
            self._random = random.Random(self.seed)
        if "flap_period_s" in changes:
            self._started = time.monotonic()

    def roll(self, rate: float) -> bool:
        """True with probability ``rate``."""
        return rate > 0 and self._random.random() < rate

    def flapped_down(self) -> bool:
        """True while a flapping agency is in one of its down periods."""
        if self.flap_period_s <= 0:
            return False
        return int((time.monotonic() - self._started) / self.flap_period_s) % 2 == 1


def reset_connection(request: web.Request) -> None:
    """Close the client connection with a TCP RST rather than a clean FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def default_garbage(request: web.Request) -> web.StreamResponse:
    return web.Response(status=200, body=b"\x00\xffnot what you expected<", content_type="text/plain")
