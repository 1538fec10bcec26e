"""Status changes of a seal: revoke, suspend, reinstate -- each with its act in the registry's act log.

Part of :class:`signing.registry.seal_registry.SealRegistry`. A status
change needs no root key (an urgent revocation can be made on a gateway
host); its act is signed when the root key is here, and recorded unsigned
otherwise (:mod:`signing.registry.acts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from signing.errors import RegistryError, SealNotFoundError, SigningError
from signing.fsutil import exclusive_lock
from signing.keys.passphrase import Passphrase, load_root_passphrase
from signing.keys.signers import Signer
from signing.model import Seal, SealStatus, StatusEvent, format_time
from signing.pki.certificates import REASON_CODES
from signing.registry.acts import record_act
from signing.registry.state_file import ROOT_KEY_FILE, file_version, read_state, write_state


def _now(moment: datetime | None) -> datetime:
    return (moment or datetime.now(UTC)).astimezone(UTC)


class SealStatusChanges:
    """Mixed into :class:`~signing.registry.seal_registry.SealRegistry`, which provides these attributes."""

    directory: Path
    _state: dict[str, Any]
    _root_cert: x509.Certificate
    _signers: dict[str, Signer]
    _seen: tuple[int, int, int] | None
    _seal_cache: list[Seal] | None

    def _root_key(self, secret: Passphrase) -> ec.EllipticCurvePrivateKey:  # provided by SealRegistry
        raise NotImplementedError

    def _root_key_if_here(self, secret: Passphrase | None) -> ec.EllipticCurvePrivateKey | None:
        """The root key when this machine holds it and its passphrase opens it; None otherwise (an unsigned act)."""
        if not (self.directory / ROOT_KEY_FILE).exists():
            return None
        try:
            return self._root_key(secret or load_root_passphrase())
        except SigningError:
            return None

    def revoke(
        self,
        number: str,
        reason: str,
        *,
        at: datetime | None = None,
        reason_code: str = "unspecified",
        **act: Any,
    ) -> Seal:
        """Revoke for good; documents sealed before ``at`` stay valid (with a note).

        ``act`` (``record``, ``by``, ``root_passphrase``) as for :meth:`change_status`.
        """
        if reason_code not in REASON_CODES:
            raise RegistryError(f"revocation reason code must be one of {', '.join(REASON_CODES)}")
        return self.change_status(number, SealStatus.REVOKED, reason, at, reason_code, lambda s: True, **act)

    def suspend(self, number: str, reason: str, *, at: datetime | None = None, **act: Any) -> Seal:
        return self.change_status(
            number, SealStatus.SUSPENDED, reason, at, "certificate_hold", lambda s: s is SealStatus.ACTIVE, **act
        )

    def reinstate(self, number: str, reason: str = "reinstated", *, at: datetime | None = None, **act: Any) -> Seal:
        return self.change_status(
            number, SealStatus.ACTIVE, reason, at, "unspecified", lambda s: s is SealStatus.SUSPENDED, **act
        )

    def change_status(
        self,
        number: str,
        status: SealStatus,
        reason: str,
        at: datetime | None,
        reason_code: str,
        allowed_from: Callable[[SealStatus], bool],
        *,
        record: bool = True,
        by: str | None = None,
        root_passphrase: Passphrase | None = None,
    ) -> Seal:
        """Add a status event to a seal's history, and (``record``) its act to the act log.

        The act is signed when the root key is here and opens with
        ``root_passphrase`` (else the environment's); otherwise it is recorded
        unsigned -- a revocation never waits for the root key.
        """
        if not reason.strip():
            raise RegistryError("a reason is required")
        moment = _now(at)
        if moment > _now(None):
            raise RegistryError("status changes cannot be dated in the future")
        root_key = self._root_key_if_here(root_passphrase) if record else None
        with exclusive_lock(self.directory / "registry.lock"):
            self._state = read_state(self.directory)
            entries = self._state["seals"]
            index = next((i for i, e in enumerate(entries) if e["number"] == number), None)
            if index is None:
                raise SealNotFoundError(f"no seal numbered {number} in {self.directory}")
            seal = Seal.from_dict(entries[index])
            if seal.status is SealStatus.REVOKED or not allowed_from(seal.status):
                raise RegistryError(f"seal {number} is {seal.status.value}; cannot make it {status.value}")
            if moment < seal.history[-1].at:
                raise RegistryError("status history must stay in time order")
            event = StatusEvent(status, moment, reason.strip(), reason_code)
            updated = replace(seal, history=(*seal.history, event))
            entries[index] = updated.to_dict()
            if record:
                kind = {SealStatus.REVOKED: "seal.revoked", SealStatus.SUSPENDED: "seal.suspended"}.get(status)
                fields = {"seal_number": number, "reason": event.reason, "reason_code": reason_code}
                fields["effective_at"] = format_time(moment)
                record_act(
                    self._state,
                    kind or "seal.reinstated",
                    fields,
                    at=_now(None),
                    by=by,
                    root_key=root_key,
                    root=self._root_cert,
                )
            write_state(self.directory, self._state)
            self._seen, self._seal_cache = file_version(self.directory), None
        self._signers.pop(number, None)
        return updated
