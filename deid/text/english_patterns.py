"""Pattern rules for English clinical notes: dates, times with dates, phones, record numbers, SSNs,
e-mail, URLs, IP addresses, street addresses and ages of 90 or more.

Written for nursing-note style: "3/14", "8/21/02", "March 3rd", "may 16, 2015", "'92", pager "#12345".
Numeric patterns are bounded (month 1-12, day 1-31, no digits, slashes or dots around) so lab values
("7.45/33/80"), blood pressures ("120/80") and doses do not match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from deid.text.regex_rule import Pattern, RegexRule

I = re.IGNORECASE

MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_M = r"(?:0?[1-9]|1[0-2])"
_D = r"(?:0?[1-9]|[12]\d|3[01])"
_Y = r"(?:19\d\d|20\d\d|\d\d)"
_TIME = r"(?:[ ,T@]+(?:at\s+)?(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?[ap]\.?m\.?)?)?"
_ORD = r"(?:st|nd|rd|th)?"
_NB = r"(?<![\d/])(?<!\d\.)"  # not glued to a digit, slash or dot on the left ("fx4/97" and "LA-10/3" are dates)
_NA = r"(?![\w/%]|\.\d)"  # ... nor on the right (ranges "6/30-7/2" are two dates)

def _not_a_fraction(value: str) -> bool:
    """"5/5" (strength, vent settings) and "1/2", "3/4" (fractions) are not dates."""
    a, b = value.split("/")
    if value in ("1/2", "1/3", "2/3", "1/4", "3/4", "1/8", "1/5"):
        return False
    return a != b or int(a) >= 6


DATE_PATTERNS = [
    # 2025-03-14, 2025/3/14 (+ time)
    Pattern("DATE", re.compile(_NB + r"(?:19|20)\d\d[-/.]" + _M + r"[-/.]" + _D + _TIME + _NA), 0.95),
    # 3/14/2025, 03-14-25, 11/21.93 (+ time)
    Pattern("DATE", re.compile(_NB + _M + r"[/\-.]" + _D + r"[/\-.]" + _Y + _TIME + _NA), 0.9),
    # 3/14, 8-23 (no year): slash only, or a dash when a month-day reading is clear
    Pattern(
        "DATE",
        re.compile(_NB + _M + r"/" + _D + _NA),
        0.7,
        validate=_not_a_fraction,
        reject_before=re.compile(
            r"(?:\b(?:peep|ps|psv|cpap|bipap|ipap|epap|ventilation|settings|mask|strength|str|motor|power|grips?|pulses?|"
            r"grade|x|about|rated|scale|murmur|sounds?|ratio|ns|ivf|d5|pain|rates?)|[=+])\s*$",
            I,
        ),
        reject_after=re.compile(r"\s*(?:strength|str\b|ns\b|normal saline|power|grade|murmur|pulses?|cm\b|mmhg|ml|cc|tab)", I),
    ),
    # March 3rd, March 3, 2025, 3 March 2025, march of 2022, nov. 2016, May 16th 2015 at 10:30
    Pattern(
        "DATE",
        re.compile(
            r"\b" + MONTH + r"\.?\s+" + _D + _ORD + r"(?:,?\s+(?:19|20)\d\d)?" + _TIME + r"\b(?!\s*(?:mg|ml|cc|units?)\b)",
            I,
        ),
        0.9,
    ),
    Pattern("DATE", re.compile(r"\b" + _D + _ORD + r"\s+(?:of\s+)?" + MONTH + r"\.?(?:,?\s+(?:19|20)\d\d)?\b", I), 0.9),
    Pattern("DATE", re.compile(r"\b" + MONTH + r"\.?,?\s+(?:of\s+)?(?:19|20)\d\d\b", I), 0.9),
    # "on 3/4", "since 12/12": fractions and equal numbers are dates after a date preposition
    Pattern(
        "DATE",
        re.compile(r"(?:(?<=\bon )|(?<=\bsince )|(?<=\buntil )|(?<=\bfrom )|(?<=\bof )|(?<=\bthru )|(?<=\bdated ))" + _M + "/" + _D + _NA, I),
        0.75,
    ),
    # a month alone after "in/since/during": "in sept.", "since January"
    Pattern(
        "DATE",
        re.compile(
            r"\b(?:in|since|during|early|late|mid|until|of|by)\s+((?:jan(?:uary)?|feb(?:ruary)?|april|apr|june|july|"
            r"aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?))\b\.?",
            I,
        ),
        0.6,
        1,
    ),
    # month/year: 11/92, 8/88 (the second number cannot be a day)
    Pattern("DATE", re.compile(_NB + _M + r"/(?:3[2-9]|[4-9]\d|0\d)" + _NA), 0.8),
    # "the 11th"
    Pattern("DATE", re.compile(r"\bthe\s+(" + _D + r"(?:st|nd|rd|th))\b", I), 0.7, 1),
    # two-digit years after an event of the history: "MI 92", "CABG 81", "REDO '95"
    Pattern(
        "DATE",
        re.compile(
            r"\b(?:mi|ami|nqwmi|cabg|ptca|pci|avr|mvr|cva|tia|dvt|pe|ca|turp|tah|bso|appy|chole|redo|stent|"
            r"s/p|dx|dx'd|lumpectomy|mastectomy|nephrectomy|pacer|ppm|aicd)\s*(?:x\s?\d\s+)?'?((?:[5-9]\d|[01]\d))'?(?![\w/.%])",
            I,
        ),
        0.7,
        1,
    ),
    # years in history: '92, 92', 1992 (not a clock time or a quantity)
    Pattern("DATE", re.compile(r"(?<![\d'])'(\d\d)(?![\w'])"), 0.8, 1),
    Pattern("DATE", re.compile(r"(?<![\w'])(\d\d)'(?![\w'])"), 0.8, 1),
    Pattern(
        "DATE",
        re.compile(
            r"(?<![\w/.:\-@#~=])(?<!~ )(?<!at )(?<!@ )(?<!approx )(?<!until )(?<!by )(?<!x)(?:19[2-9]\d|20[0-3]\d)"
            r"(?![\w/:]|\.\d|\s*(?:cc|ml|mg|mcg|kcal|cal|units?|u|hrs?|h)\b|-\d)",
            I,
        ),
        0.6,
    ),
]

PHONE_PATTERNS = [
    # (201) 561-8910, 201-561-8910, 201/324/1423, 301 944-5032, 212- 476- 8356, +1 201 561 8910, (240444-1243)
    Pattern(
        "PHONE",
        re.compile(
            r"(?<![\w/])(?:(?:\+?1|001|011)[\s.\-]?)?\(?\d{3}\)?[\s.\-/]{0,2}\d{3}[\s.\-/]{0,2}\d{4}(?:\s*(?:x|ext\.?)\s*\d{1,5})?(?![\w/])"
            r"|\(\d{6}-\d{4}\)",
            I,
        ),
        0.85,
    ),
    # 555-1234, 202-6694 (a leading area code joins through the rule above or the next one)
    Pattern("PHONE", re.compile(r"(?<![\w/\-.])\d{3}-\d{4}(?![\w/]|-\d)"), 0.7),
    # (301 273 45166): a parenthesised group of numbers
    Pattern("PHONE", re.compile(r"\(\d{3}[\s\-]+\d{3}[\s\-]+\d{4,5}\)"), 0.8),
    # area code + 7 digits: 202 2671093
    Pattern("PHONE", re.compile(r"(?<![\w/])\d{3}[\s\-]\d{7}(?![\w/])"), 0.8),
    # area code, then a number given as "212- 476- 8356" or "410 202-6694" split by the text
    Pattern("PHONE", re.compile(r"(?<![\w/])\d{3}-?\s+\d{3}-?\s+\d{4}(?![\w/])"), 0.8),
    # pager / beeper / cell / tel followed by a number of 4+ digits
    Pattern(
        "PHONE",
        re.compile(
            r"\b(?:pager|pgr|pg|beeper|beep|page|cell|cellular|tel|telephone|phone|ph|mobile|home|work|office|fax)"
            r"[\s:#\-]*(?:no\.?|number)?[\s:#\-]*(\(?\d[\d\s\-().]{3,14}\d)(?!\w)",
            I,
        ),
        0.85,
        1,
    ),
]

SSN_PATTERNS = [
    Pattern("ID", re.compile(r"(?<![\w\-])\d{3}-\d{2}-\d{4}(?![\w\-])"), 0.95),
    Pattern("ID", re.compile(r"\b(?:ssn|social security(?: number| no\.?)?)\s*[:#]?\s*(\d{9})\b", I), 0.95, 1),
]

CONTACT_PATTERNS = [
    Pattern("EMAIL", re.compile(r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b"), 0.95),
    Pattern("URL", re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"']+[^\s<>\"'.,;:)]", I), 0.95),
    Pattern(
        "URL",
        re.compile(r"\b[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?:com|org|net|edu|gov|io|info|biz|us|uk|cn|de)(?:/[^\s]*)?\b", I),
        0.7,
    ),
    Pattern(
        "IP",
        re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"),
        0.9,
    ),
    Pattern("IP", re.compile(r"\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b", I), 0.9),
]

_STREET = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|court|terrace|"
    r"circle|highway|hwy|parkway|pkwy|square|trail|pike)"
)


def _street_words_ok(match: str) -> bool:
    """"19 Clover St." yes; "8 trach in place", "3 separate cardioversions for st." no."""
    from deid.text.allowlist import CLINICAL_WORDS

    raw = re.findall(r"[A-Za-z']+", match)
    words = [w.lower() for w in raw[:-1]]
    stop = {"in", "for", "to", "at", "of", "on", "and", "the", "not", "with", "per", "x", "given", "way", "wo", "w"}
    if not words or any(w in stop or w in CLINICAL_WORDS for w in words):
        return False
    if raw[-1].lower() in ("st", "ln", "rd", "dr", "ct", "ter", "pl", "cir"):  # short suffixes: capitalised names only
        return all(w[0].isupper() and not w.isupper() for w in raw[:-1] if len(w) > 1)
    return True
ADDRESS_PATTERNS = [
    # 19 Clover St., 1200 North Charles Street Apt 4B
    Pattern(
        "ADDRESS",
        re.compile(
            r"(?<![/\d.])\b\d{1,6}(?:-\d{1,4})?\s+(?:[NSEW]\.?\s+|north\s+|south\s+|east\s+|west\s+)?"
            r"(?:[A-Za-z][A-Za-z'\-]+\s+){1,3}" + _STREET + r"\b\.?"
            r"(?:,?\s*(?:apt|apartment|unit|suite|ste|#)\.?\s*[\w\-]+)?",
            I,
        ),
        0.9,
        0,
        _street_words_ok,
    ),
    Pattern("ADDRESS", re.compile(r"\b(?:p\.?\s?o\.?\s+box|box)\s+\d{1,6}\b", I), 0.85),
    # City, ST 21201 / ZIP+4 after a state abbreviation
    Pattern("ADDRESS", re.compile(r"\b[A-Z]{2}\s+(\d{5}(?:-\d{4})?)\b"), 0.8, 1),
    Pattern("ADDRESS", re.compile(r"\b(?:zip|zip code|postal code)\s*[:#]?\s*(\d{5}(?:-\d{4})?)\b", I), 0.9, 1),
]

AGE_PATTERNS = [
    Pattern(
        "AGE",
        re.compile(
            r"\b(9\d|1[0-4]\d)(?=\s*(?:-|\s)?\s*(?:y/?o|yo|y\.o\.|yr|yrs|years?|year-old|-year|y)\b)", I
        ),
        0.9,
        1,
    ),
    Pattern("AGE", re.compile(r"\b(?:age|aged|age of)\s*:?\s*(9\d|1[0-4]\d)\b", I), 0.9, 1),
    Pattern("AGE", re.compile(r"\b(9\d|1[0-4]\d)(?=\s*(?:m|f|male|female|man|woman)\b)", I), 0.6, 1),
]

DEFAULT_ID_PATTERNS: tuple[str, ...] = (
    # label + value: MRN 1234567, MR# A-12345, acct no: 99812, accession #S25-1234, unit no 55, visit 8812
    r"\b(?:mrn|mr\s?#|med(?:ical)?\s+rec(?:ord)?(?:\s+(?:no|number|#))?|acct|account|accession|acc\s?#|"
    r"visit|encounter|enc|unit\s+(?:no|number)|passport|driver'?s?\s+licen[cs]e|dl|patient\s+id|pt\s+id|chart|case|specimen|lab\s+no|"
    r"order|requisition|claim|member|policy|insurance|health\s+plan|license|licence|certificate|serial|"
    r"device|vin|plate|fin|csn|har)\s*(?:no\.?|number|num|id|#)?\s*[:#=]?\s*(?P<id>[A-Z]{0,4}[-#]?\d[\w\-/]{2,})",
    # long digit runs that are not phones: 8+ digits
    r"(?<![\w\-])(?P<id>\d{8,})(?![\w\-])",
)


def id_patterns(extra: Sequence[str] = ()) -> list[Pattern]:
    """Record-number patterns: the defaults plus profile-supplied regexes (a named group `id` marks the value)."""
    out: list[Pattern] = []
    for source in (*DEFAULT_ID_PATTERNS, *extra):
        rx = re.compile(source, I)
        out.append(Pattern("ID", rx, 0.9, "id" if "id" in rx.groupindex else 0))
    return out


def english_pattern_rule(extra_id_patterns: Sequence[str] = ()) -> RegexRule:
    return RegexRule(
        "english-patterns",
        [
            *DATE_PATTERNS,
            *PHONE_PATTERNS,
            *SSN_PATTERNS,
            *CONTACT_PATTERNS,
            *ADDRESS_PATTERNS,
            *AGE_PATTERNS,
            *id_patterns(extra_id_patterns),
        ],
    )
