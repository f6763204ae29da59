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
from typing import Any

from kafka.errors import KafkaError

from catalog.cli import audit as audit_commands
from catalog.cli import deid as deid_commands
from catalog.cli import identity as identity_commands
from catalog.cli.bench import run_bench
from catalog.cli.demo import run_demo
from catalog.cli.synth.feeds import generate
from catalog.server import serve
from gateway.broker import EmbeddedBroker
from gateway.dlq import DeadLetterReader, ReplayError, dlq_pattern, replay_dead_letters
from gateway.kafka_io import KafkaUnreachable, check_reachable, make_producer
from gateway.metrics import start_metrics_server
from gateway.mllp import KafkaWriter, MllpListener, feed_check, run_listener, start_health_server
from gateway.publish import PublishError, PublishReport, read_all, send_messages
from gateway.readers import FORMATS, FeedReadError
from gateway.runtime import build_processor
from gateway.service import GatewayService
from policies.feeds import FeedRegistry, FeedRegistryError
from policies.settings import Settings, SettingsError
from policies.topics import raw_topic

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
    settings = _settings(args, need_deid_keys=False)  # publishing pseudonymises nothing
    bootstrap = _require_bootstrap(settings)
    try:
        topic = raw_topic(args.hospital, args.feed)
        feed = FeedRegistry.load(settings.feeds_file).lookup(args.hospital, args.feed)
    except (ValueError, FeedRegistryError) as exc:
        print(f"hds publish: {exc}", file=sys.stderr)
        return 2
    if feed is None:
        print(f"hds publish: {settings.feeds_file} has no feed '{args.feed}' for hospital '{args.hospital}' "
              "(nothing was published)", file=sys.stderr)
        return 2
    for f in args.files:
        if not Path(f).is_file():
            print(f"hds publish: {f}: no such file (nothing was published)", file=sys.stderr)
            return 2
    try:  # every file is read and checked against the feed before anything is sent
        messages = read_all([Path(f) for f in args.files], hospital=args.hospital, feed=args.feed,
                            format=args.format, feed_config=feed)
    except FeedReadError as exc:
        print(f"hds publish: {exc} (nothing was published)", file=sys.stderr)
        return 1
    try:
        check_reachable(bootstrap)
        producer = make_producer(bootstrap, client_id=f"hds-publish-{args.hospital}",
                                 security=settings.kafka_security())
    except (KafkaUnreachable, KafkaError) as exc:
        print(f"hds publish: {exc if isinstance(exc, KafkaUnreachable) else type(exc).__name__} "
              "(nothing was published)", file=sys.stderr)
        return 1
    try:
        n = send_messages(producer, args.hospital, args.feed, messages,
                          progress=lambda i, total: print(f"\rpublished {i}/{total}", end="", file=sys.stderr))
    except PublishError as exc:
        print(f"\nhds publish: {exc}", file=sys.stderr)
        return 1
    finally:
        producer.close(timeout=5)
    print(file=sys.stderr)
    print(json.dumps(PublishReport(topic, len(args.files), n).as_dict()))
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


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.port is not None:
        settings = settings.with_(api_port=args.port)
    return run_demo(settings, smoke=args.smoke, seed=args.seed, patients=args.patients, stop=_stop_on_signals(),
                    timeout_s=args.timeout, port_given=args.port is not None)


def _dlq_reader(args: argparse.Namespace, settings) -> "Any":  # type: ignore[no-untyped-def]
    try:
        pattern = dlq_pattern(args.hospital, args.feed)
    except ValueError as exc:
        raise SystemExit(f"hds dlq: {exc}") from None
    bootstrap = _require_bootstrap(settings)
    check_reachable(bootstrap)
    return DeadLetterReader(bootstrap, pattern=pattern, security=settings.kafka_security())


def _kafka_failure(command: str, exc: Exception) -> int:
    print(f"hds {command}: {exc if isinstance(exc, ConnectionError) else type(exc).__name__}", file=sys.stderr)
    return 1


def cmd_dlq_list(args: argparse.Namespace) -> int:
    settings = _settings(args, need_deid_keys=False)
    reasons: dict[str, int] = {}
    n = 0
    try:
        with _dlq_reader(args, settings) as reader:
            for item in reader.read_all():
                if args.reason and item.reason != args.reason:
                    continue
                if args.limit is not None and n >= args.limit:
                    break
                n += 1
                reasons[item.reason] = reasons.get(item.reason, 0) + 1
                if not args.summary:
                    print(json.dumps(item.listing()), flush=True)
    except (KafkaError, ConnectionError) as exc:
        return _kafka_failure("dlq list", exc)
    print(json.dumps({"dead_letters": n, "reasons": reasons}))
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    settings = _settings(args, need_deid_keys=False)
    try:
        with _dlq_reader(args, settings) as reader:
            producer = make_producer(settings.kafka_bootstrap, client_id="hds-dlq-replay",
                                     security=settings.kafka_security())
            try:
                report = replay_dead_letters(reader, producer, reason=args.reason)
            finally:
                producer.close(timeout=10)
    except ReplayError as exc:
        print(f"hds dlq replay: {exc}", file=sys.stderr)
        return 1
    except (KafkaError, ConnectionError) as exc:
        return _kafka_failure("dlq replay", exc)
    print(json.dumps(report.as_dict()))
    return 0


