"""The handlers behind ``onewindow audit ...`` (argument parsing is in :mod:`gateway.cli.audit`)."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from gateway.audit.keys import (
    create_audit_key,
    key_path,
    load_audit_public_key,
    load_signer,
    log_id,
    passphrase,
    public_key_path,
)
from gateway.audit.payloads import PayloadCipher
from gateway.audit.proofs import prove_consistency, prove_inclusion
from gateway.audit.recovery import RECOVERED_KIND, RecoveryRefused, recover
from gateway.audit.secret import create_audit_secret, secret_path
from gateway.audit.setup import cli_instance, open_store, optional_secret
from gateway.audit.store.base import AuditStore, StoredCheckpoint
from gateway.audit.story import story
from gateway.audit.verify import verify_store
from gateway.audit.witness import Witness, publish_to
from gateway.cli.audit.console import EXIT_OK, EXIT_PROBLEM, Progress, write_json
from gateway.config import Settings, load_settings
from gateway.errors import AuditInputError, AuditIntegrityError, AuditKeyError, VerifyInputError
from gateway.observability.events import PayloadDigests
from gateway.store import require_existing_store
from signing.audit.bundle import build_bundle, bundle_public_key, verify_bundle
from signing.audit.checkpoint import AuditPublicKey, SignedCheckpoint, key_id, load_public_key, public_key_pem
from signing.audit.log_verifier import LogReport
from signing.audit.proof_files import build_consistency_proof_file, build_inclusion_proof_file, check_proof_file
from signing.errors import SigningError
from signing.jose import ijson
from signing.keys.passphrase import Passphrase
from signing.registry.seal_keys import rekey_files


def _settings(args: argparse.Namespace, *, reads_store: bool = False) -> Settings:
    """The configuration; ``reads_store``: refuse first if the store it names is not there (a wrong directory)."""
    settings = load_settings(getattr(args, "config", None))
    if reads_store:
        require_existing_store(settings.store_url)
    return settings


def _read_json(path: str) -> Any:
    try:
        return ijson.loads(Path(path).read_bytes())  # I-JSON: a member twice is refused, naming it
    except OSError as exc:
        raise AuditInputError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise AuditInputError(f"{path} is not JSON: {exc}") from None


def _pinned_key(path: str | None) -> AuditPublicKey | None:
    if path is None:
        return None
    try:
        return load_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise AuditInputError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise AuditInputError(f"{path}: {exc}") from None


def _print_report(report: LogReport, as_json: bool) -> int:
    unsigned = report.ok and not report.checkpoints
    if unsigned:  # consistent, but there is nothing signed to hold the entries to: say so, claim no more
        report.notes.insert(0, _NOTHING_SIGNED if report.size else "the log is empty: there is nothing to verify yet")
    if as_json:
        write_json(report.to_dict(), None)
    elif unsigned:  # the generic report would claim checks against checkpoints that do not exist
        lines = [_UNSIGNED if line.startswith("VALID:") else line for line in report.render().splitlines()]
        print("\n".join(line for line in lines if "after the latest checkpoint" not in line))
    else:
        print(report.render())
    return EXIT_OK if report.ok else EXIT_PROBLEM


_NOTHING_SIGNED = (
    "nothing is signed yet: there is no signed checkpoint, so the entries were checked only against each other "
    "and the stored head, which whoever can write the database could rewrite together; a running gateway signs "
    "one within [audit] checkpoint_interval_s, or sign one now with 'onewindow audit checkpoint'"
)
_UNSIGNED = (
    "NOTHING SIGNED YET: the entries are consistent (each in its place, its recorded leaf hash and index "
    "columns agree, the stored head matches), but there is no signed checkpoint to check them against."
)


def _start_checkpoint(value: str | None) -> int | SignedCheckpoint | None:
    """``--from``: a tree size, or a file with a signed checkpoint (or a proof file carrying one)."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    doc = _read_json(value)
    if isinstance(doc, dict) and doc.get("format") != "onewindow-checkpoint/v1":
        doc = doc.get("new_checkpoint") or doc.get("checkpoint") or doc
    try:
        return SignedCheckpoint.from_dict(doc)
    except ValueError as exc:
        raise AuditInputError(f"{value}: not a signed checkpoint ({exc})") from None


# -- verify -------------------------------------------------------------------------


async def verify(args: argparse.Namespace) -> int:
    pinned = _pinned_key(args.key)
    show_progress = args.progress or sys.stderr.isatty()
    if args.bundle:
        doc = _read_json(args.bundle)
        trusted = pinned or bundle_public_key(doc)
        entries = doc.get("entries") if isinstance(doc, dict) else None
        progress = Progress(len(entries) if isinstance(entries, list) else 0) if show_progress else None
        report = verify_bundle(doc, trusted, on_progress=progress)
        if progress:
            progress.done()
        if pinned is None:
            report.notes.append(
                f"trusted the key embedded in the bundle ({key_id(trusted)}): compare it, or pass --key"
            )
        return _print_report(report, args.json)
    settings = _settings(args, reads_store=True)
    trusted = pinned or load_audit_public_key(settings)
    start = _start_checkpoint(args.start)
    async with open_store(settings) as (_, audit):
        head = await audit.head()
        progress = Progress(head.size) if show_progress else None
        try:
            report = await verify_store(audit, trusted, log_id=log_id(settings), start_from=start, on_progress=progress)
        except VerifyInputError as exc:
            raise AuditInputError(str(exc)) from None
        if progress:
            progress.done()
    return _print_report(report, args.json)


# -- proofs -------------------------------------------------------------------------


async def _checkpoints_by_size(audit: AuditStore) -> dict[int, StoredCheckpoint]:
    return {c.tree_size: c for c in await audit.checkpoints()}


def _signed(record: StoredCheckpoint) -> SignedCheckpoint:
    try:
        return SignedCheckpoint.from_dict(record.signed)
    except ValueError as exc:
        raise AuditIntegrityError(f"the stored checkpoint at size {record.tree_size} is malformed: {exc}") from None


async def prove(args: argparse.Namespace) -> int:
    settings = _settings(args, reads_store=True)
    key = load_audit_public_key(settings)
    async with open_store(settings) as (_, audit):
        latest = await audit.latest_checkpoint()
        if args.entry < 0:
            raise AuditInputError("ENTRY must be a sequence number (0 or more)")
        size = (await audit.head()).size
        if args.entry >= size:
            held = f"entries 0..{size - 1}" if size else "no entries yet"
            raise AuditInputError(f"entry {args.entry} does not exist: the log holds {held}")
        if latest is None or args.entry >= latest.tree_size:
            covered = f"the latest is at size {latest.tree_size}" if latest else "there is none yet"
            print(
                f"entry {args.entry} is not covered by a signed checkpoint ({covered}); "
                "wait for the next one or run 'onewindow audit checkpoint'",
                file=sys.stderr,
            )
            return EXIT_PROBLEM
        row = await audit.entry(args.entry)
        if row is None:
            print(f"entry {args.entry} is missing from the store: run 'onewindow audit verify'", file=sys.stderr)
            return EXIT_PROBLEM
        signed = _signed(latest)
        path = await prove_inclusion(audit, args.entry, latest.tree_size)
    doc = build_inclusion_proof_file(signed, args.entry, path, entry=row[1], leaf_hash=row[2], public_key=key)
    return _emit_checked(doc, key, args.out)


async def consistency(args: argparse.Namespace) -> int:
    settings = _settings(args, reads_store=True)
    key = load_audit_public_key(settings)
    async with open_store(settings) as (_, audit):
        stored = await _checkpoints_by_size(audit)
        missing = [n for n in (args.old, args.new) if n not in stored]
        if missing or args.old > args.new:
            sizes = ", ".join(str(s) for s in sorted(stored)[-8:]) or "none yet"
            raise AuditInputError(f"OLD and NEW must be checkpoint sizes, OLD <= NEW (latest checkpoints: {sizes})")
        proof = await prove_consistency(audit, args.old, args.new)
        old, new = _signed(stored[args.old]), _signed(stored[args.new])
    doc = build_consistency_proof_file(old, new, proof, public_key=key)
    return _emit_checked(doc, key, args.out)


