"""The trust bundle: everything an offline verifier needs, signed by the district root.

A bundle is one JSON file: the root certificate, every seal ever issued
(certificate, scope, status history), a standard X.509 CRL, and a
detached JWS by the root key over the JCS form of all of that.  Loading
checks the signature, the CRL and every seal certificate, so an edited
bundle is refused before any document is judged with it.

The bundle proves itself consistent with the root *it contains*; to know
that root is the district's, the verifier pins it (``root_fingerprint=``,
or a trust store: :mod:`signing.verify.pinning`).  The bundle records how
(:attr:`TrustBundle.anchor`); without an anchor no verdict says genuine.
Its ``next_update`` says until when its revocation information is fresh.

A process that holds the registry itself (the gateway) needs no signed
bundle to verify: :meth:`TrustBundle.from_local_state` indexes the root
certificate and the seals it already trusts, with no CRL and no signature,
so it never needs the root's private key.  Verification reads only the
root, the seal certificates and their status histories, never the CRL, so
both kinds judge every document alike.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from signing.errors import IJsonError, NotJsonError, TrustBundleError
from signing.jose import ijson
from signing.jose.header_cache import HeaderCache
from signing.model import Seal, SealStatus, format_time, parse_time
from signing.pki.certificates import build_crl, issued_by
from signing.pki.root_signature import root_signature_problem, sign_by_root
from signing.sealing import DYNAMIC_MARKER
from signing.verify.pinning import (
    Anchor,
    AnchorSource,
    PinnedRoot,
    TrustStore,
    anchor_from_store,
    normalise_fingerprint,
)

BUNDLE_FORMAT = "onewindow-trust-bundle/1"
BUNDLE_TYP = "onewindow-trust-bundle+jws"


def build_trust_bundle(
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    district: dict[str, str],
    seals: list[Seal],
    now: datetime,
    crl_days: int = 7,
    acts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Assemble and sign a bundle (the registry calls this on ``export-trust``).

    The signature's ``alg`` is the root key's: ES384 for a P-384 root.
    ``acts`` is the registry's act log (:mod:`signing.registry.acts`), carried
    as it is: each act is signed by the root on its own.
    """
    crl = build_crl(root_key, root_cert, seals, now, crl_days)
    root_der = root_cert.public_bytes(Encoding.DER)
    body: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "district": dict(district),
        "issued_at": format_time(now),
        "next_update": format_time(now + timedelta(days=crl_days)),
        "root": base64.b64encode(root_der).decode("ascii"),
        "root_sha256": hashlib.sha256(root_der).hexdigest(),
        "crl": base64.b64encode(crl.public_bytes(Encoding.DER)).decode("ascii"),
        "seals": [seal.to_dict(include_key=False) for seal in seals],
        "acts": list(acts or []),
    }
    body["signature"] = sign_by_root(body, root_key, root_der, BUNDLE_TYP)
    return body


