"""The seal as a value: kinds, numbers, scope patterns, status history.

Shared by the registry (which writes seals), the trust bundle (which
publishes them) and the verifier (which judges them), so it holds no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from cryptography import x509

from signing.errors import CertificateFormatError, RegistryError
from signing.keys.algorithms import KeyType, key_type_of


class SealKind(StrEnum):
    """The two seals of the "one seal for approvals" policy (审批一枚印章)."""

    SERVICE_CENTRE = "service_centre"  # the office's own 便民服务专用章
    DELEGATED_APPROVAL = "delegated_approval"  # numbered 行政审批专用章 from the bureau


#: Letter code inside a seal number: BM = 便民 (bianmin), SP = 审批 (shenpi).
KIND_CODES: dict[SealKind, str] = {SealKind.SERVICE_CENTRE: "BM", SealKind.DELEGATED_APPROVAL: "SP"}
#: The words cut into the stamp under the star, and their English gloss.
KIND_WORDS: dict[SealKind, tuple[str, str]] = {
    SealKind.SERVICE_CENTRE: ("便民服务专用章", "service-centre seal"),
    SealKind.DELEGATED_APPROVAL: ("行政审批专用章", "delegated approval seal"),
}

_NUMBER_RE = re.compile(r"^(\d{6})-(BM|SP)-(\d{4,6})$")
_ITEM_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9][a-z0-9_-]*)+$")
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9][a-z0-9_-]*)*\.\*$")
_OFFICE_RE = re.compile(r"^\d{12}$")


def format_seal_number(district: str, kind: SealKind, sequence: int) -> str:
    """``370303-SP-0007``: district code, kind letters, sequence (4+ digits)."""
    if not 1 <= sequence <= 999_999:
        raise RegistryError(f"seal sequence {sequence} is outside 1..999999")
    return f"{district}-{KIND_CODES[kind]}-{sequence:04d}"


def parse_seal_number(number: str) -> tuple[str, SealKind, int]:
    """Split a seal number into district, kind and sequence, or raise."""
    match = _NUMBER_RE.match(number)
    if not match:
        raise RegistryError(f"{number!r} is not a seal number like 370303-SP-0001")
    kind = next(k for k, code in KIND_CODES.items() if code == match.group(2))
    return match.group(1), kind, int(match.group(3))


def allocate_seal_number(
    district: str, kind: SealKind, number: str | int | None, *, taken: set[str], last: int
) -> tuple[str, int]:
    """Pick the number for a new seal: ``number`` if given, else the next free one.

    Refuses any number ever issued (revoked seals stay in ``taken``) and
    numbers of another district or kind.
    """
    if number is None:
        sequence = last + 1
        while format_seal_number(district, kind, sequence) in taken:
            sequence += 1
    elif isinstance(number, int) or str(number).isdigit():
        sequence = int(number)
    else:
        their_district, their_kind, sequence = parse_seal_number(str(number))
        if their_district != district or their_kind is not kind:
            raise RegistryError(f"seal number {number} does not belong to {district} {kind.value}")
    seal_number = format_seal_number(district, kind, sequence)
    if seal_number in taken:
        raise RegistryError(f"seal number {seal_number} was already issued; numbers are never reused")
    return seal_number, sequence


def check_office_code(office: str) -> str:
    """Office codes are 12-digit administrative division codes."""
    if not _OFFICE_RE.match(office):
        raise RegistryError(f"office code {office!r} must be 12 digits (e.g. 370303001000)")
    return office


def check_scope(scope: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate item codes (``tax.payment-record``) and prefixes (``tax.*``)."""
    for pattern in scope:
        if not (_ITEM_RE.match(pattern) or _PREFIX_RE.match(pattern)):
            raise RegistryError(
                f"scope entry {pattern!r} is neither an item code (tax.payment-record) nor a prefix pattern (tax.*)"
            )
    return tuple(dict.fromkeys(scope))


def scope_covers(scope: tuple[str, ...], item: str) -> bool:
    """Empty scope covers every item; ``a.*`` covers items starting ``a.``."""
    if not scope or item in scope:  # an exact name: one look-up, no loop
        return True
    return any(p.endswith(".*") and item.startswith(p[:-1]) for p in scope)


