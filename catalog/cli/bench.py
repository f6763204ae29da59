"""`hds bench deid` and `hds bench pipeline`: throughput and memory, reported as ratios against a baseline
run side by side in the same process. JSON on the last line; no thresholds enforced here."""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from catalog.cli import bench_pipeline as pipeline_bench
from catalog.cli.synth.feeds import generate
from gateway.readers import read_feed_file
from gateway.runtime import build_engine
from policies.settings import Settings


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _synth_messages(seed: int, patients: int) -> dict[str, list[Any]]:
    """Synthetic messages per feed, as the publisher would send them."""
    import json

    out: dict[str, list[Any]] = {}
    with tempfile.TemporaryDirectory(prefix="hds-bench-") as d:
        generate(Path(d), seed=seed, patients=patients)
        m = json.loads((Path(d) / "manifest.json").read_text(encoding="utf-8"))
        for hospital, h in m["hospitals"].items():
            for feed, f in h["feeds"].items():
                path = Path(f["file"])
                path = path if path.is_absolute() else Path(d) / path
                for msg in read_feed_file(path, hospital=hospital, feed=feed):
                    out.setdefault(feed, []).append((hospital, msg))
    return out


def bench_structured(settings: Settings, size: int) -> dict[str, Any]:
    """HL7 v2 ADT messages/s through the structured rules (the ADT feed carries no free text)."""
    engine = build_engine(settings)
    msgs = _synth_messages(11, max(40, size // 10)).get("adt", [])
    payloads = [(h, m.payload.decode("utf-8")) for h, m in msgs]
    if not payloads:
        return {"hl7_messages": 0}
    # warm-up (compiles rules, builds the redactor)
    engine.deidentify(payloads[0][1], format="hl7v2", profile="hl7v2-safe-harbor", hospital=payloads[0][0])
    n = 0
    started = time.perf_counter()
    while n < size:
        h, p = payloads[n % len(payloads)]
        r = engine.deidentify(p, format="hl7v2", profile="hl7v2-safe-harbor", hospital=h)
        if not r.ok:
            raise RuntimeError(f"benchmark message rejected: {r.reason}")
        n += 1
    seconds = time.perf_counter() - started
    return {"hl7_messages": n, "hl7_seconds": round(seconds, 3), "hl7_messages_per_s": round(n / seconds, 1)}


PROCESSOR_FEEDS = (("hl7_adt", "adt"), ("csv_rows", "lab"), ("fhir_bundles", "fhir"), ("hl7_oru_notes", "oru"))


def bench_processor(settings: Settings, size: int) -> dict[str, Any]:
    """The gateway's processor in this process (no Kafka), per feed: messages/s with the de-identification as
    shipped, and side by side with the short-text cache of the redactor turned off (every kept or coded text
    analysed again), on the same messages in the same run, both after one untimed pass (steady state)."""
    from deid.engine import Deidentifier
    from deid.keys import Keyring
    from deid.text.redactor import TextRedactor
    from gateway.publish import headers_for
    from gateway.runtime import build_processor
    from policies.topics import raw_topic

    feeds = _synth_messages(17, max(30, size // 4))
    keyring = Keyring(dict(settings.deid_keys), current=settings.deid_key_id)
    variants = {}
    for variant, cache in (("cached", None), ("uncached", 0)):
        redactor = TextRedactor() if cache is None else TextRedactor(cache_texts=cache)
        engine = Deidentifier(keyring=keyring, profiles_dir=settings.profiles_dir, redactor=redactor)
        variants[variant] = (build_processor(settings, engine), redactor)
    out: dict[str, Any] = {}
    for key, feed in PROCESSOR_FEEDS:
        msgs = [(raw_topic(h, feed), m.message_id.encode(), m.payload,
                 {k: v.decode() for k, v in headers_for(h, feed, m)}) for h, m in feeds.get(feed, [])]
        if not msgs:
            continue
        row: dict[str, Any] = {}
        for processor, _ in variants.values():  # warm-up, not timed: steady state (patterns compiled, caches full)
            for topic, k, value, headers in msgs:
                processor.process(topic, k, value, headers)
        for variant, (processor, redactor) in variants.items():
            n = dead = 0
            started = time.perf_counter()
            while n < size:
                topic, k, value, headers = msgs[n % len(msgs)]
                dead += processor.process(topic, k, value, headers).dead_letter
                n += 1
            seconds = time.perf_counter() - started
            row[f"{variant}_messages_per_s"] = round(n / seconds, 1)
            if dead:
                row[f"{variant}_dead_letters"] = dead
        row["messages"] = size
        row["speedup"] = round(row["cached_messages_per_s"] / row["uncached_messages_per_s"], 2)
        out[key] = row
    out["short_text_cache"] = variants["cached"][1].cache_info()
    return out


def bench_deid(settings: Settings, size: int | None) -> dict[str, Any]:
    from deid.text.bench import run as run_text  # loads Presidio and spaCy (seconds): only this benchmark needs them

    _say("free text: default Presidio vs our engine on the same notes ...")
    text = run_text(n_notes=size or 300)
    _say("structured HL7 v2 rules ...")
    structured = bench_structured(settings, (size or 300) * 10)
    _say("gateway processor per feed (in process, no Kafka), with and without the short-text cache ...")
    processor = bench_processor(settings, size or 300)
    text = {k: v for k, v in text.items() if k not in {"benchmark", "peak_rss_mib"}}
    return {"benchmark": "deid", **text, **structured, "processor": processor, "peak_rss_mb": _peak_rss_mb()}


def bench_pipeline(settings: Settings, size: int | None) -> dict[str, Any]:
    """End to end through the embedded broker against the passthrough ceiling (catalog/cli/bench_pipeline.py)."""
    feeds = _synth_messages(13, max(20, (size or 3000) // 12))
    return pipeline_bench.run(settings, feeds)


def run_bench(what: str, settings: Settings, size: int | None = None) -> dict[str, Any]:
    if what == "deid":
        return bench_deid(settings, size)
    if what == "pipeline":
        return bench_pipeline(settings, size)
    raise ValueError("unknown benchmark")
