"""What each catalog column means and where it comes from, per feed format (English and Chinese).

The projection (`gateway/projection.py`) decides which columns exist; this table documents them for people: a
meaning, the source element in the de-identified message (HL7 v2 field address, FHIR path or CSV column) and the
coding system of coded values. The de-identification applied to a column is NOT written here: it is derived from
the feed's profile for the source element (`catalog.deid_rules`), so the documentation cannot drift from the rules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnDoc:
    source: str | None  # "PID-7", "Patient.birthDate", "csv:birth_date"; None: added by the data space
    en: str
    zh: str
    coding: str | None = None  # coding system of the values, when coded
    derived: str | None = None  # how the column is computed from the source: "year", "prefix3", "count", ...


# Columns every dataset table has, whatever the format.
COMMON: dict[str, ColumnDoc] = {
    "record_id": ColumnDoc(None, "Record identifier: keyed hash of the source message, meaningless outside the data space",
                           "记录标识：源消息的密钥哈希，在数据空间之外无意义", derived="record_id"),
    "hospital": ColumnDoc(None, "Hospital that published the record", "发布该记录的医院", derived="metadata"),
    "feed": ColumnDoc(None, "Feed of that hospital the record came from", "记录来源的医院数据流", derived="metadata"),
    "patient_pseudonym": ColumnDoc(None, "City-wide patient pseudonym (the same person in every hospital); released as a "
                                   "per-grant project pseudonym", "全市统一的患者假名（同一患者在各医院相同）；发布时替换为每个授权专用的项目假名",
                                   derived="linkage"),
    "loaded_at": ColumnDoc(None, "When the catalog loaded the record", "数据目录载入该记录的时间", derived="metadata"),
}

_HL7_COMMON: dict[str, ColumnDoc] = {
    "message_type": ColumnDoc("MSH-9", "HL7 message type and trigger event (e.g. ADT^A01)", "HL7 消息类型与触发事件（如 ADT^A01）",
                              coding="HL7 table 0076/0003"),
    "event_type": ColumnDoc("MSH-9.2", "Trigger event (A01 admit, A03 discharge, A08 update...)", "触发事件（A01 入院、A03 出院、A08 更新…）",
                            coding="HL7 table 0003"),
    "sex": ColumnDoc("PID-8", "Administrative sex", "行政性别", coding="HL7 table 0001"),
    "birth_year": ColumnDoc("PID-7", "Year of birth", "出生年份", derived="year"),
    "age_group": ColumnDoc("PID-7", "'90+' for patients aged 90 or more (their birth year is removed)", "90 岁及以上患者为“90+”（其出生年份被删除）",
                           derived="over90"),
    "zip3": ColumnDoc("PID-11.5", "First three digits of the postal code", "邮政编码前三位", derived="prefix3"),
}

HL7_ADT: dict[str, ColumnDoc] = {
    **_HL7_COMMON,
    "patient_class": ColumnDoc("PV1-2", "Patient class (I inpatient, O outpatient, E emergency)", "患者类别（I 住院、O 门诊、E 急诊）",
                               coding="HL7 table 0004"),
    "ward": ColumnDoc("PV1-3.1", "Ward (point of care) of the stay", "住院病区（护理单元）"),
    "admission_type": ColumnDoc("PV1-4", "Admission type (E emergency, R routine...)", "入院类型（E 急诊、R 常规…）",
                                coding="HL7 table 0007"),
    "hospital_service": ColumnDoc("PV1-10", "Hospital service (MED, SUR, CAR...)", "医院科室（MED 内科、SUR 外科、CAR 心内科…）",
                                  coding="HL7 table 0069"),
    "admit_date": ColumnDoc("PV1-44", "Admission date, shifted per patient", "入院日期（按患者平移）", derived="date"),
    "discharge_date": ColumnDoc("PV1-45", "Discharge date, shifted per patient (intervals kept)", "出院日期（按患者平移，间隔保持不变）",
                                derived="date"),
    "diagnosis_code": ColumnDoc("DG1-3.1", "Admitting diagnosis code", "入院诊断编码", coding="ICD-10-CM"),
    "diagnosis_system": ColumnDoc("DG1-3.3", "Coding system of the diagnosis (I10 = ICD-10)", "诊断编码体系（I10 = ICD-10）"),
}

HL7_ORU: dict[str, ColumnDoc] = {
    **_HL7_COMMON,
    "order_code": ColumnDoc("OBR-4.1", "Ordered test or panel code", "所开检验项目或组合的编码", coding="LOINC"),
    "order_name": ColumnDoc("OBR-4.2", "Ordered test or panel name", "所开检验项目或组合的名称"),
    "observed_date": ColumnDoc("OBR-7", "Observation date, shifted per patient", "观察日期（按患者平移）", derived="date"),
    "result_count": ColumnDoc("OBX", "Number of result segments in the report", "报告中的结果段数量", derived="count"),
    "result_codes": ColumnDoc("OBX-3.1", "Codes of the results reported", "所报告结果的编码", coding="LOINC"),
    "note": ColumnDoc("OBX-5", "Free-text notes with identifiers redacted", "已脱敏标识信息的自由文本备注"),
}

FHIR: dict[str, ColumnDoc] = {
    "resource_types": ColumnDoc(None, "FHIR resource types in the Bundle", "Bundle 中的 FHIR 资源类型", derived="structure"),
    "resource_count": ColumnDoc(None, "Number of resources in the Bundle", "Bundle 中的资源数量", derived="structure"),
    "sex": ColumnDoc("Patient.gender", "Administrative gender", "行政性别", coding="FHIR administrative-gender"),
    "birth_year": ColumnDoc("Patient.birthDate", "Year of birth", "出生年份", derived="year"),
    "zip3": ColumnDoc("Patient.address.postalCode", "First three digits of the postal code", "邮政编码前三位", derived="prefix3"),
    "encounter_class": ColumnDoc("Encounter.class", "Encounter class (IMP inpatient, AMB ambulatory, EMER emergency)",
                                 "就诊类别（IMP 住院、AMB 门诊、EMER 急诊）", coding="HL7 v3 ActCode"),
    "encounter_start": ColumnDoc("Encounter.period.start", "Encounter start, shifted per patient", "就诊开始日期（按患者平移）",
                                 derived="date"),
    "encounter_end": ColumnDoc("Encounter.period.end", "Encounter end, shifted per patient", "就诊结束日期（按患者平移）",
                               derived="date"),
    "condition_codes": ColumnDoc("Condition.code", "Diagnosis codes of the encounter", "本次就诊的诊断编码",
                                 coding="ICD-10-CM, SNOMED CT"),
    "observation_codes": ColumnDoc("Observation.code", "Codes of the observations", "观察项目的编码", coding="LOINC"),
    "observation_count": ColumnDoc("Observation", "Number of observations", "观察项目数量", derived="count"),
    "note": ColumnDoc("DocumentReference.content.attachment.data", "Clinical note with identifiers redacted",
                      "已脱敏标识信息的临床记录"),
}

CSV_LAB: dict[str, ColumnDoc] = {
    "mrn": ColumnDoc("csv:mrn", "Medical record number, pseudonymised per hospital", "病历号（按医院假名化）"),
    "birth_date": ColumnDoc("csv:birth_date", "Year of birth ('90+' for the oldest)", "出生年份（高龄者为“90+”）"),
    "sex": ColumnDoc("csv:sex", "Sex", "性别"),
    "zip": ColumnDoc("csv:zip", "First three digits of the postal code", "邮政编码前三位"),
    "specimen_id": ColumnDoc("csv:specimen_id", "Specimen identifier, pseudonymised", "标本编号（已假名化）"),
    "collected_at": ColumnDoc("csv:collected_at", "Specimen collection time, shifted per patient", "标本采集时间（按患者平移）"),
    "test_code": ColumnDoc("csv:test_code", "Laboratory test code", "检验项目编码", coding="LOINC"),
    "test_name": ColumnDoc("csv:test_name", "Laboratory test name", "检验项目名称"),
    "value": ColumnDoc("csv:value", "Result value as sent", "原始结果值"),
    "value_num": ColumnDoc("csv:value", "Result value as a number (empty when not numeric)", "数值型结果（非数值时为空）",
                           derived="number"),
    "unit": ColumnDoc("csv:unit", "Unit of the result", "结果单位", coding="UCUM"),
    "reference_range": ColumnDoc("csv:reference_range", "Reference range", "参考范围"),
    "flag": ColumnDoc("csv:flag", "Abnormal flag (H high, L low, N normal)", "异常标志（H 偏高、L 偏低、N 正常）",
                      coding="HL7 table 0078"),
    "comment": ColumnDoc("csv:comment", "Free-text comment with identifiers redacted", "已脱敏标识信息的自由文本备注"),
}

# Columns that are never released through the sandbox and are left out of the documentation.
HIDDEN = frozenset({"payload"})


def docs_for(format: str | None, dataset_columns: list[str]) -> dict[str, ColumnDoc]:
    """The documentation of each column of a dataset (unknown columns get an honest 'not documented')."""
    if format == "fhir":
        table = FHIR
    elif format == "csv":
        table = CSV_LAB
    elif format == "hl7v2":
        table = {**HL7_ADT, **HL7_ORU}  # ADT and ORU share only the common PID columns
    else:
        table = {}
    out: dict[str, ColumnDoc] = {}
    for name in dataset_columns:
        if name in HIDDEN:
            continue
        out[name] = COMMON.get(name) or table.get(name) or ColumnDoc(
            f"csv:{name}" if format == "csv" else None, "Not documented yet", "尚无说明")
    return out
