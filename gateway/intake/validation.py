"""Checking materials against the catalogue, reporting every problem at once.

一次性告知: an applicant told about one missing paper, then another, then a
third, makes three trips. So nothing here stops at the first problem: each
check appends to one list, with the field path and a message in Chinese and
English, and the caller answers with all of them together.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.catalogue.items import Item, Material
from gateway.contract import Problem
from gateway.intake.cross_field import Facts, check_rules
from gateway.personal_data.identifiers import credit_code_problem, phone_problem, resident_id_problem, today_in_china
from gateway.problems import echo

_ID_REASONS = {
    "length": ("应为18位", "must be 18 characters"),
    "characters": ("含有非法字符", "contains characters that are not allowed"),
    "region": ("地区代码无效", "has an invalid region code"),
    "birth_date": ("出生日期无效", "has an invalid birth date"),
    "check_digit": ("校验码错误，请核对号码", "has a wrong check character; please re-check the number"),
    "authority": ("登记管理部门代码无效", "has an invalid registration authority code"),
    "format": ("格式不正确", "is not in the right format"),
}


def identifier_problem(path: str, label_zh: str, label_en: str, reason: str) -> Problem:
    """A problem for an ID number, credit code or phone number that failed its check."""
    zh, en = _ID_REASONS[reason]
    return Problem(path, f"invalid_{reason}", f"{label_zh}{zh}", f"{label_en} {en}")


@dataclass(frozen=True)
class _Field:
    """One material's value at ``path``, and how to word a problem with it."""

    material: Material
    path: str
    max_attachment_bytes: int

    def problem(self, code: str, zh: str, en: str, *, sub: str = "") -> Problem:
        """A problem with this field (or its part ``sub``), labelled in both languages."""
        path = f"{self.path}/{sub}" if sub else self.path
        return Problem(path, code, f"{self.material.description_zh}{zh}", f"{self.material.name} {en}")

    def wrong_type(self, zh: str, en: str) -> list[Problem]:
        return [self.problem("type", f"应为{zh}", f"must be {en}")]


def _check_text(field: _Field, value: Any) -> list[Problem]:
    if not isinstance(value, str):
        return field.wrong_type("文本", "a string")
    c, out = field.material.constraints, []
    shortest = c.get("min_length", 1)
    if len(value.strip()) < shortest:
        out.append(field.problem("too_short", f"不能少于{shortest}个字", f"is shorter than {shortest} characters"))
    if "max_length" in c and len(value) > c["max_length"]:
        longest = c["max_length"]
        out.append(field.problem("too_long", f"不能超过{longest}个字", f"is longer than {longest} characters"))
    if "pattern" in c and not re.fullmatch(c["pattern"], value):
        out.append(field.problem("pattern", "格式不正确", "is not in the expected format"))
    return out


def _check_number(field: _Field, value: Any) -> list[Problem]:
    integer = field.material.type == "integer"
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        return field.wrong_type("整数" if integer else "数字", "an integer" if integer else "a number")
    c, out = field.material.constraints, []
    if "minimum" in c and value < c["minimum"]:
        out.append(field.problem("minimum", f"不能小于{c['minimum']}", f"must be at least {c['minimum']}"))
    if "maximum" in c and value > c["maximum"]:
        out.append(field.problem("maximum", f"不能大于{c['maximum']}", f"must be at most {c['maximum']}"))
    return out


def _check_boolean(field: _Field, value: Any) -> list[Problem]:
    return [] if isinstance(value, bool) else field.wrong_type("是/否", "true or false")


def _check_date(field: _Field, value: Any) -> list[Problem]:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        return [field.problem("date", "应为 YYYY-MM-DD 格式的日期", "must be a date as YYYY-MM-DD")]
    c = field.material.constraints
    if c.get("not_after_today") and day > today_in_china():
        return [field.problem("date_in_future", "不能晚于今天", "cannot be in the future")]
    if c.get("not_before_today") and day < today_in_china():
        return [field.problem("date_in_past", "不能早于今天", "cannot be in the past")]
    return []


def _check_choice(field: _Field, value: Any) -> list[Problem]:
    choices = field.material.constraints["choices"]
    if value in choices:
        return []
    zh, en = "、".join(map(str, choices)), ", ".join(map(str, choices))
    return [field.problem("choice", f"应为以下之一：{zh}", f"must be one of: {en}")]


_IDENTIFIER_CHECKS = {"resident_id": resident_id_problem, "credit_code": credit_code_problem, "phone": phone_problem}


