"""`hds gateway` and `hds catalog serve`: the long-running services."""

from __future__ import annotations

import argparse
import json
import sys

from catalog.cli.common import require_bootstrap, settings_from_args, stop_on_signals
from catalog.server import serve
from gateway.metrics import start_metrics_server
from gateway.runtime import build_processor
from gateway.service import GatewayService


def cmd_gateway(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    bootstrap = require_bootstrap(settings)
    processor = build_processor(settings)
    stop = stop_on_signals()
    service = GatewayService(processor, bootstrap=bootstrap, group_id=settings.gateway_group,
                             session_timeout_ms=settings.kafka_session_timeout_ms,
                             topics=processor.registry.raw_topics() + processor.registry.deid_topics(),
                             assignment=settings.gateway_assignment, security=settings.kafka_security(),
                             instance_id=settings.gateway_instance_id)
    if settings.gateway_metrics_port:
        start_metrics_server(service, settings.gateway_metrics_port, host=settings.gateway_metrics_host)
    print(f"gateway consuming hds.raw.* from {bootstrap} in group {settings.gateway_group}", file=sys.stderr, flush=True)
    stats = service.run(stop)
    print(json.dumps(stats.as_dict()))
    return 0


def cmd_catalog_serve(args: argparse.Namespace) -> int:
    settings = settings_from_args(args, need_deid_keys=False)  # the catalog never pseudonymises: no keys (least privilege)
    settings.sandbox_key()  # refuse to start without a sandbox key rather than on the first query
    if args.port is not None:
        settings = settings.with_(api_port=args.port)
    if args.host:
        settings = settings.with_(api_host=args.host)
    return serve(settings, stop=stop_on_signals())
