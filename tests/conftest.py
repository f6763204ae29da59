"""Shared fixtures: the real embedded Kafka-protocol broker, the third-party sample data, settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("HDS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party sample data not found at {SHARED_DATA} (../shared/data beside the repository)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """A real tansu broker over TCP on a free loopback port; yields the bootstrap address."""
    from gateway.broker import EmbeddedBroker

    with EmbeddedBroker() as b:
        yield b.bootstrap


@pytest.fixture()
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    from gateway.settings import Settings

    return Settings.from_env({"HDS_ENV": "test", "HDS_DATA_DIR": str(tmp_path / "data"),
                              "HDS_DEID_KEY": "test-key-0123456789-0123456789-abcdef"})
