"""`hds bench pipeline`: the streaming path measured against its ceiling, the same bytes passed through Kafka.

Each measurement gets a fresh embedded broker. Gateways run as real `hds gateway` processes (one, then two in
a consumer group); they are started and ready before the clock starts (start-up is not throughput). Reported:

- `passthrough_messages_per_s`: produce every message, then consume them all, no processing: the ceiling.
- per format (`hl7_adt`, `hl7_oru_notes`, `fhir_bundles`, `csv_rows`): messages/s from the first publish to the
  last output on hds.deid.* / hds.dlq.*, and its ratio to the passthrough of the same messages.
- `hl7_adt_two_gateways`: the same ADT load through two gateway processes sharing partitions (group mode).
- `loader`: de-identified records already on hds.deid.* loaded into a fresh DuckDB file (rows/s from the loader's
  start), with the same records only consumed (`consume_only_rows_per_s`, the Kafka ceiling) and only applied
  in-process (`apply_only_rows_per_s`, the DuckDB side) measured in the same run.
- `loader_freshness`: the loader's share of freshness: envelopes produced straight onto hds.deid.* at the same
  steady rate, send time to the loader's committed transaction, p50/p99.
- `freshness`: publish-to-queryable latency (publish -> gateway -> loader's committed transaction) of ADT
  messages published at a steady rate (default 500/s), p50/p99, with the rate actually reached.
- peak RSS of each gateway process (VmHWM) and of this process (which runs the loader).

Timing figures depend on the machine and on whatever else runs on it: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from catalog.loader import Loader
from catalog.store import CatalogStore
from gateway.broker import EmbeddedBroker, free_port
from gateway.kafka_io import ensure_topics, make_producer
from gateway.publish import headers_for
from gateway.runtime import build_processor
from policies.settings import Settings

FORMATS = (("hl7_adt", "adt"), ("hl7_oru_notes", "oru"), ("fhir_bundles", "fhir"), ("csv_rows", "lab"))


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _hds() -> str:
    exe = shutil.which("hds", path=str(Path(sys.executable).parent)) or shutil.which("hds")
    if exe is None:
        raise RuntimeError("the hds command is not installed next to this Python")
    return exe


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _self_peak_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Counter:
    """Counts distinct keys arriving on topics matching a pattern (outputs of the gateway), in a thread."""

    def __init__(self, bootstrap: str, pattern: str) -> None:
        self.keys: set[bytes] = set()
        self.last = 0.0
        self._stop = threading.Event()
        self._c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                max_poll_records=5000, fetch_max_bytes=32 << 20)
        self._pattern = pattern
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        import re

        rx, assigned = re.compile(self._pattern), set()
        while not self._stop.is_set():
            wanted = {TopicPartition(t, p) for t in self._c.topics() if rx.match(t)
                      for p in self._c.partitions_for_topic(t) or ()}
            if wanted != assigned:
                self._c.assign(sorted(wanted))
                for tp in wanted - assigned:
                    self._c.seek_to_beginning(tp)
                assigned = wanted
            for records in self._c.poll(timeout_ms=100).values():
                for r in records:
                    self.keys.add(r.key or b"")
                    self.last = time.perf_counter()
        self._c.close()

    def wait(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.keys) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.keys) >= n

    def close(self) -> None:
        self._stop.set()
        self._t.join(10)


@contextmanager
def _gateways(settings: Settings, bootstrap: str, n: int, workdir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`n` real gateway processes, ready (assigned and polled) before this yields."""
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("HDS_")}
    env.update({"HDS_ENV": "development", "HDS_KAFKA_BOOTSTRAP": bootstrap, "HDS_DATA_DIR": str(workdir),
                "HDS_POLICIES_DIR": str(settings.policies_dir), "HDS_GATEWAY_GROUP": "bench-gw",
                "HDS_GATEWAY_ASSIGNMENT": "group" if n > 1 else "static",
                "HDS_DEID_KEYS": ",".join(f"{k}:{v}" for k, v in settings.deid_keys.items()),
                "HDS_DEID_KEY_ID": settings.deid_key_id})
    procs, ports = [], []
    try:
        for i in range(n):
            ports.append(free_port())
            log = open(workdir / f"gateway-{i}.log", "ab")  # noqa: SIM115
            procs.append(subprocess.Popen([_hds(), "gateway"], env={**env, "HDS_GATEWAY_METRICS_PORT": str(ports[-1])},
                                          stdout=log, stderr=log, stdin=subprocess.DEVNULL))
            log.close()
        deadline = time.monotonic() + 180
        for p, port in zip(procs, ports, strict=True):
            while time.monotonic() < deadline and p.poll() is None:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            if p.poll() is not None:
                raise RuntimeError(f"a benchmark gateway exited; see {workdir}/gateway-*.log")
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def _send_all(bootstrap: str, items: list[tuple[str, str, Any]], topic_of: Callable[[str, str], str],
              rate: float | None = None, on_sent: Callable[[bytes, float], None] | None = None) -> None:
    """Send (hospital, feed, message) items asynchronously, flushing once at the end (or paced at `rate`/s)."""
    producer = make_producer(bootstrap, client_id="bench")
    started = time.perf_counter()
    for i, (h, f, m) in enumerate(items):
        key = m.message_id.encode() if not isinstance(m, bytes) else None
        if rate:
            wait = started + i / rate - time.perf_counter()
            if wait > 0:
                producer.flush()
                time.sleep(wait)
        value = m.payload if not isinstance(m, bytes) else m
        producer.send(topic_of(h, f), key=key, value=value,
                      headers=headers_for(h, f, m) if not isinstance(m, bytes) else None)
        if on_sent is not None and key is not None:
            on_sent(key, time.perf_counter())
    producer.flush()
    producer.close()


