"""Helpers for the audit-log tests: a district audit key, a configuration, a log, raw SQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.chain import EntryChain
from gateway.audit.entries import prepare_entry
from gateway.audit.keys import create_audit_key, load_signer
from gateway.audit.payloads import PayloadCipher
from gateway.audit.secret import AuditSecret
from gateway.audit.store import audit_store_for
from gateway.cli.main import main
from gateway.config import Settings, load_settings
from gateway.observability.events import PayloadDigests
from gateway.store import make_store
from gateway.store.postgres.store import split_schema
from signing.audit.checkpoint import SoftwareSigner
from signing.audit.merkle import MerkleTreeBuilder
from signing.jose.jcs import canonicalize
from signing.keys.passphrase import Passphrase

LOG_ID = "onewindow-audit/370303"
PASSPHRASE = b"audit-test-passphrase"
SECRET = bytes(range(100, 132))
"""The district audit secret every configuration written here holds (so a test can build a log outside a gateway)."""
CHAIN = EntryChain(AuditSecret.from_bytes(SECRET).chain_key)


def write_config(tmp_path: Path, store_url: str, **audit: Any) -> tuple[str, SoftwareSigner]:
    """A configuration file for the audit commands (store, key, log id) and the audit key's signer."""
    pki = tmp_path / "pki"
    secret = tmp_path / "passphrase"
    secret.write_bytes(PASSPHRASE)
    key_file = pki / "audit" / "audit-key.pem"
    if not key_file.exists():
        create_audit_key(key_file, Passphrase(PASSPHRASE))
    secret_file = pki / "audit" / "audit-secret.key"
    if not secret_file.exists():
        secret_file.write_text(SECRET.hex() + "\n", encoding="ascii")
    values = {"log_id": LOG_ID, **audit}
    lines = [
        "[store]",
        f"url = {json.dumps(store_url)}",
        "[pki]",
        f"dir = {json.dumps(str(pki))}",
        f"passphrase_file = {json.dumps(str(secret))}",
        "[audit]",
        *(f"{k} = {json.dumps(v)}" for k, v in values.items()),
    ]
    path = tmp_path / "onewindow.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings(path, environ={})
    return str(path), load_signer(settings)


def settings_of(config: str) -> Settings:
    return load_settings(config, environ={})


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """Run ``onewindow ARGV``; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def build_log(
    store_url: str,
    signer: SoftwareSigner,
    *,
    entries: int = 100,
    every: int = 16,
    cipher: PayloadCipher | None = None,
) -> None:
    """A log of ``entries`` request-like entries with a checkpoint every ``every`` (and one at the end)."""
    store = make_store(store_url)
    await store.open()
    try:
        audit = audit_store_for(store, CHAIN)
        for start in range(0, entries, 8):
            batch = [
                prepare_entry(
                    "agency.attempt" if i % 3 else "request.accepted",
                    {"request_id": f"01J{i:023d}", "caller": f"c{i}", "attempt": i},
                    instance="test",
                    cipher=cipher,
                    raw={"n": i} if cipher else None,
                    digests=PayloadDigests(AuditSecret.from_bytes(SECRET).digest_key),
                )
                for i in range(start, min(start + 8, entries))
            ]
            await audit.append(batch)
            if (start + 8) % every == 0:
                await audit.checkpoint(signer, LOG_ID)
        await audit.checkpoint(signer, LOG_ID)
    finally:
        await store.close()


async def with_audit(store_url: str, action: Any) -> Any:
    """Run ``await action(audit_store)`` on an opened store."""
    store = make_store(store_url)
    await store.open()
    try:
        return await action(audit_store_for(store, CHAIN))
    finally:
        await store.close()


def other_signer() -> SoftwareSigner:
    return SoftwareSigner(Ed25519PrivateKey.generate())


class RawDB:
    """Direct SQL on the store's database, as someone with write access would do it."""

    def __init__(self, store_url: str) -> None:
        self.url = store_url

    def run(self, sql: str, *params: Any) -> list[tuple]:
        """Run one statement with ``?`` placeholders; returns the rows."""
        if self.url.startswith("sqlite:"):
            path = self.url.removeprefix("sqlite:").removeprefix("//").removeprefix("/")
            with sqlite3.connect(path) as db:
                return [tuple(r) for r in db.execute(sql, params).fetchall()]
        return asyncio.run(self._pg(sql, params))

    async def _pg(self, sql: str, params: tuple) -> list[tuple]:
        dsn, schema = split_schema(self.url)
        conn = await asyncpg.connect(dsn, server_settings={"search_path": schema or "public"})
        try:
            n = 0

            def mark(_: Any) -> str:
                nonlocal n
                n += 1
                return f"${n}"

            return [tuple(r) for r in await conn.fetch(re.sub(r"\?", mark, sql), *params)]
        finally:
            await conn.close()

    def entry(self, seq: int) -> tuple[bytes, bytes]:
        entry, leaf = self.run("SELECT entry, leaf_hash FROM audit_entries WHERE seq = ?", seq)[0]
        return bytes(entry), bytes(leaf)


