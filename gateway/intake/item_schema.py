"""An item's whole envelope as JSON Schema (2020-12), and its example envelopes, from the catalogue.

``GET /v1/catalog/{item}/schema`` serves it and the OpenAPI document uses
it for ``POST /v1/requests``, one schema per item. What JSON Schema can
say, it says: every material's type and constraints, the attachment cap
that really applies (the smaller of the item's and the gateway's), which
materials a pledge may replace, and the cross-field rules that are about
presence (``required_when``, ``only_when``, ``pledge_only_when``, as
``if``/``then``). Every rule -- also those comparing values, such as a
period's order or longest span -- is carried in ``x-onewindow-rules`` and
in the description in words. A body valid against the schema can still
be refused for what only the gateway knows: check digits, dates relative
to today, the caller's own office and callback prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.catalogue.items import Item
from gateway.catalogue.materials import Material
from gateway.catalogue.rules import Rule
from gateway.config import MAX_CALLBACK_URL_LENGTH, Office
from gateway.intake.envelope import (
    ID_TYPES,
    MAX_NAME_LENGTH,
    MAX_OPERATOR_LENGTH,
    MAX_SIGNED_BY_LENGTH,
    MAX_STATEMENT_LENGTH,
    OPERATOR_PATTERN,
    SIGNED_AT_PATTERN,
)
from gateway.intake.material_schema import ABSENT, material_schema, text_schema
from gateway.personal_data.identifiers import CREDIT_CODE_PATTERN, PHONE_PATTERN, RESIDENT_ID_PATTERN
from gateway.proxy.authorisation import PROXY_CHANNEL
from gateway.proxy.schema import authorisation_schema

DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXAMPLE_OPERATOR = "window-01"
_ID_PATTERNS = {"person": RESIDENT_ID_PATTERN, "organisation": CREDIT_CODE_PATTERN}
_NOT_IN_SCHEMA = (
    "Beyond this schema the gateway checks: resident ID and credit code check characters, birth dates, dates "
    "relative to today, that office is the caller's own and the item allowed to its office level and channel, "
    "that callback_url falls under the caller's callback prefixes, the cross-field rules comparing values "
    "(x-onewindow-rules), and the agency's own rules."
)


def schema_path(code: str) -> str:
    """Where the gateway serves the schema of item ``code``."""
    return f"/v1/catalog/{code}/schema"


def envelope_schema(
    item: Item, *, max_attachment_bytes: int, examples: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The JSON Schema (2020-12) of a ``POST /v1/requests`` body for ``item``."""
    materials = _materials(item, max_attachment_bytes)
    required = ["item", "applicant", "office", "operator", "channel"]
    if materials["required"]:
        required.insert(2, "materials")
    rules = [rule.guide() for rule in item.rules]
    words = "".join(f"\n- {rule.statement_en} ({rule.statement_zh})" for rule in item.rules)
    out: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": schema_path(item.code),
        "title": f"{item.code}: {item.name_en} ({item.name_zh})",
        "description": f"The envelope of a request for {item.code}. "
        + (f"Rules across materials:{words}\n" if words else "")
        + _NOT_IN_SCHEMA,
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": {
            "item": {"const": item.code},
            "applicant": applicant_schema(item.applicant_kinds),
            "materials": materials,
            "office": {
                "type": "string",
                "pattern": "^[0-9]{12}$",
                "description": "The accepting office's 12-digit code: the caller's own office.",
            },
            "operator": operator_schema(),
            "channel": {"enum": list(item.channels), "description": "The caller's channel."},
            "pledge": _pledge(item),
            "authorisation": authorisation_schema(item.code),
            "callback_url": {
                "type": ["string", "null"],
                "format": "uri",
                "maxLength": MAX_CALLBACK_URL_LENGTH,
                "description": "Where the final request resource is POSTed; under one of the caller's prefixes.",
            },
        },
        "x-onewindow-rules": rules,
    }
    clauses = [*_pledgeable(item), *(c for rule in item.rules for c in _rule_clauses(item, rule))]
    if PROXY_CHANNEL in item.channels:
        clauses.append(_proxied())
    if clauses:
        out["allOf"] = clauses
    listed = [dict(e) for e in examples]
    if listed:
        out["examples"] = listed
    return out


def applicant_schema(kinds: Iterable[str]) -> dict[str, Any]:
    """The applicant of an item for ``kinds``: its ID number's shape follows its kind."""
    kinds = list(kinds)
    return {
        "type": "object",
        "required": ["kind", "id_number", "name"],
        "additionalProperties": False,
        "properties": {
            "kind": {"enum": kinds},
            "id_type": {"enum": [ID_TYPES[k] for k in kinds], "description": "Follows kind; may be left out."},
            "id_number": {"type": "string", "minLength": 18, "maxLength": 18},
            "name": text_schema(longest=MAX_NAME_LENGTH),
            "phone": {"anyOf": [{"type": "string", "pattern": PHONE_PATTERN}, {"type": "null"}]},
        },
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {
                    "properties": {
                        "id_number": {"pattern": _ID_PATTERNS[kind]},
                        "id_type": {"const": ID_TYPES[kind]},
                    }
                },
            }
            for kind in kinds
        ],
    }


