"""The `hds` command-line contracts, run as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer

HDS = [sys.executable, "-m", "catalog.cli.main"]
REPO = Path(__file__).resolve().parents[3]


def hds(*args: str, env: dict[str, str] | None = None, timeout: float = 120, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, **(env or {})}
    return subprocess.run([*HDS, *args], capture_output=True, text=True, timeout=timeout, env=e, input=stdin)


def test_given_help_then_every_contract_subcommand_is_listed() -> None:
    out = hds("--help")
    assert out.returncode == 0
    for name in ("broker", "gateway", "catalog", "publish", "demo", "deid", "token", "bench", "synth", "audit", "keycloak"):
        assert f"    {name}" in out.stdout, name


HEAVY = ("presidio_analyzer", "spacy", "duckdb", "fastapi")

# Runs `hds` in-process with the given arguments, then prints which heavy libraries it loaded (one JSON line).
_PROBE = """
import json, sys
from catalog.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
"""


def _loaded_by(*args: str, data_dir: Path | None = None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("HDS_OIDC_ISSUER", "HDS_KEYCLOAK_URL", "HDS_ENV")}
    if data_dir is not None:
        env["HDS_DATA_DIR"] = str(data_dir)  # the embedded dev issuer keeps its signing key there
    out = subprocess.run([sys.executable, "-c", _PROBE % (HEAVY,), *args], capture_output=True, text=True,
                         timeout=120, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_given_help_and_light_commands_then_no_heavy_library_is_imported(tmp_path: Path) -> None:
    assert _loaded_by("--help") == {"code": 0, "loaded": []}
    assert _loaded_by("deid", "--help") == {"code": 0, "loaded": []}
    assert _loaded_by("token", "--user", "u1", "--role", "researcher", data_dir=tmp_path) == {"code": 0, "loaded": []}
    missing = str(tmp_path / "missing.hl7")
    assert _loaded_by("publish", "--hospital", "st-luke", "--feed", "adt", "--bootstrap", "127.0.0.1:9",
                      missing) == {"code": 2, "loaded": []}


def test_given_a_command_that_needs_duckdb_then_the_probe_sees_it_loaded(tmp_path: Path) -> None:
    # The check above can fail: `audit verify` on an existing file loads DuckDB, and the probe reports it.
    import duckdb

    db = tmp_path / "catalog.duckdb"
    duckdb.connect(str(db)).close()
    result = _loaded_by("audit", "verify", "--db", str(db))
    assert "duckdb" in result["loaded"]  # type: ignore[operator]


@pytest.mark.integration
def test_given_hds_broker_then_it_prints_its_address_and_stops_on_sigint() -> None:
    proc = subprocess.Popen([*HDS, "broker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()  # type: ignore[union-attr]
        host, _, port = line.rpartition(":")
        assert host == "127.0.0.1" and port.isdigit()
        c = KafkaConsumer(bootstrap_servers=line, request_timeout_ms=10_000)
        assert isinstance(c.topics(), set)
        c.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.integration
def test_given_a_bad_file_among_good_ones_then_publish_names_it_and_publishes_nothing(broker: str, tmp_path: Path) -> None:
    good = tmp_path / "good.hl7"
    good.write_bytes(b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rPID|1||1^^^X^MR||DOE^JANE\r")
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "Patient", "id": ')
    feed = "f" + uuid.uuid4().hex[:8]
    env = {"HDS_POLICIES_DIR": str(_policies_with_feed(tmp_path, feed, "hl7v2"))}
    out = hds("publish", "--hospital", "st-luke", "--feed", feed, "--bootstrap", broker, str(good), str(bad), env=env)
    assert out.returncode == 1
    assert "bad.json" in out.stderr and "nothing was published" in out.stderr
    assert "resourceType" not in out.stderr  # the error names the file and position, never content
    c = KafkaConsumer(bootstrap_servers=broker)
    assert f"hds.raw.st-luke.{feed}" not in c.topics()
    c.close()

    out = hds("publish", "--hospital", "st-luke", "--feed", feed, "--bootstrap", broker, str(good), env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"topic": f"hds.raw.st-luke.{feed}", "files": 1, "messages": 1}


def _policies_with_feed(tmp_path: Path, feed: str, format: str) -> Path:
    """The project's policies plus one feed (a fresh topic name per test)."""
    import shutil

    target = tmp_path / "policies"
    shutil.copytree(REPO / "policies", target)
    text = (target / "feeds.yaml").read_text(encoding="utf-8").replace(
        "feeds:\n", f"feeds:\n  {feed}:\n    format: {format}\n    profile: hl7v2-safe-harbor\n"
        "    dataset: admissions\n", 1)
    (target / "feeds.yaml").write_text(text, encoding="utf-8")
    return target


