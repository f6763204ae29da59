"""Prometheus metrics of the catalog process: counts and durations only, never record values."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily


class CatalogMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter("hds_http_requests_total", "API requests", ["route", "method", "status"],
                                     registry=self.registry)
        self.http_seconds = Histogram("hds_http_request_seconds", "API request duration", ["route"],
                                      registry=self.registry)
        self.queries = Counter("hds_queries_total", "Sandbox queries", ["outcome"], registry=self.registry)
        self.ingested = Counter("hds_ingest_messages_total", "Messages accepted by POST /api/ingest",
                                ["hospital", "feed"], registry=self.registry)
        self.loader_rows = Gauge("hds_loader_rows_loaded", "Rows loaded into the catalog since start",
                                 registry=self.registry)
        self.loader_rejected = Gauge("hds_loader_records_rejected", "Malformed de-identified records not loaded",
                                     registry=self.registry)
        self.loader_duplicates = Gauge("hds_loader_redelivered_records",
                                       "Records whose id the catalog already held (redeliveries), since start",
                                       registry=self.registry)
        self.loader_retries = Gauge("hds_loader_slice_retries", "Catalog writes retried after a failure, since start",
                                    registry=self.registry)
        self.loader_lag = Gauge("hds_loader_lag_messages", "Messages on hds.deid.* not yet loaded",
                                registry=self.registry)
        self.loader_ready = Gauge("hds_loader_ready", "1 once the loader's consumer is assigned and has polled",
                                  registry=self.registry)

    def add_dataset_rows(self, source: Callable[[], dict[str, int]]) -> None:
        class _Rows:
            def collect(self_inner):  # type: ignore[no-untyped-def]
                g = GaugeMetricFamily("hds_dataset_rows", "Rows per catalog dataset", labels=["dataset"])
                for name, n in source().items():
                    g.add_metric([name], n)
                yield g

        self.registry.register(_Rows())  # type: ignore[arg-type]

    def render(self) -> bytes:
        return generate_latest(self.registry)