def _emit_checked(doc: dict[str, Any], key: AuditPublicKey, out: str | None) -> int:
    """Hand out a proof only after checking it: a tampered store gives exit 1, never a false proof."""
    verdict = check_proof_file(doc, key)
    if not verdict.ok:
        print(f"cannot prove it: {verdict.reason} ({verdict.problem}); run 'onewindow audit verify'", file=sys.stderr)
        return EXIT_PROBLEM
    write_json(doc, out)
    if out:
        print(f"VALID {verdict.kind} proof written to {out}: {verdict.reason}")
    return EXIT_OK


# -- export -------------------------------------------------------------------------


async def export(args: argparse.Namespace) -> int:
    settings = _settings(args, reads_store=True)
    key = load_audit_public_key(settings)
    async with open_store(settings) as (_, audit):
        stored = await _checkpoints_by_size(audit)
        if not stored:
            print("no signed checkpoint yet: nothing can be exported verifiably", file=sys.stderr)
            return EXIT_PROBLEM
        sizes = sorted(stored)
        start = max([s for s in sizes if s <= args.start], default=0)
        wanted = sizes[-1] if args.end is None else args.end
        end = min([s for s in sizes if s >= wanted], default=None)
        if end is None or end <= start:
            raise AuditInputError(f"--to {wanted} is beyond the latest checkpoint ({sizes[-1]})")
        rows: list[tuple[int, bytes, bytes | None]] = []
        async for chunk in audit.entries(start, end):
            rows.extend((r[0], r[1], r[6]) for r in chunk)
        first = stored.get(start)
    doc = build_bundle(
        log_id=log_id(settings),
        public_key=key,
        start=start,
        end=end,
        start_checkpoint=first.signed if first else None,
        start_frontier=first.frontier if first else None,
        checkpoints=[stored[s].signed for s in sizes if start <= s <= end],
        entries=rows,
    )
    Path(args.file).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    print(f"bundle of entries {start}..{end - 1} ({end - start:,}) written to {args.file}")
    return EXIT_OK


# -- show, keys, checkpoint ------------------------------------------------------------


async def show(args: argparse.Namespace) -> int:
    settings = _settings(args, reads_store=True)
    cipher = PayloadCipher.from_file(args.payload_key) if args.payload_key else None
    secret = optional_secret(settings) if cipher else None
    digests = PayloadDigests(secret.digest_key) if secret else None
    async with open_store(settings) as (_, audit):
        told = await story(audit, args.request_id, cipher=cipher, digests=digests)
    if args.json:
        write_json(told.to_dict(), None)
    else:
        print(told.render())
    if not told.entries:
        return EXIT_PROBLEM
    return EXIT_OK if told.ok else EXIT_PROBLEM


async def export_key(args: argparse.Namespace) -> int:
    key = load_audit_public_key(_settings(args))
    Path(args.file).write_text(public_key_pem(key), encoding="ascii")
    print(f"audit public key written to {args.file}; key id {key_id(key)} (publish both)")
    return EXIT_OK


async def init_key(args: argparse.Namespace) -> int:
    settings = _settings(args)
    path = key_path(settings)
    if path.exists():
        raise AuditInputError(f"an audit key already exists at {path}")
    key = create_audit_key(path, passphrase(settings))
    print(f"district audit key (Ed25519) created at {path}; public key {public_key_path(settings)}")
    print(f"key id {key_id(key)}  (publish it with the public key for verifiers)")
    if not secret_path(settings).exists():
        _create_secret(settings)
    return EXIT_OK


async def rekey(args: argparse.Namespace) -> int:
    settings = _settings(args)
    path = key_path(settings)
    old = passphrase(settings)
    new = Passphrase(Path(args.new_passphrase_file).read_bytes().rstrip(b"\r\n")) if args.new_passphrase_file else old
    try:
        (done,) = rekey_files([(path, old, new)])
    except SigningError as exc:
        raise AuditKeyError(f"{exc}") from None
    print(f"{done.path}: {done.before} -> {done.after}")
    return EXIT_OK


