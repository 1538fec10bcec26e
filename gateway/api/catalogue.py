"""``/v1/catalog``: the service catalogue and each item's service guide (public)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.api.responses import json_response
from gateway.catalogue.items import CHANNELS, ITEM_KINDS, OFFICE_LEVELS
from gateway.problems import MALFORMED_REQUEST, UNKNOWN_ITEM, ProblemError, echo

_FILTERS = {"agency": None, "office_level": OFFICE_LEVELS, "channel": CHANNELS, "kind": ITEM_KINDS}


async def list_items(request: web.Request) -> web.Response:
    """Items, filtered by agency, office level, channel or kind."""
    catalogue = request.app[GATEWAY].registry.catalogue
    filters = {}
    for name, value in request.query.items():
        if name not in _FILTERS:
            raise ProblemError(
                MALFORMED_REQUEST,
                f"Unknown filter '{echo(name)}'; use {', '.join(_FILTERS)}.",
                f"未知的筛选条件 {echo(name)}。",
            )
        allowed = _FILTERS[name]
        if allowed is not None and value not in allowed:
            raise ProblemError(
                MALFORMED_REQUEST,
                f"{name} must be one of {', '.join(allowed)}.",
                f"{name} 应为以下之一：{'、'.join(allowed)}。",
            )
        filters[name] = value
    items = catalogue.filter(**filters)
    return json_response(200, {"count": len(items), "items": [i.summary() for i in items]})


async def item_guide(request: web.Request) -> web.Response:
    """The service guide (服务指南) of one item."""
    code = request.match_info["item"]
    item = request.app[GATEWAY].registry.catalogue.get(code)
    if item is None:
        raise ProblemError(
            UNKNOWN_ITEM,
            f"No catalogue item is called '{echo(code)}'.",
            f"事项目录中没有 {echo(code)}。",
            item=echo(code),
        )
    return json_response(200, item.guide())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/catalog", list_items)
    app.router.add_get("/v1/catalog/{item}", item_guide)
