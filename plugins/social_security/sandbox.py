"""A sandbox of the district HRSS bureau's public web service (社会保险公共服务接口, SOAP 1.1).

Behaves like the real service in the ways that matter to the plugin: one
endpoint, ``POST /services/SiPublicService``, taking ``text/xml;
charset=utf-8``; the operation named both by the ``SOAPAction`` header and
by the one element in ``soap:Body``; a WS-Security UsernameToken whose
PasswordDigest is Base64(SHA-1(nonce + created + password)) (stale
``wsu:Created`` and replayed nonces refused); answers as SOAP envelopes in
the bureau's namespace (``<si:{operation}Response><si:return>…``).

Every error is a SOAP Fault with HTTP 500 whose ``detail`` carries the
bureau's code (``<si:errorCode>``):

=============  ===============  ==============================================
faultcode      errorCode        meaning
=============  ===============  ==============================================
soap:Client    AUTH-1001..1004  security token refused (digest, age, replay, missing)
soap:Client    REQ-3001..3004   malformed or DTD, unknown operation, missing or invalid field
soap:Client    BIZ-2xxx         business refusal; ``<si:reasons>`` lists each reason
soap:Server    SYS-9001         busy or in maintenance; ``<si:retryAfter>`` in seconds
=============  ===============  ==============================================

Submissions (every operation but the certificate query) are deduplicated by
``<si:businessSerial>``. SAMPLE DATA: see :mod:`plugins.social_security.sandbox_data`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway.contract import FaultKnobs, ReplayWindow, SandboxSpec, SubmissionLedger, sandbox_application
from plugins.social_security.sandbox_data import (
    OPERATIONS,
    Applicant,
    Attachment,
    InvalidField,
    Operation,
    Refusal,
    service_status,
)
from plugins.social_security.soap import (
    PASSWORD_DIGEST,
    SERVICE_PATH,
    SI,
    SOAP_ENV,
    WSSE,
    WSU,
    UnsafeXml,
    add,
    local_name,
    parse_xml,
    qn,
    si,
    to_bytes,
)

USERNAME = "onewindow-zhangdian"
PASSWORD = "sandbox-hrss-37030300-not-for-production"
MAX_CLOCK_SKEW_S = 300
RETRY_AFTER_S = 3
ERRORS: dict[str, tuple[str, str]] = {
    "AUTH-1001": ("Client", "安全令牌校验失败：用户名或密码摘要错误"),
    "AUTH-1002": ("Client", "安全令牌已过期：Created 超出允许的时间偏差"),
    "AUTH-1003": ("Client", "安全令牌重放：Nonce 已使用"),
    "AUTH-1004": ("Client", "缺少 WS-Security UsernameToken 安全头"),
    "REQ-3001": ("Client", "请求报文格式错误"),
    "REQ-3002": ("Client", "未知的操作，或 SOAPAction 与报文不一致"),
    "REQ-3003": ("Client", "缺少必填字段"),
    "REQ-3004": ("Client", "字段取值无效"),
    "SYS-9001": ("Server", "系统繁忙，请稍后再试"),
}
Answer = tuple[int, bytes]
_ENVELOPE_PARTS = {"applicant", "businessSerial", "commitment", "acceptance"}


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """The UsernameToken profile's PasswordDigest: Base64(SHA-1(nonce + created + password))."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()


def _envelope() -> tuple[ET.Element, ET.Element]:
    envelope = ET.Element(qn(SOAP_ENV, "Envelope"))
    return envelope, ET.SubElement(envelope, qn(SOAP_ENV, "Body"))


def _fault(
    code: str,
    message: str | None = None,
    *,
    reasons: tuple[tuple[str, str], ...] = (),
    retry_after: int | None = None,
) -> Answer:
    kind, default = ERRORS.get(code, ("Client", "业务办理不成功"))
    text = message or default
    envelope, body = _envelope()
    fault = ET.SubElement(body, qn(SOAP_ENV, "Fault"))
    ET.SubElement(fault, "faultcode").text = f"soap:{kind}"
    ET.SubElement(fault, "faultstring").text = text
    detail = ET.SubElement(fault, "detail")
    add(detail, "errorCode", code)
    add(detail, "errorMsg", text)
    if reasons:
        listed = add(detail, "reasons")
        for reason_code, reason_text in reasons:
            reason = add(listed, "reason")
            add(reason, "code", reason_code)
            add(reason, "message", reason_text)
    if retry_after is not None:
        add(detail, "retryAfter", str(retry_after))
    return 500, to_bytes(envelope)


