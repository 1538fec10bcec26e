"""Materials (申请材料): what an item asks an applicant for, their types and constraints.

Apart from the items that use them so that cross-field rules
(:mod:`gateway.catalogue.rules`) can name materials without importing the
catalogue that holds the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MATERIAL_TYPES = (
    "text",
    "integer",
    "number",
    "boolean",
    "date",
    "enum",
    "resident_id",
    "credit_code",
    "phone",
    "attachment",
    "list",
    "object",
)
STRUCTURED_TYPES = ("list", "object")


@dataclass(frozen=True)
class Material:
    """One material (申请材料) an item asks for."""

    name: str
    type: str
    required: bool
    description_zh: str
    description_en: str = ""
    constraints: Mapping[str, Any] = field(default_factory=dict)
    sample: Any = None
    items: Material | None = None  # a list: what each of its entries is
    fields: tuple[Material, ...] = ()  # an object: its fields

    def attachment_cap(self, max_attachment_bytes: int) -> int:
        """The decoded size an attachment may have: its own ``max_bytes`` or the gateway's limit, the smaller."""
        declared: int = self.constraints.get("max_bytes", max_attachment_bytes)
        return min(max_attachment_bytes, declared)

    def guide(self, max_attachment_bytes: int | None = None) -> dict[str, Any]:
        """The material as shown in the service guide.

        With ``max_attachment_bytes`` (the gateway's own limit) an attachment's
        ``max_bytes`` is the cap that really applies, not the one the catalogue asks for.
        """
        constraints = dict(self.constraints)
        if self.type == "attachment" and max_attachment_bytes is not None:
            constraints["max_bytes"] = self.attachment_cap(max_attachment_bytes)
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "description_zh": self.description_zh,
            "description_en": self.description_en,
            "constraints": constraints,
        }
        if self.items is not None:
            out["items"] = self.items.guide(max_attachment_bytes)
        if self.fields:
            out["fields"] = [f.guide(max_attachment_bytes) for f in self.fields]
        return out

    def constraint_notes(self, max_attachment_bytes: int | None = None) -> list[str]:
        """The material's constraints in words, for a person reading the guide on a terminal.

        ``max_attachment_bytes`` is the gateway's own limit, which caps an attachment's ``max_bytes``.
        """
        c, notes = self.constraints, []
        if self.type == "enum":
            notes.append("one of: " + ", ".join(map(str, c["choices"])))
        elif self.type == "text":
            low, high = c.get("min_length"), c.get("max_length")
            if low is not None and high is not None:
                notes.append(f"{low}-{high} characters")
            elif low is not None or high is not None:
                notes.append(f"at least {low} characters" if high is None else f"at most {high} characters")
            if "pattern" in c:
                notes.append(f"pattern {c['pattern']}")
        elif self.type in ("integer", "number"):
            low, high = c.get("minimum"), c.get("maximum")
            if low is not None and high is not None:
                notes.append(f"from {low} to {high}")
            elif low is not None or high is not None:
                notes.append(f"at least {low}" if high is None else f"at most {high}")
        elif self.type == "date":
            notes.append("YYYY-MM-DD")
            notes += [f"not {when} today" for when in ("after", "before") if c.get(f"not_{when}_today")]
        elif self.type in _IDENTIFIER_NOTES:
            notes.append(_IDENTIFIER_NOTES[self.type])
        elif self.type == "list":
            notes.append(f"a list of {c['min_items']}-{c['max_items']} entries")
        elif self.type == "object":
            notes.append("fields: " + ", ".join(f.name + ("" if f.required else "?") for f in self.fields))
        elif self.type == "attachment":
            if c.get("media_types"):
                notes.append("media types: " + ", ".join(c["media_types"]))
            limit = c.get("max_bytes", max_attachment_bytes)
            if limit is not None and max_attachment_bytes is not None and limit > max_attachment_bytes:
                notes.append(
                    f"at most {_size(max_attachment_bytes)} (the item allows {_size(limit)}; "
                    "server.max_attachment_bytes is lower)"
                )
            elif limit is not None:
                notes.append(f"at most {_size(limit)}")
        return notes


MAX_LIST_ITEMS = 100  # a list material's max_items when its catalogue entry names none

_IDENTIFIER_NOTES = {
    "resident_id": "resident ID number, check digit verified (GB 11643)",
    "credit_code": "unified social credit code, check character verified (GB 32100)",
    "phone": "mainland mobile number",
}


def _size(count: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count:,} bytes"
