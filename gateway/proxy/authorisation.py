"""The applicant's authorisation of a proxy (授权委托), as an intake envelope carries it.

A helper (channel ``helper``) acts only on the applicant's signed word:
who authorises whom, for which items, until when. The gateway checks every
part at once and reports each problem with the envelope's others (一次性告知):
an expired, out-of-scope or unsigned authorisation is refused before the
agency is called. The signature is either the number of the signed paper
form the service centre keeps, or the signed form itself as an attachment.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.contract import Problem
from gateway.personal_data.identifiers import resident_id_problem
from gateway.personal_data.masking import mask_id, mask_name

#: The channel whose requests must carry an authorisation; others may carry one (a proxy at the window).
PROXY_CHANNEL = "helper"
AUTHORISATION_FIELDS = ("applicant_id", "proxy", "items", "valid_until", "signature")
PROXY_FIELDS = ("name", "id_number")
SIGNATURE_KINDS = ("paper_form", "attachment")
SIGNATURE_MEDIA_TYPES = ("application/pdf", "image/jpeg", "image/png")
MAX_SIGNATURE_BYTES = 2 * 1024 * 1024
MAX_ITEMS = 50
MAX_PROXY_NAME_LENGTH = 100
FORM_NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9\-/]{3,63}$"
VALID_UNTIL_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
_FORM_NUMBER = re.compile(FORM_NUMBER_PATTERN)
_VALID_UNTIL = re.compile(VALID_UNTIL_PATTERN)
_PATH = "authorisation"


@dataclass(frozen=True)
class Authorisation:
    """A checked authorisation: applicant ``applicant_id`` lets the proxy act for ``items`` until ``valid_until``."""

    applicant_id: str
    proxy_name: str
    proxy_id_number: str
    items: tuple[str, ...]
    valid_until: str
    signature: Mapping[str, Any]  # {"kind": "paper_form", "form_number"} or {"kind": "attachment", ...}


def _p(path: str, code: str, zh: str, en: str) -> Problem:
    return Problem(path, code, zh, en)


def _unknown(raw: Mapping[str, Any], known: tuple[str, ...], where: str, problems: list[Problem]) -> None:
    for name in sorted(set(raw) - set(known)):
        shown = name if len(name) <= 40 and name.isprintable() else "…"
        problems.append(_p(f"{where}/{shown}", "unknown_field", f"未知字段 {where}/{shown}", f"{where} has no {shown}"))


def _valid_until(raw: Any, now: datetime, problems: list[Problem]) -> str | None:
    path = f"{_PATH}/valid_until"
    stamp = None
    if isinstance(raw, str) and _VALID_UNTIL.fullmatch(raw):
        try:
            stamp = datetime.fromisoformat(raw)
        except ValueError:
            stamp = None
    if stamp is None:
        problems.append(
            _p(
                path,
                "date",
                "授权有效期应为带时区的 ISO 8601 时间",
                "valid_until must be an RFC 3339 time with an offset",
            )
        )
        return None
    if stamp <= now:
        problems.append(
            _p(
                path,
                "expired",
                "授权委托已过有效期，请申请人重新签署授权",
                "the authorisation expired: the applicant must sign a new one",
            )
        )
        return None
    return str(raw)


def _proxy(raw: Any, applicant_id: str | None, problems: list[Problem]) -> tuple[str, str] | None:
    path = f"{_PATH}/proxy"
    if not isinstance(raw, Mapping):
        problems.append(_p(path, "required", "缺少受托代办人信息", "proxy (name and id_number) is required"))
        return None
    _unknown(raw, PROXY_FIELDS, path, problems)
    name, number = raw.get("name"), raw.get("id_number")
    ok = True
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_PROXY_NAME_LENGTH or not name.isprintable():
        problems.append(
            _p(f"{path}/name", "required", "缺少受托代办人姓名", "proxy/name is required (printable, 100 at most)")
        )
        ok = False
    if not isinstance(number, str) or not number:
        problems.append(
            _p(f"{path}/id_number", "required", "缺少受托代办人公民身份号码", "proxy/id_number is required")
        )
        return None
    reason = resident_id_problem(number)
    if reason:
        problems.append(
            _p(
                f"{path}/id_number",
                f"invalid_{reason}",
                "受托代办人公民身份号码无效",
                f"proxy/id_number is not valid ({reason})",
            )
        )
        return None
    if applicant_id is not None and number.upper() == applicant_id.upper():
        problems.append(
            _p(f"{path}/id_number", "is_applicant", "受托代办人不能是申请人本人", "the proxy cannot be the applicant")
        )
        ok = False
    return (name.strip(), number.upper()) if ok and isinstance(name, str) else None


def _items(raw: Any, item_code: str, problems: list[Problem]) -> tuple[str, ...] | None:
    path = f"{_PATH}/items"
    if not isinstance(raw, list) or not raw or len(raw) > MAX_ITEMS or not all(isinstance(i, str) for i in raw):
        problems.append(
            _p(
                path,
                "required",
                "请列明授权代办的事项编码",
                f"items must list the authorised item codes (1 to {MAX_ITEMS})",
            )
        )
        return None
    if item_code not in raw:
        problems.append(
            _p(
                path,
                "out_of_scope",
                f"授权委托不包含本事项 {item_code}",
                f"the authorisation does not cover {item_code}",
            )
        )
        return None
    return tuple(raw)


def _signature(raw: Any, problems: list[Problem]) -> dict[str, Any] | None:
    """The signed form: its number, or the form as an attachment (decoded, so its digest can be recorded)."""
    path = f"{_PATH}/signature"
    unsigned = _p(
        path,
        "unsigned",
        "授权委托未经申请人签字：请提供签字授权书编号或签字授权书附件",
        "the authorisation is not signed: give the signed form's number or the signed form as an attachment",
    )
    if not isinstance(raw, Mapping) or raw.get("kind") not in SIGNATURE_KINDS:
        problems.append(unsigned)
        return None
    if raw["kind"] == "paper_form":
        _unknown(raw, ("kind", "form_number"), path, problems)
        number = raw.get("form_number")
        if not isinstance(number, str) or not _FORM_NUMBER.fullmatch(number):
            problems.append(unsigned)
            return None
        return {"kind": "paper_form", "form_number": number}
    _unknown(raw, ("kind", "media_type", "filename", "content_base64"), path, problems)
    media, name, content = raw.get("media_type"), raw.get("filename"), raw.get("content_base64")
    try:
        data = base64.b64decode(content, validate=True) if isinstance(content, str) and content else b""
    except (binascii.Error, ValueError):
        data = b""
    if media not in SIGNATURE_MEDIA_TYPES or not data or (name is not None and not isinstance(name, str)):
        problems.append(unsigned)
        return None
    if len(data) > MAX_SIGNATURE_BYTES:
        problems.append(
            _p(path, "too_large", "签字授权书附件过大", f"the signed form is larger than {MAX_SIGNATURE_BYTES} bytes")
        )
        return None
    return {
        "kind": "attachment",
        "media_type": media,
        "filename": name or "authorisation",
        "content_base64": content,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def parse_authorisation(
    raw: Any, *, item_code: str, applicant_id: str | None, channel: Any, now: datetime
) -> tuple[Authorisation | None, list[Problem]]:
    """Check an envelope's ``authorisation`` for ``item_code``; every problem is returned, none raised."""
    problems: list[Problem] = []
    if raw is None:
        if channel == PROXY_CHANNEL:
            problems.append(
                _p(
                    _PATH,
                    "required",
                    "帮办代办须提交申请人签字的授权委托",
                    "a helper's request must carry the applicant's signed authorisation",
                )
            )
        return None, problems
    if not isinstance(raw, Mapping):
        return None, [_p(_PATH, "type", "授权委托应为对象", "authorisation must be an object")]
    _unknown(raw, AUTHORISATION_FIELDS, _PATH, problems)
    grantor = raw.get("applicant_id")
    if not isinstance(grantor, str) or not grantor:
        problems.append(_p(f"{_PATH}/applicant_id", "required", "缺少授权人证件号码", "applicant_id is required"))
    elif applicant_id is not None and grantor.upper() != applicant_id.upper():
        problems.append(
            _p(
                f"{_PATH}/applicant_id",
                "not_applicant",
                "授权人不是本次申请的申请人",
                "the authorisation was given by someone other than the applicant",
            )
        )
    proxy = _proxy(raw.get("proxy"), applicant_id, problems)
    items = _items(raw.get("items"), item_code, problems)
    valid_until = _valid_until(raw.get("valid_until"), now, problems)
    signature = _signature(raw.get("signature"), problems)
    if problems or proxy is None or items is None or valid_until is None or signature is None:
        return None, problems
    assert isinstance(grantor, str)
    return Authorisation(grantor.upper(), proxy[0], proxy[1], items, valid_until, signature), problems


