from __future__ import annotations

import pytest

from deid.text.redactor import TextRedactor

NOTE = (
    "患者张伟，男，93岁，身份证号11010519491231002X，手机138-1234-5678，"
    "住址：北京市朝阳区建国路88号3号楼201室，于2025年3月14日 10:30入院。"
    "家属李秀英女士陪同，医保号Y123456789，住院号ZY20250314。主治医师王建国，电话010-65123456。"
    "既往帕金森病、库欣综合征，长期服用二甲双胍及华法林。"
)


def _found(redactor: TextRedactor, text: str) -> dict[str, str]:
    return {text[e.start : e.end]: e.type for e in redactor.analyze(text, lang="auto")}


def test_given_chinese_note_then_each_identifier_is_found_with_its_type(redactor: TextRedactor) -> None:
    found = _found(redactor, NOTE)
    assert found["张伟"] == "PERSON"
    assert found["93"] == "AGE"
    assert found["11010519491231002X"] == "ID"
    assert found["138-1234-5678"] == "PHONE"
    assert found["北京市朝阳区建国路88号3号楼201室"] == "ADDRESS"
    assert found["2025年3月14日 10:30"] == "DATE"
    assert found["李秀英"] == "PERSON"
    assert found["Y123456789"] == "ID"
    assert found["ZY20250314"] == "ID"
    assert found["王建国"] == "PERSON"
    assert found["010-65123456"] == "PHONE"


def test_given_chinese_note_then_diseases_and_drugs_survive(redactor: TextRedactor) -> None:
    redacted, _ = redactor.redact(NOTE)
    for term in ("帕金森病", "库欣综合征", "二甲双胍", "华法林", "入院", "陪同"):
        assert term in redacted


@pytest.mark.parametrize(
    "text,value",
    [
        ("出生日期2025-03-14。", "2025-03-14"),
        ("复查时间3月14日。", "3月14日"),
        ("护士刘洋测体温。", "刘洋"),
        ("请联系陈先生。", "陈"),
        ("联系电话：(021)64041990转123", "64041990"),
        ("旧身份证110105491231002已作废", "110105491231002"),
        ("现住上海市浦东新区世纪大道100号", "世纪大道100号"),
        ("门诊号：MZ778812", "MZ778812"),
        ("患者102岁", "102"),
    ],
)
def test_given_chinese_identifier_forms_then_they_are_removed(redactor: TextRedactor, text: str, value: str) -> None:
    redacted, _ = redactor.redact(text)
    assert value not in redacted


def test_given_clinical_sentence_without_identifiers_then_it_is_unchanged(redactor: TextRedactor) -> None:
    text = "查体：神志清，双肺呼吸音粗，心率80次/分，腹软无压痛。予肝素抗凝，监测血糖。"
    assert redactor.redact(text) == (text, [])


def test_given_listed_names_then_each_is_found(redactor: TextRedactor) -> None:
    redacted, _ = redactor.redact("家属张三、李四陪同，患者女儿王小红签字。")
    assert redacted == "家属[PERSON]、[PERSON]陪同，患者女儿[PERSON]签字。"


@pytest.mark.parametrize(
    "text",
    ["王主任查房后指示继续抗感染。", "患者入住心内科病区，消化道出血，伴咳嗽、高热。", "医师建议复查胸部CT。"],
)
def test_given_clinical_words_after_titles_then_they_are_not_names(redactor: TextRedactor, text: str) -> None:
    redacted, entities = redactor.redact(text)
    for word in ("查房", "指示", "病区", "消化道", "高热", "建议"):
        if word in text:
            assert word in redacted
    assert all(e.type != "ADDRESS" for e in entities)


def test_given_hospital_named_by_city_then_it_is_redacted(redactor: TextRedactor) -> None:
    redacted, entities = redactor.redact("患者系杭州市第一人民医院转入。")
    assert "杭州" not in redacted
    assert {e.type for e in entities} == {"LOCATION"}
