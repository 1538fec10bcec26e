"""Every HTTP answer the API writes: JSON bodies and RFC 9457 problem documents.

Route modules build their answers here, so the media types, the encoding
(UTF-8, Chinese left readable) and the problem shape are decided once.
"""

from __future__ import annotations

import json

from aiohttp import web

from gateway.problems import PROBLEM_MEDIA_TYPE, ProblemError


def json_response(
    status: int, body: object, headers: dict[str, str] | None = None, *, content_type: str = "application/json"
) -> web.Response:
    """``body`` as ``application/json`` (or another JSON media type, such as ``application/schema+json``)."""
    return web.Response(
        status=status, text=json.dumps(body, ensure_ascii=False), content_type=content_type, headers=headers
    )


def problem_response(problem: ProblemError, *, request_id: str | None, instance: str | None) -> web.Response:
    """``problem`` as ``application/problem+json`` with its status and headers."""
    return web.Response(
        status=problem.kind.status,
        text=json.dumps(problem.body(request_id=request_id, instance=instance), ensure_ascii=False),
        content_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )
