"""`hds broker`, `hds publish`, `hds mllp`, `hds dlq list` and `hds dlq replay`: the commands that only talk
Kafka (no DuckDB, no Presidio)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError

from catalog.cli.common import require_bootstrap, settings_from_args, stop_on_signals
from gateway.broker import EmbeddedBroker
from gateway.dlq import DeadLetterReader, ReplayError, dlq_pattern, replay_dead_letters
from gateway.kafka_io import KafkaUnreachable, check_reachable, make_producer
from gateway.mllp import KafkaWriter, MllpListener, feed_check, run_listener, start_health_server
from gateway.publish import PublishError, PublishReport, read_all, send_messages
from gateway.readers import FeedReadError
from policies.feeds import FeedRegistry, FeedRegistryError
from policies.topics import raw_topic


def cmd_broker(args: argparse.Namespace) -> int:
    stop = stop_on_signals()
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


def cmd_publish(args: argparse.Namespace) -> int:
    settings = settings_from_args(args, need_deid_keys=False)  # publishing pseudonymises nothing
    bootstrap = require_bootstrap(settings)
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


def _dlq_reader(args: argparse.Namespace, settings) -> "Any":  # type: ignore[no-untyped-def]
    try:
        pattern = dlq_pattern(args.hospital, args.feed)
    except ValueError as exc:
        raise SystemExit(f"hds dlq: {exc}") from None
    bootstrap = require_bootstrap(settings)
    check_reachable(bootstrap)
    return DeadLetterReader(bootstrap, pattern=pattern, security=settings.kafka_security())


def _kafka_failure(command: str, exc: Exception) -> int:
    print(f"hds {command}: {exc if isinstance(exc, ConnectionError) else type(exc).__name__}", file=sys.stderr)
    return 1


def cmd_dlq_list(args: argparse.Namespace) -> int:
    settings = settings_from_args(args, need_deid_keys=False)
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
    settings = settings_from_args(args, need_deid_keys=False)
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
    settings = settings_from_args(args, need_deid_keys=False)
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
    bootstrap = require_bootstrap(settings)
    stop = stop_on_signals()
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
