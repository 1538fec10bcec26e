"""The authorisation an envelope carries, as JSON Schema (2020-12): in every item schema and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from gateway.proxy.authorisation import (
    FORM_NUMBER_PATTERN,
    MAX_ITEMS,
    MAX_PROXY_NAME_LENGTH,
    PROXY_CHANNEL,
    SIGNATURE_MEDIA_TYPES,
    VALID_UNTIL_PATTERN,
)


def authorisation_schema(item_code: str) -> dict[str, Any]:
    """The applicant's signed authorisation of a proxy for ``item_code``."""
    signature = {
        "oneOf": [
            {
                "type": "object",
                "required": ["kind", "form_number"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"const": "paper_form"},
                    "form_number": {"type": "string", "pattern": FORM_NUMBER_PATTERN},
                },
                "description": "The number of the signed paper form the service centre keeps.",
            },
            {
                "type": "object",
                "required": ["kind", "media_type", "content_base64"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"const": "attachment"},
                    "media_type": {"enum": list(SIGNATURE_MEDIA_TYPES)},
                    "filename": {"type": "string"},
                    "content_base64": {"type": "string", "contentEncoding": "base64", "minLength": 1},
                },
                "description": "The signed form itself, scanned (2 MiB at most).",
            },
        ]
    }
    authorisation = {
        "type": "object",
        "required": ["applicant_id", "proxy", "items", "valid_until", "signature"],
        "additionalProperties": False,
        "description": f"The applicant's signed authorisation of a proxy (帮办代办). Required on channel "
        f"{PROXY_CHANNEL!r}; the gateway refuses it expired, not covering {item_code}, not the applicant's, "
        "or unsigned, with every other problem of the request.",
        "properties": {
            "applicant_id": {
                "type": "string",
                "minLength": 18,
                "maxLength": 18,
                "description": "Who authorises: the applicant's ID number or credit code.",
            },
            "proxy": {
                "type": "object",
                "required": ["name", "id_number"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": MAX_PROXY_NAME_LENGTH},
                    "id_number": {"type": "string", "minLength": 18, "maxLength": 18},
                },
                "description": "Whom: the proxy (helper) acting for the applicant.",
            },
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_ITEMS,
                "items": {"type": "string"},
                "contains": {"const": item_code},
                "description": "For which items: the item codes the authorisation covers.",
            },
            "valid_until": {
                "type": "string",
                "format": "date-time",
                "pattern": VALID_UNTIL_PATTERN,
                "description": "Until when: a time in the future, with its offset.",
            },
            "signature": signature,
        },
    }
    return {"anyOf": [authorisation, {"type": "null"}]}
