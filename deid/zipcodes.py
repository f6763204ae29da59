"""ZIP code generalisation under HIPAA Safe Harbor (45 CFR 164.514(b)(2)(i)(B)).

The initial three digits may be kept unless the geographic unit formed by all ZIP codes with those three
digits has 20,000 or fewer people; those prefixes become "000". The list below is the one HHS derived
from the 2000 Census (HHS de-identification guidance, section 2.4).
"""

from __future__ import annotations

import re

HIPAA_SPARSE_ZIP3: frozenset[str] = frozenset(
    {"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884", "890", "893"}
)

_DIGITS = re.compile(r"\d")


def generalise_zip(value: str, *, digits: int = 3, sparse: frozenset[str] = HIPAA_SPARSE_ZIP3) -> str:
    """First `digits` digits of a postal code ("98101-1234" -> "981"); sparse prefixes -> zeros."""
    found = "".join(_DIGITS.findall(value))
    if len(found) < digits:
        return "0" * digits
    prefix = found[:digits]
    return "0" * digits if prefix in sparse else prefix
