"""``onewindow backup``: everything a gateway needs to be put back, in one owner-only archive.

In the archive, with the manifest first:

* the store, as one consistent snapshot taken while the gateway runs
  (:mod:`gateway.store.snapshots`: SQLite's online backup API, or
  ``pg_dump`` of the store's schema) -- with what it held at that moment:
  the audit log's size and latest signed checkpoint;
* the PKI directory as the gateway holds it -- ``registry.json``, the root
  certificate, every seal's certificate and encrypted key, the trust bundle
  -- read under the registry's lock, **without** the root key (which a
  gateway host should not hold; it is left out even where it is);
* the district audit key (encrypted, as it is on disk) and its public half;
* the district audit secret, sealed under the seal passphrase
  (:mod:`gateway.backup.sealed_secret`): never in clear beside the database.

Never in it: passphrases, the root key, the payload key and the witness
(:data:`gateway.backup.manifest.NOT_INCLUDED`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from gateway import __version__
from gateway.audit.keys import key_path, passphrase, public_key_path
from gateway.audit.secret import read_audit_secret, secret_path
from gateway.audit.setup import cli_instance
from gateway.backup.archive import ArchiveWriter, private_file, sha256_of
from gateway.backup.manifest import MANIFEST, Manifest, Member
from gateway.backup.sealed_secret import seal
from gateway.config import Settings
from gateway.errors import AuditKeyError, BackupError
from gateway.store.snapshots import snapshot
from signing.fsutil import exclusive_lock
from signing.registry.state_file import ROOT_KEY_FILE


def pki_files(settings: Settings) -> list[tuple[str, Path]]:
    """The PKI directory's files a backup takes: regular files, no dot files, no root key, no lock.

    The audit key and secret are taken on their own (:func:`make_backup`),
    wherever they are configured.
    """
    root = Path(settings.pki_dir)
    apart = {p.resolve() for p in (key_path(settings), public_key_path(settings), secret_path(settings))}
    left_out = {ROOT_KEY_FILE, "registry.lock"}
    found = []
    for directory, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if not f.startswith(".") and not Path(directory, f).is_symlink())
        for name in sorted(files):
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            if name.startswith(".") or relative in left_out or path.is_symlink() or not path.is_file():
                continue
            if path.resolve() not in apart:
                found.append((relative, path))
    return found


async def make_backup(settings: Settings, target: Path) -> Manifest:
    """Write the archive at ``target`` (a new file, mode 0600) and return its manifest."""
    try:
        secret_text = secret_path(settings).read_bytes()
        read_audit_secret(secret_path(settings))  # it must be a secret before it is sealed into a backup
        sealed = seal(secret_text, passphrase(settings))
    except (AuditKeyError, OSError) as exc:
        raise BackupError(f"the district audit secret cannot be backed up: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="onewindow-backup-") as staging:
        copy, state, schema = await snapshot(settings.store_url, Path(staging))
        manifest = Manifest(
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            created_by=cli_instance(),
            version=__version__,
            configuration=settings.source,
            backend="sqlite" if settings.store_url.startswith("sqlite:") else "postgres",
            store=Member(f"store/{copy.name}", sha256_of(copy)),
            schema=schema,
            state=state,
            secret_id=read_audit_secret(secret_path(settings)).secret_id,
        )
        with exclusive_lock(Path(settings.pki_dir) / "registry.lock"):  # the registry as one moment, too
            pki = [(relative, path.read_bytes()) for relative, path in pki_files(settings)]
            keys = {name: path.read_bytes() for name, path in _audit_keys(settings).items()}
        manifest.pki = [Member(f"pki/{rel}", _sha(data), rel) for rel, data in pki]
        manifest.audit = {name: Member(f"audit/{_KEY_FILES[name]}", _sha(data)) for name, data in keys.items()}
        manifest.audit["secret"] = Member("audit/audit-secret.sealed", _sha(sealed))
        with private_file(target) as handle:
            writer = ArchiveWriter(handle)
            writer.add_bytes(MANIFEST, _json(manifest))
            writer.add_file(manifest.store.member, copy)
            for (_, data), member in zip(pki, manifest.pki, strict=True):
                writer.add_bytes(member.member, data)
            for name, data in keys.items():
                writer.add_bytes(manifest.audit[name].member, data)
            writer.add_bytes(manifest.audit["secret"].member, sealed)
            writer.close()
    return manifest


_KEY_FILES = {"key": "audit-key.pem", "public_key": "audit-key.pub.pem"}


def _audit_keys(settings: Settings) -> dict[str, Path]:
    paths = {"key": key_path(settings), "public_key": public_key_path(settings)}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise BackupError(f"no district audit key at {missing[0]}: nothing to back up the log's signatures with")
    return paths


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(manifest: Manifest) -> bytes:
    return json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