def passthrough(items: list[tuple[str, str, Any]]) -> float:
    """The ceiling: the same bytes produced then consumed, no processing (messages/s)."""
    with EmbeddedBroker() as broker:
        topics = sorted({f"bench.pass.{h}.{f}" for h, f, _ in items})
        ensure_topics(broker.bootstrap, topics)
        counter = Counter(broker.bootstrap, r"^bench\.pass\..+")
        time.sleep(1.0)  # the counter has its partitions
        started = time.perf_counter()
        _send_all(broker.bootstrap, [(h, f, m.payload) for h, f, m in items], lambda h, f: f"bench.pass.{h}.{f}")
        # passthrough values carry no key: count offsets instead of keys
        counter.close()
        c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, auto_offset_reset="earliest",
                          max_poll_records=5000, fetch_max_bytes=32 << 20)
        c.assign([TopicPartition(t, p) for t in topics for p in c.partitions_for_topic(t) or ()])
        seen = 0
        while seen < len(items):
            seen += sum(len(v) for v in c.poll(timeout_ms=500).values())
        c.close()
        return len(items) / (time.perf_counter() - started)


def through_gateways(settings: Settings, items: list[tuple[str, str, Any]], processes: int) -> dict[str, Any]:
    """Messages/s from the first publish to the last output, through `processes` gateway processes."""
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="hds-bench-") as d:
        registry = build_processor(settings).registry
        ensure_topics(broker.bootstrap, registry.raw_topics() + registry.deid_topics())
        with _gateways(settings, broker.bootstrap, processes, Path(d)) as procs:
            counter = Counter(broker.bootstrap, r"^hds\.(deid|dlq)\..+")
            started = time.perf_counter()
            _send_all(broker.bootstrap, items, lambda h, f: f"hds.raw.{h}.{f}")
            done = counter.wait(len(items), timeout=900)
            seconds = (counter.last if done else time.perf_counter()) - started
            rss = [_vm_hwm_mb(p.pid) for p in procs]
            counter.close()
        return {"messages": len(items), "outputs": len(counter.keys), "seconds": round(seconds, 2),
                "messages_per_s": round(len(counter.keys) / seconds, 1), "gateway_peak_rss_mb": rss}


def loader_rows_per_s(settings: Settings, envelopes: list[tuple[str, bytes]]) -> dict[str, Any]:
    """De-identified envelopes already on hds.deid.* loaded into a fresh DuckDB file (rows/s, from the loader's
    start), side by side in the same run with its two parts: the same records only consumed (kafka-python, the
    ceiling of any loader here) and only applied in-process (`CatalogStore.apply_messages`, no Kafka)."""
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="hds-bench-") as d:
        topics = sorted({t for t, _ in envelopes})
        ensure_topics(broker.bootstrap, topics)
        producer = make_producer(broker.bootstrap, client_id="bench")
        for topic, value in envelopes:
            producer.send(topic, value=value)
        producer.flush()
        producer.close()
        consume_s = _consume_only(broker.bootstrap, topics, len(envelopes))
        store = CatalogStore(Path(d) / "c.duckdb")
        loader = Loader(store, bootstrap=broker.bootstrap, group_id="bench-loader")
        stop = threading.Event()
        t = threading.Thread(target=loader.run, args=(stop,), daemon=True)
        started = time.perf_counter()
        t.start()
        deadline = time.monotonic() + 600
        while loader.stats.consumed < len(envelopes) and time.monotonic() < deadline:
            time.sleep(0.01)
        seconds = time.perf_counter() - started  # includes the loader's start (assignment, first fetch)
        stop.set()
        t.join(30)
        store.close()
        apply_s = _apply_only(Path(d) / "apply.duckdb", envelopes)
        rows = loader.stats.loaded
        return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds, 1),
                "slices": loader.stats.batches,
                "consume_only_rows_per_s": round(len(envelopes) / consume_s, 1),
                "ratio_to_consume_only": round(consume_s / seconds, 3),
                "apply_only_rows_per_s": round(len(envelopes) / apply_s, 1)}


