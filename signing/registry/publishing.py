"""Publishing the seal registry: the signed trust bundle for verifiers, and the local trust view.

Part of :class:`signing.registry.seal_registry.SealRegistry`. Exporting a bundle needs the
district root key (the bureau's machine); the trust view does not (the
gateway host verifies with it).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from signing.errors import TrustBundleError
from signing.fsutil import atomic_write
from signing.keys.passphrase import Passphrase, load_root_passphrase
from signing.model import Seal
from signing.verify.trust import TrustBundle, build_trust_bundle

TRUST_BUNDLE_FILE = "trust-bundle.json"


#: A bundle promises its revocation list is complete until then: a year at most.
MAX_CRL_DAYS = 366


def _now(moment: datetime | None) -> datetime:
    return (moment or datetime.now(UTC)).astimezone(UTC)


class RegistryPublishing:
    """Mixed into :class:`~signing.registry.seal_registry.SealRegistry`, which provides these attributes and methods."""

    directory: Path
    _root_cert: x509.Certificate
    _state: dict[str, Any]

    def seals(self) -> list[Seal]:  # provided by SealRegistry
        raise NotImplementedError

    @property
    def district(self) -> dict[str, str]:  # provided by SealRegistry
        raise NotImplementedError

    def _root_key(self, secret: Passphrase) -> ec.EllipticCurvePrivateKey:  # provided by SealRegistry
        raise NotImplementedError

    def export_trust_bundle(
        self,
        path: str | Path | None = None,
        *,
        passphrase: Passphrase | None = None,
        now: datetime | None = None,
        crl_days: int = 7,
    ) -> dict[str, Any]:
        """Build the bundle signed by the root; also write it atomically to ``path`` when given.

        Needs the root key: ``passphrase`` is the root's (default
        :func:`signing.keys.passphrase.load_root_passphrase`).
        """
        if not 1 <= crl_days <= MAX_CRL_DAYS:
            raise TrustBundleError(f"the CRL's next update must be 1 to {MAX_CRL_DAYS} days ahead, not {crl_days}")
        root_key = self._root_key(passphrase or load_root_passphrase())
        seals = self.seals()
        acts = self._state.get("acts", [])
        bundle = build_trust_bundle(root_key, self._root_cert, self.district, seals, _now(now), crl_days, acts)
        if path is not None:
            text = json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"
            atomic_write(Path(path), text.encode("utf-8"))
        return bundle

    @property
    def trust_bundle_path(self) -> Path:
        """Where the ``seal`` commands keep the exported bundle: ``<dir>/trust-bundle.json``."""
        return self.directory / TRUST_BUNDLE_FILE

    def publish_trust_bundle(
        self,
        *,
        passphrase: Passphrase | None = None,
        now: datetime | None = None,
        crl_days: int = 7,
    ) -> dict[str, Any]:
        """Export the signed bundle to :attr:`trust_bundle_path`, which gateways serve."""
        return self.export_trust_bundle(self.trust_bundle_path, passphrase=passphrase, now=now, crl_days=crl_days)

    def trust_view(self, *, now: datetime | None = None) -> TrustBundle:
        """The registry as a :class:`TrustBundle` for in-process verification, without the root key.

        Built from trusted local state (the root certificate and every seal
        with its status history, as of ``now``); it carries no CRL and no
        signature, so it verifies exactly like a bundle exported at ``now``
        but cannot be handed out (``to_dict`` refuses).
        """
        return TrustBundle.from_local_state(self._root_cert, self.district, self.seals(), issued_at=_now(now))

    def bundle_is_current(self, bundle: TrustBundle) -> bool:
        """True when ``bundle`` shows this registry as it is now: same root, district and seal histories.

        A change made without re-exporting (a revocation on the gateway
        host, say) makes it False.  Compared by content, so copying the
        files to another machine (new modification times) does not matter.
        """
        if bundle.root_fingerprint != self._state["root_sha256"] or bundle.district != self.district:
            return False
        return bundle.seal_entries() == [seal.to_dict(include_key=False) for seal in self.seals()]
