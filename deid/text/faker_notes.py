"""An independent note generator for evaluating the text redactor: Faker's en_US and zh_CN providers.

It shares nothing with the rules: no import from `deid.text`, no name, place or vocabulary list of the
recognizers. People, streets, towns, companies, phones and ids come from Faker (its own data); the note
templates, the few role words and the clinical "keep" terms below were written for this generator only
(several keep terms - "levodopa", "Hashimoto thyroiditis", "apixaban" - are in no allow-list of the rules).

`english_notes(n, seed)` / `chinese_notes(n, seed)` return gold records
`{"id", "lang", "text", "spans": [{"start", "end", "type"}], "keep": [{"start", "end", "term"}]}`.
Seeds are split: `TUNE_SEEDS` may be looked at while writing rules, `HELD_OUT_SEEDS` only for figures.

What is covered (issue 8): street addresses with every USPS street suffix (Faker's list of 225) and every
USPS secondary unit designator, invented towns ("Lake Jennifer", "Port Aaronmouth"), hospitals, clinics and
medical centers, "Last, First", titles, initials, nicknames, relatives by first name only, ALL-CAPS and
all-lowercase notes, passports, letter-prefixed record numbers; Chinese names in brackets and after role
words, addresses down to building/unit/room with postal codes, hospitals and clinics, dates glued to text.
"""

from __future__ import annotations

import random
from typing import Any

TUNE_SEEDS = (1, 2, 3)
HELD_OUT_SEEDS = (101, 102, 103)

# USPS Publication 28, appendix C2 (secondary unit designators), written out for this generator.
UNIT_DESIGNATORS = (
    "Apartment", "Apt", "Basement", "Bsmt", "Building", "Bldg", "Department", "Dept", "Floor", "Fl", "Front",
    "Frnt", "Hangar", "Hngr", "Key", "Lobby", "Lbby", "Lot", "Lower", "Lowr", "Office", "Ofc", "Penthouse", "Ph",
    "Pier", "Rear", "Room", "Rm", "Side", "Slip", "Space", "Spc", "Stop", "Suite", "Ste", "Trailer", "Trlr", "Unit",
    "Upper", "Uppr", "#",
)
_UNITS_WITHOUT_NUMBER = frozenset(("Basement", "Bsmt", "Front", "Frnt", "Lobby", "Lbby", "Lower", "Lowr", "Office",
                                   "Ofc", "Penthouse", "Ph", "Rear", "Side", "Upper", "Uppr"))
NICKNAMES = ("Bud", "Sonny", "Dee", "Tink", "Chip", "Red", "Skip", "Babe", "Junior", "Sissy", "Butch", "Lulu")
FACILITY_FORMS_EN = (
    "{last} Memorial Hospital", "{city} Medical Center", "{last} Clinic", "St. {first} Hospital",
    "{city} Regional Hospital", "{last} Family Health Center", "{city} Community Hospital",
    "{last} Rehabilitation Center", "{city} Urgent Care", "{last} Nursing Home",
)
KEEP_EN = (
    "levodopa", "apixaban", "clopidogrel", "Hashimoto thyroiditis", "Graves disease", "Addison disease",
    "Wilms tumor", "Down syndrome", "Meckel diverticulum", "Stevens-Johnson syndrome", "Barrett esophagus",
    "Bell palsy", "Parkinson disease", "Foley catheter", "Doppler", "warfarin", "metoprolol", "Glasgow Coma Scale",
    "Kussmaul breathing", "Homan sign", "Murphy sign", "Crohn disease", "tamsulosin", "Whipple procedure",
)
RELATIVES_EN = ("daughter", "son", "wife", "husband", "sister", "brother", "niece", "grandson", "mother")
CLINICIAN_CREDENTIALS = ("RN", "MD", "NP", "PA-C", "RRT", "LPN")


