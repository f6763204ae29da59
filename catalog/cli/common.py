"""What every `hds` subcommand shares, kept light: `hds --help` imports this and nothing heavy."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from policies.settings import Settings

# The Safe Harbor profile `hds deid message` uses when --profile is not given, per message format.
DEFAULT_PROFILES = {"hl7v2": "hl7v2-safe-harbor", "fhir": "fhir-safe-harbor", "csv": "csv-lab-safe-harbor"}


def settings_from_args(args: argparse.Namespace, *, need_deid_keys: bool = True) -> Settings:
    """Settings from the environment, overridden by the command's --bootstrap, --db and --data-dir."""
    s = Settings.from_env(need_deid_keys=need_deid_keys)
    if getattr(args, "bootstrap", None):
        s = s.with_(kafka_bootstrap=args.bootstrap)
    if getattr(args, "db", None):
        s = s.with_(catalog_db=Path(args.db))
    if getattr(args, "data_dir", None):
        s = s.with_(data_dir=Path(args.data_dir))
    return s


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum, frame):  # type: ignore[no-untyped-def]
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def require_bootstrap(settings: Settings) -> str:
    if not settings.kafka_bootstrap:
        raise SystemExit("hds: no Kafka configured: set HDS_KAFKA_BOOTSTRAP or pass --bootstrap "
                         "(start one with `hds broker`)")
    return settings.kafka_bootstrap
