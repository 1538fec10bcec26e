"""The sandbox kit: real HTTP imitations of agency systems, with fault knobs.

Every agency plugin ships a sandbox -- an aiohttp application that speaks
its agency's protocol -- so the gateway, the plugin's own tests and a
newcomer's ``make run`` all talk to something real over loopback. This
module holds what every sandbox shares: the fault knobs (latency, errors,
maintenance, resets, stalls, garbage, flapping), a ledger that deduplicates
submissions by the gateway's request id and counts the effective ones, and
the ``/_sandbox`` control endpoints that tests use to turn knobs at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from aiohttp import web

CONTROL_PREFIX = "/_sandbox"
Renderer = Callable[[web.Request], web.StreamResponse]
ResetHook = Callable[[], Awaitable[None] | None]


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


class SubmissionLedger:
    """Deduplicates submissions by the gateway's request id.

    The first submission under a key runs and its answer is kept; a repeat
    gets the kept answer and is counted as a duplicate, never acted on.
    ``effective`` counts how many times each key was really acted on, so a
    test can prove a retried call was processed once.
    """

    def __init__(self, knobs: FaultKnobs | None = None) -> None:
        self.knobs = knobs
        self._answers: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.effective: dict[str, int] = {}
        self.duplicates = 0

    async def submit(self, key: str, act: Callable[[], Awaitable[Any] | Any]) -> Any:
        """Act once per ``key``; later calls return the first answer."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._answers:
                self.duplicates += 1
                return self._answers[key]
            answer = act()
            if asyncio.iscoroutine(answer):
                answer = await answer
            self._answers[key] = answer
            self.effective[key] = self.effective.get(key, 0) + 1
        if self.knobs is not None and self.knobs.delay_after_submit_s > 0:
            await asyncio.sleep(self.knobs.delay_after_submit_s)
        return answer

    def answer(self, key: str) -> Any | None:
        """The stored answer for ``key``, if it was submitted."""
        return self._answers.get(key)

    def seen(self, key: str) -> bool:
        """Whether a submission under ``key`` was already acted on (e.g. to answer "accepted" only once)."""
        return key in self.effective

    def stats(self) -> dict[str, Any]:
        """Counts for tests: effective submissions, duplicates, keys acted on twice."""
        return {
            "effective_submissions": sum(self.effective.values()),
            "distinct_keys": len(self.effective),
            "duplicate_submissions": self.duplicates,
            "acted_more_than_once": sorted(k for k, n in self.effective.items() if n > 1),
        }

    def reset(self) -> None:
        """Forget every submission (for a fresh test)."""
        self._answers.clear()
        self._locks.clear()
        self.effective.clear()
        self.duplicates = 0


KNOBS: web.AppKey[FaultKnobs] = web.AppKey("sandbox_knobs", FaultKnobs)
LEDGER: web.AppKey[SubmissionLedger] = web.AppKey("sandbox_ledger", SubmissionLedger)
SANDBOX_NAME: web.AppKey[str] = web.AppKey("sandbox_name", str)