def _check_identifier(field: _Field, value: Any) -> list[Problem]:
    if not isinstance(value, str):
        return field.wrong_type("文本", "a string")
    reason = _IDENTIFIER_CHECKS[field.material.type](value)
    material = field.material
    return [] if reason is None else [identifier_problem(field.path, material.description_zh, material.name, reason)]


def _check_attachment(field: _Field, value: Any) -> list[Problem]:
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("content_base64"), str)
        or not isinstance(value.get("media_type"), str)
    ):
        return [
            field.problem(
                "attachment",
                "应为附件：{media_type, content_base64}",
                "must be an attachment object with media_type and content_base64",
            )
        ]
    out = []
    allowed = field.material.constraints.get("media_types")
    if allowed and value["media_type"] not in allowed:
        zh, en = "、".join(allowed), ", ".join(allowed)
        out.append(field.problem("media_type", f"的文件类型应为：{zh}", f"must be one of: {en}", sub="media_type"))
    limit = min(field.max_attachment_bytes, field.material.constraints.get("max_bytes", field.max_attachment_bytes))
    too_large = field.problem(
        "too_large", f"超过大小上限（{limit}字节）", f"is larger than the limit of {limit} bytes", sub="content_base64"
    )
    encoded = value["content_base64"]
    if len(encoded) > (limit + 2) // 3 * 4 + 4:  # too large before it is even decoded
        return [*out, too_large]
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        base64_problem = field.problem(
            "base64", "的内容不是有效的 Base64 编码", "content is not valid base64", sub="content_base64"
        )
        return [*out, base64_problem]
    if not content:
        out.append(field.problem("empty", "为空文件", "is empty", sub="content_base64"))
    elif len(content) > limit:
        out.append(too_large)
    return out


_CHECKS: dict[str, Callable[[_Field, Any], list[Problem]]] = {
    "text": _check_text,
    "integer": _check_number,
    "number": _check_number,
    "boolean": _check_boolean,
    "date": _check_date,
    "enum": _check_choice,
    "resident_id": _check_identifier,
    "credit_code": _check_identifier,
    "phone": _check_identifier,
    "attachment": _check_attachment,
}


def _check(material: Material, value: Any, path: str, max_attachment_bytes: int) -> list[Problem]:
    """Every problem with one material's value, by its type in the catalogue."""
    return _CHECKS[material.type](_Field(material, path, max_attachment_bytes), value)


def check_materials(
    item: Item,
    materials: Mapping[str, Any],
    *,
    pledged: frozenset[str],
    max_attachment_bytes: int,
    applicant_id: str | None = None,
) -> list[Problem]:
    """Every problem with ``materials`` for ``item``, its cross-field rules included; empty when all is fine.

    ``pledged`` names materials the applicant's pledge replaces (already
    checked to be replaceable); they need not be sent. ``applicant_id`` is
    the applicant's ID number or credit code, for rules that compare with it.
    """
    problems: list[Problem] = []
    valid: dict[str, Any] = {}
    for material in item.materials:
        path = f"materials/{material.name}"
        if material.name not in materials or materials[material.name] in (None, ""):
            if material.required and material.name not in pledged:
                hint_zh = "（可以告知承诺代替）" if material.name in item.pledge_replaces else ""
                hint_en = " (a pledge may replace it)" if material.name in item.pledge_replaces else ""
                problems.append(
                    Problem(
                        path,
                        "required",
                        f"缺少{material.description_zh}{hint_zh}",
                        f"{material.name} is required{hint_en}",
                    )
                )
            continue
        found = _check(material, materials[material.name], path, max_attachment_bytes)
        if not found:
            valid[material.name] = materials[material.name]
        problems.extend(found)
    for name in sorted(set(materials) - {m.name for m in item.materials}):
        shown = echo(name)
        problems.append(
            Problem(
                f"materials/{shown}",
                "unknown_material",
                f"{shown} 不是该事项的申请材料",
                f"{shown} is not a material of {item.code}",
            )
        )
    given = frozenset(name for name, value in materials.items() if value not in (None, ""))
    problems.extend(check_rules(item, Facts(valid, given, pledged, applicant_id)))
    return problems


def attachment_sizes(item: Item, materials: Mapping[str, Any]) -> dict[str, Any]:
    """``materials`` with each (already valid) attachment's decoded size added."""
    out = dict(materials)
    for material in item.materials:
        value = materials.get(material.name)
        if material.type == "attachment" and isinstance(value, Mapping):
            out[material.name] = {**value, "size": len(base64.b64decode(value["content_base64"]))}
    return out
