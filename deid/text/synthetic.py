"""Synthetic clinical notes with known PHI spans and clinical traps, for tests and the benchmark.

`english_notes(n, seed)` and `chinese_notes(n, seed)` return records
`{"id", "lang", "text", "spans": [{"start", "end", "type"}], "keep": [{"start", "end", "term"}]}`:
`spans` are the identifiers that must go, `keep` the eponyms and drug names that must survive.
Everything is invented; names come from small built-in lists, not from the recognizers' dictionaries.
"""

from __future__ import annotations

import random
from typing import Any

FIRST = (
    "John Mary Robert Linda Michael Susan David Karen James Patricia William Barbara Thomas Nancy Daniel Lisa "
    "Anthony Sandra Steven Donna Kevin Carol Brian Sharon Edward Cynthia Ronald Kathleen Jason Pamela Gary Helen "
    "Dolores Eugene Walter Agnes Harold Theresa Lucille Vernon"
).split()
LAST = (
    "Kowalski Nguyen Okafor Delgado Brennan Whitfield Castellano Haverford Lindqvist Marchetti Szymanski Abernathy "
    "Rutherford Pemberton Oyelaran Kaczmarek Vasquez Donnelly Fitzgerald Gallagher Hennessy Lombardi Moriarty "
    "Novak Petrakis Quintero Rasmussen Schaefer Tanaka Underwood Valenti Wojcik Yamamoto Zielinski Ferreira "
    "Gutierrez Halvorsen Iverson Jankowski Kuznetsov"
).split()
CITIES = "Baltimore Towson Annapolis Boston Chicago Philadelphia Richmond Pittsburgh".split()
HOSPITALS = ("Calvert Hospital", "Mercy Medical Center", "St. Agnes Hospital", "Holy Cross Hospital", "Sinai Hospital")
STREETS = ("Clover Street", "Harford Road", "Elm Avenue", "Charles Street", "Maple Lane", "York Road")
MONTHS = "January February March April May June July August September October November December".split()
TRAPS_EN = (
    "Parkinson disease",
    "Foley catheter",
    "Cushing syndrome",
    "Gram stain",
    "Apgar score",
    "Bell palsy",
    "metformin",
    "heparin",
    "Crohn disease",
    "Swan-Ganz catheter",
    "Alzheimer disease",
    "Hodgkin lymphoma",
    "warfarin",
    "furosemide",
    "Babinski sign",
    "Doppler",
    "lisinopril",
    "Guillain-Barre syndrome",
)
RELATIONS_EN = ("daughter", "son", "wife", "husband", "sister", "brother")


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

    def record(self, rid: str, lang: str, upper: bool = False) -> dict[str, Any]:
        text = "".join(self.parts)
        if upper:
            text = text.upper()
        return {"id": rid, "lang": lang, "text": text, "spans": self.spans, "keep": self.keep}


def _date_en(rng: random.Random) -> str:
    y, m, d = rng.randint(1990, 2025), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice(
        [
            f"{m}/{d}/{y}",
            f"{m}/{d}",
            f"{MONTHS[m - 1]} {d}, {y}",
            f"{MONTHS[m - 1]} {d}{'th' if d > 3 else ['st', 'nd', 'rd'][d - 1]}",
            f"{y}-{m:02d}-{d:02d}",
            f"{m:02d}/{d:02d}/{y % 100:02d}",
            f"{d} {MONTHS[m - 1][:3]} {y}",
        ]
    )


