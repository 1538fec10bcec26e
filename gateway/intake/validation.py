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

from gateway.catalogue.items import Item
from gateway.catalogue.materials import Material
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
    """One value at ``path``, the material (or field, or list entry) it must be, and how to word a problem with it.

    ``label_zh`` and ``label_en`` name the place for a person: a material's
    description, or for a structured one the way to it (``members/2/id_number``,
    家庭成员第3项的公民身份号码).
    """

    material: Material
    path: str
    max_attachment_bytes: int
    label_zh: str
    label_en: str

    @classmethod
    def of(cls, material: Material, path: str, max_attachment_bytes: int) -> _Field:
        """A material of the item, at ``path``."""
        return cls(material, path, max_attachment_bytes, material.description_zh, material.name)

    def field(self, spec: Material) -> _Field:
        """A field of this object."""
        label_zh = f"{self.label_zh}的{spec.description_zh}"
        return _Field(
            spec, f"{self.path}/{spec.name}", self.max_attachment_bytes, label_zh, f"{self.label_en}/{spec.name}"
        )

    def entry(self, index: int) -> _Field:
        """Entry ``index`` of this list."""
        spec = self.material.items
        assert spec is not None  # a list always has its entry spec (the catalogue loader checks it)
        label_en = f"{self.label_en}/{index}"
        return _Field(
            spec, f"{self.path}/{index}", self.max_attachment_bytes, f"{self.label_zh}第{index + 1}项", label_en
        )

    def problem(self, code: str, zh: str, en: str, *, sub: str = "") -> Problem:
        """A problem with this field (or its part ``sub``), labelled in both languages."""
        path = f"{self.path}/{sub}" if sub else self.path
        return Problem(path, code, f"{self.label_zh}{zh}", f"{self.label_en} {en}")

    def wrong_type(self, zh: str, en: str) -> list[Problem]:
        return [self.problem("type", f"应为{zh}", f"must be {en}")]


def is_missing(value: Any) -> bool:
    """A value that stands for "not given": absent, null or the empty string (what a blank form field sends)."""
    return value is None or (isinstance(value, str) and value == "")


# Control characters (Unicode Cc) but tab, line feed and carriage return: nothing a person types, and
# what the agencies' XML and GBK interfaces cannot carry. As a JSON Schema pattern, for item schemas.
CONTROL_CHARACTERS = "[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]"
_CONTROL = re.compile(CONTROL_CHARACTERS)


def has_control_character(text: str) -> bool:
    """True when ``text`` holds a control character other than tab, line feed or carriage return."""
    return _CONTROL.search(text) is not None


def _check_text(field: _Field, value: Any) -> list[Problem]:
    if not isinstance(value, str):
        return field.wrong_type("文本", "a string")
    if has_control_character(value):
        return [field.problem("control_character", "含有不可见的控制字符", "holds a control character")]
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


def _is_integer(value: Any) -> bool:
    """An integer as JSON Schema has it: a number with no fractional part (``2025`` and ``2025.0`` alike)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _check_number(field: _Field, value: Any) -> list[Problem]:
    integer = field.material.type == "integer"
    fits = _is_integer(value) if integer else isinstance(value, int | float) and not isinstance(value, bool)
    if not fits:
        return field.wrong_type("整数" if integer else "数字", "an integer" if integer else "a number")
    c, out = field.material.constraints, []
    if "minimum" in c and value < c["minimum"]:
        out.append(field.problem("minimum", f"不能小于{c['minimum']}", f"must be at least {c['minimum']}"))
    if "maximum" in c and value > c["maximum"]:
        out.append(field.problem("maximum", f"不能大于{c['maximum']}", f"must be at most {c['maximum']}"))
    return out


def _check_boolean(field: _Field, value: Any) -> list[Problem]:
    return [] if isinstance(value, bool) else field.wrong_type("是/否", "true or false")


# YYYY-MM-DD and nothing else: Python's date.fromisoformat also reads "2025-W01-1" (a week date) as a date.
DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATE = re.compile(DATE_PATTERN)


def read_date(value: Any) -> date | None:
    """``value`` as a calendar date when it is one written YYYY-MM-DD, else None."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _check_date(field: _Field, value: Any) -> list[Problem]:
    day = read_date(value)
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
    if isinstance(value, str) and value in choices:  # choices are strings: 1 is not "1", and True is not 1
        return []
    zh, en = "、".join(map(str, choices)), ", ".join(map(str, choices))
    return [field.problem("choice", f"应为以下之一：{zh}", f"must be one of: {en}")]


_IDENTIFIER_CHECKS = {"resident_id": resident_id_problem, "credit_code": credit_code_problem, "phone": phone_problem}


def _check_identifier(field: _Field, value: Any) -> list[Problem]:
    if not isinstance(value, str):
        return field.wrong_type("文本", "a string")
    reason = _IDENTIFIER_CHECKS[field.material.type](value)
    return [] if reason is None else [identifier_problem(field.path, field.label_zh, field.label_en, reason)]


