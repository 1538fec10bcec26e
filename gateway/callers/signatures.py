"""Signed requests: HTTP Message Signatures (RFC 9421) with a Content-Digest (RFC 9530).

A caller signs each request with one of its keys (``hmac-sha256`` or
``ed25519``). The signature must cover ``@method``, ``@target-uri`` (or
``@path`` and ``@authority``) and ``content-digest``, and carry ``created``,
``nonce`` and ``keyid``; the library ``http-message-signatures`` rebuilds
the signature base from the request as received and verifies it. Checks run
cheapest and least revealing first, and each refusal has its own problem
type: what the signature lacks; an unknown or retired key, or a signature
that does not verify; ``created`` further from the clock than
``max_skew_seconds``; a body other than the one its digest describes; a
nonce already accepted. The nonce is remembered in the store only once
everything else holds (an unsigned request cannot use up a caller's nonces),
for ``nonce_lifetime_seconds`` -- on PostgreSQL for every instance at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
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

from gateway.callers.authenticator import refusal
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


def _declared(request: web.Request) -> _Signed:
    """The single signature the request declares; a malformed or ambiguous declaration is a bad signature."""
    try:
        inputs = http_sf.parse(request.headers.get("Signature-Input", "").encode("latin-1"), tltype="dictionary")
        values = http_sf.parse(request.headers.get("Signature", "").encode("latin-1"), tltype="dictionary")
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


def _missing(signed: _Signed) -> list[str]:
    missing = [name for name in REQUIRED_COMPONENTS if name not in signed.covered]
    if not any(all(name in signed.covered for name in form) for form in TARGET_FORMS):
        missing.append("@target-uri (or @path and @authority)")
    missing += [f";{name}" for name in REQUIRED_PARAMETERS if name not in signed.params]
    return missing


class SignatureMethod:
    """Authenticates a request by its HTTP Message Signature."""

    name = "signature"

    def __init__(
        self,
        keys: KeyRing,
        store: Store,
        settings: AuthenticationSettings,
        callers: Callable[[], Mapping[str, Caller]],
    ) -> None:
        self.keys = keys
        self.store = store
        self.settings = settings
        self._callers = callers  # read at each request: a SIGHUP reload changes them
        self._purged_at = time.monotonic()

    async def authenticate(self, request: web.Request, body: bytes) -> Caller | None:
        if "Signature-Input" not in request.headers and "Signature" not in request.headers:
            return None
        signed = _declared(request)
        missing = _missing(signed)
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
        skew = self.settings.max_skew_seconds
        if abs(time.time() - created) > skew:
            raise _problem(
                SIGNATURE_EXPIRED,
                f"The signature was created {round(time.time() - created)} s from the gateway's clock; "
                f"at most {skew} s is allowed.",
                f"签名时间与网关时钟相差超过 {skew} 秒。",
                max_skew_seconds=skew,
            )
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
        self._verify(request, found)
        try:
            ContentDigest.verify(request.headers.get("Content-Digest", ""), body)
        except (InvalidSignature, HTTPMessageSignaturesException):
            raise _problem(
                CONTENT_DIGEST_MISMATCH,
                "The body does not match the signed Content-Digest (sha-256 of the body as sent).",
                "请求内容与已签名的 Content-Digest 不符。",
            ) from None
        now = utcnow()
        expires = now + timedelta(seconds=self.settings.nonce_lifetime_seconds)
        if not await self.store.remember_nonce(found.stored.key_id, nonce, now=now, expires_at=expires):
            raise _problem(
                SIGNATURE_REPLAYED,
                "This signature's nonce was already used: sign every request anew, with a fresh nonce.",
                "该签名的 nonce 已被使用，请为每个请求重新签名。",
            )
        await self._purge(now)
        return caller

    def _verify(self, request: web.Request, found: InUse) -> None:
        verifier = HTTPMessageVerifier(
            signature_algorithm=ALGORITHMS[found.stored.alg],
            key_resolver=MappingKeyResolver(public_keys={found.stored.key_id: found.key}, private_keys={}),
        )
        verifier.max_clock_skew = timedelta(seconds=self.settings.max_skew_seconds)
        message = _Message(request.method.upper(), str(request.url), request.headers)
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
