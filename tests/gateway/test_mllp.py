"""`hds mllp` / gateway.mllp: HL7 v2 over MLLP against the real broker, with python-hl7's MLLP client and raw sockets.

AA only after the broker has the message; AR with a reason code for what the feed cannot take; AE or no answer,
never AA, when the broker is away; nothing written for a client that hangs up inside a message."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hl7.client import MLLPClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from policies.feeds import FeedConfig
from gateway.kafka_io import make_producer
from gateway.mllp import KafkaWriter, MllpListener, feed_check, run_listener, start_health_server

pytestmark = pytest.mark.integration

SB, EB, CR = b"\x0b", b"\x1c", b"\r"
ADT = ("MSH|^~\\&|EPIC|STLUKE|HDS|CITY|20250314083200||ADT^A01^ADT_A01|CTRL{n}|P|2.5\r"
       "EVN|A01|20250314083200\r"
       "PID|1||48{n:05d}^^^STLUKE^MR||ZELLWEGER^ODALYS||19800101|F|||12 Quarry Lane^^Salem^MA^01970\r"
       "PV1|1|I\r")
ORU = ("MSH|^~\\&|LAB|STLUKE|HDS|CITY|20250314083200||ORU^R01^ORU_R01|LAB7|P|2.5\r"
       "PID|1||4800001^^^STLUKE^MR||ZELLWEGER^ODALYS\rOBR|1|||GLU\rOBX|1|NM|GLU||5.4|mmol/L|||||F\r")
SECRETS = ("ZELLWEGER", "ODALYS", "Quarry")


def adt_feed(feed: str) -> FeedConfig:
    return FeedConfig("st-luke", feed, "hl7v2", "hl7v2-safe-harbor", "admissions", ("ADT^A01", "ADT^A08"), ("PID",))


class Running:
    def __init__(self, listener: MllpListener) -> None:
        self.listener = listener
        self.stop = threading.Event()
        self.thread = threading.Thread(target=run_listener, args=(listener, self.stop), daemon=True)

    def __enter__(self) -> "Running":
        self.thread.start()
        assert self.listener.listening.wait(10), "the listener did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)

    def client(self) -> MLLPClient:
        c = MLLPClient("127.0.0.1", self.listener.port)
        c.socket.settimeout(30)
        return c


@pytest.fixture()
def feed() -> str:
    return "m" + uuid.uuid4().hex[:8]


@pytest.fixture()
def running(broker: str, feed: str) -> Iterator[Running]:
    producer = make_producer(broker, client_id="test-mllp", deadline_ms=5000)
    writer = KafkaWriter(producer, "st-luke", feed, timeout_s=5)
    listener = MllpListener(hospital="st-luke", feed=feed, writer=writer, check=feed_check(adt_feed(feed)), port=0,
                            ready=writer.connected, write_timeout_s=6)
    with Running(listener) as r:
        yield r
    producer.close(timeout=5)


def topic_messages(broker: str, topic: str, idle_s: float = 1.5) -> list[tuple[bytes, bytes]]:
    """Every (key, value) on `topic` (no consumer group)."""
    c = KafkaConsumer(bootstrap_servers=broker, group_id=None, enable_auto_commit=False, request_timeout_ms=10_000)
    try:
        parts = c.partitions_for_topic(topic) or set()
        if not parts:
            return []
        tps = [TopicPartition(topic, p) for p in parts]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        out: list[tuple[bytes, bytes]] = []
        quiet = time.monotonic()
        while time.monotonic() - quiet < idle_s:
            for records in c.poll(timeout_ms=300).values():
                quiet = time.monotonic()
                out.extend((r.key, r.value) for r in records)
        return out
    finally:
        c.close()


def msa(ack: bytes) -> list[str]:
    segments = ack.strip(SB + EB + CR).decode().split("\r")
    assert segments[0].startswith("MSH|^~\\&|") and "|ACK^" in segments[0]
    line = next(s for s in segments if s.startswith("MSA|"))
    return line.split("|")


def test_given_a_valid_adt_then_aa_names_its_control_id_and_the_broker_has_it(running: Running, broker: str,
                                                                             feed: str) -> None:
    sent = [ADT.format(n=1), ADT.format(n=2).replace("ADT^A01", "ADT^A08")]
    with running.client() as c:
        first, second = (c.send_message(m) for m in sent)
    assert msa(first)[:3] == ["MSA", "AA", "CTRL1"] and msa(second)[:3] == ["MSA", "AA", "CTRL2"]
    stored = topic_messages(broker, f"hds.raw.st-luke.{feed}")
    assert sorted(v for _, v in stored) == sorted(m.rstrip("\r").encode() for m in sent)
    assert all(len(k) == 32 for k, _ in stored)  # the stable message id, as hds publish sends it
    assert running.listener.stats.accepted == 2


@pytest.mark.parametrize("message,reason,code", [
    (ORU, "message_type_not_accepted", "200"),
    (ADT.format(n=3).replace("ADT^A01", "ADT^A40"), "event_not_accepted", "201"),
    ("MSH|^~\\&|EPIC|STLUKE|HDS|CITY|20250314||ADT^A01|CTRL4|P|2.5\rEVN|A01|20250314\rPV1|1|I\r", "missing_segment",
     "100"),
    ("MSH|^~\\&|EPIC|STLUKE|HDS|CITY|20250314||ADT^A01|CTRL5|P|2.5\rEVN|A01|20250314\rPID|1|", "hl7_truncated_segment",
     "100"),
    ("MSH|^~\\&|EPIC|STLUKE|HDS|CITY|20250314||ADT^A01|CTRL6|P|2.5\rPID|1||4800006||ZELLWEGER^ODALYS\\", "hl7_truncated_escape",
     "100"),
    (ADT.format(n=7) + ADT.format(n=8), "one_message_per_block", "100"),
])
def test_given_a_message_the_feed_cannot_take_then_ar_with_a_reason_and_nothing_written(
        running: Running, broker: str, feed: str, message: str, reason: str, code: str) -> None:
    with running.client() as c:
        ack = c.send_message(message)
    fields = msa(ack)
    assert fields[1] == "AR" and reason in fields[3]
    err = next(s for s in ack.decode().split("\r") if s.startswith("ERR|"))
    assert err.split("|")[3].split("^")[0] == code
    assert not any(s in ack.decode() for s in SECRETS)  # the answer names the reason, never content
    assert topic_messages(broker, f"hds.raw.st-luke.{feed}") == []


def test_given_a_client_that_hangs_up_inside_a_message_then_nothing_is_written_and_others_go_on(
        running: Running, broker: str, feed: str) -> None:
    whole = ADT.format(n=11).encode()
    with socket.create_connection(("127.0.0.1", running.listener.port), timeout=10) as s:
        s.sendall(SB + whole[: len(whole) // 2])
        time.sleep(0.3)
    with socket.create_connection(("127.0.0.1", running.listener.port), timeout=10) as s:
        s.sendall(SB + whole + EB)  # end block without its CR: still not a complete frame
        time.sleep(0.3)
    with running.client() as c:
        assert msa(c.send_message(ADT.format(n=12)))[1:3] == ["AA", "CTRL12"]
    assert [v for _, v in topic_messages(broker, f"hds.raw.st-luke.{feed}")] == [ADT.format(n=12).rstrip("\r").encode()]
    assert running.listener.stats.incomplete == 2


def test_given_several_frames_in_one_write_then_each_gets_its_own_ack_in_order(running: Running) -> None:
    frames = b"".join(SB + ADT.format(n=n).encode() + EB + CR for n in (21, 22, 23))
    with socket.create_connection(("127.0.0.1", running.listener.port), timeout=30) as s:
        s.sendall(frames)
        data = b""
        while data.count(EB + CR) < 3:
            chunk = s.recv(4096)
            assert chunk, "the listener closed before answering every frame"
            data += chunk
    acks = [msa(SB + part) for part in data.split(EB + CR) if part.strip()]
    assert [a[1:3] for a in acks] == [["AA", "CTRL21"], ["AA", "CTRL22"], ["AA", "CTRL23"]]


def test_given_bytes_before_the_start_block_then_ar_and_the_connection_closes(running: Running) -> None:
    with socket.create_connection(("127.0.0.1", running.listener.port), timeout=10) as s:
        s.sendall(b"GARBAGE" + SB + ADT.format(n=31).encode() + EB + CR)
        ack = s.recv(4096)
        assert msa(ack)[1] == "AR" and "mllp_framing_error" in ack.decode()
        assert s.recv(4096) == b""  # closed


def _cuts_inside_required_fields(message: str) -> list[int]:
    """Cut positions that fall before the last required field of MSH (MSH-12) or PID (PID-3) has begun."""
    cuts: list[int] = []
    offset = 0
    for segment in message.split("\r"):
        need = {"MSH": 11, "PID": 3}.get(segment[:3])  # separators before the last required field
        if need is not None:
            last = [i for i, ch in enumerate(segment) if ch == "|"][need - 1]
            cuts.extend(range(offset + 1, offset + last + 1))
        offset += len(segment) + 1
    return cuts


CUTS = _cuts_inside_required_fields(ADT.format(n=41))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.sampled_from(CUTS), junk=st.text(alphabet="ABC019 ^~&\\", max_size=6))
def test_given_a_message_cut_inside_a_required_segment_then_ar_never_aa_and_no_content_in_the_answer(
        running: Running, cut: int, junk: str) -> None:
    message = (ADT.format(n=41)[:cut] + junk).encode()
    verdict = running.listener._validate(message)[0]
    assert verdict is not None and verdict.code == "AR", (cut, junk)
    ack = running.listener.ack(message, verdict)
    assert "|AR|" in ack and not any(s in ack for s in SECRETS)


def test_given_the_broker_goes_away_then_ae_or_no_answer_never_aa(tmp_path: Path, feed: str) -> None:
    from gateway.broker import EmbeddedBroker

    b = EmbeddedBroker(log_file=tmp_path / "broker.log").start()
    producer = make_producer(b.bootstrap, client_id="test-mllp-outage", deadline_ms=3000)
    writer = KafkaWriter(producer, "st-luke", feed, timeout_s=3)
    listener = MllpListener(hospital="st-luke", feed=feed, writer=writer, check=feed_check(adt_feed(feed)), port=0,
                            ready=writer.connected, write_timeout_s=4)
    health = start_health_server(listener, 0)
    url = f"http://127.0.0.1:{health.server_address[1]}"
    try:
        with Running(listener) as r:
            with r.client() as c:
                assert msa(c.send_message(ADT.format(n=51)))[1] == "AA"
            assert _status(url + "/health/ready") == 200
            b.stop()
            answers = []
            for n in (52, 53):
                try:
                    with r.client() as c:
                        answers.append(msa(c.send_message(ADT.format(n=n)))[1])
                except (OSError, StopIteration):
                    answers.append(None)  # no answer is allowed; a false AA is not
            assert answers and all(a in ("AE", None) for a in answers), answers
            assert "AE" in answers
            assert _status(url + "/health/ready") == 503  # a write failed: not ready
            assert _status(url + "/health/live") == 200  # but alive
    finally:
        health.shutdown()
        with contextlib.suppress(Exception):  # records left unacknowledged were answered AE
            producer.close(timeout=2)
        b.stop()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - loopback test endpoint
            json.loads(r.read())
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_given_hds_mllp_then_it_listens_on_loopback_and_refuses_unknown_feeds(broker: str, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "catalog.cli.main", "mllp", "--hospital", "st-luke", "--feed", "nosuchfeed",
                          "--bootstrap", broker], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "nosuchfeed" in out.stderr
    out = subprocess.run([sys.executable, "-m", "catalog.cli.main", "mllp", "--hospital", "st-luke", "--feed", "fhir",
                          "--bootstrap", broker], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "HL7 v2" in out.stderr

    proc = subprocess.Popen([sys.executable, "-m", "catalog.cli.main", "mllp", "--hospital", "st-luke", "--feed", "adt",
                             "--port", "0", "--bootstrap", broker], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        host, _, port = proc.stdout.readline().strip().rpartition(":")  # type: ignore[union-attr]
        assert host == "127.0.0.1" and port.isdigit()
        with MLLPClient(host, int(port)) as c:
            c.socket.settimeout(30)
            assert msa(c.send_message(ADT.format(n=61)))[1:3] == ["AA", "CTRL61"]
            assert msa(c.send_message(ORU))[1] == "AR"  # the adt feed in policies/feeds.yaml takes ADT only
        # python-hl7's own command-line sender, with a file as an editor leaves it (LF line ends)
        capture = tmp_path / "two.hl7"
        capture.write_text("\n".join(ADT.format(n=n).replace("\r", "\n") for n in (62, 63)))
        sent = subprocess.run([str(Path(sys.executable).parent / "mllp_send"), "--loose", "--file", str(capture),
                               "--port", port, host], capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        assert sent.stdout.count("MSA|AA|") == 2 and "MSA|AA|CTRL62" in sent.stdout and "MSA|AA|CTRL63" in sent.stdout
        proc.terminate()
        assert proc.wait(timeout=20) == 0
        stats = json.loads(proc.stdout.read().strip().splitlines()[-1])  # type: ignore[union-attr]
        assert stats["accepted"] == 3 and stats["rejected"] == 1
    finally:
        if proc.poll() is None:
            proc.kill()
