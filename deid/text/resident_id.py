"""Chinese resident identity numbers (GB 11643-1999): 18 characters with an ISO 7064 MOD 11-2 check
character, and the legacy 15-digit form (two-digit year, no check character)."""

from __future__ import annotations

import datetime as dt

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_character(first17: str) -> str:
    """The 18th character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("resident id body must be 17 digits")
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def _valid_birth(yyyymmdd: str) -> bool:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return dt.date(1880, 1, 1) <= born <= dt.date.today()


def is_valid_resident_id(value: str) -> bool:
    v = value.strip().upper()
    if len(v) == 18 and v[:17].isdigit() and (v[17].isdigit() or v[17] == "X"):
        return _valid_birth(v[6:14]) and check_character(v[:17]) == v[17]
    if len(v) == 15 and v.isdigit():
        return _valid_birth("19" + v[6:12])
    return False
