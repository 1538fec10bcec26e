"""Masking personal data: resident ID numbers, credit codes, phone numbers and names.

Whatever leaves the gateway -- log lines, audit entries, error details --
goes through these functions, so the numbers an applicant gives at a window
never appear whole outside the store that needs them.
"""

from __future__ import annotations

import re

_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"
# An ID number is masked wherever 18 such characters stand apart from other digits (even right after a letter).
RESIDENT_ID_PATTERN = re.compile(
    r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9])"
)
CREDIT_CODE_PATTERN = re.compile(
    _NOT_ALNUM_BEFORE + r"[1-9ANY][1-9A-HJ-NP-RTUWXY]\d{6}[0-9A-HJ-NP-RTUWXY]{10}" + _NOT_ALNUM_AFTER, re.IGNORECASE
)
# Mainland mobile numbers, also written +86 138 0533 0123 or 138-0533-0123.
PHONE_PATTERN = re.compile(r"(?<![\d+])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)")

# What each pattern needs at the least, looked for first because most text (digests, codes, words) holds
# no such number: an ID number 17 digits in a row, a credit code 6, a phone 11 or a separator before 4.
# Checked on ASCII text with every digit folded to "0" (one C pass); other text takes the full patterns.
_SHORTEST = 11  # a phone number without separators; an ID number or a credit code takes 18
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


_HEX = "0123456789abcdef"  # not text.strip(_HEX): every character a hex digit, in one C pass


def is_digest(value: str) -> bool:
    """A digest as the gateway writes one: ``sha256:`` or ``hmac-sha256:`` and 64 lowercase hex digits.

    It holds nothing personal, and masking would corrupt it: about one
    digest in three hundred holds a run of digits that reads as a phone
    number. A sink keeps it verbatim only under a key that names a digest.
    """
    algorithm, _, hexdigest = value.partition(":")
    return algorithm in ("sha256", "hmac-sha256") and len(hexdigest) == 64 and not hexdigest.strip(_HEX)


def mask_id(value: str) -> str:
    """Keep the first four and last four characters: ``3703**********001X``."""
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)


def mask_phone(value: str) -> str:
    """Keep the network prefix and last four digits: ``138****5678`` (also for ``+86 138-…``)."""
    digits = re.sub(r"\D", "", value)
    digits = digits[2:] if len(digits) == 13 and digits.startswith("86") else digits
    return digits[:3] + "****" + digits[-4:]


def mask_name(value: str) -> str:
    """Keep the first character (the surname in a Chinese name): ``张**``."""
    value = value.strip()
    if not value:
        return value
    return value[0] + "*" * max(1, len(value) - 1)


# Texts seen lately that hold nothing to mask. A serving gateway masks the same values on every line and
# audit entry of a request, and of the next: its caller, office, item, path, the request's id (about ten a
# line, a microsecond each). Only a text masking left as it was is kept: never one that held a number.
_PLAIN_TEXTS: dict[str, None] = {}
_PLAIN_TEXTS_MAX = 4096  # then forgotten all at once: a bound on memory, not a policy of use
_PLAIN_TEXT_CHARS = 256  # longer texts seldom come again


def mask_text(text: str) -> str:
    """Mask every ID number, credit code and phone number inside ``text``."""
    if len(text) < _SHORTEST or text in _PLAIN_TEXTS:
        return text
    masked = _masked(text)
    if masked == text and len(text) <= _PLAIN_TEXT_CHARS:
        if len(_PLAIN_TEXTS) >= _PLAIN_TEXTS_MAX:
            _PLAIN_TEXTS.clear()
        _PLAIN_TEXTS[text] = None
    return masked


def _masked(text: str) -> str:
    resident_id = credit_code = phone = True
    if text.isascii():
        folded = text.encode("ascii").translate(_DIGITS_AS_ZERO)
        credit_code = b"000000" in folded
        resident_id = credit_code and b"00000000000000000" in folded
        phone = b"00000000000" in folded or b" 0000" in folded or b"-0000" in folded
    # Masking an ID number or a credit code only turns characters into "*": it never makes a later one match.
    if resident_id:
        text = RESIDENT_ID_PATTERN.sub(lambda m: mask_id(m.group(0)), text)
    if credit_code:
        text = CREDIT_CODE_PATTERN.sub(lambda m: mask_id(m.group(0)), text)
    if phone:
        text = PHONE_PATTERN.sub(lambda m: mask_phone(m.group(0)), text)
    return text
