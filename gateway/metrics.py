"""The gateway's small HTTP endpoint: `/health/live`, `/health/ready` and `/metrics` (Prometheus).

Counts and durations only (messages in, de-identified, dead-lettered by reason code, redeliveries, retries,
slice sizes, de-identification latency, consumer lag): never record content. Counters are those of this
process's life: they start at zero when the process starts, as Prometheus counters do (`rate()` and
`increase()` handle the reset); totals across restarts are what the topics and the catalog hold.

Bound to loopback unless configured (`HDS_GATEWAY_METRICS_HOST`; a container sets 0.0.0.0 for its probes).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

STALL_S = 120.0  # the consume loop has not come round for this long: not alive
DEID_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SLICE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000)


class _Histogram:
    """Cumulative bucket counts fed from the service's drained observations."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0

    def observe_all(self, values: list[float]) -> None:
        for v in values:
            self.sum += v
            for i, b in enumerate(self.buckets):
                if v <= b:
                    self.counts[i] += 1
                    break
            else:
                self.counts[-1] += 1

    def family(self, name: str, doc: str) -> HistogramMetricFamily:
        cumulative, running = [], 0
        for b, c in zip([*map(str, self.buckets), "+Inf"], self.counts, strict=True):
            running += c
            cumulative.append((b, running))
        return HistogramMetricFamily(name, doc, buckets=cumulative, sum_value=self.sum)


def drain(values: list[float]) -> list[float]:
    out = values[:]
    del values[:len(out)]
    return out


class _Collector:
    def __init__(self, service: Any) -> None:
        self._service = service
        self._deid = _Histogram(DEID_BUCKETS)
        self._slices = _Histogram(SLICE_BUCKETS)
        self._lock = threading.Lock()

    def collect(self):  # type: ignore[no-untyped-def]
        st = self._service.stats
        loop = st.loop
        with self._lock:
            self._deid.observe_all(drain(st.deid_seconds))
            self._slices.observe_all([float(v) for v in drain(loop.slice_sizes)])
            yield self._deid.family("hds_gateway_deid_seconds", "De-identification time per message")
            yield self._slices.family("hds_gateway_slice_records", "Records per committed slice")
        yield CounterMetricFamily("hds_gateway_messages_consumed", "Raw messages handled (outputs acknowledged)",
                                  value=st.consumed)
        yield CounterMetricFamily("hds_gateway_messages_deidentified", "Records produced to hds.deid.*",
                                  value=st.produced)
        dead = CounterMetricFamily("hds_gateway_dead_letters", "Messages sent to hds.dlq.*", labels=["reason"])
        for reason, n in sorted(st.reasons.items()):
            dead.add_metric([reason], n)
        yield dead
        yield CounterMetricFamily("hds_gateway_redelivered", "Messages handled again (retried slice, rewound offset)",
                                  value=loop.redelivered)
        yield CounterMetricFamily("hds_gateway_slice_retries", "Slices retried after a failed produce",
                                  value=loop.retries)
        yield CounterMetricFamily("hds_gateway_commit_failures", "Offset commits that failed (records redelivered)",
                                  value=loop.commit_failures)
        yield CounterMetricFamily("hds_gateway_log_resets", "Partitions found shorter than our position (broker lost data)",
                                  value=loop.log_resets)
        yield GaugeMetricFamily("hds_gateway_consumer_lag", "Raw messages not handled yet (fetch high-water marks)",
                                value=loop.lag())
        yield GaugeMetricFamily("hds_gateway_ready", "1 once the consumer is assigned and has polled",
                                value=1.0 if self._service.is_ready() else 0.0)
        yield GaugeMetricFamily("hds_gateway_loop_age_seconds", "Seconds since the consume loop last ran",
                                value=time.monotonic() - self._service.last_poll)


def health(service: Any, path: str) -> tuple[int, dict[str, Any]]:
    """Liveness: the loop is running and came round recently. Readiness: alive, assigned, and polled."""
    age = time.monotonic() - service.last_poll
    alive = bool(service.running) and age < STALL_S
    if path in ("/health", "/health/live"):
        return (200 if alive else 503), {"status": "ok" if alive else "stalled", "loop_age_s": round(age, 1)}
    ready = alive and service.is_ready()
    return (200 if ready else 503), {"status": "ready" if ready else "not_ready", "loop_age_s": round(age, 1)}


def start_metrics_server(service: Any, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    registry = CollectorRegistry()
    registry.register(_Collector(service))  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/metrics":
                body, ctype, status = generate_latest(registry), "text/plain; version=0.0.4", 200
            elif self.path in ("/health", "/health/live", "/health/ready"):
                status, doc = health(service, self.path)
                body, ctype = json.dumps(doc).encode(), "application/json"
            else:
                body, ctype, status = b'{"detail": "not found"}', "application/json", 404
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # no request logging
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="gateway-metrics", daemon=True).start()
    return server
