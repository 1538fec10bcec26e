"""Which seal signs an item for an office, and until when that answer stands.

The choice depends on the registry (a new file version starts afresh) and on
time: a seal becomes usable at its certificate's ``not_before`` and at an
activation in its history, and stops at ``not_after`` or at a suspension or
revocation that takes effect. Between two such moments the answer cannot
change, so the gateway computes it once per stretch instead of scanning every
seal twice per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from signing.model import Seal, SealKind, scope_specificity

_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
_TICK = timedelta(microseconds=1)  # datetimes' resolution: usable while moment <= not_after, i.e. < not_after + 1 µs


@dataclass(frozen=True, slots=True)
class SealChoice:
    """The seal chosen (or none), valid for every moment in ``[since, until)``."""

    seal: Seal | None
    since: datetime
    until: datetime

    def holds_at(self, moment: datetime) -> bool:
        return self.since <= moment < self.until


def choose_seal(seals: Iterable[Seal], office: str, kind: SealKind, item: str, moment: datetime) -> SealChoice:
    """The usable seal of ``office`` and ``kind`` covering ``item`` at ``moment``, and how long that holds.

    Among several, the one naming the item exactly wins over a prefix, a
    prefix over an all-items seal; then the most recently issued.
    """
    relevant = [s for s in seals if s.office == office and s.kind is kind and s.covers(item)]
    candidates = [s for s in relevant if s.usable_at(moment)]
    chosen = max(candidates, key=lambda s: (scope_specificity(s.scope, item), s.not_before)) if candidates else None
    since, until = _EARLIEST, _LATEST
    for seal in relevant:
        for change in (seal.not_before, seal.not_after + _TICK, *(event.at for event in seal.history)):
            if change <= moment:
                since = max(since, change)
            else:
                until = min(until, change)
    return SealChoice(chosen, since, until)
