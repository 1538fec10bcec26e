"""The HTTP server's guard: how long and how many connections one client may hold, and its own errors.

aiohttp reads request heads and bodies for as long as a client cares to
send them, answers its own parse errors in ``text/plain``, and lets one
address open any number of connections. The gateway serves intake systems
on village links and public verifiers alike, so it bounds each client:

* **Header timeout** (``server.header_timeout_s``): a connection must send a
  complete request head within this time of opening, or of the previous
  answer; otherwise it is closed. This is aiohttp's keep-alive timer, which
  it arms when a connection opens and after each answer, and which closes a
  connection still waiting for a complete head -- so an idle keep-alive
  connection is closed after the same time.
* **Body timeout** (``server.body_timeout_s``): enforced where bodies are
  read (:mod:`gateway.api.body`), 408; unread rest of a body is drained for
  at most :data:`LINGER_S` before the connection closes.
* **Connections per address** (``server.max_connections_per_address``): a
  connection over the cap is answered ``429`` problem JSON at once and
  closed, before anything is read from it.
* **Problem JSON for parse errors**: a request line or header over its
  limit, too many headers, or an unreadable head is answered as RFC 9457
  problem JSON naming the limit (``limit``, ``limit_value``), through the
  request handler's error path (:meth:`RequestHandler.handle_error`).

:func:`make_runner` builds the runner ``onewindow serve`` (and the tests
that hold the server to these limits) uses.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_request import BaseRequest

from gateway.api.middleware import REQUEST_ID_HEADER
from gateway.api.responses import problem_response
from gateway.config import HttpLimits
from gateway.intake.request_ids import new_ulid
from gateway.observability.logs import get_logger
from gateway.problems import (
    HEADERS_TOO_LARGE,
    INTERNAL_ERROR,
    MALFORMED_REQUEST,
    PROBLEM_MEDIA_TYPE,
    TOO_MANY_CONNECTIONS,
    URI_TOO_LONG,
    ProblemError,
    echo,
)

# The request line and a header field get different limits so a LineTooLong says which one it was.
MAX_REQUEST_LINE_BYTES = 4096
MAX_HEADER_FIELD_BYTES = 8190
MAX_HEADERS = 100
LINGER_S = 5.0
REFUSAL_LINGER_S = 1.0
_TOO_MANY_HEADERS = "Too many headers received"  # aiohttp's message for max_headers (both parsers)
_log = get_logger(component="http")


def _parse_problem(exc: BaseException | None, message: str | None) -> ProblemError:
    """The problem for a request head aiohttp could not read, naming the limit it went over."""
    if isinstance(exc, LineTooLong) and len(exc.args) > 1 and exc.args[1] == MAX_REQUEST_LINE_BYTES:
        return ProblemError(
            URI_TOO_LONG,
            f"The request line is longer than {MAX_REQUEST_LINE_BYTES} bytes.",
            f"请求行超过 {MAX_REQUEST_LINE_BYTES} 字节。",
            limit="request_line_bytes",
            limit_value=MAX_REQUEST_LINE_BYTES,
        )
    if isinstance(exc, LineTooLong):
        return ProblemError(
            HEADERS_TOO_LARGE,
            f"A header field is longer than {MAX_HEADER_FIELD_BYTES} bytes.",
            f"某个请求头超过 {MAX_HEADER_FIELD_BYTES} 字节。",
            limit="header_field_bytes",
            limit_value=MAX_HEADER_FIELD_BYTES,
        )
    if isinstance(exc, BadHttpMessage) and exc.message == _TOO_MANY_HEADERS:
        return ProblemError(
            HEADERS_TOO_LARGE,
            f"The request has more than {MAX_HEADERS} header fields.",
            f"请求头超过 {MAX_HEADERS} 个。",
            limit="header_fields",
            limit_value=MAX_HEADERS,
        )
    reason = echo(message or (exc.message if isinstance(exc, BadHttpMessage) else ""), 120)
    return ProblemError(MALFORMED_REQUEST, f"The request head could not be read: {reason}", f"请求头无法解析：{reason}")


class GuardedRequestHandler(web.RequestHandler):
    """aiohttp's request handler, answering its own errors as problem JSON."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        request_id = new_ulid()
        if status >= 500:
            _log.error("http.unhandled_error", request_id=request_id, status=status, exc_info=exc)
            problem = ProblemError(INTERNAL_ERROR, "The gateway failed unexpectedly.", "网关发生内部错误。")
        else:  # the client sent something unreadable: its fault, one line, no traceback
            problem = _parse_problem(exc, message)
            _log.info(
                "http.unreadable_request", request_id=request_id, status=problem.kind.status, reason=problem.detail_en
            )
        if request.writer.output_size > 0:
            raise ConnectionError("the answer had begun; no problem can be sent after it")
        response = problem_response(problem, request_id=request_id, instance=None)
        response.headers[REQUEST_ID_HEADER] = request_id
        response.force_close()
        return response