def _phone_en(rng: random.Random) -> str:
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    return rng.choice([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}", f"{a} {b} {c:04d}"])


def english_notes(n: int = 100, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for k in range(n):
        note = _Note()
        first, last = rng.choice(FIRST), rng.choice(LAST)
        note.text(rng.choice(["Mr. ", "Mrs. ", "Ms. ", "Patient "]))
        note.phi(f"{first} {last}", "PERSON")
        note.text(" is a ")
        age = rng.randint(30, 104)
        if age >= 90:
            note.phi(str(age), "AGE")
        else:
            note.text(str(age))
        note.text(" year old admitted on ")
        note.phi(_date_en(rng), "DATE")
        note.text(" from ")
        hospital = rng.choice(HOSPITALS)
        name, _, facility = hospital.rpartition(" ")
        if facility == "Center":
            name, _, _ = name.rpartition(" ")
            facility = "Medical Center"
        note.phi(name, "LOCATION")
        note.text(f" {facility} with a history of ")
        note.trap(rng.choice(TRAPS_EN))
        note.text(" and ")
        note.trap(rng.choice(TRAPS_EN))
        note.text(". MRN ")
        note.phi(f"{rng.randint(1000000, 9999999)}", "ID")
        note.text(". Started ")
        note.trap(rng.choice(("metformin", "heparin", "warfarin", "furosemide", "lisinopril")))
        note.text(" 40 mg daily, glucose 110 mg/dL.\n")
        note.text(rng.choice(["Dr. ", "Seen by Dr. ", "Discussed with Dr. "]))
        note.phi(rng.choice(LAST), "PERSON")
        note.text(" aware; ")
        note.trap(rng.choice(TRAPS_EN))
        note.text(" noted. ")
        rel = rng.choice(RELATIONS_EN)
        note.text(f"{rel.capitalize()} ")
        note.phi(rng.choice(FIRST), "PERSON")
        note.text(" can be reached at ")
        note.phi(_phone_en(rng), "PHONE")
        if rng.random() < 0.5:
            note.text(" or ")
            user = f"{first.lower()}.{last.lower()}"
            note.phi(f"{user}@example.org", "EMAIL")
        note.text(". Lives at ")
        note.phi(f"{rng.randint(1, 9999)} {rng.choice(STREETS)}", "ADDRESS")
        note.text(" in ")
        note.phi(rng.choice(CITIES), "LOCATION")
        note.text(".\n")
        sig_first, sig_last = rng.choice(FIRST), rng.choice(LAST)
        note.phi(f"{sig_first} {sig_last}", "PERSON")
        note.text(", RN\n")
        out.append(note.record(f"synth-en-{k}", "en", upper=rng.random() < 0.3))
    return out


# --- Chinese ----------------------------------------------------------------------------------------------
CN_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
CN_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华志国文辉玉珍"
CN_PROVINCES = (("北京市", "朝阳区"), ("上海市", "浦东新区"), ("广东省广州市", "天河区"), ("浙江省杭州市", "西湖区"), ("四川省成都市", "武侯区"))
CN_ROADS = ("建国路", "人民路", "中山大道", "解放街", "文三路", "长江路")
TRAPS_ZH = ("帕金森病", "二甲双胍", "肝素", "库欣综合征", "贝尔麻痹", "阿普加评分", "Foley导尿管", "华法林", "阿尔茨海默病", "克罗恩病")


def _cn_name(rng: random.Random) -> str:
    return rng.choice(CN_SURNAMES) + "".join(rng.choice(CN_GIVEN) for _ in range(rng.choice((1, 2))))


def _resident_id(rng: random.Random) -> str:
    from deid.text.resident_id import check_character

    body = f"{rng.choice(('110105', '310115', '440106', '330106', '510107'))}{rng.randint(1930, 2010)}"
    body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + check_character(body)


def chinese_notes(n: int = 100, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for k in range(n):
        note = _Note()
        note.text("患者")
        note.phi(_cn_name(rng), "PERSON")
        note.text(f"，{rng.choice('男女')}，")
        age = rng.randint(20, 101)
        if age >= 90:
            note.phi(str(age), "AGE")
        else:
            note.text(str(age))
        note.text("岁，身份证号")
        note.phi(_resident_id(rng), "ID")
        note.text("。因")
        note.trap(rng.choice(TRAPS_ZH))
        note.text("于")
        y, m, d = rng.randint(2015, 2025), rng.randint(1, 12), rng.randint(1, 28)
        note.phi(rng.choice([f"{y}年{m}月{d}日", f"{y}-{m:02d}-{d:02d}", f"{y}年{m}月{d}日 {rng.randint(0, 23)}:{rng.randint(0, 59):02d}"]), "DATE")
        note.text("入院，予")
        note.trap(rng.choice(TRAPS_ZH))
        note.text("治疗。联系电话")
        note.phi(f"1{rng.choice('3578')}{rng.randint(100000000, 999999999)}", "PHONE")
        note.text("，家属")
        note.phi(_cn_name(rng), "PERSON")
        note.text(f"（{rng.choice(('女儿', '儿子', '妻子', '丈夫'))}）。住址：")
        prov, dist = rng.choice(CN_PROVINCES)
        note.phi(f"{prov}{dist}{rng.choice(CN_ROADS)}{rng.randint(1, 300)}号{rng.randint(1, 30)}栋{rng.randint(101, 2505)}室", "ADDRESS")
        note.text("。医保号")
        note.phi(f"{rng.choice(('Y', 'YB', ''))}{rng.randint(10000000, 99999999)}", "ID")
        note.text("，住院号")
        note.phi(f"ZY{rng.randint(100000, 999999)}", "ID")
        note.text("。座机")
        note.phi(f"0{rng.choice(('10', '21', '20', '571'))}-{rng.randint(10000000, 99999999)}", "PHONE")
        note.text("。主治医师")
        note.phi(_cn_name(rng), "PERSON")
        note.text("，责任护士")
        note.phi(_cn_name(rng), "PERSON")
        note.text("。既往")
        note.trap(rng.choice(TRAPS_ZH))
        note.text("病史。")
        out.append(note.record(f"synth-zh-{k}", "zh"))
    return out
