"""Reading request bodies without reading past the configured limit.

A kiosk uploading a scanned deed must not be able to make the gateway
buffer a gigabyte: a declared ``Content-Length`` over the limit is refused
before any byte is read, and a chunked body is read only up to the limit.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.problems import MALFORMED_REQUEST, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, ProblemError


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        PAYLOAD_TOO_LARGE,
        f"The body is larger than the limit of {limit} bytes.",
        f"请求内容超过 {limit} 字节的上限。",
        limit_bytes=limit,
        headers={"Connection": "close"},
    )


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refusing (413) anything over ``limit`` bytes."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise _too_large(limit)
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


async def read_json_object(request: web.Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object; 415 for other media types, 400 for bad JSON."""
    if request.content_type not in ("application/json", "application/problem+json") and request.body_exists:
        raise ProblemError(
            UNSUPPORTED_MEDIA_TYPE,
            f"Expected application/json, got {request.content_type}.",
            "请以 application/json 格式提交。",
        )
    raw = await read_limited(request, limit)
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProblemError(MALFORMED_REQUEST, "The body is not UTF-8.", "请求内容不是 UTF-8 编码。") from None
    except json.JSONDecodeError as exc:
        raise ProblemError(
            MALFORMED_REQUEST,
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
            f"请求内容不是合法的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）。",
        ) from None
    if not isinstance(body, dict):
        raise ProblemError(MALFORMED_REQUEST, "The body must be a JSON object.", "请求内容必须是 JSON 对象。")
    return body
