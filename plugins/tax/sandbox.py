"""A sandbox of the district tax bureau's system (税务局对外接口, v2).

Behaves like the real interface in the ways that matter to the plugin: JSON
over HTTP; every call signed with HMAC-SHA256 over method, path, timestamp,
nonce and body digest (stale timestamps and replayed nonces refused); the
bureau's own envelope ``{"code", "message", "data", "trace_id"}`` with its
own error codes; deduplication of submissions by ``X-Request-Serial``; and
deterministic sample data derived from the taxpayer's number.

SAMPLE DATA: every taxpayer, amount and certificate number is invented.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from gateway.contract import FaultKnobs, ReplayWindow, SandboxSpec, SubmissionLedger, sandbox_application

APP_KEY = "sandbox-zhangdian-onewindow"
APP_SECRET = "sandbox-secret-37030300-not-for-production"
MAX_SKEW_MS = 300_000
# Taxpayers the sandbox treats specially (sample data).
TAXPAYERS_WITH_ARREARS = {"91370303MA3NQ2LU8C", "370303200102145629"}
UNKNOWN_TAXPAYERS = {"370303196207054417"}

OK = "0000"
ERRORS = {
    "1001": (401, "签名验证失败"),
    "1002": (401, "时间戳超出允许范围"),
    "1003": (401, "请求重放"),
    "1004": (401, "应用标识无效"),
    "3001": (400, "参数错误"),
    "3002": (404, "服务不存在"),
    "9999": (503, "系统繁忙，请稍后再试"),
}


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What the bureau signs: the method, path, timestamp, nonce and body digest, one per line."""
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The ``X-Signature`` header value."""
    mac = hmac.new(secret.encode(), string_to_sign(method, path, timestamp, nonce, body), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _answer(code: str, data: Any = None, message: str | None = None, *, status: int | None = None) -> web.Response:
    http = status if status is not None else ERRORS.get(code, (200, ""))[0]
    body = {
        "code": code,
        "message": message or ERRORS.get(code, (200, "成功"))[1],
        "data": data,
        "trace_id": hashlib.md5(str(time.time_ns()).encode()).hexdigest()[:16],
    }
    return web.Response(status=http, text=json.dumps(body, ensure_ascii=False), content_type="application/json")


def _unavailable(request: web.Request) -> web.Response:
    return _answer("9999", status=503)


def _garbage(request: web.Request) -> web.Response:
    return web.Response(status=200, text='{"code": "0000", "data": {"records": [', content_type="application/json")


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:6], "big")


def _business_error(code: str, message: str) -> web.Response:
    return _answer(code, None, message, status=200)


# --------------------------------------------------------------------------
# Services: each takes (taxpayer, params, serial) and returns a response
# --------------------------------------------------------------------------


def payment_records(taxpayer: dict[str, Any], params: dict[str, Any], serial: str) -> web.Response:
    tid = taxpayer["id"]
    if tid in UNKNOWN_TAXPAYERS:
        return _business_error("2001", "未查询到该纳税人的缴税记录")
    seed = _seed(tid, params.get("period_start", ""), params.get("period_end", ""))
    kinds = ["个人所得税", "城乡居民养老保险费", "车船税"]
    wanted = params.get("tax_type", "全部")
    records = []
    for month in range(1, 13):
        kind = kinds[(seed >> month) % len(kinds)]
        if wanted not in ("全部", kind):
            continue
        amount = (seed >> (month * 2)) % 90000 / 100 + 10
        records.append(
            {
                "tax_type": kind,
                "period": f"{params.get('period_start', '2025')[:4]}-{month:02d}",
                "amount": f"{amount:.2f}",
                "voucher_no": f"337036{seed % 10**8:08d}{month:02d}",
            }
        )
    total = sum(float(r["amount"]) for r in records)
    return _answer(
        OK, {"certificate_no": f"(2026)鲁税完证{seed % 10**7:07d}号", "records": records, "total": f"{total:.2f}"}
    )


def income_records(taxpayer: dict[str, Any], params: dict[str, Any], serial: str) -> web.Response:
    tid = taxpayer["id"]
    if tid in UNKNOWN_TAXPAYERS:
        return _business_error("2001", "该纳税人本年度无个人所得税申报记录")
    seed = _seed(tid, str(params.get("year")))
    income = 36000 + seed % 240000
    tax = max(0, (income - 60000) * 0.03)
    return _answer(
        OK,
        {
            "year": params.get("year"),
            "income": f"{income:.2f}",
            "tax_paid": f"{tax:.2f}",
            "withholders": ["淄博房镇鑫源商贸有限公司"],
        },
    )


def credit_grade(taxpayer: dict[str, Any], params: dict[str, Any], serial: str) -> web.Response:
    tid = taxpayer["id"]
    grade = "D" if tid in TAXPAYERS_WITH_ARREARS else "ABCM"[_seed(tid, str(params.get("year"))) % 4]
    return _answer(OK, {"year": params.get("year"), "grade": grade, "assessed_on": f"{params.get('year')}-04-20"})


def clearance(taxpayer: dict[str, Any], params: dict[str, Any], serial: str) -> web.Response:
    if taxpayer["id"] in TAXPAYERS_WITH_ARREARS:
        return _business_error("2002", "纳税人存在欠税：增值税 3,218.40 元、滞纳金 96.55 元，请结清后再申请")
    return _answer(
        OK,
        {
            "certificate_no": f"张税税企清〔2026〕{_seed(serial) % 100000:05d}号",
            "reason": params.get("reason"),
            "taxpayer_name": taxpayer["name"],
        },
    )


def invoice(taxpayer: dict[str, Any], params: dict[str, Any], serial: str) -> web.Response:
    if taxpayer["id"] in TAXPAYERS_WITH_ARREARS:
        return _business_error("2002", "申请人存在未结清税款，暂不能代开发票")
    amount = float(params.get("amount", 0))
    vat = round(amount / 1.01 * 0.01, 2)
    return _answer(
        OK,
        {
            "invoice_code": "037002600111",
            "invoice_no": f"{_seed(serial) % 10**8:08d}",
            "amount": f"{amount:.2f}",
            "vat": f"{vat:.2f}",
            "buyer": params.get("buyer_name"),
        },
    )


def registration(taxpayer: dict[str, Any], params: dict[str, Any], serial: str) -> web.Response:
    if taxpayer["id"] in TAXPAYERS_WITH_ARREARS:
        return _business_error("2003", "该统一社会信用代码已有登记信息，不能重复办理")
    return _answer(
        OK,
        {
            "registration_no": f"ZDSWDJ{time.strftime('%Y%m%d')}{_seed(serial) % 10**6:06d}",  # 税务登记受理编号
            "taxpayer_status": "正常",
            "tax_types": ["增值税", "企业所得税", "城市维护建设税"],
            "tax_authority": "国家税务总局淄博市张店区税务局房镇税务所",
            "registered_on": time.strftime("%Y-%m-%d"),
        },
    )


def deed_tax(taxpayer: dict[str, Any], params: dict[str, Any], serial: str) -> web.Response:
    if taxpayer["id"] in TAXPAYERS_WITH_ARREARS:
        return _business_error("2002", "申请人存在欠税，请先结清")
    price = float(params.get("transaction_price", 0))
    area = float(params.get("floor_area", 0))
    rate = 0.01 if params.get("first_home") and area <= 140 else 0.03
    return _answer(
        OK,
        {
            "tax_base": f"{price:.2f}",
            "rate": rate,
            "tax_due": f"{price * rate:.2f}",
            "voucher_no": f"337036{_seed(serial) % 10**9:09d}",
        },
    )


QUERIES: dict[str, Callable[..., web.Response]] = {
    "payment-records/query": payment_records,
    "income-records/query": income_records,
    "credit-grades/query": credit_grade,
}
SUBMISSIONS: dict[str, Callable[..., web.Response]] = {
    "clearance-certificates": clearance,
    "invoices/issue": invoice,
    "registrations": registration,
    "deed-tax/filings": deed_tax,
}


def create_app(knobs: FaultKnobs) -> web.Application:
    """The tax bureau sandbox application."""
    ledger = SubmissionLedger(knobs)
    seen_nonces = ReplayWindow(MAX_SKEW_MS / 1000)  # bounded: a long run must not slow the sandbox down
    app = sandbox_application(
        knobs=knobs,
        ledger=ledger,
        unavailable=_unavailable,
        malformed=_garbage,
        name="tax",
        on_reset=seen_nonces.clear,
    )

    async def authenticate(request: web.Request, body: bytes) -> web.Response | None:
        if request.headers.get("X-App-Key") != APP_KEY:
            return _answer("1004")
        timestamp = request.headers.get("X-Timestamp", "")
        nonce = request.headers.get("X-Nonce", "")
        if not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > MAX_SKEW_MS:
            return _answer("1002")
        expected = sign(APP_SECRET, request.method, request.path, timestamp, nonce, body)
        if not hmac.compare_digest(expected, request.headers.get("X-Signature", "")):
            return _answer("1001")
        if not nonce or seen_nonces.replayed(nonce):
            return _answer("1003")
        return None

    def parse(body: bytes) -> tuple[dict[str, Any], dict[str, Any]] | None:
        try:
            payload = json.loads(body)
            return payload["taxpayer"], payload.get("params", {})
        except (ValueError, KeyError, TypeError):
            return None

    async def service(request: web.Request) -> web.Response:
        body = await request.read()
        refused = await authenticate(request, body)
        if refused is not None:
            return refused
        name = request.match_info["service"]
        parsed = parse(body)
        if parsed is None:
            return _answer("3001", message="参数错误：请求体应包含 taxpayer 与 params")
        taxpayer, params = parsed
        if name in QUERIES:
            return QUERIES[name](taxpayer, params, request.headers.get("X-Request-Serial", ""))
        if name not in SUBMISSIONS:
            return _answer("3002")
        serial = request.headers.get("X-Request-Serial")
        if not serial:
            return _answer("3001", message="参数错误：缺少 X-Request-Serial")
        response: web.Response = await ledger.submit(serial, lambda: SUBMISSIONS[name](taxpayer, params, serial))
        return web.Response(status=response.status, body=response.body, content_type="application/json")

    async def ping(request: web.Request) -> web.Response:
        refused = await authenticate(request, b"")
        return refused or _answer(OK, {"system": "张店区税务局对外服务接口", "version": "2.3.1"})

    app.router.add_get("/api/v2/ping", ping)
    app.router.add_post("/api/v2/{service:.+}", service)
    return app


def spec() -> SandboxSpec:
    """How ``make run`` and the tests start this sandbox."""
    return SandboxSpec(
        agency="tax",
        name="District tax bureau (JSON + HMAC)",
        create_app=create_app,
        default_port=9101,
        config={"secrets": {"app_key": APP_KEY, "app_secret": APP_SECRET}},
        rejection={
            "item": "tax.clearance-certificate",
            "applicant": {"kind": "organisation", "id_number": "91370303MA3NQ2LU8C", "name": "淄博马尚众诚机械加工厂"},
        },
    )
