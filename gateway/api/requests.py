"""``/v1/requests``: the one intake endpoint and the status of a request."""

from __future__ import annotations

from aiohttp import web

from gateway.api.admission import admitted, idempotency_key, intake_call
from gateway.api.body import parse_json_object, read_limited
from gateway.api.keys import GATEWAY
from gateway.api.middleware import REQUEST_ID
from gateway.api.responses import json_response
from gateway.callers.model import Caller
from gateway.delivery.results import request_view
from gateway.intake.callers import may_read
from gateway.intake.refusals import keep_refusal
from gateway.intake.request_ids import is_ulid
from gateway.observability.logs import personal_values, sensitive
from gateway.problems import NOT_FOUND, ProblemError, echo
from gateway.proxy.lifecycle import proxy_steps
from gateway.store import RequestRecord

READ_BODY_LIMIT = 4096  # a GET has no body to speak of; its (empty) digest is signed all the same


async def post_request(request: web.Request) -> web.Response:
    """Accept one request for any catalogue item."""
    return await intake_call(request, _submit)


async def _submit(request: web.Request, caller: Caller, raw: bytes) -> web.Response:
    gateway = request.app[GATEWAY]
    key = idempotency_key(request)
    body = parse_json_object(request, raw)
    with sensitive(personal_values(body)):  # masked in every log line and audit entry of this request, any field
        try:
            answer = await gateway.router.submit(caller, body, request_id=request[REQUEST_ID], idempotency_key=key)
        except ProblemError as refused:  # a 422 is kept (path:code only) for the district report
            await keep_refusal(
                gateway.store, caller, body, refused, request_id=request[REQUEST_ID], offices=gateway.settings.offices
            )
            raise
    if "id" in answer.body:
        request[REQUEST_ID] = answer.body["id"]
    return json_response(answer.status, answer.body, answer.headers)


async def visible_record(request: web.Request) -> RequestRecord:
    """The request named in the path, if the authenticated caller may read it (see ``may_read``).

    Anything else is 404, whether the id does not exist or belongs to a
    request this caller may not read: a 403 would confirm to a caller that
    an id it guessed or overheard is a real request.
    """
    caller = await admitted(request, await read_limited(request, READ_BODY_LIMIT))
    return await record_visible_to(request, caller)


async def record_visible_to(request: web.Request, caller: Caller) -> RequestRecord:
    """The request named in the path if ``caller`` (admitted already, with the body) may read it; else 404."""
    gateway = request.app[GATEWAY]
    request_id = request.match_info["request_id"]
    record = await gateway.store.get_request(request_id) if is_ulid(request_id) else None
    if record is None or not may_read(caller, record, gateway.registry.catalogue):
        raise ProblemError(
            NOT_FOUND,
            f"No request '{echo(request_id)}' is visible to this caller.",
            f"未找到编号为 {echo(request_id)} 的申请，或无权查看。",
        )
    return record


async def get_request(request: web.Request) -> web.Response:
    """The status (and, once there is one, the sealed result) of a request; a bundle's step links its bundle."""
    record = await visible_record(request)
    view = request_view(record)
    bundle_id = await request.app[GATEWAY].store.bundle_of_request(record.id)
    if bundle_id is not None:
        view["links"]["bundle"] = f"/v1/bundles/{bundle_id}"
    if "proxy" in view:  # the sixth step, rating and archiving, is done once the applicant has rated the service
        rating = await request.app[GATEWAY].ratings.of_request(record.id)
        if rating is not None:
            view["proxy"]["steps"] = proxy_steps(record, rated_at=rating.rated_at)
    return json_response(200, view)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/requests", post_request)
    app.router.add_get("/v1/requests/{request_id}", get_request)