PUBLISH_REFUSALS = [
    # (hospital, feed, file name, content, words the refusal must contain)
    ("nowhere", "adt", "adt.hl7", b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rPID|1||1^^^X^MR||DOE^JANE\r",
     ["no feed 'adt' for hospital 'nowhere'"]),
    ("st-luke", "nosuchfeed", "adt.hl7", b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rPID|1||1^^^X^MR||DOE^JANE\r",
     ["no feed 'nosuchfeed'"]),
    ("st-luke", "lab", "admit.hl7", b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rPID|1||1^^^X^MR||DOE^JANE\r",
     ["admit.hl7", "looks like hl7v2", "takes csv"]),
    ("st-luke", "adt", "results.hl7",
     b"MSH|^~\\&|A|B|C|D|20250101||ORU^R01|1|P|2.5\rPID|1||1^^^X^MR||DOE^JANE\rOBR|1|||GLU\rOBX|1|NM|GLU||5\r",
     ["results.hl7", "message 1", "message_type_not_accepted"]),
    ("st-luke", "adt", "nopid.hl7", b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rEVN|A01|20250101\rPV1|1|I\r",
     ["nopid.hl7", "missing_segment (PID)"]),
    ("st-luke", "adt", "cut.hl7", b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rEVN|A01|20250101\rPID|1|",
     ["cut.hl7", "hl7_truncated_segment"]),
]


@pytest.mark.parametrize("hospital,feed,name,content,words", PUBLISH_REFUSALS)
def test_given_a_publish_the_feed_cannot_take_then_it_is_refused_before_kafka_is_contacted(
        tmp_path: Path, hospital: str, feed: str, name: str, content: bytes, words: list[str]) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    # a broker address nobody listens on: a refusal that names the file (not the broker) came before any send
    out = hds("publish", "--hospital", hospital, "--feed", feed, "--bootstrap", "127.0.0.1:1", str(path))
    assert out.returncode != 0
    for w in words:
        assert w in out.stderr, (w, out.stderr)
    assert "cannot reach Kafka" not in out.stderr and "Traceback" not in out.stderr
    assert "DOE" not in out.stderr and "JANE" not in out.stderr


def test_given_no_broker_then_publish_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "adt.hl7"
    path.write_bytes(b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rPID|1||1^^^X^MR||DOE^JANE\r")
    out = hds("publish", "--hospital", "st-luke", "--feed", "adt", "--bootstrap", "127.0.0.1:1", str(path))
    assert out.returncode == 1
    assert out.stderr.strip() == "hds publish: cannot reach Kafka at 127.0.0.1:1 (nothing was published)"


def test_given_no_kafka_then_the_gateway_explains_how_to_get_one() -> None:
    env = {k: v for k, v in os.environ.items() if k != "HDS_KAFKA_BOOTSTRAP"}
    out = subprocess.run([*HDS, "gateway"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode != 0 and "HDS_KAFKA_BOOTSTRAP" in out.stderr


def test_given_production_without_keys_then_commands_refuse_to_start() -> None:
    out = hds("synth", "--out", "/nonexistent-not-used", env={"HDS_ENV": "production", "HDS_DEID_KEY": ""})
    # synth needs no key; the gateway does, and says which variable is missing without echoing any secret
    out = hds("gateway", "--bootstrap", "127.0.0.1:1", env={"HDS_ENV": "production", "HDS_DEID_KEY": ""})
    assert out.returncode == 2 and "HDS_DEID_KEY" in out.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_given_demo_smoke_then_it_exits_0_and_prints_a_json_summary_last(tmp_path: Path) -> None:
    started = time.monotonic()
    out = hds("demo", "--smoke", "--data-dir", str(tmp_path / "data"), timeout=400,
              env={"HDS_KAFKA_BOOTSTRAP": "", "HDS_ENV": "development"})
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert out.returncode == 0, summary
    assert summary["ok"] is True
    assert set(summary["datasets"]) == {"admissions", "lab_reports", "clinical_records", "lab_results"}
    assert all(n > 0 for n in summary["rows"].values())
    assert summary["messages_published"] == summary["rows_loaded"] + summary["dead_lettered"]
    assert summary["feeds_reached"] == summary["feeds_expected"] == 12
    assert sum(summary["identifier_leaks"].values()) == 0
    assert 0 < summary["seconds"] < time.monotonic() - started + 1


@pytest.mark.integration
def test_given_dead_letters_then_dlq_list_shows_reasons_and_positions_but_never_content(broker: str) -> None:
    from kafka import KafkaProducer

    hospital = "h" + uuid.uuid4().hex[:8]
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    secret = b"PID|1||9988776^^^X^MR||SECRETNAME^ANNA"
    for i in range(3):
        producer.send(f"hds.dlq.{hospital}.adt", value=secret, headers=[
            ("dlq-reason", b"hl7_parse_error"), ("dlq-detail", b"segment 2"), ("dlq-source-offset", str(i).encode()),
            ("message-id", f"m{i}".encode())]).get(10)
    producer.close()
    out = hds("dlq", "list", "--hospital", hospital, "--bootstrap", broker)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.strip().splitlines()]
    assert lines[-1] == {"dead_letters": 3, "reasons": {"hl7_parse_error": 3}}
    assert {x["source_offset"] for x in lines[:-1]} == {"0", "1", "2"}
    assert all(x["bytes"] == len(secret) and x["detail"] == "segment 2" for x in lines[:-1])
    assert "SECRETNAME" not in out.stdout and "9988776" not in out.stdout
