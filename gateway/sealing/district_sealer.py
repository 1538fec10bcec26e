"""Sealing results with the district's seals (审批一枚印章).

The item says which kind of seal it needs: ``service_centre`` for public
services (the accepting centre's own seal) or ``delegated_approval`` for
approvals the district bureau delegates (the numbered approval seal it
issued to that office). The office's valid seal of that kind whose scope
covers the item signs the result; with none, the gateway refuses before it
calls the agency, and never returns an unsealed success.

The gateway never opens the district root key: it verifies with a view of
the registry it already trusts (:meth:`DistrictSealer.trust_view`) and hands
out the signed bundle the bureau exported into the registry directory
(:meth:`DistrictSealer.published_bundle`), saying when that file is out of
date.  The root key belongs on the bureau's machine (docs/seals.md).
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.catalogue.items import Catalogue, Item
from gateway.config import Office, Settings
from gateway.errors import SealUnavailable, StartupError, TrustBundleUnavailable
from gateway.observability.logs import get_logger
from gateway.sealing.sealer import PublishedBundle
from signing import (
    Seal,
    SealedDocument,
    SealingError,
    SealRegistry,
    Signer,
    SigningError,
    TrustBundle,
    create_sample_district,
    load_passphrase,
    seal_and_digest,
)
from signing.jose import ijson
from signing.keys.passphrase import Passphrase
from signing.pki.certificates import fingerprint
from signing.registry.acts import ActCheck, check_acts
from signing.registry.seal_registry import ROOT_KEY_FILE
from signing.registry.state_file import file_version
from signing.registry.tls_register import TlsRegister

_Version = tuple[int, int, int] | None


def _passphrase(settings: Settings) -> Passphrase | None:
    if settings.pki_passphrase_file:
        path = Path(settings.pki_passphrase_file)
        if path.exists():
            try:
                return Passphrase(path.read_bytes().rstrip(b"\r\n"))
            except OSError as exc:
                raise StartupError(f"cannot read pki.passphrase_file {path}: {exc.strerror}") from None
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


SAMPLE_SERVER_HOSTS = ("127.0.0.1", "localhost")


def sample_tls_dir(pki_dir: str | Path) -> Path:
    """Where the sample district's server certificate and key go: next to ``pki.dir``, never in a backup of it."""
    return Path(pki_dir).with_name("sample-tls")


def _sample_server_certificate(registry: SealRegistry, passphrase: Passphrase | None) -> Path:
    """A server certificate for this machine from the sample root, to try TLS with (``make run`` stays plain HTTP)."""
    issued = TlsRegister(registry.directory).issue_server(
        registry, SAMPLE_SERVER_HOSTS, root_passphrase=passphrase or load_passphrase()
    )
    target = sample_tls_dir(registry.directory)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    (target / "server.key.pem").touch(mode=0o600)
    (target / "server.key.pem").write_bytes(issued.key_pem)
    (target / "server.cert.pem").write_bytes(issued.certificate_pem)
    return target / "server.cert.pem"


