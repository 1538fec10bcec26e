"""The ``[printouts]`` section: how sealed results are printed as signed PDFs.

``timestamp_url`` names an RFC 3161 time-stamping authority: with it every
printout's PAdES signature carries a time-stamp (PAdES-B-T), without it the
signature is PAdES-B-B.  ``timestamp_roots_file`` (PEM certificates) is the
authority's root(s), for ``POST /v1/verify`` to trust its time-stamps as a
proof of existence.  ``font`` names the CJK TrueType font (``PATH`` or
``PATH#INDEX``); empty: the first one installed (docs/seals.md, "Printouts").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from gateway.config.values import refuse_unknown


@dataclass(frozen=True)
class PrintoutSettings:
    """Printing sealed results (``GET /v1/requests/{id}/document.pdf``)."""

    timestamp_url: str = ""  # an RFC 3161 time-stamping authority; empty: PAdES-B-B, no time-stamp
    timestamp_roots_file: str = ""  # PEM root certificate(s) of that authority, to trust its time-stamps
    font: str = ""  # PATH[#INDEX] of a CJK TrueType font; empty: the first one installed


def parse_printout_settings(table: Any) -> PrintoutSettings:
    """``[printouts]`` as :class:`PrintoutSettings`; ``ValueError`` naming the key when wrong."""
    if not isinstance(table, Mapping):
        raise ValueError("printouts: must be a table")
    refuse_unknown(table, tuple(f.name for f in fields(PrintoutSettings)), "printouts")
    values = {}
    for name in (f.name for f in fields(PrintoutSettings)):
        value = table.get(name, "")
        if not isinstance(value, str):
            raise ValueError(f"printouts.{name}: expected a string")
        values[name] = value.strip()
    url = values["timestamp_url"]
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"printouts.timestamp_url: expected an http(s) URL of a time-stamping authority, got {url[:80]!r}"
            )
    return PrintoutSettings(**values)