class _Note:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.spans: list[dict[str, Any]] = []
        self.keep: list[dict[str, Any]] = []

    def text(self, s: str) -> None:
        self.parts.append(s)
        self.pos += len(s)

    def phi(self, s: str, etype: str) -> None:
        self.spans.append({"start": self.pos, "end": self.pos + len(s), "type": etype})
        self.text(s)

    def trap(self, s: str) -> None:
        self.keep.append({"start": self.pos, "end": self.pos + len(s), "term": s})
        self.text(s)

    def record(self, rid: str, lang: str, case: str = "") -> dict[str, Any]:
        text = "".join(self.parts)
        text = text.upper() if case == "upper" else text.lower() if case == "lower" else text
        return {"id": rid, "lang": lang, "text": text, "spans": self.spans, "keep": self.keep}


def _faker(locale: str, seed: int) -> Any:
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(seed)
    return fake


# --- English ------------------------------------------------------------------------------------------------
def _street(fake: Any, rng: random.Random, k: int) -> str:
    from faker.providers.address.en_US import Provider

    suffixes = Provider.street_suffixes
    suffix = suffixes[k % len(suffixes)]
    street = f"{fake.building_number()} {fake.street_name().rsplit(' ', 1)[0]} {suffix}"
    if rng.random() < 0.6:
        unit = UNIT_DESIGNATORS[(k * 7) % len(UNIT_DESIGNATORS)]
        if unit in _UNITS_WITHOUT_NUMBER:
            street += f", {unit}"
        else:
            street += f" {unit}{'' if unit == '#' else ' '}{rng.randint(1, 999)}{rng.choice(('', 'B', ''))}"
    return street


def _en_date(fake: Any, rng: random.Random) -> str:
    d = fake.date_between(start_date="-30y", end_date="today")
    return rng.choice((d.strftime("%m/%d/%Y"), d.strftime("%B %d, %Y"), d.strftime("%b %d"), d.strftime("%Y-%m-%d"),
                       f"{d.month}/{d.day}", d.strftime("%d %B %Y")))


def _facility(fake: Any, rng: random.Random, note: _Note) -> None:
    form = rng.choice(FACILITY_FORMS_EN)
    value = form.format(last=fake.last_name(), city=fake.city(), first=fake.first_name())
    head, generic = _split_facility(value)
    note.phi(head, "LOCATION")
    note.text(generic)


def _split_facility(value: str) -> tuple[str, str]:
    for generic in (" Memorial Hospital", " Medical Center", " Clinic", " Hospital", " Regional Hospital",
                    " Family Health Center", " Community Hospital", " Rehabilitation Center", " Urgent Care",
                    " Nursing Home"):
        if value.endswith(generic):
            head = value[: -len(generic)]
            if head.endswith(" Regional") or head.endswith(" Community"):
                continue
            return head, generic
    return value, ""


def _en_note(fake: Any, rng: random.Random, k: int) -> _Note:
    note = _Note()
    last = _en_patient(fake, rng, note)
    age = rng.randint(25, 103)
    note.text(", ")
    if age >= 90:
        note.phi(str(age), "AGE")
    else:
        note.text(str(age))
    note.text(f" y/o {rng.choice(('M', 'F', 'male', 'female'))}, MRN: ")
    note.phi(fake.bothify(rng.choice(("??#######", "?######", "##########", "?-######"))).upper(), "ID")
    note.text(". Admitted ")
    note.phi(_en_date(fake, rng), "DATE")
    note.text(" via ED from ")
    _facility(fake, rng, note)
    note.text(" with ")
    note.trap(rng.choice(KEEP_EN))
    note.text(". ")
    _en_clinician(fake, rng, note, last)
    note.text(f" Home meds include ")
    note.trap(rng.choice(KEEP_EN))
    note.text(" and ")
    note.trap(rng.choice(KEEP_EN))
    note.text(".\n")
    _en_contact(fake, rng, note, k)
    note.text(" Follow up at ")
    _facility(fake, rng, note)
    note.text(" on ")
    note.phi(_en_date(fake, rng), "DATE")
    note.text(".\n")
    note.phi(f"{fake.first_name()} {fake.last_name()}", "PERSON")
    note.text(f", {rng.choice(CLINICIAN_CREDENTIALS)}\n")
    return note


