"""gbt-39725-zh on HL7 v2 and FHIR: inherited structured rules, Chinese free text, resident-id linkage."""

from __future__ import annotations

from deid import hl7
from deid.engine import Deidentifier

RESIDENT_ID = "11010519491231002X"
HL7 = "\r".join(
    [
        "MSH|^~\\&|HIS|BJ-HOSP|HDS|CITY|20240314101500||ORU^R01|MSG9|P|2.5|||||CHN||zh-CN",
        f"PID|1||ZY20240001^^^BJ^MR~{RESIDENT_ID}^^^CHN^NNCHN||张^伟||19800506|M|||建国路88号^^北京市^北京^100022^CHN||13812345678",
        "OBX|1|TX|NOTE^病程记录||患者张伟，男，44岁，电话13812345678，住院号ZY20240001。血糖控制可，继续二甲双胍治疗。||||||F",
    ]
)


def test_given_chinese_hl7_then_identifiers_gone_and_clinical_text_kept(engine: Deidentifier) -> None:
    result = engine.deidentify(HL7, format="hl7v2", profile="gbt-39725-zh", hospital="bj1")
    assert result.ok, (result.reason, result.detail)
    out = result.payload
    assert isinstance(out, str)
    for value in ("张伟", "13812345678", "ZY20240001", RESIDENT_ID, "建国路88号", "19800506"):
        assert value not in out
    note = hl7.parse(out).value("OBX-5")
    assert "二甲双胍" in note and "血糖控制可" in note


def test_given_resident_id_then_same_pseudonym_in_hl7_fhir_and_csv(engine: Deidentifier) -> None:
    fhir = {"resourceType": "Patient", "id": "x", "identifier": [{"type": {"coding": [{"code": "NNCHN"}]}, "value": RESIDENT_ID}],
            "name": [{"text": "张伟"}], "gender": "male", "birthDate": "1980-05-06"}  # fmt: skip
    row = {"name": "张伟", "resident_id": RESIDENT_ID, "sex": "男", "birth_date": "1980-05-06"}
    a = engine.deidentify(HL7, format="hl7v2", profile="gbt-39725-zh", hospital="bj1")
    b = engine.deidentify(fhir, format="fhir", profile="gbt-39725-zh", hospital="bj2")
    c = engine.deidentify(row, format="csv", profile="gbt-39725-zh", hospital="bj3")
    assert a.ok and b.ok and c.ok
    assert a.patient is not None and a.patient == b.patient == c.patient