def scope_specificity(scope: tuple[str, ...], item: str) -> int:
    """Rank how narrowly a scope names ``item``: exact 2, prefix 1, everything 0."""
    if item in scope:
        return 2
    return 1 if scope else 0


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z``; microseconds only when present."""
    moment = moment.astimezone(UTC)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries a UTC offset."""
    if not isinstance(text, str):
        raise ValueError("timestamp must be a string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(UTC)


class SealStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


@dataclass(frozen=True)
class StatusEvent:
    """One entry of a seal's status history; the history is append-only."""

    status: SealStatus
    at: datetime
    reason: str
    reason_code: str = "unspecified"  # CRL reason for revocations

    def to_dict(self) -> dict[str, str]:
        return {
            "status": self.status.value,
            "at": format_time(self.at),
            "reason": self.reason,
            "reason_code": self.reason_code,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatusEvent:
        return cls(
            SealStatus(data["status"]),
            parse_time(data["at"]),
            str(data["reason"]),
            str(data.get("reason_code", "unspecified")),
        )


@dataclass(frozen=True)
class Seal:
    """A numbered seal: who holds it, what it may seal, its certificate and history."""

    number: str
    kind: SealKind
    office: str
    holder_name: str
    scope: tuple[str, ...]
    certificate_der: bytes
    history: tuple[StatusEvent, ...]
    key: dict[str, str] = field(default_factory=dict, compare=False)  # where the key lives
    #: DER of the issuing certificates (the district root), for ``x5c``; not serialized.
    chain: tuple[bytes, ...] = field(default=(), compare=False)

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate_der)

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate DER, hex: the seal's identity in reports."""
        return hashlib.sha256(self.certificate_der).hexdigest()

    @cached_property
    def key_type(self) -> KeyType:
        """ES384 or ES256, from the certificate's key: each seal keeps its own."""
        key_type = key_type_of(self.certificate.public_key())
        if key_type is None:
            raise CertificateFormatError(f"seal {self.number}: key is not ECDSA P-384 or P-256")
        return key_type

    @cached_property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @cached_property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def status(self) -> SealStatus:
        return self.history[-1].status

    def status_at(self, moment: datetime) -> StatusEvent | None:
        """The event in force at ``moment`` (None before issuance)."""
        current = None
        for event in self.history:
            if event.at > moment:
                break
            current = event
        return current

    def revocation(self) -> StatusEvent | None:
        return next((e for e in self.history if e.status is SealStatus.REVOKED), None)

    def covers(self, item: str) -> bool:
        return scope_covers(self.scope, item)

    def usable_at(self, moment: datetime) -> bool:
        """Active, inside the certificate's validity: may seal at ``moment``."""
        event = self.status_at(moment)
        return event is not None and event.status is SealStatus.ACTIVE and self.not_before <= moment <= self.not_after

    def to_dict(self, *, include_key: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "number": self.number,
            "kind": self.kind.value,
            "office": self.office,
            "holder_name": self.holder_name,
            "scope": list(self.scope),
            "serial": format(self.certificate.serial_number, "x"),
            "not_before": format_time(self.not_before),
            "not_after": format_time(self.not_after),
            "certificate": base64.b64encode(self.certificate_der).decode("ascii"),
            "certificate_sha256": self.fingerprint,
            "status": self.status.value,
            "history": [event.to_dict() for event in self.history],
        }
        if include_key:
            data["key"] = dict(self.key)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seal:
        seal = cls(
            number=str(data["number"]),
            kind=SealKind(data["kind"]),
            office=str(data["office"]),
            holder_name=str(data["holder_name"]),
            scope=tuple(str(s) for s in data["scope"]),
            certificate_der=base64.b64decode(data["certificate"], validate=True),
            history=tuple(StatusEvent.from_dict(e) for e in data["history"]),
            key={str(k): str(v) for k, v in data.get("key", {}).items()},
        )
        if not seal.history:
            raise ValueError(f"seal {seal.number} has an empty status history")
        if data.get("certificate_sha256", seal.fingerprint) != seal.fingerprint:
            raise ValueError(f"seal {seal.number}: certificate does not match its fingerprint")
        return seal
