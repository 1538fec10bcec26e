"""What a store holds, as far as telling an older copy from a newer one goes.

The backup archive's manifest records it, and a restore compares it with the
store it would replace; each backend's snapshot module reads it with the same
queries (:data:`STATE_QUERIES`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from signing.audit.checkpoint import SignedCheckpoint

DISPLACED = "before"
"""What the store a restore replaced is called: file ``<file>.before-<time>``, schema ``<schema>_before_<time>``."""


@dataclass(frozen=True)
class StoreState:
    """What a store holds, as far as telling old from new goes."""

    audit_size: int = 0
    checkpoint: dict[str, Any] | None = None
    requests: int = 0
    last_update: str | None = None
    schema_version: int = 0

    @property
    def checkpoint_size(self) -> int:
        return int(self.checkpoint_root()[0])

    def checkpoint_root(self) -> tuple[int, bytes | None]:
        if not self.checkpoint:
            return 0, None
        signed = SignedCheckpoint.from_dict(self.checkpoint).checkpoint
        return signed.tree_size, signed.root_hash

    def ahead_of(self, archived: StoreState) -> list[str]:
        """What this store holds that ``archived`` does not (empty when it holds nothing newer)."""
        found = []
        if self.audit_size > archived.audit_size:
            found.append(f"its audit log has {self.audit_size:,} entries, the archive's {archived.audit_size:,}")
        size, root = self.checkpoint_root()
        old_size, old_root = archived.checkpoint_root()
        if size > old_size:
            found.append(f"its latest signed checkpoint is at size {size:,}, the archive's at {old_size:,}")
        elif size == old_size and root != old_root:
            found.append(f"its checkpoint at size {size:,} is not the archive's")
        if self.requests > archived.requests:
            found.append(f"it holds {self.requests:,} requests, the archive {archived.requests:,}")
        if self.last_update and (archived.last_update is None or self.last_update > archived.last_update):
            found.append(f"a request changed at {self.last_update}, after the archive's last ({archived.last_update})")
        return found

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> StoreState:
        if not isinstance(data, dict):
            raise ValueError("the store's state must be an object")
        state = cls(
            audit_size=_int(data.get("audit_size")),
            checkpoint=data.get("checkpoint") if isinstance(data.get("checkpoint"), dict) else None,
            requests=_int(data.get("requests")),
            last_update=data.get("last_update") if isinstance(data.get("last_update"), str) else None,
            schema_version=_int(data.get("schema_version")),
        )
        state.checkpoint_root()  # a checkpoint that does not parse is refused here, not compared later
        return state


def _int(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"expected a count, not {value!r}")
    return value


STATE_QUERIES = {
    "audit_size": "SELECT size FROM audit_head WHERE id = 1",
    "checkpoint": "SELECT signed FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1",
    "requests": "SELECT COUNT(*) FROM requests",
    "last_update": "SELECT MAX(updated_at) FROM requests",
    "schema_version": "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
}
"""One query per :class:`StoreState` field, the same on both backends (each gives one value, or no row)."""


def state_of(values: dict[str, Any]) -> StoreState:
    """A :class:`StoreState` from the answers to :data:`STATE_QUERIES` (None where a table or row is missing)."""
    signed = values.get("checkpoint")
    last = values.get("last_update")
    return StoreState(
        audit_size=int(values.get("audit_size") or 0),
        checkpoint=json.loads(signed) if isinstance(signed, str) else None,
        requests=int(values.get("requests") or 0),
        last_update=last if isinstance(last, str) or last is None else last.isoformat(timespec="microseconds"),
        schema_version=int(values.get("schema_version") or 0),
    )
