"""`hds bench deid` and `hds bench pipeline`: throughput and memory, reported as ratios against a baseline
run side by side in the same process. JSON on the last line; no thresholds enforced here."""

from __future__ import annotations

import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from catalog.cli.synth.feeds import generate
from catalog.loader import Loader
from catalog.store import CatalogStore
from gateway.broker import EmbeddedBroker
from gateway.kafka_io import PatternFollower, ensure_topics, make_consumer, make_producer
from gateway.publish import send_messages
from gateway.readers import read_feed_file
from gateway.runtime import build_engine, build_processor
from gateway.service import GatewayService
from policies.feeds import FeedRegistry
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


def bench_deid(settings: Settings, size: int | None) -> dict[str, Any]:
    from deid.text.bench import run as run_text  # loads Presidio and spaCy (seconds): only this benchmark needs them

    _say("free text: default Presidio vs our engine on the same notes ...")
    text = run_text(n_notes=size or 300)
    _say("structured HL7 v2 rules ...")
    structured = bench_structured(settings, (size or 300) * 10)
    text = {k: v for k, v in text.items() if k not in {"benchmark", "peak_rss_mib"}}
    return {"benchmark": "deid", **text, **structured, "peak_rss_mb": _peak_rss_mb()}


def bench_pipeline(settings: Settings, size: int | None) -> dict[str, Any]:
    """End to end through the embedded broker: publish -> gateway -> loader -> DuckDB, against a baseline of
    the same messages passed through Kafka with no processing (produce -> consume) in the same run."""
    patients = max(20, (size or 3000) // 12)
    feeds = _synth_messages(13, patients)
    total = sum(len(v) for v in feeds.values())
    _say(f"{total} synthetic messages")

    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="hds-bench-") as d:
        registry = FeedRegistry.load(settings.feeds_file)
        passthrough = [f"bench.passthrough.{h}.{f}" for h in registry.hospitals for f in registry.feeds]
        ensure_topics(broker.bootstrap, registry.raw_topics() + registry.deid_topics() + passthrough)
        producer = make_producer(broker.bootstrap, client_id="bench")
        # Baseline: the same bytes through Kafka with no processing (produce, then consume them all), with
        # the same static partition assignment the pipeline uses on one machine.
        consumer = make_consumer(broker.bootstrap, group_id="bench-baseline")
        follower = PatternFollower(consumer, r"^bench\.passthrough\..+", refresh_s=0)
        follower.refresh()
        started = time.perf_counter()
        for feed, items in feeds.items():
            for hospital, m in items:
                producer.send(f"bench.passthrough.{hospital}.{feed}", value=m.payload)
        producer.flush()
        seen = 0
        while seen < total:
            seen += sum(len(v) for v in consumer.poll(timeout_ms=500).values())
        consumer.close()
        baseline_s = time.perf_counter() - started

        s = settings.with_(kafka_bootstrap=broker.bootstrap, data_dir=Path(d), catalog_db=Path(d) / "c.duckdb")
        processor = build_processor(s)
        store = CatalogStore(s.db_path)
        stop = threading.Event()
        gateway = GatewayService(processor, bootstrap=broker.bootstrap, group_id="bench-gw")
        loader = Loader(store, bootstrap=broker.bootstrap, group_id="bench-loader")
        threads = [threading.Thread(target=gateway.run, args=(stop,), daemon=True),
                   threading.Thread(target=loader.run, args=(stop,), daemon=True)]
        for t in threads:
            t.start()
        # warm the engine before timing (model load is start-up cost, not throughput), let both consumers
        # pick up their partitions
        processor.process("hds.raw.st-luke.oru", None, feeds["oru"][0][1].payload, {})
        gateway.ready.wait(30)
        loader.ready.wait(30)
        time.sleep(3)
        started = time.perf_counter()
        for feed, items in feeds.items():
            by_h: dict[str, list[Any]] = {}
            for hospital, m in items:
                by_h.setdefault(hospital, []).append(m)
            for hospital, ms in by_h.items():
                send_messages(producer, hospital, feed, ms)
        deadline = time.monotonic() + 600
        while loader.stats.loaded + gateway.stats.dead_lettered < total and time.monotonic() < deadline:
            time.sleep(0.2)
        pipeline_s = time.perf_counter() - started
        stop.set()
        for t in threads:
            t.join(20)
        producer.close()
        store.close()
    return {
        "benchmark": "pipeline", "messages": total, "loaded": loader.stats.loaded,
        "dead_lettered": gateway.stats.dead_lettered,
        "pipeline_seconds": round(pipeline_s, 2), "pipeline_messages_per_s": round(total / pipeline_s, 1),
        "baseline_passthrough_seconds": round(baseline_s, 2),
        "baseline_messages_per_s": round(total / baseline_s, 1),
        "ratio_pipeline_to_passthrough": round((total / pipeline_s) / (total / baseline_s), 3),
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_bench(what: str, settings: Settings, size: int | None = None) -> dict[str, Any]:
    if what == "deid":
        return bench_deid(settings, size)
    if what == "pipeline":
        return bench_pipeline(settings, size)
    raise ValueError("unknown benchmark")
