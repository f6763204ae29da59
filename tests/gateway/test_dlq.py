"""`hds dlq list` / `hds dlq replay`: one reader, no content shown, replay after a fix, idempotent downstream."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer

from catalog.loader import Loader
from catalog.store import CatalogStore
from gateway.broker import free_port
from gateway.readers import message_id
from gateway.runtime import build_processor
from gateway.service import GatewayService
from policies.settings import Settings

HDS = [sys.executable, "-m", "catalog.cli.main"]
REPO = Path(__file__).resolve().parents[2]
KEY = "test-key-0123456789-0123456789-abcdef"


def hds(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HDS, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def test_given_an_unreachable_broker_then_dlq_list_and_replay_say_so_in_one_line() -> None:
    address = f"127.0.0.1:{free_port()}"
    for command in ("list", "replay"):
        started = time.monotonic()
        out = hds("dlq", command, "--bootstrap", address)
        assert out.returncode == 1, out.stderr
        assert out.stderr.strip() == f"hds dlq {command}: cannot reach Kafka at {address}"
        assert time.monotonic() - started < 30


def _adt(n: int, event: str) -> bytes:
    return (f"MSH|^~\\&|EPIC|STL|HDS|CITY|20250314083000||ADT^{event}|MSG{n}|P|2.5\r"
            f"EVN|{event}|20250314083000\r"
            f"PID|1||88{n:05d}^^^STL^MR||QUILLFEATHER^ROSALIND||19520607|F\r"
            "PV1|1|I\r").encode()


def _policies(tmp: Path, hospital: str, accepted: list[str]) -> Path:
    """A copy of the project's policies with one more hospital and the ADT feed's accepted events."""
    target = tmp / "policies"
    if not target.exists():
        shutil.copytree(REPO / "policies", target)
    text = (REPO / "policies" / "feeds.yaml").read_text(encoding="utf-8")
    text = text.replace("hospitals:\n", f"hospitals:\n  {hospital}: {{ name: \"Test Hospital\" }}\n", 1)
    start = text.index("    message_types: [ADT^A01")
    end = text.index("]", start) + 1
    text = text[:start] + "    message_types: [" + ", ".join(accepted) + "]" + text[end:]
    (target / "feeds.yaml").write_text(text, encoding="utf-8")
    return target


class Gateway:
    """A real GatewayService on this hospital's raw topics only, in a thread."""

    def __init__(self, settings: Settings, hospital: str, group: str) -> None:
        processor = build_processor(settings)
        self.service = GatewayService(processor, bootstrap=settings.kafka_bootstrap or "", group_id=group,
                                      pattern=rf"^hds\.raw\.{hospital}\..+")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.service.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> "Gateway":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def _wait(cond, timeout: float = 90) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.3)
    return False


@pytest.mark.integration
def test_given_a_profile_fix_then_replay_loads_the_dead_letters_once_however_often_it_runs(
        broker: str, tmp_path: Path) -> None:
    hospital = "t" + uuid.uuid4().hex[:8]
    env = {"HDS_ENV": "test", "HDS_DATA_DIR": str(tmp_path / "data"), "HDS_DEID_KEY": KEY,
           "HDS_KAFKA_BOOTSTRAP": broker}
    before_fix = Settings.from_env({**env, "HDS_POLICIES_DIR": str(_policies(tmp_path, hospital, ["ADT^A01"]))})
    group = f"gw-{hospital}"

    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    topic = f"hds.raw.{hospital}.adt"
    for n, event in ((1, "A01"), (2, "A08"), (3, "A08")):
        value = _adt(n, event)
        producer.send(topic, key=message_id(hospital, "adt", value).encode(), value=value,
                      headers=[("hospital", hospital.encode()), ("feed", b"adt"), ("format", b"hl7v2")]).get(10)
    producer.close()

    store = CatalogStore(tmp_path / "catalog.duckdb")
    loader = Loader(store, bootstrap=broker, group_id=f"ld-{hospital}")
    loader_stop = threading.Event()
    threading.Thread(target=loader.run, args=(loader_stop,), daemon=True).start()

    def rows() -> int:
        try:
            return int(store.cursor().execute("SELECT count(*) FROM admissions WHERE hospital = ?",
                                              [hospital]).fetchone()[0])  # type: ignore[index]
        except Exception:  # noqa: BLE001 - the table appears with the first row
            return 0

    def dead(reason: str | None = None) -> list[dict]:  # type: ignore[type-arg]
        out = hds("dlq", "list", "--hospital", hospital, *(["--reason", reason] if reason else []), env=env)
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.strip().splitlines()]

    try:
        with Gateway(before_fix, hospital, group):
            assert _wait(lambda: rows() == 1 and dead()[-1]["dead_letters"] == 2)
        listed = dead("event_not_accepted")
        assert listed[-1] == {"dead_letters": 2, "reasons": {"event_not_accepted": 2}}
        assert "QUILLFEATHER" not in json.dumps(listed)

        # the fix: the feed now takes ADT^A08; replay what it refused
        after_fix = Settings.from_env({**env, "HDS_POLICIES_DIR": str(_policies(tmp_path, hospital,
                                                                                  ["ADT^A01", "ADT^A08"]))})
        with Gateway(after_fix, hospital, group) as gw:
            out = hds("dlq", "replay", "--hospital", hospital, "--reason", "event_not_accepted", env=env)
            assert out.returncode == 0, out.stderr
            assert json.loads(out.stdout.strip().splitlines()[-1])["replayed"] == 2
            assert _wait(lambda: rows() == 3)
            # a second replay sends them again; the same record ids mean nothing more lands downstream
            consumed = loader.stats.consumed
            again = hds("dlq", "replay", "--hospital", hospital, env=env)
            assert json.loads(again.stdout.strip().splitlines()[-1])["replayed"] == 2
            assert _wait(lambda: gw.service.stats.produced == 4)  # both replays de-identified ...
            assert _wait(lambda: loader.stats.consumed >= consumed + 2 and loader.stats.lag() == 0)  # ... and read
            assert rows() == 3
            ids = store.cursor().execute("SELECT count(DISTINCT record_id) FROM admissions WHERE hospital = ?",
                                         [hospital]).fetchone()[0]  # type: ignore[index]
            assert ids == 3
        assert dead()[-1]["dead_letters"] == 2  # replays that succeed add no dead letter
    finally:
        loader_stop.set()
        time.sleep(1)
        store.close()