class DistrictSealer:
    """Seals result documents with the seals in the district registry."""

    def __init__(self, registry: SealRegistry, passphrase: Passphrase | None) -> None:
        self.registry = registry
        self._passphrase = passphrase  # of the seal keys only: the root key is never opened here
        self._view: tuple[_Version, TrustBundle] | None = None
        self._acts: tuple[_Version, list[ActCheck]] | None = None
        self._published: tuple[tuple[_Version, _Version], PublishedBundle | TrustBundleUnavailable] | None = None
        # A key in memory signs on the event loop: the ECDSA signature is a fifth of a millisecond
        # with P-384. On a thread it leaves the loop, but the thread must win Python's lock back
        # from the busy loop, and the process spends more than it saves (bench/README.md, "Sixth
        # round" and "Eleventh round"). A token signs on one thread of its own: its device takes
        # its own time, which the loop must not wait out, and its session never makes two
        # signatures at once.
        self._signing: ThreadPoolExecutor | None = None
        self._closed = False
        self.log = get_logger(component="sealing")

    @classmethod
    def for_settings(cls, settings: Settings, catalogue: Catalogue | None = None) -> DistrictSealer:
        """Open the registry at ``pki.dir``; create the sample district first if configured to.

        The sample's seals are scoped to the catalogue's items of their kind,
        so even an offline verifier refuses a service-centre seal on an item
        that needs the numbered approval seal.
        """
        directory = Path(settings.pki_dir)
        if not (directory / "registry.json").exists():
            if not settings.pki_create_sample:
                raise StartupError(
                    f"no district seal registry at {directory}: create one with 'onewindow seal init-district' "
                    f"and issue seals with 'onewindow seal issue' (see docs/seals.md)"
                )
            passphrase = _sample_passphrase(settings)
            offices = [(o.code, o.name) for o in settings.offices.values()]
            scopes = {
                kind: sorted(item.code for item in (catalogue or ()) if item.seal == kind)
                for kind in ("service_centre", "delegated_approval")
            }
            create_sample_district(  # also writes trust-bundle.json
                directory,
                offices=offices,
                service_scope=scopes["service_centre"],
                approval_scope=scopes["delegated_approval"],
                passphrase=passphrase,
            )
            registry = SealRegistry.open(directory)
            certificate = _sample_server_certificate(registry, passphrase)
            get_logger(component="sealing").info(
                "pki.sample_district_created",
                directory=str(directory),
                seals=2 * len(offices),
                tls_certificate=str(certificate),
            )
            return cls(registry, passphrase)
        try:
            registry = SealRegistry.open(directory)
        except SigningError as exc:
            raise StartupError(f"cannot open the seal registry at {directory}: {exc}") from None
        sealer = cls(registry, _passphrase(settings))
        sealer.unlock(settings)
        sealer.report_pki_layout()
        return sealer

    def report_pki_layout(self) -> None:
        """Warn at start-up about what the gateway host should (not) hold: the root key, the bundle."""
        directory = self.registry.directory
        if (directory / ROOT_KEY_FILE).exists():
            self.log.warning(
                "pki.root_key_on_gateway_host",
                path=str(directory / ROOT_KEY_FILE),
                advice="the gateway never uses the district root key; keep it on the bureau's offline machine "
                "and remove it from this host (docs/seals.md)",
            )
        try:
            self.published_bundle()
        except TrustBundleUnavailable as exc:
            self.log.warning("pki.trust_bundle_unavailable", reason=str(exc))

    @property
    def sample_passphrase(self) -> Passphrase | None:
        """The sample district's one passphrase (root and seals), for covering newly installed items."""
        return self._passphrase

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

    async def seal(self, document: dict[str, Any], *, item: Item, office: Office, request_id: str) -> SealedDocument:
        """Choose the seal and open its signer here; sign here with a key in memory, else on the sealing thread."""
        if self._closed:  # not SealUnavailable: the request is not at fault, it stays for the next instance
            raise RuntimeError("sealing is closed: the gateway is stopping")
        seal = self._seal_for(item, office)
        try:
            signer = self.registry.signer_for(seal, passphrase=self._passphrase)
            work = functools.partial(seal_and_digest, document, signer, seal, item=item.code, request_id=request_id)
            if getattr(signer, "in_memory", False):
                return work()
            if self._signing is None:
                self._signing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onewindow-sealing")
            return await asyncio.get_running_loop().run_in_executor(self._signing, work)
        except SealingError as exc:
            raise SealUnavailable(f"seal {seal.number} cannot seal {item.code}: {exc}") from exc

    def printout_signer(self, number: str) -> tuple[Seal, Signer]:
        """The seal that sealed a result, with its signer, for the PAdES signature of the result's printout."""
        try:
            seal = self.registry.get(number)
            return seal, self.registry.signer_for(seal, passphrase=self._passphrase)
        except SigningError as exc:
            raise SealUnavailable(f"seal {number} cannot sign a printout: {exc}") from exc

    def trust_view(self) -> TrustBundle:
        """The registry as a trust bundle for ``/v1/verify``: no root key, no signature, always current.

        Rebuilt when ``registry.json`` changes, so a revocation written by
        security staff shows at once, whether or not a bundle was exported.
        """
        version = file_version(self.registry.directory)
        if self._view is None or self._view[0] != version:
            self._view = (version, self.registry.trust_view())
        return self._view[1]

    def published_bundle(self) -> PublishedBundle:
        """The signed ``trust-bundle.json`` the bureau exported, checked against this registry.

        Re-read when the file (or the registry) changes.  Raises
        :class:`TrustBundleUnavailable` when it is missing or is not a valid
        bundle of this district's root; ``registry_changed`` says the bureau
        has to re-export.
        """
        path = self.registry.trust_bundle_path
        versions = (_file_version(path), file_version(self.registry.directory))
        if self._published is None or self._published[0] != versions:
            self._published = (versions, self._load_published(path))
        loaded = self._published[1]
        if isinstance(loaded, TrustBundleUnavailable):
            raise loaded
        return loaded

    def _load_published(self, path: Path) -> PublishedBundle | TrustBundleUnavailable:
        export = f"export it with 'onewindow seal export-trust {path.name}' where the district root key is"
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            return TrustBundleUnavailable(
                f"no signed trust bundle at {path}: {export}, then copy it to this gateway's seal registry directory"
            )
        except OSError as exc:
            return TrustBundleUnavailable(f"cannot read the trust bundle {path}: {exc.strerror}")
        pinned = fingerprint(self.registry.root_certificate)
        try:
            bundle = TrustBundle.from_dict(ijson.loads(body), root_fingerprint=pinned)
        except (ValueError, SigningError) as exc:  # I-JSON errors are ValueErrors: a member twice is refused
            return TrustBundleUnavailable(
                f"{path} is not a valid trust bundle of this district's root ({exc}); {export}"
            )
        current = self.registry.bundle_is_current(bundle)
        if not current:
            self.log.warning("pki.trust_bundle_out_of_date", path=str(path), advice=export)
        return PublishedBundle(body, bundle, registry_changed=not current)

    def registry_acts(self) -> tuple[_Version, list[ActCheck]]:
        """The registry file's version and its act log, each act checked against this district's root.

        The gateway appends the acts that hold to its audit log
        (:class:`gateway.audit.registry_acts.RegistryActFeed`); the bureau
        made them on its own machine, without a store.
        """
        version = file_version(self.registry.directory)
        if self._acts is None or self._acts[0] != version:  # checked once per version of the file, not per look
            acts = self.registry.acts()
            self._acts = (version, check_acts(acts, self.registry.root_certificate, self.registry.district["code"]))
        return self._acts

    def close(self) -> None:
        self._closed = True  # a seal asked for after this would open the key again, and never close it
        if self._signing is not None:
            self._signing.shutdown(wait=True)  # a signature under way finishes before its key is closed
            self._signing = None
        self.registry.close()


def _file_version(path: Path) -> _Version:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size
