"""A sandbox of the district medical insurance bureau's service API (医保服务接口 v1).

Behaves like the real API in the ways that matter to the plugin:

- ``POST /oauth/token``: OAuth 2.0 client credentials (RFC 6749 §4.4), the
  client authenticated with HTTP Basic (§2.3.1), ``grant_type`` form-encoded;
  answers ``{"access_token", "token_type": "Bearer", "expires_in"}`` with
  ``Cache-Control: no-store``, errors as §5.2 ``{"error", "error_description"}``.
- ``/api/v1/…``: JSON with ``Authorization: Bearer``; tokens expire after
  ``token_ttl_s``; an expired, revoked or unknown token gets 401 with
  ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750 §3.1).
- The bureau's envelope ``{"errcode", "errmsg", "biz_no", "data"}``: 0 ok;
  10001/10002 bad parameters or path (400/404); 2xxxx business refusals
  (HTTP 200, ``data.reasons``); 40001/40002 token refused (401); 50001 down
  (503 with ``Retry-After``).
- Submissions deduplicated by the body's ``serial_no``; queries not counted.

Control endpoints besides the kit's: ``GET /_sandbox/tokens`` (counters),
``PUT /_sandbox/tokens`` (``ttl_s``, ``accept_tokens``) and
``POST /_sandbox/tokens/revoke`` (every issued token stops working).
SAMPLE DATA: see :mod:`plugins.medical.sandbox_data`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from gateway.contract import FaultKnobs, SandboxSpec, SubmissionLedger, sandbox_application
from plugins.medical.sandbox_data import (
    SERVICES,
    Holder,
    InvalidField,
    Refusal,
    Service,
    check_attachment,
    service_status,
)

CLIENT_ID = "onewindow-zhangdian"
CLIENT_SECRET = "sandbox-ybj-37030300-not-for-production"
DEFAULT_TOKEN_TTL_S = 600
REALM = "zhangdian-ybj"
RETRY_AFTER_S = 3
ERRORS: dict[int, tuple[int, str]] = {
    0: (200, "ok"),
    10001: (400, "参数错误"),
    10002: (404, "接口不存在"),
    40001: (401, "access_token 无效或已过期"),
    40002: (401, "缺少 access_token"),
    50001: (503, "系统维护中，请稍后再试"),
}
Answer = tuple[int, bytes]


@dataclass
class TokenIssuer:
    """The sandbox's token store: what it issued, until when, and how often it refused one."""

    ttl_s: int
    accept_tokens: bool = True
    issued: int = 0
    invalid_token_answers: int = 0
    _expiry: dict[str, float] = field(default_factory=dict)

    def issue(self) -> str:
        now = time.monotonic()
        for old in [t for t, until in self._expiry.items() if until <= now]:
            del self._expiry[old]
        token = secrets.token_urlsafe(32)
        self._expiry[token] = now + self.ttl_s
        self.issued += 1
        return token

    def accepts(self, token: str) -> bool:
        until = self._expiry.get(token)
        return self.accept_tokens and until is not None and time.monotonic() < until

    def revoke_all(self) -> None:
        self._expiry.clear()

    def reset(self, ttl_s: int) -> None:
        """Back to a fresh bureau: nothing issued, tokens accepted, the original lifetime."""
        self._expiry.clear()
        self.ttl_s, self.accept_tokens, self.issued, self.invalid_token_answers = ttl_s, True, 0, 0

    def stats(self) -> dict[str, Any]:
        return {
            "issued": self.issued,
            "active": sum(1 for t in self._expiry if self.accepts(t)),
            "invalid_token_answers": self.invalid_token_answers,
            "ttl_s": self.ttl_s,
            "accept_tokens": self.accept_tokens,
        }


TOKENS: web.AppKey[TokenIssuer] = web.AppKey("medical_tokens", TokenIssuer)


def _envelope(errcode: int, data: Any = None, message: str | None = None, biz_no: str | None = None) -> bytes:
    body: dict[str, Any] = {"errcode": errcode, "errmsg": message or ERRORS.get(errcode, (200, ""))[1]}
    if biz_no is not None:
        body["biz_no"] = biz_no
    if data is not None:
        body["data"] = data
    return json.dumps(body, ensure_ascii=False).encode()


def _answer(errcode: int, data: Any = None, message: str | None = None) -> Answer:
    return ERRORS.get(errcode, (200, ""))[0], _envelope(errcode, data, message)