class TrustBundle:
    """A verified bundle, indexed for verification; holds the per-certificate chain cache.

    Two kinds: a **signed** bundle (:meth:`from_dict`, :func:`load_trust_bundle`:
    root signature and CRL checked, ``crl`` set, ``signed`` True) and a
    **local view** (:meth:`from_local_state`: built from a registry the
    process trusts, ``crl`` None, ``signed`` False, not for handing out).
    """

    def __init__(
        self,
        data: dict[str, Any],
        root: x509.Certificate,
        seals: list[Seal],
        crl: x509.CertificateRevocationList | None,
        anchor: Anchor | None = None,
    ) -> None:
        self.data = data
        #: True for a bundle whose root signature was checked; False for a local view.
        self.signed = crl is not None and "signature" in data
        self.root = root
        self.root_public_key = root.public_key()
        self.root_der = root.public_bytes(Encoding.DER)
        self.root_b64 = base64.b64encode(self.root_der).decode("ascii")
        self.root_fingerprint = hashlib.sha256(self.root_der).hexdigest()
        self.district: dict[str, str] = dict(data["district"])
        self.issued_at = parse_time(data["issued_at"])
        #: Until when the revocation information is fresh; None for a local view (always current).
        self.next_update = parse_time(data["next_update"]) if "next_update" in data else None
        #: Why this root is trusted; None when nobody pinned it (then nothing it vouches for is genuine).
        self.anchor = anchor
        #: The trust-store entry recorded on first use while loading, for the loud notice; else None.
        self.recorded_pin: PinnedRoot | None = None
        self.crl = crl
        self.seals: dict[str, Seal] = {seal.number: seal for seal in seals}
        self.by_certificate: dict[str, Seal] = {
            base64.b64encode(seal.certificate_der).decode("ascii"): seal for seal in seals
        }
        #: x5c tuple -> result of chain validation; see ``signing.verify.verifier``.
        self.chain_cache: dict[tuple[str, ...], Any] = {}
        #: Parsed static parts of seal headers; see ``signing.jose.header_cache``.
        self.header_cache = HeaderCache(DYNAMIC_MARKER)

    @classmethod
    def from_dict(
        cls,
        data: Any,
        *,
        root_fingerprint: str | None = None,
        trust_store: TrustStore | None = None,
        first_use: bool = False,
    ) -> TrustBundle:
        """Check and index a parsed bundle; raise :class:`TrustBundleError` if anything is off.

        The anchor: ``root_fingerprint`` when given (a different root is
        refused), else the ``trust_store`` (a district it knows with another
        root is refused; an unknown one is recorded when ``first_use``),
        else none -- the bundle loads, but no verdict with it says genuine.
        """
        if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
            raise TrustBundleError(f"not a trust bundle (expected format {BUNDLE_FORMAT})")
        try:
            root = x509.load_der_x509_certificate(base64.b64decode(data["root"], validate=True))
        except (KeyError, TypeError, ValueError):
            raise TrustBundleError("trust bundle: root certificate is missing or unreadable") from None
        if not issued_by(root, root):
            raise TrustBundleError("trust bundle: root certificate is not self-signed")
        root_der = root.public_bytes(Encoding.DER)
        actual = hashlib.sha256(root_der).hexdigest()
        anchor = None
        if root_fingerprint is not None:
            pinned = normalise_fingerprint(root_fingerprint)
            if pinned != actual:
                raise TrustBundleError(f"trust bundle root {actual} is not the pinned district root {pinned}")
            anchor = Anchor(AnchorSource.ROOT_FINGERPRINT, "root pinned by the fingerprint given (--root-fingerprint)")
        _check_signature(data, root)
        try:
            seals = [Seal.from_dict(entry) for entry in data["seals"]]
            crl = x509.load_der_x509_crl(base64.b64decode(data["crl"], validate=True))
            issued_at, next_update = parse_time(data["issued_at"]), parse_time(data["next_update"])
            district = {"code": str(data["district"]["code"]), "name": str(data["district"]["name"])}
        except (KeyError, TypeError, ValueError) as exc:
            raise TrustBundleError(f"trust bundle: malformed content ({exc})") from None
        if next_update < issued_at:
            raise TrustBundleError("trust bundle: next_update lies before issued_at")
        for seal in seals:
            if not issued_by(seal.certificate, root):
                raise TrustBundleError(f"trust bundle: seal {seal.number} was not issued by the root")
        _check_crl(crl, root, seals, issued_at)
        recorded = None
        if anchor is None and trust_store is not None:  # only a bundle that passed every check is remembered
            anchor, recorded = anchor_from_store(trust_store, district, actual, first_use=first_use)
        bundle = cls(data, root, seals, crl, anchor)
        bundle.recorded_pin = recorded
        return bundle

    @classmethod
    def from_local_state(
        cls,
        root: x509.Certificate,
        district: dict[str, str],
        seals: list[Seal],
        *,
        issued_at: datetime,
    ) -> TrustBundle:
        """A view of trusted local state (the registry), for verification without the root key.

        Nothing to check a signature of, so no CRL: revocation status comes
        from the seals' histories, as it does for a signed bundle.  The
        same structural checks as :meth:`from_dict` still run (the root is
        self-signed, every seal certificate was issued by it), so a
        tampered registry file fails here rather than passing documents.
        """
        if not issued_by(root, root):
            raise TrustBundleError("registry: root certificate is not self-signed")
        for seal in seals:
            if not issued_by(seal.certificate, root):
                raise TrustBundleError(f"registry: seal {seal.number} was not issued by the root")
        root_der = root.public_bytes(Encoding.DER)
        data: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "district": dict(district),
            "issued_at": format_time(issued_at),
            "root": base64.b64encode(root_der).decode("ascii"),
            "root_sha256": hashlib.sha256(root_der).hexdigest(),
            "seals": [seal.to_dict(include_key=False) for seal in seals],
        }
        anchor = Anchor(AnchorSource.LOCAL_REGISTRY, f"the verifier's own registry of district {district['code']}")
        return cls(data, root, seals, None, anchor)

    @property
    def acts(self) -> list[dict[str, Any]]:
        """The registry's act log as the bundle carries it (none in a bundle made before acts existed)."""
        acts = self.data.get("acts", [])
        return list(acts) if isinstance(acts, list) else []

    def seal_entries(self) -> list[dict[str, Any]]:
        """The bundle's ``seals`` member: every seal with its status history, as JSON data."""
        return list(self.data["seals"])

    def to_dict(self) -> dict[str, Any]:
        """The signed bundle as JSON data; a local view has no signature and cannot be handed out."""
        if not self.signed:
            raise TrustBundleError(
                "a local registry view is not a signed trust bundle: export one with 'onewindow seal export-trust'"
            )
        return self.data


def load_trust_bundle(
    path: str | Path,
    *,
    root_fingerprint: str | None = None,
    trust_store: TrustStore | None = None,
    first_use: bool = False,
) -> TrustBundle:
    """Read (as I-JSON: a member name twice is refused, naming it), verify and index a trust bundle file."""
    try:
        data = ijson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise TrustBundleError(f"cannot read trust bundle {path}: {exc.strerror}") from None
    except NotJsonError:
        raise TrustBundleError(f"trust bundle {path} is not JSON") from None
    except IJsonError as exc:
        raise TrustBundleError(f"trust bundle {path} is not I-JSON (RFC 7493): {exc}") from None
    return TrustBundle.from_dict(data, root_fingerprint=root_fingerprint, trust_store=trust_store, first_use=first_use)


def _check_signature(data: dict[str, Any], root: x509.Certificate) -> None:
    problem = root_signature_problem(data, root, BUNDLE_TYP, "the bundle")
    if problem is not None:
        raise TrustBundleError(f"trust bundle {problem}")


def _check_crl(
    crl: x509.CertificateRevocationList,
    root: x509.Certificate,
    seals: list[Seal],
    issued_at: datetime,
) -> None:
    """The CRL must be the root's and list exactly the seals the registry marks unusable."""
    public_key = root.public_key()
    if crl.issuer != root.subject or not (
        isinstance(public_key, ec.EllipticCurvePublicKey) and crl.is_signature_valid(public_key)
    ):
        raise TrustBundleError("trust bundle: CRL is not signed by the root")
    listed = {entry.serial_number for entry in crl}
    expected = set()
    for seal in seals:
        event = seal.status_at(issued_at)
        if event is not None and event.status is not SealStatus.ACTIVE:
            expected.add(seal.certificate.serial_number)
    if listed != expected:
        raise TrustBundleError("trust bundle: CRL disagrees with the seal status history")