def _append(parent: ET.Element, key: str, value: Any) -> None:
    """Serialise one result field; a list ``records`` becomes ``<records><record>…``."""
    if value is None:
        return
    if isinstance(value, list):
        container = add(parent, key)
        for entry in value:
            _append(container, key[:-1], entry)
    elif isinstance(value, dict):
        element = add(parent, key)
        for name, inner in value.items():
            _append(element, name, inner)
    elif isinstance(value, bool):
        add(parent, key, "true" if value else "false")
    else:
        add(parent, key, str(value))


def _result(operation: str, result: dict[str, Any]) -> Answer:
    envelope, body = _envelope()
    response = add(body, f"{operation}Response")
    _append(response, "return", result)
    return 200, to_bytes(envelope)


def _respond(answer: Answer) -> web.Response:
    status, body = answer
    return web.Response(status=status, body=body, content_type="text/xml", charset="utf-8")


def _unavailable(request: web.Request) -> web.Response:
    return _respond(_fault("SYS-9001", retry_after=RETRY_AFTER_S))


def _garbage(request: web.Request) -> web.Response:
    truncated = (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}" '
        f'xmlns:si="{SI}"><soap:Body><si:issuePaymentCertificateResponse><si:return><si:records>'
    )
    return web.Response(status=200, text=truncated, content_type="text/xml", charset="utf-8")


def _text(parent: ET.Element, local: str) -> str:
    child = parent.find(si(local))
    return "" if child is None or child.text is None else child.text.strip()


class _Missing(Exception):
    def __init__(self, names: list[str]) -> None:
        super().__init__("缺少必填字段：" + "、".join(names))


def _field(element: ET.Element) -> str | Attachment:
    media_type = element.get("mediaType")
    if media_type is None:
        return (element.text or "").strip()
    content = "".join((element.text or "").split())
    try:
        base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidField(f"附件 {local_name(element.tag)} 不是有效的 Base64 编码") from None
    return Attachment(media_type, element.get("fileName", ""), content)


def _read_call(call: ET.Element, operation: Operation) -> tuple[Applicant, dict[str, str | Attachment]]:
    """The applicant and fields of one operation element, checked against the operation."""
    holder = call.find(si("applicant"))
    if holder is None:
        raise _Missing(["applicant"])
    kind = {"resident_id": "person", "credit_code": "organisation"}.get(_text(holder, "idType"))
    if kind is None or not _text(holder, "idNumber") or not _text(holder, "name"):
        raise InvalidField("applicant 应包含 idType（resident_id 或 credit_code）、idNumber 与 name")
    if kind not in operation.applicant_kinds:
        raise InvalidField("该业务不受理此类申请人")
    known = set(operation.required) | set(operation.optional)
    fields: dict[str, str | Attachment] = {}
    for child in call:
        name = local_name(child.tag)
        if child.tag != si(name) or name in _ENVELOPE_PARTS:
            continue
        if name not in known:
            raise InvalidField(f"未知字段：{name}")
        fields[name] = _field(child)
    replaced: set[str] = set()
    commitment = call.find(si("commitment"))
    if commitment is not None:
        replaced = {(r.text or "").strip() for r in commitment.findall(si("replaces"))}
        if not replaced <= set(operation.pledgeable):
            raise InvalidField(f"告知承诺不能替代：{'、'.join(sorted(replaced - set(operation.pledgeable)))}")
        if not _text(commitment, "statement") or not _text(commitment, "signedBy"):
            raise _Missing(["commitment/statement", "commitment/signedBy"])
    acceptance = call.find(si("acceptance"))
    missing = [n for n in operation.required if n not in replaced and fields.get(n) in (None, "")]
    if acceptance is None or not _text(acceptance, "office"):
        missing.append("acceptance/office")
    if missing:
        raise _Missing(missing)
    applicant = Applicant(kind, _text(holder, "idNumber"), _text(holder, "name"))
    return applicant, fields


def _answer(name: str, operation: Operation, applicant: Applicant, fields: dict[str, Any], serial: str) -> Answer:
    try:
        return _result(name, operation.handler(applicant, fields, serial))
    except Refusal as refusal:
        return _fault(refusal.code, refusal.message, reasons=refusal.reasons)
    except InvalidField as exc:
        return _fault("REQ-3004", f"字段取值无效：{exc}")


