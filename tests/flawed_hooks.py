"""Plugins whose hooks break the contract at run time, one flaw each, for proving the contract kit names them.

Each is a plugin of its own (named after its agency code), registering the
tax adapter under that code (:mod:`tests.flawed_plugins`) with exactly one
flawed hook or adapter call. The catalogues are written to ``$KIT_FLAWS_DIR``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from gateway.contract import AgencyCall, IntakeRequest, Item, Outcome, Problem, SandboxSpec, hookimpl
from tests.flawed_plugins import _AsTax, _spec

HOLD_S = 0.4  # well over the default block_threshold_ms (100): a busy host must not hide it


class _Plugin:
    """A plugin named ``code`` registering one tax-like agency and its sandbox."""

    def __init__(self, code: str) -> None:
        self.__name__ = code
        self.code = code

    @hookimpl
    def onewindow_agencies(self, config: Any) -> list[Any]:
        return [self.adapter()]

    @hookimpl
    def onewindow_sandboxes(self) -> list[SandboxSpec]:
        return [_spec(self.code)]

    def adapter(self) -> Any:
        return _AsTax(self.code)


class Raising(_Plugin):
    """Its validation raises for its own items."""

    @hookimpl
    def onewindow_validate(self, item: Item, request: IntakeRequest) -> list[Problem]:
        if item.agency == self.code:
            raise RuntimeError("the lookup table is not loaded")
        return []


class Mistyped(_Plugin):
    """Its validation answers a string where a list of Problem is due."""

    @hookimpl
    def onewindow_validate(self, item: Item, request: IntakeRequest) -> Any:
        return "ok" if item.agency == self.code else []


class Meddling(_Plugin):
    """Its validation reports problems with every agency's items, not only its own."""

    @hookimpl
    def onewindow_validate(self, item: Item, request: IntakeRequest) -> list[Problem]:
        if item.agency == self.code:
            return []
        return [Problem("applicant/name", "meddling", "不是本部门的事项", "not this agency's item")]


class _BlockingTax(_AsTax):
    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        time.sleep(HOLD_S)  # a synchronous client: every other request waits meanwhile
        return await super().submit(request, call)


class Blocking(_Plugin):
    """Its adapter's submit holds the event loop (a synchronous sleep standing for a blocking client)."""

    def adapter(self) -> Any:
        return _BlockingTax(self.code)


class Sleepy(_Plugin):
    """Its start-up hook holds the event loop: a synchronous sleep, then as long again of CPU-bound work.

    The work half is caught by the thread's own CPU time whatever the host's
    load, so the flaw is seen even where a kernel might count some of a
    sleep as waiting for a CPU (the submit of :class:`Blocking` is a sleep
    alone).
    """

    @hookimpl
    def onewindow_startup(self, gateway: Any) -> None:
        time.sleep(HOLD_S / 2)
        worked = time.thread_time()
        while time.thread_time() - worked < HOLD_S / 2:
            pass


class Unstartable(_Plugin):
    """Its sandbox cannot start (the application factory fails)."""

    @hookimpl
    def onewindow_sandboxes(self) -> list[SandboxSpec]:
        def create_app(knobs: Any, **options: Any) -> Any:
            raise OSError("the agency's test data is missing")

        return [dataclasses.replace(_spec(self.code), create_app=create_app)]


PLUGINS = {
    "raising": Raising("raising"),
    "mistyped": Mistyped("mistyped"),
    "meddling": Meddling("meddling"),
    "blocking": Blocking("blocking"),
    "sleepy": Sleepy("sleepy"),
}
