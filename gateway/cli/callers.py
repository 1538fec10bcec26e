"""``onewindow caller ...``: credentials for intake callers.

``new-key`` makes an API key (for districts that still allow them);
``add-key``, ``list-keys`` and ``retire-key`` manage the keys callers sign
their requests with (:mod:`gateway.callers.keys`). Keys are in the store,
so a running gateway uses a new key, and refuses a retired one, at its next
request. Adding and retiring are administrative acts in the audit log.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.admin import record_admin_act
from gateway.callers.api_keys import new_api_key
from gateway.callers.keys import MAX_ACTIVE_KEYS, district_passphrase, ed25519_key, fingerprint, hmac_key
from gateway.callers.signing_client import key_file_text
from gateway.config import Settings, load_settings
from gateway.errors import CommandError
from gateway.store import Store, StoredCallerKey, make_store, require_existing_store, utcnow


def cmd_caller_new_key(args: argparse.Namespace) -> int:
    """``onewindow caller new-key``: a new API key, and the digest the configuration holds instead."""
    key, digest = new_api_key()
    print(f"API key (give it to the intake system once; it is not stored): {key}")
    print(f'api_key_sha256 = "{digest}"   # put this in the caller\'s [[callers]] table')
    return 0


def _signing_caller(settings: Settings, caller_id: str) -> None:
    config = next((c for c in settings.callers if c.id == caller_id), None)
    if config is None:
        known = ", ".join(c.id for c in settings.callers) or "none"
        raise CommandError(f"no caller {caller_id!r} in the configuration (callers: {known})")
    if "signature" not in config.methods:
        raise CommandError(f'caller {caller_id!r} may not sign requests: add "signature" to its methods')


async def _with_store(settings: Settings, work: Any) -> Any:
    require_existing_store(settings.store_url)
    store = make_store(settings.store_url)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def _write_private(path: Path, text: str) -> None:
    """A key file only its owner reads, never over another."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(f"{path} exists already: a key file is never overwritten") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _new_key(args: argparse.Namespace, settings: Settings) -> tuple[StoredCallerKey, str | None]:
    """The row to store and the key file to write (if any)."""
    out = Path(args.out) if args.out else None
    if out is not None and out.exists():
        raise CommandError(f"{out} exists already: a key file is never overwritten")
    if args.alg == "hmac-sha256":
        if args.public_key:
            raise CommandError("--public-key is for ed25519 keys; an HMAC secret is made here")
        row, secret = hmac_key(args.caller, district_passphrase(settings))
        return row, key_file_text(row.key_id, args.caller, row.alg, secret)
    if args.public_key:
        try:
            pem = Path(args.public_key).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {args.public_key}: {exc.strerror}") from None
        return ed25519_key(args.caller, pem), None
    if out is None:
        raise CommandError("give the caller's own public key (--public-key FILE), or --out FILE to make a pair here")
    private = Ed25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    row = ed25519_key(args.caller, public_pem)
    return row, key_file_text(row.key_id, args.caller, row.alg, private)


async def _add_key(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    _signing_caller(settings, args.caller)
    row, key_file = _new_key(args, settings)

    async def add(store: Store) -> bool:
        active = [k for k in await store.caller_keys(args.caller) if k.retired_at is None]
        if len(active) >= MAX_ACTIVE_KEYS:
            return False
        await record_admin_act(
            settings,
            "caller_key_added",
            caller=args.caller,
            key_id=row.key_id,
            alg=row.alg,
            fingerprint=fingerprint(row),
            by=args.by,
        )
        return await store.add_caller_key(row, max_active=MAX_ACTIVE_KEYS)

    if not await _with_store(settings, add):
        raise CommandError(
            f"caller {args.caller!r} has {MAX_ACTIVE_KEYS} keys in use already: retire one first "
            "('onewindow caller list-keys', 'onewindow caller retire-key')"
        )
    print(f"key id: {row.key_id}   ({row.alg}, caller {args.caller})")
    if key_file is not None and args.out:
        _write_private(Path(args.out), key_file)
        print(f"key file (mode 0600; give it to the intake system, then delete it here): {args.out}")
    elif key_file is not None:
        print("HMAC secret, base64 (shown once, not stored in the clear; give it to the intake system):")
        print(json.loads(key_file)["secret"])
    else:
        print(f"public key fingerprint: {fingerprint(row)}")
    return 0


async def _list_keys(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    keys: list[StoredCallerKey] = await _with_store(settings, lambda store: store.caller_keys(args.caller))
    if not keys:
        print("no signing keys" + (f" for {args.caller}" if args.caller else ""))
        return 0
    print(f"{'caller':<20} {'key id':<32} {'alg':<12} {'created':<20} {'state':<28} fingerprint")
    for key in keys:
        state = "in use" if key.retired_at is None else f"retired {key.retired_at:%Y-%m-%d %H:%M:%S}"
        created = f"{key.created_at:%Y-%m-%d %H:%M:%S}"
        print(f"{key.caller_id:<20} {key.key_id:<32} {key.alg:<12} {created:<20} {state:<28} {fingerprint(key)}")
    return 0


async def _retire_key(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)

    async def retire(store: Store) -> bool:
        key = await store.caller_key(args.key_id)
        if key is None or key.caller_id != args.caller or key.retired_at is not None:
            return False
        await record_admin_act(
            settings, "caller_key_retired", caller=args.caller, key_id=args.key_id, alg=key.alg, by=args.by
        )
        return await store.retire_caller_key(args.caller, args.key_id, now=utcnow())

    if not await _with_store(settings, retire):
        raise CommandError(f"caller {args.caller!r} has no key {args.key_id!r} in use ('onewindow caller list-keys')")
    print(f"retired {args.key_id}: every gateway refuses its signatures from the next request on")
    return 0


def _run(handler: Any) -> Any:
    def command(args: argparse.Namespace) -> int:
        return int(asyncio.run(handler(args)))

    return command


def register(sub: Any) -> None:
    """Add ``caller new-key|add-key|list-keys|retire-key`` to the ``onewindow`` command."""
    caller = sub.add_parser("caller", help="manage intake callers and their keys")
    caller_sub = caller.add_subparsers(dest="caller_command", required=True, metavar="COMMAND")
    caller_sub.add_parser("new-key", help="make a new API key and the digest to configure").set_defaults(
        func=cmd_caller_new_key
    )
    who = getpass.getuser()

    def command(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        parser = caller_sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--config", metavar="FILE", help="TOML configuration (default: $ONEWINDOW_CONFIG)")
        parser.set_defaults(func=_run(handler))
        return parser

    add = command("add-key", "give a caller a request-signing key (two at most: in use and its successor)", _add_key)
    add.add_argument("caller", metavar="CALLER")
    add.add_argument("--alg", required=True, choices=("hmac-sha256", "ed25519"))
    add.add_argument("--public-key", metavar="FILE", help="ed25519: the caller's own public key (PEM)")
    add.add_argument(
        "--out", metavar="FILE", help="write a key file for 'onewindow call --key-file' (an ed25519 pair is made here)"
    )
    add.add_argument("--by", default=who, help=f"who is acting (default: {who})")
    listing = command("list-keys", "list signing keys, in use and retired", _list_keys)
    listing.add_argument("caller", metavar="CALLER", nargs="?")
    retire = command("retire-key", "stop accepting a signing key, at once, on every gateway", _retire_key)
    retire.add_argument("caller", metavar="CALLER")
    retire.add_argument("key_id", metavar="KEYID")
    retire.add_argument("--by", default=who, help=f"who is acting (default: {who})")
