"""JSON documents through orjson on both engines: the values stay those ``json`` gave (store/json_documents.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.store import RequestRecord, Store, make_store
from gateway.store.postgres.store import PostgresStore
from tests.helpers import stored_request


def _request(envelope: dict) -> RequestRecord:
    return stored_request(envelope=envelope)


async def test_integers_past_64_bits_read_back_exactly(store: Store) -> None:
    """orjson reads such a number as a float (digits lost): the codec must read it with ``json``."""
    big = {"id": 2**70, "low": -(2**63) - 1, "u64": 2**64 - 1, "in_text": "12345678901234567890", "f": 0.1}
    record = _request({"materials": big, "name": "张伟"})
    assert await store.insert_request(record)
    got = await store.get_request(record.id)
    assert got is not None
    assert got.envelope == {"materials": big, "name": "张伟"}
    assert all(type(got.envelope["materials"][k]) is int for k in ("id", "low", "u64"))


async def test_what_orjson_refuses_is_written_as_json_wrote_it(store: Store) -> None:
    nested: dict = {"leaf": 1}
    for _ in range(300):  # deeper than orjson writes
        nested = {"n": nested}
    record = _request({"keys": {1: "one", 2.5: "two and a half"}, "deep": nested})
    assert await store.insert_request(record)
    got = await store.get_request(record.id)
    assert got is not None
    assert got.envelope["keys"] == {"1": "one", "2.5": "two and a half"}
    assert got.envelope["deep"] == nested


async def test_values_json_refuses_are_still_refused(store: Store) -> None:
    """A datetime or a dataclass in a document is a caller's mistake, not something to store as orjson spells it."""

    @dataclasses.dataclass
    class Point:
        x: int

    for odd in (datetime(2025, 1, 1, tzinfo=UTC), Point(1)):
        with pytest.raises((TypeError, asyncpg.DataError), match="not JSON serializable"):
            await store.insert_request(_request({"odd": odd}))


@pytest.mark.postgres
async def test_json_and_jsonb_read_as_json_reads_them(pg_url: str) -> None:
    pg_store = make_store(pg_url)
    assert isinstance(pg_store, PostgresStore)
    await pg_store.open()
    try:
        await _read_as_json_reads(pg_store)
    finally:
        await pg_store.close()


async def _read_as_json_reads(pg_store: PostgresStore) -> None:
    async with pg_store.pool.acquire() as conn:
        assert await conn.fetchval('SELECT \'{"a": [1, 2.5, null, "é"], "b": 1e400}\'::json') == {
            "a": [1, 2.5, None, "é"],
            "b": float("inf"),
        }
        assert await conn.fetchval("SELECT $1::jsonb", {"n": 123456789012345678901234567890}) == {
            "n": 123456789012345678901234567890
        }
        assert await conn.fetchval("SELECT ($1::jsonb)->>'s'", {"s": "张伟"}) == "张伟"
