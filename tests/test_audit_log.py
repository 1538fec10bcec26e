"""The appender and the checkpointer on both backends: group commit, proofs, several processes."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.entries import prepare_entry
from gateway.audit.log import AuditLog, AuditSink
from gateway.audit.proofs import prove_consistency, prove_inclusion
from gateway.audit.store import audit_store_for
from gateway.audit.verify import verify_store
from gateway.config.audit import AuditSettings
from gateway.errors import AuditIntegrityError
from gateway.observability.events import Event, Events
from signing.audit.checkpoint import SignedCheckpoint
from signing.audit.merkle import InMemoryTree, verify_consistency, verify_inclusion
from tests.audit_helpers import CHAIN, LOG_ID, SECRET, RawDB, other_signer

ROOT = Path(__file__).resolve().parents[1]


async def test_concurrent_appends_share_transactions_and_get_contiguous_numbers(store) -> None:
    audit = AuditLog(
        audit_store_for(store, CHAIN), settings=AuditSettings(), log_id=LOG_ID, instance="t", signer=other_signer()
    )
    await audit.start()
    commits = store.writer.flush.commits if audit.store.shares_commits else 0
    seqs = await asyncio.gather(
        *(audit.append("agency.attempt", {"request_id": f"R{i}", "attempt": i}) for i in range(600))
    )
    await audit.store.durable()
    assert sorted(seqs) == list(range(600))
    if audit.store.shares_commits:  # SQLite: each append a unit of work, the units sharing commits
        assert store.writer.flush.commits - commits <= 20
    else:  # PostgreSQL: the appender's batches, one transaction each
        assert audit.batches <= 20
    rows = [r async for chunk in audit.store.entries() for r in chunk]
    assert [r[0] for r in rows] == list(range(600))
    await audit.close()  # signs a last checkpoint over everything
    latest = await audit.store.latest_checkpoint()
    assert latest is not None and latest.tree_size == 600


async def test_an_append_is_durable_once_the_store_says_so(store, store_url) -> None:
    """Appends share commits (SQLite); ``durable()`` -- awaited before anything leaves the gateway -- commits and
    flushes them."""
    audit = AuditLog(audit_store_for(store, CHAIN), settings=AuditSettings(), log_id=LOG_ID, instance="t")
    await audit.start()
    seq = await audit.append("configuration.loaded", {"items": 3})
    await audit.store.durable()
    (count,) = (await asyncio.to_thread(RawDB(store_url).run, "SELECT COUNT(*) FROM audit_entries WHERE seq = ?", seq))[
        0
    ]
    assert count == 1  # seen from another connection at once
    await audit.close()


async def test_checkpoints_follow_the_entry_count_and_proofs_from_the_store_match_the_tree(store) -> None:
    signer = other_signer()
    audit = AuditLog(
        audit_store_for(store, CHAIN),
        settings=AuditSettings(checkpoint_every=40, batch_window_ms=0.0),
        log_id=LOG_ID,
        instance="t",
        signer=signer,
    )
    await audit.start()
    for i in range(0, 300, 10):
        await asyncio.gather(*(audit.append("agency.attempt", {"request_id": f"R{i + j}"}) for j in range(10)))
        await asyncio.sleep(0)
        if audit._checkpointing is not None:  # let a checkpoint under way land before more entries: each one
            await audit._checkpointing  # then covers at most 40 + 9 entries more, however slow the store is
    await audit.close()
    stored = await audit.store.checkpoints()
    sizes = [c.tree_size for c in stored]
    assert len(sizes) >= 5 and sizes[-1] == 300
    assert all(b - a <= 60 for a, b in zip([0, *sizes], sizes, strict=False))
    tree = InMemoryTree([r[2] async for chunk in audit.store.entries() for r in chunk])
    latest = SignedCheckpoint.from_dict(stored[-1].signed).checkpoint
    assert tree.root() == latest.root_hash
    for index in (0, 1, 15, 16, 17, 128, 200, 299):
        path = await prove_inclusion(audit.store, index, 300)
        assert path == tree.inclusion_proof(index, 300)
        assert verify_inclusion(tree.leaf_hash(index), index, 300, path, latest.root_hash)
    for old in sizes[:-1]:
        proof = await prove_consistency(audit.store, old, 300)
        old_root = SignedCheckpoint.from_dict(stored[sizes.index(old)].signed).checkpoint.root_hash
        assert verify_consistency(old, 300, old_root, latest.root_hash, proof)
    assert (await verify_store(audit.store, signer.public_key())).ok


async def test_the_checkpointer_refuses_to_sign_over_an_entry_altered_since_it_was_appended(store, store_url) -> None:
    signer = other_signer()
    audit = audit_store_for(store, CHAIN)
    await audit.append([prepare_entry("k", {"request_id": f"R{i}"}, instance="t") for i in range(20)])
    await audit.checkpoint(signer, LOG_ID)
    await audit.append([prepare_entry("k", {"request_id": f"S{i}"}, instance="t") for i in range(5)])
    await audit.durable()  # on disk, where the intruder edits it
    db = RawDB(store_url)
    entry = (await asyncio.to_thread(db.entry, 22))[0]
    await asyncio.to_thread(
        db.run, "UPDATE audit_entries SET entry = ? WHERE seq = 22", entry.replace(b'"S2"', b'"X2"')
    )
    with pytest.raises(AuditIntegrityError, match="no longer hash"):
        await audit.checkpoint(signer, LOG_ID)


async def test_an_altered_head_is_detected(store, store_url) -> None:
    signer = other_signer()
    audit = audit_store_for(store, CHAIN)
    await audit.append([prepare_entry("k", {"request_id": f"R{i}"}, instance="t") for i in range(33)])
    await audit.checkpoint(signer, LOG_ID)
    await asyncio.to_thread(RawDB(store_url).run, "UPDATE audit_head SET frontier = ? WHERE id = 1", b"\x01" * 64)
    report = await verify_store(audit, signer.public_key())
    assert not report.ok and "head" in report.first_bad.what


@pytest.mark.postgres
async def test_several_processes_on_one_postgresql_write_one_consistent_sequence(pg_url) -> None:
    from gateway.store import make_store

    store = make_store(pg_url)
    await store.open()  # migrate once before the writers start
    script = textwrap.dedent(
        """
        import asyncio, sys
        from gateway.audit.log import AuditLog
        from gateway.config.audit import AuditSettings
        from gateway.audit.chain import EntryChain
        from gateway.audit.secret import AuditSecret
        from gateway.audit.store import audit_store_for
        from gateway.store import make_store

        async def main(url, name, secret):
            store = make_store(url)
            await store.open()
            chain = EntryChain(AuditSecret.from_bytes(bytes.fromhex(secret)).chain_key)
            log = AuditLog(audit_store_for(store, chain), settings=AuditSettings(), log_id="x", instance=name)
            await log.start()
            print("ready", flush=True)  # started: wait for the word, so that every process writes at once
            await asyncio.to_thread(sys.stdin.readline)
            for round in range(10):
                await asyncio.gather(*(log.append("agency.attempt", {"request_id": f"{name}-{round}-{i}"})
                                       for i in range(30)))
            await log.close()
            await store.close()
            print(log.batches)

        asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
        """
    )
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            pg_url,
            f"p{n}",
            SECRET.hex(),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(3)
    ]
    try:
        signer = other_signer()
        audit = audit_store_for(store, CHAIN)
        async with asyncio.timeout(60):
            for writer in writers:  # each has started its log (imports take longer than this process's whole part)
                line = await writer.stdout.readline()
                if line != b"ready\n":
                    writer.kill()
                    pytest.fail(f"a writer did not start ({line!r}): {(await writer.stderr.read()).decode()[-2000:]}")
        for writer in writers:
            writer.stdin.write(b"go\n")
            await writer.stdin.drain()
        outputs = [asyncio.ensure_future(writer.communicate()) for writer in writers]  # drained while they write
        mine = 0

        async def mine_once() -> None:
            nonlocal mine
            await audit.append([prepare_entry("agency.attempt", {"request_id": "main"}, instance="main")])
            await audit.checkpoint(signer, LOG_ID)
            mine += 1

        async with asyncio.timeout(60):  # this process appends and signs checkpoints while the writers write
            while mine < 10 or not all(output.done() for output in outputs):
                await mine_once()
                await asyncio.sleep(0.01)
            await mine_once()  # one more after the last writer's: this process's entries lie among theirs
        for writer, output in zip(writers, outputs, strict=True):
            _, err = await output
            assert writer.returncode == 0, err.decode()
    finally:  # a failed test leaves no writer waiting for its word
        for writer in writers:
            if writer.returncode is None:
                writer.kill()
                await writer.wait()
    await audit.checkpoint(signer, LOG_ID)
    rows = [r async for chunk in audit.entries() for r in chunk]
    assert [r[0] for r in rows] == list(range(3 * 300 + mine))
    assert {r[4].split("-")[0] for r in rows} == {"p0", "p1", "p2", "main"}
    at = [r[0] for r in rows if r[4] == "main"]
    theirs = [r[0] for r in rows if r[4] != "main"]
    assert min(at) < max(theirs) and min(theirs) < max(at), "the processes wrote one after the other, not together"
    times = [r[5] for r in rows]
    assert times == sorted(times)  # the server's clock, read under the lock: order of seq = order of time
    report = await verify_store(audit, signer.public_key())
    assert report.ok, report.render()
    await store.close()


@pytest.mark.postgres
async def test_two_processes_taking_turns_at_the_head_append_without_the_lock(pg_url, monkeypatch) -> None:
    """A compare-and-set that loses answers the head it found: the next try builds on it, no lock is queued on."""
    import asyncpg

    from gateway.audit.store import postgres as pg_audit
    from gateway.store import make_store

    stores = [make_store(pg_url) for _ in range(2)]
    for store in stores:
        await store.open()
    locks = 0
    fetchrow = asyncpg.connection.Connection.fetchrow

    async def counted(self, query, *args, **kwargs):
        nonlocal locks
        locks += query == pg_audit._LOCK_HEAD
        return await fetchrow(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "fetchrow", counted)
    try:
        audits = [audit_store_for(store, CHAIN) for store in stores]
        for audit in audits:  # each learns the head once, under the lock (it knows none yet)
            await audit.append([prepare_entry("agency.attempt", {"request_id": "first"}, instance="t")])
        locks = 0
        for turn in range(20):  # each finds the head moved by the other
            await audits[turn % 2].append([prepare_entry("agency.attempt", {"request_id": f"r{turn}"}, instance="t")])
        assert locks == 0
        signer = other_signer()
        await audits[0].checkpoint(signer, LOG_ID)
        rows = [r async for chunk in audits[1].entries() for r in chunk]
        assert [r[0] for r in rows] == list(range(22))
        report = await verify_store(audits[1], signer.public_key())
        assert report.ok, report.render()
    finally:
        for store in stores:
            await store.close()


async def test_events_emitted_together_are_one_batch_and_one_wait(store) -> None:
    """``emit_all`` queues every event before it waits: the appender writes them as one batch, in order."""
    audit = AuditLog(audit_store_for(store, CHAIN), settings=AuditSettings(), log_id=LOG_ID, instance="t")
    await audit.start()
    events = Events(AuditSink(audit))
    batches = audit.batches
    await events.emit_all(
        Event("result.sealed", {"request_id": "R1", "seal_number": "S-1"}),
        Event("request.completed", {"request_id": "R1"}, raw={"document": "sealed"}),
    )
    assert audit.batches - batches == 1
    rows = [r async for chunk in audit.store.entries() for r in chunk]
    assert [r[0] for r in rows] == [0, 1]
    assert [r[3] for r in rows] == ["result.sealed", "request.completed"]
    await audit.close()


async def test_a_failed_batch_of_events_emitted_together_is_raised_once_and_leaves_nothing_unretrieved(
    store, monkeypatch
) -> None:
    """The batch fails for every event in it; the caller meets the first failure, and the others are retrieved
    (no "Future exception was never retrieved" from the loop)."""
    audit = AuditLog(audit_store_for(store, CHAIN), settings=AuditSettings(), log_id=LOG_ID, instance="t")
    await audit.start()

    async def failing(batch: Any) -> int:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(audit.store, "append", failing)
    told: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: told.append(context))
    try:
        raised = ""
        try:  # not pytest.raises: its record of the traceback would keep the futures from being collected
            await Events(AuditSink(audit)).emit_all(
                Event("result.sealed", {"request_id": "R1"}), Event("request.completed", {"request_id": "R1"})
            )
        except RuntimeError as exc:
            raised = str(exc)
        assert raised == "the disk is full"
        monkeypatch.undo()
        await audit.append("configuration.loaded", {"items": 1})  # the appender lets go of the failed batch
        gc.collect()  # an exception never retrieved is told to the loop's handler when its future is collected
        assert not told
    finally:
        loop.set_exception_handler(None)
        await audit.close()
