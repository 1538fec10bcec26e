"""Chinese identifiers: checking them (GB 11643, GB 32100) and masking them.

A wrong digit in an ID number is the most common mistake at a window, and
the agency's answer to it is slow and vague; checking the check character at
intake turns it into an immediate, precise message. Masking keeps the same
numbers out of every log line.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

#: China Standard Time (no daylight saving). "Today" at a window is the date there, whatever the server's zone.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


def today_in_china() -> date:
    """Today's date in China Standard Time: a kiosk at 01:00 Beijing time is not still on yesterday."""
    return datetime.now(CHINA_STANDARD_TIME).date()


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_AUTHORITIES = "123456789ANY"
_PHONE = re.compile(r"^1[3-9]\d{9}$")


def resident_id_problem(value: str, *, today: date | None = None) -> str | None:
    """Why ``value`` is not a valid 18-digit resident ID number, or None.

    Checks the shape, the birth date (a real date, not in the future, not
    before 1900) and the GB 11643-1999 ISO 7064 MOD 11-2 check character.
    """
    if not isinstance(value, str) or len(value) != 18:
        return "length"
    body, check = value[:17], value[17].upper()
    if not body.isdigit() or not (check.isdigit() or check == "X"):
        return "characters"
    if body[0] == "0":
        return "region"
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return "birth_date"
    if born.year < 1900 or born > (today or today_in_china()):
        return "birth_date"
    expected = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    if check != expected:
        return "check_digit"
    return None


def resident_id_check_char(first17: str) -> str:
    """The check character completing a 17-digit ID body (for sample data)."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def credit_code_problem(value: str) -> str | None:
    """Why ``value`` is not a valid unified social credit code, or None.

    Checks the GB 32100-2015 alphabet (no I, O, S, V, Z), the registration
    authority character and the MOD 31 check character.
    """
    if not isinstance(value, str) or len(value) != 18:
        return "length"
    value = value.upper()
    if any(c not in _USCC_CHARS for c in value):
        return "characters"
    if value[0] not in _USCC_AUTHORITIES:
        return "authority"
    if not value[2:8].isdigit():
        return "region"
    if value[17] != credit_code_check_char(value[:17]):
        return "check_digit"
    return None


def credit_code_check_char(first17: str) -> str:
    """The check character completing a 17-character credit code body."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17.upper(), _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def phone_problem(value: str) -> str | None:
    """Why ``value`` is not a mainland mobile number, or None."""
    if not isinstance(value, str) or not _PHONE.match(value):
        return "format"
    return None


# --------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------

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
