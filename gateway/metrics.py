"""The gateway's own small HTTP endpoint: `/health` for liveness probes and `/metrics` for Prometheus.

Counts only (messages in, de-identified, dead-lettered by reason code, retries): never record content."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

STALL_S = 120.0  # the consume loop has not come round for this long: unhealthy


class _Collector:
    def __init__(self, service: Any) -> None:
        self._service = service

    def collect(self):  # type: ignore[no-untyped-def]
        st = self._service.stats
        yield CounterMetricFamily("hds_gateway_messages_consumed", "Raw messages consumed", value=st.consumed)
        yield CounterMetricFamily("hds_gateway_messages_deidentified", "Records produced to hds.deid.*",
                                  value=st.produced)
        dead = CounterMetricFamily("hds_gateway_dead_letters", "Messages sent to hds.dlq.*", labels=["reason"])
        for reason, n in sorted(st.reasons.items()):
            dead.add_metric([reason], n)
        yield dead
        yield CounterMetricFamily("hds_gateway_batch_retries", "Batches retried after a failed produce",
                                  value=st.retries)
        yield GaugeMetricFamily("hds_gateway_loop_age_seconds", "Seconds since the consume loop last ran",
                                value=time.monotonic() - self._service.last_poll)


def start_metrics_server(service: Any, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104
    registry = CollectorRegistry()
    registry.register(_Collector(service))  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/metrics":
                body, ctype, status = generate_latest(registry), "text/plain; version=0.0.4", 200
            elif self.path == "/health":
                age = time.monotonic() - service.last_poll
                ok = service.running and age < STALL_S
                body = json.dumps({"status": "ok" if ok else "stalled", "loop_age_s": round(age, 1)}).encode()
                ctype, status = "application/json", 200 if ok else 503
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
