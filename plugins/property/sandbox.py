"""A sandbox of the registration centre's interface (``/bdc/api/v1``), with long-running cases.

Behaves like the real system in the ways that matter to the plugin: JSON
with the centre's envelope and code families; an API token and partner id
in headers; inquiries answered at once; registrations accepted at once with
a case number (受理编号) and decided only after ``decision_delay_s``, found by
polling ``GET /cases/{caseNo}``; a resubmission under the same
``externalSerial`` returns the same case. Holdings and decisions are in
:mod:`plugins.property.sample_data`.

SAMPLE DATA: the token and partner id below are published demo credentials.
"""

from __future__ import annotations

import functools
import hmac
import itertools
import json
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from gateway.contract import FaultKnobs, SandboxSpec, SubmissionLedger, sandbox_application
from plugins.property import sample_data
from plugins.property.sample_data import Decision, Refusal

API = "/bdc/api/v1"
API_TOKEN = "sandbox-bdc-token-zhangdian-not-for-production"
CLIENT_ID = "zhangdian-onewindow"
DEFAULT_DECISION_DELAY_S = 5.0
MAINTENANCE_RETRY_S = 120
CST = timezone(timedelta(hours=8))
HTTP_STATUS = {"A0401": 401, "A0403": 403, "P0400": 400, "P0404": 404, "S0503": 503}


def envelope(
    result: Any = None,
    *,
    code: str = "00000",
    message: str = "操作成功",
    status: int | None = None,
    **extra: Any,
) -> web.Response:
    """The centre's answer envelope; the HTTP status follows the code family."""
    body = {
        "success": code == "00000",
        "code": code,
        "message": message,
        "result": result,
        "traceId": secrets.token_hex(8),
        **extra,
    }
    return web.json_response(
        body,
        status=status or HTTP_STATUS.get(code, 200),
        dumps=functools.partial(json.dumps, ensure_ascii=False),
    )


def _unavailable(request: web.Request) -> web.Response:
    response = envelope(
        code="S0503",
        message="不动产登记系统升级维护中，请稍后再试",
        retryAfterSeconds=MAINTENANCE_RETRY_S,
    )
    response.headers["Retry-After"] = str(MAINTENANCE_RETRY_S)
    return response


def _garbage(request: web.Request) -> web.Response:
    """What the extranet's single-sign-on front answers when its sessions hiccup: a login page."""
    page = (
        "<!DOCTYPE html><html><head><title>统一身份认证平台</title></head>"
        '<body><form action="/cas/login">会话已过期，请重新登录</form></body></html>'
    )
    return web.Response(status=200, text=page, content_type="text/html")


@dataclass
class Case:
    """One accepted registration: when it was accepted, when it is decided, and how."""

    case_no: str
    business: str
    accepted_at: datetime
    decided_at: datetime
    decide_after: float  # time.monotonic() instant
    decision: Decision

    def view(self, *, fresh: bool = False) -> dict[str, Any]:
        """The case as ``GET /cases/{caseNo}`` shows it now."""
        out: dict[str, Any] = {
            "caseNo": self.case_no,
            "businessType": self.business,
            "businessName": sample_data.BUSINESS_NAMES[self.business],
            "acceptedAt": self.accepted_at.isoformat(timespec="seconds"),
        }
        remaining = self.decide_after - time.monotonic()
        if remaining > 0:
            return out | {
                "status": "ACCEPTED" if fresh else "REVIEWING",
                "statusText": "已受理" if fresh else "审核中",
                "estimatedWaitSeconds": round(remaining, 3),
            }
        decision = self.decision
        out |= {"decidedAt": self.decided_at.isoformat(timespec="seconds"), **decision.unit}
        if not decision.approved:
            return out | {
                "status": "REJECTED",
                "statusText": "不予登记",
                "reasons": [{"code": code, "text": text} for code, text in decision.reasons],
            }
        return out | {
            "status": "APPROVED",
            "statusText": "已登簿",
            "certificateNo": decision.certificate_no,
            "certificateKind": decision.certificate_kind,
            "registerNo": decision.register_no,
            "details": decision.details,
        }


