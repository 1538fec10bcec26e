"""The authentication seam: who is calling, by whichever method the caller may use.

Every route that needs a caller awaits :meth:`CallerAuthenticator.authenticate`
with the request and its body (a signature covers the body's digest). Each
method (:class:`AuthMethod`) looks only for its own kind of credential and
answers None when the request carries none; the first that finds one decides,
and the caller it names must list that method in its ``methods``. Every
refusal is an ``authentication.refused`` event -- in the audit log, and
counted in ``/metrics`` by reason -- carrying the method, the problem type
and, once a key named it, the caller and key id: never a header value, a
body, or an address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiohttp import web

from gateway.callers.model import Caller
from gateway.observability.events import Events
from gateway.problems import UNAUTHENTICATED, ProblemError


class AuthMethod(Protocol):
    """One way of proving who is calling."""

    name: str  # as a caller's ``methods`` lists it: "signature", "api_key"

    async def authenticate(self, request: web.Request, body: bytes) -> Caller | None:
        """The caller the request's credential proves; None when it carries none of this kind.

        A credential of this kind that does not hold raises a 401 :class:`ProblemError`
        (:class:`Refusal` to name the caller or key it claimed, for the audit log).
        """
        ...


class Authenticator(Protocol):
    """Turns an HTTP request (and its body) into a :class:`Caller`, or raises a 401 problem."""

    async def authenticate(self, request: web.Request, body: bytes) -> Caller: ...


class Refusal(ProblemError):
    """A 401 that knows which caller or key the request claimed to be (recorded, never sent back)."""

    caller_id: str | None = None
    key_id: str | None = None


def refusal(problem: ProblemError, *, caller_id: str | None, key_id: str | None) -> Refusal:
    """``problem`` as a :class:`Refusal` naming the claimed caller and key."""
    out = Refusal(problem.kind, problem.detail_en, problem.detail_zh, headers=problem.headers, **problem.extensions)
    out.caller_id, out.key_id = caller_id, key_id
    return out


class CallerAuthenticator:
    """Tries each method in order; the first that finds a credential decides."""

    def __init__(self, methods: Sequence[AuthMethod], *, events: Events | None = None) -> None:
        self.methods = tuple(methods)
        self.events = events

    async def authenticate(self, request: web.Request, body: bytes) -> Caller:
        method_name = "none"
        try:
            for method in self.methods:
                caller = await method.authenticate(request, body)
                if caller is None:
                    continue
                method_name = method.name
                if method.name not in caller.methods:
                    raise refusal(
                        ProblemError(
                            UNAUTHENTICATED,
                            f"This caller may not authenticate by {method.name}; it may use: "
                            f"{', '.join(caller.methods)}.",
                            f"该终端不能以 {method.name} 方式认证，可用方式：{'、'.join(caller.methods)}。",
                        ),
                        caller_id=caller.id,
                        key_id=None,
                    )
                return caller
            raise ProblemError(
                UNAUTHENTICATED,
                "No credentials: sign the request (HTTP Message Signatures, RFC 9421; docs/api.md).",
                "未提供身份凭证：请对请求签名（HTTP 消息签名，RFC 9421）。",
                headers={"WWW-Authenticate": 'Signature realm="onewindow", Bearer realm="onewindow"'},
            )
        except ProblemError as problem:
            if method_name == "none":
                method_name = _presented(request)
            await self._refused(problem, method_name)
            raise

    async def _refused(self, problem: ProblemError, method: str) -> None:
        if self.events is None:
            return
        caller_id = getattr(problem, "caller_id", None)
        key_id = getattr(problem, "key_id", None)
        await self.events.emit(
            "authentication.refused",
            method=method,
            reason=problem.kind.slug,
            **({"caller": caller_id} if caller_id else {}),
            **({"key_id": key_id} if key_id else {}),
        )


def _presented(request: web.Request) -> str:
    """Which kind of credential a refused request carried (for the record)."""
    if "Signature-Input" in request.headers or "Signature" in request.headers:
        return "signature"
    if "Authorization" in request.headers or "X-Api-Key" in request.headers:
        return "api_key"
    return "none"
