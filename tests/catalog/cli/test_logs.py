"""JSON logs carry codes and record ids, never values: an identifier planted in messages never reaches them."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from catalog.cli import logs
from catalog.cli.synth.feeds import generate
from gateway.readers import read_feed_file
from gateway.runtime import build_processor
from policies.settings import Settings

CANARY_FAMILY, CANARY_GIVEN, CANARY_MRN = "Quintaviusfeather", "Zebulonna", "CNRY-7731-0042"


def planted_adt(tmp_path: Path) -> bytes:
    generate(tmp_path / "feeds", seed=3, patients=12)
    msg = read_feed_file(tmp_path / "feeds" / "st-luke" / "adt.hl7", hospital="st-luke", feed="adt")[0]
    segments = msg.payload.decode().split("\r")
    for i, seg in enumerate(segments):
        if seg.startswith("PID|"):
            f = seg.split("|")
            f[3], f[5] = f"{CANARY_MRN}^^^STL^MR", f"{CANARY_FAMILY}^{CANARY_GIVEN}"
            segments[i] = "|".join(f)
    return "\r".join(segments).encode()


def leaks(lines: list[str]) -> list[str]:
    return [ln for ln in lines if any(c.lower() in ln.lower() for c in (CANARY_FAMILY, CANARY_GIVEN, CANARY_MRN))]


@pytest.fixture()
def json_lines():  # type: ignore[no-untyped-def]
    before = logging.getLogger().handlers[:], logging.getLogger().level
    out = io.StringIO()
    logs.configure(logging.DEBUG, "json", stream=out)
    for name in ("gateway", "deid", "catalog", "policies"):
        logging.getLogger(name).setLevel(logging.DEBUG)

    def read() -> list[str]:
        return [ln for ln in out.getvalue().splitlines() if ln.strip()]

    yield read
    root = logging.getLogger()
    for h in root.handlers[:]:
        root.removeHandler(h)
    for h in before[0]:
        root.addHandler(h)
    root.setLevel(before[1])


def test_given_json_logs_then_dead_letters_are_logged_by_record_id_without_the_planted_identifier(
        settings: Settings, tmp_path: Path, json_lines) -> None:  # type: ignore[no-untyped-def]
    processor = build_processor(settings)
    value = planted_adt(tmp_path)
    ok = processor.process("hds.raw.st-luke.adt", b"m1", value, {})
    assert not ok.dead_letter, ok.reason
    dead = processor.process("hds.raw.st-luke.adt", b"m2", value, {"hospital": "riverside"})  # header mismatch
    assert dead.dead_letter
    lines = json_lines()
    assert [ln for ln in lines if not ln.startswith("{")] == [], "\n".join(lines[:40])
    records = [json.loads(ln) for ln in lines]  # every line is one JSON object
    letters = [r for r in records if r.get("reason") == "header_mismatch"]
    assert len(letters) == 1
    assert letters[0]["record_id"] == processor.record_id("st-luke", "adt", b"m2", value)
    assert letters[0]["source_topic"] == "hds.raw.st-luke.adt" and letters[0]["level"] == "INFO"
    assert leaks(lines) == []


def test_given_a_value_logged_by_mistake_then_the_leak_check_finds_it(json_lines) -> None:  # type: ignore[no-untyped-def]
    logging.getLogger("gateway.processor").warning("bad message from %s", CANARY_FAMILY)  # a planted leak
    found = leaks(json_lines())
    assert len(found) == 1 and json.loads(found[0])["logger"] == "gateway.processor"


def test_given_an_unknown_log_format_then_configuration_refuses_it() -> None:
    with pytest.raises(ValueError, match="text or json"):
        logs.configure(logging.INFO, "xml")
