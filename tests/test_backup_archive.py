"""The backup archive: what is in it and what never is, who may read it, and the archives a restore refuses.

A restore changes nothing until the whole archive checks out: a member
altered, a manifest naming a path outside its places, two members of one
name, a link where a file belongs, a wrong passphrase, another backend, an
audit secret here that is not the archive's -- each is refused with one
line and exit 2, the store left exactly as it was.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from gateway.backup.archive import check_private
from gateway.errors import BackupError
from gateway.store import make_store
from tests.audit_helpers import gateway_config, run_cli
from tests.conftest import make_district


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    """A district and a SQLite store with one request's worth of tables; a configuration naming both."""
    district = make_district(tmp_path / "district")
    url = f"sqlite:///{tmp_path}/var/onewindow.db"

    async def migrate() -> None:
        store = make_store(url)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    config = gateway_config(tmp_path, url, district)
    return {"tmp": tmp_path, "pki": district[0], "db": tmp_path / "var/onewindow.db", "config": config}


def backed_up(site: dict[str, Any], capsys: Any, name: str = "b.tar.gz") -> Path:
    archive = site["tmp"] / name
    code, _, err = run_cli(capsys, "backup", str(archive), "--config", site["config"])
    assert code == 0, err
    return archive


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}  # type: ignore[union-attr]


def rewritten(archive: Path, target: Path, change: Any) -> Path:
    """A copy of ``archive`` with ``change(members)``: it gives ``(name, data)`` or ``(name, TarInfo, None)``."""
    with tarfile.open(target, "w:gz") as tar:
        for entry in change(members(archive)):
            if len(entry) == 3:
                tar.addfile(entry[1])
                continue
            info = tarfile.TarInfo(entry[0])
            info.size = len(entry[1])
            tar.addfile(info, io.BytesIO(entry[1]))
    return target


def test_a_backup_is_owner_only_whatever_the_umask_and_never_overwrites(site, capsys) -> None:
    previous = os.umask(0)
    try:
        archive = backed_up(site, capsys)
    finally:
        os.umask(previous)
    assert archive.stat().st_mode & 0o777 == 0o600
    before = archive.read_bytes()
    code, _, err = run_cli(capsys, "backup", str(archive), "--config", site["config"])
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert archive.read_bytes() == before


def test_check_private_refuses_a_file_others_could_read(tmp_path) -> None:
    shared = tmp_path / "on-a-share"
    shared.write_bytes(b"")
    os.chmod(shared, 0o644)
    fd = os.open(shared, os.O_RDONLY)
    try:
        with pytest.raises(BackupError, match="readable by others"):
            check_private(fd, shared)
    finally:
        os.close(fd)


def test_a_backup_holds_no_root_key_no_passphrase_and_no_audit_secret_in_clear(site, capsys) -> None:
    assert (site["pki"] / "root/root-key.pem").exists()  # on this host, yet left out
    held = members(backed_up(site, capsys))
    secret_hex = (site["pki"] / "audit/audit-secret.key").read_text().strip()
    passphrase = (site["tmp"] / "district/passphrase").read_bytes()
    assert not [name for name in held if name.endswith("root-key.pem") or "passphrase" in name]
    assert not [name for name, data in held.items() if secret_hex.encode() in data or passphrase in data]
    assert "audit/audit-secret.sealed" in held and "pki/registry.json" in held and "store/onewindow.db" in held
    manifest = json.loads(held["manifest.json"])
    assert manifest["format"] == "onewindow-backup/1" and any("passphrase" in n for n in manifest["not_included"])


def test_a_restore_onto_an_empty_machine_writes_everything(site, capsys, tmp_path) -> None:
    archive = backed_up(site, capsys)
    site["db"].unlink()
    audit_dir = site["pki"] / "audit"
    for path in audit_dir.iterdir():
        path.unlink()
    code, out, err = run_cli(capsys, "restore", str(archive), "--config", site["config"])
    assert code == 0, err
    assert (
        site["db"].stat().st_mode & 0o777 == 0o600 and (audit_dir / "audit-secret.key").stat().st_mode & 0o777 == 0o600
    )
    assert "written" in out and "kept as" not in out


REFUSALS = {
    "altered member": "does not match the manifest's SHA-256",
    "path outside": "a path outside the archive's own places: '../../etc/cron.d/x'",
    "two of one name": "two members of the same name",
    "a link": "not a regular file",
    "no manifest": "has no manifest.json",
}


