"""Which catalogue items no usable seal covers: told at start-up, in ``/readyz``, with the command that fixes it.

After a plugin is installed, its items are in the catalogue but the
district's seals -- scoped to the items that existed when they were issued
-- do not cover them: the first request for one is refused ``503
seal-unavailable``. The gateway therefore looks at every office and every
item the office may accept, at start-up, and says which are not covered and
which ``onewindow seal issue`` command covers them. For the sample district
(``[pki] create_sample_district``, a demo whose root key is on this machine)
it issues those seals itself, as it issued the first ones.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.catalogue.items import Catalogue
from gateway.config import Office, Settings
from gateway.errors import SealUnavailable
from gateway.observability.logs import get_logger
from gateway.sealing.sealer import Sealer
from signing import SigningError
from signing.registry.seal_registry import ROOT_KEY_FILE

SAMPLE_ISSUER = "onewindow serve (sample district)"


@dataclass(frozen=True)
class Uncovered:
    """Items an office may accept that none of its usable seals of ``kind`` covers."""

    office: Office
    kind: str  # the item's seal: service_centre or delegated_approval
    items: tuple[str, ...]

    def command(self, pki_dir: str) -> str:
        """The ``onewindow seal issue`` command (run where the district root key is) that covers them."""
        return (
            f"onewindow seal issue --pki {shlex.quote(pki_dir)} --office {self.office.code} "
            f"--name {shlex.quote(self.office.name)} --kind {self.kind} --items {' '.join(self.items)}"
        )

    def as_json(self, pki_dir: str) -> dict[str, Any]:
        return {"office": self.office.code, "kind": self.kind, "items": list(self.items), "fix": self.command(pki_dir)}


def uncovered_items(sealer: Sealer, catalogue: Catalogue, offices: Iterable[Office]) -> list[Uncovered]:
    """Per office and seal kind, the items of the office's level that no usable seal covers."""
    found = []
    for office in sorted(offices, key=lambda o: o.code):
        by_kind: dict[str, list[str]] = {}
        for item in catalogue:
            if office.level not in item.office_levels:
                continue
            try:
                sealer.check(item, office)
            except SealUnavailable:
                by_kind.setdefault(item.seal, []).append(item.code)
        found += [Uncovered(office, kind, tuple(sorted(codes))) for kind, codes in sorted(by_kind.items())]
    return found


def issue_sample_seals(sealer: Any, uncovered: list[Uncovered]) -> list[str]:
    """Cover ``uncovered`` in the sample district with new seals of each office (root and seals share a passphrase).

    Recorded in the registry's act log like any issuance, and the trust
    bundle re-exported. Returns the numbers of the seals issued.
    """
    registry, passphrase = sealer.registry, sealer.sample_passphrase
    issued = [
        registry.issue(
            office=gap.office.code,
            holder_name=gap.office.name,
            kind=gap.kind,
            scope=gap.items,
            passphrase=passphrase,
            root_passphrase=passphrase,
            by=SAMPLE_ISSUER,
        ).number
        for gap in uncovered
    ]
    if issued:
        registry.publish_trust_bundle(passphrase=passphrase)
    return issued


def check_coverage(sealer: Sealer, catalogue: Catalogue, settings: Settings) -> list[Uncovered]:
    """At start-up: cover the sample district's new items, and warn of every item still uncovered, with the fix."""
    log = get_logger(component="sealing")
    gaps = uncovered_items(sealer, catalogue, settings.offices.values())
    registry = getattr(sealer, "registry", None)
    if gaps and settings.pki_create_sample and registry is not None and (registry.directory / ROOT_KEY_FILE).exists():
        try:
            issued = issue_sample_seals(sealer, gaps)
        except (SigningError, OSError) as exc:
            log.warning("pki.sample_seals_not_issued", reason=str(exc))
        else:
            log.info("pki.sample_seals_issued", seals=issued, items=sorted({i for gap in gaps for i in gap.items}))
            gaps = uncovered_items(sealer, catalogue, settings.offices.values())
    for gap in gaps:
        log.warning(
            "seals.items_uncovered",
            office=gap.office.code,
            kind=gap.kind,
            items=list(gap.items),
            consequence="requests for these items at this office are refused 503 seal-unavailable",
            fix=gap.command(settings.pki_dir),
        )
    return gaps