async def init_secret(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if secret_path(settings).exists():
        raise AuditInputError(f"an audit secret already exists at {secret_path(settings)}")
    _create_secret(settings)
    return EXIT_OK


def _create_secret(settings: Settings) -> None:
    path = secret_path(settings)
    secret = create_audit_secret(path)
    print(f"district audit secret created at {path} (id {secret.secret_id}, mode 0600): copy it to every gateway ")
    print("instance that shares this store, and back it up apart from the database; never publish it")


async def checkpoint(args: argparse.Namespace) -> int:
    settings = _settings(args)
    signer = load_signer(settings)
    witness = Witness.for_settings(settings, signer.public_key(), log_id(settings))
    async with open_store(settings) as (_, audit):
        try:
            behind = await witness.judge(audit) if witness is not None else None
            if behind is not None:  # signing now would fork the log the witness holds
                raise AuditIntegrityError(f"the store is {behind.where()}: {behind.what}")
            signed = await audit.checkpoint(signer, log_id(settings))
            published = await publish_to(witness, audit)
        except AuditIntegrityError as exc:
            print(
                f"refused to sign: {exc}; see 'onewindow audit recover' and 'onewindow audit reconcile'",
                file=sys.stderr,
            )
            return EXIT_PROBLEM
    if signed is None:
        print("the latest checkpoint already covers the whole log")
    else:
        cp = signed.checkpoint
        print(f"signed checkpoint at size {cp.tree_size:,}, root {base64.b64encode(cp.root_hash).decode()}")
    if published:
        print(published)
    return EXIT_OK


# -- recover -----------------------------------------------------------------------------


async def recover_log(args: argparse.Namespace) -> int:
    settings = _settings(args, reads_store=True)
    signer = load_signer(settings)  # the passphrase, before anything is moved: recovery ends with a checkpoint
    if optional_secret(settings) is None:
        raise AuditInputError(f"no district audit secret at {secret_path(settings)}: recovery needs the chain key")

    witness = Witness.for_settings(settings, signer.public_key(), log_id(settings))
    async with open_store(settings) as (_, audit):
        try:
            latest, _ = await witness.latest() if witness is not None else (None, None)
            stored = await audit.latest_checkpoint()
            if latest is not None and latest.checkpoint.tree_size > (stored.tree_size if stored else 0):
                raise RecoveryRefused(
                    "the store is behind its witness (a restored backup): 'onewindow audit reconcile'"
                )
            done = await recover(
                audit, signer, log_id(settings), by=args.by, reason=args.reason, instance=cli_instance()
            )
        except RecoveryRefused as exc:
            print(f"cannot recover: {exc}", file=sys.stderr)
            return EXIT_PROBLEM
        if done is None:
            print("the audit log is sound from its latest signed checkpoint: nothing to recover")
            return EXIT_OK
        signed = await audit.checkpoint(signer, log_id(settings))
        await publish_to(witness, audit)
    print(f"found: {done.found.describe()}")
    if done.set_aside is not None:
        first, last = done.set_aside
        print(
            f"set aside {done.set_aside_count} entr{'y' if done.set_aside_count == 1 else 'ies'} ({first}..{last}) "
            "into audit_entries_set_aside: never part of the log, kept as evidence"
        )
    if done.set_aside_checkpoints:
        sizes = ", ".join(str(s) for s in done.set_aside_checkpoints)
        print(f"set aside checkpoint(s) at size {sizes} into audit_checkpoints_set_aside (signature does not hold)")
    if done.resigned_checkpoints:
        sizes = ", ".join(str(s) for s in done.resigned_checkpoints)
        print(f"signed again the checkpoint(s) at size {sizes}: the chain shows they were signed, their rows are gone")
    size = signed.checkpoint.tree_size if signed else done.seq + 1
    print(f"recorded as entry {done.seq} ({RECOVERED_KIND}); signed checkpoint at size {size:,}")
    print("restart every gateway instance on this store: each checks the log again when it starts")
    return EXIT_OK
