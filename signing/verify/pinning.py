"""Which district roots a verifier trusts: pinned fingerprints, the trust store, trust on first use.

A trust bundle proves itself consistent with the root it carries, nothing
more: anyone can set up a district with the same code and name and a root
of their own, seal a forgery and hand over their own bundle, and it checks
out.  So a verdict may call a seal genuine only when the bundle's root is
one the verifier decided to trust beforehand -- its **anchor**:

* a fingerprint given for this run (``--root-fingerprint``, as the bureau
  publishes it);
* the **trust store**: a file of pinned district roots (``--trust-store``,
  ``$ONEWINDOW_TRUST_STORE``, else ``~/.config/onewindow/trusted-roots.json``),
  filled with ``onewindow trust pin``;
* **trust on first use**, asked for explicitly: the root of the first bundle
  seen for a district is recorded in the store, with a loud notice, and is
  required from then on;
* the gateway's own registry (its own district: pinned by construction).

A bundle for a district the store knows, with a root the store does not
list for it, is refused.  Without an anchor the verdict is INDETERMINATE /
NO_CERTIFICATE_CHAIN_FOUND: the chain does not reach a trusted anchor.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from signing.errors import IJsonError, TrustBundleError
from signing.fsutil import atomic_write, exclusive_lock
from signing.jose import ijson
from signing.model import format_time

TRUST_STORE_ENV = "ONEWINDOW_TRUST_STORE"
TRUST_STORE_FORMAT = "onewindow-trust-store/1"
_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")
_DISTRICT_RE = re.compile(r"^\d{6}$")


class AnchorSource(StrEnum):
    """Where the trust in a bundle's root comes from."""

    ROOT_FINGERPRINT = "root_fingerprint"  # given for this verification
    TRUST_STORE = "trust_store"  # pinned earlier in the trust store
    FIRST_USE = "first_use"  # recorded just now, on first use
    LOCAL_REGISTRY = "local_registry"  # the verifier's own registry (the gateway)


@dataclass(frozen=True, slots=True)
class Anchor:
    """How the verifier came to trust a root: the source, and plain words for the verdict."""

    source: AnchorSource
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source.value, "detail": self.detail}


def normalise_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as lowercase hex without colons; :class:`TrustBundleError` if it is not one."""
    value = text.replace(":", "").strip().lower()
    if not _FINGERPRINT_RE.match(value):
        raise TrustBundleError(f"{ijson.echo(text)} is not a SHA-256 fingerprint (64 hex digits)")
    return value


def default_trust_store_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$ONEWINDOW_TRUST_STORE``, else ``trusted-roots.json`` in the user's configuration directory."""
    env = os.environ if environ is None else environ
    if env.get(TRUST_STORE_ENV):
        return Path(env[TRUST_STORE_ENV])
    config = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(config) / "onewindow" / "trusted-roots.json"


@dataclass(frozen=True, slots=True)
class PinnedRoot:
    """One trusted root of one district, as the store records it."""

    district: str
    name: str
    sha256: str
    pinned_at: str
    how: str  # "pinned" (onewindow trust pin) or "first_use"

    def to_dict(self) -> dict[str, str]:
        return {"sha256": self.sha256, "name": self.name, "pinned_at": self.pinned_at, "how": self.how}