def _consume_only(bootstrap: str, topics: list[str], n: int) -> float:
    """Seconds to read `n` records of `topics` with the loader's consumer settings and nothing else."""
    from gateway.kafka_io import make_consumer

    c = make_consumer(bootstrap, group_id="bench-consume-only", max_poll_records=5000)
    started = time.perf_counter()
    tps = [TopicPartition(t, p) for t in topics for p in c.partitions_for_topic(t) or ()]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    seen = 0
    deadline = time.monotonic() + 300
    while seen < n and time.monotonic() < deadline:
        seen += sum(len(v) for v in c.poll(timeout_ms=200, max_records=5000).values())
    seconds = time.perf_counter() - started
    c.close()
    return seconds


def _apply_only(path: Path, envelopes: list[tuple[str, bytes]], slice_records: int = 5000) -> float:
    """Seconds for the store alone to load the envelopes in the loader's slices (no Kafka), fresh file."""
    from types import SimpleNamespace

    msgs = [SimpleNamespace(topic=t, partition=0, offset=i, value=v) for i, (t, v) in enumerate(envelopes)]
    store = CatalogStore(path)
    store.warm_up()
    started = time.perf_counter()
    for i in range(0, len(msgs), slice_records):
        store.apply_messages(msgs[i:i + slice_records])
    seconds = time.perf_counter() - started
    store.close()
    return seconds


def loader_freshness(envelopes: list[tuple[str, bytes]], rate: float) -> dict[str, Any]:
    """The loader's share of publish-to-queryable latency: envelopes produced straight onto hds.deid.* at a
    steady rate, each one's send time to the loader's committed transaction (no gateway in the path)."""
    sent: dict[str, float] = {}
    loaded: dict[str, float] = {}
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="hds-bench-") as d:
        ensure_topics(broker.bootstrap, sorted({t for t, _ in envelopes}))
        with _timed_loader(broker.bootstrap, Path(d), loaded):
            producer = make_producer(broker.bootstrap, client_id="bench")
            started = time.perf_counter()
            for i, (topic, value) in enumerate(envelopes):
                wait = started + i / rate - time.perf_counter()
                if wait > 0:
                    producer.flush()
                    time.sleep(wait)
                producer.send(topic, value=value)
                sent[json.loads(value)["record_id"]] = time.perf_counter()
            producer.flush()
            producer.close()
            publish_s = time.perf_counter() - started
            _wait_loaded(loaded, len(envelopes), timeout_s=120)
    return _latencies(sent, loaded, messages=len(envelopes), publish_s=publish_s, rate=rate)


def freshness(settings: Settings, items: list[tuple[str, str, Any]], rate: float, processes: int) -> dict[str, Any]:
    """Publish-to-queryable latency at a steady rate: publish time of each message -> the loader's commit."""
    processor = build_processor(settings)
    sent: dict[str, float] = {}
    loaded: dict[str, float] = {}
    ids = {m.message_id.encode(): processor.record_id(h, f, m.message_id.encode(), m.payload) for h, f, m in items}
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="hds-bench-") as d:
        ensure_topics(broker.bootstrap, processor.registry.raw_topics() + processor.registry.deid_topics())
        with _timed_loader(broker.bootstrap, Path(d), loaded), _gateways(settings, broker.bootstrap, processes, Path(d)):
            started = time.perf_counter()
            _send_all(broker.bootstrap, items, lambda h, f: f"hds.raw.{h}.{f}", rate=rate,
                      on_sent=lambda k, ts: sent.__setitem__(ids[k], ts))
            publish_s = time.perf_counter() - started
            _wait_loaded(loaded, len(items), timeout_s=300)
    return _latencies(sent, loaded, messages=len(items), publish_s=publish_s, rate=rate)


