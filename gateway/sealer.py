"""The sealer seam: what the core needs from whatever seals results.

The router checks before calling an agency that a result could be sealed,
and delivery seals every completed result; :mod:`gateway.sealing` is the
implementation backed by the district's seal registry.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.catalogue import Item
from gateway.config import Office


class SealUnavailable(Exception):
    """The accepting office holds no valid seal covering the item."""


class Sealer(Protocol):
    """Seals result documents; see :mod:`gateway.sealing`."""

    def check(self, item: Item, office: Office) -> None:
        """Raise :class:`SealUnavailable` unless a result for ``item`` at ``office`` can be sealed."""

    def seal(self, document: dict[str, Any], *, item: Item, office: Office, request_id: str) -> dict[str, Any]:
        """Return ``document`` with its ``seal`` block."""

    def trust_bundle(self) -> tuple[dict[str, Any], Any]:
        """The trust bundle (as JSON data, and loaded) verifiers of these seals need."""
