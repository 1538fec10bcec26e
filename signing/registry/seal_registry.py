"""The district seal registry: a directory holding the root, every seal and its history.

Layout (``var/pki`` by default)::

    registry.json            district, sequence counters, every seal ever issued
    registry.lock            flock for writers
    root/root-cert.pem       district root (approval bureau) certificate
    root/root-key.pem        its key, encrypted PKCS#8 (mode 0600)
    seals/<number>/cert.pem  seal certificate (also embedded in registry.json)
    seals/<number>/key.pem   seal key, encrypted PKCS#8 (file backend only)
    trust-bundle.json        the signed bundle last exported (the ``seal`` commands refresh it)

The root key is only needed to create the district, issue seals and sign
trust bundles; a gateway seals and verifies without it (:meth:`trust_view`),
so it belongs on the bureau's machine, not on the gateway host.

Every change re-reads ``registry.json`` under the lock, validates the
request completely, writes keys and certificates first and the registry
last, each atomically: a crash or a bad argument leaves the registry as
it was.  Seals are never deleted, so numbers are never reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from signing.errors import RegistryError, SealNotFoundError
from signing.fsutil import atomic_write, exclusive_lock
from signing.keys.algorithms import DEFAULT_KEY_TYPE, KeyType, key_type_named, key_type_of
from signing.keys.passphrase import Passphrase, load_passphrase, load_root_passphrase
from signing.keys.signers import (
    Signer,
    decrypt_private_key,
    encrypt_private_key,
    generate_private_key,
    upgrade_key_file,
)
from signing.model import (
    Seal,
    SealKind,
    SealStatus,
    StatusEvent,
    allocate_seal_number,
    check_office_code,
    check_scope,
    format_time,
)
from signing.pki.certificates import build_root_certificate, build_seal_certificate, fingerprint
from signing.pki.seal_info import SealInfo
from signing.registry.acts import record_act
from signing.registry.publishing import RegistryPublishing
from signing.registry.seal_choice import SealChoice, choose_seal
from signing.registry.seal_keys import create_seal_key, open_signer
from signing.registry.state_file import REGISTRY_FORMAT, file_version, read_state, write_state
from signing.registry.state_file import ROOT_KEY_FILE as ROOT_KEY_FILE
from signing.registry.status_changes import SealStatusChanges

_MAX_CHOICES = 4096  # offices x seal kinds x items in use; past it the answers are made afresh

DEFAULT_DISTRICT = ("370303", "淄博市张店区行政审批服务局")


def _now(moment: datetime | None) -> datetime:
    return (moment or datetime.now(UTC)).astimezone(UTC)


class SealRegistry(SealStatusChanges, RegistryPublishing):
    """Open with :meth:`open`, create with :meth:`create`; methods mirror the CLI."""

    def __init__(self, directory: Path, state: dict[str, Any]) -> None:
        self.directory = directory
        self._state = state
        self._signers: dict[str, Signer] = {}
        self._seen: tuple[int, int, int] | None = file_version(directory)
        self._seal_cache: list[Seal] | None = None
        self._choices: dict[tuple[str, SealKind, str], SealChoice] = {}  # seal_for's answers, each while it holds
        self._choices_of: list[Seal] | None = None  # the seals they were chosen among
        try:
            pem = (directory / "root/root-cert.pem").read_bytes()
        except OSError as exc:
            raise RegistryError(f"{directory}: cannot read the root certificate ({exc.strerror})") from None
        self._root_cert = x509.load_pem_x509_certificate(pem)
        self._root_der = self._root_cert.public_bytes(Encoding.DER)

    # -- opening ---------------------------------------------------------
    @classmethod
    def create(
        cls,
        directory: str | Path,
        *,
        district: str = DEFAULT_DISTRICT[0],
        district_name: str = DEFAULT_DISTRICT[1],
        passphrase: Passphrase | None = None,
        valid_days: int = 20 * 365,
        now: datetime | None = None,
        key_type: KeyType | str = DEFAULT_KEY_TYPE,
        root_passphrase: Passphrase | None = None,
        record: bool = True,
        by: str | None = None,
    ) -> SealRegistry:
        """Create the district root (CA certificate + encrypted key) in an empty directory.

        ``key_type`` is the root's (ES384 by default); it signs certificates,
        CRLs and trust bundles with its curve's hash.  Seals choose their own.
        The root key is encrypted with ``root_passphrase``, else ``passphrase``,
        else :func:`signing.keys.passphrase.load_root_passphrase` (the environment).
        With ``record`` (every change but a demo's), the act is logged in the
        registry, signed by the new root, as made ``by`` (default: this user
        and host; :mod:`signing.registry.acts`).
        """
        path = Path(directory)
        if (path / "registry.json").exists():
            raise RegistryError(f"{path} already holds a seal registry")
        if not (len(district) == 6 and district.isdigit()):
            raise RegistryError(f"district code {district!r} must be 6 digits (e.g. 370303)")
        if not district_name.strip():
            raise RegistryError("district name must not be empty")
        if not 365 <= valid_days <= 30 * 365:
            raise RegistryError("the root's valid days must be between 365 and 10950 (30 years)")
        root_type = _key_type(key_type)
        secret = root_passphrase or passphrase or load_root_passphrase()
        key = generate_private_key(root_type)
        cert = build_root_certificate(key, district, district_name, _now(now), valid_days)
        with exclusive_lock(path / "registry.lock"):
            atomic_write(path / ROOT_KEY_FILE, encrypt_private_key(key, secret), mode=0o600)
            atomic_write(path / "root/root-cert.pem", cert.public_bytes(Encoding.PEM))
            state = {
                "format": REGISTRY_FORMAT,
                "district": {"code": district, "name": district_name},
                "root_sha256": fingerprint(cert),
                "last_sequence": {kind.value: 0 for kind in SealKind},
                "seals": [],
                "acts": [],
            }
            if record:
                fields = {"district": district, "root_sha256": state["root_sha256"], "key_type": root_type.name}
                record_act(state, "seal.district_created", fields, at=_now(now), by=by, root_key=key, root=cert)
            write_state(path, state)
        return cls(path, state)

    @classmethod
    def open(cls, directory: str | Path) -> SealRegistry:
        """Open an existing registry; :class:`RegistryError` if absent or unreadable."""
        path = Path(directory)
        state = read_state(path)
        registry = cls(path, state)
        if fingerprint(registry._root_cert) != state["root_sha256"]:
            raise RegistryError(f"{path}: root certificate does not match the registry")
        return registry

    # -- reading ---------------------------------------------------------
    def acts(self) -> list[dict[str, Any]]:
        """The act log: every recorded change, oldest first (:mod:`signing.registry.acts`)."""
        self.seals()  # re-reads registry.json when another process changed it
        return [dict(act) for act in self._state.get("acts", [])]

    @property
    def district(self) -> dict[str, str]:
        return dict(self._state["district"])

    @property
    def root_certificate(self) -> x509.Certificate:
        return self._root_cert

    @property
    def root_key_type(self) -> KeyType:
        """The root's key type (a registry made before ES384 existed has an ES256 root)."""
        key_type = key_type_of(self._root_cert.public_key())
        if key_type is None:
            raise RegistryError(f"{self.directory}: root key is not ECDSA P-384 or P-256")
        return key_type

    def seals(self) -> list[Seal]:
        """Every seal ever issued, with the root attached for sealing's ``x5c``.

        A long-running gateway sees other processes' changes (a revocation
        by security staff): the file's size and mtime are checked on every
        call and the parsed seals are cached until the file changes.
        """
        return list(self._loaded())

    def _loaded(self) -> list[Seal]:
        """The parsed seals of the file's current version (the cache itself: not to be changed)."""
        stamp = file_version(self.directory)
        if stamp != self._seen:
            self._state, self._seen, self._seal_cache = read_state(self.directory), stamp, None
        if self._seal_cache is None:
            self._seal_cache = [self._load(entry) for entry in self._state["seals"]]
        return self._seal_cache

    def get(self, number: str) -> Seal:
        for seal in self.seals():
            if seal.number == number:
                return seal
        raise SealNotFoundError(f"no seal numbered {number} in {self.directory}")

    def seal_for(self, office: str, kind: SealKind | str, item: str, at: datetime | None = None) -> Seal | None:
        """The usable seal of ``office`` and ``kind`` whose scope covers ``item``.

        Among several, the one naming the item exactly wins over a prefix,
        a prefix over an all-items seal; then the most recently issued.
        """
        moment, kind = _now(at), SealKind(kind)
        seals = self._loaded()
        if self._choices_of is not seals:  # another version of the file: every choice is made again
            self._choices, self._choices_of = {}, seals
        key = (office, kind, item)
        choice = self._choices.get(key)
        if choice is None or not choice.holds_at(moment):
            choice = choose_seal(seals, office, kind, item, moment)
            if len(self._choices) >= _MAX_CHOICES:
                self._choices.clear()
            self._choices[key] = choice
        return choice.seal

    # -- issuing ---------------------------------------------------------
    def issue(
        self,
        *,
        office: str,
        holder_name: str,
        kind: SealKind | str,
        number: str | int | None = None,
        scope: Sequence[str] = (),
        valid_days: int = 3 * 365,
        not_before: datetime | None = None,
        passphrase: Passphrase | None = None,
        token: Any | None = None,
        pin: str | None = None,
        key_type: KeyType | str = DEFAULT_KEY_TYPE,
        root_passphrase: Passphrase | None = None,
        record: bool = True,
        by: str | None = None,
    ) -> Seal:
        """Issue a numbered seal: key pair, certificate signed by the root, registry entry.

        ``token`` (a :class:`signing.keys.pkcs11.TokenRef` without label)
        puts the key on a PKCS#11 token instead of an encrypted file.
        ``key_type`` is the seal's own (ES384 by default, whatever the root's);
        the certificate records it, so nothing else needs to.  The seal key
        is encrypted with ``passphrase`` (else the environment's seal
        passphrase); the root key opens with ``root_passphrase``, else
        ``passphrase``, else :func:`signing.keys.passphrase.load_root_passphrase`.
        """
        kind = _kind(kind)
        seal_type = _key_type(key_type)
        check_office_code(office)
        if not holder_name.strip():
            raise RegistryError("holder name must not be empty")
        if not 1 <= valid_days <= 20 * 365:
            raise RegistryError("valid days must be between 1 and 7300")
        clean_scope = check_scope(list(scope))
        secret = passphrase or load_passphrase()
        root_secret = root_passphrase or passphrase or load_root_passphrase()
        with exclusive_lock(self.directory / "registry.lock"):
            self._state = read_state(self.directory)
            seal_number, sequence = allocate_seal_number(
                self._state["district"]["code"],
                kind,
                number,
                taken={entry["number"] for entry in self._state["seals"]},
                last=self._state["last_sequence"][kind.value],
            )
            root_key = self._root_key(root_secret)
            public_key, key_ref = create_seal_key(
                self.directory,
                seal_number,
                secret=secret,
                key_type=seal_type,
                token=token,
                pin=pin,
                namespace=self._state["root_sha256"][:16],
            )
            info = SealInfo(seal_number, kind.value, office, holder_name.strip(), clean_scope)
            start = _now(not_before)
            cert = build_seal_certificate(root_key, self._root_cert, public_key, info, start, valid_days)
            atomic_write(self._seal_dir(seal_number) / "cert.pem", cert.public_bytes(Encoding.PEM))
            seal = Seal(
                number=seal_number,
                kind=kind,
                office=office,
                holder_name=info.holder_name,
                scope=clean_scope,
                certificate_der=cert.public_bytes(Encoding.DER),
                history=(StatusEvent(SealStatus.ACTIVE, start, "issued"),),
                key=key_ref,
                chain=(self._root_der,),
            )
            self._state["seals"].append(seal.to_dict())
            last = self._state["last_sequence"]
            last[kind.value] = max(last[kind.value], sequence)
            if record:
                fields: dict[str, Any] = {"seal_number": seal_number, "office": office, "seal_kind": kind.value}
                fields.update(scope=list(clean_scope), key_type=seal_type.name, not_before=format_time(start))
                record_act(
                    self._state, "seal.issued", fields, at=_now(None), by=by, root_key=root_key, root=self._root_cert
                )
            write_state(self.directory, self._state)
            self._seen, self._seal_cache = file_version(self.directory), None
        return seal

    # -- keys and export -------------------------------------------------
    def signer_for(self, seal: Seal | str, *, passphrase: Passphrase | None = None, pin: str | None = None) -> Signer:
        """The signer holding the seal's private key (decrypted once, then cached)."""
        seal = self.get(seal) if isinstance(seal, str) else seal
        cached = self._signers.get(seal.number)
        if cached is not None:
            return cached
        signer = open_signer(self.directory, seal, passphrase=passphrase, pin=pin)
        self._signers[seal.number] = signer
        return signer

    def close(self) -> None:
        """Release cached signers (PKCS#11 sessions end; decrypted keys are dropped)."""
        for signer in self._signers.values():
            close = getattr(signer, "close", None)
            if close is not None:
                close()
        self._signers.clear()

    def _load(self, entry: dict[str, Any]) -> Seal:
        return replace(Seal.from_dict(entry), chain=(self._root_der,))

    def root_key(self, root_passphrase: Passphrase) -> ec.EllipticCurvePrivateKey:
        """The district root key, for issuing what else the root certifies (TLS certificates: ``tls_register``)."""
        return self._root_key(root_passphrase)

    def _root_key(self, secret: Passphrase) -> ec.EllipticCurvePrivateKey:
        path = self.directory / ROOT_KEY_FILE
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise RegistryError(
                f"cannot read the district root key {path} ({exc.strerror}): issuing seals and "
                "signing trust bundles need it; run this on the bureau's machine that holds the root"
            ) from None
        key = decrypt_private_key(pem, secret, what="district root key")
        upgrade_key_file(path, pem, key, secret)  # a root key under an old KDF is re-encrypted as it is used
        return key

    def _seal_dir(self, number: str) -> Path:
        return self.directory / "seals" / number


def _key_type(key_type: KeyType | str) -> KeyType:
    try:
        return key_type_named(key_type)
    except ValueError as exc:
        raise RegistryError(str(exc)) from None


def _kind(kind: SealKind | str) -> SealKind:
    try:
        return SealKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in SealKind)
        raise RegistryError(f"seal kind {kind!r} must be one of {choices}") from None