def _en_patient(fake: Any, rng: random.Random, note: _Note) -> str:
    """The patient's name in one of five forms; returns the family name (the sign-off initials use it)."""
    first, last = fake.first_name(), fake.last_name()
    form = rng.randrange(5)
    if form == 0:
        note.text("Patient: ")
        note.phi(f"{last}, {first}", "PERSON")
    elif form == 1:
        note.text(rng.choice(("Pt ", "Patient ", "")))
        note.phi(f"{first} {last}", "PERSON")
    elif form == 2:
        note.text(f"{rng.choice(('Mr.', 'Mrs.', 'Ms.', 'Mr', 'Miss'))} ")
        note.phi(last, "PERSON")
    elif form == 3:
        note.phi(f"{first} \"{rng.choice(NICKNAMES)}\" {last}", "PERSON")
    else:
        note.phi(f"{last}, {first} {fake.random_uppercase_letter()}.", "PERSON")
    return last


def _en_clinician(fake: Any, rng: random.Random, note: _Note, last: str) -> None:
    """A clinician named in one of four styles (the last: initials with the patient's family initial)."""
    clin_first, clin_last = fake.first_name(), fake.last_name()
    style = rng.randrange(4)
    if style == 0:
        note.text("Seen by ")
        note.phi(f"{clin_first} {clin_last}", "PERSON")
        note.text(" today.")
    elif style == 1:
        note.text("Discussed with Dr. ")
        note.phi(clin_last, "PERSON")
        note.text(".")
    elif style == 2:
        note.text("Plan reviewed with ")
        note.phi(f"Dr. {clin_first[0]}. {clin_last}".removeprefix("Dr. "), "PERSON")
        note.text(" (cardiology).")
    else:
        note.phi(f"{clin_first[0]}.{last[0]}.", "PERSON")
        note.text(" to follow up.")


def _en_contact(fake: Any, rng: random.Random, note: _Note, k: int) -> None:
    """A relative with a phone number, the home address, and one more identifier (passport, email, SSN, city)."""
    rel = rng.choice(RELATIVES_EN)
    note.text(f"{rel.capitalize()} ")
    note.phi(fake.first_name(), "PERSON")
    note.text(rng.choice((" called, phone ", " at bedside, reachable at ", " (HCP) at ")))
    note.phi(fake.phone_number(), "PHONE")
    note.text(". Lives at ")
    note.phi(_street(fake, rng, k), "ADDRESS")
    note.text(", ")
    note.phi(fake.city(), "LOCATION")
    note.text(", ")
    note.phi(f"{fake.state_abbr()} {fake.zipcode()}", "ADDRESS")
    note.text(". ")
    extra = rng.randrange(4)
    if extra == 0:
        note.text("Passport ")
        note.phi(fake.passport_number(), "ID")
        note.text(" on file.")
    elif extra == 1:
        note.text("Email ")
        note.phi(fake.email(), "EMAIL")
        note.text(".")
    elif extra == 2:
        note.text("SSN ")
        note.phi(fake.ssn(), "ID")
        note.text(".")
    else:
        note.text("Previously lived in ")
        note.phi(fake.city(), "LOCATION")
        note.text(".")


def english_notes(n: int = 200, seed: int = TUNE_SEEDS[0]) -> list[dict[str, Any]]:
    fake, rng = _faker("en_US", seed), random.Random(seed)
    out = []
    for k in range(n):
        roll = rng.random()
        case = "upper" if roll < 0.2 else "lower" if roll < 0.35 else ""
        out.append(_en_note(fake, rng, k + seed * n).record(f"faker-en-{seed}-{k}", "en", case))
    return out


# --- Chinese ------------------------------------------------------------------------------------------------
ROLE_WORDS_ZH = ("患者", "家属", "医生", "护士", "主任")
AFTER_NAME_ZH = ("代诉", "陈述", "签字")
FACILITY_FORMS_ZH = ("{city}第一人民医院", "{city}{district}区卫生院", "{city}中医医院", "{district}社区卫生服务中心",
                     "{last}氏诊所", "{city}妇幼保健院")
KEEP_ZH = ("帕金森病", "左旋多巴", "二甲双胍", "桥本甲状腺炎", "阿司匹林", "克罗恩病", "唐氏综合征", "华法林", "格林-巴利综合征",
           "阿尔茨海默病", "胰岛素", "布洛芬")