def stored_authorisation(authorisation: Authorisation) -> dict[str, Any]:
    """The authorisation as the store keeps it with its request (the signed form included)."""
    return {
        "applicant_id": authorisation.applicant_id,
        "proxy": {"name": authorisation.proxy_name, "id_number": authorisation.proxy_id_number},
        "items": list(authorisation.items),
        "valid_until": authorisation.valid_until,
        "signature": dict(authorisation.signature),
    }


def authorisation_from_stored(data: Mapping[str, Any] | None) -> Authorisation | None:
    """Rebuild a stored authorisation without checking it again (it was valid when the request was accepted)."""
    if not data:
        return None
    proxy = data["proxy"]
    return Authorisation(
        data["applicant_id"],
        proxy["name"],
        proxy["id_number"],
        tuple(data["items"]),
        data["valid_until"],
        dict(data["signature"]),
    )


def signature_reference(authorisation: Authorisation) -> dict[str, Any]:
    """What names the signed form without carrying it: its number, or the attachment's digest."""
    sig = authorisation.signature
    if sig["kind"] == "paper_form":
        return {"kind": "paper_form", "form_number": sig["form_number"]}
    return {"kind": "attachment", "media_type": sig["media_type"], "size": sig["size"], "sha256": sig["sha256"]}


def sealed_proxy(authorisation: Authorisation) -> dict[str, Any]:
    """The proxy as the sealed result names them: the name, the ID number masked, the authorisation's reference."""
    return {
        "name": authorisation.proxy_name,
        "id_number": mask_id(authorisation.proxy_id_number),
        "authorised_until": authorisation.valid_until,
        "authorisation": signature_reference(authorisation),
    }


def audit_fields(authorisation: Authorisation) -> dict[str, Any]:
    """The authorisation as an audit entry records it: every personal value masked."""
    return {
        "proxy_name": mask_name(authorisation.proxy_name),
        "proxy_id": mask_id(authorisation.proxy_id_number),
        "applicant_id": mask_id(authorisation.applicant_id),
        "scope": list(authorisation.items),
        "valid_until": authorisation.valid_until,
        "signature": signature_reference(authorisation),
    }