def _respond(answer: Answer, headers: dict[str, str] | None = None) -> web.Response:
    status, body = answer
    return web.Response(status=status, body=body, content_type="application/json", charset="utf-8", headers=headers)


def _unavailable(request: web.Request) -> web.Response:
    return _respond(_answer(50001), {"Retry-After": str(RETRY_AFTER_S)})


def _garbage(request: web.Request) -> web.Response:
    return web.Response(
        status=200, text='{"errcode":0,"errmsg":"ok","data":{"records":[{"year":20', content_type="application/json"
    )


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": description},
        status=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})},
    )


def client_credentials(authorization: str) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from a Basic header, both parts form-decoded (RFC 6749 §2.3.1)."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        pair = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, client_secret = pair.partition(":")
    return (unquote_plus(client_id), unquote_plus(client_secret)) if colon else None


def _biz_no(*parts: str) -> str:
    digest = int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:6], "big")
    return f"YB{date.today():%Y%m%d}{digest % 10**8:08d}"


def _read_call(body: Any, service: Service) -> tuple[Holder, dict[str, Any]]:
    """The holder and business fields of a service call, checked against the service."""
    if not isinstance(body, dict) or not isinstance(body.get("biz", {}), dict):
        raise InvalidField("请求体应为 JSON 对象，biz 为对象")
    psn, emp = body.get("psn"), body.get("emp")
    if isinstance(psn, dict) and psn.get("psn_cert_type") == "01" and psn.get("certno") and psn.get("psn_name"):
        holder = Holder("person", str(psn["certno"]), str(psn["psn_name"]))
    elif isinstance(emp, dict) and emp.get("uscc") and emp.get("emp_name"):
        holder = Holder("organisation", str(emp["uscc"]), str(emp["emp_name"]))
    else:
        raise InvalidField("缺少参保人 psn（psn_cert_type、certno、psn_name）或单位 emp（uscc、emp_name）")
    if holder.kind not in service.holder_kinds:
        raise InvalidField("该接口不受理此类参保对象")
    biz: dict[str, Any] = body.get("biz", {})
    unknown = sorted(set(biz) - set(service.required) - set(service.optional))
    if unknown:
        raise InvalidField(f"未知参数：biz.{unknown[0]}")
    commitment = body.get("commitment")
    replaced: set[str] = set()
    if commitment is not None:
        if not isinstance(commitment, dict) or not commitment.get("statement") or not commitment.get("signed_by"):
            raise InvalidField("commitment 应包含 replaces、statement、signed_by")
        replaced = set(commitment.get("replaces") or ())
        if not replaced <= set(service.pledgeable):
            raise InvalidField(f"告知承诺不能替代：{'、'.join(sorted(replaced - set(service.pledgeable)))}")
    missing = [n for n in service.required if n not in replaced and biz.get(n) in (None, "")]
    if missing:
        raise InvalidField("缺少参数：" + "、".join(f"biz.{n}" for n in missing))
    for name, value in biz.items():
        if isinstance(value, dict):
            check_attachment(name, value)
    return holder, biz


def _perform(service: Service, holder: Holder, biz: dict[str, Any], serial: str, name: str) -> Answer:
    try:
        data = service.handler(holder, biz, serial)
    except Refusal as refusal:
        reasons = [{"code": refusal.errcode, "msg": text} for text in refusal.reasons]
        biz_no = _biz_no(serial or name, holder.id_number)
        return 200, _envelope(refusal.errcode, {"reasons": reasons}, refusal.message, biz_no)
    except InvalidField as exc:
        return _answer(10001, message=f"参数错误：{exc}")
    return 200, _envelope(0, data, biz_no=_biz_no(serial) if service.acts else _biz_no(name, holder.id_number))


