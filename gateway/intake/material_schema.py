"""One material as JSON Schema (2020-12): what :mod:`gateway.intake.validation` checks, said for a client.

Generated from the catalogue entry, never written by hand, so the schema a
window system validates against and the checks the gateway runs cannot
drift apart; a test holds them together on generated envelopes. Where a
check is beyond JSON Schema (a check digit, a date relative to today) the
schema says so in its ``description`` and checks the shape it can.
"""

from __future__ import annotations

from typing import Any

from gateway.catalogue.materials import Material
from gateway.intake.validation import CONTROL_CHARACTERS, DATE_PATTERN, MAX_FILENAME_LENGTH
from gateway.personal_data.identifiers import CREDIT_CODE_PATTERN, PHONE_PATTERN, RESIDENT_ID_PATTERN

# What str.strip() strips (str.isspace()), spelt out: \s means other characters to other regex dialects.
_SPACE = (
    "\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
)
NO_CONTROL_CHARACTERS = f"^[^{CONTROL_CHARACTERS[1:-1]}]*$"
# Padded base64 (RFC 4648 section 4), as base64.b64decode(validate=True) reads it.
BASE64_PATTERN = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
ABSENT: dict[str, Any] = {"enum": [None, ""], "description": "not given (null or empty, as a blank form field)"}

_IDENTIFIERS = {
    "resident_id": (
        RESIDENT_ID_PATTERN,
        "Resident ID number (GB 11643). The gateway also checks the birth date is a real day, not in the future, "
        "and the check character (ISO 7064 MOD 11-2), which JSON Schema cannot express.",
    ),
    "credit_code": (
        CREDIT_CODE_PATTERN,
        "Unified social credit code (GB 32100). The gateway also checks the check character (MOD 31), "
        "which JSON Schema cannot express.",
    ),
    "phone": (PHONE_PATTERN, "Mainland mobile number, 11 digits."),
}


def stripped_length_pattern(shortest: int) -> str:
    """A pattern matching text with at least ``shortest`` characters between its first and last non-space."""
    solid = f"[^{_SPACE}]"
    return solid if shortest == 1 else f"{solid}[\\s\\S]{{{shortest - 2},}}{solid}"


def text_schema(*, shortest: int = 1, longest: int | None = None, pattern: str | None = None) -> dict[str, Any]:
    """A text value: no control characters, ``shortest`` characters besides surrounding space, ``longest`` in all."""
    patterns = [NO_CONTROL_CHARACTERS]
    if shortest > 0:
        patterns.append(stripped_length_pattern(shortest))
    if pattern is not None:
        patterns.append(f"^(?:{pattern})$")  # fullmatch, as the gateway checks it
    out: dict[str, Any] = {"type": "string", "minLength": shortest, "allOf": [{"pattern": p} for p in patterns]}
    if longest is not None:
        out["maxLength"] = longest
    return out


def base64_schema(cap: int) -> dict[str, Any]:
    """Padded base64 of 1 to ``cap`` bytes: the length bound is exact, the last group's padding included."""
    longest = (cap + 2) // 3 * 4
    out: dict[str, Any] = {
        "type": "string",
        "contentEncoding": "base64",
        "minLength": 4,
        "maxLength": longest,
        "pattern": BASE64_PATTERN,
        "description": f"base64 of at most {cap} bytes (decoded)",
    }
    if cap % 3:  # at the longest, only padding keeps the decoded size within the cap
        out["anyOf"] = [{"maxLength": longest - 1}, {"pattern": "==$" if cap % 3 == 1 else "=$"}]
    return out


def material_schema(material: Material, max_attachment_bytes: int) -> dict[str, Any]:
    """The JSON Schema of a value of ``material`` (given: "absent" is the caller's to allow)."""
    c = material.constraints
    kind = material.type
    if kind == "text":
        out = text_schema(shortest=c.get("min_length", 1), longest=c.get("max_length"), pattern=c.get("pattern"))
    elif kind in ("integer", "number"):
        out = {"type": kind} | {k: c[k] for k in ("minimum", "maximum") if k in c}
    elif kind == "boolean":
        out = {"type": "boolean"}
    elif kind == "date":
        out = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
        limits = [
            f"not {when} today (China Standard Time)" for when in ("after", "before") if c.get(f"not_{when}_today")
        ]
        if limits:
            out["description"] = "YYYY-MM-DD, " + " and ".join(limits) + "; the gateway checks the day"
    elif kind == "enum":
        out = {"enum": list(c["choices"])}
    elif kind in _IDENTIFIERS:
        pattern, words = _IDENTIFIERS[kind]
        out = {"type": "string", "pattern": pattern, "description": words}
    elif kind == "attachment":
        out = attachment_schema(material, max_attachment_bytes)
    elif kind == "list":
        assert material.items is not None  # the catalogue loader checks every list has its entries' spec
        entry = material_schema(material.items, max_attachment_bytes)
        out = {"type": "array", "minItems": c["min_items"], "maxItems": c["max_items"], "items": entry}
    else:
        out = object_schema(material.fields, max_attachment_bytes)
    words = material.description_en or material.description_zh
    out["title"] = material.description_zh
    out["description"] = f"{words}. {out['description']}" if "description" in out else words
    return out


def attachment_schema(material: Material, max_attachment_bytes: int) -> dict[str, Any]:
    """An attachment: its media type, an optional file name and the content, capped by the limit that applies."""
    allowed = material.constraints.get("media_types")
    cap = material.attachment_cap(max_attachment_bytes)
    filename = {"type": "string", "maxLength": MAX_FILENAME_LENGTH, "pattern": NO_CONTROL_CHARACTERS}
    return {
        "type": "object",
        "required": ["media_type", "content_base64"],
        "additionalProperties": False,
        "properties": {
            "media_type": {"enum": list(allowed)} if allowed else {"type": "string"},
            "filename": {"anyOf": [filename, ABSENT]},
            "content_base64": base64_schema(cap),
        },
        "x-onewindow-max-bytes": cap,
    }


def object_schema(fields: tuple[Material, ...], max_attachment_bytes: int) -> dict[str, Any]:
    """An object whose properties are ``fields``: the required ones must be given, no others may be."""
    return {
        "type": "object",
        "required": [f.name for f in fields if f.required],
        "additionalProperties": False,
        "properties": {
            f.name: material_schema(f, max_attachment_bytes)
            if f.required
            else {"anyOf": [material_schema(f, max_attachment_bytes), ABSENT]}
            for f in fields
        },
    }