def create_app(knobs: FaultKnobs, *, decision_delay_s: float = DEFAULT_DECISION_DELAY_S) -> web.Application:
    """The registration centre sandbox; cases are decided ``decision_delay_s`` after acceptance."""
    ledger = SubmissionLedger(knobs)
    cases: dict[str, Case] = {}
    numbers = itertools.count(1)

    def forget_cases() -> None:
        nonlocal numbers
        cases.clear()
        numbers = itertools.count(1)

    app = sandbox_application(
        knobs=knobs,
        ledger=ledger,
        unavailable=_unavailable,
        malformed=_garbage,
        name="property",
        on_reset=forget_cases,
    )

    def authenticate(request: web.Request) -> web.Response | None:
        if not hmac.compare_digest(request.headers.get("X-BDC-Token", ""), API_TOKEN):
            return envelope(code="A0401", message="访问令牌无效或已过期")
        if request.headers.get("X-BDC-Client") != CLIENT_ID:
            return envelope(code="A0403", message="该客户端未被授权调用本接口")
        return None

    async def body_of(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise Refusal("P0400", "参数校验失败：请求体应为 JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("applicant"), dict):
            raise Refusal("P0400", "参数校验失败：缺少 applicant")
        if not isinstance(body.get("params", {}), dict):
            raise Refusal("P0400", "参数校验失败：params 应为对象")
        return body

    async def status(request: web.Request) -> web.Response:
        refused = authenticate(request)
        return refused or envelope({"status": "UP", "system": "张店区不动产登记信息管理平台", "version": "3.2.0"})

    async def inquiries(request: web.Request) -> web.Response:
        refused = authenticate(request)
        if refused is not None:
            return refused
        try:
            body = await body_of(request)
            result = sample_data.inquiry(
                str(body.get("inquiryType")),
                body["applicant"],
                body.get("params", {}),
                date.today(),
            )
        except Refusal as refusal:
            return envelope(code=refusal.code, message=refusal.message)
        return envelope(result)

    def open_case(body: dict[str, Any]) -> str | Refusal:
        business = str(body.get("businessType"))
        params, applicant = body.get("params", {}), body["applicant"]
        attachments = [a for a in body.get("attachments") or [] if isinstance(a, dict)]
        commitment = body.get("commitment") if isinstance(body.get("commitment"), dict) else None
        try:
            sample_data.accept(business, applicant, params, attachments, commitment)
        except Refusal as refusal:
            return refusal
        now = datetime.now(CST)
        case_no = f"ZD{now:%Y%m%d}{business}{next(numbers):05d}"
        cases[case_no] = Case(
            case_no,
            business,
            now,
            now + timedelta(seconds=decision_delay_s),
            time.monotonic() + decision_delay_s,
            sample_data.decide(business, case_no, applicant, params, commitment, now.date()),
        )
        return case_no

    async def submit_case(request: web.Request) -> web.Response:
        refused = authenticate(request)
        if refused is not None:
            return refused
        try:
            body = await body_of(request)
        except Refusal as refusal:
            return envelope(code=refusal.code, message=refusal.message)
        serial = body.get("externalSerial")
        if not isinstance(serial, str) or not serial:
            return envelope(code="P0400", message="参数校验失败：缺少 externalSerial")
        fresh = not ledger.seen(serial)
        opened = await ledger.submit(serial, lambda: open_case(body))
        if isinstance(opened, Refusal):
            return envelope(code=opened.code, message=opened.message)
        return envelope(cases[opened].view(fresh=fresh))

    async def get_case(request: web.Request) -> web.Response:
        refused = authenticate(request)
        if refused is not None:
            return refused
        case = cases.get(request.match_info["case_no"])
        if case is None:
            return envelope(code="P0404", message="受理编号不存在")
        return envelope(case.view())

    app.router.add_get(f"{API}/system/status", status)
    app.router.add_post(f"{API}/inquiries", inquiries)
    app.router.add_post(f"{API}/cases", submit_case)
    app.router.add_get(f"{API}/cases/{{case_no}}", get_case)
    return app


def spec() -> SandboxSpec:
    """How ``make run`` (a few seconds' review) and the tests (a shorter one, as an option) start this sandbox."""
    return SandboxSpec(
        agency="property",
        name="Real-estate registration (JSON + token, long-running cases)",
        create_app=create_app,
        options={"decision_delay_s": DEFAULT_DECISION_DELAY_S},
        default_port=9105,
        config={"secrets": {"api_token": API_TOKEN}, "options": {"client_id": CLIENT_ID}},
        rejection={
            "item": "property.mortgage-registration",
            "applicant": {"kind": "person", "id_number": "370303200102145629", "name": "刘芳"},
        },
    )
