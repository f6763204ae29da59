"""`hds deid message|risk|eval|text`: JSON lines in and out through the real console script."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

HDS = [sys.executable, "-c", "import sys; from catalog.cli.main import main; sys.exit(main())"]
HL7 = "MSH|^~\\&|A|H|B|C|20240314||ADT^A04|1|P|2.5\rPID|1||M1^^^H^MR||DOE^JANE||19700101|F"


def hds(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "HDS_ENV": "test", "HDS_DEID_KEYS": "t1:cli-test-key-0123456789abcdef0123", **(env or {})}
    return subprocess.run([*HDS, *args], input=stdin, capture_output=True, text=True, cwd=REPO, env=environ, timeout=120)


def test_given_hl7_lines_then_payloads_deidentified_and_bad_line_reported_with_exit_1() -> None:
    lines = [json.dumps({"id": "m1", "payload": HL7}), json.dumps({"id": "m2", "payload": "garbage"}), "{oops"]
    proc = hds("deid", "message", "--format", "hl7v2", "--hospital", "h1", stdin="\n".join(lines) + "\n")
    assert proc.returncode == 1
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert out[0]["id"] == "m1" and "DOE" not in out[0]["payload"] and "|t1-" in out[0]["payload"]
    assert out[1] == {"id": "m2", "error": "hl7_parse_error"}
    assert out[2]["error"] == "bad_input_line" and "oops" not in proc.stdout + proc.stderr
    assert "garbage" not in proc.stderr


def test_given_fhir_line_then_exit_0() -> None:
    line = json.dumps({"id": 7, "payload": {"resourceType": "Patient", "id": "p", "name": [{"family": "Doe"}]}})
    proc = hds("deid", "message", "--format", "fhir", stdin=line + "\n")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["id"] == 7 and out["payload"]["resourceType"] == "Patient" and "name" not in out["payload"]


def test_given_csv_file_then_risk_report_json(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["zip", "sex", "dx"])
        w.writerows([["981", "F", "E11"], ["981", "F", "I10"], ["982", "M", "J45"]])
    proc = hds("deid", "risk", "--csv", str(path), "--quasi", "zip,sex", "--sensitive", "dx", "--k", "2")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["k_anonymity"] == 1 and report["l_diversity"] == 1 and report["records_below_k"] == 1


def test_given_duckdb_table_then_risk_report_json(tmp_path: Path) -> None:
    import duckdb

    db = tmp_path / "c.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('981','F'), ('981','F'), ('982','M'), ('982','M')) v(zip, sex)")
    con.close()
    proc = hds("deid", "risk", "--duckdb", str(db), "--table", "t", "--quasi", "zip,sex", "--k", "2")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["k_anonymity"] == 2


def test_given_missing_column_then_risk_exit_2_naming_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("zip\n981\n")
    proc = hds("deid", "risk", "--csv", str(path), "--quasi", "age")
    assert proc.returncode == 2 and "age" in proc.stdout


def test_deid_help_lists_the_contract_subcommands() -> None:
    proc = hds("deid", "--help")
    assert proc.returncode == 0
    for sub in ("text", "message", "eval", "risk"):
        assert sub in proc.stdout


@pytest.mark.slow
def test_given_text_lines_then_entities_offsets_point_into_original() -> None:
    text = "Patient John Smith seen on 3/14/2024, call 617-555-0199."
    proc = hds("deid", "text", "--lang", "en", stdin=json.dumps({"id": "n1", "text": text}) + "\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["id"] == "n1" and "617-555-0199" not in out["text"]
    assert out["entities"] and all(0 <= e["start"] < e["end"] <= len(text) for e in out["entities"])
    phone = text.index("617-555-0199")
    assert any(e["start"] <= phone and e["end"] >= phone + 12 for e in out["entities"])


@pytest.mark.slow
def test_given_gold_file_then_eval_prints_json_report(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    text = "Call 617-555-0199 about the results."
    gold.write_text(json.dumps({"id": "g1", "text": text, "spans": [{"start": 5, "end": 17, "type": "PHONE"}]}) + "\n")
    proc = hds("deid", "eval", "--gold", str(gold))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["span_recall"] == 1.0 and "char_precision" in report