class TrustStore:
    """The file of pinned district roots: ``{"format", "districts": {code: {"roots": [...]}}}``.

    Read with the strict parser and checked entry by entry; written under
    a lock, atomically, so two verifications on first use cannot lose a pin.
    A district may list several roots (a root renewed by the bureau):
    each is added deliberately, with ``onewindow trust pin``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def roots(self, district: str) -> list[PinnedRoot]:
        """Every root pinned for ``district`` (empty when none, or when there is no store yet)."""
        return [root for root in self._read() if root.district == district]

    def all_roots(self) -> list[PinnedRoot]:
        return self._read()

    def pin(self, district: str, name: str, fingerprint: str, *, how: str = "pinned") -> PinnedRoot:
        """Add a root for ``district`` (no change if it is there already); returns its entry."""
        if not _DISTRICT_RE.match(district):
            raise TrustBundleError(f"{ijson.echo(district)} is not a 6-digit district code")
        sha256 = normalise_fingerprint(fingerprint)
        with exclusive_lock(self.path.with_name(self.path.name + ".lock")):
            roots = self._read()
            for root in roots:
                if root.district == district and root.sha256 == sha256:
                    return root
            entry = PinnedRoot(district, name, sha256, format_time(datetime.now(UTC)), how)
            self._write([*roots, entry])
            return entry

    def unpin(self, district: str, fingerprint: str) -> bool:
        """Remove one root of ``district``; False when it was not pinned."""
        sha256 = normalise_fingerprint(fingerprint)
        with exclusive_lock(self.path.with_name(self.path.name + ".lock")):
            roots = self._read()
            kept = [r for r in roots if not (r.district == district and r.sha256 == sha256)]
            if len(kept) == len(roots):
                return False
            self._write(kept)
            return True

    def _read(self) -> list[PinnedRoot]:
        try:
            data = ijson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise TrustBundleError(f"cannot read the trust store {self.path}: {exc.strerror}") from None
        except IJsonError as exc:
            raise TrustBundleError(f"trust store {self.path} is not I-JSON: {exc}") from None
        try:
            return _parse_store(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise TrustBundleError(f"trust store {self.path} is malformed ({exc})") from None

    def _write(self, roots: list[PinnedRoot]) -> None:
        districts: dict[str, Any] = {}
        for root in roots:
            districts.setdefault(root.district, {"roots": []})["roots"].append(root.to_dict())
        text = json.dumps({"format": TRUST_STORE_FORMAT, "districts": districts}, ensure_ascii=False, indent=2)
        atomic_write(self.path, (text + "\n").encode("utf-8"), mode=0o644)


def _parse_store(data: Any) -> list[PinnedRoot]:
    if not isinstance(data, dict) or data.get("format") != TRUST_STORE_FORMAT:
        raise ValueError(f"expected format {TRUST_STORE_FORMAT}")
    roots = []
    for district, entry in data["districts"].items():
        if not _DISTRICT_RE.match(district):
            raise ValueError(f"{ijson.echo(district)} is not a district code")
        for root in entry["roots"]:
            sha256 = str(root["sha256"])
            if not _FINGERPRINT_RE.match(sha256):
                raise ValueError(f"district {district}: {ijson.echo(sha256)} is not a SHA-256 fingerprint")
            roots.append(PinnedRoot(district, str(root["name"]), sha256, str(root["pinned_at"]), str(root["how"])))
    return roots


def anchor_from_store(
    store: TrustStore, district: Mapping[str, str], fingerprint: str, *, first_use: bool
) -> tuple[Anchor | None, PinnedRoot | None]:
    """Judge a checked bundle's root by the store: (anchor, the pin recorded now on first use, if any).

    A district the store knows with another root is refused loudly
    (:class:`TrustBundleError`): a forged district, or a new root the
    verifier has not pinned yet.  An unknown district gets an anchor only
    with ``first_use``, which records it.
    """
    code, name = district["code"], district.get("name", "")
    pinned = store.roots(code)
    if any(root.sha256 == fingerprint for root in pinned):
        return Anchor(AnchorSource.TRUST_STORE, f"root of district {code} pinned in the trust store {store.path}"), None
    if pinned:
        known = ", ".join(root.sha256 for root in pinned)
        raise TrustBundleError(
            f"REFUSED: the trust store {store.path} pins district {code} to root {known}, but this trust bundle "
            f"carries root {fingerprint}: a forged district, or a new root the bureau announced. Only if the bureau "
            f"publishes {fingerprint} as its root: onewindow trust pin {code} {fingerprint}"
        )
    if not first_use:
        return None, None
    recorded = store.pin(code, name, fingerprint, how="first_use")
    return Anchor(AnchorSource.FIRST_USE, f"root of district {code} trusted on first use, recorded in {store.path}"), (
        recorded
    )


def how_to_pin(district: Mapping[str, str], fingerprint: str) -> str:
    """What to tell a user whose bundle's root is not pinned: compare, then one of three ways."""
    code = district.get("code", "?")
    return (
        f"the trust bundle's root ({fingerprint}, district {code} {district.get('name', '')}) is not pinned, "
        "so no seal it vouches for can be called genuine. Compare that fingerprint with the one the district "
        f"bureau publishes; if they are equal, either pass --root-fingerprint {fingerprint}, or pin it once: "
        f"onewindow trust pin {code} {fingerprint} (or verify once with --trust-on-first-use)"
    )
