"""Who is calling, and whether its limits let it: the first step of every authenticated route.

The gateway's authenticator (:mod:`gateway.callers.authenticator`) finds the
caller by whichever method the request uses -- a district client certificate
on the connection (:mod:`gateway.tls.identity`), a signature, an API key --
and the body is passed in because a signature covers its digest. Then the caller's limits apply
(:mod:`gateway.limits.admission`): every authenticated request counts
against its ``rate_limit``, and an intake call also holds one of its
``max_concurrent`` places while it is served.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.api.body import read_limited, require_json
from gateway.api.keys import GATEWAY
from gateway.callers.model import Caller
from gateway.problems import MALFORMED_REQUEST, ProblemError

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # 1-255 visible ASCII characters
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


async def authenticated(request: web.Request, body: bytes) -> Caller:
    """The caller making ``request`` (whose body is ``body``), or a 401 problem."""
    caller = await request.app[GATEWAY].authenticator.authenticate(request, body)
    assert isinstance(caller, Caller)
    return caller


async def admitted(request: web.Request, body: bytes) -> Caller:
    """The caller making ``request`` (a read), counted against its rate limit; 401 or 429 problems."""
    caller = await authenticated(request, body)
    await request.app[GATEWAY].limits.take(caller.id)
    return caller


async def intake_call(
    request: web.Request, submit: Callable[[web.Request, Caller, bytes], Awaitable[web.Response]]
) -> web.Response:
    """An intake call (a request, a bundle): the JSON body read within its limit before the caller is
    authenticated (a signature covers its digest), then ``submit`` while the caller holds one of its places."""
    gateway = request.app[GATEWAY]
    require_json(request)
    raw = await read_limited(request, gateway.settings.max_body_bytes)
    caller = await authenticated(request, raw)
    async with gateway.limits.admit(caller.id):  # 429 past the caller's rate or concurrency limit
        return await submit(request, caller, raw)


def idempotency_key(request: web.Request) -> str | None:
    """The ``Idempotency-Key`` header, if sent; a 400 problem when it is not 1-255 visible ASCII characters."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ProblemError(
            MALFORMED_REQUEST,
            "Idempotency-Key must be 1-255 visible ASCII characters.",
            "Idempotency-Key 应为 1 至 255 个可见 ASCII 字符。",
        )
    return key
