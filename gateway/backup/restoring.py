"""``onewindow restore ARCHIVE``: a gateway's state put back from a backup -- nothing lost, nothing guessed.

Before anything is changed: the manifest is read strictly, every member is
checked against its SHA-256, the sealed audit secret is opened with the seal
passphrase, and the store the configuration names is compared with the
archive's. A store **ahead** of the archive (more audit entries, a later
checkpoint, more or later requests) is refused without ``--force``: it
would be replaced by an older one. So is an audit key or secret on this
host other than the archive's: the restored log is chained and signed with
the archive's.

Then: the store is replaced, the one it replaces moved aside (never deleted:
:mod:`gateway.store.snapshots`); the audit key and secret are written where
the configuration wants them; PKI files missing here are written, and PKI
files that differ are **kept** (the registry here may be newer than the
backup -- a seal revoked since must not come back; copy the bureau's). The
report says what was restored, moved aside, kept.

A restored store is usually behind its witness: the gateway then refuses
to serve until ``onewindow audit reconcile`` (docs/operations.md, "Backup
and restore").
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gateway.audit.keys import key_path, passphrase, public_key_path
from gateway.audit.secret import AuditSecret, secret_path
from gateway.backup.archive import ArchiveReader
from gateway.backup.manifest import MANIFEST, Manifest, Member, safe_path
from gateway.backup.sealed_secret import unseal
from gateway.config import Settings
from gateway.errors import AuditKeyError, BackupError
from gateway.store.snapshots import current_state, put_back
from gateway.store.store_state import DISPLACED
from signing.fsutil import atomic_write


@dataclass
class Restored:
    """What a restore did."""

    manifest: Manifest
    displaced_store: str | None = None
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    displaced: list[str] = field(default_factory=list)
    overrode: list[str] = field(default_factory=list)


async def restore_backup(settings: Settings, archive: Path, *, force: bool = False) -> Restored:
    """Put the archive back as the configuration names it; see the module docstring."""
    reader = ArchiveReader(archive)
    try:
        manifest = Manifest.parse(reader.read(MANIFEST))
        for member in manifest.members():
            reader.check(member.member, member.sha256)
        backend = "sqlite" if settings.store_url.startswith("sqlite:") else "postgres"
        if manifest.backend != backend:
            raise BackupError(f"the archive holds a {manifest.backend} store, the configuration names a {backend} one")
        secret = _secret(reader, manifest, settings)
        done = Restored(manifest)
        current = await current_state(settings.store_url)
        ahead = current.ahead_of(manifest.state) if current is not None else []
        if ahead and not force:
            raise BackupError(
                f"the store is ahead of the archive ({'; '.join(ahead)}): restoring would replace it with an "
                "older one. Back it up first if it matters, then restore with --force (it is moved aside, not deleted)"
            )
        done.overrode = ahead
        keys = _key_files(reader, manifest, settings, secret)
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        _check_keys(keys, force)
        pki = _pki_targets(manifest, Path(settings.pki_dir))
        with tempfile.TemporaryDirectory(prefix="onewindow-restore-") as staging:
            copy = Path(staging) / Path(manifest.store.member).name
            reader.copy_to(manifest.store.member, copy, manifest.store.sha256)
            done.displaced_store = await put_back(settings.store_url, copy, schema=manifest.schema, stamp=stamp)
        for path, data in keys:
            _write(path, data, 0o644 if path.name.endswith(".pub.pem") else 0o600, stamp, done)
        _pki(reader, pki, done)
        return done
    finally:
        reader.close()


def _secret(reader: ArchiveReader, manifest: Manifest, settings: Settings) -> bytes:
    member = manifest.audit.get("secret")
    if member is None:
        raise BackupError("the archive holds no audit secret: the restored log could not be checked or extended")
    try:
        text = unseal(reader.read(member.member), passphrase(settings))
        AuditSecret.from_bytes(bytes.fromhex(text.decode("ascii").strip()))
    except (AuditKeyError, UnicodeDecodeError, ValueError) as exc:
        raise BackupError(f"the archive's audit secret cannot be opened: {exc}") from None
    return text


def _key_files(
    reader: ArchiveReader, manifest: Manifest, settings: Settings, secret: bytes
) -> list[tuple[Path, bytes]]:
    wanted = [(secret_path(settings), secret)]
    for name, path in (("key", key_path(settings)), ("public_key", public_key_path(settings))):
        if name in manifest.audit:
            wanted.append((path, reader.read(manifest.audit[name].member)))
    return wanted


def _check_keys(keys: list[tuple[Path, bytes]], force: bool) -> None:
    """An audit key or secret here that is not the archive's would not open the restored log: refuse, unless forced."""
    for path, data in keys:
        if path.exists() and path.read_bytes() != data and not force:
            raise BackupError(
                f"{path} is not the archive's: the restored log is chained and signed with the archive's. Restore "
                "with --force to put the archive's in place (yours is kept beside it), or on the host it came from"
            )


def _write(path: Path, data: bytes, mode: int, stamp: str, done: Restored) -> None:
    if path.exists():
        if path.read_bytes() == data:
            done.unchanged.append(str(path))
            return
        aside = path.with_name(f"{path.name}.{DISPLACED}-{stamp}")
        os.replace(path, aside)
        done.displaced.append(str(aside))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, data, mode=mode)
    done.written.append(str(path))


def _pki_targets(manifest: Manifest, root: Path) -> list[tuple[Member, Path]]:
    """Where each PKI file goes -- checked before anything is changed: never through a link out of ``root``."""
    base, targets = root.resolve(), []
    for member in manifest.pki:
        target = root / safe_path(member.path)
        parent = target.parent.resolve()
        if parent != base and base not in parent.parents:  # a link inside the PKI directory pointing elsewhere
            raise BackupError(f"{target} leads outside the PKI directory {root}: refused, nothing changed")
        targets.append((member, target))
    return targets


def _pki(reader: ArchiveReader, targets: list[tuple[Member, Path]], done: Restored) -> None:
    """PKI files missing here are written; those that differ are kept (the registry here may be newer)."""
    for member, target in targets:
        data = reader.read(member.member)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(target, data, mode=0o600 if target.name.endswith("key.pem") else 0o644)
            done.written.append(str(target))
        elif target.read_bytes() == data:
            done.unchanged.append(str(target))
        else:
            done.kept.append(str(target))
