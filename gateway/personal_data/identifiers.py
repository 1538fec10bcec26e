"""Chinese identifiers: checking them (GB 11643, GB 32100).

A wrong digit in an ID number is the most common mistake at a window, and
the agency's answer to it is slow and vague; checking the check character at
intake turns it into an immediate, precise message. Masking keeps the same
numbers out of every log line (:mod:`gateway.personal_data.masking`).
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
# ASCII only, the whole value: str.isdigit() and re's \d also take "３" and "²", and $ a trailing newline.
RESIDENT_ID_PATTERN = r"^[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]$"
CREDIT_CODE_PATTERN = r"^[1-9ANYany][0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy][0-9]{6}[0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy]{10}$"
PHONE_PATTERN = r"^1[3-9][0-9]{9}$"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9Xx]")
_USCC_SHAPE = re.compile(r"[0-9A-Za-z]{18}")
_PHONE = re.compile(PHONE_PATTERN)


def resident_id_problem(value: str, *, today: date | None = None) -> str | None:
    """Why ``value`` is not a valid 18-digit resident ID number, or None.

    Checks the shape, the birth date (a real date, not in the future, not
    before 1900) and the GB 11643-1999 ISO 7064 MOD 11-2 check character.
    """
    if not isinstance(value, str) or len(value) != 18:
        return "length"
    body, check = value[:17], value[17].upper()
    if not _ID_SHAPE.fullmatch(value):
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
    if not _USCC_SHAPE.fullmatch(value):  # before upper(): "ß".upper() is "SS", one character become two
        return "characters"
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
    if not isinstance(value, str) or not _PHONE.fullmatch(value):
        return "format"
    return None
