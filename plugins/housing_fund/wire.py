"""The centre's legacy wire format, as the plugin speaks it.

The sub-centre's external interface (对外接口规范, the one its bank and
service-hall partners use) is a 2000s-era form interface:

* **Request**: ``POST /gjj/interface.do`` with
  ``Content-Type: application/x-www-form-urlencoded; charset=GBK``. Every
  value is encoded to **GBK bytes first and then percent-encoded**
  (``姓名`` travels as ``%D5%C5%CE%B0``, not as UTF-8 ``%E5%BC%A0...``).
  A character outside GBK (some rare characters in names, 生僻字) cannot be
  sent at all; the centre's own counter staff handle those by hand.
* **Signature**: ``sign = upper(hex(MD5(GBK(s))))`` where ``s`` is
  ``k1=v1&k2=v2&...&key=<sign key>``: every non-empty field except ``sign``,
  sorted by field name, raw values (not percent-encoded), then the shared
  key. ``orgcode`` names the partner and ``timestamp`` (``yyyyMMddHHmmss``,
  Beijing time) must be within ten minutes of the centre's clock.
* **Answer**: ``text/plain; charset=GBK``, lines separated by CRLF, each line
  ``KEY=VALUE`` pairs joined by ``|``. Line 1 is the header
  (``RETCODE``, ``RETMSG``, ``ZXLSH`` the centre's serial), line 2 the main
  record, further lines are detail rows (monthly deposits, loans).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from gateway.contract import AgencyProtocolError, AgencyRejectedCall

CHARSET = "gbk"
BEIJING = timezone(timedelta(hours=8), "CST")
_RETCODE = re.compile(r"^\d{4}$")


def timestamp(now: datetime | None = None) -> str:
    """The centre's timestamp format, in Beijing time."""
    return (now or datetime.now(BEIJING)).astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def _gbk(text: str, what: str) -> bytes:
    try:
        return text.encode(CHARSET)
    except UnicodeEncodeError:
        raise AgencyRejectedCall(
            f"{what} contains characters the centre's GBK interface cannot carry; handle it at the counter"
        ) from None


def encodable(text: str) -> bool:
    """Whether ``text`` can travel through the GBK interface at all."""
    try:
        text.encode(CHARSET)
    except UnicodeEncodeError:
        return False
    return True


def signature(fields: Mapping[str, str], key: str) -> str:
    """MD5 over the sorted non-empty fields plus ``key=<sign key>``, GBK-encoded, upper-case hex."""
    pairs = [f"{name}={value}" for name, value in sorted(fields.items()) if name != "sign" and value != ""]
    plain = "&".join([*pairs, f"key={key}"])
    return hashlib.md5(_gbk(plain, "a field")).hexdigest().upper()


def encode_form(fields: Mapping[str, str]) -> bytes:
    """The form body: GBK bytes, percent-encoded (ASCII on the wire)."""
    for name, value in fields.items():
        _gbk(value, f"field {name!r}")
    return urlencode(list(fields.items()), encoding=CHARSET, errors="strict").encode("ascii")


@dataclass(frozen=True)
class Answer:
    """One parsed answer: the header's code, message and serial, the main record and detail rows."""

    code: str
    message: str
    serial: str | None
    record: dict[str, str] = field(default_factory=dict)
    rows: tuple[dict[str, str], ...] = ()


def _pairs(line: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in line.split("|"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]*", key.strip()):
            raise AgencyProtocolError(f"housing fund answer has a field that is not KEY=VALUE: {part[:40]!r}")
        out[key.strip()] = value.strip()
    return out


def parse_answer(raw: bytes) -> Answer:
    """Decode GBK and split the line/field layout; anything else is a protocol error."""
    try:
        text = raw.decode(CHARSET)
    except UnicodeDecodeError as exc:
        raise AgencyProtocolError(f"housing fund answer is not GBK text: {exc.reason} at byte {exc.start}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("RETCODE="):
        raise AgencyProtocolError("housing fund answer does not start with a RETCODE header line")
    header = _pairs(lines[0])
    code = header.get("RETCODE", "")
    if not _RETCODE.match(code):
        raise AgencyProtocolError(f"housing fund answer has a malformed RETCODE {code[:10]!r}")
    records = [_pairs(line) for line in lines[1:]]
    return Answer(
        code=code,
        message=header.get("RETMSG", ""),
        serial=header.get("ZXLSH") or None,
        record=records[0] if records else {},
        rows=tuple(records[1:]),
    )
