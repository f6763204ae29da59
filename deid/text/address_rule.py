"""US street addresses, state + ZIP, and the town between them, from USPS Publication 28 tables.

The street-type words (all 548 spellings of the 200+ USPS suffixes: "Stravenue", "Trafficway", "Mews",
"Spurs"), the secondary unit designators ("Apt", "Bsmt", "Hngr", "Trlr", "Ph", "#") and the state and
territory abbreviations come from the maintained `usaddress-scourgify` package (USPS Pub 28 constants),
not from a hand list. Matching ignores case: the same addresses are found in ALL-CAPS and lower-case notes.

- "8587 Crosby Path, Penthouse", "57 Olsen Parkways Apt 280B", "12 Hunt Ramp Stop 137", "PO Box 77";
- "NE 01981", "md 21201-1234": a state or territory code and a ZIP code together;
- "Lake Albertfort, PW 09790", "..., Port Danielville, VI": the town before a state + ZIP, or between a street
  address and a state code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from deid.text.allowlist import CLINICAL_WORDS
from deid.text.lexicon import common_words
from deid.text.rule import Hit

# a unit designator that takes no number ("Basement", "Rear", "Lobby")
_BARE_UNITS = frozenset("basement bsmt front frnt lobby lbby lower lowr office ofc penthouse ph rear side upper uppr".split())
# words that cannot be the street name words between the house number and the street type
_NOT_STREET_NAME = frozenset(
    "in for to at of on and the not with per x given way wo w or was is by from than units unit beat beats "
    "times doses episodes liters mg mcg ml cc hours hrs days weeks mins minutes am pm".split()
)

_CLASSIC_TYPES = frozenset(
    "street st avenue ave road rd drive dr lane ln court ct boulevard blvd place pl terrace ter circle cir highway hwy "
    "parkway pkwy square sq trail trl pike way".split()
)
_ADDRESS_CUE = re.compile(r"(?:lives|lived|living|resides|resided|address|addr|home|located|moved|mail|at|@)[:\s]*$", re.IGNORECASE)
_TOWN_STOP = frozenset("lives lived living resides moved admitted transferred discharged home address city near".split())


@lru_cache(maxsize=1)
def usps_tables() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(street types, unit designators, state codes), lower case, from USPS Pub 28 via usaddress-scourgify."""
    import us
    from scourgify import address_constants as usps

    types = {k.lower() for k in usps.STREET_TYPE_ABBREVIATIONS} | {v.lower() for v in usps.STREET_TYPE_ABBREVIATIONS.values()}
    units = {k.lower() for k in usps.OCCUPANCY_TYPE_ABBREVIATIONS} | {v.lower() for v in usps.OCCUPANCY_TYPE_ABBREVIATIONS.values()}
    units.add("hangar")  # Pub 28 C2 spells it HANGAR; the package's table has the typo HANGER
    states = {v.lower() for v in usps.STATE_ABBREVIATIONS.values() if len(v) == 2}
    states |= {s.abbr.lower() for s in us.states.STATES_AND_TERRITORIES}  # + AS, GU, MP, PR, VI from `us`
    states |= {"fm", "mh", "pw", "aa", "ae", "ap"}  # Pub 28 appendix B: freely associated states, military
    return frozenset(types), frozenset(units), frozenset(states)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


