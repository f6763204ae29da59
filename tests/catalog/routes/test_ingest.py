"""POST /api/ingest/{hospital}/{feed}: the body is checked against the feed before anything is sent."""

from __future__ import annotations

import httpx
import pytest
from pipeline_kit import Pipeline

from policies.identity.dev_issuer import DevIssuer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ORU = (b"MSH|^~\\&|LAB|STL|H|C|20250101||ORU^R01|L1|P|2.5\rPID|1||777^^^STL^MR||ROE^ANN\rOBR|1|||GLU\r"
       b"OBX|1|NM|GLU||5.4|mmol/L|||||F\r")
CSV = b"mrn,patient_name,value\r\n777,ROE ANN,5.4\r\n"


def post(p: Pipeline, feed: str, body: bytes, ctype: str) -> httpx.Response:
    token = DevIssuer.from_settings(p.settings).issue("pub", ["hospital-publisher"], hospital="st-luke")
    return httpx.post(f"{p.catalog.url}/api/ingest/st-luke/{feed}", content=body, timeout=60,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})


@pytest.mark.parametrize("feed,body,ctype,reason", [
    ("adt", ORU, "application/hl7-v2", "message_type_not_accepted"),  # an ORU on the ADT feed
    ("adt", ORU.replace(b"ORU^R01", b"ADT^A01").split(b"PID|")[0] + b"PV1|1|I\r", "application/hl7-v2",
     "missing_segment"),
    ("adt", CSV, "text/csv", "takes hl7v2"),  # a CSV body on an HL7 feed
    ("lab", ORU, "text/csv", "takes csv"),
])
def test_given_a_body_the_feed_cannot_take_then_422_names_the_rule_and_never_the_content(
        pipeline: Pipeline, feed: str, body: bytes, ctype: str, reason: str) -> None:
    r = post(pipeline, feed, body, ctype)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert reason in detail
    assert "ROE" not in detail and "777" not in detail
