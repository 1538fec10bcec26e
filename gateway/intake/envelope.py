"""The intake envelope: parsing ``POST /v1/requests`` bodies into requests.

The envelope is the same for every item: ``item``, ``applicant``,
``materials``, ``office``, ``operator``, ``channel`` and optionally
``pledge``, ``callback_url`` and a proxy's ``authorisation``. Parsing collects every problem rather than
stopping at the first, and hands the materials to :mod:`gateway.intake.validation`
so the caller gets one complete list. What it returns,
:class:`~gateway.delivery.accepted.Envelope`, is what delivery takes to the agency.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.catalogue.items import CHANNELS, Item
from gateway.config import MAX_CALLBACK_URL_LENGTH, CallbackTarget, parse_callback_url
from gateway.contract import Applicant, Pledge, Problem
from gateway.delivery.accepted import Envelope
from gateway.errors import UnsafeCallbackUrl
from gateway.intake.validation import (
    check_materials,
    has_control_character,
    identifier_problem,
    prepared_materials,
)
from gateway.personal_data.identifiers import credit_code_problem, phone_problem, resident_id_problem
from gateway.problems import echo
from gateway.proxy.authorisation import parse_authorisation

ENVELOPE_FIELDS = frozenset(
    {"item", "applicant", "materials", "office", "operator", "channel", "pledge", "callback_url", "authorisation"}
)
APPLICANT_FIELDS = ("kind", "id_type", "id_number", "name", "phone")
PLEDGE_FIELDS = ("replaces", "statement", "signed_by", "signed_at")
MAX_NAME_LENGTH = 100
MAX_OPERATOR_LENGTH = 64
MAX_STATEMENT_LENGTH = 2000
MAX_SIGNED_BY_LENGTH = 100
# Letters and digits of any script (Python's \w), and . - _ @; the whole value, a trailing newline included.
OPERATOR_PATTERN = r"^[\w.\-@]+$"
_OPERATOR = re.compile(OPERATOR_PATTERN)
# RFC 3339 date-time with its offset; Python's fromisoformat alone also reads "20260101T1000+0800" and week dates.
SIGNED_AT_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
_SIGNED_AT = re.compile(SIGNED_AT_PATTERN)
ID_TYPES = {"person": "resident_id", "organisation": "credit_code"}


def _p(path: str, code: str, zh: str, en: str) -> Problem:
    return Problem(path, code, zh, en)


def _too_long(path: str, label_zh: str, label_en: str, limit: int) -> Problem:
    """A value over one of the envelope's length limits, naming the limit."""
    return _p(path, "too_long", f"{label_zh}不能超过{limit}个字符", f"{label_en} is longer than {limit} characters")


def _unknown(raw: Mapping[str, Any], known: tuple[str, ...], where: str, problems: list[Problem]) -> None:
    """A field the envelope does not have is refused, not ignored: a typo would otherwise pass unseen."""
    for name in sorted(set(raw) - set(known)):
        shown = echo(name)
        problems.append(
            _p(f"{where}/{shown}", "unknown_field", f"未知字段 {where}/{shown}", f"{where} has no field {shown}")
        )


def _control(path: str, label_zh: str, label_en: str) -> Problem:
    return _p(path, "control_character", f"{label_zh}含有不可见的控制字符", f"{label_en} holds a control character")


