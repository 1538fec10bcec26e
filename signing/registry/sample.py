"""A sample district for demos and tests: a root plus seals for three offices.

The office codes and names are SAMPLE DATA: plausible 12-digit division
codes under Zhangdian District (370303), not an official list.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from signing.keys.algorithms import DEFAULT_KEY_TYPE, KeyType
from signing.keys.passphrase import Passphrase
from signing.model import SealKind
from signing.registry.seal_registry import SealRegistry

#: (office code, holder name) -- sample data, invented for demonstrations.
SAMPLE_OFFICES: tuple[tuple[str, str], ...] = (
    ("370303001000", "淄博市张店区车站街道便民服务中心"),
    ("370303100000", "淄博市张店区马尚街道便民服务中心"),
    ("370303102000", "淄博市张店区中埠镇便民服务中心"),
)


def create_sample_district(
    directory: str | Path,
    *,
    offices: Sequence[tuple[str, str]] = SAMPLE_OFFICES,
    service_scope: Sequence[str] = (),
    approval_scope: Sequence[str] = (),
    passphrase: Passphrase | None = None,
    now: datetime | None = None,
    key_type: KeyType | str = DEFAULT_KEY_TYPE,
) -> SealRegistry:
    """Create a district root and, per office, one seal of each kind, and export the trust bundle.

    Each office gets its service-centre seal (``service_scope``) and the
    numbered approval seal (``approval_scope``); an empty scope means every
    item. Give both explicitly (the gateway passes its catalogue's public and
    delegated items) so that a verifier refuses a seal of the wrong kind.  Root and seals are all ``key_type``,
    and share ``passphrase`` (a demo: a real district gives the root its own,
    docs/seals.md), and records no acts in the registry's act log.  The signed
    bundle is written to ``trust-bundle.json`` in the registry directory, as
    the ``seal`` commands do after every change.
    """
    registry = SealRegistry.create(directory, passphrase=passphrase, now=now, key_type=key_type, record=False)
    for office, name in offices:
        registry.issue(
            office=office,
            holder_name=name,
            kind=SealKind.SERVICE_CENTRE,
            scope=service_scope,
            passphrase=passphrase,
            not_before=now,
            key_type=key_type,
            record=False,
        )
        registry.issue(
            office=office,
            holder_name=name,
            kind=SealKind.DELEGATED_APPROVAL,
            scope=approval_scope,
            passphrase=passphrase,
            not_before=now,
            key_type=key_type,
            record=False,
        )
    registry.publish_trust_bundle(passphrase=passphrase)
    return registry