class GuardedServer(web.Server):
    """aiohttp's low-level server with :class:`GuardedRequestHandler` and a cap on connections per address."""

    def __init__(self, handler: Any, *, limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.limits = limits
        self._open: Counter[str] = Counter()
        self._counted: dict[web.RequestHandler, str] = {}
        self._refusal = _refusal_bytes(limits.max_connections_per_address)

    def __call__(self) -> web.RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, **self._kwargs)

    def connection_made(self, handler: web.RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        cap = self.limits.max_connections_per_address
        if cap and address and self._open[address] >= cap:
            self._refuse(handler, transport)
            return
        if address:
            self._open[address] += 1
            self._counted[handler] = address
            if cap and self._open[address] == cap:
                _log.warning("http.connection_cap_reached", address=address, cap=cap)

    def _refuse(self, handler: web.RequestHandler, transport: asyncio.Transport) -> None:
        """Answer 429 and close, reading (and ignoring) what the client sends meanwhile.

        Closing with the client's request unread would reset the connection
        and lose the answer; so the handler stops parsing, the answer is
        followed by our end of the stream, and the socket closes when the
        client does or after :data:`REFUSAL_LINGER_S`.
        """
        transport.write(self._refusal)
        handler.close()  # parse nothing more from this connection
        if transport.can_write_eof():
            transport.write_eof()
        self._loop.call_later(REFUSAL_LINGER_S, transport.close)

    def connection_lost(self, handler: web.RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        address = self._counted.pop(handler, None)
        if address is not None:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def open_connections(self, address: str) -> int:
        """How many connections ``address`` holds now."""
        return self._open[address]


def _refusal_bytes(cap: int) -> bytes:
    """The whole answer to a connection over the cap, written before anything is read from it."""
    problem = ProblemError(
        TOO_MANY_CONNECTIONS,
        f"This address already holds {cap} open connections, the most the gateway allows one address.",
        f"该地址已有 {cap} 个连接，达到单一地址的连接上限。",
        limit="server.max_connections_per_address",
        limit_value=cap,
    )
    body = json.dumps(problem.body(request_id=None, instance=None), ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {problem.kind.status} Too Many Requests\r\n"
        f"Content-Type: {PROBLEM_MEDIA_TYPE}; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` whose server is a :class:`GuardedServer`."""

    def __init__(self, app: web.Application, *, limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # starts and freezes the app, as AppRunner does
        return GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            limits=self.limits,
            **self._kwargs,
        )


def make_runner(app: web.Application, limits: HttpLimits, **kwargs: Any) -> GuardedRunner:
    """The runner that serves ``app`` under ``limits`` (``kwargs`` as for AppRunner: access_log, shutdown_timeout)."""
    return GuardedRunner(
        app,
        limits=limits,
        keepalive_timeout=limits.header_timeout_s,
        lingering_time=min(LINGER_S, limits.body_timeout_s),
        max_line_size=MAX_REQUEST_LINE_BYTES,
        max_field_size=MAX_HEADER_FIELD_BYTES,
        max_headers=MAX_HEADERS,
        **kwargs,
    )
