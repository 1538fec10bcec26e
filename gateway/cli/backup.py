"""``onewindow backup ARCHIVE`` and ``onewindow restore ARCHIVE``: the gateway's state in one archive, and back.

See :mod:`gateway.backup`; the procedure, and what to keep apart, is in
docs/operations.md ("Backup and restore").
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gateway.config import load_settings


def cmd_backup(args: argparse.Namespace) -> int:
    from gateway.backup.making import make_backup

    settings = load_settings(args.config)
    target = Path(args.archive)
    manifest = asyncio.run(make_backup(settings, target))
    state = manifest.state
    size, _ = state.checkpoint_root()
    print(f"backup written to {target} (mode 0600, {target.stat().st_size:,} bytes)")
    where = f"schema {manifest.schema}" if manifest.schema else manifest.store.member
    print(
        f"  store ({manifest.backend}, {where}): {state.requests:,} request(s), audit log of {state.audit_size:,} "
        f"entries, latest signed checkpoint at size {size:,}"
    )
    print(f"  PKI directory: {len(manifest.pki)} files, without the district root key")
    print(
        f"  district audit key (encrypted) and audit secret (sealed under the seal passphrase, id {manifest.secret_id})"
    )
    print(
        "not in it -- keep these apart from the archive: the seal and root passphrases, the root key (on the bureau's"
    )
    print("  machine), the payload key; and the witness, which a restore must never roll back")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from gateway.backup.restoring import restore_backup

    settings = load_settings(args.config)
    done = asyncio.run(restore_backup(settings, Path(args.archive), force=args.force))
    manifest, state = done.manifest, done.manifest.state
    print(
        f"restored {args.archive} (made {manifest.created_at} by {manifest.created_by} from {manifest.configuration})"
    )
    size, _ = state.checkpoint_root()
    print(
        f"  store ({manifest.backend}): {state.requests:,} request(s), audit log of {state.audit_size:,} entries, "
        f"latest signed checkpoint at size {size:,}"
    )
    if done.overrode:
        print(f"  --force: the store replaced was ahead of the archive ({'; '.join(done.overrode)})")
    if done.displaced_store:
        print(f"  the store it replaced is kept as {done.displaced_store} (remove it once you no longer need it)")
    print(f"  PKI directory, audit key and secret: {len(done.unchanged)} file(s) already as in the archive")
    for label, paths in (
        ("written", done.written),
        ("moved aside (--force)", done.displaced),
        ("KEPT as they are here, different from the archive (newer? copy the bureau's registry)", done.kept),
    ):
        for path in paths:
            print(f"  {label}: {path}")
    print("next: start the gateway. If it refuses to serve (behind its witness), stop it and run")
    print("  onewindow audit reconcile --dry-run   (what was lost since the backup), then with --by and --reason")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``backup`` and ``restore`` to the ``onewindow`` parser."""
    config_help = "TOML configuration (default: $ONEWINDOW_CONFIG or the sample)"
    p = subparsers.add_parser(
        "backup", help="the store, the PKI directory (no root key), the audit key and secret: one archive"
    )
    p.add_argument("archive", metavar="ARCHIVE", help="the archive to write (a new file; written mode 0600)")
    p.add_argument("--config", metavar="FILE", help=config_help)
    p.set_defaults(func=cmd_backup)
    p = subparsers.add_parser("restore", help="put a backup back (refuses a store ahead of it without --force)")
    p.add_argument("archive", metavar="ARCHIVE")
    p.add_argument("--config", metavar="FILE", help=config_help)
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a store ahead of the archive (and an audit key or secret that differs)",
    )
    p.set_defaults(func=cmd_restore)
