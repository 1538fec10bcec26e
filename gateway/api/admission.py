"""Who is calling, and whether its limits let it: the first step of every authenticated route.

A connection that shows a district client certificate is that certificate's
caller (:mod:`gateway.tls.identity`); any other request is authenticated by
the gateway's authenticator (the API key). Then the caller's limits apply
(:mod:`gateway.limits.admission`): every authenticated request counts
against its ``rate_limit``, and an intake call also holds one of its
``max_concurrent`` places while it is served.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.intake.callers import Caller


async def authenticated(request: web.Request) -> Caller:
    """The caller making ``request``, or a 401 problem."""
    gateway = request.app[GATEWAY]
    certificates = gateway.client_certificates
    caller = await certificates.authenticate(request) if certificates is not None else None
    if caller is None:
        caller = gateway.authenticator.authenticate(request)
    assert isinstance(caller, Caller)
    return caller


async def admitted(request: web.Request) -> Caller:
    """The caller making ``request`` (a read), counted against its rate limit; 401 or 429 problems."""
    caller = await authenticated(request)
    await request.app[GATEWAY].limits.take(caller.id)
    return caller
