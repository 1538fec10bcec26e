"""What a backup archive holds: the manifest, ``manifest.json``, the archive's first member.

Written by ``onewindow backup`` and read strictly (I-JSON) by ``onewindow
restore`` before anything is changed: every member it names must be in the
archive with that SHA-256, and every path it names is parsed as a relative
path without ``..`` (a manifest is input: an archive can come from anywhere).

```json
{"format": "onewindow-backup/1", "created_at": "2026-11-28T04:37:12Z", "created_by": "cli:ops@gw1",
 "onewindow": "0.9.0", "configuration": "/etc/onewindow/onewindow.toml",
 "store": {"backend": "sqlite", "member": "store/onewindow.db", "sha256": "...", "schema": null,
           "state": {"audit_size": 1234, "checkpoint": {...signed...}, "requests": 200, "last_update": "...",
                     "schema_version": 6}},
 "pki": [{"path": "registry.json", "sha256": "..."}, ...],
 "audit": {"key": {...}, "public_key": {...}, "secret": {"member": "audit/audit-secret.sealed", "sha256": "...",
           "secret_id": "..."}},
 "not_included": ["..."]}
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from gateway.errors import BackupError
from gateway.store.store_state import StoreState
from signing.jose import ijson

FORMAT = "onewindow-backup/1"
MANIFEST = "manifest.json"
NOT_INCLUDED = [
    "the seal passphrase and the root passphrase: keep them apart (a password manager, a sealed envelope)",
    "the district root key (root/root-key.pem): it belongs on the bureau's offline machine",
    "the payload key ([audit] payload_key_file): keep it off the gateway host's backups",
    "the witness ([witness] dir / url): a restore must not roll it back",
]


def safe_path(text: Any) -> PurePosixPath:
    """A relative path with no ``..``, ``.`` or empty part; :class:`BackupError` for anything else."""
    if not isinstance(text, str) or not text or "\\" in text or any(ord(c) < 32 for c in text):
        raise BackupError(f"the manifest names a path that is not a plain relative path: {text!r}")
    path = PurePosixPath(text)
    if path.is_absolute() or any(part in ("", ".", "..") for part in text.split("/")):
        raise BackupError(f"the manifest names a path outside the archive's own places: {text!r}")
    return path


@dataclass(frozen=True)
class Member:
    """One file in the archive: its member name, SHA-256, and where it goes (relative, for PKI files)."""

    member: str
    sha256: str
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "sha256": self.sha256} | ({"path": self.path} if self.path else {})

    @classmethod
    def from_dict(cls, data: Any, prefix: str) -> Member:
        if not isinstance(data, dict) or not isinstance(data.get("sha256"), str) or len(data["sha256"]) != 64:
            raise BackupError("the manifest lists a member without its SHA-256")
        member = str(safe_path(data.get("member")))
        if not member.startswith(prefix):
            raise BackupError(f"the manifest lists {member!r} where a {prefix!r} member belongs")
        path = str(safe_path(data["path"])) if "path" in data else None
        return cls(member, data["sha256"], path)


@dataclass
class Manifest:
    """The manifest of one archive."""

    created_at: str
    created_by: str
    version: str
    configuration: str
    backend: str
    store: Member
    schema: str | None
    state: StoreState
    pki: list[Member] = field(default_factory=list)
    audit: dict[str, Member] = field(default_factory=dict)
    secret_id: str | None = None

    def members(self) -> list[Member]:
        return [self.store, *self.pki, *self.audit.values()]

    def to_dict(self) -> dict[str, Any]:
        audit: dict[str, Any] = {name: member.to_dict() for name, member in self.audit.items()}
        if "secret" in audit:
            audit["secret"]["secret_id"] = self.secret_id
        return {
            "format": FORMAT,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "onewindow": self.version,
            "configuration": self.configuration,
            "store": {
                "backend": self.backend,
                **self.store.to_dict(),
                "schema": self.schema,
                "state": self.state.to_dict(),
            },
            "pki": [member.to_dict() for member in self.pki],
            "audit": audit,
            "not_included": NOT_INCLUDED,
        }

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        try:
            doc = ijson.loads(data)
        except ValueError as exc:
            raise BackupError(f"the archive's manifest is not I-JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise BackupError(f"the archive's manifest is not a {FORMAT} manifest")
        try:
            store, audit = doc["store"], doc["audit"]
            backend = store["backend"]
            if backend not in ("sqlite", "postgres") or not isinstance(audit, dict):
                raise BackupError(f"the manifest names an unknown store backend {backend!r}")
            schema = store.get("schema")
            secret = audit.get("secret")
            return cls(
                created_at=str(doc["created_at"]),
                created_by=str(doc["created_by"]),
                version=str(doc.get("onewindow", "")),
                configuration=str(doc.get("configuration", "")),
                backend=backend,
                store=Member.from_dict(store, "store/"),
                schema=schema if isinstance(schema, str) else None,
                state=StoreState.from_dict(store["state"]),
                pki=[Member.from_dict(m, "pki/") for m in doc["pki"]],
                audit={
                    name: Member.from_dict(audit[name], "audit/")
                    for name in ("key", "public_key", "secret")
                    if name in audit
                },
                secret_id=secret.get("secret_id") if isinstance(secret, dict) else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupError(f"the archive's manifest is malformed: {exc}") from None
