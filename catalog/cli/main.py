"""`hds`: the one command-line tool. Only the free-text subcommands load Presidio and spaCy, and only when they run."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from catalog.cli import audit as audit_commands
from catalog.cli import deid as deid_commands
from catalog.cli import identity as identity_commands
from catalog.cli.bench import run_bench
from catalog.cli.demo import run_demo
from catalog.cli.synth.feeds import generate
from catalog.server import serve
from gateway.broker import EmbeddedBroker
from gateway.dlq import DLQ_PATTERN, list_dead_letters
from gateway.kafka_io import make_producer
from gateway.metrics import start_metrics_server
from gateway.publish import PublishError, publish_files
from gateway.readers import FeedReadError
from gateway.runtime import build_processor
from gateway.service import GatewayService
from policies.settings import Settings, SettingsError
from policies.topics import check_name, raw_topic

# Subcommand groups with a module of their own add themselves through `register(subparsers)`.
_REGISTRARS = (deid_commands, identity_commands, audit_commands)


def _settings(args: argparse.Namespace, *, need_deid_keys: bool = True):  # type: ignore[no-untyped-def]
    s = Settings.from_env(need_deid_keys=need_deid_keys)
    if getattr(args, "bootstrap", None):
        s = s.with_(kafka_bootstrap=args.bootstrap)
    if getattr(args, "db", None):
        s = s.with_(catalog_db=Path(args.db))
    if getattr(args, "data_dir", None):
        s = s.with_(data_dir=Path(args.data_dir))
    return s


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum, frame):  # type: ignore[no-untyped-def]
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _require_bootstrap(settings) -> str:  # type: ignore[no-untyped-def]
    if not settings.kafka_bootstrap:
        raise SystemExit("hds: no Kafka configured: set HDS_KAFKA_BOOTSTRAP or pass --bootstrap "
                         "(start one with `hds broker`)")
    return settings.kafka_bootstrap


# --- handlers -------------------------------------------------------------------------------------------------

def cmd_broker(args: argparse.Namespace) -> int:
    stop = _stop_on_signals()
    broker = EmbeddedBroker(port=args.port, host=args.host).start()
    print(broker.bootstrap, flush=True)
    print(f"embedded Kafka-protocol broker (tansu, memory only) on {broker.bootstrap}; "
          f"export HDS_KAFKA_BOOTSTRAP={broker.bootstrap}; Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            if not broker.running:
                print("hds: broker exited unexpectedly", file=sys.stderr)
                return 1
    finally:
        broker.stop()
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    manifest = generate(Path(args.out), seed=args.seed, patients=args.patients)
    hospitals = getattr(manifest, "hospitals", {})
    print(json.dumps({"out": str(args.out), "seed": args.seed, "hospitals": sorted(hospitals),
                      "patients": getattr(manifest, "patients", args.patients),
                      "shared_patients": getattr(manifest, "shared_patients", None)}))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    settings = _settings(args)
    bootstrap = _require_bootstrap(settings)
    try:
        raw_topic(args.hospital, args.feed)
    except ValueError as exc:
        print(f"hds publish: {exc}", file=sys.stderr)
        return 2
    for f in args.files:
        if not Path(f).is_file():
            print(f"hds publish: {f}: no such file", file=sys.stderr)
            return 2
    producer = make_producer(bootstrap, client_id=f"hds-publish-{args.hospital}", security=settings.kafka_security())
    try:
        report = publish_files(producer, [Path(f) for f in args.files], hospital=args.hospital, feed=args.feed,
                               format=args.format,
                               progress=lambda i, n: print(f"\rpublished {i}/{n}", end="", file=sys.stderr))
    except FeedReadError as exc:
        print(f"\nhds publish: {exc} (nothing was published)", file=sys.stderr)
        return 1
    except PublishError as exc:
        print(f"\nhds publish: {exc}", file=sys.stderr)
        return 1
    finally:
        producer.close(timeout=5)
    print(file=sys.stderr)
    print(json.dumps(report.as_dict()))
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    settings = _settings(args)
    bootstrap = _require_bootstrap(settings)
    processor = build_processor(settings)
    stop = _stop_on_signals()
    service = GatewayService(processor, bootstrap=bootstrap, group_id=settings.gateway_group,
                             session_timeout_ms=settings.kafka_session_timeout_ms,
                             topics=processor.registry.raw_topics() + processor.registry.deid_topics(),
                             assignment=settings.gateway_assignment, security=settings.kafka_security())
    if settings.gateway_metrics_port:
        start_metrics_server(service, settings.gateway_metrics_port, host=settings.gateway_metrics_host)
    print(f"gateway consuming hds.raw.* from {bootstrap} in group {settings.gateway_group}", file=sys.stderr, flush=True)
    stats = service.run(stop)
    print(json.dumps(stats.as_dict()))
    return 0


def cmd_catalog_serve(args: argparse.Namespace) -> int:
    settings = _settings(args, need_deid_keys=False)  # the catalog never pseudonymises: no keys (least privilege)
    settings.sandbox_key()  # refuse to start without a sandbox key rather than on the first query
    if args.port is not None:
        settings = settings.with_(api_port=args.port)
    if args.host:
        settings = settings.with_(api_host=args.host)
    return serve(settings, stop=_stop_on_signals())


# The demo's city: enough patients that ordinary aggregate queries come back unsuppressed. The smoke check runs the
# small city (it also searches the whole catalog for every synthetic identifier, which grows with the city).
DEMO_PATIENTS = 2000
SMOKE_PATIENTS = 60


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.port is not None:
        settings = settings.with_(api_port=args.port)
    patients = args.patients or (SMOKE_PATIENTS if args.smoke else DEMO_PATIENTS)
    return run_demo(settings, smoke=args.smoke, seed=args.seed, patients=patients, stop=_stop_on_signals(),
                    timeout_s=args.timeout, port_given=args.port is not None)


def cmd_dlq_list(args: argparse.Namespace) -> int:
    settings = _settings(args, need_deid_keys=False)
    bootstrap = _require_bootstrap(settings)
    pattern = DLQ_PATTERN
    if args.hospital:
        import re

        pattern = r"^hds\.dlq\." + re.escape(check_name("hospital", args.hospital)) + r"\..+"
    reasons: dict[str, int] = {}
    n = 0
    for item in list_dead_letters(bootstrap, pattern=pattern, limit=args.limit, security=settings.kafka_security()):
        n += 1
        reasons[item.get("reason", "?")] = reasons.get(item.get("reason", "?"), 0) + 1
        if not args.summary:
            print(json.dumps(item), flush=True)
    print(json.dumps({"dead_letters": n, "reasons": reasons}))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    result = run_bench(args.what, _settings(args), size=args.size)
    print(json.dumps(result))
    return 0


# --- parser ---------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hds", description="City health data space: feeds -> Kafka -> de-identification "
                                "-> DuckDB catalog -> governed research access.")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    b = sub.add_parser("broker", help="start the embedded Kafka-protocol broker (tansu) and print its address")
    b.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    b.add_argument("--host", default="127.0.0.1")
    b.set_defaults(func=cmd_broker)

    s = sub.add_parser("synth", help="write synthetic hospital feeds (HL7 v2, FHIR R4, CSV) for three hospitals")
    s.add_argument("--out", default="synthetic-feeds", help="output directory (default: ./synthetic-feeds)")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--patients", type=int, default=60)
    s.set_defaults(func=cmd_synth)

    pub = sub.add_parser("publish", help="publish feed files to hds.raw.<hospital>.<feed>")
    pub.add_argument("--hospital", required=True)
    pub.add_argument("--feed", required=True)
    pub.add_argument("--format", choices=["hl7v2", "fhir", "csv"], default=None, help="default: detect")
    pub.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP)")
    pub.add_argument("files", nargs="+", metavar="FILE")
    pub.set_defaults(func=cmd_publish)

    g = sub.add_parser("gateway", help="run the de-identification gateway (consumes hds.raw.*)")
    g.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP)")
    g.set_defaults(func=cmd_gateway)

    c = sub.add_parser("catalog", help="the DuckDB catalog")
    csub = c.add_subparsers(dest="catalog_command", metavar="SUBCOMMAND", required=True)
    cs = csub.add_parser("serve", help="load hds.deid.* into DuckDB and serve the API")
    cs.add_argument("--port", type=int, default=None, help="API port (default: $HDS_API_PORT or 8000)")
    cs.add_argument("--host", default=None)
    cs.add_argument("--db", help="DuckDB file (default: $HDS_CATALOG_DB or $HDS_DATA_DIR/catalog.duckdb)")
    cs.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP; none: API only)")
    cs.set_defaults(func=cmd_catalog_serve)

    d = sub.add_parser("demo", help="everything on one machine: broker, gateway, catalog, API, synthetic feeds")
    d.add_argument("--port", type=int, default=None, help="API/portal port (default: $HDS_API_PORT or 8000)")
    d.add_argument("--smoke", action="store_true", help="run once, verify, print a JSON summary, exit 0/1")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--patients", type=int, default=None,
                   help=f"synthetic patients (default: {DEMO_PATIENTS}; --smoke: {SMOKE_PATIENTS})")
    d.add_argument("--timeout", type=float, default=240.0, help="smoke: seconds to wait for the pipeline")
    d.add_argument("--data-dir", help="data directory (default: $HDS_DATA_DIR or .hds; --smoke: a fresh temporary one)")
    d.add_argument("--bootstrap", help="use this Kafka instead of the embedded broker (default: $HDS_KAFKA_BOOTSTRAP)")
    d.set_defaults(func=cmd_demo)

    dq = sub.add_parser("dlq", help="the dead-letter topics: what was rejected, where and why (never content)")
    dsub = dq.add_subparsers(dest="dlq_command", metavar="SUBCOMMAND", required=True)
    dl = dsub.add_parser("list", help="list dead letters as JSON lines, then a summary line")
    dl.add_argument("--hospital", help="only this hospital's dead-letter topics")
    dl.add_argument("--limit", type=int, default=None, help="stop after N dead letters")
    dl.add_argument("--summary", action="store_true", help="print only the summary (counts per reason)")
    dl.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP)")
    dl.set_defaults(func=cmd_dlq_list)

    be = sub.add_parser("bench", help="benchmarks (JSON as the last line)")
    be.add_argument("what", choices=["deid", "pipeline"])
    be.add_argument("--size", type=int, default=None, help="number of notes/messages")
    be.set_defaults(func=cmd_bench)

    for module in _REGISTRARS:
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    if args.command in {"gateway", "catalog", "demo"} and args.verbose == 0:
        level = logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python reports reconnects and shutdown races as errors; they are retried and not ours to show.
    logging.getLogger("kafka").setLevel(logging.ERROR if args.verbose >= 2 else logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.INFO if args.verbose >= 2 else logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if isinstance(exc, SettingsError):
            print(f"hds: configuration error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
