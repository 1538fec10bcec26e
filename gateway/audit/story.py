"""``audit show``: the story of one request, in order, each entry checked as it is shown.

The entries are found through the ``request_id`` index column, but every
one shown is re-checked: its bytes must hash to the leaf recorded for it and
its own ``seq``, kind, request id and time must be what the columns say. So
the story cannot be quietly edited in the database; a full ``audit verify``
proves that no entry is missing from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from gateway.audit.payloads import PayloadCipher
from gateway.audit.store.base import AuditStore, EntryRow
from gateway.errors import PayloadKeyError
from gateway.observability.events import PayloadDigests
from signing.audit.checkpoint import SignedCheckpoint
from signing.audit.entry import AuditEntry, parse_entry
from signing.errors import EntryFormatError

_SHOWN_FIRST = ("caller", "office", "operator", "channel", "item", "agency", "status")


@dataclass
class StoryEntry:
    """One entry of the story with what its checks found."""

    seq: int
    entry: AuditEntry | None
    covered: bool
    problems: list[str] = field(default_factory=list)
    plaintext: Any = None

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        data: dict[str, Any] = {"seq": self.seq, "covered": self.covered, "problems": self.problems}
        if e is not None:
            data.update(time=e.time, kind=e.kind, instance=e.instance, fields=dict(e.fields))
            if e.payload is not None:
                data["payload"] = dict(e.payload)
        if self.plaintext is not None:
            data["payload_plaintext"] = self.plaintext
        return data


@dataclass
class Story:
    """Every entry about one request."""

    request_id: str
    entries: list[StoryEntry]
    checkpoint_size: int | None
    checkpoint_time: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(not e.problems for e in self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "ok": self.ok,
            "latest_checkpoint": self.checkpoint_size,
            "entries": [e.to_dict() for e in self.entries],
            "notes": self.notes,
        }

    def render(self) -> str:
        if not self.entries:
            return f"no audit entries about request {self.request_id}"
        count = len(self.entries)
        lines = [f"request {self.request_id}: {count} entr{'y' if count == 1 else 'ies'}"]
        for item in self.entries:
            mark = " " if item.covered else "+"
            if item.entry is None:
                lines.append(f"{mark}#{item.seq:<8} (unreadable)")
            else:
                e = item.entry
                lines.append(f"{mark}#{item.seq:<8} {e.time[:23]}Z  {e.kind:<24} {_fields(e.fields)}")
            lines.extend(f"      !! {p}" for p in item.problems)
            if item.plaintext is not None:
                lines.append(f"      payload: {json.dumps(item.plaintext, ensure_ascii=False)}")
        if self.checkpoint_size is None:
            lines.append("no signed checkpoint yet: '+' entries are not yet covered by one")
        else:
            lines.append(
                f"signed checkpoint at size {self.checkpoint_size:,} ({self.checkpoint_time}); "
                "'+' marks entries after it, not yet covered"
            )
        lines.extend(f"note: {note}" for note in self.notes)
        if not self.ok:
            lines.append("PROBLEM: entries marked !! were altered in the store; run 'onewindow audit verify'")
        return "\n".join(lines)


def _fields(fields: Any) -> str:
    keys = [k for k in _SHOWN_FIRST if k in fields] + sorted(k for k in fields if k not in _SHOWN_FIRST)
    parts = []
    for key in keys:
        value = fields[key]
        if isinstance(value, str) and value.startswith("sha256:"):
            value = value[:19] + "…"
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def check_row(row: EntryRow) -> tuple[AuditEntry | None, list[str]]:
    """Parse a stored row and say what does not hold about it."""
    seq, data, leaf, kind, request_id, time, _ = row
    problems = []
    if hashlib.sha256(b"\x00" + data).digest() != leaf:
        problems.append("its bytes do not hash to the leaf recorded when it was appended")
    try:
        entry = parse_entry(data)
    except EntryFormatError as exc:
        return None, [*problems, f"not a well-formed entry ({exc})"]
    if entry.seq != seq:
        problems.append(f"it says it is entry {entry.seq}")
    if (entry.kind, entry.request_id, entry.time) != (kind, request_id, time):
        problems.append("its index columns differ from its content")
    return entry, problems


async def story(
    audit: AuditStore,
    request_id: str,
    *,
    cipher: PayloadCipher | None = None,
    digests: PayloadDigests | None = None,
) -> Story:
    """Every entry about ``request_id``, checked; payloads opened with ``cipher``, digests checked with ``digests``."""
    latest = await audit.latest_checkpoint()
    size = time = None
    if latest is not None:
        try:
            cp = SignedCheckpoint.from_dict(latest.signed).checkpoint
            size, time = cp.tree_size, cp.issued_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        except ValueError:
            size = None
    items = []
    for row in await audit.entries_for_request(request_id):
        entry, problems = check_row(row)
        item = StoryEntry(row[0], entry, size is not None and row[0] < size, problems)
        if cipher is not None and entry is not None and entry.payload is not None and row[6] is not None:
            try:
                plaintext = cipher.open(entry.kind, entry.request_id, row[6], dict(entry.payload), digests)
                item.plaintext = json.loads(plaintext)
            except (PayloadKeyError, ValueError) as exc:
                item.problems.append(f"payload: {exc}")
        items.append(item)
    told = Story(request_id, items, size, time)
    keyed = any(
        i.plaintext is not None and str(i.entry.payload.get("digest", "")).startswith("hmac-")
        for i in items
        if i.entry is not None and i.entry.payload is not None
    )
    if keyed and digests is None:
        told.notes.append(
            "the payloads' keyed digests were not checked (the district audit secret is not on this machine); "
            "each payload still matches the ciphertext its entry commits to"
        )
    return told
