"""The OpenAPI document's component schemas: the envelope, the request resource, problems, the guide.

Kept apart from :mod:`gateway.api.openapi` (the paths and the document) so
each stays a page one can read; the schemas follow the code they describe
(the catalogue's vocabularies, the envelope's limits).
"""

from __future__ import annotations

from typing import Any

from gateway.catalogue.items import CHANNELS, ITEM_KINDS, OFFICE_LEVELS, SEAL_KINDS, Catalogue
from gateway.catalogue.materials import MATERIAL_TYPES
from gateway.catalogue.rules import RULE_KINDS
from gateway.config import Office
from gateway.intake.item_schema import envelope_schema, example_envelopes

_REF = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": _REF + name}


def envelope_name(code: str) -> str:
    """The component schema of the envelope of item ``code``."""
    return f"Envelope.{code}"


def item_envelopes(
    catalogue: Catalogue, *, max_attachment_bytes: int, offices: list[Office]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One envelope schema per item, and ``POST /v1/requests``'s examples: every item's, completed for this district.

    The schemas are the ones ``GET /v1/catalog/{item}/schema`` serves, less
    ``$schema`` and ``$id`` (the document is one resource); ``Envelope`` is
    their union, told apart by ``item``.
    """
    schemas: dict[str, Any] = {}
    examples: dict[str, Any] = {}
    for item in catalogue:
        envelopes = example_envelopes(item, offices)
        schema = envelope_schema(item, max_attachment_bytes=max_attachment_bytes)
        schemas[envelope_name(item.code)] = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
        for n, (example, envelope) in enumerate(zip(item.examples, envelopes, strict=False), 1):
            examples[item.code if n == 1 else f"{item.code}#{n}"] = {"summary": example.summary, "value": envelope}
    names = [envelope_name(item.code) for item in catalogue]
    schemas["Envelope"] = {
        "description": "A request for any catalogue item: the item's own envelope, chosen by its item code. "
        "GET /v1/catalog/{item}/schema serves each one as a JSON Schema of its own.",
        "oneOf": [ref(name) for name in names],
        "discriminator": {
            "propertyName": "item",
            "mapping": {item.code: _REF + envelope_name(item.code) for item in catalogue},
        },
    }
    return schemas, examples


def component_schemas() -> dict[str, Any]:
    """Every component schema of the document, by name (the envelopes come from :func:`item_envelopes`)."""
    text = {"type": "string"}
    return {
        "RequestResource": {
            "type": "object",
            "required": ["id", "status", "item", "office", "operator", "channel", "created_at", "links"],
            "properties": {
                "id": {"type": "string", "description": "ULID; also the agency-side deduplication key"},
                "status": {
                    "enum": ["accepted", "pending", "deferred", "completed", "rejected", "failed", "dead_letter"]
                },
                "item": text,
                "agency": text,
                "office": text,
                "operator": text,
                "channel": text,
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "finished_at": {"type": "string", "format": "date-time"},
                "attempts": {"type": "integer"},
                "agency_reference": {
                    "type": "string",
                    "description": "The agency's case number (受理编号), shown as soon as the agency gives one",
                },
                "agency_message": {"type": "string", "description": "What the agency said while it decides (pending)"},
                "due_on": {
                    "type": ["string", "null"],
                    "format": "date",
                    "description": "The promised day (办理时限): the item's time_limit_days counted in working days "
                    "on the official calendar from the day after acceptance (China Standard Time); null with "
                    "due_on_unknown when the calendar of that year is not known yet",
                },
                "due_on_unknown": {"type": "string", "description": "Why due_on is null"},
                "overdue": {"type": "boolean", "description": "Not finished and due_on is before today (CST)"},
                "result": {"type": "object", "description": "The sealed result document (status completed)."},
                "reasons": {"type": "array", "items": ref("Reason")},
                "error": {"type": "object"},
                "proxy": {
                    "type": "object",
                    "description": "A request a proxy handled (帮办代办): who, the authorisation's reference and "
                    "the six steps (consultation, authorisation, handling, coordination, feedback, rating_archiving), "
                    "each completed, in_progress, waiting or stopped.",
                    "properties": {"name": text, "id_number": text, "steps": {"type": "array"}},
                },
                "receipt": {
                    "$ref": "#/components/schemas/Receipt",
                    "description": "With a 202: the sealed acceptance receipt (受理回执), latest version",
                },
                "links": {
                    "type": "object",
                    "properties": {
                        "self": text,
                        "receipt": text,
                        "bundle": {**text, "description": "A bundle's step: the bundle"},
                    },
                },
            },
        },
        "Reason": {
            "type": "object",
            "properties": {"code": text, "message_zh": text, "message_en": {"type": ["string", "null"]}},
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details, with Chinese title/detail and the request id.",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string", "format": "uri-reference"},
                "title": text,
                "detail": text,
                "title_zh": text,
                "detail_zh": text,
                "status": {"type": "integer"},
                "instance": text,
                "request_id": text,
                "errors": {"type": "array", "items": ref("FieldProblem")},
                "limit": {
                    "type": "string",
                    "description": "The limit the request went over: a configuration key (server.max_body_bytes, "
                    "server.body_timeout_s, server.max_json_depth, ...) or a fixed one of the HTTP server "
                    "(request_line_bytes, header_field_bytes, header_fields)",
                },
                "limit_value": {"type": "number", "description": "What that limit allows"},
            },
        },
        "FieldProblem": {
            "type": "object",
            "required": ["path", "code", "message_zh", "message_en"],
            "properties": {
                "path": text,
                "code": text,
                "message_zh": text,
                "message_en": text,
                "related": {
                    "type": "array",
                    "items": text,
                    "description": "For a cross-field rule: the other places it checked path against "
                    "(the start of a period whose end is at path)",
                },
            },
        },
        "Rule": {
            "type": "object",
            "description": "A cross-field rule of the item (跨字段规则), checked at intake with every other problem.",
            "required": ["kind", "materials", "statement_zh", "statement_en"],
            "properties": {
                "kind": {"enum": list(RULE_KINDS)},
                "materials": {"type": "array", "items": text},
                "statement_zh": text,
                "statement_en": text,
                "unit": {"enum": ["day", "month", "year"]},
                "max": {"type": "integer"},
                "strict": {"type": "boolean"},
                "equals": {"type": "array"},
            },
        },
        "ItemSummary": {
            "type": "object",
            "properties": {
                "code": text,
                "name_zh": text,
                "name_en": text,
                "agency": text,
                "kind": {"enum": list(ITEM_KINDS)},
                "seal": {"enum": list(SEAL_KINDS)},
                "office_levels": {"type": "array", "items": {"enum": list(OFFICE_LEVELS)}},
                "channels": {"type": "array", "items": {"enum": list(CHANNELS)}},
                "time_limit_days": {"type": "integer"},
                "long_running": {"type": "boolean"},
            },
        },
        "CatalogList": {
            "type": "object",
            "properties": {
                "count": {"type": "integer"},
                "items": {"type": "array", "items": ref("ItemSummary")},
                "chains": {
                    "type": "array",
                    "description": "Chained items (一链办理): code, names, items in order, link to the guide",
                    "items": {"type": "object"},
                },
            },
        },
        "Material": {
            "type": "object",
            "description": "A material (申请材料); a list material's entries are described by items, an object "
            "material's fields by fields. An attachment's constraints.max_bytes is the cap that really applies.",
            "properties": {
                "name": text,
                "type": {"enum": list(MATERIAL_TYPES)},
                "required": {"type": "boolean"},
                "description_zh": text,
                "description_en": text,
                "constraints": {"type": "object"},
                "items": ref("Material"),
                "fields": {"type": "array", "items": ref("Material")},
            },
        },
        "Example": {
            "type": "object",
            "description": "An example request the gateway accepts, completed with an office of this district.",
            "required": ["summary", "envelope"],
            "properties": {"summary": text, "envelope": {"type": "object"}},
        },
        "ServiceGuide": {
            "allOf": [ref("ItemSummary")],
            "properties": {
                "applicant_kinds": {"type": "array", "items": text},
                "conditions_zh": {"type": "array", "items": text},
                "materials": {"type": "array", "items": ref("Material")},
                "pledge_replaces": {"type": "array", "items": text},
                "rules": {"type": "array", "items": ref("Rule")},
                "legal_basis": {"type": "array", "items": text},
                "steps": {"type": "array", "items": text},
                "fee_zh": text,
                "deferrable": {"type": "boolean"},
                "examples": {"type": "array", "items": ref("Example")},
                "links": {
                    "type": "object",
                    "properties": {"self": text, "schema": {"type": "string", "description": "The item's JSON Schema"}},
                },
            },
        },
        "Health": {"type": "object", "properties": {"status": text}},
        "Readiness": {
            "type": "object",
            "properties": {
                "ready": {"type": "boolean"},
                "store": {"type": "object"},
                "audit": {
                    "type": "object",
                    "description": "state: off, sound (checked from the latest signed checkpoint) or damaged "
                    "(where, what: the gateway refuses every POST until an operator repairs the log)",
                    "properties": {"ok": {"type": "boolean"}, "state": {"enum": ["off", "sound", "damaged"]}},
                },
                "agencies": {"type": "object"},
            },
        },
    }
