"""The sealer seam: what the core needs from whatever seals results.

The router checks before calling an agency that a result could be sealed,
and delivery seals every completed result; :mod:`gateway.sealing.district_sealer` is the
implementation backed by the district's seal registry.  ``/v1/verify``
judges documents with the sealer's :meth:`Sealer.trust_view` and
``/v1/trust-bundle`` hands out its :meth:`Sealer.published_bundle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gateway.catalogue.items import Item
from gateway.config import Office
from signing import Seal, SealedDocument, Signer, TrustBundle
from signing.model import parse_time


@dataclass(frozen=True)
class PublishedBundle:
    """The signed bundle the bureau exported, as the gateway serves it."""

    body: bytes  # the file, byte for byte
    bundle: TrustBundle  # checked: root signature, CRL, and the root is this registry's
    registry_changed: bool  # the registry holds a change the bundle does not show

    def stale(self, now: datetime) -> list[str]:
        """Why verifiers should ask for a newer bundle: ``registry-changed``, ``next-update-passed``."""
        reasons = ["registry-changed"] if self.registry_changed else []
        try:
            next_update = parse_time(self.bundle.data["next_update"])
        except (KeyError, ValueError):
            next_update = None
        if next_update is not None and next_update < now:
            reasons.append("next-update-passed")
        return reasons


class Sealer(Protocol):
    """Seals result documents; see :mod:`gateway.sealing.district_sealer`."""

    def check(self, item: Item, office: Office) -> None:
        """Raise :class:`SealUnavailable` unless a result for ``item`` at ``office`` can be sealed."""

    async def seal(self, document: dict[str, Any], *, item: Item, office: Office, request_id: str) -> SealedDocument:
        """``document`` with its ``seal`` block, and the digest the seal signed (made off the event loop, maybe)."""

    def trust_view(self) -> TrustBundle:
        """The seals as a trust bundle to verify with in this process (current, unsigned; no root key)."""

    def published_bundle(self) -> PublishedBundle:
        """The signed bundle for offline verifiers; :class:`TrustBundleUnavailable` when there is none."""

    def printout_signer(self, number: str) -> tuple[Seal, Signer]:
        """The seal ``number`` and its signer, to sign a printout of a result it sealed; :class:`SealUnavailable`."""

    def close(self) -> None:
        """Release what sealing holds (a PKCS#11 session, file locks); the gateway calls it when it stops."""
