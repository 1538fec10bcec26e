"""JSON columns on PostgreSQL: binary format, documents as :mod:`gateway.store.json_documents` writes them.

These codecs speak the binary format (``jsonb`` is a version byte and the
text, ``json`` the text alone), so asyncpg neither decodes nor encodes a
Python ``str`` on the way, and orjson does the (de)serialisation, with the
values ``json`` gave.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from gateway.store.json_documents import json_bytes, json_from

JSONB_VERSION = 1  # the first byte of jsonb's binary format
_VERSION = bytes([JSONB_VERSION])


def _encode_jsonb(value: Any) -> bytes:
    return _VERSION + json_bytes(value)


def _decode_jsonb(data: bytes) -> Any:
    if not data or data[0] != JSONB_VERSION:
        raise ValueError(f"unknown jsonb format version {data[:1]!r}")
    return json_from(data[1:])


async def use_json_codecs(conn: asyncpg.Connection) -> None:
    """Set the JSON codecs on a new connection of the pool."""
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec("json", encoder=json_bytes, decoder=json_from, schema="pg_catalog", format="binary")