def _zh_address(fake: Any, rng: random.Random) -> str:
    base = f"{fake.province()}{fake.city()}{fake.district()}区{fake.street_name()}{rng.randint(1, 999)}号"
    tail = rng.choice((f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(101, 2808)}室",
                       f"{fake.random_uppercase_letter()}座{rng.randint(101, 2808)}室", f"{rng.randint(1, 20)}号楼{rng.randint(101, 999)}",
                       f"{rng.randint(1, 12)}幢{rng.randint(1, 4)}单元{rng.randint(101, 1806)}", ""))
    return base + tail


def _zh_date(fake: Any, rng: random.Random) -> str:
    d = fake.date_between(start_date="-20y", end_date="today")
    return rng.choice((f"{d.year}年{d.month}月{d.day}日", f"{d.year}年{d.month}月", d.strftime("%Y-%m-%d"), f"{d.month}月{d.day}日"))


def _zh_note(fake: Any, rng: random.Random) -> _Note:
    note = _Note()
    name = fake.name()
    form = rng.randrange(3)
    if form == 0:
        note.text("患者")
        note.phi(name, "PERSON")
    elif form == 1:
        note.text("患者（")
        note.phi(name, "PERSON")
        note.text("）")
    else:
        note.text("姓名：")
        note.phi(name, "PERSON")
    note.text(f"，{rng.choice('男女')}，")
    age = rng.randint(20, 101)
    if age >= 90:
        note.phi(str(age), "AGE")
    else:
        note.text(str(age))
    note.text("岁。")
    note.phi(_zh_date(fake, rng), "DATE")
    note.text("入住")
    facility = rng.choice(FACILITY_FORMS_ZH).format(city=fake.city_name(), district=fake.district(), last=fake.last_name())
    note.phi(facility, "LOCATION")
    note.text("，诊断")
    note.trap(rng.choice(KEEP_ZH))
    note.text("。身份证号")
    note.phi(fake.ssn(), "ID")
    note.text("，手机")
    note.phi(fake.phone_number(), "PHONE")
    note.text("。")
    _zh_relative(fake, rng, note)
    note.text("现住址：")
    note.phi(_zh_address(fake, rng), "ADDRESS")
    if rng.random() < 0.6:
        note.text("，邮编")
        note.phi(fake.postcode(), "ADDRESS")
    note.text("。予")
    note.trap(rng.choice(KEEP_ZH))
    note.text("治疗，")
    note.text(rng.choice(("医生", "主任", "护士")))
    note.phi(fake.name(), "PERSON")
    note.text("查房。住院号")
    note.phi(fake.bothify("ZY########"), "ID")
    note.text("，于")
    note.phi(_zh_date(fake, rng), "DATE")
    note.text("出院。")
    return note


def _zh_relative(fake: Any, rng: random.Random, note: _Note) -> None:
    """A relative named in one of three styles (accompanying, giving the history, consenting)."""
    relative = fake.name()
    style = rng.randrange(3)
    if style == 0:
        note.text("家属")
        note.phi(relative, "PERSON")
        note.text(f"（{rng.choice(('女儿', '儿子', '妻子', '丈夫'))}）陪同。")
    elif style == 1:
        note.phi(relative, "PERSON")
        note.text(f"{rng.choice(AFTER_NAME_ZH)}病史。")
    else:
        note.text(f"{rng.choice(('女儿', '儿子', '老伴'))}（")
        note.phi(relative, "PERSON")
        note.text("）知情同意。")


def chinese_notes(n: int = 200, seed: int = TUNE_SEEDS[0]) -> list[dict[str, Any]]:
    fake, rng = _faker("zh_CN", seed), random.Random(seed)
    return [_zh_note(fake, rng).record(f"faker-zh-{seed}-{k}", "zh") for k in range(n)]


def corpus(lang: str, seeds: tuple[int, ...], n_per_seed: int = 100) -> list[dict[str, Any]]:
    make = english_notes if lang == "en" else chinese_notes
    return [rec for seed in seeds for rec in make(n_per_seed, seed)]
