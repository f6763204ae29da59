"""The city-wide linkage identity of a patient, from normalised identifiers.

A national/resident id wins when present; otherwise family name + first given name + birth date + sex.
Names are normalised so that "SMITH, JOHN", "John Smith", "smith^john" and "Jóhn  Smith-" agree.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from deid.dates import parse_any_date
from deid.keys import Keyring

_NON_ALNUM = re.compile(r"[^0-9A-Z]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CJK_KEEP = re.compile(r"[^\u3400-\u9fff\uf900-\ufaff]+")
_TITLES = {"MR", "MRS", "MS", "MISS", "DR", "PROF", "JR", "SR", "II", "III", "IV", "MD", "PHD"}


def normalise_name_part(text: str) -> str:
    """Upper case, accents stripped, punctuation and spaces removed ("O'Brien-Smith" -> "OBRIENSMITH")."""
    if _CJK.search(text):
        return _CJK_KEEP.sub("", text)
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).upper()
    return _NON_ALNUM.sub("", folded)


def split_written_name(text: str) -> tuple[str, str]:
    """(family, first given) of a name written as one string: "SMITH, JOHN", "John Smith", "张三"."""
    text = text.strip()
    if not text:
        return "", ""
    if _CJK.search(text):
        return normalise_name_part(text), ""
    if "^" in text:
        family, _, rest = text.partition("^")
        return family, rest.split("^", 1)[0]
    if "," in text:
        family, _, rest = text.partition(",")
        tokens = [t for t in re.split(r"[\s.]+", rest) if t and normalise_name_part(t) not in _TITLES]
        return family, tokens[0] if tokens else ""
    tokens = [t for t in re.split(r"[\s]+", text) if t and normalise_name_part(t) not in _TITLES]
    if len(tokens) == 1:
        return tokens[0], ""
    return tokens[-1], tokens[0]


def normalise_sex(value: str) -> str:
    v = value.strip().upper()
    if v in {"M", "MALE", "男", "1"}:
        return "M"
    if v in {"F", "FEMALE", "女", "2"}:
        return "F"
    if v in {"O", "OTHER", "A", "N"}:
        return "O"
    return "U"


def normalise_national_id(value: str) -> str:
    return _NON_ALNUM.sub("", value.upper())


@dataclass(frozen=True)
class PatientIdentity:
    """What a record says about who its patient is (raw values; never logged)."""

    national_id: str = ""
    family: str = ""
    given: str = ""
    birth_date: str = ""
    sex: str = ""

    def linkage_key(self) -> str | None:
        """The normalised linkage key, or None when the record does not identify its patient well enough."""
        nid = normalise_national_id(self.national_id)
        if len(nid) >= 6:
            return "nid:" + nid
        if _CJK.search(self.family + self.given):
            name = normalise_name_part(self.family + self.given)
        else:
            family = normalise_name_part(self.family)
            given = normalise_name_part(self.given.split()[0]) if self.given.split() else ""
            name = f"{family}|{given}" if family and given else ""
        birth = parse_any_date(self.birth_date)
        if not name or birth is None:
            return None
        return f"demo:{name}|{birth.strftime('%Y%m%d')}|{normalise_sex(self.sex)}"

    def pseudonym(self, keyring: Keyring) -> str | None:
        key = self.linkage_key()
        return keyring.pseudonym("patient", key) if key else None
