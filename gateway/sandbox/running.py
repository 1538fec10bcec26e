"""Declaring a sandbox (:class:`SandboxSpec`) and running one on loopback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.sandbox.application import KNOBS, LEDGER
from gateway.sandbox.faults import FaultKnobs
from gateway.sandbox.ledger import SubmissionLedger


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