def cmd_mllp(args: argparse.Namespace) -> int:
    settings = _settings(args, need_deid_keys=False)
    try:
        cfg = FeedRegistry.load(settings.feeds_file).lookup(args.hospital, args.feed)
    except FeedRegistryError as exc:
        print(f"hds mllp: {exc}", file=sys.stderr)
        return 2
    if cfg is None:
        print(f"hds mllp: {settings.feeds_file} has no feed '{args.feed}' for hospital '{args.hospital}'", file=sys.stderr)
        return 2
    if cfg.format != "hl7v2":
        print(f"hds mllp: feed '{args.feed}' takes {cfg.format}, not HL7 v2", file=sys.stderr)
        return 2
    bootstrap = _require_bootstrap(settings)
    stop = _stop_on_signals()
    producer = make_producer(bootstrap, client_id=f"hds-mllp-{args.hospital}", security=settings.kafka_security(),
                             deadline_ms=int(args.write_timeout * 1000))
    writer = KafkaWriter(producer, args.hospital, args.feed, timeout_s=args.write_timeout)
    listener = MllpListener(hospital=args.hospital, feed=args.feed, writer=writer, check=feed_check(cfg),
                            host=args.host, port=args.port, ready=writer.connected,
                            write_timeout_s=args.write_timeout + 1)
    health = start_health_server(listener, args.health_port, args.host) if args.health_port is not None else None
    threading.Thread(target=lambda: (listener.listening.wait(30) and print(
        f"{listener.host}:{listener.port}", flush=True)), daemon=True).start()
    print(f"MLLP listener for {args.hospital}/{args.feed} -> {cfg.dataset} via {bootstrap}"
          + (f"; health on {args.host}:{health.server_address[1]}" if health else ""), file=sys.stderr, flush=True)
    try:
        run_listener(listener, stop)
    except OSError as exc:
        print(f"hds mllp: cannot listen on {args.host}:{args.port} ({exc.strerror or type(exc).__name__})",
              file=sys.stderr)
        return 2
    finally:
        if health is not None:
            health.shutdown()
        try:
            producer.close(timeout=5)
        except Exception:  # noqa: BLE001 - what the broker never acknowledged was answered AE, not AA
            pass
    print(json.dumps(listener.stats.as_dict()))
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
    pub.add_argument("--format", choices=FORMATS, default=None, help="default: detect")
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
    d.add_argument("--patients", type=int, default=60)
    d.add_argument("--timeout", type=float, default=240.0, help="smoke: seconds to wait for the pipeline")
    d.add_argument("--data-dir", help="data directory (default: $HDS_DATA_DIR or .hds; --smoke: a fresh temporary one)")
    d.add_argument("--bootstrap", help="use this Kafka instead of the embedded broker (default: $HDS_KAFKA_BOOTSTRAP)")
    d.set_defaults(func=cmd_demo)

    dq = sub.add_parser("dlq", help="the dead-letter topics: what was rejected, where and why (never content)")
    dsub = dq.add_subparsers(dest="dlq_command", metavar="SUBCOMMAND", required=True)
    dl = dsub.add_parser("list", help="list dead letters as JSON lines, then a summary line")
    dr = dsub.add_parser("replay", help="send dead letters back to their raw topic for the gateway to process again "
                         "(after a profile or registry fix); idempotent")
    for sp in (dl, dr):
        sp.add_argument("--hospital", help="only this hospital's dead-letter topics")
        sp.add_argument("--feed", help="only this feed's dead-letter topics")
        sp.add_argument("--reason", help="only dead letters with this reason code (e.g. hl7_parse_error)")
        sp.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP)")
    dl.add_argument("--limit", type=int, default=None, help="stop after N dead letters")
    dl.add_argument("--summary", action="store_true", help="print only the summary (counts per reason)")
    dl.set_defaults(func=cmd_dlq_list)
    dr.set_defaults(func=cmd_dlq_replay)

    ml = sub.add_parser("mllp", help="HL7 v2 over MLLP into hds.raw.<hospital>.<feed>; ACK AA once the broker has it")
    ml.add_argument("--hospital", required=True)
    ml.add_argument("--feed", required=True)
    ml.add_argument("--port", type=int, default=2575, help="MLLP port (default 2575; 0: a free one)")
    ml.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    ml.add_argument("--health-port", type=int, default=None, help="serve /health/live and /health/ready here")
    ml.add_argument("--write-timeout", type=float, default=10.0,
                    help="seconds to wait for the broker's acknowledgement before answering AE (default 10)")
    ml.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP)")
    ml.set_defaults(func=cmd_mllp)

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