@pytest.mark.parametrize("headers,dlq_key,expected", [
    ({"dlq-source-key": b"mid-1".hex()}, b"a-dead-letter-id", b"mid-1"),  # the raw key, not the letter's own
    ({"dlq-source-key": ""}, b"a-dead-letter-id", None),  # the message had no key
    ({"dlq-source-key": "not hex"}, b"a-dead-letter-id", None),
    ({}, b"mid-2", b"mid-2"),  # written before the header existed: keyed like its source
])
def test_given_a_dead_letter_then_replay_uses_the_key_it_had_on_its_raw_topic(
        headers: dict[str, str], dlq_key: bytes, expected: bytes | None) -> None:
    from gateway.dlq import DeadLetter

    letter = DeadLetter("hds.dlq.h.adt", 0, 7, dlq_key, b"MSH|...", {"dlq-source-topic": "hds.raw.h.adt", **headers})
    assert letter.source_key == expected
    assert "source_key" not in json.dumps(letter.listing())


@pytest.mark.integration
def test_given_a_retried_slice_wrote_a_dead_letter_twice_then_list_and_counter_count_its_input_once(
        broker: str) -> None:
    """At-least-once writes: a slice retried after a failed produce dead-letters the same input record again under
    a new DLQ offset. Listing, counting and the demo's counter report each input record once; a different input
    (another source offset) still counts. Planted here by writing the letters directly."""
    from gateway.dlq import DeadLetterCounter, DeadLetterReader, dlq_pattern

    hospital = "t" + uuid.uuid4().hex[:8]
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")

    def letter(offset: int) -> None:
        headers = {"dlq-reason": "event_not_accepted", "dlq-source-topic": f"hds.raw.{hospital}.adt",
                   "dlq-source-partition": "0", "dlq-source-offset": str(offset), "hospital": hospital, "feed": "adt"}
        producer.send(f"hds.dlq.{hospital}.adt", key=b"k", value=b"MSH|^~\\&|x",
                      headers=[(k, v.encode()) for k, v in headers.items()]).get(10)

    for offset in (5, 5, 5, 6):  # input 5 dead-lettered three times (two retries), input 6 once
        letter(offset)
    producer.close()

    with DeadLetterReader(broker, pattern=dlq_pattern(hospital, "adt")) as reader:
        read = list(reader.read_all(idle_s=2.0))
        assert sorted(r.headers["dlq-source-offset"] for r in read) == ["5", "6"]
        assert reader.repeats == 2
    out = hds("dlq", "list", "--hospital", hospital, "--summary", env={"HDS_KAFKA_BOOTSTRAP": broker})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"dead_letters": 2,
                                                               "reasons": {"event_not_accepted": 2}}
    counter = DeadLetterCounter(broker, pattern=dlq_pattern(hospital, "adt"))
    try:
        deadline = time.monotonic() + 30
        while counter.poll() < 2 and time.monotonic() < deadline:
            pass
        time.sleep(1.5)
        assert counter.poll() == 2 and counter.reasons == {"event_not_accepted": 2}
    finally:
        counter.close()