def create_app(knobs: FaultKnobs, *, token_ttl_s: int = DEFAULT_TOKEN_TTL_S) -> web.Application:
    """The medical insurance bureau sandbox; ``token_ttl_s`` is the access-token lifetime."""
    ledger = SubmissionLedger(knobs)
    issuer = TokenIssuer(ttl_s=token_ttl_s)
    app = sandbox_application(
        knobs=knobs,
        ledger=ledger,
        unavailable=_unavailable,
        malformed=_garbage,
        name="medical",
        on_reset=lambda: issuer.reset(token_ttl_s),
    )
    app[TOKENS] = issuer

    async def token(request: web.Request) -> web.Response:
        if client_credentials(request.headers.get("Authorization", "")) != (CLIENT_ID, CLIENT_SECRET):
            return _oauth_error(401, "invalid_client", "客户端认证失败", {"WWW-Authenticate": f'Basic realm="{REALM}"'})
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "请求体应为 application/x-www-form-urlencoded")
        grant = (await request.post()).get("grant_type")
        if grant != "client_credentials":
            error = "invalid_request" if grant is None else "unsupported_grant_type"
            return _oauth_error(400, error, "仅支持 grant_type=client_credentials")
        return web.json_response(
            {"access_token": issuer.issue(), "token_type": "Bearer", "expires_in": issuer.ttl_s},
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def bearer_refusal(request: web.Request) -> web.Response | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return _respond(_answer(40002), {"WWW-Authenticate": f'Bearer realm="{REALM}"'})
        if issuer.accepts(value.strip()):
            return None
        issuer.invalid_token_answers += 1
        challenge = (
            f'Bearer realm="{REALM}", error="invalid_token", '
            'error_description="The access token expired or was revoked"'
        )
        return _respond(_answer(40001), {"WWW-Authenticate": challenge})

    async def service(request: web.Request) -> web.Response:
        refused = bearer_refusal(request)
        if refused is not None:
            return refused
        name = request.match_info["service"]
        chosen = SERVICES.get(name)
        if chosen is None:
            return _respond(_answer(10002))
        try:
            body = json.loads(await request.read())
            holder, biz = _read_call(body, chosen)
        except ValueError:
            return _respond(_answer(10001, message="参数错误：请求体不是 JSON"))
        except InvalidField as exc:
            return _respond(_answer(10001, message=f"参数错误：{exc}"))
        serial = str(body.get("serial_no") or "")
        act = functools.partial(_perform, chosen, holder, biz, serial, name)
        if not chosen.acts:
            return _respond(act())
        if not serial:
            return _respond(_answer(10001, message="参数错误：缺少 serial_no"))
        return _respond(await ledger.submit(serial, act))

    async def ping(request: web.Request) -> web.Response:
        return bearer_refusal(request) or _respond((200, _envelope(0, service_status())))

    async def get_tokens(request: web.Request) -> web.Response:
        return web.json_response(issuer.stats())

    async def put_tokens(request: web.Request) -> web.Response:
        try:
            changes = await request.json()
        except ValueError:
            changes = None
        changes = changes if isinstance(changes, dict) else {"ttl_s": None}
        ttl, accept = changes.get("ttl_s", issuer.ttl_s), changes.get("accept_tokens", issuer.accept_tokens)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1 or not isinstance(accept, bool):
            return web.json_response(
                {"error": "ttl_s takes a positive integer, accept_tokens true or false"}, status=400
            )
        issuer.ttl_s, issuer.accept_tokens = ttl, accept
        return web.json_response(issuer.stats())

    async def revoke(request: web.Request) -> web.Response:
        issuer.revoke_all()
        return web.json_response(issuer.stats())

    app.router.add_post("/oauth/token", token)
    app.router.add_get("/api/v1/ping", ping)
    app.router.add_post("/api/v1/{service:.+}", service)
    app.router.add_get("/_sandbox/tokens", get_tokens)
    app.router.add_put("/_sandbox/tokens", put_tokens)
    app.router.add_post("/_sandbox/tokens/revoke", revoke)
    return app


def spec() -> SandboxSpec:
    """How ``make run`` and the tests start this sandbox (tests set a short ``token_ttl_s`` option)."""
    return SandboxSpec(
        agency="medical",
        name="District medical insurance bureau (JSON + OAuth2 client credentials)",
        create_app=create_app,
        options={"token_ttl_s": DEFAULT_TOKEN_TTL_S},
        default_port=9103,
        config={
            "secrets": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            "options": {"token_refresh_margin_s": 60},
        },
        rejection={
            "item": "medical.resident-enrolment",
            "applicant": {"kind": "person", "id_number": "37030319720608351X", "name": "陈立新"},
            "materials": {
                "enrolment_year": 2026,
                "population_group": "成年居民",
                "contact_phone": "13905330456",
                "household_register": {
                    "media_type": "application/pdf",
                    "filename": "户口簿.pdf",
                    "content_base64": "JVBERi0xLjQKJSBzYW1wbGUK",
                },
            },
        },
    )