def _applicant(raw: Any, item: Item, problems: list[Problem]) -> Applicant | None:
    if not isinstance(raw, Mapping):
        problems.append(_p("applicant", "required", "缺少申请人信息", "applicant is required (an object)"))
        return None
    _unknown(raw, APPLICANT_FIELDS, "applicant", problems)
    kind = raw.get("kind")
    if kind not in ID_TYPES:
        problems.append(
            _p(
                "applicant/kind",
                "choice",
                "申请人类型应为 person（个人）或 organisation（单位）",
                "applicant/kind must be 'person' or 'organisation'",
            )
        )
        return None
    if kind not in item.applicant_kinds:
        allowed = "、".join(item.applicant_kinds)
        problems.append(
            _p(
                "applicant/kind",
                "not_allowed",
                f"该事项的申请人应为：{allowed}",
                f"{item.code} is for applicants of kind: {', '.join(item.applicant_kinds)}",
            )
        )
    id_type = raw.get("id_type", ID_TYPES[kind])
    if id_type != ID_TYPES[kind]:
        problems.append(
            _p(
                "applicant/id_type",
                "choice",
                f"证件类型应为 {ID_TYPES[kind]}",
                f"applicant/id_type must be {ID_TYPES[kind]!r} for a {kind}",
            )
        )
    id_number = raw.get("id_number")
    label_zh, label_en = (
        ("公民身份号码", "resident ID number") if kind == "person" else ("统一社会信用代码", "credit code")
    )
    if not isinstance(id_number, str) or not id_number:
        problems.append(_p("applicant/id_number", "required", f"缺少{label_zh}", f"applicant {label_en} is required"))
    else:
        check = resident_id_problem if kind == "person" else credit_code_problem
        reason = check(id_number)
        if reason:
            problems.append(identifier_problem("applicant/id_number", label_zh, label_en, reason))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(_p("applicant/name", "required", "缺少申请人姓名或名称", "applicant/name is required"))
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(_too_long("applicant/name", "申请人姓名或名称", "applicant/name", MAX_NAME_LENGTH))
    elif has_control_character(name):
        problems.append(_control("applicant/name", "申请人姓名或名称", "applicant/name"))
    phone = raw.get("phone")
    if phone is not None and (not isinstance(phone, str) or phone_problem(phone)):
        problems.append(identifier_problem("applicant/phone", "联系电话", "phone", "format"))
    if not isinstance(id_number, str) or not isinstance(name, str):
        return None
    return Applicant(kind=kind, id_type=id_type, id_number=id_number.upper(), name=name.strip(), phone=phone)


def _pledge(raw: Any, item: Item, problems: list[Problem]) -> Pledge | None:
    if raw is None:
        return None
    if not item.pledge_replaces:
        problems.append(_p("pledge", "not_allowed", "该事项不适用告知承诺制", f"{item.code} does not accept a pledge"))
        return None
    if not isinstance(raw, Mapping):
        problems.append(_p("pledge", "type", "告知承诺应为对象", "pledge must be an object"))
        return None
    _unknown(raw, PLEDGE_FIELDS, "pledge", problems)
    replaces = raw.get("replaces")
    ok = True
    if not isinstance(replaces, list) or not replaces or not all(isinstance(r, str) for r in replaces):
        problems.append(
            _p("pledge/replaces", "required", "请列明承诺代替的材料", "pledge/replaces must list material names")
        )
        ok = False
    else:
        for name in replaces:
            if name not in item.pledge_replaces:
                problems.append(
                    _p(
                        "pledge/replaces",
                        "not_replaceable",
                        f"材料 {name} 不能以告知承诺代替",
                        f"{name} cannot be replaced by a pledge for {item.code}",
                    )
                )
                ok = False
    for key, zh, longest in (
        ("statement", "承诺内容", MAX_STATEMENT_LENGTH),
        ("signed_by", "承诺人", MAX_SIGNED_BY_LENGTH),
    ):
        text = raw.get(key)
        if not isinstance(text, str) or not text.strip():
            problems.append(_p(f"pledge/{key}", "required", f"缺少{zh}", f"pledge/{key} is required"))
        elif len(text) > longest:
            problems.append(_too_long(f"pledge/{key}", zh, f"pledge/{key}", longest))
        elif has_control_character(text):
            problems.append(_control(f"pledge/{key}", zh, f"pledge/{key}"))
        else:
            continue
        ok = False
    signed_at = raw.get("signed_at")
    stamp = _signed_at(signed_at)
    if stamp is None or stamp.tzinfo is None:
        problems.append(
            _p(
                "pledge/signed_at",
                "date",
                "承诺时间应为带时区的 ISO 8601 时间",
                "pledge/signed_at must be an ISO 8601 time with a UTC offset",
            )
        )
        ok = False
    if not ok:
        return None
    assert isinstance(replaces, list) and isinstance(signed_at, str)  # checked above, else ok is False
    return Pledge(tuple(replaces), raw["statement"].strip(), raw["signed_by"].strip(), signed_at)


