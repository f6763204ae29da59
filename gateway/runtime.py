"""Build the gateway's parts from settings (the composition root of the gateway process)."""

from __future__ import annotations

from typing import Any

from deid.engine import Deidentifier
from deid.keys import Keyring
from gateway.processor import Processor
from policies.feeds import FeedRegistry
from policies.settings import Settings, SettingsError


def build_engine(settings: Settings) -> Any:
    keyring = Keyring(dict(settings.deid_keys), current=settings.deid_key_id)
    return Deidentifier(keyring=keyring, profiles_dir=settings.profiles_dir)


def build_processor(settings: Settings, engine: Any | None = None) -> Processor:
    registry = FeedRegistry.load(settings.feeds_file)
    engine = engine if engine is not None else build_engine(settings)
    missing = sorted(registry.profiles() - set(engine.profile_names()))
    if missing:
        raise SettingsError(f"{settings.feeds_file}: feeds name profiles that {settings.profiles_dir} does not define: "
                            + ", ".join(missing))
    return Processor(registry, engine, record_key=settings.record_id_key(), key_id=settings.deid_key_id)
