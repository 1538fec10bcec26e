"""The verification verdict: ETSI EN 319 102-1 vocabulary, JSON and plain words.

Mapping of sub-indications to indications follows EN 319 102-1 (V1.1.1,
table 5): a failure that *proves* the seal invalid is TOTAL_FAILED; one
where the verifier lacks what it needs to decide is INDETERMINATE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from signing.model import KIND_WORDS, SealKind, format_time
from signing.verify.pinning import Anchor


class Indication(StrEnum):
    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(StrEnum):
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED = "REVOKED"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    TRY_LATER = "TRY_LATER"


#: EN 319 102-1 table 5: which main indication each sub-indication belongs to.
INDICATION_OF: dict[SubIndication, Indication] = {
    SubIndication.FORMAT_FAILURE: Indication.TOTAL_FAILED,
    SubIndication.HASH_FAILURE: Indication.TOTAL_FAILED,
    SubIndication.SIG_CRYPTO_FAILURE: Indication.TOTAL_FAILED,
    SubIndication.REVOKED: Indication.TOTAL_FAILED,
    SubIndication.EXPIRED: Indication.TOTAL_FAILED,
    SubIndication.NOT_YET_VALID: Indication.TOTAL_FAILED,
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND: Indication.INDETERMINATE,
    SubIndication.REVOKED_NO_POE: Indication.INDETERMINATE,
    SubIndication.SIG_CONSTRAINTS_FAILURE: Indication.INDETERMINATE,
    SubIndication.TRY_LATER: Indication.INDETERMINATE,
}

_VERDICT_WORDS: dict[Indication, tuple[str, str]] = {
    Indication.TOTAL_PASSED: (
        "通过：印章真实有效，内容未被改动",
        "PASSED: the seal is genuine and the content unchanged",
    ),
    Indication.TOTAL_FAILED: ("未通过：印章无效", "FAILED: the seal is not valid"),
    Indication.INDETERMINATE: (
        "无法确认：缺少判断所需的信息",
        "UNDETERMINED: cannot be confirmed with this trust bundle",
    ),
}
_REASON_WORDS: dict[SubIndication, tuple[str, str]] = {
    SubIndication.FORMAT_FAILURE: (
        "文件不是规范的电子签章文件",
        "the file is not a well-formed sealed document",
    ),
    SubIndication.HASH_FAILURE: ("盖章后内容被改动过", "the content was changed after sealing"),
    SubIndication.SIG_CRYPTO_FAILURE: (
        "签名值不正确（签章信息被改动或损坏）",
        "the signature value is wrong (seal data altered or damaged)",
    ),
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND: (
        "印章证书不能追溯到受信任的区根证书（不是本区签发，或信任包的根证书未经固定）",
        "the seal certificate does not chain to a trusted district root (not issued by the district, "
        "or the trust bundle's root is not pinned)",
    ),
    SubIndication.REVOKED: (
        "盖章时印章已被吊销",
        "the seal had been revoked when the document was sealed",
    ),
    SubIndication.REVOKED_NO_POE: (
        "印章因密钥泄露被吊销，且没有独立证据（审计日志证明）表明文件在吊销前已存在",
        "the seal was revoked because its key may be in other hands, and no independent evidence "
        "(audit-log proof) shows the document existed before the revocation",
    ),
    SubIndication.EXPIRED: (
        "盖章时印章证书已过期",
        "the seal certificate had expired when the document was sealed",
    ),
    SubIndication.NOT_YET_VALID: (
        "盖章时印章证书尚未生效",
        "the seal certificate was not yet valid when the document was sealed",
    ),
    SubIndication.SIG_CONSTRAINTS_FAILURE: (
        "印章不得用于此事项或此时",
        "the seal was not allowed to seal this item at that time",
    ),
    SubIndication.TRY_LATER: (
        "信任包已过下次更新时间，无法确认盖章时印章是否已被吊销：请取得最新的信任包后再验证",
        "the trust bundle is past its next update, so whether the seal was revoked is not known: "
        "get a fresh trust bundle and verify again",
    ),
}
_CHECK_WORDS: dict[str, tuple[str, str]] = {
    "format": ("文件格式", "document format"),
    "trust_anchor": ("根证书已固定（信任锚）", "district root pinned (trust anchor)"),
    "revocation_freshness": ("信任包是否过期", "trust bundle up to date"),
    "certificate_chain": ("证书链与登记册", "certificate chain and registry"),
    "validity_period": ("证书有效期", "certificate validity period"),
    "revocation_status": ("吊销与暂停状态", "revocation and suspension status"),
    "signing_time": ("签章时间", "signing time"),
    "scope": ("印章使用范围", "seal scope"),
    "payload_digest": ("内容摘要", "content digest"),
    "signature": ("签名值", "signature value"),
    "audit_proof": ("审计日志证明", "audit log proof"),
    "pdf_integrity": ("PDF 签名范围内容摘要", "PDF content digest (signed byte ranges)"),
    "pdf_signature": ("PDF 签名值", "PDF signature value"),
    "pdf_unchanged": ("签名后未被修改", "PDF not changed after signing"),
    "signature_timestamp": ("签名时间戳", "signature time-stamp"),
    "embedded_document": ("所附盖章 JSON 原件", "attached sealed JSON"),
    "printed_content": ("打印内容与 JSON 原件一致", "printed content matches the sealed JSON"),
}


class Check(NamedTuple):
    """One step of verification: ``passed`` is None when the step could not run."""

    name: str
    passed: bool | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        zh, en = _CHECK_WORDS.get(self.name, (self.name, self.name))
        return {"name": self.name, "label": {"zh": zh, "en": en}, "passed": self.passed, "detail": self.detail}


def _words(pair: tuple[str, str] | None) -> dict[str, str] | None:
    return {"zh": pair[0], "en": pair[1]} if pair else None


@dataclass(frozen=True, slots=True)
class TrustFacts:
    """What the verdict was judged against: the root, how it is trusted, how fresh the bundle is."""

    root_fingerprint: str
    anchor: Anchor | None
    bundle_issued_at: datetime
    bundle_next_update: datetime | None = None  # None: the verifier's own registry, always current
    stale_bundle_accepted: bool = False  # past next_update, and the verifier said to accept it

    def to_dict(self) -> dict[str, Any]:
        return {
            "root_sha256": self.root_fingerprint,
            "anchor": self.anchor.to_dict() if self.anchor else None,
            "bundle_issued_at": format_time(self.bundle_issued_at),
            "bundle_next_update": format_time(self.bundle_next_update) if self.bundle_next_update else None,
            "stale_bundle_accepted": self.stale_bundle_accepted,
        }

    def render(self) -> list[str]:
        """Lines for every verdict: the root fingerprint and the anchor, always."""
        lines = [f"根证书 Root SHA-256: {self.root_fingerprint}"]
        if self.anchor:
            lines.append(f"信任锚 Trust anchor: {self.anchor.detail}")
        else:
            lines.append(
                "信任锚 Trust anchor: 未固定 NOT PINNED — 不能据此认定印章真实 / "
                "nothing this bundle vouches for is genuine"
            )
        if self.stale_bundle_accepted and self.bundle_next_update:
            lines.append(
                f"信任包 Trust bundle: 已过期仍按要求采用 / accepted past its next update "
                f"({format_time(self.bundle_next_update)}, --accept-stale-bundle): "
                f"revocations after {format_time(self.bundle_issued_at)} are not known"
            )
        return lines


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What :func:`signing.verify.verifier.verify_document` concluded, and why."""

    indication: Indication
    sub_indication: SubIndication | None
    checks: tuple[Check, ...]
    seal_number: str | None = None
    holder_office: str | None = None
    holder_name: str | None = None
    kind: SealKind | None = None
    item: str | None = None
    request_id: str | None = None
    signed_at: datetime | None = None
    validated_at: datetime | None = None
    revocation_note: str | None = None
    notes: tuple[str, ...] = field(default=())
    trust: TrustFacts | None = None

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    @property
    def root_fingerprint(self) -> str | None:
        """SHA-256 of the root the verdict was judged against."""
        return self.trust.root_fingerprint if self.trust else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times RFC 3339 UTC); ``words`` and each check's ``label`` are for people."""
        return {
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "seal_number": self.seal_number,
            "holder": {"office": self.holder_office, "name": self.holder_name},
            "kind": self.kind.value if self.kind else None,
            "item": self.item,
            "request_id": self.request_id,
            "signed_at": format_time(self.signed_at) if self.signed_at else None,
            "validated_at": format_time(self.validated_at) if self.validated_at else None,
            "revocation_note": self.revocation_note,
            "notes": list(self.notes),
            "root_sha256": self.root_fingerprint,
            "trust": self.trust.to_dict() if self.trust else None,
            "words": {
                "verdict": _words(_VERDICT_WORDS[self.indication]),
                "reason": _words(_REASON_WORDS[self.sub_indication]) if self.sub_indication else None,
                "kind": _words(KIND_WORDS[self.kind]) if self.kind else None,
            },
            "checks": [check.to_dict() for check in self.checks],
        }

    def render(self) -> str:
        """Plain words for people, Chinese first then English on each line."""
        zh, en = _VERDICT_WORDS[self.indication]
        lines = [f"印章验证 / Seal verification: {self.indication.value}", f"  {zh}", f"  {en}"]
        if self.sub_indication:
            rzh, ren = _REASON_WORDS[self.sub_indication]
            lines.append(f"  原因 Reason ({self.sub_indication.value}): {rzh} / {ren}")
            for check in self.checks:  # name the check that failed: the reason alone can be too general
                if check.passed is False:
                    czh, cen = _CHECK_WORDS.get(check.name, (check.name, check.name))
                    lines.append(f"  未通过 Failed: {czh} / {cen}" + (f" — {check.detail}" if check.detail else ""))
        kind_words = " / ".join(KIND_WORDS[self.kind]) if self.kind else "-"
        holder = f"{self.holder_name} ({self.holder_office})" if self.holder_name else "-"
        for label, value in (
            ("印章编号 Seal number", self.seal_number),
            ("持章单位 Holder", holder),
            ("印章类型 Kind", kind_words),
            ("办理事项 Item", self.item),
            ("业务编号 Request", self.request_id),
            ("盖章时间 Signed at", format_time(self.signed_at) if self.signed_at else None),
            ("吊销说明 Revocation", self.revocation_note),
        ):
            if value:
                lines.append(f"{label}: {value}")
        if self.trust:
            lines.extend(self.trust.render())
        lines.extend(f"说明 Note: {note}" for note in self.notes)
        lines.append("检查项 Checks:")
        for check in self.checks:
            mark = {True: "通过 ok ", False: "失败 FAIL", None: "未做 skip"}[check.passed]
            czh, cen = _CHECK_WORDS.get(check.name, (check.name, check.name))
            detail = f" — {check.detail}" if check.detail else ""
            lines.append(f"  [{mark}] {czh} / {cen}{detail}")
        return "\n".join(lines)
