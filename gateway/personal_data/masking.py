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


def mask_text(text: str) -> str:
    """Mask every ID number, credit code and phone number inside ``text``."""
    text = RESIDENT_ID_PATTERN.sub(lambda m: mask_id(m.group(0)), text)
    text = CREDIT_CODE_PATTERN.sub(lambda m: mask_id(m.group(0)), text)
    return PHONE_PATTERN.sub(lambda m: mask_phone(m.group(0)), text)