def gateway_config(
    tmp_path: Path, store_url: str, district: tuple[Path, Path], *, witness: Path | None = None, **audit: Any
) -> str:
    """The configuration file the audit commands read for a test gateway's store and district (and witness)."""
    lines = ["[store]", f"url = {json.dumps(store_url)}", "[pki]", f"dir = {json.dumps(str(district[0]))}"]
    lines.append(f"passphrase_file = {json.dumps(str(district[1]))}")
    lines += ["[audit]", *(f"{k} = {json.dumps(v)}" for k, v in audit.items())]
    if witness is not None:
        lines += ["[witness]", f"dir = {json.dumps(str(witness))}"]
    path = tmp_path / "audit.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


_LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\S* +\[")


async def cli(capsys: Any, *argv: str) -> tuple[int, str]:
    """Run ``onewindow ARGV`` (in a thread: it runs its own event loop) and capture stdout and stderr."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    # The gateway under test keeps running (and logging) meanwhile; its log lines are not the command's output.
    captured = capsys.readouterr()
    out = "".join(line for line in captured.out.splitlines(keepends=True) if not _LOG_LINE.match(line))
    return code, out + captured.err


# -- what someone with write access to the database does ------------------------------------------------


def leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def rewrite_head(db: RawDB, chain: bytes | None = b"keep") -> None:
    """What a careful attacker does after editing entries: recompute the head from the leaves left.

    ``chain`` is what to put in the head's chain value: ``b"keep"`` leaves it, None clears it.
    """
    builder = MerkleTreeBuilder()
    builder.extend(bytes(r[0]) for r in db.run("SELECT leaf_hash FROM audit_entries ORDER BY seq"))
    frontier = builder.frontier()
    db.run("UPDATE audit_head SET size = ?, frontier = ? WHERE id = 1", frontier.size, b"".join(frontier.hashes))
    if chain != b"keep":
        db.run("UPDATE audit_head SET chain = ? WHERE id = 1", chain)


def plant_entry(db: RawDB, kind: str = "result.sealed", *, chain: bytes | str | None = "guess", **fields: Any) -> int:
    """Insert the next entry the way the gateway would -- right seq, canonical bytes, correct leaf hash --
    and rewrite the head over it. The chain MAC cannot be computed without the secret: ``"guess"`` puts
    random bytes in the entry and the head, None clears both (as in a store from before the chain).
    Returns the planted entry's seq."""
    (size,) = db.run("SELECT size FROM audit_head WHERE id = 1")[0]
    time = "2026-01-01T00:00:00.000000Z"
    request_id = fields.pop("request_id", "01JZZZZZZZZZZZZZZZZZZZZZZZ")
    doc = {
        "fields": fields,
        "instance": "gw-host-1-abcdef",
        "kind": kind,
        "request_id": request_id,
        "seq": size,
        "time": time,
        "v": 1,
    }
    entry = canonicalize(doc)
    mac = os.urandom(32) if chain == "guess" else chain
    db.run(
        "INSERT INTO audit_entries (seq, appended_at, kind, request_id, entry, leaf_hash, payload, chain) "
        "VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
        size,
        time,
        kind,
        request_id,
        entry,
        leaf(entry),
        mac,
    )
    rewrite_head(db, mac)
    return int(size)
