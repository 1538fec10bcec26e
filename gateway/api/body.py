"""Reading request bodies: never past the size limit, never for longer than the body timeout, strictly.

A kiosk uploading a scanned deed must not be able to make the gateway
buffer a gigabyte: a declared ``Content-Length`` over the limit is refused
before any byte is read, and a chunked body is read only up to the limit.
A client that sends its body a byte a second, or announces more than it
sends, gets ``408`` when ``server.body_timeout_s`` runs out. A client that
hangs up mid-body is no error of the gateway's: it is logged as such, not
as a 500.

JSON is read as I-JSON (:func:`signing.jose.ijson.loads`): a member name
twice (``{"item": "a", "item": "b"}`` would silently be ``b``), a lone
surrogate, nesting deeper than ``server.max_json_depth`` or more members
than ``server.max_json_members`` are ``400``, naming the problem or limit,
before anything is looked at, let alone stored.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.config import HttpLimits
from gateway.errors import ClientDisconnected
from gateway.problems import (
    MALFORMED_REQUEST,
    PAYLOAD_TOO_LARGE,
    REQUEST_TIMEOUT,
    UNSUPPORTED_MEDIA_TYPE,
    ProblemError,
    echo,
)
from signing.errors import IJsonError
from signing.jose import ijson

_JSON_LIMITS = {"max_depth": "max_json_depth", "max_members": "max_json_members"}


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        PAYLOAD_TOO_LARGE,
        f"The body is larger than the limit of {limit} bytes (server.max_body_bytes).",
        f"请求内容超过 {limit} 字节的上限。",
        limit="server.max_body_bytes",
        limit_value=limit,
        limit_bytes=limit,
        headers={"Connection": "close"},
    )


def _too_slow(timeout_s: float) -> ProblemError:
    return ProblemError(
        REQUEST_TIMEOUT,
        f"The body did not arrive within {timeout_s:g} s (server.body_timeout_s).",
        f"请求内容未在 {timeout_s:g} 秒内传完。",
        limit="server.body_timeout_s",
        limit_value=timeout_s,
        headers={"Connection": "close"},
    )


def _limits(request: web.Request) -> HttpLimits:
    limits: HttpLimits = request.app[GATEWAY].settings.http
    return limits


async def _read_chunks(request: web.Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refusing anything over ``limit`` bytes (413) or slower than the body timeout (408)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise _too_large(limit)
    timeout_s = _limits(request).body_timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_chunks(request, limit)
    except TimeoutError:
        raise _too_slow(timeout_s) from None
    except ConnectionError as exc:
        raise ClientDisconnected(f"the client closed the connection mid-body ({type(exc).__name__})") from None
    except web.RequestPayloadError:
        if request.transport is None:  # the framing broke because the connection did
            raise ClientDisconnected("the client closed the connection mid-body") from None
        raise ProblemError(
            MALFORMED_REQUEST, "The body's framing is malformed or incomplete.", "请求内容的分块或长度不正确。"
        ) from None


def require_json(request: web.Request) -> None:
    """415 unless the body (if any) is declared ``application/json``."""
    if request.content_type not in ("application/json", "application/problem+json") and request.body_exists:
        raise ProblemError(
            UNSUPPORTED_MEDIA_TYPE,
            f"Expected application/json, got {request.content_type[:60]}.",
            "请以 application/json 格式提交。",
        )


async def read_json_object(request: web.Request, limit: int) -> dict[str, Any]:
    """The body as an I-JSON object; 415 for other media types, 400 for anything but strict JSON."""
    require_json(request)
    return parse_json_object(request, await read_limited(request, limit))


def parse_json_object(request: web.Request, raw: bytes) -> dict[str, Any]:
    """``raw`` (the body, already read within its limits) as an I-JSON object; 400 for anything but strict JSON."""
    limits = _limits(request)
    try:
        body = ijson.loads(raw, max_depth=limits.max_json_depth, max_members=limits.max_json_members)
    except IJsonError as exc:
        reason = echo(str(exc), 120)  # it may quote a member name: masked and cut like any echo
        if exc.limit is None:
            raise ProblemError(
                MALFORMED_REQUEST, f"The body is not acceptable JSON: {reason}.", f"请求内容不是合规的 JSON：{reason}。"
            ) from None
        name = _JSON_LIMITS[exc.limit]
        value = getattr(limits, name)
        raise ProblemError(
            MALFORMED_REQUEST,
            f"The body is over a JSON limit: {reason} (server.{name} = {value}).",
            f"请求内容超出 JSON 限制：{reason}（server.{name} = {value}）。",
            limit=f"server.{name}",
            limit_value=value,
        ) from None
    if not isinstance(body, dict):
        raise ProblemError(MALFORMED_REQUEST, "The body must be a JSON object.", "请求内容必须是 JSON 对象。")
    return body