ATTACHMENT_KEYS = ("media_type", "filename", "content_base64")
MAX_FILENAME_LENGTH = 255


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
    out = [
        field.problem("unknown_field", f"的 {echo(k)} 不是附件的字段", f"has no field {echo(k)}", sub=echo(k))
        for k in sorted(set(value) - set(ATTACHMENT_KEYS))
    ]
    filename = value.get("filename")
    if not is_missing(filename) and (
        not isinstance(filename, str) or len(filename) > MAX_FILENAME_LENGTH or has_control_character(filename)
    ):
        out.append(
            field.problem(
                "filename",
                f"的文件名应为不超过{MAX_FILENAME_LENGTH}个字符的文本",
                f"filename must be text of at most {MAX_FILENAME_LENGTH} characters",
                sub="filename",
            )
        )
    allowed = field.material.constraints.get("media_types")
    if allowed and value["media_type"] not in allowed:
        zh, en = "、".join(allowed), ", ".join(allowed)
        out.append(field.problem("media_type", f"的文件类型应为：{zh}", f"must be one of: {en}", sub="media_type"))
    return out + _check_content(field, value["content_base64"])


def _check_content(field: _Field, encoded: str) -> list[Problem]:
    limit = field.material.attachment_cap(field.max_attachment_bytes)
    too_large = field.problem(
        "too_large", f"超过大小上限（{limit}字节）", f"is larger than the limit of {limit} bytes", sub="content_base64"
    )
    if len(encoded) > (limit + 2) // 3 * 4:  # too large before it is even decoded
        return [too_large]
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return [
            field.problem("base64", "的内容不是有效的 Base64 编码", "content is not valid base64", sub="content_base64")
        ]
    if not content:
        return [field.problem("empty", "为空文件", "is empty", sub="content_base64")]
    return [too_large] if len(content) > limit else []


def _check_list(field: _Field, value: Any) -> list[Problem]:
    if not isinstance(value, list):
        return field.wrong_type("列表", "a list")
    low, high = field.material.constraints["min_items"], field.material.constraints["max_items"]
    out = []
    if len(value) < low:
        out.append(field.problem("too_few", f"至少应有{low}项", f"needs at least {low} entries"))
    elif len(value) > high:
        out.append(field.problem("too_many", f"最多{high}项", f"may have at most {high} entries"))
    for index, entry in enumerate(value[:high]):  # past the cap, one problem says it all
        out.extend(_check(field.entry(index), entry))
    return out


def _check_object(field: _Field, value: Any) -> list[Problem]:
    if not isinstance(value, Mapping):
        return field.wrong_type("对象", "an object")
    out: list[Problem] = []
    for spec in field.material.fields:
        part = field.field(spec)
        if is_missing(value.get(spec.name)):
            if spec.required:
                out.append(Problem(part.path, "required", f"缺少{part.label_zh}", f"{part.label_en} is required"))
            continue
        out.extend(_check(part, value[spec.name]))
    for name in sorted(set(value) - {spec.name for spec in field.material.fields}):
        shown = echo(name)
        out.append(field.problem("unknown_field", f"没有 {shown} 这一项", f"has no field {shown}", sub=shown))
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
    "list": _check_list,
    "object": _check_object,
}


def _check(field: _Field, value: Any) -> list[Problem]:
    """Every problem with one value, by its type in the catalogue."""
    return _CHECKS[field.material.type](field, value)


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
        if is_missing(materials.get(material.name)):
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
        found = _check(_Field.of(material, path, max_attachment_bytes), materials[material.name])
        if not found:
            valid[material.name] = normalised(material, materials[material.name])
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
    given = frozenset(name for name, value in materials.items() if not is_missing(value))
    problems.extend(check_rules(item, Facts(valid, given, pledged, applicant_id)))
    return problems


def normalised(material: Material, value: Any) -> Any:
    """A valid value as the agency plugin receives it: integers as ``int``, attachments with their decoded ``size``."""
    if material.type == "integer" and isinstance(value, float):
        return int(value)
    if material.type == "attachment":
        return {**value, "size": len(base64.b64decode(value["content_base64"]))}
    if material.type == "list" and material.items is not None:
        return [normalised(material.items, entry) for entry in value]
    if material.type == "object":
        specs = {spec.name: spec for spec in material.fields}
        return {name: v if is_missing(v) else normalised(specs[name], v) for name, v in value.items()}
    return value


def prepared_materials(item: Item, materials: Mapping[str, Any]) -> dict[str, Any]:
    """``materials`` (already valid) as the agency plugin receives them (see :func:`normalised`)."""
    out = dict(materials)
    for material in item.materials:
        if not is_missing(materials.get(material.name)):
            out[material.name] = normalised(material, materials[material.name])
    return out
