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

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.callers.model import Caller


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