@contextmanager
def _timed_loader(bootstrap: str, work: Path, loaded: dict[str, float]) -> Iterator[None]:
    """A loader on a fresh DuckDB file in a thread, ready before this yields; `loaded` gets each record id's
    commit time. Stopped and its file closed on the way out."""
    store = CatalogStore(work / "c.duckdb")
    loader = Loader(store, bootstrap=bootstrap, group_id="bench-loader",
                    on_rows=lambda rows: loaded.update(dict.fromkeys(rows, time.perf_counter())))
    stop = threading.Event()
    t = threading.Thread(target=loader.run, args=(stop,), daemon=True)
    t.start()
    try:
        while not loader.is_ready():
            time.sleep(0.05)
        yield
    finally:
        stop.set()
        t.join(30)
        store.close()


def _wait_loaded(loaded: dict[str, float], n: int, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while len(loaded) < n and time.monotonic() < deadline:
        time.sleep(0.05)


def _latencies(sent: dict[str, float], loaded: dict[str, float], *, messages: int, publish_s: float,
               rate: float) -> dict[str, Any]:
    """Publish-to-queryable latency of every record both sent and loaded: p50/p99 and how many made it."""
    lat = sorted(loaded[r] - s for r, s in sent.items() if r in loaded)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    return {"rate_target_per_s": rate, "rate_published_per_s": round(messages / publish_s, 1),
            "messages": messages, "queryable": len(lat), "p50_s": round(q[49], 3), "p99_s": round(q[98], 3)}


def envelopes_for_loader(settings: Settings, items: list[tuple[str, str, Any]], rows: int) -> list[tuple[str, bytes]]:
    """De-identified envelopes (the gateway's own output, made in-process), copied under new record ids."""
    processor = build_processor(settings)
    outs = [o for o in (processor.process(f"hds.raw.{h}.{f}", m.message_id.encode(), m.payload, {})
                        for h, f, m in items) if not o.dead_letter]
    if not outs:
        return []
    base = [(o.topic, json.loads(o.value)) for o in outs]
    out: list[tuple[str, bytes]] = []
    for i in range(rows):
        topic, env = base[i % len(base)]
        out.append((topic, json.dumps({**env, "record_id": f"{env['record_id'][:24]}{i:08x}"},
                                      ensure_ascii=False, separators=(",", ":")).encode()))
    return out


def run(settings: Settings, feeds: dict[str, list[tuple[str, Any]]], *, rate: float = 500.0,
        freshness_s: float = 10.0, loader_rows: int = 20_000) -> dict[str, Any]:
    items = {feed: [(h, feed, m) for h, m in msgs] for feed, msgs in feeds.items()}
    everything = [x for v in items.values() for x in v]
    result: dict[str, Any] = {"benchmark": "pipeline", "cpus": os.cpu_count(),
                              "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    _say(f"passthrough of {len(everything)} messages (the ceiling) ...")
    ceiling = passthrough(everything)
    result["passthrough_messages_per_s"] = round(ceiling, 1)
    for label, feed in FORMATS:
        if not items.get(feed):
            continue
        _say(f"{label}: {len(items[feed])} messages through one gateway process ...")
        r = through_gateways(settings, items[feed], 1)
        result[label] = {**r, "ratio_to_passthrough": round(r["messages_per_s"] / ceiling, 3)}
    if items.get("adt"):
        _say("hl7_adt through two gateway processes (consumer group) ...")
        r = through_gateways(settings, items["adt"], 2)
        result["hl7_adt_two_gateways"] = {**r, "ratio_to_passthrough": round(r["messages_per_s"] / ceiling, 3)}
        _say(f"freshness: ADT at {rate:.0f} messages/s for {freshness_s:.0f} s ...")
        n = int(rate * freshness_s)
        adt = items["adt"]
        paced = [(h, f, _renamed(m, i)) for i, (h, f, m) in ((i, adt[i % len(adt)]) for i in range(n))]
        result["freshness"] = freshness(settings, paced, rate, 1)
    _say(f"loader: {loader_rows} de-identified records into a fresh DuckDB file ...")
    envelopes = envelopes_for_loader(settings, [x for f in ("adt", "lab") for x in items.get(f, [])], loader_rows)
    result["loader"] = loader_rows_per_s(settings, envelopes)
    _say(f"loader freshness: de-identified records at {rate:.0f}/s for {freshness_s:.0f} s straight to the loader ...")
    result["loader_freshness"] = loader_freshness(envelopes[:int(rate * freshness_s)], rate)
    result["bench_process_peak_rss_mb"] = _self_peak_mb()
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def _renamed(m: Any, i: int) -> Any:
    """The same message under a new message id (so each paced copy is its own record)."""
    from dataclasses import replace

    return replace(m, message_id=f"{m.message_id[:24]}{i:08x}")
