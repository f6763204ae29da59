"""`hds broker`, `hds publish` and `hds dlq list`: the commands that only talk Kafka (no DuckDB, no Presidio)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from catalog.cli.common import require_bootstrap, settings_from_args, stop_on_signals
from gateway.broker import EmbeddedBroker
from gateway.dlq import DLQ_PATTERN, list_dead_letters
from gateway.kafka_io import make_producer
from gateway.publish import PublishError, publish_files
from gateway.readers import FeedReadError
from policies.topics import check_name, raw_topic


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
    settings = settings_from_args(args)
    bootstrap = require_bootstrap(settings)
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


def cmd_dlq_list(args: argparse.Namespace) -> int:
    settings = settings_from_args(args, need_deid_keys=False)
    bootstrap = require_bootstrap(settings)
    pattern = DLQ_PATTERN
    if args.hospital:
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
