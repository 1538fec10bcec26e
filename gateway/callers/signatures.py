"""Signed requests: HTTP Message Signatures (RFC 9421) with a Content-Digest (RFC 9530).

A caller signs each request with one of its keys (``hmac-sha256`` or
``ed25519``). The signature must cover ``@method``, ``@target-uri`` (or
``@path`` and ``@authority``) and ``content-digest``, and carry ``created``,
``nonce`` and ``keyid`` (and ``@query`` with the path form, when the
request has a query string); the library ``http-message-signatures``
rebuilds the signature base from the request as received and verifies it.
What the gateway checks itself it reads as the library does: every field
line of a header combined, never the first line alone. Checks run
cheapest and least revealing first, and each refusal has its own problem
type: what the signature lacks; an unknown or retired key, or a signature
that does not verify; ``created`` further from the clock than
``max_skew_seconds``, or an ``expires`` that has passed; a host that is
not this gateway's (:mod:`gateway.callers.authorities`); a body other than
the one its digest describes; a nonce already accepted. The nonce is
remembered in the store only once everything else holds (an unsigned
request cannot use up a caller's nonces), for ``nonce_lifetime_seconds``
and at least :data:`NONCE_GRACE` past the last moment its signature could
be accepted -- on PostgreSQL for every instance at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import http_sf
from aiohttp import web
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
)
from http_message_signatures.algorithms import ED25519, HMAC_SHA256, HTTPSignatureAlgorithm
from yarl import URL

from gateway.callers.authenticator import refusal
from gateway.callers.authorities import GatewayAuthorities
from gateway.callers.keys import InUse, KeyRing
from gateway.callers.model import Caller
from gateway.config import AuthenticationSettings
from gateway.observability.logs import get_logger
from gateway.problems import (
    CONTENT_DIGEST_MISMATCH,
    SIGNATURE_COMPONENTS_MISSING,
    SIGNATURE_EXPIRED,
    SIGNATURE_INVALID,
    SIGNATURE_REPLAYED,
    ProblemError,
    echo,
)
from gateway.store import Store, utcnow
from signing.errors import KeyStoreError

#: The components every signature must cover (one of the target forms), and its required parameters.
REQUIRED_COMPONENTS = ("@method", "content-digest")
TARGET_FORMS = (("@target-uri",), ("@path", "@authority"))
REQUIRED_PARAMETERS = ("created", "nonce", "keyid")
ALGORITHMS: Mapping[str, type[HTTPSignatureAlgorithm]] = {"hmac-sha256": HMAC_SHA256, "ed25519": ED25519}
NONCE_LENGTH = (8, 128)
NONCE_GRACE = timedelta(seconds=60)  # a nonce outlives the last moment its signature is accepted by this much
PURGE_EVERY_S = 60.0

log = get_logger(component="signatures")


@dataclass(frozen=True)
class _Message:
    """The request as the library reads it: method, absolute URL as received, header field lines."""

    method: str
    url: str
    headers: Any


@dataclass(frozen=True)
class _Signed:
    """The one signature of a request, as its Signature-Input declares it."""

    label: str
    covered: frozenset[str]  # component names covered without parameters
    params: Mapping[str, Any]


def _problem(kind: Any, en: str, zh: str, **extensions: Any) -> ProblemError:
    return ProblemError(kind, en, zh, headers={"WWW-Authenticate": 'Signature realm="onewindow"'}, **extensions)


def _field(request: web.Request, name: str) -> str:
    """Every field line of ``name``, combined as the signature base combines them (RFC 9110 section 5.3).

    Reading only the first line would check one value while the library verifies another.
    """
    return ", ".join(request.headers.getall(name, ()))


def _declared(request: web.Request) -> _Signed:
    """The single signature the request declares; a malformed or ambiguous declaration is a bad signature."""
    try:
        inputs = http_sf.parse(_field(request, "Signature-Input").encode("latin-1"), tltype="dictionary")
        values = http_sf.parse(_field(request, "Signature").encode("latin-1"), tltype="dictionary")
    except (ValueError, TypeError, UnicodeError):
        raise _problem(
            SIGNATURE_INVALID,
            "The Signature-Input or Signature header is not a valid structured field.",
            "Signature-Input 或 Signature 头格式错误。",
        ) from None
    if (
        not isinstance(inputs, dict)
        or not isinstance(values, dict)
        or len(inputs) != 1
        or inputs.keys() != values.keys()
    ):
        raise _problem(
            SIGNATURE_INVALID,
            "Send exactly one signature, with the same label in Signature-Input and Signature.",
            "请只提供一个签名，Signature-Input 与 Signature 的标签须一致。",
        )
    label, declared = next(iter(inputs.items()))
    members: Any = declared[0] if isinstance(declared, tuple) else None
    params: Any = declared[1] if isinstance(declared, tuple) else None
    if not isinstance(members, list) or not isinstance(params, dict):
        raise _problem(SIGNATURE_INVALID, "Signature-Input must be an inner list.", "Signature-Input 须为内部列表。")
    covered = frozenset(m[0] for m in members if isinstance(m, tuple) and isinstance(m[0], str) and not m[1])
    return _Signed(label, covered, params)


def _missing(signed: _Signed, request: web.Request) -> list[str]:
    missing = [name for name in REQUIRED_COMPONENTS if name not in signed.covered]
    if not any(all(name in signed.covered for name in form) for form in TARGET_FORMS):
        missing.append("@target-uri (or @path and @authority)")
    elif request.rel_url.raw_query_string and not signed.covered & {"@target-uri", "@query"}:
        missing.append("@query (the request has a query string)")  # else anyone on the way could change it
    missing += [f";{name}" for name in REQUIRED_PARAMETERS if name not in signed.params]
    return missing


def _target_uri(request: web.Request) -> URL:
    """The absolute URL the request was sent to (its scheme, Host header, path and query)."""
    try:
        url = request.url
        str(url)  # yarl checks the port only when it is written out
        return url
    except (ValueError, TypeError, UnicodeError):  # a Host that is no authority ("é", "h:99999999")
        raise _problem(
            SIGNATURE_INVALID,
            "The Host header is not a valid host[:port]: the signed target URI cannot be rebuilt.",
            "Host 头不是有效的主机与端口，无法重建已签名的目标 URI。",
        ) from None


class SignatureMethod:
    """Authenticates a request by its HTTP Message Signature."""

    name = "signature"

    def __init__(
        self,
        keys: KeyRing,
        store: Store,
        settings: AuthenticationSettings,
        callers: Callable[[], Mapping[str, Caller]],
        *,
        public_url: str = "",
    ) -> None:
        self.keys = keys
        self.authorities = GatewayAuthorities(public_url, settings.authorities)
        self.store = store
        self.settings = settings
        self._callers = callers  # read at each request: a SIGHUP reload changes them
        self._purged_at = time.monotonic()

    async def authenticate(self, request: web.Request, body: bytes) -> Caller | None:
        if "Signature-Input" not in request.headers and "Signature" not in request.headers:
            return None
        signed = _declared(request)
        missing = _missing(signed, request)
        if missing:
            raise _problem(
                SIGNATURE_COMPONENTS_MISSING,
                f"The signature must also cover or carry: {', '.join(missing)}.",
                f"签名还须覆盖或包含：{'、'.join(missing)}。",
                missing=missing,
            )
        key_id = signed.params["keyid"]
        if not isinstance(key_id, str):
            raise _problem(SIGNATURE_INVALID, "keyid must be a string.", "keyid 须为字符串。")
        caller, key = await self._key(key_id)
        try:
            return await self._check(request, body, signed, caller, key)
        except ProblemError as problem:
            raise refusal(problem, caller_id=caller.id, key_id=key_id) from None

    async def _key(self, key_id: str) -> tuple[Caller, InUse]:
        unknown = _problem(
            SIGNATURE_INVALID,
            f"keyid '{echo(key_id)}' names no signing key in use (unknown, or retired).",
            f"keyid {echo(key_id)} 不是有效的签名密钥（不存在或已停用）。",
        )
        try:
            found = await self.keys.in_use(key_id)
        except KeyStoreError as exc:  # a passphrase that cannot open the district's sealed secrets: the operator's
            log.error("caller_key.unreadable", key_id=key_id, error=str(exc))
            raise unknown from None
        caller = self._callers().get(found.stored.caller_id) if found is not None else None
        if found is None or caller is None:
            raise unknown
        return caller, found

    async def _check(self, request: web.Request, body: bytes, signed: _Signed, caller: Caller, found: InUse) -> Caller:
        created, nonce, alg = signed.params["created"], signed.params["nonce"], signed.params.get("alg")
        if type(created) is not int:
            raise _problem(SIGNATURE_INVALID, "created must be an integer.", "created 须为整数。")
        now = utcnow()  # one instant for every check: the time it takes to verify opens no gap between them
        clock = now.timestamp()
        skew = self.settings.max_skew_seconds
        if abs(clock - created) > skew:
            raise _problem(
                SIGNATURE_EXPIRED,
                f"The signature was created {round(clock - created)} s from the gateway's clock; "
                f"at most {skew} s is allowed.",
                f"签名时间与网关时钟相差超过 {skew} 秒。",
                max_skew_seconds=skew,
            )
        self._unexpired(signed.params.get("expires"), clock)
        low, high = NONCE_LENGTH
        if not isinstance(nonce, str) or not low <= len(nonce) <= high:
            raise _problem(
                SIGNATURE_INVALID,
                f"nonce must be a string of {low} to {high} characters, fresh and random for each request.",
                f"nonce 须为 {low} 至 {high} 个字符的随机字符串，每个请求不同。",
            )
        if alg is not None and alg != found.stored.alg:
            raise _problem(
                SIGNATURE_INVALID,
                f"alg '{echo(alg)}' is not the algorithm of key {found.stored.key_id} ({found.stored.alg}).",
                f"alg 与密钥 {found.stored.key_id} 的算法（{found.stored.alg}）不符。",
            )
        url = _target_uri(request)
        if not self.authorities.ours(request, url):
            raise _problem(
                SIGNATURE_INVALID,
                f"The request names the host '{echo(url.raw_authority, 80)}' (its Host header), which is not this "
                "gateway: a request signed for another gateway is not accepted here.",
                f"请求所指主机 {echo(url.raw_authority, 80)}（Host 头）不是本网关，为其他网关签名的请求在此无效。",
            )
        self._verify(request, url, found)
        try:
            ContentDigest.verify(_field(request, "Content-Digest"), body)
        except (InvalidSignature, HTTPMessageSignaturesException):
            raise _problem(
                CONTENT_DIGEST_MISMATCH,
                "The body does not match the signed Content-Digest (sha-256 of the body as sent).",
                "请求内容与已签名的 Content-Digest 不符。",
            ) from None
        if not await self.store.remember_nonce(
            found.stored.key_id, nonce, now=now, expires_at=self._forget_at(now, created)
        ):
            raise _problem(
                SIGNATURE_REPLAYED,
                "This signature's nonce was already used: sign every request anew, with a fresh nonce.",
                "该签名的 nonce 已被使用，请为每个请求重新签名。",
            )
        await self._purge(now)
        return caller

    def _forget_at(self, now: datetime, created: int) -> datetime:
        """When the nonce may be forgotten: ``nonce_lifetime_seconds`` from now, and never before
        :data:`NONCE_GRACE` past the last instant any gateway would accept the signature (``created`` + skew).

        A signature created up to ``max_skew_seconds`` ahead of this clock stays acceptable for twice the skew:
        with a lifetime of exactly twice the skew, only the time a replay takes to check would separate the
        moment its nonce is forgotten from the moment it is no longer accepted.
        """
        last_accepted = datetime.fromtimestamp(created + self.settings.max_skew_seconds, UTC)
        return max(now + timedelta(seconds=self.settings.nonce_lifetime_seconds), last_accepted + NONCE_GRACE)

    @staticmethod
    def _unexpired(expires: Any, clock: float) -> None:
        """A signature its signer gave an ``expires`` is refused after it, by the gateway's clock, with no leeway.

        The library would allow ``max_skew_seconds`` past it: minutes more for a signature meant to live seconds.
        """
        if expires is None:
            return
        if type(expires) is not int:
            raise _problem(SIGNATURE_INVALID, "expires must be an integer.", "expires 须为整数。")
        late = clock - expires
        if late >= 0:
            raise _problem(
                SIGNATURE_EXPIRED,
                f"The signature expired {round(late)} s ago (its expires parameter).",
                f"签名已过期（expires 参数），已超过 {round(late)} 秒。",
            )

    def _verify(self, request: web.Request, url: URL, found: InUse) -> None:
        verifier = HTTPMessageVerifier(
            signature_algorithm=ALGORITHMS[found.stored.alg],
            key_resolver=MappingKeyResolver(public_keys={found.stored.key_id: found.key}, private_keys={}),
        )
        verifier.max_clock_skew = timedelta(seconds=self.settings.max_skew_seconds)
        message = _Message(request.method.upper(), str(url), request.headers)
        try:
            verifier.verify(message, max_age=timedelta(seconds=self.settings.max_skew_seconds), expect_tag=None)
        except (InvalidSignature, HTTPMessageSignaturesException) as exc:
            log.info("signature.refused", key_id=found.stored.key_id, why=echo(str(exc), 120))
            raise _problem(
                SIGNATURE_INVALID,
                "The signature does not verify against the request as received (docs/api.md: the signature base).",
                "签名与收到的请求不符。",
            ) from None

    async def _purge(self, now: datetime) -> None:
        """Forget expired nonces now and then (every instance does; deleting twice is harmless)."""
        if time.monotonic() - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = time.monotonic()
        purged = await self.store.purge_nonces(now)
        if purged:
            log.info("signature_nonces.purged", nonces=purged)
