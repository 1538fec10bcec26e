"""RFC 9457 problem details: the one error model of the HTTP API.

Every error the gateway answers is ``application/problem+json`` with a
stable ``type`` (a path under ``/problems/`` that also serves its
documentation), an English ``title``/``detail``, the same in Chinese as
``title_zh``/``detail_zh``, the ``status``, and the ``request_id`` an
integrator quotes when asking for help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.personal_data.masking import mask_text

PROBLEM_MEDIA_TYPE = "application/problem+json"
ECHO_LIMIT = 40
# An ID number run together with other digits has no boundary for the masking patterns: mask the run.
_LONG_DIGITS = re.compile(r"\d{13,}")


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """Caller input as it may be quoted back in an error or a log line: numbers masked, cut at ``limit``.

    A name the caller made up (an unknown field, an item code, a path) can be
    a megabyte long or an ID number; the answer says which one, not all of it.
    """
    text = mask_text(value if isinstance(value, str) else repr(value))
    text = _LONG_DIGITS.sub(lambda m: m.group(0)[:4] + "*" * (len(m.group(0)) - 8) + m.group(0)[-4:], text)
    if not text.isprintable():  # one C pass; the rare text with control characters is rebuilt
        text = "".join(char if char.isprintable() else "\ufffd" for char in text)
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class ProblemType:
    """A kind of problem: its slug, status and fixed titles."""

    slug: str
    status: int
    title_en: str
    title_zh: str
    explanation: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.slug}"


_TYPES: dict[str, ProblemType] = {}


def _t(slug: str, status: int, title_en: str, title_zh: str, explanation: str) -> ProblemType:
    kind = ProblemType(slug, status, title_en, title_zh, explanation)
    _TYPES[slug] = kind
    return kind


MALFORMED_REQUEST = _t(
    "malformed-request",
    400,
    "Malformed request",
    "请求格式错误",
    "The request cannot be read: the body is not strict JSON (I-JSON) or not an object, or over a JSON limit; "
    "a header such as Idempotency-Key is malformed; or a catalogue filter does not exist or takes no such value. "
    "An envelope that can be read but is wrong is a 422 (validation-failed), listing every problem.",
)
UNAUTHENTICATED = _t(
    "unauthenticated",
    401,
    "Unauthenticated",
    "身份认证失败",
    "No credentials were sent (a signature or, where the district allows it, an API key), the API key is not one "
    "the gateway knows, or the caller may not use this way of authenticating (its `methods`).",
)
SIGNATURE_INVALID = _t(
    "signature-invalid",
    401,
    "Bad signature",
    "签名无效",
    "The request's HTTP Message Signature (RFC 9421) does not verify: the Signature or Signature-Input header is "
    "malformed, the keyid names no key in use (unknown or retired), the alg is not the key's, the request names "
    "another host than this gateway's (docs/configuration.md: [authentication] authorities), or the signature "
    "does not match the signature base the gateway rebuilt from the request (docs/api.md shows one byte for byte).",
)
SIGNATURE_COMPONENTS_MISSING = _t(
    "signature-components-missing",
    401,
    "Signature covers too little",
    "签名覆盖的内容不全",
    "The signature must cover `@method`, `@target-uri` (or `@path` and `@authority`, and `@query` when the request "
    "has a query string) and `content-digest`, and carry the `created`, `nonce` and `keyid` parameters; `missing` "
    "lists what it lacks.",
)
SIGNATURE_EXPIRED = _t(
    "signature-created-out-of-range",
    401,
    "Signature too old or from the future",
    "签名时间超出允许范围",
    "The signature's `created` time is further from the gateway's clock than [authentication] max_skew_seconds "
    "allows, or the `expires` time the signer gave it has passed: sign each request when it is sent, and keep the "
    "clock synchronised (NTP).",
)
SIGNATURE_REPLAYED = _t(
    "signature-replayed",
    401,
    "Replayed request",
    "重复提交的签名请求",
    "A request with this signature's `nonce` was already accepted (by this or another gateway of the district): "
    "every request needs a fresh random nonce. To retry a request, sign it again with a new nonce and the same "
    "Idempotency-Key.",
)
CONTENT_DIGEST_MISMATCH = _t(
    "content-digest-mismatch",
    401,
    "Body does not match its digest",
    "请求内容与摘要不符",
    "The body is not the one the signed Content-Digest (RFC 9530, sha-256 or sha-512: every digest it lists) "
    "describes, or the Content-Digest field is malformed: the body was changed on the way, or the digest was taken "
    "of other bytes than those sent.",
)
CLIENT_CERTIFICATE_REFUSED = _t(
    "client-certificate-refused",
    401,
    "Client certificate refused",
    "客户端证书无效",
    "The connection's client certificate chains to the district root but may not be used: the district revoked it, "
    "does not list it among the certificates it issued, it names no caller (or one not configured), or it is not a "
    "client certificate. Ask the district for a new one ('onewindow client-cert issue').",
)
FORBIDDEN = _t(
    "forbidden",
    403,
    "Forbidden",
    "无权办理该事项",
    "The calling system, its office or its channel may not request this item.",
)
NOT_FOUND = _t(
    "not-found", 404, "Not found", "资源不存在", "No such route, request or resource visible to this caller."
)
UNKNOWN_ITEM = _t("unknown-item", 404, "Unknown item", "事项不存在", "The item code is not in the service catalogue.")
METHOD_NOT_ALLOWED = _t(
    "method-not-allowed",
    405,
    "Method not allowed",
    "不支持的请求方法",
    "The route exists but not with this HTTP method.",
)
REQUEST_TIMEOUT = _t(
    "request-timeout",
    408,
    "Request timeout",
    "请求超时",
    "The request head or body did not arrive in time (server.header_timeout_s, server.body_timeout_s); "
    "the connection is closed. Send the whole request at once and retry.",
)
IDEMPOTENCY_IN_FLIGHT = _t(
    "idempotency-in-flight",
    409,
    "Request already in progress",
    "相同请求正在处理中",
    "A request with this Idempotency-Key is still being processed; retry later.",
)
PAYLOAD_TOO_LARGE = _t(
    "payload-too-large",
    413,
    "Payload too large",
    "请求内容过大",
    "The body exceeds the configured limit; it was not read past the limit.",
)
URI_TOO_LONG = _t(
    "uri-too-long",
    414,
    "URI too long",
    "请求地址过长",
    "The request line is longer than the server reads; `limit` and `limit_value` say how long it may be.",
)
UNSUPPORTED_MEDIA_TYPE = _t(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "不支持的内容类型",
    "Send the envelope as application/json.",
)
VALIDATION_FAILED = _t(
    "validation-failed",
    422,
    "Validation failed",
    "申请材料不符合要求",
    "Every missing or invalid part of the request is listed in `errors`, all at once (一次性告知).",
)
IDEMPOTENCY_MISMATCH = _t(
    "idempotency-key-reused",
    422,
    "Idempotency key reused",
    "幂等键已用于其他请求",
    "This Idempotency-Key was used before with a different body.",
)
TOO_MANY_REQUESTS = _t(
    "too-many-requests",
    429,
    "Too many requests",
    "请求过于频繁",
    "This client sent more requests than the public endpoint allows; wait for Retry-After seconds.",
)
TOO_MANY_CONNECTIONS = _t(
    "too-many-connections",
    429,
    "Too many connections",
    "连接数过多",
    "This client address already holds as many open connections as the gateway allows one address "
    "(server.max_connections_per_address); reuse them, or wait for Retry-After seconds.",
)
CALLER_RATE_LIMITED = _t(
    "caller-rate-limited",
    429,
    "Caller rate limit reached",
    "调用频率超过限额",
    "This caller has made as many requests as its rate_limit allows in the window; nothing was done with this one. "
    "Wait Retry-After seconds, then send it again (with the same Idempotency-Key for an intake call).",
)
CALLER_CONCURRENCY_LIMITED = _t(
    "caller-concurrency-limited",
    429,
    "Too many calls in flight",
    "并发调用超过限额",
    "This caller already has as many intake calls in flight as its max_concurrent allows; nothing was done with "
    "this one. Wait for an answer to one of them (Retry-After), then send it again with the same Idempotency-Key.",
)
HEADERS_TOO_LARGE = _t(
    "request-header-fields-too-large",
    431,
    "Request header fields too large",
    "请求头过大",
    "A header is longer, or there are more headers, than the server reads; `limit` and `limit_value` say "
    "which limit and how much it allows.",
)
INTERNAL_ERROR = _t(
    "internal-error",
    500,
    "Internal error",
    "系统内部错误",
    "The gateway failed unexpectedly; quote the request_id when reporting it.",
)
AGENCY_PROTOCOL_ERROR = _t(
    "agency-protocol-error",
    502,
    "Agency answered unreadably",
    "部门系统返回异常",
    "The agency's system answered with something the plugin could not read.",
)
PLUGIN_FAILED = _t(
    "plugin-failed",
    502,
    "Agency plugin failed",
    "部门接入插件故障",
    "The plugin connecting the item's agency raised an error or returned something the gateway cannot use; "
    "`plugin` and `hook` name it. The detail never repeats the plugin's error text; the gateway's log has it.",
)
AGENCY_UNAVAILABLE = _t(
    "agency-unavailable",
    503,
    "Agency unavailable",
    "部门系统暂不可用",
    "The agency's system could not be reached within the retry budget, and the item cannot be deferred.",
)
NOT_READY = _t(
    "not-ready", 503, "Not ready", "服务未就绪", "The gateway is starting or stopping, or its store is unreachable."
)
SEAL_UNAVAILABLE = _t(
    "seal-unavailable",
    503,
    "No valid seal",
    "无可用电子印章",
    "The accepting office holds no valid seal covering this item, so no result can be issued.",
)
NO_SEALED_RESULT = _t(
    "no-sealed-result",
    409,
    "No sealed result",
    "无已盖章结果",
    "The request has no sealed result (yet), so there is nothing whose audit proof or printout could be given.",
)
NO_RECEIPT = _t(
    "no-receipt",
    409,
    "No acceptance receipt",
    "无受理回执",
    "The request was decided without waiting (its answer is the sealed result or the reasons), or the version "
    "asked for does not exist: only a request accepted and not yet decided gets a sealed acceptance receipt.",
)
NOTICE_NOT_NEEDED = _t(
    "notice-not-needed",
    409,
    "Nothing to notify",
    "无需告知",
    "POST /v1/notices was given an envelope intake would accept: there is no missing or wrong material to notify. "
    "Submit it with POST /v1/requests.",
)
PRINTOUT_UNAVAILABLE = _t(
    "printout-unavailable",
    503,
    "Printout unavailable",
    "无法出具打印件",
    "The sealed result exists but cannot be printed as a signed PDF now: the seal that sealed it can no longer "
    "sign (revoked or suspended since, its key unavailable), or the gateway host lacks what printing needs (a CJK "
    "TrueType font, the PDF libraries). The sealed JSON result itself stays valid and can be verified as it is.",
)
AUDIT_UNAVAILABLE = _t(
    "audit-unavailable",
    503,
    "Audit log unavailable",
    "审计日志不可用",
    "The gateway's audit log was found damaged (an entry it did not write, a truncation, a checkpoint whose "
    "signature does not hold), or its store was restored from an older backup and is behind its witness, so it "
    "records, seals and proves nothing until an operator repairs or reconciles it: nothing was done with this "
    "request; retry later with the same Idempotency-Key. For an audit proof: also when the audit log is switched "
    "off, or its stored tree no longer matches its signed checkpoints.",
)

TRUST_BUNDLE_UNAVAILABLE = _t(
    "trust-bundle-unavailable",
    503,
    "Trust bundle unavailable",
    "信任包不可用",
    "This gateway holds no trust bundle exported by the district bureau (trust-bundle.json in its seal registry "
    "directory), or the file there is not a valid bundle of this district. The gateway never signs bundles itself: "
    "the bureau exports one with 'onewindow seal export-trust' where the root key is and copies it to the gateway. "
    "Verifying with POST /v1/verify works without it.",
)

ALREADY_RATED = _t(
    "already-rated",
    409,
    "Already rated",
    "该服务已评价",
    "The request (or bundle) has its rating already: each finished service is rated once. "
    "GET its rating to see it; a bad rating is followed up by the office.",
)
NOT_FINISHED = _t(
    "request-not-finished",
    409,
    "Request not finished",
    "办件尚未办结",
    "The request is still being handled (accepted, pending or deferred): it can be rated once it is finished.",
)
RATE_THE_BUNDLE = _t(
    "rate-the-bundle",
    409,
    "Rated with its bundle",
    "请对一链办理整体评价",
    "The request is a step of a bundle (一链办理): the applicant rates the whole flow once, at "
    "POST /v1/bundles/{id}/rating (the `rating` member says where).",
)
UNKNOWN_CHAIN = _t(
    "unknown-chain",
    404,
    "Unknown chain",
    "一链办理事项不存在",
    "The chain code is not one of the chained items (一链办理) the catalogue offers (GET /v1/catalog lists them).",
)
BUNDLE_NOT_RESUMABLE = _t(
    "bundle-not-resumable",
    409,
    "Bundle cannot be resumed",
    "一链办理无法继续",
    "The bundle is completed, or the step it stopped at was refused by its agency on business grounds or given "
    "up for good: resuming would repeat the refusal. Start a new bundle with what the refusal asks for; the steps "
    "completed stay completed and sealed.",
)


def problem_types() -> list[ProblemType]:
    """Every problem type the gateway can answer with."""
    return list(_TYPES.values())


def problem_type(slug: str) -> ProblemType | None:
    """The problem type with this slug, or None."""
    return _TYPES.get(slug)


class ProblemError(Exception):
    """Raise to answer with a problem; :func:`gateway.api.responses.problem_response` renders it."""

    def __init__(
        self,
        kind: ProblemType,
        detail_en: str,
        detail_zh: str,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail_en)
        self.kind = kind
        self.detail_en = detail_en
        self.detail_zh = detail_zh
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, *, request_id: str | None, instance: str | None) -> dict[str, Any]:
        """The problem JSON object."""
        body: dict[str, Any] = {
            "type": self.kind.uri,
            "title": self.kind.title_en,
            "status": self.kind.status,
            "detail": self.detail_en,
            "title_zh": self.kind.title_zh,
            "detail_zh": self.detail_zh,
        }
        if instance:
            body["instance"] = instance
        if request_id:
            body["request_id"] = request_id
        body.update(self.extensions)
        return body
