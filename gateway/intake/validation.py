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
from collections.abc import Mapping
from datetime import date
from typing import Any

from gateway.catalogue.items import Item, Material
from gateway.contract import Problem
from gateway.personal_data.identifiers import credit_code_problem, phone_problem, resident_id_problem, today_in_china

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


def _check(material: Material, value: Any, path: str, max_attachment_bytes: int) -> list[Problem]:
    c = material.constraints
    label = material.description_zh
    kind = material.type

    def wrong_type(zh: str, en: str) -> list[Problem]:
        return [Problem(path, "type", f"{label}应为{zh}", f"{material.name} must be {en}")]

    if kind == "text":
        if not isinstance(value, str):
            return wrong_type("文本", "a string")
        out = []
        if len(value.strip()) < c.get("min_length", 1):
            out.append(
                Problem(
                    path,
                    "too_short",
                    f"{label}不能少于{c.get('min_length', 1)}个字",
                    f"{material.name} is shorter than {c.get('min_length', 1)} characters",
                )
            )
        if "max_length" in c and len(value) > c["max_length"]:
            out.append(
                Problem(
                    path,
                    "too_long",
                    f"{label}不能超过{c['max_length']}个字",
                    f"{material.name} is longer than {c['max_length']} characters",
                )
            )
        if "pattern" in c and not re.fullmatch(c["pattern"], value):
            out.append(Problem(path, "pattern", f"{label}格式不正确", f"{material.name} is not in the expected format"))
        return out
    if kind in ("integer", "number"):
        ok = int if kind == "integer" else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok):
            return wrong_type(
                "整数" if kind == "integer" else "数字", "an integer" if kind == "integer" else "a number"
            )
        out = []
        if "minimum" in c and value < c["minimum"]:
            out.append(
                Problem(
                    path,
                    "minimum",
                    f"{label}不能小于{c['minimum']}",
                    f"{material.name} must be at least {c['minimum']}",
                )
            )
        if "maximum" in c and value > c["maximum"]:
            out.append(
                Problem(
                    path, "maximum", f"{label}不能大于{c['maximum']}", f"{material.name} must be at most {c['maximum']}"
                )
            )
        return out
    if kind == "boolean":
        return [] if isinstance(value, bool) else wrong_type("是/否", "true or false")
    if kind == "date":
        try:
            day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
        except ValueError:
            day = None
        if day is None:
            return [
                Problem(
                    path, "date", f"{label}应为 YYYY-MM-DD 格式的日期", f"{material.name} must be a date as YYYY-MM-DD"
                )
            ]
        if c.get("not_after_today") and day > today_in_china():
            return [Problem(path, "date_in_future", f"{label}不能晚于今天", f"{material.name} cannot be in the future")]
        if c.get("not_before_today") and day < today_in_china():
            return [Problem(path, "date_in_past", f"{label}不能早于今天", f"{material.name} cannot be in the past")]
        return []
    if kind == "enum":
        if value not in c["choices"]:
            choices = "、".join(map(str, c["choices"]))
            return [
                Problem(
                    path,
                    "choice",
                    f"{label}应为以下之一：{choices}",
                    f"{material.name} must be one of: {', '.join(map(str, c['choices']))}",
                )
            ]
        return []
    if kind in ("resident_id", "credit_code", "phone"):
        if not isinstance(value, str):
            return wrong_type("文本", "a string")
        check = {"resident_id": resident_id_problem, "credit_code": credit_code_problem, "phone": phone_problem}[kind]
        reason = check(value)
        return [] if reason is None else [identifier_problem(path, label, material.name, reason)]
    return _check_attachment(material, value, path, max_attachment_bytes)


def _check_attachment(material: Material, value: Any, path: str, max_attachment_bytes: int) -> list[Problem]:
    label = material.description_zh
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("content_base64"), str)
        or not isinstance(value.get("media_type"), str)
    ):
        return [
            Problem(
                path,
                "attachment",
                f"{label}应为附件：{{media_type, content_base64}}",
                f"{material.name} must be an attachment object with media_type and content_base64",
            )
        ]
    out = []
    allowed = material.constraints.get("media_types")
    if allowed and value["media_type"] not in allowed:
        out.append(
            Problem(
                f"{path}/media_type",
                "media_type",
                f"{label}的文件类型应为：{'、'.join(allowed)}",
                f"{material.name} must be one of: {', '.join(allowed)}",
            )
        )
    limit = min(max_attachment_bytes, material.constraints.get("max_bytes", max_attachment_bytes))
    encoded = value["content_base64"]
    if len(encoded) > (limit + 2) // 3 * 4 + 4:
        out.append(
            Problem(
                f"{path}/content_base64",
                "too_large",
                f"{label}超过大小上限（{limit}字节）",
                f"{material.name} is larger than the limit of {limit} bytes",
            )
        )
        return out
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        out.append(
            Problem(
                f"{path}/content_base64",
                "base64",
                f"{label}的内容不是有效的 Base64 编码",
                f"{material.name} content is not valid base64",
            )
        )
        return out
    if not content:
        out.append(Problem(f"{path}/content_base64", "empty", f"{label}为空文件", f"{material.name} is empty"))
    elif len(content) > limit:
        out.append(
            Problem(
                f"{path}/content_base64",
                "too_large",
                f"{label}超过大小上限（{limit}字节）",
                f"{material.name} is larger than the limit of {limit} bytes",
            )
        )
    return out


def check_materials(
    item: Item,
    materials: Mapping[str, Any],
    *,
    pledged: frozenset[str],
    max_attachment_bytes: int,
) -> list[Problem]:
    """Every problem with ``materials`` for ``item``; an empty list when they are fine.

    ``pledged`` names materials the applicant's pledge replaces (already
    checked to be replaceable); they need not be sent.
    """
    problems: list[Problem] = []
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
        problems.extend(_check(material, materials[material.name], path, max_attachment_bytes))
    for name in sorted(set(materials) - {m.name for m in item.materials}):
        problems.append(
            Problem(
                f"materials/{name}",
                "unknown_material",
                f"{name} 不是该事项的申请材料",
                f"{name} is not a material of {item.code}",
            )
        )
    return problems


def attachment_sizes(item: Item, materials: Mapping[str, Any]) -> dict[str, Any]:
    """``materials`` with each (already valid) attachment's decoded size added."""
    out = dict(materials)
    for material in item.materials:
        value = materials.get(material.name)
        if material.type == "attachment" and isinstance(value, Mapping):
            out[material.name] = {**value, "size": len(base64.b64decode(value["content_base64"]))}
    return out