def _signed_at(value: Any) -> datetime | None:
    """An RFC 3339 time, or None; Python's fromisoformat alone also reads forms RFC 3339 does not have."""
    if not isinstance(value, str) or not _SIGNED_AT.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _callback(raw: Any, problems: list[Problem]) -> CallbackTarget | None:
    """The callback URL parsed and normalised; what is stored and called is its normalised form."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        problems.append(_p("callback_url", "type", "回调地址应为文本", "callback_url must be a string"))
        return None
    if len(raw) > MAX_CALLBACK_URL_LENGTH:
        problems.append(_too_long("callback_url", "回调地址", "callback_url", MAX_CALLBACK_URL_LENGTH))
        return None
    try:
        target = parse_callback_url(raw)
    except UnsafeCallbackUrl as exc:
        problems.append(
            _p("callback_url", "url", f"回调地址不是可以安全比对的 http(s) URL：{exc}", f"callback_url {exc}")
        )
        return None
    if len(target.url) > MAX_CALLBACK_URL_LENGTH:  # normalising may lengthen it ("https://host" gains its "/")
        problems.append(
            _too_long("callback_url", "回调地址（规范化后）", "callback_url, normalised,", MAX_CALLBACK_URL_LENGTH)
        )
        return None
    return target


def _operator(raw: Any, problems: list[Problem]) -> None:
    if raw is None or raw == "":
        problems.append(
            _p(
                "operator",
                "required",
                "缺少受理人员编号（首问负责）",
                "operator (the accepting staff member's id) is required",
            )
        )
    elif not isinstance(raw, str):
        problems.append(_p("operator", "type", "受理人员编号应为文本", "operator must be a string"))
    elif len(raw) > MAX_OPERATOR_LENGTH:
        problems.append(_too_long("operator", "受理人员编号", "operator", MAX_OPERATOR_LENGTH))
    elif not _OPERATOR.fullmatch(raw):
        problems.append(
            _p(
                "operator",
                "pattern",
                "受理人员编号只能包含字母、数字和 . - _ @",
                "operator may hold letters, digits and . - _ @ only",
            )
        )


def parse_envelope(
    body: Mapping[str, Any], item: Item, *, max_attachment_bytes: int
) -> tuple[Envelope | None, list[Problem]]:
    """Check every part of the envelope for ``item``; returns the envelope or the problems."""
    problems: list[Problem] = []
    for name in sorted(set(body) - ENVELOPE_FIELDS):
        shown = echo(name)
        problems.append(_p(shown, "unknown_field", f"未知字段 {shown}", f"{shown} is not an envelope field"))
    applicant = _applicant(body.get("applicant"), item, problems)
    office = body.get("office")
    if office is None:
        problems.append(_p("office", "required", "缺少受理机构代码", "office (the 12-digit office code) is required"))
    elif not isinstance(office, str) or not re.fullmatch(r"\d{12}", office, re.ASCII):
        problems.append(
            _p("office", "pattern", "受理机构应为12位行政区划代码", "office must be the 12-digit office code")
        )
    _operator(body.get("operator"), problems)
    channel = body.get("channel")
    if channel not in CHANNELS:
        problems.append(
            _p(
                "channel",
                "choice",
                f"受理渠道应为：{'、'.join(CHANNELS)}",
                f"channel must be one of: {', '.join(CHANNELS)}",
            )
        )
    pledge = _pledge(body.get("pledge"), item, problems)
    raw_applicant = body.get("applicant")
    claimed_id = raw_applicant.get("id_number") if isinstance(raw_applicant, Mapping) else None
    authorisation, refused = parse_authorisation(
        body.get("authorisation"),
        item_code=item.code,
        applicant_id=claimed_id if isinstance(claimed_id, str) else None,
        channel=channel,
        now=datetime.now(UTC),
    )
    problems.extend(refused)
    callback = _callback(body.get("callback_url"), problems)
    materials = body.get("materials", {})
    if not isinstance(materials, Mapping):
        problems.append(_p("materials", "type", "申请材料应为对象", "materials must be an object"))
        materials = {}
    pledged = frozenset(pledge.replaces) if pledge else frozenset()
    applicant_id = applicant.id_number if applicant is not None else None
    problems.extend(
        check_materials(
            item, materials, pledged=pledged, max_attachment_bytes=max_attachment_bytes, applicant_id=applicant_id
        )
    )
    if problems or applicant is None:
        return None, problems
    materials = prepared_materials(item, materials)
    operator = body["operator"]
    assert isinstance(office, str) and isinstance(operator, str) and isinstance(channel, str)  # checked above
    url = callback.url if callback is not None else None
    return Envelope(item.code, applicant, materials, office, operator, channel, pledge, url, authorisation), problems
