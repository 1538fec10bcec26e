"""The registry's act log: every change made to the district's seals, signed by the district root.

The bureau creates the district and issues, revokes, suspends and reinstates
seals on its offline machine, where there is no gateway and no store to
record them in. So each change is recorded where it is made: as an **act**
inside ``registry.json``, written in the same atomic write as the change
itself (a crash leaves both or neither), signed by the root key, and chained
to the act before it by digest. The acts travel with the registry to the
gateways, which append each one to their audit log exactly once, and with
every exported trust bundle, where anyone holding the pinned root can check
them (:func:`check_acts`).

An act is this JSON object (``signature`` last, over JCS of the rest, as for
the trust bundle: :mod:`signing.pki.root_signature`)::

    {"format": "onewindow-registry-act/1", "district": "370303", "seq": 3,
     "kind": "seal.revoked", "at": "2026-11-28T04:37:12Z", "by": "cli:li@bureau-pc",
     "fields": {"seal_number": "370303-SP-0001", "reason": "...", "reason_code": "key_compromise", ...},
     "previous": "sha256:<hex of JCS of act 2, its signature included>",
     "signature": "<detached JWS by the root>"}

A change made where the root key is not at hand -- an urgent revocation on a
gateway host -- is still recorded, without ``signature``: a revocation never
waits for the root key.
"""

from __future__ import annotations

import getpass
import hashlib
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from signing.jose.jcs import canonicalize
from signing.model import format_time, parse_time
from signing.pki.root_signature import root_signature_problem, sign_by_root

ACT_FORMAT = "onewindow-registry-act/1"
ACT_TYP = "onewindow-registry-act+jws"
ACT_KINDS = ("seal.district_created", "seal.issued", "seal.revoked", "seal.suspended", "seal.reinstated")


def acting_user() -> str:
    """Who makes a change from this machine: ``cli:<user>@<host>``."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def act_digest(act: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of JCS of the whole act, its signature included: what the next act's ``previous`` holds."""
    return "sha256:" + hashlib.sha256(canonicalize(dict(act))).hexdigest()


def record_act(
    state: dict[str, Any],
    kind: str,
    fields: Mapping[str, Any],
    *,
    at: datetime,
    by: str | None,
    root_key: ec.EllipticCurvePrivateKey | None,
    root: x509.Certificate,
) -> dict[str, Any]:
    """Append the next act to ``state["acts"]`` (the caller writes the state); signed when ``root_key`` is given."""
    if kind not in ACT_KINDS:
        raise ValueError(f"unknown registry act {kind!r}")
    acts: list[dict[str, Any]] = state.setdefault("acts", [])
    act: dict[str, Any] = {
        "format": ACT_FORMAT,
        "district": state["district"]["code"],
        "seq": len(acts) + 1,
        "kind": kind,
        "at": format_time(at),
        "by": by or acting_user(),
        "fields": dict(fields),
        "previous": act_digest(acts[-1]) if acts else None,
    }
    if root_key is not None:
        act["signature"] = sign_by_root(act, root_key, root.public_bytes(Encoding.DER), ACT_TYP)
    acts.append(act)
    return act


@dataclass(frozen=True)
class ActCheck:
    """One act as checked: whether the root signed it, and what is wrong with it (None when nothing)."""

    act: Mapping[str, Any]
    signed: bool
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def seq(self) -> Any:
        return self.act.get("seq")

    @property
    def kind(self) -> Any:
        return self.act.get("kind")

    @property
    def digest(self) -> str:
        return act_digest(self.act)

    def to_dict(self) -> dict[str, Any]:
        return {"act": dict(self.act), "digest": self.digest, "signed": self.signed, "problem": self.problem}


def check_acts(acts: Any, root: x509.Certificate, district: str) -> list[ActCheck]:
    """Check an act log against the district ``root``: form, order, chain and each signature.

    Every act is judged on its own (a broken one does not hide the others);
    an act without a signature is not a problem in itself (``signed`` False:
    made where the root key was not), one whose signature does not hold is.
    """
    if not isinstance(acts, list):
        return [ActCheck({}, False, "the act log is not a list")]
    checks = []
    previous: str | None = None
    for index, act in enumerate(acts):
        if not isinstance(act, dict):
            checks.append(ActCheck({}, False, f"act {index + 1} is not a JSON object"))
            previous = None
            continue
        checks.append(ActCheck(act, "signature" in act, _problem(act, index + 1, previous, root, district)))
        previous = act_digest(act)
    return checks


def _problem(
    act: Mapping[str, Any], seq: int, previous: str | None, root: x509.Certificate, district: str
) -> str | None:
    if act.get("format") != ACT_FORMAT:
        return f"act {seq}: not an {ACT_FORMAT} act"
    if type(act.get("seq")) is not int or act["seq"] != seq:
        return f"act {seq}: numbered {act.get('seq')!r}: an act was removed, inserted or moved"
    if act.get("district") != district:
        return f"act {seq}: of district {act.get('district')!r}, not {district}"
    if (
        act.get("kind") not in ACT_KINDS
        or not isinstance(act.get("fields"), dict)
        or not isinstance(act.get("by"), str)
    ):
        return f"act {seq}: malformed (kind, fields or by)"
    try:
        parse_time(str(act.get("at")))
    except (ValueError, TypeError):
        return f"act {seq}: its time {act.get('at')!r} is not an RFC 3339 time"
    if act.get("previous") != previous:
        return f"act {seq}: does not follow the act before it: an act was removed, inserted or altered"
    if "signature" in act:
        problem = root_signature_problem(act, root, ACT_TYP, "the act")
        if problem is not None:
            return f"act {seq}: {problem}"
    return None