def _reset_connection(request: web.Request) -> None:
    """Close the client connection with a TCP RST rather than a clean FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _default_garbage(request: web.Request) -> web.StreamResponse:
    return web.Response(status=200, body=b"\x00\xffnot what you expected<", content_type="text/plain")


def sandbox_application(
    *,
    knobs: FaultKnobs,
    ledger: SubmissionLedger,
    unavailable: Renderer,
    malformed: Renderer = _default_garbage,
    name: str = "sandbox",
    on_reset: ResetHook | None = None,
) -> web.Application:
    """An aiohttp application with fault injection and the control endpoints.

    ``unavailable`` renders the agency's own "system down" answer (its
    status code and body format); ``malformed`` renders garbage in a way
    typical of that agency. ``on_reset`` (sync or async) clears the
    sandbox's own state -- issued tokens, replay caches, open cases -- when
    ``POST /_sandbox/reset`` is called, so a test starts from scratch.
    Add the agency's routes to the returned app.
    """

    @web.middleware
    async def faults(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000)
        if knobs.maintenance or knobs.flapped_down() or knobs.roll(knobs.error_rate):
            return unavailable(request)
        if knobs.roll(knobs.reset_rate):
            _reset_connection(request)
            raise asyncio.CancelledError  # the connection is gone; stop handling
        if knobs.roll(knobs.stall_rate):
            await asyncio.sleep(knobs.stall_seconds)
        if knobs.roll(knobs.malformed_rate):
            return malformed(request)
        return await handler(request)

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response(knobs.public())

    async def put_faults(request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of knob: value")
            knobs.update(changes)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(knobs.public())

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(ledger.stats())

    async def post_reset(request: web.Request) -> web.Response:
        ledger.reset()
        knobs.update({k: v for k, v in FaultKnobs(seed=knobs.seed).public().items()})
        if on_reset is not None:
            cleared = on_reset()
            if asyncio.iscoroutine(cleared):
                await cleared
        return web.json_response({"reset": True})

    app = web.Application(middlewares=[faults])
    app[SANDBOX_NAME] = name
    app[KNOBS] = knobs
    app[LEDGER] = ledger
    app.router.add_get(f"{CONTROL_PREFIX}/faults", get_faults)
    app.router.add_put(f"{CONTROL_PREFIX}/faults", put_faults)
    app.router.add_get(f"{CONTROL_PREFIX}/stats", get_stats)
    app.router.add_post(f"{CONTROL_PREFIX}/reset", post_reset)
    return app


@dataclass(frozen=True)
class SandboxSpec:
    """How to build one agency's sandbox.

    ``create_app(knobs, **options)`` returns the aiohttp application;
    ``options`` declares the sandbox's own settings (for example how long a
    case takes to be decided) with their defaults, passed as keyword
    arguments -- ``onewindow sandbox run --option AGENCY.KEY=VALUE`` and the
    test kit change them. ``default_port`` is where ``make run`` starts it;
    ``config`` is the agency configuration (base URL aside) under which the
    plugin can talk to it, for example the sandbox's demo credentials.
    ``rejection`` is a request fragment (``item``, ``applicant`` and
    optionally ``materials``) that the sandbox always refuses on business
    grounds; the contract test kit uses it.
    """

    agency: str
    name: str
    create_app: Callable[..., web.Application]
    default_port: int
    config: dict[str, Any] = field(default_factory=dict)
    rejection: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def sandbox_options(spec: SandboxSpec, changes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``spec.options`` with ``changes`` applied, refusing undeclared options and wrong types.

    Types follow the declared defaults (an integer is accepted where a
    number is declared), so a typo or ``"0.5"`` for a delay is refused at
    start-up rather than failing inside the sandbox.
    """
    merged = dict(spec.options)
    for name, value in (changes or {}).items():
        if name not in spec.options:
            known = ", ".join(sorted(spec.options)) or "none"
            raise ValueError(f"the {spec.agency} sandbox has no option {name!r} (its options: {known})")
        default = spec.options[name]
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(default, bool) and isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, int | float)
            value = float(value) if ok else value
        else:
            ok = default is None or isinstance(value, type(default))
        if not ok:
            raise ValueError(
                f"the {spec.agency} sandbox option {name!r} takes a {type(default).__name__} "
                f"like {default!r}, not {value!r}"
            )
        merged[name] = value
    return merged


@dataclass
class RunningSandbox:
    """A sandbox serving on loopback; ``url`` is its base URL, ``options`` what it was built with."""

    spec: SandboxSpec
    app: web.Application
    runner: web.AppRunner
    url: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def knobs(self) -> FaultKnobs:
        return self.app[KNOBS]

    @property
    def ledger(self) -> SubmissionLedger:
        return self.app[LEDGER]

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_sandbox(
    spec: SandboxSpec,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    knobs: FaultKnobs | None = None,
    options: Mapping[str, Any] | None = None,
) -> RunningSandbox:
    """Start one sandbox; ``port=0`` picks a free port; ``options`` change its declared options."""
    chosen = sandbox_options(spec, options)
    app = spec.create_app(knobs or FaultKnobs(), **chosen)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    shown = f"[{host}]" if ":" in host else host
    return RunningSandbox(spec=spec, app=app, runner=runner, url=f"http://{shown}:{bound}", options=chosen)
