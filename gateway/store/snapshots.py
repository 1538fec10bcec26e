"""A consistent copy of the store, and putting one back, with each database's own tools.

* SQLite: the online backup API (``sqlite3.Connection.backup``) copies the
  database page by page from one read transaction: a consistent snapshot
  while the gateway writes. Putting it back moves the current file (and its
  ``-wal``/``-shm``) aside, never deletes it.
* PostgreSQL: ``pg_dump --format=custom`` of the store's schema, run on a
  snapshot exported from a transaction that also reads what the manifest
  records, so both see the same moment. Putting it back renames the current
  schema aside and runs ``pg_restore --single-transaction``: all or nothing,
  and the schema it replaced is still there.

What the manifest records of a store (:class:`StoreState`): the audit log's
size and latest signed checkpoint, how many requests it holds and when one
last changed -- enough to tell a store that is ahead of an archive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
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
    import json

    signed = values.get("checkpoint")
    last = values.get("last_update")
    return StoreState(
        audit_size=int(values.get("audit_size") or 0),
        checkpoint=json.loads(signed) if isinstance(signed, str) else None,
        requests=int(values.get("requests") or 0),
        last_update=last if isinstance(last, str) or last is None else last.isoformat(timespec="microseconds"),
        schema_version=int(values.get("schema_version") or 0),
    )


async def snapshot(url: str, directory: Path) -> tuple[Path, StoreState, str | None]:
    """Copy the store into ``directory``: the file made, what it holds, and (PostgreSQL) the schema dumped."""
    if url.startswith("sqlite:"):
        from gateway.store.sqlite.snapshot import copy_database

        path, state = await copy_database(url, directory)
        return path, state, None
    from gateway.store.postgres.snapshot import dump_schema

    return await dump_schema(url, directory)


async def current_state(url: str) -> StoreState | None:
    """What the configured store holds now; None when there is none yet (no file, no schema)."""
    if url.startswith("sqlite:"):
        from gateway.store.sqlite.snapshot import database_state

        return await database_state(url)
    from gateway.store.postgres.snapshot import schema_state

    return await schema_state(url)


async def put_back(url: str, copy: Path, *, schema: str | None, stamp: str) -> str | None:
    """Replace the store with ``copy``; where the replaced one was moved (None when there was none)."""
    if url.startswith("sqlite:"):
        from gateway.store.sqlite.snapshot import replace_database

        return await replace_database(url, copy, stamp)
    from gateway.store.postgres.snapshot import restore_schema

    return await restore_schema(url, copy, schema=schema, stamp=stamp)
