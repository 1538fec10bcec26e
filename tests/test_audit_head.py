"""The SQLite audit store keeps its head for one write transaction, never across one, nor past someone else's move.

What another connection (a second gateway, an administrative command)
appends between two transactions, a checkpoint signed in the middle of one,
and another audit store on the same connection must each be built on by the
next append: every test ends with the log checked from its checkpoints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.audit.entries import PreparedEntry, prepare_entry
from gateway.audit.store import audit_store_for
from gateway.audit.store.base import AuditStore
from gateway.audit.verify import verify_store
from gateway.store import make_store
from gateway.store.sqlite.store import SQLiteStore
from signing.audit.checkpoint import SoftwareSigner
from tests.audit_helpers import CHAIN, LOG_ID, other_signer


def entry(name: str) -> PreparedEntry:
    return prepare_entry("agency.attempt", {"request_id": name, "attempt": 1}, instance="t")


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = make_store(f"sqlite:///{tmp_path}/audit.db")
    assert isinstance(store, SQLiteStore)
    await store.open()
    yield store
    await store.close()


async def sound(audit: AuditStore, signer: SoftwareSigner, size: int) -> None:
    """Sign over the whole log (which checks the chain from the last checkpoint), then verify it all."""
    signed = await audit.checkpoint(signer, LOG_ID)
    assert signed is not None and signed.checkpoint.tree_size == size
    report = await verify_store(audit, signer.public_key())
    assert report.ok, report.render()


def head_reads(store: SQLiteStore) -> list[str]:
    """The statements that read the head on the store's writing connection, from now on."""
    reads: list[str] = []
    store.writer.raw.set_trace_callback(lambda sql: reads.append(sql) if sql.startswith("SELECT size") else None)
    return reads


async def test_an_append_after_another_connection_appended_builds_on_its_entries(sqlite_store, tmp_path) -> None:
    """The head kept from the last transaction is stale once another process could have written: read again."""
    signer = other_signer()
    ours = audit_store_for(sqlite_store, CHAIN)
    assert await ours.append([entry("A0")]) == 0
    await sqlite_store.durable()  # committed: the write lock is free for the other connection
    other_store = make_store(f"sqlite:///{tmp_path}/audit.db")
    await other_store.open()
    try:
        theirs = audit_store_for(other_store, CHAIN)
        assert await theirs.append([entry("B1"), entry("B2")]) == 1
        await other_store.durable()
    finally:
        await other_store.close()
    assert await ours.append([entry("A3")]) == 3
    await sound(ours, signer, 4)


async def test_the_head_is_read_once_per_transaction(sqlite_store) -> None:
    audit = audit_store_for(sqlite_store, CHAIN)
    await audit.append([entry("warm")])
    await sqlite_store.durable()
    reads = head_reads(sqlite_store)
    for i in range(5):
        assert await audit.append([entry(f"R{i}")]) == 1 + i
    assert len(reads) == 1  # the first append of the transaction; the other four build on the head it wrote
    await sqlite_store.durable()
    await audit.append([entry("next")])
    assert len(reads) == 2  # a new transaction: read again
    await sound(audit, other_signer(), 7)


async def test_a_checkpoint_in_the_same_transaction_restarts_the_chain_for_the_next_append(sqlite_store) -> None:
    """A checkpoint moves the head's chain value to its anchor: the next append links to that, not to the last
    entry's value it kept (the next check would find the chain broken)."""
    signer = other_signer()
    audit = audit_store_for(sqlite_store, CHAIN)
    await audit.append([entry("R0"), entry("R1")])
    commits = sqlite_store.writer.flush.commits
    generation = sqlite_store.writer.generation
    await audit.checkpoint(signer, LOG_ID)
    assert await audit.append([entry("R2")]) == 2
    assert sqlite_store.writer.raw.in_transaction and sqlite_store.writer.flush.commits == commits  # one transaction
    assert sqlite_store.writer.generation != generation
    await sound(audit, signer, 3)


async def test_two_audit_stores_on_one_connection_take_turns_within_a_transaction(sqlite_store) -> None:
    """The gateway's log and, say, an administrative action's store share the writing connection: neither builds
    on a head the other has moved."""
    first, second = audit_store_for(sqlite_store, CHAIN), audit_store_for(sqlite_store, CHAIN)
    commits = sqlite_store.writer.flush.commits
    seqs = [await store.append([entry(f"R{i}")]) for i, store in enumerate((first, second, first, first, second))]
    assert seqs == [0, 1, 2, 3, 4]
    assert sqlite_store.writer.flush.commits == commits  # all in one transaction
    await sound(first, other_signer(), 5)
