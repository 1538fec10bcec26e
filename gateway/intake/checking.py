"""Checking an envelope at intake: the item it names, and every problem with it at once (一次性告知).

The router runs these before anything is recorded; the one-time notice and
bundles ask the same questions without recording anything, so the checks live
apart from the path that records and delivers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.agencies.installed import Registry
from gateway.catalogue.items import Item
from gateway.config import Settings, parse_callback_url
from gateway.contract import Problem
from gateway.delivery.accepted import Envelope, intake_request
from gateway.delivery.delivery import Delivery
from gateway.delivery.results import plugin_failed
from gateway.errors import PluginFault
from gateway.intake.callers import Caller
from gateway.intake.envelope import parse_envelope
from gateway.observability.events import Events
from gateway.problems import UNKNOWN_ITEM, VALIDATION_FAILED, ProblemError, echo


def problems_json(problems: list[Problem]) -> list[dict[str, Any]]:
    """The ``errors`` of a 422: each problem, with the other paths a cross-field rule involved."""
    return [
        {"path": p.path, "code": p.code, "message_zh": p.message_zh, "message_en": p.message_en}
        | ({"related": list(p.related)} if p.related else {})
        for p in problems
    ]


class IntakeChecks:
    """The item an envelope names, and every problem with the envelope (the plugins' own checks included)."""

    def __init__(self, *, settings: Settings, registry: Registry, events: Events, delivery: Delivery) -> None:
        self.settings = settings
        self.registry = registry
        self.events = events
        self.delivery = delivery

    def item(self, body: Mapping[str, Any]) -> Item:
        code = body.get("item")
        if not isinstance(code, str) or not code:
            raise ProblemError(
                VALIDATION_FAILED,
                "The envelope names no item.",
                "请求未指明办理事项。",
                errors=[
                    {
                        "path": "item",
                        "code": "required",
                        "message_zh": "缺少事项编码",
                        "message_en": "item (a catalogue code) is required",
                    }
                ],
            )
        item = self.registry.catalogue.get(code)
        if item is None:
            raise ProblemError(
                UNKNOWN_ITEM,
                f"No catalogue item is called '{echo(code)}'.",
                f"事项目录中没有编码为 {echo(code)} 的事项。",
                item=echo(code),
            )
        return item

    async def problems(
        self, caller: Caller, item: Item, body: Mapping[str, Any], request_id: str
    ) -> tuple[Envelope | None, list[Problem]]:
        """The envelope (None when it cannot be read) and every problem with it, plugins' included."""
        envelope, problems = parse_envelope(body, item, max_attachment_bytes=self.settings.max_attachment_bytes)
        if (
            envelope is not None
            and envelope.callback_url
            and not caller.may_call_back(parse_callback_url(envelope.callback_url))
        ):
            # Results carry the applicant's identity: they go only where the district allowed, signed.
            problems.append(
                Problem(
                    "callback_url",
                    "callback_not_allowed",
                    "回调地址不在该终端登记的回调地址范围内（或未配置回调密钥）",
                    "callback_url is not under one of this caller's configured callback_prefixes "
                    "(or the caller has no callback secret)",
                )
            )
        if envelope is not None:
            request = intake_request(request_id, envelope)
            try:
                problems.extend(await self.delivery.guard.validate(item, request))
            except PluginFault as fault:
                await self.events.emit(
                    "request.refused",
                    request_id=request_id,
                    caller=caller.id,
                    item=item.code,
                    reason="plugin_failed",
                    detail=str(fault),
                )
                raise plugin_failed(fault, item) from None
        return envelope, problems

    async def validate(self, caller: Caller, item: Item, body: Mapping[str, Any], request_id: str) -> Envelope:
        envelope, problems = await self.problems(caller, item, body, request_id)
        if problems:
            await self.events.emit(
                "validation.failed",
                request_id=request_id,
                caller=caller.id,
                item=item.code,
                problems=[f"{p.path}:{p.code}" for p in problems],
            )
            raise ProblemError(
                VALIDATION_FAILED,
                f"{len(problems)} problem(s) with the request; every one is listed in 'errors'.",
                f"申请共有 {len(problems)} 处问题，已在 errors 中一次性列出。",
                errors=problems_json(problems),
                item=item.code,
            )
        assert envelope is not None
        return envelope
