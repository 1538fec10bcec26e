"""The OpenAPI document's component schemas: the envelope, the request resource, problems, the guide.

Kept apart from :mod:`gateway.api.openapi` (the paths and the document) so
each stays a page one can read; the schemas follow the code they describe
(the catalogue's vocabularies, the envelope's limits).
"""

from __future__ import annotations

from typing import Any

from gateway.catalogue.items import CHANNELS, ITEM_KINDS, MATERIAL_TYPES, OFFICE_LEVELS, SEAL_KINDS
from gateway.catalogue.rules import RULE_KINDS

_REF = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": _REF + name}


def component_schemas() -> dict[str, Any]:
    """Every component schema of the document, by name."""
    text = {"type": "string"}
    return {
        "Applicant": {
            "type": "object",
            "required": ["kind", "id_number", "name"],
            "properties": {
                "kind": {"enum": ["person", "organisation"]},
                "id_type": {
                    "enum": ["resident_id", "credit_code"],
                    "description": "resident_id for a person (GB 11643), credit_code for an organisation "
                    "(GB 32100); defaults from kind",
                },
                "id_number": {"type": "string", "minLength": 18, "maxLength": 18},
                "name": {"type": "string", "maxLength": 100},
                "phone": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
            },
            "additionalProperties": False,
        },
        "Attachment": {
            "type": "object",
            "required": ["media_type", "content_base64"],
            "properties": {
                "media_type": text,
                "filename": text,
                "content_base64": {"type": "string", "contentEncoding": "base64"},
            },
        },
        "Pledge": {
            "type": "object",
            "description": "The applicant's commitment (告知承诺) replacing named materials.",
            "required": ["replaces", "statement", "signed_by", "signed_at"],
            "properties": {
                "replaces": {"type": "array", "items": text, "minItems": 1},
                "statement": text,
                "signed_by": text,
                "signed_at": {"type": "string", "format": "date-time"},
            },
        },
        "Envelope": {
            "type": "object",
            "required": ["item", "applicant", "materials", "office", "operator", "channel"],
            "properties": {
                "item": {"type": "string", "examples": ["tax.payment-record"]},
                "applicant": ref("Applicant"),
                "materials": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Material name -> value; attachments are Attachment objects. "
                    "See GET /v1/catalog/{item} for the item's materials.",
                },
                "office": {"type": "string", "pattern": "^[0-9]{12}$"},
                "operator": {
                    "type": "string",
                    "maxLength": 64,
                    "description": "The accepting staff member's id (首问负责).",
                },
                "channel": {"enum": list(CHANNELS)},
                "pledge": {
                    "anyOf": [ref("Pledge"), {"type": "null"}],
                    "description": "Optional; null or absent when the applicant gives no pledge.",
                },
                "callback_url": {
                    "type": ["string", "null"],
                    "format": "uri",
                    "maxLength": 2000,
                    "description": "Optional: where the final request resource is POSTed, signed with the "
                    "caller's callback_secret. Parsed and normalised (scheme and host case, IDNA, default port); "
                    "userinfo, backslashes, dot segments, fragments and unusual IP forms are refused (422, code "
                    "url). Its scheme, host, port and path must fall under one of the caller's configured "
                    "callback_prefixes, else 422 with error code callback_not_allowed. The normalised URL is "
                    "what is called.",
                },
            },
            "additionalProperties": False,
        },
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
                "agency_reference": text,
                "result": {"type": "object", "description": "The sealed result document (status completed)."},
                "reasons": {"type": "array", "items": ref("Reason")},
                "error": {"type": "object"},
                "links": {"type": "object", "properties": {"self": text}},
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
            "properties": {"count": {"type": "integer"}, "items": {"type": "array", "items": ref("ItemSummary")}},
        },
        "Material": {
            "type": "object",
            "properties": {
                "name": text,
                "type": {"enum": list(MATERIAL_TYPES)},
                "required": {"type": "boolean"},
                "description_zh": text,
                "description_en": text,
                "constraints": {"type": "object"},
            },
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
