"""The entry chain: a keyed MAC through the entries, so only the gateway can add one.

The Merkle tree makes every entry tamper-evident once a checkpoint is signed
over it; before that, anyone who can write the database could insert an
entry with a correct leaf hash and rewrite the head, and the next checkpoint
would sign it. The chain closes that gap. Each entry's MAC, stored beside it
(``audit_entries.chain``) and carried in the head row, is::

    chain[n] = HMAC-SHA-256(K, "link" || chain[n-1] || seq(8 bytes, big-endian) || leaf hash[n])

with ``K`` the chain key of the district audit secret (:mod:`gateway.audit.secret`),
which is not in the database. Every signed checkpoint restarts the chain from
a value only the key holder can compute from what was signed::

    chain before entry c = HMAC-SHA-256(K, "anchor" || size c (8 bytes) || root hash at c)

(a checkpoint is always signed over the whole log as it stands, under the
head row's lock, so no entry after ``c`` exists yet when it restarts). The
log is checked from the latest signed checkpoint before each new checkpoint
and at start-up: an entry whose MAC does not follow was not written by the
district's gateways, and nothing is signed over it.
"""

from __future__ import annotations

import hmac

_ANCHOR = b"onewindow-audit-chain/v1 anchor"
_LINK = b"onewindow-audit-chain/v1 link"


class EntryChain:
    """Computes chain values with the district's chain key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the chain key must be 32 bytes")
        self._key = key

    def anchor(self, size: int, root: bytes) -> bytes:
        """The chain value before entry ``size``, restarted at a checkpoint (or at the empty log)."""
        return hmac.digest(self._key, _ANCHOR + size.to_bytes(8, "big") + root, "sha256")

    def link(self, previous: bytes, seq: int, leaf: bytes) -> bytes:
        """The chain value of entry ``seq`` whose leaf hash is ``leaf``, after ``previous``."""
        return hmac.digest(self._key, _LINK + previous + seq.to_bytes(8, "big") + leaf, "sha256")

    def __repr__(self) -> str:
        return "EntryChain(<key>)"
