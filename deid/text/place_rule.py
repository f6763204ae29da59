"""Places in English notes: facility names before a facility word, places after movement verbs,
hospital abbreviations, and a general list of US states and large cities.

- "CALVERT HOSPITAL", "Sacred Heart Memorial", "Harbor Hosp", "KEELEY HOUSE": the words before the facility
  word (the facility word itself is kept: it carries no identity);
- "transferred to GH", "went to Harbor", "lives in Lansdowne", "followed at gh": the place after the verb,
  unless it is a ward or clinical word ("to CCU", "to the floor", "from home");
- states and large cities by name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from collections.abc import Iterable

from deid.text.allowlist import ALLOWED_TERMS, CLINICAL_WORDS
from deid.text.casing import is_mixed_case
from deid.text.drug_vocabulary import drug_words
from deid.text.gazetteer import city_gazetteer
from deid.text.lexicon import common_words, name_lexicon
from deid.text.rule import Hit

_TOKEN = re.compile(r"[A-Za-z](?:[A-Za-z'\-]*[A-Za-z])?|\d+")

FACILITY_WORDS = frozenset(
    """
    hospital hospitals hosp hospiatal medical memorial house rehab rehabilitation manor clinic infirmary hospice
    vamc va healthcare center centre nursing institute sanitarium home's health regional campus urgent
    """.split()
)
_STRONG_FACILITY = frozenset("hospital hospitals hosp hospiatal memorial vamc va infirmary".split())
MOVE_VERBS = frozenset(
    """
    transferred transfered transfer trans tx'd txd sent admitted adm brought went presented discharged d/c'd
    dc'd arrived moved lives living lived resides residing followed works worked born travelled traveled
    flown flew transported
    """.split()
)
PREPOSITIONS = frozenset("to from at in into by @".split())
_PLACE_PREPOSITIONS = frozenset("to from at on in into".split())
# words after "to/from/at" that are wards, services or everyday places, never a named place
WARD_WORDS = frozenset(
    """pmicu psicu fmicu f-micu cmicu""".split()
) | frozenset(
    """
    ed er ew icu ccu micu sicu csru nicu picu ctic cvicu tsicu pacu or ir cath lab ct mri floor unit home rehab
    nursing bed room bedside osh hospital hosp snf ltc acute vna dialysis hd ep clinic office work school
    church bathroom chair commode stretcher step-down stepdown telemetry tele radiology xray x-ray us echo
    ep lab surgery service team medicine morgue house ward er's emergency outside another other local
    """.split()
)
_CLINICAL_H_ABBREVIATIONS = frozenset(
    "ich sah bph lvh rvh pph nph tsh adh acth fsh lh ph mph cph hch psh fh sh oh uh ah eh"
    .split()
)

STATES = frozenset(
    """
    alabama alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii idaho
    illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota
    mississippi missouri montana nebraska nevada ohio oklahoma oregon pennsylvania tennessee texas utah
    vermont virginia wisconsin wyoming
    """.split()
)
CITIES = frozenset(
    """
    baltimore boston chicago houston phoenix philadelphia dallas austin jacksonville columbus charlotte
    indianapolis seattle denver nashville detroit memphis louisville milwaukee albuquerque tucson fresno
    sacramento atlanta omaha raleigh miami oakland minneapolis tulsa cleveland wichita tampa pittsburgh
    cincinnati annapolis towson rockville bethesda frederick hagerstown richmond norfolk newark trenton
    hartford providence worcester springfield albany buffalo rochester syracuse scranton harrisburg
    allentown wilmington dover pittsburg orlando savannah birmingham montgomery knoxville lexington
    brooklyn manhattan queens bronx yonkers cambridge somerville quincy lowell brockton framingham
    london paris rome madrid berlin vienna athens dublin lisbon moscow warsaw prague budapest kiev kyiv
    istanbul cairo lagos nairobi beijing shanghai tokyo seoul delhi mumbai manila bangkok jakarta sydney
    toronto montreal vancouver mexico havana bogota santiago caracas jerusalem tehran baghdad
    naples milan florence venice palermo sicily krakow belfast glasgow edinburgh
    """.split()
)
# common hospital names (not tied to one city) and "Saint <Name>"
HOSPITAL_NAMES = (
    "holy cross",
    "sacred heart",
    "good samaritan",
    "mercy",
    "providence",
    "johns hopkins",
    "hopkins",
    "mass general",
    "beth israel",
    "mount sinai",
    "mt sinai",
    "mt. sinai",
    "sinai",
    "union memorial",
    "st joseph",
    "deaconess",
    "lahey",
    "presbyterian",
    "kaiser",
    "mayo",
    "cleveland clinic",
    "brigham",
    "shriners",
)
_HOSPITAL_NAME = re.compile(r"\b(?:" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in HOSPITAL_NAMES) + r")\b", re.I)
_SAINT = re.compile(r"\b(?:St|ST|Saint|SAINT|st)\.?\s+(?!(?:elevation|segment|depression|changes)\b)([A-Z][A-Za-z']+|[a-z]{3,}(?=\s+(?:hosp|hospital|medical|rehab)))")
# "Middle River, MD": a place then a state abbreviation (MD is Maryland here, not a doctor: a comma comes first)
_CITY_STATE = re.compile(
    r"\b((?:[A-Z][a-z]+|[A-Z]{3,})(?:\s+(?:[A-Z][a-z]+|[A-Z]{3,}))?),\s*(?:AK|AZ|CA|FL|IL|IA|KS|KY|MD|MN|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|RI|SD|TN|TX|UT|VT|VA|WV|WI|WY|DC)\b"
)
_PLACE_CUE = re.compile(r"(?:\b(?:to|at|from|by|into|leave|left|in|per)|->|@)\s*(?:the\s+)?$", re.I)
# hospital names that are everyday words: a place only right after a place cue ("went to Harbor")
_CUED_HOSPITAL_WORDS = frozenset("harbor union mercy providence sinai shore bay".split())
# an unknown word and a floor or unit number: "QUARTERMAIN 2", "Quartermain 3 RN"
_BUILDING = re.compile(r"\b([A-Za-z]{5,}) ([1-9])\b(?![./:%]?\d)")
# English derivational endings: such words are not place names ("transfused 2", "overbreathing 4")
_NOT_A_PLACE = re.compile(r"(?:ed|ing|ly|tion|sion|ment|ness|ous|ive|ize|ise|ic|al|ism|ist|ity|able|ible)$")
# "U OF MD", "U Maryland", "UNIV. OF PENNSYLVANIA"
_UNIVERSITY = re.compile(
    r"\b(?:U|UNIV\.?|Univ\.?)\s+(?:OF|of)\s+(?:MD|[A-Z][a-z]{3,}|[A-Z]{4,})\b"
    r"|\bU\s+[A-Z][a-z]{4,}(?=\s+(?:ER|ED|Hospital|Medical|Med|Center)\b)"
)
_NAME_FACILITY_WORDS = frozenset("memorial regional university".split())
_TOWN_PREPOSITIONS = frozenset("in from of to near at".split())
_TOWN_SUFFIX = re.compile(
    r"(?:town|ville|burg|burgh|port|ford|field|wood|dale|mont|shire|haven|chester|minster|bury|borough|boro|"
    r"ton|view|crest|brook|mill|mills|ridge|springs|heights|beach|harbor|bay|falls|lake)$"
)
_STATE_ABBREVIATIONS = frozenset("md ny nj dc ri nh vt".split())  # unambiguous in notes ("PA", "CT", "ME" are not)
CITY_PHRASES = (
    "new york",
    "los angeles",
    "san diego",
    "san francisco",
    "san jose",
    "san antonio",
    "las vegas",
    "new orleans",
    "salt lake city",
    "kansas city",
    "st louis",
    "st. louis",
    "washington dc",
    "washington d.c.",
    "new jersey",
    "new hampshire",
    "new mexico",
    "north carolina",
    "south carolina",
    "north dakota",
    "south dakota",
    "west virginia",
    "rhode island",
    "eastern shore",
    "ocean city",
    "ellicott city",
    "glen burnie",
    "silver spring",
    "college park",
    "new haven",
    "new london",
    "new brunswick",
)
_CITY_PHRASE = re.compile(r"\b(?:" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in CITY_PHRASES) + r")\b", re.I)
# generic words inside facility names: skipped while looking for the naming words ("Frank Family Health Center")
FACILITY_MODIFIERS = frozenset(
    "family community urgent care health general county regional memorial rehabilitation nursing medical surgical "
    "psychiatric behavioral specialty ambulatory children's women's veterans".split()
)
# words that start town names ("Port Linda", "East Paulborough", "Lake Donna", "New Shirley")
PLACE_PREFIXES = frozenset("north south east west new lake port fort mount mt saint st san santa los las el la glen".split())
# "lives in", "previously lived in", "moved to", "is from": the place follows
_LIVE_CUES = frozenset("lives live lived living resides reside resided residing moved relocated native born grew".split())
# census names that are also ordinary words before facility words ("cardiac rehab center", "the cancer center")
_NOT_HEADS = frozenset("cancer heart eye dental cardiac state city general private public main new old".split())
_NAMED_FACILITIES = frozenset("clinic hospital hosp memorial infirmary hospice nursing rehabilitation urgent".split())
_FUNCTION_WORDS = frozenset("and or but the a an with for on at by is was were has had her his their".split())
_HOSPITAL_ABBREVIATION = re.compile(r"\b[A-Za-z]{0,3}(?:[Hh]|MC|HC|mc|hc)\b")


@lru_cache(maxsize=16)
def _mixed(text: str) -> bool:
    return is_mixed_case(text)


class PlaceRule:
    name = "places"

    def __init__(self) -> None:
        self.common = common_words(12_000)
        self.common25 = common_words(25_000)
        self.first_names = name_lexicon().first
        self.census = name_lexicon().census
        self.very_common = common_words(1500)
        self.top_last = name_lexicon().top_last
        self.drugs = drug_words()
        self.gazetteer = city_gazetteer()

    def _plain(self, low: str) -> bool:
        return low in CLINICAL_WORDS or low in ALLOWED_TERMS or low in WARD_WORDS or low in self.drugs

    def find(self, text: str) -> Iterable[Hit]:
        toks = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]
        hits: list[Hit] = []
        for i in range(len(toks)):
            hits += self._facility_head(text, toks, i)
            hits += self._after_move_verb(text, toks, i)
            hits += self._after_live_cue(text, toks, i)
            hits += self._token_places(text, toks, i)
        hits += self._regex_places(text)
        return hits

    @staticmethod
    def _same_line(text: str, toks: list[tuple[int, int, str]], i: int, j: int) -> bool:
        a, b = sorted((i, j))
        return "\n" not in text[toks[a][1] : toks[b][0]] and toks[b][0] - toks[a][1] <= 3

    def _head_word_ok(self, w: str, facility: str, nxt: str, titled: bool = False) -> bool:
        """May `w` be part of the name before the facility word? Common words only before a strong facility
        word, or when they are census names or town prefixes ("Gray Clinic", "Port Linda Urgent Care")."""
        if titled and w in self.census and w not in _NOT_HEADS and w not in WARD_WORDS:
            return True  # "Foley Clinic", "Day Clinic": a capitalised name before a facility word
        if w.isdigit() or self._plain(w) or "'" in w:
            return len(w) == 1 and nxt == "of"  # "U OF MD"
        if w in PLACE_PREFIXES or (w in self.census and w not in _NOT_HEADS and (titled or w not in self.very_common)):
            return True
        if facility in _NAMED_FACILITIES and w in self.top_last and w not in _NOT_HEADS:
            return True  # "SMITH CLINIC", "young nursing home": a frequent surname before a clinic word
        if w in self.common and facility not in _STRONG_FACILITY:
            return False
        return not (_NOT_A_PLACE.search(w) and facility not in _STRONG_FACILITY)

    def _facility_head(self, text: str, toks: list[tuple[int, int, str]], i: int) -> list[Hit]:
        """"CALVERT HOSPITAL", "Sacred Heart Memorial", "Frank Family Health Center": the naming words."""
        low = toks[i][2]
        if low not in FACILITY_WORDS or i == 0:
            return []
        j, first, skipping = i - 1, None, True
        mixed = _mixed(text)
        while j >= 0 and self._same_line(text, toks, j, j + 1) and i - j <= 5:
            w = toks[j][2]
            if w in MOVE_VERBS or w in PREPOSITIONS or w in ("the", "a", "an", "his", "her", "their"):
                break
            if first is None and skipping and (w in FACILITY_MODIFIERS or w in FACILITY_WORDS):
                j -= 1
                continue  # "MEDICAL CENTER", "Family Health Center": generic words before the naming words
            skipping = False
            if w == "of" or (w in _STATE_ABBREVIATIONS and j > 0 and toks[j - 1][2] == "of"):
                if first is None and w == "of":
                    break
                first = j
                j -= 1
                continue
            titled = mixed and text[toks[j][0]].isupper() and not text[toks[j][0] : toks[j][1]].isupper()
            if not self._head_word_ok(w, low, toks[j + 1][2] if j + 1 < len(toks) else "", titled):
                break
            first = j
            j -= 1
        if first is None:
            return []
        last = first
        while last + 1 < i and toks[last + 1][2] not in FACILITY_MODIFIERS and toks[last + 1][2] not in FACILITY_WORDS:
            last += 1
        return [Hit(toks[first][0], toks[last][1], "LOCATION", 0.75)]

    def _after_move_verb(self, text: str, toks: list[tuple[int, int, str]], i: int) -> list[Hit]:
        """"transferred to GH", "went to Harbor": the place after a movement verb and a preposition."""
        n, low = len(toks), toks[i][2]
        if not (low in PREPOSITIONS and i > 0 and i + 1 < n and toks[i - 1][2] in MOVE_VERBS):
            return []
        j = i + 1
        if toks[j][2] == "the" and j + 1 < n:
            j += 1
        w = toks[j][2]
        if w.isdigit() or self._plain(w) or w in self.common or not self._same_line(text, toks, i, j) or _NOT_A_PLACE.search(w):
            return []
        k = j
        while k + 1 < n and self._same_line(text, toks, k, k + 1) and not toks[k + 1][2].isdigit():
            w2 = toks[k + 1][2]
            if self._plain(w2) or w2 in self.common or w2 in FACILITY_WORDS:
                break
            k += 1
        return [Hit(toks[j][0], toks[k][1], "LOCATION", 0.7)]

    def _after_live_cue(self, text: str, toks: list[tuple[int, int, str]], i: int) -> list[Hit]:
        """"previously lived in East Amanda", "lives in Petersonview", "moved to Lake Donna": after a living
        cue, name-shaped words that are not known to be safe are the place."""
        n = len(toks)
        if toks[i][2] not in _LIVE_CUES or i + 2 >= n:
            return []
        j = i + 1
        if toks[j][2] in ("up", "out", "back", "here", "alone") and j + 1 < n:
            j += 1
        if toks[j][2] not in ("in", "to", "near", "from", "at", "of", "outside") or not self._same_line(text, toks, i, j):
            return []
        k, last, named = j + 1, None, False
        while k < n and k - j <= 3 and self._same_line(text, toks, k - 1, k):
            w = toks[k][2]
            if w in PLACE_PREFIXES:
                last = k
            elif not self._plain(w) and not w.isdigit() and (w not in self.common25 or w in self.census or w in self.gazetteer):
                if w in _FUNCTION_WORDS:
                    break
                last, named = k, True
            else:
                break
            k += 1
        if last is None or not named:
            return []
        return [Hit(toks[j + 1][0], toks[last][1], "LOCATION", 0.7)]

    def _token_places(self, text: str, toks: list[tuple[int, int, str]], i: int) -> list[Hit]:
        """Single-token places: a ward building with a number, facility-only words, towns, states, cities."""
        n, (s, e, low) = len(toks), toks[i]
        hits: list[Hit] = []

        def same_line(a: int, b: int) -> bool:
            return self._same_line(text, toks, a, b)

        # "on QUARTERMAIN 6", "to Quartermain 2": an unknown word after a place preposition, with a number
        if low in _PLACE_PREPOSITIONS and i + 2 < n and same_line(i, i + 1) and self._ward_with_number(text, toks, i):
            hits.append(Hit(toks[i + 1][0], toks[i + 1][1], "LOCATION", 0.65))
        # words that only ever name a facility: "MEMORIAL", "Laurel REGIONAL", "UNIVERSITY of Maryland"
        if low in _NAME_FACILITY_WORDS:
            end_tok = i
            if low == "university" and i + 2 < n and toks[i + 1][2] == "of" and same_line(i, i + 1) and same_line(i + 1, i + 2):
                end_tok = i + 2
            hits.append(Hit(s, toks[end_tok][1], "LOCATION", 0.65))
        # town-like words after a place preposition: "in Pikesville", "of Reisterstown", "in rockport"
        if (
            low in _TOWN_PREPOSITIONS
            and i + 1 < n
            and same_line(i, i + 1)
            and _TOWN_SUFFIX.search(toks[i + 1][2])
            and not self._plain(toks[i + 1][2])
            and toks[i + 1][2] not in self.common
        ):
            hits.append(Hit(toks[i + 1][0], toks[i + 1][1], "LOCATION", 0.65))
        # "lives in DC", "from MD": a state abbreviation in capitals after a place preposition
        if low in _TOWN_PREPOSITIONS and i + 1 < n and toks[i + 1][2] in _STATE_ABBREVIATIONS and low != "of":
            word = text[toks[i + 1][0] : toks[i + 1][1]]
            if word.isupper() and not text[toks[i][0] : toks[i][1]].isupper():
                hits.append(Hit(toks[i + 1][0], toks[i + 1][1], "LOCATION", 0.6))
        # mixed-case prose: a capitalised unknown word after "in/from/near" ("lives in Lochearn")
        if low in ("in", "from", "near") and i + 1 < n and same_line(i, i + 1) and self._capitalised_unknown(text, toks[i + 1]):
            hits.append(Hit(toks[i + 1][0], toks[i + 1][1], "LOCATION", 0.55))
        if low in _CUED_HOSPITAL_WORDS and _PLACE_CUE.search(text, max(0, s - 16), s):
            hits.append(Hit(s, e, "LOCATION", 0.6))
        if low in STATES or low in CITIES:
            hits.append(Hit(s, e, "LOCATION", 0.7))
        if low in self.gazetteer and not self._plain(low) and low not in self.common25 and low not in self.census:
            hits.append(Hit(s, e, "LOCATION", 0.6))
        return hits

    def _ward_with_number(self, text: str, toks: list[tuple[int, int, str]], i: int) -> bool:
        """Token ``i + 1`` is an unknown word followed, after one space and on the same line, by a bare number."""
        w, nxt = toks[i + 1][2], toks[i + 2][2]
        after = text[toks[i + 2][1] : toks[i + 2][1] + 1]
        return bool(
            nxt.isdigit()
            and text[toks[i + 1][1]] == " "
            and after not in (":", "/", ".", "%")
            and self._same_line(text, toks, i + 1, i + 2)
            and not self._plain(w)
            and w not in self.common
            and not w.isdigit()
            and not _NOT_A_PLACE.search(w)
        )

    def _capitalised_unknown(self, text: str, tok: tuple[int, int, str]) -> bool:
        """``tok`` is a capitalised word (``Lochearn``) that is not common or plain, in mixed-case text."""
        s2, e2, w = tok
        word = text[s2:e2]
        return bool(
            word[0].isupper()
            and word[1:].islower()
            and w not in self.common25
            and not self._plain(w)
            and not _NOT_A_PLACE.search(w)
            and is_mixed_case(text)
        )

    def _regex_places(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        for rx in (_CITY_PHRASE, _HOSPITAL_NAME):
            for m in rx.finditer(text):
                hits.append(Hit(m.start(), m.end(), "LOCATION", 0.7))
        for m in _UNIVERSITY.finditer(text):
            hits.append(Hit(m.start(), m.end(), "LOCATION", 0.7))
        for m in _BUILDING.finditer(text):
            w = m.group(1).lower()
            if not self._plain(w) and w not in self.common25 and not _NOT_A_PLACE.search(w):
                hits.append(Hit(m.start(1), m.end(1), "LOCATION", 0.55))
        for m in _SAINT.finditer(text):
            saint = m.group(1).lower()
            if saint in self.first_names or m.group(0)[:5].lower() == "saint" or "." in m.group(0)[:3]:
                if not self._plain(saint):
                    hits.append(Hit(m.start(), m.end(), "LOCATION", 0.7))
        for m in _CITY_STATE.finditer(text):
            words = m.group(1).lower().split()
            if not any(self._plain(w) for w in words):
                hits.append(Hit(m.start(1), m.end(1), "LOCATION", 0.7))
        for m in _HOSPITAL_ABBREVIATION.finditer(text):
            # "to GH", "at the BWH", "from JHH": an abbreviation ending in H/MC/HC after a place preposition
            word = m.group().lower()
            if word in CLINICAL_WORDS or word in self.common or word in WARD_WORDS or word in _CLINICAL_H_ABBREVIATIONS:
                continue
            if _PLACE_CUE.search(text, max(0, m.start() - 16), m.start()):
                hits.append(Hit(m.start(), m.end(), "LOCATION", 0.6))
        return hits