def operator_schema() -> dict[str, Any]:
    """The accepting staff member's id (首问负责)."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_OPERATOR_LENGTH,
        "pattern": OPERATOR_PATTERN,
        "description": "The accepting staff member's id: letters and digits of any script and . - _ @ "
        "(a validator that reads \\w as ASCII, as ECMA-262 does, is stricter than the gateway).",
    }


def _materials(item: Item, max_attachment_bytes: int) -> dict[str, Any]:
    properties = {}
    for material in item.materials:
        schema = material_schema(material, max_attachment_bytes)
        properties[material.name] = schema if _always_required(item, material) else {"anyOf": [schema, ABSENT]}
    return {
        "type": "object",
        "required": [m.name for m in item.materials if _always_required(item, m)],
        "additionalProperties": False,
        "properties": properties,
    }


def _always_required(item: Item, material: Material) -> bool:
    return material.required and material.name not in item.pledge_replaces


def _pledge(item: Item) -> dict[str, Any]:
    if not item.pledge_replaces:
        return {"type": "null", "description": f"{item.code} accepts no pledge (告知承诺)."}
    pledge = {
        "type": "object",
        "description": "The applicant's signed commitment (告知承诺) standing in for the materials it names.",
        "required": ["replaces", "statement", "signed_by", "signed_at"],
        "additionalProperties": False,
        "properties": {
            "replaces": {"type": "array", "minItems": 1, "items": {"enum": list(item.pledge_replaces)}},
            "statement": text_schema(longest=MAX_STATEMENT_LENGTH),
            "signed_by": text_schema(longest=MAX_SIGNED_BY_LENGTH),
            "signed_at": {"type": "string", "format": "date-time", "pattern": SIGNED_AT_PATTERN},
        },
    }
    return {"anyOf": [pledge, {"type": "null"}]}


def _proxied() -> dict[str, Any]:
    """A helper's request carries the applicant's authorisation (帮办代办)."""
    return {
        "if": {"required": ["channel"], "properties": {"channel": {"const": PROXY_CHANNEL}}},
        "then": {"required": ["authorisation"], "properties": {"authorisation": {"type": "object"}}},
    }


def _given(name: str) -> dict[str, Any]:
    """The envelope gives material ``name`` a value (not null, not empty)."""
    present = {"required": [name], "properties": {name: {"not": ABSENT}}}
    return {"required": ["materials"], "properties": {"materials": present}}


def _pledged(name: str) -> dict[str, Any]:
    """The envelope's pledge replaces material ``name``."""
    replaces = {"type": "array", "contains": {"const": name}}
    pledge = {"type": "object", "required": ["replaces"], "properties": {"replaces": replaces}}
    return {"required": ["pledge"], "properties": {"pledge": pledge}}


def _has(name: str, values: list[Any]) -> dict[str, Any]:
    """Material ``name`` has one of ``values``."""
    return {
        "required": ["materials"],
        "properties": {"materials": {"required": [name], "properties": {name: {"enum": values}}}},
    }


def _pledgeable(item: Item) -> list[dict[str, Any]]:
    """A required material a pledge may replace is given, or the pledge replaces it."""
    return [
        {"anyOf": [_given(m.name), _pledged(m.name)]}
        for m in item.materials
        if m.required and m.name in item.pledge_replaces
    ]


def _rule_clauses(item: Item, rule: Rule) -> list[dict[str, Any]]:
    """The rule in JSON Schema, when it is about presence; rules comparing values have none."""
    equals = list(rule.equals)
    if rule.kind == "required_when":
        present = [_given(rule.material)] + ([_pledged(rule.material)] if rule.material in item.pledge_replaces else [])
        return [{"if": _has(rule.other, equals), "then": {"anyOf": present}}]
    if rule.kind == "only_when":
        return [{"if": _given(rule.material), "then": _has(rule.other, equals)}]
    if rule.kind == "pledge_only_when":
        when = item.material(rule.other)
        assert when is not None  # the catalogue loader checks the rule's materials exist
        possible = list(when.constraints["choices"]) if when.type == "enum" else [True, False]
        others = [v for v in possible if not any(v == e and type(v) is type(e) for e in equals)]
        return [{"if": {"allOf": [_pledged(rule.material), _has(rule.other, others)]}, "then": False}] if others else []
    return []


def example_office(item: Item, offices: Iterable[Office]) -> Office | None:
    """The first configured office of a level that may accept ``item``, for its example envelopes."""
    return next((o for o in offices if o.level in item.office_levels), None)


def example_envelopes(item: Item, offices: Iterable[Office]) -> list[dict[str, Any]]:
    """``item``'s catalogue examples as complete envelopes, at an office of this district that may accept it.

    None when no configured office may accept the item (no request for it could be made here).
    """
    office = example_office(item, offices)
    if office is None:
        return []
    channel = "window" if "window" in item.channels else item.channels[0]
    out = []
    for example in item.examples:
        envelope: dict[str, Any] = {
            "item": item.code,
            "applicant": dict(example.applicant),
            "materials": dict(example.materials),
            "office": office.code,
            "operator": EXAMPLE_OPERATOR,
            "channel": channel,
        }
        if example.pledge is not None:
            envelope["pledge"] = dict(example.pledge)
        out.append(envelope)
    return out