class _Authenticator:
    """Checks the UsernameToken: known user, fresh Created, unused nonce, right digest."""

    def __init__(self) -> None:
        self.nonces = ReplayWindow(MAX_CLOCK_SKEW_S)  # bounded: a long run must not slow the sandbox down

    def refusal(self, header: ET.Element | None) -> str | None:
        token = None if header is None else header.find(f"{qn(WSSE, 'Security')}/{qn(WSSE, 'UsernameToken')}")
        if token is None:
            return "AUTH-1004"
        username = token.findtext(qn(WSSE, "Username"), "").strip()
        password = token.find(qn(WSSE, "Password"))
        nonce_text = token.findtext(qn(WSSE, "Nonce"), "").strip()
        created = token.findtext(qn(WSU, "Created"), "").strip()
        if password is None or password.get("Type") != PASSWORD_DIGEST or not nonce_text or not created:
            return "AUTH-1004"
        try:
            nonce = base64.b64decode(nonce_text, validate=True)
            stamp = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except (binascii.Error, ValueError):
            return "AUTH-1001"
        if stamp.tzinfo is None or abs((datetime.now(UTC) - stamp).total_seconds()) > MAX_CLOCK_SKEW_S:
            return "AUTH-1002"
        expected = password_digest(nonce, created, PASSWORD)
        if username != USERNAME or not hmac.compare_digest(expected, (password.text or "").strip()):
            return "AUTH-1001"
        if self.nonces.replayed(nonce_text):
            return "AUTH-1003"
        return None


def create_app(knobs: FaultKnobs) -> web.Application:
    """The HRSS bureau sandbox application."""
    ledger = SubmissionLedger(knobs)
    authenticator = _Authenticator()
    app = sandbox_application(
        knobs=knobs,
        ledger=ledger,
        unavailable=_unavailable,
        malformed=_garbage,
        name="social_security",
        on_reset=authenticator.nonces.clear,
    )

    async def endpoint(request: web.Request) -> web.Response:
        if request.content_type != "text/xml":
            return _respond(_fault("REQ-3001", "Content-Type 应为 text/xml; charset=utf-8"))
        try:
            root = parse_xml(await request.read())
        except UnsafeXml:
            return _respond(_fault("REQ-3001", "报文含有 DTD 声明，已拒绝"))
        except ET.ParseError as exc:
            return _respond(_fault("REQ-3001", f"报文不是合法的 XML：{exc}"))
        body = root.find(qn(SOAP_ENV, "Body"))
        if root.tag != qn(SOAP_ENV, "Envelope") or body is None or len(body) != 1:
            return _respond(_fault("REQ-3001", "不是 SOAP 1.1 信封，或 Body 中不是恰好一个操作"))
        refused = authenticator.refusal(root.find(qn(SOAP_ENV, "Header")))
        if refused is not None:
            return _respond(_fault(refused))
        call = body[0]
        name = local_name(call.tag)
        if call.tag != si(name) or request.headers.get("SOAPAction", "").strip().strip('"') != f"{SI}#{name}":
            return _respond(_fault("REQ-3002"))
        if name == "getServiceStatus":
            return _respond(_result(name, service_status()))
        operation = OPERATIONS.get(name)
        if operation is None:
            return _respond(_fault("REQ-3002", f"未知的操作：{name}"))
        try:
            applicant, fields = _read_call(call, operation)
        except _Missing as exc:
            return _respond(_fault("REQ-3003", str(exc)))
        except InvalidField as exc:
            return _respond(_fault("REQ-3004", f"字段取值无效：{exc}"))
        serial = _text(call, "businessSerial")

        def act() -> Answer:
            return _answer(name, operation, applicant, fields, serial)

        if not operation.acts:
            return _respond(act())
        if not serial:
            return _respond(_fault("REQ-3003", "缺少必填字段：businessSerial"))
        return _respond(await ledger.submit(serial, act))

    app.router.add_post("/" + SERVICE_PATH, endpoint)
    return app


def spec() -> SandboxSpec:
    """How ``make run`` and the tests start this sandbox."""
    return SandboxSpec(
        agency="social_security",
        name="District HRSS bureau (SOAP 1.1 + WS-Security UsernameToken)",
        create_app=create_app,
        default_port=9102,
        config={
            "secrets": {"username": USERNAME, "password": PASSWORD},
            "options": {"service_path": SERVICE_PATH},
        },
        rejection={
            "item": "social_security.payment-certificate",
            "applicant": {"kind": "person", "id_number": "370303200102145629", "name": "刘芳"},
            "materials": {
                "start_month": "2025-01",
                "end_month": "2025-12",
                "insurance_type": "全部",
                "purpose": "子女入学",
            },
        },
    )
