"""The verdict on an audit log: findings, and a report that names the first bad place.

Kept apart from the verifier (:mod:`signing.audit.log_verifier`) so the judgement and
its presentation can be read on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from signing.audit.checkpoint import Checkpoint
from signing.audit.merkle import Frontier


@dataclass(frozen=True)
class Finding:
    """One thing that is wrong, and where: entries ``first..last`` and/or a checkpoint's size."""

    what: str
    first: int | None = None
    last: int | None = None
    checkpoint: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "first": self.first, "last": self.last, "checkpoint": self.checkpoint}


@dataclass
class Suspect:
    """The stretch between the last checkpoint that matched and the first that did not.

    ``leaves`` are the recomputed leaf hashes of entries ``good_size ..``, so a
    caller holding a subtree cache can narrow the damage down further.
    """

    good_size: int
    good_frontier: Frontier
    bad_size: int
    bad_root: bytes
    leaves: list[bytes] | None


@dataclass
class LogReport:
    """The verdict on a log: what was checked and every finding, first bad entry first."""

    key_id: str
    log_id: str | None
    start: int
    size: int
    expected_size: int | None
    checkpoints: list[Checkpoint]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suspect: Suspect | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def latest(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None

    @property
    def uncovered(self) -> int:
        """Entries after the latest valid checkpoint: only as trustworthy as the store until the next one."""
        return self.size - (self.latest.tree_size if self.latest else 0)

    @property
    def first_bad(self) -> Finding | None:
        """The finding naming the earliest place, most precisely; else the first finding.

        A range is only a pointer: when a narrower finding lies inside it (a
        checkpoint mismatch covering an entry named by its own checks), the
        narrower one names the place.
        """
        placed = [f for f in self.findings if f.first is not None]
        precise = [f for f in placed if not any(_inside(g, f) for g in placed)]
        if precise:
            return min(precise, key=lambda f: (f.first, _span(f)))
        return self.findings[0] if self.findings else None

    def render(self) -> str:
        latest = self.latest
        head = (
            f"log {self.log_id or '?'}, key {self.key_id[:16]}…: entries {self.start}..{self.size - 1} "
            f"({self.size - self.start:,} checked), {len(self.checkpoints)} signed checkpoint(s)"
        )
        if latest is not None:
            stamp = latest.issued_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            head += f", latest at size {latest.tree_size:,} ({stamp})"
        lines = [head]
        first = self.first_bad
        if first is None:
            lines.append(
                "VALID: every entry hashes into every signed checkpoint, each in its place; "
                "the checkpoints are signed by the audit key and each extends the one before."
            )
        else:
            where = _where(first)
            lines.append(f"INVALID: first bad {where}: {first.what}")
            lines.append(f"problems ({len(self.findings)}):")
            lines.extend(f"  - {_where(f)}: {f.what}" for f in _sorted(self.findings))
        if self.uncovered > 0:
            lines.append(
                f"note: {self.uncovered:,} entr{'y' if self.uncovered == 1 else 'ies'} after the latest "
                "checkpoint are not yet covered by a signed checkpoint."
            )
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        first = self.first_bad
        return {
            "valid": self.ok,
            "log_id": self.log_id,
            "key_id": self.key_id,
            "start": self.start,
            "size": self.size,
            "expected_size": self.expected_size,
            "checkpoints": len(self.checkpoints),
            "latest_checkpoint": self.latest.tree_size if self.latest else None,
            "uncovered": self.uncovered,
            "first_bad": first.to_dict() if first else None,
            "findings": [f.to_dict() for f in _sorted(self.findings)],
            "notes": list(self.notes),
        }


def _span(f: Finding) -> int:
    return (f.last if f.last is not None else f.first or 0) - (f.first or 0)


def _inside(g: Finding, f: Finding) -> bool:
    """``g`` names a narrower place within ``f``'s range."""
    assert f.first is not None and g.first is not None
    f_last = f.last if f.last is not None else f.first
    g_last = g.last if g.last is not None else g.first
    return f.first <= g.first and g_last <= f_last and _span(g) < _span(f)


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: f.first if f.first is not None else f.checkpoint or 0)


def _where(f: Finding) -> str:
    if f.first is None:
        return "the log" if f.checkpoint is None else f"checkpoint at size {f.checkpoint}"
    if f.last is None or f.last == f.first:
        return f"entry {f.first}"
    return f"entries {f.first}..{f.last}"