class AddressRule:
    name = "us-addresses"

    def __init__(self) -> None:
        types, units, states = usps_tables()
        self.types = types
        unit_rx = _alternation(u for u in units if u != "#")
        self.units = units
        # a house number and up to five words; the street type is found among the words by set lookup (a regex
        # alternation of 548 spellings at every digit would cost more than all other rules together)
        self.street = re.compile(
            r"(?<![\w/.])(?P<num>\d{1,6}(?:-\d{1,4})?[A-Za-z]?)[ \t]+(?P<words>[A-Za-z][A-Za-z'.\-]*(?:[ \t]+[A-Za-z][A-Za-z'.\-]*){1,4})"
        )
        self.unit_after = re.compile(
            r"(?P<unit>,?[ \t]*(?:(?:" + unit_rx + r")\.?[ \t]*#?[ \t]*[A-Za-z]?\d[\w\-]*|#[ \t]*[A-Za-z]?\d[\w\-]*"
            r"|(?:" + _alternation(_BARE_UNITS) + r")(?![\w])))",
            re.IGNORECASE,
        )
        state_rx = _alternation(states)
        self.state_zip = re.compile(r"(?<![\w])(?:" + state_rx + r")\.?,?\s+\d{5}(?:-\d{4})?(?!\d)", re.IGNORECASE)
        # the town: one to three words right before ", ST 12345" or ", ST" after a street address
        self.town = re.compile(
            r"(?P<town>[A-Za-z][A-Za-z'.\-]*(?:\s+[A-Za-z][A-Za-z'.\-]*){0,2}),\s*(?:" + state_rx + r")\.?(?:,?\s+\d{5}(?:-\d{4})?)?(?![\w])",
            re.IGNORECASE,
        )
        self.common = common_words(12_000)
        self.po_box = re.compile(r"\b(?:p\.?\s?o\.?\s*box|post\s+office\s+box)\s*#?\s*\d{1,6}\b", re.IGNORECASE)

    def _street_ok(self, text: str, start: int, name: list[str], typ: str, end: int, unit: bool) -> bool:
        """A street needs street-like name words; a type that is also an everyday or clinical word ("via",
        "radial", "ports", "rest") needs more: a unit, an address cue before, or a town and state after."""
        words = [w.lower().strip(".") for w in name]
        if any(w in _NOT_STREET_NAME or w in CLINICAL_WORDS for w in words):
            return False
        if any(w.endswith(".") and len(w) > 2 for w in name):  # "2 hour period. dr": a sentence ends inside
            return False
        if unit:
            return True
        cue = _ADDRESS_CUE.search(text, max(0, start - 24), start) is not None
        town_after = self.town.match(text, end + 2) is not None if text[end : end + 1] == "," else False
        if cue or town_after:
            return True
        if typ in _CLASSIC_TYPES:
            return typ not in ("st", "dr", "ct", "ln", "rd") or all(w[0].isupper() and not w.isupper() for w in name)
        return False

    def _streets(self, text: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        pos = 0
        while (m := self.street.search(text, pos)) is not None:
            pos = m.end("num")
            words = list(re.finditer(r"[A-Za-z][A-Za-z'.\-]*", m.group("words")))
            for k in range(1, len(words)):
                typ = words[k].group().lower().rstrip(".")
                if typ not in self.types:
                    continue
                end = m.start("words") + words[k].end()
                end_type = end - (1 if text[end - 1] == "." else 0)
                u = self.unit_after.match(text, end_type + (1 if text[end_type : end_type + 1] == "." else 0))
                unit = u is not None and u.group("unit").strip(" ,") != ""
                name = [w.group() for w in words[:k]]
                if self._street_ok(text, m.start(), name, typ, end_type, unit):
                    stop = u.end() if unit and u is not None else end_type
                    out.append((m.start(), stop))
                    pos = stop
                break
        return out

    def find(self, text: str) -> Iterable[Hit]:
        hits: list[Hit] = []
        street_ends: list[int] = []
        for start, end in self._streets(text):
            hits.append(Hit(start, end, "ADDRESS", 0.9))
            street_ends.append(end)
        for m in self.state_zip.finditer(text):
            hits.append(Hit(m.start(), m.end(), "ADDRESS", 0.85))
        for m in self.po_box.finditer(text):
            hits.append(Hit(m.start(), m.end(), "ADDRESS", 0.85))
        for m in self.town.finditer(text):
            after_street = any(0 <= m.start() - e <= 2 for e in street_ends)
            with_zip = bool(re.search(r"\d{5}", m.group()))
            if not (after_street or with_zip):
                continue
            start = self._town_start(text, m, after_street)
            if start is not None:
                hits.append(Hit(start, m.end("town"), "LOCATION", 0.8))
        return hits

    def _town_start(self, text: str, m: re.Match[str], after_street: bool) -> int | None:
        """Drop leading words that cannot start a town name ("lives in", "at"); None when nothing is left."""
        words = list(re.finditer(r"[A-Za-z][A-Za-z'.\-]*", m.group("town")))
        start = None
        for w in reversed(words):  # the town is the run of words right before the comma
            low = w.group().lower().strip(".")
            if low in _NOT_STREET_NAME or low in CLINICAL_WORDS or low in _TOWN_STOP:
                break
            start = m.start("town") + w.start()
        return start
