"""Middlewares: a request id on everything, every error as problem JSON, and no answer before the disk has it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.api.responses import problem_response
from gateway.errors import ClientDisconnected, StoreError
from gateway.intake.request_ids import new_ulid
from gateway.observability.logs import get_logger
from gateway.problems import (
    INTERNAL_ERROR,
    MALFORMED_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    ProblemError,
    ProblemType,
    echo,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
CLIENT_GONE: web.RequestKey[bool] = web.RequestKey("client_gone", bool)
LOGGED_PATH_LIMIT = 200
_HTTP_PROBLEMS: dict[int, tuple[ProblemType, str, str]] = {
    400: (MALFORMED_REQUEST, "The request could not be understood.", "请求无法解析。"),
    404: (NOT_FOUND, "There is nothing at this path.", "该路径下没有资源。"),
    405: (METHOD_NOT_ALLOWED, "This route does not accept that method.", "该路径不支持此请求方法。"),
    413: (PAYLOAD_TOO_LARGE, "The body is too large.", "请求内容过大。"),
    415: (UNSUPPORTED_MEDIA_TYPE, "Unsupported media type.", "不支持的内容类型。"),
}
_log = get_logger(component="http")


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every HTTP request an id, bind it to every log line, and echo it back."""
    request_id = new_ulid()
    request[REQUEST_ID] = request_id
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        request_id=request_id, method=echo(request.method, 16), path=echo(request.path, LOGGED_PATH_LIMIT)
    )
    gateway = request.app[GATEWAY]
    try:
        response = await handler(request)
        final_id = request.get(REQUEST_ID, request_id)
        response = await _recorded(gateway, response, request, final_id)
    finally:
        structlog.contextvars.clear_contextvars()
    response.headers.setdefault(REQUEST_ID_HEADER, final_id)
    return response


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render :class:`ProblemError` and aiohttp's HTTP errors as RFC 9457 problems."""
    try:
        return await handler(request)
    except ProblemError as problem:
        return problem_response(problem, request_id=request.get(REQUEST_ID), instance=_instance(request))
    except ClientDisconnected as gone:  # nobody is left to answer; not a fault of the gateway
        _log.info("http.client_disconnected", reason=str(gone))
        request[CLIENT_GONE] = True  # no answer is sent, so none is recorded as sent
        closed = ProblemError(MALFORMED_REQUEST, "The connection closed before the body was complete.", "连接中断。")
        return problem_response(closed, request_id=request.get(REQUEST_ID), instance=_instance(request))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kind, en, zh = _HTTP_PROBLEMS.get(exc.status, (INTERNAL_ERROR, exc.reason, "请求失败。"))
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
        return problem_response(
            ProblemError(kind, en, zh, headers=headers), request_id=request.get(REQUEST_ID), instance=_instance(request)
        )
    except Exception:
        _log.exception("http.unhandled_error")
        internal = ProblemError(INTERNAL_ERROR, "The gateway failed unexpectedly.", "网关发生内部错误。")
        return problem_response(internal, request_id=request.get(REQUEST_ID), instance=_instance(request))


async def _recorded(gateway: Any, response: web.StreamResponse, request: web.Request, request_id: str) -> Any:
    """Record that the answer is sent, then wait until it -- and anything it could have read -- is on disk.

    The store commits without flushing and flushes for everyone waiting at
    once (:meth:`Store.durable`): an answer sent before the flush could tell a
    caller of a request a crash then takes back. A store that cannot keep
    what it recorded answers 500 instead.
    """
    try:
        if request.method == "POST" and request.path == "/v1/requests" and not request.get(CLIENT_GONE):
            # The answer is part of the request's story; recorded before it is sent.
            await gateway.events.emit("response.sent", request_id=request_id, path=request.path, status=response.status)
        await gateway.store.durable()
    except StoreError:
        if response.status >= 500:  # a failure reports nothing kept (/readyz saying the store is not ready)
            return response
        _log.exception("http.store_not_durable")
        failed = ProblemError(INTERNAL_ERROR, "The gateway could not keep what it recorded.", "网关未能保存记录。")
        return problem_response(failed, request_id=request.get(REQUEST_ID), instance=_instance(request))
    return response


def _instance(request: web.Request) -> str:
    """The problem's ``instance``: the path, cut short (a path is caller input)."""
    return echo(request.path, LOGGED_PATH_LIMIT)
