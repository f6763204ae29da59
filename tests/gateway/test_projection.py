from __future__ import annotations

import base64

import pytest

from gateway.projection import project

ADT = ("MSH|^~\\&|EPIC|STL|HDS|CITY|20250314||ADT^A01^ADT_A01|k1-X|P|2.5\rEVN|A01|20250314\r"
       "PID|1||k1-P^^^^MR||||1952|F|||^^^IL^627\rPV1|1|I|4W|E||||||MED|||||||||k1-V|||||||||||||||||||||||||20241102081500\r"
       "DG1|1||I10^Essential hypertension^I10C\r")


def test_given_a_deidentified_adt_then_research_columns_are_typed() -> None:
    cols, types = project("hl7v2", ADT)
    assert cols["event_type"] == "A01" and cols["message_type"] == "ADT^A01"
    assert cols["sex"] == "F" and cols["birth_year"] == 1952 and cols["zip3"] == "627"
    assert cols["patient_class"] == "I" and cols["ward"] == "4W" and cols["admit_date"] == "2024-11-02"
    assert cols["diagnosis_code"] == "I10"
    assert types["admit_date"] == "DATE" and types["birth_year"] == "BIGINT"


def test_given_an_oru_with_escaped_text_then_the_note_reads_as_plain_text() -> None:
    oru = ("MSH|^~\\&|L|S|H|C|20250314||ORU^R01|k1-Y|P|2.5\rPID|1||k1-P\rOBR|1|||24323-8^CMP^LN|||20241102\r"
           "OBX|1|NM|718-7^Hgb^LN||13.1|g/dL\rOBX|2|FT|11506-3^Note^LN||[PERSON] seen.\\.br\\Plan: fluids \\T\\ rest.\r"
           "NTE|1|L|Non-fasting.\r")
    cols, _ = project("hl7v2", oru)
    assert cols["note"] == "[PERSON] seen.\nPlan: fluids & rest.\nNon-fasting."
    assert cols["result_count"] == 2 and cols["result_codes"] == "718-7,11506-3"
    assert cols["observed_date"] == "2024-11-02"


def test_given_a_fhir_bundle_then_codes_and_the_decoded_note_are_projected() -> None:
    note = base64.b64encode("[PERSON] improving.".encode()).decode()
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "gender": "female", "birthDate": "1970",
                      "address": [{"postalCode": "021"}]}},
        {"resource": {"resourceType": "Encounter", "class": {"code": "IMP"}, "period": {"start": "2024-01-02T10:00:00Z"}}},
        {"resource": {"resourceType": "Condition", "code": {"coding": [{"code": "J44.1"}]}}},
        {"resource": {"resourceType": "DocumentReference", "content": [{"attachment": {"data": note}}]}},
    ]}
    cols, types = project("fhir", bundle)
    assert cols["sex"] == "female" and cols["birth_year"] == 1970 and cols["zip3"] == "021"
    assert cols["encounter_class"] == "IMP" and cols["encounter_start"] == "2024-01-02"
    assert cols["condition_codes"] == "J44.1" and cols["note"] == "[PERSON] improving."
    assert types["encounter_start"] == "DATE"


def test_given_csv_columns_then_reserved_and_unsafe_names_are_left_out() -> None:
    cols, types = project("csv", {"test_code": "2345-7", "value": "5.4", "record_id": "x", "Bad Name;--": "y",
                                  "patient_pseudonym": "k1-P"})
    assert cols == {"test_code": "2345-7", "value": "5.4", "bad_name___": "y", "value_num": 5.4}
    assert types["value_num"] == "DOUBLE"


@pytest.mark.parametrize("payload", ["not hl7", "PID|1||x"])
def test_given_something_that_is_not_hl7_then_projection_refuses(payload: str) -> None:
    with pytest.raises(ValueError):
        project("hl7v2", payload)


def test_given_the_registries_then_every_format_has_a_reader_an_adapter_and_a_projection() -> None:
    from deid import formats as deid_formats
    from gateway import projection
    from gateway.readers import FORMATS

    assert sorted(projection.formats()) == sorted(deid_formats.names()) == sorted(FORMATS)
    with pytest.raises(ValueError, match="registered twice"):
        projection.register("csv", lambda payload: ({}, {}))