@pytest.mark.parametrize("damage", list(REFUSALS))
def test_a_restore_refuses_an_archive_that_does_not_check_out_and_changes_nothing(site, capsys, damage) -> None:
    archive = backed_up(site, capsys)

    def change(held: dict[str, bytes]) -> list[Any]:
        manifest = json.loads(held["manifest.json"])
        entries: list[Any] = []
        if damage == "altered member":
            held["pki/registry.json"] = held["pki/registry.json"].replace(b"370303", b"370304", 1)
        if damage == "path outside":
            manifest["pki"][0]["path"] = "../../etc/cron.d/x"
        if damage == "two of one name":
            entries.append(("pki/registry.json", b"{}"))
        if damage == "a link":
            link = tarfile.TarInfo("pki/registry.json")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            held.pop("pki/registry.json")
            entries.append(("pki/registry.json", link, None))
        if damage == "no manifest":
            held.pop("manifest.json")
        else:
            held["manifest.json"] = json.dumps(manifest).encode()
        return [*[(n, d) for n, d in held.items()], *entries]

    bad = rewritten(archive, site["tmp"] / "bad.tar.gz", change)
    (site["pki"] / "registry.json").write_text((site["pki"] / "registry.json").read_text())  # as it is
    before = site["db"].read_bytes()
    code, _, err = run_cli(capsys, "restore", str(bad), "--config", site["config"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and REFUSALS[damage] in err, err
    assert site["db"].read_bytes() == before and not list(site["db"].parent.glob("*.before-*"))


def test_a_restore_refuses_a_wrong_passphrase_another_backend_and_an_audit_secret_not_the_archives(
    site, capsys, monkeypatch
) -> None:
    archive = backed_up(site, capsys)
    passphrase = site["tmp"] / "district/passphrase"
    right = passphrase.read_bytes()
    passphrase.write_bytes(b"not-the-passphrase")
    code, _, err = run_cli(capsys, "restore", str(archive), "--config", site["config"])
    assert code == 2 and "wrong seal passphrase" in err
    passphrase.write_bytes(right)
    monkeypatch.setenv("ONEWINDOW_STORE__URL", "postgresql://nobody@127.0.0.1:1/none")
    code, _, err = run_cli(capsys, "restore", str(archive), "--config", site["config"])
    assert code == 2 and "holds a sqlite store" in err
    monkeypatch.delenv("ONEWINDOW_STORE__URL")
    secret = site["pki"] / "audit/audit-secret.key"
    secret.write_text("ab" * 32 + "\n")
    code, _, err = run_cli(capsys, "restore", str(archive), "--config", site["config"])
    assert code == 2 and "is not the archive's" in err
    code, out, err = run_cli(capsys, "restore", str(archive), "--config", site["config"], "--force")
    assert code == 0 and "moved aside" in out, err
    assert [p.read_text() for p in secret.parent.glob("audit-secret.key.before-*")] == ["ab" * 32 + "\n"]


def test_a_restore_keeps_a_registry_here_that_differs_from_the_archive(site, capsys) -> None:
    archive = backed_up(site, capsys)
    registry = site["pki"] / "registry.json"
    newer = registry.read_text().replace('"seals"', '"seals" ', 1)
    registry.write_text(newer)  # e.g. a seal revoked since the backup
    code, out, _ = run_cli(capsys, "restore", str(archive), "--config", site["config"])
    assert (
        code == 0
        and f"KEPT as they are here, different from the archive (newer? copy the bureau's registry): {registry}" in out
    )
    assert registry.read_text() == newer


def test_a_restore_never_writes_through_a_link_in_the_pki_directory(site, capsys, tmp_path) -> None:
    archive = backed_up(site, capsys)
    outside = tmp_path / "outside"
    outside.mkdir()
    seals = site["pki"] / "seals"
    shutil.rmtree(seals)
    seals.symlink_to(outside)  # someone made seals/ point elsewhere
    code, _, err = run_cli(capsys, "restore", str(archive), "--config", site["config"])
    assert code == 2 and "leads outside the PKI directory" in err
    assert list(outside.iterdir()) == [] and not list(site["db"].parent.glob("*.before-*"))  # nothing changed
