"""The verifier's cache of the static parts of seal headers.

A sealer writes each protected header as ``STATIC PAD DYNAMIC``: ``STATIC``
the members every document of one seal shares (``alg``, ``typ``, ``kid``,
``x5c``, ``x5t#S256``, ``ow_kind``: ~2.2 KB, mostly the certificate chain),
``PAD`` spaces up to a multiple of 3 bytes, ``DYNAMIC`` the per-document
members, starting with a known marker (``,"sigT":``).  Base64 encodes each
3 bytes on their own, so the base64url of ``STATIC PAD`` is a literal
prefix of the header's text.  A verifier that has seen it once then only
decodes and parses the short tail, and resumes a saved hash state of the
prefix instead of rehashing it for the signature.

Equivalence with the plain path (``signing.jose.jws.parse_header`` and hashing
the whole signing input) is what makes this safe; tests/signing prove it
on generated and adversarial headers.  The argument: a prefix ``P`` is
learnt only when ``P + "}"`` parses (as I-JSON, like the plain path) to a
non-empty object, which leaves the parser right after a complete member of
the top-level object.  From there ``P + T`` is valid JSON exactly when
``T`` is ``ws "," members "}" ws``, and it is I-JSON exactly when, in
addition, ``"{" + members "}"`` is I-JSON and names no member ``P`` already
has: then it parses to ``{**parse(P + "}"), **parse("{" + members "}")}``.
A tail that repeats a name (of the prefix or of itself), or is anything
else, takes the full parse, which decides -- and refuses duplicates naming
the member, as :func:`signing.jose.jws.parse_header` does.  ``P`` ends on
a character boundary (it is valid UTF-8 on its own), so ``P + T`` is UTF-8
exactly when ``T`` is.
"""

from __future__ import annotations

import hashlib
from typing import Any

from signing.errors import IJsonError, JwsFormatError
from signing.jose import ijson
from signing.jose.jws import b64url_bytes, b64url_decode, load_header_json

_JSON_WS = " \t\n\r"  # the four whitespace characters of RFC 8259


class _Prefix:
    """One learnt static part: its base64url text, parsed members, hash states."""

    __slots__ = ("members", "states", "text")

    def __init__(self, text: str, members: dict[str, Any]) -> None:
        self.text = text
        self.members = members
        self.states: dict[str, Any] = {}  # hash name -> hashlib object fed ``text``


class HeaderCache:
    """Parse headers and hash signing inputs, doing each static part's work once.

    Bounded (``max_entries`` prefixes, then it starts afresh), so foreign or
    hostile headers cost speed, never memory.  Parsed headers share the
    cached members: callers must not modify them.
    """

    HEAD = 96  # characters of base64url used to look a prefix up (72 bytes)

    def __init__(self, marker: bytes, max_entries: int = 1024) -> None:
        """``marker`` starts the per-document part; ``max_entries=0`` disables the cache."""
        self._marker = marker
        self._max = max_entries
        self._by_head: dict[str, _Prefix] = {}

    def __len__(self) -> int:
        return len(self._by_head)

    def _prefix_of(self, header_b64: str) -> _Prefix | None:
        entry = self._by_head.get(header_b64[: self.HEAD])
        if entry is None or len(header_b64) <= len(entry.text):
            return None
        return entry if header_b64.startswith(entry.text) else None

    def parse(self, header_b64: str) -> dict[str, Any]:
        """Parse like :func:`signing.jose.jws.parse_header`, using and feeding the cache."""
        entry = self._prefix_of(header_b64)
        if entry is not None:
            dynamic = _continuation(header_b64[len(entry.text) :])
            if dynamic is not None and dynamic.keys().isdisjoint(entry.members):
                return {**entry.members, **dynamic}
        raw = b64url_decode(header_b64)
        header = load_header_json(raw)
        self._learn(raw)
        return header

    def signing_input_digest(self, header_b64: str, payload: bytes, hash_name: str) -> bytes:
        """``hash_name`` digest of ``header_b64 "." BASE64URL(payload)`` (the JWS signing input).

        ``header_b64`` must be one :meth:`parse` accepted (so it is ASCII).
        """
        entry = self._prefix_of(header_b64)
        if entry is None:
            state = hashlib.new(hash_name, header_b64.encode("ascii"))
        else:
            saved = entry.states.get(hash_name)
            if saved is None:
                saved = entry.states[hash_name] = hashlib.new(hash_name, entry.text.encode())
            state = saved.copy()
            state.update(header_b64[len(entry.text) :].encode("ascii"))
        state.update(b".")
        state.update(b64url_bytes(payload))
        return state.digest()

    def _learn(self, raw: bytes) -> None:
        if self._max <= 0 or not raw.startswith(b'{"'):
            return
        cut = raw.find(self._marker)
        if cut <= 0 or cut % 3 or cut * 4 // 3 <= self.HEAD:
            return  # no static part, or its base64 is not a prefix of the header's
        try:
            members = ijson.loads(raw[:cut] + b"}")
        except IJsonError:
            return
        if not isinstance(members, dict) or not members:
            return
        text = b64url_bytes(raw[:cut]).decode("ascii")
        if len(self._by_head) >= self._max:
            self._by_head.clear()
        self._by_head[text[: self.HEAD]] = _Prefix(text, members)


def _continuation(tail_b64: str) -> dict[str, Any] | None:
    """Parse ``ws "," members "}" ws`` (base64url) as an object; None if it is not that."""
    try:
        text = b64url_decode(tail_b64).decode("utf-8")
    except (JwsFormatError, UnicodeDecodeError):
        return None
    body = text.lstrip(_JSON_WS)
    if not body.startswith(","):
        return None
    try:
        members = ijson.loads("{" + body[1:])
    except IJsonError:
        return None
    return members if isinstance(members, dict) and members else None
