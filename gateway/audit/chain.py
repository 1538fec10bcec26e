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

import hashlib

_ANCHOR = b"onewindow-audit-chain/v1 anchor"
_LINK = b"onewindow-audit-chain/v1 link"
_BLOCK = hashlib.sha256().block_size  # 64 bytes: the 32-byte key is padded to it, never hashed first


class EntryChain:
    """Computes chain values with the district's chain key.

    ``secret_id`` names the district audit secret the key comes from (never the
    key): it is recorded with each checkpoint, so an instance holding another
    secret can tell a foreign store from a damaged one (:mod:`gateway.audit.store_keys`).

    The HMAC's inner and outer hashes of the key are computed once (RFC 2104:
    ``H(K ^ opad || H(K ^ ipad || m))``, the key padded to the block size) and
    copied for each value: the same bytes as :func:`hmac.digest` at about half
    its cost, paid on every entry appended and every entry checked.
    """

    __slots__ = ("_inner", "_outer", "secret_id")

    def __init__(self, key: bytes, secret_id: str | None = None) -> None:
        if len(key) != 32:
            raise ValueError("the chain key must be 32 bytes")
        self.secret_id = secret_id
        padded = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def _mac(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def anchor(self, size: int, root: bytes) -> bytes:
        """The chain value before entry ``size``, restarted at a checkpoint (or at the empty log)."""
        return self._mac(_ANCHOR + size.to_bytes(8, "big") + root)

    def link(self, previous: bytes, seq: int, leaf: bytes) -> bytes:
        """The chain value of entry ``seq`` whose leaf hash is ``leaf``, after ``previous``."""
        return self._mac(_LINK + previous + seq.to_bytes(8, "big") + leaf)

    def __repr__(self) -> str:
        return "EntryChain(<key>)"
