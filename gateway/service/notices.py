"""The one-time notice (一次性告知书): every missing or wrong material of a refused request, sealed.

When intake refuses an envelope (``422 validation-failed``) the applicant is
owed, in one go, everything that must change and what the item requires
(一次性告知): the problems intake found, each beside the requirement of its
material from the catalogue's service guide, and the whole list of the
item's materials. It is sealed like a result (the item's seal for the
accepting office), verifies with ``onewindow verify`` and prints through
:data:`NOTICE_LAYOUT`. It names the applicant as the envelope gave them
(the notice is their paper); the audit entry holds only codes and digests.
The gateway does not store notices: the same envelope gives the same list.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.catalogue.items import Item
from gateway.catalogue.materials import Material
from gateway.config import Office
from gateway.contract import Problem
from gateway.personal_data.identifiers import CHINA_STANDARD_TIME
from signing.printout.layout import Layout, parse_layout

NOTICE_TYPE = "onewindow.notice.v1"
_SHORT = 64  # an operator id or channel quoted back from the envelope: cut
_NAME = 100

#: How a notice prints: what to bring or correct first, then the item's whole list of materials.
NOTICE_LAYOUT: Layout = parse_layout(
    {
        "title": "一次性告知书",
        "fields": [
            {"key": "noticed_at", "label": "告知时间"},
            {"key": "operator", "label": "告知人员"},
            {"key": "channel", "label": "受理渠道"},
            {"key": "time_limit_days", "label": "承诺时限（工作日）"},
            {"key": "guide_url", "label": "服务指南"},
        ],
        "tables": [
            {
                "key": "problems",
                "title": "需补正的材料和信息",
                "columns": [
                    {"key": "material", "label": "材料/信息"},
                    {"key": "message_zh", "label": "问题"},
                    {"key": "requirement_zh", "label": "要求"},
                ],
            },
            {
                "key": "requirements",
                "title": "本事项申请材料清单",
                "columns": [
                    {"key": "material", "label": "材料"},
                    {"key": "required", "label": "是否必需"},
                    {"key": "description_zh", "label": "说明"},
                    {"key": "notes", "label": "要求"},
                ],
            },
        ],
        "note": "以上为本事项需补正的全部内容，一次性告知。补正后可再次提交申请。",
    }
)

_ENVELOPE_PARTS = {
    "applicant": ("申请人信息", "applicant: kind, name, id_number (resident ID or credit code, check digit verified)"),
    "item": ("办理事项", "a catalogue item code"),
    "office": ("受理单位", "a 12-digit office code this caller may act for"),
    "operator": ("受理人员", "the operator's id"),
    "channel": ("受理渠道", "one of the channels the item allows"),
    "pledge": ("告知承诺", "a pledge replacing only the materials the item allows"),
    "callback_url": ("回调地址", "under one of the caller's configured callback prefixes"),
}


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def requirement(item: Item, material: Material | None, max_attachment_bytes: int) -> tuple[str, str, str]:
    """(label, requirement in Chinese, in English) of one material as the service guide states it."""
    if material is None:
        return "", "", ""
    notes = "; ".join(material.constraint_notes(max_attachment_bytes))
    need = "必需" if material.required else "可选"
    if material.name in item.pledge_replaces:
        need += "（可以告知承诺替代）"
    zh = f"{need}。{material.description_zh}" + (f"（{notes}）" if notes else "")
    en = (material.description_en or material.name) + (f" ({notes})" if notes else "")
    return material.description_zh or material.name, zh, en


def problem_row(item: Item, problem: Problem, max_attachment_bytes: int) -> dict[str, Any]:
    """One row of the notice: where, what is wrong, and what the guide requires there."""
    parts = problem.path.split("/")
    if parts[0] == "materials" and len(parts) > 1:
        label, zh, en = requirement(item, item.material(parts[1]), max_attachment_bytes)
        label = label or parts[1]
    else:
        label, en = _ENVELOPE_PARTS.get(parts[0], (parts[0], ""))
        zh = label
    return {
        "path": problem.path,
        "code": problem.code,
        "material": label,
        "message_zh": problem.message_zh,
        "message_en": problem.message_en,
        "requirement_zh": zh,
        "requirement_en": en,
    }


def notice_document(
    *,
    notice_id: str,
    item: Item,
    agency: Mapping[str, Any],
    office: Office,
    body: Mapping[str, Any],
    problems: list[Problem],
    public_url: str,
    max_attachment_bytes: int,
    issued_at: datetime,
) -> dict[str, Any]:
    """The notice to seal for a refused ``body`` (the same header members as a result document)."""
    applicant = body.get("applicant") if isinstance(body.get("applicant"), Mapping) else {}
    assert isinstance(applicant, Mapping)
    return {
        "document_type": NOTICE_TYPE,
        "request_id": notice_id,
        "item": item.code,
        "item_name": {"zh": item.name_zh, "en": item.name_en},
        "agency": dict(agency),
        "office": {"code": office.code, "name": office.name},
        "applicant": {
            "kind": _text(applicant.get("kind"), _SHORT),
            "name": _text(applicant.get("name"), _NAME),
            "id_number": _text(applicant.get("id_number"), _SHORT),
        },
        "agency_reference": None,
        "issued_at": issued_at.isoformat(timespec="seconds"),
        "content": {
            "noticed_at": issued_at.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M") + " (UTC+8)",
            "operator": _text(body.get("operator"), _SHORT),
            "channel": _text(body.get("channel"), _SHORT),
            "time_limit_days": item.time_limit_days,
            "guide_url": f"{public_url}/v1/catalog/{item.code}",
            "problems": [problem_row(item, p, max_attachment_bytes) for p in problems],
            "requirements": [
                {
                    "material": m.description_zh or m.name,
                    "name": m.name,
                    "required": "必需" if m.required else "可选",
                    "description_zh": m.description_zh,
                    "notes": "; ".join(m.constraint_notes(max_attachment_bytes)),
                }
                for m in item.materials
            ],
            "conditions_zh": "；".join(item.conditions_zh),
        },
    }
