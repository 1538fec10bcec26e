"""``/v1/catalog``: the service catalogue, each item's service guide and its JSON Schema (public)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from gateway.api.bundles import chain_summaries
from gateway.api.keys import GATEWAY
from gateway.api.responses import json_response
from gateway.catalogue.items import FILTERS, Item
from gateway.intake.item_schema import envelope_schema, example_envelopes, schema_path
from gateway.problems import MALFORMED_REQUEST, UNKNOWN_ITEM, ProblemError, echo

_WHOLE_NUMBER = re.compile(r"[0-9]{1,4}")
_BOOLEANS = {"true": True, "false": False}
SCHEMA_MEDIA_TYPE = "application/schema+json"


def filter_values() -> dict[str, list[str] | str]:
    """Each filter and what it takes, as a 400 lists them."""
    words = {bool: "true or false", int: "a whole number", str: "text"}
    return {name: list(kind) if isinstance(kind, tuple) else words[kind] for name, kind in FILTERS.items()}


def _refuse(detail_en: str, detail_zh: str) -> ProblemError:
    return ProblemError(MALFORMED_REQUEST, detail_en, detail_zh, filters=filter_values())


def _filter(name: str, value: str) -> Any:
    """One query parameter as the value its filter compares, or a 400 naming what it takes."""
    if name not in FILTERS:
        raise _refuse(f"Unknown filter '{echo(name)}'; use {', '.join(FILTERS)}.", f"未知的筛选条件 {echo(name)}。")
    kind = FILTERS[name]
    if isinstance(kind, tuple):
        if value in kind:
            return value
        raise _refuse(f"{name} must be one of {', '.join(kind)}.", f"{name} 应为以下之一：{'、'.join(kind)}。")
    if kind is bool:
        if value in _BOOLEANS:
            return _BOOLEANS[value]
        raise _refuse(f"{name} must be true or false.", f"{name} 应为 true 或 false。")
    if kind is int:
        if _WHOLE_NUMBER.fullmatch(value):
            return int(value)
        raise _refuse(f"{name} must be a whole number of days.", f"{name} 应为天数（整数）。")
    return value


async def list_items(request: web.Request) -> web.Response:
    """Items matching every filter given (see :data:`gateway.catalogue.items.FILTERS`)."""
    catalogue = request.app[GATEWAY].registry.catalogue
    filters = {}
    for name in request.query:
        values = request.query.getall(name)
        if len(values) > 1:
            raise _refuse(f"The filter '{echo(name)}' is given twice.", f"筛选条件 {echo(name)} 重复。")
        filters[name] = _filter(name, values[0])
    items = catalogue.filter(**filters)
    chains = chain_summaries(request.app[GATEWAY])
    return json_response(200, {"count": len(items), "items": [i.summary() for i in items], "chains": chains})


def _item(request: web.Request) -> Item:
    code = request.match_info["item"]
    item: Item | None = request.app[GATEWAY].registry.catalogue.get(code)
    if item is None:
        raise ProblemError(
            UNKNOWN_ITEM,
            f"No catalogue item is called '{echo(code)}'.",
            f"事项目录中没有 {echo(code)}。",
            item=echo(code),
        )
    return item


def _examples(request: web.Request, item: Item) -> list[dict[str, Any]]:
    return example_envelopes(item, request.app[GATEWAY].settings.offices.values())


async def item_guide(request: web.Request) -> web.Response:
    """The service guide (服务指南) of one item, with its example requests and a link to its schema."""
    item = _item(request)
    guide = item.guide(request.app[GATEWAY].settings.max_attachment_bytes)
    guide["examples"] = [
        {"summary": example.summary, "envelope": envelope}
        for example, envelope in zip(item.examples, _examples(request, item), strict=False)
    ]
    guide["links"] = {"self": f"/v1/catalog/{item.code}", "schema": schema_path(item.code)}
    return json_response(200, guide)


async def item_schema(request: web.Request) -> web.Response:
    """The JSON Schema (2020-12) of a request for one item."""
    item = _item(request)
    settings = request.app[GATEWAY].settings
    schema = envelope_schema(
        item, max_attachment_bytes=settings.max_attachment_bytes, examples=_examples(request, item)
    )
    return json_response(200, schema, content_type=SCHEMA_MEDIA_TYPE)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/catalog", list_items)
    app.router.add_get("/v1/catalog/{item}", item_guide)
    app.router.add_get("/v1/catalog/{item}/schema", item_schema)
