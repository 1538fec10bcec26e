"""Sealing results with the district's seals (审批一枚印章).

The item says which kind of seal it needs: ``service_centre`` for public
services (the accepting centre's own seal) or ``delegated_approval`` for
approvals the district bureau delegates (the numbered approval seal it
issued to that office). The office's valid seal of that kind whose scope
covers the item signs the result; with none, the gateway refuses before it
calls the agency, and never returns an unsealed success.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.catalogue import Item
from gateway.config import Office, Settings
from gateway.logs import get_logger
from gateway.sealer import SealUnavailable
from signing import (
    SealingError,
    SealRegistry,
    SigningError,
    TrustBundle,
    create_sample_district,
    load_passphrase,
    seal_document,
)
from signing.keys import Passphrase


class StartupError(RuntimeError):
    """The gateway cannot start; the message says what to do."""


def _passphrase(settings: Settings) -> Passphrase | None:
    if settings.pki_passphrase_file:
        path = Path(settings.pki_passphrase_file)
        if path.exists():
            return Passphrase(path.read_bytes().rstrip(b"\r\n"))
        if not settings.pki_create_sample:
            raise StartupError(f"pki.passphrase_file {path} does not exist")
        return None
    try:
        return load_passphrase()
    except SigningError as exc:
        raise StartupError(f"cannot read the seal-key passphrase: {exc}") from None


def _sample_passphrase(settings: Settings) -> Passphrase:
    path = Path(settings.pki_passphrase_file or Path(settings.pki_dir).with_name("sample-seal-passphrase"))
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24).encode()
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(secret + b"\n")
    return Passphrase(secret)


class DistrictSealer:
    """Seals result documents with the seals in the district registry."""

    def __init__(self, registry: SealRegistry, passphrase: Passphrase | None) -> None:
        self.registry = registry
        self._passphrase = passphrase
        self._bundle: tuple[tuple[int, int, int], dict[str, Any], TrustBundle] | None = None
        self.log = get_logger(component="sealing")

    @classmethod
    def for_settings(cls, settings: Settings) -> DistrictSealer:
        """Open the registry at ``pki.dir``; create the sample district first if configured to."""
        directory = Path(settings.pki_dir)
        if not (directory / "registry.json").exists():
            if not settings.pki_create_sample:
                raise StartupError(
                    f"no district seal registry at {directory}: create one with 'onewindow seal init-district' "
                    f"and issue seals with 'onewindow seal issue' (see docs/seals.md)"
                )
            passphrase = _sample_passphrase(settings)
            offices = [(o.code, o.name) for o in settings.offices.values()]
            create_sample_district(directory, offices=offices, passphrase=passphrase)
            get_logger(component="sealing").info(
                "pki.sample_district_created", directory=str(directory), seals=2 * len(offices)
            )
            return cls(SealRegistry.open(directory), passphrase)
        try:
            registry = SealRegistry.open(directory)
        except SigningError as exc:
            raise StartupError(f"cannot open the seal registry at {directory}: {exc}") from None
        sealer = cls(registry, _passphrase(settings))
        sealer.unlock(settings)
        return sealer

    def unlock(self, settings: Settings) -> None:
        """Open the signer of every usable seal of the configured offices now, not on the first request.

        A wrong passphrase or a missing token then stops the start with a
        clear message instead of failing an applicant's request later.
        """
        offices = set(settings.offices)
        now = datetime.now(UTC)
        for seal in self.registry.seals():
            if seal.office in offices and seal.usable_at(now):
                try:
                    self.registry.signer_for(seal, passphrase=self._passphrase)
                except SigningError as exc:
                    raise StartupError(f"cannot open the key of seal {seal.number}: {exc}") from None

    def _seal_for(self, item: Item, office: Office) -> Any:
        seal = self.registry.seal_for(office.code, item.seal, item.code)
        if seal is None:
            kind = "numbered approval" if item.seal == "delegated_approval" else "service-centre"
            raise SealUnavailable(
                f"office {office.code} ({office.name}) holds no valid {kind} seal covering {item.code}"
            )
        return seal

    def check(self, item: Item, office: Office) -> None:
        self._seal_for(item, office)

    def seal(self, document: dict[str, Any], *, item: Item, office: Office, request_id: str) -> dict[str, Any]:
        seal = self._seal_for(item, office)
        try:
            signer = self.registry.signer_for(seal, passphrase=self._passphrase)
            return seal_document(document, signer, seal, item=item.code, request_id=request_id)
        except SealingError as exc:
            raise SealUnavailable(f"seal {seal.number} cannot seal {item.code}: {exc}") from exc

    def trust_bundle(self) -> tuple[dict[str, Any], TrustBundle]:
        """The district's trust bundle (signed by the root), remade whenever the registry changes.

        Verifiers download it; the gateway's own ``/v1/verify`` uses it, so a
        revocation shows there as soon as it is written to the registry.
        """
        info = (self.registry.directory / "registry.json").stat()
        version = (info.st_ino, info.st_mtime_ns, info.st_size)
        if self._bundle is None or self._bundle[0] != version:
            data = self.registry.export_trust_bundle(passphrase=self._passphrase)
            self._bundle = (version, data, TrustBundle.from_dict(data))
        return self._bundle[1], self._bundle[2]

    def close(self) -> None:
        self.registry.close()
